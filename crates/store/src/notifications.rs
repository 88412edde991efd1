//! Mutation notifications: fan-out to entitled institutions, the pull feed,
//! the webhook outbox, the NATS cursor, external providers.

use crate::dimona_pass::reserve_in;
use crate::sql::{DeferredWrites, Sql, rows_per_statement};
use crate::{AuditedTx, Backend, Store, StoreError};
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub cursor: i64,
    pub institution: String,
    pub kind: String,
    pub ssin: String,
    pub occurred_at: i64,
    pub data: String,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub notification: Notification,
    pub url: String,
    pub attempts: i64,
}

pub(crate) fn notification_from(r: &sqlx::any::AnyRow) -> Result<Notification, sqlx::Error> {
    Ok(Notification {
        cursor: r.try_get("cursor")?,
        institution: r.try_get("institution")?,
        kind: r.try_get("kind")?,
        ssin: r.try_get("ssin")?,
        occurred_at: r.try_get("occurred_at")?,
        data: r.try_get("data")?,
    })
}

impl Store {
    /// The institution's feed after `after`, oldest first.
    pub async fn notifications_after(
        &self,
        institution: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE institution = $1 AND cursor > $2 ORDER BY cursor LIMIT $3",
        )
        .bind(institution.to_owned())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?)
    }

    /// Every notification after `after` (for the NATS publisher).
    pub async fn all_notifications_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM notifications WHERE cursor > $1 ORDER BY cursor LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?)
    }

    pub async fn counter(&self, name: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT value FROM counters WHERE name = $1")
            .bind(name.to_owned())
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?)
    }

    /// Reserves `n` values of a counter in a transaction of its own;
    /// returns the first.
    pub async fn reserve(&self, name: &str, n: i64) -> Result<i64, StoreError> {
        let mut conn = self.writer.acquire().await?;
        reserve_in(&mut conn, name, n).await
    }

    /// Moves a counter from `from` to `to` if nobody moved it meanwhile.
    pub async fn advance_counter(
        &self,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE counters SET value = $1 WHERE name = $2 AND value = $3")
            .bind(to)
            .bind(name.to_owned())
            .bind(from)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leases up to `limit` due webhook deliveries for `lease_ms`: at most
    /// `per_receiver` for one URL, none for the URLs in `saturated` (see
    /// [`crate::sql::claim_due_sql`]).
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
        per_receiver: i64,
        saturated: &[String],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut sql =
            crate::sql::Sql::new(self.backend, "UPDATE webhook_deliveries SET lease_until = ");
        sql.param()
            .push(", attempts = attempts + 1 WHERE cursor IN (");
        sql.bind(now + lease_ms);
        crate::sql::claim_due_sql(
            &mut sql,
            "webhook_deliveries",
            "cursor",
            now,
            limit,
            per_receiver,
            saturated,
        );
        sql.push(") RETURNING cursor, url, attempts");
        let rows = sql.bound_query().fetch_all(&self.writer).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let cursor: i64 = r.try_get("cursor")?;
            let n = sqlx::query("SELECT * FROM notifications WHERE cursor = $1")
                .bind(cursor)
                .fetch_one(&self.pool)
                .await?;
            out.push(Delivery {
                notification: notification_from(&n)?,
                url: r.try_get("url")?,
                attempts: r.try_get("attempts")?,
            });
        }
        out.sort_by_key(|d| d.notification.cursor);
        Ok(out)
    }

    /// Deletes the rows of every webhook outbox (institutions'
    /// notifications, employers' Dimona notices) delivered before
    /// `before`, a few thousand per statement so that the single SQLite
    /// writer is never held long. Returns how many went.
    pub async fn prune_delivered(&self, before: i64) -> Result<u64, StoreError> {
        const CHUNK: i64 = 5_000;
        let mut total = 0;
        for sql in [
            "DELETE FROM webhook_deliveries WHERE cursor IN (SELECT cursor FROM webhook_deliveries \
             WHERE delivered_at IS NOT NULL AND delivered_at < $1 LIMIT $2)",
            "DELETE FROM dimona_notice_deliveries WHERE notice_seq IN (SELECT notice_seq FROM dimona_notice_deliveries \
             WHERE delivered_at IS NOT NULL AND delivered_at < $1 LIMIT $2)",
        ] {
            loop {
                let n = sqlx::query(sql)
                    .bind(before)
                    .bind(CHUNK)
                    .execute(&self.writer)
                    .await?
                    .rows_affected();
                total += n;
                if n < CHUNK as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }

    pub async fn mark_delivered(&self, cursor: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_deliveries SET delivered_at = $1, lease_until = NULL, last_error = NULL WHERE cursor = $2")
            .bind(now)
            .bind(cursor)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn mark_delivery_failed(
        &self,
        cursor: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE cursor = $3",
        )
        .bind(next_attempt_at)
        .bind(error.chars().take(500).collect::<String>())
        .bind(cursor)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// (delivered, pending) webhook deliveries, for tests and metrics.
    pub async fn delivery_counts(&self) -> Result<(i64, i64), StoreError> {
        let r = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END), 0) AS done, \
             COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END), 0) AS pending FROM webhook_deliveries",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("done")?, r.try_get("pending")?))
    }

    pub async fn upsert_provider(
        &self,
        service: &str,
        institution: &str,
        endpoint: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO service_providers (service, institution, endpoint, registered_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (service) DO UPDATE SET endpoint = excluded.endpoint, registered_at = excluded.registered_at \
             WHERE service_providers.institution = excluded.institution",
        )
        .bind(service.to_owned())
        .bind(institution.to_owned())
        .bind(endpoint.to_owned())
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// (institution, endpoint) of the provider of `service`.
    pub async fn provider(&self, service: &str) -> Result<Option<(String, String)>, StoreError> {
        let row =
            sqlx::query("SELECT institution, endpoint FROM service_providers WHERE service = $1")
                .bind(service.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("institution")?, r.try_get("endpoint")?)))
            .transpose()?)
    }
}

