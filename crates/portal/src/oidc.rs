//! Sign-in through an external OpenID Connect provider (authorization
//! code flow with PKCE, `state` and `nonce`). The provider is found by
//! discovery from the configured issuer; its ID token is verified against
//! its JWKS (`kruispunt_security::oidc`); the verified e-mail address must
//! belong to an existing portal account: nobody gets rights by signing in.

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::RwLock;

/// The provider's settings (configuration file `[oidc]`, or environment).
#[derive(Clone)]
pub struct OidcConfig {
    /// The issuer identifier, e.g. `https://login.example/realms/kruispunt`:
    /// discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes asked for; `openid` and `email` at least.
    pub scopes: String,
    /// The provider's name on the sign-in button (default: the issuer's host).
    pub label: Option<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_SCOPES: &str = "openid email";

/// Whether `url` is https, or http on this machine (tests, a local IdP).
fn acceptable_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl OidcConfig {
    /// Refuses a configuration that cannot work or would not be safe.
    pub fn check(&self) -> Result<(), String> {
        if !acceptable_url(&self.issuer) {
            return Err(format!(
                "oidc issuer {}: must be an https URL (http only on localhost)",
                self.issuer
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err("oidc client_id is empty".into());
        }
        if self.client_secret.is_empty() {
            return Err(
                "oidc client_secret is empty (set it in the file or KRUISPUNT_OIDC_CLIENT_SECRET)"
                    .into(),
            );
        }
        if !self.scopes.split_whitespace().any(|s| s == "openid") {
            return Err("oidc scopes must include openid".into());
        }
        Ok(())
    }

    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            self.issuer
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or(&self.issuer)
                .to_owned()
        })
    }
}

/// The provider's metadata (OpenID Connect Discovery 1.0).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// Why a sign-in through the provider did not succeed; each has a message
/// for the user (`login-oidc-…`) and a reason for the log (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The provider could not be reached or answered nonsense.
    Unavailable(String),
    /// The user cancelled, or the provider refused (`error=` in the callback).
    Cancelled,
    /// No sign-in under way for this browser, or it expired.
    Expired,
    /// The code exchange was refused or the ID token does not verify.
    Invalid(String),
    /// The provider did not vouch for the e-mail address.
    Unverified,
    /// No portal account has this e-mail address.
    NoAccount,
}

impl Failure {
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Failure::Unavailable(_) => "login-oidc-unavailable",
            Failure::Cancelled => "login-oidc-cancelled",
            Failure::Expired => "login-oidc-expired",
            Failure::Invalid(_) => "login-oidc-invalid",
            Failure::Unverified => "login-oidc-unverified",
            Failure::NoAccount => "login-oidc-no-account",
        }
    }
}

#[derive(Default)]
struct Cache {
    provider: Option<(Provider, i64)>,
    jwks: Option<(JwkSet, i64)>,
}

/// Discovery and JWKS are cached this long…
const CACHE_MS: i64 = 3600 * 1000;
/// …and the JWKS is fetched again for an unknown key id, at most this often.
const JWKS_REFRESH_MS: i64 = 60 * 1000;

pub(crate) struct Client {
    pub config: OidcConfig,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
}

