//! `kruispunt admin ...`: the operator's commands. Every argument is parsed
//! into its domain type first; nothing is written unless everything is
//! valid.

use crate::usage;
use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use kruispunt_domain::clock::{Clock, Entropy, format_date, parse_date};
use kruispunt_domain::ids::{EmployerId, Ssin};
use kruispunt_domain::principal::{Principal, Scope};
use kruispunt_domain::registers::{EmployerInput, Institution, InstitutionCode, PersonInput};
use kruispunt_security::access_token::KeyMaterial;
use kruispunt_security::client_assertion::inspect_public_key;
use kruispunt_security::system::{SystemClock, SystemEntropy};
use kruispunt_store::{NewAuthorization, NewClient, SigningKeyRow, Store, UserRow};
use std::io::Read;
use std::path::PathBuf;

use kruispunt_domain::hub::INTERNAL_SERVICES;
use kruispunt_hub::{Hub, HubConfig};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// The National Register (authentic source of persons).
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// The employer directory.
    Employer {
        #[command(subcommand)]
        command: EmployerCommand,
    },
    /// Network institutions.
    Institution {
        #[command(subcommand)]
        command: InstitutionCommand,
    },
    /// Public access authorizations.
    Authorization {
        #[command(subcommand)]
        command: AuthorizationCommand,
    },
    /// Mandates: a provider (social secretariat, accountant, registered in
    /// the employer directory under its own ONSS number) declares for an
    /// employer.
    Mandate {
        #[command(subcommand)]
        command: MandateCommand,
    },
    /// Print a bearer access token (only the token) on stdout.
    Token(TokenArgs),
    /// OAuth2 clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Portal accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The server's token-signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum PersonCommand {
    /// Add (or update) a person.
    Add {
        #[arg(long)]
        ssin: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        first_name: String,
        #[arg(long, value_name = "YYYY-MM-DD")]
        birth_date: String,
        #[arg(long, value_name = "M|F")]
        sex: String,
        /// ISO 3166 two-letter code, e.g. BE.
        #[arg(long, value_name = "CC")]
        nationality: Option<String>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        death_date: Option<String>,
    },
    /// Import persons from CSV (header: ssin,lastName,firstName,birthDate,sex,nationality,deathDate) or JSON Lines.
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum EmployerCommand {
    /// Add an employer.
    Add {
        /// The ONSS number.
        #[arg(long, value_name = "N")]
        employer_id: String,
        #[arg(long, value_name = "E")]
        enterprise_number: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "JC")]
        joint_committee: Option<String>,
    },
    /// Import employers from CSV (header: employerId,enterpriseNumber,name,jointCommittee) or JSON Lines.
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum InstitutionCommand {
    /// Add a network institution.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "NNN")]
        sector: Option<u16>,
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuthorizationCommand {
    /// Record a public access authorization; prints its id.
    Grant {
        #[arg(long, value_name = "CODE")]
        institution: String,
        /// identification, employment or employer.
        #[arg(long)]
        service: String,
        /// A capacity code of the institution's sector.
        #[arg(long)]
        purpose: String,
        /// Waive the integration check (the requester need not hold a reference on the person).
        #[arg(long)]
        no_integration_check: bool,
        /// The committee's deliberation reference, e.g. CSI/24/123.
        #[arg(long, value_name = "REF")]
        deliberation: Option<String>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        valid_from: Option<String>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        valid_to: Option<String>,
    },
    /// Revoke an authorization (it stays in the public register, marked revoked).
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MandateCommand {
    /// Record that EMPLOYER mandates PROVIDER to declare on its behalf (audited).
    Grant {
        /// The employer giving the mandate (ONSS number).
        #[arg(long, value_name = "N")]
        employer: String,
        /// The provider receiving it (its own ONSS number).
        #[arg(long, value_name = "N")]
        provider: String,
    },
    /// Revoke a mandate (audited; it stays listed, marked revoked).
    Revoke {
        #[arg(long, value_name = "N")]
        employer: String,
        #[arg(long, value_name = "N")]
        provider: String,
    },
    /// List the mandates given or received by an employer.
    List {
        #[arg(long, value_name = "N")]
        employer: String,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("who").required(true).args(["institution", "employer", "citizen", "operator"])))]
pub struct TokenArgs {
    #[arg(long, value_name = "CODE")]
    institution: Option<String>,
    #[arg(long, value_name = "N")]
    employer: Option<String>,
    #[arg(long, value_name = "SSIN")]
    citizen: Option<String>,
    #[arg(long)]
    operator: bool,
    /// Scope to grant (repeatable); default: every scope of the principal's kind.
    #[arg(long = "scope", value_name = "S")]
    scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    ttl: i64,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register an OAuth2 client with its public key; prints the client id.
    #[command(group(ArgGroup::new("who").required(true).args(["institution", "employer"])))]
    Add {
        #[arg(long, value_name = "CODE")]
        institution: Option<String>,
        #[arg(long, value_name = "N")]
        employer: Option<String>,
        /// PEM file with the RSA or P-256 public key.
        #[arg(long, value_name = "PEM_FILE")]
        public_key: PathBuf,
        /// Allowed scope (repeatable); default: every scope of the principal's kind.
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a portal account; the password is read from stdin.
    #[command(group(ArgGroup::new("who").required(true).args(["employer", "institution", "citizen", "operator"])))]
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "N")]
        employer: Option<String>,
        #[arg(long, value_name = "CODE")]
        institution: Option<String>,
        #[arg(long, value_name = "SSIN")]
        citizen: Option<String>,
        #[arg(long)]
        operator: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a new signing key and retire the current one (tokens it signed stay valid until they expire).
    Rotate,
}

