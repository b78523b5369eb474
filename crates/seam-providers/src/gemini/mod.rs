//! Google's Gemini API (`generateContent`, `streamGenerateContent`, `batchEmbedContents`),
//! translated to and from OpenAI chat and embeddings in `convert`.
//!
//! The model is part of the URL (`/v1beta/models/{model}:generateContent`), so URLs are built per
//! request from the base parsed at start-up. The key goes in `x-goog-api-key`, never in the query
//! string, so it cannot reach a log line that prints a URL.

pub(crate) mod convert;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{BaseUrl, Proxies, UpstreamClient, decode_sse, read_json};
use crate::{ChunkStream, ProviderError};

use convert::{BatchEmbedResponse, Decoder, GenerateResponse, Method};

pub struct Gemini {
    base: BaseUrl,
    client: UpstreamClient,
}

impl Gemini {
    pub fn new(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        let auth = cfg
            .api_key
            .iter()
            .map(|k| ("x-goog-api-key", k.expose().to_owned()))
            .collect();
        Ok(Gemini {
            base: BaseUrl::parse(cfg)?,
            client: UpstreamClient::new(cfg, auth, proxies)?,
        })
    }

    fn url(&self, model: &str, method: Method) -> Result<http::Uri, ProviderError> {
        // `alt=sse` turns the stream from one long JSON array into server-sent events.
        let query = (method == Method::StreamGenerate).then_some("alt=sse");
        self.base.join(&convert::path(model, method), query)
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        let body = convert::request_body(req)?;
        let url = self.url(model, Method::Generate)?;
        let resp = self.client.post_json(&url, body).await?;
        let answer: GenerateResponse = read_json(resp).await?;
        Ok(convert::completion(&answer, model))
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let body = convert::request_body(req)?;
        let url = self.url(model, Method::StreamGenerate)?;
        let resp = self.client.post_json(&url, body).await?;
        Ok(decode_sse(resp, Decoder::new(model)))
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let body = convert::embeddings_body(model, req)?;
        let url = self.url(model, Method::BatchEmbed)?;
        let resp = self.client.post_json(&url, body).await?;
        let answer: BatchEmbedResponse = read_json(resp).await?;
        convert::embeddings(answer, model, req)
    }
}