impl Client {
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        config.check()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("oidc HTTP client: {e}"))?;
        Ok(Self {
            config,
            http,
            cache: RwLock::new(Cache::default()),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, Failure> {
        let res = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("GET {url}: {e}")))?;
        if !res.status().is_success() {
            return Err(Failure::Unavailable(format!(
                "GET {url}: status {}",
                res.status()
            )));
        }
        res.json()
            .await
            .map_err(|e| Failure::Unavailable(format!("GET {url}: {e}")))
    }

    /// The provider's metadata, from discovery (cached).
    pub async fn provider(&self, now: i64) -> Result<Provider, Failure> {
        if let Some((p, at)) = &self.cache.read().await.provider
            && now - at < CACHE_MS
        {
            return Ok(p.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let p: Provider = self.get_json(&url).await?;
        // Discovery §4.3: the document must name the issuer we asked.
        if p.issuer != self.config.issuer {
            return Err(Failure::Unavailable(format!(
                "discovery names issuer {}, not the configured one",
                p.issuer
            )));
        }
        for url in [&p.authorization_endpoint, &p.token_endpoint, &p.jwks_uri] {
            if !acceptable_url(url) {
                return Err(Failure::Unavailable(format!(
                    "discovery gives a non-https endpoint {url}"
                )));
            }
        }
        self.cache.write().await.provider = Some((p.clone(), now));
        Ok(p)
    }

    /// The provider's signing keys (cached; `refresh` fetches them again
    /// unless that was done less than a minute ago).
    async fn jwks(&self, provider: &Provider, now: i64, refresh: bool) -> Result<JwkSet, Failure> {
        if let Some((k, at)) = &self.cache.read().await.jwks {
            let fresh = now - at < CACHE_MS;
            let may_refresh = now - at >= JWKS_REFRESH_MS;
            if fresh && !(refresh && may_refresh) {
                return Ok(k.clone());
            }
        }
        let keys: JwkSet = self.get_json(&provider.jwks_uri).await?;
        self.cache.write().await.jwks = Some((keys.clone(), now));
        Ok(keys)
    }

    /// The authorization request the browser is sent to.
    pub fn authorization_url(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> String {
        let enc = crate::render::url_encode;
        let params = [
            ("response_type", "code".to_owned()),
            ("client_id", self.config.client_id.clone()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("scope", self.config.scopes.clone()),
            ("state", state.to_owned()),
            ("nonce", nonce.to_owned()),
            (
                "code_challenge",
                kruispunt_security::oidc::pkce_challenge(verifier),
            ),
            ("code_challenge_method", "S256".to_owned()),
        ];
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        let sep = if provider.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}{}",
            provider.authorization_endpoint,
            query.join("&")
        )
    }

    /// Exchanges the code for tokens and verifies the ID token.
    pub async fn finish(
        &self,
        provider: &Provider,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        nonce: &str,
        now: kruispunt_domain::clock::Timestamp,
    ) -> Result<kruispunt_security::oidc::IdToken, Failure> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", self.config.client_id.as_str()),
        ];
        let methods = &provider.token_endpoint_auth_methods_supported;
        let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
        let mut req = self.http.post(&provider.token_endpoint);
        if basic {
            // RFC 6749 §2.3.1: both parts form-encoded before base64.
            let enc = crate::render::url_encode;
            req = req.basic_auth(
                enc(&self.config.client_id),
                Some(enc(&self.config.client_secret)),
            );
        } else {
            form.push(("client_secret", self.config.client_secret.as_str()));
        }
        let res = req
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("token endpoint: {e}")))?;
        let status = res.status();
        let answer: TokenAnswer = res
            .json()
            .await
            .map_err(|e| Failure::Unavailable(format!("token endpoint answer: {e}")))?;
        let Some(token) = answer.id_token.filter(|_| status.is_success()) else {
            return Err(Failure::Invalid(format!(
                "token endpoint: status {status}, error {}",
                answer.error.as_deref().unwrap_or("-")
            )));
        };
        let expected = kruispunt_security::oidc::Expected {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce,
        };
        let kid = kruispunt_security::oidc::key_id(&token)
            .map_err(|e| Failure::Invalid(format!("ID token: {e}")))?;
        let mut keys = self.jwks(provider, now.millis(), false).await?;
        if let Some(k) = &kid
            && keys.find(k).is_none()
        {
            // The provider rotated its keys.
            keys = self.jwks(provider, now.millis(), true).await?;
        }
        kruispunt_security::oidc::verify_id_token(&token, &keys, expected, now)
            .map_err(|e| Failure::Invalid(format!("ID token: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_issuers_except_on_this_machine() {
        let c = |issuer: &str| OidcConfig {
            issuer: issuer.into(),
            client_id: "kruispunt".into(),
            client_secret: "s3cret".into(),
            scopes: DEFAULT_SCOPES.into(),
            label: None,
        };
        assert!(c("https://login.example/realms/kp").check().is_ok());
        assert!(c("http://127.0.0.1:8081").check().is_ok());
        assert!(c("http://localhost/idp").check().is_ok());
        assert!(c("http://login.example").check().is_err());
        assert!(c("http://localhost.evil.example").check().is_err());
        assert_eq!(
            c("https://login.example/realms/kp").label(),
            "login.example"
        );
        assert!(!format!("{:?}", c("https://x")).contains("s3cret"));
    }
}
