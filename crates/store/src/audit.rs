//! The audit log: appends under the chain-head row lock (so several server
//! processes on one PostgreSQL extend one chain), checkpoints, reads.

use crate::sql::{DeferredWrites, Sql};
use crate::{Store, StoreError};
use kruispunt_domain::hub::{AuditCrypto, AuditRecord};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

/// The seqs of a person's entries of one kind ($1: SSIN, $2: kind): from
/// the index by person up to where it is built, from the log itself above
/// (a range of seq: the indexer's lag). One statement, so one snapshot of
/// the progress; index rows above it (a run not finished, or cut short)
/// are not read, so no entry is counted twice or missed.
macro_rules! person_entries {
    () => {
        "SELECT i.seq AS seq FROM audit_by_person i \
         WHERE i.ssin = $1 AND i.kind = $2 \
         AND i.seq <= (SELECT indexed_to FROM audit_index_progress WHERE id = 1) \
         UNION ALL SELECT t.seq AS seq FROM audit_log t \
         WHERE t.seq > (SELECT indexed_to FROM audit_index_progress WHERE id = 1) \
         AND t.ssin = $1 AND t.kind = $2"
    };
}

/// The head of every INSERT into `audit_log`: its columns in the order
/// entries are bound.
macro_rules! audit_log_insert {
    () => {
        "INSERT INTO audit_log (seq, ticket, at, kind, actor, service, purpose, ssin, outcome, \
         detail, answer_digest, hash) "
    };
}
pub(crate) use audit_log_insert;

/// An entry to append; `seq` and the hash are assigned on append.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub ticket: String,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub service: Option<String>,
    pub purpose: Option<String>,
    pub ssin: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub answer_digest: Option<Vec<u8>>,
}

/// A stored entry with its hash.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub record: AuditRecord,
    pub hash: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub at: i64,
    pub kid: String,
    pub signature: Vec<u8>,
}

#[derive(Clone)]
pub struct HubKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
}

impl std::fmt::Debug for HubKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubKeyRow")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A transaction that holds the audit chain head. Every audited state
/// change runs inside one, so the change and its audit entry commit
/// together, or neither does.
///
/// On SQLite the head is locked by the transaction's *first* statement (an
/// UPDATE), which takes the write lock up front: no read-then-write lock
/// upgrade, hence no busy deadlock between concurrent writers. On
/// PostgreSQL it is locked by the first `append`, near the end of the
/// transaction, so the row lock that serializes every node's audit entries
/// is held briefly.
pub struct AuditedTx<'a> {
    tx: TxConn<'a>,
    /// Whether this transaction holds the head's lock.
    locked: bool,
    /// Whether `seq`/`hash` were read under that lock (otherwise they are
    /// the process's hint, checked by the trigger at the first append).
    exact: bool,
    seq: i64,
    hash: Vec<u8>,
    hint: HeadHint,
    /// Entries were appended: the hint moves on commit.
    appended: bool,
    checkpoint_every: i64,
    backend: crate::Backend,
    bulk_rows: usize,
    /// SQLite with inline readers: see [`AuditedTx::inline`].
    inline: Option<std::sync::Arc<crate::native::NativeReaders>>,
}

/// Where an audited transaction runs: on a sqlx connection, or on the
/// SQLite writer thread's own connection (native_writer.rs).
enum TxConn<'a> {
    Sqlx(Transaction<'a, Any>),
    Native(NativeTx<'a>),
}

/// A transaction open on the writer thread's connection; rolled back if
/// dropped before its commit (an error, or a panic unwinding).
struct NativeTx<'a> {
    conn: &'a crate::native_writer::WriterConn,
    open: bool,
}

impl Drop for NativeTx<'_> {
    fn drop(&mut self) {
        let conn = crate::native_writer::lock(self.conn);
        if self.open
            && !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rollback on the SQLite writer thread failed");
        }
    }
}

/// Reads of what an audited transaction has not written, answered without
/// sqlx (see [`AuditedTx::inline`]).
pub(crate) enum Inline<'a> {
    /// Read-only connections of the pool (native.rs).
    Readers(&'a crate::native::NativeReaders),
    /// The transaction's own connection, on the writer thread.
    Writer(&'a crate::native_writer::WriterConn),
}

impl Inline<'_> {
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        match self {
            Inline::Readers(readers) => readers.read(read),
            Inline::Writer(conn) => Ok(read(&crate::native_writer::lock(conn))?),
        }
    }
}

