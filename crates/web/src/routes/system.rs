//! Operational endpoints: health, readiness, metrics, the OpenAPI document,
//! the public signing keys.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/.well-known/jwks.json", get(jwks))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the process serves requests.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness: the process answers. Deliberately does no IO, so it also
/// serves as the benchmark's trivial ceiling.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/health/ready", tag = "system",
    responses((status = 200, description = "The store answers", body = Health),
              (status = 503, description = "The store does not answer", body = crate::error::ErrorEnvelope)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "store ping failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store does not answer",
        )
    })?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics, text format.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics() -> Response {
    let body = crate::telemetry::prometheus()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3 document of every JSON endpoint", content_type = "application/json", body = Object)))]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// The public keys that verify this server's access tokens (JWK set).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "system",
    responses((status = 200, description = "JWK set (Ed25519)", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.keys().jwks())
}

/// 404: an HTML page for browsers (they ask for text/html), the JSON
/// envelope for everyone else.
pub async fn not_found(portal: &kruispunt_portal::Portal, req: axum::extract::Request) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && req.method() == axum::http::Method::GET {
        kruispunt_portal::not_found_page(portal, req).await
    } else {
        ApiError::for_status(StatusCode::NOT_FOUND).into_response()
    }
}
