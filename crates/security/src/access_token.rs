//! The server's access tokens: compact JWS with `alg: EdDSA` (Ed25519),
//! `kid` naming the key in the ring. Claims: `iss`, `sub` (the principal),
//! `scope`, `iat`, `exp`, `jti`.
//!
//! Signing uses the active key; verification accepts every key of the ring
//! (retired ones included) so rotation does not cut off tokens in flight.

use crate::{AuthError, b64, unb64};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use kruispunt_domain::clock::{Entropy, Timestamp};
use kruispunt_domain::principal::{Principal, Scope};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "kruispunt";
pub const ALGORITHM: &str = "EdDSA";
/// Allowed clock difference between nodes, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;
/// The longest lifetime an operator may give a token (30 days).
pub const MAX_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// Key material as stored: the Ed25519 seed and the raw public key.
#[derive(Clone)]
pub struct KeyMaterial {
    pub kid: String,
    pub seed: Vec<u8>,
    pub public: Vec<u8>,
    pub retired: bool,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// A new key from 32 bytes of entropy. The kid is derived from the
    /// public key so that it is unique and says nothing secret.
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, AuthError> {
        let mut seed = [0u8; 32];
        entropy.fill(&mut seed);
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        let public = pair.public_key().as_ref().to_vec();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public);
        Ok(Self {
            kid: b64(&digest.as_ref()[..12]),
            seed: seed.to_vec(),
            public,
            retired: false,
        })
    }
}

struct RingKey {
    kid: String,
    public: Vec<u8>,
}

/// Every key the server knows, the active one able to sign.
pub struct KeyRing {
    active_kid: String,
    active: Ed25519KeyPair,
    keys: Vec<RingKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A verified token: who, which scopes, until when.
#[derive(Debug, Clone)]
pub struct Verified {
    pub principal: Principal,
    pub scopes: Vec<Scope>,
    pub expires_at: i64,
    pub jti: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

impl KeyRing {
    /// Builds the ring; the newest non-retired key signs.
    pub fn new(material: &[KeyMaterial]) -> Result<Self, AuthError> {
        let active = material
            .iter()
            .rev()
            .find(|k| !k.retired)
            .ok_or_else(|| AuthError::Key("no active signing key".into()))?;
        let pair = Ed25519KeyPair::from_seed_and_public_key(&active.seed, &active.public)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(Self {
            active_kid: active.kid.clone(),
            active: pair,
            keys: material
                .iter()
                .map(|k| RingKey {
                    kid: k.kid.clone(),
                    public: k.public.clone(),
                })
                .collect(),
        })
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    /// The public keys as a JWK set (for anyone who wants to verify tokens).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": ALGORITHM, "use": "sig", "kid": k.kid, "x": b64(&k.public)}))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    pub fn issue(
        &self,
        principal: &Principal,
        scopes: &[Scope],
        ttl_seconds: i64,
        now: Timestamp,
        entropy: &dyn Entropy,
    ) -> Result<(String, AccessClaims), AuthError> {
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(AuthError::Claim {
                claim: "exp",
                reason: format!("the lifetime must be between 1 and {MAX_TTL_SECONDS} seconds"),
            });
        }
        for s in scopes {
            if !s.allowed_for(principal.kind()) {
                return Err(AuthError::Claim {
                    claim: "scope",
                    reason: format!(
                        "{} is not available to a {}",
                        s.as_str(),
                        principal.kind().as_str()
                    ),
                });
            }
        }
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: principal.subject(),
            scope: Scope::join(scopes),
            iat: now.seconds(),
            exp: now.seconds() + ttl_seconds,
            jti: entropy.token_hex(),
        };
        let header = Header {
            alg: ALGORITHM.into(),
            typ: "at+jwt".into(),
            kid: self.active_kid.clone(),
        };
        let signing_input = format!("{}.{}", json_b64(&header)?, json_b64(&claims)?);
        let sig = self.active.sign(signing_input.as_bytes());
        Ok((format!("{signing_input}.{}", b64(sig.as_ref())), claims))
    }

    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Verified, AuthError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("does not have three parts"));
        };
        let header: Header = serde_json::from_slice(&unb64(h)?)
            .map_err(|_| AuthError::Malformed("has an unreadable header"))?;
        if header.alg != ALGORITHM {
            return Err(AuthError::Algorithm(header.alg));
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == header.kid)
            .ok_or(AuthError::UnknownKey)?;
        let sig = unb64(s)?;
        UnparsedPublicKey::new(&ED25519, &key.public)
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .map_err(|_| AuthError::BadSignature)?;
        let claims: AccessClaims = serde_json::from_slice(&unb64(p)?)
            .map_err(|_| AuthError::Malformed("has unreadable claims"))?;
        if claims.iss != ISSUER {
            return Err(AuthError::Claim {
                claim: "iss",
                reason: "not issued by this server".into(),
            });
        }
        let now_s = now.seconds();
        if claims.exp + LEEWAY_SECONDS <= now_s {
            return Err(AuthError::Expired);
        }
        if claims.iat - LEEWAY_SECONDS > now_s {
            return Err(AuthError::NotYetValid);
        }
        let principal = Principal::parse_subject(&claims.sub).map_err(|e| AuthError::Claim {
            claim: "sub",
            reason: e.message,
        })?;
        let scopes = Scope::parse_list(&claims.scope).map_err(|e| AuthError::Claim {
            claim: "scope",
            reason: e.message,
        })?;
        Ok(Verified {
            principal,
            scopes,
            expires_at: claims.exp,
            jti: claims.jti,
        })
    }
}

