//! Conversation state for the Responses API, so `previous_response_id` works on any target:
//! the async facade the Responses surface stores and reads through, and the three routes that
//! read it back (`GET` and `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`).
//!
//! With `[audit] master_key`, responses live in the store `[storage]` names, sealed per subject
//! as audit payloads are (`seam_store::responses`): erased with the subject, deleted once past
//! `[responses] retention_days`. The store is synchronous, so it runs on a thread of its own
//! behind a bounded job queue, and applies retention there every `[audit] purge_interval_s`.
//! Without a master key nothing is written to disk: responses are held in process memory,
//! at most `max_memory_entries` (the oldest dropped first), and lost on restart.
//!
//! Every lookup is scoped by the API key that stored the response: another key, like an unknown
//! id, gets `404`, so existence is not disclosed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use seam_store::{ResponseStore, StoreError};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use seam_store::StoredResponse;

use crate::SharedState;
use crate::auth::Caller;
use crate::error::error_response;

/// Jobs waiting for the store's thread; past it, callers are told to retry.
const QUEUE: usize = 1024;
const DAY_S: i64 = 86_400;

/// Where conversation state lives, and for how long.
pub struct Conversations {
    retention_s: i64,
    place: Place,
}

enum Place {
    /// The store's thread, fed through a bounded queue (dropping the sender stops it).
    Store(std::sync::mpsc::SyncSender<Job>),
    Memory(Mutex<Memory>),
}

enum Job {
    Put(
        Box<StoredResponse>,
        i64,
        oneshot::Sender<Result<(), StoreError>>,
    ),
    Get(
        String,
        Option<String>,
        oneshot::Sender<Result<Option<StoredResponse>, StoreError>>,
    ),
    Delete(
        String,
        Option<String>,
        oneshot::Sender<Result<bool, StoreError>>,
    ),
}

impl Conversations {
    /// Whether state is kept in this process's memory only (no `[audit] master_key`): bounded,
    /// lost on restart, never on disk.
    pub fn in_memory(&self) -> bool {
        matches!(self.place, Place::Memory(_))
    }

    /// `None` when `[responses] store = false`. Opens the store (on its own thread) when
    /// `[audit] master_key` is set; otherwise keeps state in memory ([`Conversations::in_memory`],
    /// which `seam serve` logs once it starts).
    pub fn open(cfg: &seam_config::Config) -> Result<Option<Conversations>, String> {
        if !cfg.responses.store {
            return Ok(None);
        }
        let retention_s = i64::from(cfg.responses.retention_days) * DAY_S;
        if cfg.audit.master_key.is_none() {
            return Ok(Some(Conversations {
                retention_s,
                place: Place::Memory(Mutex::new(Memory::new(cfg.responses.max_memory_entries))),
            }));
        }
        let store = crate::audit::store_config(cfg);
        if let seam_store::BackendConfig::Sqlite { path } = &store.backend
            && let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("responses: cannot create {}: {e}", dir.display()))?;
        }
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let (opened_tx, opened) = std::sync::mpsc::channel::<Result<(), String>>();
        let every = cfg.audit.purge_interval;
        std::thread::Builder::new()
            .name("seam-responses".into())
            .spawn(move || match ResponseStore::open(&store) {
                Ok(s) => {
                    let _ = opened_tx.send(Ok(()));
                    serve_jobs(s, &rx, every);
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(format!("responses: {e}")));
                }
            })
            .map_err(|e| format!("responses: cannot start the store's thread: {e}"))?;
        opened
            .recv()
            .map_err(|_| "responses: opening the store panicked".to_owned())??;
        Ok(Some(Conversations {
            retention_s,
            place: Place::Store(jobs),
        }))
    }

    /// Keeps `r` for `[responses] retention_days` from its `created_at`.
    pub async fn put(&self, r: StoredResponse) -> Result<(), ApiError> {
        let expires_s = r.created_at.saturating_add(self.retention_s);
        match &self.place {
            Place::Memory(m) => lock(m).put(r, expires_s, now_s()),
            Place::Store(jobs) => {
                let (tx, rx) = oneshot::channel();
                ask(jobs, Job::Put(Box::new(r), expires_s, tx), rx).await
            }
        }
    }

    /// The response `id` as `key_id` stored it; `None` when unknown, expired, erased or
    /// stored by another key.
    pub async fn get(
        &self,
        id: &str,
        key_id: Option<&str>,
    ) -> Result<Option<StoredResponse>, ApiError> {
        match &self.place {
            Place::Memory(m) => Ok(lock(m).get(id, key_id, now_s())),
            Place::Store(jobs) => {
                let (tx, rx) = oneshot::channel();
                let job = Job::Get(id.to_owned(), key_id.map(str::to_owned), tx);
                ask(jobs, job, rx).await
            }
        }
    }

    /// Deletes the response `id` if `key_id` stored it; whether there was one.
    pub async fn delete(&self, id: &str, key_id: Option<&str>) -> Result<bool, ApiError> {
        match &self.place {
            Place::Memory(m) => Ok(lock(m).delete(id, key_id)),
            Place::Store(jobs) => {
                let (tx, rx) = oneshot::channel();
                let job = Job::Delete(id.to_owned(), key_id.map(str::to_owned), tx);
                ask(jobs, job, rx).await
            }
        }
    }
}

