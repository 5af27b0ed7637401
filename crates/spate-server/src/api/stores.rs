//! `POST /stores/query`: on-demand queries on an app's tables and named windows.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiState};
use crate::connector::mapper::json::to_json;

#[derive(Debug, Deserialize, ToSchema)]
pub struct StoreQuery {
    /// The app whose tables are queried.
    #[serde(rename = "appName")]
    app_name: String,
    /// The on-demand query, e.g. `from StockTable select *`.
    query: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreRecords {
    /// One array of values per row.
    #[schema(value_type = Vec<Vec<Object>>)]
    records: Vec<Vec<serde_json::Value>>,
}

/// Runs an on-demand query.
#[utoipa::path(post, path = "/stores/query", request_body = StoreQuery,
    responses((status = 200, body = StoreRecords), (status = 400, body = super::ApiMessage), (status = 404, body = super::ApiMessage)))]
pub async fn query(
    State(state): State<Arc<ApiState>>,
    body: Bytes,
) -> Result<Json<StoreRecords>, ApiError> {
    // Any content type: curl -d sends a form type, SI's clients send JSON.
    let q: StoreQuery = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"appName\": …, \"query\": …}}: {e}"),
        )
    })?;
    let handle = state
        .manager
        .get(&q.app_name)
        .ok_or_else(|| ApiError::not_found(&q.app_name))?;
    let result = handle
        .query(q.query)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let records = result
        .rows
        .iter()
        .map(|r| r.iter().map(to_json).collect())
        .collect();
    Ok(Json(StoreRecords { records }))
}
