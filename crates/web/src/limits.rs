//! Per-client rate limiting and the security headers every answer carries.
//!
//! **Rate limiting** is a GCRA (a token bucket kept as one "theoretical
//! arrival time" per client): a client may send `burst` requests at once and
//! `per_second` requests per second after that; beyond, it is answered 429
//! with `Retry-After` (whole seconds) and the usual error envelope. A client
//! is the subject of a valid bearer token (an institution, an employer, a
//! citizen, the operator), or else the peer IP address. State lives in the
//! process: with N servers behind a load balancer, a client gets up to N
//! times the limit. Operational probes (`/health`, `/health/ready`,
//! `/metrics`) are not limited.
//!
//! The cost on the hot path is one hash-map lookup in one of 16 shards under
//! a mutex held for a few arithmetic operations; the token is verified once
//! here and handed to the `Caller` extractor, so it is not looked up twice.

use crate::auth::{Authenticated, bearer_token};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// Rate-limit settings. `per_second = 0` switches limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per client.
    pub per_second: u32,
    /// Requests a client may send at once (the bucket size), at least 1.
    pub burst: u32,
}

impl RateLimit {
    /// Generous: far above what one institution or payroll bureau sends,
    /// and above the single-client benchmarks of the hub and Dimona.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: 20_000,
        burst: 40_000,
    };
    pub const OFF: RateLimit = RateLimit {
        per_second: 0,
        burst: 0,
    };
    pub fn enabled(self) -> bool {
        self.per_second > 0
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Who is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// The subject of a valid access token (`institution:ONEM`, …).
    Subject(Box<str>),
    /// The peer address, for requests without a valid token.
    Ip(IpAddr),
}

/// The answer of the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the client may retry after this many seconds (≥ 1).
    Deny {
        retry_after_seconds: u64,
    },
}

const SHARDS: usize = 16;
/// Entries per shard before idle clients are forgotten.
const MAX_PER_SHARD: usize = 16_384;
const NANOS_PER_MILLI: u128 = 1_000_000;

