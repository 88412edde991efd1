//! Portal sign-in through an OpenID Connect provider, against a fake
//! provider served by the test: discovery, authorization code with PKCE,
//! `state` bound to the browser, `nonce`, an RS256 ID token verified
//! against the provider's JWKS, and the e-mail mapped to an existing
//! account only.

use crate::helpers::{NOW, TestApp};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kruispunt_domain::clock::Clock;
use kruispunt_security::system::SystemEntropy;
use kruispunt_store::UserRow;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "kruispunt-portal";
const CLIENT_SECRET: &str = "s3cret:with/odd&chars";
const KID: &str = "idp-key-1";

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Behaviour {
    email: String,
    email_verified: bool,
    wrong_nonce: bool,
}

struct Idp {
    url: String,
    key: aws_lc_rs::rsa::KeyPair,
    grants: Mutex<HashMap<String, Grant>>,
    behaviour: Mutex<Behaviour>,
}

type Shared = Arc<Idp>;

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

impl Idp {
    fn sign(&self, claims: &serde_json::Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", b64(&sig))
    }
}

async fn discovery(State(idp): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "issuer": idp.url,
        "authorization_endpoint": format!("{}/authorize", idp.url),
        "token_endpoint": format!("{}/token", idp.url),
        "jwks_uri": format!("{}/jwks", idp.url),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(idp): State<Shared>) -> Json<serde_json::Value> {
    let pk = idp.key.public_key();
    Json(json!({"keys": [{
        "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
        "n": b64(pk.modulus().big_endian_without_leading_zero()),
        "e": b64(pk.exponent().big_endian_without_leading_zero()),
    }]}))
}

/// Signs the user in at once (no consent screen) and sends the browser back.
async fn authorize(
    State(idp): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!(
        "code-{}",
        q["state"].len() + idp.grants.lock().unwrap().len()
    );
    idp.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        },
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

async fn token(
    State(idp): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let refuse = |e: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    // client_secret_basic, both parts form-encoded first (RFC 6749 §2.3.1).
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", CLIENT_ID, "s3cret%3Awith%2Fodd%26chars"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return refuse("unsupported_grant_type");
    }
    let Some(grant) = f
        .get("code")
        .and_then(|c| idp.grants.lock().unwrap().remove(c))
    else {
        return refuse("invalid_grant");
    };
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return refuse("invalid_grant");
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if kruispunt_security::oidc::pkce_challenge(&verifier) != grant.challenge {
        return refuse("invalid_grant");
    }
    let b = idp.behaviour.lock().unwrap();
    let id_token = idp.sign(&json!({
        "iss": idp.url, "sub": "user-248289761001", "aud": CLIENT_ID,
        "iat": NOW.seconds(), "exp": NOW.seconds() + 300,
        "nonce": if b.wrong_nonce { "not-the-nonce".to_owned() } else { grant.nonce },
        "email": b.email, "email_verified": b.email_verified,
    }));
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

