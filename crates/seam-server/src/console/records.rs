//! The console's audit views: a search newest first (metadata only, for both roles), one record
//! with its payload for admins — the personal data in it masked unless asked for — and the hash
//! chain's state, verified in the background one walk at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use seam_store::{PayloadState, StoredRecord};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use super::session::{AdminSession, Role, SignedIn, admin_only};
use super::{Console, ConsoleExt};
use crate::SharedState;
use crate::error::error_response;
use crate::pipeline::json_response;

/// The most records one page of the list holds.
const MAX_PAGE: i64 = 200;

fn audit_off() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "the audit trail is off ([audit] enabled = false)",
    )
}

fn search_failed(e: &str) -> Response {
    tracing::error!(error = %e, "console: audit search failed");
    error_response(&ApiError::new(
        ErrorCode::Internal,
        "the audit search failed; the log has details",
    ))
}

/// A record's metadata as the list shows it: never a payload, subject or subject hash.
fn summary(r: &StoredRecord) -> Value {
    json!({
        "id": r.id,
        "seq": r.seq,
        "time": r.time_ms,
        "kind": r.kind.as_str(),
        "endpoint": r.endpoint,
        "key_id": r.key_id,
        "model": r.model,
        "route": r.route,
        "status": r.status,
        "error_code": r.error_code,
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
        "cost_usd": r.cost_usd,
        "tokens": r.usage.as_ref().map(|u| u.prompt_tokens + u.completion_tokens),
        "findings": r.findings,
        "trace_id": r.trace_id,
        "prompt": r.prompt,
        "cache_hit": r.cache_hit,
        "count": r.count,
    })
}

/// `GET /console/api/audit?since=&until=&key_id=&subject=&model=&status=&kind=&finding=
/// &prompt=&limit=50&cursor=`: records newest first; `next` is the `cursor` of the page after.
/// Searching by subject is for admins.
pub(crate) async fn list(
    State(st): State<SharedState>,
    SignedIn(session): SignedIn,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(auditor) = st.auditor.clone() else {
        return error_response(&audit_off());
    };
    if params.contains_key("subject")
        && let Err(e) = admin_only(&session)
    {
        return error_response(&e);
    }
    let mut query = match crate::admin::audit_query(&params, "key_id", 50) {
        Ok(q) => q,
        Err(e) => return error_response(&e),
    };
    let limit = query.limit.map_or(50, |l| l.min(MAX_PAGE as u64));
    let cursor = match params.get("cursor").map(|c| c.parse::<i64>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            return error_response(
                &ApiError::new(
                    ErrorCode::InvalidRequest,
                    "`cursor` must be a `next` this list returned",
                )
                .with_param("cursor"),
            );
        }
    };
    // One more than asked: whether there is a next page.
    query.limit = Some(limit + 1);
    match auditor.latest(query, cursor).await {
        Ok(mut records) => {
            let more = records.len() as u64 > limit;
            records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = more
                .then(|| records.last().map(|r| r.seq.to_string()))
                .flatten();
            let records: Vec<Value> = records.iter().map(summary).collect();
            json_response(&json!({ "records": records, "next": next }))
        }
        Err(e) => search_failed(&e),
    }
}

/// `GET /console/api/audit/{id}[?reveal=1]`: the record; for an admin its payload too, every
/// value the scanner finds replaced by its type (`<EMAIL>`) unless `reveal=1`. A viewer gets
/// neither payload nor subject, whatever it asks.
pub(crate) async fn record(
    State(st): State<SharedState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(auditor) = st.auditor.clone() else {
        return error_response(&audit_off());
    };
    let reveal = matches!(params.get("reveal").map(String::as_str), Some("1" | "true"));
    let q = seam_store::Query {
        id: Some(id.clone()),
        limit: Some(1),
        ..seam_store::Query::default()
    };
    let found = match auditor.search(q).await {
        Ok(mut r) => r.pop(),
        Err(e) => return search_failed(&e),
    };
    let Some(r) = found else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            "No audit record with that id",
        ));
    };
    let admin = session.role == Role::Admin;
    let mut record = summary(&r);
    record["subject"] = json!(if admin { r.subject.as_deref() } else { None });
    record["attempts"] = json!(r.attempts);
    record["usage"] = json!(r.usage);
    record["placement"] = json!(r.placement);
    record["variant"] = json!(r.variant);
    record["tags"] = json!(r.tags);
    record["class"] = json!(r.class.as_str());
    record["payload_state"] = json!(r.payload.as_str());
    record["hash"] = json!(r.hash);
    let (payload, note) = match (&r.payload, admin) {
        (_, false) => (
            Value::Null,
            "payloads are shown to admins only; this session is a viewer",
        ),
        (PayloadState::Kept(p), true) => {
            let p = json!({
                "client_request": p.client_request,
                "upstream_request": p.upstream_request,
                "response": p.response,
            });
            if reveal {
                tracing::info!(record = %r.id, by = %session.name, "console: payload revealed");
                (p, "revealed: shown as stored")
            } else {
                let gateway = Arc::clone(&st.live().gateway);
                match tokio::task::spawn_blocking(move || mask(&gateway, p)).await {
                    Ok(masked) => (masked, "personal data masked by type; reveal=1 shows it"),
                    Err(_) => (Value::Null, "the payload could not be masked"),
                }
            }
        }
        (PayloadState::NotKept, true) => (
            Value::Null,
            "none kept: the record's class (metadata) or kind keeps no payload",
        ),
        (PayloadState::Purged, true) => (Value::Null, "removed by retention"),
        (PayloadState::Erased, true) => (Value::Null, "erased: the data subject was erased"),
        (PayloadState::Locked, true) => (
            Value::Null,
            "sealed: the server has no [audit] master_key to open it",
        ),
    };
    json_response(&json!({
        "record": record,
        "payload": payload,
        "payload_note": note,
        "revealed": admin && reveal && !payload.is_null(),
    }))
}

