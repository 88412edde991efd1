//! The employer's batch page: a Dimona XML file uploaded through a form
//! goes through `Dimona::receive_file` exactly like `PUT
//! /batch/v1/files/{name}`; the acknowledgement (ACRF) and, once every
//! form is processed, the NOTIFICATION are shown readably, and can be
//! downloaded as the XML the API answers.

use super::Errors;
use crate::i18n::Lang;
use crate::{Ctx, Portal, PortalError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::multipart::Field;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kruispunt_batch::FileError;
use kruispunt_batch::notification::Outcome;
use kruispunt_dimona::batch::{BatchError, Received, ReportState, ReportedForm, check_file_name};
use kruispunt_domain::clock::Timestamp;
use serde_json::{Value, json};
use std::io::Read;
use std::time::Duration;

/// Files listed on the page.
const LISTED: i64 = 50;

/// A readable label for an error or anomaly id: the catalogue's label in
/// `lang` when there is one, else what the id's suffix means in the ONSS
/// glossary (`-001` missing, `-003` invalid, …) for the element `tag`.
pub(crate) fn anomaly_label(portal: &Portal, lang: Lang, id: &str, tag: Option<&str>) -> String {
    if let Some(l) = portal
        .messages()
        .try_get(lang, &format!("anomaly-{id}"), &[])
    {
        return l;
    }
    let key = if id.starts_with("90372-") {
        "batch-anomaly-file"
    } else {
        match id.rsplit('-').next().unwrap_or("") {
            "001" => "batch-anomaly-missing",
            "003" => "batch-anomaly-invalid",
            "005" => "batch-anomaly-not-allowed",
            "006" => "batch-anomaly-too-many",
            "091" => "batch-anomaly-structure",
            _ => "batch-anomaly-other",
        }
    };
    let tag = tag
        .map(str::to_owned)
        .or_else(|| element_of(id).map(str::to_owned))
        .unwrap_or_else(|| "–".to_owned());
    portal
        .messages()
        .get(lang, key, &[("tag", tag.as_str().into())])
}

/// The schema element whose glossary zone (or block) starts `id`.
fn element_of(id: &str) -> Option<&'static str> {
    let zone = id.split('-').next()?;
    kruispunt_batch::schema::ELEMENTS
        .iter()
        .find(|e| e.code == zone)
        .map(|e| e.name)
}

fn when(millis: i64) -> (String, String) {
    let at = Timestamp(millis).rfc3339();
    (
        at.get(..10).unwrap_or_default().to_owned(),
        at.get(11..16).unwrap_or_default().to_owned(),
    )
}

fn file_errors(portal: &Portal, lang: Lang, errors: &[FileError]) -> Vec<Value> {
    errors
        .iter()
        .map(|e| {
            json!({
                "id": e.error_id, "line": e.line, "column": e.column,
                "label": anomaly_label(portal, lang, &e.error_id, None),
                "detail": e.message,
            })
        })
        .collect()
}

/// The upload form and the files this employer sent.
async fn page(
    portal: &Portal,
    ctx: &Ctx,
    status: StatusCode,
    name: &str,
    errors: &Errors,
    refused: Option<Value>,
) -> Result<Response, PortalError> {
    let sender = ctx.employer()?;
    let files: Vec<Value> = portal
        .dimona()
        .files_of(sender, LISTED)
        .await?
        .iter()
        .map(|f| {
            let (date, time) = when(f.received_at);
            json!({
                "name": f.name, "reference": f.reference, "date": date, "time": time,
                "forms": f.forms, "pending": f.pending, "refused": f.refused,
                "accepted": f.forms - f.pending - f.refused,
            })
        })
        .collect();
    portal.page_with_status(
        ctx,
        status,
        "batch.html",
        json!({
            "files": files, "name": name, "errors": errors.render(portal, ctx.lang),
            "refused": refused, "limit_mb": portal.config().upload_body_limit / (1024 * 1024),
        }),
    )
}

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    page(&portal, &ctx, StatusCode::OK, "", &Errors::default(), None).await
}

/// A small text field, at most `max` bytes.
async fn small_text(mut field: Field<'_>, max: usize) -> Result<String, PortalError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| PortalError::BadRequest)? {
        if out.len() + chunk.len() > max {
            return Err(PortalError::BadRequest);
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).map_err(|_| PortalError::BadRequest)
}

