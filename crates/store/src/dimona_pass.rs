//! The set-based statements of one Dimona processing pass: a claimed batch
//! of declarations is read with a few `IN (…)` queries and written with a few
//! multi-row statements, inside one transaction, instead of ~10 statements
//! per declaration. On SQLite every statement is a hand-off to sqlx's worker
//! thread, so the statement count, not the work, bounded processing
//! (measured: 10,000 INs took 13.7 s to process one by one).

use crate::dimona::{
    DailyRegistrationRow, PeriodRow, daily_registration_from, daily_registration_from_native,
    period_from, period_from_native,
};
use crate::sql::{DeferredWrites, Sql, placeholders, rows_per_statement};
use crate::{AuditedTx, Backend, StoreError};
use sqlx::{AnyConnection, Row};

/// A processed declaration's outcome, for [`finish_declarations_in`].
#[derive(Debug, Clone)]
pub struct FinishedDeclaration {
    pub id: String,
    pub result: String,
    pub period_id: Option<i64>,
    pub anomalies: String,
    pub worker: Option<String>,
    /// The worker's SSIN when the declaration named none (an OUT, UPDATE,
    /// CANCEL or daily registration without INSS: its period's worker),
    /// so the NOTIFICATION and the notices say whom it was about.
    pub ssin: Option<String>,
    /// A daily registration's: the registration and what changed (JSON).
    pub registration_id: Option<i64>,
    pub registration_impact: Option<String>,
}

/// A Dimona reference's final state in a pass (created, moved, or removed).
#[derive(Debug, Clone)]
pub struct ReferenceState {
    pub id: String,
    pub institution: String,
    pub ssin: String,
    pub capacity: u16,
    pub start_date: String,
    pub end_date: Option<String>,
    /// Set when the reference leaves the directory (a cancelled period).
    pub unregistered_at: Option<i64>,
}

/// Serializes processing per worker across nodes: on PostgreSQL, a
/// transaction-scoped advisory lock per person, taken in key order (so two
/// passes cannot deadlock) before the periods are read; two nodes therefore
/// never both accept the same worker-day. SQLite has one writer: nothing to do.
pub async fn lock_persons_in(
    conn: &mut AnyConnection,
    backend: Backend,
    ssins: &[String],
) -> Result<(), StoreError> {
    if backend == Backend::Sqlite || ssins.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&String> = ssins.iter().collect();
    keys.sort();
    keys.dedup();
    for chunk in keys.chunks(rows_per_statement(backend, 1)) {
        let mut sql = Sql::new(
            backend,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT pg_advisory_xact_lock(k) FROM \
             (SELECT DISTINCT CAST(hashtext(x) AS BIGINT) AS k FROM (VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(",");
            }
            sql.list(1);
        }
        sql.push(") AS v(x) ORDER BY k) AS keys) AS locked");
        let mut q = sql.query();
        for s in chunk {
            q = q.bind((*s).clone());
        }
        q.fetch_one(&mut *conn).await?;
    }
    Ok(())
}

/// [`lock_persons_in`] inside an audited transaction.
pub async fn lock_persons(tx: &mut AuditedTx<'_>, ssins: &[String]) -> Result<(), StoreError> {
    let backend = tx.backend();
    if backend == Backend::Sqlite {
        return Ok(());
    }
    lock_persons_in(tx.conn()?, backend, ssins).await
}

const PERIODS_BY_ID: &str = "SELECT * FROM dimona_periods WHERE period_id IN ";
const REGISTRATIONS_BY_ID: &str =
    "SELECT * FROM dimona_daily_registrations WHERE registration_id IN ";
const ACTIVE_REGISTRATIONS_OF_PERIODS: &str =
    "SELECT * FROM dimona_daily_registrations WHERE status <> 'cancelled' AND period_id IN ";

/// [`periods_by_id_in`] inside an audited transaction (inline on SQLite:
/// see [`AuditedTx::inline`]; the pass has written no period yet).
pub async fn periods_by_id(
    tx: &mut AuditedTx<'_>,
    ids: &[i64],
) -> Result<Vec<PeriodRow>, StoreError> {
    rows_with_ids(tx, PERIODS_BY_ID, ids, period_from, period_from_native).await
}

/// [`daily_registrations_by_id_in`] inside an audited transaction (inline
/// on SQLite, as [`periods_by_id`]).
pub async fn daily_registrations_by_id(
    tx: &mut AuditedTx<'_>,
    ids: &[i64],
) -> Result<Vec<DailyRegistrationRow>, StoreError> {
    rows_with_ids(
        tx,
        REGISTRATIONS_BY_ID,
        ids,
        daily_registration_from,
        daily_registration_from_native,
    )
    .await
}

/// [`active_daily_registrations_of_periods_in`] inside an audited
/// transaction (inline on SQLite, as [`periods_by_id`]).
pub async fn active_daily_registrations_of_periods(
    tx: &mut AuditedTx<'_>,
    period_ids: &[i64],
) -> Result<Vec<DailyRegistrationRow>, StoreError> {
    rows_with_ids(
        tx,
        ACTIVE_REGISTRATIONS_OF_PERIODS,
        period_ids,
        daily_registration_from,
        daily_registration_from_native,
    )
    .await
}

/// The rows `head` selects for these ids inside an audited transaction:
/// inline on SQLite, through the transaction's connection otherwise.
async fn rows_with_ids<T>(
    tx: &mut AuditedTx<'_>,
    head: &str,
    ids: &[i64],
    from: fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
    from_native: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    match tx.inline() {
        Some(native) => native.read(|c| rows_with_ids_native(c, head, ids, from_native)),
        None => {
            let backend = tx.backend();
            rows_with_ids_in(tx.conn()?, backend, head, ids, from).await
        }
    }
}

/// [`rows_with_ids_in`] on a native connection (SQLite): the ids as one
/// JSON list, so the statement is prepared once.
fn rows_with_ids_native<T>(
    conn: &rusqlite::Connection,
    head: &str,
    ids: &[i64],
    from: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut sql = Sql::new(Backend::Sqlite, head);
    sql.in_list(ids.len());
    for id in ids {
        sql.bind(*id);
    }
    let sql = sql.finished();
    let mut stmt = conn.prepare_cached(sql.text())?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql.native_values()))?;
    let mut out = Vec::with_capacity(ids.len());
    while let Some(r) = rows.next()? {
        out.push(from(r)?);
    }
    Ok(out)
}

