//! The institution's page: its part of the reference directory (register,
//! unregister, CSV bulk upload — each through the hub's audited directory
//! service), its notification feed, the authorizations it holds, and the
//! correction requests addressed to it.

use super::public::{authorization_status, institution_names};
use super::{Errors, Fields};
use crate::{Ctx, Portal, PortalError};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::ids::Ssin;
use kruispunt_domain::registers::InstitutionCode;
use kruispunt_hub::HubError;
use kruispunt_hub::directory::ReferenceInput;
use serde_json::{Value, json};

pub const CORRECTION_STATUSES: &[&str] = &["submitted", "in-progress", "corrected", "rejected"];

/// The translation key of a directory refusal, and the field it is about.
pub(crate) fn hub_error(e: HubError) -> Result<(String, String), PortalError> {
    match e {
        HubError::Invalid(i) => {
            let field = i.field.rsplit('.').next().unwrap_or("").to_owned();
            let key = match field.as_str() {
                "ssin" => "error-ssin-invalid",
                "startDate" | "endDate" => "error-date-invalid",
                "capacity" => "hub-code-31002003",
                _ => "error-field-rejected",
            };
            Ok((field, key.to_owned()))
        }
        HubError::Rejected { code, field, .. } => Ok((
            field.unwrap_or_else(|| "ssin".into()),
            format!("hub-code-{}", code.code()),
        )),
        other => Err(other.into()),
    }
}

fn input(f: &Fields) -> ReferenceInput {
    ReferenceInput {
        ssin: f.get("ssin").map(str::to_owned),
        capacity: f.get("capacity").map(|c| json!(c)),
        start_date: f.get("startDate").map(str::to_owned),
        end_date: f.get("endDate").map(str::to_owned),
    }
}

#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    errors: Errors,
    values: Fields,
    notice: Option<String>,
    upload: Option<Value>,
}

async fn page(
    portal: &Portal,
    ctx: &Ctx,
    code: &InstitutionCode,
    filter: Option<&str>,
    out: Outcome,
) -> Result<Response, PortalError> {
    let names = institution_names(portal).await?;
    let (name, sector) = names.get(code.as_str()).cloned().unwrap_or_default();
    let today = portal.hub().today();
    let filter_ssin = filter
        .and_then(|s| Ssin::parse(s).ok())
        .map(|s| s.to_string());
    let references: Vec<Value> = portal
        .store()
        .recent_references_of(code.as_str(), filter_ssin.as_deref(), 100)
        .await?
        .iter()
        .map(|r| {
            let v = kruispunt_hub::directory::ReferenceView::of(r, &today);
            json!({"ssin": v.ssin, "capacity": v.capacity, "start": v.start_date, "end": v.end_date, "status": v.status})
        })
        .collect();
    let notifications: Vec<Value> = portal
        .store()
        .latest_notifications(code.as_str(), 50)
        .await?
        .iter()
        .map(|n| {
            let at = Timestamp(n.occurred_at).rfc3339();
            json!({"cursor": n.cursor, "kind": n.kind, "ssin": n.ssin, "date": &at[..10], "time": &at[11..16]})
        })
        .collect();
    let authorizations: Vec<Value> = portal
        .store()
        .authorizations()
        .await?
        .iter()
        .filter(|a| a.institution == code.as_str())
        .map(|a| {
            json!({"service": a.service, "purpose": a.purpose, "integration_check": a.integration_check,
                   "deliberation": a.deliberation, "valid_from": a.valid_from, "valid_to": a.valid_to,
                   "status": authorization_status(a, &today)})
        })
        .collect();
    let corrections = corrections_json(portal, code.as_str()).await?;
    let capacities: Vec<Value> = sector
        .map(|s| {
            kruispunt_domain::sectors::capacities_of(s)
                .map(|c| {
                    let label = portal
                        .messages()
                        .try_get(ctx.lang, &format!("capacity-{}-{}", s, c.code), &[])
                        .unwrap_or_else(|| c.label_en.to_owned());
                    json!({"value": c.code, "label": format!("{} – {label}", c.code)})
                })
                .collect()
        })
        .unwrap_or_default();
    let v = &out.values;
    portal.page_with_status(
        ctx,
        out.status.unwrap_or(StatusCode::OK),
        "institution.html",
        json!({
            "code": code.as_str(), "name": name, "sector": sector,
            "references": references, "notifications": notifications,
            "authorizations": authorizations, "corrections": corrections,
            "statuses": CORRECTION_STATUSES, "corrections_action": "/institution/corrections", "capacities": capacities,
            "filter": filter.unwrap_or(""),
            "errors": out.errors.render(portal, ctx.lang), "notice": out.notice, "upload": out.upload,
            "values": {"ssin": v.value("ssin"), "capacity": v.value("capacity"), "startDate": v.value("startDate"), "endDate": v.value("endDate")},
        }),
    )
}

