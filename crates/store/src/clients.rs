//! OAuth2 clients (public keys bound to a principal) and the replay cache of
//! client-assertion ids.

use crate::{Store, StoreError};
use kruispunt_domain::clock::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    /// The principal subject (`institution:ONEM`, `employer:935467`).
    pub principal: String,
    pub public_key_pem: String,
    /// `RS256` or `ES256`.
    pub algorithm: String,
    /// Space-separated allowed scopes.
    pub scopes: String,
}

#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub principal: String,
    pub public_key_pem: String,
    pub algorithm: String,
    pub scopes: String,
    pub disabled: bool,
}

impl Store {
    pub async fn insert_client(&self, c: &NewClient, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, principal, public_key_pem, algorithm, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.client_id.clone())
        .bind(c.principal.clone())
        .bind(c.public_key_pem.clone())
        .bind(c.algorithm.clone())
        .bind(c.scopes.clone())
        .bind(now.millis())
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a client with this id"))?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<OAuthClient>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, principal, public_key_pem, algorithm, scopes, disabled_at FROM oauth_clients \
             WHERE client_id = $1",
        )
        .bind(client_id.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OAuthClient {
                client_id: r.try_get("client_id")?,
                principal: r.try_get("principal")?,
                public_key_pem: r.try_get("public_key_pem")?,
                algorithm: r.try_get("algorithm")?,
                scopes: r.try_get("scopes")?,
                disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    /// Records a client-assertion id. Returns `false` when it was already
    /// used (a replay), atomically, across every server sharing the store.
    pub async fn remember_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // Forget expired ids first: they can no longer be replayed since
        // their assertion is refused as expired anyway.
        sqlx::query("DELETE FROM assertion_jtis WHERE expires_at < $1")
            .bind(now.millis())
            .execute(&self.writer)
            .await?;
        let done = sqlx::query(
            "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id.to_owned())
        .bind(jti.to_owned())
        .bind(expires_at.millis())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
