//! `[retrieval]`: document collections Seam stores and searches (`[retrieval.collections.NAME]`),
//! where the local embedding model is, and `[models.NAME.retrieval]`: an alias whose requests
//! get the caller's visible context from a collection.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::ConfigError;

/// The built-in local embedding model's name (all-MiniLM-L6-v2, run in process).
pub const LOCAL_EMBEDDER: &str = "local-minilm";
pub const DEFAULT_MAX_TOKENS: usize = 300;
pub const DEFAULT_OVERLAP: usize = 40;
/// The largest chunk: a chunk is one passage of a prompt, not a document.
pub const MAX_CHUNK_TOKENS: usize = 2048;
pub const DEFAULT_TOP_K: usize = 5;
pub const MAX_TOP_K: usize = 50;
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// The context an alias gets when it names no template: numbered passages the model can cite.
pub const DEFAULT_TEMPLATE: &str = "Answer using the context below when it is relevant. \
Cite the passages you use by their number, like [1].\n\n\
{% for c in chunks %}[{{ c.n }}] {% if c.title %}{{ c.title }}{% if c.heading %} — {{ c.heading }}{% endif %}\n{% endif %}{{ c.text }}\n\n{% endfor %}";

/// A validated `[retrieval]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetrievalConfig {
    /// Where the local model's files are; `None`: where `seam models fetch minilm` puts them.
    pub model_dir: Option<PathBuf>,
    pub collections: BTreeMap<String, CollectionConfig>,
}

/// A validated `[retrieval.collections.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionConfig {
    pub name: String,
    /// `local-minilm`, or an embeddings alias in `[models]`.
    pub embedder: String,
    /// The input policy applied to every text before it is stored (e.g. tokenize PII); `None`:
    /// stored as given.
    pub policy: Option<String>,
    pub max_tokens: usize,
    pub overlap: usize,
    /// Labels a document gets when it is ingested without any.
    pub default_labels: Vec<String>,
    /// The largest document accepted, in bytes.
    pub max_document_bytes: usize,
}

/// How an alias searches: both lists fused, or one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchMode {
    Hybrid,
    Bm25,
    Vector,
}

impl SearchMode {
    pub const NAMES: &'static str = "hybrid, bm25, vector";

    pub fn parse(s: &str) -> Option<SearchMode> {
        match s {
            "hybrid" => Some(SearchMode::Hybrid),
            "bm25" => Some(SearchMode::Bm25),
            "vector" => Some(SearchMode::Vector),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Bm25 => "bm25",
            SearchMode::Vector => "vector",
        }
    }
}

/// A validated `[models.NAME.retrieval]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRetrieval {
    pub collection: String,
    pub top_k: usize,
    /// A Jinja template of the context message, given `chunks` (each with `n`, `document`,
    /// `title`, `heading`, `text`, `score`) and `query`.
    pub template: String,
    pub mode: SearchMode,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRetrieval {
    pub model_dir: Option<PathBuf>,
    #[serde(default)]
    pub collections: BTreeMap<String, RawCollection>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawChunk {
    pub max_tokens: Option<u64>,
    pub overlap: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCollection {
    pub embedder: Option<String>,
    pub policy: Option<String>,
    pub chunk: Option<RawChunk>,
    pub default_labels: Option<Vec<String>>,
    pub max_document_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawModelRetrieval {
    pub collection: Option<String>,
    pub top_k: Option<u64>,
    pub template: Option<String>,
    pub mode: Option<String>,
}

/// A collection's name: what URLs and the CLI carry.
pub fn valid_collection(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// A label (`subject:p-123`, `team:oncology`, `public`): 1 to 128 of `A-Z a-z 0-9 . _ : @ / + -`.
pub fn valid_label(label: &str) -> bool {
    (1..=128).contains(&label.len())
        && label.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'/' | b'+' | b'-')
        })
}

/// A grant pattern: a label, a label prefix ending in `*` (`team:*`), or `*` (every label).
pub fn valid_grant(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => valid_label(prefix),
        None => valid_label(pattern),
    }
}

