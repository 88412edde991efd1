//! OpenID Connect, the relying party's cryptography: the PKCE challenge
//! (S256) and the verification of an ID token against the issuer's JWKS.
//!
//! Only asymmetric algorithms are accepted (never `none` or HMAC: the
//! client secret must not be able to mint tokens). Time checks use the
//! clock passed in; jsonwebtoken's system-clock checks are switched off.

use crate::AuthError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kruispunt_domain::clock::Timestamp;
use serde::Deserialize;

/// Clock skew tolerated between the identity provider and us.
pub const LEEWAY_SECONDS: i64 = 60;

const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The S256 code challenge of a PKCE code verifier (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    crate::b64(d.as_ref())
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    azp: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<EmailVerified>,
}

/// Some providers send `"email_verified": "true"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EmailVerified {
    Bool(bool),
    Text(String),
}

/// What a verified ID token says about the person.
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdToken")
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

/// What the ID token must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// The key id of a token's header (to decide whether the JWKS needs a
/// refresh before [`verify_id_token`]).
pub fn key_id(token: &str) -> Result<Option<String>, AuthError> {
    Ok(jsonwebtoken::decode_header(token)
        .map_err(|_| AuthError::Malformed("has an unreadable header"))?
        .kid)
}

fn find_key<'a>(jwks: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(k) => jwks.find(k),
        // Without a kid, only an unambiguous set will do.
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
}

/// Verifies `token` (signature by a key of `jwks`, issuer, audience,
/// authorized party, expiry, nonce) and returns its person claims.
pub fn verify_id_token(
    token: &str,
    jwks: &JwkSet,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<IdToken, AuthError> {
    if token.len() > 16 * 1024 {
        return Err(AuthError::Malformed("is too long"));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| AuthError::Malformed("has an unreadable header"))?;
    if !ACCEPTED.contains(&header.alg) {
        return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
    }
    let jwk = find_key(jwks, header.kid.as_deref()).ok_or(AuthError::UnknownKey)?;
    if let Some(alg) = jwk.common.key_algorithm
        && format!("{alg:?}") != format!("{:?}", header.alg)
    {
        return Err(AuthError::Algorithm(format!(
            "{:?} (the key is for {alg:?})",
            header.alg
        )));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Key(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let c = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
            _ => AuthError::Malformed("cannot be verified"),
        })?
        .claims;
    let claim = |claim: &'static str, reason: &str| AuthError::Claim {
        claim,
        reason: reason.into(),
    };
    if c.iss.as_deref() != Some(expected.issuer) {
        return Err(claim("iss", "is not the configured issuer"));
    }
    let audiences: Vec<&str> = match &c.aud {
        Some(Audience::One(a)) => vec![a.as_str()],
        Some(Audience::Many(v)) => v.iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(claim("aud", "does not name this client"));
    }
    if (audiences.len() > 1 || c.azp.is_some()) && c.azp.as_deref() != Some(expected.client_id) {
        return Err(claim("azp", "is not this client"));
    }
    let now_s = now.seconds();
    let exp = c.exp.ok_or_else(|| claim("exp", "is required"))?;
    if exp + LEEWAY_SECONDS <= now_s {
        return Err(AuthError::Expired);
    }
    if c.iat.is_some_and(|iat| iat > now_s + LEEWAY_SECONDS)
        || c.nbf.is_some_and(|nbf| nbf > now_s + LEEWAY_SECONDS)
    {
        return Err(AuthError::NotYetValid);
    }
    match c.nonce.as_deref() {
        Some(n) if crate::session::same(n, expected.nonce) => {}
        _ => return Err(claim("nonce", "is not the one of this sign-in")),
    }
    let subject = c
        .sub
        .filter(|s| !s.is_empty())
        .ok_or_else(|| claim("sub", "is required"))?;
    let email_verified = match c.email_verified {
        Some(EmailVerified::Bool(b)) => b,
        Some(EmailVerified::Text(t)) => t == "true",
        None => false,
    };
    Ok(IdToken {
        subject,
        email: c.email,
        email_verified,
    })
}

