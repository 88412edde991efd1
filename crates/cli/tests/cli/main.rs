//! The CLI's one integration-test binary: runs the real `kruispunt` binary
//! against a fresh database (SQLite, or PostgreSQL when
//! KRUISPUNT_TEST_DATABASE_URL is set), as an operator would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    database: String,
    dir: tempfile::TempDir,
}

impl Cli {
    async fn new() -> Cli {
        let database = kruispunt_store::testing::fresh_database_url()
            .await
            .expect("fresh database");
        Cli {
            database,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kruispunt"))
            .args(args)
            .env("KRUISPUNT_DATABASE_URL", &self.database)
            .env_remove("KRUISPUNT_CONFIG")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kruispunt");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Runs a command that must fail; returns its one-line reason.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have failed");
        let err = String::from_utf8(out.stderr).expect("utf8");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line expected, got: {err}"
        );
        err
    }
}

#[tokio::test]
async fn registers_accept_valid_input_and_name_the_bad_field() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "person",
        "add",
        "--ssin",
        "93.05.18-223.61",
        "--last-name",
        "Peeters",
        "--first-name",
        "Jan",
        "--birth-date",
        "1993-05-18",
        "--sex",
        "M",
        "--nationality",
        "BE",
    ]);
    let err = cli.fails(&[
        "admin",
        "person",
        "add",
        "--ssin",
        "93051822362",
        "--last-name",
        "P",
        "--first-name",
        "J",
        "--birth-date",
        "1993-05-18",
        "--sex",
        "M",
    ]);
    assert!(
        err.contains("--ssin") && err.contains("check digits"),
        "{err}"
    );
    let err = cli.fails(&[
        "admin",
        "person",
        "add",
        "--ssin",
        "93051822361",
        "--last-name",
        "P",
        "--first-name",
        "J",
        "--birth-date",
        "1993-05-19",
        "--sex",
        "M",
    ]);
    assert!(err.contains("--birth-date"), "{err}");

    cli.ok(&[
        "admin",
        "employer",
        "add",
        "--employer-id",
        "0009354-67",
        "--enterprise-number",
        "0403.170.701",
        "--name",
        "Brasserie du Coin",
    ]);
    let err = cli.fails(&[
        "admin",
        "employer",
        "add",
        "--employer-id",
        "935468",
        "--enterprise-number",
        "0403170701",
        "--name",
        "X",
    ]);
    assert!(err.contains("--employer-id"), "{err}");
    let err = cli.fails(&[
        "admin",
        "employer",
        "add",
        "--employer-id",
        "0009354-67",
        "--enterprise-number",
        "0403.170.701",
        "--name",
        "Again",
    ]);
    assert!(err.contains("already exists"), "{err}");

    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "CPAS-LIEGE",
        "--name",
        "CPAS de Liège",
        "--sector",
        "17",
    ]);
    let err = cli.fails(&[
        "admin",
        "institution",
        "add",
        "--code",
        "cpas",
        "--name",
        "x",
    ]);
    assert!(err.contains("--code"), "{err}");
    let err = cli.fails(&[
        "admin",
        "institution",
        "add",
        "--code",
        "X1",
        "--name",
        "x",
        "--webhook",
        "ftp://nope",
    ]);
    assert!(err.contains("--webhook"), "{err}");
}

#[tokio::test]
async fn authorizations_need_a_known_institution_service_and_capacity() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "CPAS-LIEGE",
        "--name",
        "CPAS de Liège",
        "--sector",
        "17",
    ]);
    let id = cli.ok(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "CPAS-LIEGE",
        "--service",
        "identification",
        "--purpose",
        "2",
        "--deliberation",
        "CSI/24/001",
    ]);
    assert!(id.trim().starts_with("auth-"));
    let err = cli.fails(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "NOPE",
        "--service",
        "identification",
        "--purpose",
        "2",
    ]);
    assert!(err.contains("unknown institution"), "{err}");
    let err = cli.fails(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "CPAS-LIEGE",
        "--service",
        "telepathy",
        "--purpose",
        "2",
    ]);
    assert!(err.contains("--service"), "{err}");
    let err = cli.fails(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "CPAS-LIEGE",
        "--service",
        "identification",
        "--purpose",
        "77",
    ]);
    assert!(err.contains("--purpose"), "{err}");
}

