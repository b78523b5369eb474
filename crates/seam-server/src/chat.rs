//! `POST /v1/chat/completions`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_gateway::{Attempt, Failure, Outcome, Placement};
use seam_types::chat::ChatRequest;

use crate::error::error_response;
use crate::{ATTEMPTS, POLICY, ROUTE, ROUTE_REASON, RequestStart, SharedState, body, metrics, sse};

pub async fn handle(
    State(st): State<SharedState>,
    Extension(start): Extension<RequestStart>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let live = st.live();
    let req = match body::request(raw, &headers, live.max_body_bytes, ChatRequest::validate).await {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let anywhere = Placement::default();
    if !req.is_stream() {
        return match live.gateway.chat(&req, &anywhere).await {
            Ok(out) => answered(&out, start, metrics::CHAT),
            Err(f) => failure(&f),
        };
    }
    match live.gateway.chat_stream(&req, &anywhere).await {
        Ok(out) => {
            metrics::overhead(
                metrics::CHAT,
                start.0.elapsed().saturating_sub(out.upstream),
            );
            let report = out.policy.as_ref().map(|p| p.header());
            let mut resp = sse::response(out.value);
            route_headers(
                &mut resp,
                Some(&out.route),
                &out.attempts,
                Some(&out.reason),
            );
            policy_header(&mut resp, report.as_deref());
            resp
        }
        Err(f) => failure(&f),
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
    route_headers(
        &mut resp,
        Some(&out.route),
        &out.attempts,
        Some(&out.reason),
    );
    policy_header(
        &mut resp,
        out.policy.as_ref().map(|p| p.header()).as_deref(),
    );
    resp
}

fn policy_header(resp: &mut Response, report: Option<&str>) {
    if let Some(v) = report.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        resp.headers_mut().insert(POLICY, v);
    }
}

pub fn failure(f: &Failure) -> Response {
    let mut resp = error_response(&f.error);
    route_headers(&mut resp, None, &f.attempts, f.reason.as_deref());
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

/// `x-seam-route`, `x-seam-attempts` and `x-seam-route-reason`.
pub fn route_headers(
    resp: &mut Response,
    route: Option<&str>,
    attempts: &[Attempt],
    reason: Option<&str>,
) {
    let h = resp.headers_mut();
    if let Some(route) = route.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        h.insert(ROUTE, route);
    }
    h.insert(ATTEMPTS, HeaderValue::from(attempts.len()));
    if let Some(reason) = reason.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        h.insert(ROUTE_REASON, reason);
    }
}

/// Header values must be visible ASCII; model names from configs may not be. Long reasons (many
/// attempts) are cut so a header never grows without bound.
fn header_text(s: &str) -> String {
    s.chars()
        .take(512)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
