//! The batch channel's files and forms.

use crate::dimona::write_declarations;
use crate::{NewDeclaration, Store, StoreError};
use sqlx::{AssertSqlSafe, Row};

/// A form of a received file: queued as a declaration, or refused at the
/// door with its anomalies (JSON).
#[derive(Debug, Clone)]
pub struct NewBatchForm {
    pub index: i64,
    pub declaration: Option<NewDeclaration>,
    pub door_anomalies: Option<String>,
    /// What the NOTIFICATION echoes and where values were in the file (JSON).
    pub form: String,
}

#[derive(Debug, Clone)]
pub struct BatchFileRow {
    pub name: String,
    pub declarant: String,
    pub reference: String,
    pub received_at: i64,
    pub forms: i64,
}

/// A received file as listed for its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFileSummary {
    pub name: String,
    pub reference: String,
    pub received_at: i64,
    pub forms: i64,
    /// Forms whose declaration is not processed yet.
    pub pending: i64,
    /// Forms refused at the door or by processing (result B).
    pub refused: i64,
}

#[derive(Debug, Clone)]
pub struct BatchFormRow {
    pub index: i64,
    pub door_anomalies: Option<String>,
    pub form: String,
    pub declaration: Option<FormOutcome>,
}

/// What became of a form's declaration: only what the NOTIFICATION says
/// (the rendering of a 10,000-form file reads nothing else).
#[derive(Debug, Clone)]
pub struct FormOutcome {
    pub id: String,
    pub employer_id: i64,
    pub ssin: Option<String>,
    pub result: Option<String>,
    pub anomalies: Option<String>,
    pub period_id: Option<i64>,
    pub registration_id: Option<i64>,
    pub registration_impact: Option<String>,
}

impl Store {
    /// Stores a received file, its forms and their declarations in ONE
    /// transaction: the positive ACRF is sent only after this returns.
    /// The same name twice → `Conflict`.
    pub async fn insert_batch_file(
        &self,
        name: &str,
        declarant: &str,
        reference: &str,
        now: i64,
        forms: &[NewBatchForm],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO batch_files (name, declarant, reference, received_at, forms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name.to_owned())
        .bind(declarant.to_owned())
        .bind(reference.to_owned())
        .bind(now)
        .bind(forms.len() as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a file with this name"))?;
        let declarations: Vec<NewDeclaration> =
            forms.iter().filter_map(|f| f.declaration.clone()).collect();
        for chunk in declarations.chunks(self.bulk_rows(7)) {
            write_declarations(&mut tx, self.backend, chunk, now).await?;
        }
        for chunk in forms.chunks(self.bulk_rows(5)) {
            let sql = format!(
                "INSERT INTO batch_forms (file_name, form_index, declaration_id, door_anomalies, form) VALUES {}",
                crate::sql::placeholders(self.backend, chunk.len(), 5)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for f in chunk {
                q = q
                    .bind(name.to_owned())
                    .bind(f.index)
                    .bind(f.declaration.as_ref().map(|d| d.id.clone()))
                    .bind(f.door_anomalies.clone())
                    .bind(f.form.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn batch_file(&self, name: &str) -> Result<Option<BatchFileRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM batch_files WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<BatchFileRow, sqlx::Error> {
            Ok(BatchFileRow {
                name: r.try_get("name")?,
                declarant: r.try_get("declarant")?,
                reference: r.try_get("reference")?,
                received_at: r.try_get("received_at")?,
                forms: r.try_get("forms")?,
            })
        })
        .transpose()
        .map_err(Into::into)
    }

    /// The files `declarant` sent, newest first, each with its counts of
    /// forms still waiting and refused (one query: the form table is
    /// indexed by file, declarations by id).
    pub async fn batch_files_of(
        &self,
        declarant: &str,
        limit: i64,
    ) -> Result<Vec<BatchFileSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.name, f.reference, f.received_at, f.forms, \
               CAST(COALESCE(SUM(CASE WHEN d.id IS NOT NULL AND d.processed_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending, \
               CAST(COALESCE(SUM(CASE WHEN b.file_name IS NOT NULL AND (b.declaration_id IS NULL OR d.result = 'B') THEN 1 ELSE 0 END), 0) AS BIGINT) AS refused \
             FROM (SELECT * FROM batch_files WHERE declarant = $1 ORDER BY received_at DESC, name LIMIT $2) f \
             LEFT JOIN batch_forms b ON b.file_name = f.name \
             LEFT JOIN dimona_declarations d ON d.id = b.declaration_id \
             GROUP BY f.name, f.reference, f.received_at, f.forms \
             ORDER BY f.received_at DESC, f.name",
        )
        .bind(declarant.to_owned())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<BatchFileSummary, sqlx::Error> {
                Ok(BatchFileSummary {
                    name: r.try_get("name")?,
                    reference: r.try_get("reference")?,
                    received_at: r.try_get("received_at")?,
                    forms: r.try_get("forms")?,
                    pending: r.try_get("pending")?,
                    refused: r.try_get("refused")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Forms of the file not processed yet.
    pub async fn batch_pending(&self, name: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM batch_forms f JOIN dimona_declarations d ON d.id = f.declaration_id \
             WHERE f.file_name = $1 AND d.processed_at IS NULL",
        )
        .bind(name.to_owned())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    /// The file's forms in file order, each with its declaration.
    pub async fn batch_forms(&self, name: &str) -> Result<Vec<BatchFormRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.form_index, f.door_anomalies, f.form, d.id, d.employer_id, d.ssin, d.result, \
             d.anomalies, d.period_id, d.registration_id, d.registration_impact FROM batch_forms f \
             LEFT JOIN dimona_declarations d ON d.id = f.declaration_id \
             WHERE f.file_name = $1 ORDER BY f.form_index",
        )
        .bind(name.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<BatchFormRow, sqlx::Error> {
                let declared: Option<String> = r.try_get("id")?;
                Ok(BatchFormRow {
                    index: r.try_get("form_index")?,
                    door_anomalies: r.try_get("door_anomalies")?,
                    form: r.try_get("form")?,
                    declaration: match declared {
                        Some(id) => Some(FormOutcome {
                            id,
                            employer_id: r.try_get("employer_id")?,
                            ssin: r.try_get("ssin")?,
                            result: r.try_get("result")?,
                            anomalies: r.try_get("anomalies")?,
                            period_id: r.try_get("period_id")?,
                            registration_id: r.try_get("registration_id")?,
                            registration_impact: r.try_get("registration_impact")?,
                        }),
                        None => None,
                    },
                })
            })
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }
}
