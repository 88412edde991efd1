//! The batch channel: a Dimona XML file is read as a stream and checked
//! against the schema's structure; a file with structural errors gets a
//! negative ACRF listing them (ids, lines) and nothing is kept. Otherwise
//! every form passes the same door checks as the REST API (identifiers,
//! the sender's right to declare for the employer): forms that pass are
//! queued as declarations, the others are refused with their anomalies;
//! the file, its forms and their declarations become durable in one
//! transaction, and only then is the positive ACRF sent. The NOTIFICATION
//! is built once every queued form is processed.

use crate::declaration::{self, DeclarationJson, EmployerRef};
use crate::{Dimona, SubmitError};
use kruispunt_batch::acrf::{Stamp, acrf};
use kruispunt_batch::notification::{
    Anomaly, DailyImpact, DailyValues, NotifiedForm, Original, Outcome, notification,
};
use kruispunt_batch::{FileError, Form, Limits, ReadOutcome};
use kruispunt_domain::Invalid;
use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::ids::EmployerId;
use kruispunt_hub::HubError;
use kruispunt_store::{NewBatchForm, NewDeclaration, StoreError};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

/// What became of an uploaded file.
#[derive(Debug)]
pub enum Received {
    /// Durable; the positive ACRF.
    Accepted { acrf: String, forms: usize },
    /// Refused at reception; the negative ACRF and the errors it lists
    /// (id, line, column, reason), for callers that show them otherwise
    /// than as XML. Nothing was kept.
    Refused {
        acrf: String,
        errors: Vec<FileError>,
    },
}

#[derive(Debug)]
pub enum BatchError {
    /// The file name is not acceptable (field, reason).
    Invalid(Invalid),
    /// A file with this name was already received.
    Duplicate,
    /// The upload broke off.
    Io(std::io::Error),
    Hub(HubError),
}

impl From<HubError> for BatchError {
    fn from(e: HubError) -> Self {
        BatchError::Hub(e)
    }
}

impl From<StoreError> for BatchError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => BatchError::Duplicate,
            other => BatchError::Hub(HubError::Store(other)),
        }
    }
}

/// The notification of a file, once ready.
#[derive(Debug)]
pub enum NotificationState {
    Unknown,
    Processing { pending: i64, forms: i64 },
    Ready(String),
}

/// What the NOTIFICATION of a file says, before it is written as XML.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub name: String,
    /// The number kruispunt gave the file (in the ACRF).
    pub reference: String,
    /// Epoch milliseconds.
    pub received_at: i64,
    /// In file order.
    pub forms: Vec<ReportedForm>,
}

/// One form of a processed file.
#[derive(Debug, Clone)]
pub struct ReportedForm {
    /// 1-based position in the file.
    pub index: i64,
    /// `DimonaIn`, `DimonaOut`, `DimonaUpdate`, `DimonaCancel`, …
    pub kind: String,
    /// The declaration queued for the form; `None` when it was refused at
    /// the door.
    pub declaration_id: Option<String>,
    /// The employer the form declared for, when known.
    pub employer_id: Option<i64>,
    /// What the NOTIFICATION says about it.
    pub notified: NotifiedForm,
}

/// A file's report, once every form is processed.
#[derive(Debug)]
pub enum ReportState {
    Unknown,
    Processing { pending: i64, forms: i64 },
    Ready(FileReport),
}

/// A file as listed for its sender.
pub use kruispunt_store::BatchFileSummary;

/// File names as ONSS uses them (`FI.DMFA.123456.20210901.000001.R.1.1`):
/// letters, digits, `.`, `_`, `-`; at most 64 characters (the
/// NOTIFICATION's limit).
pub fn check_file_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > 64 {
        return Err(Invalid::new("fileName", "must have 1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(Invalid::new(
            "fileName",
            "may hold only letters, digits, '.', '_' and '-'",
        ));
    }
    if name.starts_with('.') {
        return Err(Invalid::new("fileName", "may not start with '.'"));
    }
    Ok(())
}

