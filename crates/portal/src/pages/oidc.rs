//! `/login/oidc` (to the provider) and `/login/oidc/callback` (back from
//! it). See `crate::oidc` for the protocol side.

use super::auth::{home_of, safe_next};
use super::{Errors, Fields};
use crate::oidc::Failure;
use crate::{Ctx, Portal, PortalError, SESSION_COOKIE, cookie, set_cookie};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kruispunt_domain::principal::Principal;
use kruispunt_security::session::{digest, new_secret, same};
use kruispunt_store::OidcFlowRow;
use serde_json::json;

/// The cookie binding a sign-in under way to this browser (its `state`).
const FLOW_COOKIE: &str = "kp_oidc";
/// A sign-in must come back from the provider within ten minutes.
const FLOW_SECONDS: i64 = 600;

/// Where the provider sends the browser back: the public URL's, else this
/// request's host (the provider accepts only the URIs registered with it).
fn redirect_uri(portal: &Portal, headers: &HeaderMap) -> String {
    let base = portal.config().public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    });
    format!("{base}/login/oidc/callback")
}

/// The sign-in page again, with the reason next to the provider's button.
fn failed(
    portal: &Portal,
    ctx: &Ctx,
    next: Option<String>,
    why: &Failure,
) -> Result<Response, PortalError> {
    match why {
        Failure::Unavailable(reason) | Failure::Invalid(reason) => {
            tracing::warn!(reason = %reason, "portal OIDC sign-in failed")
        }
        other => tracing::info!(failure = other.key(), "portal OIDC sign-in refused"),
    }
    let mut errors = Errors::default();
    errors.add("oidc", why.key());
    let status = match why {
        Failure::Unavailable(_) => StatusCode::BAD_GATEWAY,
        Failure::NoAccount | Failure::Unverified => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut res = portal.page_with_status(
        ctx,
        status,
        "login.html",
        json!({"next": next, "email": "", "errors": errors.render(portal, ctx.lang),
               "oidc": portal.oidc().map(|c| c.config.label())}),
    )?;
    if let Some(c) = set_cookie(portal, FLOW_COOKIE, "", Some(0), true) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// Sends the browser to the provider's authorization endpoint.
pub async fn start(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let Some(client) = portal.oidc() else {
        return Err(PortalError::NotFound);
    };
    let next = safe_next(q.get("next"));
    let now = portal.now().millis();
    let provider = match client.provider(now).await {
        Ok(p) => p,
        Err(f) => return failed(&portal, &ctx, next, &f),
    };
    let state = new_secret(portal.entropy());
    let nonce = new_secret(portal.entropy());
    let verifier = new_secret(portal.entropy());
    let redirect = redirect_uri(&portal, &headers);
    portal
        .store()
        .insert_oidc_flow(
            &OidcFlowRow {
                state_hash: digest(&state),
                nonce: nonce.clone(),
                verifier: verifier.clone(),
                redirect_uri: redirect.clone(),
                next_path: next,
                expires_at: now + FLOW_SECONDS * 1000,
            },
            now,
        )
        .await?;
    let url = client.authorization_url(&provider, &redirect, &state, &nonce, &verifier);
    let mut res = Redirect::to(&url).into_response();
    if let Some(c) = set_cookie(&portal, FLOW_COOKIE, &state, Some(FLOW_SECONDS), true) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// Back from the provider: checks `state` against this browser's cookie,
/// exchanges the code (with the PKCE verifier), verifies the ID token and
/// signs in the account that has the verified e-mail address.
pub async fn callback(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let Some(client) = portal.oidc() else {
        return Err(PortalError::NotFound);
    };
    let now = portal.now();
    let held = cookie(&headers, FLOW_COOKIE).unwrap_or_default();
    let returned = q.value("state");
    if held.is_empty() || !same(&held, &returned) {
        return failed(&portal, &ctx, None, &Failure::Expired);
    }
    // Single use, whatever happens next.
    let Some(flow) = portal
        .store()
        .take_oidc_flow(&digest(&returned), now.millis())
        .await?
    else {
        return failed(&portal, &ctx, None, &Failure::Expired);
    };
    let next = flow.next_path.clone();
    if q.get("error").is_some() {
        return failed(&portal, &ctx, next, &Failure::Cancelled);
    }
    let Some(code) = q.get("code") else {
        return failed(&portal, &ctx, next, &Failure::Invalid("no code".into()));
    };
    let provider = match client.provider(now.millis()).await {
        Ok(p) => p,
        Err(f) => return failed(&portal, &ctx, next, &f),
    };
    let id = match client
        .finish(
            &provider,
            code,
            &flow.verifier,
            &flow.redirect_uri,
            &flow.nonce,
            now,
        )
        .await
    {
        Ok(id) => id,
        Err(f) => return failed(&portal, &ctx, next, &f),
    };
    let Some(email) = id.email.as_deref().filter(|_| id.email_verified) else {
        return failed(&portal, &ctx, next, &Failure::Unverified);
    };
    // The address must be an existing account's: signing in with the
    // provider grants nothing by itself.
    let Some(user) = portal
        .store()
        .user_by_email(&email.trim().to_lowercase())
        .await?
    else {
        return failed(&portal, &ctx, next, &Failure::NoAccount);
    };
    let Ok(principal) = Principal::parse_subject(&user.principal) else {
        return Err(PortalError::Internal(
            "account with an unreadable principal".into(),
        ));
    };
    if let Some(old) = &ctx.user {
        portal.store().delete_session(&old.id_hash).await?;
    }
    let secret = crate::session::create(&portal, &user.id, &user.principal).await?;
    tracing::info!(kind = principal.kind().as_str(), "portal sign-in (OIDC)");
    let target = next.unwrap_or_else(|| home_of(&principal).to_owned());
    let mut res = Redirect::to(&target).into_response();
    let h = res.headers_mut();
    if let Some(c) = set_cookie(&portal, SESSION_COOKIE, &secret, None, true) {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(c) = set_cookie(&portal, FLOW_COOKIE, "", Some(0), true) {
        h.append(header::SET_COOKIE, c);
    }
    Ok(res)
}