/// The uploaded bytes, handed from the request (async) to the file reader
/// (a blocking thread) chunk by chunk: the file is never held whole.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// How the upload's bytes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    Done,
    TooLarge,
    Broken,
    /// The reader stopped listening (e.g. a duplicate name).
    Stopped,
}

/// Receives the form: `csrf` (first), `name` (optional: the file's own
/// name otherwise), `file`.
pub async fn upload(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    mut multipart: Multipart,
) -> Result<Response, PortalError> {
    let sender = ctx.employer()?;
    let mut csrf_checked = false;
    let mut given_name = String::new();
    let mut errors = Errors::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE && csrf_checked => {
                errors.add("file", "batch-error-too-large");
                break;
            }
            Err(_) => return Err(PortalError::BadRequest),
        };
        match field.name() {
            Some("csrf") => {
                let token = small_text(field, 128).await?;
                ctx.check_csrf(Some(&token))?;
                csrf_checked = true;
            }
            Some("name") => given_name = small_text(field, 256).await?.trim().to_owned(),
            Some("file") => {
                // The token comes before the file in the form: nothing is
                // read from a request that has not shown it.
                if !csrf_checked {
                    return Err(PortalError::Csrf);
                }
                let own_name = field
                    .file_name()
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or("").trim().to_owned())
                    .unwrap_or_default();
                if own_name.is_empty() {
                    errors.add("file", "batch-error-no-file");
                    break;
                }
                if given_name.is_empty() {
                    given_name = own_name;
                }
                if check_file_name(&given_name).is_err() {
                    errors.add("name", "batch-error-name");
                    break;
                }
                return receive(&portal, &ctx, sender, given_name, field).await;
            }
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(PortalError::Csrf);
    }
    if errors.is_empty() {
        errors.add("file", "batch-error-no-file");
    }
    page(
        &portal,
        &ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        &given_name,
        &errors,
        None,
    )
    .await
}

async fn receive(
    portal: &Portal,
    ctx: &Ctx,
    sender: kruispunt_domain::ids::EmployerId,
    name: String,
    mut field: Field<'_>,
) -> Result<Response, PortalError> {
    let limit = portal.config().upload_body_limit;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    let input = std::io::BufReader::with_capacity(
        64 * 1024,
        ChannelReader {
            rx,
            current: Bytes::new(),
        },
    );
    let pump = async move {
        let mut total = 0usize;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    total += chunk.len();
                    if total > limit {
                        let _ = tx
                            .send(Err(std::io::Error::other("length limit exceeded")))
                            .await;
                        return Pumped::TooLarge;
                    }
                    if tx.send(Ok(chunk)).await.is_err() {
                        return Pumped::Stopped;
                    }
                }
                Ok(None) => return Pumped::Done,
                Err(e) => {
                    let too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                    let _ = tx
                        .send(Err(std::io::Error::other("the upload broke off")))
                        .await;
                    return if too_large {
                        Pumped::TooLarge
                    } else {
                        Pumped::Broken
                    };
                }
            }
        }
    };
    let (pumped, received) = tokio::join!(pump, portal.dimona().receive_file(sender, &name, input));
    let mut errors = Errors::default();
    match received {
        Ok(Received::Accepted { forms, .. }) => {
            tracing::info!(forms, "portal batch file received");
            return Ok(Redirect::to(&format!("/employer/batch/files/{name}")).into_response());
        }
        Ok(Received::Refused {
            errors: found,
            acrf,
        }) => {
            tracing::info!(errors = found.len(), "portal batch file refused");
            let refused = json!({
                "name": name,
                "errors": file_errors(portal, ctx.lang, &found),
                "acrf": acrf,
            });
            return page(
                portal,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &name,
                &errors,
                Some(refused),
            )
            .await;
        }
        Err(BatchError::Invalid(_)) => errors.add("name", "batch-error-name"),
        Err(BatchError::Duplicate) => errors.add("name", "batch-error-duplicate"),
        Err(BatchError::Io(_)) if pumped == Pumped::TooLarge => {
            errors.add("file", "batch-error-too-large")
        }
        Err(BatchError::Io(_)) => errors.add("file", "batch-error-interrupted"),
        Err(BatchError::Hub(h)) => return Err(h.into()),
    }
    let status = if pumped == Pumped::TooLarge {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(portal, ctx, status, &name, &errors, None).await
}

