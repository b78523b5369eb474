//! Azure OpenAI: OpenAI's wire format at deployment URLs,
//! `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…`, authenticated with
//! an `api-key` header. The deployment is the `model` Seam resolved.

pub(crate) mod convert;

use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{BaseUrl, Proxies, UpstreamClient, decode_sse, read_json};
use crate::{ChunkStream, ProviderError};

use convert::Operation;

pub struct Azure {
    base: BaseUrl,
    /// `api-version=…`, encoded once.
    query: String,
    client: UpstreamClient,
}

impl Azure {
    pub fn new(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        let auth = cfg
            .api_key
            .iter()
            .map(|k| ("api-key", k.expose().to_owned()))
            .collect();
        Ok(Azure {
            base: BaseUrl::parse(cfg)?,
            query: convert::query(&cfg.api_version),
            client: UpstreamClient::new(cfg, auth, proxies)?,
        })
    }

    fn url(&self, deployment: &str, op: Operation) -> Result<http::Uri, ProviderError> {
        self.base
            .join(&convert::path(deployment, op), Some(&self.query))
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        let body = convert::chat_body(model, req, false)?;
        let url = self.url(model, Operation::ChatCompletions)?;
        let resp = self.client.post_json(&url, body).await?;
        let mut answer = read_json(resp).await?;
        crate::openai::convert::complete(&mut answer, model);
        Ok(answer)
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let body = convert::chat_body(model, req, true)?;
        let url = self.url(model, Operation::ChatCompletions)?;
        let resp = self.client.post_json(&url, body).await?;
        Ok(decode_sse(resp, convert::decoder(model)))
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let body = convert::embeddings_body(model, req)?;
        let url = self.url(model, Operation::Embeddings)?;
        let resp = self.client.post_json(&url, body).await?;
        let mut answer = read_json(resp).await?;
        crate::openai::convert::complete_embeddings(&mut answer, model);
        Ok(answer)
    }
}
