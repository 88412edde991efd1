//! SQLite only: how a connection of ours waits for a lock another holds.
//!
//! SQLite's own busy handler (what `busy_timeout` installs) sleeps 1, 2,
//! 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between attempts: a group
//! commit that met a checkpoint holding the write lock for 3 ms slept 8,
//! and every request waiting on it too. These retry every 0.1 ms for the
//! first few milliseconds, then every millisecond.

use std::time::Duration;

const FINE_STEPS: i32 = 50;
const FINE: Duration = Duration::from_micros(100);
const COARSE: Duration = Duration::from_millis(1);

/// The pause before retry number `attempt` (from 0); none once `limit`
/// of pauses is spent.
fn pause(attempt: i32, limit: Duration) -> Option<Duration> {
    let attempt = attempt.max(0);
    let slept = if attempt <= FINE_STEPS {
        FINE * attempt as u32
    } else {
        FINE * FINE_STEPS as u32 + COARSE * (attempt - FINE_STEPS) as u32
    };
    (slept < limit).then_some(if attempt < FINE_STEPS { FINE } else { COARSE })
}

/// Sleeps before retry number `attempt`; false once `limit` of sleeping
/// is spent (SQLite then answers SQLITE_BUSY).
fn wait(attempt: i32, limit: Duration) -> bool {
    match pause(attempt, limit) {
        Some(d) => {
            std::thread::sleep(d);
            true
        }
        None => false,
    }
}

/// For writers and readers: up to 10 s (as `busy_timeout = 10000`).
pub(crate) fn patient(attempt: i32) -> bool {
    wait(attempt, Duration::from_secs(10))
}

/// For the checkpointer's RESTART, which holds the write lock while it
/// waits for readers: up to 20 ms, then it gives up until its next round.
pub(crate) fn brief(attempt: i32) -> bool {
    wait(attempt, Duration::from_millis(20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(limit: Duration) -> (Duration, i32) {
        let mut sum = Duration::ZERO;
        let mut attempt = 0;
        while let Some(d) = pause(attempt, limit) {
            sum += d;
            attempt += 1;
        }
        (sum, attempt)
    }

    #[test]
    fn retries_finely_first_and_gives_up_at_the_limit() {
        assert_eq!(pause(0, Duration::from_secs(1)), Some(FINE));
        assert_eq!(pause(FINE_STEPS, Duration::from_secs(1)), Some(COARSE));
        // 50 pauses of 0.1 ms, then 1 ms ones up to the limit.
        assert_eq!(
            total(Duration::from_millis(20)),
            (Duration::from_millis(20), 65)
        );
        let (slept, attempts) = total(Duration::from_secs(10));
        assert_eq!(slept, Duration::from_secs(10));
        assert_eq!(attempts, 50 + 9_995);
        assert!(wait(0, Duration::from_millis(1)));
        assert!(!wait(65, Duration::from_millis(20)));
    }
}
