//! The server's own token-signing keys. Generated on first start, rotated on
//! demand; retired keys stay readable so tokens they signed verify until
//! they expire.

use crate::{Store, StoreError};
use kruispunt_domain::clock::Timestamp;
use sqlx::Row;

#[derive(Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_der: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    kid: r.try_get("kid")?,
                    algorithm: r.try_get("algorithm")?,
                    private_key: r.try_get("private_key")?,
                    public_der: r.try_get("public_der")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Stores `key` as the active key and retires every other active key,
    /// in one transaction.
    pub async fn rotate_signing_key(
        &self,
        key: &SigningKeyRow,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_der, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.kid.clone())
        .bind(key.algorithm.clone())
        .bind(key.private_key.clone())
        .bind(key.public_der.clone())
        .bind(now.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a signing key with this id"))?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts `key` only if no active key exists yet (first start; safe when
    /// several servers start at once on one PostgreSQL: the loser re-reads).
    pub async fn insert_first_signing_key(
        &self,
        key: &SigningKeyRow,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let active: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if active == 0 {
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, private_key, public_der, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key.kid.clone())
            .bind(key.algorithm.clone())
            .bind(key.private_key.clone())
            .bind(key.public_der.clone())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
