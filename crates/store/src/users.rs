//! Portal accounts (password hashes only; the hashing is the security
//! crate's business).

use crate::{Store, StoreError};
use kruispunt_domain::clock::Timestamp;
use sqlx::Row;

#[derive(Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub principal: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn insert_user(&self, u: &UserRow, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, principal, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(u.id.clone())
        .bind(u.email.clone())
        .bind(u.password_hash.clone())
        .bind(u.principal.clone())
        .bind(now.millis())
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an account with this e-mail address"))?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE email = $1")
            .bind(email.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(UserRow {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                password_hash: r.try_get("password_hash")?,
                principal: r.try_get("principal")?,
                failed_logins: r.try_get("failed_logins")?,
                locked_until: r.try_get("locked_until")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }
}
