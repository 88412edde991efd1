//! The authentic-source registers: National Register (and bis register),
//! employer directory, institutions, sectors and capacity codes.

use crate::register_cache::{CachedReference, Entry};
use crate::sql::placeholders;
use crate::{Store, StoreError};
use kruispunt_domain::clock::{Timestamp, parse_date};
use kruispunt_domain::ids::{EmployerId, EnterpriseNumber, Sex, Ssin};
use kruispunt_domain::registers::{
    Address, CountryCode, Employer, Institution, InstitutionCode, Person,
};
use kruispunt_domain::sectors::{CAPACITIES, GENERIC_CAPACITIES, SECTORS};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::sync::Arc;

const PERSON_COLUMNS: &str = "ssin, last_name, first_name, birth_date, sex, nationality, street, house_number, \
     postal_code, municipality, country, death_date, is_bis, updated_at";

/// How many columns [`PERSON_COLUMNS`] names.
const PERSON_COLUMN_COUNT: usize = 14;

/// [`PERSON_COLUMNS`] of the table aliased `p`.
fn prefixed_person_columns() -> String {
    PERSON_COLUMNS
        .split(',')
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One integration check with its register lookup (see
/// [`Store::persons_and_integration`]).
#[derive(Debug, Clone)]
pub struct IntegrationLookup {
    pub ssin: Ssin,
    pub institution: String,
    pub capacity: u16,
    pub today: String,
}

/// An answer of [`Store::person_and_integration_inline`].
#[derive(Debug, Clone, PartialEq)]
pub struct InlineLookup {
    /// The person, if either register knows the SSIN.
    pub person: Option<Person>,
    /// Whether the institution is integrated on them in that capacity today.
    pub integrated: bool,
    /// `Some(version)`: answered from memory, as the registers stood at
    /// that version. Whatever is decided on it must be appended to the
    /// audit log with that version (`QueuedAudit::registers_at`), which
    /// refuses it if the registers have changed since. `None`: read from
    /// the file during the call.
    pub registers_at: Option<i64>,
}

fn person_upsert_tail() -> &'static str {
    " ON CONFLICT (ssin) DO UPDATE SET last_name = excluded.last_name, first_name = excluded.first_name, \
     birth_date = excluded.birth_date, sex = excluded.sex, nationality = excluded.nationality, \
     street = excluded.street, house_number = excluded.house_number, postal_code = excluded.postal_code, \
     municipality = excluded.municipality, country = excluded.country, death_date = excluded.death_date, \
     updated_at = excluded.updated_at"
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_person<'q>(q: AnyQuery<'q>, p: &Person, now: Timestamp) -> AnyQuery<'q> {
    let a = p.address.as_ref();
    q.bind(p.ssin.to_string())
        .bind(p.last_name.clone())
        .bind(p.first_name.clone())
        .bind(p.birth_date_text())
        .bind(p.sex.map(|s| s.code().to_owned()))
        .bind(p.nationality.map(|n| n.as_str().to_owned()))
        .bind(a.map(|a| a.street.clone()))
        .bind(a.map(|a| a.house_number.clone()))
        .bind(a.map(|a| a.postal_code.clone()))
        .bind(a.map(|a| a.municipality.clone()))
        .bind(a.map(|a| a.country.clone()))
        .bind(p.death_date_text())
        .bind(i64::from(p.ssin.is_bis()))
        .bind(now.millis())
}

fn address_from(row: &AnyRow) -> Result<Option<Address>, sqlx::Error> {
    let text = |c: &str| row.try_get::<Option<String>, _>(c);
    Ok(address_of([
        text("street")?,
        text("house_number")?,
        text("postal_code")?,
        text("municipality")?,
        text("country")?,
    ]))
}

/// An address from its stored columns (street, house number, postal code,
/// municipality, country): none without a street.
fn address_of(parts: [Option<String>; 5]) -> Option<Address> {
    let [street, house_number, postal_code, municipality, country] = parts;
    street.map(|street| Address {
        street,
        house_number: house_number.unwrap_or_default(),
        postal_code: postal_code.unwrap_or_default(),
        municipality: municipality.unwrap_or_default(),
        country: country.unwrap_or_default(),
    })
}

