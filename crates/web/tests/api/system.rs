use crate::helpers::{TestApp, redact_request_id};

#[tokio::test]
async fn health_answers_ok_with_a_request_id() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    let ready = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn a_caller_request_id_is_echoed_in_errors() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(app.url("/no/such/thing"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["requestId"], "trace-abc-123");
    insta::assert_json_snapshot!("unknown_path", redact_request_id(body));
}

#[tokio::test]
async fn wrong_method_is_a_405_envelope() {
    let app = TestApp::spawn().await;
    let res = app.http.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = TestApp::spawn().await;
    app.http.get(app.url("/health")).send().await.unwrap();
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health\""), "{text}");
}

#[tokio::test]
async fn openapi_document_lists_every_json_endpoint() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/health",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/REST/oauth/v5/token",
        "/api/v1/whoami",
        "/.well-known/jwks.json",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::spawn_with(kruispunt_web::WebConfig {
        body_limit: 1024,
        ..Default::default()
    })
    .await;
    let big = "a".repeat(4096);
    let res = app
        .http
        .post(app.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_assertion={big}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let app = TestApp::spawn().await;
    let jwks: serde_json::Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["kid"], app.state.keys().active_kid());
}