fn valid_name(name: &str) -> Result<(), PortalError> {
    check_file_name(name).map_err(|_| PortalError::NotFound)
}

fn form_json(portal: &Portal, lang: Lang, f: &ReportedForm) -> Value {
    let n = &f.notified;
    let result = match n.outcome {
        Outcome::Refused => "B",
        Outcome::Pending => "S",
        Outcome::Accepted if n.anomalies.is_empty() => "A",
        Outcome::Accepted => "W",
    };
    let anomalies: Vec<Value> = n
        .anomalies
        .iter()
        .map(|a| {
            json!({
                "id": a.error_id, "tag": a.tag, "value": a.value, "line": a.line,
                "column": a.column, "blocking": a.class == "B",
                "label": anomaly_label(portal, lang, &a.error_id, a.tag.as_deref()),
            })
        })
        .collect();
    json!({
        "index": f.index, "kind": f.kind, "result": result,
        "declaration": f.declaration_id, "employer": f.employer_id,
        "ssin": n.inss, "period": n.period_id, "anomalies": anomalies,
    })
}

/// One file: its acknowledgement and, once processed, its notification.
pub async fn file(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> Result<Response, PortalError> {
    let sender = ctx.employer()?;
    valid_name(&name)?;
    // Processing takes a moment: wait a little so that the page, just
    // after the upload, shows the result rather than "being processed".
    let mut state = ReportState::Unknown;
    for _ in 0..20 {
        state = portal.dimona().file_report(Some(sender), &name).await?;
        match &state {
            ReportState::Processing { .. } => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => break,
        }
    }
    let (file, report) = match state {
        ReportState::Unknown => return Err(PortalError::NotFound),
        ReportState::Processing { pending, forms } => {
            let row = portal
                .store()
                .batch_file(&name)
                .await?
                .ok_or(PortalError::NotFound)?;
            let (date, time) = when(row.received_at);
            (
                json!({"name": name, "reference": row.reference, "date": date, "time": time,
                       "forms": forms, "pending": pending}),
                None,
            )
        }
        ReportState::Ready(r) => {
            let (date, time) = when(r.received_at);
            let forms: Vec<Value> = r
                .forms
                .iter()
                .map(|f| form_json(&portal, ctx.lang, f))
                .collect();
            let count = |res: &[&str]| {
                forms
                    .iter()
                    .filter(|f| res.contains(&f["result"].as_str().unwrap_or("")))
                    .count()
            };
            let totals = json!({"accepted": count(&["A", "W"]), "refused": count(&["B"]),
                                "waiting": count(&["S"])});
            (
                json!({"name": name, "reference": r.reference, "date": date, "time": time,
                       "forms": forms.len(), "pending": 0}),
                Some(json!({"forms": forms, "totals": totals})),
            )
        }
    };
    portal.page(
        &ctx,
        "batch_file.html",
        json!({"file": file, "report": report, "sender": sender.as_i64()}),
    )
}

fn xml_download(body: String, file_name: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    // The name holds only letters, digits, '.', '_' and '-'.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The NOTIFICATION as the API answers it.
pub async fn notification_xml(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> Result<Response, PortalError> {
    let sender = ctx.employer()?;
    valid_name(&name)?;
    match portal
        .dimona()
        .file_notification(Some(sender), &name)
        .await?
    {
        kruispunt_dimona::batch::NotificationState::Ready(xml) => {
            Ok(xml_download(xml, &format!("{name}.NOTIFICATION.xml")))
        }
        _ => Err(PortalError::NotFound),
    }
}

/// The (positive) ACRF of a received file.
pub async fn acrf_xml(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> Result<Response, PortalError> {
    let sender = ctx.employer()?;
    valid_name(&name)?;
    match portal.dimona().file_acrf(sender, &name).await? {
        Some(xml) => Ok(xml_download(xml, &format!("{name}.ACRF.xml"))),
        None => Err(PortalError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_name_their_element() {
        assert_eq!(element_of("00910-003"), Some("StartingDate"));
        assert_eq!(element_of("99999-001"), None);
    }
}
