//! Retrieval at the edge: `/v1/collections/…` (ingest, list, delete, search) and the context an
//! alias with `[models.NAME.retrieval]` puts into each request ([`inject`]).
//!
//! Who sees what is decided here once, as [`Grants`]: a key's `labels` patterns, plus
//! `subject:<id>` for the request's subject when the key has `subject_grants`; without keys
//! (loopback only) every label is granted. The engine (`seam_retrieval`) enforces them inside
//! both searches. Every search and every change is an audit record; a search's record names the
//! passages it returned (ids and scores, never text).

pub mod http;
pub mod ingest;
pub mod inject;

use std::collections::HashMap;
use std::sync::Arc;

use seam_config::{CollectionConfig, Config, ModelRetrieval, Placement};
use seam_retrieval::Embed;
use seam_retrieval::service::Retrieval;
use seam_store::retrieval::Grants;
use seam_types::{ApiError, ErrorCode};

use crate::auth::Caller;

/// The retrieval part of a config: collections and the aliases that search them. Rebuilt on
/// reload.
#[derive(Debug, Default)]
pub struct Setup {
    pub collections: HashMap<String, CollectionConfig>,
    pub aliases: HashMap<String, ModelRetrieval>,
}

impl Setup {
    pub fn new(cfg: &Config) -> Self {
        Setup {
            collections: cfg
                .retrieval
                .collections
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            aliases: cfg
                .models
                .iter()
                .filter_map(|(alias, m)| Some((alias.clone(), m.retrieval.clone()?)))
                .collect(),
        }
    }
}

/// What the server keeps across reloads: the engine over the store.
pub struct Collections {
    pub engine: Arc<Retrieval>,
}

impl Collections {
    /// Opens the engine on the config's store. A store that cannot be opened is logged, and
    /// retrieval answers 503 rather than keeping the server from starting.
    pub fn open(cfg: &Config) -> Option<Arc<Collections>> {
        // On its own thread: the PostgreSQL client runs a runtime of its own, which may not
        // start on one of tokio's threads.
        let store = crate::audit::store_config(cfg);
        let opened = std::thread::spawn(move || Retrieval::open(&store))
            .join()
            .unwrap_or_else(|_| {
                Err(seam_retrieval::service::RetrievalError::Invalid(
                    "opening the retrieval store panicked".into(),
                ))
            });
        match opened {
            Ok(engine) => Some(Arc::new(Collections {
                engine: Arc::new(engine),
            })),
            Err(e) => {
                tracing::error!(error = %e, "the retrieval store could not be opened; /v1/collections answers 503");
                None
            }
        }
    }
}

/// The embedder a collection names: the local model, or an embeddings alias through the
/// gateway (with the caller's placement and key policy).
pub async fn embedder(
    st: &crate::AppState,
    live: &crate::Live,
    name: &str,
    placement: &Placement,
    key_policy: Option<&str>,
) -> Result<Arc<dyn Embed>, ApiError> {
    st.embedders
        .resolve(name, &live.gateway, placement, key_policy)
        .await
        .map_err(unavailable)
}

pub(crate) fn unavailable(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::RetrievalUnavailable, why.to_string())
}

/// What `caller` may see: its `labels` patterns, and its request's subject when it has
/// `subject_grants`. Without keys, everything.
pub fn grants(caller: Option<&Caller>, subject: Option<&str>) -> Grants {
    let Some(c) = caller else {
        return Grants::all();
    };
    // The patterns were checked when the key was configured or created; one that no longer
    // parses grants nothing rather than something else.
    let mut g = seam_retrieval::grants::parse_grants(&c.retrieval.labels).unwrap_or_else(|e| {
        tracing::error!(key = %c.key_id, error = %e, "a key's label grants do not parse; it sees no document");
        Grants::default()
    });
    if c.retrieval.subject_grants
        && let Some(s) = subject
    {
        let label = format!("subject:{s}");
        // A subject that is not a valid label grants nothing rather than something else.
        if seam_config::retrieval::valid_label(&label) {
            g.exact.push(label);
        }
    }
    g
}