/// The periods with these ids.
pub async fn periods_by_id_in(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[i64],
) -> Result<Vec<PeriodRow>, StoreError> {
    rows_with_ids_in(conn, backend, PERIODS_BY_ID, ids, period_from).await
}

/// The rows `head` (a statement ending in `… IN `) selects for these ids,
/// one statement per chunk of the parameter budget.
pub(crate) async fn rows_with_ids_in<T>(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    ids: &[i64],
    from: fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(rows_per_statement(backend, 1)) {
        let mut sql = Sql::new(backend, head);
        sql.list(chunk.len());
        let mut q = sql.query();
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push(from(&r)?);
        }
    }
    Ok(out)
}

/// The daily registrations with these ids.
pub async fn daily_registrations_by_id_in(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[i64],
) -> Result<Vec<DailyRegistrationRow>, StoreError> {
    rows_with_ids_in(
        conn,
        backend,
        REGISTRATIONS_BY_ID,
        ids,
        daily_registration_from,
    )
    .await
}

/// The active daily registrations of these periods (those a period's
/// cancellation cancels with it).
pub async fn active_daily_registrations_of_periods_in(
    conn: &mut AnyConnection,
    backend: Backend,
    period_ids: &[i64],
) -> Result<Vec<DailyRegistrationRow>, StoreError> {
    rows_with_ids_in(
        conn,
        backend,
        ACTIVE_REGISTRATIONS_OF_PERIODS,
        period_ids,
        daily_registration_from,
    )
    .await
}

/// Writes daily registrations in their final state: new ones inserted,
/// known ones updated (one statement per chunk).
pub fn upsert_daily_registrations(
    writes: &mut DeferredWrites,
    rows: &[DailyRegistrationRow],
    now: i64,
) {
    const COLS: usize = 12;
    let backend = writes.backend();
    for chunk in rows.chunks(rows_per_statement(backend, COLS)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO dimona_daily_registrations (registration_id, period_id, employer_id, ssin, \
             start_date, start_hour, end_date, end_hour, status, declaration_id, created_at, updated_at) ",
        );
        sql.rows(chunk.len(), COLS).push(
            " ON CONFLICT (registration_id) DO UPDATE SET start_date = excluded.start_date, \
             start_hour = excluded.start_hour, end_date = excluded.end_date, end_hour = excluded.end_hour, \
             status = excluded.status, updated_at = excluded.updated_at",
        );
        for r in chunk {
            sql.bind(r.registration_id)
                .bind(r.period_id)
                .bind(r.employer_id)
                .bind(r.ssin.clone())
                .bind(r.start_date.clone())
                .bind(r.start_hour.clone())
                .bind(r.end_date.clone())
                .bind(r.end_hour.clone())
                .bind(r.status.clone())
                .bind(r.declaration_id.clone())
                .bind(now)
                .bind(now);
        }
        writes.push(sql);
    }
}

