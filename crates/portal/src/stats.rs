//! Response times of the API as the statistics page shows them: a
//! fixed-bucket histogram (lock-free counters) since the process started.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets, in milliseconds (the last is open).
pub const BOUNDS_MS: [u64; 13] = [
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2000,
    4000,
    8000,
    30000,
    u64::MAX,
];

/// The seed's figure: 99.3 % of online requests answered within 4 s.
pub const TARGET_SHARE: f64 = 0.993;
pub const TARGET_MS: u64 = 4000;

#[derive(Debug, Default)]
pub struct ResponseTimes {
    buckets: [AtomicU64; 13],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: u64,
    /// Upper bound (ms) of the bucket holding the 50th, 95th and 99th percentile.
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    /// Share answered within 4 s (None before the first request).
    pub within_target: Option<f64>,
}

impl ResponseTimes {
    pub fn record(&self, elapsed: std::time::Duration) {
        let ms = elapsed.as_millis() as u64;
        let i = BOUNDS_MS
            .iter()
            .position(|b| ms < *b)
            .unwrap_or(BOUNDS_MS.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    pub fn summary(&self) -> Summary {
        let counts = self.counts();
        let count: u64 = counts.iter().sum();
        let pct = |p: f64| -> Option<u64> {
            if count == 0 {
                return None;
            }
            let rank = (p * count as f64).ceil() as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank.max(1) {
                    return Some(BOUNDS_MS[i]);
                }
            }
            None
        };
        let target_index = BOUNDS_MS.iter().position(|b| *b == TARGET_MS).unwrap_or(0);
        let within: u64 = counts[..=target_index].iter().sum();
        Summary {
            count,
            p50_ms: pct(0.50),
            p95_ms: pct(0.95),
            p99_ms: pct(0.99),
            within_target: (count > 0).then(|| within as f64 / count as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn percentiles_from_buckets() {
        let t = ResponseTimes::default();
        assert_eq!(t.summary().count, 0);
        assert_eq!(t.summary().within_target, None);
        for _ in 0..98 {
            t.record(Duration::from_millis(3));
        }
        t.record(Duration::from_millis(300));
        t.record(Duration::from_secs(5));
        let s = t.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, Some(5));
        assert_eq!(s.p95_ms, Some(5));
        assert_eq!(s.p99_ms, Some(500));
        assert_eq!(s.within_target, Some(0.99));
    }
}
