//! `POST /REST/oauth/v5/token`: OAuth2 client credentials with a signed JWT
//! client assertion, as the ONSS token endpoint works.

use crate::error::ApiError;
use crate::extract::ApiForm;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use kruispunt_domain::principal::{Principal, Scope};
use kruispunt_security::client_assertion::{self, ASSERTION_TYPE, KeyAlgorithm};
use serde::{Deserialize, Serialize};

pub const TOKEN_PATH: &str = "/REST/oauth/v5/token";

pub fn router() -> Router<AppState> {
    Router::new().route(TOKEN_PATH, post(token))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    /// Must be `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// The signed JWT (RS256 or ES256): `iss` = `sub` = client id, `aud` =
    /// this endpoint's URL, unique `jti`, `exp` at most 5 minutes ahead.
    pub client_assertion: Option<String>,
    /// Optional: the client id (must match the assertion's `iss`).
    pub client_id: Option<String>,
    /// Space-separated scopes; default: all scopes the client may have.
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

fn invalid_client(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", message)
}

/// The audience a client must put in its assertion: this endpoint's URL as
/// the client reached it.
fn expected_audience(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(base) = &state.config().public_url {
        return Ok(format!("{}{TOKEN_PATH}", base.trim_end_matches('/')));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("invalid_request", "the Host header is missing"))?;
    Ok(format!("http://{host}{TOKEN_PATH}"))
}

/// Issue an access token.
#[utoipa::path(post, path = "/REST/oauth/v5/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer access token", body = TokenResponse),
        (status = 400, description = "Malformed request, unsupported grant type or scope", body = crate::error::ErrorEnvelope),
        (status = 401, description = "Unknown client, bad signature, wrong audience, expired or replayed assertion", body = crate::error::ErrorEnvelope)))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Response, ApiError> {
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            )
            .with_field("grant_type"));
        }
        None => {
            return Err(
                ApiError::bad_request("invalid_request", "grant_type is required")
                    .with_field("grant_type"),
            );
        }
    }
    if form.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("client_assertion_type must be {ASSERTION_TYPE}"),
        )
        .with_field("client_assertion_type"));
    }
    let assertion = form
        .client_assertion
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_request", "client_assertion is required")
                .with_field("client_assertion")
        })?;
    let client_id = client_assertion::claimed_client_id(assertion)
        .map_err(|e| invalid_client(e.to_string()))?;
    if form.client_id.as_deref().is_some_and(|id| id != client_id) {
        return Err(invalid_client(
            "client_id does not match the assertion's iss",
        ));
    }
    let client = state
        .store()
        .client(&client_id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(|| invalid_client("unknown or disabled client"))?;
    let algorithm = KeyAlgorithm::parse(&client.algorithm)
        .ok_or_else(|| ApiError::internal("stored client has an unknown algorithm"))?;
    let now = state.now();
    let audience = expected_audience(&state, &headers)?;
    let verified = client_assertion::verify(
        assertion,
        &client.client_id,
        &client.public_key_pem,
        algorithm,
        &audience,
        now,
    )
    .map_err(|e| invalid_client(format!("the client assertion is refused: {e}")))?;
    if !state
        .store()
        .remember_jti(&verified.client_id, &verified.jti, verified.expires_at, now)
        .await?
    {
        return Err(invalid_client(
            "this client assertion was already used (jti replay); sign a new one",
        ));
    }
    let allowed = Scope::parse_list(&client.scopes)
        .map_err(|_| ApiError::internal("stored client scopes unreadable"))?;
    let scopes = match form
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => allowed,
        Some(requested) => {
            let requested = Scope::parse_list(requested).map_err(|e| {
                ApiError::bad_request("invalid_scope", e.message).with_field("scope")
            })?;
            if let Some(extra) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(ApiError::bad_request(
                    "invalid_scope",
                    format!("this client may not have the scope {}", extra.as_str()),
                )
                .with_field("scope"));
            }
            requested
        }
    };
    let principal = Principal::parse_subject(&client.principal)
        .map_err(|_| ApiError::internal("stored client principal unreadable"))?;
    let ttl = state.config().token_ttl_seconds;
    let (access_token, claims) =
        state
            .keys()
            .issue(&principal, &scopes, ttl, now, state.entropy())?;
    metrics::counter!("oauth_tokens_issued_total", "kind" => principal.kind().as_str())
        .increment(1);
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ttl,
            scope: claims.scope,
        }),
    )
        .into_response())
}
