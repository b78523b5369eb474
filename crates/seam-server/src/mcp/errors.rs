//! Errors on `/mcp`: JSON-RPC error objects. A request Seam refuses (scope, policy, limits) or an
//! upstream that fails is answered with a JSON-RPC error in an HTTP 200, as MCP errors are, never
//! a transport 500; only what happens before a message can be read (authentication, an unknown
//! session, an unreadable body) uses an HTTP status. Every error carries Seam's own code in
//! `data.code`, so a client can tell a policy refusal from a rate limit.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seam_mcp::CallError;
use seam_mcp::jsonrpc::{self, ErrorObject};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

/// The input policy refused the arguments.
pub const POLICY_VIOLATION: i64 = -32001;
/// A limit (rate, concurrency, budget) refused the call; `data.retry_after_ms` says when to retry.
pub const RATE_LIMITED: i64 = -32004;
/// The server is down, restarting, at its concurrency cap or its breaker is open.
pub const UPSTREAM_UNAVAILABLE: i64 = -32005;
/// The server did not answer in time.
pub const UPSTREAM_TIMEOUT: i64 = -32006;
/// The server's answer was larger than `[mcp] max_result_bytes`.
pub const RESULT_TOO_LARGE: i64 = -32007;
/// The server broke the protocol.
pub const UPSTREAM_PROTOCOL: i64 = -32008;
/// The audit trail could not record the call (sync durability): it was not answered.
pub const AUDIT_UNAVAILABLE: i64 = -32010;
/// No or an invalid API key (HTTP 401).
pub const UNAUTHORIZED: i64 = -32011;

/// The JSON-RPC code for one of Seam's errors.
pub fn code_of(e: &ApiError) -> i64 {
    let is = |c: ErrorCode| e.code == c.as_str();
    if is(ErrorCode::PolicyViolation) {
        POLICY_VIOLATION
    } else if is(ErrorCode::AuditUnavailable) {
        AUDIT_UNAVAILABLE
    } else if is(ErrorCode::UpstreamTimeout) {
        UPSTREAM_TIMEOUT
    } else if e.status == 401 {
        UNAUTHORIZED
    } else if e.status == 429 {
        RATE_LIMITED
    } else if (400..500).contains(&e.status) {
        jsonrpc::INVALID_PARAMS
    } else if (500..600).contains(&e.status) {
        UPSTREAM_UNAVAILABLE
    } else {
        jsonrpc::INTERNAL_ERROR
    }
}

/// One of Seam's errors as a JSON-RPC error object.
pub fn object(e: &ApiError) -> ErrorObject {
    let mut data = json!({"code": e.code.to_string(), "status": e.status});
    if let Some(s) = e.retry_after {
        data["retry_after_ms"] = json!(s.saturating_mul(1000));
    }
    ErrorObject::new(code_of(e), e.message.clone()).with_data(data)
}

/// An upstream failure as the client's error, and the HTTP-like status and code the audit
/// record and metrics keep.
pub fn upstream(e: &CallError) -> (ErrorObject, u16, &'static str) {
    let (code, status, seam) = match e {
        CallError::UnknownServer(_) => (jsonrpc::INVALID_PARAMS, 404, "unknown_tool"),
        CallError::Unavailable { .. } => (UPSTREAM_UNAVAILABLE, 503, "upstream_unavailable"),
        CallError::Overloaded(_) => (UPSTREAM_UNAVAILABLE, 503, "overloaded"),
        CallError::Timeout { .. } => (UPSTREAM_TIMEOUT, 504, "upstream_timeout"),
        CallError::TooLarge { .. } => (RESULT_TOO_LARGE, 502, "result_too_large"),
        CallError::Protocol { .. } => (UPSTREAM_PROTOCOL, 502, "upstream_error"),
        // The server's own answer: passed on as it is.
        CallError::Remote(obj) => return (obj.clone(), 200, "tool_error"),
    };
    let obj =
        ErrorObject::new(code, e.to_string()).with_data(json!({"code": seam, "status": status}));
    (obj, status, seam)
}

/// `{"jsonrpc":"2.0","id":…,"error":…}` with an HTTP status.
pub fn response(status: u16, id: &Value, error: ErrorObject) -> Response {
    let body = serde_json::to_vec(&jsonrpc::error(id, error)).unwrap_or_default();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// One of Seam's errors before a message was read (auth, limits in the auth layer, 404/405):
/// its HTTP status, a JSON-RPC error body with a null id.
pub fn http_response(e: &ApiError) -> Response {
    crate::metrics::error(e);
    let mut resp = response(e.status, &Value::Null, object(e));
    if let Some(s) = e.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}