/// A `persons` row as stored (the [`PERSON_COLUMNS`] in order, `is_bis`
/// and `updated_at` left out), read by sqlx or by the native reader, then
/// parsed once into a [`Person`].
struct PersonText {
    ssin: String,
    last_name: String,
    first_name: String,
    birth_date: Option<String>,
    sex: Option<String>,
    nationality: Option<String>,
    address: [Option<String>; 5],
    death_date: Option<String>,
}

impl PersonText {
    fn from_any(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let text = |c: &str| row.try_get::<Option<String>, _>(c);
        Ok(Self {
            ssin: row.try_get("ssin")?,
            last_name: row.try_get("last_name")?,
            first_name: row.try_get("first_name")?,
            birth_date: text("birth_date")?,
            sex: text("sex")?,
            nationality: text("nationality")?,
            address: [
                text("street")?,
                text("house_number")?,
                text("postal_code")?,
                text("municipality")?,
                text("country")?,
            ],
            death_date: text("death_date")?,
        })
    }

    /// From a native row that starts with the [`PERSON_COLUMNS`], in order.
    fn from_native(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let text = |i: usize| row.get::<_, Option<String>>(i);
        Ok(Self {
            ssin: row.get(0)?,
            last_name: row.get(1)?,
            first_name: row.get(2)?,
            birth_date: text(3)?,
            sex: text(4)?,
            nationality: text(5)?,
            address: [text(6)?, text(7)?, text(8)?, text(9)?, text(10)?],
            death_date: text(11)?,
        })
    }

    fn into_person(self) -> Result<Person, StoreError> {
        let corrupt = |_| StoreError::Corrupt("persons");
        let date = |col: &str, v: Option<String>| -> Result<Option<time::Date>, StoreError> {
            v.map(|d| parse_date(col, &d).map_err(|_| StoreError::Corrupt("persons")))
                .transpose()
        };
        Ok(Person {
            ssin: Ssin::parse(&self.ssin).map_err(corrupt)?,
            last_name: self.last_name,
            first_name: self.first_name,
            birth_date: date("birth_date", self.birth_date)?,
            sex: self
                .sex
                .map(|s| s.parse::<Sex>().map_err(|_| StoreError::Corrupt("persons")))
                .transpose()?,
            nationality: self
                .nationality
                .map(|n| {
                    CountryCode::parse("nationality", &n)
                        .map_err(|_| StoreError::Corrupt("persons"))
                })
                .transpose()?,
            address: address_of(self.address),
            death_date: date("death_date", self.death_date)?,
        })
    }
}

fn person_from(row: &AnyRow) -> Result<Person, StoreError> {
    PersonText::from_any(row)?.into_person()
}