#[tokio::test]
async fn token_prints_only_a_token_for_an_existing_principal() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "ONEM",
        "--name",
        "ONEM",
        "--sector",
        "18",
    ]);
    let out = cli.ok(&[
        "admin",
        "token",
        "--institution",
        "ONEM",
        "--scope",
        "scope:hub:messages",
        "--ttl",
        "120",
    ]);
    let token = out.trim();
    assert_eq!(out.lines().count(), 1);
    assert_eq!(token.split('.').count(), 3, "a JWS: {token}");
    let err = cli.fails(&["admin", "token", "--institution", "NOPE"]);
    assert!(err.contains("unknown institution"), "{err}");
    let err = cli.fails(&["admin", "token", "--citizen", "93051822361"]);
    assert!(err.contains("National Register"), "{err}");
    let err = cli.fails(&[
        "admin",
        "token",
        "--institution",
        "ONEM",
        "--scope",
        "scope:dimona:declaration:declarant",
    ]);
    assert!(err.contains("--scope"), "{err}");
    let out = cli.ok(&["admin", "token", "--operator"]);
    assert_eq!(out.trim().split('.').count(), 3);
}

#[tokio::test]
async fn clients_are_registered_with_a_public_key_only() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "ONEM",
        "--name",
        "ONEM",
        "--sector",
        "18",
    ]);
    let key = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    use base64::Engine;
    let der = key.public_key().as_der().unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let path = cli.dir.path().join("pub.pem");
    std::fs::write(&path, pem).unwrap();
    let id = cli.ok(&[
        "admin",
        "client",
        "add",
        "--institution",
        "ONEM",
        "--public-key",
        path.to_str().unwrap(),
    ]);
    assert!(
        id.trim().starts_with("kpc_") && id.lines().count() == 1,
        "{id}"
    );
    let private = cli.dir.path().join("priv.pem");
    std::fs::write(
        &private,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = cli.fails(&[
        "admin",
        "client",
        "add",
        "--institution",
        "ONEM",
        "--public-key",
        private.to_str().unwrap(),
    ]);
    assert!(err.contains("private key"), "{err}");
}

#[tokio::test]
async fn users_read_their_password_from_stdin() {
    let cli = Cli::new().await;
    let out = cli.run_with_stdin(
        &[
            "admin",
            "user",
            "add",
            "--email",
            "op@example.be",
            "--operator",
        ],
        "a long enough password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli.run_with_stdin(
        &[
            "admin",
            "user",
            "add",
            "--email",
            "op2@example.be",
            "--operator",
        ],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));
    let out = cli.run_with_stdin(
        &[
            "admin",
            "user",
            "add",
            "--email",
            "op@example.be",
            "--operator",
        ],
        "a long enough password\n",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[tokio::test]
async fn demo_is_deterministic_and_idempotent() {
    let cli = Cli::new().await;
    let first = cli.ok(&[
        "demo",
        "--persons",
        "500",
        "--employers",
        "10",
        "--seed",
        "3",
    ]);
    assert!(first.contains("500 persons"), "{first}");
    // Loading the same seed again changes nothing and does not fail.
    cli.ok(&[
        "demo",
        "--persons",
        "500",
        "--employers",
        "10",
        "--seed",
        "3",
    ]);
    let store = kruispunt_store::Store::open(&cli.database).await.unwrap();
    assert_eq!(store.count_persons().await.unwrap(), 500);
    assert_eq!(store.count_employers().await.unwrap(), 10);
    assert_eq!(
        store.institutions().await.unwrap().len(),
        kruispunt_demo::INSTITUTIONS.len()
    );
    let refs = store.count_references().await.unwrap();
    assert!(refs > 300, "{refs}");
}

#[tokio::test]
async fn bulk_import_validates_everything_before_writing() {
    let cli = Cli::new().await;
    let good = cli.dir.path().join("good.csv");
    std::fs::write(&good, "ssin,lastName,firstName,birthDate,sex,nationality\n93051822361,Peeters,Jan,1993-05-18,M,BE\n85073003328,Dubois,Marc,1985-07-30,M,BE\n").unwrap();
    let out = cli.ok(&["admin", "person", "import", good.to_str().unwrap()]);
    assert!(out.contains("2 persons imported"), "{out}");
    let bad = cli.dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"ssin\":\"17073003384\",\"lastName\":\"A\",\"firstName\":\"B\"}\n{\"ssin\":\"17073003385\",\"lastName\":\"A\",\"firstName\":\"B\"}\n").unwrap();
    let err = cli.fails(&["admin", "person", "import", bad.to_str().unwrap()]);
    assert!(err.contains("line 2") && err.contains("ssin"), "{err}");
    let store = kruispunt_store::Store::open(&cli.database).await.unwrap();
    assert_eq!(
        store.count_persons().await.unwrap(),
        2,
        "the valid first row of a bad file is not written"
    );
}

