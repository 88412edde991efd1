//! The operator's page: the audit chain (head, latest signed checkpoint,
//! a full verification on demand) and the National Register's correction
//! requests (handled by the platform's operators in kruispunt).

use super::Fields;
use super::institution::{CORRECTION_STATUSES, answer, corrections_json};
use crate::{Ctx, Portal, PortalError};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kruispunt_domain::clock::Timestamp;
use serde_json::{Value, json};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn page(
    portal: &Portal,
    ctx: &Ctx,
    verification: Option<Value>,
) -> Result<Response, PortalError> {
    let (head_seq, head_hash) = portal.store().audit_head().await?;
    // The latest checkpoint: page through from the last known region.
    let mut latest = None;
    let mut after = 0;
    loop {
        let page = portal.store().checkpoints(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        latest = Some(last.clone());
        if page.len() < 1000 {
            break;
        }
    }
    let checkpoint = latest.map(|c| {
        json!({
            "seq": c.seq, "hash": hex(&c.hash), "kid": c.kid,
            "at": Timestamp(c.at).rfc3339()[..19].replace('T', " "),
            "signature": hex(&c.signature),
        })
    });
    let corrections = corrections_json(portal, "RN").await?;
    portal.page(
        ctx,
        "operator.html",
        json!({
            "head_seq": head_seq, "head_hash": hex(&head_hash), "checkpoint": checkpoint,
            "verification": verification, "corrections": corrections, "statuses": CORRECTION_STATUSES, "corrections_action": "/operator/corrections",
        }),
    )
}

pub async fn home(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, PortalError> {
    ctx.operator()?;
    page(&portal, &ctx, None).await
}

/// Recomputes the whole chain and checks every signed checkpoint (the
/// same check as `kruispunt audit verify`).
pub async fn verify(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    ctx.operator()?;
    ctx.check_csrf(form.get("csrf"))?;
    let started = std::time::Instant::now();
    let result = kruispunt_hub::verify::verify(portal.store()).await?;
    let ms = started.elapsed().as_millis() as i64;
    let v = match result {
        Ok(r) => {
            json!({"ok": true, "entries": r.entries, "checkpoints": r.checkpoints, "head": r.head_hash, "ms": ms})
        }
        Err(b) => json!({"ok": false, "seq": b.seq, "reason": b.reason, "ms": ms}),
    };
    tracing::info!(
        intact = v["ok"].as_bool(),
        "audit verification from the portal"
    );
    page(&portal, &ctx, Some(v)).await
}

pub async fn answer_correction(
    State(portal): State<Portal>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PortalError> {
    ctx.operator()?;
    ctx.check_csrf(form.get("csrf"))?;
    answer(&portal, "RN", &id, &form).await?;
    Ok(Redirect::to("/operator#corrections").into_response())
}
