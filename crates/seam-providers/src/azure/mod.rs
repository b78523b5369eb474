//! Placeholder until the adapter lands: every call is refused with `Unsupported`.

mod convert;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::{ChunkStream, ProviderError};

pub struct Azure;

impl Azure {
    pub fn new(_cfg: &ProviderConfig) -> Result<Self, String> {
        Ok(Azure)
    }

    pub async fn chat(
        &self,
        _model: &str,
        _req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        Err(convert::unsupported())
    }

    pub async fn chat_stream(
        &self,
        _model: &str,
        _req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        Err(convert::unsupported())
    }

    pub async fn embeddings(
        &self,
        _model: &str,
        _req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Err(convert::unsupported())
    }
}
