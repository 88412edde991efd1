//! `kruispunt demo` and the `serve --demo` bootstrap.

use crate::admin::{self, open_store};
use indicatif::{ProgressBar, ProgressStyle};
use kruispunt_demo::{DemoSpec, LoadSummary};
use kruispunt_domain::clock::{Clock, Entropy};
use kruispunt_domain::principal::Principal;
use kruispunt_domain::registers::InstitutionCode;
use kruispunt_security::system::SystemClock;
use kruispunt_store::Store;
use kruispunt_web::AppState;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Number of persons (National Register and bis numbers).
    #[arg(long, default_value_t = 1000)]
    persons: u64,
    /// Number of employers (at most 100000).
    #[arg(long, default_value_t = 50)]
    employers: u64,
    /// Seed: the same seed always gives the same population.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub async fn run(args: DemoArgs, database: &str) -> anyhow::Result<()> {
    if args.employers > 100_000 {
        return Err(crate::usage("--employers: at most 100000"));
    }
    if args.persons > 20_000_000 {
        return Err(crate::usage("--persons: at most 20000000"));
    }
    let store = open_store(database).await?;
    let spec = DemoSpec {
        persons: args.persons,
        employers: args.employers,
        seed: args.seed,
    };
    let started = Instant::now();
    let summary = load_with_progress(&store, spec).await?;
    println!(
        "loaded in {:.1} s: {} persons, {} employers, {} institutions, {} authorizations, {} references (seed {})",
        started.elapsed().as_secs_f64(),
        summary.persons,
        summary.employers,
        summary.institutions,
        summary.authorizations,
        summary.references,
        args.seed
    );
    store.close().await;
    Ok(())
}

async fn load_with_progress(store: &Store, spec: DemoSpec) -> anyhow::Result<LoadSummary> {
    let bar = ProgressBar::new(spec.persons.max(1));
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut progress = |what: &str, done: u64, total: u64| {
        bar.set_message(what.to_owned());
        bar.set_length(total.max(1));
        bar.set_position(done);
    };
    let summary = kruispunt_demo::load(store, spec, SystemClock.now(), &mut progress).await?;
    bar.finish_and_clear();
    Ok(summary)
}

pub const DEMO_PASSWORD: &str = "kruispunt-demo-2026";

/// `serve --demo`: load the small population on an empty store, then print
/// tokens and logins for each kind of user.
pub async fn serve_demo(
    store: &Store,
    state: &AppState,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let spec = DemoSpec {
        persons: 1000,
        employers: 50,
        seed: 42,
    };
    if store.count_persons().await? == 0 {
        let summary = load_with_progress(store, spec).await?;
        println!(
            "demo population loaded: {} persons, {} employers, {} institutions, {} authorizations, {} references",
            summary.persons,
            summary.employers,
            summary.institutions,
            summary.authorizations,
            summary.references
        );
    }
    let citizen = store.sample_living_person("CPAS-LIEGE").await?;
    let employers = store.sample_active_employers(2).await?;
    let employer = employers.first().copied();
    // The second employer acts as a social secretariat: the first one
    // mandates it to declare on its behalf.
    let provider = employers.get(1).copied();
    if let (Some(e), Some(p)) = (employer, provider) {
        state.dimona().grant_mandate(e, p, "demo").await?;
    }
    let ttl = 24 * 3600;
    let keys = state.keys();
    let now = clock.now();
    let mut principals: Vec<(&str, String, Principal)> = Vec::new();
    if let Ok(code) = InstitutionCode::parse("CPAS-LIEGE") {
        principals.push((
            "CPAS",
            "institution CPAS-LIEGE (sector 17, CPAS)".into(),
            Principal::Institution(code),
        ));
    }
    if let Ok(code) = InstitutionCode::parse("ONEM") {
        principals.push((
            "ONEM",
            "institution ONEM (sector 18, unemployment)".into(),
            Principal::Institution(code),
        ));
    }
    if let Some(e) = employer {
        principals.push(("EMPLOYER", format!("employer {e}"), Principal::Employer(e)));
    }
    if let (Some(p), Some(e)) = (provider, employer) {
        principals.push((
            "PROVIDER",
            format!("provider {p} (social secretariat, mandated by employer {e})"),
            Principal::Employer(p),
        ));
    }
    if let Some(c) = citizen {
        principals.push(("ME", "citizen (see SSIN)".into(), Principal::Citizen(c)));
    }
    principals.push(("OPERATOR", "operator".into(), Principal::Operator));
    println!("\n== kruispunt demo ==  http://{addr}");
    println!("# bearer tokens, valid 24 h (paste into a shell):");
    for (var, label, p) in &principals {
        let (token, _) = keys.issue(p, &p.default_scopes(), ttl, now, entropy)?;
        println!("export {var}={token}   # {label}");
        let email = format!("{}@demo.kruispunt.be", var.to_lowercase());
        admin::ensure_demo_user(store, &email, p, DEMO_PASSWORD, clock, entropy).await?;
    }
    if let Some(c) = citizen {
        println!("export SSIN={c}");
    }
    println!("# portal logins (password {DEMO_PASSWORD}):");
    for (var, label, _) in &principals {
        println!(
            "#   {:<32} {label}",
            format!("{}@demo.kruispunt.be", var.to_lowercase())
        );
    }
    println!(
        "# try: curl -H \"Authorization: Bearer $CPAS\" http://{addr}/api/v1/whoami   (more in README.md)\n"
    );
    Ok(())
}
