//! Provider adapters. Each provider is a folder with the same two files:
//!
//! - `mod.rs`: the adapter — builds the upstream request, sends it, reads the answer;
//! - `convert.rs`: pure functions between the provider's wire format and `seam-types`, unit-tested
//!   without a network.
//!
//! Dispatch is a closed enum, [`Provider`], so adding a provider is a compile error everywhere it
//! must be handled. Adapters know nothing of routing, retries or timeouts: they make one attempt
//! and report what happened as a [`ProviderError`]; the gateway decides what to do about it.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod echo;
pub mod gemini;
mod http;
pub mod local;
pub mod openai;
pub mod otel;
pub mod sse;
pub mod trace;
mod turns;

use std::pin::Pin;

use futures_util::Stream;
use seam_config::{ProviderConfig, ProviderKind};
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest, Wire};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use seam_types::{ApiError, ErrorCode};

pub use http::{Proxies, UpstreamClient, UpstreamResponse, install_crypto_provider};

/// Chunks as the client will see them; `Err` ends the stream.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ProviderError>> + Send>>;

/// What went wrong in one attempt against one provider.
///
/// Messages name the provider and the status, never a credential or request content.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out waiting for the {0}")]
    Timeout(&'static str),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        kind: Option<String>,
        code: Option<String>,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    #[error("stream ended early: {0}")]
    StreamCut(String),
    #[error("{0}")]
    Unsupported(String),
}

impl ProviderError {
    /// Whether another attempt (on this or another target) could succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect(_)
            | ProviderError::Timeout(_)
            | ProviderError::InvalidResponse(_)
            | ProviderError::StreamCut(_) => true,
            ProviderError::Status { status, .. } => {
                matches!(status, 408 | 409 | 429) || *status >= 500
            }
            ProviderError::Unsupported(_) => false,
        }
    }

    /// The status code for metrics and attempt records: upstream's, or the one Seam answers with.
    pub fn status(&self) -> u16 {
        match self {
            ProviderError::Status { status, .. } => *status,
            ProviderError::Timeout(_) => 504,
            ProviderError::Unsupported(_) => 400,
            _ => 502,
        }
    }

    /// The error the client sees when this was the last attempt. `target` is `provider/model`.
    pub fn to_api_error(&self, target: &str) -> ApiError {
        match self {
            ProviderError::Connect(e) => ApiError::new(
                ErrorCode::UpstreamError,
                format!("{target}: could not connect ({e})"),
            ),
            ProviderError::Timeout(what) => ApiError::new(
                ErrorCode::UpstreamTimeout,
                format!("{target}: timed out waiting for the {what}"),
            ),
            // A rejected credential is Seam's misconfiguration, not the caller's: passing a 401
            // through would make SDKs report the client's own key as wrong.
            ProviderError::Status {
                status: 401 | 403, ..
            } => ApiError::new(
                ErrorCode::UpstreamError,
                format!(
                    "{target}: the provider rejected Seam's credentials (HTTP {}); check its api_key",
                    self.status()
                ),
            ),
            ProviderError::Status {
                status,
                kind,
                code,
                message,
                retry_after,
            } if *status < 500 => {
                let mut e =
                    ApiError::upstream(*status, kind.clone(), code.clone(), message.clone());
                e.retry_after = *retry_after;
                e
            }
            // The built-in local model is missing or broken: the message says how to fix it.
            ProviderError::Status {
                code: Some(code),
                message,
                ..
            } if code == local::UNAVAILABLE => {
                ApiError::new(ErrorCode::UpstreamError, format!("{target}: {message}"))
            }
            ProviderError::Status { status, .. } => ApiError::new(
                ErrorCode::UpstreamError,
                format!("{target}: upstream returned HTTP {status}"),
            ),
            ProviderError::InvalidResponse(e) => ApiError::new(
                ErrorCode::UpstreamInvalidResponse,
                format!("{target}: invalid response ({e})"),
            ),
            ProviderError::StreamCut(e) => ApiError::new(
                ErrorCode::UpstreamError,
                format!("{target}: stream ended before its first chunk ({e})"),
            ),
            ProviderError::Unsupported(e) => {
                ApiError::new(ErrorCode::UnsupportedParameter, format!("{target}: {e}"))
            }
        }
    }
}

/// One configured provider, ready to take requests.
pub enum Provider {
    OpenAi(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
    Echo(echo::Echo),
    Gemini(gemini::Gemini),
    Azure(azure::Azure),
    Bedrock(bedrock::Bedrock),
    Local(local::Local),
}

impl Provider {
    /// A provider that reaches its upstream through the proxies the environment names
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), read now.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, String> {
        Self::with_proxies(cfg, &Proxies::from_env())
    }

