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
            while alive.strong_count() > 0 {
                std::thread::sleep(EVERY);
                // BUSY (another checkpoint runs) or any other failure: the
                // next round tries again, and the fallback bounds the WAL.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "WAL checkpoint skipped");
                }
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "no background WAL checkpoints: the connections checkpoint themselves");
    }
}
