//! The audit log's cryptography: SHA-256 hash chain and Ed25519-signed
//! checkpoints (the hub's own key, distinct from the token-signing keys).

use crate::{AuthError, b64};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use kruispunt_domain::clock::Entropy;
use kruispunt_domain::hub::{AuditCrypto, AuditRecord, checkpoint_message};

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest(&SHA256, data).as_ref().to_vec()
}

pub fn chain_hash(prev_hash: &[u8], record: &AuditRecord) -> Vec<u8> {
    let mut ctx = aws_lc_rs::digest::Context::new(&SHA256);
    ctx.update(prev_hash);
    ctx.update(&record.canonical_bytes());
    ctx.finish().as_ref().to_vec()
}

/// The hub key: signs audit checkpoints and webhook bodies.
pub struct HubKey {
    kid: String,
    pair: Ed25519KeyPair,
}

/// Stored form of a hub key.
#[derive(Clone)]
pub struct HubKeyMaterial {
    pub kid: String,
    pub seed: Vec<u8>,
    pub public: Vec<u8>,
}

impl std::fmt::Debug for HubKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubKeyMaterial")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl HubKeyMaterial {
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, AuthError> {
        let mut seed = [0u8; 32];
        entropy.fill(&mut seed);
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self {
            kid: format!("hub-{}", &b64(&sha256(&public))[..16]),
            seed: seed.to_vec(),
            public,
        })
    }
}

impl HubKey {
    pub fn new(m: &HubKeyMaterial) -> Result<Self, AuthError> {
        let pair = Ed25519KeyPair::from_seed_and_public_key(&m.seed, &m.public)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(Self {
            kid: m.kid.clone(),
            pair,
        })
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

impl AuditCrypto for HubKey {
    fn chain(&self, prev_hash: &[u8], record: &AuditRecord) -> Vec<u8> {
        chain_hash(prev_hash, record)
    }
    fn sign_checkpoint(&self, seq: i64, hash: &[u8]) -> (String, Vec<u8>) {
        (self.kid.clone(), self.sign(&checkpoint_message(seq, hash)))
    }
}

/// Checks an Ed25519 signature by a raw 32-byte public key.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SystemEntropy;

    #[test]
    fn checkpoints_verify_with_the_public_key_only() {
        let m = HubKeyMaterial::generate(&SystemEntropy).unwrap();
        let k = HubKey::new(&m).unwrap();
        let (kid, sig) = k.sign_checkpoint(42, &[7u8; 32]);
        assert_eq!(kid, m.kid);
        assert!(verify_signature(
            &m.public,
            &checkpoint_message(42, &[7u8; 32]),
            &sig
        ));
        assert!(!verify_signature(
            &m.public,
            &checkpoint_message(43, &[7u8; 32]),
            &sig
        ));
    }
}