#[tokio::test]
async fn configuration_files_refuse_unknown_keys() {
    let cli = Cli::new().await;
    let cfg = cli.dir.path().join("k.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nlisten_adress = \"oops\"\n").unwrap();
    let err = cli.fails(&[
        "--config",
        cfg.to_str().unwrap(),
        "admin",
        "token",
        "--operator",
    ]);
    assert!(err.contains("listen_adress"), "{err}");
}

#[tokio::test]
async fn an_incomplete_or_unsafe_oidc_configuration_stops_serve() {
    let cli = Cli::new().await;
    let cfg = cli.dir.path().join("oidc.toml");
    std::fs::write(
        &cfg,
        "[oidc]\nissuer = \"https://login.example/realms/kp\"\nclient_id = \"kruispunt\"\n",
    )
    .unwrap();
    let err = cli.fails(&[
        "--config",
        cfg.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("client_secret"), "{err}");
    std::fs::write(
        &cfg,
        "[oidc]\nissuer = \"http://login.example\"\nclient_id = \"kruispunt\"\nclient_secret = \"x\"\n",
    )
    .unwrap();
    let err = cli.fails(&[
        "--config",
        cfg.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("https"), "{err}");
    std::fs::write(
        &cfg,
        "[oidc]\nissuer = \"https://x\"\nclient_identifier = \"k\"\n",
    )
    .unwrap();
    let err = cli.fails(&[
        "--config",
        cfg.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("client_identifier"), "{err}");
}

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm() {
    let cli = Cli::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kruispunt"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KRUISPUNT_DATABASE_URL", &cli.database)
        .current_dir(cli.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("address line");
    let body: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn audit_verify_passes_on_an_intact_log_and_names_the_first_broken_entry() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "CPAS-LIEGE",
        "--name",
        "CPAS de Liège",
        "--sector",
        "17",
    ]);
    let id = cli.ok(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "CPAS-LIEGE",
        "--service",
        "identification",
        "--purpose",
        "2",
    ]);
    cli.ok(&[
        "admin",
        "person",
        "add",
        "--ssin",
        "93051822361",
        "--last-name",
        "Peeters",
        "--first-name",
        "Jan",
        "--birth-date",
        "1993-05-18",
        "--sex",
        "M",
    ]);
    cli.ok(&["admin", "authorization", "revoke", "--id", id.trim()]);
    let err = cli.fails(&["admin", "authorization", "revoke", "--id", id.trim()]);
    assert!(err.contains("no active authorization"), "{err}");
    let out = cli.ok(&["audit", "verify"]);
    assert!(out.contains("intact: 3 entries"), "{out}");
    // Tamper with the second entry.
    let store = kruispunt_store::Store::open(&cli.database).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let err = cli.fails(&["audit", "verify"]);
    assert!(err.contains("broken at entry 2"), "{err}");
}

