//! The authorization matrix: every documented operation × every kind of
//! caller, with the expected verdict. A new operation without a row here
//! fails `every_documented_operation_has_a_row`.

use crate::helpers::TestApp;
use kruispunt_domain::principal::Principal;
use serde_json::{Value, json};

const P: &str = "93051822361";
const Q: &str = "85073003328";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    /// Passes authentication and authorization (any status but 401/403).
    Ok,
    /// 401: no or invalid token.
    Unauth,
    /// 403: authenticated but not allowed.
    Forbidden,
}

/// Callers, in column order.
const CALLERS: [&str; 9] = [
    "anonymous",
    "institution",
    "employer-self",
    "employer-other",
    "citizen-self",
    "citizen-other",
    "operator",
    // Providers (social secretariats): employers with their own ONSS
    // number, with and without a mandate from employer-self.
    "provider-mandated",
    "provider-unmandated",
];

struct Row {
    method: &'static str,
    template: &'static str,
    path: String,
    body: Option<Value>,
    verdicts: [V; 9],
}

fn rows() -> Vec<Row> {
    use V::*;
    let open = [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok];
    let inst_only = [
        Unauth, Ok, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    // The employer itself, or a provider it mandates.
    let employer_self = [
        Unauth, Forbidden, Ok, Forbidden, Forbidden, Forbidden, Forbidden, Ok, Forbidden,
    ];
    let any_token = [Unauth, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok];
    let r = |method, template, path: &str, body: Option<Value>, verdicts| Row {
        method,
        template,
        path: path.to_owned(),
        body,
        verdicts,
    };
    let din = json!({"employer": {"employerId": 935467}, "worker": {"ssin": P}, "dimonaIn": {"startDate": "2026-12-01", "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}});
    vec![
        r("GET", "/health", "/health", None, open),
        r("GET", "/health/ready", "/health/ready", None, open),
        r("GET", "/metrics", "/metrics", None, open),
        r("GET", "/openapi.json", "/openapi.json", None, open),
        r(
            "GET",
            "/.well-known/jwks.json",
            "/.well-known/jwks.json",
            None,
            open,
        ),
        // The token endpoint authenticates clients itself (400/401 on its own terms).
        r(
            "POST",
            "/REST/oauth/v5/token",
            "/REST/oauth/v5/token",
            None,
            open,
        ),
        r("GET", "/api/v1/whoami", "/api/v1/whoami", None, any_token),
        r(
            "GET",
            "/hub/v1/authorizations",
            "/hub/v1/authorizations",
            None,
            open,
        ),
        r(
            "POST",
            "/hub/v1/references",
            "/hub/v1/references",
            Some(json!({"ssin": P, "capacity": 2, "startDate": "2026-01-01"})),
            inst_only,
        ),
        r(
            "GET",
            "/hub/v1/references",
            &format!("/hub/v1/references?ssin={P}"),
            None,
            inst_only,
        ),
        r(
            "POST",
            "/hub/v1/references/unregister",
            "/hub/v1/references/unregister",
            Some(json!({"ssin": P, "capacity": 2, "startDate": "2026-01-01"})),
            inst_only,
        ),
        r(
            "POST",
            "/hub/v1/messages",
            "/hub/v1/messages",
            Some(json!({"service": "identification", "ssin": P, "purpose": "2"})),
            inst_only,
        ),
        r(
            "GET",
            "/hub/v1/notifications",
            "/hub/v1/notifications",
            None,
            inst_only,
        ),
        r(
            "GET",
            "/hub/v1/persons/{ssin}/access-log",
            &format!("/hub/v1/persons/{P}/access-log"),
            None,
            [
                Unauth, Forbidden, Forbidden, Forbidden, Ok, Forbidden, Ok, Forbidden, Forbidden,
            ],
        ),
        r("GET", "/hub/v1/audit/key", "/hub/v1/audit/key", None, open),
        r(
            "GET",
            "/hub/v1/audit/checkpoints",
            "/hub/v1/audit/checkpoints",
            None,
            open,
        ),
        r(
            "PUT",
            "/hub/v1/providers/{service}",
            "/hub/v1/providers/matrix-test",
            Some(json!({"endpoint": "http://127.0.0.1:9/x"})),
            inst_only,
        ),
        r(
            "POST",
            "/REST/dimona/v2/declarations",
            "/REST/dimona/v2/declarations",
            Some(din),
            employer_self,
        ),
        r(
            "GET",
            "/REST/dimona/v2/declarations/{declaration_id}",
            "/REST/dimona/v2/declarations/123456789012345",
            None,
            // Another employer's declaration answers 404: its existence is not
            // revealed (checked below with a real declaration).
            [
                Unauth, Forbidden, Ok, Ok, Forbidden, Forbidden, Forbidden, Ok, Ok,
            ],
        ),
        r(
            "GET",
            "/REST/dimona/v2/notices",
            "/REST/dimona/v2/notices",
            None,
            [
                Unauth, Forbidden, Ok, Ok, Forbidden, Forbidden, Forbidden, Ok, Ok,
            ],
        ),
        // The notice webhook of employer-self: itself or a mandated
        // provider (90256-155 for others); PUT first, so GET finds it.
        r(
            "PUT",
            "/REST/dimona/v2/webhook",
            "/REST/dimona/v2/webhook?employerId=935467",
            Some(json!({"url": "http://127.0.0.1:9/notices"})),
            employer_self,
        ),
        r(
            "GET",
            "/REST/dimona/v2/webhook",
            "/REST/dimona/v2/webhook?employerId=935467",
            None,
            employer_self,
        ),
        r(
            "DELETE",
            "/REST/dimona/v2/webhook",
            "/REST/dimona/v2/webhook?employerId=935467",
            None,
            employer_self,
        ),
        r(
            "GET",
            "/REST/dimona/v2/periods",
            "/REST/dimona/v2/periods?employerId=935467",
            None,
            [
                Unauth, Forbidden, Ok, Forbidden, Forbidden, Forbidden, Ok, Ok, Forbidden,
            ],
        ),
        // A JSON body is not a Dimona file: employers get their negative
        // ACRF (400), which is past access control.
        r(
            "PUT",
            "/batch/v1/files/{file_name}",
            "/batch/v1/files/FI.MATRIX",
            Some(json!({"not": "xml"})),
            [
                Unauth, Forbidden, Ok, Ok, Forbidden, Forbidden, Forbidden, Ok, Ok,
            ],
        ),
        r(
            "GET",
            "/batch/v1/files/{file_name}/notification",
            "/batch/v1/files/FI.MATRIX/notification",
            None,
            [Unauth, Forbidden, Ok, Ok, Forbidden, Forbidden, Ok, Ok, Ok],
        ),
    ]
}

#[tokio::test]
async fn every_caller_gets_exactly_what_the_matrix_says() {
    let app = TestApp::spawn().await;
    app.add_person(P, "Peeters", "Jan").await;
    app.add_person(Q, "Dubois", "Marc").await;
    let inst = app.add_institution("CPAS-LIEGE", 17).await;
    app.grant("CPAS-LIEGE", "identification", "2", true).await;
    let self_employer = app.add_employer("0009354-67", "0403.170.701").await;
    let other_employer = app.add_employer("100006", "0200.065.765").await;
    let mandated = app.add_employer("0009355-64", "0403.199.702").await;
    let unmandated = app.add_employer("0009356-61", "0404.493.859").await;
    if let (Principal::Employer(e), Principal::Employer(p)) = (&self_employer, &mandated) {
        app.state
            .dimona()
            .grant_mandate(*e, *p, "test")
            .await
            .unwrap();
    }
    let citizen = |s: &str| Principal::parse_subject(&format!("citizen:{s}")).unwrap();
    let tokens: Vec<Option<String>> = vec![
        None,
        Some(app.token_for(&inst, 600)),
        Some(app.token_for(&self_employer, 600)),
        Some(app.token_for(&other_employer, 600)),
        Some(app.token_for(&citizen(P), 600)),
        Some(app.token_for(&citizen(Q), 600)),
        Some(app.token_for(&Principal::Operator, 600)),
        Some(app.token_for(&mandated, 600)),
        Some(app.token_for(&unmandated, 600)),
    ];
    let mut failures = Vec::new();
    for row in rows() {
        for (i, token) in tokens.iter().enumerate() {
            let method = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
            let mut req = app.http.request(method, app.url(&row.path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &row.body {
                req = req.json(b);
            }
            let status = req.send().await.unwrap().status().as_u16();
            let verdict = match status {
                401 => V::Unauth,
                403 => V::Forbidden,
                _ => V::Ok,
            };
            // A preventive-check refusal (403 with forwarded:false) is the
            // hub doing its job, not an access-control failure: only the
            // institution column may see it, and it counts as Ok.
            let verdict = if verdict == V::Forbidden && row.template == "/hub/v1/messages" && i == 1
            {
                V::Ok
            } else {
                verdict
            };
            if verdict != row.verdicts[i] || status >= 500 {
                failures.push(format!(
                    "{} {} as {}: got {status}, expected {:?}",
                    row.method, row.template, CALLERS[i], row.verdicts[i]
                ));
            }
        }
    }
    // Ownership of a declaration: the other employer sees a 404.
    let res = app
        .http
        .post(app.url("/REST/dimona/v2/declarations"))
        .bearer_auth(tokens[2].as_deref().unwrap())
        .json(&json!({"employer": {"employerId": 935467}, "worker": {"ssin": Q}, "dimonaIn": {"startDate": "2026-12-02", "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}}))
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..100 {
        if app.get_json(&location, tokens[2].as_deref()).await.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.get_json(&location, tokens[2].as_deref()).await.0, 200);
    assert_eq!(app.get_json(&location, tokens[3].as_deref()).await.0, 404);
    assert!(
        failures.is_empty(),
        "authorization matrix violations:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_documented_operation_has_a_row() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = rows();
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            if !rows.iter().any(|r| r.template == path && r.method == m) {
                missing.push(format!("{m} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a row in the authorization matrix: {missing:?}"
    );
}
