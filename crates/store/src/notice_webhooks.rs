//! Employers' notice webhooks and their outbox: where each employer's Dimona
//! notices are POSTed, and the deliveries still to make. Deliveries are
//! written by the processing pass (`dimona_pass::enqueue_notice_deliveries_in`)
//! and sent by the Dimona notice worker.

use crate::dimona::declaration_from;
use crate::{DeclarationRow, Store, StoreError};
use sqlx::{AnyConnection, Row};

/// An employer's notice webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployerWebhookRow {
    pub employer_id: i64,
    pub url: String,
    pub registered_at: i64,
    /// Who set it: the employer, or a provider it mandates (ONSS number).
    pub registered_by: i64,
}

/// A notice to POST, leased by the worker.
#[derive(Debug, Clone)]
pub struct NoticeDelivery {
    pub notice_seq: i64,
    pub employer_id: i64,
    pub url: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

fn webhook_from(r: &sqlx::any::AnyRow) -> Result<EmployerWebhookRow, sqlx::Error> {
    Ok(EmployerWebhookRow {
        employer_id: r.try_get("employer_id")?,
        url: r.try_get("url")?,
        registered_at: r.try_get("registered_at")?,
        registered_by: r.try_get("registered_by")?,
    })
}

impl Store {
    pub async fn employer_webhook(
        &self,
        employer_id: i64,
    ) -> Result<Option<EmployerWebhookRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM employer_webhooks WHERE employer_id = $1")
            .bind(employer_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(webhook_from).transpose()?)
    }

    /// Sets the employer's webhook, in the caller's transaction; `false` if
    /// it already had this URL. Deliveries not yet made go to the new URL.
    pub async fn set_employer_webhook_in(
        conn: &mut AnyConnection,
        employer_id: i64,
        url: &str,
        registered_by: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "INSERT INTO employer_webhooks (employer_id, url, registered_at, registered_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (employer_id) DO UPDATE SET url = excluded.url, registered_at = excluded.registered_at, \
             registered_by = excluded.registered_by WHERE employer_webhooks.url <> excluded.url",
        )
        .bind(employer_id)
        .bind(url.to_owned())
        .bind(now)
        .bind(registered_by)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if changed {
            sqlx::query(
                "UPDATE dimona_notice_deliveries SET url = $1 WHERE employer_id = $2 AND delivered_at IS NULL",
            )
            .bind(url.to_owned())
            .bind(employer_id)
            .execute(&mut *conn)
            .await?;
        }
        Ok(changed)
    }

    /// Removes the employer's webhook and the deliveries not yet made, in
    /// the caller's transaction; returns the removed URL (`None`: it had
    /// none).
    pub async fn remove_employer_webhook_in(
        conn: &mut AnyConnection,
        employer_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let removed =
            sqlx::query("DELETE FROM employer_webhooks WHERE employer_id = $1 RETURNING url")
                .bind(employer_id)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get::<String, _>("url"))
                .transpose()?;
        sqlx::query(
            "DELETE FROM dimona_notice_deliveries WHERE employer_id = $1 AND delivered_at IS NULL",
        )
        .bind(employer_id)
        .execute(&mut *conn)
        .await?;
        Ok(removed)
    }

    /// Removes the employer's webhook if `registered_by` set it (a
    /// provider whose mandate ends loses the webhook it registered: the
    /// employer's notices must stop reaching it), with the deliveries not
    /// yet made, in the caller's transaction; returns the removed URL.
    pub async fn remove_employer_webhook_registered_by_in(
        conn: &mut AnyConnection,
        employer_id: i64,
        registered_by: i64,
    ) -> Result<Option<String>, StoreError> {
        let owned = sqlx::query(
            "SELECT 1 FROM employer_webhooks WHERE employer_id = $1 AND registered_by = $2",
        )
        .bind(employer_id)
        .bind(registered_by)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
        if !owned {
            return Ok(None);
        }
        Self::remove_employer_webhook_in(conn, employer_id).await
    }

    /// Leases up to `limit` due notice deliveries for `lease_ms`: at most
    /// `per_receiver` for one URL, none for the URLs in `saturated` (see
    /// [`crate::sql::claim_due_sql`]). The outer conditions are checked
    /// again after a row lock wait, so two nodes do not lease the same row
    /// at once.
    pub async fn claim_notice_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
        per_receiver: i64,
        saturated: &[String],
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let mut sql = crate::sql::Sql::new(
            self.backend,
            "UPDATE dimona_notice_deliveries SET lease_until = ",
        );
        sql.param()
            .push(", attempts = attempts + 1 WHERE delivered_at IS NULL AND (lease_until IS NULL OR lease_until < ")
            .param()
            .push(") AND notice_seq IN (");
        sql.bind(now + lease_ms).bind(now);
        crate::sql::claim_due_sql(
            &mut sql,
            "dimona_notice_deliveries",
            "notice_seq",
            now,
            limit,
            per_receiver,
            saturated,
        );
        sql.push(") RETURNING notice_seq, employer_id, url, attempts");
        let rows = sql.bound_query().fetch_all(&self.writer).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(NoticeDelivery {
                    notice_seq: r.try_get("notice_seq")?,
                    employer_id: r.try_get("employer_id")?,
                    url: r.try_get("url")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.sort_by_key(|d| d.notice_seq);
        Ok(out)
    }

    /// The processed declaration behind notice `notice_seq` of the employer,
    /// as the mailbox shows it; `None` once the declaration was queued for
    /// processing again (a result S whose worker is now identified: its next
    /// notice supersedes this one).
    pub async fn notice(
        &self,
        employer_id: i64,
        notice_seq: i64,
    ) -> Result<Option<DeclarationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM dimona_declarations WHERE employer_id = $1 AND notice_seq = $2 \
             AND processed_at IS NOT NULL",
        )
        .bind(employer_id)
        .bind(notice_seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(declaration_from).transpose()?)
    }

    pub async fn mark_notice_delivered(&self, notice_seq: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dimona_notice_deliveries SET delivered_at = $1, lease_until = NULL, last_error = NULL \
             WHERE notice_seq = $2",
        )
        .bind(now)
        .bind(notice_seq)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn mark_notice_delivery_failed(
        &self,
        notice_seq: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dimona_notice_deliveries SET next_attempt_at = $1, lease_until = NULL, last_error = $2 \
             WHERE notice_seq = $3",
        )
        .bind(next_attempt_at)
        .bind(error.chars().take(500).collect::<String>())
        .bind(notice_seq)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Drops a delivery whose notice was superseded (see [`Store::notice`]).
    pub async fn drop_notice_delivery(&self, notice_seq: i64) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM dimona_notice_deliveries WHERE notice_seq = $1 AND delivered_at IS NULL",
        )
        .bind(notice_seq)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// (delivered, pending) notice deliveries of the employer, for tests
    /// and operators.
    pub async fn notice_delivery_counts(&self, employer_id: i64) -> Result<(i64, i64), StoreError> {
        let r = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END), 0) AS done, \
             COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END), 0) AS pending \
             FROM dimona_notice_deliveries WHERE employer_id = $1",
        )
        .bind(employer_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("done")?, r.try_get("pending")?))
    }
}
