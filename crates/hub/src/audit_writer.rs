//! Group commit for the audit log: requests hand their entry to one writer
//! per process, which commits whatever has queued up in a single
//! transaction (one fsync for many answers) and then releases every waiting
//! request. No answer leaves before its entry is durable.
//!
//! On SQLite the loop runs on the store's writer thread (the store's
//! audit_queue.rs); elsewhere (PostgreSQL) a task here commits each batch
//! through the store.

use crate::HubError;
use kruispunt_domain::hub::AuditCrypto;
use kruispunt_security::audit::HubKey;
use kruispunt_store::{Appended, AuditDraft, AuditOutcome, AuditQueue, QueuedAudit, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Job = (QueuedAudit, oneshot::Sender<AuditOutcome>);

#[derive(Clone)]
pub struct AuditWriter(Queue);

#[derive(Clone)]
enum Queue {
    /// SQLite: committed on the writer thread.
    WriterThread(Arc<AuditQueue>),
    /// Each batch through the store (PostgreSQL).
    Task(mpsc::Sender<Job>),
}

impl AuditWriter {
    pub fn spawn(store: Store, key: Arc<HubKey>, checkpoint_every: i64, max_batch: usize) -> Self {
        let crypto: Arc<dyn AuditCrypto> = key;
        if store.has_writer_thread() {
            let queue = Arc::new(AuditQueue::default());
            let q = queue.clone();
            tokio::spawn(async move {
                loop {
                    q.wait_for_entries().await;
                    if let Err(e) = store
                        .commit_audit_queue(&q, crypto.clone(), checkpoint_every, max_batch)
                        .await
                    {
                        // That batch's requests got the error; a turn that
                        // could not start fails the queued ones too, rather
                        // than leave them waiting.
                        tracing::error!(error = %e, "audit group commit failed; the requests get an error");
                        if matches!(e, kruispunt_store::StoreError::Database(_)) {
                            q.fail_all(&e.to_string());
                        }
                    }
                }
            });
            return Self(Queue::WriterThread(queue));
        }
        let (tx, mut rx) = mpsc::channel::<Job>(max_batch * 4);
        // One statement per batch: stay within the backend's parameter budget.
        let max_batch = max_batch.min(store.audit_batch_limit()).max(1);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let (entries, waiting): (Vec<QueuedAudit>, Vec<_>) = batch.drain(..).unzip();
                metrics::histogram!("audit_batch_size").record(entries.len() as f64);
                let result = store
                    .append_audit_batch(entries, crypto.clone(), checkpoint_every)
                    .await;
                match result {
                    Ok(appended) => {
                        for (done, a) in waiting.into_iter().zip(appended) {
                            let _ = done.send(Ok(a));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, entries = waiting.len(), "audit append failed; the requests get an error");
                        let msg = e.to_string();
                        for done in waiting {
                            let _ = done.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Self(Queue::Task(tx))
    }

    /// Appends `draft` and waits until it is durable; returns its seq.
    pub async fn append(&self, draft: AuditDraft) -> Result<i64, HubError> {
        match self.append_queued(draft.into()).await? {
            Appended::At(seq) => Ok(seq),
            // Only entries decided on a register version can be refused.
            Appended::Stale => Err(HubError::Internal(
                "an unconditional audit entry was refused as stale".into(),
            )),
        }
    }

    /// Appends `entry` and waits until it is durable, or until it is
    /// refused because the registers changed since `entry.registers_at`.
    pub async fn append_queued(&self, entry: QueuedAudit) -> Result<Appended, HubError> {
        let wait = match &self.0 {
            Queue::WriterThread(q) => q.push(entry),
            Queue::Task(tx) => {
                let (done, wait) = oneshot::channel();
                tx.send((entry, done))
                    .await
                    .map_err(|_| HubError::AuditUnavailable("the audit writer stopped".into()))?;
                wait
            }
        };
        wait.await
            .map_err(|_| HubError::AuditUnavailable("the audit writer stopped".into()))?
            .map_err(HubError::AuditUnavailable)
    }
}
