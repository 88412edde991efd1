//! The kruispunt portal: server-rendered HTML that works without
//! JavaScript, in French, Dutch, German and English, for the public,
//! employers, citizens, institutions and operators.
//!
//! The portal knows HTML, forms, sessions and languages; the data and its
//! rules stay with the services (`Hub`, `Dimona`) and the store, which the
//! portal calls exactly as the JSON API does. The web crate mounts
//! [`router`] into the application.

pub mod i18n;
mod oidc;
mod pages;
mod render;
mod session;
pub mod stats;

pub use oidc::{DEFAULT_SCOPES as OIDC_DEFAULT_SCOPES, OidcConfig};
pub use session::SessionUser;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use i18n::{Lang, Messages};
use kruispunt_domain::clock::{Clock, Entropy, Timestamp};
use kruispunt_domain::principal::Principal;
use kruispunt_store::{Store, StoreError};
use serde_json::{Value, json};
use std::sync::Arc;

/// Portal settings. Defaults are the production ones, except that cookies
/// are marked `Secure` only when the public URL is https (see
/// [`PortalConfig::for_public_url`]).
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// `Secure` on every cookie (needs https).
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle_seconds: i64,
    /// …and at the latest this long after sign-in.
    pub session_max_seconds: i64,
    /// Consecutive failed sign-ins that lock an account…
    pub max_failed_logins: i64,
    /// …for this long.
    pub lockout_seconds: i64,
    /// Failed sign-ins accepted from one address per 15 minutes.
    pub max_failures_per_address: u32,
    /// Largest form body (sign-in, Dimona, CSV upload), in bytes.
    pub form_body_limit: usize,
    /// Largest batch file uploaded through `/employer/batch`, in bytes
    /// (the API's batch limit).
    pub upload_body_limit: usize,
    /// The public base URL (`https://kruispunt.example`): the OIDC
    /// redirect URI is built from it (else from the request's Host).
    pub public_url: Option<String>,
    /// Sign-in through an external OpenID Connect provider, if configured.
    pub oidc: Option<OidcConfig>,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            session_idle_seconds: 30 * 60,
            session_max_seconds: 12 * 3600,
            max_failed_logins: 5,
            lockout_seconds: 15 * 60,
            max_failures_per_address: 30,
            form_body_limit: 1024 * 1024,
            upload_body_limit: 64 * 1024 * 1024,
            public_url: None,
            oidc: None,
        }
    }
}

impl PortalConfig {
    /// `Secure` cookies unless the server is reached over plain http (a
    /// local demo without a public https URL).
    pub fn for_public_url(public_url: Option<&str>) -> Self {
        Self {
            secure_cookies: public_url.is_some_and(|u| u.starts_with("https://")),
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            ..Self::default()
        }
    }
}

struct Inner {
    store: Store,
    hub: kruispunt_hub::Hub,
    dimona: kruispunt_dimona::Dimona,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: PortalConfig,
    messages: Arc<Messages>,
    env: minijinja::Environment<'static>,
    times: stats::ResponseTimes,
    throttle: session::Throttle,
    oidc: Option<oidc::Client>,
}

/// The portal service. Cheap to clone.
#[derive(Clone)]
pub struct Portal(Arc<Inner>);

impl Portal {
    pub fn new(
        dimona: kruispunt_dimona::Dimona,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: PortalConfig,
    ) -> Result<Self, String> {
        let messages = Arc::new(Messages::load()?);
        let env = render::environment(messages.clone())?;
        let hub = dimona.hub().clone();
        let oidc = config.oidc.clone().map(oidc::Client::new).transpose()?;
        Ok(Self(Arc::new(Inner {
            store: hub.store().clone(),
            hub,
            dimona,
            clock,
            entropy,
            config,
            messages,
            env,
            times: stats::ResponseTimes::default(),
            throttle: session::Throttle::default(),
            oidc,
        })))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn hub(&self) -> &kruispunt_hub::Hub {
        &self.0.hub
    }
    pub fn dimona(&self) -> &kruispunt_dimona::Dimona {
        &self.0.dimona
    }
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }
    pub fn entropy(&self) -> &dyn Entropy {
        self.0.entropy.as_ref()
    }
    pub fn config(&self) -> &PortalConfig {
        &self.0.config
    }
    pub fn messages(&self) -> &Messages {
        &self.0.messages
    }
    /// Response times of the API (fed by the web crate's telemetry layer),
    /// shown on the statistics page.
    pub fn response_times(&self) -> &stats::ResponseTimes {
        &self.0.times
    }
    pub(crate) fn throttle(&self) -> &session::Throttle {
        &self.0.throttle
    }
    pub(crate) fn oidc(&self) -> Option<&oidc::Client> {
        self.0.oidc.as_ref()
    }

    pub(crate) fn t(&self, lang: Lang, key: &str) -> String {
        self.0.messages.get(lang, key, &[])
    }

