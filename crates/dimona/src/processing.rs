//! Processing one declaration: the rules, identification and enrichment, the
//! period, the reference directory entry (ONSS, capacity 30 "Dimona"), the
//! notifications to entitled institutions and the audit entry, committed
//! together.

use crate::Dimona;
use crate::declaration::{Checked, DeclarationJson, Kind, check};
use kruispunt_domain::clock::{format_date, parse_date};
use kruispunt_domain::dimona::{
    AnomalyKind, DailyAction, DailyFacts, DailyPeriod, DailyState, DeclarationResult,
    ExistingPeriod, InFacts, WorkerType, anomaly, check_daily_conflicts, check_daily_on,
    check_daily_registration, check_in, check_out, check_period_keeps_registrations,
};
use kruispunt_domain::ids::{DailyRegistrationId, DimonaPeriodId, EmployerId, Ssin};
use kruispunt_domain::registers::{Employer, Institution, Person};
use kruispunt_domain::sectors::DIMONA_CAPACITY;
use kruispunt_hub::HubError;
use kruispunt_store::dimona_pass::{self, FinishedDeclaration, ReferenceState};
use kruispunt_store::{
    AuditDraft, AuditedTx, Backend, DailyRegistrationRow, DeclarationRow, DeferredWrites,
    PeriodRow, PersonChange, Store, WriterSession, WriterWork,
};
use serde_json::{Value, json};
use std::collections::HashMap;

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

/// The directory entry that follows a period (ONSS, capacity "Dimona").
fn reference_of(p: &PeriodRow, unregistered_at: Option<i64>) -> ReferenceState {
    ReferenceState {
        id: format!("dimona-{}", p.period_id),
        institution: DIMONA_INSTITUTION.into(),
        ssin: p.ssin.clone(),
        capacity: DIMONA_CAPACITY,
        start_date: p.start_date.clone(),
        end_date: p.end_date.clone(),
        unregistered_at,
    }
}

fn result_label(code: &str) -> &'static str {
    match code {
        "A" => "A",
        "W" => "W",
        "B" => "B",
        _ => "S",
    }
}

pub fn period_json(p: &PeriodRow) -> Value {
    json!({
        "periodId": p.period_id, "employerId": p.employer_id, "ssin": p.ssin,
        "startDate": p.start_date, "endDate": p.end_date, "startHour": p.start_hour, "endHour": p.end_hour,
        "plannedHoursNumber": p.planned_hours, "workerType": p.worker_type,
        "jointCommissionNumber": p.joint_committee, "status": p.status,
    })
}

/// One processing pass over a claimed batch: what it read for the whole
/// batch (a few `IN (…)` queries), and what it decided so far, so that a
/// later declaration of the batch sees the periods an earlier one created
/// or changed. Its writes go out as a few multi-row statements at the end.
#[derive(Default)]
pub(crate) struct Pass {
    audit: Vec<AuditDraft>,
    employers: HashMap<i64, Option<Employer>>,
    persons: HashMap<String, Person>,
    /// Every period read or written in this pass, by id.
    periods: HashMap<i64, PeriodRow>,
    /// Period ids per person, at every employer.
    by_person: HashMap<String, Vec<i64>>,
    /// Periods to write, in the order they were first changed.
    dirty: Vec<i64>,
    dirty_set: std::collections::HashSet<i64>,
    references: Vec<ReferenceState>,
    reference_index: HashMap<String, usize>,
    changes: Vec<PersonChange>,
    finished: Vec<FinishedDeclaration>,
    /// Reserved period sequence numbers still free: `next..end`.
    next_period: i64,
    end_period: i64,
    /// Notice webhooks of the batch's employers (employer id → URL).
    webhooks: HashMap<i64, String>,
    /// Daily registrations read or written in this pass, by id.
    registrations: HashMap<i64, DailyRegistrationRow>,
    /// Registrations to write, in the order they were first changed.
    dirty_registrations: Vec<i64>,
    dirty_registration_set: std::collections::HashSet<i64>,
    /// Reserved daily registration counter values still free: `next..end`.
    next_registration: i64,
    end_registration: i64,
}

/// What a daily registration's decision leaves for its declaration.
#[derive(Default)]
struct DailyDecided {
    /// The period the registration is (to be) on, when known.
    period: Option<PeriodRow>,
    /// The registration created or changed, when accepted.
    registration_id: Option<i64>,
    /// `{attestationStatus, before?, after?}`, when accepted.
    impact: Option<Value>,
}

fn daily_values(r: &DailyRegistrationRow) -> Value {
    json!({"startDate": r.start_date, "startHour": r.start_hour,
           "endDate": r.end_date, "endHour": r.end_hour})
}

