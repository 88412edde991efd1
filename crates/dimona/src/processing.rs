//! Processing one declaration: the rules, identification and enrichment, the
//! period, the reference directory entry (ONSS, capacity 30 "Dimona"), the
//! notifications to entitled institutions and the audit entry, committed
//! together.

use crate::Dimona;
use crate::declaration::{DeclarationJson, Kind, check};
use kruispunt_domain::clock::{format_date, parse_date};
use kruispunt_domain::dimona::{
    AnomalyKind, DeclarationResult, ExistingPeriod, InFacts, WorkerType, anomaly, check_in,
    check_out,
};
use kruispunt_domain::ids::{DimonaPeriodId, EmployerId, Ssin};
use kruispunt_domain::registers::Institution;
use kruispunt_domain::sectors::DIMONA_CAPACITY;
use kruispunt_hub::HubError;
use kruispunt_store::{AuditDraft, DeclarationRow, NewReference, PeriodRow, Store};
use serde_json::{Value, json};

/// Failed processing attempts before a declaration is refused (KP000-001).
pub const MAX_ATTEMPTS: i64 = 5;

/// The institution under which Dimona registers employment relations.
pub const DIMONA_INSTITUTION: &str = "ONSS";

pub fn anomalies_json(a: &[AnomalyKind]) -> Value {
    Value::Array(
        a.iter()
            .map(|x| {
                json!({"errorId": x.id, "labelFr": x.label_fr, "labelNl": x.label_nl,
                       "severity": match x.severity { kruispunt_domain::dimona::Severity::Blocking => "B", _ => "NP" }})
            })
            .collect(),
    )
}

pub fn period_json(p: &PeriodRow) -> Value {
    json!({
        "periodId": p.period_id, "employerId": p.employer_id, "ssin": p.ssin,
        "startDate": p.start_date, "endDate": p.end_date, "startHour": p.start_hour, "endHour": p.end_hour,
        "plannedHoursNumber": p.planned_hours, "workerType": p.worker_type,
        "jointCommissionNumber": p.joint_committee, "status": p.status,
    })
}

/// What one processing transaction shares: the audit entries, appended
/// together before the commit (one statement instead of one per
/// declaration), and the employers already read.
#[derive(Default)]
pub(crate) struct Pass {
    audit: Vec<AuditDraft>,
    employers: std::collections::HashMap<i64, Option<kruispunt_domain::registers::Employer>>,
}

fn date(s: &Option<String>) -> Option<time::Date> {
    s.as_deref().and_then(|d| parse_date("date", d).ok())
}

impl Dimona {
    /// Processes declarations in one transaction (one commit for the
    /// batch). If any fails, the batch is rolled back and each declaration
    /// is retried in its own transaction, so one bad declaration cannot
    /// hold the others back.
    pub(crate) async fn process_batch(&self, batch: &[DeclarationRow]) -> Result<(), HubError> {
        let hub = self.hub();
        // The Dimona institution holds the employment references. Made
        // sure of once per process, before any batch transaction: on SQLite
        // the writer connection is single, and the transaction holds it.
        self.onss_ready
            .get_or_try_init(|| async {
                if let Ok(onss) = Institution::new(
                    DIMONA_INSTITUTION,
                    "Office national de sécurité sociale / RSZ",
                    Some(12),
                    None,
                ) {
                    hub.store()
                        .insert_institution_with(&onss, true, hub.now())
                        .await?;
                }
                Ok::<(), HubError>(())
            })
            .await?;
        if batch.len() > 1 {
            let together = async {
                let mut tx = hub
                    .store()
                    .begin_audited(hub.config().checkpoint_every)
                    .await?;
                let mut pass = Pass::default();
                for d in batch {
                    self.process_in(&mut tx, d, &mut pass).await?;
                }
                tx.append(&pass.audit, hub.key()).await?;
                tx.commit().await?;
                Ok::<(), HubError>(())
            };
            if together.await.is_ok() {
                return Ok(());
            }
        }
        for d in batch {
            let mut tx = hub
                .store()
                .begin_audited(hub.config().checkpoint_every)
                .await?;
            let mut pass = Pass::default();
            let done = match self.process_in(&mut tx, d, &mut pass).await {
                Ok(()) => tx
                    .append(&pass.audit, hub.key())
                    .await
                    .map(|_| ())
                    .map_err(HubError::from),
                Err(e) => Err(e),
            };
            match done {
                Ok(()) => tx.commit().await?,
                Err(e) => {
                    drop(tx);
                    self.failed_attempt(d, &e).await?;
                }
            }
        }
        Ok(())
    }

