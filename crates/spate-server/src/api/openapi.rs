//! `GET /openapi.json`: the API described from the handlers' own annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{apps, error, stores};

#[derive(OpenApi)]
#[openapi(
    info(title = "Spate REST API", description = "WSO2 Streaming Integrator-compatible app management"),
    paths(
        apps::create, apps::update, apps::list, apps::content, apps::delete, apps::status,
        apps::backup, apps::restore, stores::query, super::health, super::is_active_node,
        super::metrics, document
    ),
    components(schemas(error::ApiMessage, apps::AppContent, apps::AppStatusBody, apps::BackupBody,
        stores::StoreQuery, stores::StoreRecords)),
    modifiers(&BasicAuth),
    security(("basic" = []))
)]
struct ApiDoc;

struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