fn entry_from(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        record: AuditRecord {
            seq: r.try_get("seq")?,
            ticket: r.try_get("ticket")?,
            at: r.try_get("at")?,
            kind: r.try_get("kind")?,
            actor: r.try_get("actor")?,
            service: r.try_get("service")?,
            purpose: r.try_get("purpose")?,
            ssin: r.try_get("ssin")?,
            outcome: r.try_get("outcome")?,
            detail: r.try_get("detail")?,
            answer_digest: r.try_get("answer_digest")?,
        },
        hash: r.try_get("hash")?,
    })
}

/// The audit chain head (seq, hash) as this process last committed it.
pub(crate) type HeadHint = std::sync::Arc<std::sync::Mutex<Option<(i64, Vec<u8>)>>>;

pub(crate) fn read_hint(hint: &HeadHint) -> Option<(i64, Vec<u8>)> {
    hint.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

pub(crate) fn set_hint(hint: &HeadHint, head: Option<(i64, Vec<u8>)>) {
    *hint.lock().unwrap_or_else(|p| p.into_inner()) = head;
}

/// Only the trigger on `audit_log` says this: in a multi-statement write,
/// the failing statement was an audit entry's, so every write before it ran.
fn stale_hint(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(e)) => {
            e.message().contains("audit chain head moved")
        }
        StoreError::Native(e) => e.to_string().contains("audit chain head moved"),
        _ => false,
    }
}

/// The trigger refused entries that do not extend the head, or another
/// writer took their seqs first.
pub(crate) fn head_moved(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(e)) => {
            e.message().contains("audit chain head moved") || e.is_unique_violation()
        }
        StoreError::Native(e) => {
            e.to_string().contains("audit chain head moved")
                || e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
        }
        _ => false,
    }
}

