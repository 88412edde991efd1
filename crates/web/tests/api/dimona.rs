use crate::helpers::TestApp;
use kruispunt_domain::principal::Principal;
use serde_json::{Value, json};

const P: &str = "93051822361";

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

fn dimona_in(start: &str, worker_type: &str, extra: Value) -> Value {
    let mut i = json!({"startDate": start, "features": {"jointCommissionNumber": "XXX", "workerType": worker_type}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            i[k] = v;
        }
    }
    json!({"employer": {"employerId": 935467}, "worker": {"ssin": P}, "dimonaIn": i})
}

/// Declares (201); returns the declaration's location.
async fn submit(e: &Emp, body: &Value) -> String {
    let res = e
        .app
        .http
        .post(e.app.url("/REST/dimona/v2/declarations"))
        .bearer_auth(&e.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/REST/dimona/v2/declarations/"));
    location
}

/// Declares and waits for the result (404 until processed).
async fn declare(e: &Emp, body: &Value) -> Value {
    let location = submit(e, body).await;
    for _ in 0..100 {
        let (s, b) = e.app.get_json(&location, Some(&e.token)).await;
        if s == 200 {
            return b;
        }
        assert_eq!(s, 404, "{b}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not processed in time");
}

fn anomaly_ids(b: &Value) -> Vec<String> {
    b["declarationStatus"]["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["errorId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_in_is_accepted_enriched_and_lands_in_the_personnel_file() {
    let e = employer().await;
    let b = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
    assert_eq!(b["worker"]["familyName"], "Peeters");
    assert_eq!(b["worker"]["birthDate"], "1993-05-18");
    let pid = b["declarationStatus"]["period"]["id"].as_i64().unwrap();
    assert!(
        kruispunt_domain::ids::DimonaPeriodId::parse(&format!("{pid:012}")).is_ok(),
        "valid period id {pid}"
    );

    let (s, file) = e
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&e.token))
        .await;
    assert_eq!(s, 200);
    assert_eq!(file["items"][0]["periodId"], pid);
    assert_eq!(file["items"][0]["ssin"], P);
    assert_eq!(file["items"][0]["status"], "active");
    let (_, none) = e
        .app
        .get_json(
            "/REST/dimona/v2/periods?employerId=935467&ssin=85073003328",
            Some(&e.token),
        )
        .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    // Someone else's personnel file.
    let other = e.app.add_employer("100006", "0200.065.765").await;
    let t = e.app.token_for(&other, 600);
    assert_eq!(
        e.app
            .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&t))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn every_processed_declaration_is_a_notice_in_the_mailbox() {
    let e = employer().await;
    declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    declare(&e, &dimona_in("2026-12-01", "STU", json!({}))).await;
    let (s, mb) = e
        .app
        .get_json("/REST/dimona/v2/notices", Some(&e.token))
        .await;
    assert_eq!(s, 200, "{mb}");
    let items = mb["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{mb}");
    assert_eq!(
        (items[0]["result"].as_str(), items[1]["result"].as_str()),
        (Some("A"), Some("B"))
    );
    assert_eq!(items[1]["anomalies"][0]["errorId"], "00911-001");
    let next = mb["next"].as_i64().unwrap();
    let (_, rest) = e
        .app
        .get_json(
            &format!("/REST/dimona/v2/notices?after={next}"),
            Some(&e.token),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 0);
    // Another employer's mailbox is its own.
    let other = e.app.add_employer("100006", "0200.065.765").await;
    let (_, theirs) = e
        .app
        .get_json(
            "/REST/dimona/v2/notices",
            Some(&e.app.token_for(&other, 600)),
        )
        .await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn out_cancel_and_their_anomalies() {
    let e = employer().await;
    let b = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    let pid = b["declarationStatus"]["period"]["id"].as_i64().unwrap();
    let out = json!({"employer": {"employerId": 935467}, "dimonaOut": {"periodId": pid, "endDate": "2026-12-31"}});
    assert_eq!(declare(&e, &out).await["declarationStatus"]["result"], "A");
    let again = declare(&e, &out).await;
    assert_eq!(again["declarationStatus"]["result"], "B");
    assert_eq!(anomaly_ids(&again), vec!["00913-356"]);
    let cancel = json!({"employer": {"employerId": 935467}, "dimonaCancel": {"periodId": pid}});
    assert_eq!(
        declare(&e, &cancel).await["declarationStatus"]["result"],
        "A"
    );
    let twice = declare(&e, &cancel).await;
    assert_eq!(anomaly_ids(&twice), vec!["00913-355"]);
    let unknown = kruispunt_domain::ids::DimonaPeriodId::from_sequence(42)
        .unwrap()
        .value();
    let b = declare(
        &e,
        &json!({"employer": {"employerId": 935467}, "dimonaCancel": {"periodId": unknown}}),
    )
    .await;
    assert_eq!(anomaly_ids(&b), vec!["00913-354"]);
    let (_, file) = e
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&e.token))
        .await;
    assert_eq!(file["items"][0]["status"], "cancelled");
}

#[tokio::test]
async fn rules_give_onss_anomalies_in_french_and_dutch() {
    let e = employer().await;
    let b = declare(&e, &dimona_in("2026-12-01", "STU", json!({}))).await;
    assert_eq!(b["declarationStatus"]["result"], "B");
    assert_eq!(anomaly_ids(&b), vec!["00911-001", "01135-001"]);
    let a = &b["declarationStatus"]["anomalies"][0];
    assert!(a["labelFr"].as_str().unwrap().contains("Date de fin"));
    assert!(a["labelNl"].as_str().unwrap().contains("Einddatum"));
    // A duplicate IN.
    assert_eq!(
        declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await["declarationStatus"]["result"],
        "A"
    );
    let dup = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    assert_eq!(anomaly_ids(&dup), vec!["90373-333"]);
    // A late IN is accepted with a warning.
    let mut late = dimona_in("2026-11-20", "OTH", json!({}));
    late["worker"]["ssin"] = json!("85073003328");
    e.app.add_person("85073003328", "Dubois", "Marc").await;
    let w = declare(&e, &late).await;
    assert_eq!(w["declarationStatus"]["result"], "W");
    assert_eq!(anomaly_ids(&w), vec!["90373-460"]);
    // A worker unknown to the National Register.
    let mut ghost = dimona_in("2026-12-01", "OTH", json!({}));
    ghost["worker"]["ssin"] = json!("17073003384");
    assert_eq!(anomaly_ids(&declare(&e, &ghost).await), vec!["90017-151"]);
}

#[tokio::test]
async fn overlaps_and_duplicates_are_found_however_long_ago_the_period_started() {
    // The processing pass reads only the periods that can matter to the
    // dates declared: an open-ended period that started long before still
    // does, a closed one that ended before does not.
    let e = employer().await;
    let one_day = json!({"endDate": "2026-12-01"});
    let b = declare(&e, &dimona_in("2026-12-01", "OTH", one_day.clone())).await;
    assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
    let b = declare(&e, &dimona_in("2026-12-02", "OTH", json!({}))).await;
    assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
    // Months later, inside the open-ended period.
    let later = declare(
        &e,
        &dimona_in("2027-03-10", "OTH", json!({"endDate": "2027-03-10"})),
    )
    .await;
    assert_eq!(anomaly_ids(&later), vec!["90373-334"], "{later}");
    // The first, closed period again: a duplicate, and no overlap with
    // the open-ended one (it starts the next day).
    let dup = declare(&e, &dimona_in("2026-12-01", "OTH", one_day)).await;
    assert_eq!(anomaly_ids(&dup), vec!["90373-333"], "{dup}");
}

#[tokio::test]
async fn the_door_refuses_malformed_declarations_and_other_employers() {
    let e = employer().await;
    let post = |body: Value, token: String| {
        let app = &e.app;
        async move {
            let r = app
                .http
                .post(app.url("/REST/dimona/v2/declarations"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let mut bad = dimona_in("2026-12-01", "OTH", json!({}));
    bad["worker"]["ssin"] = json!("93051822362");
    let (s, b) = post(bad, e.token.clone()).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("worker.ssin")),
        "{b}"
    );
    let (s, b) = post(
        json!({"employer": {"employerId": 935467}, "worker": {"ssin": P}}),
        e.token.clone(),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = post(dimona_in("2026-13-01", "OTH", json!({})), e.token.clone()).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("dimonaIn.startDate")),
        "{b}"
    );
    let mut other = dimona_in("2026-12-01", "OTH", json!({}));
    other["employer"] = json!({"employerId": 100006});
    let (s, b) = post(other, e.token.clone()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("90256-155")),
        "{b}"
    );
    let inst = e.app.add_institution("ONEM", 18).await;
    let (s, _) = post(
        dimona_in("2026-12-01", "OTH", json!({})),
        e.app.token_for(&inst, 600),
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn accepted_periods_reach_the_network() {
    let e = employer().await;
    let cpas = e.app.add_institution("CPAS-LIEGE", 17).await;
    e.app.grant("CPAS-LIEGE", "employment", "2", true).await;
    let tc = e.app.token_for(&cpas, 3600);
    e.app
        .post_json(
            "/hub/v1/references",
            &tc,
            &json!({"ssin": P, "capacity": 2, "startDate": "2026-01-01"}),
        )
        .await;
    let b = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    let pid = b["declarationStatus"]["period"]["id"].clone();
    // Pushed to the entitled institution...
    let (_, feed) = e.app.get_json("/hub/v1/notifications", Some(&tc)).await;
    assert_eq!(feed["items"][0]["kind"], "employment.changed", "{feed}");
    assert_eq!(feed["items"][0]["data"]["period"]["periodId"], pid);
    // ...available to pull through the hub's employment service...
    let (s, m) = e
        .app
        .post_json(
            "/hub/v1/messages",
            &tc,
            &json!({"service": "employment", "ssin": P, "purpose": "2"}),
        )
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["answer"]["periods"][0]["periodId"], pid);
    // ...and registered in the reference directory under ONSS, capacity 30.
    let onss = kruispunt_domain::registers::InstitutionCode::parse("ONSS").unwrap();
    let refs = e.app.state.hub().list_references(&onss, P).await.unwrap();
    assert_eq!((refs.len(), refs[0].capacity), (1, 30));
    let _ = Principal::Operator;
}

#[tokio::test]
async fn an_update_moves_the_reference_with_the_period_and_keeps_it_registered() {
    let e = employer().await;
    let b = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    let pid = b["declarationStatus"]["period"]["id"].as_i64().unwrap();
    let upd = json!({"employer": {"employerId": 935467}, "dimonaUpdate": {"periodId": pid, "startDate": "2026-12-03"}});
    assert_eq!(declare(&e, &upd).await["declarationStatus"]["result"], "A");
    let onss = kruispunt_domain::registers::InstitutionCode::parse("ONSS").unwrap();
    let refs = e.app.state.hub().list_references(&onss, P).await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].start_date, "2026-12-03");
    assert_ne!(refs[0].status, "removed", "{refs:?}");
    // A cancel does remove it.
    let cancel = json!({"employer": {"employerId": 935467}, "dimonaCancel": {"periodId": pid}});
    declare(&e, &cancel).await;
    let refs = e.app.state.hub().list_references(&onss, P).await.unwrap();
    assert_eq!(refs[0].status, "removed");
}

