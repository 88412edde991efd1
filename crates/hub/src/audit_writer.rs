//! Group commit for the audit log: requests hand their entry to one writer
//! per process, which commits whatever has queued up in a single
//! transaction (one fsync for many answers) and then releases every waiting
//! request. No answer leaves before its entry is durable.
//!
//! The queue and its commit are the store's (audit_queue.rs): on SQLite the
//! loop runs on the store's writer thread; on PostgreSQL each batch is one
//! multi-row INSERT.

use crate::HubError;
use kruispunt_domain::hub::AuditCrypto;
use kruispunt_security::audit::HubKey;
use kruispunt_store::{Appended, AuditDraft, AuditQueue, QueuedAudit, Store};
use std::sync::Arc;

#[derive(Clone)]
pub struct AuditWriter {
    queue: Arc<AuditQueue>,
}

impl AuditWriter {
    pub fn spawn(store: Store, key: Arc<HubKey>, checkpoint_every: i64, max_batch: usize) -> Self {
        let crypto: Arc<dyn AuditCrypto> = key;
        let queue = Arc::new(AuditQueue::with_relay());
        let q = queue.clone();
        tokio::spawn(async move {
            loop {
                q.wait_for_entries().await;
                if let Err(e) = store
                    .commit_audit_queue(&q, crypto.clone(), checkpoint_every, max_batch)
                    .await
                {
                    // The requests concerned got the error; the others stay
                    // queued for the next round.
                    tracing::error!(error = %e, "audit group commit failed; the requests get an error");
                }
            }
        });
        Self { queue }
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
        let wait = self.queue.push(entry);
        wait.await
            .map_err(|_| HubError::AuditUnavailable("the audit writer stopped".into()))?
            .map_err(HubError::AuditUnavailable)
    }
}