    /// Renders `template` with the page context plus `data`.
    pub(crate) fn page(
        &self,
        ctx: &Ctx,
        template: &str,
        data: Value,
    ) -> Result<Response, PortalError> {
        self.page_with_status(ctx, StatusCode::OK, template, data)
    }

    pub(crate) fn page_with_status(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        template: &str,
        mut data: Value,
    ) -> Result<Response, PortalError> {
        let base = ctx.template_context();
        if let (Some(d), Value::Object(b)) = (data.as_object_mut(), base) {
            for (k, v) in b {
                d.entry(k).or_insert(v);
            }
        }
        let html = render::render(
            &self.0.env,
            template,
            minijinja::Value::from(minijinja::value::Serde(&data)),
        )
        .map_err(|e| PortalError::Internal(format!("template {template}: {e:#}")))?;
        let mut res = (status, html).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Ok(res)
    }
}

/// What every portal handler knows about its request: the language, the
/// signed-in user (if any), the path (for the language switcher).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<SessionUser>,
    pub path: String,
    /// The anonymous CSRF token (login form), from its cookie or new.
    pub(crate) anon_csrf: String,
    pub(crate) anon_csrf_is_new: bool,
}

impl Ctx {
    fn template_context(&self) -> Value {
        let langs: Vec<Value> = Lang::ALL
            .iter()
            .map(|l| json!({"code": l.code(), "name": l.native_name(), "current": *l == self.lang}))
            .collect();
        json!({
            "lang": self.lang.code(),
            "langs": langs,
            "path": self.path,
            "user": self.user.as_ref().map(|u| json!({
                "kind": u.principal.kind().as_str(),
                "label": u.label(),
            })),
            "csrf": self.user.as_ref().map(|u| u.csrf.clone()).unwrap_or_else(|| self.anon_csrf.clone()),
        })
    }

    /// The signed-in user, or a redirect to the sign-in page.
    pub(crate) fn signed_in(&self) -> Result<&SessionUser, PortalError> {
        self.user.as_ref().ok_or_else(|| PortalError::SignIn {
            next: self.path.clone(),
        })
    }

    pub(crate) fn employer(&self) -> Result<kruispunt_domain::ids::EmployerId, PortalError> {
        match &self.signed_in()?.principal {
            Principal::Employer(e) => Ok(*e),
            _ => Err(PortalError::Forbidden),
        }
    }

    pub(crate) fn citizen(&self) -> Result<kruispunt_domain::ids::Ssin, PortalError> {
        match &self.signed_in()?.principal {
            Principal::Citizen(s) => Ok(*s),
            _ => Err(PortalError::Forbidden),
        }
    }

    pub(crate) fn institution(
        &self,
    ) -> Result<kruispunt_domain::registers::InstitutionCode, PortalError> {
        match &self.signed_in()?.principal {
            Principal::Institution(c) => Ok(c.clone()),
            _ => Err(PortalError::Forbidden),
        }
    }

    pub(crate) fn operator(&self) -> Result<(), PortalError> {
        match &self.signed_in()?.principal {
            Principal::Operator => Ok(()),
            _ => Err(PortalError::Forbidden),
        }
    }

    /// Refuses a form whose CSRF token is not the session's.
    pub(crate) fn check_csrf(&self, form_token: Option<&str>) -> Result<(), PortalError> {
        let expected = match &self.user {
            Some(u) => u.csrf.as_str(),
            None => self.anon_csrf.as_str(),
        };
        match form_token {
            Some(t)
                if !expected.is_empty()
                    && (self.user.is_some() || !self.anon_csrf_is_new)
                    && kruispunt_security::session::same(t, expected) =>
            {
                Ok(())
            }
            _ => Err(PortalError::Csrf),
        }
    }
}

/// The portal's one error type; rendered as an HTML page in the user's
/// language by the portal middleware.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PortalError {
    #[error("sign-in required")]
    SignIn { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("throttled")]
    Throttled,
    #[error("bad request")]
    BadRequest,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for PortalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => PortalError::NotFound,
            other => PortalError::Internal(other.to_string()),
        }
    }
}

impl From<kruispunt_hub::HubError> for PortalError {
    fn from(e: kruispunt_hub::HubError) -> Self {
        PortalError::Internal(e.to_string())
    }
}

