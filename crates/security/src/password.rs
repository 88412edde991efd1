//! Portal passwords: argon2id with a random 16-byte salt, PHC strings.

use crate::AuthError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use kruispunt_domain::clock::Entropy;

/// Minimum length of a new password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn hash(password: &str, entropy: &dyn Entropy) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Hashing)
}

/// Constant-time comparison inside argon2; `false` for a wrong password or
/// an unreadable hash.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SystemEntropy;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("correct horse battery", &SystemEntropy).unwrap();
        let b = hash("correct horse battery", &SystemEntropy).unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterz", &a));
        assert!(!verify("x", "not a hash"));
    }
}
