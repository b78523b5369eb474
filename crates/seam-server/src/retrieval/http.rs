//! `/v1/collections/…`: the collections a key may use, a collection's stats, documents (add,
//! list, show, delete) and search. Errors are OpenAI-shaped; every call is an audit record.
//!
//! Searching needs the key's `collections` globs; everything that reads or changes documents
//! as such needs its `ingest` globs (a document list would otherwise show what its grants
//! hide). A document may only carry labels the adding key is granted, so no key can place a
//! passage in front of readers it cannot see itself.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use seam_types::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Collections, api_error, grants, may_ingest, may_search};
use crate::audit::{Draft, Finish};
use crate::auth::Caller;
use crate::error::error_response;
use crate::pipeline::json_response;
use crate::{RequestId, RequestStart, SharedState};

/// The endpoint label of these requests' audit records and metrics.
pub const ENDPOINT: &str = "collections";
const MAX_LIST: usize = 1000;

/// What every handler takes from the request besides its body and path.
pub struct Ask {
    st: SharedState,
    caller: Option<Arc<Caller>>,
    headers: HeaderMap,
    rid: RequestId,
    start: RequestStart,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ask
where
    SharedState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let cx = crate::pipeline::Cx::from_request_parts(parts, state).await?;
        Ok(Ask {
            st: axum::extract::FromRef::from_ref(state),
            caller: cx.caller,
            headers: cx.headers,
            rid: cx.rid,
            start: cx.start,
        })
    }
}

impl Ask {
    fn caller(&self) -> Option<&Caller> {
        self.caller.as_deref()
    }

    fn draft(&self, live: &crate::Live) -> Draft {
        self.st.draft(
            live,
            &self.rid,
            self.start,
            &self.headers,
            ENDPOINT,
            self.caller(),
        )
    }

    fn collections(&self) -> Result<&Collections, ApiError> {
        self.st.collections.as_deref().ok_or_else(|| {
            super::unavailable("retrieval needs the store, which could not be opened at start")
        })
    }
}

/// Finishes the record with the outcome and answers.
async fn answer(mut draft: Draft, outcome: Result<(StatusCode, Value), ApiError>) -> Response {
    let (status, error_code) = match &outcome {
        Ok((s, _)) => (s.as_u16(), None),
        Err(e) => (e.status, Some(e.code.to_string())),
    };
    if let Ok((_, v)) = &outcome
        && let Some(c) = v.get("citations")
        && let Ok(c) = serde_json::from_value(c.clone())
    {
        draft.citations(c);
    }
    let done = draft
        .finish(Finish {
            status,
            error_code,
            ..Finish::default()
        })
        .await;
    match (done, outcome) {
        (Err(audit), _) => error_response(&audit),
        (Ok(()), Ok((status, mut v))) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("citations");
            }
            let mut resp = json_response(&v);
            *resp.status_mut() = status;
            resp
        }
        (Ok(()), Err(e)) => error_response(&e),
    }
}

fn collection<'a>(
    live: &'a crate::Live,
    name: &str,
) -> Result<&'a seam_config::CollectionConfig, ApiError> {
    live.retrieval.collections.get(name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::CollectionNotFound,
            "No collection with that name; GET /v1/collections lists the ones this key may use",
        )
    })
}

/// The engine, once `name` is a configured collection and the caller may manage its documents
/// (`ingest` globs); `doing` completes "this key may not …".
fn managed<'a>(
    ask: &'a Ask,
    live: &crate::Live,
    name: &str,
    doing: &str,
) -> Result<&'a Collections, ApiError> {
    collection(live, name)?;
    if !may_ingest(ask.caller(), name) {
        return Err(forbidden(&format!(
            "this key may not {doing} (its `ingest` globs)"
        )));
    }
    ask.collections()
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(ErrorCode::CollectionForbidden, what.to_owned())
}

fn invalid(param: &str, msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg.into()).with_param(param)
}

/// `GET /v1/collections`: the collections this key may search or add to.
pub async fn list(ask: Ask) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let caller = ask.caller();
    let data: Vec<Value> = live
        .retrieval
        .collections
        .values()
        .filter(|c| may_search(caller, &c.name) || may_ingest(caller, &c.name))
        .map(|c| {
            json!({
                "object": "collection",
                "name": c.name,
                "embedder": c.embedder,
                "chunk": {"max_tokens": c.max_tokens, "overlap": c.overlap},
                "search": may_search(caller, &c.name),
                "ingest": may_ingest(caller, &c.name),
            })
        })
        .collect();
    answer(
        draft,
        Ok((StatusCode::OK, json!({"object": "list", "data": data}))),
    )
    .await
}