#[tokio::test]
async fn validate_checks_a_dimona_declaration_offline() {
    let cli = Cli::new().await;
    let stu = cli.dir.path().join("stu.json");
    std::fs::write(&stu, r#"{"employer":{"employerId":935467},"worker":{"ssin":"93051822361"},"dimonaIn":{"startDate":"2099-01-04","features":{"jointCommissionNumber":"XXX","workerType":"STU"}}}"#).unwrap();
    let out = cli.run(&["validate", stu.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("00911-001") && text.contains("01135-001") && text.contains("result B"),
        "{text}"
    );
    let ok = cli.dir.path().join("ok.json");
    std::fs::write(&ok, r#"{"employer":{"employerId":935467},"worker":{"ssin":"93051822361"},"dimonaIn":{"startDate":"2099-01-04","features":{"jointCommissionNumber":"XXX","workerType":"OTH"}}}"#).unwrap();
    assert!(
        cli.ok(&["validate", ok.to_str().unwrap()])
            .contains("result A")
    );
    let bad = cli.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"employer":{"employerId":935467},"worker":{"ssin":"93051822362"},"dimonaIn":{"startDate":"2099-01-04"}}"#).unwrap();
    let err = cli.fails(&["validate", bad.to_str().unwrap()]);
    assert!(err.contains("worker.ssin"), "{err}");
}

#[tokio::test]
async fn validate_checks_a_batch_xml_file_offline() {
    let cli = Cli::new().await;
    let head = "<Identification>DIMONA</Identification><FormCreationDate>2026-11-29</FormCreationDate><FormCreationHour>10:00:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>";
    let ok = cli.dir.path().join("ok.xml");
    std::fs::write(&ok, format!("<Dimona>\n<Form>{head}<DimonaIn><StartingDate>2099-01-04</StartingDate><EmployerId><NOSSRegistrationNbr>935467</NOSSRegistrationNbr></EmployerId><NaturalPerson><INSS>93051822361</INSS></NaturalPerson><DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>OTH</WorkerType></DimonaFeatures></DimonaIn></Form>\n<Form>{head}<DimonaIn><StartingDate>2099-01-04</StartingDate><NaturalPerson><INSS>93051822362</INSS></NaturalPerson></DimonaIn></Form>\n</Dimona>")).unwrap();
    let out = cli.run(&["validate", ok.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("form 1 (line 2) DimonaIn: result A"),
        "{text}"
    );
    assert!(
        text.contains("form 2 (line 3) DimonaIn: B worker.ssin: INSS line 3"),
        "{text}"
    );
    assert!(text.contains("2 forms, 1 refused"), "{text}");
    let bad = cli.dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<Dimona>\n<Form>\n<Identification>X</Identification>\n</Form>\n</Dimona>",
    )
    .unwrap();
    let out = cli.run(&["validate", bad.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("line 3, column 1: 00296-008"), "{text}");
    assert!(text.contains("refused at reception"), "{text}");
}

#[tokio::test]
async fn mandates_are_granted_listed_and_revoked() {
    let cli = Cli::new().await;
    cli.ok(&[
        "admin",
        "employer",
        "add",
        "--employer-id",
        "935467",
        "--enterprise-number",
        "0403.170.701",
        "--name",
        "Boulangerie",
    ]);
    cli.ok(&[
        "admin",
        "employer",
        "add",
        "--employer-id",
        "935564",
        "--enterprise-number",
        "0403.199.702",
        "--name",
        "Secrétariat social",
    ]);
    let out = cli.ok(&[
        "admin",
        "mandate",
        "grant",
        "--employer",
        "935467",
        "--provider",
        "935564",
    ]);
    assert!(out.contains("mandate granted"), "{out}");
    let out = cli.ok(&[
        "admin",
        "mandate",
        "grant",
        "--employer",
        "935467",
        "--provider",
        "935564",
    ]);
    assert!(out.contains("already active"), "{out}");
    let out = cli.ok(&["admin", "mandate", "list", "--employer", "935564"]);
    assert!(
        out.contains("employer 935467 -> provider 935564 (active)"),
        "{out}"
    );
    let err = cli.fails(&[
        "admin",
        "mandate",
        "grant",
        "--employer",
        "935467",
        "--provider",
        "100006",
    ]);
    assert!(
        err.contains("--provider") && err.contains("employer directory"),
        "{err}"
    );
    let err = cli.fails(&[
        "admin",
        "mandate",
        "grant",
        "--employer",
        "935468",
        "--provider",
        "935564",
    ]);
    assert!(err.contains("--employer"), "{err}");
    cli.ok(&[
        "admin",
        "mandate",
        "revoke",
        "--employer",
        "935467",
        "--provider",
        "935564",
    ]);
    let err = cli.fails(&[
        "admin",
        "mandate",
        "revoke",
        "--employer",
        "935467",
        "--provider",
        "935564",
    ]);
    assert!(err.contains("no active mandate"), "{err}");
    let out = cli.ok(&["admin", "mandate", "list", "--employer", "935467"]);
    assert!(out.contains("(revoked)"), "{out}");
    cli.ok(&["audit", "verify"]);
}

/// docs/LOGGING.md: no SSIN, name or token in the logs, even at debug level.
#[tokio::test]
async fn logs_never_contain_personal_data_or_tokens() {
    let cli = Cli::new().await;
    let ssin = "93051822361";
    cli.ok(&[
        "admin",
        "institution",
        "add",
        "--code",
        "CPAS-LIEGE",
        "--name",
        "CPAS",
        "--sector",
        "17",
    ]);
    cli.ok(&[
        "admin",
        "person",
        "add",
        "--ssin",
        ssin,
        "--last-name",
        "Peeters",
        "--first-name",
        "Jan",
        "--birth-date",
        "1993-05-18",
        "--sex",
        "M",
    ]);
    cli.ok(&[
        "admin",
        "authorization",
        "grant",
        "--institution",
        "CPAS-LIEGE",
        "--service",
        "identification",
        "--purpose",
        "2",
    ]);
    let token = cli
        .ok(&["admin", "token", "--institution", "CPAS-LIEGE"])
        .trim()
        .to_owned();
    let citizen = cli
        .ok(&["admin", "token", "--citizen", ssin])
        .trim()
        .to_owned();
    let log_path = cli.dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kruispunt"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KRUISPUNT_DATABASE_URL", &cli.database)
        .env("RUST_LOG", "debug")
        .current_dir(cli.dir.path())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let post = |path: &str, body: serde_json::Value, t: &str| {
        http.post(format!("{base}{path}"))
            .bearer_auth(t)
            .json(&body)
            .send()
    };
    post(
        "/hub/v1/references",
        serde_json::json!({"ssin": ssin, "capacity": 2, "startDate": "2026-01-01"}),
        &token,
    )
    .await
    .unwrap();
    post(
        "/hub/v1/messages",
        serde_json::json!({"service": "identification", "ssin": ssin, "purpose": "2"}),
        &token,
    )
    .await
    .unwrap();
    post(
        "/hub/v1/messages",
        serde_json::json!({"service": "identification", "ssin": "93051822362", "purpose": "2"}),
        &token,
    )
    .await
    .unwrap();
    http.get(format!("{base}/hub/v1/persons/{ssin}/access-log"))
        .bearer_auth(&citizen)
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/hub/v1/references?ssin={ssin}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/nope/{ssin}"))
        .send()
        .await
        .unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("request"),
        "the server logged requests: {logs}"
    );
    for secret in [
        ssin,
        "93051822362",
        "930518",
        "Peeters",
        token.as_str(),
        citizen.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}
