//! The built-in `echo` provider: no network, no key, deterministic.
//!
//! It answers `echo: <last user message>` (or echoes the last tool result), calls the requested
//! tool with arguments built from its JSON Schema, honours `response_format`, `n` and `max_tokens`,
//! streams word by word, reports usage, and embeds text as deterministic hashed bag-of-words
//! vectors. It makes the quickstart and the tests work with no vendor and no internet.

mod convert;

use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::{ChunkStream, ProviderError, unix_now};

pub use convert::{DEFAULT_DIMENSIONS, embed_text};

#[derive(Default)]
pub struct Echo;

impl Echo {
    pub fn new() -> Self {
        Echo
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        Ok(convert::completion(model, req, unix_now()))
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let chunks = convert::chunks(model, req, unix_now());
        Ok(Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(Ok),
        )))
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Ok(convert::embeddings(model, req))
    }
}
