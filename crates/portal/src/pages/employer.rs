//! The employer's pages: the personal page, Dimona forms (IN, OUT, UPDATE,
//! CANCEL) going through `Dimona::submit` with the ONSS v2 JSON, the
//! declaration status, the personnel file (with CSV export), the mailbox.

use super::{Errors, Fields};
use crate::{Ctx, Portal, PortalError};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kruispunt_dimona::SubmitError;
use kruispunt_domain::clock::parse_date;
use kruispunt_domain::dimona::{JOINT_COMMITTEES, Severity, parse_hour};
use kruispunt_domain::ids::{DimonaPeriodId, EmployerId, IdError, Ssin};
use kruispunt_store::{DeclarationRow, PeriodFilter};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Worker types offered in the form (the open ones).
pub const WORKER_TYPES: &[&str] = &[
    "OTH", "STU", "FLX", "EXT", "DWD", "IVT", "TRI", "STG", "BCW", "RTA", "ALT", "O17", "S17",
    "T17", "PMP",
];

fn ssin_error(e: &IdError) -> &'static str {
    match e {
        IdError::Checksum => "error-ssin-checksum",
        IdError::WrongLength { .. } => "error-ssin-length",
        _ => "error-ssin-invalid",
    }
}

/// The anomalies of a processed declaration, with labels in `lang`.
fn anomalies(portal: &Portal, ctx: &Ctx, raw: Option<&str>) -> Vec<Value> {
    let list: Vec<Value> = raw
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    list.iter()
        .map(|a| {
            let id = a["errorId"].as_str().unwrap_or("");
            json!({
                "id": id,
                "label": portal.messages().try_get(ctx.lang, &format!("anomaly-{id}"), &[])
                    .unwrap_or_else(|| a["labelFr"].as_str().unwrap_or("").to_owned()),
                "blocking": a["severity"].as_str() == Some("B"),
            })
        })
        .collect()
}

fn notice_json(portal: &Portal, ctx: &Ctx, d: &DeclarationRow) -> Value {
    let at = d
        .processed_at
        .map(|t| kruispunt_domain::clock::Timestamp(t).rfc3339());
    json!({
        "id": d.id, "kind": d.kind, "result": d.result, "period": d.period_id,
        "date": at.as_deref().map(|s| s[..10].to_owned()),
        "time": at.as_deref().map(|s| s[11..16].to_owned()),
        "anomalies": anomalies(portal, ctx, d.anomalies.as_deref()),
    })
}

/// The employers the signed-in account declares for: itself first, then
/// those that mandate it (a provider: a social secretariat, an
/// accountant), as select options `{value, label}`.
async fn represented(portal: &Portal, caller: EmployerId) -> Result<Vec<Value>, PortalError> {
    let label = |id: EmployerId, name: Option<String>| match name {
        Some(n) => format!("{n} ({id})"),
        None => id.to_string(),
    };
    let own = portal.store().employer(caller).await?.map(|e| e.name);
    let mut out = vec![json!({"value": caller.to_string(), "label": label(caller, own)})];
    for m in portal.dimona().mandates_of(caller).await? {
        if m.provider_id != caller.as_i64() || m.revoked_at.is_some() {
            continue;
        }
        let Some(id) = EmployerId::from_i64(m.employer_id) else {
            continue;
        };
        let name = portal.store().employer(id).await?.map(|e| e.name);
        out.push(json!({"value": id.to_string(), "label": label(id, name)}));
    }
    Ok(out)
}

/// The employer a page acts for: the one `requested` (`employer` in the
/// query or the form) when the caller may act for it (`may_act_for`),
/// the caller itself when nothing is requested; `None` when refused.
async fn acting_for(
    portal: &Portal,
    caller: EmployerId,
    requested: Option<&str>,
) -> Result<Option<EmployerId>, PortalError> {
    let Some(r) = requested else {
        return Ok(Some(caller));
    };
    let Ok(e) = EmployerId::parse(r) else {
        return Ok(None);
    };
    Ok(portal.dimona().may_act_for(caller, e).await?.then_some(e))
}

