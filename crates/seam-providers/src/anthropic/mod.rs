//! Anthropic's Messages API (`/v1/messages`), translated to and from OpenAI chat in `convert`.
//!
//! A request that came in as Messages (`ChatRequest::native`) is sent as the client wrote it —
//! after the policy, with this target's `model` and the `stream` flag — so `cache_control`,
//! `thinking`, thinking blocks with their signatures and beta headers reach Anthropic intact.
//! Any other request is rebuilt field by field, so OpenAI-only fields the client sent are
//! dropped; see `convert` for what is translated and what is approximated.

mod convert;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest, Wire};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{Proxies, UpstreamClient, UpstreamResponse, decode_sse, read_json};
use crate::{ChunkStream, ProviderError};

use convert::{AnthropicResponse, Decoder};

pub struct Anthropic {
    messages_url: http::Uri,
    client: UpstreamClient,
}

impl Anthropic {
    pub fn new(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        let mut fixed = vec![("anthropic-version", cfg.api_version.clone())];
        if let Some(k) = &cfg.api_key {
            fixed.push(("x-api-key", k.expose().to_owned()));
        }
        Ok(Anthropic {
            messages_url: UpstreamClient::endpoint(cfg, "/v1/messages")?,
            client: UpstreamClient::new(cfg, fixed, proxies)?,
        })
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        let resp = self.send(model, req, false).await?;
        let answer: AnthropicResponse = read_json(resp).await?;
        Ok(convert::completion(&answer))
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let resp = self.send(model, req, true).await?;
        Ok(decode_sse(resp, Decoder::new()))
    }

    /// The client's own Messages body when there is one, else the translation.
    async fn send(
        &self,
        model: &str,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let Some(native) = req
            .native
            .as_ref()
            .filter(|n| n.wire == Wire::AnthropicMessages)
        else {
            let body = convert::request_body(model, req, stream)?;
            return self.client.post_json(&self.messages_url, body).await;
        };
        self.client
            .post_native(&self.messages_url, native, model, stream)
            .await
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