/// Parses a JWKS document.
pub fn parse_jwks(json: &[u8]) -> Result<JwkSet, AuthError> {
    serde_json::from_slice(json).map_err(|e| AuthError::Key(format!("unreadable JWKS: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256};
    use serde_json::json;

    struct Idp {
        key: aws_lc_rs::rsa::KeyPair,
    }

    impl Idp {
        fn new() -> Self {
            Self {
                key: aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .expect("rsa"),
            }
        }
        fn jwks(&self, kid: &str) -> JwkSet {
            let pk = self.key.public_key();
            let n = crate::b64(pk.modulus().big_endian_without_leading_zero());
            let e = crate::b64(pk.exponent().big_endian_without_leading_zero());
            parse_jwks(
                json!({"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e}]})
                    .to_string()
                    .as_bytes(),
            )
            .expect("jwks")
        }
        fn sign(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
            let input = format!(
                "{}.{}",
                crate::b64(header.to_string().as_bytes()),
                crate::b64(claims.to_string().as_bytes())
            );
            let mut sig = vec![0u8; self.key.public_modulus_len()];
            self.key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("sign");
            format!("{input}.{}", crate::b64(&sig))
        }
    }

    const NOW: Timestamp = Timestamp(1_796_000_000_000);
    const EXPECTED: Expected<'static> = Expected {
        issuer: "https://idp.example",
        client_id: "kruispunt",
        nonce: "n-0S6_WzA2Mj",
    };

    fn claims() -> serde_json::Value {
        json!({"iss": "https://idp.example", "sub": "248289761001", "aud": "kruispunt",
               "exp": NOW.seconds() + 300, "iat": NOW.seconds(), "nonce": "n-0S6_WzA2Mj",
               "email": "boss@example.be", "email_verified": true})
    }

    #[test]
    fn a_good_token_verifies_and_each_wrong_claim_is_named() {
        let idp = Idp::new();
        let jwks = idp.jwks("k1");
        let h = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        let ok = verify_id_token(&idp.sign(h.clone(), claims()), &jwks, EXPECTED, NOW)
            .expect("verifies");
        assert_eq!(ok.email.as_deref(), Some("boss@example.be"));
        assert!(ok.email_verified);
        assert!(!format!("{ok:?}").contains("boss"), "no e-mail in Debug");

        let bad = |patch: serde_json::Value| {
            let mut c = claims();
            for (k, v) in patch.as_object().expect("object") {
                c[k] = v.clone();
            }
            verify_id_token(&idp.sign(h.clone(), c), &jwks, EXPECTED, NOW).unwrap_err()
        };
        let named = |e: AuthError| match e {
            AuthError::Claim { claim, .. } => claim,
            other => panic!("{other:?}"),
        };
        assert_eq!(named(bad(json!({"iss": "https://evil.example"}))), "iss");
        assert_eq!(named(bad(json!({"aud": "someone-else"}))), "aud");
        assert_eq!(
            named(bad(json!({"aud": ["kruispunt", "other"], "azp": "other"}))),
            "azp"
        );
        assert_eq!(named(bad(json!({"nonce": "replayed"}))), "nonce");
        assert_eq!(bad(json!({"exp": NOW.seconds() - 120})), AuthError::Expired);
        assert_eq!(
            bad(json!({"iat": NOW.seconds() + 600})),
            AuthError::NotYetValid
        );

        // Another key, an unknown kid, HMAC or none: refused.
        let other = Idp::new();
        assert_eq!(
            verify_id_token(&other.sign(h.clone(), claims()), &jwks, EXPECTED, NOW).unwrap_err(),
            AuthError::BadSignature
        );
        let unknown = json!({"alg": "RS256", "kid": "k2"});
        assert_eq!(
            verify_id_token(&idp.sign(unknown, claims()), &jwks, EXPECTED, NOW).unwrap_err(),
            AuthError::UnknownKey
        );
        for alg in ["HS256", "none"] {
            let forged = format!(
                "{}.{}.",
                crate::b64(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes()),
                crate::b64(claims().to_string().as_bytes())
            );
            assert!(
                verify_id_token(&forged, &jwks, EXPECTED, NOW).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn pkce_s256_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
