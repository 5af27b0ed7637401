//! `/siddhi-apps`: deploying, listing, removing, snapshotting and restoring apps.
// utoipa's path macro expands `params(T)` into qualified paths the lint flags.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiMessage, ApiState};
use crate::app::DeploySource;

type Result<T, E = ApiError> = std::result::Result<T, E>;

fn deployed(status: StatusCode, name: &str, message: &str) -> Response {
    let location = format!("/siddhi-apps/{name}");
    let mut response = (status, Json(ApiMessage::success(status, message))).into_response();
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Deploys a new app (the body is the app text).
#[utoipa::path(post, path = "/siddhi-apps", request_body(content = String, content_type = "text/plain"),
    responses((status = 201, description = "Deployed", body = ApiMessage),
              (status = 400, description = "Invalid app, with line:column", body = ApiMessage),
              (status = 409, description = "An app of that name exists", body = ApiMessage)))]
pub async fn create(State(state): State<Arc<ApiState>>, body: String) -> Result<Response> {
    let (app, _) = state
        .manager
        .deploy(&body, DeploySource::Rest { replace: false })
        .await?;
    let name = &app.def.name;
    tracing::info!(app = name, "Siddhi app deployed over REST.");
    Ok(deployed(
        StatusCode::CREATED,
        name,
        &format!("Siddhi app `{name}` deployed"),
    ))
}

/// Deploys an app, replacing the one of the same name.
#[utoipa::path(put, path = "/siddhi-apps", request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Updated", body = ApiMessage),
              (status = 201, description = "Deployed", body = ApiMessage),
              (status = 400, description = "Invalid app, with line:column", body = ApiMessage)))]
pub async fn update(State(state): State<Arc<ApiState>>, body: String) -> Result<Response> {
    let (app, created) = state
        .manager
        .deploy(&body, DeploySource::Rest { replace: true })
        .await?;
    let name = &app.def.name;
    tracing::info!(app = name, created, "Siddhi app deployed over REST.");
    Ok(if created {
        deployed(
            StatusCode::CREATED,
            name,
            &format!("Siddhi app `{name}` deployed"),
        )
    } else {
        deployed(
            StatusCode::OK,
            name,
            &format!("Siddhi app `{name}` updated"),
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// Only active (`true`) or only inactive (`false`) apps.
    #[serde(rename = "isActive")]
    is_active: Option<bool>,
}

/// The names of the deployed apps.
#[utoipa::path(get, path = "/siddhi-apps", params(ListParams),
    responses((status = 200, description = "App names", body = Vec<String>)))]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<ListParams>,
) -> Json<Vec<String>> {
    let names = state
        .manager
        .list()
        .into_iter()
        .filter(|a| {
            params
                .is_active
                .is_none_or(|want| (a.status() == crate::app::AppStatus::Active) == want)
        })
        .map(|a| a.def.name.clone())
        .collect();
    Json(names)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppContent {
    /// The app text as deployed.
    content: String,
}

/// The text of an app.
#[utoipa::path(get, path = "/siddhi-apps/{app}", params(("app" = String, Path)),
    responses((status = 200, body = AppContent), (status = 404, body = ApiMessage)))]
pub async fn content(
    State(state): State<Arc<ApiState>>,
    Path(app): Path<String>,
) -> Result<Json<AppContent>> {
    let handle = state
        .manager
        .get(&app)
        .ok_or_else(|| ApiError::not_found(&app))?;
    Ok(Json(AppContent {
        content: handle.def.text.clone(),
    }))
}

/// Undeploys an app and deletes its file.
#[utoipa::path(delete, path = "/siddhi-apps/{app}", params(("app" = String, Path)),
    responses((status = 200, body = ApiMessage), (status = 404, body = ApiMessage)))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    Path(app): Path<String>,
) -> Result<Json<ApiMessage>> {
    if !state.manager.undeploy(&app, true).await {
        return Err(ApiError::not_found(&app));
    }
    Ok(Json(ApiMessage::success(
        StatusCode::OK,
        format!("Siddhi app `{app}` undeployed"),
    )))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppStatusBody {
    /// `starting`, `active` or `inactive`.
    status: &'static str,
}

/// Whether an app is running.
#[utoipa::path(get, path = "/siddhi-apps/{app}/status", params(("app" = String, Path)),
    responses((status = 200, body = AppStatusBody), (status = 404, body = ApiMessage)))]
pub async fn status(
    State(state): State<Arc<ApiState>>,
    Path(app): Path<String>,
) -> Result<Json<AppStatusBody>> {
    let handle = state
        .manager
        .get(&app)
        .ok_or_else(|| ApiError::not_found(&app))?;
    Ok(Json(AppStatusBody {
        status: handle.status().as_str(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupBody {
    /// The revision written (`<epochMillis>__<app>`).
    revision: String,
}

/// Snapshots an app's state now and stores it.
#[utoipa::path(post, path = "/siddhi-apps/{app}/backup", params(("app" = String, Path)),
    responses((status = 201, body = BackupBody), (status = 404, body = ApiMessage), (status = 503, body = ApiMessage)))]
pub async fn backup(
    State(state): State<Arc<ApiState>>,
    Path(app): Path<String>,
) -> Result<Response> {
    let handle = state
        .manager
        .get(&app)
        .ok_or_else(|| ApiError::not_found(&app))?;
    let revision = state.manager.persist(&handle, false).await.map_err(|e| {
        tracing::error!(app, error = %e, "Backup failed.");
        ApiError::from(e)
    })?;
    tracing::info!(app, %revision, "App state backed up.");
    let body = BackupBody {
        revision: revision.to_string(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RestoreParams {
    /// The revision to restore (default: the latest).
    revision: Option<String>,
}

/// Replaces an app's state with a stored revision.
#[utoipa::path(post, path = "/siddhi-apps/{app}/restore", params(("app" = String, Path), RestoreParams),
    responses((status = 200, body = ApiMessage), (status = 404, body = ApiMessage)))]
pub async fn restore(
    State(state): State<Arc<ApiState>>,
    Path(app): Path<String>,
    Query(params): Query<RestoreParams>,
) -> Result<Json<ApiMessage>> {
    let handle = state
        .manager
        .get(&app)
        .ok_or_else(|| ApiError::not_found(&app))?;
    let persistence = state.manager.persistence();
    let (revision, saved) = persistence.load(&app, params.revision.as_deref()).await?;
    handle.restore(saved).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("revision {revision} does not fit app `{app}`: {e}"),
        )
    })?;
    tracing::info!(app, %revision, "App state restored.");
    // Saved at once, so a restart (or the journal's replay) starts from the restored state.
    if persistence.enabled
        && let Err(e) = state.manager.persist(&handle, false).await
    {
        tracing::error!(app, error = %e, "The restored state could not be persisted; a restart may return to the state before the restore.");
    }
    Ok(Json(ApiMessage::success(
        StatusCode::OK,
        format!("State of app `{app}` restored to revision {revision}"),
    )))
}
