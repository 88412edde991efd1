//! The web crate's one integration-test binary: each test spawns the real
//! application on port 0 with a fresh database (SQLite, or PostgreSQL when
//! KRUISPUNT_TEST_DATABASE_URL is set) and talks HTTP to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batch;
mod daily_registrations;
mod dimona;
mod helpers;
mod hub;
mod limits;
mod matrix;
mod notice_webhooks;
mod oauth;
mod oidc;
mod portal;
mod system;
