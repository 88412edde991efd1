//! Sign-in (`/login`, fields `email` and `password`) and sign-out (POST `/logout`).

use super::{Errors, Fields};
use crate::session::{self, SignedOut};
use crate::{Ctx, Portal, PortalError, SESSION_COOKIE, set_cookie};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Extensions, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kruispunt_domain::principal::{Principal, PrincipalKind};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A well-formed hash of a password nobody has, verified when the e-mail
/// address is unknown so that both cases take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9N8OIZxqeqeXXJBUn5VJ1+Sl2CnSGi+fCUXHJeg3S8w";

pub fn home_of(p: &Principal) -> &'static str {
    match p.kind() {
        PrincipalKind::Employer => "/employer",
        PrincipalKind::Citizen => "/citizen",
        PrincipalKind::Institution => "/institution",
        PrincipalKind::Operator => "/operator",
    }
}

/// Only local paths: never an open redirect.
pub(crate) fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    (n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 512)
        .then(|| n.to_owned())
}

pub async fn login_form(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    if let Some(u) = &ctx.user {
        return Ok(Redirect::to(home_of(&u.principal)).into_response());
    }
    portal.page(
        &ctx,
        "login.html",
        json!({"next": safe_next(q.get("next")), "email": "",
               "oidc": portal.oidc().map(|c| c.config.label())}),
    )
}

fn client_ip(ext: &Extensions) -> IpAddr {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

pub async fn login(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    ext: Extensions,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    ctx.check_csrf(form.get("csrf"))?;
    let ip = client_ip(&ext);
    let now = portal.now().millis();
    let next = safe_next(form.get("next"));
    let email = form.value("email").to_lowercase();
    let password = form.0.get("password").cloned().unwrap_or_default();
    let again = |status: StatusCode, errors: Errors| -> Result<Response, PortalError> {
        portal.page_with_status(
            &ctx,
            status,
            "login.html",
            json!({"next": next, "email": email, "errors": errors.render(&portal, ctx.lang),
                   "oidc": portal.oidc().map(|c| c.config.label())}),
        )
    };
    let mut errors = Errors::default();
    if email.is_empty() {
        errors.add("email", "login-error-email-missing");
    }
    if password.is_empty() {
        errors.add("password", "login-error-password-missing");
    }
    if !errors.is_empty() {
        return again(StatusCode::BAD_REQUEST, errors);
    }
    if portal
        .throttle()
        .blocked(ip, now, portal.config().max_failures_per_address)
    {
        errors.add("email", "login-error-throttled");
        return again(StatusCode::TOO_MANY_REQUESTS, errors);
    }
    let user = portal.store().user_by_email(&email).await?;
    if let Some(u) = &user
        && u.locked_until.is_some_and(|t| t > now)
    {
        portal.throttle().failure(ip, now);
        errors.add("email", "login-error-locked");
        return again(StatusCode::TOO_MANY_REQUESTS, errors);
    }
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    // argon2 takes tens of milliseconds of CPU: off the async threads.
    let ok =
        tokio::task::spawn_blocking(move || kruispunt_security::password::verify(&password, &hash))
            .await
            .map_err(|e| PortalError::Internal(format!("password check: {e}")))?;
    let Some(user) = user.filter(|_| ok) else {
        portal.throttle().failure(ip, now);
        if let Some(u) = portal.store().user_by_email(&email).await? {
            let cfg = portal.config();
            let n = portal
                .store()
                .record_login_failure(
                    &u.id,
                    cfg.max_failed_logins,
                    now + cfg.lockout_seconds * 1000,
                )
                .await?;
            if n >= cfg.max_failed_logins {
                errors.add("email", "login-error-locked");
                return again(StatusCode::TOO_MANY_REQUESTS, errors);
            }
        }
        errors.add("email", "login-error-wrong");
        return again(StatusCode::UNAUTHORIZED, errors);
    };
    let Ok(principal) = Principal::parse_subject(&user.principal) else {
        return Err(PortalError::Internal(
            "account with an unreadable principal".into(),
        ));
    };
    portal.store().clear_login_failures(&user.id).await?;
    portal.throttle().success(ip);
    // A new session id at every sign-in (no fixation); the old one goes.
    if let Some(old) = &ctx.user {
        portal.store().delete_session(&old.id_hash).await?;
    }
    let secret = session::create(&portal, &user.id, &user.principal).await?;
    tracing::info!(kind = principal.kind().as_str(), "portal sign-in");
    let target = next.unwrap_or_else(|| home_of(&principal).to_owned());
    let mut res = Redirect::to(&target).into_response();
    if let Some(c) = set_cookie(&portal, SESSION_COOKIE, &secret, None, true) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

pub async fn logout(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    body: axum::body::Bytes,
) -> Result<Response, PortalError> {
    let form = Fields::from_urlencoded(&body);
    if let Some(u) = &ctx.user {
        ctx.check_csrf(form.get("csrf"))?;
        portal.store().delete_session(&u.id_hash).await?;
    }
    let mut res = Redirect::to("/").into_response();
    if let Some(c) = set_cookie(&portal, SESSION_COOKIE, "", Some(0), true) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res.extensions_mut().insert(SignedOut);
    Ok(res)
}
