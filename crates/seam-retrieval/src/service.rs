//! [`Retrieval`]: the engine the server and the CLI call. It validates names and labels, embeds
//! chunks (skipping documents whose stored hash says they are unchanged), stores them, and
//! searches: BM25 and vectors, both from the collection's in-process index ([`crate::index`],
//! [`crate::text`]) on either store, each restricted to what the caller's grants and metadata
//! filter admit, fused by reciprocal rank.
//!
//! Store work runs on `tokio::task::spawn_blocking` over a few connections, each behind a mutex;
//! the in-process index of each collection sits behind a `RwLock`, so searches share it and only a
//! catch-up with the store takes it exclusively.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use serde_json::{Map, Value};

use seam_store::{
    DocumentInfo, Erased, Grants, MetaFilter, NewChunk, NewDocument, RetrievalStore, Stats,
    StoreConfig, StoreError, Upserted,
};

use crate::grants::{valid_collection, valid_document_id, valid_label};
use crate::index::VectorIndex;
use crate::ivf::Approximate;
use crate::{Embed, EmbedError, fuse};

/// Store connections a [`Retrieval`] opens.
pub const CONNECTIONS: usize = 4;
/// Texts per call to the embedder while ingesting.
pub const EMBED_BATCH: usize = 32;
/// Most results one search returns.
pub const MAX_TOP_K: u32 = 50;
/// Most candidates one list of a search may bring to the fusion.
pub const MAX_CANDIDATES: u32 = 1_000;
/// Most labels on one document.
pub const MAX_LABELS: usize = 64;
/// Most chunks in one document.
pub const MAX_CHUNKS: usize = 20_000;
/// Most bytes of a document's metadata, as JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Most documents one list call returns.
pub const MAX_LIST: u32 = 1_000;

/// Why a retrieval call failed. Messages are one line and never quote document text.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    /// No such document (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong: a name, a label, a size (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The embedder failed or answered out of shape (HTTP 502).
    #[error("embedding failed: {0}")]
    Embed(#[from] EmbedError),
    /// The store failed (HTTP 500).
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn invalid(msg: impl Into<String>) -> RetrievalError {
    RetrievalError::Invalid(msg.into())
}

/// One chunk of a document to ingest, as the chunker cut it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkText {
    pub heading: Option<String>,
    pub text: String,
    pub tokens: u32,
}

/// A document to ingest: extracted, chunked, not yet embedded.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestDocument {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub labels: Vec<String>,
    pub metadata: Map<String, Value>,
    /// The caller's hash of the document's content (its bytes, say).
    pub content_hash: String,
    pub chunks: Vec<ChunkText>,
}

/// Which lists a search runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// BM25 and vectors, fused by reciprocal rank.
    #[default]
    Hybrid,
    /// Full text only (no embedding).
    Bm25,
    /// Vectors only.
    Vector,
}

/// A search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    pub text: String,
    pub grants: Grants,
    pub filter: MetaFilter,
    /// 1 to [`MAX_TOP_K`].
    pub top_k: u32,
    pub mode: Mode,
    /// Candidates per list before fusion; `None`: `max(top_k × 4, 40)`.
    pub candidates: Option<u32>,
}

/// A collection's in-process index: its size and what it holds in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub chunks: usize,
    /// The `f32` rows, their int8 copies and the per-chunk arrays.
    pub vector_bytes: usize,
    /// BM25's postings, lengths and term dictionary.
    pub text_bytes: usize,
    /// The IVF index's centroids and lists (0 until built).
    pub approximate_bytes: usize,
    /// Whether the IVF index is built.
    pub approximate_ready: bool,
}

/// One result, with what a citation needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The document's id.
    pub document: String,
    /// The chunk's place in its document, from 0.
    pub chunk: u32,
    pub chunk_id: i64,
    /// The fused RRF score (hybrid), or the one list's own score: BM25 (higher better) or
    /// cosine.
    pub score: f64,
    /// 1-based rank in the full-text list, when it held the chunk.
    pub bm25_rank: Option<u32>,
    pub vector_rank: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub metadata: Map<String, Value>,
}

struct Inner {
    stores: Vec<Mutex<RetrievalStore>>,
    next: AtomicUsize,
    indexes: Mutex<HashMap<String, Arc<RwLock<VectorIndex>>>>,
    approx: Mutex<Approximate>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The PostgreSQL client closes its connection on its own runtime, which must not run
        // inside another: dropped from async code, the connections go to a thread of their own.
        let stores = std::mem::take(&mut self.stores);
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("seam-retrieval-close".into())
                .spawn(move || drop(stores));
        }
    }
}