    /// A provider that reaches its upstream through `proxies`.
    pub fn with_proxies(cfg: &ProviderConfig, proxies: &Proxies) -> Result<Self, String> {
        Ok(match cfg.kind {
            ProviderKind::OpenAi => Provider::OpenAi(openai::OpenAi::new(cfg, proxies)?),
            ProviderKind::Anthropic => {
                Provider::Anthropic(anthropic::Anthropic::new(cfg, proxies)?)
            }
            ProviderKind::Echo => Provider::Echo(echo::Echo::new()),
            ProviderKind::Gemini => Provider::Gemini(gemini::Gemini::new(cfg, proxies)?),
            ProviderKind::Azure => Provider::Azure(azure::Azure::new(cfg, proxies)?),
            ProviderKind::Bedrock => Provider::Bedrock(bedrock::Bedrock::new(cfg, proxies)?),
            ProviderKind::Local => Provider::Local(local::Local::new(cfg)),
        })
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            Provider::OpenAi(_) => ProviderKind::OpenAi,
            Provider::Anthropic(_) => ProviderKind::Anthropic,
            Provider::Echo(_) => ProviderKind::Echo,
            Provider::Gemini(_) => ProviderKind::Gemini,
            Provider::Azure(_) => ProviderKind::Azure,
            Provider::Bedrock(_) => ProviderKind::Bedrock,
            Provider::Local(_) => ProviderKind::Local,
        }
    }

    /// Whether this provider sends a request's native body of `wire` as it is (the same-format
    /// passthrough); every other provider sends the translation.
    pub fn takes(&self, wire: Wire) -> bool {
        match self {
            Provider::Anthropic(_) => wire == Wire::AnthropicMessages,
            Provider::OpenAi(p) => wire == Wire::OpenAiResponses && p.takes_responses(),
            Provider::Echo(_)
            | Provider::Gemini(_)
            | Provider::Azure(_)
            | Provider::Bedrock(_)
            | Provider::Local(_) => false,
        }
    }

    /// A request only a target of its own format can answer, sent to one of another: refused
    /// before any call, with the reason its surface gave.
    fn refuses(&self, req: &ChatRequest) -> Result<(), ProviderError> {
        match &req.native {
            Some(n) if !self.takes(n.wire) => match &n.requires {
                Some(why) => Err(ProviderError::Unsupported(why.clone())),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// A non-streaming chat completion from `model` on this provider.
    pub async fn chat(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        self.refuses(req)?;
        match self {
            Provider::OpenAi(p) => p.chat(model, req).await,
            Provider::Anthropic(p) => p.chat(model, req).await,
            Provider::Echo(p) => p.chat(model, req).await,
            Provider::Gemini(p) => p.chat(model, req).await,
            Provider::Azure(p) => p.chat(model, req).await,
            Provider::Bedrock(p) => p.chat(model, req).await,
            Provider::Local(p) => p.chat(model, req).await,
        }
    }

    /// A streaming chat completion. The returned stream yields OpenAI chunks and ends with `None`
    /// only after the upstream said it was complete; a cut stream ends with `Err`.
    pub async fn chat_stream(
        &self,
        model: &str,
        req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        self.refuses(req)?;
        match self {
            Provider::OpenAi(p) => p.chat_stream(model, req).await,
            Provider::Anthropic(p) => p.chat_stream(model, req).await,
            Provider::Echo(p) => p.chat_stream(model, req).await,
            Provider::Gemini(p) => p.chat_stream(model, req).await,
            Provider::Azure(p) => p.chat_stream(model, req).await,
            Provider::Bedrock(p) => p.chat_stream(model, req).await,
            Provider::Local(p) => p.chat_stream(model, req).await,
        }
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        match self {
            Provider::OpenAi(p) => p.embeddings(model, req).await,
            Provider::Anthropic(p) => p.embeddings(model, req).await,
            Provider::Echo(p) => p.embeddings(model, req).await,
            Provider::Gemini(p) => p.embeddings(model, req).await,
            Provider::Azure(p) => p.embeddings(model, req).await,
            Provider::Bedrock(p) => p.embeddings(model, req).await,
            Provider::Local(p) => p.embeddings(model, req).await,
        }
    }
}

/// An id for something an upstream sent without one (`chatcmpl-gemini-…`, `call_seam_…`): the
/// time and a process-wide counter keep it unique.
pub(crate) fn fresh_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{nanos:08x}{n:x}", unix_now())
}

/// Seconds since the Unix epoch, for `created` fields.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
