//! Writing a chat stream as server-sent events, the way OpenAI does: `data: {chunk}` per chunk
//! and `data: [DONE]` at the end. A stream that fails after it started ends with
//! `data: {"error": {...}}` and no `[DONE]`, which the `openai` SDKs raise as an `APIError`.
//! Every stream reaches this point with the upstream's usage (adapters always ask for it); the
//! usage is kept for the end hook and written to the client only when it set
//! `stream_options.include_usage`, as OpenAI does.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use seam_gateway::ClientStream;
use seam_types::ApiError;
use seam_types::chat::ChatChunk;

use crate::metrics;

/// How a stream ended, for the audit trail: the answer assembled from its chunks, and the error
/// that ended it early, if one did.
pub struct StreamEnd {
    pub answer: Assembled,
    pub error: Option<ApiError>,
    /// When the last chunk (or the error) was written.
    pub ended: Instant,
}

/// Called once when the stream ends; `[DONE]` is written only after it succeeds, so a stream whose
/// audit record could not be committed ends with an error event instead.
pub type OnEnd = Box<
    dyn FnOnce(StreamEnd) -> futures_util::future::BoxFuture<'static, Result<(), ApiError>> + Send,
>;

struct State {
    stream: ClientStream,
    answer: Assembled,
    on_end: Option<OnEnd>,
    /// The client set `stream_options.include_usage`.
    client_usage: bool,
}

impl Drop for State {
    /// A client that goes away mid-stream still leaves a record: the hook runs in the background
    /// with what was sent so far.
    fn drop(&mut self) {
        if let Some(f) = self.on_end.take() {
            let end = StreamEnd {
                answer: std::mem::take(&mut self.answer),
                error: Some(ApiError::new(
                    seam_types::ErrorCode::StreamInterrupted,
                    "the client closed the stream before its end",
                )),
                ended: Instant::now(),
            };
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = f(end).await;
                });
            }
        }
    }
}

/// `client_usage`: the client set `stream_options.include_usage`; otherwise usage is kept out of
/// what it receives (a usage-only chunk is not written at all).
pub fn response(stream: ClientStream, on_end: Option<OnEnd>, client_usage: bool) -> Response {
    let state = State {
        stream,
        answer: Assembled::default(),
        on_end,
        client_usage,
    };
    let events = futures_util::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        let (bytes, error) = loop {
            match st.stream.next().await {
                Some(Ok(mut chunk)) => {
                    if st.on_end.is_some() {
                        st.answer.add(&chunk);
                    }
                    if !st.client_usage && chunk.usage.take().is_some() && chunk.choices.is_empty()
                    {
                        continue;
                    }
                    return Some((Ok::<_, Infallible>(chunk_event(&chunk)), Some(st)));
                }
                Some(Err(e)) => break (error_event(&e), Some(e)),
                None => break (Bytes::from_static(b"data: [DONE]\n\n"), None),
            }
        };
        if let Some(f) = st.on_end.take() {
            let clean = error.is_none();
            let end = StreamEnd {
                answer: std::mem::take(&mut st.answer),
                error,
                ended: Instant::now(),
            };
            if let Err(e) = f(end).await
                && clean
            {
                return Some((Ok(error_event(&e)), None));
            }
        }
        Some((Ok(bytes), None))
    });
    let mut resp = Response::new(Body::from_stream(events));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Reverse proxies such as nginx would otherwise buffer the whole stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn chunk_event(chunk: &ChatChunk) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut buf, chunk).is_err() {
        // Unreachable for these types (string keys, no custom serializers); still never panic.
        return Bytes::from_static(b": unserializable chunk skipped\n\n");
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

fn error_event(e: &ApiError) -> Bytes {
    metrics::error(e);
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut buf, &e.body());
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// A streamed answer put back together: per choice its text, tool calls and finish reason; the
/// usage chunk, if any.
#[derive(Default)]
pub struct Assembled {
    pub id: String,
    pub model: String,
    pub created: u64,
    choices: BTreeMap<u32, AssembledChoice>,
    pub usage: Option<seam_types::chat::Usage>,
}

#[derive(Default)]
struct AssembledChoice {
    content: String,
    tool_calls: BTreeMap<u32, (String, String, String)>,
    finish_reason: Option<String>,
}

impl Assembled {
    fn add(&mut self, chunk: &ChatChunk) {
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
            self.model.clone_from(&chunk.model);
            self.created = chunk.created;
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        for c in &chunk.choices {
            let choice = self.choices.entry(c.index).or_default();
            if let Some(t) = &c.delta.content {
                choice.content.push_str(t);
            }
            for call in c.delta.tool_calls.iter().flatten() {
                let entry = choice.tool_calls.entry(call.index).or_default();
                if let Some(id) = &call.id {
                    entry.0.clone_from(id);
                }
                if let Some(f) = &call.function {
                    if let Some(n) = &f.name {
                        entry.1.push_str(n);
                    }
                    if let Some(a) = &f.arguments {
                        entry.2.push_str(a);
                    }
                }
            }
            if c.finish_reason.is_some() {
                choice.finish_reason.clone_from(&c.finish_reason);
            }
        }
    }

    /// Everything the model wrote: each choice's text and tool calls (names and arguments), for
    /// counting completion tokens when the upstream did not.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in self.choices.values() {
            out.push_str(&c.content);
            for (_, name, args) in c.tool_calls.values() {
                out.push_str(name);
                out.push_str(args);
            }
        }
        out
    }

    /// The answer as the non-streamed completion it amounts to.
    pub fn to_json(&self) -> serde_json::Value {
        let choices: Vec<serde_json::Value> = self
            .choices
            .iter()
            .map(|(i, c)| {
                let mut message = serde_json::json!({"role": "assistant", "content": c.content});
                if !c.tool_calls.is_empty() {
                    message["tool_calls"] = c
                        .tool_calls
                        .values()
                        .map(|(id, name, args)| {
                            serde_json::json!({"id": id, "type": "function",
                                "function": {"name": name, "arguments": args}})
                        })
                        .collect();
                }
                serde_json::json!({"index": i, "message": message, "finish_reason": c.finish_reason})
            })
            .collect();
        serde_json::json!({
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.model, "choices": choices, "usage": self.usage,
        })
    }
}
