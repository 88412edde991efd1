//! The middleware stack, outermost first: security headers → request id →
//! error envelope → telemetry (metrics and a log line, without personal
//! data) → rate limit (per client, 429 + Retry-After) → timeout → the route
//! (whose router sets its body limit: see `crate::router`).

use crate::error::{ApiError, ErrorBody, ErrorEnvelope};
use crate::state::{AppState, WebConfig};
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tower_http::timeout::TimeoutLayer;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static PROCESS_PREFIX: OnceLock<String> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<8 hex of this process>-<counter>`: unique across nodes (random prefix)
/// and cheap (no syscall per request).
fn next_request_id(state: &AppState) -> String {
    let prefix = PROCESS_PREFIX.get_or_init(|| state.entropy().token_hex()[..8].to_owned());
    format!("{prefix}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Accepts a caller's request id if it is short and plain, so ids can be
/// followed across systems; otherwise makes one.
fn acceptable(id: &HeaderValue) -> Option<String> {
    let s = id.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    ok.then(|| s.to_owned())
}

pub fn apply(router: Router, state: AppState, config: &WebConfig) -> Router {
    let request_id_state = state.clone();
    let hsts = config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    // Body limits are set per router (see `crate::router`).
    let router = router.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        config.request_timeout,
    ));
    let router = if state.limiter().is_some() {
        let limit_state = state.clone();
        router.layer(from_fn(move |req: Request, next: Next| {
            crate::limits::rate_limit(limit_state.clone(), req, next)
        }))
    } else {
        router
    };
    router
        .layer(from_fn_with_state(state.clone(), telemetry))
        .layer(from_fn(error_envelope))
        .layer(from_fn(move |mut req: Request, next: Next| {
            let state = request_id_state.clone();
            async move {
                let id = req
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(acceptable)
                    .unwrap_or_else(|| next_request_id(&state));
                req.extensions_mut().insert(RequestId(id.clone()));
                let mut res = next.run(req).await;
                if let Ok(v) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(REQUEST_ID_HEADER, v);
                }
                res
            }
        }))
        .layer(from_fn(move |req: Request, next: Next| {
            crate::limits::security_headers(hsts, req, next)
        }))
}

/// Fills in error bodies: handler errors carry an `ErrorBody` extension;
/// bare error statuses from the framework (404 fallback, 405, 413, timeouts,
/// rejections) get the generic body for their status.
async fn error_envelope(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let error = match parts.extensions.remove::<ErrorBody>() {
        Some(e) => e,
        None => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if content_type.starts_with("application/json")
                || content_type.starts_with("application/xml")
                || content_type.starts_with("text/html")
            {
                // Already a complete answer: the hub's refusal envelope
                // (JSON), a negative ACRF (XML) on the batch channel, a
                // portal page rendered in the user's language.
                return Response::from_parts(parts, body);
            }
            ApiError::for_status(status).body
        }
    };
    let envelope = ErrorEnvelope { error, request_id };
    let bytes = serde_json::to_vec(&envelope).unwrap_or_else(|_| b"{}".to_vec());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// Counts and times every request by route template (never the raw path or
/// query: they can hold SSINs), and logs one line per request.
async fn telemetry(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    // The portal's statistics page shows the API's response times.
    if ["/hub/", "/REST/", "/api/", "/batch/"]
        .iter()
        .any(|p| route.starts_with(p))
    {
        state.portal().response_times().record(elapsed);
    }
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone()).record(elapsed.as_secs_f64());
    if status >= 500 {
        tracing::warn!(request_id, %method, route, status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request");
    } else {
        tracing::debug!(request_id, %method, route, status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request");
    }
    res
}