impl Store {
    /// Begins an audited transaction. `checkpoint_every`: sign a checkpoint
    /// whenever an appended seq is a multiple of it (0: never).
    pub async fn begin_audited(
        &self,
        checkpoint_every: i64,
    ) -> Result<AuditedTx<'static>, StoreError> {
        // SQLite: the write lock up front (see above), by BEGIN IMMEDIATE;
        // the head is then this process's hint when it has one (the
        // trigger checks it at the first append), else read. PostgreSQL: the
        // head's row lock at the first append, so it is held only for the
        // end of the transaction: a Dimona batch does not make every hub
        // message of every node wait for its whole processing.
        let sqlite = self.backend == crate::Backend::Sqlite;
        let tx = TxConn::Sqlx(if sqlite {
            self.writer.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.writer.begin().await?
        });
        let mut audited = AuditedTx::new(
            tx,
            self.audit_head.clone(),
            checkpoint_every,
            self.backend,
            self.bulk_rows(12),
            if sqlite { self.native.clone() } else { None },
        );
        if sqlite {
            audited.head_from_hint().await?;
        }
        Ok(audited)
    }

    /// Signs a checkpoint at the current head if the head moved since the
    /// last one. Returns the checkpoint's seq when one was written.
    pub async fn checkpoint_head(
        &self,
        crypto: &dyn AuditCrypto,
        at: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_audited(0).await?;
        tx.lock_head().await?;
        let last: Option<i64> = sqlx::query("SELECT MAX(seq) AS s FROM audit_checkpoints")
            .fetch_one(tx.conn()?)
            .await?
            .try_get("s")?;
        let (seq, hash) = (tx.seq, tx.hash.clone());
        if seq == 0 || last == Some(seq) {
            tx.commit().await?;
            return Ok(None);
        }
        let backend = tx.backend;
        insert_checkpoint(tx.conn()?, backend, seq, &hash, at, crypto).await?;
        tx.commit().await?;
        Ok(Some(seq))
    }

    /// Entries with `seq > after`, in order, at most `limit`.
    pub async fn audit_entries_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(entry_from).collect::<Result<_, _>>()?)
    }

    /// The chain head: (last seq, its hash).
    pub async fn audit_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((r.try_get("seq")?, r.try_get("hash")?))
    }

    /// Messages about a person, newest first.
    pub async fn audit_messages_about(
        &self,
        ssin: &str,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT a.* FROM (",
            person_entries!(),
            ") s JOIN audit_log a ON a.seq = s.seq ORDER BY s.seq DESC LIMIT $3"
        ))
        .bind(ssin.to_owned())
        .bind("message")
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| entry_from(r).map(|e| e.record))
            .collect::<Result<_, _>>()?)
    }

    /// How often a person read their own data (`self-access` entries),
    /// and when last (epoch ms).
    pub async fn audit_self_accesses(&self, ssin: &str) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(concat!(
            "SELECT COUNT(*) AS n, MAX(a.at) AS last FROM (",
            person_entries!(),
            ") s JOIN audit_log a ON a.seq = s.seq"
        ))
        .bind(ssin.to_owned())
        .bind("self-access")
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("last")?))
    }

    /// Moves the audit log's index by person (`audit_by_person`) forward by
    /// at most `max_entries` seqs, towards the chain head; returns how many
    /// seqs it covered (0: it was up to date).
    ///
    /// The run's entries are read without any lock and sorted by person,
    /// then written `rows_per_write` at a time, each write its own short
    /// transaction (a hub group commit waits for one write, not for the
    /// run), and in person order: a page of the index takes all of the
    /// run's entries about the people on it in one write. Only then does
    /// the progress move: until it does, readers take these entries from the
    /// log (`person_entries!` reads the index only up to the progress), so a
    /// run cut short by a crash leaves rows that nobody reads and the next
    /// run writes again (ON CONFLICT DO NOTHING). Concurrent indexers
    /// (several nodes on one PostgreSQL) write the same rows at worst.
    /// SQLite (whose stores all have the writer thread) runs the same run
    /// without sqlx: audit_index.rs.
    pub async fn index_audit_by_person(
        &self,
        max_entries: i64,
        rows_per_write: usize,
    ) -> Result<i64, StoreError> {
        if self.has_writer_thread() {
            return self
                .index_on_writer_thread(max_entries, rows_per_write)
                .await;
        }
        let from: i64 = sqlx::query("SELECT indexed_to FROM audit_index_progress WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("indexed_to")?;
        // The head moves with its entries in one transaction (the trigger),
        // and appends are serialized by the head: every seq up to the head
        // read here is committed.
        let (head, _) = self.audit_head().await?;
        let to = head.min(from.saturating_add(max_entries.max(1)));
        if to <= from {
            return Ok(0);
        }
        let rows = sqlx::query(
            "SELECT ssin, seq, kind FROM audit_log WHERE seq > $1 AND seq <= $2 \
             AND ssin IS NOT NULL AND kind IN ('message', 'self-access') ORDER BY ssin, seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let rows: Vec<(String, i64, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get("ssin")?, r.try_get("seq")?, r.try_get("kind")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let per_write = rows_per_write.clamp(1, self.bulk_rows(3));
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<_> = rows.by_ref().take(per_write).collect();
            if chunk.is_empty() {
                break;
            }
            self.write_index_rows(chunk).await?;
        }
        sqlx::query(
            "UPDATE audit_index_progress SET indexed_to = $1 WHERE id = 1 AND indexed_to < $1",
        )
        .bind(to)
        .execute(&self.writer)
        .await?;
        Ok(to - from)
    }

    /// One write of index rows (PostgreSQL; SQLite's are audit_index.rs's).
    async fn write_index_rows(&self, rows: Vec<(String, i64, String)>) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            self.backend,
            "INSERT INTO audit_by_person (ssin, seq, kind) ",
        );
        sql.rows(rows.len(), 3)
            .push(" ON CONFLICT (ssin, seq) DO NOTHING");
        for (ssin, seq, kind) in rows {
            sql.bind(ssin).bind(seq).bind(kind);
        }
        sql.bound_query().execute(&self.writer).await?;
        Ok(())
    }

    pub async fn audit_entry_by_ticket(
        &self,
        ticket: &str,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM audit_log WHERE ticket = $1")
            .bind(ticket.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(entry_from).transpose()?)
    }

    pub async fn checkpoints(&self, after: i64, limit: i64) -> Result<Vec<Checkpoint>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                    at: r.try_get("at")?,
                    kid: r.try_get("kid")?,
                    signature: r.try_get("signature")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn hub_keys(&self) -> Result<Vec<HubKeyRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hub_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HubKeyRow {
                    kid: r.try_get("kid")?,
                    private_key: r.try_get("private_key")?,
                    public_key: r.try_get("public_key")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Stores the first hub key unless one exists (concurrent first starts
    /// keep whichever committed first).
    pub async fn insert_first_hub_key(&self, key: &HubKeyRow, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_audited(0).await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM hub_keys")
            .fetch_one(tx.conn()?)
            .await?
            .try_get("n")?;
        if n == 0 {
            sqlx::query("INSERT INTO hub_keys (kid, private_key, public_key, created_at) VALUES ($1, $2, $3, $4)")
                .bind(key.kid.clone())
                .bind(key.private_key.clone())
                .bind(key.public_key.clone())
                .bind(now)
                .execute(tx.conn()?)
                .await?;
        }
        tx.commit().await
    }
}

pub(crate) async fn insert_checkpoint(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    seq: i64,
    hash: &[u8],
    at: i64,
    crypto: &dyn AuditCrypto,
) -> Result<(), StoreError> {
    checkpoint_sql(backend, seq, hash, at, crypto)
        .bound_query()
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) fn checkpoint_sql(
    backend: crate::Backend,
    seq: i64,
    hash: &[u8],
    at: i64,
    crypto: &dyn AuditCrypto,
) -> Sql {
    let (kid, signature) = crypto.sign_checkpoint(seq, hash);
    let mut sql = Sql::new(
        backend,
        "INSERT INTO audit_checkpoints (seq, hash, at, kid, signature) VALUES ",
    );
    sql.list(5).push(" ON CONFLICT (seq) DO NOTHING");
    sql.bind(seq)
        .bind(hash.to_vec())
        .bind(at)
        .bind(kid)
        .bind(signature);
    sql
}

pub(crate) fn record_of(d: &AuditDraft, seq: i64) -> AuditRecord {
    AuditRecord {
        seq,
        ticket: d.ticket.clone(),
        at: d.at,
        kind: d.kind.clone(),
        actor: d.actor.clone(),
        service: d.service.clone(),
        purpose: d.purpose.clone(),
        ssin: d.ssin.clone(),
        outcome: d.outcome.clone(),
        detail: d.detail.clone(),
        answer_digest: d.answer_digest.clone(),
    }
}

/// One multi-row INSERT of chained entries (the caller keeps it within the
/// backend's parameter budget).
pub(crate) async fn insert_entries<'c, E>(
    executor: E,
    backend: crate::Backend,
    rows: &[(AuditRecord, Vec<u8>)],
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    entries_sql(backend, rows)
        .bound_query()
        .execute(executor)
        .await?;
    Ok(())
}