fn unpoison<T>(r: Result<T, PoisonError<T>>) -> T {
    // A panic cannot leave a store or index half-written: each write is one transaction or a
    // load that `sync` redoes when counts disagree.
    r.unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// A free connection if one is, else waits for one in turn.
    fn store(&self) -> MutexGuard<'_, RetrievalStore> {
        let n = self.stores.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(g) = self.stores[(start + i) % n].try_lock() {
                return g;
            }
        }
        unpoison(self.stores[start % n].lock())
    }

    fn index(&self, collection: &str) -> Arc<RwLock<VectorIndex>> {
        let approx = *unpoison(self.approx.lock());
        let mut map = unpoison(self.indexes.lock());
        map.entry(collection.to_owned())
            .or_insert_with(|| {
                let mut ix = VectorIndex::new();
                ix.set_approximate(approx);
                Arc::new(RwLock::new(ix))
            })
            .clone()
    }
}

/// Retrieval over Seam's store: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Retrieval {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Retrieval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrieval")
            .field("connections", &self.inner.stores.len())
            .finish()
    }
}

/// Heading and text, as the embedder sees a chunk.
fn embed_text(c: &ChunkText) -> String {
    match &c.heading {
        Some(h) if !h.is_empty() => format!("{h}\n\n{}", c.text),
        _ => c.text.clone(),
    }
}

/// Checks an embedder's answer and L2-normalises each vector (the index's dot product is a
/// cosine only for unit vectors).
fn normalised(vectors: Vec<Vec<f32>>, want: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if vectors.len() != want {
        return Err(EmbedError(format!(
            "the embedder returned {} vectors for {want} texts",
            vectors.len()
        )));
    }
    let dims = vectors.first().map_or(0, Vec::len);
    vectors
        .into_iter()
        .map(|mut v| {
            if v.len() != dims || dims == 0 {
                return Err(EmbedError(
                    "the embedder returned vectors of different or zero lengths".to_owned(),
                ));
            }
            let norm = v
                .iter()
                .map(|x| f64::from(*x) * f64::from(*x))
                .sum::<f64>()
                .sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err(EmbedError(
                    "the embedder returned a zero or non-finite vector".to_owned(),
                ));
            }
            for x in &mut v {
                *x = (f64::from(*x) / norm) as f32;
            }
            Ok(v)
        })
        .collect()
}

fn check_collection(collection: &str) -> Result<(), RetrievalError> {
    if valid_collection(collection) {
        Ok(())
    } else {
        Err(invalid(
            "a collection name is 1 to 64 characters of a-z, 0-9, '_' and '-'",
        ))
    }
}

fn check_id(id: &str) -> Result<(), RetrievalError> {
    if valid_document_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "a document id is 1 to 200 characters of letters, digits and ._:@/+-",
        ))
    }
}

fn check_document(collection: &str, doc: &IngestDocument) -> Result<(), RetrievalError> {
    check_collection(collection)?;
    check_id(&doc.id)?;
    if doc.labels.len() > MAX_LABELS {
        return Err(invalid(format!(
            "a document carries at most {MAX_LABELS} labels"
        )));
    }
    if let Some(bad) = doc.labels.iter().position(|l| !valid_label(l)) {
        return Err(invalid(format!(
            "label {} is not 1 to 128 characters of letters, digits and ._:@/+-",
            bad + 1
        )));
    }
    if doc.content_hash.is_empty() || doc.content_hash.len() > 128 {
        return Err(invalid("a content hash is 1 to 128 characters"));
    }
    for (name, v) in [("title", &doc.title), ("source", &doc.source)] {
        if v.as_ref().is_some_and(|s| s.len() > 1_000) {
            return Err(invalid(format!(
                "a document's {name} is at most 1,000 bytes"
            )));
        }
    }
    let meta_len = serde_json::to_string(&doc.metadata).map_or(usize::MAX, |s| s.len());
    if meta_len > MAX_METADATA_BYTES {
        return Err(invalid(format!(
            "a document's metadata is at most {MAX_METADATA_BYTES} bytes of JSON"
        )));
    }
    if doc.chunks.len() > MAX_CHUNKS {
        return Err(invalid(format!(
            "a document has at most {MAX_CHUNKS} chunks"
        )));
    }
    if doc.chunks.iter().any(|c| c.text.trim().is_empty()) {
        return Err(invalid("a chunk's text is empty"));
    }
    Ok(())
}

fn same_document(info: &DocumentInfo, doc: &IngestDocument) -> bool {
    let mut labels = doc.labels.clone();
    labels.sort();
    labels.dedup();
    info.content_hash == doc.content_hash
        && info.labels == labels
        && info.metadata == doc.metadata
        && info.title == doc.title
        && info.source == doc.source
}

