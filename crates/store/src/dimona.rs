//! Dimona storage: the durable declaration queue and the periods.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct NewDeclaration {
    pub id: String,
    pub employer_id: i64,
    pub declarant: String,
    pub kind: String,
    pub ssin: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct DeclarationRow {
    pub id: String,
    pub employer_id: i64,
    pub declarant: String,
    pub kind: String,
    pub ssin: Option<String>,
    pub body: String,
    pub received_at: i64,
    pub processed_at: Option<i64>,
    pub result: Option<String>,
    pub period_id: Option<i64>,
    pub anomalies: Option<String>,
    pub worker: Option<String>,
    /// A daily registration's declaration: the registration it created or
    /// changed, and what changed (JSON), once processed and accepted.
    pub registration_id: Option<i64>,
    pub registration_impact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRow {
    pub period_id: i64,
    pub employer_id: i64,
    pub ssin: String,
    pub worker_type: String,
    pub joint_committee: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub start_hour: Option<String>,
    pub end_hour: Option<String>,
    pub planned_hours: Option<i64>,
    /// `active`, `closed` (an OUT was declared) or `cancelled`.
    pub status: String,
    pub declaration_id: String,
}

impl DeclarationRow {
    /// A declaration as it is once received at `now`, not yet processed.
    pub fn received(d: &NewDeclaration, now: i64) -> Self {
        DeclarationRow {
            id: d.id.clone(),
            employer_id: d.employer_id,
            declarant: d.declarant.clone(),
            kind: d.kind.clone(),
            ssin: d.ssin.clone(),
            body: d.body.clone(),
            received_at: now,
            processed_at: None,
            result: None,
            period_id: None,
            anomalies: None,
            worker: None,
            registration_id: None,
            registration_impact: None,
        }
    }
}

pub(crate) fn declaration_from(r: &AnyRow) -> Result<DeclarationRow, sqlx::Error> {
    Ok(DeclarationRow {
        id: r.try_get("id")?,
        employer_id: r.try_get("employer_id")?,
        declarant: r.try_get("declarant")?,
        kind: r.try_get("kind")?,
        ssin: r.try_get("ssin")?,
        body: r.try_get("body")?,
        received_at: r.try_get("received_at")?,
        processed_at: r.try_get("processed_at")?,
        result: r.try_get("result")?,
        period_id: r.try_get("period_id")?,
        anomalies: r.try_get("anomalies")?,
        worker: r.try_get("worker")?,
        registration_id: r.try_get("registration_id")?,
        registration_impact: r.try_get("registration_impact")?,
    })
}

/// A daily registration: one day of presence on a Dimona period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRegistrationRow {
    pub registration_id: i64,
    pub period_id: i64,
    pub employer_id: i64,
    pub ssin: String,
    pub start_date: String,
    pub start_hour: String,
    pub end_date: Option<String>,
    pub end_hour: Option<String>,
    /// `active` or `cancelled`.
    pub status: String,
    /// The declaration that created it.
    pub declaration_id: String,
}

pub(crate) fn daily_registration_from(r: &AnyRow) -> Result<DailyRegistrationRow, sqlx::Error> {
    Ok(DailyRegistrationRow {
        registration_id: r.try_get("registration_id")?,
        period_id: r.try_get("period_id")?,
        employer_id: r.try_get("employer_id")?,
        ssin: r.try_get("ssin")?,
        start_date: r.try_get("start_date")?,
        start_hour: r.try_get("start_hour")?,
        end_date: r.try_get("end_date")?,
        end_hour: r.try_get("end_hour")?,
        status: r.try_get("status")?,
        declaration_id: r.try_get("declaration_id")?,
    })
}

