//! Templates (minijinja, files under `crates/portal/templates/`, embedded)
//! with the translation function `t(key, name=value…)` and date filters.

use crate::i18n::{ArgValue, Lang, Messages};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, State};
use std::sync::Arc;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "authorizations.html",
        include_str!("../templates/authorizations.html"),
    ),
    (
        "statistics.html",
        include_str!("../templates/statistics.html"),
    ),
    ("faq.html", include_str!("../templates/faq.html")),
    ("employer.html", include_str!("../templates/employer.html")),
    (
        "dimona_new.html",
        include_str!("../templates/dimona_new.html"),
    ),
    (
        "dimona_status.html",
        include_str!("../templates/dimona_status.html"),
    ),
    (
        "personnel_file.html",
        include_str!("../templates/personnel_file.html"),
    ),
    (
        "notices_table.html",
        include_str!("../templates/notices_table.html"),
    ),
    (
        "corrections_inbox.html",
        include_str!("../templates/corrections_inbox.html"),
    ),
    ("mailbox.html", include_str!("../templates/mailbox.html")),
    ("batch.html", include_str!("../templates/batch.html")),
    (
        "batch_file.html",
        include_str!("../templates/batch_file.html"),
    ),
    ("citizen.html", include_str!("../templates/citizen.html")),
    (
        "access_log.html",
        include_str!("../templates/access_log.html"),
    ),
    (
        "institution.html",
        include_str!("../templates/institution.html"),
    ),
    ("operator.html", include_str!("../templates/operator.html")),
];

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::Fr)
}

pub fn environment(messages: Arc<Messages>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    let m = messages.clone();
    env.add_function(
        "t",
        move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, Error> {
            let mut args: Vec<(String, ArgValue)> = Vec::new();
            for name in kwargs.args() {
                let v: Value = kwargs.get(name)?;
                let a = if let Some(n) = v.as_i64() {
                    ArgValue::Num(n as f64)
                } else {
                    ArgValue::Str(v.to_string())
                };
                args.push((name.to_owned(), a));
            }
            let refs: Vec<(&str, ArgValue)> =
                args.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            Ok(m.get(lang_of(state), key, &refs))
        },
    );
    let m = messages;
    // `t_or(key, fallback)`: the message if it exists (e.g. a capacity label), else the fallback.
    env.add_function(
        "t_or",
        move |state: &State, key: &str, fallback: Value| -> String {
            m.try_get(lang_of(state), key, &[])
                .unwrap_or_else(|| fallback.to_string())
        },
    );
    env.add_filter("date", |state: &State, v: Value| -> String {
        match v.as_str() {
            Some(s) => lang_of(state).date(s),
            None if v.is_none() || v.is_undefined() => String::new(),
            None => v.to_string(),
        }
    });
    env.add_filter("ssin", |v: Value| -> String {
        // 93051822361 → 93.05.18-223.61, the way it is printed on eID cards.
        let s = v.to_string();
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!(
                "{}.{}.{}-{}.{}",
                &s[0..2],
                &s[2..4],
                &s[4..6],
                &s[6..9],
                &s[9..11]
            )
        } else {
            s
        }
    });
    env.add_filter("urlencode", |v: Value| -> String {
        url_encode(&v.to_string())
    });
    Ok(env)
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn render(env: &Environment<'static>, name: &str, ctx: Value) -> Result<String, Error> {
    let tmpl = env.get_template(name)?;
    tmpl.render(ctx)
}