impl Retrieval {
    /// Opens [`CONNECTIONS`] connections to the store (migrating it). Blocking, and on
    /// PostgreSQL it must not run inside an async runtime: from async code use
    /// [`Retrieval::connect`].
    pub fn open(cfg: &StoreConfig) -> Result<Retrieval, RetrievalError> {
        Retrieval::open_with(cfg, CONNECTIONS)
    }

    /// [`Retrieval::open`] on a blocking thread, for async callers.
    pub async fn connect(cfg: StoreConfig) -> Result<Retrieval, RetrievalError> {
        tokio::task::spawn_blocking(move || Retrieval::open(&cfg))
            .await
            .map_err(|e| {
                RetrievalError::Store(StoreError::new(format!("opening retrieval failed: {e}")))
            })?
    }

    /// As [`Retrieval::open`], with `connections` (at least 1) connections.
    pub fn open_with(cfg: &StoreConfig, connections: usize) -> Result<Retrieval, RetrievalError> {
        let stores = (0..connections.max(1))
            .map(|_| RetrievalStore::open(cfg).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Retrieval {
            inner: Arc::new(Inner {
                stores,
                next: AtomicUsize::new(0),
                indexes: Mutex::new(HashMap::new()),
                approx: Mutex::new(Approximate::default()),
            }),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, RetrievalError> + Send + 'static,
    ) -> Result<T, RetrievalError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| {
                RetrievalError::Store(StoreError::new(format!("a retrieval task failed: {e}")))
            })?
    }

