//! The authorization register, cached in memory: it is small, read by every
//! message and changed rarely (committee decisions). The cache is reloaded
//! at most once per `MAX_AGE_MS` and at once after a grant or revocation
//! made by this process, so a change made elsewhere (another server, the
//! CLI) takes effect within that age everywhere.

use crate::{Hub, HubError};
use kruispunt_store::AuthorizationRow;
use std::collections::HashMap;
use std::sync::Arc;

pub const MAX_AGE_MS: i64 = 1000;

type Key = (String, String, String);

#[derive(Default)]
pub(crate) struct AuthCache {
    loaded_at: Option<i64>,
    by_key: HashMap<Key, Vec<AuthorizationRow>>,
}

pub(crate) struct AuthCacheCell {
    current: std::sync::RwLock<Arc<AuthCache>>,
    reload: tokio::sync::Mutex<()>,
}

impl Default for AuthCacheCell {
    fn default() -> Self {
        Self {
            current: std::sync::RwLock::new(Arc::new(AuthCache::default())),
            reload: tokio::sync::Mutex::new(()),
        }
    }
}

impl AuthCacheCell {
    fn get(&self) -> Arc<AuthCache> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    fn set(&self, c: AuthCache) {
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(c),
            Err(p) => *p.into_inner() = Arc::new(c),
        }
    }
    pub(crate) fn invalidate(&self) {
        self.set(AuthCache::default());
    }
}

fn fresh(c: &AuthCache, now: i64) -> bool {
    c.loaded_at.is_some_and(|t| now - t < MAX_AGE_MS)
}

impl Hub {
    async fn authorizations_snapshot(&self) -> Result<Arc<AuthCache>, HubError> {
        let now = self.now().millis();
        let cell = &self.0.authorizations;
        let c = cell.get();
        if fresh(&c, now) {
            return Ok(c);
        }
        let _guard = cell.reload.lock().await;
        let c = cell.get();
        if fresh(&c, now) {
            return Ok(c);
        }
        let mut by_key: HashMap<Key, Vec<AuthorizationRow>> = HashMap::new();
        for a in self.store().authorizations().await? {
            if a.revoked_at.is_none() {
                by_key
                    .entry((a.institution.clone(), a.service.clone(), a.purpose.clone()))
                    .or_default()
                    .push(a);
            }
        }
        cell.set(AuthCache {
            loaded_at: Some(now),
            by_key,
        });
        Ok(cell.get())
    }

    /// The valid authorization for (institution, service, purpose) on
    /// `today`: its id and whether the integration check applies (a waiver
    /// wins when both exist).
    pub async fn authorization_for(
        &self,
        institution: &str,
        service: &str,
        purpose: &str,
        today: &str,
    ) -> Result<Option<(String, bool)>, HubError> {
        let cache = self.authorizations_snapshot().await?;
        let key = (
            institution.to_owned(),
            service.to_owned(),
            purpose.to_owned(),
        );
        let mut valid: Vec<&AuthorizationRow> = cache
            .by_key
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter(|a| {
                        a.valid_from.as_str() <= today
                            && a.valid_to.as_deref().is_none_or(|t| t >= today)
                    })
                    .collect()
            })
            .unwrap_or_default();
        valid.sort_by_key(|a| a.integration_check);
        Ok(valid.first().map(|a| (a.id.clone(), a.integration_check)))
    }
}