#[tokio::test]
async fn a_provider_declares_and_reads_only_with_a_mandate() {
    let e = employer().await;
    let provider = e.app.add_employer("0009355-64", "0403.199.702").await;
    let Principal::Employer(provider_id) = provider else {
        unreachable!()
    };
    let employer_id = kruispunt_domain::ids::EmployerId::parse("935467").unwrap();
    let token = e.app.token_for(&provider, 3600);
    let body = dimona_in("2026-12-01", "OTH", json!({}));
    let post = |t: String| {
        let req = e
            .app
            .http
            .post(e.app.url("/REST/dimona/v2/declarations"))
            .bearer_auth(t)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let res = post(token.clone()).await;
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "90256-155", "{v}");
    let (s, _) = e
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&token))
        .await;
    assert_eq!(s, 403);

    let dimona = e.app.state.dimona();
    assert_eq!(
        dimona
            .grant_mandate(employer_id, provider_id, "test")
            .await
            .unwrap(),
        kruispunt_dimona::MandateChange::Done
    );
    let res = post(token.clone()).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let mut result = Value::Null;
    for _ in 0..100 {
        let (s, b) = e.app.get_json(&location, Some(&token)).await;
        if s == 200 {
            result = b;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(result["declarationStatus"]["result"], "A", "{result}");
    // The employer sees the provider's declaration as its own.
    let (s, _) = e.app.get_json(&location, Some(&e.token)).await;
    assert_eq!(s, 200);
    let (s, pf) = e
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&token))
        .await;
    assert_eq!(
        (s, pf["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{pf}"
    );
    let (s, mb) = e
        .app
        .get_json("/REST/dimona/v2/notices?employerId=935467", Some(&token))
        .await;
    assert_eq!(
        (s, mb["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{mb}"
    );

    assert_eq!(
        dimona
            .revoke_mandate(employer_id, provider_id, "test")
            .await
            .unwrap(),
        kruispunt_dimona::MandateChange::Done
    );
    assert_eq!(post(token.clone()).await.status(), 403);
    let (s, _) = e
        .app
        .get_json("/REST/dimona/v2/notices?employerId=935467", Some(&token))
        .await;
    assert_eq!(s, 403);
    // The mandate changes are in the audit log.
    let kinds = sqlx::query_scalar::<_, String>(
        "SELECT kind FROM audit_log WHERE kind LIKE 'mandate.%' ORDER BY seq",
    )
    .fetch_all(e.app.store.pool())
    .await
    .unwrap();
    assert_eq!(kinds, vec!["mandate.grant", "mandate.revoke"]);
}

#[tokio::test]
async fn a_worker_without_ssin_is_identified_by_name_and_birth_date_or_waits_with_s() {
    let e = employer().await;
    let by_identity = |family: &str, given: &str, birth: &str| {
        json!({"employer": {"employerId": 935467},
               "worker": {"familyName": family, "givenName": given, "birthDate": birth},
               "dimonaIn": {"startDate": "2026-12-01", "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}})
    };
    // In the register (case does not matter): identified, enriched, A.
    let b = declare(&e, &by_identity("PEETERS", "jan", "1993-05-18")).await;
    assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
    assert_eq!(b["worker"]["ssin"], P);
    assert!(b["declarationStatus"]["period"]["id"].is_i64());

    // Not in the register yet: S, no period.
    let b = declare(&e, &by_identity("Janssens", "Marie", "1990-02-03")).await;
    assert_eq!(b["declarationStatus"]["result"], "S", "{b}");
    assert!(b["declarationStatus"].get("period").is_none(), "{b}");
    let id = b["declarationId"].as_str().unwrap().to_owned();
    let (_, mb) = e
        .app
        .get_json("/REST/dimona/v2/notices", Some(&e.token))
        .await;
    let s_notice = mb["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["declarationId"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(s_notice["result"], "S");
    // The register learns the person: the declaration is processed again.
    e.app.add_person("90020312342", "Janssens", "Marie").await;
    let location = format!("/REST/dimona/v2/declarations/{id}");
    let mut last = Value::Null;
    for _ in 0..200 {
        let (s, b) = e.app.get_json(&location, Some(&e.token)).await;
        if s == 200 && b["declarationStatus"]["result"] == "A" {
            last = b;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["worker"]["ssin"], "90020312342", "{last}");
    assert!(last["declarationStatus"]["period"]["id"].is_i64());
    // A mailbox reader following the numbers gets a new notice: A.
    let after = s_notice["noticeId"].as_i64().unwrap();
    let (_, mb) = e
        .app
        .get_json(
            &format!("/REST/dimona/v2/notices?after={after}"),
            Some(&e.token),
        )
        .await;
    let results: Vec<&str> = mb["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["declarationId"] == id.as_str())
        .map(|n| n["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, vec!["A"]);

    // Incomplete identity: refused at the door, naming the field.
    let (s, v) = e
        .app
        .post_json(
            "/REST/dimona/v2/declarations",
            &e.token,
            &json!({"employer": {"employerId": 935467}, "worker": {"familyName": "X"},
                    "dimonaIn": {"startDate": "2026-12-01"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("worker.ssin")),
        "{v}"
    );
}

#[tokio::test]
async fn a_declaration_that_cannot_be_processed_is_refused_after_five_attempts() {
    let e = employer().await;
    // Stored as received, but unprocessable (a defect would look like this:
    // the door let through what processing cannot handle).
    e.app
        .store
        .insert_declarations(
            &[kruispunt_store::NewDeclaration {
                id: "900000000000001".into(),
                employer_id: 935467,
                declarant: "employer:935467".into(),
                kind: "IN".into(),
                ssin: None,
                body: r#"{"dimonaIn":{}}"#.into(),
            }],
            e.app.clock_now().millis(),
        )
        .await
        .unwrap();
    let location = "/REST/dimona/v2/declarations/900000000000001";
    let mut answer = (0, Value::Null);
    for _ in 0..40 {
        // Each attempt leases it for 30 s: let the lease expire.
        e.app.clock.advance_seconds(31);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        answer = e.app.get_json(location, Some(&e.token)).await;
        if answer.0 == 200 {
            break;
        }
    }
    let (s, b) = answer;
    assert_eq!(s, 200, "still queued: {b}");
    assert_eq!(b["declarationStatus"]["result"], "B");
    assert_eq!(anomaly_ids(&b), vec!["KP000-001"]);
    // And declarations behind it are processed as usual.
    let ok = declare(&e, &dimona_in("2026-12-01", "OTH", json!({}))).await;
    assert_eq!(ok["declarationStatus"]["result"], "A");
}

/// On SQLite a REST declaration is processed in the transaction that
/// stores it: its result is there as soon as the 201 is (on PostgreSQL the
/// worker processes it soon after).
#[tokio::test]
async fn on_sqlite_the_result_is_there_with_the_201() {
    let e = employer().await;
    let location = submit(
        &e,
        &dimona_in("2026-12-01", "OTH", json!({"endDate": "2026-12-01"})),
    )
    .await;
    let (s, b) = e.app.get_json(&location, Some(&e.token)).await;
    if e.app.store.backend() == kruispunt_store::Backend::Sqlite {
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
    } else {
        assert!(s == 200 || s == 404, "{s} {b}");
    }
    // Either way, a second IN for the same day is a duplicate.
    let again = declare(
        &e,
        &dimona_in("2026-12-01", "OTH", json!({"endDate": "2026-12-01"})),
    )
    .await;
    assert_eq!(anomaly_ids(&again), ["90373-333"], "{again}");
}

/// A declaration whose processing fails is still answered 201 and kept:
/// processed once the cause is gone (on SQLite this is the fallback from
/// processing on receipt to the worker's queue).
#[tokio::test]
async fn a_declaration_whose_processing_fails_is_kept_and_processed_later() {
    let e = employer().await;
    let pool = e.app.store.pool();
    let (notices,): (i64,) =
        sqlx::query_as("SELECT value FROM counters WHERE name = 'dimona_notice'")
            .fetch_one(pool)
            .await
            .unwrap();
    // A fault: notice numbers cannot be reserved, so every pass fails.
    sqlx::query("DELETE FROM counters WHERE name = 'dimona_notice'")
        .execute(pool)
        .await
        .unwrap();
    let location = submit(
        &e,
        &dimona_in("2026-12-01", "OTH", json!({"endDate": "2026-12-01"})),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (s, b) = e.app.get_json(&location, Some(&e.token)).await;
    assert_eq!(s, 404, "not processed while the fault lasts: {b}");

    sqlx::query("INSERT INTO counters (name, value) VALUES ('dimona_notice', $1)")
        .bind(notices)
        .execute(pool)
        .await
        .unwrap();
    let mut answer = (0, Value::Null);
    for _ in 0..40 {
        // A failed attempt waits 30 s before the next.
        e.app.clock.advance_seconds(31);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        answer = e.app.get_json(&location, Some(&e.token)).await;
        if answer.0 == 200 {
            break;
        }
    }
    let (s, b) = answer;
    assert_eq!(s, 200, "still queued: {b}");
    assert_eq!(b["declarationStatus"]["result"], "A", "{b}");
}
