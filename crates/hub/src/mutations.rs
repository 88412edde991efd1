//! Changes at an authentic source and their push to entitled institutions;
//! audited changes of the authorization register.

use crate::messages::identification;
use crate::{Hub, HubError};
use kruispunt_domain::registers::Person;
use kruispunt_store::{AuditDraft, NewAuthorization, PersonChange, Store};
use serde_json::json;

impl Hub {
    /// Records a person in the National Register (new or changed) and, in
    /// the same transaction, audits it and notifies every institution
    /// entitled to identification data about them. Returns who was notified.
    pub async fn record_person(
        &self,
        person: &Person,
        actor: &str,
    ) -> Result<Vec<String>, HubError> {
        let now = self.now();
        let ticket = self.ticket();
        let data = identification(person)?.get().to_owned();
        let mut tx = self
            .store()
            .begin_audited(self.config().checkpoint_every)
            .await?;
        Store::upsert_person_in(tx.conn()?, self.store().backend(), person, now).await?;
        let backend = tx.backend();
        let notified = Store::notify_changes_in(
            tx.conn()?,
            backend,
            &[PersonChange {
                ssin: person.ssin.to_string(),
                data,
            }],
            "identification",
            "identification.changed",
            &self.today(),
            now.millis(),
        )
        .await?;
        tx.append(
            &[AuditDraft {
                ticket,
                at: now.millis(),
                kind: "person.update".into(),
                actor: actor.into(),
                service: Some("identification".into()),
                purpose: None,
                ssin: Some(person.ssin.to_string()),
                outcome: "done".into(),
                detail: Some(format!("notified {}", notified.len())),
                answer_digest: None,
            }],
            self.key(),
        )
        .await?;
        tx.commit().await?;
        if !notified.is_empty() {
            self.0.wake.notify_one();
        }
        Ok(notified)
    }

    /// Grants an authorization (the committee's decision), audited.
    pub async fn grant_authorization(
        &self,
        a: &NewAuthorization,
        actor: &str,
    ) -> Result<String, HubError> {
        let now = self.now().millis();
        let ticket = self.ticket();
        let mut tx = self
            .store()
            .begin_audited(self.config().checkpoint_every)
            .await?;
        let backend = tx.backend();
        Store::insert_authorization_in(tx.conn()?, backend, a, now).await?;
        tx.append(
            &[AuditDraft {
                ticket: ticket.clone(),
                at: now,
                kind: "authorization.grant".into(),
                actor: actor.into(),
                service: Some(a.service.clone()),
                purpose: Some(a.purpose.clone()),
                ssin: None,
                outcome: "done".into(),
                detail: Some(json!({"id": a.id, "institution": a.institution, "integrationCheck": a.integration_check, "deliberation": a.deliberation, "validFrom": a.valid_from, "validTo": a.valid_to}).to_string()),
                answer_digest: None,
            }],
            self.key(),
        )
        .await?;
        tx.commit().await?;
        self.0.authorizations.invalidate();
        Ok(ticket)
    }

    /// Revokes an authorization, audited. `false` if unknown or already revoked.
    pub async fn revoke_authorization(&self, id: &str, actor: &str) -> Result<bool, HubError> {
        let now = self.now().millis();
        let mut tx = self
            .store()
            .begin_audited(self.config().checkpoint_every)
            .await?;
        if !Store::revoke_authorization_in(tx.conn()?, id, now).await? {
            return Ok(false);
        }
        tx.append(
            &[AuditDraft {
                ticket: self.ticket(),
                at: now,
                kind: "authorization.revoke".into(),
                actor: actor.into(),
                service: None,
                purpose: None,
                ssin: None,
                outcome: "done".into(),
                detail: Some(json!({"id": id}).to_string()),
                answer_digest: None,
            }],
            self.key(),
        )
        .await?;
        tx.commit().await?;
        self.0.authorizations.invalidate();
        Ok(true)
    }
}