/// The dates a pass's rules look at (inclusive, `YYYY-MM-DD`): a live
/// period ending before `from` or starting after `to` can neither overlap
/// nor duplicate a declared one. Only the student contingent looks further:
/// every STU period starting in the calendar years of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateWindow {
    pub from: String,
    pub to: String,
    /// Also every student period of the window's years (a student IN is
    /// checked against the year's contingent).
    pub students: bool,
}

/// The live (not cancelled) periods of these persons, at every employer,
/// that matter to the window (all of them without one). A worker with
/// years of day-long periods (occasional and flexi workers) would
/// otherwise make every pass read their whole history.
pub async fn live_periods_of_persons_in(
    conn: &mut AnyConnection,
    backend: Backend,
    ssins: &[String],
    window: Option<&DateWindow>,
) -> Result<Vec<PeriodRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in ssins.chunks(rows_per_statement(backend, 1).saturating_sub(4).max(1)) {
        let sql = live_periods_sql(backend, chunk, window);
        for r in sql.bound_query().fetch_all(&mut *conn).await? {
            out.push(period_from(&r)?);
        }
    }
    Ok(out)
}

/// [`live_periods_of_persons_in`] inside an audited transaction that has
/// not written periods yet: inline on SQLite (see [`AuditedTx::inline`]).
pub async fn live_periods_of_persons(
    tx: &mut AuditedTx<'_>,
    ssins: &[String],
    window: Option<&DateWindow>,
) -> Result<Vec<PeriodRow>, StoreError> {
    let backend = tx.backend();
    let Some(native) = tx.inline() else {
        return live_periods_of_persons_in(tx.conn()?, backend, ssins, window).await;
    };
    native.read(|conn| {
        let mut out = Vec::new();
        for chunk in ssins.chunks(rows_per_statement(backend, 1).saturating_sub(4).max(1)) {
            let sql = live_periods_sql(backend, chunk, window).finished();
            let mut stmt = conn.prepare_cached(sql.text())?;
            let mut rows = stmt.query(rusqlite::params_from_iter(sql.native_values()))?;
            while let Some(r) = rows.next()? {
                out.push(period_from_native(r)?);
            }
        }
        Ok(out)
    })
}

fn live_periods_sql(backend: Backend, ssins: &[String], window: Option<&DateWindow>) -> Sql {
    // The persons' keys as a table `k` (SQLite: one JSON parameter, so the
    // text is prepared once), driving the loop: with an `IN (SELECT …)`
    // beside the window's OR, SQLite scanned the whole periods table.
    // The callers give each SSIN once.
    let mut sql = Sql::new(backend, "WITH k(ssin) AS ");
    match backend {
        Backend::Sqlite => sql.in_list(ssins.len()),
        Backend::Postgres => sql.push("(").rows(ssins.len(), 1).push(")"),
    };
    for s in ssins {
        sql.bind(s.clone());
    }
    // SQLite: CROSS JOIN keeps `k` outside, and the index is named, so the
    // plan cannot fall back to reading each person's whole history when the
    // planner has no statistics (a fresh file has none).
    let from = |sql: &mut Sql, index: &str| {
        sql.push(" SELECT p.* FROM k ");
        match backend {
            Backend::Sqlite => sql
                .push("CROSS JOIN dimona_periods p INDEXED BY ")
                .push(index),
            Backend::Postgres => sql.push("JOIN dimona_periods p"),
        };
        sql.push(" ON p.ssin = k.ssin WHERE p.status <> 'cancelled'");
    };
    let Some(w) = window else {
        from(&mut sql, "dimona_periods_by_person_end");
        return sql;
    };
    // The periods that overlap the window, found by their end (open ones,
    // and those ending in it or later), and, for a pass with a student IN,
    // the student periods of the window's years (the contingent counts
    // the whole year). By their start, every period that began before the
    // window's end was read: a day worker's whole history, on every pass
    // (measured: the Dimona rate fell from 7,800 to 3,600/s as 300,000
    // periods accumulated). A period may come twice; the caller keeps one.
    from(&mut sql, "dimona_periods_by_person_end");
    sql.push(" AND p.end_date IS NULL AND p.start_date <= ")
        .param()
        .bind(w.to.clone());
    sql.push(" UNION ALL");
    from(&mut sql, "dimona_periods_by_person_end");
    sql.push(" AND p.end_date >= ")
        .param()
        .push(" AND p.start_date <= ")
        .param();
    sql.bind(w.from.clone()).bind(w.to.clone());
    if !w.students {
        return sql;
    }
    // A period starting in those years is open or ends in them or later.
    let year = |d: &str| d.get(..4).unwrap_or("0000").to_owned();
    let (first, last) = (
        format!("{}-01-01", year(&w.from)),
        format!("{}-12-31", year(&w.to)),
    );
    for open in [true, false] {
        sql.push(" UNION ALL");
        from(&mut sql, "dimona_periods_by_person_end");
        if open {
            sql.push(" AND p.end_date IS NULL");
        } else {
            sql.push(" AND p.end_date >= ").param().bind(first.clone());
        }
        sql.push(" AND p.worker_type = 'STU' AND p.start_date >= ")
            .param()
            .push(" AND p.start_date <= ")
            .param();
        sql.bind(first.clone()).bind(last.clone());
    }
    sql
}

