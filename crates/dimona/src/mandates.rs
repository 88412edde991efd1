//! Mandates: a provider (social secretariat, accountant) declares for the
//! employers that gave it a mandate. The provider is registered in the
//! employer directory under its own ONSS number and uses its own employer
//! token; granting and revoking are audited like authorizations.

use crate::Dimona;
use kruispunt_domain::ids::EmployerId;
use kruispunt_hub::HubError;
use kruispunt_store::{AuditDraft, MandateRow, Store};
use serde_json::json;

/// What a mandate change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MandateChange {
    Done,
    /// Granting an active mandate, or revoking one that is not.
    Unchanged,
}

impl Dimona {
    /// Whether `caller` may declare and read for `employer`: itself, or
    /// with an active mandate from it.
    pub async fn may_act_for(
        &self,
        caller: EmployerId,
        employer: EmployerId,
    ) -> Result<bool, HubError> {
        if caller == employer {
            return Ok(true);
        }
        Ok(self
            .hub()
            .store()
            .has_mandate(employer.as_i64(), caller.as_i64())
            .await?)
    }

    /// Records that `employer` mandates `provider`; both must be in the
    /// employer directory.
    pub async fn grant_mandate(
        &self,
        employer: EmployerId,
        provider: EmployerId,
        actor: &str,
    ) -> Result<MandateChange, HubError> {
        self.change_mandate(employer, provider, actor, true).await
    }

    pub async fn revoke_mandate(
        &self,
        employer: EmployerId,
        provider: EmployerId,
        actor: &str,
    ) -> Result<MandateChange, HubError> {
        self.change_mandate(employer, provider, actor, false).await
    }

    pub async fn mandates_of(&self, party: EmployerId) -> Result<Vec<MandateRow>, HubError> {
        Ok(self.hub().store().mandates_of(party.as_i64()).await?)
    }

    async fn change_mandate(
        &self,
        employer: EmployerId,
        provider: EmployerId,
        actor: &str,
        grant: bool,
    ) -> Result<MandateChange, HubError> {
        if employer == provider {
            return Err(HubError::Invalid(kruispunt_domain::Invalid::new(
                "provider",
                "an employer needs no mandate to declare for itself",
            )));
        }
        for (field, id) in [("employer", employer), ("provider", provider)] {
            if self.hub().store().employer(id).await?.is_none() {
                return Err(HubError::Invalid(kruispunt_domain::Invalid::new(
                    field,
                    format!("no employer {id} in the employer directory"),
                )));
            }
        }
        let hub = self.hub();
        let now = hub.now().millis();
        let mut tx = hub
            .store()
            .begin_audited(hub.config().checkpoint_every)
            .await?;
        let (e, p) = (employer.as_i64(), provider.as_i64());
        let changed = if grant {
            Store::grant_mandate_in(tx.conn()?, e, p, now).await?
        } else {
            Store::revoke_mandate_in(tx.conn()?, e, p, now).await?
        };
        if !changed {
            return Ok(MandateChange::Unchanged);
        }
        // A provider whose mandate ends loses the notice webhook it set for
        // the employer, in the same transaction: the employer's notices
        // must not keep reaching it.
        let removed_hook = if grant {
            None
        } else {
            Store::remove_employer_webhook_registered_by_in(tx.conn()?, e, p).await?
        };
        let mut audit = vec![AuditDraft {
            ticket: hub.ticket(),
            at: now,
            kind: if grant {
                "mandate.grant"
            } else {
                "mandate.revoke"
            }
            .into(),
            actor: actor.into(),
            service: Some("dimona".into()),
            purpose: None,
            ssin: None,
            outcome: "done".into(),
            detail: Some(
                json!({"employer": employer.to_string(), "provider": provider.to_string()})
                    .to_string(),
            ),
            answer_digest: None,
        }];
        if let Some(url) = removed_hook {
            let mut entry =
                self.webhook_audit("dimona.webhook.remove", employer, provider, &url, now);
            entry.actor = actor.into();
            audit.push(entry);
        }
        tx.append(&audit, hub.key()).await?;
        tx.commit().await?;
        Ok(MandateChange::Done)
    }
}
