//! Storage for kruispunt: one [`Store`] over SQLite (the embedded default)
//! or PostgreSQL, chosen by the database URL at run time.
//!
//! All SQL goes through sqlx's `Any` driver with a portable subset (see
//! `ARCHITECTURE.md`): `$N` placeholders, timestamps as epoch-millisecond
//! `BIGINT`, dates as `YYYY-MM-DD` text, ids as text. DDL differs per
//! backend, so migrations live in `migrations/sqlite` and
//! `migrations/postgres` and are embedded in the binary.

mod clients;
mod connect;
mod error;
mod keys;
mod network;
mod registers;
pub mod testing;
mod users;

pub use clients::{NewClient, OAuthClient};
pub use connect::{Backend, DEFAULT_SQLITE_PATH};
pub use error::StoreError;
pub use keys::SigningKeyRow;
pub use network::{AuthorizationRow, NewAuthorization, NewReference, ReferenceRow};
pub use users::UserRow;

use sqlx::AnyPool;

/// The store. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