/// Queues a job without blocking (a full queue is an error at once) and awaits its answer.
async fn ask<T>(
    jobs: &std::sync::mpsc::SyncSender<Job>,
    job: Job,
    rx: oneshot::Receiver<Result<T, StoreError>>,
) -> Result<T, ApiError> {
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(std::sync::mpsc::TrySendError::Full(_)) => {
            let mut e = ApiError::new(
                ErrorCode::Overloaded,
                "Seam's conversation store has too many requests waiting; retry later",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
    }
    rx.await.map_err(|_| stopped())?.map_err(|e| {
        tracing::error!(error = %e, "responses: the conversation store failed");
        unavailable()
    })
}

fn stopped() -> ApiError {
    tracing::error!("responses: the conversation store's thread has stopped");
    unavailable()
}

fn unavailable() -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        "Seam could not read or write its conversation store; the log has details",
    )
}

/// The store's thread: jobs one at a time, and retention every `every` (and at start), until
/// the facade is dropped.
fn serve_jobs(mut store: ResponseStore, rx: &std::sync::mpsc::Receiver<Job>, every: Duration) {
    let purge = |store: &mut ResponseStore| match store.purge(now_s()) {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "responses: expired conversation state deleted"),
        Err(e) => tracing::warn!(error = %e, "responses: retention failed; it is retried"),
    };
    purge(&mut store);
    let every = every.max(Duration::from_secs(1));
    let mut next = std::time::Instant::now() + every;
    loop {
        let wait = next.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Job::Put(r, expires_s, reply)) => {
                let _ = reply.send(store.put(&r, expires_s));
            }
            Ok(Job::Get(id, key, reply)) => {
                let _ = reply.send(store.get(&id, key.as_deref(), now_s()));
            }
            Ok(Job::Delete(id, key, reply)) => {
                let _ = reply.send(store.delete(&id, key.as_deref()));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                purge(&mut store);
                next = std::time::Instant::now() + every;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Responses in process memory, oldest dropped first past `max`.
struct Memory {
    max: usize,
    /// By id: insertion number, expiry (Unix seconds) and the response.
    by_id: HashMap<String, (u64, i64, StoredResponse)>,
    /// Insertion number → id, oldest first.
    order: BTreeMap<u64, String>,
    next: u64,
}

impl Memory {
    fn new(max: usize) -> Memory {
        Memory {
            max: max.max(1),
            by_id: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
        }
    }

    fn put(&mut self, r: StoredResponse, expires_s: i64, now_s: i64) -> Result<(), ApiError> {
        if self.by_id.contains_key(&r.id) {
            tracing::error!("responses: a response id was stored twice");
            return Err(unavailable());
        }
        // Expired entries first, then the oldest while full.
        while let Some((_, id)) = self.order.first_key_value() {
            let expired = self.by_id.get(id).is_none_or(|(_, exp, _)| *exp <= now_s);
            if !expired && self.by_id.len() < self.max {
                break;
            }
            if let Some((_, id)) = self.order.pop_first() {
                self.by_id.remove(&id);
            }
        }
        let n = self.next;
        self.next += 1;
        self.order.insert(n, r.id.clone());
        self.by_id.insert(r.id.clone(), (n, expires_s, r));
        Ok(())
    }

    fn get(&self, id: &str, key_id: Option<&str>, now_s: i64) -> Option<StoredResponse> {
        let (_, exp, r) = self.by_id.get(id)?;
        (r.key_id.as_deref() == key_id && *exp > now_s).then(|| r.clone())
    }

    fn delete(&mut self, id: &str, key_id: Option<&str>) -> bool {
        match self.by_id.get(id) {
            Some((n, _, r)) if r.key_id.as_deref() == key_id => {
                let n = *n;
                self.by_id.remove(id);
                self.order.remove(&n);
                true
            }
            _ => false,
        }
    }
}

fn lock(m: &Mutex<Memory>) -> std::sync::MutexGuard<'_, Memory> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_s() -> i64 {
    crate::audit::now_ms().div_euclid(1000)
}