/// The hub, for audited changes made from the command line.
pub async fn open_hub(store: &Store) -> anyhow::Result<Hub> {
    Hub::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(SystemEntropy),
        HubConfig::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn open_store(database: &str) -> anyhow::Result<Store> {
    Store::open(database).await.with_context(|| {
        format!(
            "cannot open the database {}",
            crate::config::redact(database)
        )
    })
}

/// Resolves the principal named by the flags and checks it exists.
async fn principal(
    store: &Store,
    institution: Option<&str>,
    employer: Option<&str>,
    citizen: Option<&str>,
    operator: bool,
) -> anyhow::Result<Principal> {
    if let Some(code) = institution {
        let code = InstitutionCode::parse(code)
            .map_err(|e| usage(format!("--institution: {}", e.message)))?;
        if store.institution(&code).await?.is_none() {
            return Err(usage(format!("--institution: unknown institution {code}")));
        }
        return Ok(Principal::Institution(code));
    }
    if let Some(n) = employer {
        let id =
            EmployerId::parse(n).map_err(|e| usage(format!("--employer: the ONSS number {e}")))?;
        if store.employer(id).await?.is_none() {
            return Err(usage(format!(
                "--employer: no employer {id} in the employer directory"
            )));
        }
        return Ok(Principal::Employer(id));
    }
    if let Some(s) = citizen {
        let ssin = Ssin::parse(s).map_err(|e| usage(format!("--citizen: the SSIN {e}")))?;
        if store.person(&ssin).await?.is_none() {
            return Err(usage(
                "--citizen: no person with this SSIN in the National Register",
            ));
        }
        return Ok(Principal::Citizen(ssin));
    }
    if operator {
        return Ok(Principal::Operator);
    }
    Err(usage(
        "say who: --institution, --employer, --citizen or --operator",
    ))
}

fn scopes_for(p: &Principal, given: &[String]) -> anyhow::Result<Vec<Scope>> {
    if given.is_empty() {
        return Ok(p.default_scopes());
    }
    let mut out = Vec::new();
    for s in given {
        let scope = Scope::parse(s).map_err(|e| usage(format!("--scope: {}", e.message)))?;
        if !scope.allowed_for(p.kind()) {
            return Err(usage(format!(
                "--scope: {} is not available to a {}",
                scope.as_str(),
                p.kind().as_str()
            )));
        }
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

pub async fn run(command: AdminCommand, database: &str) -> anyhow::Result<()> {
    let clock = SystemClock;
    let entropy = SystemEntropy;
    match command {
        AdminCommand::Person {
            command:
                PersonCommand::Add {
                    ssin,
                    last_name,
                    first_name,
                    birth_date,
                    sex,
                    nationality,
                    death_date,
                },
        } => {
            let person = PersonInput {
                ssin,
                last_name,
                first_name,
                birth_date: Some(birth_date),
                sex: Some(sex),
                nationality,
                address: None,
                death_date,
            }
            .validate()
            .map_err(|e| usage(format!("--{}: {}", kebab(&e.field), e.message)))?;
            let store = open_store(database).await?;
            let hub = open_hub(&store).await?;
            let notified = hub
                .record_person(&person, "operator")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "person {} recorded; {} institution(s) notified",
                person.ssin.formatted(),
                notified.len()
            );
        }
        AdminCommand::Person {
            command: PersonCommand::Import { file },
        } => {
            let store = open_store(database).await?;
            crate::import::persons(&store, &file, clock.now()).await?;
        }
        AdminCommand::Employer {
            command:
                EmployerCommand::Add {
                    employer_id,
                    enterprise_number,
                    name,
                    joint_committee,
                },
        } => {
            let employer = EmployerInput {
                employer_id,
                enterprise_number,
                name,
                joint_committee,
                address: None,
            }
            .validate()
            .map_err(|e| usage(format!("--{}: {}", kebab(&e.field), e.message)))?;
            let store = open_store(database).await?;
            store
                .insert_employer(&employer, clock.now())
                .await
                .map_err(conflict_is_usage)?;
            println!(
                "employer {} ({}) recorded",
                employer.employer_id.formatted(),
                employer.enterprise_number.formatted()
            );
        }
        AdminCommand::Employer {
            command: EmployerCommand::Import { file },
        } => {
            let store = open_store(database).await?;
            crate::import::employers(&store, &file, clock.now()).await?;
        }
        AdminCommand::Institution {
            command:
                InstitutionCommand::Add {
                    code,
                    name,
                    sector,
                    webhook,
                },
        } => {
            let inst = Institution::new(&code, &name, sector, webhook.as_deref()).map_err(|e| {
                usage(format!(
                    "--{}: {}",
                    kebab(&e.field).replace("institution", "code"),
                    e.message
                ))
            })?;
            let store = open_store(database).await?;
            store
                .insert_institution(&inst, clock.now())
                .await
                .map_err(conflict_is_usage)?;
            println!("institution {} recorded", inst.code);
        }
        AdminCommand::Authorization {
            command:
                AuthorizationCommand::Grant {
                    institution,
                    service,
                    purpose,
                    no_integration_check,
                    deliberation,
                    valid_from,
                    valid_to,
                },
        } => {
            let store = open_store(database).await?;
            let code = InstitutionCode::parse(&institution)
                .map_err(|e| usage(format!("--institution: {}", e.message)))?;
            let inst = store
                .institution(&code)
                .await?
                .ok_or_else(|| usage(format!("--institution: unknown institution {code}")))?;
            if !INTERNAL_SERVICES.contains(&service.as_str())
                && store.provider(&service).await?.is_none()
            {
                return Err(usage(format!(
                    "--service: unknown service {service:?}; known: {} and registered providers' services",
                    INTERNAL_SERVICES.join(", ")
                )));
            }
            let capacity: u16 = purpose.trim().parse().map_err(|_| {
                usage("--purpose: must be a capacity code (a number) of the institution's sector")
            })?;
            let sector = inst.sector.ok_or_else(|| usage("--institution: this institution has no sector, so it has no capacity codes to use as purpose"))?;
            if !store.capacity_exists(sector, capacity).await? {
                return Err(usage(format!(
                    "--purpose: {capacity} is not a capacity code of sector {sector}"
                )));
            }
            let from = valid_from
                .as_deref()
                .map(|d| {
                    parse_date("validFrom", d)
                        .map_err(|e| usage(format!("--valid-from: {}", e.message)))
                })
                .transpose()?
                .unwrap_or_else(|| clock.now().date());
            let to = valid_to
                .as_deref()
                .map(|d| {
                    parse_date("validTo", d)
                        .map_err(|e| usage(format!("--valid-to: {}", e.message)))
                })
                .transpose()?;
            if to.is_some_and(|t| t < from) {
                return Err(usage("--valid-to: is before --valid-from"));
            }
            let id = format!("auth-{}", entropy.token_hex());
            let hub = open_hub(&store).await?;
            hub.grant_authorization(
                &NewAuthorization {
                    id: id.clone(),
                    institution: code.to_string(),
                    service,
                    purpose: capacity.to_string(),
                    integration_check: !no_integration_check,
                    deliberation,
                    valid_from: format_date(from),
                    valid_to: to.map(format_date),
                },
                "operator",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{id}");
        }
        AdminCommand::Authorization {
            command: AuthorizationCommand::Revoke { id },
        } => {
            let store = open_store(database).await?;
            let hub = open_hub(&store).await?;
            if !hub
                .revoke_authorization(id.trim(), "operator")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                return Err(usage(format!("--id: no active authorization {id}")));
            }
            println!("authorization {id} revoked");
        }
        AdminCommand::Mandate { command } => mandate(database, command).await?,
        AdminCommand::Token(args) => {
            let store = open_store(database).await?;
            let p = principal(
                &store,
                args.institution.as_deref(),
                args.employer.as_deref(),
                args.citizen.as_deref(),
                args.operator,
            )
            .await?;
            let scopes = scopes_for(&p, &args.scopes)?;
            if !(1..=kruispunt_security::access_token::MAX_TTL_SECONDS).contains(&args.ttl) {
                return Err(usage(format!(
                    "--ttl: must be between 1 and {} seconds",
                    kruispunt_security::access_token::MAX_TTL_SECONDS
                )));
            }
            let ring = kruispunt_web_keys(&store, &clock, &entropy).await?;
            let (token, _) = ring.issue(&p, &scopes, args.ttl, clock.now(), &entropy)?;
            println!("{token}");
        }
        AdminCommand::Client {
            command:
                ClientCommand::Add {
                    institution,
                    employer,
                    public_key,
                    scopes,
                },
        } => {
            let pem = std::fs::read_to_string(&public_key).map_err(|e| {
                usage(format!(
                    "--public-key: cannot read {}: {e}",
                    public_key.display()
                ))
            })?;
            let algorithm =
                inspect_public_key(&pem).map_err(|e| usage(format!("--public-key: {e}")))?;
            let store = open_store(database).await?;
            let p = principal(
                &store,
                institution.as_deref(),
                employer.as_deref(),
                None,
                false,
            )
            .await?;
            let scopes = scopes_for(&p, &scopes)?;
            let client_id = format!("kpc_{}", &entropy.token_hex()[..24]);
            store
                .insert_client(
                    &NewClient {
                        client_id: client_id.clone(),
                        principal: p.subject(),
                        public_key_pem: pem,
                        algorithm: algorithm.as_str().to_owned(),
                        scopes: Scope::join(&scopes),
                    },
                    clock.now(),
                )
                .await?;
            println!("{client_id}");
        }
        AdminCommand::User {
            command:
                UserCommand::Add {
                    email,
                    employer,
                    institution,
                    citizen,
                    operator,
                },
        } => {
            let email = valid_email(&email)?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from stdin")?;
            let password = password.lines().next().unwrap_or("").to_owned();
            let min = kruispunt_security::password::MIN_PASSWORD_CHARS;
            if password.chars().count() < min {
                return Err(usage(format!(
                    "password (stdin): must have at least {min} characters"
                )));
            }
            let store = open_store(database).await?;
            let p = principal(
                &store,
                institution.as_deref(),
                employer.as_deref(),
                citizen.as_deref(),
                operator,
            )
            .await?;
            create_user(&store, &email, &p, &password, &clock, &entropy)
                .await
                .map_err(conflict_is_usage)?;
            println!("account {email} created");
        }
        AdminCommand::Key {
            command: KeyCommand::Rotate,
        } => {
            let store = open_store(database).await?;
            let k = KeyMaterial::generate(&entropy)?;
            store
                .rotate_signing_key(
                    &SigningKeyRow {
                        kid: k.kid.clone(),
                        algorithm: kruispunt_security::access_token::ALGORITHM.into(),
                        private_key: k.seed,
                        public_der: k.public,
                        created_at: clock.now().millis(),
                        retired_at: None,
                    },
                    clock.now(),
                )
                .await?;
            println!("{}", k.kid);
        }
    }
    Ok(())
}

async fn kruispunt_web_keys(
    store: &Store,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> anyhow::Result<kruispunt_security::access_token::KeyRing> {
    kruispunt_web::load_key_ring(store, clock, entropy)
        .await
        .map_err(|e| anyhow::anyhow!("signing keys: {}", e.body.message))
}

fn conflict_is_usage(e: kruispunt_store::StoreError) -> anyhow::Error {
    match e {
        kruispunt_store::StoreError::Conflict { .. } => usage(e.to_string()),
        other => other.into(),
    }
}

/// `lastName` → `last-name` (to name the flag at fault).
fn kebab(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn valid_email(email: &str) -> anyhow::Result<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(usage(
            "--email: must be an e-mail address such as name@example.be",
        ))
    }
}

async fn create_user(
    store: &Store,
    email: &str,
    p: &Principal,
    password: &str,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<(), kruispunt_store::StoreError> {
    let hash = kruispunt_security::password::hash(password, entropy)
        .map_err(|_| kruispunt_store::StoreError::Config("password hashing failed".into()))?;
    store
        .insert_user(
            &UserRow {
                id: format!("usr-{}", entropy.token_hex()),
                email: email.to_owned(),
                password_hash: hash,
                principal: p.subject(),
                failed_logins: 0,
                locked_until: None,
            },
            clock.now(),
        )
        .await
}

/// Creates the demo account if it does not exist yet.
pub async fn ensure_demo_user(
    store: &Store,
    email: &str,
    p: &Principal,
    password: &str,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> anyhow::Result<()> {
    if store.user_by_email(email).await?.is_none() {
        create_user(store, email, p, password, clock, entropy).await?;
    }
    Ok(())
}

fn employer_arg(flag: &str, value: &str) -> anyhow::Result<EmployerId> {
    EmployerId::parse(value).map_err(|e| usage(format!("--{flag}: the ONSS number {e}")))
}

async fn mandate(database: &str, command: MandateCommand) -> anyhow::Result<()> {
    use kruispunt_dimona::{Dimona, MandateChange};
    let (employer, provider, grant) = match &command {
        MandateCommand::Grant { employer, provider } => (employer, Some(provider), true),
        MandateCommand::Revoke { employer, provider } => (employer, Some(provider), false),
        MandateCommand::List { employer } => (employer, None, false),
    };
    let employer = employer_arg("employer", employer)?;
    let provider = provider.map(|p| employer_arg("provider", p)).transpose()?;
    let store = open_store(database).await?;
    let dimona = Dimona::new(open_hub(&store).await?);
    let Some(provider) = provider else {
        for m in dimona
            .mandates_of(employer)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            let state = if m.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            };
            println!(
                "employer {} -> provider {} ({state})",
                m.employer_id, m.provider_id
            );
        }
        return Ok(());
    };
    let change = if grant {
        dimona.grant_mandate(employer, provider, "operator").await
    } else {
        dimona.revoke_mandate(employer, provider, "operator").await
    };
    let change = change.map_err(|e| match e {
        kruispunt_hub::HubError::Invalid(i) => usage(format!("--{}: {}", i.field, i.message)),
        other => anyhow::anyhow!("{other}"),
    })?;
    match (grant, change) {
        (true, MandateChange::Done) => {
            println!("mandate granted: {provider} declares for {employer}")
        }
        (true, MandateChange::Unchanged) => {
            println!("mandate already active: {provider} declares for {employer}")
        }
        (false, MandateChange::Done) => {
            println!("mandate revoked: {provider} no longer declares for {employer}")
        }
        (false, MandateChange::Unchanged) => {
            return Err(usage(format!(
                "--provider: {provider} holds no active mandate from {employer}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_names_flags() {
        assert_eq!(kebab("lastName"), "last-name");
        assert_eq!(kebab("ssin"), "ssin");
    }

    #[test]
    fn emails() {
        assert_eq!(valid_email(" A@B.be ").unwrap(), "a@b.be");
        assert!(valid_email("nope").is_err());
        assert!(valid_email("a@b").is_err());
    }
}
