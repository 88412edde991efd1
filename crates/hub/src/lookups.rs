//! Batched reads for the hot path of a message: concurrent identification
//! messages hand their integration check and register lookup to a
//! collector, which answers whatever has queued up with ONE query (at most
//! a few in flight). Like the audit group commit, this trades a queue hop
//! for a round trip per message: on SQLite every statement is a hand-off to
//! sqlx's worker thread, which was the message path's largest cost.
//!
//! On SQLite the store answers a lookup on the calling thread without sqlx
//! (`Store::person_and_integration_inline`): no hop at all, so no collector.

use crate::HubError;
use kruispunt_domain::registers::Person;
use kruispunt_store::{InlineLookup, IntegrationLookup, Store};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, oneshot};

type Answer = Result<(Option<Person>, bool), String>;
type Job = (IntegrationLookup, oneshot::Sender<Answer>);

/// Queries in flight at once (the pool has more connections; batches grow
/// while these run).
const IN_FLIGHT: usize = 2;
const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub(crate) enum Lookups {
    /// SQLite: read on the caller's thread.
    Inline(Store),
    /// PostgreSQL: through the collector.
    Batched(mpsc::Sender<Job>),
}

impl Lookups {
    pub(crate) fn spawn(store: Store) -> Self {
        if store.reads_inline() {
            return Self::Inline(store);
        }
        let (tx, mut rx) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT));
            while let Some(first) = rx.recv().await {
                // Wait for a free slot before draining the queue, so the
                // batch takes everything that arrived meanwhile.
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let store = store.clone();
                tokio::spawn(async move {
                    let (asks, waiting): (Vec<IntegrationLookup>, Vec<_>) =
                        batch.into_iter().unzip();
                    metrics::histogram!("hub_lookup_batch_size").record(asks.len() as f64);
                    match store.persons_and_integration(&asks).await {
                        Ok(answers) => {
                            for (done, a) in waiting.into_iter().zip(answers) {
                                let _ = done.send(Ok(a));
                            }
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            for done in waiting {
                                let _ = done.send(Err(msg.clone()));
                            }
                        }
                    }
                    drop(permit);
                });
            }
        });
        Self::Batched(tx)
    }

    /// The person (if the register knows the SSIN) and whether the
    /// institution is integrated on them in that capacity today; on
    /// SQLite possibly from memory, with the register version to append
    /// the decision's audit entry with (see `InlineLookup`), unless
    /// `fresh`.
    pub(crate) async fn person_and_integration(
        &self,
        ask: IntegrationLookup,
        fresh: bool,
    ) -> Result<InlineLookup, HubError> {
        let tx = match self {
            Self::Inline(store) => {
                return store
                    .person_and_integration_inline(&ask, fresh)
                    .map_err(|e| HubError::Internal(format!("register lookup failed: {e}")));
            }
            Self::Batched(tx) => tx,
        };
        let stopped = || HubError::Internal("the lookup collector stopped".into());
        let (done, wait) = oneshot::channel();
        tx.send((ask, done)).await.map_err(|_| stopped())?;
        let (person, integrated) = wait
            .await
            .map_err(|_| stopped())?
            .map_err(|e| HubError::Internal(format!("register lookup failed: {e}")))?;
        Ok(InlineLookup {
            person,
            integrated,
            registers_at: None,
        })
    }
}
