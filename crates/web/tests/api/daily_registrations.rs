//! Dimona daily registrations (`DailyRegistrationDeclaration`, block 90480)
//! through the batch channel: created on a period an earlier file
//! declared, modified, cancelled; refused with the glossary's anomalies;
//! every NOTIFICATION valid against `NOTIFICATION_20223.xsd`.

use crate::batch::{Sender, assert_schema_valid, file, form, notification, put, results, sender};
use crate::portal;
use kruispunt_domain::ids::{DailyRegistrationId, DimonaPeriodId};
use serde_json::json;

const P: &str = "93051822361";

/// A `DailyRegistrationDeclaration` form with these zones, in schema order.
fn daily(zones: &[(&str, &str)]) -> String {
    let mut body = String::from("\t\t<DailyRegistrationDeclaration>\n");
    for (tag, value) in zones {
        body.push_str(&format!("\t\t\t<{tag}>{value}</{tag}>\n"));
    }
    body.push_str("\t\t</DailyRegistrationDeclaration>\n");
    form(&body)
}

/// An IN for an occasional horeca worker (EXT, joint committee 302) from
/// 2026-12-05 18:00 to 2026-12-06 02:00.
fn horeca_in() -> String {
    form(&format!(
        "\t\t<DimonaIn>\n\t\t\t<StartingDate>2026-12-05</StartingDate>\n\t\t\t<StartingHour>1800</StartingHour>\n\t\t\t<EndingDate>2026-12-06</EndingDate>\n\t\t\t<EndingHour>0200</EndingHour>\n\t\t\t<EmployerId><NOSSRegistrationNbr>935467</NOSSRegistrationNbr></EmployerId>\n\t\t\t<NaturalPerson><INSS>{P}</INSS></NaturalPerson>\n\t\t\t<DimonaFeatures><JointCommissionNbr>302</JointCommissionNbr><WorkerType>EXT</WorkerType></DimonaFeatures>\n\t\t</DimonaIn>\n"
    ))
}

/// The text of every `<tag>` in `xml`, in order.
fn all(xml: &str, tag: &str) -> Vec<String> {
    xml.split(&format!("<{tag}>"))
        .skip(1)
        .map(|s| s.split('<').next().unwrap_or_default().to_owned())
        .collect()
}

/// Sends a file, checks the ACRF, and returns its schema-valid
/// NOTIFICATION.
async fn send(s: &Sender, name: &str, forms: &[String]) -> String {
    let (status, _, acrf) = put(s, name, &file(forms)).await;
    assert_eq!(status, 202, "{acrf}");
    assert_schema_valid(&acrf, "ACRF_20231.xsd");
    let n = notification(s, name).await;
    assert_schema_valid(&n, "NOTIFICATION_20223.xsd");
    n
}