    async fn process_in(
        &self,
        tx: &mut kruispunt_store::AuditedTx<'static>,
        d: &DeclarationRow,
        pass: &mut Pass,
    ) -> Result<(), HubError> {
        let hub = self.hub();
        let now = hub.now();
        let today = now.date();
        let body: DeclarationJson =
            serde_json::from_str(&d.body).map_err(|e| HubError::Internal(e.to_string()))?;
        let checked = check(&body).map_err(HubError::Invalid)?;
        let employer = EmployerId::from_value(d.employer_id as u64)
            .map_err(|e| HubError::Internal(e.to_string()))?;
        let employer_row = match pass.employers.get(&d.employer_id) {
            Some(e) => e.clone(),
            None => {
                let e = hub.store().employer(employer).await?;
                pass.employers.insert(d.employer_id, e.clone());
                e
            }
        };
        let mut anomalies: Vec<AnomalyKind> = Vec::new();
        let mut worker: Option<Value> = None;
        let mut period: Option<PeriodRow> = None;
        let mut changed_ssin: Option<String> = None;
        if employer_row.as_ref().is_none_or(|e| !e.active) {
            anomalies.push(anomaly::EMPLOYER_INACTIVE);
        }
        match checked.kind {
            Kind::In => {
                let ssin = match checked.ssin {
                    Some(s) => s,
                    None => match self.identify(&body).await? {
                        Some(s) => s,
                        // Not (yet) identifiable: S, and the declaration
                        // waits for the register (see `reidentify`).
                        None => return self.finish_pending(tx, d, &body, employer, pass).await,
                    },
                };
                let person = hub.store().person(&ssin).await?;
                match &person {
                    None => anomalies.push(anomaly::NOT_IDENTIFIABLE),
                    Some(p) => {
                        worker = Some(
                            json!({"ssin": ssin.to_string(), "familyName": p.last_name, "givenName": p.first_name,
                            "birthDate": p.birth_date.map(format_date), "gender": p.sex.map(|s| s.code())}),
                        );
                    }
                }
                let i = body
                    .dimona_in
                    .as_ref()
                    .ok_or_else(|| HubError::Internal("no dimonaIn".into()))?;
                let facts = InFacts {
                    start: date(&i.start_date),
                    end: date(&i.end_date),
                    start_hour: i.start_hour.clone(),
                    end_hour: i.end_hour.clone(),
                    planned_hours: i.planned_hours_number,
                    worker_type: i.features.as_ref().and_then(|f| f.worker_type.clone()),
                    joint_committee: i
                        .features
                        .as_ref()
                        .and_then(|f| f.joint_commission_number.clone()),
                };
                let live =
                    Store::live_periods_in(tx.conn(), d.employer_id, &ssin.to_string()).await?;
                let existing: Vec<ExistingPeriod> = live
                    .iter()
                    .filter_map(|p| {
                        Some(ExistingPeriod {
                            start: date(&Some(p.start_date.clone()))?,
                            end: date(&p.end_date),
                            worker_type: WorkerType::parse(&p.worker_type)?,
                        })
                    })
                    .collect();
                // Only students have a contingent: no query for the others.
                let student_hours = if facts.worker_type.as_deref() == Some("STU") {
                    let year = facts.start.map(|s| s.year()).unwrap_or(today.year());
                    Store::student_hours_in(tx.conn(), &ssin.to_string(), year)
                        .await?
                        .max(0) as u32
                } else {
                    0
                };
                anomalies.extend(check_in(&facts, today, &existing, student_hours));
                if DeclarationResult::from_anomalies(&anomalies) != DeclarationResult::B {
                    let seq = Store::next_period_sequence_in(tx.conn()).await?;
                    let pid = DimonaPeriodId::from_sequence(1_000_000_000 + seq as u64)
                        .map_err(|e| HubError::Internal(e.to_string()))?;
                    let p = PeriodRow {
                        period_id: pid.as_i64(),
                        employer_id: d.employer_id,
                        ssin: ssin.to_string(),
                        worker_type: facts.worker_type.clone().unwrap_or_default(),
                        joint_committee: facts
                            .joint_committee
                            .clone()
                            .unwrap_or_else(|| "XXX".into()),
                        start_date: facts.start.map(format_date).unwrap_or_default(),
                        end_date: facts.end.map(format_date),
                        start_hour: facts.start_hour.clone(),
                        end_hour: facts.end_hour.clone(),
                        planned_hours: facts.planned_hours,
                        status: "active".into(),
                        declaration_id: d.id.clone(),
                    };
                    Store::insert_period_in(tx.conn(), &p, now.millis()).await?;
                    let backend = tx.backend();
                    Store::insert_reference_in(
                        tx.conn(),
                        backend,
                        &NewReference {
                            id: format!("dimona-{}", p.period_id),
                            institution: DIMONA_INSTITUTION.into(),
                            ssin: p.ssin.clone(),
                            capacity: DIMONA_CAPACITY,
                            start_date: p.start_date.clone(),
                            end_date: p.end_date.clone(),
                        },
                        now.millis(),
                    )
                    .await?;
                    changed_ssin = Some(p.ssin.clone());
                    period = Some(p);
                }
            }
            Kind::Out | Kind::Update | Kind::Cancel => {
                let pid = checked
                    .period_id
                    .ok_or_else(|| HubError::Internal("no period id".into()))?;
                let found = Store::period_in(tx.conn(), pid.as_i64())
                    .await?
                    .filter(|p| p.employer_id == d.employer_id);
                match found {
                    None => anomalies.push(anomaly::PERIOD_UNKNOWN),
                    Some(p) if p.status == "cancelled" => anomalies.push(anomaly::PERIOD_CANCELLED),
                    Some(mut p) => {
                        if let Ok(ssin) = Ssin::parse(&p.ssin)
                            && let Some(person) = hub.store().person(&ssin).await?
                        {
                            worker = Some(
                                json!({"ssin": p.ssin, "familyName": person.last_name, "givenName": person.first_name,
                                    "birthDate": person.birth_date.map(format_date), "gender": person.sex.map(|s| s.code())}),
                            );
                        }
                        let start = date(&Some(p.start_date.clone())).unwrap_or(today);
                        // Whether the reference follows the period (OUT, UPDATE) or is
                        // removed with it (CANCEL).
                        let keep_reference: bool;
                        match checked.kind {
                            Kind::Out => {
                                if p.status == "closed" {
                                    anomalies.push(anomaly::PERIOD_CLOSED);
                                }
                                let o = body
                                    .dimona_out
                                    .as_ref()
                                    .ok_or_else(|| HubError::Internal("no dimonaOut".into()))?;
                                anomalies.extend(check_out(start, date(&o.end_date), today));
                                p.end_date = o.end_date.clone();
                                if o.end_hour.is_some() {
                                    p.end_hour = o.end_hour.clone();
                                }
                                p.status = "closed".into();
                                keep_reference = true;
                            }
                            Kind::Update => {
                                let u = body
                                    .dimona_update
                                    .as_ref()
                                    .ok_or_else(|| HubError::Internal("no dimonaUpdate".into()))?;
                                let facts = InFacts {
                                    start: date(&u.start_date).or(Some(start)),
                                    end: date(&u.end_date).or(date(&p.end_date)),
                                    start_hour: u.start_hour.clone().or(p.start_hour.clone()),
                                    end_hour: u.end_hour.clone().or(p.end_hour.clone()),
                                    planned_hours: u.planned_hours_number.or(p.planned_hours),
                                    worker_type: u
                                        .features
                                        .as_ref()
                                        .and_then(|f| f.worker_type.clone())
                                        .or(Some(p.worker_type.clone())),
                                    joint_committee: u
                                        .features
                                        .as_ref()
                                        .and_then(|f| f.joint_commission_number.clone())
                                        .or(Some(p.joint_committee.clone())),
                                };
                                let live =
                                    Store::live_periods_in(tx.conn(), d.employer_id, &p.ssin)
                                        .await?;
                                let others: Vec<ExistingPeriod> = live
                                    .iter()
                                    .filter(|o| o.period_id != p.period_id)
                                    .filter_map(|o| {
                                        Some(ExistingPeriod {
                                            start: date(&Some(o.start_date.clone()))?,
                                            end: date(&o.end_date),
                                            worker_type: WorkerType::parse(&o.worker_type)?,
                                        })
                                    })
                                    .collect();
                                // An update is not an IN: its lateness is not judged here.
                                anomalies.extend(
                                    check_in(
                                        &facts,
                                        facts.start.unwrap_or(today).min(today),
                                        &others,
                                        0,
                                    )
                                    .into_iter()
                                    .filter(|a| {
                                        a.id != anomaly::LATE.id
                                            && a.id != anomaly::CONTINGENT_EXCEEDED.id
                                    }),
                                );
                                p.start_date = facts.start.map(format_date).unwrap_or(p.start_date);
                                p.end_date = facts.end.map(format_date);
                                p.start_hour = facts.start_hour;
                                p.end_hour = facts.end_hour;
                                p.planned_hours = facts.planned_hours;
                                p.worker_type = facts.worker_type.unwrap_or(p.worker_type);
                                p.joint_committee =
                                    facts.joint_committee.unwrap_or(p.joint_committee);
                                keep_reference = true;
                            }
                            _ => {
                                p.status = "cancelled".into();
                                keep_reference = false;
                            }
                        }
                        if DeclarationResult::from_anomalies(&anomalies) != DeclarationResult::B {
                            Store::update_period_in(tx.conn(), &p, now.millis()).await?;
                            let ref_id = format!("dimona-{}", p.period_id);
                            if keep_reference {
                                Store::set_reference_period_in(
                                    tx.conn(),
                                    &ref_id,
                                    &p.start_date,
                                    p.end_date.as_deref(),
                                )
                                .await?;
                            } else {
                                Store::end_reference_in(tx.conn(), &ref_id, None, now.millis())
                                    .await?;
                            }
                            changed_ssin = Some(p.ssin.clone());
                        }
                        period = Some(p);
                    }
                }
            }
        }
        let result = DeclarationResult::from_anomalies(&anomalies);
        if let (Some(ssin), Some(p)) = (&changed_ssin, &period) {
            let data =
                json!({"declaration": checked.kind.code(), "period": period_json(p)}).to_string();
            Store::notify_change_in(
                tx.conn(),
                ssin,
                "employment",
                "employment.changed",
                &data,
                &format_date(today),
                now.millis(),
            )
            .await?;
        }
        let finished = Store::finish_declaration_in(
            tx.conn(),
            &d.id,
            result.code(),
            period
                .as_ref()
                .filter(|_| result != DeclarationResult::B)
                .map(|p| p.period_id),
            &anomalies_json(&anomalies).to_string(),
            worker.map(|w| w.to_string()).as_deref(),
            now.millis(),
        )
        .await?;
        if !finished {
            // Another worker processed it first: its result stands, and this
            // attempt must not commit a second period.
            return Err(HubError::Internal(
                "declaration already processed by another worker".into(),
            ));
        }
        pass.audit.push(AuditDraft {
            ticket: hub.ticket(),
            at: now.millis(),
            kind: format!("dimona.{}", checked.kind.code().to_lowercase()),
            actor: format!("employer:{employer}"),
            service: Some("dimona".into()),
            purpose: None,
            ssin: checked
                .ssin
                .map(|s| s.to_string())
                .or_else(|| period.as_ref().map(|p| p.ssin.clone())),
            outcome: result.code().into(),
            detail: Some(format!("declaration {}", d.id)),
            answer_digest: None,
        });
        metrics::counter!("dimona_declarations_processed_total", "result" => result.code())
            .increment(1);
        Ok(())
    }

