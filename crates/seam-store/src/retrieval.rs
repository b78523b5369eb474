//! Retrieval's storage (migration 13): documents with access labels, their chunks, each chunk's
//! vector (f32 little-endian, L2-normalised by the caller) and a full-text index over the chunks.
//!
//! - `retrieval_documents` — one row per `(collection, id)`, with the caller's `content_hash`,
//!   metadata (a JSON object) and counts; `doc_key` is the store's own key, never reused.
//! - `retrieval_labels` — the document's access labels, indexed by label (erasure finds a
//!   subject's documents by it).
//! - `retrieval_chunks` — text, heading, token count and vector; `chunk_id` is never reused, and a
//!   document's chunks are replaced (new ids) whenever it changes. So a chunk's labels and
//!   metadata never change while it exists: whatever a search learned about a chunk id stays true.
//! - full text: on SQLite, the contentless FTS5 table `retrieval_fts` (rowid = `chunk_id`, porter
//!   stemming, BM25 on the text column only). Its `coll` and `acl` columns hold the collection and
//!   the labels as digit tokens, so the collection and a caller's grants are conditions of the
//!   same `MATCH` (a label prefix grant is a token prefix query). On PostgreSQL, a generated
//!   `tsvector` column with a GIN index, ranked by `ts_rank_cd` — cover density, not BM25 — and
//!   filtered by label joins in the same statement.
//! - `retrieval_generations` — per collection: `generation` (bumped by every write), `rebuilt`
//!   (the generation of the last write that deleted or replaced chunks), the chunk count and the
//!   vectors' dimensions. In-process vector indexes compare it to what they hold: only appends
//!   since → load the new rows; otherwise rebuild. A write locks this row first, so on PostgreSQL
//!   writers to one collection commit their (sequence-assigned) ids in increasing order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::db::{Conn, RowRead, Val};
use crate::{StoreConfig, StoreError};

/// How long an erasure's scrub waits out other connections (as the audit log's erasure does).
const SCRUB_WITHIN: Duration = Duration::from_secs(10);
/// Query terms kept from a search text; more only slow the full-text match.
pub const MAX_TERMS: usize = 32;
/// Longest query term kept, in characters.
const MAX_TERM_CHARS: usize = 64;
/// Most ids one statement's `IN (…)` list carries.
const IN_BATCH: usize = 500;
/// From this many chunks in a collection on, full-text queries drop common terms (SQLite).
pub const COMMON_TERMS_FROM: u64 = 20_000;
/// A term is common when at least this share of the collection's chunks holds it.
const COMMON_SHARE: u64 = 20; // 1/20: 5 %

/// A document to store, with its chunks already embedded.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDocument {
    pub collection: String,
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    /// The caller's hash of the content; an upsert with the same hash (and the same labels,
    /// metadata, title and source) writes nothing.
    pub content_hash: String,
    pub labels: Vec<String>,
    pub metadata: Map<String, Value>,
    pub chunks: Vec<NewChunk>,
}

/// One chunk of a [`NewDocument`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewChunk {
    /// Its place in the document, from 0.
    pub ord: u32,
    pub heading: Option<String>,
    pub text: String,
    pub tokens: u32,
    /// L2-normalised; every chunk of a collection has the same length.
    pub vector: Vec<f32>,
}

/// What [`RetrievalStore::upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Inserted {
        chunks: u32,
    },
    Replaced {
        chunks: u32,
    },
    /// Same hash, labels, metadata, title and source: nothing written.
    Unchanged,
}

/// A stored document, without its chunks.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentInfo {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    /// Sorted, without duplicates.
    pub labels: Vec<String>,
    pub metadata: Map<String, Value>,
    pub chunks: u32,
    pub tokens: u64,
    pub content_hash: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A collection's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub documents: u64,
    pub chunks: u64,
    pub tokens: u64,
    /// Distinct labels over the collection's documents.
    pub labels: u64,
    /// The last change to a document still there; `None` when empty.
    pub updated_ms: Option<i64>,
}

/// A collection's write counter, as [`RetrievalStore::generation`] reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Generation {
    /// Bumped by every write to the collection (0: never written).
    pub generation: i64,
    /// The generation of the last write that deleted or replaced chunks: an index synced at
    /// a generation older than this must be rebuilt, one at or past it may load newer rows.
    pub rebuilt: i64,
    pub chunks: u64,
    /// The vectors' length (0 while the collection has never held a chunk).
    pub dims: u32,
}

/// A chunk as search results show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkView {
    pub chunk_id: i64,
    /// The document's id (the caller's, not the store's key).
    pub document: String,
    pub ord: u32,
    pub heading: Option<String>,
    pub text: String,
    pub tokens: u32,
    pub title: Option<String>,
    pub source: Option<String>,
    pub metadata: Map<String, Value>,
}

/// What [`RetrievalStore::erase_labelled`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erased {
    /// Documents deleted, over all collections.
    pub documents: u64,
    pub chunks: u64,
    /// `None` when the deleted rows' old copies are gone from the database's files too (as
    /// [`crate::EraseReport::scrub`]); otherwise why not.
    pub scrub: Option<String>,
}

/// Which labels a caller may see: a document is visible iff at least one of its labels is
/// granted; a document without labels only to `all`. Built from patterns by
/// `seam_retrieval::grants::parse_grants`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Every label, and documents without labels (the pattern `*`).
    pub all: bool,
    pub exact: Vec<String>,
    /// `team:` for the pattern `team:*`; never empty.
    pub prefixes: Vec<String>,
}

impl Grants {
    /// Everything: what an admin or a key without label restrictions holds.
    pub fn all() -> Grants {
        Grants {
            all: true,
            ..Grants::default()
        }
    }

