//! `GET /api/v1/whoami`: what the presented token stands for. Lets a client
//! check its credentials and scopes before calling anything else.

use crate::auth::Caller;
use crate::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/whoami", get(whoami))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// `institution`, `employer`, `citizen` or `operator`.
    pub kind: String,
    /// Institution code, ONSS number or SSIN (absent for operators).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub scopes: Vec<String>,
    /// Token expiry, RFC 3339.
    pub expires_at: String,
}

/// Describe the caller's token.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "The token's principal and scopes", body = WhoAmI),
              (status = 401, description = "No token, or an invalid or expired one", body = crate::error::ErrorEnvelope)))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let id = caller.principal.id();
    Json(WhoAmI {
        kind: caller.principal.kind().as_str().to_owned(),
        id: (!id.is_empty()).then_some(id),
        scopes: caller
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        expires_at: kruispunt_domain::clock::Timestamp(caller.expires_at * 1000).rfc3339(),
    })
}
