//! The token paths on arbitrary input: the server's access-token check
//! (`KeyRing::verify`), and the OAuth2 client-assertion path
//! (`claimed_client_id`, which reads the unverified issuer, then `verify`
//! against a registered P-256 key). Nothing may panic, and nothing forged
//! may verify.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kruispunt_domain::clock::{Entropy, Timestamp};
use kruispunt_security::access_token::{KeyMaterial, KeyRing};
use kruispunt_security::client_assertion::{self, KeyAlgorithm};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJQTEmioOq8jiqZrVd45SADUe8OMM
jQOPiSu8147D7uuBKs4OOIKvI7ezVj9j8JUiFDC196EVJwFbIqM0dBxPNg==
-----END PUBLIC KEY-----
";
const AUD: &str = "http://127.0.0.1:8080/REST/oauth/v5/token";
const NOW: Timestamp = Timestamp(1_796_000_000_000);

struct Fixed;
impl Entropy for Fixed {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

static RING: LazyLock<KeyRing> = LazyLock::new(|| {
    let k = KeyMaterial::generate(&Fixed).expect("key");
    KeyRing::new(&[k]).expect("ring")
});

fn check(token: &str) {
    // No key material is known to the fuzzer: nothing may verify.
    assert!(
        RING.verify(token, NOW).is_err(),
        "forged access token accepted"
    );
    if let Ok(client) = client_assertion::claimed_client_id(token) {
        assert!(
            client_assertion::verify(token, &client, EC_PUBLIC, KeyAlgorithm::Es256, AUD, NOW)
                .is_err(),
            "forged client assertion accepted"
        );
    }
    let _ = client_assertion::verify(token, "kpc_fuzz", EC_PUBLIC, KeyAlgorithm::Es256, AUD, NOW);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(s);
    }
    // The bytes as the claims (and as the header) of a well-formed compact JWS, so the
    // fuzzer reaches the JSON readers behind the base64.
    let part = URL_SAFE_NO_PAD.encode(data);
    check(&format!(
        "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.{part}.c2lnbmF0dXJl"
    ));
    check(&format!("{part}.eyJpc3MiOiJrcGNfZnV6eiJ9.c2lnbmF0dXJl"));
    check(&format!(
        "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCIsImtpZCI6IngifQ.{part}.c2ln"
    ));
});