fn entries_sql(backend: crate::Backend, rows: &[(AuditRecord, Vec<u8>)]) -> Sql {
    let mut sql = Sql::new(backend, audit_log_insert!());
    sql.rows(rows.len(), 12);
    for (r, hash) in rows {
        sql.bind(r.seq)
            .bind(r.ticket.clone())
            .bind(r.at)
            .bind(r.kind.clone())
            .bind(r.actor.clone())
            .bind(r.service.clone())
            .bind(r.purpose.clone())
            .bind(r.ssin.clone())
            .bind(r.outcome.clone())
            .bind(r.detail.clone())
            .bind(r.answer_digest.clone())
            .bind(hash.clone());
    }
    sql
}

fn ticket_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Database(err) => {
            StoreError::conflict_or(err, "an audit entry with this ticket")
        }
        other => other,
    }
}

impl<'a> AuditedTx<'a> {
    /// Begins an audited transaction on the writer thread's connection
    /// (see [`crate::WriterSession::audited`]).
    pub(crate) fn begin_native(
        conn: &'a crate::native_writer::WriterConn,
        hint: HeadHint,
        checkpoint_every: i64,
        bulk_rows: usize,
    ) -> Result<Self, StoreError> {
        crate::native_writer::lock(conn).execute_batch("BEGIN IMMEDIATE")?;
        let mut tx = AuditedTx::new(
            TxConn::Native(NativeTx { conn, open: true }),
            hint,
            checkpoint_every,
            crate::Backend::Sqlite,
            bulk_rows,
            None,
        );
        crate::native_writer::block_on(tx.head_from_hint())?;
        Ok(tx)
    }

