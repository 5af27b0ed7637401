//! The REST API, on WSO2 Streaming Integrator's paths and status codes:
//!
//! | Method and path | Answer |
//! |---|---|
//! | `POST /siddhi-apps` (body: app text) | 201 + `Location`; 400 invalid (line:column); 409 exists |
//! | `PUT /siddhi-apps` | 200 updated or 201 created; 400 invalid |
//! | `GET /siddhi-apps[?isActive=true]` | 200, the app names |
//! | `GET /siddhi-apps/{app}` | 200 `{"content": text}`; 404 |
//! | `DELETE /siddhi-apps/{app}` | 200; 404 |
//! | `GET /siddhi-apps/{app}/status` | 200 `{"status": "active"}`; 404 |
//! | `POST /siddhi-apps/{app}/backup` | 201 `{"revision": …}` |
//! | `POST /siddhi-apps/{app}/restore[?revision=]` | 200; 404 no such revision |
//! | `GET /siddhi-apps/ha/is-active-node` | 200 `true`/`false` (no auth) |
//! | `POST /stores/query` `{"appName","query"}` | 200 `{"records": [[…]]}` |
//! | `GET /health` | 200 (no auth) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | this API as OpenAPI 3 |
//!
//! Everything except `/health` and the HA probe needs HTTP Basic credentials.

mod apps;
mod error;
mod openapi;
mod stores;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::AppManager;
use crate::auth::Users;
use crate::metrics::Metrics;

pub use error::{ApiError, ApiMessage};

/// What the handlers share.
pub struct ApiState {
    pub manager: Arc<AppManager>,
    pub metrics: Arc<Metrics>,
    pub users: Arc<Users>,
    /// Whether this node is the active one (always, when standalone).
    pub active: Arc<AtomicBool>,
}

/// The API's routes.
pub fn router(state: Arc<ApiState>) -> Router {
    let protected = Router::new()
        .route(
            "/siddhi-apps",
            post(apps::create).put(apps::update).get(apps::list),
        )
        .route(
            "/siddhi-apps/{app}",
            get(apps::content).delete(apps::delete),
        )
        .route("/siddhi-apps/{app}/status", get(apps::status))
        .route("/siddhi-apps/{app}/backup", post(apps::backup))
        .route("/siddhi-apps/{app}/restore", post(apps::restore))
        .route("/stores/query", post(stores::query))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::document))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    Router::new()
        .route("/health", get(health))
        .route("/siddhi-apps/ha/is-active-node", get(is_active_node))
        .merge(protected)
        .fallback(not_found)
        .with_state(state)
}

async fn require_auth(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.users.allows(request.headers()) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "valid credentials are required (HTTP Basic)",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"spate\""),
    );
    response
}

/// Liveness.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The node is up")))]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Whether this node is the active one of an HA pair (`true` when standalone).
#[utoipa::path(get, path = "/siddhi-apps/ha/is-active-node", responses((status = 200, description = "true or false")))]
async fn is_active_node(State(state): State<Arc<ApiState>>) -> Json<bool> {
    Json(state.active.load(Ordering::Acquire))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics in the Prometheus text format")))]
async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}
