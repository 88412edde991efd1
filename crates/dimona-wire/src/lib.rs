//! The ONSS Dimona REST v2 JSON, parsed at the door: structural errors are a
//! 400 naming the field; business rules become anomalies when processed.

use kruispunt_domain::Invalid;
use kruispunt_domain::clock::parse_date;
use kruispunt_domain::ids::{
    DailyRegistrationId, DimonaPeriodId, EmployerId, EnterpriseNumber, Ssin,
};
use serde::Deserialize;
use serde_json::Value;

/// Unknown fields are accepted (payroll software sends fields kruispunt
/// does not use yet); known fields are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclarationJson {
    pub employer: Option<EmployerJson>,
    pub worker: Option<WorkerJson>,
    pub dimona_in: Option<InJson>,
    pub dimona_out: Option<OutJson>,
    pub dimona_update: Option<UpdateJson>,
    pub dimona_cancel: Option<CancelJson>,
    /// kruispunt's extension for the batch channel's
    /// `DailyRegistrationDeclaration` (block 90480): the ONSS REST v2 has
    /// no daily registrations, and `POST /REST/dimona/v2/declarations`
    /// refuses this key; batch forms are converted to it so that both
    /// channels share the door checks and the processing.
    pub daily_registration: Option<DailyJson>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployerJson {
    pub employer_id: Option<Value>,
    pub enterprise_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerJson {
    pub ssin: Option<String>,
    /// A worker without an SSIN is identified by these three (and the
    /// gender, when given) against the National Register.
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
}

/// Who the worker is when the declaration gives no SSIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerIdentity {
    pub family_name: String,
    pub given_name: String,
    pub birth_date: String,
}

