//! The hub's HTTP interface (`/hub/v1/...`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::middleware::RequestId;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use kruispunt_domain::hub::{HubCode, INTERNAL_SERVICES, valid_service_name};
use kruispunt_domain::ids::Ssin;
use kruispunt_domain::principal::{Principal, Scope};
use kruispunt_hub::directory::{ReferenceInput, ReferenceView};
use kruispunt_hub::messages::{MessageOutcome, MessageRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hub/v1/authorizations", get(authorizations))
        .route("/hub/v1/references", post(register).get(list_references))
        .route("/hub/v1/references/unregister", post(unregister))
        .route("/hub/v1/messages", post(message))
        .route("/hub/v1/notifications", get(notifications))
        .route("/hub/v1/persons/{ssin}/access-log", get(access_log))
        .route("/hub/v1/audit/key", get(audit_key))
        .route("/hub/v1/audit/checkpoints", get(checkpoints))
        .route("/hub/v1/providers/{service}", put(register_provider))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationItem {
    pub id: String,
    pub institution: String,
    pub service: String,
    /// The purpose: a capacity code of the institution's sector.
    pub purpose: String,
    pub integration_check: bool,
    /// The committee's deliberation reference.
    pub deliberation: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
    /// `active`, `revoked`, `expired` or `future`.
    pub status: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationList {
    pub items: Vec<AuthorizationItem>,
}

/// The public register of authorizations (no token needed).
#[utoipa::path(get, path = "/hub/v1/authorizations", tag = "hub",
    responses((status = 200, description = "Every authorization ever granted, with its status", body = AuthorizationList)))]
pub async fn authorizations(
    State(state): State<AppState>,
) -> Result<Json<AuthorizationList>, ApiError> {
    let today = state.hub().today();
    let items = state
        .store()
        .authorizations()
        .await?
        .into_iter()
        .map(|a| {
            let status = if a.revoked_at.is_some() {
                "revoked"
            } else if a.valid_from > today {
                "future"
            } else if a.valid_to.as_deref().is_some_and(|t| t < today.as_str()) {
                "expired"
            } else {
                "active"
            };
            AuthorizationItem {
                id: a.id,
                institution: a.institution,
                service: a.service,
                purpose: a.purpose,
                integration_check: a.integration_check,
                deliberation: a.deliberation,
                valid_from: a.valid_from,
                valid_to: a.valid_to,
                status: status.into(),
            }
        })
        .collect();
    Ok(Json(AuthorizationList { items }))
}

