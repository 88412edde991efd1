//! Shared application state: the store, the clock, entropy, the signing key
//! ring, configuration.

use crate::error::ApiError;
use kruispunt_domain::clock::{Clock, Entropy, Timestamp};
use kruispunt_hub::{Hub, HubConfig};
use kruispunt_security::access_token::{KeyMaterial, KeyRing};
use kruispunt_store::{SigningKeyRow, Store};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// HTTP settings. Defaults are the production ones.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public base URL (e.g. `https://kruispunt.example`). When set, the
    /// token endpoint's audience is built from it; otherwise from the Host
    /// header the client used, over plain http.
    pub public_url: Option<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest accepted batch file (`PUT /batch/v1/files/...`), in bytes.
    pub batch_body_limit: usize,
    /// Time after which a request is answered 503 with a coded error.
    pub request_timeout: Duration,
    /// Lifetime of tokens issued by the token endpoint, in seconds.
    pub token_ttl_seconds: i64,
    /// Requests per client (token subject, else IP address); see `limits`.
    pub rate_limit: crate::limits::RateLimit,
    /// The hub's settings (provider timeout, checkpoints, group commit).
    pub hub: HubConfig,
    /// The portal's OpenID Connect provider, if any.
    pub oidc: Option<kruispunt_portal::OidcConfig>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            body_limit: 1024 * 1024,
            batch_body_limit: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            token_ttl_seconds: 600,
            rate_limit: crate::limits::RateLimit::DEFAULT,
            hub: HubConfig::default(),
            oidc: None,
        }
    }
}

struct Inner {
    store: Store,
    hub: Hub,
    dimona: kruispunt_dimona::Dimona,
    portal: kruispunt_portal::Portal,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    keys: RwLock<Arc<KeyRing>>,
    config: WebConfig,
    limiter: Option<crate::limits::RateLimiter>,
    /// Tokens already verified, with what they stand for: an Ed25519 check
    /// per request was a quarter of the server's CPU under load. Expiry is
    /// still checked on every use.
    verified: std::sync::RwLock<
        std::collections::HashMap<String, kruispunt_security::access_token::Verified>,
    >,
    /// Last time the ring was reloaded because of an unknown kid (ms), so a
    /// flood of forged kids cannot turn into a flood of queries.
    last_reload: std::sync::atomic::AtomicI64,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

fn material(rows: Vec<SigningKeyRow>) -> Vec<KeyMaterial> {
    rows.into_iter()
        .map(|r| KeyMaterial {
            kid: r.kid,
            seed: r.private_key,
            public: r.public_der,
            retired: r.retired_at.is_some(),
        })
        .collect()
}

/// Loads the key ring, creating the first key on first start.
pub async fn load_key_ring(
    store: &Store,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<KeyRing, ApiError> {
    let mut rows = store.signing_keys().await?;
    if !rows.iter().any(|r| r.retired_at.is_none()) {
        let k = KeyMaterial::generate(entropy)
            .map_err(|e| ApiError::internal(format!("key generation: {e}")))?;
        let row = SigningKeyRow {
            kid: k.kid.clone(),
            algorithm: kruispunt_security::access_token::ALGORITHM.into(),
            private_key: k.seed.clone(),
            public_der: k.public.clone(),
            created_at: clock.now().millis(),
            retired_at: None,
        };
        store.insert_first_signing_key(&row, clock.now()).await?;
        rows = store.signing_keys().await?;
    }
    KeyRing::new(&material(rows)).map_err(|e| ApiError::internal(format!("signing keys: {e}")))
}

impl AppState {
    pub async fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: WebConfig,
    ) -> Result<Self, ApiError> {
        let ring = load_key_ring(&store, clock.as_ref(), entropy.as_ref()).await?;
        let hub = Hub::new(
            store.clone(),
            clock.clone(),
            entropy.clone(),
            config.hub.clone(),
        )
        .await
        .map_err(|e| ApiError::internal(format!("hub: {e}")))?;
        let dimona = kruispunt_dimona::Dimona::new(hub.clone());
        let portal = kruispunt_portal::Portal::new(
            dimona.clone(),
            clock.clone(),
            entropy.clone(),
            kruispunt_portal::PortalConfig {
                form_body_limit: config.body_limit,
                upload_body_limit: config.batch_body_limit,
                oidc: config.oidc.clone(),
                ..kruispunt_portal::PortalConfig::for_public_url(config.public_url.as_deref())
            },
        )
        .map_err(|e| ApiError::internal(format!("portal: {e}")))?;
        Ok(Self(Arc::new(Inner {
            store,
            hub,
            dimona,
            portal,
            clock,
            entropy,
            keys: RwLock::new(Arc::new(ring)),
            limiter: crate::limits::RateLimiter::new(config.rate_limit),
            config,
            last_reload: std::sync::atomic::AtomicI64::new(0),
            verified: Default::default(),
        })))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }
    pub fn dimona(&self) -> &kruispunt_dimona::Dimona {
        &self.0.dimona
    }
    /// The HTML portal (its own router, sessions and languages).
    pub fn portal(&self) -> &kruispunt_portal::Portal {
        &self.0.portal
    }
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }
    pub fn entropy(&self) -> &dyn Entropy {
        self.0.entropy.as_ref()
    }
    pub fn config(&self) -> &WebConfig {
        &self.0.config
    }
    pub fn limiter(&self) -> Option<&crate::limits::RateLimiter> {
        self.0.limiter.as_ref()
    }

    /// The token's verification from the cache, or verified now against
    /// the current ring and remembered; `None` when it does not verify
    /// (without reloading the ring: the `Caller` extractor does that).
    pub fn verify_token_quick(
        &self,
        token: &str,
    ) -> Option<kruispunt_security::access_token::Verified> {
        if let Some(v) = self.cached_token(token) {
            return Some(v);
        }
        let v = self.keys().verify(token, self.now()).ok()?;
        self.remember_token(token, &v);
        Some(v)
    }

    pub fn keys(&self) -> Arc<KeyRing> {
        match self.0.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A previously verified, unexpired token.
    pub fn cached_token(&self, token: &str) -> Option<kruispunt_security::access_token::Verified> {
        let map = self.0.verified.read().ok()?;
        let v = map.get(token)?;
        let now_s = self.now().seconds();
        (v.expires_at + kruispunt_security::access_token::LEEWAY_SECONDS > now_s).then(|| v.clone())
    }

    /// Remembers a verified token (bounded: the cache is emptied when full).
    pub fn remember_token(&self, token: &str, v: &kruispunt_security::access_token::Verified) {
        const MAX: usize = 100_000;
        if let Ok(mut map) = self.0.verified.write() {
            if map.len() >= MAX {
                map.clear();
            }
            map.insert(token.to_owned(), v.clone());
        }
    }

    /// Re-reads the signing keys (after a rotation by another process), at
    /// most once per second. Returns whether a reload happened.
    pub async fn reload_keys(&self) -> Result<bool, ApiError> {
        use std::sync::atomic::Ordering;
        let now = self.now().millis();
        let last = self.0.last_reload.load(Ordering::Relaxed);
        if now - last < 1000
            || self
                .0
                .last_reload
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return Ok(false);
        }
        let ring = load_key_ring(
            &self.0.store,
            self.0.clock.as_ref(),
            self.0.entropy.as_ref(),
        )
        .await?;
        match self.0.keys.write() {
            Ok(mut g) => *g = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(true)
    }
}
