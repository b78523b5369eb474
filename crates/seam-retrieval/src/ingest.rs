//! From a file's bytes to documents ready to store: extracted ([`crate::extract`]), labelled,
//! passed through the collection's policy, cut into chunks ([`crate::chunk`]) and given the hash
//! that makes ingesting the same thing twice a no-op. Shared by `seam ingest` and
//! `POST /v1/collections/{name}/documents`; the policy is the caller's (a closure), so this crate
//! needs no gateway.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::chunk::{ChunkSpec, chunk};
use crate::extract::{Format, extract};
use crate::service::{ChunkText, IngestDocument};

/// What the caller says about a document beside its bytes.
#[derive(Debug, Default, Clone)]
pub struct Given {
    /// The document's id; for `jsonl`, the prefix of ids its lines do not give (`{id}:{line}`).
    pub id: Option<String>,
    pub title: Option<String>,
    pub source: Option<String>,
    /// `None`: the lines' own (jsonl), else the collection's `default_labels`.
    pub labels: Option<Vec<String>>,
    pub metadata: Map<String, Value>,
}

/// The collection's settings that shape its documents (and so their hash).
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub max_tokens: usize,
    pub overlap: usize,
    pub default_labels: &'a [String],
    pub embedder: &'a str,
    pub policy: Option<&'a str>,
}

/// Why a document cannot be ingested: one line, never its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("{0}")]
    Invalid(String),
    /// The policy refused the text (its message names entity types, never values).
    #[error("{0}")]
    Policy(String),
}

/// The documents in `bytes` (one, or one per line of a `jsonl` file). `count` counts tokens as
/// the embedder does; `govern` applies the collection's policy to texts (title and body) and
/// returns them rewritten, or why it refused.
pub fn prepare(
    format: Format,
    bytes: &[u8],
    given: Given,
    settings: Settings<'_>,
    count: &dyn Fn(&str) -> usize,
    govern: &mut dyn FnMut(Vec<String>) -> Result<Vec<String>, String>,
) -> Result<Vec<IngestDocument>, PrepareError> {
    let extracted = extract(format, bytes).map_err(|e| PrepareError::Invalid(e.to_string()))?;
    let many = extracted.len() > 1 || format == Format::Jsonl;
    let mut out = Vec::with_capacity(extracted.len());
    for (i, e) in extracted.into_iter().enumerate() {
        let id = match (e.id, &given.id) {
            (Some(id), _) => id,
            (None, Some(base)) if many => format!("{base}:{}", i + 1),
            (None, Some(base)) => base.clone(),
            (None, None) if many => {
                return Err(PrepareError::Invalid(format!(
                    "document {} has no \"id\" and none was given for the file",
                    i + 1
                )));
            }
            (None, None) => {
                return Err(PrepareError::Invalid("the document needs an `id`".into()));
            }
        };
        if !crate::grants::valid_document_id(&id) {
            return Err(PrepareError::Invalid(format!(
                "document id {:?} is not valid: 1 to 200 of letters, digits and . _ : @ / + -",
                id.chars().take(60).collect::<String>()
            )));
        }
        let mut labels = match (&given.labels, e.labels.is_empty()) {
            (Some(l), _) => l.clone(),
            (None, false) => e.labels,
            (None, true) => settings.default_labels.to_vec(),
        };
        labels.sort();
        labels.dedup();
        if let Some(bad) = labels.iter().find(|l| !crate::grants::valid_label(l)) {
            return Err(PrepareError::Invalid(format!(
                "label {:?} is not valid: 1 to 128 of letters, digits and . _ : @ / + -",
                bad.chars().take(60).collect::<String>()
            )));
        }
        let mut metadata = given.metadata.clone();
        metadata.extend(e.metadata);
        let title = given.title.clone().or(e.title);
        let content_hash = hash(
            format,
            &e.text,
            title.as_deref(),
            &labels,
            &metadata,
            settings,
        );
        // The policy sees the title and the whole text at once, before chunking, so no value
        // is split across a chunk boundary where a detector would miss it.
        let mut texts = vec![e.text];
        if let Some(t) = &title {
            texts.push(t.clone());
        }
        let mut governed = govern(texts).map_err(PrepareError::Policy)?.into_iter();
        let text = governed.next().unwrap_or_default();
        let title = title.and_then(|_| governed.next());
        let spec = ChunkSpec {
            max_tokens: settings.max_tokens,
            overlap: settings.overlap,
        };
        let chunks = chunk(&text, spec, count)
            .into_iter()
            .map(|c| ChunkText {
                heading: c.heading,
                text: c.text,
                tokens: c.tokens,
            })
            .collect();
        out.push(IngestDocument {
            id,
            title,
            source: given.source.clone(),
            labels,
            metadata,
            content_hash,
            chunks,
        });
    }
    Ok(out)
}

/// What makes a document "the same": its extracted text, title, labels and metadata, and the
/// collection settings that shape its chunks and vectors. A change to any re-ingests it.
fn hash(
    format: Format,
    text: &str,
    title: Option<&str>,
    labels: &[String],
    metadata: &Map<String, Value>,
    s: Settings<'_>,
) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(b"seam-doc-v1");
    field(format.as_str().as_bytes());
    field(text.as_bytes());
    field(title.unwrap_or_default().as_bytes());
    for l in labels {
        field(l.as_bytes());
    }
    field(Value::Object(metadata.clone()).to_string().as_bytes());
    field(&(s.max_tokens as u64).to_le_bytes());
    field(&(s.overlap as u64).to_le_bytes());
    field(s.embedder.as_bytes());
    field(s.policy.unwrap_or_default().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