    /// Stores `doc` in `collection`: when the stored document has the same hash, labels,
    /// metadata, title and source, nothing (not even the embedder) runs; otherwise its chunks
    /// are embedded ([`EMBED_BATCH`] at a time, heading and text together) and replace the
    /// stored ones in one transaction.
    pub async fn ingest(
        &self,
        collection: &str,
        embedder: &dyn Embed,
        doc: IngestDocument,
    ) -> Result<Upserted, RetrievalError> {
        check_document(collection, &doc)?;
        let (coll, id) = (collection.to_owned(), doc.id.clone());
        let stored = self
            .blocking(move |inner| Ok(inner.store().get(&coll, &id)?))
            .await?;
        if stored
            .as_ref()
            .is_some_and(|info| same_document(info, &doc))
        {
            return Ok(Upserted::Unchanged);
        }
        let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(doc.chunks.len());
        for batch in doc.chunks.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(embed_text).collect();
            let got = embedder.embed(&texts).await?;
            vectors.extend(normalised(got, texts.len())?);
        }
        let stored_chunks = stored.map_or(0, |i| u64::from(i.chunks));
        let new = NewDocument {
            collection: collection.to_owned(),
            id: doc.id,
            title: doc.title,
            source: doc.source,
            content_hash: doc.content_hash,
            labels: doc.labels,
            metadata: doc.metadata,
            chunks: doc
                .chunks
                .into_iter()
                .zip(vectors)
                .enumerate()
                .map(|(i, (c, vector))| NewChunk {
                    ord: u32::try_from(i).unwrap_or(u32::MAX),
                    heading: c.heading,
                    text: c.text,
                    tokens: c.tokens,
                    vector,
                })
                .collect(),
        };
        let dims = new.chunks.first().map_or(0, |c| c.vector.len());
        let name = embedder.name().to_owned();
        self.blocking(move |inner| {
            let mut store = inner.store();
            let g = store.generation(&new.collection)?;
            if dims > 0 && g.dims != 0 && g.chunks > stored_chunks && g.dims as usize != dims {
                return Err(RetrievalError::Embed(EmbedError(format!(
                    "the embedder {name} gives {dims} dimensions but the collection's vectors have {}",
                    g.dims
                ))));
            }
            Ok(store.upsert(&new)?)
        })
        .await
    }

    /// When vector lists come from the approximate index ([`crate::ivf`]; by default from
    /// 50,000 chunks a collection on): for this process's indexes, loaded and to come.
    pub fn set_approximate(&self, approx: Approximate) {
        *unpoison(self.inner.approx.lock()) = approx;
        let indexes: Vec<Arc<RwLock<VectorIndex>>> = unpoison(self.inner.indexes.lock())
            .values()
            .cloned()
            .collect();
        for ix in indexes {
            unpoison(ix.write()).set_approximate(approx);
        }
    }

    /// What this process holds in memory for `collection` (zeros before its first search).
    pub fn index_stats(&self, collection: &str) -> IndexStats {
        let ix = unpoison(self.inner.indexes.lock()).get(collection).cloned();
        let Some(ix) = ix else {
            return IndexStats::default();
        };
        let ix = unpoison(ix.read());
        IndexStats {
            chunks: ix.len(),
            vector_bytes: ix.vector_bytes(),
            text_bytes: ix.text_bytes(),
            approximate_bytes: ix.approximate_bytes(),
            approximate_ready: ix.approximate_ready(),
        }
    }

    /// Deletes a document with its chunks and vectors.
    pub async fn delete(&self, collection: &str, id: &str) -> Result<(), RetrievalError> {
        check_collection(collection)?;
        check_id(id)?;
        let (coll, id) = (collection.to_owned(), id.to_owned());
        let deleted = self
            .blocking(move |inner| Ok(inner.store().delete(&coll, &id)?))
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(RetrievalError::NotFound(
                "no such document in the collection".to_owned(),
            ))
        }
    }

    /// One document, without its chunks.
    pub async fn get(&self, collection: &str, id: &str) -> Result<DocumentInfo, RetrievalError> {
        check_collection(collection)?;
        check_id(id)?;
        let (coll, id) = (collection.to_owned(), id.to_owned());
        self.blocking(move |inner| Ok(inner.store().get(&coll, &id)?))
            .await?
            .ok_or_else(|| {
                RetrievalError::NotFound("no such document in the collection".to_owned())
            })
    }

    /// Documents in id order after `after`, at most `limit` (1 to [`MAX_LIST`]).
    pub async fn list(
        &self,
        collection: &str,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<DocumentInfo>, RetrievalError> {
        check_collection(collection)?;
        if !(1..=MAX_LIST).contains(&limit) {
            return Err(invalid(format!("limit is 1 to {MAX_LIST}")));
        }
        let coll = collection.to_owned();
        self.blocking(move |inner| Ok(inner.store().list(&coll, after.as_deref(), limit)?))
            .await
    }

    /// The collection's totals.
    pub async fn stats(&self, collection: &str) -> Result<Stats, RetrievalError> {
        check_collection(collection)?;
        let coll = collection.to_owned();
        self.blocking(move |inner| Ok(inner.store().stats(&coll)?))
            .await
    }

    /// Collections holding at least one document.
    pub async fn collections(&self) -> Result<Vec<String>, RetrievalError> {
        self.blocking(|inner| Ok(inner.store().collections()?))
            .await
    }

    /// Deletes every document labelled `label` in every collection (`subject:<id>` for a
    /// subject's erasure) and drops this process's vector indexes, so no erased vector stays
    /// in memory; they reload on the next search. Other processes notice by the generation at
    /// their next search.
    pub async fn erase_labelled(&self, label: &str) -> Result<Erased, RetrievalError> {
        if !valid_label(label) {
            return Err(invalid(
                "a label is 1 to 128 characters of letters, digits and ._:@/+-",
            ));
        }
        let label = label.to_owned();
        self.blocking(move |inner| {
            let erased = inner.store().erase_labelled(&label)?;
            if erased.documents > 0 {
                unpoison(inner.indexes.lock()).clear();
            }
            Ok(erased)
        })
        .await
    }

    /// The best chunks for `q` that its grants and filter admit, best first.
    pub async fn search(
        &self,
        collection: &str,
        embedder: &dyn Embed,
        q: &SearchQuery,
    ) -> Result<Vec<Found>, RetrievalError> {
        check_collection(collection)?;
        if !(1..=MAX_TOP_K).contains(&q.top_k) {
            return Err(invalid(format!("top_k is 1 to {MAX_TOP_K}")));
        }
        if q.text.trim().is_empty() {
            return Err(invalid("the query text is empty"));
        }
        let candidates = q
            .candidates
            .unwrap_or((q.top_k * 4).max(40))
            .clamp(q.top_k, MAX_CANDIDATES);
        let vector = if q.mode == Mode::Bm25 {
            None
        } else {
            let texts = [q.text.clone()];
            let got = embedder.embed(&texts).await?;
            normalised(got, 1)?.pop()
        };
        let (coll, q) = (collection.to_owned(), q.clone());
        self.blocking(move |inner| search_blocking(inner, &coll, vector.as_deref(), &q, candidates))
            .await
    }
}

/// Both lists from the collection's in-process index, brought up to date first: the caller's
/// visibility as a document bitmap (grants, or the store's filtered documents when a metadata
/// filter is set), then BM25 over the postings and the vector scan, each skipping what is not
/// visible. `(bm25 hits, vector hits)`, each best first.
type Lists = (Vec<(i64, f32)>, Vec<(i64, f32)>);

