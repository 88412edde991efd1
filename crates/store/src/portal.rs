//! What the portal keeps: server-side sessions, login failures (lockout),
//! citizens' correction requests, and the aggregates behind the public
//! statistics page.

use crate::network::reference_from;
use crate::notifications::notification_from;
use crate::{Notification, ReferenceRow, Store, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A signed-in browser. `id_hash` is the SHA-256 (hex) of the cookie value.
#[derive(Clone)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub principal: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen: i64,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

fn session_from(r: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id_hash: r.try_get("id_hash")?,
        user_id: r.try_get("user_id")?,
        principal: r.try_get("principal")?,
        csrf: r.try_get("csrf")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_seen: r.try_get("last_seen")?,
    })
}

/// A person's request to correct data held by an authentic source.
#[derive(Clone)]
pub struct CorrectionRow {
    pub id: String,
    pub ssin: String,
    /// `identification` or `employment`.
    pub topic: String,
    /// The institution that validates the data (its code).
    pub institution: String,
    pub message: String,
    /// `submitted`, `in-progress`, `corrected` or `rejected`.
    pub status: String,
    pub answer: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for CorrectionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrectionRow")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn correction_from(r: &AnyRow) -> Result<CorrectionRow, sqlx::Error> {
    Ok(CorrectionRow {
        id: r.try_get("id")?,
        ssin: r.try_get("ssin")?,
        topic: r.try_get("topic")?,
        institution: r.try_get("institution")?,
        message: r.try_get("message")?,
        status: r.try_get("status")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Hub messages in one hour bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyMessages {
    /// Start of the hour, epoch ms.
    pub hour: i64,
    pub total: i64,
    /// Refused by the preventive check.
    pub refused: i64,
}

/// Dimona declarations received on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyDeclarations {
    /// Start of the day (UTC), epoch ms.
    pub day: i64,
    pub total: i64,
    /// Processed with result B.
    pub refused: i64,
}

/// An OpenID Connect sign-in under way (see migration 000011).
#[derive(Clone)]
pub struct OidcFlowRow {
    /// SHA-256 (hex) of the `state` the browser holds.
    pub state_hash: String,
    pub nonce: String,
    pub verifier: String,
    pub redirect_uri: String,
    pub next_path: Option<String>,
    pub expires_at: i64,
}

impl std::fmt::Debug for OidcFlowRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcFlowRow")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Records a sign-in under way (and forgets the expired ones).
    pub async fn insert_oidc_flow(&self, f: &OidcFlowRow, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM portal_oidc_flows WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO portal_oidc_flows (state_hash, nonce, verifier, redirect_uri, next_path, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(f.state_hash.clone())
        .bind(f.nonce.clone())
        .bind(f.verifier.clone())
        .bind(f.redirect_uri.clone())
        .bind(f.next_path.clone())
        .bind(f.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes the sign-in with this state: at most once, and only before it
    /// expires.
    pub async fn take_oidc_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<OidcFlowRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM portal_oidc_flows WHERE state_hash = $1")
            .bind(state_hash.to_owned())
            .fetch_optional(&self.writer)
            .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let flow = OidcFlowRow {
            state_hash: r.try_get("state_hash")?,
            nonce: r.try_get("nonce")?,
            verifier: r.try_get("verifier")?,
            redirect_uri: r.try_get("redirect_uri")?,
            next_path: r.try_get("next_path")?,
            expires_at: r.try_get("expires_at")?,
        };
        let taken = sqlx::query("DELETE FROM portal_oidc_flows WHERE state_hash = $1")
            .bind(state_hash.to_owned())
            .execute(&self.writer)
            .await?;
        Ok((taken.rows_affected() == 1 && flow.expires_at > now).then_some(flow))
    }

    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, user_id, principal, csrf, created_at, expires_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id_hash.clone())
        .bind(s.user_id.clone())
        .bind(s.principal.clone())
        .bind(s.csrf.clone())
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The session with this hash, if it has not expired at `now`.
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM portal_sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash.to_owned())
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(session_from).transpose()?)
    }

    /// Slides an idle session's expiry (never past `hard_limit`).
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE portal_sessions SET last_seen = $2, expires_at = $3 WHERE id_hash = $1",
        )
        .bind(id_hash.to_owned())
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }

    /// Counts a failed login; from the `max`-th consecutive failure the
    /// account is locked until `lock_until`. Returns the failure count.
    pub async fn record_login_failure(
        &self,
        user_id: &str,
        max: i64,
        lock_until: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
             WHERE id = $1 RETURNING failed_logins",
        )
        .bind(user_id.to_owned())
        .bind(max)
        .bind(lock_until)
        .fetch_optional(&self.writer)
        .await?;
        Ok(match row {
            Some(r) => r.try_get("failed_logins")?,
            None => 0,
        })
    }

    /// A successful login clears the failure count and any lock.
    pub async fn clear_login_failures(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id.to_owned())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn insert_correction(&self, c: &CorrectionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO correction_requests (id, ssin, topic, institution, message, status, answer, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id.clone())
        .bind(c.ssin.clone())
        .bind(c.topic.clone())
        .bind(c.institution.clone())
        .bind(c.message.clone())
        .bind(c.status.clone())
        .bind(c.answer.clone())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A person's correction requests, newest first.
    pub async fn corrections_of_person(
        &self,
        ssin: &str,
    ) -> Result<Vec<CorrectionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM correction_requests WHERE ssin = $1 ORDER BY created_at DESC, id",
        )
        .bind(ssin.to_owned())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(correction_from).collect::<Result<_, _>>()?)
    }

    /// Requests addressed to an institution, newest first.
    pub async fn corrections_for(
        &self,
        institution: &str,
        limit: i64,
    ) -> Result<Vec<CorrectionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM correction_requests WHERE institution = $1 ORDER BY created_at DESC, id LIMIT $2",
        )
        .bind(institution.to_owned())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(correction_from).collect::<Result<_, _>>()?)
    }

    /// Moves a request addressed to `institution` on; false when there is
    /// no such request for that institution.
    pub async fn answer_correction(
        &self,
        id: &str,
        institution: &str,
        status: &str,
        answer: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE correction_requests SET status = $3, answer = $4, updated_at = $5 \
             WHERE id = $1 AND institution = $2",
        )
        .bind(id.to_owned())
        .bind(institution.to_owned())
        .bind(status.to_owned())
        .bind(answer.map(str::to_owned))
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// An institution's most recent reference-directory entries (newest first).
    pub async fn recent_references_of(
        &self,
        institution: &str,
        ssin: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReferenceRow>, StoreError> {
        // Two statements, so that each has its index: the person's
        // references (by person), or the institution's newest (by
        // institution and time; an `OR` of both would scan the institution's).
        let rows = match ssin.filter(|s| !s.is_empty()) {
            Some(ssin) => sqlx::query(
                "SELECT * FROM person_references WHERE ssin = $1 AND institution = $2 \
                 ORDER BY registered_at DESC, id DESC LIMIT $3",
            )
            .bind(ssin.to_owned())
            .bind(institution.to_owned())
            .bind(limit),
            None => sqlx::query(
                "SELECT * FROM person_references WHERE institution = $1 \
                 ORDER BY registered_at DESC, id DESC LIMIT $2",
            )
            .bind(institution.to_owned())
            .bind(limit),
        }
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(reference_from).collect::<Result<_, _>>()?)
    }

    /// The institution's latest notifications, newest first.
    pub async fn latest_notifications(
        &self,
        institution: &str,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE institution = $1 ORDER BY cursor DESC LIMIT $2",
        )
        .bind(institution.to_owned())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?)
    }

    /// Hub messages per hour since `since` (epoch ms), oldest first.
    pub async fn messages_per_hour(&self, since: i64) -> Result<Vec<HourlyMessages>, StoreError> {
        let rows = sqlx::query(
            "SELECT (at / 3600000) * 3600000 AS hour, COUNT(*) AS total, \
             SUM(CASE WHEN outcome IN ('not-authorized', 'not-integrated') THEN 1 ELSE 0 END) AS refused \
             FROM audit_log WHERE kind = 'message' AND at >= $1 GROUP BY (at / 3600000) * 3600000 ORDER BY hour",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HourlyMessages {
                    hour: r.try_get("hour")?,
                    total: r.try_get("total")?,
                    refused: r.try_get::<Option<i64>, _>("refused")?.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Dimona declarations received per day since `since`, oldest first.
    pub async fn declarations_per_day(
        &self,
        since: i64,
    ) -> Result<Vec<DailyDeclarations>, StoreError> {
        let rows = sqlx::query(
            "SELECT (received_at / 86400000) * 86400000 AS day, COUNT(*) AS total, \
             SUM(CASE WHEN result = 'B' THEN 1 ELSE 0 END) AS refused \
             FROM dimona_declarations WHERE received_at >= $1 \
             GROUP BY (received_at / 86400000) * 86400000 ORDER BY day",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DailyDeclarations {
                    day: r.try_get("day")?,
                    total: r.try_get("total")?,
                    refused: r.try_get::<Option<i64>, _>("refused")?.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// An employer's latest processed declarations (its notices), newest first.
    pub async fn recent_notices(
        &self,
        employer_id: i64,
        limit: i64,
    ) -> Result<Vec<crate::DeclarationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM dimona_declarations WHERE employer_id = $1 AND notice_seq IS NOT NULL \
             ORDER BY notice_seq DESC LIMIT $2",
        )
        .bind(employer_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(crate::dimona::declaration_from)
            .collect::<Result<_, _>>()?)
    }
}