type CallerExt = Option<Extension<Arc<Caller>>>;

/// The same answer for an unknown id, an expired or erased one, and another key's.
fn not_found() -> Response {
    error_response(
        &ApiError::new(ErrorCode::NotFound, "No response with this id was found")
            .with_param("response_id"),
    )
}

/// The stored response, as `key_id` may see it.
async fn lookup(
    st: &SharedState,
    id: &str,
    caller: &CallerExt,
) -> Result<StoredResponse, Response> {
    let Some(c) = &st.conversations else {
        return Err(not_found());
    };
    let key_id = caller.as_ref().map(|Extension(c)| c.key_id.as_str());
    match c.get(id, key_id).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(not_found()),
        Err(e) => Err(error_response(&e)),
    }
}

/// `GET /v1/responses/{id}`: the Response object as the client got it.
pub async fn retrieve(
    State(st): State<SharedState>,
    caller: CallerExt,
    Path(id): Path<String>,
) -> Response {
    match lookup(&st, &id, &caller).await {
        Ok(r) => Json(r.response).into_response(),
        Err(resp) => resp,
    }
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(st): State<SharedState>,
    caller: CallerExt,
    Path(id): Path<String>,
) -> Response {
    let Some(c) = &st.conversations else {
        return not_found();
    };
    let key_id = caller.as_ref().map(|Extension(c)| c.key_id.as_str());
    match c.delete(&id, key_id).await {
        Ok(true) => Json(json!({"id": id, "object": "response", "deleted": true})).into_response(),
        Ok(false) => not_found(),
        Err(e) => error_response(&e),
    }
}

/// `GET /v1/responses/{id}/input_items?limit&order&after`: the input items, a page at a time.
pub async fn input_items(
    State(st): State<SharedState>,
    caller: CallerExt,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let page = match query {
        Ok(Query(pairs)) => Page::parse(&pairs),
        Err(_) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "The query string cannot be read",
        )),
    };
    let page = match page {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    match lookup(&st, &id, &caller).await {
        Ok(r) => match page.list(&r.input_items) {
            Ok(body) => Json(body).into_response(),
            Err(e) => error_response(&e),
        },
        Err(resp) => resp,
    }
}

/// `limit`, `order` and `after`, as OpenAI's list endpoints take them.
#[derive(Debug, PartialEq)]
struct Page {
    limit: usize,
    desc: bool,
    after: Option<String>,
}

