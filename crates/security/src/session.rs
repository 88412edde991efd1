//! Portal session secrets: a random cookie value (256 bits) of which only
//! the SHA-256 is stored, and CSRF tokens compared in constant time.

use kruispunt_domain::clock::Entropy;

/// A fresh secret: 32 random bytes, base64url (43 characters).
pub fn new_secret(entropy: &dyn Entropy) -> String {
    let mut b = [0u8; 32];
    entropy.fill(&mut b);
    crate::b64(&b)
}

/// What the store keeps for a session cookie value: SHA-256, hex.
pub fn digest(secret: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two tokens (lengths are not secret).
pub fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SystemEntropy;

    #[test]
    fn secrets_are_long_and_digests_stable() {
        let s = new_secret(&SystemEntropy);
        assert_eq!(s.len(), 43);
        assert_ne!(s, new_secret(&SystemEntropy));
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
