//! The hub's Ed25519 key: created on first start, stored, shared by every
//! server process on the store.

use crate::HubError;
use kruispunt_domain::clock::{Clock, Entropy};
use kruispunt_security::audit::{HubKey, HubKeyMaterial};
use kruispunt_store::{HubKeyRow, Store};

pub async fn load_or_create(
    store: &Store,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<HubKey, HubError> {
    let mut rows = store.hub_keys().await?;
    if rows.is_empty() {
        let m = HubKeyMaterial::generate(entropy).map_err(|e| HubError::Internal(e.to_string()))?;
        store
            .insert_first_hub_key(
                &HubKeyRow {
                    kid: m.kid,
                    private_key: m.seed,
                    public_key: m.public,
                },
                clock.now().millis(),
            )
            .await?;
        rows = store.hub_keys().await?;
    }
    let row = rows
        .last()
        .ok_or_else(|| HubError::Internal("no hub key".into()))?;
    HubKey::new(&HubKeyMaterial {
        kid: row.kid.clone(),
        seed: row.private_key.clone(),
        public: row.public_key.clone(),
    })
    .map_err(|e| HubError::Internal(e.to_string()))
}