fn expect(n: &str, expected: &[(&str, &[&str])]) {
    let got = results(n);
    let want: Vec<(String, Vec<String>)> = expected
        .iter()
        .map(|(c, ids)| {
            (
                (*c).to_owned(),
                ids.iter().map(|i| (*i).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(got, want, "{n}");
}

/// The period of the horeca worker, declared by a first file.
async fn with_period(s: &Sender) -> String {
    let n = send(s, "FI.DIMONA.935467.20261130.00001.R.1.1", &[horeca_in()]).await;
    expect(&n, &[("1", &[])]);
    let pid = all(&n, "DimonaPeriodId");
    assert_eq!(pid.len(), 1, "{n}");
    pid[0].clone()
}

#[tokio::test]
async fn a_daily_registration_is_created_modified_and_cancelled_once() {
    let s = sender().await;
    let pid = with_period(&s).await;

    // Created on the period: ResultCode 1 and the new registration's id.
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00002.R.1.1",
        &[daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-05"),
            ("StartingHour", "1800"),
            ("EndingDate", "2026-12-06"),
            ("EndingHour", "0200"),
        ])],
    )
    .await;
    expect(&n, &[("1", &[])]);
    assert!(n.contains("<DailyRegistrationDclImpactReport>"), "{n}");
    // The form names no worker: the NOTIFICATION says whom it was about.
    assert_eq!(all(&n, "INSS"), vec![P.to_owned()], "{n}");
    assert!(!n.contains("<DimonaImpactReport>"), "{n}");
    let rid = all(&n, "DailyRegistrationId");
    assert_eq!(rid.len(), 1, "{n}");
    let rid = rid[0].clone();
    let parsed = DailyRegistrationId::parse(&rid).expect("a valid registration id");
    assert!(
        DimonaPeriodId::parse(&rid).is_ok(),
        "the period ids' check digits"
    );
    assert_ne!(rid, pid);
    assert!(parsed.value() >= 500_000_000_000, "its own range: {rid}");
    assert_eq!(all(&n, "DimonaPeriodId"), vec![pid.clone()]);
    assert!(
        n.contains("<DailyRegistrationAfter>\n\t\t\t\t\t\t<StartingDate>2026-12-05</StartingDate>\n\t\t\t\t\t\t<StartingHour>1800</StartingHour>"),
        "{n}"
    );
    assert!(!n.contains("<DailyRegistrationBefore>"), "{n}");

    // The declaration, its notice and its audit entry.
    let declaration = all(&n, "ReferenceNbr")
        .into_iter()
        .last()
        .expect("the handled reference");
    let (st, d) = s
        .app
        .get_json(
            &format!("/REST/dimona/v2/declarations/{declaration}"),
            Some(&s.token),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["declarationStatus"]["result"], "A", "{d}");
    assert_eq!(
        d["declarationStatus"]["dailyRegistration"]["id"].as_u64(),
        Some(parsed.value()),
        "{d}"
    );
    assert_eq!(d["worker"]["ssin"], P, "{d}");
    let (st, notices) = s
        .app
        .get_json("/REST/dimona/v2/notices", Some(&s.token))
        .await;
    assert_eq!(st, 200, "{notices}");
    let daily_notice = notices["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["declarationType"] == "DAILY"))
        .cloned()
        .expect("a notice for the daily registration");
    assert_eq!(
        daily_notice["dailyRegistration"]["id"].as_u64(),
        Some(parsed.value())
    );
    assert_eq!(daily_notice["result"], "A");
    let kinds = sqlx::query_scalar::<_, String>(
        "SELECT kind FROM audit_log WHERE kind LIKE 'dimona.%' ORDER BY seq",
    )
    .fetch_all(s.app.store.pool())
    .await
    .unwrap();
    assert_eq!(kinds, vec!["dimona.in", "dimona.daily"]);

    // The personnel file lists it with its period.
    let (st, pf) = s
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&s.token))
        .await;
    assert_eq!(st, 200, "{pf}");
    assert_eq!(
        pf["items"][0]["dailyRegistrations"],
        json!([{"id": parsed.value(), "startDate": "2026-12-05", "startHour": "1800",
                "endDate": "2026-12-06", "endHour": "0200", "status": "active"}]),
        "{pf}"
    );

    // Modified (the end hour), and a modify naming the period is refused.
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00003.R.1.1",
        &[
            daily(&[
                ("AttestationStatus", "1"),
                ("DailyRegistrationId", &rid),
                ("EndingHour", "0300"),
            ]),
            daily(&[
                ("AttestationStatus", "1"),
                ("DailyRegistrationId", &rid),
                ("DimonaPeriodId", &pid),
                ("EndingHour", "0400"),
            ]),
        ],
    )
    .await;
    expect(&n, &[("1", &[]), ("0", &["00913-005"])]);
    assert!(n.contains("<DailyRegistrationBefore>"), "{n}");
    assert_eq!(
        all(&n, "EndingHour"),
        vec!["0200", "0300"],
        "before, after: {n}"
    );
    assert!(
        n.contains("<AttestationStatus>1</AttestationStatus>\n\t\t\t\t\t<DimonaPeriodId>"),
        "{n}"
    );

    // Cancelled; a second cancel in the same file sees the first one.
    let cancel = daily(&[("AttestationStatus", "3"), ("DailyRegistrationId", &rid)]);
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00004.R.1.1",
        &[cancel.clone(), cancel.clone()],
    )
    .await;
    expect(&n, &[("1", &[]), ("0", &["01085-355"])]);
    assert!(!n.contains("<DailyRegistrationAfter>"), "{n}");
    assert!(
        n.contains("<AttestationStatus>3</AttestationStatus>"),
        "{n}"
    );
    let (_, pf) = s
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&s.token))
        .await;
    assert_eq!(
        pf["items"][0]["dailyRegistrations"][0]["status"], "cancelled",
        "{pf}"
    );
    assert_eq!(
        pf["items"][0]["dailyRegistrations"][0]["endHour"], "0300",
        "{pf}"
    );
    // And in a later file, still refused.
    let n = send(&s, "FI.DIMONA.935467.20261130.00005.R.1.1", &[cancel]).await;
    expect(&n, &[("0", &["01085-355"])]);
    assert!(
        n.contains("Reeds geannuleerde") || n.contains("déjà annulé"),
        "{n}"
    );
}

