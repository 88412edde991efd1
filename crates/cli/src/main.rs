//! `kruispunt`: one binary for the server, the admin commands, the demo
//! loader and the audit check. See `kruispunt --help`.

mod admin;
mod config;
mod demo_cmd;
mod import;
mod serve;

use clap::{Parser, Subcommand};

// glibc's allocator was ~15 % of server CPU on the hub's message path
// (arena locks and consolidation across the runtime's threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "kruispunt",
    version,
    about = "The Belgian social-security network hub: Crossroads Bank, Dimona, portal"
)]
pub struct Cli {
    /// Database URL: a SQLite file path or sqlite:// URL (default
    /// ./kruispunt-data/kruispunt.db), or postgres://...
    #[arg(
        long,
        global = true,
        env = "KRUISPUNT_DATABASE_URL",
        value_name = "URL"
    )]
    database: Option<String>,
    /// A TOML configuration file (flags and environment take precedence;
    /// unknown keys are refused).
    #[arg(long, global = true, env = "KRUISPUNT_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run everything: APIs, portal, background workers.
    Serve(serve::ServeArgs),
    /// Load a deterministic synthetic population.
    Demo(demo_cmd::DemoArgs),
    /// Administration: registers, institutions, authorizations, tokens, clients, users, keys.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Check a Dimona declaration (ONSS REST v2 JSON) offline, with the
    /// server's rules; exit 0 when it would be accepted (A or W), 1 when not.
    Validate {
        /// The declaration file: the ONSS REST v2 JSON, or a batch XML file
        /// (Dimona_20231.xsd, several forms).
        file: std::path::PathBuf,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the whole audit log: the hash chain and every signed checkpoint.
    Verify,
}

/// A failure the user caused (bad argument, unknown reference): exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason, without a backtrace.
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {line}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = config::FileConfig::load(cli.config.as_deref())?;
    let database = config::database_url(cli.database.as_deref(), &file);
    match cli.command {
        Command::Serve(args) => serve::run(args, &database, &file).await,
        Command::Demo(args) => {
            config::init_logging(file.log_format.as_deref(), "warn");
            demo_cmd::run(args, &database).await
        }
        Command::Admin { command } => {
            config::init_logging(file.log_format.as_deref(), "warn");
            admin::run(command, &database).await
        }
        Command::Validate { file } => validate(&file),
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            config::init_logging(file.log_format.as_deref(), "warn");
            audit_verify(&database).await
        }
    }
}

/// Exit 0 with a summary when intact; non-zero and the first broken entry
/// when not.
async fn audit_verify(database: &str) -> anyhow::Result<()> {
    let store = admin::open_store(database).await?;
    match kruispunt_hub::verify::verify(&store).await? {
        Ok(r) => {
            println!(
                "audit log intact: {} entries, {} signed checkpoints verified, head {}",
                r.entries, r.checkpoints, r.head_hash
            );
            Ok(())
        }
        Err(b) => Err(anyhow::anyhow!(
            "audit log broken at entry {}{}: {}",
            b.seq,
            b.ticket
                .map(|t| format!(" (ticket {t})"))
                .unwrap_or_default(),
            b.reason
        )),
    }
}

fn validate(file: &std::path::Path) -> anyhow::Result<()> {
    use kruispunt_domain::clock::Clock;
    let text = std::fs::read_to_string(file)
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    if text.trim_start().starts_with('<') {
        return validate_xml(file, &text);
    }
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not valid JSON: {e}", file.display())))?;
    let today = kruispunt_security::system::SystemClock.now().date();
    let (kind, anomalies) = kruispunt_dimona::validate_offline(&body, today)
        .map_err(|e| usage(format!("{}: {}", e.field, e.message)))?;
    for a in &anomalies {
        let sev = match a.severity {
            kruispunt_domain::dimona::Severity::Blocking => "B ",
            kruispunt_domain::dimona::Severity::NonBlocking => "NP",
        };
        println!("{sev} {}  {} / {}", a.id, a.label_fr, a.label_nl);
    }
    let result = kruispunt_domain::dimona::DeclarationResult::from_anomalies(&anomalies);
    println!(
        "Dimona {}: result {} (checked offline: duplicates, overlaps, the student contingent and identification are judged by the server)",
        kind.code(),
        result.code()
    );
    if result == kruispunt_domain::dimona::DeclarationResult::B {
        std::process::exit(1);
    }
    Ok(())
}

/// A batch file: the structure first (as the server's reception does), then
/// each form through the same offline rules as a JSON declaration.
fn validate_xml(file: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use kruispunt_batch::{Limits, ReadOutcome, read_dimona_file};
    use kruispunt_domain::clock::Clock;
    use kruispunt_domain::dimona::{DeclarationResult, Severity};
    let outcome = read_dimona_file(text.as_bytes(), &Limits::default())
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let forms = match outcome {
        ReadOutcome::Rejected(errors) => {
            for e in &errors {
                println!(
                    "line {}, column {}: {}  {}",
                    e.line, e.column, e.error_id, e.message
                );
            }
            println!(
                "{}: refused at reception ({} errors): the server would answer a negative ACRF",
                file.display(),
                errors.len()
            );
            std::process::exit(1);
        }
        ReadOutcome::Accepted(forms) => forms,
    };
    let today = kruispunt_security::system::SystemClock.now().date();
    let mut refused = 0;
    for form in &forms {
        let head = format!(
            "form {} (line {}) {}",
            form.index, form.kind_line, form.kind
        );
        // A form without EmployerId is for the sender: any valid number
        // stands in for it offline.
        let Some(body) = form.to_v2_json(Some(100_006)) else {
            println!("{head}: B  not handled by this service");
            refused += 1;
            continue;
        };
        match kruispunt_dimona::validate_offline(&body, today) {
            Err(e) => {
                let at = form
                    .source_of(&e.field)
                    .map(|v| format!(" {} line {}, column {}", v.tag, v.line, v.column))
                    .unwrap_or_default();
                println!("{head}: B {}:{at}: {}", e.field, e.message);
                refused += 1;
            }
            Ok((_, anomalies)) => {
                let result = DeclarationResult::from_anomalies(&anomalies);
                println!("{head}: result {}", result.code());
                for a in &anomalies {
                    let sev = match a.severity {
                        Severity::Blocking => "B ",
                        Severity::NonBlocking => "NP",
                    };
                    println!("    {sev} {}  {} / {}", a.id, a.label_fr, a.label_nl);
                }
                if result == DeclarationResult::B {
                    refused += 1;
                }
            }
        }
    }
    println!(
        "{}: {} forms, {} refused (checked offline: duplicates, overlaps, the student contingent, mandates and identification are judged by the server)",
        file.display(),
        forms.len(),
        refused
    );
    if refused > 0 {
        std::process::exit(1);
    }
    Ok(())
}