async fn spawn_idp() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let idp = Arc::new(Idp {
        url,
        key: aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
        grants: Mutex::new(HashMap::new()),
        behaviour: Mutex::new(Behaviour {
            email: "Boss@Example.be".into(),
            email_verified: true,
            wrong_nonce: false,
        }),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    idp
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// One browser's trip: to the portal, to the provider, back. Returns the
/// callback's answer.
async fn sign_in(app: &TestApp, http: &reqwest::Client, next: &str) -> reqwest::Response {
    let res = http
        .get(app.url(&format!("/login/oidc?next={next}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let state_cookie = cookie(&res, "kp_oidc").expect("the state is bound to this browser");
    let to_idp = location(&res);
    let res = http.get(&to_idp).send().await.unwrap();
    assert_eq!(res.status(), 303, "the provider answers");
    let back = location(&res);
    assert!(
        back.starts_with(&app.url("/login/oidc/callback?")),
        "{back}"
    );
    http.get(&back)
        .header("cookie", format!("kp_oidc={state_cookie}; kp_lang=en"))
        .send()
        .await
        .unwrap()
}

async fn app_with_idp() -> (TestApp, Shared) {
    let idp = spawn_idp().await;
    let app = TestApp::spawn_with(kruispunt_web::WebConfig {
        oidc: Some(kruispunt_portal::OidcConfig {
            issuer: idp.url.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            scopes: "openid email profile".into(),
            label: Some("Test IdP".into()),
        }),
        ..Default::default()
    })
    .await;
    let employer = app.add_employer("000935467", "0403170701").await;
    let hash = kruispunt_security::password::hash("unused password 123", &SystemEntropy).unwrap();
    app.store
        .insert_user(
            &UserRow {
                id: "usr-boss".into(),
                email: "boss@example.be".into(),
                password_hash: hash,
                principal: employer.subject(),
                failed_logins: 0,
                locked_until: None,
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    (app, idp)
}

#[tokio::test]
async fn an_account_signs_in_through_the_identity_provider() {
    let (app, idp) = app_with_idp().await;
    let http = client();
    // The sign-in page offers it.
    let body = http
        .get(app.url("/login?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Sign in with Test IdP") && body.contains("href=\"/login/oidc\""));

    // The authorization request: PKCE S256, state and nonce, our redirect URI.
    let res = http
        .get(app.url("/login/oidc?next=%2Femployer%2Fpersonnel-file"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to_idp = location(&res);
    assert!(
        to_idp.starts_with(&format!("{}/authorize?", idp.url)),
        "{to_idp}"
    );
    let redirect = url_encode(&app.url("/login/oidc/callback"));
    for part in [
        "response_type=code",
        &format!("client_id={CLIENT_ID}"),
        &format!("redirect_uri={redirect}"),
        "scope=openid%20email%20profile",
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
    ] {
        assert!(to_idp.contains(part), "{part} in {to_idp}");
    }
    let c = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("kp_oidc="))
        .unwrap()
        .to_owned();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Max-Age=600"),
        "{c}"
    );

    // The whole trip: signed in as the account with that (verified) address.
    let res = sign_in(&app, &http, "%2Femployer%2Fpersonnel-file").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/employer/personnel-file");
    let session = cookie(&res, "kp_session").expect("a session");
    assert_eq!(
        cookie(&res, "kp_oidc").as_deref(),
        Some(""),
        "the state cookie is cleared"
    );
    let page = http
        .get(app.url("/employer/personnel-file"))
        .header("cookie", format!("kp_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn state_nonce_and_the_account_are_checked() {
    let (app, idp) = app_with_idp().await;
    let http = client();

    // The callback only once, and only in the browser that started it.
    let res = http.get(app.url("/login/oidc")).send().await.unwrap();
    let state_cookie = cookie(&res, "kp_oidc").unwrap();
    let res = http.get(location(&res)).send().await.unwrap();
    let back = location(&res);
    let other_browser = http
        .get(&back)
        .header(
            "cookie",
            "kp_oidc=another-browsers-state-value-0123456789abcd; kp_lang=en",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other_browser.status(), 400);
    assert!(
        other_browser
            .text()
            .await
            .unwrap()
            .contains("started in another browser")
    );
    let first = http
        .get(&back)
        .header("cookie", format!("kp_oidc={state_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 303);
    let replay = http
        .get(&back)
        .header("cookie", format!("kp_oidc={state_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "single use");
    assert!(cookie(&replay, "kp_session").is_none());

    // An ID token for another sign-in (wrong nonce) is refused.
    idp.behaviour.lock().unwrap().wrong_nonce = true;
    let res = sign_in(&app, &http, "").await;
    assert_eq!(res.status(), 400);
    assert!(cookie(&res, "kp_session").is_none());
    assert!(res.text().await.unwrap().contains("could not be verified"));
    idp.behaviour.lock().unwrap().wrong_nonce = false;

    // An address the provider does not vouch for, or no account: no session.
    idp.behaviour.lock().unwrap().email_verified = false;
    let res = sign_in(&app, &http, "").await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not confirm your e-mail")
    );
    {
        let mut b = idp.behaviour.lock().unwrap();
        b.email_verified = true;
        b.email = "stranger@example.be".into();
    }
    let res = sign_in(&app, &http, "").await;
    assert_eq!(res.status(), 403);
    assert!(cookie(&res, "kp_session").is_none());
    let body = res.text().await.unwrap();
    assert!(
        body.contains("No portal account") && body.contains("id=\"f-oidc-error\""),
        "{body}"
    );

    // Cancelled at the provider.
    let res = http.get(app.url("/login/oidc")).send().await.unwrap();
    let state_cookie = cookie(&res, "kp_oidc").unwrap();
    let res = http
        .get(app.url(&format!(
            "/login/oidc/callback?error=access_denied&state={state_cookie}"
        )))
        .header("cookie", format!("kp_oidc={state_cookie}; kp_lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("cancelled"));

    // Without a configured provider the routes do not exist.
    let plain = TestApp::spawn().await;
    assert_eq!(
        http.get(plain.url("/login/oidc"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