pub(crate) fn period_from(r: &AnyRow) -> Result<PeriodRow, sqlx::Error> {
    Ok(PeriodRow {
        period_id: r.try_get("period_id")?,
        employer_id: r.try_get("employer_id")?,
        ssin: r.try_get("ssin")?,
        worker_type: r.try_get("worker_type")?,
        joint_committee: r.try_get("joint_committee")?,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        start_hour: r.try_get("start_hour")?,
        end_hour: r.try_get("end_hour")?,
        planned_hours: r.try_get("planned_hours")?,
        status: r.try_get("status")?,
        declaration_id: r.try_get("declaration_id")?,
    })
}

/// [`daily_registration_from`] for a native (rusqlite) row.
pub(crate) fn daily_registration_from_native(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<DailyRegistrationRow> {
    Ok(DailyRegistrationRow {
        registration_id: r.get("registration_id")?,
        period_id: r.get("period_id")?,
        employer_id: r.get("employer_id")?,
        ssin: r.get("ssin")?,
        start_date: r.get("start_date")?,
        start_hour: r.get("start_hour")?,
        end_date: r.get("end_date")?,
        end_hour: r.get("end_hour")?,
        status: r.get("status")?,
        declaration_id: r.get("declaration_id")?,
    })
}

/// [`period_from`] for a native (rusqlite) row.
pub(crate) fn period_from_native(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeriodRow> {
    Ok(PeriodRow {
        period_id: r.get("period_id")?,
        employer_id: r.get("employer_id")?,
        ssin: r.get("ssin")?,
        worker_type: r.get("worker_type")?,
        joint_committee: r.get("joint_committee")?,
        start_date: r.get("start_date")?,
        end_date: r.get("end_date")?,
        start_hour: r.get("start_hour")?,
        end_hour: r.get("end_hour")?,
        planned_hours: r.get("planned_hours")?,
        status: r.get("status")?,
        declaration_id: r.get("declaration_id")?,
    })
}

/// Filters of the personnel file.
#[derive(Debug, Clone, Default)]
pub struct PeriodFilter {
    pub ssin: Option<String>,
    /// Periods still running on or after this date.
    pub from: Option<String>,
    /// Periods starting on or before this date.
    pub to: Option<String>,
    pub after_period: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Stores many received declarations in ONE autocommitted statement
    /// (group commit of receipts): all durable together, or none.
    pub async fn insert_declarations(
        &self,
        ds: &[NewDeclaration],
        now: i64,
    ) -> Result<(), StoreError> {
        for chunk in ds.chunks(self.bulk_rows(7)) {
            let mut conn = self.writer.acquire().await?;
            write_declarations(&mut conn, self.backend, chunk, now).await?;
        }
        Ok(())
    }

    /// The notice webhooks of these employers (see
    /// [`crate::dimona_pass::notice_webhooks_in`]), read outside any
    /// transaction.
    pub async fn notice_webhooks(
        &self,
        employer_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>, StoreError> {
        if let Some(native) = &self.native {
            return native.read(|conn| {
                let mut out = std::collections::HashMap::new();
                for chunk in employer_ids.chunks(self.bulk_rows(1)) {
                    let mut stmt = conn.prepare_cached(concat!(
                        "SELECT employer_id, url FROM employer_webhooks WHERE employer_id IN ",
                        crate::sql::json_keys!()
                    ))?;
                    let keys = chunk.iter().map(|i| crate::sql::Value::from(*i));
                    let mut rows = stmt.query([crate::sql::json_list(keys)])?;
                    while let Some(r) = rows.next()? {
                        out.insert(r.get(0)?, r.get(1)?);
                    }
                }
                Ok(out)
            });
        }
        let mut conn = self.pool.acquire().await?;
        crate::dimona_pass::notice_webhooks_in(&mut conn, self.backend, employer_ids).await
    }

    pub async fn declaration(&self, id: &str) -> Result<Option<DeclarationRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM dimona_declarations WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(declaration_from).transpose()?)
    }

    /// Leases the oldest unprocessed declarations (a crashed worker's lease
    /// expires, so nothing received is ever left behind).
    ///
    /// On SQLite nothing is leased: the oldest due declarations are read.
    /// A lease there would be an UPDATE of every claimed row and a commit
    /// (an fsync) of its own — a third of a 10,000-form file's processing
    /// time — and would protect nothing: SQLite write transactions are
    /// serialized, and a pass only finishes declarations still unprocessed
    /// (`finish_declarations_in`), so even a second process on the same file
    /// cannot process one twice. A failed declaration waits for its retry
    /// time (`record_failed_attempt`) on both backends.
    pub async fn claim_declarations(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<DeclarationRow>, StoreError> {
        // `after`: only declarations after this (received_at, id), so that
        // the next batch can be claimed while the previous one is being
        // processed (its rows are still due until it commits).
        let (after_at, after_id) = after.unwrap_or((i64::MIN, ""));
        if self.backend == crate::Backend::Sqlite {
            let rows = sqlx::query(
                "SELECT * FROM dimona_declarations WHERE processed_at IS NULL \
                 AND (lease_until IS NULL OR lease_until < $1) \
                 AND (received_at > $2 OR (received_at = $3 AND id > $4)) \
                 ORDER BY received_at, id LIMIT $5",
            )
            .bind(now)
            .bind(after_at)
            .bind(after_at)
            .bind(after_id.to_owned())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            return Ok(rows
                .iter()
                .map(declaration_from)
                .collect::<Result<_, _>>()?);
        }
        let rows = sqlx::query(
            "UPDATE dimona_declarations SET lease_until = $1 WHERE id IN ( \
               SELECT id FROM dimona_declarations WHERE processed_at IS NULL \
               AND (lease_until IS NULL OR lease_until < $2) \
               AND (received_at > $3 OR (received_at = $4 AND id > $5)) \
               ORDER BY received_at, id LIMIT $6) \
             RETURNING *",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(after_at)
        .bind(after_at)
        .bind(after_id.to_owned())
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        let mut out: Vec<DeclarationRow> = rows
            .iter()
            .map(declaration_from)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(out)
    }

    /// Records the outcome, inside the processing transaction; `false` if
    /// another worker already processed it.
    pub async fn finish_declaration_in(
        conn: &mut AnyConnection,
        id: &str,
        result: &str,
        period_id: Option<i64>,
        anomalies: &str,
        worker: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let notice = crate::dimona_pass::reserve_in(conn, "dimona_notice", 1).await?;
        let done = sqlx::query(
            "UPDATE dimona_declarations SET processed_at = $1, result = $2, period_id = $3, anomalies = $4, worker = $5, \
             lease_until = NULL, notice_seq = $7 WHERE id = $6 AND processed_at IS NULL",
        )
        .bind(now)
        .bind(result.to_owned())
        .bind(period_id)
        .bind(anomalies.to_owned())
        .bind(worker.map(str::to_owned))
        .bind(id.to_owned())
        .bind(notice)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The employer's notices (processed declarations) after `after`.
    pub async fn notices(
        &self,
        employer_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, DeclarationRow)>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM dimona_declarations WHERE employer_id = $1 AND notice_seq > $2 ORDER BY notice_seq LIMIT $3",
        )
        .bind(employer_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("notice_seq")?, declaration_from(r)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Counts a failed processing attempt and holds the declaration back
    /// until `retry_at`; returns the attempts so far.
    pub async fn record_failed_attempt(&self, id: &str, retry_at: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "UPDATE dimona_declarations SET attempts = attempts + 1, lease_until = $2 WHERE id = $1 RETURNING attempts",
        )
        .bind(id.to_owned())
        .bind(retry_at)
        .fetch_one(&self.writer)
        .await?
        .try_get("attempts")?)
    }

    /// Living persons with this identity (at most 2: enough to tell
    /// whether it is unique). Names compare case-insensitively.
    pub async fn persons_by_identity(
        &self,
        family_name: &str,
        given_name: &str,
        birth_date: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT ssin FROM persons WHERE lower(last_name) = lower($1) AND lower(first_name) = lower($2) \
             AND birth_date = $3 AND death_date IS NULL ORDER BY ssin LIMIT 2",
        )
        .bind(family_name.to_owned())
        .bind(given_name.to_owned())
        .bind(birth_date.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("ssin"))
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Declarations waiting for their worker's identification (result S).
    pub async fn pending_identifications(
        &self,
        limit: i64,
    ) -> Result<Vec<DeclarationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM dimona_declarations WHERE result = 'S' ORDER BY received_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(declaration_from)
            .collect::<Result<_, _>>()?)
    }

    /// Puts an S declaration back in the queue (its worker can now be
    /// identified); `false` if it is no longer waiting.
    pub async fn requeue_pending(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dimona_declarations SET processed_at = NULL, result = NULL, lease_until = NULL \
             WHERE id = $1 AND result = 'S'",
        )
        .bind(id.to_owned())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The daily registrations on these periods of the employer (every
    /// status), grouped by period, each period's by start: the personnel
    /// file (API and portal) lists them with their period.
    pub async fn daily_registrations_by_period(
        &self,
        employer_id: i64,
        period_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<DailyRegistrationRow>>, StoreError> {
        let mut out: std::collections::HashMap<i64, Vec<DailyRegistrationRow>> =
            std::collections::HashMap::new();
        if period_ids.is_empty() {
            return Ok(out);
        }
        let mut conn = self.pool.acquire().await?;
        let rows = crate::dimona_pass::rows_with_ids_in(
            &mut conn,
            self.backend,
            "SELECT * FROM dimona_daily_registrations WHERE period_id IN ",
            period_ids,
            daily_registration_from,
        )
        .await?;
        for r in rows.into_iter().filter(|r| r.employer_id == employer_id) {
            out.entry(r.period_id).or_default().push(r);
        }
        for day in out.values_mut() {
            day.sort_by(|a, b| {
                (&a.start_date, &a.start_hour, a.registration_id).cmp(&(
                    &b.start_date,
                    &b.start_hour,
                    b.registration_id,
                ))
            });
        }
        Ok(out)
    }

    /// The personnel file of an employer.
    pub async fn personnel_file(
        &self,
        employer_id: i64,
        f: &PeriodFilter,
    ) -> Result<Vec<PeriodRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM dimona_periods WHERE employer_id = $1 \
             AND ($2 = '' OR ssin = $2) AND ($3 = '' OR end_date IS NULL OR end_date >= $3) \
             AND ($4 = '' OR start_date <= $4) AND period_id > $5 ORDER BY period_id LIMIT $6",
        )
        .bind(employer_id)
        .bind(f.ssin.clone().unwrap_or_default())
        .bind(f.from.clone().unwrap_or_default())
        .bind(f.to.clone().unwrap_or_default())
        .bind(f.after_period.unwrap_or(0))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(period_from).collect::<Result<_, _>>()?)
    }

    /// A person's periods at every employer (the `employment` source).
    pub async fn periods_of_person(&self, ssin: &str) -> Result<Vec<PeriodRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM dimona_periods WHERE ssin = $1 AND status <> 'cancelled' ORDER BY start_date, period_id")
            .bind(ssin.to_owned())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(period_from).collect::<Result<_, _>>()?)
    }
}

/// One multi-row INSERT of received declarations (the caller chunks them).
pub(crate) async fn write_declarations(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    chunk: &[NewDeclaration],
    now: i64,
) -> Result<(), StoreError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO dimona_declarations (id, employer_id, declarant, kind, ssin, body, received_at) VALUES {}",
        crate::sql::placeholders(backend, chunk.len(), 7)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for d in chunk {
        q = q
            .bind(d.id.clone())
            .bind(d.employer_id)
            .bind(d.declarant.clone())
            .bind(d.kind.clone())
            .bind(d.ssin.clone())
            .bind(d.body.clone())
            .bind(now);
    }
    q.execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a declaration with this id"))?;
    Ok(())
}
