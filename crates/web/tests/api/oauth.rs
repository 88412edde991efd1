use crate::helpers::{
    ASSERTION_TYPE, KeyKind, NOW, TestApp, TestKey, redact_request_id, token_request,
};
use kruispunt_domain::principal::Principal;

const HUB_SCOPES: &str = "scope:hub:messages scope:hub:references scope:hub:notifications";

async fn whoami(app: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let res = app
        .http
        .get(app.url("/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn rs256_client_gets_a_token_that_works() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app.register_client(&p, KeyKind::Rsa, HUB_SCOPES).await;
    let assertion = client.assertion(&app.token_url(), NOW, "jti-1");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("scope", "scope:hub:messages"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "scope:hub:messages");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let (status, me) = whoami(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["kind"], "institution");
    assert_eq!(me["id"], "ONEM");
    assert_eq!(me["scopes"], serde_json::json!(["scope:hub:messages"]));
}

#[tokio::test]
async fn es256_employer_client_gets_its_default_scopes() {
    let app = TestApp::spawn().await;
    let p = app.add_employer("0009354-67", "0403.170.701").await;
    let client = app
        .register_client(
            &p,
            KeyKind::Ec,
            "scope:dimona:declaration:declarant scope:dimona:declaration:consult",
        )
        .await;
    let assertion = client.assertion(&app.token_url(), NOW, "jti-ec");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("client_id", &client.client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "scope:dimona:declaration:declarant scope:dimona:declaration:consult"
    );
    let (_, me) = whoami(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(me["id"], "935467");
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app.register_client(&p, KeyKind::Ec, HUB_SCOPES).await;
    let assertion = client.assertion(&app.token_url(), NOW, "same-jti");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    assert_eq!(token_request(&app, &form).await.0, 200);
    let (status, body) = token_request(&app, &form).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_client");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("jti"),
        "{body}"
    );
}

#[tokio::test]
async fn assertion_checks_each_say_what_is_wrong() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app.register_client(&p, KeyKind::Rsa, HUB_SCOPES).await;
    let aud = app.token_url();
    let now = NOW.seconds();
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "wrong audience",
            serde_json::json!({"iss": client.client_id, "sub": client.client_id, "aud": "http://elsewhere/token", "exp": now + 60, "jti": "a1"}),
            "aud",
        ),
        (
            "expired",
            serde_json::json!({"iss": client.client_id, "sub": client.client_id, "aud": aud, "exp": now - 120, "jti": "a2"}),
            "expired",
        ),
        (
            "too long-lived",
            serde_json::json!({"iss": client.client_id, "sub": client.client_id, "aud": aud, "exp": now + 3600, "jti": "a3"}),
            "exp",
        ),
        (
            "no jti",
            serde_json::json!({"iss": client.client_id, "sub": client.client_id, "aud": aud, "exp": now + 60}),
            "jti",
        ),
        (
            "sub differs",
            serde_json::json!({"iss": client.client_id, "sub": "someone", "aud": aud, "exp": now + 60, "jti": "a4"}),
            "sub",
        ),
        (
            "issued in the future",
            serde_json::json!({"iss": client.client_id, "sub": client.client_id, "aud": aud, "iat": now + 600, "exp": now + 60, "jti": "a5"}),
            "not valid yet",
        ),
    ];
    for (label, claims, expect) in cases {
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
        assert_eq!(status, 401, "{label}: {body}");
        assert_eq!(body["error"]["code"], "invalid_client", "{label}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(expect), "{label}: {msg}");
    }
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app.register_client(&p, KeyKind::Rsa, HUB_SCOPES).await;
    let impostor = TestKey::generate(KeyKind::Rsa);
    let assertion = impostor.sign(&client.claims(&app.token_url(), NOW, "x"));
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{body}"
    );
    // An ES256 assertion for an RSA client: refused on the algorithm.
    let ec = TestKey::generate(KeyKind::Ec);
    let assertion = ec.sign(&client.claims(&app.token_url(), NOW, "y"));
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("algorithm"),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_token_requests_name_the_field() {
    let app = TestApp::spawn().await;
    let (status, body) = token_request(&app, &[("grant_type", "password")]).await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("unsupported_grant_type", redact_request_id(body));
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "client_assertion");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", "not.a.jwt"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_client");
    // Unknown client.
    let key = TestKey::generate(KeyKind::Ec);
    let assertion = key.sign(&serde_json::json!({"iss": "nobody", "sub": "nobody", "aud": app.token_url(), "exp": NOW.seconds() + 60, "jti": "z"}));
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown"),
        "{body}"
    );
}

#[tokio::test]
async fn scopes_beyond_the_clients_are_refused() {
    let app = TestApp::spawn().await;
    let p = app.add_institution("ONEM", 18).await;
    let client = app
        .register_client(&p, KeyKind::Ec, "scope:hub:messages")
        .await;
    let assertion = client.assertion(&app.token_url(), NOW, "s1");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("scope", "scope:hub:references"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_scope");
    assert_eq!(body["error"]["field"], "scope");
}

#[tokio::test]
async fn access_tokens_are_checked_on_every_request() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(app.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = res.json().await.unwrap();
    insta::assert_json_snapshot!("missing_token", redact_request_id(body));

    let (status, body) = whoami(&app, "garbage").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_token");

    let token = app.token_for(&Principal::Operator, 60);
    assert_eq!(whoami(&app, &token).await.0, 200);
    app.clock.advance_seconds(3600);
    let (status, body) = whoami(&app, &token).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn tokens_survive_a_key_rotation_by_another_process() {
    let app = TestApp::spawn().await;
    let old = app.token_for(&Principal::Operator, 600);
    // Another process (the CLI) rotates the key in the shared store.
    let k = kruispunt_security::access_token::KeyMaterial::generate(
        &kruispunt_security::system::SystemEntropy,
    )
    .unwrap();
    app.store
        .rotate_signing_key(
            &kruispunt_store::SigningKeyRow {
                kid: k.kid.clone(),
                algorithm: "EdDSA".into(),
                private_key: k.seed.clone(),
                public_der: k.public.clone(),
                created_at: NOW.millis(),
                retired_at: None,
            },
            NOW,
        )
        .await
        .unwrap();
    let ring = kruispunt_security::access_token::KeyRing::new(&[k]).unwrap();
    let (new, _) = ring
        .issue(
            &Principal::Operator,
            &[],
            600,
            NOW,
            &kruispunt_security::system::SystemEntropy,
        )
        .unwrap();
    // The server learns the new key on first sight of its kid...
    app.clock.advance_seconds(2);
    assert_eq!(whoami(&app, &new).await.0, 200);
    // ...and still accepts tokens signed by the retired one.
    assert_eq!(whoami(&app, &old).await.0, 200);
}
