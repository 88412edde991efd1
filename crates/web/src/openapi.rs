//! The OpenAPI 3 document, generated from the handlers' annotations so it
//! cannot drift from the code.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "kruispunt", description = "The Belgian social-security network hub: Crossroads Bank, Dimona, portal. Every error answer is {\"error\":{\"code\",\"message\",\"field\"?},\"requestId\"}."),
    paths(
        crate::routes::system::health,
        crate::routes::system::ready,
        crate::routes::system::metrics,
        crate::routes::system::openapi,
        crate::routes::system::jwks,
        crate::routes::oauth::token,
        crate::routes::whoami::whoami,
        crate::routes::hub::authorizations,
        crate::routes::hub::register,
        crate::routes::hub::unregister,
        crate::routes::hub::list_references,
        crate::routes::hub::message,
        crate::routes::hub::notifications,
        crate::routes::hub::access_log,
        crate::routes::hub::audit_key,
        crate::routes::hub::checkpoints,
        crate::routes::hub::register_provider,
        crate::routes::dimona::declare,
        crate::routes::dimona::declaration,
        crate::routes::dimona::periods,
        crate::routes::dimona::notices,
        crate::routes::dimona::webhook,
        crate::routes::dimona::set_webhook,
        crate::routes::dimona::remove_webhook,
        crate::routes::batch::upload,
        crate::routes::batch::file_notification,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "system", description = "Health, metrics, this document"),
         (name = "oauth", description = "OAuth2 client credentials with JWT client assertions"),
         (name = "identity", description = "Who the caller is"),
         (name = "hub", description = "The crossroads hub: reference directory, authorizations, messages, mutations, audit"),
         (name = "dimona", description = "Dimona, compatible with the ONSS Dimona REST API v2"),
         (name = "batch", description = "The batch channel: ONSS XML files (Dimona_20231), ACRF and NOTIFICATION"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON (computed once).
pub fn document_json() -> String {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".into())
    })
    .clone()
}
