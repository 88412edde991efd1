//! SQLite only: point reads run directly on the calling thread.
//!
//! sqlx runs every SQLite statement on a per-connection worker thread, so
//! each statement is a hand-off there and back (two futex wakes and the
//! context switches on a busy machine), and each row is copied into the
//! `Any` driver's owned values. For an indexed point read that costs many
//! times the read itself: on the hub's `identification` message it was the
//! largest cost after the durable audit append (docs/benchmarks.md). The
//! reads here use a small pool of read-only connections of their own (WAL:
//! a reader never waits for the writer) and run inline.
//!
//! Only bounded reads by key belong here: they hold the calling runtime
//! thread for the read's duration (microseconds on a warm cache, as long as
//! a page fault on a cold one).

use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Mutex;

/// Connections kept idle; more may be opened under a burst.
const IDLE: usize = 8;

pub(crate) struct NativeReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// What the hub's check read of persons and references (its reads go
    /// through these connections).
    pub(crate) registers: crate::register_cache::RegisterCache,
}

impl std::fmt::Debug for NativeReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeReaders").finish_non_exhaustive()
    }
}

impl NativeReaders {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            registers: Default::default(),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // No mmap: a commit by another connection makes the next read
        // transaction unmap the whole file (perf: munmap and TLB shootdowns
        // at 6 % of server CPU under the hub benchmark), where without it
        // only the page cache is reset and pages are re-read with pread.
        conn.execute_batch(
            "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -8192; PRAGMA query_only = ON;",
        )?;
        Ok(conn)
    }

    /// Runs `read` on an idle connection (one is opened if none is).
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        let out = read(&conn);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
        Ok(out?)
    }
}
