//! The network's public authorizations and the persons part of the
//! reference directory (who holds a file on whom, in which capacity, when).

use crate::sql::placeholders as values_placeholders;
use crate::{Store, StoreError};
use kruispunt_domain::clock::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub id: String,
    pub institution: String,
    pub service: String,
    pub purpose: String,
    pub integration_check: bool,
    pub deliberation: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRow {
    pub id: String,
    pub institution: String,
    pub service: String,
    pub purpose: String,
    pub integration_check: bool,
    pub deliberation: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
}

fn authorization_from(r: &AnyRow) -> Result<AuthorizationRow, sqlx::Error> {
    Ok(AuthorizationRow {
        id: r.try_get("id")?,
        institution: r.try_get("institution")?,
        service: r.try_get("service")?,
        purpose: r.try_get("purpose")?,
        integration_check: r.try_get::<i64, _>("integration_check")? != 0,
        deliberation: r.try_get("deliberation")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        granted_at: r.try_get("granted_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// A reference to register. The SSIN is canonical text (already parsed).
#[derive(Debug, Clone)]
pub struct NewReference {
    pub id: String,
    pub institution: String,
    pub ssin: String,
    pub capacity: u16,
    pub start_date: String,
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    pub id: String,
    pub institution: String,
    pub ssin: String,
    pub capacity: u16,
    pub start_date: String,
    pub end_date: Option<String>,
    pub registered_at: i64,
    pub unregistered_at: Option<i64>,
}

impl Store {
    /// Inserts authorizations in one transaction; with `skip_existing`, ids
    /// that exist are left alone (idempotent loads).
    pub async fn insert_authorizations(
        &self,
        rows: &[NewAuthorization],
        skip_existing: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in rows.chunks(self.bulk_rows(9)) {
            write_authorizations(&mut tx, self.backend, chunk, skip_existing, now.millis()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The public register, in grant order.
    pub async fn authorizations(&self) -> Result<Vec<AuthorizationRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM authorizations ORDER BY granted_at, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(authorization_from)
            .collect::<Result<_, _>>()?)
    }

    pub async fn insert_references(
        &self,
        rows: &[NewReference],
        skip_existing: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in rows.chunks(self.bulk_rows(7)) {
            write_references(&mut tx, self.backend, chunk, skip_existing, now.millis()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_references(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM person_references")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}

pub(crate) fn reference_from(r: &AnyRow) -> Result<ReferenceRow, sqlx::Error> {
    Ok(ReferenceRow {
        id: r.try_get("id")?,
        institution: r.try_get("institution")?,
        ssin: r.try_get("ssin")?,
        capacity: r.try_get::<i64, _>("capacity")? as u16,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        registered_at: r.try_get("registered_at")?,
        unregistered_at: r.try_get("unregistered_at")?,
    })
}

/// Whether period [a_start, a_end] overlaps [b_start, b_end] (dates as
/// `YYYY-MM-DD` text, which orders like the dates; `None` = open).
pub fn periods_overlap(
    a_start: &str,
    a_end: Option<&str>,
    b_start: &str,
    b_end: Option<&str>,
) -> bool {
    a_end.is_none_or(|e| e >= b_start) && b_end.is_none_or(|e| e >= a_start)
}

impl Store {
    /// Whether `institution` holds an active reference on `ssin` with
    /// `capacity` covering `today`.
    pub async fn has_active_reference(
        &self,
        institution: &str,
        ssin: &str,
        capacity: u16,
        today: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM person_references WHERE ssin = $1 AND institution = $2 AND capacity = $3 \
             AND unregistered_at IS NULL AND start_date <= $4 AND (end_date IS NULL OR end_date >= $4) LIMIT 1",
        )
        .bind(ssin.to_owned())
        .bind(institution.to_owned())
        .bind(i64::from(capacity))
        .bind(today.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// The references (registered, not unregistered) an institution holds
    /// on a person with a capacity.
    pub async fn live_references(
        conn: &mut sqlx::AnyConnection,
        institution: &str,
        ssin: &str,
        capacity: u16,
    ) -> Result<Vec<ReferenceRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM person_references WHERE ssin = $1 AND institution = $2 AND capacity = $3 \
             AND unregistered_at IS NULL ORDER BY start_date",
        )
        .bind(ssin.to_owned())
        .bind(institution.to_owned())
        .bind(i64::from(capacity))
        .fetch_all(conn)
        .await?;
        Ok(rows.iter().map(reference_from).collect::<Result<_, _>>()?)
    }

    pub async fn insert_reference_in(
        conn: &mut sqlx::AnyConnection,
        backend: crate::Backend,
        r: &NewReference,
        now: i64,
    ) -> Result<(), StoreError> {
        write_references(conn, backend, std::slice::from_ref(r), false, now).await
    }

    /// Closes a reference at `end_date`, or (with `None`) removes it from
    /// the directory; the row stays for history.
    pub async fn end_reference_in(
        conn: &mut sqlx::AnyConnection,
        id: &str,
        end_date: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        match end_date {
            Some(end) => sqlx::query("UPDATE person_references SET end_date = $1 WHERE id = $2")
                .bind(end.to_owned())
                .bind(id.to_owned()),
            None => sqlx::query("UPDATE person_references SET unregistered_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.to_owned()),
        }
        .execute(conn)
        .await?;
        Ok(())
    }

    /// All references (live and removed) an institution holds on a person.
    pub async fn references_of_institution(
        &self,
        institution: &str,
        ssin: &str,
    ) -> Result<Vec<ReferenceRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM person_references WHERE ssin = $1 AND institution = $2 ORDER BY start_date, id")
            .bind(ssin.to_owned())
            .bind(institution.to_owned())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(reference_from).collect::<Result<_, _>>()?)
    }

    pub async fn authorization(&self, id: &str) -> Result<Option<AuthorizationRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM authorizations WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(authorization_from).transpose()?)
    }

    pub async fn insert_authorization_in(
        conn: &mut sqlx::AnyConnection,
        backend: crate::Backend,
        a: &NewAuthorization,
        now: i64,
    ) -> Result<(), StoreError> {
        write_authorizations(conn, backend, std::slice::from_ref(a), false, now).await
    }

    pub async fn revoke_authorization_in(
        conn: &mut sqlx::AnyConnection,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE authorizations SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn on_conflict(skip_existing: bool) -> &'static str {
    if skip_existing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    }
}

/// One multi-row INSERT of authorizations (callers keep it within the
/// backend's parameter budget).
async fn write_authorizations(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    rows: &[NewAuthorization],
    skip_existing: bool,
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO authorizations (id, institution, service, purpose, integration_check, deliberation, \
         valid_from, valid_to, granted_at) VALUES {}{}",
        values_placeholders(backend, rows.len(), 9),
        on_conflict(skip_existing)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for a in rows {
        q = q
            .bind(a.id.clone())
            .bind(a.institution.clone())
            .bind(a.service.clone())
            .bind(a.purpose.clone())
            .bind(i64::from(a.integration_check))
            .bind(a.deliberation.clone())
            .bind(a.valid_from.clone())
            .bind(a.valid_to.clone())
            .bind(now);
    }
    q.execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "this authorization"))?;
    Ok(())
}

/// One multi-row INSERT of references (callers keep it within the
/// backend's parameter budget).
async fn write_references(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    rows: &[NewReference],
    skip_existing: bool,
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO person_references (id, institution, ssin, capacity, start_date, end_date, registered_at) \
         VALUES {}{}",
        values_placeholders(backend, rows.len(), 7),
        on_conflict(skip_existing)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for r in rows {
        q = q
            .bind(r.id.clone())
            .bind(r.institution.clone())
            .bind(r.ssin.clone())
            .bind(i64::from(r.capacity))
            .bind(r.start_date.clone())
            .bind(r.end_date.clone())
            .bind(now);
    }
    q.execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "this reference"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::periods_overlap;

    #[test]
    fn overlaps() {
        assert!(periods_overlap("2024-01-01", None, "2025-01-01", None));
        assert!(periods_overlap(
            "2024-01-01",
            Some("2024-12-31"),
            "2024-12-31",
            None
        ));
        assert!(!periods_overlap(
            "2024-01-01",
            Some("2024-06-30"),
            "2024-07-01",
            Some("2024-12-31")
        ));
        assert!(!periods_overlap(
            "2024-07-01",
            None,
            "2024-01-01",
            Some("2024-06-30")
        ));
    }
}
