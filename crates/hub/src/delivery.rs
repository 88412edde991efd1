//! Webhook delivery from the durable outbox: at least once, signed, with
//! exponential backoff. Every server process runs a worker; leases keep
//! two workers from sending the same delivery at the same time.

use crate::Hub;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kruispunt_store::Notification;
use serde_json::{Value, json};
use std::time::Duration;

const LEASE_MS: i64 = 30_000;
const BATCH: i64 = 32;
const MAX_BACKOFF_S: i64 = 3600;

/// The JSON of a notification, as in the pull feed and webhook bodies.
pub fn notification_json(n: &Notification) -> Value {
    json!({
        "cursor": n.cursor.to_string(),
        "kind": n.kind,
        "ssin": n.ssin,
        "occurredAt": kruispunt_domain::clock::Timestamp(n.occurred_at).rfc3339(),
        "data": serde_json::from_str::<Value>(&n.data).unwrap_or(Value::Null),
    })
}

/// Delay before attempt `attempts + 1`: 1 s, 2 s, 4 s ... capped at 1 h.
pub fn backoff_seconds(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 13) - 1;
    (1i64 << exp).min(MAX_BACKOFF_S)
}

/// How long delivered rows stay in the outboxes (for operators looking
/// into a receiver's complaint) before the worker prunes them.
pub const DELIVERED_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// How often a worker prunes delivered rows.
const PRUNE_EVERY_MS: i64 = 3600 * 1000;

pub fn spawn(hub: Hub) {
    tokio::spawn(async move {
        let mut pruned_at = i64::MIN;
        loop {
            let now = hub.now().millis();
            if now.saturating_sub(pruned_at) >= PRUNE_EVERY_MS {
                pruned_at = now;
                match hub
                    .store()
                    .prune_delivered(now - DELIVERED_RETENTION_MS)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "pruned delivered webhook outbox rows"),
                    Err(e) => tracing::warn!(error = %e, "pruning the webhook outboxes failed"),
                }
            }
            let sent = match deliver_due(&hub).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery pass failed");
                    0
                }
            };
            if sent == 0 {
                // Sleep until woken by a local change, or poll (changes made
                // by other processes on the same store).
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), hub.0.wake.notified()).await;
            }
        }
    });
}

/// One pass: claims due deliveries and sends them, all at once (a
/// receiver that hangs until the timeout does not hold the others back).
/// Returns how many were tried.
pub async fn deliver_due(hub: &Hub) -> Result<usize, crate::HubError> {
    let now = hub.now().millis();
    let due = hub.store().claim_deliveries(now, LEASE_MS, BATCH).await?;
    let n = due.len();
    let mut sending = tokio::task::JoinSet::new();
    for d in due {
        let hub = hub.clone();
        sending.spawn(async move {
            let body = notification_json(&d.notification).to_string();
            let key = format!("{}-{}", d.notification.institution, d.notification.cursor);
            match post_signed(&hub, &d.url, &key, body).await {
                Ok(()) => {
                    hub.store()
                        .mark_delivered(d.notification.cursor, hub.now().millis())
                        .await?;
                    metrics::counter!("webhook_deliveries_total", "result" => "delivered")
                        .increment(1);
                }
                Err(error) => {
                    let next = hub.now().millis() + backoff_seconds(d.attempts) * 1000;
                    hub.store()
                        .mark_delivery_failed(d.notification.cursor, next, &error)
                        .await?;
                    metrics::counter!("webhook_deliveries_total", "result" => "failed")
                        .increment(1);
                }
            }
            Ok::<(), crate::HubError>(())
        });
    }
    sent_all(sending).await?;
    Ok(n)
}

/// Waits for every delivery of a pass; the first error, if any (the
/// lease brings an attempt whose outcome was not recorded back after it
/// expires).
pub async fn sent_all(
    mut sending: tokio::task::JoinSet<Result<(), crate::HubError>>,
) -> Result<(), crate::HubError> {
    let mut first_error = None;
    while let Some(done) = sending.join_next().await {
        let failed = match done {
            Ok(r) => r.err(),
            Err(e) => Some(crate::HubError::Internal(format!("delivery task: {e}"))),
        };
        first_error = first_error.or(failed);
    }
    first_error.map_or(Ok(()), Err)
}

/// POSTs a JSON `body` to a webhook `url` the way every kruispunt webhook
/// is sent: `Idempotency-Key`, `Kruispunt-Key-Id` and
/// `Kruispunt-Signature: t=<unix seconds>,ed25519=<base64url signature of
/// "<t>.<body>">` with the hub key (public at `GET /hub/v1/audit/key`).
/// `Err` says why the attempt failed (for `last_error`; no URL, no body).
pub async fn post_signed(
    hub: &Hub,
    url: &str,
    idempotency_key: &str,
    body: String,
) -> Result<(), String> {
    let t = hub.now().seconds();
    let sig = hub.key().sign(format!("{t}.{body}").as_bytes());
    let res = hub
        .0
        .http
        .post(url)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json")
        .header("idempotency-key", idempotency_key)
        .header("kruispunt-key-id", hub.key().kid())
        .header(
            "kruispunt-signature",
            format!("t={t},ed25519={}", URL_SAFE_NO_PAD.encode(sig)),
        )
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("answered {}", r.status())),
        Err(e) if e.is_timeout() => Err("timed out".to_owned()),
        Err(_) => Err("cannot be reached".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff_seconds(1), 1);
        assert_eq!(backoff_seconds(2), 2);
        assert_eq!(backoff_seconds(5), 16);
        assert_eq!(backoff_seconds(40), 3600);
    }
}
