//! `POST /v1/embeddings`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use seam_gateway::Placement;
use seam_types::embeddings::EmbeddingsRequest;

use crate::chat::{answered, failure};
use crate::error::error_response;
use crate::{RequestStart, SharedState, body, metrics};

pub async fn handle(
    State(st): State<SharedState>,
    Extension(start): Extension<RequestStart>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let live = st.live();
    let req = match body::request(
        raw,
        &headers,
        live.max_body_bytes,
        EmbeddingsRequest::validate,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    match live.gateway.embeddings(&req, &Placement::default()).await {
        Ok(out) => answered(&out, start, metrics::EMBEDDINGS),
        Err(f) => failure(&f),
    }
}