pub fn stamp(now: Timestamp) -> Stamp {
    let t = now.offset_date_time();
    Stamp {
        date: format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        time: format!(
            "{:02}:{:02}:{:02}.{:03}",
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
    }
}

/// An anomaly refusing a form at the door, pointing at the XML value.
fn door_anomaly(form: &Form, field: &str, message: &str, id_suffix: &str) -> Value {
    let src = form.source_of(field);
    let (zone, tag, value, line, column) = match src {
        Some(v) => (v.zone, v.tag, Some(v.text.clone()), v.line, v.column),
        None => (
            kruispunt_batch::schema::element(form.kind).map_or("90059", |e| e.code),
            form.kind,
            None,
            form.kind_line,
            form.kind_column,
        ),
    };
    json!({"errorId": format!("{zone}-{id_suffix}"), "tag": tag, "value": value,
           "severity": "B", "labelFr": Value::Null, "labelNl": Value::Null,
           "message": message, "line": line, "column": column})
}

/// The anomaly for a failed door check: `-001` when the field is missing,
/// `-003` when it is invalid.
fn invalid_anomaly(form: &Form, i: &Invalid) -> Value {
    let missing = i.message.contains("required") || i.message.starts_with("needs");
    door_anomaly(
        form,
        &i.field,
        &i.message,
        if missing { "001" } else { "003" },
    )
}

/// What the NOTIFICATION needs to echo, kept with the form.
fn form_record(form: &Form) -> Value {
    let text = |p: &str| form.get(p).map(|v| v.text.clone()).unwrap_or_default();
    let references: Vec<Value> = form
        .values
        .iter()
        .filter(|(p, _)| p == "Reference/ReferenceType")
        .enumerate()
        .map(|(i, _)| {
            let nth = |p: &str| {
                form.all(p)
                    .nth(i)
                    .map(|v| v.text.clone())
                    .unwrap_or_default()
            };
            json!([
                nth("Reference/ReferenceType"),
                nth("Reference/ReferenceOrigin"),
                nth("Reference/ReferenceNbr")
            ])
        })
        .collect();
    // Where each zone's value was, so processing anomalies can point back.
    let values: Vec<Value> = form
        .values
        .iter()
        .filter(|(p, _)| p.starts_with(form.kind))
        .map(|(_, v)| json!([v.tag, v.zone, v.text, v.line, v.column]))
        .collect();
    json!({
        "identification": text("Identification"), "creationDate": text("FormCreationDate"),
        "creationHour": text("FormCreationHour"), "attestationStatus": text("AttestationStatus"),
        "typeForm": text("TypeForm"), "references": references, "kind": form.kind,
        "line": form.kind_line, "column": form.kind_column, "values": values,
    })
}

/// The impact report of a processed, accepted daily registration.
fn daily_impact(d: &kruispunt_store::FormOutcome) -> Option<DailyImpact> {
    let (id, period) = (d.registration_id?, d.period_id?);
    let impact: Value = d
        .registration_impact
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    let values = |v: &Value| {
        v.is_object().then(|| {
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            DailyValues {
                start_date: s("startDate"),
                start_hour: s("startHour"),
                end_date: s("endDate"),
                end_hour: s("endHour"),
            }
        })
    };
    Some(DailyImpact {
        registration_id: format!("{id:012}"),
        attestation_status: impact["attestationStatus"].as_str().map(str::to_owned),
        period_id: format!("{period:012}"),
        before: values(&impact["before"]),
        after: values(&impact["after"]),
    })
}

/// A form's record (see [`form_record`]) read back for its NOTIFICATION:
/// typed, so that rendering a 10,000-form file does not build a JSON tree
/// per form.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FormRecord<'a> {
    #[serde(borrow)]
    identification: Cow<'a, str>,
    #[serde(borrow)]
    creation_date: Cow<'a, str>,
    #[serde(borrow)]
    creation_hour: Cow<'a, str>,
    #[serde(borrow)]
    attestation_status: Cow<'a, str>,
    #[serde(borrow)]
    type_form: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    /// (type, origin, number).
    references: Vec<(String, String, String)>,
    line: Option<u64>,
    column: Option<u64>,
    values: Vec<RecordedValue>,
}

