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

use crate::http::{UpstreamClient, decode_sse, read_json};
use crate::{ChunkStream, ProviderError};

use convert::{AnthropicResponse, Decoder};

/// A client's Messages body with this target's `model`, and `stream: true` when streamed.
struct NativeBody<'a> {
    model: &'a str,
    stream: bool,
    body: &'a serde_json::Map<String, serde_json::Value>,
}

impl serde::Serialize for NativeBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("model", self.model)?;
        for (k, v) in self.body {
            if k != "model" && k != "stream" {
                m.serialize_entry(k, v)?;
            }
        }
        if self.stream {
            m.serialize_entry("stream", &true)?;
        }
        m.end()
    }
}

pub struct Anthropic {
    messages_url: reqwest::Url,
    client: UpstreamClient,
}

impl Anthropic {
    pub fn new(cfg: &ProviderConfig) -> Result<Self, String> {
        let mut fixed = vec![("anthropic-version", cfg.api_version.clone())];
        if let Some(k) = &cfg.api_key {
            fixed.push(("x-api-key", k.expose().to_owned()));
        }
        Ok(Anthropic {
            messages_url: UpstreamClient::endpoint(cfg, "/v1/messages")?,
            client: UpstreamClient::new(cfg, fixed)?,
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
    ) -> Result<reqwest::Response, ProviderError> {
        let Some(native) = req
            .native
            .as_ref()
            .filter(|n| n.wire == Wire::AnthropicMessages)
        else {
            let body = convert::request_body(model, req, stream)?;
            return self.client.post_json(&self.messages_url, body).await;
        };
        let body = NativeBody {
            model,
            stream,
            body: &native.body,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| ProviderError::InvalidResponse(format!("request not encodable: {e}")))?;
        let headers = native
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                    reqwest::header::HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        self.client
            .post_json_with(&self.messages_url, headers, body)
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
