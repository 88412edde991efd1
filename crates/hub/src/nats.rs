//! Optional publication of notifications to NATS JetStream (`--nats URL`).
//!
//! The publisher follows the notifications table in cursor order from a
//! store counter (`nats_published`), publishes each to
//! `<prefix>.<institution>` with `Nats-Msg-Id` = `<institution>-<cursor>`,
//! waits for JetStream's ack, then advances the counter. A crash between
//! the ack and the counter update republishes; JetStream's duplicate window
//! drops the copy (same message id). Several servers may run publishers:
//! the counter moves by compare-and-set.

use crate::{Hub, HubError};
use async_nats::jetstream;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub url: String,
    /// Subject prefix; a notification for institution X goes to `<prefix>.X`.
    pub subject_prefix: String,
    pub stream: String,
}

impl NatsConfig {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            subject_prefix: "kruispunt.notifications".into(),
            stream: "KRUISPUNT_NOTIFICATIONS".into(),
        }
    }
}

const COUNTER: &str = "nats_published";
const BATCH: i64 = 256;

/// Connects, makes sure the stream exists, and returns the context.
pub async fn connect(config: &NatsConfig) -> Result<jetstream::Context, HubError> {
    let client = async_nats::connect(&config.url)
        .await
        .map_err(|e| HubError::Internal(format!("cannot connect to NATS: {e}")))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| HubError::Internal(format!("cannot create the JetStream stream: {e}")))?;
    Ok(js)
}

/// Publishes everything not yet published; returns how many.
pub async fn publish_pending(
    hub: &Hub,
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<usize, HubError> {
    let from = hub.store().counter(COUNTER).await?;
    let batch = hub.store().all_notifications_after(from, BATCH).await?;
    let Some(last) = batch.last().map(|n| n.cursor) else {
        return Ok(0);
    };
    for n in &batch {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{}-{}", n.institution, n.cursor).as_str(),
        );
        let body = crate::delivery::notification_json(n).to_string();
        let ack = js
            .publish_with_headers(
                format!("{}.{}", config.subject_prefix, n.institution),
                headers,
                body.into(),
            )
            .await
            .map_err(|e| HubError::Internal(format!("NATS publish: {e}")))?;
        ack.await
            .map_err(|e| HubError::Internal(format!("NATS ack: {e}")))?;
    }
    // Another publisher may have moved the counter meanwhile: fine, the
    // duplicates we sent were dropped by message id.
    hub.store().advance_counter(COUNTER, from, last).await?;
    metrics::counter!("nats_published_total").increment(batch.len() as u64);
    Ok(batch.len())
}

/// Runs the publisher until the process ends, reconnecting on failure.
pub fn spawn(hub: Hub, config: NatsConfig) {
    tokio::spawn(async move {
        loop {
            let js = match connect(&config).await {
                Ok(js) => js,
                Err(e) => {
                    tracing::warn!(error = %e, "NATS unavailable; retrying in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            loop {
                match publish_pending(&hub, &js, &config).await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(250)).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "NATS publication failed; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
}
