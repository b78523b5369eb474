//! Amazon Bedrock's Converse API (`/model/{id}/converse`, `/converse-stream`), translated to and
//! from OpenAI chat in `convert`.
//!
//! Requests are signed with SigV4 (`sigv4`) when the provider has AWS credentials, or carry
//! `Authorization: Bearer <key>` when it has a Bedrock API key instead. Streams answer in AWS's
//! binary event-stream framing (`eventstream`), decoded by the same loop as server-sent events.

pub(crate) mod convert;
pub(crate) mod eventstream;
pub(crate) mod sigv4;

use http::header::{HeaderName, HeaderValue};
use seam_config::ProviderConfig;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{BaseUrl, Proxies, UpstreamClient, UpstreamResponse, decode_frames, read_json};
use crate::{ChunkStream, ProviderError};

use convert::{ConverseResponse, Decoder};
use sigv4::Signer;

/// The service name Bedrock's runtime endpoints sign under.
const SERVICE: &str = "bedrock";
/// Bodies up to this size are hashed on the async runtime (well under 500 µs); larger ones on a
/// blocking thread.
const INLINE_HASH_MAX: usize = 128 * 1024;

pub struct Bedrock {
    base: BaseUrl,
    client: UpstreamClient,
    /// `None` when a Bedrock API key (a fixed bearer header) authenticates instead.
    signer: Option<Signer>,
}

impl Bedrock {
    pub fn new(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        let region = cfg
            .region
            .as_deref()
            .ok_or_else(|| format!("providers.{}.region: is required for bedrock", cfg.name))?;
        let (signer, fixed) = match (&cfg.aws, &cfg.api_key) {
            (Some(creds), _) => {
                // Checked once here so signing a request cannot fail on them later.
                let id = creds.access_key_id.expose();
                let token = creds.session_token.as_ref().map_or("", |t| t.expose());
                if HeaderValue::from_str(id).is_err() || HeaderValue::from_str(token).is_err() {
                    return Err(format!(
                        "providers.{}: the AWS access key id or session token holds characters \
                         a header cannot carry",
                        cfg.name
                    ));
                }
                (
                    Some(Signer::new(creds.clone(), region, SERVICE)),
                    Vec::new(),
                )
            }
            (None, Some(key)) => (
                None,
                vec![("authorization", format!("Bearer {}", key.expose()))],
            ),
            (None, None) => (None, Vec::new()),
        };
        Ok(Bedrock {
            base: BaseUrl::parse(cfg)?,
            client: UpstreamClient::new(cfg, fixed, proxies)?,
            signer,
        })
    }

    /// POSTs `body` for `model`, signed when this provider signs.
    async fn post(
        &self,
        model: &str,
        stream: bool,
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let url = self.base.join(&convert::path(model, stream), None)?;
        let Some(signer) = &self.signer else {
            return self.client.post_json(&url, body).await;
        };
        let (body, hash) = if body.len() <= INLINE_HASH_MAX {
            let hash = sigv4::sha256_hex(&body);
            (body, hash)
        } else {
            tokio::task::spawn_blocking(move || {
                let hash = sigv4::sha256_hex(&body);
                (body, hash)
            })
            .await
            .map_err(|_| ProviderError::Connect("the request-signing task failed".into()))?
        };
        let headers = signer
            .sign(&url, &hash, crate::unix_now())
            .into_iter()
            .filter_map(|(name, value)| {
                // Values were checked in `new` or are hex and dates; none is dropped in practice.
                Some((
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).ok()?,
                ))
            })
            .collect();
        self.client.post_json_with(&url, headers, body).await
    }

    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        let body = convert::request_body(req)?;
        let resp = self.post(model, false, body).await?;
        let id = convert::completion_id(request_id(&resp));
        let answer: ConverseResponse = read_json(resp).await?;
        Ok(convert::completion(&answer, id, model))
    }

    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        let body = convert::request_body(req)?;
        let resp = self.post(model, true, body).await?;
        let id = convert::completion_id(request_id(&resp));
        Ok(decode_frames(
            resp,
            eventstream::Decoder::new(eventstream::MAX_MESSAGE),
            Decoder::new(id, model),
        ))
    }

    pub async fn embeddings(
        &self,
        _model: &str,
        _req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Err(ProviderError::Unsupported(
            "Bedrock embeddings (Titan, Cohere) use model-specific InvokeModel bodies, which Seam \
             does not translate; route embeddings to an openai-compatible, azure, gemini or echo \
             provider"
                .into(),
        ))
    }
}

fn request_id(resp: &UpstreamResponse) -> Option<&str> {
    resp.headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
}