/// GCRA per client, sharded to keep lock contention low.
pub struct RateLimiter {
    /// Nanoseconds between two requests at the sustained rate.
    interval: u128,
    /// How far ahead of now a client's arrival time may run: (burst - 1)
    /// intervals.
    tolerance: u128,
    hasher: RandomState,
    /// Theoretical arrival time per client, in nanoseconds since the epoch.
    shards: Vec<Mutex<HashMap<ClientKey, u128>>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval_ns", &self.interval)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `None` when the limit is off.
    pub fn new(limit: RateLimit) -> Option<Self> {
        if !limit.enabled() {
            return None;
        }
        let interval = 1_000_000_000u128 / u128::from(limit.per_second);
        Some(Self {
            interval,
            tolerance: interval * u128::from(limit.burst.max(1) - 1),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// Counts one request of `key` at `now_ms` (milliseconds since the
    /// epoch, from the injected clock).
    pub fn check(&self, key: ClientKey, now_ms: i64) -> Decision {
        let now = u128::try_from(now_ms.max(0)).unwrap_or(0) * NANOS_PER_MILLI;
        let shard = (self.hasher.hash_one(&key) as usize) % SHARDS;
        let mut map = match self.shards[shard].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_PER_SHARD && !map.contains_key(&key) {
            // A client whose arrival time is past is indistinguishable from a
            // new one: forget those. If every entry is busy (a flood of
            // addresses), start afresh rather than grow without bound.
            map.retain(|_, tat| *tat > now);
            if map.len() >= MAX_PER_SHARD {
                map.clear();
            }
        }
        let mut tat = map.get(&key).copied().unwrap_or(now).max(now);
        // An allowed request leaves the arrival time at most tolerance +
        // interval ahead of the clock, and refusals do not move it: further
        // ahead means the wall clock stepped back. Start afresh rather than
        // throttle every client for as long as the step.
        if tat - now > self.tolerance + self.interval {
            tat = now;
        }
        let ahead = tat - now;
        if ahead > self.tolerance {
            let wait_ns = ahead - self.tolerance;
            let secs = wait_ns.div_ceil(1_000_000_000).max(1);
            return Decision::Deny {
                retry_after_seconds: u64::try_from(secs).unwrap_or(u64::MAX),
            };
        }
        map.insert(key, tat + self.interval);
        Decision::Allow
    }
}

/// Paths that are never limited: load balancers and Prometheus poll them.
fn exempt(path: &str) -> bool {
    matches!(path, "/health" | "/health/ready" | "/metrics")
}

/// The rate-limit middleware (installed only when limiting is on).
pub async fn rate_limit(state: AppState, mut req: Request, next: Next) -> Response {
    let Some(limiter) = state.limiter() else {
        return next.run(req).await;
    };
    if exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let verified = bearer_token(req.headers()).and_then(|t| state.verify_token_quick(t));
    let key = match &verified {
        Some(v) => ClientKey::Subject(v.principal.subject().into_boxed_str()),
        None => ClientKey::Ip(
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        ),
    };
    match limiter.check(key, state.now().millis()) {
        Decision::Allow => {
            if let Some(v) = verified {
                req.extensions_mut().insert(Authenticated(v));
            }
            next.run(req).await
        }
        Decision::Deny {
            retry_after_seconds,
        } => {
            metrics::counter!("http_throttled_total").increment(1);
            ApiError::for_status(StatusCode::TOO_MANY_REQUESTS)
                .with_header("retry-after", retry_after_seconds.to_string())
                .into_response()
        }
    }
}

/// Content-Security-Policy of HTML pages: only this origin's scripts,
/// styles, images and forms; never framed.
pub const HTML_CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Content-Security-Policy of every other answer (JSON, text, XML): nothing
/// may be loaded or framed from it.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// HSTS, sent when the public URL is https.
pub const HSTS: &str = "max-age=31536000";

/// Adds the security headers to every answer, errors included (a
/// Content-Security-Policy or Referrer-Policy the route set is kept).
pub async fn security_headers(hsts: bool, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The portal sets its own (`same-origin`): with `no-referrer`, browsers
    // send `Origin: null` on form posts and its same-origin check refuses them.
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(if is_html { HTML_CSP } else { API_CSP }),
        );
    }
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> ClientKey {
        ClientKey::Ip(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn burst_then_sustained_rate() {
        let l = RateLimiter::new(RateLimit {
            per_second: 2,
            burst: 3,
        })
        .unwrap();
        let t = 1_796_000_000_000;
        for _ in 0..3 {
            assert_eq!(l.check(ip(1), t), Decision::Allow);
        }
        assert_eq!(
            l.check(ip(1), t),
            Decision::Deny {
                retry_after_seconds: 1
            }
        );
        // Another client has its own bucket.
        assert_eq!(l.check(ip(2), t), Decision::Allow);
        // Half a second later, one more request (2 per second).
        assert_eq!(
            l.check(ip(1), t + 499),
            Decision::Deny {
                retry_after_seconds: 1
            }
        );
        assert_eq!(l.check(ip(1), t + 500), Decision::Allow);
        assert!(matches!(l.check(ip(1), t + 500), Decision::Deny { .. }));
        // Idle for long: the full burst again.
        for _ in 0..3 {
            assert_eq!(l.check(ip(1), t + 10_000), Decision::Allow);
        }
    }

    #[test]
    fn a_clock_stepping_back_does_not_throttle() {
        let l = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        })
        .unwrap();
        let t = 1_796_000_000_000;
        assert_eq!(l.check(ip(1), t), Decision::Allow);
        assert_eq!(l.check(ip(1), t), Decision::Allow);
        assert!(matches!(l.check(ip(1), t), Decision::Deny { .. }));
        // The clock steps back a minute (NTP): a fresh allowance, not a
        // minute of refusals.
        assert_eq!(l.check(ip(1), t - 60_000), Decision::Allow);
    }

    #[test]
    fn retry_after_counts_whole_seconds() {
        let l = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        })
        .unwrap();
        let t = 1_000_000;
        assert_eq!(l.check(ip(1), t), Decision::Allow);
        assert_eq!(
            l.check(ip(1), t + 1),
            Decision::Deny {
                retry_after_seconds: 1
            }
        );
        let slow = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        })
        .unwrap();
        assert_eq!(slow.check(ip(1), t), Decision::Allow);
        assert_eq!(slow.check(ip(1), t + 1000), Decision::Allow);
    }

    #[test]
    fn off_is_none_and_memory_is_bounded() {
        assert!(RateLimiter::new(RateLimit::OFF).is_none());
        let l = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        })
        .unwrap();
        for i in 0..(SHARDS * MAX_PER_SHARD * 2) as u32 {
            l.check(ClientKey::Ip(IpAddr::from(i.to_be_bytes())), 0);
        }
        let total: usize = l.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * MAX_PER_SHARD, "{total}");
    }

    #[tokio::test]
    async fn html_pages_get_the_portal_policy() {
        use axum::body::Body;
        use axum::response::Html;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { Html("<p>hallo</p>") }))
            .layer(axum::middleware::from_fn(|req, next| {
                security_headers(true, req, next)
            }));
        let res = app
            .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["content-security-policy"], HTML_CSP);
        assert!(HTML_CSP.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["strict-transport-security"], HSTS);
    }
}