#[tokio::test]
async fn cancelling_the_period_cancels_its_daily_registrations() {
    let s = sender().await;
    let pid = with_period(&s).await;
    let create = |start: &str, end: &str| {
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", start),
            ("StartingHour", "1800"),
            ("EndingDate", end),
        ])
    };
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00031.R.1.1",
        &[create("2026-12-05", "2026-12-05")],
    )
    .await;
    expect(&n, &[("1", &[])]);
    let first = all(&n, "DailyRegistrationId")[0].clone();
    // In one file: a second registration, then the period's cancellation.
    let cancel = form(&format!(
        "\t\t<DimonaCancel>\n\t\t\t<DimonaPeriodId>{pid}</DimonaPeriodId>\n\t\t</DimonaCancel>\n"
    ));
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00032.R.1.1",
        &[create("2026-12-06", "2026-12-06"), cancel],
    )
    .await;
    expect(&n, &[("1", &[]), ("1", &[])]);
    let (st, pf) = s
        .app
        .get_json("/REST/dimona/v2/periods?employerId=935467", Some(&s.token))
        .await;
    assert_eq!(st, 200, "{pf}");
    let statuses: Vec<&str> = pf["items"][0]["dailyRegistrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["cancelled", "cancelled"], "{pf}");
    // The portal's personnel file shows them, struck through.
    let employer =
        kruispunt_domain::principal::Principal::parse_subject("employer:935467").unwrap();
    portal::add_user(&s.app, "horeca@example.be", &employer).await;
    let http = portal::client();
    let csrf = portal::login_form(&s.app, &http).await;
    let res = portal::login(&s.app, &http, &csrf, "horeca@example.be", portal::PASSWORD).await;
    let session = portal::cookie_value(&portal::set_cookie(&res, "kp_session").unwrap());
    let page = http
        .get(s.app.url("/employer/personnel-file?lang=en"))
        .header("cookie", format!("kp_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Daily registrations"), "{page}");
    assert!(
        page.contains("<li><s>05&#x2f;12&#x2f;2026 1800</s> <span class=\"tag tag-period-cancelled\">Cancelled</span></li>"),
        "{page}"
    );
    assert_eq!(page.matches("<s>").count(), 2, "{page}");
    // Cancelled with the period: a later cancel of one is refused as such.
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00033.R.1.1",
        &[daily(&[
            ("AttestationStatus", "3"),
            ("DailyRegistrationId", &first),
        ])],
    )
    .await;
    expect(&n, &[("0", &["01085-355"])]);
}

