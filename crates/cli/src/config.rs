//! Configuration: flag > environment > file > default. The file is TOML and
//! unknown keys are refused (a typo must not silently fall back to a
//! default).

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub body_limit_bytes: Option<usize>,
    /// Largest batch file accepted (default 64 MiB).
    pub batch_body_limit_bytes: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
    pub token_ttl_seconds: Option<i64>,
    /// Sustained requests per second per client (token subject, else IP);
    /// 0 switches rate limiting off.
    pub rate_limit_per_second: Option<u32>,
    /// Requests a client may send at once before being throttled.
    pub rate_limit_burst: Option<u32>,
    /// NATS JetStream URL to publish notifications to.
    pub nats_url: Option<String>,
    /// Subject prefix of the NATS publication (default kruispunt.notifications).
    pub nats_subject_prefix: Option<String>,
    /// JetStream stream of the NATS publication (default KRUISPUNT_NOTIFICATIONS).
    pub nats_stream: Option<String>,
    /// Time an external provider gets to answer a forwarded message.
    pub provider_timeout_ms: Option<u64>,
    /// `json` (default for `serve`) or `text`.
    pub log_format: Option<String>,
    /// Portal sign-in through an OpenID Connect provider.
    pub oidc: Option<OidcFile>,
}

/// The NATS publication, when a URL is configured; each name: flag (or env) >
/// file > default. Several deployments (or test runs) on one NATS server
/// each need their own stream: message ids (<institution>-<cursor>) repeat
/// across stores, and JetStream would drop one store's as the other's
/// duplicates.
pub fn nats(
    url: Option<String>,
    subject_prefix: Option<String>,
    stream: Option<String>,
    file: &FileConfig,
) -> Option<kruispunt_hub::nats::NatsConfig> {
    let mut config = kruispunt_hub::nats::NatsConfig::new(&url.or_else(|| file.nats_url.clone())?);
    if let Some(p) = subject_prefix.or_else(|| file.nats_subject_prefix.clone()) {
        config.subject_prefix = p;
    }
    if let Some(s) = stream.or_else(|| file.nats_stream.clone()) {
        config.stream = s;
    }
    Some(config)
}

/// `[oidc]`: every key can also come from the environment
/// (`KRUISPUNT_OIDC_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_SCOPES`,
/// `_LABEL`), which wins over the file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcFile {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<String>,
    pub label: Option<String>,
}

impl std::fmt::Debug for OidcFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcFile")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The OIDC provider of the portal, if one is configured (environment >
/// file); an incomplete or unsafe configuration is a usage error.
pub fn oidc(file: &FileConfig) -> anyhow::Result<Option<kruispunt_portal::OidcConfig>> {
    let empty = OidcFile::default();
    let f = file.oidc.as_ref().unwrap_or(&empty);
    let pick = |env: &str, v: &Option<String>| {
        std::env::var(env)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| v.clone())
    };
    let Some(issuer) = pick("KRUISPUNT_OIDC_ISSUER", &f.issuer) else {
        return Ok(None);
    };
    let client_id = pick("KRUISPUNT_OIDC_CLIENT_ID", &f.client_id).ok_or_else(|| {
        crate::usage("oidc: client_id is missing (file or KRUISPUNT_OIDC_CLIENT_ID)")
    })?;
    let client_secret =
        pick("KRUISPUNT_OIDC_CLIENT_SECRET", &f.client_secret).ok_or_else(|| {
            crate::usage("oidc: client_secret is missing (file or KRUISPUNT_OIDC_CLIENT_SECRET)")
        })?;
    let config = kruispunt_portal::OidcConfig {
        issuer,
        client_id,
        client_secret,
        scopes: pick("KRUISPUNT_OIDC_SCOPES", &f.scopes)
            .unwrap_or_else(|| kruispunt_portal::OIDC_DEFAULT_SCOPES.to_owned()),
        label: pick("KRUISPUNT_OIDC_LABEL", &f.label),
    };
    config.check().map_err(crate::usage)?;
    Ok(Some(config))
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            crate::usage(format!(
                "configuration file {}: {}",
                path.display(),
                e.message()
            ))
        })
    }
}

pub fn database_url(flag_or_env: Option<&str>, file: &FileConfig) -> String {
    flag_or_env
        .map(str::to_owned)
        .or_else(|| file.database.clone())
        .unwrap_or_else(|| kruispunt_store::DEFAULT_SQLITE_PATH.to_owned())
}

/// The URL with any password replaced, for printing.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Structured logs on stderr. `RUST_LOG` overrides the default level.
pub fn init_logging(format: Option<&str>, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let format = std::env::var("KRUISPUNT_LOG_FORMAT")
        .ok()
        .or(format.map(str::to_owned));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format.as_deref() == Some("text") {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            toml::from_str::<FileConfig>("listen = \"x\"\nlisten_adress = \"y\"").unwrap_err();
        assert!(err.message().contains("listen_adress"));
    }

    #[test]
    fn precedence() {
        let file = FileConfig {
            database: Some("file.db".into()),
            ..Default::default()
        };
        assert_eq!(database_url(Some("flag.db"), &file), "flag.db");
        assert_eq!(database_url(None, &file), "file.db");
        assert_eq!(
            database_url(None, &FileConfig::default()),
            kruispunt_store::DEFAULT_SQLITE_PATH
        );
    }

    #[test]
    fn nats_names_come_from_flag_then_file_then_default() {
        assert!(nats(None, Some("p".into()), None, &FileConfig::default()).is_none());
        let file: FileConfig = toml::from_str(
            "nats_url = \"nats://f:4222\"\nnats_subject_prefix = \"file.prefix\"\nnats_stream = \"FILE\"",
        )
        .unwrap();
        let c = nats(None, None, None, &file).unwrap();
        assert_eq!(
            (c.url.as_str(), c.subject_prefix.as_str(), c.stream.as_str()),
            ("nats://f:4222", "file.prefix", "FILE")
        );
        let c = nats(
            Some("nats://flag:4222".into()),
            Some("flag.prefix".into()),
            Some("FLAG".into()),
            &file,
        )
        .unwrap();
        assert_eq!(
            (c.url.as_str(), c.subject_prefix.as_str(), c.stream.as_str()),
            ("nats://flag:4222", "flag.prefix", "FLAG")
        );
        let c = nats(Some("nats://x".into()), None, None, &FileConfig::default()).unwrap();
        assert_eq!(
            (c.subject_prefix.as_str(), c.stream.as_str()),
            ("kruispunt.notifications", "KRUISPUNT_NOTIFICATIONS")
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("./k.db"), "./k.db");
    }
}