/// `employer=N` for links, when acting for another employer than oneself.
fn employer_query(caller: EmployerId, employer: EmployerId) -> String {
    if caller == employer {
        String::new()
    } else {
        format!("employer={employer}")
    }
}

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    let id = ctx.employer()?;
    let employer = portal.store().employer(id).await?;
    let notices: Vec<Value> = portal
        .store()
        .recent_notices(id.as_i64(), 5)
        .await?
        .iter()
        .map(|d| notice_json(&portal, &ctx, d))
        .collect();
    let today = portal.hub().today();
    let running = portal
        .store()
        .personnel_file(
            id.as_i64(),
            &PeriodFilter {
                ssin: None,
                from: Some(today.clone()),
                to: Some(today),
                after_period: None,
                limit: 1000,
            },
        )
        .await?
        .iter()
        .filter(|p| p.status == "active")
        .count();
    let company = employer.map(|e| {
        json!({
            "name": e.name, "employer_id": e.employer_id.to_string(),
            "enterprise": e.enterprise_number.to_string(),
            "joint_committee": e.joint_committee, "active": e.active,
            "address": e.address.map(|a| format!("{} {}, {} {} ({})", a.street, a.house_number, a.postal_code, a.municipality, a.country)),
        })
    });
    // Mandates: the employers this account declares for, and the
    // providers declaring for this employer.
    let mut clients = Vec::new();
    let mut providers = Vec::new();
    for m in portal.dimona().mandates_of(id).await? {
        if m.revoked_at.is_some() {
            continue;
        }
        let (other, list) = if m.provider_id == id.as_i64() {
            (m.employer_id, &mut clients)
        } else {
            (m.provider_id, &mut providers)
        };
        let Some(other) = EmployerId::from_i64(other) else {
            continue;
        };
        let name = portal.store().employer(other).await?.map(|e| e.name);
        let since = kruispunt_domain::clock::Timestamp(m.granted_at).rfc3339();
        list.push(json!({"id": other.to_string(), "name": name, "since": since.get(..10)}));
    }
    portal.page(
        &ctx,
        "employer.html",
        json!({"company": company, "notices": notices, "running": running,
               "clients": clients, "providers": providers}),
    )
}

fn kind_of(s: Option<&str>) -> &'static str {
    match s {
        Some("out") => "out",
        Some("update") => "update",
        Some("cancel") => "cancel",
        _ => "in",
    }
}

async fn form_page(
    portal: &Portal,
    ctx: &Ctx,
    status: StatusCode,
    kind: &str,
    values: &Fields,
    errors: &Errors,
) -> Result<Response, PortalError> {
    let caller = ctx.employer()?;
    let employers = represented(portal, caller).await?;
    let mut v = Map::new();
    for f in [
        "employer",
        "ssin",
        "startDate",
        "endDate",
        "startHour",
        "endHour",
        "plannedHours",
        "workerType",
        "jointCommission",
        "periodId",
    ] {
        v.insert(f.into(), Value::String(values.value(f)));
    }
    portal.page_with_status(
        ctx,
        status,
        "dimona_new.html",
        json!({
            "kind": kind, "values": v, "errors": errors.render(portal, ctx.lang),
            "employers": if employers.len() > 1 { employers } else { Vec::new() },
            "worker_types": WORKER_TYPES.iter().map(|w| json!({"value": w, "label": format!("{w} – {}", portal.t(ctx.lang, &format!("worker-type-{w}")))})).collect::<Vec<_>>(),
            "joint_committees": JOINT_COMMITTEES.iter().map(|j| json!({"value": j, "label": portal.t(ctx.lang, &format!("jc-{j}"))})).collect::<Vec<_>>(),
        }),
    )
}

pub async fn dimona_form(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let caller = ctx.employer()?;
    let employer = acting_for(&portal, caller, q.get("employer"))
        .await?
        .ok_or(PortalError::Forbidden)?;
    let mut values = Fields::default();
    values.0.insert("employer".into(), employer.to_string());
    if let Some(p) = q.get("period") {
        values.0.insert("periodId".into(), p.to_owned());
    }
    values.0.insert("workerType".into(), "OTH".into());
    values.0.insert("jointCommission".into(), "XXX".into());
    form_page(
        &portal,
        &ctx,
        StatusCode::OK,
        kind_of(q.get("type")),
        &values,
        &Errors::default(),
    )
    .await
}

/// `HH:MM` (what `<input type=time>` sends) or `HHMM` → `HHMM`.
fn hour(f: &Fields, name: &str, errors: &mut Errors) -> Option<String> {
    let v = f.get(name)?;
    match parse_hour(v) {
        Some(h) => Some(format!("{h:04}")),
        None => {
            errors.add(name, "error-hour-invalid");
            None
        }
    }
}

