//! Server-side sessions: the browser holds a random 256-bit value in an
//! HttpOnly cookie, the store holds its SHA-256, the principal, the CSRF
//! token and the expiry (idle and absolute). Sign-in failures lock the
//! account after a few attempts and are throttled per address.

use crate::{Portal, SESSION_COOKIE, cookie};
use axum::http::HeaderMap;
use kruispunt_domain::principal::Principal;
use kruispunt_security::session::{digest, new_secret};
use kruispunt_store::{SessionRow, StoreError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The signed-in user of a request.
#[derive(Clone)]
pub struct SessionUser {
    pub id_hash: String,
    pub user_id: String,
    pub principal: Principal,
    pub csrf: String,
}

impl std::fmt::Debug for SessionUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionUser")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl SessionUser {
    /// What the header shows: never a citizen's SSIN or name.
    pub fn label(&self) -> String {
        match &self.principal {
            Principal::Employer(e) => format!("{e}"),
            Principal::Institution(c) => c.to_string(),
            Principal::Citizen(_) | Principal::Operator => String::new(),
        }
    }
}

/// Marks a response that ended the session (sign-out).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedOut;

pub(crate) async fn load(
    portal: &Portal,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, StoreError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if secret.len() != 43 {
        return Ok(None);
    }
    let id_hash = digest(&secret);
    let now = portal.now().millis();
    let Some(row) = portal.store().session(&id_hash, now).await? else {
        return Ok(None);
    };
    let Ok(principal) = Principal::parse_subject(&row.principal) else {
        return Ok(None);
    };
    // Slide the idle expiry, at most once a minute (not a write per page).
    if now - row.last_seen > 60_000 {
        let cfg = portal.config();
        let hard = row.created_at + cfg.session_max_seconds * 1000;
        let expires = (now + cfg.session_idle_seconds * 1000).min(hard);
        portal.store().touch_session(&id_hash, now, expires).await?;
    }
    Ok(Some(SessionUser {
        id_hash,
        user_id: row.user_id,
        principal,
        csrf: row.csrf,
    }))
}

/// Creates a session for a signed-in account; returns the cookie value.
pub(crate) async fn create(
    portal: &Portal,
    user_id: &str,
    principal: &str,
) -> Result<String, StoreError> {
    let secret = new_secret(portal.entropy());
    let now = portal.now().millis();
    let cfg = portal.config();
    portal
        .store()
        .insert_session(&SessionRow {
            id_hash: digest(&secret),
            user_id: user_id.to_owned(),
            principal: principal.to_owned(),
            csrf: new_secret(portal.entropy()),
            created_at: now,
            expires_at: now + cfg.session_idle_seconds.min(cfg.session_max_seconds) * 1000,
            last_seen: now,
        })
        .await?;
    Ok(secret)
}

/// Failed sign-ins per client address in a 15-minute window (in memory,
/// per process; the account lockout in the store holds across processes).
#[derive(Debug, Default)]
pub(crate) struct Throttle(Mutex<HashMap<IpAddr, (i64, u32)>>);

const WINDOW_MS: i64 = 15 * 60 * 1000;

impl Throttle {
    pub(crate) fn blocked(&self, ip: IpAddr, now: i64, max: u32) -> bool {
        let Ok(map) = self.0.lock() else {
            return false;
        };
        map.get(&ip)
            .is_some_and(|(start, n)| now - start < WINDOW_MS && *n >= max)
    }

    pub(crate) fn failure(&self, ip: IpAddr, now: i64) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (start, _)| now - *start < WINDOW_MS);
            }
            let e = map.entry(ip).or_insert((now, 0));
            if now - e.0 >= WINDOW_MS {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }

    pub(crate) fn success(&self, ip: IpAddr) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&ip);
        }
    }
}