/// Reserves `n` values of a counter; returns the first. The counter row
/// stays locked until the transaction ends, so numbers become visible in
/// commit order (a reader following them never skips one).
pub async fn reserve_in(conn: &mut AnyConnection, name: &str, n: i64) -> Result<i64, StoreError> {
    let last: i64 =
        sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value")
            .bind(n)
            .bind(name.to_owned())
            .fetch_one(conn)
            .await?
            .try_get("value")?;
    Ok(last - n + 1)
}

/// Reserves several counters in ONE statement: for each `(name, n)`, the
/// first of `n` consecutive values (0 where `n` is 0, which reserves
/// nothing).
pub async fn reserve_many_in(
    conn: &mut AnyConnection,
    backend: Backend,
    wants: &[(&str, i64)],
) -> Result<Vec<i64>, StoreError> {
    let wanted: Vec<&(&str, i64)> = wants.iter().filter(|(_, n)| *n > 0).collect();
    if wanted.is_empty() {
        return Ok(vec![0; wants.len()]);
    }
    let mut sql = advance_counters_sql(backend, &wanted);
    sql.push(" RETURNING name, value");
    let q = sql.bound_query();
    let mut last = std::collections::HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        last.insert(
            r.try_get::<String, _>("name")?,
            r.try_get::<i64, _>("value")?,
        );
    }
    wants
        .iter()
        .map(|(name, n)| match (*n, last.get(*name)) {
            (0, _) => Ok(0),
            (n, Some(v)) => Ok(v - n + 1),
            (_, None) => Err(StoreError::Config(format!("no counter named {name}"))),
        })
        .collect()
}

/// `UPDATE counters` advancing each `(name, n)` by `n`, in one statement.
fn advance_counters_sql(backend: Backend, wanted: &[&(&str, i64)]) -> Sql {
    let mut sql = Sql::new(backend, "UPDATE counters SET value = value + CASE name");
    for (name, n) in wanted {
        sql.push(" WHEN ").param().push(" THEN ").param();
        sql.bind(*name).bind(*n);
    }
    sql.push(" END WHERE name IN ").list(wanted.len());
    for (name, _) in wanted {
        sql.bind(*name);
    }
    sql
}

/// [`reserve_many_in`] inside an audited transaction. Inline on SQLite
/// (see [`AuditedTx::inline`]): the counters are read on this thread and
/// their UPDATE joins `writes`, so a name may be reserved only once per
/// `writes` (a second read would not see the first reservation).
pub async fn reserve_many(
    tx: &mut AuditedTx<'_>,
    writes: &mut DeferredWrites,
    wants: &[(&str, i64)],
) -> Result<Vec<i64>, StoreError> {
    let backend = tx.backend();
    let Some(native) = tx.inline() else {
        return reserve_many_in(tx.conn()?, backend, wants).await;
    };
    let wanted: Vec<&(&str, i64)> = wants.iter().filter(|(_, n)| *n > 0).collect();
    if wanted.is_empty() {
        return Ok(vec![0; wants.len()]);
    }
    for (name, _) in &wanted {
        writes.reserving(name)?;
    }
    let names: Vec<&str> = wanted.iter().map(|(name, _)| *name).collect();
    let current: std::collections::HashMap<String, i64> = native.read(|conn| {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT name, value FROM counters WHERE name IN {}",
            placeholders(Backend::Sqlite, 1, names.len())
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(&names), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        rows.collect()
    })?;
    let sql = advance_counters_sql(backend, &wanted);
    writes.push(sql);
    wants
        .iter()
        .map(|(name, n)| match (*n, current.get(*name)) {
            (0, _) => Ok(0),
            (_, Some(v)) => Ok(v + 1),
            (_, None) => Err(StoreError::Config(format!("no counter named {name}"))),
        })
        .collect()
}

