//! SQLite only: a thread that owns a read-write connection and runs whole
//! transactions on it, reads included, in ONE hand-off.
//!
//! Through sqlx, each statement of a transaction is a hand-off to sqlx's
//! worker thread and back; a Dimona pass made three (BEGIN, its writes,
//! COMMIT), each waiting for a wake-up on two loaded cores. Its reads ran
//! on read-only connections instead (native.rs), whose page cache SQLite
//! empties whenever another connection commits, so every pass re-read its
//! index pages from the OS; the writer's own cache survives its commits.
//! Here a job gets the connection itself: BEGIN, reads on a warm cache,
//! decisions, writes, COMMIT, with no hand-off between them.
//!
//! Writers stay serialized by the sqlx writer pool (ONE connection): a
//! job runs only while its caller holds that connection, so this thread
//! and sqlx's writer never wait on each other's SQLite lock.

use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// The writer thread's connection. Behind a mutex only so that a
/// reference to it is `Send` (an audited transaction holding it lives in
/// futures); the writer thread alone ever locks it, never across an await.
pub(crate) type WriterConn = std::sync::Mutex<Connection>;

/// Locks the writer thread's connection (a panic that poisoned the lock
/// rolled its transaction back: see NativeTx).
pub(crate) fn lock(conn: &WriterConn) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type Job = Box<dyn FnOnce(&WriterConn) + Send>;

pub(crate) struct NativeWriter {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for NativeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeWriter").finish_non_exhaustive()
    }
}

impl NativeWriter {
    /// Opens the connection (with the writer pool's settings) and starts
    /// the thread; it ends when the writer is dropped.
    pub(crate) fn spawn(path: &Path, cache_kib: i64) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // As the sqlx writer (connect.rs): WAL, FULL (an acknowledged
        // commit survives power loss), foreign keys, checkpoints left to
        // their own thread.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = {};",
            crate::checkpoint::FALLBACK_PAGES
        ))?;
        conn.busy_handler(Some(crate::busy_wait::patient))?;
        conn.set_prepared_statement_cache_capacity(128);
        let conn: WriterConn = std::sync::Mutex::new(conn);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        // A job may drop values that need the runtime (a pooled sqlx
        // connection returns itself to its pool by spawning a task).
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _runtime = runtime.as_ref().map(|h| h.enter());
                for job in rx {
                    // A panicking job must not take the thread with it: its
                    // caller sees the job dropped; its transaction was rolled
                    // back as it unwound (NativeTx's Drop).
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn)));
                }
            })
            .map_err(|e| {
                StoreError::Config(format!("cannot start the SQLite writer thread: {e}"))
            })?;
        Ok(Self { jobs: tx })
    }

    /// Runs `job` on the writer thread; its result arrives on the receiver
    /// (which fails if the job panicked or the thread is gone).
    pub(crate) fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&WriterConn) -> R + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<R> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = done.send(job(conn));
        });
        let _ = self.jobs.send(job);
        result
    }
}

/// Drives `f` to completion on this thread. For futures whose every await
/// completes at once (the writer thread's own reads and writes): it parks
/// the thread only if one does not, until its waker is called.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_waits_for_a_wake_from_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(7);
        });
        assert_eq!(block_on(rx).ok(), Some(7));
    }

    #[tokio::test]
    async fn a_panicking_job_leaves_the_thread_serving() {
        // Before this binary's first SQLite use (the page cache test checks it).
        crate::page_cache::install();
        let dir = std::env::temp_dir().join(format!("kp-nw-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        // The store's file exists (migrated) before its writer opens it.
        drop(rusqlite::Connection::open(&path).unwrap());
        let writer = NativeWriter::spawn(&path, 1024).unwrap();
        let failed = writer.run(|_| -> i64 { panic!("boom") }).await;
        assert!(failed.is_err());
        let one = writer
            .run(|c| {
                lock(c)
                    .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .unwrap()
            })
            .await;
        assert_eq!(one.ok(), Some(1));
        let _ = std::fs::remove_dir_all(dir);
    }
}
