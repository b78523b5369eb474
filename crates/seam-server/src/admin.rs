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

/// `GET /admin/audit?subject=&key=&since=&until=&model=&status=&finding=&limit=`: audit records,
/// newest last, as `seam audit export` writes them. Times are Unix milliseconds.
pub async fn audit(
    State(st): State<SharedState>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(auditor) = st.auditor.clone() else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            "the audit trail is off ([audit] enabled = false)",
        ));
    };
    let num = |k: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(k)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!("`{k}` must be an integer"),
                    )
                    .with_param(k)
                })
            })
            .transpose()
    };
    let query = (|| -> Result<seam_store::Query, ApiError> {
        Ok(seam_store::Query {
            subject: params.get("subject").cloned(),
            key_id: params.get("key").cloned(),
            since_ms: num("since")?,
            until_ms: num("until")?,
            model: params.get("model").cloned(),
            status: num("status")?.and_then(|s| u16::try_from(s).ok()),
            finding: params.get("finding").cloned(),
            limit: Some(num("limit")?.map_or(100, |l| l.clamp(1, 1000)) as u64),
        })
    })();
    let query = match query {
        Ok(q) => q,
        Err(e) => return error_response(&e),
    };
    match auditor.search(query).await {
        Ok(records) => {
            let records: Vec<_> = records
                .iter()
                .map(seam_store::StoredRecord::to_json)
                .collect();
            json_response(&json!({ "records": records }))
        }
        Err(e) => {
            tracing::error!(error = %e, "audit search failed");
            error_response(&ApiError::new(
                ErrorCode::Internal,
                "the audit search failed; the log has details",
            ))
        }
    }
}
