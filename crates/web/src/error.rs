//! The one error type of the HTTP layer, its stable codes, and the mapping
//! to HTTP statuses, in one place.
//!
//! Handlers return `ApiError`; its `IntoResponse` leaves the body to the
//! `error_envelope` middleware, which adds the request id so that every
//! error answer has the contract's shape:
//! `{"error":{"code","message","field"?},"requestId"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kruispunt_domain::Invalid;
use kruispunt_hub::HubError;
use kruispunt_security::AuthError;
use kruispunt_store::StoreError;
use serde::Serialize;

/// The error part of the envelope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Extra headers (e.g. `WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
                field: None,
            },
            headers: Vec::new(),
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::bad_request("invalid_field", message).with_field(field)
    }
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message).with_header("www-authenticate", "Bearer")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// An unexpected failure. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred; quote the request id when reporting it",
        )
    }

    /// The generic error for a status produced outside our handlers
    /// (router fallback, body limit, timeout).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("bad_request", "the request is malformed"),
            401 => ("unauthorized", "authentication is required"),
            403 => ("forbidden", "you may not do this"),
            404 => ("not_found", "there is nothing at this address"),
            405 => (
                "method_not_allowed",
                "this method is not allowed at this address",
            ),
            408 => ("timeout", "the request took too long to arrive"),
            413 => ("payload_too_large", "the request body is too large"),
            415 => (
                "unsupported_media_type",
                "the request content type is not supported here",
            ),
            422 => ("bad_request", "the request body cannot be processed"),
            429 => ("throttled", "too many requests; retry later"),
            503 => (
                "unavailable",
                "the service is busy or timed out; retry later",
            ),
            504 => ("timeout", "the request timed out"),
            _ if status.is_server_error() => ("internal", "an unexpected error occurred"),
            _ => ("error", "the request failed"),
        };
        Self::new(status, code, message)
    }
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        ApiError::invalid(&i.field, i.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what } => ApiError::conflict(format!("{what} already exists")),
            StoreError::NotFound { what } => ApiError::not_found(format!("{what} not found")),
            other => ApiError::internal(other),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Invalid(i) => i.into(),
            HubError::Rejected { code, field, message, status } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                let err = ApiError::new(status, code.code(), message);
                match field {
                    Some(f) => err.with_field(f),
                    None => err,
                }
            }
            HubError::UnknownService => ApiError::new(
                StatusCode::NOT_FOUND,
                kruispunt_domain::hub::HubCode::UnknownService.code(),
                "this service is not known to the hub (identification, employment, employer, or a registered provider's service)",
            )
            .with_field("service"),
            HubError::Forbidden(m) => ApiError::forbidden(m),
            HubError::Store(s) => s.into(),
            HubError::AuditUnavailable(detail) => {
                tracing::error!(error = %detail, "audit unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "the audit log cannot record this request right now, so it was not processed; retry later",
                )
            }
            HubError::Internal(d) => ApiError::internal(d),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Hashing | AuthError::Key(_) => ApiError::internal(e),
            other => ApiError::unauthorized("invalid_token", other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        for (name, value) in &self.headers {
            if let Ok(v) = axum::http::HeaderValue::from_str(value) {
                res.headers_mut().insert(*name, v);
            }
        }
        res.extensions_mut().insert(self.body);
        res
    }
}

/// The full envelope, as serialised.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
    pub request_id: String,
}
