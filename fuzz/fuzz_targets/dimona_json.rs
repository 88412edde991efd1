//! The Dimona REST v2 door on arbitrary bytes, as `POST
//! /REST/dimona/v2/declarations` reads them: the body as JSON (axum's
//! `Json<Value>`), the value as a `DeclarationJson` (`Dimona::submit`), then
//! the door checks (`declaration::check`); an accepted IN also goes through
//! the rules that need no store (`kruispunt validate`). Nothing may panic; a
//! refusal names one of the declaration's fields; an accepted declaration
//! has exactly one kind, its employer, and the worker or period id its kind
//! needs, each equal to what the body says.
#![no_main]

use kruispunt_dimona_wire::{DeclarationJson, EmployerRef, Kind, check};
use kruispunt_domain::clock::parse_date;
use kruispunt_domain::dimona::{
    DailyAction, DailyFacts, DailyPeriod, DailyState, ExistingPeriod, InFacts, WorkerType,
    check_daily_on, check_daily_registration, check_in, check_out,
};
use kruispunt_domain::ids::{
    DailyRegistrationId, DimonaPeriodId, EmployerId, EnterpriseNumber, Ssin,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::macros::date;

/// Every field a refusal may name.
const FIELDS: &[&str] = &[
    "employer",
    "employer.employerId",
    "employer.enterpriseNumber",
    "worker.ssin",
    "worker.birthDate",
    "dimonaIn",
    "dimonaIn.startDate",
    "dimonaIn.endDate",
    "dimonaOut",
    "dimonaOut.periodId",
    "dimonaOut.endDate",
    "dimonaUpdate",
    "dimonaUpdate.periodId",
    "dimonaUpdate.startDate",
    "dimonaUpdate.endDate",
    "dimonaCancel",
    "dimonaCancel.periodId",
    "dailyRegistration",
    "dailyRegistration.attestationStatus",
    "dailyRegistration.registrationId",
    "dailyRegistration.periodId",
    "dailyRegistration.startDate",
    "dailyRegistration.endDate",
];

fn period_in_body(v: &Option<Value>) -> Option<DimonaPeriodId> {
    match v.as_ref()? {
        Value::Number(n) => DimonaPeriodId::parse(&format!("{:012}", n.as_u64()?)).ok(),
        Value::String(s) => DimonaPeriodId::parse(s).ok(),
        _ => None,
    }
}

fn dates_ok(ds: &[&Option<String>]) -> bool {
    ds.iter()
        .all(|d| d.as_deref().is_none_or(|d| parse_date("d", d).is_ok()))
}

fuzz_target!(|data: &[u8]| {
    // Malformed JSON is axum's 400 before any of our code runs; the typed
    // reader must not panic on it either.
    let _ = serde_json::from_slice::<DeclarationJson>(data);
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Not the shape of a declaration: `submit` refuses it as field "body".
    let Ok(d) = serde_json::from_value::<DeclarationJson>(body) else {
        return;
    };
    if let Some(w) = &d.worker
        && let Some(id) = w.identity()
    {
        assert!(!id.family_name.trim().is_empty() && !id.given_name.trim().is_empty());
        assert!(parse_date("b", &id.birth_date).is_ok());
    }
    let c = match check(&d) {
        Err(refusal) => {
            assert!(
                FIELDS.contains(&refusal.field.as_str()),
                "refusal names no field of the declaration: {:?}",
                refusal.field
            );
            assert!(!refusal.message.is_empty());
            return;
        }
        Ok(c) => c,
    };
    let present = [
        (Kind::In, d.dimona_in.is_some()),
        (Kind::Out, d.dimona_out.is_some()),
        (Kind::Update, d.dimona_update.is_some()),
        (Kind::Cancel, d.dimona_cancel.is_some()),
        (Kind::DailyRegistration, d.daily_registration.is_some()),
    ];
    let kinds: Vec<Kind> = present.iter().filter(|p| p.1).map(|p| p.0).collect();
    assert_eq!(kinds, vec![c.kind], "exactly one kind, the one checked");

    let e = d.employer.as_ref().expect("accepted without an employer");
    match c.employer {
        EmployerRef::Id(id) => {
            let given = match e.employer_id.as_ref().expect("employerId") {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => panic!("employerId accepted as {other}"),
            };
            assert_eq!(EmployerId::parse(&given).ok(), Some(id));
        }
        EmployerRef::Enterprise(en) => {
            assert!(e.employer_id.is_none());
            let given = e.enterprise_number.as_deref().expect("enterpriseNumber");
            assert_eq!(EnterpriseNumber::parse(given).ok(), Some(en));
        }
    }
    let ssin_given = d.worker.as_ref().and_then(|w| w.ssin.as_deref());
    assert_eq!(c.ssin, ssin_given.and_then(|s| Ssin::parse(s).ok()));
    assert_eq!(c.ssin.is_some(), ssin_given.is_some());

    let today = date!(2026 - 11 - 29);
    match c.kind {
        Kind::In => {
            let i = d.dimona_in.as_ref().expect("dimonaIn");
            assert!(c.period_id.is_none());
            assert!(
                c.ssin.is_some() || d.worker.as_ref().and_then(|w| w.identity()).is_some(),
                "an IN accepted with no way to identify the worker"
            );
            assert!(dates_ok(&[&i.start_date, &i.end_date]));
            let day = |s: &Option<String>| s.as_deref().and_then(|s| parse_date("d", s).ok());
            let facts = InFacts {
                start: day(&i.start_date),
                end: day(&i.end_date),
                start_hour: i.start_hour.clone(),
                end_hour: i.end_hour.clone(),
                planned_hours: i.planned_hours_number,
                worker_type: i.features.as_ref().and_then(|f| f.worker_type.clone()),
                joint_committee: i
                    .features
                    .as_ref()
                    .and_then(|f| f.joint_commission_number.clone()),
            };
            // As the processing worker calls it: an existing period of the
            // same worker, and student hours already planned this year.
            let existing = [ExistingPeriod {
                start: today,
                end: None,
                worker_type: WorkerType::Stu,
            }];
            let _ = check_in(&facts, today, &[], 0);
            let _ = check_in(&facts, today, &existing, 400);
        }
        Kind::Out => {
            let o = d.dimona_out.as_ref().expect("dimonaOut");
            assert_eq!(c.period_id, period_in_body(&o.period_id));
            assert!(c.period_id.is_some());
            assert!(dates_ok(&[&o.end_date]));
            let end = o.end_date.as_deref().and_then(|s| parse_date("d", s).ok());
            let _ = check_out(today, end, today);
        }
        Kind::Update => {
            let u = d.dimona_update.as_ref().expect("dimonaUpdate");
            assert_eq!(c.period_id, period_in_body(&u.period_id));
            assert!(c.period_id.is_some());
            assert!(dates_ok(&[&u.start_date, &u.end_date]));
        }
        Kind::Cancel => {
            let x = d.dimona_cancel.as_ref().expect("dimonaCancel");
            assert_eq!(c.period_id, period_in_body(&x.period_id));
            assert!(c.period_id.is_some());
        }
        Kind::DailyRegistration => {
            let r = d.daily_registration.as_ref().expect("dailyRegistration");
            assert_eq!(c.period_id, period_in_body(&r.period_id));
            let rid = period_in_body(&r.registration_id)
                .and_then(|p| DailyRegistrationId::parse(&p.to_string()).ok());
            assert_eq!(c.registration_id, rid);
            assert!(r.attestation_status().is_some());
            assert!(dates_ok(&[&r.start_date, &r.end_date]));
            let day = |s: &Option<String>| s.as_deref().and_then(|s| parse_date("d", s).ok());
            let facts = DailyFacts {
                attestation_status: r.attestation_status(),
                has_registration_id: c.registration_id.is_some(),
                has_period_id: c.period_id.is_some(),
                start: day(&r.start_date),
                start_hour: r.start_hour.clone(),
                end: day(&r.end_date),
                end_hour: r.end_hour.clone(),
            };
            // As the processing worker calls them: the declaration alone,
            // then against a stored registration on an open period.
            let (action, found) = check_daily_registration(&facts);
            assert_eq!(action.is_some(), DailyAction::parse(&facts.attestation_status.clone().unwrap_or_default()).is_some());
            if let Some(action) = action.filter(|_| found.is_empty()) {
                let stored = DailyState {
                    start: today,
                    start_hour: "1800".into(),
                    end: None,
                    end_hour: None,
                };
                let period = DailyPeriod {
                    start: today,
                    end: None,
                    cancelled: false,
                };
                let out = check_daily_on(action, &facts, Some((&stored, false)), Some(&period));
                assert_eq!(out.after.is_some(), out.anomalies.is_empty() && action != DailyAction::Cancel);
            }
        }
    }
});
