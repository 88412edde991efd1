use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kruispunt_domain::clock::{ManualClock, Timestamp};
use kruispunt_domain::principal::Principal;
use kruispunt_domain::registers::{EmployerInput, Institution};
use kruispunt_security::system::SystemEntropy;
use kruispunt_store::{NewClient, Store};
use kruispunt_web::{AppState, WebConfig};
use std::sync::Arc;

/// A fixed "now" for every test: 2026-11-30T00:53:20Z.
pub const NOW: Timestamp = Timestamp(1_796_000_000_000);

pub struct TestApp {
    pub address: String,
    pub db_url: String,
    pub store: Store,
    pub state: AppState,
    pub clock: ManualClock,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(WebConfig::default()).await
    }

    pub async fn spawn_with(config: WebConfig) -> TestApp {
        let (store, db_url) = kruispunt_store::testing::fresh_store()
            .await
            .expect("fresh store");
        let clock = ManualClock::at(NOW);
        let _ = kruispunt_web::telemetry::prometheus();
        let state = AppState::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(SystemEntropy),
            config,
        )
        .await
        .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("addr"));
        state.hub().spawn_workers();
        state.dimona().spawn_worker();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = kruispunt_web::serve(listener, serve_state, std::future::pending()).await;
        });
        TestApp {
            address,
            db_url,
            store,
            state,
            clock,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn token_url(&self) -> String {
        self.url("/REST/oauth/v5/token")
    }

    pub async fn add_institution(&self, code: &str, sector: u16) -> Principal {
        let i = Institution::new(code, &format!("Institution {code}"), Some(sector), None)
            .expect("institution");
        self.store
            .insert_institution(&i, NOW)
            .await
            .expect("insert institution");
        Principal::Institution(i.code)
    }

    pub async fn add_institution_with_webhook(
        &self,
        code: &str,
        sector: u16,
        webhook: &str,
    ) -> Principal {
        let i = Institution::new(
            code,
            &format!("Institution {code}"),
            Some(sector),
            Some(webhook),
        )
        .expect("institution");
        self.store
            .insert_institution(&i, NOW)
            .await
            .expect("insert institution");
        Principal::Institution(i.code)
    }

    pub async fn add_person(
        &self,
        ssin: &str,
        last: &str,
        first: &str,
    ) -> kruispunt_domain::registers::Person {
        let s = kruispunt_domain::ids::Ssin::parse(ssin).expect("ssin");
        let p = kruispunt_domain::registers::PersonInput {
            ssin: ssin.into(),
            last_name: last.into(),
            first_name: first.into(),
            birth_date: s.birth_date().map(kruispunt_domain::clock::format_date),
            sex: s.sex().map(|x| x.code().to_owned()),
            nationality: Some("BE".into()),
            ..Default::default()
        }
        .validate()
        .expect("person");
        self.store
            .upsert_person(&p, NOW)
            .await
            .expect("insert person");
        p
    }

    /// Grants (institution, service, purpose) as the committee would.
    pub async fn grant(
        &self,
        institution: &str,
        service: &str,
        purpose: &str,
        integration_check: bool,
    ) {
        self.state
            .hub()
            .grant_authorization(
                &kruispunt_store::NewAuthorization {
                    id: format!("auth-{institution}-{service}-{purpose}"),
                    institution: institution.into(),
                    service: service.into(),
                    purpose: purpose.into(),
                    integration_check,
                    deliberation: Some("CSI/26/001".into()),
                    valid_from: "2018-01-01".into(),
                    valid_to: None,
                },
                "operator",
            )
            .await
            .expect("grant");
    }

    /// POSTs JSON with a bearer token; returns (status, JSON body).
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn add_employer(&self, employer_id: &str, enterprise: &str) -> Principal {
        let e = EmployerInput {
            employer_id: employer_id.into(),
            enterprise_number: enterprise.into(),
            name: "Test employer".into(),
            joint_committee: Some("302".into()),
            address: None,
        }
        .validate()
        .expect("employer");
        self.store
            .insert_employer(&e, NOW)
            .await
            .expect("insert employer");
        Principal::Employer(e.employer_id)
    }

    /// An access token issued directly by the server's key ring.
    pub fn token_for(&self, p: &Principal, ttl: i64) -> String {
        let (t, _) = self
            .state
            .keys()
            .issue(
                p,
                &p.default_scopes(),
                ttl,
                self.clock_now(),
                &SystemEntropy,
            )
            .expect("issue");
        t
    }

    pub fn clock_now(&self) -> Timestamp {
        use kruispunt_domain::clock::Clock;
        self.clock.now()
    }

    /// Registers an OAuth2 client for `p` with a fresh key; returns it.
    pub async fn register_client(&self, p: &Principal, kind: KeyKind, scopes: &str) -> TestClient {
        let key = TestKey::generate(kind);
        let client_id = format!(
            "kpc_test_{}",
            kruispunt_domain::clock::Entropy::token_hex(&SystemEntropy)
        );
        self.store
            .insert_client(
                &NewClient {
                    client_id: client_id.clone(),
                    principal: p.subject(),
                    public_key_pem: key.public_pem(),
                    algorithm: key.alg().into(),
                    scopes: scopes.into(),
                },
                NOW,
            )
            .await
            .expect("insert client");
        TestClient { client_id, key }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Rsa,
    Ec,
}

pub enum TestKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

impl TestKey {
    pub fn generate(kind: KeyKind) -> Self {
        match kind {
            KeyKind::Rsa => TestKey::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa"),
            ),
            KeyKind::Ec => {
                TestKey::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec"))
            }
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            TestKey::Rsa(_) => "RS256",
            TestKey::Ec(_) => "ES256",
        }
    }

    pub fn public_pem(&self) -> String {
        let der = match self {
            TestKey::Rsa(k) => k.public_key().as_der().expect("der").as_ref().to_vec(),
            TestKey::Ec(k) => k.public_key().as_der().expect("der").as_ref().to_vec(),
        };
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// A compact JWS over `claims`, signed with this key.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": self.alg(), "typ": "JWT"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = match self {
            TestKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("sign");
                sig
            }
            TestKey::Ec(k) => k
                .sign(&SystemRandom::new(), input.as_bytes())
                .expect("sign")
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

pub struct TestClient {
    pub client_id: String,
    pub key: TestKey,
}

impl TestClient {
    /// Standard claims for `aud`, valid at `now` for 2 minutes.
    pub fn claims(&self, aud: &str, now: Timestamp, jti: &str) -> serde_json::Value {
        serde_json::json!({
            "iss": self.client_id, "sub": self.client_id, "aud": aud,
            "iat": now.seconds(), "exp": now.seconds() + 120, "jti": jti,
        })
    }

    pub fn assertion(&self, aud: &str, now: Timestamp, jti: &str) -> String {
        self.key.sign(&self.claims(aud, now, jti))
    }
}

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Posts a token request; returns (status, JSON body).
pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = app
        .http
        .post(app.token_url())
        .form(form)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let body = res.json::<serde_json::Value>().await.expect("json body");
    (status, body)
}

/// Redacts the per-request id for snapshots, after checking it is there.
pub fn redact_request_id(mut v: serde_json::Value) -> serde_json::Value {
    let id = v.get("requestId").and_then(|x| x.as_str()).unwrap_or("");
    assert!(!id.is_empty(), "error answers carry a requestId: {v}");
    v["requestId"] = serde_json::json!("[request-id]");
    v
}
