//! Anthropic's Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens`.
//!
//! A thin codec over the pipeline: [`convert`] turns the request into a `ChatRequest` and the
//! answer back into a Messages response, [`stream`] writes the chunks as Anthropic's events, and
//! errors take Anthropic's shape and statuses ([`convert::error_body`]). The
//! `anthropic-version` and `anthropic-beta` headers are accepted and not required.

pub mod convert;
pub mod stream;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use seam_types::ApiError;
use seam_types::chat::ChatCompletion;
use seam_types::chat::{Native, Wire};
use serde_json::value::RawValue;

use crate::auth::Caller;
use crate::pipeline::{Cx, serve};
use crate::surface::{Codec, DecodeCx, Decoded};
use crate::{SharedState, body, metrics};

pub use convert::error_body;

/// `POST /v1/messages`.
pub async fn handle(State(st): State<SharedState>, cx: Cx, raw: Body) -> Response {
    serve(st, cx, raw, Messages::new()).await
}

/// The Messages codec; made per request, it keeps the client's `model` for the answer.
#[derive(Default)]
pub struct Messages {
    model: String,
}

impl Messages {
    /// A codec for one request.
    pub fn new() -> Self {
        Messages::default()
    }
}

impl Codec for Messages {
    /// The client's body as sent.
    type Record = Box<RawValue>;
    type Encoder = stream::Encoder;
    const ENDPOINT: &'static str = "messages";
    const METRIC: &'static str = metrics::MESSAGES;