impl WorkerJson {
    /// The identity data, when complete (names not blank, a valid date).
    pub fn identity(&self) -> Option<WorkerIdentity> {
        let name = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let birth = self
            .birth_date
            .as_deref()
            .filter(|d| parse_date("worker.birthDate", d).is_ok())?;
        Some(WorkerIdentity {
            family_name: name(&self.family_name)?,
            given_name: name(&self.given_name)?,
            birth_date: birth.trim().to_owned(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeaturesJson {
    pub joint_commission_number: Option<String>,
    pub worker_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InJson {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub start_hour: Option<String>,
    pub end_hour: Option<String>,
    pub planned_hours_number: Option<i64>,
    pub features: Option<FeaturesJson>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutJson {
    pub period_id: Option<Value>,
    pub end_date: Option<String>,
    pub end_hour: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJson {
    pub period_id: Option<Value>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub start_hour: Option<String>,
    pub end_hour: Option<String>,
    pub planned_hours_number: Option<i64>,
    pub features: Option<FeaturesJson>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelJson {
    pub period_id: Option<Value>,
}

/// A daily registration (`dailyRegistration`): `attestationStatus` 0
/// creates one on `periodId`, 1 modifies and 3 cancels `registrationId`.
/// Which fields each needs is a processing rule (anomalies), not a door
/// check.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyJson {
    pub attestation_status: Option<Value>,
    pub registration_id: Option<Value>,
    pub period_id: Option<Value>,
    pub start_date: Option<String>,
    pub start_hour: Option<String>,
    pub end_date: Option<String>,
    pub end_hour: Option<String>,
}

impl DailyJson {
    /// The attestation status as text (a JSON string or integer).
    pub fn attestation_status(&self) -> Option<String> {
        match self.attestation_status.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    In,
    Out,
    Update,
    Cancel,
    /// A daily registration (batch channel only).
    DailyRegistration,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Self::In => "IN",
            Self::Out => "OUT",
            Self::Update => "UPDATE",
            Self::Cancel => "CANCEL",
            Self::DailyRegistration => "DAILY",
        }
    }
    pub fn json_key(self) -> &'static str {
        match self {
            Self::In => "dimonaIn",
            Self::Out => "dimonaOut",
            Self::Update => "dimonaUpdate",
            Self::Cancel => "dimonaCancel",
            Self::DailyRegistration => "dailyRegistration",
        }
    }
}

/// Which employer the declaration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmployerRef {
    Id(EmployerId),
    Enterprise(EnterpriseNumber),
}

/// What the door checks: a well-formed declaration of one kind.
#[derive(Debug, Clone)]
pub struct Checked {
    pub kind: Kind,
    pub employer: EmployerRef,
    pub ssin: Option<Ssin>,
    pub period_id: Option<DimonaPeriodId>,
    /// A daily registration's id (modify, cancel).
    pub registration_id: Option<DailyRegistrationId>,
}

fn period_id(field: &str, v: Option<&Value>) -> Result<DimonaPeriodId, Invalid> {
    let s = match v {
        // A negative or fractional number is no period id (it used to be read
        // as period 000000000000).
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => format!("{n:012}"),
            None => {
                return Err(Invalid::new(
                    field,
                    "must be a Dimona period id (12 digits)",
                ));
            }
        },
        Some(Value::String(s)) => s.clone(),
        None => return Err(Invalid::new(field, "is required")),
        _ => {
            return Err(Invalid::new(
                field,
                "must be a Dimona period id (12 digits)",
            ));
        }
    };
    DimonaPeriodId::parse(&s).map_err(|e| Invalid::id(field, "the Dimona period id", e))
}

/// An optional identifier: absent is fine (the rules judge whether it is
/// needed); present must be valid.
fn optional_id<T>(
    field: &str,
    what: &str,
    v: Option<&Value>,
    parse: impl Fn(&str) -> Result<T, kruispunt_domain::ids::IdError>,
) -> Result<Option<T>, Invalid> {
    let s = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => format!("{n:012}"),
            None => return Err(Invalid::new(field, format!("must be {what} (12 digits)"))),
        },
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Invalid::new(field, format!("must be {what} (12 digits)"))),
    };
    parse(&s).map(Some).map_err(|e| Invalid::id(field, what, e))
}

fn date(field: &str, v: &Option<String>) -> Result<(), Invalid> {
    match v {
        Some(d) => parse_date(field, d).map(|_| ()),
        None => Ok(()),
    }
}

pub fn check(d: &DeclarationJson) -> Result<Checked, Invalid> {
    let kinds = [
        (Kind::In, d.dimona_in.is_some()),
        (Kind::Out, d.dimona_out.is_some()),
        (Kind::Update, d.dimona_update.is_some()),
        (Kind::Cancel, d.dimona_cancel.is_some()),
        (Kind::DailyRegistration, d.daily_registration.is_some()),
    ];
    let present: Vec<Kind> = kinds.iter().filter(|(_, p)| *p).map(|(k, _)| *k).collect();
    let kind = match present.as_slice() {
        [k] => *k,
        [] => {
            return Err(Invalid::new(
                "dimonaIn",
                "one of dimonaIn, dimonaOut, dimonaUpdate or dimonaCancel is required",
            ));
        }
        _ => {
            return Err(Invalid::new(
                "dimonaIn",
                "only one of dimonaIn, dimonaOut, dimonaUpdate, dimonaCancel per declaration",
            ));
        }
    };
    let e = d
        .employer
        .as_ref()
        .ok_or_else(|| Invalid::new("employer", "is required (employerId or enterpriseNumber)"))?;
    let employer = match (&e.employer_id, &e.enterprise_number) {
        (Some(v), _) => {
            let s = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => {
                    return Err(Invalid::new(
                        "employer.employerId",
                        "must be an ONSS number",
                    ));
                }
            };
            EmployerRef::Id(
                EmployerId::parse(&s)
                    .map_err(|e| Invalid::id("employer.employerId", "the ONSS number", e))?,
            )
        }
        (None, Some(en)) => {
            EmployerRef::Enterprise(EnterpriseNumber::parse(en).map_err(|e| {
                Invalid::id("employer.enterpriseNumber", "the enterprise number", e)
            })?)
        }
        (None, None) => {
            return Err(Invalid::new(
                "employer",
                "needs employerId or enterpriseNumber",
            ));
        }
    };
    let ssin = match d.worker.as_ref().and_then(|w| w.ssin.as_deref()) {
        Some(s) => Some(Ssin::parse(s).map_err(|e| Invalid::id("worker.ssin", "the SSIN", e))?),
        None => None,
    };
    let mut pid = None;
    let mut registration_id = None;
    match kind {
        Kind::In => {
            let i = d
                .dimona_in
                .as_ref()
                .ok_or_else(|| Invalid::new("dimonaIn", "is required"))?;
            if ssin.is_none() {
                let w = d.worker.as_ref();
                if let Some(b) = w.and_then(|w| w.birth_date.as_deref()) {
                    parse_date("worker.birthDate", b)?;
                }
                if w.and_then(WorkerJson::identity).is_none() {
                    return Err(Invalid::new(
                        "worker.ssin",
                        "is required for a Dimona IN, unless the worker is identified by familyName, givenName and birthDate",
                    ));
                }
            }
            date("dimonaIn.startDate", &i.start_date)?;
            date("dimonaIn.endDate", &i.end_date)?;
        }
        Kind::Out => {
            let o = d
                .dimona_out
                .as_ref()
                .ok_or_else(|| Invalid::new("dimonaOut", "is required"))?;
            pid = Some(period_id("dimonaOut.periodId", o.period_id.as_ref())?);
            date("dimonaOut.endDate", &o.end_date)?;
        }
        Kind::Update => {
            let u = d
                .dimona_update
                .as_ref()
                .ok_or_else(|| Invalid::new("dimonaUpdate", "is required"))?;
            pid = Some(period_id("dimonaUpdate.periodId", u.period_id.as_ref())?);
            date("dimonaUpdate.startDate", &u.start_date)?;
            date("dimonaUpdate.endDate", &u.end_date)?;
        }
        Kind::Cancel => {
            let c = d
                .dimona_cancel
                .as_ref()
                .ok_or_else(|| Invalid::new("dimonaCancel", "is required"))?;
            pid = Some(period_id("dimonaCancel.periodId", c.period_id.as_ref())?);
        }
        Kind::DailyRegistration => {
            let r = d
                .daily_registration
                .as_ref()
                .ok_or_else(|| Invalid::new("dailyRegistration", "is required"))?;
            if r.attestation_status.is_none() {
                return Err(Invalid::new(
                    "dailyRegistration.attestationStatus",
                    "is required (0 create, 1 modify, 3 cancel)",
                ));
            }
            if r.attestation_status().is_none() {
                return Err(Invalid::new(
                    "dailyRegistration.attestationStatus",
                    "must be 0 (create), 1 (modify) or 3 (cancel)",
                ));
            }
            registration_id = optional_id(
                "dailyRegistration.registrationId",
                "the daily registration id",
                r.registration_id.as_ref(),
                DailyRegistrationId::parse,
            )?;
            pid = optional_id(
                "dailyRegistration.periodId",
                "the Dimona period id",
                r.period_id.as_ref(),
                DimonaPeriodId::parse,
            )?;
            date("dailyRegistration.startDate", &r.start_date)?;
            date("dailyRegistration.endDate", &r.end_date)?;
        }
    }
    Ok(Checked {
        kind,
        employer,
        ssin,
        period_id: pid,
        registration_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "93051822361";

    fn door(body: Value) -> Result<Checked, Invalid> {
        let parsed: DeclarationJson = serde_json::from_value(body).expect("shape");
        check(&parsed)
    }

    fn refused_field(body: Value) -> String {
        door(body).expect_err("refused").field
    }

    #[test]
    fn an_in_by_ssin_is_accepted_with_its_employer_and_worker() {
        let c = door(json!({"employer": {"employerId": 935467}, "worker": {"ssin": P},
            "dimonaIn": {"startDate": "2026-12-01", "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}}))
        .expect("accepted");
        assert_eq!(c.kind, Kind::In);
        assert_eq!(
            c.employer,
            EmployerRef::Id(EmployerId::parse("935467").expect("id"))
        );
        assert_eq!(c.ssin, Some(Ssin::parse(P).expect("ssin")));
        assert_eq!(c.period_id, None);
    }

    #[test]
    fn an_in_by_identity_needs_names_and_a_valid_birth_date() {
        let body = |family: &str, birth: &str| {
            json!({"employer": {"enterpriseNumber": "0403.199.702"},
                   "worker": {"familyName": family, "givenName": "Jan", "birthDate": birth},
                   "dimonaIn": {"startDate": "2026-12-01"}})
        };
        let c = door(body("Peeters", "1993-05-18")).expect("accepted");
        assert!(matches!(c.employer, EmployerRef::Enterprise(_)));
        assert_eq!(c.ssin, None);
        assert_eq!(refused_field(body("  ", "1993-05-18")), "worker.ssin");
        assert_eq!(
            refused_field(body("Peeters", "1993-02-30")),
            "worker.birthDate"
        );
    }

    #[test]
    fn out_update_cancel_need_a_valid_period_id_as_number_or_text() {
        let pid = DimonaPeriodId::from_sequence(42).expect("pid");
        for key in ["dimonaOut", "dimonaUpdate", "dimonaCancel"] {
            for v in [json!(pid.value()), json!(format!("{:012}", pid.value()))] {
                let c = door(json!({"employer": {"employerId": 935467}, key: {"periodId": v}}))
                    .expect("accepted");
                assert_eq!(c.kind.json_key(), key);
                assert_eq!(c.period_id, Some(pid));
            }
            for bad in [json!(4243), json!(-1), json!(1.5), json!(true), json!("x")] {
                let f = refused_field(
                    json!({"employer": {"employerId": 935467}, key: {"periodId": bad}}),
                );
                assert_eq!(f, format!("{key}.periodId"));
            }
            assert_eq!(
                refused_field(json!({"employer": {"employerId": 935467}, key: {}})),
                format!("{key}.periodId")
            );
        }
    }

    #[test]
    fn a_daily_registration_is_checked_for_its_identifiers_and_dates() {
        let pid = DimonaPeriodId::from_sequence(1_000_000_042).expect("pid");
        let rid = DailyRegistrationId::from_counter(7).expect("rid");
        let c = door(json!({"employer": {"employerId": 935467}, "dailyRegistration": {
            "attestationStatus": "0", "periodId": format!("{pid}"), "startDate": "2026-12-05", "startHour": "1800"}}))
        .expect("accepted");
        assert_eq!(c.kind, Kind::DailyRegistration);
        assert_eq!(
            (c.period_id, c.registration_id, c.ssin),
            (Some(pid), None, None)
        );
        let c = door(
            json!({"employer": {"employerId": 935467}, "dailyRegistration": {
            "attestationStatus": 3, "registrationId": rid.value()}}),
        )
        .expect("accepted");
        assert_eq!((c.period_id, c.registration_id), (None, Some(rid)));
        // Unknown statuses pass the door: the rules refuse them (00110-003).
        assert!(door(json!({"employer": {"employerId": 935467}, "dailyRegistration": {"attestationStatus": "2"}})).is_ok());
        let refused = |daily: Value| {
            refused_field(json!({"employer": {"employerId": 935467}, "dailyRegistration": daily}))
        };
        assert_eq!(refused(json!({})), "dailyRegistration.attestationStatus");
        assert_eq!(
            refused(json!({"attestationStatus": [0]})),
            "dailyRegistration.attestationStatus"
        );
        for bad in [json!("123456789000"), json!(-1), json!(true)] {
            assert_eq!(
                refused(json!({"attestationStatus": "1", "registrationId": bad})),
                "dailyRegistration.registrationId"
            );
            assert_eq!(
                refused(json!({"attestationStatus": "0", "periodId": bad})),
                "dailyRegistration.periodId"
            );
        }
        assert_eq!(
            refused(json!({"attestationStatus": "0", "startDate": "2026-02-30"})),
            "dailyRegistration.startDate"
        );
        assert_eq!(
            refused(json!({"attestationStatus": "0", "endDate": "x"})),
            "dailyRegistration.endDate"
        );
        assert_eq!(Kind::DailyRegistration.json_key(), "dailyRegistration");
        assert_eq!(Kind::DailyRegistration.code(), "DAILY");
    }

    #[test]
    fn refusals_name_the_field() {
        let emp = json!({"employerId": 935467});
        assert_eq!(refused_field(json!({"employer": emp})), "dimonaIn");
        assert_eq!(
            refused_field(json!({"employer": emp, "dimonaIn": {}, "dimonaCancel": {}})),
            "dimonaIn"
        );
        assert_eq!(
            refused_field(json!({"worker": {"ssin": P}, "dimonaIn": {}})),
            "employer"
        );
        assert_eq!(
            refused_field(json!({"employer": {}, "worker": {"ssin": P}, "dimonaIn": {}})),
            "employer"
        );
        assert_eq!(
            refused_field(
                json!({"employer": {"employerId": [1]}, "worker": {"ssin": P}, "dimonaIn": {}})
            ),
            "employer.employerId"
        );
        assert_eq!(
            refused_field(
                json!({"employer": {"enterpriseNumber": "0403.199.703"}, "worker": {"ssin": P}, "dimonaIn": {}})
            ),
            "employer.enterpriseNumber"
        );
        assert_eq!(
            refused_field(
                json!({"employer": emp, "worker": {"ssin": "93051822362"}, "dimonaIn": {}})
            ),
            "worker.ssin"
        );
        assert_eq!(
            refused_field(
                json!({"employer": emp, "worker": {"ssin": P}, "dimonaIn": {"startDate": "2026-13-01"}})
            ),
            "dimonaIn.startDate"
        );
        assert_eq!(
            refused_field(
                json!({"employer": emp, "dimonaOut": {"periodId": 4242, "endDate": "x"}})
            ),
            "dimonaOut.endDate"
        );
    }
}