/// `GET /v1/collections/{name}`: counts (documents, chunks, tokens, labels), for keys that may
/// add to it.
pub async fn stats(ask: Ask, Path(name): Path<String>) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let outcome = async {
        let cols = managed(&ask, &live, &name, "read this collection's documents")?;
        let s = cols.engine.stats(&name).await.map_err(api_error)?;
        Ok((
            StatusCode::OK,
            json!({
                "object": "collection",
                "name": name,
                "documents": s.documents,
                "chunks": s.chunks,
                "tokens": s.tokens,
                "labels": s.labels,
                "updated_at": s.updated_ms.map(seam_store::rfc3339),
            }),
        ))
    }
    .await;
    answer(draft, outcome).await
}

/// One document as `POST /v1/collections/{name}/documents` takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDoc {
    /// Required except for `jsonl`, whose lines carry their own.
    id: Option<String>,
    /// The document as text (txt, md, html, jsonl)…
    text: Option<String>,
    /// …or its bytes, base64 (pdf, or any format).
    content_base64: Option<String>,
    /// `txt`, `markdown`, `html`, `pdf` or `jsonl` (default `txt`).
    format: Option<String>,
    title: Option<String>,
    source: Option<String>,
    labels: Option<Vec<String>>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// `POST /v1/collections/{name}/documents`: adds a document, or replaces the one with its id
/// (unchanged content is a no-op). Answers `{"documents": [{"id", "status", "chunks"}]}`.
pub async fn add(ask: Ask, Path(name): Path<String>, raw: Body) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let outcome = add_inner(&ask, &live, &name, raw).await;
    answer(draft, outcome).await
}

async fn add_inner(
    ask: &Ask,
    live: &Arc<crate::Live>,
    name: &str,
    raw: Body,
) -> Result<(StatusCode, Value), ApiError> {
    let cols = managed(ask, live, name, "add documents to this collection")?;
    let coll = collection(live, name)?.clone();
    let max = live
        .max_body_bytes
        .max(coll.max_document_bytes.saturating_mul(4) / 3 + 4096);
    let doc: NewDoc = crate::body::request(raw, &ask.headers, max, |_: &NewDoc| Ok(())).await?;
    let format = match doc.format.as_deref() {
        None => seam_retrieval::extract::Format::Text,
        Some(f) => seam_retrieval::extract::Format::parse(f)
            .ok_or_else(|| invalid("format", "must be one of txt, markdown, html, pdf, jsonl"))?,
    };
    let bytes = match (doc.text, doc.content_base64) {
        (Some(t), None) => t.into_bytes(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .map_err(|_| invalid("content_base64", "is not valid base64"))?,
        _ => {
            return Err(invalid(
                "text",
                "give exactly one of `text` and `content_base64`",
            ));
        }
    };
    if bytes.len() > coll.max_document_bytes {
        return Err(ApiError::new(
            ErrorCode::RequestTooLarge,
            format!(
                "the document is larger than the collection's max_document_bytes ({})",
                coll.max_document_bytes
            ),
        ));
    }
    let given = super::ingest::Given {
        id: doc.id,
        title: doc.title,
        source: doc.source,
        labels: doc.labels,
        metadata: doc.metadata,
    };
    let embedder = super::embedder(
        &ask.st,
        live,
        &coll.embedder,
        &seam_config::Placement::default(),
        ask.caller().and_then(|c| c.policy.as_deref()),
    )
    .await?;
    let grants = grants(ask.caller(), None);
    // Extraction, the policy's scan and chunking are CPU work on up to max_document_bytes:
    // off the runtime's threads.
    let docs = {
        let (live, embedder) = (Arc::clone(live), Arc::clone(&embedder));
        tokio::task::spawn_blocking(move || {
            super::ingest::prepare(
                &live,
                &coll,
                format,
                &bytes,
                given,
                &grants,
                embedder.as_ref(),
            )
        })
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "preparing the document failed"))??
    };
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let id = d.id.clone();
        let done = cols
            .engine
            .ingest(name, embedder.as_ref(), d)
            .await
            .map_err(api_error)?;
        let (status, chunks) = super::ingest::outcome(&done);
        out.push(json!({"id": id, "status": status, "chunks": chunks}));
    }
    let created = out.iter().any(|d| d["status"] == "inserted");
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        json!({"object": "list", "documents": out}),
    ))
}