    async fn decode(
        &mut self,
        raw: Bytes,
        cx: DecodeCx<'_>,
    ) -> Result<Decoded<Self::Record>, ApiError> {
        let mut req: convert::MessagesRequest = body::json(&raw)?;
        convert::validate(&req)?;
        // What only Anthropic can run (a server tool such as web search, the blocks it leaves in
        // history): the request still goes, as written, to an Anthropic target; the chat form is
        // the translation of the rest, and any other target refuses it with this reason.
        let (mut chat, requires) = match convert::to_chat(&req) {
            Ok(chat) => (chat, None),
            Err(e) if e.is(seam_types::ErrorCode::UnsupportedParameter) => {
                strip_anthropic_only(&mut req.tools, &mut req.messages);
                match convert::to_chat(&req) {
                    Ok(chat) => (
                        chat,
                        Some(format!("{} (this needs an Anthropic target)", e.message)),
                    ),
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // What the pipeline requires of any chat request (a translation bug, never the client's).
        chat.validate().map_err(body::invalid)?;
        if requires.is_some() || (cx.takes_native)(&chat.model, Wire::AnthropicMessages) {
            chat.native = native(&raw, cx.headers).map(|n| Native { requires, ..n });
        }
        self.model = req.model;
        Ok(Decoded {
            user: chat.user.clone(),
            chat,
            record: raw_json(&raw)?,
        })
    }

    fn apply_prompt(
        body: &mut serde_json::Map<String, serde_json::Value>,
        r: &seam_prompts::Rendered,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ApiError> {
        use serde_json::{Value, json};
        if let Some(system) = &r.system {
            let merged = match body.remove("system") {
                None | Some(Value::Null) => Value::String(system.clone()),
                Some(Value::String(own)) => Value::String(format!("{system}\n\n{own}")),
                // Blocks (with cache_control, say): the prompt's text becomes the first block.
                Some(Value::Array(mut blocks)) => {
                    blocks.insert(0, json!({"type": "text", "text": system}));
                    Value::Array(blocks)
                }
                Some(_) => {
                    return Err(ApiError::new(
                        seam_types::ErrorCode::InvalidRequest,
                        "`system` must be a string or an array of text blocks",
                    )
                    .with_param("system"));
                }
            };
            body.insert("system".into(), merged);
        }
        crate::prompts::prepend_messages(body, vec![json!({"role": "user", "content": r.user})])?;
        for (k, v) in params {
            match k.as_str() {
                "max_tokens" | "max_completion_tokens" => {
                    crate::prompts::default_param(body, "max_tokens", v);
                }
                "temperature" | "top_p" | "top_k" | "metadata" => {
                    crate::prompts::default_param(body, k, v);
                }
                "stop" => {
                    let stops = match v {
                        Value::String(s) => json!([s]),
                        other => other.clone(),
                    };
                    crate::prompts::default_param(body, "stop_sequences", &stops);
                }
                _ => return Err(crate::prompts::unsupported_param("/v1/messages", k)),
            }
        }
        Ok(())
    }

    fn error(&self, e: &ApiError) -> Response {
        error_response(e)
    }

    fn unary(&self, answer: &ChatCompletion) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(&convert::from_chat(answer, &self.model)).map_err(|_| {
            ApiError::new(
                seam_types::ErrorCode::Internal,
                "The answer could not be encoded",
            )
        })
    }

    fn encoder(&self) -> Self::Encoder {
        stream::Encoder::new(self.model.clone())
    }
}

/// Leaves what a chat-completions target can be given: client tools, and the blocks the
/// translation knows (text, images and documents with inline sources, tool use and results,
/// thinking); turns left empty go too.
fn strip_anthropic_only(
    tools: &mut Option<Vec<convert::InputTool>>,
    messages: &mut Vec<convert::InputMessage>,
) {
    if let Some(tools) = tools {
        tools.retain(|t| t.kind.as_deref().is_none_or(|k| k == "custom"));
    }
    let inline = |b: &convert::Block| {
        b.fields
            .get("source")
            .and_then(|s| s.get("type"))
            .and_then(serde_json::Value::as_str)
            .is_none_or(|t| matches!(t, "base64" | "url" | "text" | "content"))
    };
    for m in messages.iter_mut() {
        if let convert::TextOrBlocks::Blocks(blocks) = &mut m.content {
            blocks.retain(|b| match b.kind.as_str() {
                "text" | "tool_use" | "thinking" | "redacted_thinking" => true,
                "image" | "document" => inline(b),
                "tool_result" => true,
                _ => false,
            });
        }
    }
    messages.retain(|m| !matches!(&m.content, convert::TextOrBlocks::Blocks(b) if b.is_empty()));
}

/// The client's body as an Anthropic target takes it, with its `anthropic-beta` headers: sent as
/// it is (after the policy) when the route picks an Anthropic target.
fn native(raw: &Bytes, headers: &axum::http::HeaderMap) -> Option<Native> {
    let body = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw).ok()?;
    let headers = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| ("anthropic-beta".to_owned(), v.to_owned()))
        .collect();
    Some(Native {
        wire: Wire::AnthropicMessages,
        body: std::sync::Arc::new(body),
        headers,
        requires: None,
    })
}

/// A body already parsed as JSON, kept as its text for the audit record.
fn raw_json(raw: &Bytes) -> Result<Box<RawValue>, ApiError> {
    let text = String::from_utf8(raw.to_vec()).ok();
    text.and_then(|t| RawValue::from_string(t).ok())
        .ok_or_else(|| {
            ApiError::new(
                seam_types::ErrorCode::InvalidJson,
                "The request body is not valid JSON",
            )
        })
}

/// An error as Anthropic sends it: `{"type": "error", "error": {"type", "message"}}`, its status
/// from [`error_body`], `retry-after` kept.
pub fn error_response(e: &ApiError) -> Response {
    metrics::error(e);
    let (status, body) = error_body(e);
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = e.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}` for the translated request, counted
/// with the tokenizer of the route's first target (the byte estimate where Seam has none), after
/// the key's model check. No upstream is called, nothing is audited or limited.
pub async fn count_tokens(State(st): State<SharedState>, cx: Cx, raw: Body) -> Response {
    match count(&st, cx.caller, &cx.headers, raw).await {
        Ok(n) => {
            let body = serde_json::json!({ "input_tokens": n }).to_string();
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => error_response(&e),
    }
}

async fn count(
    st: &SharedState,
    caller: Option<Arc<Caller>>,
    headers: &HeaderMap,
    raw: Body,
) -> Result<u64, ApiError> {
    let live = st.live();
    let bytes = body::read(raw, headers, live.max_body_bytes).await?;
    let mut req: convert::CountTokensRequest = body::json(&bytes)?;
    // What only Anthropic runs (server tools, their history blocks) is counted without: an
    // estimate either way, and Claude Code counts the requests it then sends with them.
    let chat = match convert::count_to_chat(&req) {
        Err(e) if e.is(seam_types::ErrorCode::UnsupportedParameter) => {
            strip_anthropic_only(&mut req.tools, &mut req.messages);
            convert::count_to_chat(&req).map_err(|_| e)?
        }
        other => other?,
    };
    // The key's scope goes by the alias serving the model (a glob's included), as the pipeline's.
    if let Some(c) = &caller {
        let alias = live.gateway.alias_of(&req.model);
        c.check_model(alias.unwrap_or(&req.model), alias.is_some())?;
    }
    let route = live.gateway.resolve(&req.model)?;
    let model = route
        .targets
        .first()
        .map(|t| t.model.clone())
        .unwrap_or_default();
    // Tokenizer tables load on first use: off the runtime.
    tokio::task::spawn_blocking(move || {
        seam_gateway::usage::estimate_stream(&chat, &model, "").prompt_tokens
    })
    .await
    .map_err(|_| ApiError::new(seam_types::ErrorCode::Internal, "Counting tokens failed"))
}
