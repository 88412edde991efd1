//! The audit group commit's queue; on SQLite, its loop on the writer
//! thread.
//!
//! Requests put their entry in an [`AuditQueue`]; one task per process
//! takes the write turn and hands the writer thread ONE job that commits
//! batch after batch (audit_batch.rs's `append_native`), each time taking
//! whatever has queued up meanwhile, and releases the waiting requests
//! itself, until the queue is empty or the turn has lasted [`TURN`].
//!
//! Before, every batch was a round of its own: the write turn taken from
//! sqlx's pool (whose release pings the connection on sqlx's thread, from
//! a task that waits behind the requests on the runtime), a hand-off to the
//! writer thread, a wake-up of the group-commit task to release the
//! waiters and collect the next batch. Measured under the hub benchmark
//! (release build, 64 connections): 0.56 ms per batch in SQLite, 0.8 ms
//! more around it, with the writer idle and the requests waiting.

use crate::audit::{HeadHint, set_hint};
use crate::audit_batch::{Appended, QueuedAudit, append_native};
use crate::native_writer::WriterConn;
use crate::register_cache::RegisterCache;
use crate::{Store, StoreError};
use kruispunt_domain::hub::AuditCrypto;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// How long the group commit keeps the write turn while entries keep
/// coming: other writers of this process (the audit indexer, reference
/// registrations, Dimona) wait at most this plus one batch.
pub const TURN: Duration = Duration::from_millis(5);

/// What an entry's requester gets back: where it was appended, that it
/// was refused as stale, or why the commit failed.
pub type AuditOutcome = Result<Appended, String>;

struct Pending {
    entry: QueuedAudit,
    done: oneshot::Sender<AuditOutcome>,
}

/// A committed batch's requesters and what became of their entries.
type Answers = (
    Vec<oneshot::Sender<AuditOutcome>>,
    Result<Vec<Appended>, String>,
);

/// Audit entries waiting for the SQLite group commit, in arrival order
/// (the order of the chain).
pub struct AuditQueue {
    pending: Mutex<VecDeque<Pending>>,
    ready: Notify,
    /// The task on the runtime that answers the writer thread's batches
    /// (see [`AuditQueue::with_relay`]).
    relay: tokio::sync::mpsc::UnboundedSender<Answers>,
}

impl std::fmt::Debug for AuditQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditQueue").finish_non_exhaustive()
    }
}