#[derive(Deserialize)]
pub struct Page {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/collections/{name}/documents?after=ID&limit=N`: documents in id order.
pub async fn documents(ask: Ask, Path(name): Path<String>, Query(page): Query<Page>) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let outcome = async {
        let cols = managed(&ask, &live, &name, "read this collection's documents")?;
        let limit = page.limit.unwrap_or(100).clamp(1, MAX_LIST);
        let docs = cols
            .engine
            .list(
                &name,
                page.after.clone(),
                u32::try_from(limit).unwrap_or(1000),
            )
            .await
            .map_err(api_error)?;
        let has_more = docs.len() == limit;
        let data: Vec<Value> = docs.iter().map(super::ingest::info_json).collect();
        Ok((
            StatusCode::OK,
            json!({"object": "list", "data": data, "has_more": has_more}),
        ))
    }
    .await;
    answer(draft, outcome).await
}

/// `GET /v1/collections/{name}/documents/{id}`.
pub async fn document(ask: Ask, Path((name, id)): Path<(String, String)>) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let outcome = async {
        let cols = managed(&ask, &live, &name, "read this collection's documents")?;
        let d = cols.engine.get(&name, &id).await.map_err(api_error)?;
        Ok((StatusCode::OK, super::ingest::info_json(&d)))
    }
    .await;
    answer(draft, outcome).await
}

/// `DELETE /v1/collections/{name}/documents/{id}`: the document, its chunks and vectors.
pub async fn delete(ask: Ask, Path((name, id)): Path<(String, String)>) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let outcome = async {
        let cols = managed(&ask, &live, &name, "delete from this collection")?;
        cols.engine.delete(&name, &id).await.map_err(api_error)?;
        Ok((
            StatusCode::OK,
            json!({"id": id, "object": "document", "deleted": true}),
        ))
    }
    .await;
    answer(draft, outcome).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    query: String,
    top_k: Option<usize>,
    mode: Option<String>,
    #[serde(default)]
    filter: Map<String, Value>,
    /// The data subject the search is for (else `x-seam-subject`), for `subject_grants`.
    user: Option<String>,
}

/// `POST /v1/collections/{name}/search`: the passages this key (and the request's subject) may
/// see that best match `query`.
pub async fn search(ask: Ask, Path(name): Path<String>, raw: Body) -> Response {
    let live = ask.st.live();
    let draft = ask.draft(&live);
    let subject = draft.subject().map(str::to_owned);
    let outcome = search_inner(&ask, &live, &name, raw, subject).await;
    answer(draft, outcome).await
}

async fn search_inner(
    ask: &Ask,
    live: &Arc<crate::Live>,
    name: &str,
    raw: Body,
    subject: Option<String>,
) -> Result<(StatusCode, Value), ApiError> {
    let coll = collection(live, name)?.clone();
    if !may_search(ask.caller(), name) {
        return Err(forbidden(
            "this key may not search this collection (its `collections` globs)",
        ));
    }
    let s: Search =
        crate::body::request(raw, &ask.headers, live.max_body_bytes, |_: &Search| Ok(())).await?;
    if s.query.trim().is_empty() {
        return Err(invalid("query", "must not be empty"));
    }
    let top_k = s.top_k.unwrap_or(seam_config::retrieval::DEFAULT_TOP_K);
    if !(1..=seam_config::retrieval::MAX_TOP_K).contains(&top_k) {
        return Err(invalid(
            "top_k",
            format!(
                "must be between 1 and {}",
                seam_config::retrieval::MAX_TOP_K
            ),
        ));
    }
    let mode = match s.mode.as_deref() {
        None => seam_config::SearchMode::Hybrid,
        Some(m) => seam_config::SearchMode::parse(m)
            .ok_or_else(|| invalid("mode", "must be one of hybrid, bm25, vector"))?,
    };
    let filter = super::ingest::filter(&s.filter)?;
    let subject = subject.or(s.user);
    let cols = ask.collections()?;
    let embedder = super::embedder(
        &ask.st,
        live,
        &coll.embedder,
        &seam_config::Placement::default(),
        ask.caller().and_then(|c| c.policy.as_deref()),
    )
    .await?;
    let q = seam_retrieval::service::SearchQuery {
        text: s.query,
        grants: grants(ask.caller(), subject.as_deref()),
        filter,
        top_k: u32::try_from(top_k).unwrap_or(u32::MAX),
        mode: super::mode(mode),
        candidates: None,
    };
    let found = cols
        .engine
        .search(name, embedder.as_ref(), &q)
        .await
        .map_err(api_error)?;
    let citations: Vec<Value> = found
        .iter()
        .map(|f| {
            json!({"collection": name, "document": f.document, "chunk": f.chunk, "score": f.score})
        })
        .collect();
    let data: Vec<Value> = found
        .into_iter()
        .map(|f| {
            json!({
                "object": "search_result",
                "document": f.document,
                "chunk": f.chunk,
                "score": f.score,
                "title": f.title,
                "heading": f.heading,
                "text": f.text,
                "source": f.source,
                "metadata": f.metadata,
                "bm25_rank": f.bm25_rank,
                "vector_rank": f.vector_rank,
            })
        })
        .collect();
    Ok((
        StatusCode::OK,
        json!({"object": "list", "data": data, "citations": citations}),
    ))
}
