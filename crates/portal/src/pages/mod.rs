//! The portal's pages, one module per audience.

mod auth;
mod batch;
mod citizen;
mod employer;
mod institution;
mod oidc;
mod operator;
mod public;

use crate::Portal;
use axum::Router;
use axum::routing::{get, post};
use std::collections::HashMap;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/", get(public::home))
        .route("/static/portal.css", get(public::css))
        .route("/authorizations", get(public::authorizations))
        .route("/statistics", get(public::statistics))
        .route("/faq", get(public::faq))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/employer", get(employer::home))
        .route(
            "/employer/dimona/new",
            get(employer::dimona_form).post(employer::dimona_submit),
        )
        .route("/employer/dimona/{id}", get(employer::dimona_status))
        .route("/employer/personnel-file", get(employer::personnel_file))
        .route("/employer/mailbox", get(employer::mailbox))
        .route("/employer/batch", get(batch::home))
        .route("/employer/batch/files/{name}", get(batch::file))
        .route(
            "/employer/batch/files/{name}/notification.xml",
            get(batch::notification_xml),
        )
        .route(
            "/employer/batch/files/{name}/acrf.xml",
            get(batch::acrf_xml),
        )
        .route("/citizen", get(citizen::home))
        .route("/citizen/access-log", get(citizen::access_log))
        .route("/citizen/corrections", post(citizen::request_correction))
        .route("/institution", get(institution::home))
        .route("/institution/references", post(institution::register))
        .route(
            "/institution/references/unregister",
            post(institution::unregister),
        )
        .route("/institution/references/upload", post(institution::upload))
        .route(
            "/institution/corrections/{id}",
            post(institution::answer_correction),
        )
        .route("/operator", get(operator::home))
        .route("/operator/verify", post(operator::verify))
        .route(
            "/operator/corrections/{id}",
            post(operator::answer_correction),
        )
}

/// Routes that take files larger than a form (their own body limit).
pub fn upload_routes() -> Router<Portal> {
    Router::new().route("/employer/batch", post(batch::upload))
}

/// A submitted form (or query string), field by field.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(pub HashMap<String, String>);

impl Fields {
    /// The trimmed value, `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
    /// Parses an `application/x-www-form-urlencoded` body, whatever the
    /// request's content type says (a missing body is an empty form).
    pub fn from_urlencoded(body: &[u8]) -> Self {
        fn decode(s: &str) -> String {
            let bytes = s.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'+' => out.push(b' '),
                    b'%' if i + 2 < bytes.len()
                        && bytes[i + 1].is_ascii_hexdigit()
                        && bytes[i + 2].is_ascii_hexdigit() =>
                    {
                        match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                            Ok(b) => {
                                out.push(b);
                                i += 2;
                            }
                            Err(_) => out.push(b'%'),
                        }
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        let text = String::from_utf8_lossy(body);
        Fields(
            text.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }
    pub fn value(&self, name: &str) -> String {
        self.get(name).unwrap_or("").to_owned()
    }
}

/// Field errors of a form: field name → translation key.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, key: &str) {
        if !self.0.iter().any(|(f, _)| f == field) {
            self.0.push((field.to_owned(), key.to_owned()));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `{"field": "translated message"}` and the ordered summary list.
    pub fn render(&self, portal: &Portal, lang: crate::i18n::Lang) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        let mut list = Vec::new();
        for (field, key) in &self.0 {
            let msg = portal.t(lang, key);
            map.insert(field.clone(), serde_json::Value::String(msg.clone()));
            list.push(serde_json::json!({"field": field, "message": msg}));
        }
        serde_json::json!({"by_field": map, "list": list})
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn urlencoded_bodies() {
        let f = Fields::from_urlencoded(b"csrf=a%2Bb&x=hello+world&bad=%zz&e=%C3%A9&t=%4&p=%+1");
        assert_eq!(f.value("csrf"), "a+b");
        assert_eq!(f.value("x"), "hello world");
        assert_eq!(f.value("bad"), "%zz");
        assert_eq!(f.value("e"), "é");
        assert_eq!(f.value("t"), "%4");
        assert_eq!(f.value("p"), "% 1");
        assert!(Fields::from_urlencoded(b"").0.is_empty());
    }
}
