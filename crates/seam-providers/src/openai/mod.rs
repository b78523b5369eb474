//! Any OpenAI-compatible server: OpenAI itself, vLLM, Ollama, llama.cpp, TGI, LiteLLM.
//!
//! The client's JSON body is forwarded with only `model` replaced, so fields Seam does not know
//! reach the upstream untouched; the answer comes back the same way.

pub(crate) mod convert;

use std::collections::VecDeque;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{StreamDecoder, UpstreamClient, decode_sse, read_json};
use crate::sse::SseEvent;
use crate::{ChunkStream, ProviderError};
use convert::Lax;

pub struct OpenAi {
    chat_url: reqwest::Url,
    embeddings_url: reqwest::Url,
    client: UpstreamClient,
}

impl OpenAi {
    pub fn new(cfg: &ProviderConfig) -> Result<Self, String> {
        let auth = cfg
            .api_key
            .iter()
            .map(|k| ("authorization", format!("Bearer {}", k.expose())))
            .collect();
        Ok(OpenAi {
            chat_url: UpstreamClient::endpoint(cfg, "/chat/completions")?,
            embeddings_url: UpstreamClient::endpoint(cfg, "/embeddings")?,
            client: UpstreamClient::new(cfg, auth)?,
        })
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
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
        let body = convert::chat_body(model, req, true)?;
        let resp = self.client.post_json(&self.chat_url, body).await?;
        Ok(decode_sse(resp, Decoder(Lax::new(model))))
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
