//! Mandates: which provider may declare for which employer.

use crate::{Store, StoreError};
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateRow {
    pub employer_id: i64,
    pub provider_id: i64,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
}

fn mandate_from(r: &sqlx::any::AnyRow) -> Result<MandateRow, sqlx::Error> {
    Ok(MandateRow {
        employer_id: r.try_get("employer_id")?,
        provider_id: r.try_get("provider_id")?,
        granted_at: r.try_get("granted_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Grants (or grants again after a revocation), in the caller's
    /// transaction; `false` if the mandate was already active.
    pub async fn grant_mandate_in(
        conn: &mut AnyConnection,
        employer_id: i64,
        provider_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let renewed = sqlx::query(
            "UPDATE dimona_mandates SET granted_at = $1, revoked_at = NULL \
             WHERE employer_id = $2 AND provider_id = $3 AND revoked_at IS NOT NULL",
        )
        .bind(now)
        .bind(employer_id)
        .bind(provider_id)
        .execute(&mut *conn)
        .await?;
        if renewed.rows_affected() == 1 {
            return Ok(true);
        }
        let inserted = sqlx::query(
            "INSERT INTO dimona_mandates (employer_id, provider_id, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (employer_id, provider_id) DO NOTHING",
        )
        .bind(employer_id)
        .bind(provider_id)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Revokes, in the caller's transaction; `false` if there was no
    /// active mandate.
    pub async fn revoke_mandate_in(
        conn: &mut AnyConnection,
        employer_id: i64,
        provider_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE dimona_mandates SET revoked_at = $1 \
             WHERE employer_id = $2 AND provider_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(employer_id)
        .bind(provider_id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether `provider_id` holds an active mandate from `employer_id`.
    pub async fn has_mandate(
        &self,
        employer_id: i64,
        provider_id: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM dimona_mandates WHERE employer_id = $1 AND provider_id = $2 AND revoked_at IS NULL",
        )
        .bind(employer_id)
        .bind(provider_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Every mandate (active and revoked) given by or to `party`.
    pub async fn mandates_of(&self, party: i64) -> Result<Vec<MandateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM dimona_mandates WHERE employer_id = $1 OR provider_id = $1 \
             ORDER BY employer_id, provider_id",
        )
        .bind(party)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(mandate_from).collect::<Result<_, _>>()?)
    }
}