fn date(f: &Fields, name: &str, required: bool, errors: &mut Errors) -> Option<String> {
    match f.get(name) {
        None => {
            if required {
                errors.add(name, "error-date-missing");
            }
            None
        }
        Some(d) => match parse_date(name, d) {
            Ok(_) => Some(d.to_owned()),
            Err(_) => {
                errors.add(name, "error-date-invalid");
                None
            }
        },
    }
}

fn period(f: &Fields, errors: &mut Errors) -> Option<String> {
    match f.get("periodId") {
        None => {
            errors.add("periodId", "error-period-missing");
            None
        }
        Some(p) => match DimonaPeriodId::parse(p) {
            Ok(id) => Some(format!("{:012}", id.value())),
            Err(_) => {
                errors.add("periodId", "error-period-invalid");
                None
            }
        },
    }
}

/// The form, checked field by field, as the ONSS v2 JSON.
fn declaration_json(kind: &str, employer: EmployerId, f: &Fields, errors: &mut Errors) -> Value {
    let mut body = json!({"employer": {"employerId": employer.as_i64()}});
    let planned = |errors: &mut Errors| -> Option<i64> {
        let v = f.get("plannedHours")?;
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add("plannedHours", "anomaly-01135-003");
                None
            }
        }
    };
    let features = || -> Value {
        let mut m = Map::new();
        if let Some(w) = f.get("workerType") {
            m.insert("workerType".into(), json!(w));
        }
        if let Some(j) = f.get("jointCommission") {
            m.insert("jointCommissionNumber".into(), json!(j));
        }
        Value::Object(m)
    };
    match kind {
        "in" => {
            match f.get("ssin") {
                None => errors.add("ssin", "error-ssin-missing"),
                Some(s) => match Ssin::parse(s) {
                    Ok(s) => body["worker"] = json!({"ssin": s.to_string()}),
                    Err(e) => errors.add("ssin", ssin_error(&e)),
                },
            }
            let mut d = Map::new();
            if let Some(v) = date(f, "startDate", true, errors) {
                d.insert("startDate".into(), json!(v));
            }
            if let Some(v) = date(f, "endDate", false, errors) {
                d.insert("endDate".into(), json!(v));
            }
            if let Some(v) = hour(f, "startHour", errors) {
                d.insert("startHour".into(), json!(v));
            }
            if let Some(v) = hour(f, "endHour", errors) {
                d.insert("endHour".into(), json!(v));
            }
            if let Some(n) = planned(errors) {
                d.insert("plannedHoursNumber".into(), json!(n));
            }
            if f.get("workerType").is_none() {
                errors.add("workerType", "anomaly-00655-001");
            }
            d.insert("features".into(), features());
            body["dimonaIn"] = Value::Object(d);
        }
        "out" => {
            let mut d = Map::new();
            if let Some(p) = period(f, errors) {
                d.insert("periodId".into(), json!(p));
            }
            if let Some(v) = date(f, "endDate", true, errors) {
                d.insert("endDate".into(), json!(v));
            }
            if let Some(v) = hour(f, "endHour", errors) {
                d.insert("endHour".into(), json!(v));
            }
            body["dimonaOut"] = Value::Object(d);
        }
        "update" => {
            let mut d = Map::new();
            if let Some(p) = period(f, errors) {
                d.insert("periodId".into(), json!(p));
            }
            let before = d.len();
            if let Some(v) = date(f, "startDate", false, errors) {
                d.insert("startDate".into(), json!(v));
            }
            if let Some(v) = date(f, "endDate", false, errors) {
                d.insert("endDate".into(), json!(v));
            }
            if let Some(v) = hour(f, "startHour", errors) {
                d.insert("startHour".into(), json!(v));
            }
            if let Some(v) = hour(f, "endHour", errors) {
                d.insert("endHour".into(), json!(v));
            }
            if let Some(n) = planned(errors) {
                d.insert("plannedHoursNumber".into(), json!(n));
            }
            let feats = features();
            if feats.as_object().is_some_and(|m| !m.is_empty()) {
                d.insert("features".into(), feats);
            }
            if d.len() == before && errors.is_empty() {
                errors.add("startDate", "error-update-nothing");
            }
            body["dimonaUpdate"] = Value::Object(d);
        }
        _ => {
            let mut d = Map::new();
            if let Some(p) = period(f, errors) {
                d.insert("periodId".into(), json!(p));
            }
            body["dimonaCancel"] = Value::Object(d);
        }
    }
    body
}

