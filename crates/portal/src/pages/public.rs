//! Public pages: home, the authorization register, live statistics, FAQ.

use super::Fields;
use crate::i18n::Lang;
use crate::stats::{BOUNDS_MS, TARGET_MS, TARGET_SHARE};
use crate::{Ctx, Portal, PortalError};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    portal.page(&ctx, "home.html", json!({}))
}

pub async fn css() -> Response {
    let mut res = include_str!("../../static/portal.css").into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// `active`, `revoked`, `expired` or `future` (as in the JSON register).
pub(crate) fn authorization_status(
    a: &kruispunt_store::AuthorizationRow,
    today: &str,
) -> &'static str {
    if a.revoked_at.is_some() {
        "revoked"
    } else if a.valid_from.as_str() > today {
        "future"
    } else if a.valid_to.as_deref().is_some_and(|t| t < today) {
        "expired"
    } else {
        "active"
    }
}

/// Lower case without accents, for searching across languages.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ß' => 's',
            other => other,
        })
        .collect()
}

pub(crate) async fn institution_names(
    portal: &Portal,
) -> Result<std::collections::HashMap<String, (String, Option<u16>)>, PortalError> {
    Ok(portal
        .store()
        .institutions()
        .await?
        .into_iter()
        .map(|i| (i.code.to_string(), (i.name, i.sector)))
        .collect())
}

pub async fn authorizations(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let today = portal.hub().today();
    let names = institution_names(&portal).await?;
    let all = portal.store().authorizations().await?;
    let text = q.get("q").map(fold);
    let status = q.get("status").unwrap_or("active");
    let service = q.get("service");
    let institution = q.get("institution");
    let mut services: Vec<String> = all.iter().map(|a| a.service.clone()).collect();
    services.sort();
    services.dedup();
    let mut institutions: Vec<(String, String)> = all
        .iter()
        .map(|a| {
            let name = names
                .get(&a.institution)
                .map(|n| n.0.clone())
                .unwrap_or_default();
            (a.institution.clone(), name)
        })
        .collect();
    institutions.sort();
    institutions.dedup();
    let mut items: Vec<Value> = all
        .iter()
        .filter(|a| status == "all" || authorization_status(a, &today) == status)
        .filter(|a| service.is_none_or(|s| a.service == s))
        .filter(|a| institution.is_none_or(|i| a.institution == i))
        .filter(|a| {
            text.as_deref().is_none_or(|t| {
                let name = names
                    .get(&a.institution)
                    .map(|n| n.0.as_str())
                    .unwrap_or("");
                fold(&format!(
                    "{} {} {} {} {}",
                    a.institution,
                    name,
                    a.service,
                    a.purpose,
                    a.deliberation.as_deref().unwrap_or("")
                ))
                .contains(t)
            })
        })
        .map(|a| {
            let (name, sector) = names.get(&a.institution).cloned().unwrap_or_default();
            json!({
                "institution": a.institution, "name": name, "sector": sector,
                "service": a.service, "purpose": a.purpose,
                "integration_check": a.integration_check, "deliberation": a.deliberation,
                "valid_from": a.valid_from, "valid_to": a.valid_to,
                "status": authorization_status(a, &today),
            })
        })
        .collect();
    items.sort_by(|a, b| {
        (
            a["institution"].as_str(),
            a["service"].as_str(),
            a["purpose"].as_str(),
        )
            .cmp(&(
                b["institution"].as_str(),
                b["service"].as_str(),
                b["purpose"].as_str(),
            ))
    });
    let institutions: Vec<Value> = institutions
        .into_iter()
        .map(|(code, name)| json!({"code": code, "name": name}))
        .collect();
    portal.page(
        &ctx,
        "authorizations.html",
        json!({
            "items": items, "count": items.len(), "services": services, "institutions": institutions,
            "q": q.value("q"), "status": status, "service": q.value("service"), "institution": q.value("institution"),
        }),
    )
}

/// One bar of a chart: the label, the values, and the geometry (SVG units).
fn bars(values: &[(String, i64, i64)], height: f64) -> (Vec<Value>, i64) {
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let out = values
        .iter()
        .enumerate()
        .map(|(i, (label, total, refused))| {
            let h = (*total as f64 / max as f64) * height;
            let hr = (*refused as f64 / max as f64) * height;
            json!({
                "label": label, "total": total, "refused": refused, "index": i,
                "h": format!("{h:.1}"), "y": format!("{:.1}", height - h),
                "hr": format!("{hr:.1}"), "yr": format!("{:.1}", height - hr),
            })
        })
        .collect();
    (out, max)
}

