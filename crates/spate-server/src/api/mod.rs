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
//! | `GET /siddhi-apps/ha/is-active-node[?fail-if-passive=true]` | 200 `true`/`false`; 503 on a node that is not active with `fail-if-passive` (no auth) |
//! | `POST /stores/query` `{"appName","query"}` | 200 `{"records": [[…]]}` |
//! | `GET /health` | 200; on an HA node also its role, epoch, sync lag, queue depth (no auth) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | this API as OpenAPI 3 |
//!
//! Everything except `/health` and the HA probe needs HTTP Basic credentials. On the passive
//! node of an HA pair, deploying answers 503 (deploy on the active node).

mod apps;
mod error;
mod openapi;
mod stores;

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::AppManager;
use crate::auth::Users;
use crate::ha::{HaState, NodeRole};
use crate::metrics::Metrics;

pub use error::{ApiError, ApiMessage};

/// What the handlers share.
pub struct ApiState {
    pub manager: Arc<AppManager>,
    pub metrics: Arc<Metrics>,
    pub users: Arc<Users>,
    /// The HA state when the node is one of an HA pair.
    pub ha: Option<Arc<HaState>>,
}

impl ApiState {
    /// Whether this node is the active one (always, when standalone).
    pub fn is_active(&self) -> bool {
        self.ha
            .as_ref()
            .is_none_or(|ha| ha.role() == NodeRole::Active)
    }
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

/// Liveness; on a node of an HA pair also its role, epoch, sync lag (entries not yet
/// acknowledged by the passive), passive queue depth and last snapshot.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The node is up")))]
async fn health(State(state): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    match &state.ha {
        Some(ha) => Json(serde_json::json!({ "status": "ok", "ha": ha.health() })),
        None => Json(serde_json::json!({ "status": "ok" })),
    }
}

/// `?fail-if-passive=true`.
#[derive(Debug, serde::Deserialize)]
struct ProbeQuery {
    #[serde(rename = "fail-if-passive", default)]
    fail_if_passive: bool,
}

/// Whether this node is the active one of an HA pair (`true` when standalone). With
/// `?fail-if-passive=true` a node that is not active answers 503, so a load balancer's health
/// check sends traffic to the active node only.
#[utoipa::path(get, path = "/siddhi-apps/ha/is-active-node",
    params(("fail-if-passive" = Option<bool>, Query, description = "answer 503 unless active")),
    responses((status = 200, description = "true or false"), (status = 503, description = "not active, with fail-if-passive")))]
async fn is_active_node(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<ProbeQuery>,
) -> Response {
    let active = state.is_active();
    let fail = query.fail_if_passive;
    let status = if !active && fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(active)).into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics in the Prometheus text format")))]
async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    if let Some(ha) = &state.ha {
        ha.update_metrics(&state.metrics);
    }
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