impl Page {
    /// Unknown parameters (`include`) are ignored.
    fn parse(pairs: &[(String, String)]) -> Result<Page, ApiError> {
        let mut page = Page {
            limit: 20,
            desc: true,
            after: None,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    page.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| {
                            ApiError::new(ErrorCode::InvalidRequest, "limit must be 1 – 100")
                                .with_param("limit")
                        })?;
                }
                "order" => {
                    page.desc = match v.as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => {
                            return Err(ApiError::new(
                                ErrorCode::InvalidRequest,
                                "order must be asc or desc",
                            )
                            .with_param("order"));
                        }
                    };
                }
                "after" => page.after = Some(v.clone()),
                _ => {}
            }
        }
        Ok(page)
    }

    /// `{"object": "list", "data", "first_id", "last_id", "has_more"}`.
    fn list(&self, items: &[Value]) -> Result<Value, ApiError> {
        let mut ordered: Vec<&Value> = items.iter().collect();
        if self.desc {
            ordered.reverse();
        }
        let start = match &self.after {
            None => 0,
            Some(after) => {
                ordered
                    .iter()
                    .position(|v| v.get("id").and_then(Value::as_str) == Some(after.as_str()))
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidRequest, "No input item has this id")
                            .with_param("after")
                    })?
                    + 1
            }
        };
        let rest = &ordered[start.min(ordered.len())..];
        let data: Vec<Value> = rest.iter().take(self.limit).map(|v| (*v).clone()).collect();
        let id_of = |v: Option<&Value>| v.and_then(|v| v.get("id")).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "object": "list",
            "first_id": id_of(data.first()),
            "last_id": id_of(data.last()),
            "has_more": rest.len() > self.limit,
            "data": data,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn resp(id: &str, key: Option<&str>) -> StoredResponse {
        StoredResponse {
            id: id.to_owned(),
            key_id: key.map(str::to_owned),
            subject: None,
            created_at: 100,
            input_items: vec![json!({"id": "msg_1"})],
            response: json!({"id": id, "object": "response"}),
        }
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn memory_is_scoped_by_key_and_expires() {
        let mut m = Memory::new(10);
        m.put(resp("resp_a", Some("k1")), 200, 100).unwrap();
        assert!(m.get("resp_a", Some("k1"), 150).is_some());
        assert!(m.get("resp_a", Some("k2"), 150).is_none());
        assert!(m.get("resp_a", None, 150).is_none());
        assert!(m.get("resp_a", Some("k1"), 200).is_none(), "expired");
        assert!(!m.delete("resp_a", Some("k2")));
        assert!(m.delete("resp_a", Some("k1")));
        assert!(m.get("resp_a", Some("k1"), 150).is_none());
        assert!(!m.delete("resp_a", Some("k1")));
    }

    #[test]
    fn memory_drops_the_oldest_past_its_bound() {
        let mut m = Memory::new(3);
        for i in 0..5 {
            m.put(resp(&format!("resp_{i}"), None), 1000, 100).unwrap();
        }
        let kept: Vec<bool> = (0..5)
            .map(|i| m.get(&format!("resp_{i}"), None, 100).is_some())
            .collect();
        assert_eq!(kept, [false, false, true, true, true]);
        assert_eq!((m.by_id.len(), m.order.len()), (3, 3));
        // A deleted entry frees its place without evicting another.
        assert!(m.delete("resp_3", None));
        m.put(resp("resp_5", None), 1000, 100).unwrap();
        assert!(m.get("resp_2", None, 100).is_some());
        assert!(
            m.put(resp("resp_5", None), 1000, 100).is_err(),
            "same id twice"
        );
    }

    #[test]
    fn pages_follow_openai_list_semantics() {
        let items: Vec<Value> = (1..=5).map(|i| json!({"id": format!("m{i}")})).collect();
        let ids = |v: &Value| -> Vec<String> {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect()
        };
        for (q, want, more) in [
            (vec![], vec!["m5", "m4", "m3", "m2", "m1"], false),
            (
                vec![("order", "asc"), ("limit", "2")],
                vec!["m1", "m2"],
                true,
            ),
            (
                vec![("order", "asc"), ("limit", "2"), ("after", "m2")],
                vec!["m3", "m4"],
                true,
            ),
            (vec![("limit", "2"), ("after", "m2")], vec!["m1"], false),
            (
                vec![("include[]", "x"), ("limit", "5")],
                vec!["m5", "m4", "m3", "m2", "m1"],
                false,
            ),
        ] {
            let page = Page::parse(&pairs(&q)).unwrap();
            let body = page.list(&items).unwrap();
            assert_eq!(ids(&body), want, "{q:?}");
            assert_eq!(body["has_more"], more, "{q:?}");
            assert_eq!(body["object"], "list");
            assert_eq!(body["first_id"], want[0]);
            assert_eq!(body["last_id"], *want.last().unwrap());
        }
        let empty = Page::parse(&[]).unwrap().list(&[]).unwrap();
        assert_eq!(empty["first_id"], Value::Null);
        assert_eq!(empty["data"], json!([]));
    }

    #[test]
    fn bad_page_parameters_name_their_param() {
        for (q, param) in [
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "101")], "limit"),
            (vec![("limit", "x")], "limit"),
            (vec![("order", "up")], "order"),
        ] {
            let e = Page::parse(&pairs(&q)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
        }
        let e = Page::parse(&pairs(&[("after", "nope")]))
            .unwrap()
            .list(&[json!({"id": "m1"})])
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("after"));
    }
}
