//! Dimona notice webhooks: an employer (or a provider it mandates) registers
//! a URL; every notice of its mailbox is then POSTed there, signed with the
//! hub key, at least once.

use crate::helpers::TestApp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kruispunt_domain::ids::EmployerId;
use kruispunt_domain::principal::Principal;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const P: &str = "93051822361";
const EMPLOYER: i64 = 935467;
const HOOK: &str = "/REST/dimona/v2/webhook";

type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A receiver that answers 500 to its first `failures` calls, then 200.
async fn receiver(failures: usize) -> (String, Received) {
    let seen: Received = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/notices",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            let calls = calls.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                if calls.fetch_add(1, Ordering::SeqCst) < failures {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notices", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// A URL nothing listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/notices", l.local_addr().unwrap())
}

struct Emp {
    app: TestApp,
    token: String,
}

async fn employer() -> Emp {
    let app = TestApp::spawn().await;
    app.add_person(P, "Peeters", "Jan").await;
    let e = app.add_employer("0009354-67", "0403.170.701").await;
    let token = app.token_for(&e, 3600);
    Emp { app, token }
}

impl Emp {
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn put_hook(&self, path: &str, token: &str, url: &str) -> (u16, Value) {
        self.request(
            reqwest::Method::PUT,
            path,
            token,
            Some(json!({ "url": url })),
        )
        .await
    }