impl Pass {
    fn touch(&mut self, p: PeriodRow) {
        let id = p.period_id;
        if !self.periods.contains_key(&id) {
            self.by_person.entry(p.ssin.clone()).or_default().push(id);
        }
        if self.dirty_set.insert(id) {
            self.dirty.push(id);
        }
        self.periods.insert(id, p);
    }

    fn touch_registration(&mut self, r: DailyRegistrationRow) {
        let id = r.registration_id;
        if self.dirty_registration_set.insert(id) {
            self.dirty_registrations.push(id);
        }
        self.registrations.insert(id, r);
    }

    /// A cancelled period takes its daily registrations with it: a day of
    /// presence on a period that never was has no basis (those read for
    /// the pass, and those created earlier in it).
    fn cancel_registrations_of(&mut self, period_id: i64) {
        let active: Vec<DailyRegistrationRow> =
            self.active_registrations_of(period_id).cloned().collect();
        for mut r in active {
            r.status = "cancelled".into();
            self.touch_registration(r);
        }
    }

    /// The period's active daily registrations: those read for the pass,
    /// as earlier declarations of it left them.
    fn active_registrations_of(
        &self,
        period_id: i64,
    ) -> impl Iterator<Item = &DailyRegistrationRow> {
        self.registrations
            .values()
            .filter(move |r| r.period_id == period_id && r.status != "cancelled")
    }

    fn known(&mut self, p: PeriodRow) {
        if !self.periods.contains_key(&p.period_id) {
            self.by_person
                .entry(p.ssin.clone())
                .or_default()
                .push(p.period_id);
            self.periods.insert(p.period_id, p);
        }
    }

    /// Live (not cancelled) periods of a worker at an employer, other than
    /// `except`, ordered by start date.
    fn live(&self, employer_id: i64, ssin: &str, except: Option<i64>) -> Vec<ExistingPeriod> {
        let mut out: Vec<&PeriodRow> = self
            .by_person
            .get(ssin)
            .into_iter()
            .flatten()
            .filter_map(|id| self.periods.get(id))
            .filter(|p| {
                p.employer_id == employer_id
                    && p.status != "cancelled"
                    && Some(p.period_id) != except
            })
            .collect();
        out.sort_by(|a, b| a.start_date.cmp(&b.start_date));
        out.iter()
            .filter_map(|p| {
                Some(ExistingPeriod {
                    start: date(&Some(p.start_date.clone()))?,
                    end: date(&p.end_date),
                    worker_type: WorkerType::parse(&p.worker_type)?,
                })
            })
            .collect()
    }

    /// Planned hours of the worker's live student periods starting in
    /// `year`, at every employer (the student contingent).
    fn student_hours(&self, ssin: &str, year: i32) -> u32 {
        let (from, to) = (format!("{year:04}-01-01"), format!("{year:04}-12-31"));
        let h: i64 = self
            .by_person
            .get(ssin)
            .into_iter()
            .flatten()
            .filter_map(|id| self.periods.get(id))
            .filter(|p| {
                p.worker_type == "STU"
                    && p.status != "cancelled"
                    && p.start_date >= from
                    && p.start_date <= to
            })
            .filter_map(|p| p.planned_hours)
            .fold(0i64, |a, h| a.saturating_add(h.max(0)));
        u32::try_from(h.max(0)).unwrap_or(u32::MAX)
    }

    fn reference(&mut self, r: ReferenceState) {
        match self.reference_index.get(&r.id) {
            Some(&i) => self.references[i] = r,
            None => {
                self.reference_index
                    .insert(r.id.clone(), self.references.len());
                self.references.push(r);
            }
        }
    }

    fn worker_json(&self, ssin: &str) -> Option<Value> {
        self.persons.get(ssin).map(|p| {
            json!({"ssin": ssin, "familyName": p.last_name, "givenName": p.first_name,
                   "birthDate": p.birth_date.map(format_date), "gender": p.sex.map(|s| s.code())})
        })
    }
}