#[tokio::test]
async fn daily_registrations_are_refused_with_the_glossary_anomalies() {
    let s = sender().await;
    let pid = with_period(&s).await;
    let unknown = DimonaPeriodId::from_sequence(1_000_000_999)
        .unwrap()
        .to_string();
    let unknown_registration = DailyRegistrationId::from_counter(999).unwrap().to_string();
    let forms = [
        // An unknown period.
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &unknown),
            ("StartingDate", "2026-12-05"),
            ("StartingHour", "1800"),
            ("EndingDate", "2026-12-05"),
        ]),
        // A day outside the period (2026-12-05 .. 2026-12-06).
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-08"),
            ("StartingHour", "1800"),
            ("EndingDate", "2026-12-08"),
        ]),
        // No start hour.
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-05"),
            ("EndingDate", "2026-12-05"),
        ]),
        // No end date (mandatory for a create, glossary 00911).
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-05"),
            ("StartingHour", "1800"),
        ]),
        // A registration id on a create.
        daily(&[
            ("AttestationStatus", "0"),
            ("DailyRegistrationId", &unknown_registration),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-05"),
            ("StartingHour", "1800"),
            ("EndingDate", "2026-12-05"),
        ]),
        // Modify and cancel of an unknown registration; a modify without id.
        daily(&[
            ("AttestationStatus", "1"),
            ("DailyRegistrationId", &unknown_registration),
            ("EndingHour", "2300"),
        ]),
        daily(&[
            ("AttestationStatus", "3"),
            ("DailyRegistrationId", &unknown_registration),
        ]),
        daily(&[("AttestationStatus", "1"), ("EndingHour", "2300")]),
        // Forbidden on a cancel; a period id on a modify.
        daily(&[
            ("AttestationStatus", "3"),
            ("DailyRegistrationId", &unknown_registration),
            ("StartingDate", "2026-12-05"),
        ]),
        daily(&[
            ("AttestationStatus", "1"),
            ("DailyRegistrationId", &unknown_registration),
            ("DimonaPeriodId", &pid),
        ]),
        // The end before the start; the end hour before the start hour.
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-06"),
            ("StartingHour", "1800"),
            ("EndingDate", "2026-12-05"),
        ]),
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", "2026-12-05"),
            ("StartingHour", "2200"),
            ("EndingDate", "2026-12-05"),
            ("EndingHour", "2100"),
        ]),
        // A registration id with wrong check digits: refused at the door,
        // pointing at its zone and line.
        daily(&[
            ("AttestationStatus", "3"),
            ("DailyRegistrationId", "123456789000"),
        ]),
    ];
    let bad_id_line = file(&forms)
        .lines()
        .position(|l| l.contains("<DailyRegistrationId>123456789000<"))
        .map(|i| i + 1)
        .unwrap();
    let n = send(&s, "FI.DIMONA.935467.20261130.00012.R.1.1", &forms).await;
    expect(
        &n,
        &[
            ("0", &["00913-354"]),
            ("0", &["00913-462"]),
            ("0", &["00777-001"]),
            ("0", &["00911-001"]),
            ("0", &["01085-005"]),
            ("0", &["01085-354"]),
            ("0", &["01085-354"]),
            ("0", &["01085-001"]),
            ("0", &["00910-005"]),
            ("0", &["00913-005"]),
            ("0", &["00911-014"]),
            ("0", &["00778-345"]),
            ("0", &["01085-003"]),
        ],
    );
    // Labels from the catalogue; the outside day points at its period id.
    assert!(
        n.contains("Incompatibilité entre l&apos;enregistrement journalier")
            || n.contains("Incompatibilité entre l'enregistrement journalier"),
        "{n}"
    );
    assert!(n.contains("<TagName>DailyRegistrationId</TagName>"), "{n}");
    assert!(!n.contains("<DailyRegistrationDclImpactReport>"), "{n}");
    // The door refusal points at the zone and line of the bad id.
    let last = n.rsplit("<HandlingResult>").next().unwrap();
    assert!(last.contains("<ErrorID>01085-003</ErrorID>"), "{last}");
    assert!(
        last.contains("<TagName>DailyRegistrationId</TagName>"),
        "{last}"
    );
    assert!(
        last.contains(&format!("<LineNbr>{bad_id_line}</LineNbr>")),
        "line {bad_id_line}: {last}"
    );
}

/// Shifts on one period may not overlap (90480-334, also with one created
/// earlier in the same file), last more than 24 hours (90480-260), or be
/// "modified" into what they already are (90480-444).
#[tokio::test]
async fn overlapping_too_long_and_unchanged_registrations_are_refused() {
    let s = sender().await;
    let pid = with_period(&s).await;
    let create = |start: &str, sh: &str, end: &str, eh: &str| {
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", start),
            ("StartingHour", sh),
            ("EndingDate", end),
            ("EndingHour", eh),
        ])
    };
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00021.R.1.1",
        &[
            create("2026-12-05", "1800", "2026-12-05", "2300"),
            // Starts before the first one ends.
            create("2026-12-05", "2200", "2026-12-06", "0100"),
            // 25 hours.
            create("2026-12-06", "0300", "2026-12-07", "0400"),
            // Right after the first one: fine.
            create("2026-12-05", "2300", "2026-12-06", "0200"),
        ],
    )
    .await;
    expect(
        &n,
        &[
            ("1", &[]),
            ("0", &["90480-334"]),
            ("0", &["90480-260"]),
            ("1", &[]),
        ],
    );
    assert!(
        n.contains("Chevauchement avec un autre enregistrement journalier"),
        "{n}"
    );
    let first = all(&n, "DailyRegistrationId")[0].clone();

    let modify = |eh: &str| {
        daily(&[
            ("AttestationStatus", "1"),
            ("DailyRegistrationId", &first),
            ("EndingHour", eh),
        ])
    };
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00022.R.1.1",
        // The same end hour; one that runs into the next shift; an earlier
        // one (its own old hours do not count as an overlap).
        &[modify("2300"), modify("2330"), modify("2200")],
    )
    .await;
    expect(
        &n,
        &[("0", &["90480-444"]), ("0", &["90480-334"]), ("1", &[])],
    );
}