/// (tag, zone, text, line, column) of one value of the form.
type RecordedValue = (String, String, String, Option<u64>, Option<u64>);

impl Dimona {
    /// Receives a file from `sender` (an employer, or a provider declaring
    /// for the employers that mandate it). `input` is read on a blocking
    /// thread, as a stream (it may bridge an async body).
    pub async fn receive_file<R: BufRead + Send + 'static>(
        &self,
        sender: EmployerId,
        name: &str,
        input: R,
    ) -> Result<Received, BatchError> {
        check_file_name(name).map_err(BatchError::Invalid)?;
        if self.hub().store().batch_file(name).await?.is_some() {
            return Err(BatchError::Duplicate);
        }
        let reference = self.new_id().await?;
        let outcome = tokio::task::spawn_blocking(move || {
            kruispunt_batch::read_dimona_file(input, &Limits::default())
        })
        .await
        .map_err(|e| BatchError::Hub(HubError::Internal(format!("the file reader stopped: {e}"))))?
        .map_err(BatchError::Io)?;
        let now = self.hub().now();
        let forms = match outcome {
            ReadOutcome::Rejected(errors) => {
                metrics::counter!("batch_files_total", "result" => "refused").increment(1);
                return Ok(Received::Refused {
                    acrf: acrf(name, &reference, &stamp(now), &errors),
                    errors,
                });
            }
            ReadOutcome::Accepted(forms) => forms,
        };
        let declarant = format!("employer:{sender}");
        let mut rows = Vec::with_capacity(forms.len());
        let mut may_declare: HashMap<EmployerRef, Option<EmployerId>> = HashMap::new();
        for form in &forms {
            let record = form_record(form).to_string();
            let refused = |anomaly: Value| NewBatchForm {
                index: form.index as i64,
                declaration: None,
                door_anomalies: Some(Value::Array(vec![anomaly]).to_string()),
                form: record.clone(),
            };
            let Some(body) = form.to_v2_json(Some(sender.value())) else {
                // Every kind the reader accepts has a JSON form; kept for
                // a kind the schema may gain.
                rows.push(refused(door_anomaly(
                    form,
                    "",
                    "this kind of form is not handled by this service",
                    "005",
                )));
                continue;
            };
            let checked = serde_json::from_value::<DeclarationJson>(body.clone())
                .map_err(|e| Invalid::new("body", e.to_string()))
                .and_then(|parsed| declaration::check(&parsed));
            let checked = match checked {
                Ok(c) => c,
                Err(i) => {
                    rows.push(refused(invalid_anomaly(form, &i)));
                    continue;
                }
            };
            // The employer, if the sender may declare for it (cached per
            // file: a file names few employers).
            let employer = match may_declare.get(&checked.employer) {
                Some(e) => *e,
                None => {
                    let resolved = match checked.employer {
                        EmployerRef::Id(id) => Some(id),
                        EmployerRef::Enterprise(en) => self
                            .hub()
                            .store()
                            .employer_by_enterprise(en)
                            .await?
                            .map(|e| e.employer_id),
                    };
                    let allowed = match resolved {
                        Some(e) if self.may_act_for(sender, e).await? => Some(e),
                        _ => None,
                    };
                    may_declare.insert(checked.employer, allowed);
                    allowed
                }
            };
            let Some(employer) = employer else {
                rows.push(refused(json!({
                    "errorId": "90256-155", "tag": "EmployerId", "severity": "B",
                    "labelFr": "Pas de mandat pour cet employeur", "labelNl": "Geen mandaat voor deze werkgever",
                    "message": "you have no mandate to declare for this employer",
                    "line": form.kind_line, "column": form.kind_column,
                })));
                continue;
            };
            rows.push(NewBatchForm {
                index: form.index as i64,
                declaration: Some(NewDeclaration {
                    id: String::new(), // set below, in file order
                    employer_id: employer.as_i64(),
                    declarant: declarant.clone(),
                    kind: checked.kind.code().into(),
                    ssin: checked.ssin.map(|s| s.to_string()),
                    body: body.to_string(),
                }),
                door_anomalies: None,
                form: record,
            });
        }
        // The worker processes declarations received together in id order:
        // the file's forms get ascending ids in file order, so a form is
        // judged after the forms before it (an IN, then its duplicate, then
        // an OUT of a period declared earlier in the file).
        let ids = self
            .new_ids(rows.iter().filter(|r| r.declaration.is_some()).count())
            .await?;
        for (row, id) in rows
            .iter_mut()
            .filter_map(|r| r.declaration.as_mut())
            .zip(ids)
        {
            row.id = id;
        }
        self.hub()
            .store()
            .insert_batch_file(name, &declarant, &reference, now.millis(), &rows)
            .await?;
        self.queue.stored();
        metrics::counter!("batch_files_total", "result" => "accepted").increment(1);
        metrics::counter!("dimona_declarations_received_total", "kind" => "BATCH")
            .increment(rows.iter().filter(|r| r.declaration.is_some()).count() as u64);
        self.wake.notify_one();
        Ok(Received::Accepted {
            acrf: acrf(name, &reference, &stamp(now), &[]),
            forms: rows.len(),
        })
    }

    /// The NOTIFICATION of a file `sender` sent, once every form is
    /// processed. Operators (`sender` = None) read every file.
    pub async fn file_notification(
        &self,
        sender: Option<EmployerId>,
        name: &str,
    ) -> Result<NotificationState, HubError> {
        Ok(match self.file_report(sender, name).await? {
            ReportState::Unknown => NotificationState::Unknown,
            ReportState::Processing { pending, forms } => {
                NotificationState::Processing { pending, forms }
            }
            ReportState::Ready(report) => {
                let forms: Vec<NotifiedForm> =
                    report.forms.into_iter().map(|f| f.notified).collect();
                NotificationState::Ready(notification(
                    name,
                    &report.reference,
                    &stamp(self.hub().now()),
                    &forms,
                ))
            }
        })
    }

    /// The files `sender` sent, newest first (at most `limit`), with how
    /// many forms are still being processed and how many were refused.
    pub async fn files_of(
        &self,
        sender: EmployerId,
        limit: i64,
    ) -> Result<Vec<BatchFileSummary>, HubError> {
        Ok(self
            .hub()
            .store()
            .batch_files_of(&format!("employer:{sender}"), limit)
            .await?)
    }

    /// The positive ACRF of a file `sender` sent (the same document the
    /// upload answered, dated when the file was received).
    pub async fn file_acrf(
        &self,
        sender: EmployerId,
        name: &str,
    ) -> Result<Option<String>, HubError> {
        let Some(file) = self.hub().store().batch_file(name).await? else {
            return Ok(None);
        };
        if file.declarant != format!("employer:{sender}") {
            return Ok(None);
        }
        Ok(Some(acrf(
            name,
            &file.reference,
            &stamp(Timestamp(file.received_at)),
            &[],
        )))
    }

    /// What the NOTIFICATION of a file will say, form by form, once every
    /// form is processed. Operators (`sender` = None) read every file.
    pub async fn file_report(
        &self,
        sender: Option<EmployerId>,
        name: &str,
    ) -> Result<ReportState, HubError> {
        let store = self.hub().store();
        let Some(file) = store.batch_file(name).await? else {
            return Ok(ReportState::Unknown);
        };
        if sender.is_some_and(|s| file.declarant != format!("employer:{s}")) {
            return Ok(ReportState::Unknown);
        }
        let pending = store.batch_pending(name).await?;
        if pending > 0 {
            return Ok(ReportState::Processing {
                pending,
                forms: file.forms,
            });
        }
        let rows = store.batch_forms(name).await?;
        let mut companies: HashMap<i64, Option<String>> = HashMap::new();
        let mut forms = Vec::with_capacity(rows.len());
        for row in rows {
            let rec: FormRecord = serde_json::from_str(&row.form).unwrap_or_default();
            let original = Original {
                identification: rec.identification.into_owned(),
                creation_date: rec.creation_date.into_owned(),
                creation_hour: rec.creation_hour.into_owned(),
                attestation_status: rec.attestation_status.into_owned(),
                type_form: rec.type_form.into_owned(),
                references: rec.references,
            };
            let values = &rec.values;
            let locate = |zone: &str| values.iter().find(|v| v.1 == zone);
            let to_anomaly = |a: &Value| {
                let id = a["errorId"].as_str().unwrap_or_default().to_owned();
                let zone = id.split('-').next().unwrap_or_default();
                let at = locate(zone);
                let class = match a["severity"].as_str() {
                    Some("B") => "B",
                    _ => "W",
                };
                let label = a["labelFr"]
                    .as_str()
                    .or_else(|| a["message"].as_str())
                    .map(str::to_owned);
                Anomaly {
                    error_id: id.clone(),
                    tag: a["tag"]
                        .as_str()
                        .or_else(|| at.map(|v| v.0.as_str()))
                        .map(str::to_owned),
                    value: a["value"]
                        .as_str()
                        .or_else(|| at.map(|v| v.2.as_str()))
                        .map(str::to_owned),
                    class: class.into(),
                    label,
                    line: a["line"]
                        .as_u64()
                        .or_else(|| at.and_then(|v| v.3))
                        .or(rec.line),
                    column: a["column"]
                        .as_u64()
                        .or_else(|| at.and_then(|v| v.4))
                        .or(rec.column),
                }
            };
            let inss = values
                .iter()
                .find(|v| v.1 == "00024")
                .map(|v| v.2.as_str())
                .filter(|s| *s != "0")
                .map(str::to_owned);
            let notified = match &row.declaration {
                None => {
                    let anomalies: Vec<Value> = row
                        .door_anomalies
                        .as_deref()
                        .and_then(|a| serde_json::from_str(a).ok())
                        .unwrap_or_default();
                    NotifiedForm {
                        original,
                        employer: None,
                        inss,
                        handled_reference: format!("{}-{}", file.reference, row.index),
                        outcome: Outcome::Refused,
                        anomalies: anomalies.iter().map(to_anomaly).collect(),
                        period_id: None,
                        daily: None,
                    }
                }
                Some(d) => {
                    let anomalies: Vec<Value> = d
                        .anomalies
                        .as_deref()
                        .and_then(|a| serde_json::from_str(a).ok())
                        .unwrap_or_default();
                    let daily = daily_impact(d);
                    let outcome = match d.result.as_deref() {
                        Some("B") => Outcome::Refused,
                        Some("S") => Outcome::Pending,
                        _ => Outcome::Accepted,
                    };
                    let company = match companies.get(&d.employer_id) {
                        Some(c) => c.clone(),
                        None => {
                            let c = match EmployerId::from_i64(d.employer_id) {
                                Some(id) => store
                                    .employer(id)
                                    .await?
                                    .map(|e| e.enterprise_number.to_string()),
                                None => None,
                            };
                            companies.insert(d.employer_id, c.clone());
                            c
                        }
                    };
                    NotifiedForm {
                        original,
                        employer: company.map(|c| (d.employer_id.to_string(), c)),
                        inss: d.ssin.clone().or(inss),
                        handled_reference: d.id.clone(),
                        outcome,
                        anomalies: anomalies.iter().map(to_anomaly).collect(),
                        // A daily registration reports its period in its
                        // own impact report.
                        period_id: d
                            .period_id
                            .filter(|_| daily.is_none())
                            .map(|p| format!("{p:012}")),
                        daily,
                    }
                }
            };
            forms.push(ReportedForm {
                index: row.index,
                kind: rec.kind.clone().into_owned(),
                declaration_id: row.declaration.as_ref().map(|d| d.id.clone()),
                employer_id: row.declaration.as_ref().map(|d| d.employer_id),
                notified,
            });
        }
        Ok(ReportState::Ready(FileReport {
            name: file.name,
            reference: file.reference,
            received_at: file.received_at,
            forms,
        }))
    }
}

impl From<SubmitError> for BatchError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Invalid(i) => BatchError::Invalid(i),
            SubmitError::NoMandate => BatchError::Invalid(Invalid::new(
                "employer",
                "no mandate to declare for this employer",
            )),
            SubmitError::Hub(h) => BatchError::Hub(h),
        }
    }
}