/// Decides a daily registration: the rules of the declaration alone, then
/// against the period and the registration the pass knows (an earlier
/// declaration of the pass included); when nothing blocks, the
/// registration as it is now, in the pass.
fn decide_daily(
    c: &Claimed<'_>,
    pass: &mut Pass,
    anomalies: &mut Vec<AnomalyKind>,
) -> Result<DailyDecided, HubError> {
    let d = c.row;
    let r = c
        .body
        .daily_registration
        .as_ref()
        .ok_or_else(|| HubError::Internal("no dailyRegistration".into()))?;
    let facts = DailyFacts {
        attestation_status: r.attestation_status(),
        has_registration_id: c.checked.registration_id.is_some(),
        has_period_id: c.checked.period_id.is_some(),
        start: date(&r.start_date),
        start_hour: r.start_hour.clone(),
        end: date(&r.end_date),
        end_hour: r.end_hour.clone(),
    };
    let mut out = DailyDecided::default();
    let (action, found) = check_daily_registration(&facts);
    anomalies.extend(found);
    let Some(action) = action else {
        return Ok(out);
    };
    if DeclarationResult::from_anomalies(anomalies) == DeclarationResult::B {
        return Ok(out);
    }
    // Another employer's registration or period is as good as unknown.
    let stored = c
        .checked
        .registration_id
        .and_then(|id| pass.registrations.get(&id.as_i64()))
        .filter(|x| x.employer_id == d.employer_id)
        .cloned();
    let period_id = match action {
        DailyAction::Create => c.checked.period_id.map(|p| p.as_i64()),
        DailyAction::Modify | DailyAction::Cancel => stored.as_ref().map(|s| s.period_id),
    };
    let period = period_id
        .and_then(|id| pass.periods.get(&id))
        .filter(|p| p.employer_id == d.employer_id)
        .cloned();
    let daily_period = period.as_ref().and_then(|p| {
        Some(DailyPeriod {
            start: date(&Some(p.start_date.clone()))?,
            end: date(&p.end_date),
            cancelled: p.status == "cancelled",
        })
    });
    let state = stored
        .as_ref()
        .and_then(|s| Some((daily_state(s)?, s.status == "cancelled")));
    let outcome = check_daily_on(
        action,
        &facts,
        state.as_ref().map(|(s, cancelled)| (s, *cancelled)),
        daily_period.as_ref(),
    );
    anomalies.extend(outcome.anomalies);
    if let (Some(after), Some(p)) = (&outcome.after, &period) {
        // The period's other active registrations.
        let this = stored.as_ref().map(|s| s.registration_id);
        let others: Vec<DailyState> = pass
            .active_registrations_of(p.period_id)
            .filter(|r| Some(r.registration_id) != this)
            .filter_map(daily_state)
            .collect();
        anomalies.extend(check_daily_conflicts(
            state.as_ref().map(|(s, _)| s),
            after,
            &others,
        ));
    }
    out.period = period.clone();
    if DeclarationResult::from_anomalies(anomalies) == DeclarationResult::B {
        return Ok(out);
    }
    let missing = || HubError::Internal("daily registration accepted without its data".into());
    let p = period.ok_or_else(missing)?;
    let row = match (action, stored.clone(), outcome.after) {
        (DailyAction::Create, _, Some(after)) => {
            if pass.next_registration >= pass.end_registration {
                return Err(HubError::Internal(
                    "no daily registration number reserved".into(),
                ));
            }
            let n = pass.next_registration;
            pass.next_registration += 1;
            let id = DailyRegistrationId::from_counter(u64::try_from(n - 1).unwrap_or(u64::MAX))
                .map_err(|e| HubError::Internal(e.to_string()))?;
            DailyRegistrationRow {
                registration_id: id.as_i64(),
                period_id: p.period_id,
                employer_id: d.employer_id,
                ssin: p.ssin.clone(),
                start_date: format_date(after.start),
                start_hour: after.start_hour,
                end_date: after.end.map(format_date),
                end_hour: after.end_hour,
                status: "active".into(),
                declaration_id: d.id.clone(),
            }
        }
        (DailyAction::Modify, Some(old), Some(after)) => DailyRegistrationRow {
            start_date: format_date(after.start),
            start_hour: after.start_hour,
            end_date: after.end.map(format_date),
            end_hour: after.end_hour,
            ..old
        },
        (DailyAction::Cancel, Some(old), _) => DailyRegistrationRow {
            status: "cancelled".into(),
            ..old
        },
        _ => return Err(missing()),
    };
    let mut impact = json!({"attestationStatus": action.code()});
    if let Some(old) = &stored {
        impact["before"] = daily_values(old);
    }
    if action != DailyAction::Cancel {
        impact["after"] = daily_values(&row);
    }
    out.registration_id = Some(row.registration_id);
    out.impact = Some(impact);
    pass.touch_registration(row);
    Ok(out)
}

/// A claimed declaration, parsed, with its worker's SSIN when known.
/// A pass's declarations before its transaction begins.
struct Prepared<'a> {
    claimed: Vec<Claimed<'a>>,
    pass: Pass,
}

/// What a committed pass leaves to do.
struct PassDone {
    /// Notices were queued for employers' webhooks.
    hooks: bool,
    /// Each declaration's result code.
    results: Vec<String>,
}

struct Claimed<'a> {
    row: &'a DeclarationRow,
    body: DeclarationJson,
    checked: Checked,
    /// For an IN: the SSIN given, or found from the identity data; `None`
    /// while the worker cannot be identified (result S).
    ssin: Option<Ssin>,
}

fn daily_state(r: &DailyRegistrationRow) -> Option<DailyState> {
    Some(DailyState {
        start: date(&Some(r.start_date.clone()))?,
        start_hour: r.start_hour.clone(),
        end: date(&r.end_date),
        end_hour: r.end_hour.clone(),
    })
}