    /// Declares an IN for P and waits until it is processed; returns its id.
    async fn declare(&self, start: &str) -> String {
        let (s, b) = self
            .app
            .post_json(
                "/REST/dimona/v2/declarations",
                &self.token,
                &json!({"employer": {"employerId": EMPLOYER}, "worker": {"ssin": P},
                        "dimonaIn": {"startDate": start, "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let id = b["declarationId"].as_str().unwrap().to_owned();
        let path = format!("/REST/dimona/v2/declarations/{id}");
        for _ in 0..100 {
            if self.app.get_json(&path, Some(&self.token)).await.0 == 200 {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not processed in time");
    }

    async fn counts(&self) -> (i64, i64) {
        self.app
            .store
            .notice_delivery_counts(EMPLOYER)
            .await
            .unwrap()
    }
}

/// Waits (up to 5 s) until `received` holds `n` calls.
async fn wait_for_calls(received: &Received, n: usize) {
    for _ in 0..100 {
        if received.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected {n} webhook calls, got {}",
        received.lock().unwrap().len()
    );
}

async fn wait_for_counts(e: &Emp, want: (i64, i64)) {
    for _ in 0..100 {
        if e.counts().await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e.counts().await, want, "(delivered, pending)");
}

async fn audit_kinds(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT kind, actor FROM audit_log WHERE kind LIKE 'dimona.webhook.%' ORDER BY seq",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn the_employer_or_a_mandated_provider_registers_reads_and_removes_the_webhook() {
    let e = employer().await;
    let (s, none) = e.app.get_json(HOOK, Some(&e.token)).await;
    assert_eq!(s, 404, "{none}");

    let (s, w) = e
        .put_hook(
            HOOK,
            &e.token,
            "https://payroll.example/kruispunt/notices?k=1",
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["url"], "https://payroll.example/kruispunt/notices?k=1");
    assert_eq!(w["employerId"], EMPLOYER);
    assert_eq!(w["registeredBy"], EMPLOYER);
    assert_eq!(w["registeredAt"], "2026-11-30T00:53:20.000Z");
    assert_eq!(w["signingKey"], e.app.url("/hub/v1/audit/key"));
    assert_eq!(w["keyId"], e.app.state.hub().key().kid());
    let (s, read) = e.app.get_json(HOOK, Some(&e.token)).await;
    assert_eq!((s, &read), (200, &w));
    // The same URL again changes nothing (and is not audited again).
    let (s, _) = e
        .put_hook(
            HOOK,
            &e.token,
            "https://payroll.example/kruispunt/notices?k=1",
        )
        .await;
    assert_eq!(s, 200);

    // A provider: refused without a mandate, like every Dimona route.
    let provider = e.app.add_employer("0009355-64", "0403.199.702").await;
    let Principal::Employer(provider_id) = provider else {
        unreachable!()
    };
    let pt = e.app.token_for(&provider, 3600);
    let on_behalf = format!("{HOOK}?employerId={EMPLOYER}");
    for (method, body) in [
        (reqwest::Method::GET, None),
        (
            reqwest::Method::PUT,
            Some(json!({"url": "https://secretariat.example/hook"})),
        ),
        (reqwest::Method::DELETE, None),
    ] {
        let (s, b) = e.request(method.clone(), &on_behalf, &pt, body).await;
        assert_eq!(s, 403, "{method} {b}");
        assert_eq!(b["error"]["code"], "90256-155", "{b}");
        assert_eq!(b["error"]["field"], "employerId", "{b}");
    }
    // Its own webhook is its own business.
    let (s, _) = e.app.get_json(HOOK, Some(&pt)).await;
    assert_eq!(s, 404);

    let employer_id = EmployerId::parse("935467").unwrap();
    e.app
        .state
        .dimona()
        .grant_mandate(employer_id, provider_id, "test")
        .await
        .unwrap();
    let (s, w) = e
        .put_hook(&on_behalf, &pt, "https://secretariat.example/hook")
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["employerId"], EMPLOYER);
    assert_eq!(w["registeredBy"], provider_id.as_i64());
    // The employer sees what its provider set.
    let (_, read) = e.app.get_json(HOOK, Some(&e.token)).await;
    assert_eq!(read["url"], "https://secretariat.example/hook");

    // Institutions, citizens and operators have no webhook here.
    let inst = e.app.add_institution("CPAS-LIEGE", 17).await;
    let citizen = Principal::parse_subject(&format!("citizen:{P}")).unwrap();
    for p in [inst, citizen, Principal::Operator] {
        let t = e.app.token_for(&p, 600);
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let body =
                (method == reqwest::Method::PUT).then(|| json!({"url": "https://x.example/"}));
            let (s, b) = e.request(method.clone(), HOOK, &t, body).await;
            assert_eq!(s, 403, "{p:?} {method}: {b}");
        }
    }

    let (s, b) = e
        .request(reqwest::Method::DELETE, &on_behalf, &pt, None)
        .await;
    assert_eq!(s, 204, "{b}");
    assert_eq!(e.app.get_json(HOOK, Some(&e.token)).await.0, 404);
    let (s, b) = e
        .request(reqwest::Method::DELETE, HOOK, &e.token, None)
        .await;
    assert_eq!(s, 404, "{b}");

    // Every change is audited, with who made it.
    assert_eq!(
        audit_kinds(&e.app).await,
        vec![
            (
                "dimona.webhook.set".to_owned(),
                "employer:935467".to_owned()
            ),
            (
                "dimona.webhook.set".to_owned(),
                format!("employer:{provider_id}")
            ),
            (
                "dimona.webhook.remove".to_owned(),
                format!("employer:{provider_id}")
            ),
        ]
    );
    // The audit entry keeps the URL's origin, not its path or query.
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE kind = 'dimona.webhook.set' ORDER BY seq LIMIT 1",
    )
    .fetch_one(e.app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&detail).unwrap(),
        json!({"employer": "935467", "origin": "https://payroll.example"})
    );
}

#[tokio::test]
async fn a_revoked_mandate_takes_the_providers_webhook_with_it() {
    let e = employer().await;
    let provider = e.app.add_employer("0009355-64", "0403.199.702").await;
    let Principal::Employer(provider_id) = provider else {
        unreachable!()
    };
    let pt = e.app.token_for(&provider, 3600);
    let employer_id = EmployerId::parse("935467").unwrap();
    let dimona = e.app.state.dimona();
    dimona
        .grant_mandate(employer_id, provider_id, "test")
        .await
        .unwrap();
    let on_behalf = format!("{HOOK}?employerId={EMPLOYER}");
    let (s, w) = e
        .put_hook(&on_behalf, &pt, "https://secretariat.example/hook")
        .await;
    assert_eq!(s, 200, "{w}");
    dimona
        .revoke_mandate(employer_id, provider_id, "test")
        .await
        .unwrap();
    // The employer's notices no longer go to its former provider.
    let (s, b) = e.app.get_json(HOOK, Some(&e.token)).await;
    assert_eq!(s, 404, "{b}");
    let removed: Vec<(String, String)> = audit_kinds(&e.app)
        .await
        .into_iter()
        .filter(|(k, _)| k == "dimona.webhook.remove")
        .collect();
    assert_eq!(
        removed,
        vec![("dimona.webhook.remove".to_owned(), "test".to_owned())]
    );

    // A webhook the employer set itself stays when a mandate ends.
    let (s, _) = e
        .put_hook(HOOK, &e.token, "https://payroll.example/own")
        .await;
    assert_eq!(s, 200);
    dimona
        .grant_mandate(employer_id, provider_id, "test")
        .await
        .unwrap();
    dimona
        .revoke_mandate(employer_id, provider_id, "test")
        .await
        .unwrap();
    let (s, read) = e.app.get_json(HOOK, Some(&e.token)).await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(read["url"], "https://payroll.example/own");
}

#[tokio::test]
async fn bad_webhook_urls_are_400_naming_url() {
    let e = employer().await;
    let long = format!("https://x.example/{}", "a".repeat(2000));
    for body in [
        json!({"url": "ftp://x.example/hook"}),
        json!({"url": "/relative/hook"}),
        json!({"url": "x.example/hook"}),
        json!({"url": "https://user:secret@x.example/hook"}),
        json!({"url": "https:///hook"}),
        json!({"url": "https://x.example/a b"}),
        json!({"url": long}),
        json!({"url": 42}),
        json!({"address": "https://x.example/hook"}),
    ] {
        let (s, b) = e
            .request(reqwest::Method::PUT, HOOK, &e.token, Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_eq!(b["error"]["field"], "url", "{body}: {b}");
    }
    assert_eq!(e.app.get_json(HOOK, Some(&e.token)).await.0, 404);
    assert!(audit_kinds(&e.app).await.is_empty());
    // Exactly 2,000 characters is fine.
    let fits = format!("https://x.example/{}", "a".repeat(2000 - 18));
    assert_eq!(fits.len(), 2000);
    assert_eq!(e.put_hook(HOOK, &e.token, &fits).await.0, 200);
}

#[tokio::test]
async fn a_processed_declaration_reaches_the_webhook_signed_with_the_mailbox_item() {
    let e = employer().await;
    let (url, received) = receiver(0).await;
    let (s, w) = e.put_hook(HOOK, &e.token, &url).await;
    assert_eq!(s, 200, "{w}");
    let id = e.declare("2026-12-01").await;
    wait_for_calls(&received, 1).await;
    let (headers, body) = received.lock().unwrap()[0].clone();

    // The body is the mailbox's item, byte for byte as JSON.
    let (_, mailbox) = e
        .app
        .get_json("/REST/dimona/v2/notices", Some(&e.token))
        .await;
    let item = &mailbox["items"][0];
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(&sent, item, "webhook body vs mailbox item");
    assert_eq!(sent["declarationId"], id);
    assert_eq!(sent["result"], "A");
    assert_eq!(sent["employerId"], EMPLOYER);
    let notice = item["noticeId"].as_i64().unwrap();
    assert_eq!(
        headers["idempotency-key"],
        format!("dimona-{EMPLOYER}-{notice}")
    );
    assert_eq!(headers["content-type"], "application/json");

    // The signature verifies with the key published where the answer said.
    let (s, key) = e
        .app
        .get_json(
            w["signingKey"]
                .as_str()
                .unwrap()
                .strip_prefix(&e.app.address)
                .unwrap(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(headers["kruispunt-key-id"], key["kid"].as_str().unwrap());
    let public = URL_SAFE_NO_PAD
        .decode(key["publicKey"].as_str().unwrap())
        .unwrap();
    let sig_header = headers["kruispunt-signature"].to_str().unwrap().to_owned();
    let (t, sig) = sig_header.split_once(",ed25519=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    assert!(kruispunt_security::audit::verify_signature(
        &public,
        format!("{t}.{body}").as_bytes(),
        &sig
    ));
    // A tampered body does not verify.
    assert!(!kruispunt_security::audit::verify_signature(
        &public,
        format!("{t}.{}", body.replace("\"A\"", "\"B\"")).as_bytes(),
        &sig
    ));
    wait_for_counts(&e, (1, 0)).await;
    // Delivered once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_backoff_and_the_same_idempotency_key() {
    let e = employer().await;
    let (url, received) = receiver(1).await;
    assert_eq!(e.put_hook(HOOK, &e.token, &url).await.0, 200);
    e.declare("2026-12-01").await;
    wait_for_calls(&received, 1).await;
    wait_for_counts(&e, (0, 1)).await;
    // Not before its backoff (1 s; the test clock stands still)...
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    // ...then again.
    e.app.clock.advance_seconds(2);
    wait_for_calls(&received, 2).await;
    wait_for_counts(&e, (1, 0)).await;
    let calls = received.lock().unwrap().clone();
    assert_eq!(calls[0].0["idempotency-key"], calls[1].0["idempotency-key"]);
    assert_eq!(calls[0].1, calls[1].1, "the same notice");
    assert_ne!(
        calls[0].0["kruispunt-signature"], calls[1].0["kruispunt-signature"],
        "signed at each attempt"
    );
}

#[tokio::test]
async fn queued_notices_survive_in_the_outbox_and_follow_a_new_url() {
    let e = employer().await;
    // Nobody listens: the notice stays queued, with why.
    assert_eq!(e.put_hook(HOOK, &e.token, &dead_url()).await.0, 200);
    e.declare("2026-12-01").await;
    wait_for_counts(&e, (0, 1)).await;
    let mut row: (i64, Option<String>) = (0, None);
    for _ in 0..100 {
        row = sqlx::query_as(
            "SELECT attempts, last_error FROM dimona_notice_deliveries WHERE employer_id = 935467",
        )
        .fetch_one(e.app.store.pool())
        .await
        .unwrap();
        if row.1.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (attempts, error) = row;
    assert_eq!(attempts, 1);
    assert_eq!(error.as_deref(), Some("cannot be reached"));
    // A new URL takes the queued notice along.
    let (url, received) = receiver(0).await;
    assert_eq!(e.put_hook(HOOK, &e.token, &url).await.0, 200);
    e.app.clock.advance_seconds(2);
    wait_for_calls(&received, 1).await;
    wait_for_counts(&e, (1, 0)).await;
}

#[tokio::test]
async fn removing_the_webhook_stops_deliveries() {
    let e = employer().await;
    let (url, received) = receiver(0).await;
    assert_eq!(e.put_hook(HOOK, &e.token, &url).await.0, 200);
    e.declare("2026-12-01").await;
    wait_for_calls(&received, 1).await;
    wait_for_counts(&e, (1, 0)).await;

    assert_eq!(
        e.request(reqwest::Method::DELETE, HOOK, &e.token, None)
            .await
            .0,
        204
    );
    // Processed after the removal: in the mailbox, not queued, not sent.
    e.declare("2026-12-02").await;
    assert_eq!(e.counts().await, (1, 0));
    let (_, mailbox) = e
        .app
        .get_json("/REST/dimona/v2/notices", Some(&e.token))
        .await;
    assert_eq!(mailbox["items"].as_array().unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(received.lock().unwrap().len(), 1);

    // Notices still waiting for a retry are dropped with the webhook.
    assert_eq!(e.put_hook(HOOK, &e.token, &dead_url()).await.0, 200);
    e.declare("2026-12-03").await;
    wait_for_counts(&e, (1, 1)).await;
    // Pruning the outbox takes delivered rows older than the cutoff, never
    // one still to be delivered.
    let store = &e.app.store;
    assert_eq!(store.prune_delivered(0).await.unwrap(), 0);
    assert_eq!(store.prune_delivered(i64::MAX).await.unwrap(), 1);
    assert_eq!(e.counts().await, (0, 1));
    assert_eq!(
        e.request(reqwest::Method::DELETE, HOOK, &e.token, None)
            .await
            .0,
        204
    );
    assert_eq!(e.counts().await, (0, 0));
}

#[tokio::test]
async fn a_declaration_refused_after_failed_attempts_is_sent_too() {
    let e = employer().await;
    let (url, received) = receiver(0).await;
    assert_eq!(e.put_hook(HOOK, &e.token, &url).await.0, 200);
    // Stored, but unprocessable: finished as KP000-001 after five attempts,
    // outside the batch pass.
    e.app
        .store
        .insert_declarations(
            &[kruispunt_store::NewDeclaration {
                id: "900000000000002".into(),
                employer_id: EMPLOYER,
                declarant: "employer:935467".into(),
                kind: "IN".into(),
                ssin: None,
                body: r#"{"dimonaIn":{}}"#.into(),
            }],
            e.app.clock_now().millis(),
        )
        .await
        .unwrap();
    for _ in 0..40 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        // Each attempt leases it for 30 s: let the lease expire.
        e.app.clock.advance_seconds(31);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_for_calls(&received, 1).await;
    let sent: Value = serde_json::from_str(&received.lock().unwrap()[0].1).unwrap();
    assert_eq!(sent["declarationId"], "900000000000002");
    assert_eq!(sent["result"], "B");
    assert_eq!(sent["anomalies"][0]["errorId"], "KP000-001");
    let (_, mailbox) = e
        .app
        .get_json("/REST/dimona/v2/notices", Some(&e.token))
        .await;
    assert_eq!(mailbox["items"][0], sent);
}
