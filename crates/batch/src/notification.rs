//! The result of a processed file (`NOTIFICATION_20223.xsd`): one `Form`
//! per form of the file, in file order, with the declaration's result,
//! its anomalies (id, tag, value, class, label, line) and the period.

use crate::acrf::Stamp;
use crate::xml::{close, leaf, open};

/// The form as it was sent, echoed so the sender can match the answer.
#[derive(Debug, Clone, Default)]
pub struct Original {
    pub identification: String,
    pub creation_date: String,
    pub creation_hour: String,
    pub attestation_status: String,
    pub type_form: String,
    /// The sender's own references: (type, origin, number).
    pub references: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Anomaly {
    pub error_id: String,
    pub tag: Option<String>,
    pub value: Option<String>,
    /// `B` blocking, `W` warning.
    pub class: String,
    pub label: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

/// How a form ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Refused (`B`): ResultCode 0.
    Refused,
    /// Accepted, possibly with warnings (`A`, `W`): ResultCode 1.
    Accepted,
    /// Accepted, waiting for the worker's identification (`S`): ResultCode 2.
    Pending,
}

/// A daily registration's dates and hours (`DailyRegistrationBefore` /
/// `After`), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyValues {
    pub start_date: Option<String>,
    pub start_hour: Option<String>,
    pub end_date: Option<String>,
    pub end_hour: Option<String>,
}

/// What a processed daily registration did
/// (`ImpactReport/DailyRegistrationDclImpactReport`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyImpact {
    /// Twelve digits.
    pub registration_id: String,
    /// `0` created, `1` modified, `3` cancelled.
    pub attestation_status: Option<String>,
    pub period_id: String,
    /// The registration before a modify or cancel.
    pub before: Option<DailyValues>,
    /// The registration after a create or modify.
    pub after: Option<DailyValues>,
}

#[derive(Debug, Clone)]
pub struct NotifiedForm {
    pub original: Original,
    /// ONSS number and enterprise number, when both are known (the
    /// schema needs both).
    pub employer: Option<(String, String)>,
    pub inss: Option<String>,
    /// kruispunt's id of the declaration (or of the refused form).
    pub handled_reference: String,
    pub outcome: Outcome,
    pub anomalies: Vec<Anomaly>,
    pub period_id: Option<String>,
    /// For a processed daily registration (instead of `period_id`).
    pub daily: Option<DailyImpact>,
}