fn employer_from(row: &AnyRow) -> Result<Employer, StoreError> {
    let id: i64 = row.try_get("employer_id")?;
    let en: String = row.try_get("enterprise_number")?;
    Ok(Employer {
        employer_id: EmployerId::from_value(id as u64)
            .map_err(|_| StoreError::Corrupt("employers"))?,
        enterprise_number: EnterpriseNumber::parse(&en)
            .map_err(|_| StoreError::Corrupt("employers"))?,
        name: row.try_get("name")?,
        joint_committee: row.try_get("joint_committee")?,
        address: address_from(row)?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

fn institution_from(row: &AnyRow) -> Result<Institution, StoreError> {
    let code: String = row.try_get("code")?;
    let sector: Option<i64> = row.try_get("sector")?;
    Ok(Institution {
        code: InstitutionCode::parse(&code).map_err(|_| StoreError::Corrupt("institutions"))?,
        name: row.try_get("name")?,
        sector: sector.map(|s| s as u16),
        webhook_url: row.try_get("webhook_url")?,
    })
}

impl Store {
    /// Inserts the person, or replaces the data of the person with that SSIN
    /// (the National Register is the authentic source; the latest wins).
    pub async fn upsert_person(&self, p: &Person, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        Self::upsert_person_in(&mut conn, self.backend, p, now).await
    }

    /// The same, inside the caller's transaction (so that the change, its
    /// notifications and its audit entry commit together).
    pub async fn upsert_person_in(
        conn: &mut sqlx::AnyConnection,
        backend: crate::Backend,
        p: &Person,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO persons ({PERSON_COLUMNS}) VALUES {}{}",
            placeholders(backend, 1, 14),
            person_upsert_tail()
        );
        bind_person(sqlx::query(AssertSqlSafe(sql)), p, now)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Loads many persons in one transaction (all or nothing).
    pub async fn bulk_upsert_persons(
        &self,
        persons: &[Person],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in persons.chunks(self.bulk_rows(14)) {
            let sql = format!(
                "INSERT INTO persons ({PERSON_COLUMNS}) VALUES {}{}",
                placeholders(self.backend, chunk.len(), 14),
                person_upsert_tail()
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                q = bind_person(q, p, now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn person(&self, ssin: &Ssin) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE ssin = $1"
        )))
        .bind(ssin.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(person_from).transpose()
    }

    /// The persons with these SSINs (the unknown ones are simply absent),
    /// with one query per few thousand.
    pub async fn persons(&self, ssins: &[String]) -> Result<Vec<Person>, StoreError> {
        if let Some(native) = &self.native {
            // A bounded read by key: on this thread (see native.rs).
            let found = native.read(|conn| {
                let mut out = Vec::with_capacity(ssins.len());
                for chunk in ssins.chunks(self.bulk_rows(1)) {
                    // One JSON array parameter: the same text for any number
                    // of keys, prepared once (see `Sql::in_list`).
                    let mut stmt = conn.prepare_cached(&format!(
                        "SELECT {PERSON_COLUMNS} FROM persons WHERE ssin IN {}",
                        crate::sql::json_keys!()
                    ))?;
                    let keys = chunk.iter().map(|s| crate::sql::Value::from(s.as_str()));
                    let mut rows = stmt.query([crate::sql::json_list(keys)])?;
                    while let Some(r) = rows.next()? {
                        out.push(PersonText::from_native(r)?);
                    }
                }
                Ok(out)
            })?;
            return found.into_iter().map(PersonText::into_person).collect();
        }
        let mut out = Vec::with_capacity(ssins.len());
        for chunk in ssins.chunks(self.bulk_rows(1)) {
            let mut sql = crate::sql::Sql::new(
                self.backend,
                &format!("SELECT {PERSON_COLUMNS} FROM persons WHERE ssin IN "),
            );
            sql.list(chunk.len());
            let mut q = sql.query();
            for s in chunk {
                q = q.bind(s.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(person_from(&r)?);
            }
        }
        Ok(out)
    }

    /// The employers with these ids (the unknown ones are absent).
    pub async fn employers(&self, ids: &[i64]) -> Result<Vec<Employer>, StoreError> {
        if let Some(native) = &self.native {
            let found = native.read(|conn| {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(self.bulk_rows(1)) {
                    let mut stmt = conn.prepare_cached(concat!(
                        "SELECT employer_id, enterprise_number, name, joint_committee, street, \
                         house_number, postal_code, municipality, country, active \
                         FROM employers WHERE employer_id IN ",
                        crate::sql::json_keys!()
                    ))?;
                    let keys = chunk.iter().map(|i| crate::sql::Value::from(*i));
                    let mut rows = stmt.query([crate::sql::json_list(keys)])?;
                    while let Some(r) = rows.next()? {
                        let text = |i: usize| r.get::<_, Option<String>>(i);
                        out.push((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            text(3)?,
                            [text(4)?, text(5)?, text(6)?, text(7)?, text(8)?],
                            r.get::<_, i64>(9)?,
                        ));
                    }
                }
                Ok(out)
            })?;
            return found
                .into_iter()
                .map(|(id, en, name, joint_committee, address, active)| {
                    Ok(Employer {
                        employer_id: EmployerId::from_value(id as u64)
                            .map_err(|_| StoreError::Corrupt("employers"))?,
                        enterprise_number: EnterpriseNumber::parse(&en)
                            .map_err(|_| StoreError::Corrupt("employers"))?,
                        name,
                        joint_committee,
                        address: address_of(address),
                        active: active != 0,
                    })
                })
                .collect();
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.bulk_rows(1)) {
            let mut sql = crate::sql::Sql::new(
                self.backend,
                "SELECT * FROM employers WHERE employer_id IN ",
            );
            sql.list(chunk.len());
            let mut q = sql.query();
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(employer_from(&r)?);
            }
        }
        Ok(out)
    }

    /// Each person, and whether the institution holds an active reference
    /// on them with that capacity on that day: many lookups in ONE query (the
    /// hub batches concurrent identification messages); answers in the order
    /// asked.
    pub async fn persons_and_integration(
        &self,
        lookups: &[IntegrationLookup],
    ) -> Result<Vec<(Option<Person>, bool)>, StoreError> {
        let mut out: Vec<(Option<Person>, bool)> = vec![(None, false); lookups.len()];
        let columns = prefixed_person_columns();
        let mut offset = 0usize;
        for chunk in lookups.chunks(self.bulk_rows(5)) {
            let mut sql = crate::sql::Sql::new(
                self.backend,
                "WITH v (k, ssin, institution, capacity, today) AS (VALUES ",
            );
            sql.tuples(chunk.len(), 5).push(&format!(
                ") SELECT v.k AS k, {columns}, CAST(CASE WHEN EXISTS (SELECT 1 FROM person_references r \
                 WHERE r.ssin = v.ssin AND r.institution = v.institution AND r.capacity = v.capacity \
                 AND r.unregistered_at IS NULL AND r.start_date <= v.today \
                 AND (r.end_date IS NULL OR r.end_date >= v.today)) THEN 1 ELSE 0 END AS BIGINT) AS integrated \
                 FROM v LEFT JOIN persons p ON p.ssin = v.ssin"
            ));
            let mut q = sql.query();
            for (i, l) in chunk.iter().enumerate() {
                q = q
                    .bind((offset + i) as i64)
                    .bind(l.ssin.to_string())
                    .bind(l.institution.clone())
                    .bind(i64::from(l.capacity))
                    .bind(l.today.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                let k: i64 = r.try_get("k")?;
                let integrated = r.try_get::<i64, _>("integrated")? != 0;
                let person = match r.try_get::<Option<String>, _>("ssin")? {
                    Some(_) => Some(person_from(&r)?),
                    None => None,
                };
                if let Some(slot) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
                    *slot = (person, integrated);
                }
            }
            offset += chunk.len();
        }
        Ok(out)
    }

    /// Whether [`Store::person_and_integration_inline`] is available (on
    /// SQLite; on PostgreSQL a read is a network round trip anyway, and the
    /// hub batches them).
    pub fn reads_inline(&self) -> bool {
        self.native.is_some()
    }

    /// One lookup of [`Store::persons_and_integration`], answered on this
    /// thread without sqlx (see native.rs): from memory, unless `fresh`,
    /// when the person was read before (register_cache.rs: the answer then
    /// carries the version it holds for), else from the file. SQLite only.
    pub fn person_and_integration_inline(
        &self,
        l: &IntegrationLookup,
        fresh: bool,
    ) -> Result<InlineLookup, StoreError> {
        let native = self
            .native
            .as_ref()
            .ok_or_else(|| StoreError::Config("inline reads exist on SQLite only".into()))?;
        let ssin = l.ssin.to_string();
        let capacity = i64::from(l.capacity);
        let answer = |e: &Entry, registers_at: Option<i64>| InlineLookup {
            person: e.person.clone(),
            integrated: e.integrated(&l.institution, capacity, &l.today),
            registers_at,
        };
        if !fresh && let Some((version, hit)) = native.registers.get(&ssin) {
            return Ok(answer(&hit, Some(version)));
        }
        // One statement: the person (if known) with every reference on
        // them, and the version, all from one snapshot.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {}, r.institution, r.capacity, r.start_date, r.end_date, \
                 r.unregistered_at IS NOT NULL, \
                 (SELECT version FROM register_version WHERE id = 1) \
                 FROM (SELECT ?1 AS ssin) v LEFT JOIN persons p ON p.ssin = v.ssin \
                 LEFT JOIN person_references r ON r.ssin = v.ssin",
                prefixed_person_columns()
            )
        });
        let (version, person, references) = native.read(|conn| {
            let mut stmt = conn.prepare_cached(&SQL)?;
            let mut rows = stmt.query(rusqlite::params![ssin])?;
            // The LEFT JOINs give at least one row; each carries the version.
            let mut version = 0;
            let mut person = None;
            let mut references = Vec::new();
            while let Some(r) = rows.next()? {
                const R: usize = PERSON_COLUMN_COUNT;
                version = r.get(R + 5)?;
                if person.is_none() && r.get::<_, Option<String>>(0)?.is_some() {
                    person = Some(PersonText::from_native(r)?);
                }
                if let Some(institution) = r.get::<_, Option<String>>(R)? {
                    references.push(CachedReference {
                        institution,
                        capacity: r.get(R + 1)?,
                        start_date: r.get(R + 2)?,
                        end_date: r.get(R + 3)?,
                        removed: r.get(R + 4)?,
                    });
                }
            }
            Ok((version, person, references))
        })?;
        let entry = Arc::new(Entry {
            person: person.map(PersonText::into_person).transpose()?,
            references,
        });
        let out = answer(&entry, None);
        native.registers.put(version, ssin, entry);
        Ok(out)
    }

    /// How many register lookups were answered from memory (SQLite).
    #[cfg(test)]
    pub(crate) fn register_cache_hits(&self) -> u64 {
        self.native.as_ref().map_or(0, |n| n.registers.hits())
    }

    /// A living person with a National Register number (for demo logins).
    pub async fn sample_living_person(
        &self,
        not_referenced_by: &str,
    ) -> Result<Option<Ssin>, StoreError> {
        let row = sqlx::query(
            "SELECT ssin FROM persons p WHERE death_date IS NULL AND is_bis = 0 AND NOT EXISTS \
             (SELECT 1 FROM person_references r WHERE r.ssin = p.ssin AND r.institution = $1) ORDER BY ssin LIMIT 1",
        )
        .bind(not_referenced_by.to_owned())
        .fetch_optional(&self.pool)
        .await?;

        row.map(|r| {
            let s: String = r.try_get("ssin")?;
            Ssin::parse(&s).map_err(|_| StoreError::Corrupt("persons"))
        })
        .transpose()
    }

    /// An active employer (for demo logins).
    /// The first `limit` active employers by ONSS number (the demo's
    /// employer, then its social secretariat).
    pub async fn sample_active_employers(&self, limit: i64) -> Result<Vec<EmployerId>, StoreError> {
        let rows = sqlx::query(
            "SELECT employer_id FROM employers WHERE active = 1 ORDER BY employer_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let v: i64 = r.try_get("employer_id")?;
                EmployerId::from_value(v as u64).map_err(|_| StoreError::Corrupt("employers"))
            })
            .collect()
    }

    pub async fn count_persons(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM persons")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    pub async fn insert_employer(&self, e: &Employer, now: Timestamp) -> Result<(), StoreError> {
        self.bulk_insert_employers(std::slice::from_ref(e), false, now)
            .await
    }

    /// Inserts employers in one transaction. With `skip_existing`, rows
    /// whose ONSS or enterprise number exists are left as they are
    /// (idempotent loads); otherwise they are a conflict.
    pub async fn bulk_insert_employers(
        &self,
        employers: &[Employer],
        skip_existing: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in employers.chunks(self.bulk_rows(11)) {
            let sql = format!(
                "INSERT INTO employers (employer_id, enterprise_number, name, joint_committee, street, house_number, \
                 postal_code, municipality, country, active, updated_at) VALUES {}{}",
                placeholders(self.backend, chunk.len(), 11),
                if skip_existing {
                    " ON CONFLICT DO NOTHING"
                } else {
                    ""
                }
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                let a = e.address.as_ref();
                q = q
                    .bind(e.employer_id.as_i64())
                    .bind(e.enterprise_number.to_string())
                    .bind(e.name.clone())
                    .bind(e.joint_committee.clone())
                    .bind(a.map(|a| a.street.clone()))
                    .bind(a.map(|a| a.house_number.clone()))
                    .bind(a.map(|a| a.postal_code.clone()))
                    .bind(a.map(|a| a.municipality.clone()))
                    .bind(a.map(|a| a.country.clone()))
                    .bind(i64::from(e.active))
                    .bind(now.millis());
            }
            q.execute(&mut *tx).await.map_err(|err| {
                StoreError::conflict_or(err, "an employer with this ONSS or enterprise number")
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn employer(&self, id: EmployerId) -> Result<Option<Employer>, StoreError> {
        let row = sqlx::query("SELECT * FROM employers WHERE employer_id = $1")
            .bind(id.as_i64())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(employer_from).transpose()
    }

    pub async fn employer_by_enterprise(
        &self,
        en: EnterpriseNumber,
    ) -> Result<Option<Employer>, StoreError> {
        let row = sqlx::query("SELECT * FROM employers WHERE enterprise_number = $1")
            .bind(en.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(employer_from).transpose()
    }

    pub async fn count_employers(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM employers")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    pub async fn insert_institution(
        &self,
        i: &Institution,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.insert_institution_with(i, false, now).await
    }

    pub async fn insert_institution_with(
        &self,
        i: &Institution,
        skip_existing: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO institutions (code, name, sector, webhook_url, created_at) VALUES ($1, $2, $3, $4, $5){}",
            if skip_existing {
                " ON CONFLICT DO NOTHING"
            } else {
                ""
            }
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(i.code.to_string())
            .bind(i.name.clone())
            .bind(i.sector.map(i64::from))
            .bind(i.webhook_url.clone())
            .bind(now.millis())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::conflict_or(e, "an institution with this code"))?;
        Ok(())
    }

    pub async fn institution(
        &self,
        code: &InstitutionCode,
    ) -> Result<Option<Institution>, StoreError> {
        let row =
            sqlx::query("SELECT code, name, sector, webhook_url FROM institutions WHERE code = $1")
                .bind(code.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(institution_from).transpose()
    }

    pub async fn institutions(&self) -> Result<Vec<Institution>, StoreError> {
        let rows =
            sqlx::query("SELECT code, name, sector, webhook_url FROM institutions ORDER BY code")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(institution_from).collect()
    }

    /// Makes sure the built-in sectors and capacity codes exist; rows an
    /// operator added or relabelled are left alone.
    pub(crate) async fn seed_sectors(&self) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for s in SECTORS {
            sqlx::query("INSERT INTO sectors (sector, name) VALUES ($1, $2) ON CONFLICT (sector) DO NOTHING")
                .bind(i64::from(s.code))
                .bind(s.name_en)
                .execute(&mut *tx)
                .await?;
        }
        let generic = SECTORS.iter().flat_map(|s| {
            GENERIC_CAPACITIES
                .iter()
                .map(move |&(code, label)| (s.code, code, label))
        });
        let specific = CAPACITIES.iter().map(|c| (c.sector, c.code, c.label_en));
        for (sector, code, label) in specific.chain(generic) {
            sqlx::query(
                "INSERT INTO capacities (sector, capacity, label) VALUES ($1, $2, $3) \
                 ON CONFLICT (sector, capacity) DO NOTHING",
            )
            .bind(i64::from(sector))
            .bind(i64::from(code))
            .bind(label)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds or relabels a capacity code of a sector (operator action).
    pub async fn upsert_capacity(
        &self,
        sector: u16,
        capacity: u16,
        label: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sectors (sector, name) VALUES ($1, $2) ON CONFLICT (sector) DO NOTHING",
        )
        .bind(i64::from(sector))
        .bind(format!("Sector {sector}"))
        .execute(&self.writer)
        .await?;
        sqlx::query(
            "INSERT INTO capacities (sector, capacity, label) VALUES ($1, $2, $3) \
             ON CONFLICT (sector, capacity) DO UPDATE SET label = excluded.label",
        )
        .bind(i64::from(sector))
        .bind(i64::from(capacity))
        .bind(label.to_owned())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn capacity_exists(&self, sector: u16, capacity: u16) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM capacities WHERE sector = $1 AND capacity = $2")
                .bind(i64::from(sector))
                .bind(i64::from(capacity))
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_column_count_matches_the_list() {
        assert_eq!(PERSON_COLUMNS.split(',').count(), PERSON_COLUMN_COUNT);
    }
}
