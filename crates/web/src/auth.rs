//! Authentication of API requests: a bearer access token issued by this
//! server, verified on every request.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kruispunt_domain::principal::{Principal, Scope};
use kruispunt_security::AuthError;

/// A token already verified earlier in the request (by the rate limiter),
/// so the `Caller` extractor does not look it up again.
#[derive(Debug, Clone)]
pub struct Authenticated(pub kruispunt_security::access_token::Verified);

/// The bearer token of a request, if it has a well-formed one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The verified caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub scopes: Vec<Scope>,
    /// Expiry of the token, Unix seconds.
    pub expires_at: i64,
}

impl Caller {
    /// The institution behind the token, or 403.
    pub fn institution(
        &self,
        scope: Scope,
    ) -> Result<&kruispunt_domain::registers::InstitutionCode, ApiError> {
        match &self.principal {
            Principal::Institution(code) => {
                self.require(scope)?;
                Ok(code)
            }
            _ => Err(ApiError::forbidden(
                "this operation is for network institutions (an institution token)",
            )),
        }
    }

    /// Refuses (403) a token without `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this operation needs a token with the scope {}",
                    scope.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(Authenticated(v)) = parts.extensions.get::<Authenticated>().cloned() {
            return Ok(Caller {
                principal: v.principal,
                scopes: v.scopes,
                expires_at: v.expires_at,
            });
        }
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Err(ApiError::unauthorized(
                "missing_token",
                "send an access token: Authorization: Bearer <token>",
            ));
        }
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be: Bearer <token>",
            )
        })?;
        let now = state.now();
        let verified = match state.cached_token(token) {
            Some(v) => v,
            None => {
                let v = match state.keys().verify(token, now) {
                    Err(AuthError::UnknownKey) if state.reload_keys().await? => {
                        state.keys().verify(token, now)
                    }
                    other => other,
                }?;
                state.remember_token(token, &v);
                v
            }
        };
        Ok(Caller {
            principal: verified.principal,
            scopes: verified.scopes,
            expires_at: verified.expires_at,
        })
    }
}
