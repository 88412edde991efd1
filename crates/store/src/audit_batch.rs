//! The audit log's group commit: whatever entries have queued up, appended
//! in ONE transaction (one fsync for many answers).
//!
//! On SQLite the transaction runs on the writer thread (native_writer.rs):
//! BEGIN IMMEDIATE, the head read under the write lock (exact, so no
//! retry), a cached one-row INSERT per entry, the checkpoints, COMMIT, in
//! one hand-off. It also checks the register version of entries decided
//! on the register cache (register_cache.rs). Through sqlx it was a JSON
//! row set built and parsed per batch plus a hop per statement (perf,
//! session 12: a tenth of a message's cost).
//!
//! On PostgreSQL, ONE autocommitted multi-row INSERT computed from this
//! process's head hint; a trigger refuses it if another node moved the
//! head meanwhile, and it is recomputed from the fresh head.

use crate::audit::{
    audit_log_insert, checkpoint_sql, head_moved, insert_checkpoint, insert_entries, read_hint,
    record_of, set_hint,
};
use crate::native_writer::WriterConn;
use crate::register_cache::RegisterCache;
use crate::{AuditDraft, Store, StoreError};
use kruispunt_domain::hub::AuditCrypto;
use sqlx::Row;
use std::sync::Arc;

/// An entry for [`Store::append_audit_batch`].
#[derive(Debug, Clone)]
pub struct QueuedAudit {
    pub draft: AuditDraft,
    /// The register version the entry's outcome was decided on, when the
    /// preventive check was answered from the register cache
    /// ([`crate::InlineLookup::registers_at`]): the entry is appended only
    /// if the registers are still at that version when it commits.
    pub registers_at: Option<i64>,
}

impl From<AuditDraft> for QueuedAudit {
    fn from(draft: AuditDraft) -> Self {
        QueuedAudit {
            draft,
            registers_at: None,
        }
    }
}

/// What became of an entry given to [`Store::append_audit_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Durable, at this seq.
    At(i64),
    /// Not appended: the registers changed after the version the entry was
    /// decided on. Decide again on a fresh read.
    Stale,
}

impl Store {
    /// Appends `entries` (in order) and returns once they are durable.
    /// `checkpoint_every`: sign a checkpoint whenever an appended seq is a
    /// multiple of it (0: never).
    ///
    /// `entries` must fit one statement: see [`Store::audit_batch_limit`].
    /// Taken by value: on SQLite they move to the writer thread as they are.
    pub async fn append_audit_batch(
        &self,
        entries: Vec<QueuedAudit>,
        crypto: Arc<dyn AuditCrypto>,
        checkpoint_every: i64,
    ) -> Result<Vec<Appended>, StoreError> {
        match (&self.native_writer, &self.native) {
            (Some(writer), Some(readers)) => {
                // The write turn: nothing else of this process writes while
                // the job runs (see native_writer.rs).
                let turn = self.write_turn().await?;
                let readers = readers.clone();
                let job = writer.run(move |conn| {
                    append_native(
                        conn,
                        &entries,
                        crypto.as_ref(),
                        checkpoint_every,
                        &readers.registers,
                    )
                });
                let out = job.await.map_err(|_| {
                    StoreError::Config(
                        "the audit append on the SQLite writer thread panicked".into(),
                    )
                });
                drop(turn);
                let (appended, head) = out??;
                set_hint(&self.audit_head, Some(head));
                Ok(appended)
            }
            _ => {
                self.append_with_sqlx(&entries, crypto.as_ref(), checkpoint_every)
                    .await
            }
        }
    }

    /// The largest batch [`Store::append_audit_batch`] writes in one statement.
    pub fn audit_batch_limit(&self) -> usize {
        self.bulk_rows(12)
    }

