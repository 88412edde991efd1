//! The HTML portal: language negotiation, CSRF, sign-in lockout, access by
//! kind of account. (The full journeys run in a real browser:
//! tests/browser.)

use crate::helpers::TestApp;
use kruispunt_domain::clock::Clock;
use kruispunt_domain::principal::Principal;
use kruispunt_security::system::SystemEntropy;
use kruispunt_store::UserRow;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub(crate) fn cookie_value(header: &str) -> String {
    header
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

fn html_lang(body: &str) -> &str {
    body.split("<html lang=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
}

pub(crate) async fn add_user(app: &TestApp, email: &str, p: &Principal) {
    let hash = kruispunt_security::password::hash(PASSWORD, &SystemEntropy).unwrap();
    app.store
        .insert_user(
            &UserRow {
                id: format!("usr-{email}"),
                email: email.into(),
                password_hash: hash,
                principal: p.subject(),
                failed_logins: 0,
                locked_until: None,
            },
            app.clock.now(),
        )
        .await
        .unwrap();
}

/// The anonymous CSRF cookie and token of a fresh sign-in form.
pub(crate) async fn login_form(app: &TestApp, http: &reqwest::Client) -> String {
    let res = http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let c = set_cookie(&res, "kp_csrf").expect("a CSRF cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    let token = cookie_value(&c);
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("name=\"csrf\" value=\"{token}\"")));
    token
}

pub(crate) async fn login(
    app: &TestApp,
    http: &reqwest::Client,
    csrf: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(app.url("/login"))
        .header("cookie", format!("kp_csrf={csrf}"))
        .form(&[("email", email), ("password", password), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn language_from_query_then_cookie_then_accept_language_else_french() {
    let app = TestApp::spawn().await;
    let http = client();
    let get = |path: &str, headers: Vec<(&'static str, &'static str)>| {
        let mut r = http.get(app.url(path));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let res = get("/", vec![]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(html_lang(&res.text().await.unwrap()), "fr");

    let res = get("/", vec![("accept-language", "es, nl-BE;q=0.8, en;q=0.5")])
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert_eq!(html_lang(&body), "nl");
    assert!(body.contains("Aanmelden"));

    let res = get("/faq?lang=de", vec![("accept-language", "nl")])
        .await
        .unwrap();
    let c = set_cookie(&res, "kp_lang").expect("the choice is remembered");
    assert!(c.starts_with("kp_lang=de;"), "{c}");
    assert_eq!(html_lang(&res.text().await.unwrap()), "de");

    let res = get(
        "/statistics",
        vec![("cookie", "kp_lang=en"), ("accept-language", "nl")],
    )
    .await
    .unwrap();
    assert_eq!(html_lang(&res.text().await.unwrap()), "en");

    // Unknown values fall through to the next source.
    let res = get("/?lang=xx", vec![("accept-language", "de-BE")])
        .await
        .unwrap();
    assert_eq!(html_lang(&res.text().await.unwrap()), "de");

    // Every public page renders in every language.
    for lang in ["fr", "nl", "de", "en"] {
        for path in ["/", "/authorizations", "/statistics", "/faq", "/login"] {
            let res = get(&format!("{path}?lang={lang}"), vec![]).await.unwrap();
            assert_eq!(res.status(), 200, "{path} {lang}");
            assert_eq!(html_lang(&res.text().await.unwrap()), lang, "{path}");
        }
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let employer = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &employer).await;
    let http = client();
    // No token at all.
    let res = http
        .post(app.url("/login"))
        .form(&[("email", "boss@example.be"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // A token that is not the cookie's.
    let csrf = login_form(&app, &http).await;
    let res = http
        .post(app.url("/login"))
        .header("cookie", format!("kp_csrf={csrf}"))
        .form(&[
            ("email", "boss@example.be"),
            ("password", PASSWORD),
            ("csrf", "forged-forged-forged-forged-forged-forged1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // From another site, even with the right token.
    let res = http
        .post(app.url("/login"))
        .header("cookie", format!("kp_csrf={csrf}"))
        .header("origin", "https://evil.example")
        .form(&[
            ("email", "boss@example.be"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Signed in: the session's own token is required on its forms.
    let res = login(&app, &http, &csrf, "boss@example.be", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let session = cookie_value(&set_cookie(&res, "kp_session").expect("session cookie"));
    let res = http
        .post(app.url("/employer/dimona/new"))
        .header("cookie", format!("kp_session={session}"))
        .form(&[
            ("type", "cancel"),
            ("periodId", "100000000135"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "the anonymous token is not the session's"
    );
    let res = http
        .post(app.url("/logout"))
        .header("cookie", format!("kp_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "sign-out is a form too");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while() {
    let app = TestApp::spawn().await;
    let p = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &p).await;
    let http = client();
    let csrf = login_form(&app, &http).await;
    for i in 1..=4 {
        let res = login(&app, &http, &csrf, "boss@example.be", "wrong password!").await;
        assert_eq!(res.status(), 401, "attempt {i}");
        assert!(set_cookie(&res, "kp_session").is_none());
    }
    let res = login(&app, &http, &csrf, "boss@example.be", "wrong password!").await;
    assert_eq!(res.status(), 429, "the fifth failure locks");
    // Even the right password is refused while locked…
    let res = login(&app, &http, &csrf, "boss@example.be", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("15 minutes"));
    // …and accepted once the lock has expired.
    app.clock.advance_seconds(16 * 60);
    let res = login(&app, &http, &csrf, "boss@example.be", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/employer");
    let c = set_cookie(&res, "kp_session").unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    // Unknown accounts answer exactly like wrong passwords.
    let res = login(&app, &http, &csrf, "nobody@example.be", PASSWORD).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn each_kind_of_account_opens_its_own_pages_only() {
    let app = TestApp::spawn().await;
    let employer = app.add_employer("000935467", "0403170701").await;
    let person = app.add_person("93051822361", "Peeters", "Jan").await;
    add_user(&app, "boss@example.be", &employer).await;
    add_user(&app, "jan@example.be", &Principal::Citizen(person.ssin)).await;
    let http = client();
    // Anonymous: sent to the sign-in page, then back.
    let res = http
        .get(app.url("/employer/personnel-file"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Femployer%2Fpersonnel-file"
    );
    let csrf = login_form(&app, &http).await;
    let res = login(&app, &http, &csrf, "jan@example.be", PASSWORD).await;
    assert_eq!(res.headers()["location"], "/citizen");
    let citizen = cookie_value(&set_cookie(&res, "kp_session").unwrap());
    let get = |path: &'static str, session: String| {
        http.get(app.url(path))
            .header("cookie", format!("kp_session={session}"))
            .send()
    };
    for path in [
        "/employer",
        "/employer/dimona/new",
        "/employer/personnel-file",
        "/employer/mailbox",
        "/institution",
        "/operator",
    ] {
        assert_eq!(
            get(path, citizen.clone()).await.unwrap().status(),
            403,
            "{path}"
        );
    }
    let res = get("/citizen", citizen.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Peeters") && body.contains("93.05.18-223.61"));
    // The person's own read is in the audit log, and said so.
    let (own, last) = app.store.audit_self_accesses("93051822361").await.unwrap();
    assert_eq!((own, last), (1, Some(app.clock.now().millis())));
    let res = get("/citizen/access-log", citizen.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("id=\"own-reads\""));

    let res = login(&app, &http, &csrf, "boss@example.be", PASSWORD).await;
    let boss = cookie_value(&set_cookie(&res, "kp_session").unwrap());
    assert_eq!(get("/citizen", boss.clone()).await.unwrap().status(), 403);
    for path in [
        "/employer",
        "/employer/dimona/new",
        "/employer/personnel-file",
        "/employer/mailbox",
        "/employer/batch",
    ] {
        assert_eq!(
            get(path, boss.clone()).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    // Signing out ends the session on the server.
    let res = http
        .post(app.url("/logout"))
        .header("cookie", format!("kp_session={boss}"))
        .form(&[("csrf", app_session_csrf(&app, &boss).await.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(get("/employer", boss).await.unwrap().status(), 303);
}

/// The CSRF token a session's pages carry.
async fn app_session_csrf(app: &TestApp, session: &str) -> String {
    let hash = kruispunt_security::session::digest(session);
    app.store
        .session(&hash, app.clock.now().millis())
        .await
        .unwrap()
        .unwrap()
        .csrf
}

#[tokio::test]
async fn dimona_form_errors_are_next_to_their_field_in_the_users_language() {
    let app = TestApp::spawn().await;
    let employer = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &employer).await;
    let http = client();
    let csrf = login_form(&app, &http).await;
    let res = login(&app, &http, &csrf, "boss@example.be", PASSWORD).await;
    let session = cookie_value(&set_cookie(&res, "kp_session").unwrap());
    let token = app_session_csrf(&app, &session).await;
    // A student without an end date: the server's own rule (00911-001), in Dutch.
    let res = http
        .post(app.url("/employer/dimona/new"))
        .header("cookie", format!("kp_session={session}; kp_lang=nl"))
        .form(&[
            ("csrf", token.as_str()),
            ("type", "in"),
            ("ssin", "93051822362"),
            ("workerType", "STU"),
            ("jointCommission", "XXX"),
            ("startDate", "2026-12-01"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("id=\"f-ssin-error\""),
        "bad check digits named at the SSIN"
    );
    assert!(body.contains("controlecijfers"));
    let res = http
        .post(app.url("/employer/dimona/new"))
        .header("cookie", format!("kp_session={session}; kp_lang=nl"))
        .form(&[
            ("csrf", token.as_str()),
            ("type", "in"),
            ("ssin", "93051822361"),
            ("workerType", "STU"),
            ("jointCommission", "XXX"),
            ("startDate", "2026-12-01"),
            ("plannedHours", "20"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"f-endDate-error\""));
    assert!(body.contains("Einddatum niet aanwezig"));
    // Valid: received, then the status page.
    let res = http
        .post(app.url("/employer/dimona/new"))
        .header("cookie", format!("kp_session={session}"))
        .form(&[
            ("csrf", token.as_str()),
            ("type", "in"),
            ("ssin", "93051822361"),
            ("workerType", "OTH"),
            ("jointCommission", "XXX"),
            ("startDate", "2026-12-01"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/employer/dimona/"), "{location}");
}

/// A `multipart/form-data` body: (field, file name, content).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----kruispunt-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/xml\r\n\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Signs in `email` and returns (session cookie value, its CSRF token).
async fn signed_in(app: &TestApp, http: &reqwest::Client, email: &str) -> (String, String) {
    let csrf = login_form(app, http).await;
    let res = login(app, http, &csrf, email, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let session = cookie_value(&set_cookie(&res, "kp_session").unwrap());
    let token = app_session_csrf(app, &session).await;
    (session, token)
}

async fn upload(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let (ct, body) = multipart(parts);
    http.post(app.url("/employer/batch"))
        .header("cookie", cookie)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_page_sends_a_file_like_the_api_and_shows_acrf_and_notification() {
    use crate::batch::{dimona_in, file, form};
    let app = TestApp::spawn().await;
    app.add_person("93051822361", "Peeters", "Jan").await;
    let employer = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &employer).await;
    let http = client();
    let (session, token) = signed_in(&app, &http, "boss@example.be").await;
    let cookie = format!("kp_session={session}; kp_lang=nl");

    let res = http
        .get(app.url("/employer/batch"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("enctype=\"multipart/form-data\""));
    assert!(body.contains("U hebt nog geen bestand verstuurd"));

    // Two forms: one accepted, one refused at the door (bad INSS).
    let xml = file(&[
        dimona_in("935467", "93051822361", "2026-12-01"),
        dimona_in("935467", "93051822362", "2026-12-01"),
    ]);
    // Without the session's CSRF token nothing is read.
    let res = upload(
        &app,
        &http,
        &cookie,
        &[("file", Some("FI.DIMONA.1.xml"), xml.as_bytes())],
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = upload(
        &app,
        &http,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("name", None, b""),
            ("file", Some("FI.DIMONA.1.xml"), xml.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        res.headers()["location"],
        "/employer/batch/files/FI.DIMONA.1.xml"
    );
    let res = http
        .get(app.url("/employer/batch/files/FI.DIMONA.1.xml"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Bestand ontvangen"), "the ACRF: {body}");
    assert!(body.contains("id=\"notification\""), "processed: {body}");
    assert!(body.contains("Aanvaard: 1. Geweigerd: 1."), "{body}");
    // The refused form: its id, the element, the value and the line.
    assert!(body.contains("00024-003"), "{body}");
    assert!(
        body.contains(
            "<span class=\"code\">INSS</span> = <span class=\"code\">93051822362</span>, regel 25"
        ),
        "{body}"
    );
    // The accepted one: its period.
    let period = body
        .split("tag-result-A")
        .nth(1)
        .and_then(|s| s.split("<td class=\"code\">").nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap();
    assert_eq!(period.len(), 12, "{body}");

    // The list, the raw documents.
    let list = http
        .get(app.url("/employer/batch"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("href=\"/employer/batch/files/FI.DIMONA.1.xml\""));
    assert!(
        list.contains("1 aanvaard") && list.contains("1 geweigerd"),
        "{list}"
    );
    let res = http
        .get(app.url("/employer/batch/files/FI.DIMONA.1.xml/notification.xml"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let n = res.text().await.unwrap();
    assert!(n.contains("<NOTIFICATION") && n.contains(period), "{n}");
    let acrf = http
        .get(app.url("/employer/batch/files/FI.DIMONA.1.xml/acrf.xml"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(acrf.contains("<ResultCode>1</ResultCode>"), "{acrf}");

    // The same name again: the error is next to the name field.
    let res = upload(
        &app,
        &http,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("name", None, b""),
            ("file", Some("FI.DIMONA.1.xml"), xml.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"f-name-error\""), "{body}");
    assert!(body.contains("al een bestand met deze naam"), "{body}");

    // A name the channel does not accept, then no file at all.
    let res = upload(
        &app,
        &http,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("name", None, b"my file (2).xml"),
            ("file", Some("x.xml"), xml.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"f-name-error\""));
    let res = upload(
        &app,
        &http,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("name", None, b""),
            ("file", Some(""), b""),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"f-file-error\""));

    // A file with a structural error: the negative ACRF, readably, in
    // English; nothing kept.
    let bad = file(&[form(
        "\t\t<DimonaIn>\n\t\t\t<StartingDate>2026-13-01</StartingDate>\n\t\t</DimonaIn>\n",
    )]);
    let res = upload(
        &app,
        &http,
        &format!("kp_session={session}; kp_lang=en"),
        &[
            ("csrf", None, token.as_bytes()),
            ("name", None, b"FI.BAD.1"),
            ("file", Some("whatever.xml"), bad.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("File refused at reception"), "{body}");
    assert!(
        body.contains(
            "<td class=\"code\">00910-003</td><td>10</td><td>4</td><td>Start date invalid"
        ),
        "{body}"
    );
    assert!(
        body.contains("&lt;ResultCode&gt;0&lt;"),
        "the raw ACRF: {body}"
    );
    let res = http
        .get(app.url("/employer/batch/files/FI.BAD.1"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Another employer sees neither the file nor its documents.
    let other = app.add_employer("0009355-64", "0403.199.702").await;
    add_user(&app, "other@example.be", &other).await;
    let (other_session, _) = signed_in(&app, &http, "other@example.be").await;
    for path in [
        "/employer/batch/files/FI.DIMONA.1.xml",
        "/employer/batch/files/FI.DIMONA.1.xml/notification.xml",
        "/employer/batch/files/FI.DIMONA.1.xml/acrf.xml",
    ] {
        let res = http
            .get(app.url(path))
            .header("cookie", format!("kp_session={other_session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_batch_file_over_the_limit_is_refused_with_a_page() {
    use crate::batch::{dimona_in, file};
    let app = TestApp::spawn_with(kruispunt_web::WebConfig {
        batch_body_limit: 4096,
        ..Default::default()
    })
    .await;
    let employer = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &employer).await;
    let http = client();
    let (session, token) = signed_in(&app, &http, "boss@example.be").await;
    let forms: Vec<String> = (0..20)
        .map(|_| dimona_in("935467", "93051822361", "2026-12-01"))
        .collect();
    let xml = file(&forms);
    assert!(xml.len() > 4096);
    let res = upload(
        &app,
        &http,
        &format!("kp_session={session}; kp_lang=en"),
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some("FI.BIG"), xml.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 413);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("id=\"f-file-error\"") && body.contains("too large"),
        "{body}"
    );
    assert!(app.store.batch_file("FI.BIG").await.unwrap().is_none());
}

#[tokio::test]
async fn a_provider_declares_for_the_employers_that_mandate_it_and_only_those() {
    let app = TestApp::spawn().await;
    app.add_person("93051822361", "Peeters", "Jan").await;
    let employer = app.add_employer("000935467", "0403170701").await;
    let provider = app.add_employer("0009355-64", "0403.199.702").await;
    let stranger = app.add_employer("0009356-61", "0404.493.859").await;
    let (Principal::Employer(e), Principal::Employer(p), Principal::Employer(o)) =
        (&employer, &provider, &stranger)
    else {
        unreachable!()
    };
    app.state
        .dimona()
        .grant_mandate(*e, *p, "test")
        .await
        .unwrap();
    add_user(&app, "boss@example.be", &employer).await;
    add_user(&app, "secretariat@example.be", &provider).await;
    add_user(&app, "stranger@example.be", &stranger).await;
    let http = client();
    let (session, token) = signed_in(&app, &http, "secretariat@example.be").await;
    let cookie = format!("kp_session={session}; kp_lang=en");
    let get = |path: String| {
        http.get(app.url(&path))
            .header("cookie", cookie.clone())
            .send()
    };

    // The personal page lists the employer that gave the mandate.
    let body = get("/employer".into()).await.unwrap().text().await.unwrap();
    assert!(body.contains("Employers you declare for"), "{body}");
    assert!(
        body.contains(&format!("/employer/personnel-file?employer={e}")),
        "{body}"
    );
    // The form offers it, preselected from the link; a stranger's is refused.
    let res = get(format!("/employer/dimona/new?employer={e}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"f-employer\""), "{body}");
    assert!(
        body.contains(&format!("<option value=\"{e}\" selected>")),
        "{body}"
    );
    assert_eq!(
        get(format!("/employer/dimona/new?employer={o}"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get(format!("/employer/personnel-file?employer={o}"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get(format!("/employer/mailbox?employer={o}"))
            .await
            .unwrap()
            .status(),
        403
    );

    // Declaring for the stranger: named at the employer field.
    let declare = |for_employer: String| {
        http.post(app.url("/employer/dimona/new"))
            .header("cookie", cookie.clone())
            .form(&[
                ("csrf", token.clone()),
                ("type", "in".into()),
                ("employer", for_employer),
                ("ssin", "93051822361".into()),
                ("workerType", "OTH".into()),
                ("jointCommission", "XXX".into()),
                ("startDate", "2026-12-01".into()),
            ])
            .send()
    };
    let res = declare(o.to_string()).await.unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"f-employer-error\""), "{body}");
    assert!(body.contains("No mandate to declare for this employer"));

    // For the mandating employer: accepted, in that employer's file.
    let res = declare(e.to_string()).await.unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = get(location).await.unwrap().text().await.unwrap();
    assert!(body.contains("id=\"period-id\""), "processed: {body}");
    let period = body
        .split("id=\"period-id\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let file = get(format!("/employer/personnel-file?employer={e}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(file.contains(&period), "{file}");
    assert!(
        file.contains(&format!("type=out&amp;period={period}&amp;employer={e}")),
        "actions stay with the employer: {file}"
    );
    let own = get("/employer/personnel-file".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!own.contains(&period), "not in the provider's own file");
    let csv = get(format!("/employer/personnel-file?employer={e}&format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(&period));

    // A file sent by the provider for the employer: each form says for whom.
    app.add_person("85073003328", "Dubois", "Marc").await;
    let xml = crate::batch::file(&[crate::batch::dimona_in(
        &e.to_string(),
        "85073003328",
        "2026-12-01",
    )]);
    let res = upload(
        &app,
        &http,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some("FI.PROV.PORTAL.1"), xml.as_bytes()),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let body = get("/employer/batch/files/FI.PROV.PORTAL.1".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(&format!("for employer {e}")), "{body}");
    assert!(body.contains("tag-result-A"), "{body}");

    // The employer sees who declares for it; its own form has no choice.
    let (boss, _) = signed_in(&app, &http, "boss@example.be").await;
    let boss_get = |path: &'static str| {
        http.get(app.url(path))
            .header("cookie", format!("kp_session={boss}; kp_lang=en"))
            .send()
    };
    let body = boss_get("/employer").await.unwrap().text().await.unwrap();
    assert!(body.contains("Providers declaring for you") && body.contains(&p.to_string()));
    let body = boss_get("/employer/dimona/new")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("id=\"f-employer\""));
    // Revoked: the provider may no longer act for it.
    app.state
        .dimona()
        .revoke_mandate(*e, *p, "test")
        .await
        .unwrap();
    assert_eq!(
        get(format!("/employer/personnel-file?employer={e}"))
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn portal_pages_keep_a_same_origin_referrer_policy_so_browsers_forms_pass() {
    let app = TestApp::spawn().await;
    let employer = app.add_employer("000935467", "0403170701").await;
    add_user(&app, "boss@example.be", &employer).await;
    let http = client();
    let res = http.get(app.url("/login")).send().await.unwrap();
    // Under `no-referrer` a browser would send `Origin: null` with the form.
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    let csrf = login_form(&app, &http).await;
    let post = |origin: &'static str, site: Option<&'static str>| {
        let mut r = http
            .post(app.url("/login"))
            .header("cookie", format!("kp_csrf={csrf}"))
            .header("origin", origin);
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.form(&[
            ("email", "boss@example.be"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
    };
    assert_eq!(post("null", None).await.unwrap().status(), 403);
    assert_eq!(
        post("null", Some("cross-site")).await.unwrap().status(),
        403
    );
    assert_eq!(
        post("null", Some("same-origin")).await.unwrap().status(),
        303
    );
}