fn json_b64<T: Serialize>(value: &T) -> Result<String, AuthError> {
    serde_json::to_vec(value)
        .map(|j| b64(&j))
        .map_err(|_| AuthError::Malformed("cannot be encoded"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SystemEntropy;

    fn now() -> Timestamp {
        Timestamp(1_796_000_000_000)
    }

    fn ring() -> (KeyRing, KeyMaterial) {
        let k = KeyMaterial::generate(&SystemEntropy).unwrap();
        (KeyRing::new(std::slice::from_ref(&k)).unwrap(), k)
    }

    #[test]
    fn issue_then_verify() {
        let (ring, _) = ring();
        let p = Principal::parse_subject("institution:ONEM").unwrap();
        let (tok, claims) = ring
            .issue(&p, &p.default_scopes(), 600, now(), &SystemEntropy)
            .unwrap();
        let v = ring.verify(&tok, now()).unwrap();
        assert_eq!(v.principal, p);
        assert_eq!(v.expires_at, claims.exp);
        assert!(v.scopes.contains(&Scope::HubMessages));
    }

    #[test]
    fn expiry_and_tampering() {
        let (ring, _) = ring();
        let p = Principal::Operator;
        let (tok, _) = ring
            .issue(&p, &[Scope::Operator], 60, now(), &SystemEntropy)
            .unwrap();
        assert_eq!(
            ring.verify(&tok, now().plus_seconds(60 + LEEWAY_SECONDS))
                .unwrap_err(),
            AuthError::Expired
        );
        assert_eq!(
            ring.verify(&tok, now().plus_seconds(-(LEEWAY_SECONDS + 1)))
                .unwrap_err(),
            AuthError::NotYetValid
        );
        // Swap the claims for an employer's: the signature no longer matches.
        let parts: Vec<&str> = tok.split('.').collect();
        let forged = crate::b64(br#"{"iss":"kruispunt","sub":"employer:935467","scope":"","iat":1796000000,"exp":1796000060,"jti":"x"}"#);
        let bad = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            ring.verify(&bad, now()).unwrap_err(),
            AuthError::BadSignature
        );
        assert!(matches!(
            ring.verify("abc", now()),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn other_ring_and_rotation() {
        let (ring_a, ka) = ring();
        let (ring_b, _) = ring();
        let p = Principal::Operator;
        let (tok, _) = ring_a.issue(&p, &[], 60, now(), &SystemEntropy).unwrap();
        assert_eq!(
            ring_b.verify(&tok, now()).unwrap_err(),
            AuthError::UnknownKey
        );
        // Rotate: the old key is retired but still verifies.
        let mut retired = ka.clone();
        retired.retired = true;
        let kb = KeyMaterial::generate(&SystemEntropy).unwrap();
        let rotated = KeyRing::new(&[retired, kb.clone()]).unwrap();
        assert_eq!(rotated.active_kid(), kb.kid);
        assert!(rotated.verify(&tok, now()).is_ok());
    }

    #[test]
    fn scopes_must_fit_the_principal() {
        let (ring, _) = ring();
        let p = Principal::parse_subject("employer:935467").unwrap();
        assert!(matches!(
            ring.issue(&p, &[Scope::HubMessages], 60, now(), &SystemEntropy),
            Err(AuthError::Claim { claim: "scope", .. })
        ));
        assert!(ring.issue(&p, &[], 0, now(), &SystemEntropy).is_err());
    }

    #[test]
    fn lifetime_is_bounded_and_skew_is_30_seconds_both_ways() {
        let (ring, _) = ring();
        let p = Principal::Operator;
        assert!(
            ring.issue(&p, &[], MAX_TTL_SECONDS, now(), &SystemEntropy)
                .is_ok()
        );
        assert!(matches!(
            ring.issue(&p, &[], MAX_TTL_SECONDS + 1, now(), &SystemEntropy),
            Err(AuthError::Claim { claim: "exp", .. })
        ));
        let (tok, _) = ring.issue(&p, &[], 60, now(), &SystemEntropy).unwrap();
        // Still accepted by a node whose clock runs up to 30 s ahead…
        assert!(
            ring.verify(&tok, now().plus_seconds(60 + LEEWAY_SECONDS - 1))
                .is_ok()
        );
        // …or up to 30 s behind the issuer's.
        assert!(
            ring.verify(&tok, now().plus_seconds(-LEEWAY_SECONDS))
                .is_ok()
        );
        assert_eq!(
            ring.verify(&tok, now().plus_seconds(-LEEWAY_SECONDS - 1))
                .unwrap_err(),
            AuthError::NotYetValid
        );
    }
}
