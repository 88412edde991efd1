//! The citizen's pages: my data (identification from the National
//! Register, employments from Dimona), who accessed it (the hub's audit
//! log), and correction requests routed to the authentic source.

use super::public::institution_names;
use super::{Errors, Fields};
use crate::{Ctx, Portal, PortalError};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kruispunt_domain::clock::{Timestamp, format_date};
use kruispunt_domain::ids::Ssin;
use kruispunt_store::CorrectionRow;
use serde_json::{Value, json};

/// Who validates what a person may ask to correct: the National Register
/// (handled by the platform operators in kruispunt) for identification,
/// ONSS for employment (Dimona) data.
pub const TOPICS: &[(&str, &str)] = &[("identification", "RN"), ("employment", "ONSS")];

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    let ssin = ctx.citizen()?;
    // A person's own reads are logged like anyone else's, before the data
    // is shown (the operators' audit verification covers them).
    portal
        .hub()
        .audit_self_access(&ssin, "identification,employment", "portal")
        .await?;
    let person = portal.store().person(&ssin).await?;
    let mut employments = Vec::new();
    for p in portal.store().periods_of_person(&ssin.to_string()).await? {
        let name = match kruispunt_domain::ids::EmployerId::parse(&p.employer_id.to_string()) {
            Ok(id) => portal.store().employer(id).await?.map(|e| e.name),
            Err(_) => None,
        };
        employments.push(json!({
            "employer": name, "employer_id": p.employer_id, "start": p.start_date, "end": p.end_date,
            "worker_type": p.worker_type, "status": p.status,
        }));
    }
    employments.reverse();
    let person = person.map(|p| {
        json!({
            "ssin": p.ssin.to_string(), "last_name": p.last_name, "first_name": p.first_name,
            "birth_date": p.birth_date.map(format_date), "sex": p.sex.map(|s| s.code()),
            "nationality": p.nationality.map(|n| n.as_str().to_owned()),
            "address": p.address.map(|a| json!({"line1": format!("{} {}", a.street, a.house_number),
                "line2": format!("{} {}", a.postal_code, a.municipality), "country": a.country})),
            "death_date": p.death_date.map(format_date),
        })
    });
    portal.page(
        &ctx,
        "citizen.html",
        json!({"person": person, "employments": employments}),
    )
}

async fn access_log_page(
    portal: &Portal,
    ctx: &Ctx,
    ssin: &Ssin,
    status: StatusCode,
    form: &Fields,
    errors: &Errors,
    sent: bool,
) -> Result<Response, PortalError> {
    let names = institution_names(portal).await?;
    let items: Vec<Value> = portal
        .store()
        .audit_messages_about(&ssin.to_string(), 1000)
        .await?
        .into_iter()
        .map(|r| {
            let code = r
                .actor
                .strip_prefix("institution:")
                .unwrap_or(&r.actor)
                .to_owned();
            let at = Timestamp(r.at).rfc3339();
            let (name, sector) = names.get(&code).cloned().unwrap_or_default();
            let refused = r.outcome == "not-authorized" || r.outcome == "not-integrated";
            json!({
                "institution": code, "name": name, "sector": sector,
                "service": r.service, "purpose": r.purpose,
                "date": &at[..10], "time": &at[11..16], "outcome": r.outcome, "refused": refused,
            })
        })
        .collect();
    let corrections: Vec<Value> = portal
        .store()
        .corrections_of_person(&ssin.to_string())
        .await?
        .iter()
        .map(|c| {
            let at = Timestamp(c.created_at).rfc3339();
            json!({"topic": c.topic, "institution": c.institution, "status": c.status,
                   "message": c.message, "answer": c.answer, "date": &at[..10]})
        })
        .collect();
    let (own, last) = portal
        .store()
        .audit_self_accesses(&ssin.to_string())
        .await?;
    let own_last = last.map(|t| {
        let at = Timestamp(t).rfc3339();
        json!({"date": at.get(..10), "time": at.get(11..16)})
    });
    portal.page_with_status(
        ctx,
        status,
        "access_log.html",
        json!({
            "items": items, "corrections": corrections, "sent": sent,
            "own": own, "own_last": own_last,
            "errors": errors.render(portal, ctx.lang),
            "values": {"topic": form.value("topic"), "message": form.value("message")},
        }),
    )
}

pub async fn access_log(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Fields>,
) -> Result<Response, PortalError> {
    let ssin = ctx.citizen()?;
    access_log_page(
        &portal,
        &ctx,
        &ssin,
        StatusCode::OK,
        &Fields::default(),
        &Errors::default(),
        q.get("sent").is_some(),
    )
    .await
}

pub async fn request_correction(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    let ssin = ctx.citizen()?;
    ctx.check_csrf(form.get("csrf"))?;
    let mut errors = Errors::default();
    let institution = form
        .get("topic")
        .and_then(|t| TOPICS.iter().find(|(k, _)| *k == t));
    if institution.is_none() {
        errors.add("topic", "correction-error-topic");
    }
    let message = form.value("message");
    if message.is_empty() {
        errors.add("message", "correction-error-message");
    } else if message.chars().count() > 2000 {
        errors.add("message", "correction-error-too-long");
    }
    let Some((topic, institution)) = institution.filter(|_| errors.is_empty()) else {
        return access_log_page(
            &portal,
            &ctx,
            &ssin,
            StatusCode::BAD_REQUEST,
            &form,
            &errors,
            false,
        )
        .await;
    };
    let now = portal.now().millis();
    portal
        .store()
        .insert_correction(&CorrectionRow {
            id: format!("cor-{}", portal.entropy().token_hex()),
            ssin: ssin.to_string(),
            topic: (*topic).to_owned(),
            institution: (*institution).to_owned(),
            message,
            status: "submitted".into(),
            answer: None,
            created_at: now,
            updated_at: now,
        })
        .await?;
    tracing::info!(topic, institution, "correction request filed");
    Ok(Redirect::to("/citizen/access-log?sent=1#corrections").into_response())
}
