//! Webhook delivery from the durable outbox: at least once, signed, with
//! exponential backoff. Every server process runs a worker; leases keep
//! two workers from sending the same delivery at the same time.

use crate::Hub;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kruispunt_store::{Delivery, Notification};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::Notify;

const LEASE_MS: i64 = 30_000;
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
    let pruning = hub.clone();
    tokio::spawn(async move {
        loop {
            let now = pruning.now().millis();
            match pruning
                .store()
                .prune_delivered(now - DELIVERED_RETENTION_MS)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned delivered webhook outbox rows"),
                Err(e) => tracing::warn!(error = %e, "pruning the webhook outboxes failed"),
            }
            tokio::time::sleep(Duration::from_millis(PRUNE_EVERY_MS as u64)).await;
        }
    });
    let claiming = hub.clone();
    let waking = hub.clone();
    tokio::spawn(async move {
        run_outbox(
            "webhook",
            move |limit, saturated| {
                let hub = claiming.clone();
                async move {
                    let now = hub.now().millis();
                    Ok(hub
                        .store()
                        .claim_deliveries(now, LEASE_MS, limit, PER_RECEIVER as i64, &saturated)
                        .await?)
                }
            },
            |d: &Delivery| d.url.clone(),
            move |d| deliver(hub.clone(), d),
            &waking.0.wake,
        )
        .await
    });
}

/// Sends one claimed delivery and records its outcome.
async fn deliver(hub: Hub, d: Delivery) -> Result<(), crate::HubError> {
    let body = notification_json(&d.notification).to_string();
    let key = format!("{}-{}", d.notification.institution, d.notification.cursor);
    match post_signed(&hub, &d.url, &key, body).await {
        Ok(()) => {
            hub.store()
                .mark_delivered(d.notification.cursor, hub.now().millis())
                .await?;
            metrics::counter!("webhook_deliveries_total", "result" => "delivered").increment(1);
        }
        Err(error) => {
            let next = hub.now().millis() + backoff_seconds(d.attempts) * 1000;
            hub.store()
                .mark_delivery_failed(d.notification.cursor, next, &error)
                .await?;
            metrics::counter!("webhook_deliveries_total", "result" => "failed").increment(1);
        }
    }
    Ok(())
}

/// At most this many deliveries of one outbox worker are in flight.
pub const IN_FLIGHT: usize = 128;
/// A receiver (a webhook URL) gets at most this many per claim, and none
/// while it holds this many: one that hangs keeps at most
/// `2 × PER_RECEIVER − 1` slots, and the others share the rest.
pub const PER_RECEIVER: usize = 8;
/// The worker claims again once this many slots are free (or none is in
/// flight), so that a burst of completions costs one claim, not one each.
const CLAIM_AT: usize = 32;
/// Without a wake-up, the worker looks for due deliveries this often
/// (other processes' changes, retries coming due).
const POLL: Duration = Duration::from_millis(500);

/// The loop of an outbox worker (institutions' webhooks, employers'
/// notice webhooks). Deliveries do not wait for each other: each is a task
/// that records its own outcome, and free slots are refilled while slow
/// ones are still in flight, so a receiver that hangs until the timeout
/// holds back only its own deliveries, never a whole batch; nor can it
/// take every slot: a receiver gets at most [`PER_RECEIVER`] per claim and
/// none while it holds that many. `claim(n, saturated)` leases up to `n`
/// due deliveries, at most [`PER_RECEIVER`] per receiver and none for the
/// receivers in `saturated`; `receiver` names a delivery's receiver (its
/// URL); `wake` is notified when this process queues new ones.
pub async fn run_outbox<T, C, CF, R, S, SF>(
    outbox: &'static str,
    claim: C,
    receiver: R,
    send: S,
    wake: &Notify,
) where
    T: Send + 'static,
    C: Fn(i64, Vec<String>) -> CF,
    CF: Future<Output = Result<Vec<T>, crate::HubError>>,
    R: Fn(&T) -> String,
    S: Fn(T) -> SF,
    SF: Future<Output = Result<(), crate::HubError>> + Send + 'static,
{
    let mut sending = tokio::task::JoinSet::new();
    // Each task's receiver (by task id, so that a task that ended
    // abnormally is released too).
    let mut holding = Holding::default();
    loop {
        let room = IN_FLIGHT - sending.len();
        if room >= CLAIM_AT || sending.is_empty() {
            let saturated = holding.saturated();
            match claim(room as i64, saturated).await {
                Ok(due) => {
                    for d in due {
                        let url = receiver(&d);
                        let task = sending.spawn(send(d)).id();
                        holding.take(task, url);
                    }
                }
                Err(e) => tracing::warn!(outbox, error = %e, "claiming deliveries failed"),
            }
        }
        // Then wait for a delivery to finish (and claim into its slot), a
        // wake-up, or the poll.
        tokio::select! {
            Some(done) = sending.join_next_with_id(), if !sending.is_empty() => {
                holding.release(outbox, done);
                // Collect every other delivery that finished meanwhile.
                while let Some(done) = sending.try_join_next_with_id() {
                    holding.release(outbox, done);
                }
            }
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// What an outbox worker has in flight: each task's receiver.
#[derive(Default)]
struct Holding {
    by_task: std::collections::HashMap<tokio::task::Id, String>,
}

impl Holding {
    fn take(&mut self, task: tokio::task::Id, receiver: String) {
        self.by_task.insert(task, receiver);
    }

    /// Receivers that may not get more now (counted over at most
    /// [`IN_FLIGHT`] tasks, once per claim).
    fn saturated(&self) -> Vec<String> {
        let mut held: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for receiver in self.by_task.values() {
            *held.entry(receiver).or_default() += 1;
        }
        held.into_iter()
            .filter(|(_, n)| *n >= PER_RECEIVER)
            .map(|(url, _)| url.to_owned())
            .collect()
    }

    /// Frees the slot of a finished delivery and logs a failure to record
    /// its outcome (the lease brings such an attempt back after it expires).
    fn release(
        &mut self,
        outbox: &'static str,
        done: Result<(tokio::task::Id, Result<(), crate::HubError>), tokio::task::JoinError>,
    ) {
        let task = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        self.by_task.remove(&task);
        match done {
            Ok((_, Ok(()))) => {}
            Ok((_, Err(e))) => tracing::warn!(outbox, error = %e, "recording a delivery failed"),
            Err(e) => tracing::warn!(outbox, error = %e, "a delivery task ended abnormally"),
        }
    }
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