fn daily_values(out: &mut String, tag: &str, v: &DailyValues) {
    open(out, 5, tag);
    for (t, x) in [
        ("StartingDate", &v.start_date),
        ("StartingHour", &v.start_hour),
        ("EndingDate", &v.end_date),
        ("EndingHour", &v.end_hour),
    ] {
        if let Some(x) = x {
            leaf(out, 6, t, x);
        }
    }
    close(out, 5, tag);
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The NOTIFICATION for `file_name`.
pub fn notification(
    file_name: &str,
    reference: &str,
    stamp: &Stamp,
    forms: &[NotifiedForm],
) -> String {
    let mut out = String::with_capacity(512 + forms.len() * 1200);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<NOTIFICATION xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"NOTIFICATION_20223.xsd\">\n");
    for f in forms {
        open(&mut out, 1, "Form");
        leaf(&mut out, 2, "Identification", "NOTI001");
        leaf(&mut out, 2, "FormCreationDate", &stamp.date);
        leaf(&mut out, 2, "FormCreationHour", &stamp.time);
        leaf(&mut out, 2, "AttestationStatus", "0");
        leaf(&mut out, 2, "TypeForm", "FA");
        open(&mut out, 2, "FileReference");
        leaf(&mut out, 3, "FileName", &truncate(file_name, 64));
        leaf(&mut out, 3, "ReferenceOrigin", "2");
        if !reference.is_empty() {
            leaf(&mut out, 3, "ReferenceNbr", &truncate(reference, 64));
        }
        close(&mut out, 2, "FileReference");
        let o = &f.original;
        open(&mut out, 2, "HandledOriginalForm");
        leaf(
            &mut out,
            3,
            "Identification",
            &truncate(&o.identification, 7),
        );
        leaf(&mut out, 3, "FormCreationDate", &o.creation_date);
        leaf(&mut out, 3, "FormCreationHour", &o.creation_hour);
        leaf(&mut out, 3, "AttestationStatus", &o.attestation_status);
        leaf(&mut out, 3, "TypeForm", &o.type_form);
        close(&mut out, 2, "HandledOriginalForm");
        for (t, origin, nbr) in o.references.iter().take(4) {
            open(&mut out, 2, "Reference");
            leaf(&mut out, 3, "ReferenceType", t);
            leaf(&mut out, 3, "ReferenceOrigin", origin);
            leaf(&mut out, 3, "ReferenceNbr", &truncate(nbr, 64));
            close(&mut out, 2, "Reference");
        }
        if let Some((noss, company)) = &f.employer {
            open(&mut out, 2, "EmployerId");
            leaf(&mut out, 3, "NOSSRegistrationNbr", noss);
            leaf(&mut out, 3, "CompanyID", company);
            close(&mut out, 2, "EmployerId");
        }
        if let Some(inss) = &f.inss {
            open(&mut out, 2, "NaturalPerson");
            leaf(&mut out, 3, "INSS", inss);
            close(&mut out, 2, "NaturalPerson");
        }
        open(&mut out, 2, "HandledReference");
        leaf(&mut out, 3, "ReferenceType", "1");
        leaf(&mut out, 3, "ReferenceOrigin", "2");
        leaf(
            &mut out,
            3,
            "ReferenceNbr",
            &truncate(&f.handled_reference, 64),
        );
        close(&mut out, 2, "HandledReference");
        open(&mut out, 2, "HandlingResult");
        let code = match f.outcome {
            Outcome::Refused => "0",
            Outcome::Accepted => "1",
            Outcome::Pending => "2",
        };
        leaf(&mut out, 3, "ResultCode", code);
        for a in &f.anomalies {
            open(&mut out, 3, "AnomalyReport");
            leaf(&mut out, 4, "ErrorID", &truncate(&a.error_id, 9));
            if let Some(t) = &a.tag {
                leaf(&mut out, 4, "TagName", t);
            }
            if let Some(v) = &a.value {
                leaf(&mut out, 4, "Value", v);
            }
            leaf(&mut out, 4, "AnomalyClass", &truncate(&a.class, 2));
            if let Some(l) = &a.label {
                leaf(&mut out, 4, "AnomalyLabel", &truncate(l, 500));
            }
            if a.line.is_some() || a.column.is_some() {
                open(&mut out, 4, "AnomalyLocation");
                if let Some(l) = a.line.filter(|l| *l >= 1) {
                    leaf(&mut out, 5, "LineNbr", &l.to_string());
                }
                if let Some(c) = a.column.filter(|c| *c >= 1) {
                    leaf(&mut out, 5, "ColumnNbr", &c.to_string());
                }
                close(&mut out, 4, "AnomalyLocation");
            }
            close(&mut out, 3, "AnomalyReport");
        }
        if f.period_id.is_some() || f.daily.is_some() {
            open(&mut out, 3, "ImpactReport");
            if let Some(p) = &f.period_id {
                open(&mut out, 4, "DimonaImpactReport");
                leaf(&mut out, 5, "DimonaPeriodId", p);
                leaf(&mut out, 5, "IsLocked", "0");
                close(&mut out, 4, "DimonaImpactReport");
            }
            if let Some(d) = &f.daily {
                open(&mut out, 4, "DailyRegistrationDclImpactReport");
                leaf(&mut out, 5, "DailyRegistrationId", &d.registration_id);
                if let Some(s) = &d.attestation_status {
                    leaf(&mut out, 5, "AttestationStatus", s);
                }
                leaf(&mut out, 5, "DimonaPeriodId", &d.period_id);
                if let Some(b) = &d.before {
                    daily_values(&mut out, "DailyRegistrationBefore", b);
                }
                if let Some(a) = &d.after {
                    daily_values(&mut out, "DailyRegistrationAfter", a);
                }
                close(&mut out, 4, "DailyRegistrationDclImpactReport");
            }
            close(&mut out, 3, "ImpactReport");
        }
        close(&mut out, 2, "HandlingResult");
        close(&mut out, 1, "Form");
    }
    out.push_str("</NOTIFICATION>\n");
    out
}