/// Writes periods in their final state: new ones inserted, known ones
/// updated (one statement per chunk).
pub fn upsert_periods(writes: &mut DeferredWrites, periods: &[PeriodRow], now: i64) {
    const COLS: usize = 14;
    let backend = writes.backend();
    for chunk in periods.chunks(rows_per_statement(backend, COLS)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO dimona_periods (period_id, employer_id, ssin, worker_type, joint_committee, start_date, \
             end_date, start_hour, end_hour, planned_hours, status, declaration_id, created_at, updated_at) ",
        );
        sql.rows(chunk.len(), COLS).push(
            " ON CONFLICT (period_id) DO UPDATE SET worker_type = excluded.worker_type, \
             joint_committee = excluded.joint_committee, start_date = excluded.start_date, \
             end_date = excluded.end_date, start_hour = excluded.start_hour, end_hour = excluded.end_hour, \
             planned_hours = excluded.planned_hours, status = excluded.status, updated_at = excluded.updated_at",
        );
        for p in chunk {
            sql.bind(p.period_id)
                .bind(p.employer_id)
                .bind(p.ssin.clone())
                .bind(p.worker_type.clone())
                .bind(p.joint_committee.clone())
                .bind(p.start_date.clone())
                .bind(p.end_date.clone())
                .bind(p.start_hour.clone())
                .bind(p.end_hour.clone())
                .bind(p.planned_hours)
                .bind(p.status.clone())
                .bind(p.declaration_id.clone())
                .bind(now)
                .bind(now);
        }
        writes.push(sql);
    }
}

/// Writes Dimona references in their final state (the directory entry
/// follows its period: created, moved, closed or removed).
pub fn upsert_references(writes: &mut DeferredWrites, refs: &[ReferenceState], now: i64) {
    const COLS: usize = 8;
    let backend = writes.backend();
    for chunk in refs.chunks(rows_per_statement(backend, COLS)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO person_references (id, institution, ssin, capacity, start_date, end_date, \
             registered_at, unregistered_at) ",
        );
        sql.rows(chunk.len(), COLS).push(
            " ON CONFLICT (id) DO UPDATE SET start_date = excluded.start_date, end_date = excluded.end_date, \
             unregistered_at = excluded.unregistered_at",
        );
        for r in chunk {
            sql.bind(r.id.clone())
                .bind(r.institution.clone())
                .bind(r.ssin.clone())
                .bind(i64::from(r.capacity))
                .bind(r.start_date.clone())
                .bind(r.end_date.clone())
                .bind(now)
                .bind(r.unregistered_at);
        }
        writes.push(sql);
    }
}

/// Records the outcomes and numbers the notices (the employers' mailbox,
/// in processing order). Returns how many declarations were still
/// unprocessed: fewer than given means another worker got there first.
pub async fn finish_declarations(
    tx: &mut AuditedTx<'_>,
    done: &[FinishedDeclaration],
    first_notice: i64,
    now: i64,
) -> Result<u64, StoreError> {
    const COLS: usize = 9;
    let backend = tx.backend();
    let mut finished = 0;
    let mut offset = 0i64;
    for chunk in done.chunks(rows_per_statement(backend, COLS).saturating_sub(1).max(1)) {
        let mut sql = Sql::new(
            backend,
            "WITH v (id, result, period_id, anomalies, worker, registration_id, registration_impact, \
             notice_seq, ssin) AS (VALUES ",
        );
        sql.tuples(chunk.len(), COLS)
            .push(") UPDATE dimona_declarations SET processed_at = ");
        sql.param().push(
            ", result = v.result, period_id = v.period_id, anomalies = v.anomalies, worker = v.worker, \
             registration_id = v.registration_id, registration_impact = v.registration_impact, \
             lease_until = NULL, notice_seq = v.notice_seq, \
             ssin = COALESCE(dimona_declarations.ssin, v.ssin) FROM v \
             WHERE dimona_declarations.id = v.id AND dimona_declarations.processed_at IS NULL",
        );
        for (i, d) in chunk.iter().enumerate() {
            sql.bind(d.id.clone())
                .bind(d.result.clone())
                .bind(d.period_id)
                .bind(d.anomalies.clone())
                .bind(d.worker.clone())
                .bind(d.registration_id)
                .bind(d.registration_impact.clone())
                .bind(first_notice + offset + i as i64)
                .bind(d.ssin.clone());
        }
        sql.bind(now);
        finished += tx.execute(sql).await?;
        offset += chunk.len() as i64;
    }
    Ok(finished)
}

