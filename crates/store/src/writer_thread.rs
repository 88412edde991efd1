//! SQLite only: the store's side of the writer thread (native_writer.rs):
//! the write turn, and what a job may do there.

use crate::audit::HeadHint;
use crate::native_writer::{WriterConn, block_on, lock};
use crate::{AuditedTx, NewDeclaration, Store, StoreError};
use std::future::Future;

/// The work [`WriterSession::audited`] runs: a future borrowing the
/// transaction.
pub type WriterWork<'t, R, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<R, E>> + 't>>;

/// The right to write on SQLite: the writer pool's one connection, held.
/// While it is held, jobs given to [`Store::on_writer_thread`] run on the
/// writer thread and nothing else of this process writes; drop it once
/// they have ended.
pub struct WriteTurn {
    _conn: sqlx::pool::PoolConnection<sqlx::Any>,
}

impl std::fmt::Debug for WriteTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTurn").finish_non_exhaustive()
    }
}

/// What a job on the writer thread works with.
pub struct WriterSession<'c> {
    conn: &'c WriterConn,
    hint: HeadHint,
    bulk_rows: usize,
}

impl WriterSession<'_> {
    /// Runs `work` in an audited transaction on this thread's connection
    /// and commits it if it succeeds (rolled back otherwise): BEGIN, the
    /// work's reads (on the writer's warm page cache) and writes, and the
    /// COMMIT, with no hand-off between them. `work`'s awaits must complete
    /// at once: reads through the transaction ([`AuditedTx::inline`]), its
    /// writes, inline reads of the store; nothing that takes the writer
    /// pool, which the turn holds.
    pub fn audited<R, E, W>(&self, checkpoint_every: i64, work: W) -> Result<R, E>
    where
        E: From<StoreError>,
        W: for<'t, 'x> FnOnce(&'t mut AuditedTx<'x>) -> WriterWork<'t, R, E>,
    {
        let mut tx = AuditedTx::begin_native(
            self.conn,
            self.hint.clone(),
            checkpoint_every,
            self.bulk_rows,
        )?;
        let out = block_on(work(&mut tx))?;
        block_on(tx.commit())?;
        Ok(out)
    }

    /// Stores received declarations, all in one transaction, for the
    /// worker (the receipt when processing on receipt failed).
    pub fn insert_declarations(&self, ds: &[NewDeclaration], now: i64) -> Result<(), StoreError> {
        let mut conn = lock(self.conn);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO dimona_declarations (id, employer_id, declarant, kind, ssin, body, \
                 received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?;
            for d in ds {
                insert.execute(rusqlite::params![
                    d.id,
                    d.employer_id,
                    d.declarant,
                    d.kind,
                    d.ssin,
                    d.body,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Whether the writer thread exists (SQLite).
    pub fn has_writer_thread(&self) -> bool {
        self.native_writer.is_some()
    }

    /// Waits for the write turn (see [`WriteTurn`]).
    pub async fn write_turn(&self) -> Result<WriteTurn, StoreError> {
        Ok(WriteTurn {
            _conn: self.writer.acquire().await?,
        })
    }

    /// Queues `job` on the writer thread (jobs run one after the other, in
    /// the order given); the future gives its result, `None` if it panicked.
    /// The caller holds `turn` until the future ends. An error without the
    /// thread (PostgreSQL).
    pub fn on_writer_thread<R: Send + 'static>(
        &self,
        _turn: &WriteTurn,
        job: impl FnOnce(&WriterSession<'_>) -> R + Send + 'static,
    ) -> Result<impl Future<Output = Option<R>> + Send + 'static, StoreError> {
        let writer = self
            .native_writer
            .as_ref()
            .ok_or_else(|| StoreError::Config("no SQLite writer thread".into()))?;
        let hint = self.audit_head.clone();
        let bulk_rows = self.bulk_rows(12);
        let result = writer.run(move |conn| {
            job(&WriterSession {
                conn,
                hint,
                bulk_rows,
            })
        });
        Ok(async move { result.await.ok() })
    }

    /// [`WriterSession::audited`] as one job, with the turn taken for it.
    pub async fn audited_on_writer_thread<R, E, W>(
        &self,
        checkpoint_every: i64,
        work: W,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        W: for<'t, 'x> FnOnce(&'t mut AuditedTx<'x>) -> WriterWork<'t, R, E> + Send + 'static,
    {
        let turn = self.write_turn().await?;
        let job = self.on_writer_thread(&turn, move |session| {
            session.audited(checkpoint_every, work)
        })?;
        let out = job.await;
        drop(turn);
        out.unwrap_or_else(|| {
            Err(
                StoreError::Config("the transaction on the SQLite writer thread panicked".into())
                    .into(),
            )
        })
    }
}