    /// Whether a document carrying `label` is visible through it.
    pub fn permits(&self, label: &str) -> bool {
        self.all
            || self.exact.iter().any(|l| l == label)
            || self
                .prefixes
                .iter()
                .any(|p| !p.is_empty() && label.starts_with(p.as_str()))
    }

    /// Whether a document with these labels is visible.
    pub fn permits_any(&self, labels: &[String]) -> bool {
        self.all || labels.iter().any(|l| self.permits(l))
    }

    /// Whether nothing at all is visible.
    pub fn is_empty(&self) -> bool {
        !self.all && self.exact.is_empty() && self.prefixes.iter().all(String::is_empty)
    }
}

/// A metadata filter: every key must hold one of its listed JSON scalars (strings, numbers,
/// booleans; numbers compare by value, so `2` matches `2.0`). Empty: no condition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetaFilter {
    conditions: BTreeMap<String, Vec<Value>>,
}

impl MetaFilter {
    /// Reads `{"lang": "en", "year": [2023, 2024]}`: a scalar or a non-empty list of them per
    /// key. Keys are 1..=64 of `[A-Za-z0-9_.:-]`; at most 16 keys and 64 values per key.
    pub fn from_json(obj: &Map<String, Value>) -> Result<MetaFilter, String> {
        if obj.len() > 16 {
            return Err("a metadata filter has at most 16 keys".to_owned());
        }
        let mut conditions = BTreeMap::new();
        for (key, v) in obj {
            let ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
            if !ok {
                return Err(
                    "a metadata filter key is 1 to 64 characters of letters, digits, '_', '.', ':' or '-'"
                        .to_owned(),
                );
            }
            let values = match v {
                Value::Array(vs) => vs.clone(),
                other => vec![other.clone()],
            };
            if values.is_empty() || values.len() > 64 {
                return Err(format!(
                    "the metadata filter on \"{key}\" needs 1 to 64 values"
                ));
            }
            if values
                .iter()
                .any(|v| !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
            {
                return Err(format!(
                    "the metadata filter on \"{key}\" takes strings, numbers or booleans"
                ));
            }
            conditions.insert(key.clone(), values);
        }
        Ok(MetaFilter { conditions })
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether a document's metadata passes, by the same rules the SQL applies.
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        self.conditions.iter().all(|(k, vs)| {
            metadata
                .get(k)
                .is_some_and(|have| vs.iter().any(|want| scalar_eq(have, want)))
        })
    }
}

fn scalar_eq(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// Receives what an in-process index loads ([`RetrievalStore::index_load`]).
pub trait IndexSink {
    /// A document of the collection and its labels (sorted), in `doc_key` order.
    fn document(&mut self, doc_key: i64, labels: Vec<String>);
    /// A chunk, in `chunk_id` order; `vector` is f32 little-endian.
    fn chunk(&mut self, chunk_id: i64, doc_key: i64, vector: &[u8]) -> Result<(), StoreError>;
    /// Whether the sink wants each chunk's heading and text too ([`IndexSink::chunk_text`] in
    /// place of [`IndexSink::chunk`]); by default not.
    fn wants_text(&self) -> bool {
        false
    }
    /// A chunk with its heading and text, when [`IndexSink::wants_text`]; by default
    /// [`IndexSink::chunk`].
    fn chunk_text(
        &mut self,
        chunk_id: i64,
        doc_key: i64,
        vector: &[u8],
        heading: Option<&str>,
        text: &str,
    ) -> Result<(), StoreError> {
        let _ = (heading, text);
        self.chunk(chunk_id, doc_key, vector)
    }
}

/// The words of a search text: lower-cased runs of letters and digits, each once, at most
/// [`MAX_TERMS`]. Only these reach the full-text query, each quoted, so user text can never be
/// read as query syntax.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let term: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
        if !out.contains(&term) {
            out.push(term);
            if out.len() == MAX_TERMS {
                break;
            }
        }
    }
    out
}

/// A label or collection as one FTS5 token: three decimal digits per byte. Digits pass the
/// porter and unicode61 tokenizers untouched, the encoding is injective, and a byte prefix is a
/// token prefix (so `team:*` is the prefix query of `team:`'s digits).
pub(crate) fn digit_token(s: &str) -> String {
    let mut t = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        t.push(char::from(b'0' + b / 100));
        t.push(char::from(b'0' + b / 10 % 10));
        t.push(char::from(b'0' + b % 10));
    }
    t
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn int(n: u64) -> Val {
    Val::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn count(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn metadata_from(text: Option<String>) -> Map<String, Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn sorted_labels(labels: &[String]) -> Vec<String> {
    let mut l = labels.to_vec();
    l.sort();
    l.dedup();
    l
}

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQL conditions on `d` (a `retrieval_documents` row) for grants and a metadata filter, with
/// their parameters numbered after `params`' current length.
struct Conditions<'a> {
    postgres: bool,
    params: &'a mut Vec<Val>,
    sql: String,
}

impl Conditions<'_> {
    fn param(&mut self, v: Val) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn grants(&mut self, grants: &Grants) {
        if grants.all {
            return;
        }
        let mut any = Vec::new();
        if !grants.exact.is_empty() {
            let ps: Vec<String> = grants
                .exact
                .iter()
                .map(|l| self.param(Val::Text(l.clone())))
                .collect();
            any.push(format!("l.label IN ({})", ps.join(", ")));
        }
        for p in grants.prefixes.iter().filter(|p| !p.is_empty()) {
            let n = self.param(Val::Text(p.clone()));
            any.push(if self.postgres {
                format!("starts_with(l.label, {n})")
            } else {
                format!("substr(l.label, 1, length({n})) = {n}")
            });
        }
        if any.is_empty() {
            any.push("1 = 0".to_owned());
        }
        self.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM retrieval_labels l WHERE l.doc_key = d.doc_key AND ({}))",
            any.join(" OR ")
        ));
    }

    fn meta(&mut self, filter: &MetaFilter) {
        for (key, values) in &filter.conditions {
            let mut any = Vec::new();
            if self.postgres {
                let k = self.param(Val::Text(key.clone()));
                for v in values {
                    let p = self.param(Val::Text(v.to_string()));
                    any.push(format!(
                        "(CAST(d.metadata AS jsonb) -> CAST({k} AS TEXT)) = CAST(CAST({p} AS TEXT) AS jsonb)"
                    ));
                }
            } else {
                let path = self.param(Val::Text(format!("$.\"{key}\"")));
                for v in values {
                    match v {
                        Value::Bool(b) => any.push(format!(
                            "json_type(d.metadata, {path}) = '{}'",
                            if *b { "true" } else { "false" }
                        )),
                        Value::Number(n) => {
                            let p = self.param(Val::Real(n.as_f64().unwrap_or(f64::NAN)));
                            any.push(format!(
                                "(json_type(d.metadata, {path}) IN ('integer', 'real') AND json_extract(d.metadata, {path}) = {p})"
                            ));
                        }
                        Value::String(s) => {
                            let p = self.param(Val::Text(s.clone()));
                            any.push(format!(
                                "(json_type(d.metadata, {path}) = 'text' AND json_extract(d.metadata, {path}) = {p})"
                            ));
                        }
                        _ => any.push("1 = 0".to_owned()),
                    }
                }
            }
            self.sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
    }
}