fn lists(
    inner: &Inner,
    store: &mut RetrievalStore,
    collection: &str,
    vector: Option<&[f32]>,
    q: &SearchQuery,
    k: usize,
) -> Result<Lists, RetrievalError> {
    if q.grants.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let keys = if q.filter.is_empty() {
        None
    } else {
        Some(store.filtered_docs(collection, &q.grants, &q.filter)?)
    };
    let ix = inner.index(collection);
    let g = store.generation(collection)?;
    let run = |index: &VectorIndex| -> Result<Lists, RetrievalError> {
        if index.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if let Some(query) = vector
            && index.dims() != query.len()
        {
            return Err(RetrievalError::Embed(EmbedError(format!(
                "the query's vector has {} dimensions but the collection's have {}",
                query.len(),
                index.dims()
            ))));
        }
        let visible = match &keys {
            Some(keys) => Some(index.visible_docs(keys)),
            None => index.visible_by_grants(&q.grants),
        };
        let text = if q.mode == Mode::Vector {
            Vec::new()
        } else {
            index.text_search(&q.text, visible.as_deref(), k)
        };
        let vectors = match vector {
            Some(query) => index.search(query, visible.as_deref(), k),
            None => Vec::new(),
        };
        Ok((text, vectors))
    };
    {
        let read = unpoison(ix.read());
        if read.is_current(&g) {
            return run(&read);
        }
    }
    let mut write = unpoison(ix.write());
    write.sync(store, collection)?;
    run(&write)
}

fn search_blocking(
    inner: &Inner,
    collection: &str,
    vector: Option<&[f32]>,
    q: &SearchQuery,
    candidates: u32,
) -> Result<Vec<Found>, RetrievalError> {
    let mut store = inner.store();
    let (text_hits, vector_hits) = lists(
        inner,
        &mut store,
        collection,
        vector,
        q,
        candidates as usize,
    )?;
    let text_ids: Vec<i64> = text_hits.iter().map(|h| h.0).collect();
    let vector_ids: Vec<i64> = vector_hits.iter().map(|h| h.0).collect();
    let top_k = q.top_k as usize;
    // (chunk id, score, bm25 rank, vector rank), best first.
    let ranked: Vec<(i64, f64, Option<u32>, Option<u32>)> = match q.mode {
        Mode::Hybrid => fuse::rrf(&[text_ids.as_slice(), vector_ids.as_slice()])
            .into_iter()
            .take(top_k)
            .map(|f| (f.id, f.score, f.ranks[0], f.ranks[1]))
            .collect(),
        // Not BM25's own score: its term statistics count every chunk, the caller's
        // invisible ones too, so the raw number could hint at what they hold. The rank's
        // reciprocal (as fusion scores it) says the same about the visible list and nothing else.
        Mode::Bm25 => text_hits
            .iter()
            .take(top_k)
            .zip(1u32..)
            .map(|((id, _), r)| (*id, crate::fuse::reciprocal(r), Some(r), None))
            .collect(),
        Mode::Vector => vector_hits
            .iter()
            .take(top_k)
            .zip(1u32..)
            .map(|((id, s), r)| (*id, f64::from(*s), None, Some(r)))
            .collect(),
    };
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut views: HashMap<i64, seam_store::ChunkView> = store
        .chunks(&ids)?
        .into_iter()
        .map(|v| (v.chunk_id, v))
        .collect();
    // A chunk deleted since it was ranked is left out (its id is never reused).
    Ok(ranked
        .into_iter()
        .filter_map(|(id, score, bm25_rank, vector_rank)| {
            let v = views.remove(&id)?;
            Some(Found {
                document: v.document,
                chunk: v.ord,
                chunk_id: id,
                score,
                bm25_rank,
                vector_rank,
                heading: v.heading,
                text: v.text,
                title: v.title,
                source: v.source,
                metadata: v.metadata,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn vectors_are_checked_and_normalised() {
        let v = normalised(vec![vec![3.0, 4.0]], 1).unwrap();
        assert_eq!(v, [[0.6, 0.8]]);
        assert!(normalised(vec![vec![0.0, 0.0]], 1).is_err());
        assert!(normalised(vec![vec![f32::NAN, 1.0]], 1).is_err());
        assert!(normalised(vec![vec![1.0], vec![1.0, 0.0]], 2).is_err());
        assert!(normalised(vec![vec![1.0]], 2).is_err());
    }

    #[test]
    fn chunks_embed_with_their_heading() {
        let c = ChunkText {
            heading: Some("Dosage".into()),
            text: "Twice a day.".into(),
            tokens: 3,
        };
        assert_eq!(embed_text(&c), "Dosage\n\nTwice a day.");
    }
}
