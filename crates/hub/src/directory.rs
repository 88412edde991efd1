//! The persons part of the reference directory: register, unregister, list.
//! Every operation is audited in the same transaction as its change.

use crate::{Hub, HubError};
use kruispunt_domain::Invalid;
use kruispunt_domain::clock::{format_date, parse_date};
use kruispunt_domain::hub::HubCode;
use kruispunt_domain::ids::Ssin;
use kruispunt_domain::registers::InstitutionCode;
use kruispunt_store::{AuditDraft, NewReference, ReferenceRow, Store, periods_overlap};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceInput {
    pub ssin: Option<String>,
    /// A number, or a string of digits.
    pub capacity: Option<Value>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceView {
    pub ssin: String,
    pub capacity: u16,
    pub start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// `active`, `ended` (end date passed), `future` or `removed`.
    pub status: String,
}

impl ReferenceView {
    pub fn of(r: &ReferenceRow, today: &str) -> Self {
        let status = if r.unregistered_at.is_some() {
            "removed"
        } else if r.start_date.as_str() > today {
            "future"
        } else if r.end_date.as_deref().is_some_and(|e| e < today) {
            "ended"
        } else {
            "active"
        };
        Self {
            ssin: r.ssin.clone(),
            capacity: r.capacity,
            start_date: r.start_date.clone(),
            end_date: r.end_date.clone(),
            status: status.into(),
        }
    }
}

/// The result of a directory operation: its ticket and the entry.
#[derive(Debug, Clone)]
pub struct DirectoryOutcome {
    pub ticket: String,
    pub reference: ReferenceView,
    /// `true` when the same period was already registered (nothing changed).
    pub unchanged: bool,
}

struct Parsed {
    ssin: Ssin,
    capacity: u16,
    start: String,
    end: Option<String>,
}

fn parse(input: &ReferenceInput) -> Result<Parsed, HubError> {
    let ssin = input
        .ssin
        .as_deref()
        .ok_or_else(|| Invalid::new("ssin", "is required"))?;
    let ssin = Ssin::parse(ssin).map_err(|e| Invalid::id("ssin", "the SSIN", e))?;
    let capacity = match &input.capacity {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        None => {
            return Err(
                Invalid::new("capacity", "is required: a capacity code of your sector").into(),
            );
        }
        _ => None,
    }
    .filter(|c| *c <= 9999)
    .ok_or_else(|| {
        Invalid::new(
            "capacity",
            "must be a capacity code (a number from 0 to 9999)",
        )
    })? as u16;
    let start = input
        .start_date
        .as_deref()
        .ok_or_else(|| Invalid::new("startDate", "is required (YYYY-MM-DD)"))?;
    let start = parse_date("startDate", start)?;
    let end = input
        .end_date
        .as_deref()
        .map(|d| parse_date("endDate", d))
        .transpose()?;
    if end.is_some_and(|e| e < start) {
        return Err(Invalid::new("endDate", "is before startDate").into());
    }
    Ok(Parsed {
        ssin,
        capacity,
        start: format_date(start),
        end: end.map(format_date),
    })
}

fn rejected(
    code: HubCode,
    status: u16,
    field: Option<&str>,
    message: impl Into<String>,
) -> HubError {
    HubError::Rejected {
        code,
        status,
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

impl Hub {
    async fn sector_of(&self, institution: &InstitutionCode) -> Result<u16, HubError> {
        let inst = self
            .store()
            .institution(institution)
            .await?
            .ok_or_else(|| {
                HubError::Forbidden(
                    "your institution is not in the directory of institutions".into(),
                )
            })?;
        inst.sector.ok_or_else(|| {
            rejected(
                HubCode::CapacityUnknown,
                400,
                Some("capacity"),
                "your institution has no sector, so it has no capacity codes",
            )
        })
    }

    fn draft(
        &self,
        ticket: &str,
        kind: &str,
        institution: &InstitutionCode,
        p: &Parsed,
        outcome: &str,
    ) -> AuditDraft {
        AuditDraft {
            ticket: ticket.into(),
            at: self.now().millis(),
            kind: kind.into(),
            actor: format!("institution:{institution}"),
            service: Some("reference-directory".into()),
            purpose: Some(p.capacity.to_string()),
            ssin: Some(p.ssin.to_string()),
            outcome: outcome.into(),
            detail: Some(format!("{}..{}", p.start, p.end.as_deref().unwrap_or(""))),
            answer_digest: None,
        }
    }

    /// REGISTER: the institution declares it holds a file on the person in
    /// `capacity` for a period. The same period again is a no-op; an
    /// overlapping one is refused, naming the existing period.
    pub async fn register_reference(
        &self,
        institution: &InstitutionCode,
        input: &ReferenceInput,
    ) -> Result<DirectoryOutcome, HubError> {
        let p = parse(input)?;
        let sector = self.sector_of(institution).await?;
        if !self.store().capacity_exists(sector, p.capacity).await? {
            return Err(rejected(
                HubCode::CapacityUnknown,
                400,
                Some("capacity"),
                format!("{} is not a capacity code of sector {sector}", p.capacity),
            ));
        }
        if self.store().person(&p.ssin).await?.is_none() {
            return Err(rejected(
                HubCode::PersonUnknown,
                404,
                Some("ssin"),
                "no person with this SSIN in the National Register or the bis register",
            ));
        }
        let ticket = self.ticket();
        let now = self.now().millis();
        let today = self.today();
        let mut tx = self
            .store()
            .begin_audited(self.config().checkpoint_every)
            .await?;
        let live = Store::live_references(
            tx.conn()?,
            institution.as_str(),
            &p.ssin.to_string(),
            p.capacity,
        )
        .await?;
        if let Some(same) = live
            .iter()
            .find(|r| r.start_date == p.start && r.end_date == p.end)
        {
            let view = ReferenceView::of(same, &today);
            tx.append(
                &[self.draft(&ticket, "reference.register", institution, &p, "unchanged")],
                self.key(),
            )
            .await?;
            tx.commit().await?;
            return Ok(DirectoryOutcome {
                ticket,
                reference: view,
                unchanged: true,
            });
        }
        if let Some(clash) = live.iter().find(|r| {
            periods_overlap(
                &r.start_date,
                r.end_date.as_deref(),
                &p.start,
                p.end.as_deref(),
            )
        }) {
            return Err(rejected(
                HubCode::ReferenceOverlap,
                409,
                Some("startDate"),
                format!(
                    "overlaps the period already registered for this person and capacity: {} to {}; unregister or close it first",
                    clash.start_date,
                    clash.end_date.as_deref().unwrap_or("open")
                ),
            ));
        }
        let row = NewReference {
            id: format!("ref-{}", &ticket[1..]),
            institution: institution.to_string(),
            ssin: p.ssin.to_string(),
            capacity: p.capacity,
            start_date: p.start.clone(),
            end_date: p.end.clone(),
        };
        let backend = tx.backend();
        Store::insert_reference_in(tx.conn()?, backend, &row, now).await?;
        tx.append(
            &[self.draft(&ticket, "reference.register", institution, &p, "done")],
            self.key(),
        )
        .await?;
        tx.commit().await?;
        let stored = ReferenceRow {
            id: row.id,
            institution: row.institution,
            ssin: row.ssin,
            capacity: row.capacity,
            start_date: row.start_date,
            end_date: row.end_date,
            registered_at: now,
            unregistered_at: None,
        };
        Ok(DirectoryOutcome {
            ticket,
            reference: ReferenceView::of(&stored, &today),
            unchanged: false,
        })
    }

    /// UNREGISTER: names the period by person, capacity and start date; with
    /// an end date the period is closed on it, without one it is removed.
    pub async fn unregister_reference(
        &self,
        institution: &InstitutionCode,
        input: &ReferenceInput,
    ) -> Result<DirectoryOutcome, HubError> {
        let p = parse(input)?;
        let ticket = self.ticket();
        let now = self.now().millis();
        let today = self.today();
        let mut tx = self
            .store()
            .begin_audited(self.config().checkpoint_every)
            .await?;
        let live = Store::live_references(
            tx.conn()?,
            institution.as_str(),
            &p.ssin.to_string(),
            p.capacity,
        )
        .await?;
        let Some(found) = live.into_iter().find(|r| r.start_date == p.start) else {
            return Err(rejected(
                HubCode::ReferenceUnknown,
                404,
                Some("startDate"),
                "you hold no registered period for this person and capacity starting on this date",
            ));
        };
        Store::end_reference_in(tx.conn()?, &found.id, p.end.as_deref(), now).await?;
        tx.append(
            &[self.draft(&ticket, "reference.unregister", institution, &p, "done")],
            self.key(),
        )
        .await?;
        tx.commit().await?;
        let mut after = found;
        match &p.end {
            Some(end) => after.end_date = Some(end.clone()),
            None => after.unregistered_at = Some(now),
        }
        Ok(DirectoryOutcome {
            ticket,
            reference: ReferenceView::of(&after, &today),
            unchanged: false,
        })
    }

    /// LIST: the caller's entries on a person (every status).
    pub async fn list_references(
        &self,
        institution: &InstitutionCode,
        ssin: &str,
    ) -> Result<Vec<ReferenceView>, HubError> {
        let ssin = Ssin::parse(ssin).map_err(|e| Invalid::id("ssin", "the SSIN", e))?;
        let today = self.today();
        Ok(self
            .store()
            .references_of_institution(institution.as_str(), &ssin.to_string())
            .await?
            .iter()
            .map(|r| ReferenceView::of(r, &today))
            .collect())
    }
}