    fn new(
        tx: TxConn<'a>,
        hint: HeadHint,
        checkpoint_every: i64,
        backend: crate::Backend,
        bulk_rows: usize,
        inline: Option<std::sync::Arc<crate::native::NativeReaders>>,
    ) -> Self {
        AuditedTx {
            tx,
            locked: false,
            exact: false,
            seq: 0,
            hash: Vec::new(),
            hint,
            appended: false,
            checkpoint_every,
            backend,
            bulk_rows,
            inline,
        }
    }

    /// SQLite (the write lock is held since `BEGIN IMMEDIATE`): the head
    /// is this process's hint when it has one (the trigger checks it at
    /// the first append), else read.
    async fn head_from_hint(&mut self) -> Result<(), StoreError> {
        match read_hint(&self.hint) {
            Some((seq, hash)) => {
                self.locked = true;
                self.seq = seq;
                self.hash = hash;
                Ok(())
            }
            None => self.lock_head().await,
        }
    }
}

impl AuditedTx<'_> {
    /// The sqlx connection of the transaction; an error for one running
    /// on the SQLite writer thread (its work goes through this type's
    /// methods and the store's functions that take the transaction).
    pub fn conn(&mut self) -> Result<&mut AnyConnection, StoreError> {
        match &mut self.tx {
            TxConn::Sqlx(tx) => Ok(tx),
            TxConn::Native(_) => Err(StoreError::Config(
                "a transaction on the SQLite writer thread has no sqlx connection".into(),
            )),
        }
    }

    /// Runs one statement of the transaction; returns the rows it changed.
    pub(crate) async fn execute(&mut self, sql: Sql) -> Result<u64, StoreError> {
        Ok(match &mut self.tx {
            TxConn::Sqlx(tx) => sql.bound_query().execute(&mut **tx).await?.rows_affected(),
            TxConn::Native(native) => {
                let sql = sql.finished();
                crate::native_writer::lock(native.conn)
                    .prepare_cached(sql.text())?
                    .execute(rusqlite::params_from_iter(sql.native_values()))?
                    as u64
            }
        })
    }

    /// Runs `writes` (all of them, in order).
    async fn flush(&mut self, writes: &mut DeferredWrites) -> Result<(), StoreError> {
        match &mut self.tx {
            TxConn::Sqlx(tx) => writes.flush(tx).await,
            TxConn::Native(native) => writes.flush_native(&crate::native_writer::lock(native.conn)),
        }
    }

    pub fn backend(&self) -> crate::Backend {
        self.backend
    }

    /// Readers for what this transaction reads but has NOT written (SQLite
    /// only): it holds the write lock since `BEGIN IMMEDIATE`, so nobody
    /// can commit meanwhile and a fresh read on another connection sees
    /// exactly the state this transaction started from, without the hop
    /// to sqlx's writer thread. Anything the transaction wrote must be
    /// read on [`AuditedTx::conn`].
    pub(crate) fn inline(&self) -> Option<Inline<'_>> {
        match &self.tx {
            TxConn::Native(native) => Some(Inline::Writer(native.conn)),
            TxConn::Sqlx(_) => self.inline.as_deref().map(Inline::Readers),
        }
    }

    /// Locks the head (if not yet) and reads it (if not yet read under
    /// the lock).
    pub(crate) async fn lock_head(&mut self) -> Result<(), StoreError> {
        if self.locked && self.exact {
            return Ok(());
        }
        const LOCK: &str = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash";
        (self.seq, self.hash) = match &mut self.tx {
            TxConn::Sqlx(tx) => {
                let row = sqlx::query(LOCK).fetch_one(&mut **tx).await?;
                (row.try_get("seq")?, row.try_get("hash")?)
            }
            TxConn::Native(native) => crate::native_writer::lock(native.conn)
                .prepare_cached(LOCK)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?,
        };
        self.locked = true;
        self.exact = true;
        Ok(())
    }

    /// Appends entries to the chain inside this transaction; returns their seqs.
    pub async fn append(
        &mut self,
        drafts: &[AuditDraft],
        crypto: &dyn AuditCrypto,
    ) -> Result<Vec<i64>, StoreError> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        if !self.locked {
            self.lock_head().await?;
        }
        let rows = loop {
            let (start_seq, start_hash) = (self.seq, self.hash.clone());
            let rows = self.chain(drafts, crypto);
            let mut chunks = rows.chunks(self.bulk_rows);
            let first = chunks.next().unwrap_or(&[]);
            match self.execute(entries_sql(self.backend, first)).await {
                Ok(_) => {}
                // A stale hint (another process appended): the statement
                // alone was undone; read the head (the write lock is held,
                // so it cannot move again) and chain from it.
                Err(e) if !self.exact && head_moved(&e) => {
                    set_hint(&self.hint, None);
                    (self.seq, self.hash) = (start_seq, start_hash);
                    self.lock_head().await?;
                    continue;
                }
                Err(e) => return Err(ticket_conflict(e)),
            }
            for chunk in chunks {
                self.execute(entries_sql(self.backend, chunk))
                    .await
                    .map_err(ticket_conflict)?;
            }
            break rows;
        };
        self.exact = true;
        self.appended = true;
        for (r, h) in &rows {
            if self.checkpoint_every > 0 && r.seq % self.checkpoint_every == 0 {
                self.execute(checkpoint_sql(self.backend, r.seq, h, r.at, crypto))
                    .await?;
            }
        }
        Ok(rows.iter().map(|(r, _)| r.seq).collect())
    }

    /// Runs `writes` and then appends `drafts`, as ONE multi-statement
    /// query on SQLite (the entries last; see [`DeferredWrites`]; on
    /// PostgreSQL the writes, then [`AuditedTx::append`]); returns
    /// the entries' seqs. A stale head hint (another process appended)
    /// refuses the first entry statement only, after every write ran: the
    /// entries are then chained again from the head, read under the lock.
    /// Any other failure forgets the hint (the caller rolls back, and its
    /// next transaction reads the head).
    pub async fn append_with(
        &mut self,
        mut writes: DeferredWrites,
        drafts: &[AuditDraft],
        crypto: &dyn AuditCrypto,
    ) -> Result<Vec<i64>, StoreError> {
        if drafts.is_empty() || self.backend == crate::Backend::Postgres {
            // PostgreSQL: one statement per round trip anyway, and the head's
            // row lock must be taken only at the end (see `begin_audited`):
            // the writes first, then the entries.
            self.flush(&mut writes).await?;
            return self.append(drafts, crypto).await;
        }
        if !self.locked {
            self.lock_head().await?;
        }
        let (start_seq, start_hash) = (self.seq, self.hash.clone());
        let rows = self.chain(drafts, crypto);
        for chunk in rows.chunks(self.bulk_rows) {
            writes.push(entries_sql(self.backend, chunk));
        }
        for (r, h) in &rows {
            if self.checkpoint_every > 0 && r.seq % self.checkpoint_every == 0 {
                writes.push(checkpoint_sql(self.backend, r.seq, h, r.at, crypto));
            }
        }
        match self.flush(&mut writes).await {
            Ok(()) => {
                self.exact = true;
                self.appended = true;
                Ok(rows.iter().map(|(r, _)| r.seq).collect())
            }
            Err(e) if !self.exact && stale_hint(&e) => {
                set_hint(&self.hint, None);
                (self.seq, self.hash) = (start_seq, start_hash);
                self.lock_head().await?;
                self.append(drafts, crypto).await
            }
            Err(e) => {
                set_hint(&self.hint, None);
                Err(ticket_conflict(e))
            }
        }
    }

    /// Chains `drafts` after the current head (moving it).
    fn chain(
        &mut self,
        drafts: &[AuditDraft],
        crypto: &dyn AuditCrypto,
    ) -> Vec<(AuditRecord, Vec<u8>)> {
        let mut rows: Vec<(AuditRecord, Vec<u8>)> = Vec::with_capacity(drafts.len());
        for d in drafts {
            let record = record_of(d, self.seq + 1);
            let hash = crypto.chain(&self.hash, &record);
            self.seq = record.seq;
            self.hash = hash.clone();
            rows.push((record, hash));
        }
        rows
    }

    /// Commits the change with its audit entries. The head has moved
    /// already: the trigger on `audit_log` moves it with each entry.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.tx {
            TxConn::Sqlx(tx) => tx.commit().await?,
            TxConn::Native(mut native) => {
                crate::native_writer::lock(native.conn).execute_batch("COMMIT")?;
                native.open = false;
            }
        }
        if self.appended {
            set_hint(&self.hint, Some((self.seq, self.hash)));
        }
        Ok(())
    }
}
