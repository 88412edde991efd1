//! A batch form as the ONSS REST v2 JSON, so that both channels go through
//! the same door checks and the same processing. Each JSON field keeps the
//! XML value it came from, for anomalies that point into the file.

use crate::reader::{Form, Value};
use serde_json::{Map, json};

/// The v2 key of a form kind. Daily registrations have no REST v2
/// equivalent: they become kruispunt's extension `dailyRegistration`.
pub fn json_key(kind: &str) -> Option<&'static str> {
    match kind {
        "DimonaIn" => Some("dimonaIn"),
        "DimonaOut" => Some("dimonaOut"),
        "DimonaUpdate" => Some("dimonaUpdate"),
        "DimonaCancel" => Some("dimonaCancel"),
        "DailyRegistrationDeclaration" => Some("dailyRegistration"),
        _ => None,
    }
}

/// Where a v2 JSON field (`worker.ssin`, `dimonaIn.startDate`) comes from in
/// the form: the XML paths relative to the form, in order of preference.
fn sources(kind: &str, field: &str) -> Vec<String> {
    let k = kind;
    let tail = field.split_once('.').map_or(field, |(_, t)| t);
    match field {
        "employer" | "employer.employerId" => vec![
            format!("{k}/EmployerId/NOSSRegistrationNbr"),
            format!("{k}/EmployerId/ProvisionalNSSONbr"),
        ],
        "employer.enterpriseNumber" => vec![format!("{k}/EmployerId/CompanyID")],
        "worker" | "worker.ssin" => vec![format!("{k}/NaturalPerson/INSS"), format!("{k}/INSS")],
        "worker.familyName" => vec![format!("{k}/NaturalPerson/WorkerName")],
        "worker.givenName" => vec![format!("{k}/NaturalPerson/WorkerFirstName")],
        "worker.birthDate" => vec![format!("{k}/NaturalPerson/WorkerBirthdate")],
        _ => {
            let tag = match tail {
                "periodId" => "DimonaPeriodId",
                "registrationId" => "DailyRegistrationId",
                "attestationStatus" => "AttestationStatus",
                "startDate" => "StartingDate",
                "endDate" => "EndingDate",
                "startHour" => "StartingHour",
                "endHour" => "EndingHour",
                "plannedHoursNumber" => "PlannedHoursNbr",
                "features.jointCommissionNumber" => "DimonaFeatures/JointCommissionNbr",
                "features.workerType" => "DimonaFeatures/WorkerType",
                _ => return vec![],
            };
            vec![format!("{k}/{tag}")]
        }
    }
}

impl Form {
    /// The XML value a v2 JSON field was read from, if any.
    pub fn source_of(&self, field: &str) -> Option<&Value> {
        sources(self.kind, field).iter().find_map(|p| self.get(p))
    }