    /// A declaration that failed alone: counted, retried when its lease
    /// expires, and after [`MAX_ATTEMPTS`] finished as refused (KP000-001)
    /// so that it neither blocks its file's NOTIFICATION nor loops forever.
    async fn failed_attempt(&self, d: &DeclarationRow, e: &HubError) -> Result<(), HubError> {
        let hub = self.hub();
        let attempts = hub.store().record_failed_attempt(&d.id).await?;
        if attempts < MAX_ATTEMPTS {
            tracing::warn!(declaration = %d.id, attempts, error = %e, "a Dimona declaration could not be processed; it stays queued");
            return Ok(());
        }
        tracing::error!(declaration = %d.id, attempts, error = %e, "a Dimona declaration could not be processed; refused as KP000-001");
        let now = hub.now();
        let mut tx = hub
            .store()
            .begin_audited(hub.config().checkpoint_every)
            .await?;
        let finished = Store::finish_declaration_in(
            tx.conn(),
            &d.id,
            DeclarationResult::B.code(),
            None,
            &anomalies_json(&[anomaly::NOT_PROCESSABLE]).to_string(),
            None,
            now.millis(),
        )
        .await?;
        if finished {
            tx.append(
                &[AuditDraft {
                    ticket: hub.ticket(),
                    at: now.millis(),
                    kind: format!("dimona.{}", d.kind.to_lowercase()),
                    actor: d.declarant.clone(),
                    service: Some("dimona".into()),
                    purpose: None,
                    ssin: d.ssin.clone(),
                    outcome: DeclarationResult::B.code().into(),
                    detail: Some(format!(
                        "declaration {}: not processable after {attempts} attempts",
                        d.id
                    )),
                    answer_digest: None,
                }],
                hub.key(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The SSIN of the one living person matching the declaration's
    /// identity data, if exactly one does.
    async fn identify(&self, body: &DeclarationJson) -> Result<Option<Ssin>, HubError> {
        let Some(id) = body.worker.as_ref().and_then(|w| w.identity()) else {
            return Ok(None);
        };
        let found = self
            .hub()
            .store()
            .persons_by_identity(&id.family_name, &id.given_name, &id.birth_date)
            .await?;
        Ok(match found.as_slice() {
            [one] => Ssin::parse(one).ok(),
            _ => None,
        })
    }

    /// Result S: accepted, waiting for the worker's identification. No
    /// period yet; the employer gets a notice now and another with the
    /// final result.
    async fn finish_pending(
        &self,
        tx: &mut kruispunt_store::AuditedTx<'static>,
        d: &DeclarationRow,
        body: &DeclarationJson,
        employer: EmployerId,
        pass: &mut Pass,
    ) -> Result<(), HubError> {
        let hub = self.hub();
        let now = hub.now();
        let worker = body.worker.as_ref().map(|w| {
            json!({"familyName": w.family_name, "givenName": w.given_name,
                   "birthDate": w.birth_date, "gender": w.gender})
            .to_string()
        });
        let finished = Store::finish_declaration_in(
            tx.conn(),
            &d.id,
            DeclarationResult::S.code(),
            None,
            "[]",
            worker.as_deref(),
            now.millis(),
        )
        .await?;
        if !finished {
            return Err(HubError::Internal(
                "declaration already processed by another worker".into(),
            ));
        }
        pass.audit.push(AuditDraft {
            ticket: hub.ticket(),
            at: now.millis(),
            kind: "dimona.in".into(),
            actor: format!("employer:{employer}"),
            service: Some("dimona".into()),
            purpose: None,
            ssin: None,
            outcome: DeclarationResult::S.code().into(),
            detail: Some(format!("declaration {}", d.id)),
            answer_digest: None,
        });
        metrics::counter!("dimona_declarations_processed_total", "result" => "S").increment(1);
        Ok(())
    }

    /// Requeues the S declarations whose worker the register now
    /// identifies (a person was added or corrected); returns how many.
    pub async fn reidentify(&self) -> Result<usize, HubError> {
        let mut n = 0;
        for d in self.hub().store().pending_identifications(500).await? {
            let Ok(body) = serde_json::from_str::<DeclarationJson>(&d.body) else {
                continue;
            };
            if self.identify(&body).await?.is_some()
                && self.hub().store().requeue_pending(&d.id).await?
            {
                n += 1;
            }
        }
        Ok(n)
    }
}
