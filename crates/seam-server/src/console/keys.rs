//! The console's keys: listed for both roles (never secrets or hashes), created and revoked by
//! admins through the same code as `/admin/keys` — one implementation, two front doors. A
//! created key's secret is in the creation's answer only.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use seam_store::keys::NewKey;
use serde_json::json;

use super::session::AdminSession;
use crate::SharedState;
use crate::error::error_response;
use crate::pipeline::json_response;

/// `GET /console/api/keys[?include_revoked=true]`: as `GET /admin/keys`.
pub(crate) async fn list(
    State(st): State<SharedState>,
    params: Query<HashMap<String, String>>,
) -> Response {
    crate::admin::list_keys(State(st), params).await
}

/// `POST /console/api/keys` (admin), the body of `POST /admin/keys`: 201
/// `{"key": {...}, "secret": "sk-seam-..."}`.
pub(crate) async fn create(
    State(st): State<SharedState>,
    AdminSession(session): AdminSession,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let cap = st.live().max_body_bytes;
    let new: NewKey = match crate::body::request(raw, &headers, cap, |_: &NewKey| Ok(())).await {
        Ok(k) => k,
        Err(e) => return error_response(&e),
    };
    match crate::admin::new_key(&st, new, "the console").await {
        Ok((record, secret)) => {
            tracing::info!(key = %record.id, by = %session.name, "console: key created");
            let mut resp = json_response(&json!({
                "key": record.to_json(crate::audit::now_ms()),
                "secret": secret,
            }));
            *resp.status_mut() = StatusCode::CREATED;
            resp
        }
        Err(e) => error_response(&e),
    }
}

/// `DELETE /console/api/keys/{id}` (admin): `{"key": {...revoked...}}`.
pub(crate) async fn revoke(
    State(st): State<SharedState>,
    AdminSession(session): AdminSession,
    Path(id): Path<String>,
) -> Response {
    match crate::admin::end_key(&st, id, "the console").await {
        Ok(r) => {
            tracing::info!(key = %r.id, by = %session.name, "console: key revoked");
            json_response(&json!({ "key": r.to_json(crate::audit::now_ms()) }))
        }
        Err(e) => error_response(&e),
    }
}
