//! The HTTP interface of kruispunt. The only crate that knows JSON-over-HTTP:
//! routing, extractors, the error envelope, authentication of requests,
//! metrics and the OpenAPI document.

pub mod auth;
mod error;
pub mod extract;
pub mod limits;
pub mod middleware;
pub mod openapi;
mod routes;
mod state;
pub mod telemetry;

pub use error::{ApiError, ErrorBody};
pub use state::{AppState, WebConfig, load_key_ring};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

/// The whole application router with its middleware stack.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let portal = state.portal().clone();
    let fallback_portal = portal.clone();
    // Body limits per router: JSON requests and forms are small, batch
    // files are not.
    let api = Router::new()
        .merge(routes::system::router())
        .merge(routes::oauth::router())
        .merge(routes::whoami::router())
        .merge(routes::hub::router())
        .merge(routes::dimona::router())
        .layer(RequestBodyLimitLayer::new(config.body_limit));
    let batch = routes::batch::router().layer(RequestBodyLimitLayer::new(config.batch_body_limit));
    let app = Router::new()
        .merge(api)
        .merge(batch)
        .with_state(state.clone())
        // The portal's HTML pages (its own middleware: language, session,
        // CSRF, security headers, and body limits: the forms get the API's
        // limit, the batch upload the batch channel's).
        .merge(kruispunt_portal::router(portal))
        .fallback(move |req: axum::extract::Request| {
            let portal = fallback_portal.clone();
            async move { routes::system::not_found(&portal, req).await }
        });
    middleware::apply(app, state, &config)
}

/// Serves until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