fn percent(x: f64, lang: Lang) -> String {
    let s = format!("{:.1}", x * 100.0);
    match lang {
        Lang::En => format!("{s} %"),
        _ => format!("{} %", s.replace('.', ",")),
    }
}

pub async fn statistics(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    let now = portal.now().millis();
    let hour_ms = 3_600_000;
    let day_ms = 86_400_000;
    let first_hour = (now / hour_ms - 23) * hour_ms;
    let hourly = portal.store().messages_per_hour(first_hour).await?;
    let hours: Vec<(String, i64, i64)> = (0..24)
        .map(|i| {
            let h = first_hour + i * hour_ms;
            let found = hourly.iter().find(|x| x.hour == h);
            let label = kruispunt_domain::clock::Timestamp(h).rfc3339()[11..16].to_owned();
            (
                label,
                found.map_or(0, |x| x.total),
                found.map_or(0, |x| x.refused),
            )
        })
        .collect();
    let first_day = (now / day_ms - 13) * day_ms;
    let daily = portal.store().declarations_per_day(first_day).await?;
    let days: Vec<(String, i64, i64)> = (0..14)
        .map(|i| {
            let d = first_day + i * day_ms;
            let found = daily.iter().find(|x| x.day == d);
            let iso = kruispunt_domain::clock::Timestamp(d).rfc3339()[..10].to_owned();
            let label = ctx.lang.date(&iso)[..5].to_owned();
            (
                label,
                found.map_or(0, |x| x.total),
                found.map_or(0, |x| x.refused),
            )
        })
        .collect();
    let messages_total: i64 = hours.iter().map(|h| h.1).sum();
    let refused_total: i64 = hours.iter().map(|h| h.2).sum();
    let declarations_total: i64 = days.iter().map(|d| d.1).sum();
    let (hour_bars, hour_max) = bars(&hours, 160.0);
    let (day_bars, day_max) = bars(&days, 160.0);
    let s = portal.response_times().summary();
    let counts = portal.response_times().counts();
    let distribution: Vec<Value> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let lower = if i == 0 { 0 } else { BOUNDS_MS[i - 1] };
            json!({"lower": lower, "upper": (BOUNDS_MS[i] != u64::MAX).then_some(BOUNDS_MS[i]), "count": c,
                   "pct": if s.count > 0 { format!("{:.1}", *c as f64 * 100.0 / s.count as f64) } else { "0".into() }})
        })
        .collect();
    let meets = s.within_target.map(|w| w >= TARGET_SHARE);
    portal.page(
        &ctx,
        "statistics.html",
        json!({
            "hours": hour_bars, "hour_max": hour_max, "days": day_bars, "day_max": day_max,
            "messages_total": messages_total, "refused_total": refused_total,
            "refused_share": if messages_total > 0 { percent(refused_total as f64 / messages_total as f64, ctx.lang) } else { "–".into() },
            "declarations_total": declarations_total,
            "requests": s.count, "p50": s.p50_ms, "p95": s.p95_ms, "p99": s.p99_ms,
            "within": s.within_target.map(|w| percent(w, ctx.lang)),
            "target": percent(TARGET_SHARE, ctx.lang), "target_seconds": TARGET_MS / 1000, "meets": meets,
            "distribution": distribution,
            "generated": kruispunt_domain::clock::Timestamp(now).rfc3339()[..16].replace('T', " "),
        }),
    )
}

/// Number of questions in the `faq.ftl` files (`faq-N-q`, `faq-N-a`, `faq-N-topic`).
pub const FAQ_ENTRIES: usize = 15;

pub async fn faq(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let query = q.get("q").map(fold);
    let words: Vec<String> = query
        .as_deref()
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let m = portal.messages();
    let items: Vec<Value> = (1..=FAQ_ENTRIES)
        .filter(|n| {
            // A question matches when every word appears in it, in any of the four languages.
            words.is_empty()
                || Lang::ALL.iter().any(|l| {
                    let text = fold(&format!(
                        "{} {} {}",
                        m.get(*l, &format!("faq-{n}-q"), &[]),
                        m.get(*l, &format!("faq-{n}-a"), &[]),
                        m.get(*l, &format!("faq-{n}-topic"), &[])
                    ));
                    words.iter().all(|w| text.contains(w.as_str()))
                })
        })
        .map(|n| {
            json!({
                "id": format!("q{n}"),
                "q": m.get(ctx.lang, &format!("faq-{n}-q"), &[]),
                "a": m.get(ctx.lang, &format!("faq-{n}-a"), &[]),
                "topic": m.get(ctx.lang, &format!("faq-{n}-topic"), &[]),
            })
        })
        .collect();
    portal.page(
        &ctx,
        "faq.html",
        json!({"items": items, "count": items.len(), "q": q.value("q"), "searched": query.is_some()}),
    )
}