/// A reference to register or unregister.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceBody {
    #[schema(example = "93051822361")]
    pub ssin: Option<String>,
    /// A capacity code of the caller's sector.
    #[schema(value_type = Option<u16>, example = 2)]
    pub capacity: Option<Value>,
    #[schema(example = "2026-01-01")]
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl From<ReferenceBody> for ReferenceInput {
    fn from(b: ReferenceBody) -> Self {
        ReferenceInput {
            ssin: b.ssin,
            capacity: b.capacity,
            start_date: b.start_date,
            end_date: b.end_date,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceItem {
    pub ssin: String,
    pub capacity: u16,
    pub start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// `active`, `future`, `ended` or `removed`.
    pub status: String,
}

impl From<ReferenceView> for ReferenceItem {
    fn from(v: ReferenceView) -> Self {
        Self {
            ssin: v.ssin,
            capacity: v.capacity,
            start_date: v.start_date,
            end_date: v.end_date,
            status: v.status,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAnswer {
    pub ticket: String,
    /// 0 ok, 1 warning (e.g. already registered).
    pub return_code: u8,
    pub reference: ReferenceItem,
}

/// REGISTER a person in the caller's part of the reference directory.
#[utoipa::path(post, path = "/hub/v1/references", tag = "hub", security(("bearer" = [])),
    request_body = ReferenceBody,
    responses(
        (status = 201, description = "Registered", body = DirectoryAnswer),
        (status = 200, description = "This exact period was already registered (return code 1)", body = DirectoryAnswer),
        (status = 400, description = "Invalid SSIN, capacity or dates", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an institution token with scope:hub:references", body = crate::error::ErrorEnvelope),
        (status = 404, description = "Person unknown to the National Register and bis register", body = crate::error::ErrorEnvelope),
        (status = 409, description = "Overlaps a registered period", body = crate::error::ErrorEnvelope)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReferenceBody>,
) -> Result<Response, ApiError> {
    let institution = caller.institution(Scope::HubReferences)?;
    let out = state
        .hub()
        .register_reference(institution, &body.into())
        .await?;
    let status = if out.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let answer = DirectoryAnswer {
        ticket: out.ticket,
        return_code: u8::from(out.unchanged),
        reference: out.reference.into(),
    };
    Ok((status, Json(answer)).into_response())
}

/// UNREGISTER: close a period (with `endDate`) or remove it (without).
#[utoipa::path(post, path = "/hub/v1/references/unregister", tag = "hub", security(("bearer" = [])),
    request_body = ReferenceBody,
    responses(
        (status = 200, description = "Closed or removed", body = DirectoryAnswer),
        (status = 400, description = "Invalid input", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an institution token with scope:hub:references", body = crate::error::ErrorEnvelope),
        (status = 404, description = "No such registered period", body = crate::error::ErrorEnvelope)))]
pub async fn unregister(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReferenceBody>,
) -> Result<Json<DirectoryAnswer>, ApiError> {
    let institution = caller.institution(Scope::HubReferences)?;
    let out = state
        .hub()
        .unregister_reference(institution, &body.into())
        .await?;
    Ok(Json(DirectoryAnswer {
        ticket: out.ticket,
        return_code: 0,
        reference: out.reference.into(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SsinQuery {
    /// The person.
    pub ssin: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferenceList {
    pub items: Vec<ReferenceItem>,
}

/// LIST the caller's entries on a person.
#[utoipa::path(get, path = "/hub/v1/references", tag = "hub", security(("bearer" = [])), params(SsinQuery),
    responses(
        (status = 200, description = "The caller's entries on this person", body = ReferenceList),
        (status = 400, description = "Missing or invalid SSIN", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an institution token with scope:hub:references", body = crate::error::ErrorEnvelope)))]
pub async fn list_references(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SsinQuery>,
) -> Result<Json<ReferenceList>, ApiError> {
    let institution = caller.institution(Scope::HubReferences)?;
    let ssin = q
        .ssin
        .ok_or_else(|| ApiError::invalid("ssin", "is required"))?;
    let items = state
        .hub()
        .list_references(institution, &ssin)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(ReferenceList { items }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// `identification`, `employment`, `employer`, or a registered provider's service.
    #[schema(example = "identification")]
    pub service: Option<String>,
    /// The person (required for person services).
    pub ssin: Option<String>,
    /// Why: a capacity code of the caller's sector.
    #[schema(example = "2")]
    pub purpose: Option<String>,
    /// Service-specific request (e.g. `{"employerId": 935467}` for `employer`).
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageError {
    /// 8 digits `TCSSSXXX`.
    pub code: String,
    /// `not-authorized`, `not-integrated`, `not-found`, `provider-timeout` or `provider-failed`.
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAnswer {
    pub ticket: String,
    /// Whether the hub forwarded the message to the authentic source.
    pub forwarded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<MessageError>,
    pub request_id: String,
}

/// A 403 or 404 of `POST /hub/v1/messages` (for the OpenAPI document): the
/// hub's answer with its ticket when the message was checked and audited,
/// or the error envelope when it never reached the check (not an
/// institution token, unknown service).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the answers; the handler builds them as they are
pub enum MessageRefusal {
    Answer(MessageAnswer),
    Error(crate::error::ErrorEnvelope),
}

/// Send a message through the hub: preventive check, routing, audit, answer.
#[utoipa::path(post, path = "/hub/v1/messages", tag = "hub", security(("bearer" = [])),
    request_body = MessageBody,
    responses(
        (status = 200, description = "Checked, forwarded, answered", body = MessageAnswer),
        (status = 400, description = "Invalid SSIN or body, or no purpose", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Refused by the preventive check (not-authorized, not-integrated: the answer, with its ticket), or not an institution (the error envelope)", body = MessageRefusal),
        (status = 404, description = "Nothing known at the authentic source (the answer, with its ticket), or an unknown service (the error envelope)", body = MessageRefusal),
        (status = 502, description = "The provider failed", body = MessageAnswer),
        (status = 503, description = "The audit log is unavailable: nothing was processed", body = crate::error::ErrorEnvelope),
        (status = 504, description = "The provider did not answer in time", body = MessageAnswer)))]
pub async fn message(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Response, ApiError> {
    let institution = caller.institution(Scope::HubMessages)?;
    let req = MessageRequest {
        service: body.service,
        ssin: body.ssin,
        purpose: body.purpose,
        body: body.body,
    };
    let outcome = state.hub().message(institution, req).await?;
    let (status, answer) = match outcome {
        MessageOutcome::Answered { ticket, answer } => (
            StatusCode::OK,
            MessageAnswer {
                ticket,
                forwarded: true,
                answer: Some(answer),
                error: None,
                request_id,
            },
        ),
        MessageOutcome::Refused {
            ticket,
            refusal,
            message,
        } => (
            StatusCode::FORBIDDEN,
            MessageAnswer {
                ticket,
                forwarded: false,
                answer: None,
                error: Some(MessageError {
                    code: refusal.code().code().into(),
                    reason: refusal.reason().into(),
                    message,
                }),
                request_id,
            },
        ),
        MessageOutcome::NotFound { ticket, message } => (
            StatusCode::NOT_FOUND,
            MessageAnswer {
                ticket,
                forwarded: true,
                answer: None,
                error: Some(MessageError {
                    code: HubCode::PersonUnknown.code().into(),
                    reason: "not-found".into(),
                    message,
                }),
                request_id,
            },
        ),
        MessageOutcome::ProviderFailed {
            ticket,
            timeout,
            message,
        } => {
            let (status, code, reason) = if timeout {
                (
                    StatusCode::GATEWAY_TIMEOUT,
                    HubCode::ProviderTimeout,
                    "provider-timeout",
                )
            } else {
                (
                    StatusCode::BAD_GATEWAY,
                    HubCode::ProviderFailed,
                    "provider-failed",
                )
            };
            (
                status,
                MessageAnswer {
                    ticket,
                    forwarded: true,
                    answer: None,
                    error: Some(MessageError {
                        code: code.code().into(),
                        reason: reason.into(),
                        message,
                    }),
                    request_id,
                },
            )
        }
    };
    Ok((status, Json(answer)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Return notifications after this cursor (default: from the start).
    pub after: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationItem {
    pub cursor: String,
    /// e.g. `identification.changed`, `employment.changed`.
    pub kind: String,
    pub ssin: String,
    #[serde(rename = "occurredAt")]
    pub occurred_at: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationFeed {
    pub items: Vec<NotificationItem>,
    /// The cursor to pass as `after` next time.
    pub next: String,
}

/// Mutations pushed to the caller (pull feed).
#[utoipa::path(get, path = "/hub/v1/notifications", tag = "hub", security(("bearer" = [])), params(FeedQuery),
    responses(
        (status = 200, description = "Notifications after the cursor, oldest first", body = NotificationFeed),
        (status = 400, description = "Invalid cursor or limit", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an institution token with scope:hub:notifications", body = crate::error::ErrorEnvelope)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FeedQuery>,
) -> Result<Json<NotificationFeed>, ApiError> {
    let institution = caller.institution(Scope::HubNotifications)?;
    let after =
        match q.after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => s.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                ApiError::invalid("after", "must be a cursor from a previous answer")
            })?,
        };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let rows = state
        .store()
        .notifications_after(institution.as_str(), after, limit)
        .await?;
    let next = rows.last().map(|n| n.cursor).unwrap_or(after);
    let items = rows
        .iter()
        .map(|n| {
            let v = kruispunt_hub::delivery::notification_json(n);
            NotificationItem {
                cursor: n.cursor.to_string(),
                kind: n.kind.clone(),
                ssin: n.ssin.clone(),
                occurred_at: v["occurredAt"].as_str().unwrap_or_default().to_owned(),
                data: v["data"].clone(),
            }
        })
        .collect();
    Ok(Json(NotificationFeed {
        items,
        next: next.to_string(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogItem {
    pub at: String,
    pub institution: String,
    pub service: String,
    pub purpose: String,
    /// Whether the hub forwarded the request (false: refused by the check).
    pub forwarded: bool,
    /// `forwarded`, `not-authorized`, `not-integrated`, `not-found`, ...
    pub outcome: String,
    pub ticket: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLog {
    pub items: Vec<AccessLogItem>,
}

/// Every message about a person, refusals included, newest first. For
/// that person (citizen token) and operators.
#[utoipa::path(get, path = "/hub/v1/persons/{ssin}/access-log", tag = "hub", security(("bearer" = [])),
    params(("ssin" = String, Path, description = "The person")),
    responses(
        (status = 200, description = "Who looked at this person's data", body = AccessLog),
        (status = 400, description = "Invalid SSIN", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Another person's log", body = crate::error::ErrorEnvelope)))]
pub async fn access_log(
    State(state): State<AppState>,
    caller: Caller,
    Path(ssin): Path<String>,
) -> Result<Json<AccessLog>, ApiError> {
    let ssin =
        Ssin::parse(&ssin).map_err(|e| ApiError::invalid("ssin", format!("the SSIN {e}")))?;
    match &caller.principal {
        Principal::Citizen(own) if *own == ssin => caller.require(Scope::CitizenSelf)?,
        Principal::Operator => caller.require(Scope::Operator)?,
        _ => {
            return Err(ApiError::forbidden(
                "only the person concerned (or an operator) may read this access log",
            ));
        }
    }
    let items = state
        .store()
        .audit_messages_about(&ssin.to_string(), 10_000)
        .await?
        .into_iter()
        .map(|r| AccessLogItem {
            at: kruispunt_domain::clock::Timestamp(r.at).rfc3339(),
            institution: r
                .actor
                .strip_prefix("institution:")
                .unwrap_or(&r.actor)
                .to_owned(),
            service: r.service.unwrap_or_default(),
            purpose: r.purpose.unwrap_or_default(),
            forwarded: r.outcome != "not-authorized" && r.outcome != "not-integrated",
            outcome: r.outcome,
            ticket: r.ticket,
        })
        .collect();
    Ok(Json(AccessLog { items }))
}

/// The hub's public key (Ed25519) for audit checkpoints and webhook signatures.
#[utoipa::path(get, path = "/hub/v1/audit/key", tag = "hub",
    responses((status = 200, description = "kid, algorithm, raw public key (base64url) and as a JWK", body = Object)))]
pub async fn audit_key(State(state): State<AppState>) -> Json<Value> {
    use base64::Engine;
    let key = state.hub().key();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key());
    Json(json!({
        "kid": key.kid(), "algorithm": "Ed25519", "publicKey": x,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "kid": key.kid(), "x": x},
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// Checkpoints after this seq.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Signed checkpoints of the audit chain: anyone can keep copies, so a
/// rewritten history shows.
#[utoipa::path(get, path = "/hub/v1/audit/checkpoints", tag = "hub", params(CheckpointQuery),
    responses((status = 200, description = "seq, chain hash (hex), time, kid, Ed25519 signature (base64url) over \"kruispunt-audit-checkpoint-v1\" || seq (i64 BE) || hash", body = Object),
              (status = 400, description = "Invalid limit", body = crate::error::ErrorEnvelope)))]
pub async fn checkpoints(
    State(state): State<AppState>,
    Query(q): Query<CheckpointQuery>,
) -> Result<Json<Value>, ApiError> {
    use base64::Engine;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let (head_seq, _) = state.store().audit_head().await?;
    let items: Vec<Value> = state
        .store()
        .checkpoints(q.after.unwrap_or(0), limit)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "seq": c.seq,
                "hash": c.hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "at": kruispunt_domain::clock::Timestamp(c.at).rfc3339(),
                "kid": c.kid,
                "signature": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&c.signature),
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "headSeq": head_seq})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// Where the hub POSTs checked requests (http or https).
    pub endpoint: Option<String>,
}

/// Register the caller as the provider (authentic source) of a service.
#[utoipa::path(put, path = "/hub/v1/providers/{service}", tag = "hub", security(("bearer" = [])),
    params(("service" = String, Path, description = "Service name: lowercase letters, digits, -")),
    request_body = ProviderBody,
    responses(
        (status = 200, description = "Registered", body = Object),
        (status = 400, description = "Invalid name or endpoint", body = crate::error::ErrorEnvelope),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an institution token", body = crate::error::ErrorEnvelope),
        (status = 409, description = "Another institution provides this service", body = crate::error::ErrorEnvelope)))]
pub async fn register_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(service): Path<String>,
    ApiJson(body): ApiJson<ProviderBody>,
) -> Result<Json<Value>, ApiError> {
    let institution = caller.institution(Scope::HubMessages)?;
    if !valid_service_name(&service) || INTERNAL_SERVICES.contains(&service.as_str()) {
        return Err(ApiError::invalid(
            "service",
            "must be 2 to 40 lowercase letters, digits or -, and not a built-in service",
        ));
    }
    let endpoint =
        kruispunt_domain::registers::http_url("endpoint", &body.endpoint.unwrap_or_default())?;
    let now = state.hub().now().millis();
    state
        .store()
        .upsert_provider(&service, institution.as_str(), &endpoint, now)
        .await?;
    match state.store().provider(&service).await? {
        Some((owner, _)) if owner == institution.as_str() => Ok(Json(
            json!({"service": service, "institution": owner, "endpoint": endpoint}),
        )),
        _ => Err(ApiError::conflict(
            "another institution already provides this service",
        )),
    }
}