fn date(s: &Option<String>) -> Option<time::Date> {
    s.as_deref().and_then(|d| parse_date("date", d).ok())
}

/// The dates the pass's overlap, duplicate and contingent rules can look
/// at: from the earliest to the latest date declared (IN, UPDATE) or held
/// by a period the pass changes; open-ended when one of them has no end.
/// `None` (read every live period) when a date does not parse: the rules
/// refuse the declaration, and nothing is lost by reading more.
fn date_window<'a>(
    claimed: &[Claimed<'_>],
    periods: impl Iterator<Item = &'a PeriodRow>,
) -> Option<dimona_pass::DateWindow> {
    const OPEN: &str = "9999-12-31";
    let mut from: Option<String> = None;
    let mut to: Option<String> = None;
    let mut widen = |start: &Option<String>, end: &Option<String>| -> Option<()> {
        let start = date(start)?;
        let s = format_date(start);
        if from.as_ref().is_none_or(|f| s < *f) {
            from = Some(s.clone());
        }
        let e = match end {
            None => OPEN.to_owned(),
            Some(_) => format_date(date(end)?),
        };
        let e = e.max(s);
        if to.as_ref().is_none_or(|t| e > *t) {
            to = Some(e);
        }
        Some(())
    };
    let mut students = false;
    for c in claimed {
        match c.checked.kind {
            Kind::In => {
                let i = c.body.dimona_in.as_ref()?;
                widen(&i.start_date, &i.end_date)?;
                students |=
                    i.features.as_ref().and_then(|f| f.worker_type.as_deref()) == Some("STU");
            }
            Kind::Update => {
                let u = c.body.dimona_update.as_ref()?;
                if u.start_date.is_some() {
                    widen(&u.start_date, &u.end_date)?;
                }
                if let Some(end) = &u.end_date {
                    widen(&Some(end.clone()), &Some(end.clone()))?;
                }
            }
            _ => {}
        }
    }
    for p in periods {
        widen(&Some(p.start_date.clone()), &p.end_date)?;
    }
    Some(dimona_pass::DateWindow {
        from: from?,
        to: to?,
        students,
    })
}

