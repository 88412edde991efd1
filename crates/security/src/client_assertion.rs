//! OAuth2 client authentication by signed JWT assertion (RFC 7523), the way
//! the ONSS token endpoint does it: `iss` = `sub` = client id, `aud` = the
//! token endpoint URL, a unique `jti`, a short `exp`; signed RS256 or ES256
//! with the key the client registered.
//!
//! Time checks use the clock passed in (jsonwebtoken's own, system-clock
//! based checks are switched off). Replay of `jti` is the caller's job (it
//! needs the store), with the expiry this module returns.

use crate::{AuthError, unb64};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kruispunt_domain::clock::Timestamp;
use serde::Deserialize;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `exp` may be at most this far ahead of `now`.
pub const MAX_LIFETIME_SECONDS: i64 = 300;
pub const LEEWAY_SECONDS: i64 = 30;

/// The algorithms a client key can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rs256,
    Es256,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
    fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// Checks a PEM public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`)
/// and says which algorithm it signs with. Refuses private keys so that a
/// mistaken file never ends up stored.
pub fn inspect_public_key(pem: &str) -> Result<KeyAlgorithm, AuthError> {
    if pem.contains("PRIVATE KEY") {
        return Err(AuthError::Key(
            "this is a private key; register the public key only".into(),
        ));
    }
    if !pem.contains("-----BEGIN PUBLIC KEY-----")
        && !pem.contains("-----BEGIN RSA PUBLIC KEY-----")
    {
        return Err(AuthError::Key(
            "expected a PEM file with a BEGIN PUBLIC KEY block".into(),
        ));
    }
    if let Ok(_k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok(KeyAlgorithm::Rs256);
    }
    if DecodingKey::from_ec_pem(pem.as_bytes()).is_ok() {
        // Only P-256 points (65 bytes uncompressed) fit ES256.
        if pem.len() < 200 {
            return Ok(KeyAlgorithm::Es256);
        }
        return Err(AuthError::Key(
            "only P-256 elliptic-curve keys (ES256) are accepted".into(),
        ));
    }
    Err(AuthError::Key(
        "neither an RSA nor a P-256 public key".into(),
    ))
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
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

/// The verified facts of an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub client_id: String,
    pub jti: String,
    pub expires_at: Timestamp,
}

/// Reads the (unverified) issuer, to find the client whose key verifies the
/// rest. Nothing else from an unverified token is trusted.
pub fn claimed_client_id(assertion: &str) -> Result<String, AuthError> {
    let payload = assertion
        .split('.')
        .nth(1)
        .ok_or(AuthError::Malformed("does not have three parts"))?;
    let claims: Claims = serde_json::from_slice(&unb64(payload)?)
        .map_err(|_| AuthError::Malformed("has unreadable claims"))?;
    match claims.iss {
        Some(iss) if !iss.is_empty() && iss.len() <= 128 => Ok(iss),
        _ => Err(AuthError::Claim {
            claim: "iss",
            reason: "missing; it must be the client id".into(),
        }),
    }
}

/// Verifies `assertion` against the client's registered key.
pub fn verify(
    assertion: &str,
    client_id: &str,
    public_key_pem: &str,
    algorithm: KeyAlgorithm,
    expected_audience: &str,
    now: Timestamp,
) -> Result<Assertion, AuthError> {
    if assertion.len() > 16 * 1024 {
        return Err(AuthError::Malformed("is too long"));
    }
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| AuthError::Malformed("has an unreadable header"))?;
    if header.alg != algorithm.jwt() {
        return Err(AuthError::Algorithm(format!(
            "{:?} (this client registered a {} key)",
            header.alg,
            algorithm.as_str()
        )));
    }
    let key = match algorithm {
        KeyAlgorithm::Rs256 => DecodingKey::from_rsa_pem(public_key_pem.as_bytes()),
        KeyAlgorithm::Es256 => DecodingKey::from_ec_pem(public_key_pem.as_bytes()),
    }
    .map_err(|e| AuthError::Key(e.to_string()))?;
    let mut validation = Validation::new(algorithm.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(assertion, &key, &validation).map_err(|e| match e
        .kind()
    {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
        _ => AuthError::Malformed("cannot be verified"),
    })?;
    let c = data.claims;
    let claim = |claim: &'static str, reason: &str| AuthError::Claim {
        claim,
        reason: reason.into(),
    };
    if c.iss.as_deref() != Some(client_id) {
        return Err(claim("iss", "must be the client id"));
    }
    if c.sub.as_deref() != Some(client_id) {
        return Err(claim("sub", "must be the client id"));
    }
    let aud_ok = match &c.aud {
        Some(Audience::One(a)) => a == expected_audience,
        Some(Audience::Many(v)) => v.iter().any(|a| a == expected_audience),
        None => false,
    };
    if !aud_ok {
        return Err(AuthError::Claim {
            claim: "aud",
            reason: format!(
                "must be the token endpoint URL as you reached it: {expected_audience}"
            ),
        });
    }
    let now_s = now.seconds();
    let exp = c.exp.ok_or_else(|| claim("exp", "is required"))?;
    if exp + LEEWAY_SECONDS <= now_s {
        return Err(AuthError::Expired);
    }
    if exp > now_s + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS {
        return Err(AuthError::Claim {
            claim: "exp",
            reason: format!("must be at most {MAX_LIFETIME_SECONDS} seconds ahead"),
        });
    }
    if c.iat.is_some_and(|iat| iat > now_s + LEEWAY_SECONDS)
        || c.nbf.is_some_and(|nbf| nbf > now_s + LEEWAY_SECONDS)
    {
        return Err(AuthError::NotYetValid);
    }
    let jti = c
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| claim("jti", "is required (at most 256 characters)"))?;
    Ok(Assertion {
        client_id: client_id.to_owned(),
        jti,
        // Remember the id at least as long as the assertion could be accepted.
        expires_at: Timestamp((exp + LEEWAY_SECONDS) * 1000),
    })
}
