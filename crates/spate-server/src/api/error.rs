//! Error answers of the REST API: JSON `{"code":…, "type":"error", "message":…}`, with `line`
//! and `column` for an invalid app.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{DeployError, InvalidApp};
use crate::persistence::PersistError;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiMessage {
    /// The HTTP status code.
    pub code: u16,
    /// `success` or `error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    /// For an invalid app: where the first problem is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// For an invalid app: every problem, `line:column: message` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl ApiMessage {
    pub fn success(code: StatusCode, message: impl Into<String>) -> ApiMessage {
        ApiMessage {
            code: code.as_u16(),
            kind: "success",
            message: message.into(),
            line: None,
            column: None,
            problems: Vec::new(),
        }
    }
}

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub invalid: Option<InvalidApp>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            invalid: None,
        }
    }

    pub fn not_found(app: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no app named `{app}` is deployed"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (line, column, problems) = match self.invalid {
            Some(i) => (Some(i.line), Some(i.column), i.problems),
            None => (None, None, Vec::new()),
        };
        let body = ApiMessage {
            code: self.status.as_u16(),
            kind: "error",
            message: self.message,
            line,
            column,
            problems,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> ApiError {
        match e {
            DeployError::Invalid(invalid) => ApiError {
                status: StatusCode::BAD_REQUEST,
                message: invalid.message.clone(),
                invalid: Some(invalid),
            },
            DeployError::Exists(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            DeployError::Connector { .. } => ApiError::new(StatusCode::BAD_REQUEST, e.to_string()),
            DeployError::Save { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            DeployError::NotActive => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
}

impl From<PersistError> for ApiError {
    fn from(e: PersistError) -> ApiError {
        let status = match &e {
            PersistError::NoStore | PersistError::NotActive => StatusCode::SERVICE_UNAVAILABLE,
            PersistError::NotFound(_) => StatusCode::NOT_FOUND,
            PersistError::Store(spate_store::StoreError::InvalidName { .. }) => {
                StatusCode::BAD_REQUEST
            }
            PersistError::Store(s) if s.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            PersistError::Store(_) | PersistError::Damaged { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}
