//! The real clock and entropy. Nothing else in kruispunt reads the wall
//! clock or the OS random source (clippy.toml enforces it).

use kruispunt_domain::clock::{Clock, Entropy, Timestamp};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // aws-lc's DRBG seeded from the OS; failure here means the OS has no
        // randomness at all, and continuing would be unsafe.
        if aws_lc_rs::rand::fill(buf).is_err() {
            std::process::abort();
        }
    }
}
