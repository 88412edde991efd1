//! The batch channel end to end: files in, ACRF and NOTIFICATION out, both
//! checked against the official schemas with xmllint when it is installed
//! (`.ci/run` installs it and sets KRUISPUNT_REQUIRE_XMLLINT).

use crate::helpers::TestApp;
use kruispunt_domain::principal::Principal;
use std::path::PathBuf;

const P: &str = "93051822361";

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/onss")
}

/// Validates `xml` against one of the official Dimona schemas.
pub(crate) fn assert_schema_valid(xml: &str, schema: &str) {
    let xsd = shared().join("schemas/Dimona").join(schema);
    let have_xmllint = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if !have_xmllint || !xsd.exists() {
        assert!(
            std::env::var_os("KRUISPUNT_REQUIRE_XMLLINT").is_none(),
            "xmllint and {} are required",
            xsd.display()
        );
        eprintln!("skipping schema validation: no xmllint or no {schema}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kp-xml-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{schema} rejects the document:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) struct Sender {
    pub(crate) app: TestApp,
    pub(crate) token: String,
}

pub(crate) async fn sender() -> Sender {
    let app = TestApp::spawn().await;
    app.add_person(P, "Peeters", "Jan").await;
    let e = app.add_employer("0009354-67", "0403.170.701").await;
    let token = app.token_for(&e, 3600);
    Sender { app, token }
}

pub(crate) async fn put(s: &Sender, name: &str, body: &str) -> (u16, String, String) {
    let res = s
        .app
        .http
        .put(s.app.url(&format!("/batch/v1/files/{name}")))
        .bearer_auth(&s.token)
        .header("content-type", "application/xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, res.text().await.unwrap())
}

/// Polls the NOTIFICATION (404 while processing).
pub(crate) async fn notification(s: &Sender, name: &str) -> String {
    for _ in 0..200 {
        let res = s
            .app
            .http
            .get(s.app.url(&format!("/batch/v1/files/{name}/notification")))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        if status == 200 {
            return text;
        }
        assert_eq!(status, 404, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no notification in time");
}

pub(crate) fn form(body: &str) -> String {
    format!(
        "\t<Form>\n\t\t<Identification>DIMONA</Identification>\n\t\t<FormCreationDate>2026-11-29</FormCreationDate>\n\t\t<FormCreationHour>10:00:00.000</FormCreationHour>\n\t\t<AttestationStatus>0</AttestationStatus>\n\t\t<TypeForm>SU</TypeForm>\n{body}\t</Form>\n"
    )
}

pub(crate) fn file(forms: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Dimona xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"Dimona_20231.xsd\">\n{}</Dimona>\n",
        forms.concat()
    )
}

pub(crate) fn dimona_in(employer: &str, inss: &str, start: &str) -> String {
    form(&format!(
        "\t\t<DimonaIn>\n\t\t\t<StartingDate>{start}</StartingDate>\n\t\t\t<EmployerId><NOSSRegistrationNbr>{employer}</NOSSRegistrationNbr></EmployerId>\n\t\t\t<NaturalPerson><INSS>{inss}</INSS></NaturalPerson>\n\t\t\t<DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>OTH</WorkerType></DimonaFeatures>\n\t\t</DimonaIn>\n"
    ))
}

/// The `HandlingResult` blocks of a NOTIFICATION, in order: (ResultCode,
/// error ids).
pub(crate) fn results(notification: &str) -> Vec<(String, Vec<String>)> {
    notification
        .split("<HandlingResult>")
        .skip(1)
        .map(|block| {
            let block = block.split("</HandlingResult>").next().unwrap();
            let code = block
                .split("<ResultCode>")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap()
                .to_owned();
            let ids = block
                .split("<ErrorID>")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().to_owned())
                .collect();
            (code, ids)
        })
        .collect()
}

#[tokio::test]
async fn the_published_examples_are_acknowledged_and_notified_with_valid_documents() {
    let s = sender().await;
    // The examples declare for employer 175110801.
    let e = s.app.add_employer("175110801", "0403.199.702").await;
    let s = Sender {
        token: s.app.token_for(&e, 3600),
        app: s.app,
    };
    let examples = shared().join("examples");
    let mut seen = 0;
    for v in ["20222", "20223", "20224", "20231"] {
        let Ok(xml) = std::fs::read_to_string(examples.join(format!("Dimona_{v}_1.xml"))) else {
            continue;
        };
        seen += 1;
        let name = format!("FI.DIMONA.175110801.{v}.00001.R.1.1");
        let (status, ct, acrf) = put(&s, &name, &xml).await;
        assert_eq!(status, 202, "{acrf}");
        assert!(ct.starts_with("application/xml"), "{ct}");
        assert!(acrf.contains("<ResultCode>1</ResultCode>"), "{acrf}");
        assert!(acrf.contains(&format!("<FileName>{name}</FileName>")));
        assert_schema_valid(&acrf, "ACRF_20231.xsd");
        let n = notification(&s, &name).await;
        assert_schema_valid(&n, "NOTIFICATION_20223.xsd");
        // One form: the example's worker (a bis number) is not in this
        // register, so the form is refused as not identifiable, or at the
        // door if its number does not check.
        let r = results(&n);
        assert_eq!(r.len(), 1, "{n}");
        assert!(
            n.contains("<Identification>DIMONA</Identification>"),
            "echoes the form: {n}"
        );
        assert!(
            n.contains("<ReferenceNbr>string</ReferenceNbr>"),
            "echoes the sender's reference: {n}"
        );
    }
    if std::env::var_os("KRUISPUNT_REQUIRE_XMLLINT").is_some() {
        assert_eq!(seen, 4, "the four published Dimona examples are read");
    }
}

#[tokio::test]
async fn a_file_of_several_forms_gets_one_result_per_form_in_file_order() {
    let s = sender().await;
    s.app.add_employer("0009355-64", "0403.199.702").await;
    let bad_inss = "93051822362";
    let xml = file(&[
        dimona_in("935467", P, "2026-12-01"),
        dimona_in("935467", bad_inss, "2026-12-01"),
        dimona_in("935564", P, "2026-12-01"),
        form(
            "\t\t<DimonaCancel>\n\t\t\t<DimonaPeriodId>100000000034</DimonaPeriodId>\n\t\t</DimonaCancel>\n",
        ),
        form(
            "\t\t<DailyRegistrationDeclaration>\n\t\t\t<AttestationStatus>0</AttestationStatus>\n\t\t</DailyRegistrationDeclaration>\n",
        ),
    ]);
    let (status, _, acrf) = put(&s, "FI.DIMONA.935467.20261129.00001.R.1.1", &xml).await;
    assert_eq!(status, 202, "{acrf}");
    assert_schema_valid(&acrf, "ACRF_20231.xsd");
    let n = notification(&s, "FI.DIMONA.935467.20261129.00001.R.1.1").await;
    assert_schema_valid(&n, "NOTIFICATION_20223.xsd");
    let r = results(&n);
    let ids: Vec<(&str, Vec<&str>)> = r
        .iter()
        .map(|(c, ids)| (c.as_str(), ids.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("1", vec![]),
            ("0", vec!["00024-003"]),
            ("0", vec!["90256-155"]),
            ("0", vec!["00913-354"]),
            // A daily registration creation that names nothing (see
            // daily_registrations.rs for the rest).
            (
                "0",
                vec!["00913-001", "00910-001", "00777-001", "00911-001"]
            ),
        ],
        "{n}"
    );
    // The refused INSS is located in the file: form 2's INSS is on line 25.
    assert!(n.contains("<TagName>INSS</TagName>"), "{n}");
    assert!(n.contains("<LineNbr>25</LineNbr>"), "{n}");
    // The accepted form created a period, in the personnel file too.
    let pid = n
        .split("<DimonaPeriodId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let (st, pf) = s
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&s.token))
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        pf["items"][0]["periodId"].as_i64(),
        pid.parse::<i64>().ok(),
        "{pf}"
    );
    assert!(n.contains("<EmployerId>\n\t\t\t<NOSSRegistrationNbr>935467</NOSSRegistrationNbr>\n\t\t\t<CompanyID>0403170701</CompanyID>"), "{n}");
}

#[tokio::test]
async fn the_same_file_name_twice_is_409() {
    let s = sender().await;
    let xml = file(&[dimona_in("935467", P, "2026-12-01")]);
    let (status, _, _) = put(&s, "FI.DIMONA.935467.20261129.00002.R.1.1", &xml).await;
    assert_eq!(status, 202);
    let (status, ct, body) = put(&s, "FI.DIMONA.935467.20261129.00002.R.1.1", &xml).await;
    assert_eq!(status, 409, "{body}");
    assert!(ct.starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["field"], "fileName");
    assert!(v["requestId"].is_string());
}

#[tokio::test]
async fn malformed_and_schema_invalid_files_get_a_negative_acrf_with_lines() {
    let s = sender().await;
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "malformed",
            "<Dimona>\n<Form>\n<Identification>DIMONA</Identification>\n</Dimona>\n".into(),
            "90372-003",
            "line 4",
        ),
        (
            "bad-date",
            file(&[dimona_in("935467", P, "2026-13-01")]),
            "00910-003",
            "line 10, column 4",
        ),
        (
            "missing-person",
            file(&[form("\t\t<DimonaIn>\n\t\t\t<StartingDate>2026-12-01</StartingDate>\n\t\t</DimonaIn>\n")]),
            "90017-001",
            "line 11",
        ),
        (
            "xxe",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE Dimona [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<Dimona>&x;</Dimona>".into(),
            "90372-005",
            "line 2",
        ),
        ("empty", String::new(), "90372-001", "line 1"),
        ("binary", "\u{0}\u{1}garbage<<<>>>".into(), "90372-", "line 1"),
    ];
    for (name, xml, id, line) in cases {
        let (status, ct, acrf) = put(&s, &format!("bad.{name}"), &xml).await;
        assert_eq!(status, 400, "{name}: {acrf}");
        assert!(ct.starts_with("application/xml"), "{name}: {ct}");
        assert!(
            acrf.contains("<ResultCode>0</ResultCode>"),
            "{name}: {acrf}"
        );
        assert!(acrf.contains(&format!("<ErrorID>{id}")), "{name}: {acrf}");
        assert!(acrf.contains(line), "{name} names {line}: {acrf}");
        assert_schema_valid(&acrf, "ACRF_20231.xsd");
        // Nothing was kept: the name can be used again once corrected.
        let (st, _) = s
            .app
            .get_json(
                &format!("/batch/v1/files/bad.{name}/notification"),
                Some(&s.token),
            )
            .await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn only_employers_send_files_and_only_the_sender_reads_the_answer() {
    let s = sender().await;
    let xml = file(&[dimona_in("935467", P, "2026-12-01")]);
    let cpas = s.app.add_institution("CPAS-LIEGE", 30).await;
    let res = s
        .app
        .http
        .put(s.app.url("/batch/v1/files/FI.X"))
        .bearer_auth(s.app.token_for(&cpas, 60))
        .body(xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = s
        .app
        .http
        .put(s.app.url("/batch/v1/files/FI.X"))
        .body(xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (status, _, body) = put(&s, "bad%2Fname", &xml).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("fileName"), "{body}");

    let (status, _, _) = put(&s, "FI.MINE", &xml).await;
    assert_eq!(status, 202);
    notification(&s, "FI.MINE").await;
    let other = s.app.add_employer("0009355-64", "0403.199.702").await;
    let (st, _) = s
        .app
        .get_json(
            "/batch/v1/files/FI.MINE/notification",
            Some(&s.app.token_for(&other, 60)),
        )
        .await;
    assert_eq!(st, 404, "another employer does not see the file");
    let (st, _) = s
        .app
        .get_json(
            "/batch/v1/files/FI.MINE/notification",
            Some(&s.app.token_for(&Principal::Operator, 60)),
        )
        .await;
    assert_eq!(st, 200, "operators do");
}

#[tokio::test]
async fn a_provider_declares_in_batch_for_the_employers_that_mandate_it() {
    let s = sender().await;
    let provider = s.app.add_employer("0009355-64", "0403.199.702").await;
    let Principal::Employer(provider_id) = provider else {
        unreachable!()
    };
    let employer = kruispunt_domain::ids::EmployerId::parse("935467").unwrap();
    let p = Sender {
        token: s.app.token_for(&provider, 3600),
        app: s.app,
    };
    let xml = file(&[dimona_in("935467", P, "2026-12-01")]);
    let (status, _, _) = put(&p, "FI.PROV.1", &xml).await;
    assert_eq!(status, 202);
    let r = results(&notification(&p, "FI.PROV.1").await);
    assert_eq!(r, vec![("0".to_owned(), vec!["90256-155".to_owned()])]);

    p.app
        .state
        .dimona()
        .grant_mandate(employer, provider_id, "test")
        .await
        .unwrap();
    let (status, _, _) = put(&p, "FI.PROV.2", &xml).await;
    assert_eq!(status, 202);
    let r = results(&notification(&p, "FI.PROV.2").await);
    assert_eq!(r, vec![("1".to_owned(), vec![])]);
}

#[tokio::test]
async fn forms_of_one_file_see_each_others_periods() {
    // One file is processed in one pass: the second IN for the same
    // worker-day must be judged against the period the first one created
    // in that same pass, exactly as if they had arrived apart.
    let s = sender().await;
    let xml = file(&[
        dimona_in("935467", P, "2026-12-02"),
        dimona_in("935467", P, "2026-12-02"),
        dimona_in("935467", P, "2026-12-03"),
    ]);
    let name = "FI.DIMONA.935467.20261129.00007.R.1.1";
    let (status, _, acrf) = put(&s, name, &xml).await;
    assert_eq!(status, 202, "{acrf}");
    let n = notification(&s, name).await;
    let r = results(&n);
    let ids: Vec<(&str, Vec<&str>)> = r
        .iter()
        .map(|(c, ids)| (c.as_str(), ids.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("1", vec![]),
            ("0", vec!["90373-333"]),
            // The first period has no end: a start the next day overlaps it.
            ("0", vec!["90373-334"]),
        ],
        "{n}"
    );
    let (st, pf) = s
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&s.token))
        .await;
    assert_eq!(st, 200);
    let starts: Vec<&str> = pf["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["startDate"].as_str())
        .collect();
    assert_eq!(starts, vec!["2026-12-02"], "{pf}");
}