/// Retrieval's tables over one connection. Synchronous: call it from blocking code.
pub struct RetrievalStore {
    conn: Conn,
    common_from: u64,
}

impl std::fmt::Debug for RetrievalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrievalStore")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

const DOC_COLUMNS: &str = "d.doc_key, d.id, d.title, d.source, d.content_hash, d.metadata, d.chunks, d.tokens, d.created_ms, d.updated_ms";

fn doc_from(r: &dyn RowRead) -> Result<(i64, DocumentInfo), StoreError> {
    Ok((
        r.int(0)?.unwrap_or_default(),
        DocumentInfo {
            id: r.text(1)?.unwrap_or_default(),
            title: r.text(2)?,
            source: r.text(3)?,
            content_hash: r.text(4)?.unwrap_or_default(),
            metadata: metadata_from(r.text(5)?),
            chunks: u32::try_from(count(r.int(6)?)).unwrap_or(u32::MAX),
            tokens: count(r.int(7)?),
            created_ms: r.int(8)?.unwrap_or_default(),
            updated_ms: r.int(9)?.unwrap_or_default(),
            labels: Vec::new(),
        },
    ))
}

impl RetrievalStore {
    /// Connects and applies pending migrations. Only `cfg.backend` is used.
    pub fn open(cfg: &StoreConfig) -> Result<RetrievalStore, StoreError> {
        Ok(RetrievalStore {
            conn: Conn::open_migrated(&cfg.backend)?,
            common_from: COMMON_TERMS_FROM,
        })
    }

    /// From how many chunks in a collection on common terms are dropped from full-text
    /// queries ([`COMMON_TERMS_FROM`] unless set; tests lower it).
    pub fn set_common_terms_from(&mut self, chunks: u64) {
        self.common_from = chunks.max(1);
    }