/// An OUT or UPDATE may not leave a registered day outside the period
/// (00910-462 for the start, 00911-462 for the end).
#[tokio::test]
async fn a_period_cannot_be_moved_away_from_its_registered_days() {
    let s = sender().await;
    let pid = with_period(&s).await;
    let create = |day: &str, sh: &str, eh: &str| {
        daily(&[
            ("AttestationStatus", "0"),
            ("DimonaPeriodId", &pid),
            ("StartingDate", day),
            ("StartingHour", sh),
            ("EndingDate", day),
            ("EndingHour", eh),
        ])
    };
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00031.R.1.1",
        &[
            create("2026-12-05", "1800", "2300"),
            create("2026-12-06", "0000", "0200"),
        ],
    )
    .await;
    expect(&n, &[("1", &[]), ("1", &[])]);
    let registered = all(&n, "DailyRegistrationId");
    assert_eq!(registered.len(), 2, "{n}");
    let update = |zones: &str| {
        form(&format!(
            "\t\t<DimonaUpdate>\n\t\t\t<DimonaPeriodId>{pid}</DimonaPeriodId>\n{zones}\t\t</DimonaUpdate>\n"
        ))
    };
    let out = || {
        form(&format!(
            "\t\t<DimonaOut>\n\t\t\t<DimonaPeriodId>{pid}</DimonaPeriodId>\n\t\t\t<EndingDate>2026-12-05</EndingDate>\n\t\t</DimonaOut>\n"
        ))
    };
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00032.R.1.1",
        &[
            update("\t\t\t<StartingDate>2026-12-06</StartingDate>\n\t\t\t<StartingHour>0000</StartingHour>\n"),
            update("\t\t\t<EndingDate>2026-12-05</EndingDate>\n\t\t\t<EndingHour>2359</EndingHour>\n"),
            out(),
        ],
    )
    .await;
    expect(
        &n,
        &[
            ("0", &["00910-462"]),
            ("0", &["00911-462"]),
            ("0", &["00911-462"]),
        ],
    );
    // Once the late day is cancelled, the period may end on the first day.
    let n = send(
        &s,
        "FI.DIMONA.935467.20261130.00033.R.1.1",
        &[
            daily(&[
                ("AttestationStatus", "3"),
                ("DailyRegistrationId", &registered[1]),
            ]),
            out(),
        ],
    )
    .await;
    expect(&n, &[("1", &[]), ("1", &[])]);
}

#[tokio::test]
async fn an_unknown_attestation_status_refuses_the_file_with_00110_003() {
    let s = sender().await;
    let xml = file(&[daily(&[
        ("AttestationStatus", "2"),
        ("DailyRegistrationId", "500000000073"),
    ])]);
    let (status, _, acrf) = put(&s, "FI.DIMONA.935467.20261130.00021.R.1.1", &xml).await;
    assert_eq!(status, 400, "{acrf}");
    assert_schema_valid(&acrf, "ACRF_20231.xsd");
    assert!(acrf.contains("<ErrorID>00110-003</ErrorID>"), "{acrf}");
    // Located at the block's AttestationStatus (line 10; the form's is on 7).
    let line = xml
        .lines()
        .position(|l| l.contains("<AttestationStatus>2<"))
        .map(|i| i + 1);
    assert_eq!(line, Some(10));
    assert!(acrf.contains("00110-003 line 10,"), "{acrf}");
}

#[tokio::test]
async fn the_rest_api_refuses_daily_registrations_naming_the_field() {
    let s = sender().await;
    let (st, body) = s
        .app
        .post_json(
            "/REST/dimona/v2/declarations",
            &s.token,
            &json!({"employer": {"employerId": 935467},
                    "dailyRegistration": {"attestationStatus": "0", "periodId": "100000000034",
                                          "startDate": "2026-12-05", "startHour": "1800"}}),
        )
        .await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["error"]["field"], "dailyRegistration", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("batch")),
        "{body}"
    );
}