/// A change of a person's data to push to the entitled institutions.
#[derive(Debug, Clone)]
pub struct PersonChange {
    pub ssin: String,
    pub data: String,
}

/// (ssin, institution, webhook, data) of a notification to create.
type Target<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// Per person: the entitled institutions and their webhook URLs.
type Targets = std::collections::HashMap<String, Vec<(String, Option<String>)>>;

/// Who is entitled to the `changes`, read on `conn`.
async fn entitled_on(
    conn: &mut AnyConnection,
    backend: Backend,
    changes: &[PersonChange],
    service: &str,
    today: &str,
) -> Result<Targets, StoreError> {
    let mut targets = Targets::new();
    for chunk in changed_persons(changes).chunks(entitled_chunk(backend)) {
        let sql = entitled_sql(backend, chunk, service, today);
        for r in sql.bound_query().fetch_all(&mut *conn).await? {
            targets
                .entry(r.try_get("ssin")?)
                .or_default()
                .push((r.try_get("institution")?, r.try_get("webhook_url")?));
        }
    }
    Ok(targets)
}

/// The persons changed, each once.
fn changed_persons(changes: &[PersonChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| c.ssin.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn entitled_chunk(backend: Backend) -> usize {
    rows_per_statement(backend, 1).saturating_sub(5).max(1)
}

/// The institutions entitled to a change about these persons: an active
/// reference, and a valid authorization for `service` whose purpose is
/// that reference's capacity (or that waives the integration check).
fn entitled_sql(backend: Backend, persons: &[String], service: &str, today: &str) -> Sql {
    let mut sql = Sql::new(
        backend,
        "SELECT DISTINCT r.ssin AS ssin, r.institution AS institution, i.webhook_url AS webhook_url \
         FROM person_references r \
         JOIN authorizations a ON a.institution = r.institution AND a.service = ",
    );
    sql.param()
        .push(" AND a.revoked_at IS NULL AND a.valid_from <= ")
        .param()
        .push(" AND (a.valid_to IS NULL OR a.valid_to >= ")
        .param()
        .push(
            ") AND (a.purpose = CAST(r.capacity AS TEXT) OR a.integration_check = 0) \
             JOIN institutions i ON i.code = r.institution \
             WHERE r.unregistered_at IS NULL AND r.start_date <= ",
        )
        .param()
        .push(" AND (r.end_date IS NULL OR r.end_date >= ")
        .param()
        .push(") AND r.ssin IN ")
        .in_list(persons.len())
        .push(" ORDER BY r.ssin, r.institution");
    sql.bind(service)
        .bind(today)
        .bind(today)
        .bind(today)
        .bind(today);
    for p in persons {
        sql.bind(p.clone());
    }
    sql
}

/// One row per notification to create, in change order.
fn target_rows<'a>(changes: &'a [PersonChange], targets: &'a Targets) -> Vec<Target<'a>> {
    changes
        .iter()
        .flat_map(|c| {
            targets
                .get(&c.ssin)
                .into_iter()
                .flatten()
                .map(|(i, w)| (c.ssin.as_str(), i.as_str(), w.as_deref(), c.data.as_str()))
        })
        .collect()
}

/// The INSERTs of the notifications `rows`, numbered from `first`, and of
/// their webhook deliveries.
fn queue_notifications(
    writes: &mut DeferredWrites,
    rows: &[Target<'_>],
    first: i64,
    kind: &str,
    now: i64,
) {
    let backend = writes.backend();
    let numbered: Vec<(i64, &Target<'_>)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (first + i as i64, r))
        .collect();
    for chunk in numbered.chunks(rows_per_statement(backend, 6)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO notifications (cursor, institution, kind, ssin, occurred_at, data) ",
        );
        sql.rows(chunk.len(), 6);
        for (cursor, (ssin, institution, _, data)) in chunk {
            sql.bind(*cursor)
                .bind(*institution)
                .bind(kind)
                .bind(*ssin)
                .bind(now)
                .bind(*data);
        }
        writes.push(sql);
    }
    let deliveries: Vec<(i64, &str, &str)> = numbered
        .iter()
        .filter_map(|(c, (_, i, w, _))| w.map(|w| (*c, *i, w)))
        .collect();
    for chunk in deliveries.chunks(rows_per_statement(backend, 4)) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO webhook_deliveries (cursor, institution, url, next_attempt_at) ",
        );
        sql.rows(chunk.len(), 4);
        for (cursor, institution, url) in chunk {
            sql.bind(*cursor).bind(*institution).bind(*url).bind(now);
        }
        writes.push(sql);
    }
}

impl Store {
    /// Creates, inside the caller's transaction, for each change a
    /// notification to every institution entitled to `service` data about that
    /// person on `today`: it holds an active reference on the person and a
    /// valid authorization for the service whose purpose is that reference's
    /// capacity (or that waives the integration check). Nobody else. A webhook
    /// delivery is queued where the institution has a webhook. Cursors follow
    /// the order of `changes`; returns the institution of each notification.
    pub async fn notify_changes_in(
        conn: &mut AnyConnection,
        backend: Backend,
        changes: &[PersonChange],
        service: &str,
        kind: &str,
        today: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let targets = entitled_on(conn, backend, changes, service, today).await?;
        let rows = target_rows(changes, &targets);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let first = reserve_in(conn, "notifications", rows.len() as i64).await?;
        let mut writes = DeferredWrites::new(backend);
        queue_notifications(&mut writes, &rows, first, kind, now);
        writes.flush(conn).await?;
        Ok(rows.iter().map(|r| r.1.to_owned()).collect())
    }

    /// [`Store::notify_changes_in`] inside an audited transaction that has
    /// not written references yet: who is entitled is read at once (inline
    /// on SQLite, see [`AuditedTx::inline`]), the notifications are
    /// numbered, and their INSERTs are left in `writes`.
    pub async fn notify_changes_deferred(
        tx: &mut AuditedTx<'_>,
        writes: &mut DeferredWrites,
        changes: &[PersonChange],
        service: &str,
        kind: &str,
        today: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let backend = tx.backend();
        let targets = match tx.inline() {
            Some(native) => native.read(|conn| {
                let mut targets = Targets::new();
                for chunk in changed_persons(changes).chunks(entitled_chunk(backend)) {
                    let sql = entitled_sql(backend, chunk, service, today).finished();
                    let mut stmt = conn.prepare_cached(sql.text())?;
                    let mut rows = stmt.query(rusqlite::params_from_iter(sql.native_values()))?;
                    while let Some(r) = rows.next()? {
                        targets
                            .entry(r.get("ssin")?)
                            .or_default()
                            .push((r.get("institution")?, r.get("webhook_url")?));
                    }
                }
                Ok(targets)
            })?,
            None => entitled_on(tx.conn()?, backend, changes, service, today).await?,
        };
        let rows = target_rows(changes, &targets);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let first =
            crate::dimona_pass::reserve_many(tx, writes, &[("notifications", rows.len() as i64)])
                .await?[0];
        queue_notifications(writes, &rows, first, kind, now);
        Ok(rows.iter().map(|r| r.1.to_owned()).collect())
    }
}