/// The form field an anomaly or an API field name is about.
fn field_of(name: &str) -> &'static str {
    let zone = name.split('-').next().unwrap_or("");
    match zone {
        "00910" => "startDate",
        "00911" => "endDate",
        "00913" => "periodId",
        "00655" => "workerType",
        "00046" => "jointCommission",
        "00777" => "startHour",
        "00778" => "endHour",
        "01135" => "plannedHours",
        "90017" => "ssin",
        _ => match name.rsplit('.').next().unwrap_or("") {
            "ssin" => "ssin",
            "startDate" => "startDate",
            "endDate" => "endDate",
            "startHour" => "startHour",
            "endHour" => "endHour",
            "periodId" => "periodId",
            "plannedHoursNumber" => "plannedHours",
            "workerType" => "workerType",
            "jointCommissionNumber" => "jointCommission",
            _ => "form",
        },
    }
}

pub async fn dimona_submit(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    let caller = ctx.employer()?;
    ctx.check_csrf(form.get("csrf"))?;
    let kind = kind_of(form.get("type"));
    let mut errors = Errors::default();
    // A provider picks the employer it declares for; the service checks
    // the mandate again when the declaration is submitted.
    let employer = match acting_for(&portal, caller, form.get("employer")).await? {
        Some(e) => e,
        None => {
            errors.add("employer", "anomaly-90256-155");
            caller
        }
    };
    let body = declaration_json(kind, employer, &form, &mut errors);
    if errors.is_empty() {
        // The server's own rules, before anything is sent: blocking
        // anomalies are shown next to their field (warnings are not).
        match kruispunt_dimona::validate_offline(&body, portal.now().date()) {
            Ok((_, found)) => {
                for a in found.iter().filter(|a| a.severity == Severity::Blocking) {
                    errors.add(field_of(a.id), &format!("anomaly-{}", a.id));
                }
            }
            Err(i) => errors.add(field_of(&i.field), "error-field-rejected"),
        }
    }
    if errors.is_empty() {
        match portal.dimona().submit(caller, &body).await {
            Ok(id) => {
                tracing::info!(kind, "portal Dimona declaration received");
                return Ok(Redirect::to(&format!("/employer/dimona/{id}")).into_response());
            }
            Err(SubmitError::Invalid(i)) => errors.add(field_of(&i.field), "error-field-rejected"),
            Err(SubmitError::NoMandate) => errors.add("employer", "anomaly-90256-155"),
            Err(SubmitError::Hub(h)) => return Err(h.into()),
        }
    }
    form_page(
        &portal,
        &ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        kind,
        &form,
        &errors,
    )
    .await
}

pub async fn dimona_status(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let employer = ctx.employer()?;
    if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortalError::NotFound);
    }
    // Processing usually takes well under a second: wait a little so the
    // page shows the result rather than "being processed".
    let mut d = None;
    for _ in 0..20 {
        d = portal.dimona().declaration(employer, &id).await?;
        match &d {
            None => return Err(PortalError::NotFound),
            Some(x) if x.result.is_some() => break,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let Some(d) = d else {
        return Err(PortalError::NotFound);
    };
    let worker: Option<Value> = d
        .worker
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok());
    let body: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
    let details = ["dimonaIn", "dimonaOut", "dimonaUpdate", "dimonaCancel"]
        .iter()
        .find_map(|k| body.get(*k).cloned())
        .unwrap_or(Value::Null);
    portal.page(
        &ctx,
        "dimona_status.html",
        json!({
            "d": notice_json(&portal, &ctx, &d), "pending": d.result.is_none(),
            "ssin": d.ssin, "worker": worker, "details": details,
        }),
    )
}

