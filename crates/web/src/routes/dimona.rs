//! Dimona, compatible with the ONSS Dimona REST API v2.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kruispunt_dimona::{SubmitError, notice_json};
use kruispunt_domain::clock::parse_date;
use kruispunt_domain::ids::{EmployerId, Ssin};
use kruispunt_domain::principal::{Principal, Scope};
use kruispunt_store::PeriodFilter;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/REST/dimona/v2/declarations", post(declare))
        .route(
            "/REST/dimona/v2/declarations/{declaration_id}",
            get(declaration),
        )
        .route("/REST/dimona/v2/periods", get(periods))
        .route("/REST/dimona/v2/notices", get(notices))
        .route(
            "/REST/dimona/v2/webhook",
            get(webhook).put(set_webhook).delete(remove_webhook),
        )
}

fn employer_of(caller: &Caller, scope: Scope) -> Result<EmployerId, ApiError> {
    match caller.principal {
        Principal::Employer(id) => {
            caller.require(scope)?;
            Ok(id)
        }
        _ => Err(ApiError::forbidden(
            "Dimona declarations are made with an employer token",
        )),
    }
}

/// The employer (or provider) reading Dimona data: an employer token with
/// a Dimona scope; otherwise 403 with `refusal`.
fn dimona_reader(caller: &Caller, refusal: &str) -> Result<EmployerId, ApiError> {
    match caller.principal {
        Principal::Employer(id)
            if caller.scopes.contains(&Scope::DimonaConsult)
                || caller.scopes.contains(&Scope::DimonaDeclarant) =>
        {
            Ok(id)
        }
        _ => Err(ApiError::forbidden(refusal)),
    }
}

/// The employer whose Dimona data `caller` (an employer or provider) acts
/// on: `requested` (`?employerId=`) if it may act for it, else 403
/// `90256-155`; itself when none is given.
async fn acting_for(
    state: &AppState,
    caller: EmployerId,
    requested: Option<&str>,
) -> Result<EmployerId, ApiError> {
    let Some(s) = requested else {
        return Ok(caller);
    };
    let requested = EmployerId::parse(s)
        .map_err(|e| ApiError::invalid("employerId", format!("the ONSS number {e}")))?;
    if !state.dimona().may_act_for(caller, requested).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "90256-155",
            "you have no mandate for this employer",
        )
        .with_field("employerId"));
    }
    Ok(requested)
}

