//! Errors as the client sees them: OpenAI's `{"error": {...}}` with the status from the code table.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seam_types::{ApiError, ErrorCode};

use crate::metrics;

/// An [`ApiError`] that axum can return. Internal detail goes to the log, never into `message`.
#[derive(Debug)]
pub struct AppError(pub ApiError);

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        AppError(e)
    }
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError(ApiError::new(code, message))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

pub fn error_response(e: &ApiError) -> Response {
    metrics::error(e);
    let body = serde_json::to_vec(&e.body()).unwrap_or_else(|_| b"{}".to_vec());
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = e.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

/// Which surface's error shape a path answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `{"error": {"message", "type", "code", "param"}}`.
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}` (`/v1/messages*`).
    Anthropic,
    /// A JSON-RPC error object with a null id (`/mcp`).
    JsonRpc,
}

impl Shape {
    pub fn of_path(path: &str) -> Shape {
        if path == "/v1/messages" || path.starts_with("/v1/messages/") {
            Shape::Anthropic
        } else if path == "/mcp" {
            Shape::JsonRpc
        } else {
            Shape::OpenAi
        }
    }

    /// `e` as this shape's response.
    pub fn response(self, e: &ApiError) -> Response {
        match self {
            Shape::OpenAi => error_response(e),
            Shape::Anthropic => crate::surface::messages::error_response(e),
            Shape::JsonRpc => crate::mcp::http_response(e),
        }
    }
}
