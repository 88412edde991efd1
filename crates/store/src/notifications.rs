//! Mutation notifications: fan-out to entitled institutions, the pull feed,
//! the webhook outbox, the NATS cursor, external providers.

use crate::{Store, StoreError};
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
    /// Creates, inside the caller's transaction, a notification for every
    /// institution entitled to a change of `service` data about `ssin` on
    /// `today`: it holds an active reference on the person and a valid
    /// authorization for the service whose purpose is that reference's
    /// capacity (or that waives the integration check). Nobody else.
    /// Returns the institutions notified.
    pub async fn notify_change_in(
        conn: &mut AnyConnection,
        ssin: &str,
        service: &str,
        kind: &str,
        data: &str,
        today: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT r.institution AS institution, i.webhook_url AS webhook_url \
             FROM person_references r \
             JOIN authorizations a ON a.institution = r.institution AND a.service = $2 AND a.revoked_at IS NULL \
               AND a.valid_from <= $3 AND (a.valid_to IS NULL OR a.valid_to >= $3) \
               AND (a.purpose = CAST(r.capacity AS TEXT) OR a.integration_check = 0) \
             JOIN institutions i ON i.code = r.institution \
             WHERE r.ssin = $1 AND r.unregistered_at IS NULL AND r.start_date <= $3 \
               AND (r.end_date IS NULL OR r.end_date >= $3) \
             ORDER BY r.institution",
        )
        .bind(ssin.to_owned())
        .bind(service.to_owned())
        .bind(today.to_owned())
        .fetch_all(&mut *conn)
        .await?;
        let targets: Vec<(String, Option<String>)> = rows
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("institution")?, r.try_get("webhook_url")?)))
            .collect::<Result<_, _>>()?;
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        // Cursors come from a counter row updated in this transaction: they
        // become visible in commit order, so a feed reader never skips one.
        let last: i64 = sqlx::query(
            "UPDATE counters SET value = value + $1 WHERE name = 'notifications' RETURNING value",
        )
        .bind(targets.len() as i64)
        .fetch_one(&mut *conn)
        .await?
        .try_get("value")?;
        let first = last - targets.len() as i64 + 1;
        for (i, (institution, webhook)) in targets.iter().enumerate() {
            let cursor = first + i as i64;
            sqlx::query(
                "INSERT INTO notifications (cursor, institution, kind, ssin, occurred_at, data) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(cursor)
            .bind(institution.clone())
            .bind(kind.to_owned())
            .bind(ssin.to_owned())
            .bind(now)
            .bind(data.to_owned())
            .execute(&mut *conn)
            .await?;
            if let Some(url) = webhook {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (cursor, institution, url, next_attempt_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(cursor)
                .bind(institution.clone())
                .bind(url.clone())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(targets.into_iter().map(|t| t.0).collect())
    }

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

    /// Leases up to `limit` due webhook deliveries for `lease_ms`.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1 WHERE cursor IN ( \
               SELECT cursor FROM webhook_deliveries WHERE delivered_at IS NULL AND next_attempt_at <= $2 \
               AND (lease_until IS NULL OR lease_until < $2) ORDER BY cursor LIMIT $3) \
             RETURNING cursor, url, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
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
