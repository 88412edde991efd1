//! Group commit for the audit log: requests hand their entry to one writer
//! task per process, which commits whatever has queued up in a single
//! transaction (one fsync for many answers) and then releases every waiting
//! request. No answer leaves before its entry is durable.

use crate::HubError;
use kruispunt_security::audit::HubKey;
use kruispunt_store::{AuditDraft, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Job = (AuditDraft, oneshot::Sender<Result<i64, String>>);

#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
}

impl AuditWriter {
    pub fn spawn(store: Store, key: Arc<HubKey>, checkpoint_every: i64, max_batch: usize) -> Self {
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
                let drafts: Vec<AuditDraft> = batch.iter().map(|(d, _)| d.clone()).collect();
                metrics::histogram!("audit_batch_size").record(drafts.len() as f64);
                let result = store
                    .append_audit_batch(&drafts, key.as_ref(), checkpoint_every)
                    .await;
                match result {
                    Ok(seqs) => {
                        for ((_, done), seq) in batch.drain(..).zip(seqs) {
                            let _ = done.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, entries = batch.len(), "audit append failed; the requests get an error");
                        let msg = e.to_string();
                        for (_, done) in batch.drain(..) {
                            let _ = done.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Appends `draft` and waits until it is durable; returns its seq.
    pub async fn append(&self, draft: AuditDraft) -> Result<i64, HubError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((draft, done))
            .await
            .map_err(|_| HubError::AuditUnavailable("the audit writer stopped".into()))?;
        wait.await
            .map_err(|_| HubError::AuditUnavailable("the audit writer stopped".into()))?
            .map_err(HubError::AuditUnavailable)
    }
}
