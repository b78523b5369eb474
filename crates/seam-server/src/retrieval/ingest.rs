//! The server's side of adding documents: the caller's label grants checked, the collection's
//! policy run through the gateway, and the engine's types shown as JSON.

use seam_config::CollectionConfig;
use seam_retrieval::Embed;
use seam_retrieval::extract::Format;
pub use seam_retrieval::ingest::Given;
use seam_retrieval::ingest::{PrepareError, Settings};
use seam_retrieval::service::IngestDocument;
use seam_store::retrieval::{DocumentInfo, Grants, MetaFilter, Upserted};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Map, Value, json};

/// The documents in `bytes`, ready for the engine. Every label must be one the caller is
/// granted: a key cannot put a passage in front of readers it could not see itself.
pub fn prepare(
    live: &crate::Live,
    coll: &CollectionConfig,
    format: Format,
    bytes: &[u8],
    given: Given,
    grants: &Grants,
    embedder: &dyn Embed,
) -> Result<Vec<IngestDocument>, ApiError> {
    let settings = Settings {
        max_tokens: coll.max_tokens,
        overlap: coll.overlap,
        default_labels: &coll.default_labels,
        embedder: &coll.embedder,
        policy: coll.policy.as_deref(),
    };
    let mut govern = |texts: Vec<String>| -> Result<Vec<String>, String> {
        match &coll.policy {
            None => Ok(texts),
            Some(p) => live.gateway.govern_texts(p, texts).map_err(|e| e.message),
        }
    };
    let docs = seam_retrieval::ingest::prepare(
        format,
        bytes,
        given,
        settings,
        &|t| embedder.count_tokens(t),
        &mut govern,
    )
    .map_err(|e| match e {
        PrepareError::Invalid(m) => ApiError::new(ErrorCode::InvalidRequest, m),
        PrepareError::Policy(m) => ApiError::new(ErrorCode::PolicyViolation, m),
    })?;
    for d in &docs {
        if let Some(l) = d.labels.iter().find(|l| !grants.permits(l)) {
            return Err(ApiError::new(
                ErrorCode::CollectionForbidden,
                format!(
                    "this key may not label a document {l:?}: it is not among its `labels` grants"
                ),
            )
            .with_param("labels"));
        }
        if d.labels.is_empty() && !grants.all {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "the document has no labels and the collection no default_labels: only a key granted every label (*) could ever see it",
            )
            .with_param("labels"));
        }
    }
    Ok(docs)
}

/// `inserted`, `replaced` or `unchanged`, with the chunk count stored.
pub fn outcome(u: &Upserted) -> (&'static str, u64) {
    match u {
        Upserted::Inserted { chunks } => ("inserted", *chunks as u64),
        Upserted::Replaced { chunks } => ("replaced", *chunks as u64),
        Upserted::Unchanged => ("unchanged", 0),
    }
}

/// A document as the API shows it.
pub fn info_json(d: &DocumentInfo) -> Value {
    json!({
        "object": "document",
        "id": d.id,
        "title": d.title,
        "source": d.source,
        "labels": d.labels,
        "metadata": d.metadata,
        "chunks": d.chunks,
        "tokens": d.tokens,
        "content_hash": d.content_hash,
        "updated_at": seam_store::rfc3339(d.updated_ms),
    })
}

/// A search's `filter`: `{"key": value}` or `{"key": [values…]}`, scalars only; every key
/// must match.
pub fn filter(raw: &Map<String, Value>) -> Result<MetaFilter, ApiError> {
    MetaFilter::from_json(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e).with_param("filter"))
}
