//! `POST /v1/chat/completions`: OpenAI's chat completions, the pipeline's own shape. Decoding is
//! parsing; a unary answer is the completion as it is; a stream is `data: {chunk}` per chunk and
//! `data: [DONE]` at the end. A stream that fails after it started ends with
//! `data: {"error": {...}}` and no `[DONE]`, which the `openai` SDKs raise as an `APIError`. The
//! usage chunk is written only when the client set `stream_options.include_usage`, as OpenAI does.

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use seam_prompts::Rendered;
use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest};
use serde_json::{Map, Value, json};

use super::{Codec, DecodeCx, Decoded, StreamEncoder};
use crate::error::error_response;
use crate::pipeline::{Cx, serve};
use crate::{SharedState, body, metrics, prompts};

pub async fn handle(State(st): State<SharedState>, cx: Cx, raw: axum::body::Body) -> Response {
    serve(st, cx, raw, Chat::default()).await
}

/// The chat completions codec.
#[derive(Default)]
pub struct Chat {
    /// The client set `stream_options.include_usage`.
    include_usage: bool,
}

impl Chat {
    /// `keep`: the audit record may keep the request as the client sent it (a copy, since the
    /// pipeline rewrites what it runs).
    fn decoded(
        &mut self,
        req: ChatRequest,
        keep: bool,
    ) -> Result<Decoded<Option<ChatRequest>>, ApiError> {
        req.validate().map_err(body::invalid)?;
        self.include_usage = req.wants_stream_usage();
        Ok(Decoded {
            user: req.user.clone(),
            record: keep.then(|| req.clone()),
            chat: req,
        })
    }
}

impl Codec for Chat {
    type Record = Option<ChatRequest>;
    type Encoder = Encoder;
    const ENDPOINT: &'static str = "chat";
    const METRIC: &'static str = metrics::CHAT;
    const CHAT_FORM: bool = true;

    async fn decode(
        &mut self,
        bytes: Bytes,
        cx: DecodeCx<'_>,
    ) -> Result<Decoded<Option<ChatRequest>>, ApiError> {
        self.decoded(body::json(&bytes)?, cx.keeps_request)
    }

    async fn decode_value(
        &mut self,
        body: Value,
        cx: DecodeCx<'_>,
    ) -> Result<Decoded<Option<ChatRequest>>, ApiError> {
        self.decoded(body::from_value(body)?, cx.keeps_request)
    }

    fn apply_prompt(
        body: &mut Map<String, Value>,
        r: &Rendered,
        params: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = &r.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": r.user}));
        prompts::prepend_messages(body, messages)?;
        // Chat completions is the prompt format: every parameter carries as it is.
        for (k, v) in params {
            prompts::default_param(body, k, v);
        }
        Ok(())
    }

    fn error(&self, e: &ApiError) -> Response {
        error_response(e)
    }

    fn unary(&self, answer: &ChatCompletion) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(answer).map_err(|e| {
            tracing::error!(error = %e, "could not serialize a response");
            ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not serialize the response",
            )
        })
    }

    fn encoder(&self) -> Encoder {
        Encoder {
            include_usage: self.include_usage,
        }
    }
}

/// Chat completion chunks as OpenAI streams them.
pub struct Encoder {
    include_usage: bool,
}

impl StreamEncoder for Encoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        let usage_only = chunk.choices.is_empty() && chunk.usage.is_some();
        if usage_only && !self.include_usage {
            return;
        }
        let start = out.len();
        out.extend_from_slice(b"data: ");
        let written = if chunk.usage.is_some() && !self.include_usage {
            let mut c = chunk.clone();
            c.usage = None;
            serde_json::to_writer(&mut *out, &c)
        } else {
            serde_json::to_writer(&mut *out, chunk)
        };
        if written.is_err() {
            // Unreachable for these types (string keys, no custom serializers); still never panic.
            out.truncate(start);
            return;
        }
        out.extend_from_slice(b"\n\n");
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn error(&mut self, e: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: ");
        let _ = serde_json::to_writer(&mut *out, &e.body());
        out.extend_from_slice(b"\n\n");
    }
}
