//! Surfaces: the public APIs Seam speaks, each a codec over the one pipeline ([`crate::pipeline`]).
//!
//! A surface decodes its request into the pipeline's request (a `ChatRequest`), and encodes the
//! pipeline's answer (a `ChatCompletion`), its stream (`ChatChunk`s) and its errors back into its
//! own wire format. It does nothing else: keys, limits, the cache, policy, routing, pricing and
//! the audit record are the pipeline's, the same for every surface.

pub mod chat;
pub mod messages;
pub mod responses;

use std::future::Future;

use axum::response::Response;
use bytes::Bytes;
use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest};

/// A request as the pipeline takes it.
pub struct Decoded<R> {
    /// What the pipeline runs: policy, routing and limits see this.
    pub chat: ChatRequest,
    /// The data subject the body names (`user`, `metadata.user_id`), used when no
    /// `x-seam-subject` header names one.
    pub user: Option<String>,
    /// The client's request in its own shape, as the audit record keeps it (when its class keeps
    /// payloads).
    pub record: R,
}

/// What a codec may know of the caller while decoding (the Responses surface loads the
/// conversation a `previous_response_id` names, which only the key that stored it may read).
pub struct DecodeCx<'a> {
    /// The caller's key id; `None` when the gateway runs without keys.
    pub key_id: Option<&'a str>,
    /// The subject `x-seam-subject` names, if any.
    pub subject: Option<&'a str>,
    /// The request's headers (`anthropic-beta` travels with a native Messages request).
    pub headers: &'a axum::http::HeaderMap,
    /// Whether a target `model` may route to takes a native body of the wire (see
    /// `Gateway::takes_native`): a surface builds one only then, or when only its own format
    /// can carry the request (to refuse it with the reason).
    pub takes_native: &'a (dyn Fn(&str, seam_types::chat::Wire) -> bool + Send + Sync),
    /// Whether the audit record may keep the client's request: when false, a surface need not
    /// keep a copy of it for the record.
    pub keeps_request: bool,
}

/// Writes the pipeline's stream as one surface's events. Each call appends whole events (bytes
/// ready for the wire, e.g. `event: …\ndata: …\n\n`) to `out`; the pipeline sends what was
/// appended, if anything, as one frame.
pub trait StreamEncoder: Send + 'static {
    /// The events for one chunk of the answer (none is fine). Every stream carries a final
    /// usage-only chunk (no choices, `usage` set) before it ends.
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>);
    /// The events that end a stream that completed (`data: [DONE]`, `message_stop`,
    /// `response.completed`).
    fn end(&mut self, out: &mut Vec<u8>);
    /// The event that ends a stream that failed after its first byte (never silently).
    fn error(&mut self, e: &ApiError, out: &mut Vec<u8>);
}

/// One surface. A codec is made per request (it may keep what it decoded, such as the Responses
/// surface's id and conversation), decoded once, then shared by the pipeline.
pub trait Codec: Send + Sync + Sized + 'static {
    /// The client's request as the audit record keeps it.
    type Record: serde::Serialize + Send;
    /// This surface's stream encoder.
    type Encoder: StreamEncoder;
    /// The audit record's `endpoint` and the metrics label: `chat`, `messages`, `responses`.
    const ENDPOINT: &'static str;
    /// The `endpoint` label of the overhead metric.
    const METRIC: &'static str = Self::ENDPOINT;
    /// Whether `unary` writes the completion as it is and the encoder the chunks as they are
    /// (chat completions), with no `complete`: a cached answer in the form asked for is then sent
    /// from what was stored without being put back together first.
    const CHAT_FORM: bool = false;

    /// Parses and validates the body into the pipeline's request; a bad body is a 400.
    fn decode(
        &mut self,
        body: Bytes,
        cx: DecodeCx<'_>,
    ) -> impl Future<Output = Result<Decoded<Self::Record>, ApiError>> + Send;

    /// Decodes a body the pipeline has already parsed and rewritten (a rendered prompt). By
    /// default it is written out and decoded as bytes; a surface may read the value directly.
    fn decode_value(
        &mut self,
        body: serde_json::Value,
        cx: DecodeCx<'_>,
    ) -> impl Future<Output = Result<Decoded<Self::Record>, ApiError>> + Send {
        async move {
            let bytes = serde_json::to_vec(&body).map_err(|_| {
                ApiError::new(
                    seam_types::ErrorCode::Internal,
                    "Seam could not write the rendered request",
                )
            })?;
            self.decode(bytes.into(), cx).await
        }
    }

    /// Writes a rendered prompt (`model: "prompt:…"`, see [`crate::prompts`]) into this
    /// surface's body before it is decoded: the prompt's system text and user message before the
    /// client's own, and the prompt's `params` where the body sets none — a parameter the
    /// surface cannot carry is refused, never dropped.
    fn apply_prompt(
        body: &mut serde_json::Map<String, serde_json::Value>,
        rendered: &seam_prompts::Rendered,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ApiError>;

    /// An error response in this surface's shape and status (headers such as `retry-after`
    /// included). Also used for refusals before the body is read.
    fn error(&self, e: &ApiError) -> Response;

    /// The unary answer's JSON body.
    fn unary(&self, answer: &ChatCompletion) -> Result<Vec<u8>, ApiError>;

    /// An encoder for one stream of this request.
    fn encoder(&self) -> Self::Encoder;

    /// Runs with the whole answer (a stream's, assembled) after its audit record and before the
    /// client gets its end: the Responses surface stores the conversation here, so a
    /// `previous_response_id` sent the moment the answer arrives finds it.
    fn complete(
        &self,
        answer: &ChatCompletion,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = answer;
        std::future::ready(Ok(()))
    }

    /// Whether the exact cache may answer this request or keep its answer (an answer that
    /// carries state of its own, such as a stored response's id, may not).
    fn cacheable(&self) -> bool {
        true
    }
}
