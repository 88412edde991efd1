use thiserror::Error;

/// Errors of the storage layer. The web layer maps them to HTTP in one place.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (`what` names the key).
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// A row the operation depends on does not exist.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The database URL or options are unusable.
    #[error("invalid database configuration: {0}")]
    Config(String),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From a direct SQLite read (native.rs).
    #[error("database error: {0}")]
    Native(#[from] rusqlite::Error),
    /// A stored value could not be read back into a domain type.
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl StoreError {
    /// Maps a unique violation of `err` to `Conflict { what }`.
    pub(crate) fn conflict_or(err: sqlx::Error, what: &'static str) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Conflict { what };
            }
            if db.is_foreign_key_violation() {
                return StoreError::NotFound {
                    what: "referenced row",
                };
            }
        }
        StoreError::Database(err)
    }
}