pub(crate) async fn corrections_json(
    portal: &Portal,
    institution: &str,
) -> Result<Vec<Value>, PortalError> {
    Ok(portal
        .store()
        .corrections_for(institution, 100)
        .await?
        .iter()
        .map(|c| {
            let at = Timestamp(c.created_at).rfc3339();
            json!({"id": c.id, "ssin": c.ssin, "topic": c.topic, "message": c.message,
                   "status": c.status, "answer": c.answer, "date": &at[..10]})
        })
        .collect())
}

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let code = ctx.institution()?;
    let notice = q.get("done").map(|d| format!("institution-done-{d}"));
    page(
        &portal,
        &ctx,
        &code,
        q.get("ssin"),
        Outcome {
            notice,
            ..Outcome::default()
        },
    )
    .await
}

pub async fn register(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    let code = ctx.institution()?;
    ctx.check_csrf(form.get("csrf"))?;
    let mut errors = Errors::default();
    for (f, key) in [
        ("ssin", "error-ssin-missing"),
        ("capacity", "institution-error-capacity"),
        ("startDate", "error-date-missing"),
    ] {
        if form.get(f).is_none() {
            errors.add(f, key);
        }
    }
    if errors.is_empty() {
        match portal.hub().register_reference(&code, &input(&form)).await {
            Ok(_) => {
                return Ok(Redirect::to("/institution?done=register#directory").into_response());
            }
            Err(e) => {
                let (field, key) = hub_error(e)?;
                errors.add(&field, &key);
            }
        }
    }
    page(
        &portal,
        &ctx,
        &code,
        None,
        Outcome {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            errors,
            values: form,
            ..Outcome::default()
        },
    )
    .await
}

pub async fn unregister(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    let code = ctx.institution()?;
    ctx.check_csrf(form.get("csrf"))?;
    match portal
        .hub()
        .unregister_reference(&code, &input(&form))
        .await
    {
        Ok(_) => Ok(Redirect::to("/institution?done=unregister#directory").into_response()),
        Err(e) => {
            let (field, key) = hub_error(e)?;
            let mut errors = Errors::default();
            errors.add(&field, &key);
            page(
                &portal,
                &ctx,
                &code,
                None,
                Outcome {
                    status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                    errors,
                    ..Outcome::default()
                },
            )
            .await
        }
    }
}

/// A CSV of `ssin,capacity,startDate[,endDate]` lines (a header line is
/// skipped), each registered through the directory service; the answer
/// reports every line.
pub async fn upload(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    mut multipart: Multipart,
) -> Result<Response, PortalError> {
    let code = ctx.institution()?;
    let mut csrf = None;
    let mut text = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| PortalError::BadRequest)?
    {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(|_| PortalError::BadRequest)?),
            Some("file") => text = Some(field.text().await.map_err(|_| PortalError::BadRequest)?),
            _ => {}
        }
    }
    ctx.check_csrf(csrf.as_deref())?;
    let mut errors = Errors::default();
    let text = text.unwrap_or_default();
    if text.trim().is_empty() {
        errors.add("file", "institution-error-file");
        return page(
            &portal,
            &ctx,
            &code,
            None,
            Outcome {
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                errors,
                ..Outcome::default()
            },
        )
        .await;
    }
    let mut lines = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for (i, line) in text.lines().enumerate().take(5000) {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("ssin")) {
            continue;
        }
        let cells: Vec<&str> = line
            .split([',', ';'])
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let cell = |n: usize| {
            cells
                .get(n)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
        };
        let input = ReferenceInput {
            ssin: cell(0),
            capacity: cell(1).map(|c| json!(c)),
            start_date: cell(2),
            end_date: cell(3),
        };
        match portal.hub().register_reference(&code, &input).await {
            Ok(o) => {
                ok += 1;
                lines.push(json!({"line": i + 1, "ok": true, "unchanged": o.unchanged}));
            }
            Err(e) => {
                failed += 1;
                let (field, key) = hub_error(e)?;
                lines.push(json!({"line": i + 1, "ok": false, "field": field, "key": key}));
            }
        }
    }
    page(
        &portal,
        &ctx,
        &code,
        None,
        Outcome {
            status: Some(if failed == 0 {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            }),
            upload: Some(json!({"ok": ok, "failed": failed, "lines": lines})),
            ..Outcome::default()
        },
    )
    .await
}

pub async fn answer_correction(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    let code = ctx.institution()?;
    ctx.check_csrf(form.get("csrf"))?;
    answer(&portal, code.as_str(), &id, &form).await?;
    Ok(Redirect::to("/institution?done=correction#corrections").into_response())
}

pub(crate) async fn answer(
    portal: &Portal,
    institution: &str,
    id: &str,
    form: &Fields,
) -> Result<(), PortalError> {
    let status = form
        .get("status")
        .filter(|s| CORRECTION_STATUSES.contains(s))
        .ok_or(PortalError::BadRequest)?;
    let answer = form
        .get("answer")
        .map(|a| a.chars().take(2000).collect::<String>());
    let found = portal
        .store()
        .answer_correction(
            id,
            institution,
            status,
            answer.as_deref(),
            portal.now().millis(),
        )
        .await?;
    if found {
        Ok(())
    } else {
        Err(PortalError::NotFound)
    }
}
