//! SQLite only: a run of the audit log's index by person (migration 21)
//! without sqlx.
//!
//! Through sqlx, a run streamed its entries back row by row from sqlx's
//! thread (a wake-up per few rows) and wrote them as bound multi-row
//! statements: 13 % of the server's samples under the hub benchmark
//! (perf, session 13), most of it sqlx's streaming and Any's decoding.
//! Here the run is read on a read-only connection, off the runtime's
//! threads, and written by jobs on the writer thread with a cached
//! statement. The shape of a run is unchanged (see
//! [`crate::Store::index_audit_by_person`]): all of it sorted by person,
//! written in short transactions, the progress moved last.
//!
//! (Indexing a few hundred entries inside each group commit instead was
//! measured and dropped: entries of a short stretch of the log rarely
//! share a page of the index, so each cost a page in the WAL: 31k -> 24k
//! messages/s.)

use crate::{Store, StoreError};

type Row = (String, i64, String);

impl Store {
    /// [`Store::index_audit_by_person`] with the writer thread.
    pub(crate) async fn index_on_writer_thread(
        &self,
        max_entries: i64,
        rows_per_write: usize,
    ) -> Result<i64, StoreError> {
        let (Some(writer), Some(readers)) = (&self.native_writer, &self.native) else {
            return Err(StoreError::Config("no SQLite writer thread".into()));
        };
        let readers = readers.clone();
        let max_entries = max_entries.max(1);
        // A run of up to 100,000 rows: read off the runtime's threads.
        let run = tokio::task::spawn_blocking(move || {
            readers.read(|conn| {
                // One read transaction: the head and the entries up to it
                // are one snapshot, so every seq up to `to` is read.
                let tx = conn.unchecked_transaction()?;
                let from: i64 = tx.query_row(
                    "SELECT indexed_to FROM audit_index_progress WHERE id = 1",
                    [],
                    |r| r.get(0),
                )?;
                let head: i64 =
                    tx.query_row("SELECT seq FROM audit_head WHERE id = 1", [], |r| r.get(0))?;
                let to = head.min(from.saturating_add(max_entries));
                if to <= from {
                    return Ok((from, to, Vec::new()));
                }
                let rows: Vec<Row> = tx
                    .prepare(
                        "SELECT ssin, seq, kind FROM audit_log WHERE seq > ?1 AND seq <= ?2 \
                         AND ssin IS NOT NULL AND kind IN ('message', 'self-access') \
                         ORDER BY ssin, seq",
                    )?
                    .query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                Ok((from, to, rows))
            })
        })
        .await
        .map_err(|e| StoreError::Config(format!("the audit index read failed: {e}")))??;
        let (from, to, rows) = run;
        if to <= from {
            return Ok(0);
        }
        let per_write = rows_per_write.max(1);
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<Row> = rows.by_ref().take(per_write).collect();
            let last = chunk.len() < per_write;
            let turn = self.write_turn().await?;
            let job = writer.run(move |conn| write_rows(conn, &chunk, last.then_some(to)));
            let out = job.await.map_err(|_| {
                StoreError::Config(
                    "the audit index write on the SQLite writer thread panicked".into(),
                )
            });
            drop(turn);
            out??;
            if last {
                return Ok(to - from);
            }
        }
    }
}

#[cfg(test)]
impl Store {
    /// The writer thread connection's `synchronous` level (2: FULL).
    pub(crate) async fn writer_thread_synchronous(&self) -> Option<i64> {
        let writer = self.native_writer.as_ref()?;
        writer
            .run(|conn| {
                crate::native_writer::lock(conn)
                    .query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .ok()
            })
            .await
            .ok()
            .flatten()
    }
}

/// One write of a run: `rows`, and with `progress` the progress moved to
/// it. Without it the commit skips the fsync (`synchronous = NORMAL` for
/// this transaction alone): the rows are derived data, read only once the
/// progress has moved, and the commit that moves it syncs the WAL, and
/// with it every frame before.
fn write_rows(
    conn: &crate::native_writer::WriterConn,
    rows: &[Row],
    progress: Option<i64>,
) -> Result<(), StoreError> {
    let conn = crate::native_writer::lock(conn);
    // FULL is back when this ends, however it ends (an error, a panic).
    let _unsynced = match progress {
        None => Some(Unsynced::begin(&conn)?),
        Some(_) => None,
    };
    let tx = rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit_by_person (ssin, seq, kind) VALUES (?1, ?2, ?3) \
             ON CONFLICT (ssin, seq) DO NOTHING",
        )?;
        for (ssin, seq, kind) in rows {
            insert.execute(rusqlite::params![ssin, seq, kind])?;
        }
    }
    if let Some(to) = progress {
        tx.prepare_cached(
            "UPDATE audit_index_progress SET indexed_to = ?1 WHERE id = 1 AND indexed_to < ?1",
        )?
        .execute([to])?;
    }
    tx.commit()?;
    Ok(())
}

/// `synchronous = NORMAL` on the writer's connection for one transaction.
/// Every other commit of that connection is acknowledged to someone and
/// must not run unsynced: if FULL cannot be restored, the process stops.
struct Unsynced<'c>(&'c rusqlite::Connection);

impl<'c> Unsynced<'c> {
    fn begin(conn: &'c rusqlite::Connection) -> Result<Self, StoreError> {
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        Ok(Unsynced(conn))
    }
}

impl Drop for Unsynced<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.execute_batch("PRAGMA synchronous = FULL") {
            stop_unsynced(&e);
        }
    }
}

/// The writer connection could not be switched back to FULL: stopping is
/// the only way to keep acknowledged commits durable.
fn stop_unsynced(e: &rusqlite::Error) -> ! {
    tracing::error!(error = %e, "the SQLite writer cannot restore synchronous = FULL; stopping");
    std::process::abort()
}