fn csv_field(s: &str) -> String {
    // Quote everything; neutralise spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn personnel_file(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let caller = ctx.employer()?;
    let employer = acting_for(&portal, caller, q.get("employer"))
        .await?
        .ok_or(PortalError::Forbidden)?;
    let mut errors = Errors::default();
    let ssin = match q.get("ssin") {
        None => None,
        Some(s) => match Ssin::parse(s) {
            Ok(s) => Some(s.to_string()),
            Err(e) => {
                errors.add("ssin", ssin_error(&e));
                None
            }
        },
    };
    let from = date(&q, "from", false, &mut errors);
    let to = date(&q, "to", false, &mut errors);
    let status = match q.get("status") {
        Some(s @ ("active" | "closed" | "cancelled")) => Some(s),
        _ => None,
    };
    let csv = q.get("format") == Some("csv");
    let rows = if errors.is_empty() {
        portal
            .store()
            .personnel_file(
                employer.as_i64(),
                &PeriodFilter {
                    ssin,
                    from,
                    to,
                    after_period: None,
                    limit: 10_000,
                },
            )
            .await?
    } else {
        Vec::new()
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|p| status.is_none_or(|s| p.status == s))
        .collect();
    if csv && errors.is_empty() {
        let mut out = String::from(
            "periodId,ssin,workerType,jointCommissionNumber,startDate,endDate,startHour,endHour,plannedHoursNumber,status,declarationId\r\n",
        );
        for p in &rows {
            let cells = [
                p.period_id.to_string(),
                p.ssin.clone(),
                p.worker_type.clone(),
                p.joint_committee.clone(),
                p.start_date.clone(),
                p.end_date.clone().unwrap_or_default(),
                p.start_hour.clone().unwrap_or_default(),
                p.end_hour.clone().unwrap_or_default(),
                p.planned_hours.map(|h| h.to_string()).unwrap_or_default(),
                p.status.clone(),
                p.declaration_id.clone(),
            ];
            let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        let mut res = out.into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"personnel-file.csv\""),
        );
        return Ok(res);
    }
    // Newest first on screen; at most 200 rows (the CSV has them all).
    let total = rows.len();
    let shown: Vec<_> = rows.iter().rev().take(200).collect();
    // Their daily registrations (horeca presence), one query for the page.
    let period_ids: Vec<i64> = shown.iter().map(|p| p.period_id).collect();
    let mut daily = portal
        .store()
        .daily_registrations_by_period(employer.as_i64(), &period_ids)
        .await?;
    let items: Vec<Value> = shown
        .iter()
        .map(|p| {
            json!({
                "period": p.period_id, "ssin": p.ssin, "worker_type": p.worker_type,
                "jc": p.joint_committee, "start": p.start_date, "end": p.end_date,
                "start_hour": p.start_hour, "end_hour": p.end_hour, "planned": p.planned_hours,
                "status": p.status, "declaration": p.declaration_id,
                "daily": daily.remove(&p.period_id).unwrap_or_default().iter().map(|r| json!({
                    "id": r.registration_id, "start": r.start_date, "start_hour": r.start_hour,
                    "end": r.end_date, "end_hour": r.end_hour, "cancelled": r.status == "cancelled",
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let query: Vec<String> = ["employer", "ssin", "from", "to", "status"]
        .iter()
        .filter_map(|k| {
            q.get(k)
                .map(|v| format!("{k}={}", crate::render::url_encode(v)))
        })
        .collect();
    let employers = represented(&portal, caller).await?;
    let employers = if employers.len() > 1 {
        employers
    } else {
        Vec::new()
    };
    portal.page_with_status(
        &ctx,
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        "personnel_file.html",
        json!({
            "items": items, "total": total, "shown": items.len(),
            "errors": errors.render(&portal, ctx.lang),
            "f": {"ssin": q.value("ssin"), "from": q.value("from"), "to": q.value("to"), "status": q.value("status"),
                  "employer": employer.to_string()},
            "employers": employers,
            "employer_query": employer_query(caller, employer),
            "csv_query": if query.is_empty() { "format=csv".to_owned() } else { format!("{}&format=csv", query.join("&")) },
        }),
    )
}

pub async fn mailbox(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let caller = ctx.employer()?;
    let employer = acting_for(&portal, caller, q.get("employer"))
        .await?
        .ok_or(PortalError::Forbidden)?;
    let notices: Vec<Value> = portal
        .store()
        .recent_notices(employer.as_i64(), 100)
        .await?
        .iter()
        .map(|d| notice_json(&portal, &ctx, d))
        .collect();
    let employers = represented(&portal, caller).await?;
    portal.page(
        &ctx,
        "mailbox.html",
        json!({"notices": notices, "employer": employer.to_string(),
               "employers": if employers.len() > 1 { employers } else { Vec::new() }}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_zones_name_form_fields() {
        use kruispunt_domain::dimona::anomaly;
        assert_eq!(field_of(anomaly::END_MISSING.id), "endDate");
        assert_eq!(field_of("dimonaIn.startDate"), "startDate");
        assert_eq!(field_of("worker.ssin"), "ssin");
        assert_eq!(field_of("employer"), "form");
    }

    #[test]
    fn csv_cells_are_quoted_and_formula_safe() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=1+1"), "\"'=1+1\"");
    }
}
