//! Storage for kruispunt: one [`Store`] over SQLite (the embedded default)
//! or PostgreSQL, chosen by the database URL at run time.
//!
//! All SQL goes through sqlx's `Any` driver with a portable subset (see
//! `ARCHITECTURE.md`): `$N` placeholders, timestamps as epoch-millisecond
//! `BIGINT`, dates as `YYYY-MM-DD` text, ids as text. DDL differs per
//! backend, so migrations live in `migrations/sqlite` and
//! `migrations/postgres` and are embedded in the binary.

mod audit;
mod audit_batch;
mod audit_index;
mod audit_queue;
mod batch;
mod busy_wait;
mod checkpoint;
mod clients;
mod connect;
mod dimona;
pub mod dimona_pass;
mod error;
mod keys;
mod mandates;
mod native;
mod native_writer;
mod network;
mod notice_webhooks;
mod notifications;
// The only module allowed `unsafe`: a wrapper around SQLite's page cache
// through its C interface (why, in the module's header).
#[allow(unsafe_code)]
pub mod page_cache;
mod portal;
mod register_cache;
mod registers;
mod sql;
pub mod testing;
mod users;
mod writer_thread;

pub use audit::{AuditDraft, AuditEntry, AuditedTx, Checkpoint, HubKeyRow};
pub use audit_batch::{Appended, QueuedAudit};
pub use audit_queue::{AuditOutcome, AuditQueue};
pub use batch::{BatchFileRow, BatchFileSummary, BatchFormRow, FormOutcome, NewBatchForm};
pub use clients::{NewClient, OAuthClient};
pub use connect::{Backend, DEFAULT_SQLITE_PATH};
pub use dimona::{DailyRegistrationRow, DeclarationRow, NewDeclaration, PeriodFilter, PeriodRow};
pub use error::StoreError;
pub use keys::SigningKeyRow;
pub use mandates::MandateRow;
pub use network::{
    AuthorizationRow, NewAuthorization, NewReference, ReferenceRow, periods_overlap,
};
pub use notice_webhooks::{EmployerWebhookRow, NoticeDelivery};
pub use notifications::{Delivery, Notification, PersonChange};
pub use portal::{CorrectionRow, DailyDeclarations, HourlyMessages, OidcFlowRow, SessionRow};
pub use registers::{InlineLookup, IntegrationLookup};
pub use sql::DeferredWrites;
pub use users::UserRow;
pub use writer_thread::{WriteTurn, WriterSession, WriterWork};

use sqlx::AnyPool;

/// The store. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    /// Readers (and, on PostgreSQL, writers too).
    pool: AnyPool,
    /// Where writes go. On SQLite a pool of ONE connection: SQLite has one
    /// writer at a time anyway, and queueing writers on this pool (async,
    /// in order) replaces SQLITE_BUSY retries, whose sleeps (1, 2, 5 ... 100
    /// ms) made concurrent writers crawl. On PostgreSQL, the shared pool.
    writer: AnyPool,
    backend: Backend,
    /// SQLite: read-only connections for point reads on the calling thread.
    native: Option<std::sync::Arc<native::NativeReaders>>,
    /// SQLite: the thread that runs whole transactions on a connection of
    /// its own (native_writer.rs).
    native_writer: Option<std::sync::Arc<native_writer::NativeWriter>>,
    /// The audit chain head as this process last committed it: a hint
    /// that saves reading it before each append (the `audit_log` trigger
    /// refuses an append from a stale hint, which is then read and retried).
    audit_head: audit::HeadHint,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Rows per multi-row statement for a table of `cols` columns.
    pub(crate) fn bulk_rows(&self, cols: usize) -> usize {
        sql::rows_per_statement(self.backend, cols)
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}
