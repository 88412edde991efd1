//! Limits (issue 6 §5): per-client rate limiting, body size, timeouts,
//! security headers, token lifetime and clock-skew rules.

use crate::helpers::{ASSERTION_TYPE, KeyKind, NOW, TestApp, token_request};
use kruispunt_domain::principal::Principal;
use kruispunt_security::access_token::LEEWAY_SECONDS;
use kruispunt_web::WebConfig;
use kruispunt_web::limits::RateLimit;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn limits_a_client_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(WebConfig {
        rate_limit: RateLimit {
            per_second: 1,
            burst: 2,
        },
        ..Default::default()
    })
    .await;
    let operator = app.token_for(&Principal::Operator, 3600);
    for _ in 0..2 {
        assert_eq!(
            get(&app, "/api/v1/whoami", Some(&operator)).await.status(),
            200
        );
    }
    let res = get(&app, "/api/v1/whoami", Some(&operator)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = res.json().await.unwrap();
    insta::assert_json_snapshot!("throttled", crate::helpers::redact_request_id(body));

    // Another client (another token subject) has its own allowance.
    let onem = app.add_institution("ONEM", 18).await;
    let onem = app.token_for(&onem, 3600);
    assert_eq!(get(&app, "/api/v1/whoami", Some(&onem)).await.status(), 200);

    // A second token of the same subject shares the subject's allowance.
    app.clock.advance_seconds(1);
    let operator2 = app.token_for(&Principal::Operator, 3600);
    assert_eq!(
        get(&app, "/api/v1/whoami", Some(&operator2)).await.status(),
        200
    );
    assert_eq!(
        get(&app, "/api/v1/whoami", Some(&operator)).await.status(),
        429
    );

    // Without a valid token, the client is its IP address; a bad token does
    // not escape the limit.
    for _ in 0..2 {
        assert_eq!(
            get(&app, "/hub/v1/authorizations", None).await.status(),
            200
        );
    }
    assert_eq!(
        get(&app, "/hub/v1/authorizations", None).await.status(),
        429
    );
    assert_eq!(
        get(&app, "/api/v1/whoami", Some("garbage")).await.status(),
        429
    );
    // Probes are never limited.
    for _ in 0..5 {
        assert_eq!(get(&app, "/health", None).await.status(), 200);
    }
    // Time passes: allowed again.
    app.clock.advance_seconds(2);
    assert_eq!(
        get(&app, "/hub/v1/authorizations", None).await.status(),
        200
    );
    assert_eq!(
        get(&app, "/api/v1/whoami", Some(&operator)).await.status(),
        200
    );
    // Throttled answers are counted.
    let metrics = get(&app, "/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("http_throttled_total"), "{metrics}");
}

#[tokio::test]
async fn limits_default_rate_does_not_throttle_a_busy_client() {
    let app = TestApp::spawn().await;
    assert_eq!(app.state.config().rate_limit, RateLimit::DEFAULT);
    let operator = app.token_for(&Principal::Operator, 3600);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, t) = (
            app.http.clone(),
            app.url("/api/v1/whoami"),
            operator.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let s = http
                    .get(&url)
                    .bearer_auth(&t)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(s, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn limits_every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/health", 200), ("/api/v1/whoami", 401), ("/nowhere", 404)] {
        let res = get(&app, path, None).await;
        assert_eq!(res.status(), status, "{path}");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: no HSTS over http"
        );
    }
    // Behind TLS (the public URL is https): HSTS on every answer.
    let tls = TestApp::spawn_with(WebConfig {
        public_url: Some("https://kruispunt.example".into()),
        ..Default::default()
    })
    .await;
    for path in ["/health", "/nowhere"] {
        let res = get(&tls, path, None).await;
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
}

/// Sends `head` and part of the announced body, then stalls; returns the
/// raw answer.
async fn stalled_request(app: &TestApp, head: &str) -> String {
    let addr = app.address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n")
                        && String::from_utf8_lossy(&out).contains("\"requestId\"")
                    {
                        break;
                    }
                }
            }
        }
    })
    .await
    .expect("the server answered before the test's own timeout");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn limits_a_request_that_outlives_the_timeout_is_answered_503() {
    let app = TestApp::spawn_with(WebConfig {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    // A client that announces a body and never finishes sending it.
    let answer = stalled_request(
        &app,
        "POST /REST/oauth/v5/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn limits_the_body_limit_applies_to_every_json_route() {
    let app = TestApp::spawn_with(WebConfig {
        body_limit: 2048,
        ..Default::default()
    })
    .await;
    let cpas = app.add_institution("CPAS-LIEGE", 17).await;
    let cpas = app.token_for(&cpas, 3600);
    let big =
        serde_json::json!({"service": "identification", "purpose": "2", "ssin": "x".repeat(4096)});
    for path in [
        "/hub/v1/messages",
        "/REST/dimona/v2/declarations",
        "/hub/v1/references",
    ] {
        let (status, body) = app.post_json(path, &cpas, &big).await;
        assert_eq!(status, 413, "{path}: {body}");
        assert_eq!(body["error"]["code"], "payload_too_large", "{path}");
    }
}

#[tokio::test]
async fn limits_access_tokens_expire_with_30_seconds_of_clock_skew() {
    assert_eq!(LEEWAY_SECONDS, 30);
    let app = TestApp::spawn().await;
    let whoami = |t: String| {
        let app = &app;
        async move { get(app, "/api/v1/whoami", Some(&t)).await.status().as_u16() }
    };
    // Expiry: valid until exp + 30 s (another node's clock may be behind).
    let t1 = app.token_for(&Principal::Operator, 60);
    let t2 = app.token_for(&Principal::Operator, 60);
    app.clock.set(NOW.plus_seconds(60 + LEEWAY_SECONDS - 1));
    assert_eq!(
        whoami(t1.clone()).await,
        200,
        "within the skew: fresh check"
    );
    app.clock.set(NOW.plus_seconds(60 + LEEWAY_SECONDS));
    assert_eq!(whoami(t1).await, 401, "cached token expires too");
    assert_eq!(whoami(t2).await, 401, "uncached token expired");

    // Issued "in the future" by a node whose clock is ahead: up to 30 s.
    app.clock.set(NOW.plus_seconds(LEEWAY_SECONDS));
    let ahead = app.token_for(&Principal::Operator, 600);
    app.clock.set(NOW.plus_seconds(LEEWAY_SECONDS + 1));
    let too_far = app.token_for(&Principal::Operator, 600);
    app.clock.set(NOW);
    assert_eq!(whoami(ahead).await, 200);
    let res = get(&app, "/api/v1/whoami", Some(&too_far)).await;
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid yet"),
        "{body}"
    );
}

#[tokio::test]
async fn limits_issued_tokens_live_as_configured() {
    let app = TestApp::spawn_with(WebConfig {
        token_ttl_seconds: 120,
        ..Default::default()
    })
    .await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app
        .register_client(&p, KeyKind::Ec, "scope:hub:messages")
        .await;
    let assertion = client.assertion(&app.token_url(), NOW, "ttl-1");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 120);
    let token = body["access_token"].as_str().unwrap().to_owned();
    app.clock.set(NOW.plus_seconds(120 + LEEWAY_SECONDS - 1));
    assert_eq!(
        get(&app, "/api/v1/whoami", Some(&token)).await.status(),
        200
    );
    app.clock.set(NOW.plus_seconds(120 + LEEWAY_SECONDS));
    assert_eq!(
        get(&app, "/api/v1/whoami", Some(&token)).await.status(),
        401
    );
}

#[tokio::test]
async fn limits_client_assertions_accept_30_seconds_of_skew_and_at_most_5_minutes() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app
        .register_client(&p, KeyKind::Rsa, "scope:hub:messages")
        .await;
    let aud = app.token_url();
    let now = NOW.seconds();
    let id = client.client_id.clone();
    // (label, exp, iat, accepted)
    let cases = [
        ("expired 29 s ago: within the skew", now - 29, None, true),
        ("expired 30 s ago", now - 30, None, false),
        ("exp 330 s ahead: 5 min + skew", now + 330, None, true),
        ("exp 331 s ahead: too long-lived", now + 331, None, false),
        (
            "iat 30 s ahead: within the skew",
            now + 60,
            Some(now + 30),
            true,
        ),
        ("iat 31 s ahead", now + 60, Some(now + 31), false),
    ];
    for (i, (label, exp, iat, accepted)) in cases.into_iter().enumerate() {
        let mut claims = serde_json::json!({"iss": id, "sub": id, "aud": aud, "exp": exp, "jti": format!("skew-{i}")});
        if let Some(iat) = iat {
            claims["iat"] = iat.into();
        }
        let assertion = client.key.sign(&claims);
        let (status, body) = token_request(
            &app,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
        )
        .await;
        assert_eq!(status == 200, accepted, "{label}: {status} {body}");
    }
}