    /// The form as a v2 declaration. `sender`: the ONSS number used when
    /// the form names no employer (the schema makes EmployerId optional).
    pub fn to_v2_json(&self, sender: Option<u64>) -> Option<serde_json::Value> {
        let key = json_key(self.kind)?;
        let k = self.kind;
        let text = |tag: &str| self.get(&format!("{k}/{tag}")).map(|v| v.text.clone());
        let mut employer = Map::new();
        if let Some(n) = text("EmployerId/NOSSRegistrationNbr")
            .or_else(|| text("EmployerId/ProvisionalNSSONbr"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            employer.insert("employerId".into(), json!(n));
        }
        if let Some(c) = text("EmployerId/CompanyID") {
            employer.insert("enterpriseNumber".into(), json!(format!("{c:0>10}")));
        }
        if let Some(n) = sender.filter(|_| employer.is_empty()) {
            employer.insert("employerId".into(), json!(n));
        }
        let mut worker = Map::new();
        if let Some(inss) = text("NaturalPerson/INSS")
            .or_else(|| text("INSS"))
            .filter(|i| i != "0")
        {
            worker.insert("ssin".into(), json!(inss));
        }
        for (tag, field) in [
            ("NaturalPerson/WorkerName", "familyName"),
            ("NaturalPerson/WorkerFirstName", "givenName"),
            ("NaturalPerson/WorkerBirthdate", "birthDate"),
        ] {
            if let Some(v) = text(tag) {
                worker.insert(field.into(), json!(v));
            }
        }
        if let Some(sex) = text("NaturalPerson/WorkerSex") {
            worker.insert("gender".into(), json!(if sex == "1" { "M" } else { "F" }));
        }
        let mut body = Map::new();
        if k == "DailyRegistrationDeclaration" {
            // Within the block, not the form's own AttestationStatus.
            if let Some(s) = text("AttestationStatus") {
                body.insert("attestationStatus".into(), json!(s));
            }
            if let Some(r) = text("DailyRegistrationId") {
                body.insert("registrationId".into(), json!(format!("{r:0>12}")));
            }
        }
        if let Some(p) = text("DimonaPeriodId") {
            body.insert("periodId".into(), json!(format!("{p:0>12}")));
        }
        for (tag, field) in [
            ("StartingDate", "startDate"),
            ("EndingDate", "endDate"),
            ("StartingHour", "startHour"),
            ("EndingHour", "endHour"),
        ] {
            if let Some(v) = text(tag) {
                body.insert(field.into(), json!(v));
            }
        }
        if let Some(h) = text("PlannedHoursNbr").and_then(|h| h.parse::<i64>().ok()) {
            body.insert("plannedHoursNumber".into(), json!(h));
        }
        if let Some(d) = text("PlannedDaysNbr").and_then(|h| h.parse::<i64>().ok()) {
            body.insert("plannedDaysNumber".into(), json!(d));
        }
        let mut features = Map::new();
        if let Some(jc) = text("DimonaFeatures/JointCommissionNbr") {
            features.insert("jointCommissionNumber".into(), json!(jc));
        }
        if let Some(wt) = text("DimonaFeatures/WorkerType") {
            features.insert("workerType".into(), json!(wt));
        }
        if !features.is_empty() {
            body.insert("features".into(), serde_json::Value::Object(features));
        }
        let mut out = Map::new();
        if !employer.is_empty() {
            out.insert("employer".into(), serde_json::Value::Object(employer));
        }
        if !worker.is_empty() {
            out.insert("worker".into(), serde_json::Value::Object(worker));
        }
        out.insert(key.into(), serde_json::Value::Object(body));
        Some(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use crate::reader::{Limits, ReadOutcome, read_dimona_file};

    #[test]
    fn a_dimona_in_becomes_v2_json_with_its_sources() {
        let xml = "<Dimona><Form><Identification>DIMONA</Identification><FormCreationDate>2023-02-06</FormCreationDate><FormCreationHour>14:35:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>\n<DimonaIn>\n<StartingDate>2023-02-08</StartingDate>\n<EndingDate>2023-02-08</EndingDate>\n<EmployerId><NOSSRegistrationNbr>175110801</NOSSRegistrationNbr></EmployerId>\n<NaturalPerson><INSS>01410199955</INSS></NaturalPerson>\n<DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>TRI</WorkerType></DimonaFeatures>\n</DimonaIn></Form></Dimona>";
        let Ok(ReadOutcome::Accepted(forms)) = read_dimona_file(xml.as_bytes(), &Limits::default())
        else {
            panic!("refused")
        };
        let json = forms[0].to_v2_json(None);
        assert_eq!(
            json,
            Some(serde_json::json!({
                "employer": {"employerId": 175110801},
                "worker": {"ssin": "01410199955"},
                "dimonaIn": {"startDate": "2023-02-08", "endDate": "2023-02-08",
                    "features": {"jointCommissionNumber": "XXX", "workerType": "TRI"}}
            }))
        );
        let src = forms[0].source_of("worker.ssin").map(|v| (v.zone, v.line));
        assert_eq!(src, Some(("00024", 6)));
        assert_eq!(
            forms[0].source_of("dimonaIn.startDate").map(|v| v.zone),
            Some("00910")
        );
    }

    #[test]
    fn a_daily_registration_becomes_the_extension_key_with_its_sources() {
        let xml = "<Dimona><Form><Identification>DIMONA</Identification><FormCreationDate>2023-02-06</FormCreationDate><FormCreationHour>14:35:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>\n<DailyRegistrationDeclaration>\n<AttestationStatus>1</AttestationStatus>\n<DailyRegistrationId>500000000012</DailyRegistrationId>\n<StartingDate>2023-02-08</StartingDate>\n<StartingHour>1800</StartingHour>\n</DailyRegistrationDeclaration></Form></Dimona>";
        let Ok(ReadOutcome::Accepted(forms)) = read_dimona_file(xml.as_bytes(), &Limits::default())
        else {
            panic!("refused")
        };
        assert_eq!(
            forms[0].to_v2_json(Some(935467)),
            Some(serde_json::json!({
                "employer": {"employerId": 935467},
                "dailyRegistration": {"attestationStatus": "1", "registrationId": "500000000012",
                    "startDate": "2023-02-08", "startHour": "1800"}
            }))
        );
        let at = |field: &str| forms[0].source_of(field).map(|v| (v.zone, v.line));
        assert_eq!(
            at("dailyRegistration.attestationStatus"),
            Some(("00110", 3))
        );
        assert_eq!(at("dailyRegistration.registrationId"), Some(("01085", 4)));
        assert_eq!(at("dailyRegistration.startHour"), Some(("00777", 6)));
        assert_eq!(at("dailyRegistration.periodId"), None);
    }

    #[test]
    fn a_cancel_without_employer_uses_the_sender() {
        let xml = "<Dimona><Form><Identification>DIMONA</Identification><FormCreationDate>2023-02-06</FormCreationDate><FormCreationHour>14:35:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm><DimonaCancel><DimonaPeriodId>12345</DimonaPeriodId></DimonaCancel></Form></Dimona>";
        let Ok(ReadOutcome::Accepted(forms)) = read_dimona_file(xml.as_bytes(), &Limits::default())
        else {
            panic!("refused")
        };
        assert_eq!(
            forms[0].to_v2_json(Some(935467)),
            Some(
                serde_json::json!({"employer": {"employerId": 935467}, "dimonaCancel": {"periodId": "000000012345"}})
            )
        );
    }
}
