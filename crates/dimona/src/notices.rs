//! Notices: every processed declaration is a notice in its employer's
//! mailbox (`GET /REST/dimona/v2/notices`) and, when the employer registered
//! a webhook, is POSTed there: queued in the processing transaction
//! (`dimona_notice_deliveries`), sent by [`Dimona::spawn_notice_delivery`]
//! at least once, signed like the hub's webhooks, with backoff.

use crate::Dimona;
use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::ids::EmployerId;
use kruispunt_domain::registers::http_url;
use kruispunt_hub::HubError;
use kruispunt_hub::delivery::{PER_RECEIVER, backoff_seconds, post_signed, run_outbox};
use kruispunt_store::{AuditDraft, DeclarationRow, EmployerWebhookRow, NoticeDelivery, Store};
use serde_json::{Value, json};

const LEASE_MS: i64 = 30_000;

/// A notice as the mailbox lists it and the webhook receives it: the
/// declaration `d`, processed, numbered `notice_seq`.
pub fn notice_json(notice_seq: i64, d: &DeclarationRow) -> Value {
    let anomalies: Value = d
        .anomalies
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(json!([]));
    let mut notice = json!({
        "noticeId": notice_seq, "employerId": d.employer_id, "declarationId": d.id,
        "declarationType": d.kind, "result": d.result,
        "period": d.period_id.map(|p| json!({"id": p})), "anomalies": anomalies,
        "processedAt": d.processed_at.map(|t| Timestamp(t).rfc3339()),
    });
    // Only on a daily registration's notice (declarationType DAILY).
    if let Some(id) = d.registration_id {
        notice["dailyRegistration"] = json!({"id": id});
    }
    notice
}

/// The `Idempotency-Key` of a notice's deliveries (the same on every retry).
pub fn notice_idempotency_key(employer_id: i64, notice_seq: i64) -> String {
    format!("dimona-{employer_id}-{notice_seq}")
}

impl Dimona {
    /// The employer's notice webhook, if it registered one.
    pub async fn notice_webhook(
        &self,
        employer: EmployerId,
    ) -> Result<Option<EmployerWebhookRow>, HubError> {
        Ok(self
            .hub()
            .store()
            .employer_webhook(employer.as_i64())
            .await?)
    }

    /// Sets (or replaces) the employer's notice webhook; `actor` is the
    /// employer or a provider it mandates (the caller checks the mandate).
    /// The URL must be an absolute http(s) URL without credentials, at most
    /// 2,000 characters (errors name `url`). Audited when it changes.
    pub async fn set_notice_webhook(
        &self,
        employer: EmployerId,
        url: &str,
        actor: EmployerId,
    ) -> Result<EmployerWebhookRow, HubError> {
        let url = http_url("url", url)?;
        let hub = self.hub();
        let now = hub.now().millis();
        let mut tx = hub
            .store()
            .begin_audited(hub.config().checkpoint_every)
            .await?;
        let changed = Store::set_employer_webhook_in(
            tx.conn()?,
            employer.as_i64(),
            &url,
            actor.as_i64(),
            now,
        )
        .await?;
        if changed {
            let entry = self.webhook_audit("dimona.webhook.set", employer, actor, &url, now);
            tx.append(&[entry], hub.key()).await?;
        }
        tx.commit().await?;
        self.notice_webhook(employer)
            .await?
            .ok_or_else(|| HubError::Internal("the webhook vanished after being set".into()))
    }

    /// Removes the employer's notice webhook and the deliveries not yet
    /// made (one already being sent may still arrive); `false` if it had
    /// none. Audited.
    pub async fn remove_notice_webhook(
        &self,
        employer: EmployerId,
        actor: EmployerId,
    ) -> Result<bool, HubError> {
        let hub = self.hub();
        let now = hub.now().millis();
        let mut tx = hub
            .store()
            .begin_audited(hub.config().checkpoint_every)
            .await?;
        let Some(old) = Store::remove_employer_webhook_in(tx.conn()?, employer.as_i64()).await?
        else {
            return Ok(false);
        };
        tx.append(
            &[self.webhook_audit("dimona.webhook.remove", employer, actor, &old, now)],
            hub.key(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The audit entry of a webhook change. Only the URL's origin is kept:
    /// its path or query may carry the receiver's secret.
    pub(crate) fn webhook_audit(
        &self,
        kind: &str,
        employer: EmployerId,
        actor: EmployerId,
        url: &str,
        now: i64,
    ) -> AuditDraft {
        let origin = url
            .split_once("://")
            .map(|(scheme, rest)| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                format!("{scheme}://{host}")
            })
            .unwrap_or_default();
        AuditDraft {
            ticket: self.hub().ticket(),
            at: now,
            kind: kind.into(),
            actor: format!("employer:{actor}"),
            service: Some("dimona".into()),
            purpose: None,
            ssin: None,
            outcome: "done".into(),
            detail: Some(json!({"employer": employer.to_string(), "origin": origin}).to_string()),
            answer_digest: None,
        }
    }

    async fn deliver_notice(&self, d: NoticeDelivery) -> Result<(), HubError> {
        let hub = self.hub();
        let store = hub.store();
        let Some(declaration) = store.notice(d.employer_id, d.notice_seq).await? else {
            // Processed again since (an S now identified): the mailbox
            // no longer lists this notice, its successor will be sent.
            store.drop_notice_delivery(d.notice_seq).await?;
            return Ok(());
        };
        let body = notice_json(d.notice_seq, &declaration).to_string();
        let key = notice_idempotency_key(d.employer_id, d.notice_seq);
        match post_signed(hub, &d.url, &key, body).await {
            Ok(()) => {
                store
                    .mark_notice_delivered(d.notice_seq, hub.now().millis())
                    .await?;
                metrics::counter!("dimona_notice_deliveries_total", "result" => "delivered")
                    .increment(1);
            }
            Err(error) => {
                let next = hub.now().millis() + backoff_seconds(d.attempts) * 1000;
                store
                    .mark_notice_delivery_failed(d.notice_seq, next, &error)
                    .await?;
                metrics::counter!("dimona_notice_deliveries_total", "result" => "failed")
                    .increment(1);
            }
        }
        Ok(())
    }

    /// The notice webhook worker (every server runs one; leases keep two
    /// from sending the same notice at once). Deliveries live in the store,
    /// so whatever was queued before a restart is sent after it; they do
    /// not wait for each other ([`run_outbox`]).
    pub fn spawn_notice_delivery(&self) {
        let claiming = self.clone();
        let sending = self.clone();
        let wake = self.notice_wake.clone();
        tokio::spawn(async move {
            run_outbox(
                "notice",
                move |limit, saturated| {
                    let dimona = claiming.clone();
                    async move {
                        let hub = dimona.hub();
                        Ok(hub
                            .store()
                            .claim_notice_deliveries(
                                hub.now().millis(),
                                LEASE_MS,
                                limit,
                                PER_RECEIVER as i64,
                                &saturated,
                            )
                            .await?)
                    }
                },
                |d: &NoticeDelivery| d.url.clone(),
                move |d| {
                    let dimona = sending.clone();
                    async move { dimona.deliver_notice(d).await }
                },
                &wake,
            )
            .await
        });
    }
}