    /// Computes the chain from this process's head hint (read when there is
    /// none) and writes the entries with ONE autocommitted multi-row INSERT.
    /// Entries decided on a register version are not expected here (the
    /// register cache exists on SQLite only): they are answered `Stale`, to
    /// be decided again on a fresh read.
    async fn append_with_sqlx(
        &self,
        entries: &[QueuedAudit],
        crypto: &dyn AuditCrypto,
        checkpoint_every: i64,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Hold a writer connection across reading the head and writing:
            // on SQLite (one writer connection) nothing else in this process
            // can append in between, so a retry only happens when another
            // process wrote.
            let mut conn = self.writer.acquire().await?;
            let (mut seq, mut hash) = match read_hint(&self.audit_head) {
                Some(h) => h,
                None => {
                    let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                        .fetch_one(&mut *conn)
                        .await?;
                    (r.try_get("seq")?, r.try_get("hash")?)
                }
            };
            let mut rows = Vec::with_capacity(entries.len());
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                if e.registers_at.is_some() {
                    out.push(Appended::Stale);
                    continue;
                }
                let record = record_of(&e.draft, seq + 1);
                let h = crypto.chain(&hash, &record);
                seq = record.seq;
                hash = h.clone();
                out.push(Appended::At(seq));
                rows.push((record, h));
            }
            if rows.is_empty() {
                return Ok(out);
            }
            match insert_entries(&mut *conn, self.backend, &rows).await {
                Ok(()) => {
                    set_hint(&self.audit_head, Some((seq, hash)));
                    for (r, h) in &rows {
                        if checkpoint_every > 0 && r.seq % checkpoint_every == 0 {
                            insert_checkpoint(&mut conn, self.backend, r.seq, h, r.at, crypto)
                                .await?;
                        }
                    }
                    return Ok(out);
                }
                // The head moved (trigger) or another writer took these seqs
                // (primary key): recompute from the fresh head.
                Err(e) if attempts < 50 && head_moved(&e) => {
                    set_hint(&self.audit_head, None);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The SQLite group commit, on the writer thread: returns what became of
/// each entry and the new head.
#[allow(clippy::type_complexity)]
pub(crate) fn append_native(
    conn: &WriterConn,
    entries: &[QueuedAudit],
    crypto: &dyn AuditCrypto,
    checkpoint_every: i64,
    registers: &RegisterCache,
) -> Result<(Vec<Appended>, (i64, Vec<u8>)), StoreError> {
    let mut conn = crate::native_writer::lock(conn);
    // Rolled back if dropped before the commit (an error, a panic).
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Under the write lock: exact, whoever appended last.
    let (mut seq, mut hash): (i64, Vec<u8>) = tx
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    // Nothing can move the registers before this transaction ends.
    let version = if entries.iter().any(|e| e.registers_at.is_some()) {
        let v: i64 = tx
            .prepare_cached("SELECT version FROM register_version WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        registers.observe(v);
        Some(v)
    } else {
        None
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut checkpoints = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        if e.registers_at.is_some() && e.registers_at != version {
            out.push(Appended::Stale);
            continue;
        }
        let d = &e.draft;
        let record = record_of(d, seq + 1);
        let h = crypto.chain(&hash, &record);
        seq = record.seq;
        hash = h.clone();
        if checkpoint_every > 0 && seq % checkpoint_every == 0 {
            checkpoints.push((seq, h.clone(), d.at));
        }
        rows.push((d, seq, h));
        out.push(Appended::At(seq));
    }
    // A few multi-row statements rather than one per entry: the trigger
    // that moves the head makes each statement keep a journal of the pages
    // it changes (to undo it alone), and one per entry re-copied the same
    // few pages every time.
    let mut rest = &rows[..];
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(insert_chunk(rest.len()));
        let mut insert = tx.prepare_cached(insert_rows_sql(chunk.len()))?;
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(12 * chunk.len());
        for (d, seq, h) in chunk {
            params.extend([
                seq as &dyn rusqlite::ToSql,
                &d.ticket,
                &d.at,
                &d.kind,
                &d.actor,
                &d.service,
                &d.purpose,
                &d.ssin,
                &d.outcome,
                &d.detail,
                &d.answer_digest,
                h,
            ]);
        }
        insert.execute(&*params)?;
        rest = tail;
    }
    for (seq, hash, at) in checkpoints {
        let sql = checkpoint_sql(crate::Backend::Sqlite, seq, &hash, at, crypto).finished();
        tx.prepare_cached(sql.text())?
            .execute(rusqlite::params_from_iter(sql.native_values()))?;
    }
    tx.commit()?;
    Ok((out, (seq, hash)))
}

/// Rows per multi-row INSERT on the writer thread: the largest power of
/// two up to `left` (at most 64), so that a few prepared statements serve
/// every batch size.
fn insert_chunk(left: usize) -> usize {
    let max = left.clamp(1, 64);
    1 << (usize::BITS - 1 - max.leading_zeros())
}

/// The INSERT of `rows` audit entries (a power of two up to 64).
fn insert_rows_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (0..=6)
            .map(|p| {
                let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
                format!(
                    "{}VALUES {}",
                    audit_log_insert!(),
                    vec![one; 1 << p].join(", ")
                )
            })
            .collect()
    });
    &all[rows.trailing_zeros() as usize]
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_that_add_up() {
        for n in 1..300 {
            let (mut left, mut parts) = (n, 0);
            while left > 0 {
                let c = insert_chunk(left);
                assert!(c.is_power_of_two() && c <= 64 && c <= left, "{n}: {c}");
                assert_eq!(insert_rows_sql(c).matches('(').count(), c + 1, "{n}");
                left -= c;
                parts += 1;
            }
            assert!(parts <= n.div_ceil(64) + 6, "{n}: {parts} statements");
        }
    }
}