    /// SQLite: the terms that are not common in the collection, when it is large. Scoring a
    /// term found in most chunks costs a BM25 evaluation per chunk (FTS5 has no top-k pruning)
    /// and adds next to nothing to the ranking (its IDF is near zero). Whether a term is common
    /// is a count of its chunks, stopped at the threshold, so a probe reads at most that many
    /// rowids. A query of common terms only keeps none: its full-text list is empty.
    fn uncommon_terms(
        &mut self,
        collection: &str,
        terms: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let chunks = read_generation(&mut self.conn, collection)?.map_or(0, |g| g.chunks);
        if chunks < self.common_from {
            return Ok(terms);
        }
        let cap = (chunks / COMMON_SHARE).max(1);
        let coll = digit_token(collection);
        let mut kept = Vec::with_capacity(terms.len());
        for t in terms {
            let n = self
                .conn
                .query_opt(
                    "SELECT COUNT(*) FROM (SELECT rowid FROM retrieval_fts
                     WHERE retrieval_fts MATCH $1 LIMIT $2)",
                    &[
                        Val::Text(format!("{{body}} : \"{t}\" AND {{coll}} : \"{coll}\"")),
                        int(cap),
                    ],
                    |r| r.int(0),
                )?
                .flatten()
                .map_or(0, |n| count(Some(n)));
            if n < cap {
                kept.push(t);
            }
        }
        Ok(kept)
    }

    /// Whether this is PostgreSQL (whose text ranking is not BM25).
    pub fn is_postgres(&self) -> bool {
        self.conn.is_postgres()
    }

    /// Stores `doc` in one transaction: nothing when it is unchanged, else its labels and
    /// chunks replace the old ones (full-text rows included) and the collection's generation
    /// moves on.
    pub fn upsert(&mut self, doc: &NewDocument) -> Result<Upserted, StoreError> {
        let dims = doc.chunks.first().map_or(0, |c| c.vector.len());
        if doc.chunks.iter().any(|c| c.vector.len() != dims) {
            return Err(StoreError::new(
                "the chunks of one document have vectors of different lengths",
            ));
        }
        let labels = sorted_labels(&doc.labels);
        let postgres = self.conn.is_postgres();
        self.conn.in_tx(true, |c| {
            let generation = lock_generation(c, &doc.collection)?;
            let existing = c.query_opt(
                &format!(
                    "SELECT {DOC_COLUMNS} FROM retrieval_documents d WHERE d.collection = $1 AND d.id = $2"
                ),
                &[Val::Text(doc.collection.clone()), Val::Text(doc.id.clone())],
                doc_from,
            )?;
            let existing = match existing {
                Some((key, mut info)) => {
                    info.labels = labels_of(c, &[key])?.remove(&key).unwrap_or_default();
                    Some((key, info))
                }
                None => None,
            };
            if let Some((_, info)) = &existing {
                if info.content_hash == doc.content_hash
                    && info.labels == labels
                    && info.metadata == doc.metadata
                    && info.title == doc.title
                    && info.source == doc.source
                {
                    return Ok(Upserted::Unchanged);
                }
            }
            let stored_chunks = existing.as_ref().map_or(0, |(_, i)| u64::from(i.chunks));
            if dims > 0
                && generation.dims != 0
                && generation.chunks > stored_chunks
                && generation.dims as usize != dims
            {
                return Err(StoreError::new(format!(
                    "the document's vectors have {dims} dimensions but the collection's have {}",
                    generation.dims
                )));
            }
            let now = crate::now_ms();
            let tokens: u64 = doc.chunks.iter().map(|ch| u64::from(ch.tokens)).sum();
            let n_chunks = u32::try_from(doc.chunks.len()).unwrap_or(u32::MAX);
            let metadata = serde_json::to_string(&doc.metadata)
                .map_err(|e| StoreError::new(format!("cannot write the metadata: {e}")))?;
            let mut old_chunks = 0u64;
            let doc_key = match &existing {
                Some((key, _)) => {
                    old_chunks = delete_contents(c, *key)?;
                    c.exec(
                        "UPDATE retrieval_documents SET title = $1, source = $2, content_hash = $3,
                         metadata = $4, tokens = $5, chunks = $6, updated_ms = $7 WHERE doc_key = $8",
                        &[
                            Val::opt_text(doc.title.as_deref()),
                            Val::opt_text(doc.source.as_deref()),
                            Val::Text(doc.content_hash.clone()),
                            Val::Text(metadata),
                            int(tokens),
                            Val::Int(i64::from(n_chunks)),
                            Val::Int(now),
                            Val::Int(*key),
                        ],
                    )?;
                    *key
                }
                None => c
                    .query_opt(
                        "INSERT INTO retrieval_documents (collection, id, title, source, content_hash,
                         metadata, tokens, chunks, created_ms, updated_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING doc_key",
                        &[
                            Val::Text(doc.collection.clone()),
                            Val::Text(doc.id.clone()),
                            Val::opt_text(doc.title.as_deref()),
                            Val::opt_text(doc.source.as_deref()),
                            Val::Text(doc.content_hash.clone()),
                            Val::Text(metadata),
                            int(tokens),
                            Val::Int(i64::from(n_chunks)),
                            Val::Int(now),
                        ],
                        |r| r.int(0),
                    )?
                    .flatten()
                    .ok_or_else(|| StoreError::new("the new document got no key"))?,
            };
            for label in &labels {
                c.exec(
                    "INSERT INTO retrieval_labels (doc_key, label) VALUES ($1, $2)",
                    &[Val::Int(doc_key), Val::Text(label.clone())],
                )?;
            }
            let acl = labels
                .iter()
                .map(|l| digit_token(l))
                .collect::<Vec<_>>()
                .join(" ");
            let coll = digit_token(&doc.collection);
            for ch in &doc.chunks {
                let chunk_id = c
                    .query_opt(
                        "INSERT INTO retrieval_chunks (doc_key, ord, heading, text, tokens, vector)
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING chunk_id",
                        &[
                            Val::Int(doc_key),
                            Val::Int(i64::from(ch.ord)),
                            Val::opt_text(ch.heading.as_deref()),
                            Val::Text(ch.text.clone()),
                            Val::Int(i64::from(ch.tokens)),
                            Val::Blob(vector_bytes(&ch.vector)),
                        ],
                        |r| r.int(0),
                    )?
                    .flatten()
                    .ok_or_else(|| StoreError::new("the new chunk got no id"))?;
                if !postgres {
                    let body = match &ch.heading {
                        Some(h) => format!("{h}\n{}", ch.text),
                        None => ch.text.clone(),
                    };
                    c.exec(
                        "INSERT INTO retrieval_fts (rowid, body, coll, acl) VALUES ($1, $2, $3, $4)",
                        &[
                            Val::Int(chunk_id),
                            Val::Text(body),
                            Val::Text(coll.clone()),
                            Val::Text(acl.clone()),
                        ],
                    )?;
                }
            }
            let replaced = existing.is_some();
            let new_dims = if dims > 0 { dims as u32 } else { generation.dims };
            c.exec(
                "UPDATE retrieval_generations SET generation = generation + 1,
                 rebuilt = CASE WHEN CAST($1 AS BIGINT) = 1 THEN generation + 1 ELSE rebuilt END,
                 chunks = chunks + $2, dims = $3, updated_ms = $4 WHERE collection = $5",
                &[
                    Val::Int(i64::from(replaced)),
                    Val::Int(i64::from(n_chunks) - i64::try_from(old_chunks).unwrap_or(0)),
                    Val::Int(i64::from(new_dims)),
                    Val::Int(now),
                    Val::Text(doc.collection.clone()),
                ],
            )?;
            Ok(if replaced {
                Upserted::Replaced { chunks: n_chunks }
            } else {
                Upserted::Inserted { chunks: n_chunks }
            })
        })
    }

    /// SQLite: merges the full-text index's segments into one (FTS5 `optimize`). Each write
    /// adds a segment and FTS5 merges them only in steps, so after a bulk ingest a query probes
    /// many; one segment makes searches faster. It rewrites the whole index: call it after a
    /// batch, not after each document. PostgreSQL: nothing to do.
    pub fn optimize(&mut self) -> Result<(), StoreError> {
        if !self.conn.is_postgres() {
            self.conn
                .batch("INSERT INTO retrieval_fts (retrieval_fts) VALUES ('optimize')")?;
        }
        Ok(())
    }

    /// The stored document's content hash, so an unchanged document need not be embedded again.
    pub fn content_hash(
        &mut self,
        collection: &str,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_opt(
                "SELECT content_hash FROM retrieval_documents WHERE collection = $1 AND id = $2",
                &[Val::Text(collection.to_owned()), Val::Text(id.to_owned())],
                |r| r.text(0),
            )?
            .flatten())
    }

    /// Deletes a document with its labels, chunks and full-text rows; `false` when there was
    /// none.
    pub fn delete(&mut self, collection: &str, id: &str) -> Result<bool, StoreError> {
        self.conn.in_tx(true, |c| {
            lock_generation(c, collection)?;
            let key = c
                .query_opt(
                    "SELECT doc_key FROM retrieval_documents WHERE collection = $1 AND id = $2",
                    &[Val::Text(collection.to_owned()), Val::Text(id.to_owned())],
                    |r| r.int(0),
                )?
                .flatten();
            let Some(key) = key else {
                return Ok(false);
            };
            let removed = delete_document(c, key)?;
            bump_rebuilt(c, collection, removed)?;
            Ok(true)
        })
    }

    /// Deletes every document carrying `label`, in every collection (a subject's erasure:
    /// `subject:<id>`), with its chunks, vectors, full-text rows and labels; then clears the
    /// deleted rows' old copies from the database's files, as the audit log's erasure does.
    pub fn erase_labelled(&mut self, label: &str) -> Result<Erased, StoreError> {
        let (documents, chunks, xid) = self.conn.in_tx(true, |c| {
            // Lock the generation of every collection holding such a document, then look again:
            // on PostgreSQL a document labelled meanwhile could otherwise be missed.
            let mut locked: BTreeSet<String> = BTreeSet::new();
            let docs = loop {
                let docs = c.query(
                    "SELECT d.doc_key, d.collection FROM retrieval_documents d
                     JOIN retrieval_labels l ON l.doc_key = d.doc_key WHERE l.label = $1
                     ORDER BY d.collection, d.doc_key",
                    &[Val::Text(label.to_owned())],
                    |r| {
                        Ok((
                            r.int(0)?.unwrap_or_default(),
                            r.text(1)?.unwrap_or_default(),
                        ))
                    },
                )?;
                let colls: BTreeSet<String> = docs.iter().map(|(_, c)| c.clone()).collect();
                if colls.is_subset(&locked) {
                    break docs;
                }
                for coll in colls.difference(&locked.clone()) {
                    lock_generation(c, coll)?;
                    locked.insert(coll.clone());
                }
            };
            let mut per_collection: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for (key, coll) in docs {
                per_collection.entry(coll).or_default().push(key);
            }
            let (mut documents, mut chunks) = (0u64, 0u64);
            for (coll, keys) in &per_collection {
                let mut removed = 0u64;
                for key in keys {
                    removed += delete_document(c, *key)?;
                    documents += 1;
                }
                chunks += removed;
                bump_rebuilt(c, coll, removed)?;
            }
            if documents > 0 && !c.is_postgres() {
                // `secure-delete` drops the entries, but a segment can keep a deleted term's
                // bytes (as a page key, or in its leaf's free space): merging every segment
                // into a new one leaves the old pages to `secure_delete`'s zeroing.
                c.batch("INSERT INTO retrieval_fts (retrieval_fts) VALUES ('optimize')")?;
            }
            let xid = if c.is_postgres() {
                c.query_opt("SELECT txid_current()", &[], |r| r.int(0))?
                    .flatten()
            } else {
                None
            };
            Ok((documents, chunks, xid))
        })?;
        let mut scrub = None;
        if documents > 0 {
            let tables: &[&str] = if self.conn.is_postgres() {
                &[
                    "retrieval_chunks",
                    "retrieval_labels",
                    "retrieval_documents",
                ]
            } else {
                // SQLite: one checkpoint clears the WAL for every table.
                &["retrieval_chunks"]
            };
            for table in tables {
                let why = match self.conn.scrub(table, xid, SCRUB_WITHIN) {
                    Ok(why) => why,
                    Err(e) => Some(e.to_string()),
                };
                if why.is_some() {
                    scrub = why;
                    break;
                }
            }
        }
        Ok(Erased {
            documents,
            chunks,
            scrub,
        })
    }

    /// Documents in id order after `after`, at most `limit` (keyset pagination).
    pub fn list(
        &mut self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DocumentInfo>, StoreError> {
        let rows = self.conn.query(
            &format!(
                "SELECT {DOC_COLUMNS} FROM retrieval_documents d
                 WHERE d.collection = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
            ),
            &[
                Val::Text(collection.to_owned()),
                Val::Text(after.unwrap_or("").to_owned()),
                Val::Int(i64::from(limit)),
            ],
            doc_from,
        )?;
        self.with_labels(rows)
    }

    /// One document, without its chunks.
    pub fn get(&mut self, collection: &str, id: &str) -> Result<Option<DocumentInfo>, StoreError> {
        let rows = self.conn.query(
            &format!(
                "SELECT {DOC_COLUMNS} FROM retrieval_documents d WHERE d.collection = $1 AND d.id = $2"
            ),
            &[Val::Text(collection.to_owned()), Val::Text(id.to_owned())],
            doc_from,
        )?;
        Ok(self.with_labels(rows)?.into_iter().next())
    }

    fn with_labels(
        &mut self,
        rows: Vec<(i64, DocumentInfo)>,
    ) -> Result<Vec<DocumentInfo>, StoreError> {
        let keys: Vec<i64> = rows.iter().map(|(k, _)| *k).collect();
        let mut labels = labels_of(&mut self.conn, &keys)?;
        Ok(rows
            .into_iter()
            .map(|(k, mut info)| {
                info.labels = labels.remove(&k).unwrap_or_default();
                info
            })
            .collect())
    }

    /// The collection's totals (all zero when it holds nothing).
    pub fn stats(&mut self, collection: &str) -> Result<Stats, StoreError> {
        let coll = Val::Text(collection.to_owned());
        let mut stats = self
            .conn
            .query_opt(
                "SELECT COUNT(*), CAST(COALESCE(SUM(chunks), 0) AS BIGINT),
                 CAST(COALESCE(SUM(tokens), 0) AS BIGINT), MAX(updated_ms)
                 FROM retrieval_documents WHERE collection = $1",
                std::slice::from_ref(&coll),
                |r| {
                    Ok(Stats {
                        documents: count(r.int(0)?),
                        chunks: count(r.int(1)?),
                        tokens: count(r.int(2)?),
                        labels: 0,
                        updated_ms: r.int(3)?,
                    })
                },
            )?
            .unwrap_or_default();
        stats.labels = count(
            self.conn
                .query_opt(
                    "SELECT COUNT(DISTINCT l.label) FROM retrieval_labels l
                     JOIN retrieval_documents d ON d.doc_key = l.doc_key WHERE d.collection = $1",
                    &[coll],
                    |r| r.int(0),
                )?
                .flatten(),
        );
        Ok(stats)
    }

    /// Names of the collections that hold at least one document, sorted.
    pub fn collections(&mut self) -> Result<Vec<String>, StoreError> {
        self.conn.query(
            "SELECT DISTINCT collection FROM retrieval_documents ORDER BY collection",
            &[],
            |r| Ok(r.text(0)?.unwrap_or_default()),
        )
    }

    /// The best `k` chunks for `query` by full text, among the chunks `grants` and `filter`
    /// admit (both are conditions of the one statement), as `(chunk_id, score)`, higher better:
    /// BM25 on SQLite, `ts_rank_cd` on PostgreSQL. Ties go to the lower chunk id. No terms, or
    /// grants that admit nothing: empty.
    pub fn text_search(
        &mut self,
        collection: &str,
        query: &str,
        grants: &Grants,
        filter: &MetaFilter,
        k: u32,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut terms = query_terms(query);
        if terms.is_empty() || grants.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let postgres = self.conn.is_postgres();
        if !postgres {
            terms = self.uncommon_terms(collection, terms)?;
            if terms.is_empty() {
                return Ok(Vec::new());
            }
        }
        let mut params = Vec::new();
        let sql = if postgres {
            // Terms are letters and digits only, so quoting each cannot break out.
            let tsquery = terms
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(" | ");
            params.push(Val::Text(tsquery));
            params.push(Val::Text(collection.to_owned()));
            params.push(Val::Int(i64::from(k)));
            let mut cond = Conditions {
                postgres,
                params: &mut params,
                sql: String::new(),
            };
            cond.grants(grants);
            cond.meta(filter);
            let conds = cond.sql;
            format!(
                "SELECT c.chunk_id, CAST(ts_rank_cd(c.tsv, q.q) AS DOUBLE PRECISION) AS score
                 FROM retrieval_chunks c JOIN retrieval_documents d ON d.doc_key = c.doc_key,
                      (SELECT to_tsquery('english', $1) AS q) q
                 WHERE d.collection = $2 AND c.tsv @@ q.q{conds}
                 ORDER BY score DESC, c.chunk_id LIMIT $3"
            )
        } else {
            let mut expr = format!(
                "{{body}} : ({}) AND {{coll}} : \"{}\"",
                terms
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(" OR "),
                digit_token(collection)
            );
            if !grants.all {
                let mut any: Vec<String> = grants
                    .exact
                    .iter()
                    .map(|l| format!("\"{}\"", digit_token(l)))
                    .collect();
                any.extend(
                    grants
                        .prefixes
                        .iter()
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("\"{}\"*", digit_token(p))),
                );
                expr.push_str(&format!(" AND {{acl}} : ({})", any.join(" OR ")));
            }
            params.push(Val::Text(expr));
            params.push(Val::Int(i64::from(k)));
            if filter.is_empty() {
                "SELECT rowid, -rank FROM retrieval_fts WHERE retrieval_fts MATCH $1
                 ORDER BY rank, rowid LIMIT $2"
                    .to_owned()
            } else {
                let mut cond = Conditions {
                    postgres,
                    params: &mut params,
                    sql: String::new(),
                };
                cond.meta(filter);
                let conds = cond.sql;
                format!(
                    "SELECT f.rowid, -f.rank FROM retrieval_fts f
                     JOIN retrieval_chunks c ON c.chunk_id = f.rowid
                     JOIN retrieval_documents d ON d.doc_key = c.doc_key
                     WHERE retrieval_fts MATCH $1{conds}
                     ORDER BY f.rank, f.rowid LIMIT $2"
                )
            }
        };
        self.conn.query(&sql, &params, |r| {
            Ok((r.int(0)?.unwrap_or_default(), r.real(1)?.unwrap_or(0.0)))
        })
    }

    /// The collection's generation, for an in-process index to tell whether it is current.
    pub fn generation(&mut self, collection: &str) -> Result<Generation, StoreError> {
        Ok(read_generation(&mut self.conn, collection)?.unwrap_or_default())
    }

    /// Loads, in one snapshot, the collection's documents after `after_doc` (with their labels)
    /// and chunks after `after_chunk` (with their vectors, and their heading and text when the
    /// sink [wants them](IndexSink::wants_text)) into `sink`, and returns the
    /// generation of that snapshot. `0, 0` loads everything.
    pub fn index_load(
        &mut self,
        collection: &str,
        after_doc: i64,
        after_chunk: i64,
        sink: &mut dyn IndexSink,
    ) -> Result<Generation, StoreError> {
        self.conn.in_tx(false, |c| {
            let generation = read_generation(c, collection)?.unwrap_or_default();
            let coll = Val::Text(collection.to_owned());
            let mut current: Option<(i64, Vec<String>)> = None;
            c.query(
                "SELECT d.doc_key, l.label FROM retrieval_documents d
                 LEFT JOIN retrieval_labels l ON l.doc_key = d.doc_key
                 WHERE d.collection = $1 AND d.doc_key > $2 ORDER BY d.doc_key, l.label",
                &[coll.clone(), Val::Int(after_doc)],
                |r| {
                    let key = r.int(0)?.unwrap_or_default();
                    let label = r.text(1)?;
                    match &mut current {
                        Some((k, labels)) if *k == key => labels.extend(label),
                        _ => {
                            if let Some((k, labels)) = current.take() {
                                sink.document(k, labels);
                            }
                            current = Some((key, label.into_iter().collect()));
                        }
                    }
                    Ok(())
                },
            )?;
            if let Some((k, labels)) = current.take() {
                sink.document(k, labels);
            }
            if sink.wants_text() {
                c.query(
                    "SELECT c.chunk_id, c.doc_key, c.vector, c.heading, c.text FROM retrieval_chunks c
                     JOIN retrieval_documents d ON d.doc_key = c.doc_key
                     WHERE d.collection = $1 AND c.chunk_id > $2 ORDER BY c.chunk_id",
                    &[coll, Val::Int(after_chunk)],
                    |r| {
                        let v = r.blob(2)?.unwrap_or_default();
                        let heading = r.text(3)?;
                        let text = r.text(4)?.unwrap_or_default();
                        sink.chunk_text(
                            r.int(0)?.unwrap_or_default(),
                            r.int(1)?.unwrap_or_default(),
                            &v,
                            heading.as_deref(),
                            &text,
                        )
                    },
                )?;
            } else {
                c.query(
                    "SELECT c.chunk_id, c.doc_key, c.vector FROM retrieval_chunks c
                     JOIN retrieval_documents d ON d.doc_key = c.doc_key
                     WHERE d.collection = $1 AND c.chunk_id > $2 ORDER BY c.chunk_id",
                    &[coll, Val::Int(after_chunk)],
                    |r| {
                        let v = r.blob(2)?.unwrap_or_default();
                        sink.chunk(
                            r.int(0)?.unwrap_or_default(),
                            r.int(1)?.unwrap_or_default(),
                            &v,
                        )
                    },
                )?;
            }
            Ok(generation)
        })
    }

    /// The keys of the collection's documents that `grants` and `filter` admit (what a vector
    /// search may score when a metadata filter is set).
    pub fn filtered_docs(
        &mut self,
        collection: &str,
        grants: &Grants,
        filter: &MetaFilter,
    ) -> Result<Vec<i64>, StoreError> {
        if grants.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = vec![Val::Text(collection.to_owned())];
        let mut cond = Conditions {
            postgres: self.conn.is_postgres(),
            params: &mut params,
            sql: String::new(),
        };
        cond.grants(grants);
        cond.meta(filter);
        let conds = cond.sql;
        self.conn.query(
            &format!(
                "SELECT d.doc_key FROM retrieval_documents d WHERE d.collection = $1{conds} ORDER BY d.doc_key"
            ),
            &params,
            |r| Ok(r.int(0)?.unwrap_or_default()),
        )
    }

    /// The chunks with these ids, in the order asked; ids no longer stored are left out.
    pub fn chunks(&mut self, ids: &[i64]) -> Result<Vec<ChunkView>, StoreError> {
        let mut found: HashMap<i64, ChunkView> = HashMap::with_capacity(ids.len());
        for batch in ids.chunks(IN_BATCH) {
            let params: Vec<Val> = batch.iter().map(|id| Val::Int(*id)).collect();
            let rows = self.conn.query(
                &format!(
                    "SELECT c.chunk_id, d.id, c.ord, c.heading, c.text, c.tokens, d.title, d.source, d.metadata
                     FROM retrieval_chunks c JOIN retrieval_documents d ON d.doc_key = c.doc_key
                     WHERE c.chunk_id IN ({})",
                    placeholders(1, batch.len())
                ),
                &params,
                |r| {
                    Ok(ChunkView {
                        chunk_id: r.int(0)?.unwrap_or_default(),
                        document: r.text(1)?.unwrap_or_default(),
                        ord: u32::try_from(count(r.int(2)?)).unwrap_or(u32::MAX),
                        heading: r.text(3)?,
                        text: r.text(4)?.unwrap_or_default(),
                        tokens: u32::try_from(count(r.int(5)?)).unwrap_or(u32::MAX),
                        title: r.text(6)?,
                        source: r.text(7)?,
                        metadata: metadata_from(r.text(8)?),
                    })
                },
            )?;
            for v in rows {
                found.insert(v.chunk_id, v);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}

fn read_generation(c: &mut Conn, collection: &str) -> Result<Option<Generation>, StoreError> {
    c.query_opt(
        "SELECT generation, rebuilt, chunks, dims FROM retrieval_generations WHERE collection = $1",
        &[Val::Text(collection.to_owned())],
        |r| {
            Ok(Generation {
                generation: r.int(0)?.unwrap_or_default(),
                rebuilt: r.int(1)?.unwrap_or_default(),
                chunks: count(r.int(2)?),
                dims: u32::try_from(count(r.int(3)?)).unwrap_or(0),
            })
        },
    )
}

/// Creates the collection's generation row if needed and locks it for the transaction (on
/// SQLite the transaction already holds the database's write lock).
fn lock_generation(c: &mut Conn, collection: &str) -> Result<Generation, StoreError> {
    c.exec(
        "INSERT INTO retrieval_generations (collection, generation, rebuilt, chunks, dims, updated_ms)
         VALUES ($1, 0, 0, 0, 0, $2) ON CONFLICT (collection) DO NOTHING",
        &[Val::Text(collection.to_owned()), Val::Int(crate::now_ms())],
    )?;
    let sql = if c.is_postgres() {
        "SELECT generation, rebuilt, chunks, dims FROM retrieval_generations WHERE collection = $1 FOR UPDATE"
    } else {
        "SELECT generation, rebuilt, chunks, dims FROM retrieval_generations WHERE collection = $1"
    };
    c.query_opt(sql, &[Val::Text(collection.to_owned())], |r| {
        Ok(Generation {
            generation: r.int(0)?.unwrap_or_default(),
            rebuilt: r.int(1)?.unwrap_or_default(),
            chunks: count(r.int(2)?),
            dims: u32::try_from(count(r.int(3)?)).unwrap_or(0),
        })
    })?
    .ok_or_else(|| StoreError::new("the collection's generation row is missing"))
}

/// After chunks were deleted: the next generation, which indexes must rebuild from.
fn bump_rebuilt(c: &mut Conn, collection: &str, removed: u64) -> Result<(), StoreError> {
    c.exec(
        "UPDATE retrieval_generations SET generation = generation + 1, rebuilt = generation + 1,
         chunks = chunks - $1, updated_ms = $2 WHERE collection = $3",
        &[
            int(removed),
            Val::Int(crate::now_ms()),
            Val::Text(collection.to_owned()),
        ],
    )?;
    Ok(())
}

/// Deletes a document's labels, chunks and full-text rows, keeping its row; returns the number
/// of chunks deleted.
fn delete_contents(c: &mut Conn, doc_key: i64) -> Result<u64, StoreError> {
    if !c.is_postgres() {
        c.exec(
            "DELETE FROM retrieval_fts WHERE rowid IN
             (SELECT chunk_id FROM retrieval_chunks WHERE doc_key = $1)",
            &[Val::Int(doc_key)],
        )?;
    }
    let removed = c.exec(
        "DELETE FROM retrieval_chunks WHERE doc_key = $1",
        &[Val::Int(doc_key)],
    )?;
    c.exec(
        "DELETE FROM retrieval_labels WHERE doc_key = $1",
        &[Val::Int(doc_key)],
    )?;
    Ok(removed)
}

fn delete_document(c: &mut Conn, doc_key: i64) -> Result<u64, StoreError> {
    let removed = delete_contents(c, doc_key)?;
    c.exec(
        "DELETE FROM retrieval_documents WHERE doc_key = $1",
        &[Val::Int(doc_key)],
    )?;
    Ok(removed)
}

/// Labels per document key, sorted.
fn labels_of(c: &mut Conn, keys: &[i64]) -> Result<HashMap<i64, Vec<String>>, StoreError> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for batch in keys.chunks(IN_BATCH) {
        let params: Vec<Val> = batch.iter().map(|k| Val::Int(*k)).collect();
        let rows = c.query(
            &format!(
                "SELECT doc_key, label FROM retrieval_labels WHERE doc_key IN ({}) ORDER BY doc_key, label",
                placeholders(1, batch.len())
            ),
            &params,
            |r| {
                Ok((
                    r.int(0)?.unwrap_or_default(),
                    r.text(1)?.unwrap_or_default(),
                ))
            },
        )?;
        for (k, l) in rows {
            out.entry(k).or_default().push(l);
        }
    }
    Ok(out)
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
    fn terms_are_words_only() {
        assert_eq!(
            query_terms("\"NEAR(a b)\" -x* col:y AND Über"),
            ["near", "a", "b", "x", "col", "y", "and", "über"]
        );
        assert!(query_terms("\"*-:()").is_empty());
        assert_eq!(query_terms(&"w ".repeat(100)), ["w"]);
        let many: String = (0..100).map(|i| format!("t{i} ")).collect();
        assert_eq!(query_terms(&many).len(), MAX_TERMS);
    }

    #[test]
    fn digit_tokens_keep_prefixes() {
        assert_eq!(digit_token("a:"), "097058");
        assert!(digit_token("team:onc").starts_with(&digit_token("team:")));
        assert_ne!(digit_token("ab"), digit_token("a"));
    }

    #[test]
    fn grants_permit_by_exact_label_or_prefix() {
        let g = Grants {
            all: false,
            exact: vec!["public".into()],
            prefixes: vec!["team:".into()],
        };
        assert!(g.permits("public"));
        assert!(g.permits("team:onc"));
        assert!(!g.permits("teams"));
        assert!(!g.permits_any(&[]));
        assert!(Grants::all().permits_any(&[]));
        assert!(Grants::default().is_empty());
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn meta_filters_compare_scalars() {
        let f = MetaFilter::from_json(&obj(
            serde_json::json!({"lang": "en", "year": [2023, 2024.0], "ok": true}),
        ))
        .unwrap();
        assert!(f.matches(&obj(
            serde_json::json!({"lang": "en", "year": 2024, "ok": true})
        )));
        assert!(!f.matches(&obj(
            serde_json::json!({"lang": "en", "year": "2024", "ok": true})
        )));
        assert!(!f.matches(&obj(
            serde_json::json!({"lang": "en", "year": 2024, "ok": 1})
        )));
        assert!(!f.matches(&obj(serde_json::json!({"year": 2024, "ok": true}))));
        for bad in [
            serde_json::json!({"a\"b": 1}),
            serde_json::json!({"a": []}),
            serde_json::json!({"a": {"b": 1}}),
            serde_json::json!({"a": null}),
        ] {
            assert!(MetaFilter::from_json(&obj(bad)).is_err());
        }
    }
}
