//! Retrieval Seam owns: collections of documents with access labels, extracted from their
//! formats ([`extract`]), cut into heading-aware chunks ([`chunk`]), embedded ([`Embed`]),
//! stored in Seam's store (`seam_store::retrieval`) and searched by BM25 and vectors fused by
//! reciprocal rank ([`fuse`]), with only the chunks a caller is granted ever considered
//! ([`grants`], [`index`]). [`service`] ties them together for the server and the CLI.

pub mod chunk;
pub mod extract;
pub mod fuse;
pub mod grants;
pub mod index;
pub mod ingest;
pub mod ivf;
pub mod local;
pub mod quality;
pub mod service;
pub mod text;

use std::future::Future;
use std::pin::Pin;

/// Why texts could not be embedded: one line, never the texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmbedError(pub String);

/// What [`Embed::embed`] returns.
pub type EmbedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send + 'a>>;

/// Something that turns texts into vectors: the built-in local model ([`local`]) or an
/// embeddings alias served through the gateway (the server's). Vectors are L2-normalised, so a
/// dot product is their cosine similarity.
pub trait Embed: Send + Sync {
    /// The name config uses for it (`local-minilm`, or the alias).
    fn name(&self) -> &str;
    /// One vector per text, in order, each of the same length.
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a>;
    /// Tokens in `text` as the model counts them, for chunking; by default an estimate of
    /// four characters a token.
    fn count_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }
}