/// Declare (IN, OUT, UPDATE or CANCEL) in the ONSS v2 JSON.
#[utoipa::path(post, path = "/REST/dimona/v2/declarations", tag = "dimona", security(("bearer" = [])),
    request_body(content = Object, description = "ONSS Dimona v2: employer, worker, and one of dimonaIn, dimonaOut, dimonaUpdate, dimonaCancel (daily registrations only through the batch channel: dailyRegistration is refused, 400)"),
    responses(
        (status = 201, description = "Received and durable; Location names the declaration", body = Object),
        (status = 400, description = "Malformed declaration (the field is named)", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token, or no mandate for this employer (90256-155)", body = crate::error::ErrorEnvelope)))]
pub async fn declare(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let employer = employer_of(&caller, Scope::DimonaDeclarant)?;
    let id = state
        .dimona()
        .submit(employer, &body)
        .await
        .map_err(|e| match e {
            SubmitError::Invalid(i) => i.into(),
            SubmitError::NoMandate => ApiError::new(
                StatusCode::FORBIDDEN,
                "90256-155",
                "you have no mandate to declare for this employer",
            )
            .with_field("employer"),
            SubmitError::Hub(h) => h.into(),
        })?;
    let location = format!("/REST/dimona/v2/declarations/{id}");
    let mut res = (StatusCode::CREATED, Json(json!({"declarationId": id}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// The declaration and its result, once processed (404 before).
#[utoipa::path(get, path = "/REST/dimona/v2/declarations/{declaration_id}", tag = "dimona", security(("bearer" = [])),
    params(("declaration_id" = String, Path, description = "From the Location header")),
    responses(
        (status = 200, description = "The declaration, the enriched worker and declarationStatus{result A|W|B|S, period, anomalies}", body = Object),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token", body = crate::error::ErrorEnvelope),
        (status = 404, description = "Unknown, not yours, or not processed yet", body = crate::error::ErrorEnvelope)))]
pub async fn declaration(
    State(state): State<AppState>,
    caller: Caller,
    Path(declaration_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let employer = dimona_reader(
        &caller,
        "Dimona declarations are consulted with an employer token",
    )?;
    let d = state
        .dimona()
        .declaration(employer, &declaration_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no declaration with this id for your employer"))?;
    let Some(result) = d.result.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_processed_yet",
            "the declaration was received and is being processed; retry shortly",
        ));
    };
    let body: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    out.insert("declarationId".into(), json!(d.id));
    for key in [
        "employer",
        "dimonaIn",
        "dimonaOut",
        "dimonaUpdate",
        "dimonaCancel",
        "dailyRegistration",
    ] {
        if let Some(v) = body.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let worker = d
        .worker
        .as_deref()
        .and_then(|w| serde_json::from_str::<Value>(w).ok())
        .or_else(|| body.get("worker").cloned());
    if let Some(w) = worker {
        out.insert("worker".into(), w);
    }
    let anomalies: Value = d
        .anomalies
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(json!([]));
    let mut status = json!({"declarationId": d.id, "result": result, "anomalies": anomalies});
    if let Some(p) = d.period_id {
        status["period"] = json!({"id": p});
    }
    if let Some(r) = d.registration_id {
        status["dailyRegistration"] = json!({"id": r});
    }
    out.insert("declarationStatus".into(), status);
    Ok(Json(Value::Object(out)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The employer (ONSS number): yours.
    pub employer_id: Option<String>,
    /// Only this worker.
    pub ssin: Option<String>,
    /// Periods still running on or after this date.
    pub from: Option<String>,
    /// Periods starting on or before this date.
    pub to: Option<String>,
    /// Paging: periods after this period id.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The personnel file: the employer's Dimona periods.
#[utoipa::path(get, path = "/REST/dimona/v2/periods", tag = "dimona", security(("bearer" = [])), params(PeriodQuery),
    responses(
        (status = 200, description = "{items:[{periodId, ssin, startDate, endDate?, workerType, jointCommissionNumber, status, dailyRegistrations[{id, startDate, startHour, endDate?, endHour?, status}], ...}]}", body = Object),
        (status = 400, description = "Invalid filter", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Another employer's file", body = crate::error::ErrorEnvelope)))]
pub async fn periods(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let requested = q
        .employer_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("employerId", "is required"))
        .and_then(|s| {
            EmployerId::parse(s)
                .map_err(|e| ApiError::invalid("employerId", format!("the ONSS number {e}")))
        })?;
    let readable = match caller.principal {
        Principal::Employer(own) => state.dimona().may_act_for(own, requested).await?,
        Principal::Operator => {
            caller.require(Scope::Operator)?;
            true
        }
        _ => false,
    };
    if !readable {
        return Err(ApiError::forbidden(
            "the personnel file is readable by its employer, the providers it mandates and operators only",
        ));
    }
    let ssin = q
        .ssin
        .as_deref()
        .map(|s| {
            Ssin::parse(s)
                .map(|s| s.to_string())
                .map_err(|e| ApiError::invalid("ssin", format!("the SSIN {e}")))
        })
        .transpose()?;
    let from = q
        .from
        .as_deref()
        .map(|d| parse_date("from", d).map(|_| d.trim().to_owned()))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|d| parse_date("to", d).map(|_| d.trim().to_owned()))
            .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let rows = state
        .store()
        .personnel_file(
            requested.as_i64(),
            &PeriodFilter {
                ssin,
                from,
                to,
                after_period: q.after,
                limit,
            },
        )
        .await?;
    // The periods' daily registrations (batch channel), one query.
    let ids: Vec<i64> = rows.iter().map(|p| p.period_id).collect();
    let mut daily = state
        .store()
        .daily_registrations_by_period(requested.as_i64(), &ids)
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|p| {
            json!({
                "periodId": p.period_id, "ssin": p.ssin, "startDate": p.start_date, "endDate": p.end_date,
                "startHour": p.start_hour, "endHour": p.end_hour, "plannedHoursNumber": p.planned_hours,
                "workerType": p.worker_type, "jointCommissionNumber": p.joint_committee, "status": p.status,
                "declarationId": p.declaration_id,
                "dailyRegistrations": daily.remove(&p.period_id).unwrap_or_default().iter().map(|r| json!({
                    "id": r.registration_id, "startDate": r.start_date, "startHour": r.start_hour,
                    "endDate": r.end_date, "endHour": r.end_hour, "status": r.status,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let next = rows.last().map(|p| p.period_id);
    Ok(Json(json!({"items": items, "next": next})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Whose mailbox (ONSS number; default: yours). A provider reads the
    /// mailboxes of the employers that mandate it.
    pub employer_id: Option<String>,
    /// Notices after this number (default: from the first).
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The employer's mailbox: a Dimona notice for every processed declaration,
/// in processing order.
#[utoipa::path(get, path = "/REST/dimona/v2/notices", tag = "dimona", security(("bearer" = [])), params(NoticeQuery),
    responses(
        (status = 200, description = "{items:[{noticeId, declarationId, declarationType, result, period?, dailyRegistration? (batch daily registrations), anomalies, processedAt}], next}", body = Object),
        (status = 400, description = "Invalid cursor or limit", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token", body = crate::error::ErrorEnvelope)))]
pub async fn notices(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<NoticeQuery>,
) -> Result<Json<Value>, ApiError> {
    let employer = dimona_reader(&caller, "the Dimona mailbox is read with an employer token")?;
    let employer = acting_for(&state, employer, q.employer_id.as_deref()).await?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid(
            "after",
            "must be a notice number from a previous answer",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let rows = state
        .store()
        .notices(employer.as_i64(), after, limit)
        .await?;
    let next = rows.last().map(|(n, _)| *n).unwrap_or(after);
    let items: Vec<Value> = rows.iter().map(|(n, d)| notice_json(*n, d)).collect();
    Ok(Json(json!({"items": items, "next": next})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// Whose webhook (ONSS number; default: yours). A provider manages the
    /// webhooks of the employers that mandate it.
    pub employer_id: Option<String>,
}

/// The caller (employer or provider) and the employer whose webhook it
/// manages. Changing it needs the declarant scope.
async fn webhook_owner(
    state: &AppState,
    caller: &Caller,
    q: &WebhookQuery,
    change: bool,
) -> Result<(EmployerId, EmployerId), ApiError> {
    let actor = dimona_reader(
        caller,
        "the Dimona notice webhook is managed with an employer token",
    )?;
    if change {
        caller.require(Scope::DimonaDeclarant)?;
    }
    let employer = acting_for(state, actor, q.employer_id.as_deref()).await?;
    Ok((actor, employer))
}

/// The webhook as answered by GET and PUT. `signingKey`: the absolute URL
/// of the hub key, from `public_url`, else the Host the client used.
fn webhook_json(
    state: &AppState,
    headers: &HeaderMap,
    w: &kruispunt_store::EmployerWebhookRow,
) -> Value {
    let base = match &state.config().public_url {
        Some(b) => b.trim_end_matches('/').to_owned(),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}"))
            .unwrap_or_default(),
    };
    json!({
        "employerId": w.employer_id,
        "url": w.url,
        "registeredAt": kruispunt_domain::clock::Timestamp(w.registered_at).rfc3339(),
        "registeredBy": w.registered_by,
        "signingKey": format!("{base}/hub/v1/audit/key"),
        "keyId": state.hub().key().kid(),
    })
}

/// The employer's notice webhook (404 if it registered none).
#[utoipa::path(get, path = "/REST/dimona/v2/webhook", tag = "dimona", security(("bearer" = [])), params(WebhookQuery),
    responses(
        (status = 200, description = "{employerId, url, registeredAt, registeredBy, signingKey (where the Ed25519 key that signs the deliveries is published), keyId}", body = Object),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token, or no mandate for this employer (90256-155)", body = crate::error::ErrorEnvelope),
        (status = 404, description = "No webhook registered", body = crate::error::ErrorEnvelope)))]
pub async fn webhook(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<WebhookQuery>,
) -> Result<Json<Value>, ApiError> {
    let (_, employer) = webhook_owner(&state, &caller, &q, false).await?;
    let w = state
        .dimona()
        .notice_webhook(employer)
        .await?
        .ok_or_else(|| ApiError::not_found("no notice webhook is registered for this employer"))?;
    Ok(Json(webhook_json(&state, &headers, &w)))
}

/// Registers (or replaces) the employer's notice webhook: every notice from
/// now on is POSTed there, signed like the hub's webhooks, at least once.
#[utoipa::path(put, path = "/REST/dimona/v2/webhook", tag = "dimona", security(("bearer" = [])), params(WebhookQuery),
    request_body(content = Object, description = "{\"url\": absolute http(s) URL, no credentials, at most 2,000 characters}"),
    responses(
        (status = 200, description = "Registered: {employerId, url, registeredAt, registeredBy, signingKey, keyId}", body = Object),
        (status = 400, description = "Invalid url (the field is named)", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token with the declarant scope, or no mandate for this employer (90256-155)", body = crate::error::ErrorEnvelope)))]
pub async fn set_webhook(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<WebhookQuery>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (actor, employer) = webhook_owner(&state, &caller, &q, true).await?;
    let url = body.get("url").and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid(
            "url",
            "is required, as a string: the absolute https:// URL to POST notices to",
        )
    })?;
    let w = state
        .dimona()
        .set_notice_webhook(employer, url, actor)
        .await?;
    Ok(Json(webhook_json(&state, &headers, &w)))
}

/// Removes the employer's notice webhook: no notice is sent any more
/// (one already being sent may still arrive); the mailbox keeps them all.
#[utoipa::path(delete, path = "/REST/dimona/v2/webhook", tag = "dimona", security(("bearer" = [])), params(WebhookQuery),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer token with the declarant scope, or no mandate for this employer (90256-155)", body = crate::error::ErrorEnvelope),
        (status = 404, description = "No webhook registered", body = crate::error::ErrorEnvelope)))]
pub async fn remove_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<WebhookQuery>,
) -> Result<StatusCode, ApiError> {
    let (actor, employer) = webhook_owner(&state, &caller, &q, true).await?;
    if state
        .dimona()
        .remove_notice_webhook(employer, actor)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no notice webhook is registered for this employer",
        ))
    }
}