/// Stores declarations received in this very transaction together with
/// their outcomes (`done`, one per declaration, the notices numbered from
/// `first_notice` in that order): one INSERT where a queued declaration takes an INSERT
/// at receipt and an UPDATE when processed.
pub fn insert_finished_declarations(
    writes: &mut DeferredWrites,
    received: &[crate::NewDeclaration],
    done: &[FinishedDeclaration],
    first_notice: i64,
    now: i64,
) -> Result<(), StoreError> {
    const COLS: usize = 15;
    let backend = writes.backend();
    let by_id: std::collections::HashMap<&str, &crate::NewDeclaration> =
        received.iter().map(|r| (r.id.as_str(), r)).collect();
    let pairs = done
        .iter()
        .map(|d| by_id.get(d.id.as_str()).map(|r| (*r, d)))
        .collect::<Option<Vec<_>>>()
        .filter(|p| p.len() == received.len())
        .ok_or_else(|| {
            StoreError::Config("the outcomes do not match the declarations received".into())
        })?;
    let mut offset = 0i64;
    for chunk in pairs.chunks(rows_per_statement(backend, COLS).max(1)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO dimona_declarations (id, employer_id, declarant, kind, ssin, body, \
             received_at, processed_at, result, period_id, anomalies, worker, registration_id, \
             registration_impact, notice_seq) ",
        );
        sql.rows(chunk.len(), COLS);
        for (i, (r, d)) in chunk.iter().enumerate() {
            sql.bind(r.id.clone())
                .bind(r.employer_id)
                .bind(r.declarant.clone())
                .bind(r.kind.clone())
                .bind(r.ssin.clone().or_else(|| d.ssin.clone()))
                .bind(r.body.clone())
                .bind(now)
                .bind(now)
                .bind(d.result.clone())
                .bind(d.period_id)
                .bind(d.anomalies.clone())
                .bind(d.worker.clone())
                .bind(d.registration_id)
                .bind(d.registration_impact.clone())
                .bind(first_notice + offset + i as i64);
        }
        writes.push(sql);
        offset += chunk.len() as i64;
    }
    Ok(())
}

/// The notice webhooks of these employers: employer id → URL (only those
/// that registered one).
pub async fn notice_webhooks_in(
    conn: &mut AnyConnection,
    backend: Backend,
    employer_ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let mut out = std::collections::HashMap::new();
    for chunk in employer_ids.chunks(rows_per_statement(backend, 1)) {
        let mut sql = Sql::new(
            backend,
            "SELECT employer_id, url FROM employer_webhooks WHERE employer_id IN ",
        );
        sql.list(chunk.len());
        let mut q = sql.query();
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.insert(r.try_get("employer_id")?, r.try_get("url")?);
        }
    }
    Ok(out)
}

/// Queues the notice of each declaration for its employer's webhook:
/// `(declaration id, url)`, after [`finish_declarations_in`] numbered the
/// notices in this transaction (the notice number is read from the
/// declaration; the statement runs after theirs).
pub fn enqueue_notice_deliveries(
    writes: &mut DeferredWrites,
    deliveries: &[(String, String)],
    now: i64,
) {
    const COLS: usize = 2;
    let backend = writes.backend();
    for chunk in deliveries.chunks(rows_per_statement(backend, COLS).saturating_sub(1).max(1)) {
        let mut sql = Sql::new(backend, "WITH v (id, url) AS (");
        sql.rows(chunk.len(), COLS).push(
            ") INSERT INTO dimona_notice_deliveries (notice_seq, employer_id, url, next_attempt_at) \
             SELECT d.notice_seq, d.employer_id, v.url, ",
        );
        sql.param().push(
            " FROM v JOIN dimona_declarations d ON d.id = v.id WHERE d.notice_seq IS NOT NULL \
             ON CONFLICT (notice_seq) DO NOTHING",
        );
        for (id, url) in chunk {
            sql.bind(id.clone()).bind(url.clone());
        }
        sql.bind(now);
        writes.push(sql);
    }
}
