//! `/admin/*`: the router's view of its targets, and config reload.

use axum::extract::State;
use axum::response::Response;
use seam_types::{ApiError, ErrorCode};
use serde_json::json;

use crate::SharedState;
use crate::chat::json_response;
use crate::error::error_response;

/// `GET /admin/targets`: every target the router knows — breaker state, load, moving averages.
pub async fn targets(State(st): State<SharedState>) -> Response {
    let targets: Vec<_> = st
        .live()
        .gateway
        .targets()
        .into_iter()
        .map(|t| {
            json!({
                "target": t.label,
                "provider": t.provider,
                "model": t.model,
                "breaker": t.state,
                "in_flight": t.in_flight,
                "capacity": t.capacity,
                "queued": t.queued,
                "latency_ms": t.latency_ms,
                "ttft_ms": t.ttft_ms,
                "succeeded": t.succeeded,
                "failed": t.failed,
            })
        })
        .collect();
    json_response(&json!({ "targets": targets }))
}

/// `POST /admin/reload`: the same as `SIGHUP`. A bad config is refused and the old one serves on.
pub async fn reload(State(st): State<SharedState>) -> Response {
    // Reading and validating the file is blocking work.
    let result = tokio::task::spawn_blocking(move || st.reload()).await;
    match result {
        Ok(Ok(models)) => {
            tracing::info!(models = %models.join(", "), "config reloaded");
            json_response(&json!({ "status": "reloaded", "models": models }))
        }
        Ok(Err(errors)) => {
            tracing::warn!(
                errors = errors.len(),
                "config reload refused; the previous config keeps serving"
            );
            error_response(&ApiError::new(
                ErrorCode::InvalidConfig,
                format!(
                    "Reload refused, the previous config keeps serving: {}",
                    errors.join("; ")
                ),
            ))
        }
        Err(_) => error_response(&ApiError::new(
            ErrorCode::Internal,
            "The reload task failed",
        )),
    }
}
