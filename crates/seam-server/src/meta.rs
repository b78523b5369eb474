//! Models, health, metrics and the fallbacks for unknown routes.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_types::{ApiError, ErrorCode};
use serde::Serialize;
use serde_json::json;

use crate::SharedState;
use crate::error::AppError;
use crate::pipeline::json_response;

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

pub async fn models(
    State(st): State<SharedState>,
    caller: Option<axum::Extension<std::sync::Arc<crate::auth::Caller>>>,
) -> Response {
    let live = st.live();
    let data: Vec<Model<'_>> = live
        .gateway
        .aliases()
        .into_iter()
        // A rollout's candidate alias is Seam's own, not a model to call.
        .filter(|id| !id.starts_with(crate::rollouts::ALIAS_PREFIX))
        .filter(|id| caller.as_ref().is_none_or(|c| c.allows_alias(id)))
        .map(|id| model_object(id, st.started))
        .collect();
    json_response(&json!({ "object": "list", "data": data }))
}

pub async fn model(
    State(st): State<SharedState>,
    caller: Option<axum::Extension<std::sync::Arc<crate::auth::Caller>>>,
    Path(id): Path<String>,
) -> Response {
    let live = st.live();
    // A name an alias serves (exact, or through a glob), if the key may use that alias.
    let visible = |a: &str| {
        !a.starts_with(crate::rollouts::ALIAS_PREFIX)
            && caller.as_ref().is_none_or(|c| c.allows_alias(a))
    };
    match live.gateway.alias_of(&id).filter(|a| visible(a)) {
        Some(_) => json_response(&model_object(&id, st.started)),
        None => AppError(
            ApiError::new(
                ErrorCode::ModelNotFound,
                "No alias with that name; GET /v1/models lists them",
            )
            .with_param("model"),
        )
        .into_response(),
    }
}

fn model_object(id: &str, created: u64) -> Model<'_> {
    Model {
        id,
        object: "model",
        created,
        owned_by: "seam",
    }
}

pub async fn healthz() -> Response {
    json_response(&json!({ "status": "ok" }))
}

/// Ready when this server can keep its promises: 200, or 503 with every reason it cannot. The
/// config is loaded and providers built before the listener opens; what can fail later is the
/// audit writer (commits or its spool), Redis when limits fail closed without it, and reading
/// the store's keys. `/healthz` stays pure liveness.
pub async fn readyz(State(st): State<SharedState>) -> Response {
    let mut reasons = Vec::new();
    if let Some(auditor) = &st.auditor {
        reasons.extend(auditor.problems());
    }
    if st.limits.needs_redis()
        && let Some(redis) = &st.redis
        && let Some(why) = redis.problem().await
    {
        reasons.push(why);
    }
    reasons.extend(st.keyring.problem());
    let models = st.live().gateway.aliases().len();
    if reasons.is_empty() {
        return json_response(&json!({ "status": "ready", "models": models }));
    }
    let mut resp =
        json_response(&json!({ "status": "not_ready", "reasons": reasons, "models": models }));
    *resp.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    resp
}

pub async fn metrics(State(st): State<SharedState>) -> Response {
    st.live().gateway.export_gauges();
    metrics::counter!(crate::limits::LIMIT_ERRORS).absolute(seam_limits::errors());
    let text = st.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

pub async fn not_found() -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        "No such route; Seam serves the OpenAI API under /v1",
    )
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorCode::MethodNotAllowed,
        "This route does not accept that method",
    )
}