/// Every string in `v` with what the scanner finds replaced by its type.
fn mask(gateway: &seam_gateway::Gateway, v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(gateway.mask_text(&s).into_owned()),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| mask(gateway, x)).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, x)| (k, mask(gateway, x))).collect())
        }
        other => other,
    }
}

/// The chain's state as the last verification left it.
#[derive(Default)]
pub(crate) struct Chain {
    state: Mutex<ChainState>,
}

#[derive(Clone, Default)]
struct ChainState {
    running: bool,
    /// `Some(true)`: intact; `Some(false)`: broken; `None`: never checked (or the check failed).
    ok: Option<bool>,
    checked_ms: Option<i64>,
    /// Records checked (so far, while running).
    records: u64,
    broken_at: Option<i64>,
    problem: Option<&'static str>,
    failed: bool,
}

impl Chain {
    fn lock(&self) -> std::sync::MutexGuard<'_, ChainState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `{"status": "ok"|"broken"|"unknown"|"running", "checked": RFC 3339|null, "records",
    /// "broken_at": seq|null, "problem": text|null}` — what the overview and the chain view
    /// show.
    pub(crate) fn json(&self) -> Value {
        let s = self.lock().clone();
        let status = match (s.running, s.ok) {
            (true, _) => "running",
            (false, Some(true)) => "ok",
            (false, Some(false)) => "broken",
            (false, None) => "unknown",
        };
        json!({
            "status": status,
            "checked": s.checked_ms.map(seam_store::rfc3339),
            "records": s.records,
            "broken_at": s.broken_at,
            "problem": s.problem,
            "failed": s.failed,
        })
    }

    /// Marks a walk as started; false when one is already running.
    fn start(&self) -> bool {
        let mut s = self.lock();
        if s.running {
            return false;
        }
        s.running = true;
        s.records = 0;
        true
    }
}

/// `GET /console/api/chain`.
pub(crate) async fn chain(axum::Extension(console): ConsoleExt) -> Response {
    json_response(&console.chain.json())
}

/// `POST /console/api/chain/verify` (admin): walks the whole chain on a thread of its own and
/// answers 202 at once; a walk already running is not started twice.
pub(crate) async fn verify(
    State(st): State<SharedState>,
    axum::Extension(console): ConsoleExt,
    AdminSession(session): AdminSession,
) -> Response {
    if st.auditor.is_none() {
        return error_response(&audit_off());
    }
    if console.chain.start() {
        tracing::info!(by = %session.name, "console: chain verification started");
        let store = st.key_store.clone();
        let c: Arc<Console> = Arc::clone(&console);
        // The PostgreSQL client runs its own runtime: off the async runtime's threads.
        let spawned = std::thread::Builder::new()
            .name("seam-console-verify".into())
            .spawn(move || walk(&c, &store));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "console: cannot start the chain verification");
            let mut s = console.chain.lock();
            s.running = false;
            s.failed = true;
        }
    }
    let mut resp = json_response(&console.chain.json());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn walk(console: &Console, store: &seam_store::StoreConfig) {
    let chain = &console.chain;
    let result = seam_store::AuditLog::open(store)
        .and_then(|mut log| log.verify(&mut |n| chain.lock().records = n));
    let mut s = chain.lock();
    s.running = false;
    s.checked_ms = Some(crate::audit::now_ms());
    match result {
        Ok(report) => {
            s.failed = false;
            s.records = report.records;
            s.ok = Some(report.ok());
            s.broken_at = report.problem.as_ref().map(|p| p.seq);
            s.problem = report.problem.as_ref().map(|p| p.kind.describe());
            if let Some(p) = &report.problem {
                tracing::warn!(
                    seq = p.seq,
                    problem = p.kind.describe(),
                    "console: the audit chain is broken"
                );
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "console: the chain verification failed");
            s.failed = true;
            s.ok = None;
        }
    }
}