pub(crate) fn retrieval(
    raw: RawRetrieval,
    policies: &BTreeMap<String, crate::PolicyConfig>,
    errors: &mut Vec<ConfigError>,
) -> RetrievalConfig {
    let mut collections = BTreeMap::new();
    for (name, c) in raw.collections {
        let path = format!("retrieval.collections.{name}");
        if !valid_collection(&name) {
            errors.push(ConfigError::new(
                path.clone(),
                "collection names are 1 to 64 of a-z, 0-9, _ and -",
            ));
        }
        let embedder = c.embedder.unwrap_or_else(|| LOCAL_EMBEDDER.to_owned());
        if let Some(p) = &c.policy
            && !policies.contains_key(p)
        {
            errors.push(ConfigError::new(
                format!("{path}.policy"),
                format!("no policy named \"{p}\""),
            ));
        }
        let chunk = c.chunk.unwrap_or_default();
        let max_tokens = match chunk.max_tokens {
            None => DEFAULT_MAX_TOKENS,
            Some(n) if n < 16 || n > MAX_CHUNK_TOKENS as u64 => {
                errors.push(ConfigError::new(
                    format!("{path}.chunk.max_tokens"),
                    format!("must be between 16 and {MAX_CHUNK_TOKENS}"),
                ));
                DEFAULT_MAX_TOKENS
            }
            Some(n) => usize::try_from(n).unwrap_or(DEFAULT_MAX_TOKENS),
        };
        let overlap = match chunk.overlap {
            None => DEFAULT_OVERLAP.min(max_tokens / 2),
            Some(n) if n > max_tokens as u64 / 2 => {
                errors.push(ConfigError::new(
                    format!("{path}.chunk.overlap"),
                    "must be at most half of max_tokens",
                ));
                0
            }
            Some(n) => usize::try_from(n).unwrap_or(0),
        };
        let default_labels = c.default_labels.unwrap_or_default();
        if let Some(bad) = default_labels.iter().find(|l| !valid_label(l)) {
            errors.push(ConfigError::new(
                format!("{path}.default_labels"),
                format!("\"{bad}\" is not a label: 1 to 128 of letters, digits and . _ : @ / + -"),
            ));
        }
        let max_document_bytes = match c.max_document_bytes {
            None => DEFAULT_MAX_DOCUMENT_BYTES,
            Some(0) => {
                errors.push(ConfigError::new(
                    format!("{path}.max_document_bytes"),
                    "must be at least 1",
                ));
                DEFAULT_MAX_DOCUMENT_BYTES
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        collections.insert(
            name.clone(),
            CollectionConfig {
                name,
                embedder,
                policy: c.policy,
                max_tokens,
                overlap,
                default_labels,
                max_document_bytes,
            },
        );
    }
    RetrievalConfig {
        model_dir: raw.model_dir,
        collections,
    }
}

/// Checks what needs the aliases: a collection's embedder names `local-minilm` or an alias.
pub(crate) fn check_embedders(
    cfg: &RetrievalConfig,
    models: &BTreeMap<String, crate::ModelConfig>,
    errors: &mut Vec<ConfigError>,
) {
    for c in cfg.collections.values() {
        if c.embedder != LOCAL_EMBEDDER && !models.contains_key(&c.embedder) {
            errors.push(ConfigError::new(
                format!("retrieval.collections.{}.embedder", c.name),
                format!(
                    "\"{}\" is neither \"{LOCAL_EMBEDDER}\" (the built-in model) nor an alias in [models]",
                    c.embedder
                ),
            ));
        }
    }
}

/// `[models.NAME.retrieval]`; whether its collection exists is checked once every section is read.
pub(crate) fn model_retrieval(
    path: &str,
    raw: RawModelRetrieval,
    errors: &mut Vec<ConfigError>,
) -> Option<ModelRetrieval> {
    let path = format!("{path}.retrieval");
    let Some(collection) = raw.collection else {
        errors.push(ConfigError::new(
            format!("{path}.collection"),
            "is required",
        ));
        return None;
    };
    let top_k = match raw.top_k {
        None => DEFAULT_TOP_K,
        Some(n) if n == 0 || n > MAX_TOP_K as u64 => {
            errors.push(ConfigError::new(
                format!("{path}.top_k"),
                format!("must be between 1 and {MAX_TOP_K}"),
            ));
            DEFAULT_TOP_K
        }
        Some(n) => usize::try_from(n).unwrap_or(DEFAULT_TOP_K),
    };
    let template = raw.template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned());
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    if let Err(e) = env.template_from_str(&template) {
        errors.push(ConfigError::new(
            format!("{path}.template"),
            format!("is not a valid template: {e}"),
        ));
    }
    let mode = match raw.mode.as_deref() {
        None => SearchMode::Hybrid,
        Some(m) => SearchMode::parse(m).unwrap_or_else(|| {
            errors.push(ConfigError::new(
                format!("{path}.mode"),
                format!(
                    "unknown mode \"{m}\"; expected one of {}",
                    SearchMode::NAMES
                ),
            ));
            SearchMode::Hybrid
        }),
    };
    Some(ModelRetrieval {
        collection,
        top_k,
        template,
        mode,
    })
}

/// Every alias's collection exists.
pub(crate) fn check_models(
    cfg: &RetrievalConfig,
    models: &BTreeMap<String, crate::ModelConfig>,
    errors: &mut Vec<ConfigError>,
) {
    for m in models.values() {
        if let Some(r) = &m.retrieval
            && !cfg.collections.contains_key(&r.collection)
        {
            errors.push(ConfigError::new(
                format!("models.{}.retrieval.collection", m.alias),
                format!(
                    "no collection named \"{}\" in [retrieval.collections]",
                    r.collection
                ),
            ));
        }
    }
}

/// A key's retrieval scope, as `[keys.NAME]` declares it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetrievalScope {
    /// Grant patterns of the labels whose documents it may see (`public`, `team:*`, `*`).
    pub labels: Vec<String>,
    /// A request's subject (`x-seam-subject`, `user`) adds `subject:<id>` to its grants.
    pub subject_grants: bool,
    /// Glob patterns of the collections it may search on `/v1/collections/{name}/search`.
    pub collections: Vec<String>,
    /// Glob patterns of the collections it may add documents to and delete them from.
    pub ingest: Vec<String>,
}

pub(crate) fn key_scope(
    path: &str,
    labels: Vec<String>,
    subject_grants: Option<bool>,
    collections: Vec<String>,
    ingest: Vec<String>,
    errors: &mut Vec<ConfigError>,
) -> RetrievalScope {
    if let Some(bad) = labels.iter().find(|l| !valid_grant(l)) {
        errors.push(ConfigError::new(
            format!("{path}.labels"),
            format!("\"{bad}\" is not a grant: a label, a prefix ending in * (\"team:*\"), or *"),
        ));
    }
    for (field, list) in [("collections", &collections), ("ingest", &ingest)] {
        if list.iter().any(|p| p.trim().is_empty() || p.len() > 64) {
            errors.push(ConfigError::new(
                format!("{path}.{field}"),
                "patterns must be 1 to 64 characters",
            ));
        }
    }
    RetrievalScope {
        labels,
        subject_grants: subject_grants.unwrap_or(false),
        collections,
        ingest,
    }
}
