//! Time and randomness, passed in.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, UTC. Stored as-is (portable `BIGINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub fn plus_seconds(self, s: i64) -> Self {
        Self(self.0.saturating_add(s.saturating_mul(1000)))
    }
    pub fn date(self) -> time::Date {
        self.offset_date_time().date()
    }
    pub fn offset_date_time(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
    /// RFC 3339 with milliseconds, e.g. `2026-11-29T14:07:38.123Z`.
    pub fn rfc3339(self) -> String {
        let t = self.offset_date_time();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Secure random bytes.
pub trait Entropy: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);

    /// 128 random bits as 32 lowercase hex characters.
    fn token_hex(&self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        // Written digit by digit: a `format!` per byte cost 16 allocations,
        // a measurable part of every hub message (its ticket).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(32);
        for x in b {
            s.push(char::from(HEX[usize::from(x >> 4)]));
            s.push(char::from(HEX[usize::from(x & 0x0f)]));
        }
        s
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ts: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(ts.0)))
    }
    pub fn set(&self, ts: Timestamp) {
        self.0.store(ts.0, Ordering::SeqCst);
    }
    pub fn advance_seconds(&self, s: i64) {
        self.0.fetch_add(s * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

pub fn parse_date(field: &str, s: &str) -> Result<time::Date, crate::Invalid> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt)
        .map_err(|_| crate::Invalid::new(field, "must be a valid date written YYYY-MM-DD"))
}

pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_dates() {
        let t = Timestamp(1_796_000_000_123);
        assert_eq!(t.rfc3339(), "2026-11-30T00:53:20.123Z");
        assert_eq!(format_date(t.date()), "2026-11-30");
        assert!(parse_date("birthDate", "2026-02-30").is_err());
        assert_eq!(
            format_date(parse_date("d", "2000-02-29").unwrap()),
            "2000-02-29"
        );
    }

    struct Fixed(u8);
    impl Entropy for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.0.wrapping_add(i as u8 * 17);
            }
        }
    }

    #[test]
    fn token_hex_is_every_byte_as_two_lowercase_digits() {
        let expected = |seed: u8| -> String {
            let mut b = [0u8; 16];
            Fixed(seed).fill(&mut b);
            b.iter().map(|x| format!("{x:02x}")).collect()
        };
        for seed in [0, 0x0f, 0xa5, 0xff] {
            let t = Fixed(seed).token_hex();
            assert_eq!(t, expected(seed));
            assert_eq!(t.len(), 32);
        }
        assert_eq!(&Fixed(0).token_hex()[..6], "001122");
    }
}
