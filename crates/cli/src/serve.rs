//! `kruispunt serve`.

use crate::config::{FileConfig, init_logging, redact};
use anyhow::Context;
use kruispunt_domain::clock::{Clock, Entropy};
use kruispunt_security::system::{SystemClock, SystemEntropy};
use kruispunt_store::Store;
use kruispunt_web::{AppState, WebConfig};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KRUISPUNT_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// On an empty store, load a small synthetic population and print
    /// ready-to-use demo logins and tokens.
    #[arg(long)]
    demo: bool,
    /// Public base URL (e.g. https://kruispunt.example), used as the token
    /// endpoint's audience; default: from the Host header, over http.
    #[arg(long, env = "KRUISPUNT_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Also publish every notification to NATS JetStream at this URL
    /// (subjects kruispunt.notifications.<institution>).
    #[arg(long, env = "KRUISPUNT_NATS_URL", value_name = "URL")]
    nats: Option<String>,
    /// Subject prefix of the NATS publication (default
    /// kruispunt.notifications): notifications for X go to `<prefix>.X`.
    #[arg(long, env = "KRUISPUNT_NATS_SUBJECT_PREFIX", value_name = "PREFIX")]
    nats_subject_prefix: Option<String>,
    /// JetStream stream that holds the publication (default
    /// KRUISPUNT_NOTIFICATIONS); created on start if missing.
    #[arg(long, env = "KRUISPUNT_NATS_STREAM", value_name = "NAME")]
    nats_stream: Option<String>,
    /// Sustained requests per second per client (the token's subject, else
    /// the IP address); beyond, 429 with Retry-After. 0: no limit.
    #[arg(long, env = "KRUISPUNT_RATE_LIMIT_PER_SECOND", value_name = "N")]
    rate_limit_per_second: Option<u32>,
    /// Requests a client may send at once before the rate applies.
    #[arg(long, env = "KRUISPUNT_RATE_LIMIT_BURST", value_name = "N")]
    rate_limit_burst: Option<u32>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub async fn run(args: ServeArgs, database: &str, file: &FileConfig) -> anyhow::Result<()> {
    init_logging(file.log_format.as_deref(), "info");
    let listen = args
        .listen
        .or_else(|| file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let defaults = WebConfig::default();
    let per_second = args
        .rate_limit_per_second
        .or(file.rate_limit_per_second)
        .unwrap_or(defaults.rate_limit.per_second);
    // Without an explicit burst, two seconds' worth.
    let burst = args
        .rate_limit_burst
        .or(file.rate_limit_burst)
        .unwrap_or_else(|| per_second.saturating_mul(2))
        .max(1);
    let config = WebConfig {
        public_url: args.public_url.or_else(|| file.public_url.clone()),
        body_limit: file.body_limit_bytes.unwrap_or(defaults.body_limit),
        batch_body_limit: file
            .batch_body_limit_bytes
            .unwrap_or(defaults.batch_body_limit),
        request_timeout: file
            .request_timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(defaults.request_timeout),
        token_ttl_seconds: file.token_ttl_seconds.unwrap_or(defaults.token_ttl_seconds),
        rate_limit: kruispunt_web::limits::RateLimit { per_second, burst },
        hub: kruispunt_hub::HubConfig {
            provider_timeout: file
                .provider_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.hub.provider_timeout),
            ..defaults.hub.clone()
        },
        oidc: crate::config::oidc(file)?,
    };
    let store = Store::open(database)
        .await
        .with_context(|| format!("cannot open the database {}", redact(database)))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let entropy: Arc<dyn Entropy> = Arc::new(SystemEntropy);
    let _ = kruispunt_web::telemetry::prometheus();
    let state = AppState::new(store.clone(), clock.clone(), entropy.clone(), config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start: {}", e.body.message))?;
    state.hub().spawn_workers();
    state.dimona().spawn_worker();
    if let Some(nats) =
        crate::config::nats(args.nats, args.nats_subject_prefix, args.nats_stream, file)
    {
        kruispunt_hub::nats::spawn(state.hub().clone(), nats);
        tracing::info!("publishing notifications to NATS JetStream");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| crate::usage(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr()?;
    if args.demo {
        crate::demo_cmd::serve_demo(&store, &state, clock.as_ref(), entropy.as_ref(), addr).await?;
    }
    println!(
        "kruispunt listening on http://{addr} (store: {} {})",
        store.backend().name(),
        redact(database)
    );
    tracing::info!(%addr, backend = store.backend().name(), "listening");
    kruispunt_web::serve(listener, state, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}
