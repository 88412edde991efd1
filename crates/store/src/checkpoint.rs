//! SQLite only: WAL checkpoints off the commit path.
//!
//! By default, the commit that grows the WAL past 1,000 pages also copies
//! the WAL back into the database file and fsyncs that file, before it
//! returns: one group commit in a few dozen paid several milliseconds more,
//! and every request waiting on it too (the tail of the hub's messages and
//! of Dimona's receipts). Here a thread of its own runs PASSIVE checkpoints
//! (they never wait for, nor block, readers and writers) a few times a
//! second. The connections' own threshold is raised so that they only
//! checkpoint if this thread falls far behind: the WAL stays bounded.

use crate::native::NativeReaders;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

/// The WAL size (pages) at which a committing connection checkpoints itself.
///
/// Under a steady stream of commits this thread's PASSIVE rounds never
/// catch up with the last frame, so the WAL restarts only after such a
/// checkpoint, run inside some commit: 25–100 ms on a grown file, which
/// everyone waiting on that commit pays. At 16,384 pages (64 MiB) it came
/// every second or so under the Dimona load and set its p99 (18–25 ms); at
/// 65,536 (256 MiB, the WAL's size on disk at most) 15–17 ms, and recovery
/// after a crash replays at most that much.
pub(crate) const FALLBACK_PAGES: u32 = 65_536;

const EVERY: Duration = Duration::from_millis(50);

/// The WAL size (pages) from which this thread restarts the WAL (a
/// RESTART checkpoint) instead of waiting for the fallback.
///
/// Under steady commits a PASSIVE round never ends with the WAL wholly
/// copied back at a moment when no commit follows, so the WAL never
/// restarts by itself: it grew to the fallback (above), and that commit's
/// checkpoint stalled every request waiting on it for 100–250 ms, once
/// every ~40 s under the hub benchmark (the p99 of one 6 s run in five or
/// so). A RESTART right after a PASSIVE round has only the last few
/// milliseconds of frames to copy; it holds writers back for that and the
/// database file's fsync, then the WAL is written again from its start
/// (overwriting blocks already allocated: a cheaper fsync than appending).
const RESTART_PAGES: i64 = 8_192;

/// Starts the checkpointer of the database at `path`; it stops once the
/// store it serves (`alive`) is dropped.
pub(crate) fn spawn(path: PathBuf, alive: Weak<NativeReaders>) {
    let started = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let conn = match Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "no background WAL checkpoints: the connections checkpoint themselves");
                    return;
                }
            };
            // A RESTART waits at most 20 ms for the write lock and for
            // readers, in fine steps (busy_wait.rs); it is tried again on
            // the next round.
            if let Err(e) = conn.busy_handler(Some(crate::busy_wait::brief)) {
                tracing::debug!(error = %e, "checkpoint connection: busy timeout not set");
            }
            while alive.strong_count() > 0 {
                std::thread::sleep(EVERY);
                // BUSY (another checkpoint runs) or any other failure: the
                // next round tries again, and the fallback bounds the WAL.
                // The answer: (busy, frames in the WAL, frames copied back).
                let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    r.get::<_, i64>(1)
                });
                match passive {
                    Ok(frames) if frames >= RESTART_PAGES => {
                        if let Err(e) =
                            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                        {
                            tracing::debug!(error = %e, "WAL restart skipped");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "WAL checkpoint skipped"),
                }
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "no background WAL checkpoints: the connections checkpoint themselves");
    }
}