impl Dimona {
    /// Processes declarations in one transaction (one commit for the
    /// batch). If any fails, the batch is rolled back and each declaration
    /// is retried in its own transaction, so one bad declaration cannot
    /// hold the others back.
    pub(crate) async fn process_batch(&self, batch: &[DeclarationRow]) -> Result<(), HubError> {
        self.ensure_onss().await?;
        if batch.len() > 1 {
            match self.process_set(batch).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!(error = %e, size = batch.len(), "a Dimona batch failed; processing its declarations one by one");
                }
            }
        }
        for d in batch {
            if let Err(e) = self.process_set(std::slice::from_ref(d)).await {
                self.failed_attempt(d, &e).await?;
            }
        }
        Ok(())
    }

    /// The Dimona institution holds the employment references. Made sure
    /// of once per process, before any pass's transaction: on SQLite the
    /// writer connection is single, and the transaction holds it.
    pub(crate) async fn ensure_onss(&self) -> Result<(), HubError> {
        let hub = self.hub();
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
        Ok(())
    }

    /// Processes `batch` in one transaction: reads for all, decides each in
    /// order, writes all, appends the audit entries, commits.
    async fn process_set(&self, batch: &[DeclarationRow]) -> Result<(), HubError> {
        let started = std::time::Instant::now();
        let now = self.hub().now();
        let store = self.hub().store();
        if store.has_writer_thread() {
            // SQLite: on the writer thread, in one hand-off (as on receipt).
            let dimona = self.clone();
            let batch = batch.to_vec();
            let (done, size) = store
                .audited_on_writer_thread(
                    self.hub().config().checkpoint_every,
                    move |tx| -> WriterWork<'_, _, HubError> {
                        Box::pin(async move {
                            let prepared = dimona.prepare(&batch).await?;
                            let done = dimona.process_in(tx, prepared, now, None).await?;
                            Ok((done, batch.len()))
                        })
                    },
                )
                .await?;
            self.processed(done, size, started);
            return Ok(());
        }
        let prepared = self.prepare(batch).await?;
        let mut tx = self
            .hub()
            .store()
            .begin_audited(self.hub().config().checkpoint_every)
            .await?;
        let done = self.process_in(&mut tx, prepared, now, None).await?;
        tx.commit().await?;
        self.processed(done, batch.len(), started);
        Ok(())
    }

    /// Receives and processes `rows` in ONE transaction (SQLite's receipt
    /// path): the declarations become durable together with their
    /// outcome, so a receipt costs no separate commit, and there is no
    /// queue to wait in. On an error nothing is written, and the caller
    /// stores the declarations alone for the worker (which retries them
    /// one by one).
    /// `now`: when they were received, and so processed.
    pub(crate) fn receive_and_process(
        &self,
        session: &WriterSession<'_>,
        rows: std::sync::Arc<Vec<kruispunt_store::NewDeclaration>>,
        now: kruispunt_domain::clock::Timestamp,
    ) -> Result<(), HubError> {
        let started = std::time::Instant::now();
        // Owned by the work's future (it may borrow only the transaction).
        let dimona = self.clone();
        let (done, size, (prepared_at, written_at)) = session.audited(
            self.hub().config().checkpoint_every,
            move |tx| -> WriterWork<'_, _, HubError> {
                Box::pin(async move {
                    let batch: Vec<DeclarationRow> = rows
                        .iter()
                        .map(|d| DeclarationRow::received(d, now.millis()))
                        .collect();
                    let prepared = dimona.prepare(&batch).await?;
                    let prepared_at = std::time::Instant::now();
                    let done = dimona.process_in(tx, prepared, now, Some(&rows)).await?;
                    Ok((done, batch.len(), (prepared_at, std::time::Instant::now())))
                })
            },
        )?;
        // Where a pass's time goes (all on the writer thread).
        for (phase, took) in [
            ("prepare", prepared_at - started),
            ("write", written_at - prepared_at),
            ("commit", written_at.elapsed()),
        ] {
            metrics::histogram!("dimona_pass_phase_seconds", "phase" => phase)
                .record(took.as_secs_f64());
        }
        self.processed(done, size, started);
        Ok(())
    }

    /// What needs no transaction: each body parsed and checked, workers
    /// without an SSIN identified, the employers read.
    async fn prepare<'a>(&self, batch: &'a [DeclarationRow]) -> Result<Prepared<'a>, HubError> {
        let store = self.hub().store();
        let mut claimed = Vec::with_capacity(batch.len());
        for row in batch {
            let body: DeclarationJson =
                serde_json::from_str(&row.body).map_err(|e| HubError::Internal(e.to_string()))?;
            let checked = check(&body).map_err(HubError::Invalid)?;
            let ssin = match (checked.kind, checked.ssin) {
                (_, Some(s)) => Some(s),
                (Kind::In, None) => self.identify(&body).await?,
                _ => None,
            };
            claimed.push(Claimed {
                row,
                body,
                checked,
                ssin,
            });
        }
        let mut pass = Pass::default();
        let mut employer_ids: Vec<i64> = claimed.iter().map(|c| c.row.employer_id).collect();
        employer_ids.sort_unstable();
        employer_ids.dedup();
        for id in &employer_ids {
            pass.employers.insert(*id, None);
        }
        // Registers the pass reads but never writes, read before its
        // transaction (on other connections, at the same time): on SQLite
        // the transaction holds the one writer, and every statement in it
        // is a round trip while it does.
        let mut ssins: Vec<String> = claimed
            .iter()
            .filter_map(|c| c.ssin.map(|s| s.to_string()))
            .collect();
        ssins.sort_unstable();
        ssins.dedup();
        let (employers, webhooks, persons) = tokio::join!(
            store.employers(&employer_ids),
            store.notice_webhooks(&employer_ids),
            async {
                if ssins.is_empty() {
                    Ok(Vec::new())
                } else {
                    store.persons(&ssins).await
                }
            }
        );
        for e in employers? {
            pass.employers.insert(e.employer_id.as_i64(), Some(e));
        }
        pass.webhooks = webhooks?;
        for p in persons? {
            pass.persons.insert(p.ssin.to_string(), p);
        }
        Ok(Prepared { claimed, pass })
    }

    /// After the commit: metrics, and the notice webhook worker woken.
    fn processed(&self, done: PassDone, size: usize, started: std::time::Instant) {
        metrics::histogram!("dimona_pass_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("dimona_pass_size").record(size as f64);
        if done.hooks {
            self.notice_wake.notify_one();
        }
        for result in &done.results {
            metrics::counter!("dimona_declarations_processed_total", "result" => result_label(result))
                .increment(1);
        }
    }

    /// The pass inside `tx`: reads under the transaction, decides, writes,
    /// appends the audit entries (the caller commits). `received`: the
    /// declarations were received in this transaction and are not stored
    /// yet (they are stored with their outcomes); otherwise they are
    /// stored and their outcomes are recorded on them.
    async fn process_in(
        &self,
        tx: &mut AuditedTx<'_>,
        prepared: Prepared<'_>,
        now: kruispunt_domain::clock::Timestamp,
        received: Option<&[kruispunt_store::NewDeclaration]>,
    ) -> Result<PassDone, HubError> {
        let hub = self.hub();
        let store = hub.store();
        let today = now.date();
        let Prepared { claimed, mut pass } = prepared;
        let backend = tx.backend();
        // Daily registrations named by modifies and cancels, first: their
        // periods are read with the others.
        let registration_ids: Vec<i64> = claimed
            .iter()
            .filter_map(|c| c.checked.registration_id.map(|r| r.as_i64()))
            .collect();
        let mut registrations = if registration_ids.is_empty() {
            Vec::new()
        } else {
            dimona_pass::daily_registrations_by_id(tx, &registration_ids).await?
        };
        let period_ids: Vec<i64> = claimed
            .iter()
            .filter_map(|c| c.checked.period_id.map(|p| p.as_i64()))
            .chain(registrations.iter().map(|r| r.period_id))
            .collect();
        let mut found = if period_ids.is_empty() {
            Vec::new()
        } else {
            dimona_pass::periods_by_id(tx, &period_ids).await?
        };
        let mut ssins: Vec<String> = claimed
            .iter()
            .filter_map(|c| c.ssin.map(|s| s.to_string()))
            .chain(found.iter().map(|p| p.ssin.clone()))
            .chain(registrations.iter().map(|r| r.ssin.clone()))
            .collect();
        ssins.sort_unstable();
        ssins.dedup();
        dimona_pass::lock_persons(tx, &ssins).await?;
        if backend == Backend::Postgres && !period_ids.is_empty() {
            // Read again under the locks: another node may have changed them.
            found = dimona_pass::periods_by_id(tx, &period_ids).await?;
        }
        if backend == Backend::Postgres && !registration_ids.is_empty() {
            // Likewise (a registration's worker is its period's).
            registrations = dimona_pass::daily_registrations_by_id(tx, &registration_ids).await?;
        }
        for r in registrations {
            pass.registrations.insert(r.registration_id, r);
        }
        // The live registrations of the periods the pass may cancel, move or
        // close (their days must stay inside), and of those it registers
        // days on (overlaps are checked against them).
        let mut registration_periods: Vec<i64> = claimed
            .iter()
            .filter(|c| c.checked.kind != Kind::In)
            .filter_map(|c| c.checked.period_id.map(|p| p.as_i64()))
            .chain(pass.registrations.values().map(|r| r.period_id))
            .collect();
        registration_periods.sort_unstable();
        registration_periods.dedup();
        if !registration_periods.is_empty() {
            for r in dimona_pass::active_daily_registrations_of_periods(tx, &registration_periods)
                .await?
            {
                pass.registrations.entry(r.registration_id).or_insert(r);
            }
        }
        for p in found {
            pass.known(p);
        }
        if !ssins.is_empty() {
            let window = date_window(&claimed, pass.periods.values());
            for p in dimona_pass::live_periods_of_persons(tx, &ssins, window.as_ref()).await? {
                pass.known(p);
            }
            // The workers of the periods named (read with their periods).
            let unknown: Vec<String> = ssins
                .iter()
                .filter(|s| !pass.persons.contains_key(*s))
                .cloned()
                .collect();
            if !unknown.is_empty() {
                for p in store.persons(&unknown).await? {
                    pass.persons.insert(p.ssin.to_string(), p);
                }
            }
        }
        let ins = claimed
            .iter()
            .filter(|c| c.checked.kind == Kind::In && c.ssin.is_some())
            .count() as i64;
        let creates = claimed
            .iter()
            .filter(|c| {
                c.body
                    .daily_registration
                    .as_ref()
                    .and_then(|r| r.attestation_status())
                    .and_then(|s| DailyAction::parse(&s))
                    == Some(DailyAction::Create)
            })
            .count() as i64;
        // Period ids, registration ids and notice numbers: one statement.
        // Each declaration gets one notice.
        let notices = claimed.len() as i64;
        // The writes nothing in the pass reads back go at the end, with the
        // audit entries: on SQLite one round trip to the writer.
        let mut writes = DeferredWrites::new(backend);
        let first = dimona_pass::reserve_many(
            tx,
            &mut writes,
            &[
                ("dimona_period", ins),
                ("daily_registration", creates),
                ("dimona_notice", notices),
            ],
        )
        .await?;
        pass.next_period = first[0];
        pass.end_period = first[0] + ins;
        pass.next_registration = first[1];
        pass.end_registration = first[1] + creates;
        let first_notice = first[2];

        for c in &claimed {
            self.decide(c, &mut pass, now)?;
        }

        let dirty: Vec<PeriodRow> = pass
            .dirty
            .iter()
            .filter_map(|id| pass.periods.get(id).cloned())
            .collect();
        dimona_pass::upsert_periods(&mut writes, &dirty, now.millis());
        dimona_pass::upsert_references(&mut writes, &pass.references, now.millis());
        let registrations: Vec<DailyRegistrationRow> = pass
            .dirty_registrations
            .iter()
            .filter_map(|id| pass.registrations.get(id).cloned())
            .collect();
        dimona_pass::upsert_daily_registrations(&mut writes, &registrations, now.millis());
        Store::notify_changes_deferred(
            tx,
            &mut writes,
            &pass.changes,
            "employment",
            "employment.changed",
            &format_date(today),
            now.millis(),
        )
        .await?;
        if pass.finished.len() != claimed.len() {
            return Err(HubError::Internal(format!(
                "{} outcomes for {} declarations",
                pass.finished.len(),
                claimed.len()
            )));
        }
        match received {
            Some(rows) => dimona_pass::insert_finished_declarations(
                &mut writes,
                rows,
                &pass.finished,
                first_notice,
                now.millis(),
            )?,
            None => {
                // Not deferred: its count says whether another worker
                // processed some of them first.
                let finished = dimona_pass::finish_declarations(
                    tx,
                    &pass.finished,
                    first_notice,
                    now.millis(),
                )
                .await?;
                if finished != pass.finished.len() as u64 {
                    // Their results stand, and this pass must not commit
                    // second periods for them.
                    return Err(HubError::Internal(
                        "declaration already processed by another worker".into(),
                    ));
                }
            }
        }
        // Each notice, to its employer's webhook (sent after the commit).
        let hooks: Vec<(String, String)> = claimed
            .iter()
            .filter_map(|c| {
                Some((
                    c.row.id.clone(),
                    pass.webhooks.get(&c.row.employer_id)?.clone(),
                ))
            })
            .collect();
        dimona_pass::enqueue_notice_deliveries(&mut writes, &hooks, now.millis());
        tx.append_with(writes, &pass.audit, hub.key()).await?;
        Ok(PassDone {
            hooks: !hooks.is_empty(),
            results: pass.finished.iter().map(|f| f.result.clone()).collect(),
        })
    }

    /// Decides one declaration against what the pass knows, and records the
    /// outcome and its effects in the pass.
    fn decide(
        &self,
        c: &Claimed<'_>,
        pass: &mut Pass,
        now: kruispunt_domain::clock::Timestamp,
    ) -> Result<(), HubError> {
        let hub = self.hub();
        let today = now.date();
        let d = c.row;
        let body = &c.body;
        let checked = &c.checked;
        let employer = EmployerId::from_value(d.employer_id as u64)
            .map_err(|e| HubError::Internal(e.to_string()))?;
        let mut anomalies: Vec<AnomalyKind> = Vec::new();
        let mut worker: Option<Value> = None;
        let mut period: Option<PeriodRow> = None;
        let mut changed = false;
        let mut daily: Option<(Option<i64>, Option<Value>)> = None;
        if pass
            .employers
            .get(&d.employer_id)
            .and_then(Option::as_ref)
            .is_none_or(|e| !e.active)
        {
            anomalies.push(anomaly::EMPLOYER_INACTIVE);
        }
        match checked.kind {
            Kind::In => {
                let Some(ssin) = c.ssin else {
                    // Not (yet) identifiable: S, and the declaration waits
                    // for the register (see `reidentify`).
                    return self.finish_pending(d, body, employer, pass, now);
                };
                let ssin = ssin.to_string();
                worker = pass.worker_json(&ssin);
                if worker.is_none() {
                    anomalies.push(anomaly::NOT_IDENTIFIABLE);
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
                let existing = pass.live(d.employer_id, &ssin, None);
                // Only students have a contingent.
                let student_hours = if facts.worker_type.as_deref() == Some("STU") {
                    let year = facts.start.map(|s| s.year()).unwrap_or(today.year());
                    pass.student_hours(&ssin, year)
                } else {
                    0
                };
                anomalies.extend(check_in(&facts, today, &existing, student_hours));
                if DeclarationResult::from_anomalies(&anomalies) != DeclarationResult::B {
                    if pass.next_period >= pass.end_period {
                        return Err(HubError::Internal("no period number reserved".into()));
                    }
                    let seq = pass.next_period;
                    pass.next_period += 1;
                    let pid = DimonaPeriodId::from_sequence(1_000_000_000 + seq as u64)
                        .map_err(|e| HubError::Internal(e.to_string()))?;
                    let p = PeriodRow {
                        period_id: pid.as_i64(),
                        employer_id: d.employer_id,
                        ssin: ssin.clone(),
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
                    pass.reference(reference_of(&p, None));
                    pass.touch(p.clone());
                    changed = true;
                    period = Some(p);
                }
            }
            Kind::DailyRegistration => {
                // A daily registration records presence on a period and
                // changes nothing the hub's institutions are told about: no
                // `employment.changed` (nor a reference change) follows it.
                let decided = decide_daily(c, pass, &mut anomalies)?;
                worker = decided
                    .period
                    .as_ref()
                    .and_then(|p| pass.worker_json(&p.ssin));
                period = decided.period;
                daily = Some((decided.registration_id, decided.impact));
            }
            Kind::Out | Kind::Update | Kind::Cancel => {
                let pid = checked
                    .period_id
                    .ok_or_else(|| HubError::Internal("no period id".into()))?;
                let found = pass
                    .periods
                    .get(&pid.as_i64())
                    .filter(|p| p.employer_id == d.employer_id)
                    .cloned();
                match found {
                    None => anomalies.push(anomaly::PERIOD_UNKNOWN),
                    Some(p) if p.status == "cancelled" => anomalies.push(anomaly::PERIOD_CANCELLED),
                    Some(mut p) => {
                        worker = pass.worker_json(&p.ssin);
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
                                let others = pass.live(d.employer_id, &p.ssin, Some(p.period_id));
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
                        if keep_reference && let Some(new_start) = date(&Some(p.start_date.clone()))
                        {
                            let days: Vec<time::Date> = pass
                                .active_registrations_of(p.period_id)
                                .filter_map(|r| date(&Some(r.start_date.clone())))
                                .collect();
                            for a in check_period_keeps_registrations(
                                new_start,
                                date(&p.end_date),
                                &days,
                            ) {
                                if !anomalies.contains(&a) {
                                    anomalies.push(a);
                                }
                            }
                        }
                        if DeclarationResult::from_anomalies(&anomalies) != DeclarationResult::B {
                            let removed = (!keep_reference).then_some(now.millis());
                            pass.reference(reference_of(&p, removed));
                            if checked.kind == Kind::Cancel {
                                pass.cancel_registrations_of(p.period_id);
                            }
                            pass.touch(p.clone());
                            changed = true;
                        }
                        period = Some(p);
                    }
                }
            }
        }
        let result = DeclarationResult::from_anomalies(&anomalies);
        if let (true, Some(p)) = (changed, &period) {
            pass.changes.push(PersonChange {
                ssin: p.ssin.clone(),
                data: json!({"declaration": checked.kind.code(), "period": period_json(p)})
                    .to_string(),
            });
        }
        pass.finished.push(FinishedDeclaration {
            id: d.id.clone(),
            result: result.code().into(),
            period_id: period
                .as_ref()
                .filter(|_| result != DeclarationResult::B)
                .map(|p| p.period_id),
            anomalies: anomalies_json(&anomalies).to_string(),
            worker: worker.map(|w| w.to_string()),
            ssin: period.as_ref().map(|p| p.ssin.clone()),
            registration_id: daily.as_ref().and_then(|d| d.0),
            registration_impact: daily.and_then(|d| d.1).map(|i| i.to_string()),
        });
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
        Ok(())
    }

    /// A declaration that failed alone: counted, retried when its lease
    /// expires, and after [`MAX_ATTEMPTS`] finished as refused (KP000-001)
    /// so that it neither blocks its file's NOTIFICATION nor loops forever.
    async fn failed_attempt(&self, d: &DeclarationRow, e: &HubError) -> Result<(), HubError> {
        let hub = self.hub();
        // Retried when a lease would have expired (not at once: a
        // transient fault gets time to pass before the next attempt).
        let retry_at = hub.now().millis() + crate::LEASE_MS;
        let attempts = hub.store().record_failed_attempt(&d.id, retry_at).await?;
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
            tx.conn()?,
            &d.id,
            DeclarationResult::B.code(),
            None,
            &anomalies_json(&[anomaly::NOT_PROCESSABLE]).to_string(),
            None,
            now.millis(),
        )
        .await?;
        if finished {
            let backend = tx.backend();
            let hooks = dimona_pass::notice_webhooks_in(tx.conn()?, backend, &[d.employer_id])
                .await?
                .into_values()
                .map(|url| (d.id.clone(), url))
                .collect::<Vec<_>>();
            let mut writes = DeferredWrites::new(backend);
            dimona_pass::enqueue_notice_deliveries(&mut writes, &hooks, now.millis());
            tx.append_with(
                writes,
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
    fn finish_pending(
        &self,
        d: &DeclarationRow,
        body: &DeclarationJson,
        employer: EmployerId,
        pass: &mut Pass,
        now: kruispunt_domain::clock::Timestamp,
    ) -> Result<(), HubError> {
        let worker = body.worker.as_ref().map(|w| {
            json!({"familyName": w.family_name, "givenName": w.given_name,
                   "birthDate": w.birth_date, "gender": w.gender})
            .to_string()
        });
        pass.finished.push(FinishedDeclaration {
            id: d.id.clone(),
            result: DeclarationResult::S.code().into(),
            period_id: None,
            anomalies: "[]".into(),
            worker,
            ssin: None,
            registration_id: None,
            registration_impact: None,
        });
        pass.audit.push(AuditDraft {
            ticket: self.hub().ticket(),
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
