//! Opening the store: URL → backend, pool settings, migrations.

use crate::{Store, StoreError};
use sqlx::Executor;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_SQLITE_PATH: &str = "./kruispunt-data/kruispunt.db";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// Normalises what a user passes as `--database` into a sqlx URL.
/// Accepts `postgres://`, `postgresql://`, `sqlite://PATH`, `sqlite:PATH`
/// or a plain file path (SQLite).
fn normalise(url: &str) -> Result<(Backend, String, Option<String>), StoreError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(StoreError::Config("the database URL is empty".into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned(), None));
    }
    if url.contains("://") && !url.starts_with("sqlite://") {
        return Err(StoreError::Config(
            "the database URL must start with postgres:// or sqlite://, or be a file path".into(),
        ));
    }
    let path_and_query = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if path.is_empty() {
        return Err(StoreError::Config("the SQLite path is empty".into()));
    }
    let mut full = format!("sqlite://{path}");
    match query {
        Some(q) if q.contains("mode=") => full.push_str(&format!("?{q}")),
        Some(q) => full.push_str(&format!("?{q}&mode=rwc")),
        None => full.push_str("?mode=rwc"),
    }
    Ok((Backend::Sqlite, full, Some(path.to_owned())))
}

fn pool_options(backend: Backend, size: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30));
    match backend {
        // An embedded file cannot drop a connection: a ping before each
        // acquire would only cost a hop to sqlx's worker thread.
        Backend::Sqlite => options
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed during writes; FULL makes every
                    // acknowledged commit survive power loss, not only a process
                    // crash; busy_timeout covers other processes on the file.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // 32 MiB page cache per connection (the default 2 MiB makes
                    // bulk loads re-read index pages from the OS).
                    conn.execute("PRAGMA cache_size = -32768").await?;
                    // Statement journals (a multi-row upsert inside a
                    // transaction keeps one) in memory, not in temp files.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    // Checkpoints run on their own thread (`crate::checkpoint`).
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        crate::checkpoint::FALLBACK_PAGES
                    )))
                    .await?;
                    Ok(())
                })
            }),
        Backend::Postgres => options,
    }
}

impl Store {
    /// Opens (and creates, for SQLite) the store at `url` and runs the
    /// embedded migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, None).await
    }

    /// Like [`Store::open`] with an explicit pool size.
    pub async fn open_with(url: &str, max_connections: Option<u32>) -> Result<Store, StoreError> {
        install_default_drivers();
        // Before SQLite's first use in the process (see page_cache.rs).
        crate::page_cache::install();
        let (backend, url, sqlite_path) = normalise(url)?;
        if let Some(path) = &sqlite_path
            && let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Config(format!("cannot create the data directory: {e}"))
            })?;
        }
        let size = max_connections.unwrap_or(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let pool = pool_options(backend, size).connect(&url).await?;
        let writer = match backend {
            Backend::Sqlite => pool_options(backend, 1).connect(&url).await?,
            Backend::Postgres => pool.clone(),
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&writer).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&writer).await?,
        }
        let native_writer = match &sqlite_path {
            Some(path) => Some(std::sync::Arc::new(
                // 256 MiB: a pass's reads run here, on the writer's cache
                // (measured on a 400 MB file: 7,700 -> 8,500 INs/s at 512 MiB
                // over 32 MiB).
                crate::native_writer::NativeWriter::spawn(Path::new(path), 262_144)?,
            )),
            None => None,
        };
        let native = sqlite_path.map(|p| {
            let readers = std::sync::Arc::new(crate::native::NativeReaders::new(p.clone().into()));
            crate::checkpoint::spawn(p.into(), std::sync::Arc::downgrade(&readers));
            readers
        });
        let store = Store {
            pool,
            writer,
            backend,
            native,
            native_writer,
            audit_head: Default::default(),
        };
        store.seed_sectors().await?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalise("postgres://u@h/db").unwrap().0, Backend::Postgres);
        let (b, u, p) = normalise("./data/k.db").unwrap();
        assert_eq!(
            (b, u.as_str(), p.as_deref()),
            (
                Backend::Sqlite,
                "sqlite://./data/k.db?mode=rwc",
                Some("./data/k.db")
            )
        );
        assert_eq!(
            normalise("sqlite:///tmp/x.db").unwrap().1,
            "sqlite:///tmp/x.db?mode=rwc"
        );
        assert!(normalise("mysql://x").is_err());
        assert!(normalise("").is_err());
    }
}
