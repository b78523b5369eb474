//! `POST /v1/chat/completions`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_gateway::{Attempt, Failure, Outcome};
use seam_types::chat::ChatRequest;

use crate::error::error_response;
use crate::{ATTEMPTS, ROUTE, RequestStart, SharedState, body, metrics, sse};

pub async fn handle(
    State(st): State<SharedState>,
    Extension(start): Extension<RequestStart>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let req = match body::request(raw, &headers, st.max_body_bytes, ChatRequest::validate).await {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    if req.is_stream() {
        match st.gateway.chat_stream(&req).await {
            Ok(out) => {
                metrics::overhead(
                    metrics::CHAT,
                    start.0.elapsed().saturating_sub(out.upstream),
                );
                let mut resp = sse::response(out.value);
                route_headers(&mut resp, Some(&out.route), &out.attempts);
                resp
            }
            Err(f) => failure(&f),
        }
    } else {
        match st.gateway.chat(&req).await {
            Ok(out) => {
                let mut resp = json_response(&out.value);
                metrics::overhead(
                    metrics::CHAT,
                    start.0.elapsed().saturating_sub(out.upstream),
                );
                route_headers(&mut resp, Some(&out.route), &out.attempts);
                resp
            }
            Err(f) => failure(&f),
        }
    }
}

/// A unary answer as JSON, with its route headers and overhead recorded.
pub fn answered<T: serde::Serialize>(
    out: &Outcome<T>,
    start: RequestStart,
    endpoint: &'static str,
) -> Response {
    let mut resp = json_response(&out.value);
    metrics::overhead(endpoint, start.0.elapsed().saturating_sub(out.upstream));
    route_headers(&mut resp, Some(&out.route), &out.attempts);
    resp
}

pub fn failure(f: &Failure) -> Response {
    let mut resp = error_response(&f.error);
    route_headers(&mut resp, None, &f.attempts);
    resp
}

pub fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = bytes.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a response");
            error_response(&seam_types::ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not serialize the response",
            ))
        }
    }
}

pub fn route_headers(resp: &mut Response, route: Option<&str>, attempts: &[Attempt]) {
    let h = resp.headers_mut();
    if let Some(route) = route.and_then(|r| HeaderValue::from_str(r).ok()) {
        h.insert(ROUTE, route);
    }
    if !attempts.is_empty() {
        h.insert(ATTEMPTS, HeaderValue::from(attempts.len()));
    }
}
