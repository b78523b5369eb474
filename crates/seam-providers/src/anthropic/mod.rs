//! Anthropic's Messages API. (Translation lands in the next change; until then every call is
//! refused with `Unsupported`.)

mod convert;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::UpstreamClient;
use crate::{ChunkStream, ProviderError};

pub struct Anthropic {
    messages_url: String,
    client: UpstreamClient,
}

impl Anthropic {
    pub fn new(cfg: &ProviderConfig) -> Result<Self, String> {
        let mut fixed = vec![("anthropic-version", cfg.api_version.clone())];
        if let Some(k) = &cfg.api_key {
            fixed.push(("x-api-key", k.expose().to_owned()));
        }
        Ok(Anthropic {
            messages_url: format!("{}/v1/messages", cfg.base_url),
            client: UpstreamClient::new(cfg, fixed)?,
        })
    }

    pub async fn chat(&self, _model: &str, _req: &ChatRequest) -> Result<ChatCompletion, ProviderError> {
        let _ = (&self.messages_url, &self.client);
        Err(ProviderError::Unsupported("anthropic translation is not built yet".into()))
    }

    pub async fn chat_stream(&self, _model: &str, _req: &ChatRequest) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Unsupported("anthropic translation is not built yet".into()))
    }

    pub async fn embeddings(
        &self,
        _model: &str,
        _req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Err(ProviderError::Unsupported(
            "Anthropic has no embeddings endpoint; route embeddings to an openai-compatible or echo provider".into(),
        ))
    }
}
