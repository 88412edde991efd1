//! The crossroads hub. Neither sender nor receiver: it checks every message
//! against the public authorizations and the reference directory, routes it
//! to the authentic source (internal registers or an external provider),
//! logs it in the hash-chained audit log *before* answering, and pushes
//! changes to the institutions entitled to them.
//!
//! No HTTP server here (that is the web crate); outbound HTTP to providers
//! and webhooks lives in `providers.rs` and `delivery.rs`.

mod audit_writer;
mod authorizations;
pub mod delivery;
pub mod directory;
mod error;
pub mod keys;
mod lookups;
pub mod messages;
pub mod mutations;
pub mod nats;
mod providers;
pub mod verify;

pub use audit_writer::AuditWriter;
pub use error::HubError;

use kruispunt_domain::clock::{Clock, Entropy, Timestamp, format_date};
use kruispunt_security::audit::HubKey;
use kruispunt_store::Store;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Time an external provider gets to answer.
    pub provider_timeout: Duration,
    /// Attempts per message on provider connection errors or 5xx.
    pub provider_attempts: u32,
    /// A signed checkpoint every N audit entries (plus one per minute).
    pub checkpoint_every: i64,
    /// Largest number of audit entries committed together.
    pub max_batch: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            provider_timeout: Duration::from_secs(5),
            provider_attempts: 2,
            checkpoint_every: 1000,
            max_batch: 1024,
        }
    }
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    key: Arc<HubKey>,
    audit: AuditWriter,
    lookups: lookups::Lookups,
    http: reqwest::Client,
    config: HubConfig,
    /// Wakes the webhook worker when this process created notifications.
    wake: tokio::sync::Notify,
    authorizations: authorizations::AuthCacheCell,
}

/// The hub service. Cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

impl Hub {
    /// Loads (or creates) the hub key and starts the audit writer. Must run
    /// inside a tokio runtime.
    pub async fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: HubConfig,
    ) -> Result<Self, HubError> {
        let key = Arc::new(keys::load_or_create(&store, clock.as_ref(), entropy.as_ref()).await?);
        let audit = AuditWriter::spawn(
            store.clone(),
            key.clone(),
            config.checkpoint_every,
            config.max_batch,
        );
        let lookups = lookups::Lookups::spawn(store.clone());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| HubError::Internal(format!("http client: {e}")))?;
        Ok(Self(Arc::new(Inner {
            store,
            clock,
            entropy,
            key,
            audit,
            lookups,
            http,
            config,
            wake: tokio::sync::Notify::new(),
            authorizations: Default::default(),
        })))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }
    pub fn today(&self) -> String {
        format_date(self.now().date())
    }
    pub fn key(&self) -> &HubKey {
        &self.0.key
    }
    pub fn config(&self) -> &HubConfig {
        &self.0.config
    }

    /// A fresh ticket: unique, says nothing about the content, starts with
    /// the time (see `ticket_at`).
    pub fn ticket(&self) -> String {
        ticket_at(self.now(), &self.0.entropy.token_hex())
    }

    /// Records in the audit log that a person read their own data through
    /// `channel` (e.g. the portal), and returns once it is durable: like
    /// every other read of personal data, nothing is shown before its
    /// entry. `services`: what was read (`identification,employment`).
    pub async fn audit_self_access(
        &self,
        ssin: &kruispunt_domain::ids::Ssin,
        services: &str,
        channel: &str,
    ) -> Result<(), HubError> {
        self.0
            .audit
            .append(kruispunt_store::AuditDraft {
                ticket: self.ticket(),
                at: self.now().millis(),
                kind: "self-access".into(),
                actor: "citizen".into(),
                service: Some(services.into()),
                purpose: None,
                ssin: Some(ssin.to_string()),
                outcome: "done".into(),
                detail: Some(serde_json::json!({ "channel": channel }).to_string()),
                answer_digest: None,
            })
            .await?;
        Ok(())
    }

    /// Starts the background work of a server: webhook delivery,
    /// time-based audit checkpoints, and the audit log's index by person.
    pub fn spawn_workers(&self) {
        delivery::spawn(self.clone());
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(AUDIT_INDEX_EVERY).await;
                // Catch up in runs of bounded size: each holds the write
                // lock (SQLite) or the progress row (PostgreSQL) only briefly.
                loop {
                    match hub
                        .store()
                        .index_audit_by_person(AUDIT_INDEX_RUN, AUDIT_INDEX_ROWS_PER_WRITE)
                        .await
                    {
                        Ok(n) if n >= AUDIT_INDEX_RUN => tokio::task::yield_now().await,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "indexing the audit log by person failed");
                            break;
                        }
                    }
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let at = hub.now().millis();
                if let Err(e) = hub.store().checkpoint_head(hub.key(), at).await {
                    tracing::warn!(error = %e, "periodic audit checkpoint failed");
                }
            }
        });
    }
}

/// How often the audit log's index by person catches up with the log
/// (see the store's migration 21): the longer, the more of a run's entries
/// share a page of the index; readers scan what it has not reached yet.
const AUDIT_INDEX_EVERY: Duration = Duration::from_secs(2);
/// The most seqs one indexing run covers.
const AUDIT_INDEX_RUN: i64 = 100_000;
/// Index rows per write transaction of a run (each holds the write lock).
const AUDIT_INDEX_ROWS_PER_WRITE: usize = 1_000;

/// A ticket: `T`, the time in milliseconds (12 hex digits), then 80 random
/// bits (20 hex digits of `random`). Time first, so that the audit log's
/// UNIQUE index on tickets grows at its end: with wholly random tickets
/// every entry dirtied a random page of that index, i.e. one more page to
/// write to the WAL per entry at each group commit.
fn ticket_at(now: kruispunt_domain::clock::Timestamp, random: &str) -> String {
    let millis = u64::try_from(now.millis()).unwrap_or(0);
    let random = random.get(..20).unwrap_or(random);
    format!("T{millis:012x}{random}")
}

#[cfg(test)]
mod ticket_tests {
    use super::ticket_at;
    use kruispunt_domain::clock::Timestamp;

    #[test]
    fn tickets_sort_by_time_and_keep_80_random_bits() {
        let r = "0123456789abcdef0123456789abcdef";
        let a = ticket_at(Timestamp(1_796_034_621_080), r);
        let b = ticket_at(
            Timestamp(1_796_034_621_081),
            "ffffffffffffffffffffffffffffffff",
        );
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('T'));
        assert_eq!(&a[13..], &r[..20]);
        assert!(a < b, "{a} < {b}");
        assert!(
            ticket_at(Timestamp(1_796_034_621_081), "00000000000000000000")
                > ticket_at(Timestamp(1_796_034_621_080), "ffffffffffffffffffff")
        );
    }
}