impl AuditQueue {
    /// A queue whose batches the writer thread hands, answers and all, to
    /// a task on the current runtime, which wakes their requesters.
    ///
    /// Why: a requester woken from a thread outside the runtime goes
    /// through the runtime's shared queue (a lock) and, when a worker is
    /// asleep, a futex wake-up: one per requester. Woken from a task on a
    /// worker, they go to that worker's own queue; the writer thread wakes
    /// one task per batch instead of one per entry. Measured
    /// (session 15, 10 interleaved pairs): messages +6 %, idle CPU 13 ->
    /// 11 %. Must be called within a Tokio runtime.
    pub fn with_relay() -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Answers>();
        tokio::spawn(async move {
            while let Some((waiting, outcome)) = rx.recv().await {
                let _ = answer(waiting, outcome);
            }
        });
        AuditQueue {
            pending: Mutex::default(),
            ready: Notify::new(),
            relay: tx,
        }
    }

    /// Answers a batch's requesters through the relay task.
    fn answer(
        &self,
        waiting: Vec<oneshot::Sender<AuditOutcome>>,
        outcome: Result<Vec<Appended>, String>,
    ) {
        if let Err(tokio::sync::mpsc::error::SendError((waiting, outcome))) =
            self.relay.send((waiting, outcome))
        {
            // The relay is gone (the runtime is shutting down): answer here,
            // so that nobody waits for ever.
            let _ = answer(waiting, outcome);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        // A panic while holding it cannot leave the queue half-changed
        // (push and drain are single operations).
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `entry`; the receiver gives its outcome once it is durable
    /// (or refused, or failed).
    pub fn push(&self, entry: QueuedAudit) -> oneshot::Receiver<AuditOutcome> {
        let (done, outcome) = oneshot::channel();
        let first = {
            let mut q = self.lock();
            q.push_back(Pending { entry, done });
            q.len() == 1
        };
        if first {
            // A permit is kept if the committer is not waiting right now.
            self.ready.notify_one();
        }
        outcome
    }

    /// Returns once at least one entry is queued.
    pub async fn wait_for_entries(&self) {
        loop {
            if !self.lock().is_empty() {
                return;
            }
            self.ready.notified().await;
        }
    }

    /// Answers every queued entry with `error` (the group commit cannot
    /// run at all).
    pub fn fail_all(&self, error: &str) {
        let pending: Vec<Pending> = self.lock().drain(..).collect();
        for p in pending {
            let _ = p.done.send(Err(error.to_owned()));
        }
    }

    fn take(&self, max: usize) -> Vec<Pending> {
        let mut q = self.lock();
        let n = q.len().min(max);
        q.drain(..n).collect()
    }
}

impl Store {
    /// Commits the queued entries, batch after batch (at most `max_batch`
    /// each), answering each batch's requesters as soon as it is durable.
    ///
    /// SQLite with the writer thread: under one write turn, on that thread,
    /// until the queue is empty or the turn has lasted [`TURN`]; if the turn
    /// cannot be had, every queued entry gets the error. Otherwise (and on
    /// PostgreSQL): each batch through [`Store::append_audit_batch`] (one
    /// statement: at most [`Store::audit_batch_limit`] entries), until the
    /// queue is empty. An error, once its batch's requesters got it, ends
    /// the call.
    pub async fn commit_audit_queue(
        &self,
        queue: &Arc<AuditQueue>,
        crypto: Arc<dyn AuditCrypto>,
        checkpoint_every: i64,
        max_batch: usize,
    ) -> Result<(), StoreError> {
        let (Some(writer), Some(readers)) = (&self.native_writer, &self.native) else {
            let max_batch = max_batch.min(self.audit_batch_limit()).max(1);
            loop {
                let Some((entries, waiting)) = next_batch(queue, max_batch) else {
                    return Ok(());
                };
                let appended = self
                    .append_audit_batch(entries, crypto.clone(), checkpoint_every)
                    .await;
                answer(waiting, appended)?;
            }
        };
        let turn = match self.write_turn().await {
            Ok(turn) => turn,
            Err(e) => {
                queue.fail_all(&e.to_string());
                return Err(e);
            }
        };
        let queue = queue.clone();
        let readers = readers.clone();
        let hint = self.audit_head.clone();
        let job = writer.run(move |conn| {
            commit_batches(
                conn,
                &queue,
                crypto.as_ref(),
                checkpoint_every,
                max_batch.max(1),
                &readers.registers,
                &hint,
            )
        });
        let out = job.await;
        drop(turn);
        out.map_err(|_| {
            StoreError::Config("the audit group commit on the SQLite writer thread panicked".into())
        })?
    }
}

/// The next batch, if any is queued: its entries and their requesters.
fn next_batch(
    queue: &AuditQueue,
    max_batch: usize,
) -> Option<(Vec<QueuedAudit>, Vec<oneshot::Sender<AuditOutcome>>)> {
    let batch = queue.take(max_batch);
    if batch.is_empty() {
        return None;
    }
    metrics::histogram!("audit_batch_size").record(batch.len() as f64);
    Some(batch.into_iter().map(|p| (p.entry, p.done)).unzip())
}

/// Answers each requester of a batch with what became of its entry, or
/// all of them with the batch's error (which is passed on).
fn answer<E: std::fmt::Display>(
    waiting: Vec<oneshot::Sender<AuditOutcome>>,
    appended: Result<Vec<Appended>, E>,
) -> Result<(), E> {
    match appended {
        Ok(appended) => {
            for (done, a) in waiting.into_iter().zip(appended) {
                let _ = done.send(Ok(a));
            }
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            for done in waiting {
                let _ = done.send(Err(msg.clone()));
            }
            Err(e)
        }
    }
}

/// The writer thread's side of [`Store::commit_audit_queue`].
fn commit_batches(
    conn: &WriterConn,
    queue: &AuditQueue,
    crypto: &dyn AuditCrypto,
    checkpoint_every: i64,
    max_batch: usize,
    registers: &RegisterCache,
    hint: &HeadHint,
) -> Result<(), StoreError> {
    let started = Instant::now();
    while let Some((entries, waiting)) = next_batch(queue, max_batch) {
        let appended = append_native(conn, &entries, crypto, checkpoint_every, registers).map(
            |(appended, head)| {
                set_hint(hint, Some(head));
                appended
            },
        );
        match appended {
            Ok(appended) => queue.answer(waiting, Ok(appended)),
            Err(e) => {
                queue.answer(waiting, Err(e.to_string()));
                return Err(e);
            }
        }
        if started.elapsed() >= TURN {
            break;
        }
    }
    Ok(())
}