impl PortalError {
    fn status(&self) -> StatusCode {
        match self {
            PortalError::SignIn { .. } => StatusCode::SEE_OTHER,
            PortalError::Forbidden | PortalError::Csrf => StatusCode::FORBIDDEN,
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            PortalError::BadRequest => StatusCode::BAD_REQUEST,
            PortalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Handlers return the error; the middleware, which knows the language,
/// renders it.
impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let mut res = self.status().into_response();
        res.extensions_mut().insert(self);
        res
    }
}

pub const LANG_COOKIE: &str = "kp_lang";
pub const SESSION_COOKIE: &str = "kp_session";
pub const CSRF_COOKIE: &str = "kp_csrf";

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

pub(crate) fn set_cookie(
    portal: &Portal,
    name: &str,
    value: &str,
    max_age: Option<i64>,
    http_only: bool,
) -> Option<HeaderValue> {
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if portal.config().secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    HeaderValue::from_str(&c).ok()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Same-origin check for state-changing requests (on top of the CSRF
/// tokens): a browser's `Origin`, when sent, must be this server.
fn cross_origin(req: &Request) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // Under a `no-referrer` policy browsers send `Origin: null` even for
    // their own forms; `Sec-Fetch-Site`, which pages cannot forge, tells.
    if origin == "null"
        && headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "same-origin")
    {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    origin == "null" || origin_host != host
}

/// Language, session, security headers and error pages for every portal route.
async fn prepare(State(portal): State<Portal>, mut req: Request, next: Next) -> Response {
    let query_lang = query_param(req.uri().query(), "lang").and_then(|l| Lang::parse(&l));
    let headers = req.headers();
    let lang = query_lang
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(|l| Lang::parse(&l)))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Fr);
    let (anon_csrf, anon_csrf_is_new) = match cookie(headers, CSRF_COOKIE) {
        Some(c) if c.len() >= 32 && c.len() <= 64 => (c, false),
        _ => (
            kruispunt_security::session::new_secret(portal.entropy()),
            true,
        ),
    };
    let user = match session::load(&portal, headers).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "portal session lookup failed");
            None
        }
    };
    let mut ctx = Ctx {
        lang,
        user,
        path: req.uri().path().to_owned(),
        anon_csrf,
        anon_csrf_is_new,
    };
    let is_post = req.method() == Method::POST;
    let mut res = if is_post && cross_origin(&req) {
        PortalError::Csrf.into_response()
    } else {
        req.extensions_mut().insert(ctx.clone());
        next.run(req).await
    };
    // A sign-in or sign-out replaced the session: render errors as the new state.
    if res.extensions().get::<session::SignedOut>().is_some() {
        ctx.user = None;
    }
    if let Some(err) = res.extensions_mut().remove::<PortalError>() {
        res = error_page(&portal, &ctx, err);
    }
    let h = res.headers_mut();
    if let Some(l) = query_lang
        && let Some(v) = set_cookie(&portal, LANG_COOKIE, l.code(), Some(365 * 86400), false)
    {
        h.append(header::SET_COOKIE, v);
    }
    if ctx.anon_csrf_is_new
        && ctx.user.is_none()
        && let Some(v) = set_cookie(&portal, CSRF_COOKIE, &ctx.anon_csrf, None, true)
    {
        h.append(header::SET_COOKIE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    res
}

fn error_page(portal: &Portal, ctx: &Ctx, err: PortalError) -> Response {
    if let PortalError::SignIn { next } = &err {
        let target = format!("/login?next={}", render::url_encode(next));
        return Redirect::to(&target).into_response();
    }
    let status = err.status();
    let key = match &err {
        PortalError::Forbidden => "error-forbidden",
        PortalError::NotFound => "error-not-found",
        PortalError::Csrf => "error-csrf",
        PortalError::Throttled => "error-throttled",
        PortalError::BadRequest => "error-bad-request",
        PortalError::Internal(detail) => {
            tracing::error!(error = %detail, "portal internal error");
            "error-internal"
        }
        PortalError::SignIn { .. } => "error-forbidden",
    };
    let data =
        json!({"title_key": format!("{key}-title"), "body_key": key, "status": status.as_u16()});
    match portal.page_with_status(ctx, status, "error.html", data) {
        Ok(r) => r,
        Err(_) => {
            let mut r = Response::new(Body::from(portal.t(ctx.lang, key)));
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
    }
}

/// The portal's routes, with their middleware (language, session,
/// security headers, error pages) and body limits: forms are small, batch
/// files are not.
pub fn router(portal: Portal) -> Router {
    use tower_http::limit::RequestBodyLimitLayer;
    let config = portal.config();
    let forms = pages::routes().layer(RequestBodyLimitLayer::new(config.form_body_limit));
    // The upload handler streams the file and stops at
    // `upload_body_limit` itself, so that the user gets a page saying the
    // file is too large rather than a bare 413.
    let uploads = pages::upload_routes().layer(axum::extract::DefaultBodyLimit::disable());
    forms
        .merge(uploads)
        .layer(from_fn_with_state(portal.clone(), prepare))
        .with_state(portal)
}

/// The HTML 404 page for addresses nobody serves, for browsers (the web
/// crate's fallback calls this when the client accepts HTML).
pub async fn not_found_page(portal: &Portal, req: Request) -> Response {
    let headers = req.headers();
    let lang = cookie(headers, LANG_COOKIE)
        .and_then(|l| Lang::parse(&l))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Fr);
    let user = session::load(portal, headers).await.ok().flatten();
    let ctx = Ctx {
        lang,
        user,
        path: req.uri().path().to_owned(),
        anon_csrf: String::new(),
        anon_csrf_is_new: false,
    };
    error_page(portal, &ctx, PortalError::NotFound)
}