/// Whether `caller` may search `collection` (`collections` globs; everyone without keys).
pub fn may_search(caller: Option<&Caller>, collection: &str) -> bool {
    caller.is_none_or(|c| seam_store::scope_allows(&c.retrieval.collections, collection))
}

/// Whether `caller` may add to and delete from `collection` (`ingest` globs).
pub fn may_ingest(caller: Option<&Caller>, collection: &str) -> bool {
    caller.is_none_or(|c| seam_store::scope_allows(&c.retrieval.ingest, collection))
}

/// The engine's errors in the API's shape.
pub fn api_error(e: seam_retrieval::service::RetrievalError) -> ApiError {
    use seam_retrieval::service::RetrievalError as E;
    match e {
        E::NotFound(what) => ApiError::new(ErrorCode::DocumentNotFound, what),
        E::Invalid(msg) => ApiError::new(ErrorCode::InvalidRequest, msg),
        E::Embed(e) => unavailable(format!("the collection's embedder failed: {e}")),
        E::Store(e) => {
            tracing::error!(error = %e, "retrieval store");
            ApiError::new(
                ErrorCode::Internal,
                "the retrieval store failed; the log has details under the request id",
            )
        }
    }
}

/// What an alias's retrieval gave one request: its context is in the request; these name it.
pub struct Given {
    pub citations: Vec<seam_store::CitationRecord>,
}

/// Searches `r.collection` for the request's last user message with the caller's grants and
/// puts what it finds into `req` (before the input policy, which then sees the context too).
/// Nothing found, or no user text: the request goes as it came.
pub async fn apply(
    st: &crate::AppState,
    live: &crate::Live,
    req: &mut seam_types::chat::ChatRequest,
    r: &ModelRetrieval,
    who: (Option<&Caller>, Option<&str>),
    placement: &Placement,
    key_policy: Option<&str>,
) -> Result<Given, ApiError> {
    let (caller, subject) = who;
    let Some(cols) = st.collections.as_deref() else {
        return Err(unavailable(
            "retrieval needs the store, which could not be opened at start",
        ));
    };
    let query = req.last_user_text();
    if query.trim().is_empty() {
        return Ok(Given {
            citations: Vec::new(),
        });
    }
    let Some(collection) = live.retrieval.collections.get(&r.collection) else {
        return Err(ApiError::new(
            ErrorCode::CollectionNotFound,
            format!(
                "the alias's collection `{}` is not configured",
                r.collection
            ),
        ));
    };
    let embedder = embedder(st, live, &collection.embedder, placement, key_policy).await?;
    let q = seam_retrieval::service::SearchQuery {
        text: query.clone(),
        grants: grants(caller, subject),
        filter: seam_store::retrieval::MetaFilter::default(),
        top_k: u32::try_from(r.top_k).unwrap_or(u32::MAX),
        mode: mode(r.mode),
        candidates: None,
    };
    let found = cols
        .engine
        .search(&r.collection, embedder.as_ref(), &q)
        .await
        .map_err(api_error)?;
    if found.is_empty() {
        return Ok(Given {
            citations: Vec::new(),
        });
    }
    let passages: Vec<inject::Passage> = found
        .into_iter()
        .enumerate()
        .map(|(i, f)| inject::Passage {
            n: i + 1,
            document: f.document,
            chunk: f.chunk,
            title: f.title,
            heading: f.heading,
            text: f.text,
            score: f.score,
        })
        .collect();
    let context = inject::render(&r.template, &passages, &query)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e))?;
    inject::inject(req, &context);
    Ok(Given {
        citations: inject::citations(&r.collection, &passages),
    })
}

/// The engine's search mode for the config's.
pub fn mode(m: seam_config::SearchMode) -> seam_retrieval::service::Mode {
    match m {
        seam_config::SearchMode::Hybrid => seam_retrieval::service::Mode::Hybrid,
        seam_config::SearchMode::Bm25 => seam_retrieval::service::Mode::Bm25,
        seam_config::SearchMode::Vector => seam_retrieval::service::Mode::Vector,
    }
}
