//! Any OpenAI-compatible server: OpenAI itself, vLLM, Ollama, llama.cpp, TGI, LiteLLM.
//!
//! The client's JSON body is forwarded with only `model` replaced, so fields Seam does not know
//! reach the upstream untouched; the answer comes back the same way. A request that came in as
//! Responses goes to `{base_url}/responses` as the client wrote it when the provider has
//! `responses_api` (see [`responses`]); otherwise its chat translation goes to chat completions.

pub(crate) mod convert;
pub mod responses;

use std::collections::VecDeque;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest, Native, Wire};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{
    Proxies, StreamDecoder, UpstreamClient, UpstreamResponse, decode_sse, read_json,
};
use crate::sse::SseEvent;
use crate::{ChunkStream, ProviderError};
use convert::Lax;

pub struct OpenAi {
    chat_url: http::Uri,
    embeddings_url: http::Uri,
    /// `Some` when the server has the Responses API (`responses_api`).
    responses_url: Option<http::Uri>,
    client: UpstreamClient,
}

impl OpenAi {
    pub fn new(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        let auth = cfg
            .api_key
            .iter()
            .map(|k| ("authorization", format!("Bearer {}", k.expose())))
            .collect();
        Ok(OpenAi {
            chat_url: UpstreamClient::endpoint(cfg, "/chat/completions")?,
            embeddings_url: UpstreamClient::endpoint(cfg, "/embeddings")?,
            responses_url: if cfg.responses_api {
                Some(UpstreamClient::endpoint(cfg, "/responses")?)
            } else {
                None
            },
            client: UpstreamClient::new(cfg, auth, proxies)?,
        })
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        if let Some(resp) = self.send_native(model, req, false).await? {
            let answer: serde_json::Map<String, serde_json::Value> = read_json(resp).await?;
            return responses::completion(&answer, model);
        }
        let body = convert::chat_body(model, req, false)?;
        let resp = self.client.post_json(&self.chat_url, body).await?;
        let mut answer = read_json(resp).await?;
        convert::complete(&mut answer, model);
        Ok(answer)
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        if let Some(resp) = self.send_native(model, req, true).await? {
            return Ok(decode_sse(resp, responses::Decoder::new(model)));
        }
        let body = convert::chat_body(model, req, true)?;
        let resp = self.client.post_json(&self.chat_url, body).await?;
        Ok(decode_sse(resp, Decoder(Lax::new(model))))
    }

    /// Whether this server has the Responses API (`responses_api`), so a request that came in as
    /// Responses goes to it as the client wrote it.
    pub fn takes_responses(&self) -> bool {
        self.responses_url.is_some()
    }

    /// Sends the client's Responses body to `/responses` when it has one and this server takes
    /// it; `None` when the chat translation is to go (what only the Responses API can do was
    /// refused by the dispatch, [`crate::Provider`], before this).
    async fn send_native(
        &self,
        model: &str,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<Option<UpstreamResponse>, ProviderError> {
        let native = req
            .native
            .as_ref()
            .filter(|n: &&Native| n.wire == Wire::OpenAiResponses);
        let (Some(native), Some(url)) = (native, &self.responses_url) else {
            return Ok(None);
        };
        self.client
            .post_native(url, native, model, stream)
            .await
            .map(Some)
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let body = convert::embeddings_body(model, req)?;
        let resp = self.client.post_json(&self.embeddings_url, body).await?;
        let mut answer = read_json(resp).await?;
        convert::complete_embeddings(&mut answer, model);
        Ok(answer)
    }
}

/// OpenAI's stream: chunks, then `data: [DONE]`. A body that ends without `[DONE]` after every
/// choice has sent its finish reason is complete (some compatible servers never send it); one
/// that ends earlier is cut.
pub(crate) struct Decoder(pub(crate) Lax);

impl StreamDecoder for Decoder {
    fn event(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<ChatChunk>,
    ) -> Result<bool, ProviderError> {
        match convert::stream_event(&ev)? {
            Some(mut chunk) => {
                self.0.fill(&mut chunk);
                out.push_back(chunk);
                Ok(false)
            }
            None => Ok(true),
        }
    }

    fn end(&mut self, _out: &mut VecDeque<ChatChunk>) -> Result<bool, ProviderError> {
        Ok(self.0.finished())
    }
}
