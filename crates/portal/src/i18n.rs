//! Languages and messages: Project Fluent bundles (one set of `.ftl` files
//! per locale under `crates/portal/locales/`, embedded at build time), and
//! the negotiation `?lang=` > cookie > `Accept-Language` > French.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::borrow::Cow;

/// The portal's four languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Fr,
    Nl,
    De,
    En,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::Fr, Lang::Nl, Lang::De, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::Nl => "nl",
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language's own name (for the switcher).
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::Nl => "Nederlands",
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim();
        let primary = s.split(['-', '_']).next().unwrap_or("");
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The best supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, f32)> = None;
        for (i, part) in header.split(',').enumerate().take(32) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Earlier entries win ties (browsers list by preference).
            let q = q - (i as f32) * 1e-4;
            if q <= 0.0 {
                continue;
            }
            if let Some(l) = Lang::parse(tag)
                && best.is_none_or(|(_, bq)| q > bq)
            {
                best = Some((l, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// Dates as people of this language write them.
    pub fn date(self, iso: &str) -> String {
        let parts: Vec<&str> = iso.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return iso.to_owned();
        };
        match self {
            Lang::Fr => format!("{d}/{m}/{y}"),
            Lang::Nl => format!("{d}-{m}-{y}"),
            Lang::De => format!("{d}.{m}.{y}"),
            Lang::En => format!("{d}/{m}/{y}"),
        }
    }
}

const SOURCES: [(Lang, [&str; 3]); 4] = [
    (
        Lang::Fr,
        [
            include_str!("../locales/fr/portal.ftl"),
            include_str!("../locales/fr/anomalies.ftl"),
            include_str!("../locales/fr/faq.ftl"),
        ],
    ),
    (
        Lang::Nl,
        [
            include_str!("../locales/nl/portal.ftl"),
            include_str!("../locales/nl/anomalies.ftl"),
            include_str!("../locales/nl/faq.ftl"),
        ],
    ),
    (
        Lang::De,
        [
            include_str!("../locales/de/portal.ftl"),
            include_str!("../locales/de/anomalies.ftl"),
            include_str!("../locales/de/faq.ftl"),
        ],
    ),
    (
        Lang::En,
        [
            include_str!("../locales/en/portal.ftl"),
            include_str!("../locales/en/anomalies.ftl"),
            include_str!("../locales/en/faq.ftl"),
        ],
    ),
];

/// Every locale's bundle. Built once at start; a broken `.ftl` file is a
/// start-up error (and a failing unit test), never a broken page.
pub struct Messages {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Messages")
    }
}

impl Messages {
    pub fn load() -> Result<Self, String> {
        let mut bundles = Vec::new();
        for (lang, files) in SOURCES {
            let id: unic_langid::LanguageIdentifier = lang
                .code()
                .parse()
                .map_err(|e| format!("language id {}: {e}", lang.code()))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks: the output is HTML, not mixed-direction text.
            bundle.set_use_isolating(false);
            for (i, src) in files.iter().enumerate() {
                let res = FluentResource::try_new((*src).to_owned()).map_err(|(_, errs)| {
                    format!("{} file {i}: {} syntax error(s)", lang.code(), errs.len())
                })?;
                bundle
                    .add_resource(res)
                    .map_err(|errs| format!("{} file {i}: {errs:?}", lang.code()))?;
            }
            bundles.push((lang, bundle));
        }
        Ok(Self { bundles })
    }

    fn bundle(&self, lang: Lang) -> Option<&FluentBundle<FluentResource>> {
        self.bundles
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, b)| b)
    }

    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.bundle(lang).is_some_and(|b| b.has_message(key))
    }

    /// The message `key` in `lang` (falling back to French, then to the key
    /// itself so a missing translation shows instead of breaking the page).
    pub fn get(&self, lang: Lang, key: &str, args: &[(&str, ArgValue)]) -> String {
        self.try_get(lang, key, args)
            .or_else(|| self.try_get(Lang::Fr, key, args))
            .unwrap_or_else(|| key.to_owned())
    }

    pub fn try_get(&self, lang: Lang, key: &str, args: &[(&str, ArgValue)]) -> Option<String> {
        let bundle = self.bundle(lang)?;
        let (id, attr) = match key.split_once('.') {
            Some((id, attr)) => (id, Some(attr)),
            None => (key, None),
        };
        let msg = bundle.get_message(id)?;
        let pattern = match attr {
            Some(a) => msg.get_attribute(a)?.value(),
            None => msg.value()?,
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            match v {
                ArgValue::Str(s) => fargs.set(*k, FluentValue::from(s.clone())),
                ArgValue::Num(n) => fargs.set(*k, FluentValue::from(*n)),
            }
        }
        let mut errors = Vec::new();
        let out: Cow<str> = bundle.format_pattern(pattern, Some(&fargs), &mut errors);
        Some(out.into_owned())
    }
}

/// An argument of a message.
#[derive(Debug, Clone)]
pub enum ArgValue {
    Str(String),
    Num(f64),
}

impl From<&str> for ArgValue {
    fn from(s: &str) -> Self {
        ArgValue::Str(s.to_owned())
    }
}
impl From<String> for ArgValue {
    fn from(s: String) -> Self {
        ArgValue::Str(s)
    }
}
impl From<i64> for ArgValue {
    fn from(n: i64) -> Self {
        ArgValue::Num(n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_negotiation() {
        assert_eq!(
            Lang::from_accept_language("nl-BE,nl;q=0.9,en;q=0.8"),
            Some(Lang::Nl)
        );
        assert_eq!(
            Lang::from_accept_language("es-ES, de;q=0.5, en;q=0.7"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("es, it"), None);
        assert_eq!(Lang::from_accept_language("en;q=0, de"), Some(Lang::De));
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::parse("DE-be"), Some(Lang::De));
    }

    #[test]
    fn every_locale_loads_and_has_every_french_message() {
        let m = Messages::load().expect("ftl files parse");
        // Every key of the French files exists in the three other languages.
        for (_, files) in SOURCES.iter().filter(|(l, _)| *l == Lang::Fr) {
            for src in files {
                for line in src.lines() {
                    let Some((key, _)) = line.split_once(" =") else {
                        continue;
                    };
                    if key.starts_with(['#', ' ', '.', '*', '[']) || key.is_empty() {
                        continue;
                    }
                    for lang in Lang::ALL {
                        assert!(m.has(lang, key), "{key} missing in {}", lang.code());
                    }
                }
            }
        }
    }

    #[test]
    fn anomaly_labels_match_the_domain_catalogue() {
        let m = Messages::load().expect("ftl files parse");
        for a in kruispunt_domain::dimona::anomaly::ALL {
            let key = format!("anomaly-{}", a.id);
            assert_eq!(m.get(Lang::Fr, &key, &[]), a.label_fr, "{key} fr");
            assert_eq!(m.get(Lang::Nl, &key, &[]), a.label_nl, "{key} nl");
            for lang in [Lang::De, Lang::En] {
                assert!(m.has(lang, &key), "{key} missing in {}", lang.code());
            }
        }
    }

    #[test]
    fn arguments_and_plurals() {
        let m = Messages::load().expect("ftl files parse");
        let one = m.get(Lang::En, "results-count", &[("count", 1i64.into())]);
        let many = m.get(Lang::En, "results-count", &[("count", 3i64.into())]);
        assert_ne!(one, many);
        assert!(many.contains('3'));
    }
}
