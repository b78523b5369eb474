//! Streams as server-sent events. The pipeline's chunks go through a surface's
//! [`StreamEncoder`], which writes them in its own events and ends the stream: with its end events
//! when the upstream finished and the record was committed, with its error event otherwise —
//! never silently. Every stream reaches this point with the upstream's usage (adapters always ask
//! for it); whether a client sees it is the encoder's business. The answer is assembled from the
//! chunks for the end hook (audit, pricing, the surface's `complete`), and a [`Tee`] copies the
//! chunks for the cache.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt};
use seam_gateway::ClientStream;
use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ChatCompletion};

use crate::surface::StreamEncoder;

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

/// A copy of the events a client is sent, for the cache. Handed to its `keep` only when the
/// stream ended cleanly and its record was committed; dropped once it grows past its bound.
pub struct Tee {
    events: Vec<Bytes>,
    bytes: usize,
    max_bytes: usize,
    keep: Box<dyn FnOnce(Vec<Bytes>) -> futures_util::future::BoxFuture<'static, ()> + Send>,
}

impl Tee {
    pub fn new(
        max_bytes: usize,
        keep: Box<dyn FnOnce(Vec<Bytes>) -> futures_util::future::BoxFuture<'static, ()> + Send>,
    ) -> Self {
        Tee {
            events: Vec::new(),
            bytes: 0,
            max_bytes,
            keep,
        }
    }

    /// Keeps a copy of `event` (a reference count, not the bytes); `false` once over the bound.
    fn push(&mut self, event: &Bytes) -> bool {
        self.bytes += event.len();
        self.events.push(event.clone());
        self.bytes <= self.max_bytes
    }
}

struct State<E> {
    stream: ClientStream,
    /// An end or an error read while gathering ready chunks into a frame, for the next turn.
    held: Option<Option<Result<ChatChunk, ApiError>>>,
    /// Looks for ready chunks that found none in a row: after [`MISSES`], this stream's chunks
    /// come one at a time (an HTTP/1.1 upstream's body hands over one chunk per turn) and the
    /// extra look is not paid again.
    misses: u8,
    encoder: E,
    answer: Assembled,
    on_end: Option<OnEnd>,
    tee: Option<Tee>,
}

/// Where a frame stops gathering chunks that are already here.
const FRAME_BYTES: usize = 64 * 1024;
/// Looks in a row that found no ready chunk before a stream stops looking.
const MISSES: u8 = 2;

impl<E: StreamEncoder> State<E> {
    /// One chunk of the answer: kept for the record and the cache, written by the surface.
    fn take(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if self.on_end.is_some() {
            self.answer.add(chunk);
        }
        if let Some(tee) = &mut self.tee
            && !tee.push(&chunk_event(chunk))
        {
            self.tee = None;
        }
        self.encoder.chunk(chunk, out);
    }
}

impl<E> Drop for State<E> {
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

/// The pipeline's stream as the surface's events (`encoder`). `on_end` runs once it ends, before
/// the encoder's end events; `tee`: what the cache keeps of it (every chunk in the pipeline's
/// form, usage included, whatever the surface shows).
pub fn response<E: StreamEncoder>(
    stream: ClientStream,
    encoder: E,
    on_end: Option<OnEnd>,
    tee: Option<Tee>,
) -> Response {
    let state = State {
        stream,
        held: None,
        misses: 0,
        encoder,
        answer: Assembled::default(),
        on_end,
        tee,
    };
    let events = futures_util::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        let mut out = Vec::new();
        let error = loop {
            let item = match st.held.take() {
                Some(item) => item,
                None => st.stream.next().await,
            };
            match item {
                Some(Ok(chunk)) => {
                    st.take(&chunk, &mut out);
                    // Chunks that are already here go in the same frame (one write, one wake-up
                    // of the client, where an upstream sent a burst); none is waited for.
                    while out.len() < FRAME_BYTES && st.misses < MISSES {
                        match st.stream.next().now_or_never() {
                            Some(Some(Ok(chunk))) => {
                                st.misses = 0;
                                st.take(&chunk, &mut out);
                            }
                            Some(other) => {
                                st.held = Some(other);
                                break;
                            }
                            None => {
                                st.misses += 1;
                                break;
                            }
                        }
                    }
                    if out.is_empty() {
                        continue;
                    }
                    return Some((Ok::<_, Infallible>(Bytes::from(out)), Some(st)));
                }
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        };
        let clean = error.is_none();
        let mut failure = error;
        if let Some(f) = st.on_end.take() {
            let end = StreamEnd {
                answer: std::mem::take(&mut st.answer),
                error: failure.clone(),
                ended: Instant::now(),
            };
            if let Err(e) = f(end).await
                && clean
            {
                failure = Some(e);
            }
        }
        match &failure {
            Some(e) => {
                metrics::error(e);
                st.encoder.error(e, &mut out);
            }
            None => {
                if let Some(tee) = st.tee.take() {
                    (tee.keep)(tee.events).await;
                }
                st.encoder.end(&mut out);
            }
        }
        Some((Ok(Bytes::from(out)), None))
    });
    event_stream(Body::from_stream(events))
}

/// Stored chunks (a [`Tee`]'s, read back with [`parse`]) sent again through a surface's encoder,
/// ending as a completed stream.
pub fn replay<E: StreamEncoder>(chunks: &[ChatChunk], mut encoder: E) -> Response {
    let mut out = Vec::new();
    for chunk in chunks {
        encoder.chunk(chunk, &mut out);
    }
    encoder.end(&mut out);
    event_stream(Body::from(out))
}

/// A whole completion sent as a completed stream through a surface's encoder.
pub fn replay_completion<E: StreamEncoder>(c: &ChatCompletion, encoder: E) -> Response {
    replay(&seam_gateway::chunks_of(c), encoder)
}

/// The chunks a [`Tee`] stored (`data: {chunk}` events), read back once per hit.
pub fn parse(events: &[Bytes]) -> Vec<ChatChunk> {
    events
        .iter()
        .filter_map(|e| {
            let data = e.strip_prefix(b"data: ").unwrap_or(e);
            serde_json::from_slice::<ChatChunk>(data).ok()
        })
        .collect()
}

/// Chunks put back together (a replay's answer, for its record and its surface's `complete`).
pub fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut answer = Assembled::default();
    for chunk in chunks {
        answer.add(chunk);
    }
    answer
}

fn event_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
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

/// `data: {chunk}\n\n`, as chat completions stream it.
pub fn chunk_event(chunk: &ChatChunk) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut buf, chunk).is_err() {
        // Unreachable for these types (string keys, no custom serializers); still never panic.
        return Bytes::from_static(b": unserializable chunk skipped\n\n");
    }
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
    /// The deltas' other fields, as a whole message carries them: text appended
    /// (`reasoning_content`), lists extended (`responses_output`), anything else the latest.
    extra: serde_json::Map<String, serde_json::Value>,
}

impl AssembledChoice {
    fn add_extra(&mut self, extra: &serde_json::Map<String, serde_json::Value>) {
        use serde_json::Value;
        for (k, v) in extra {
            match (self.extra.get_mut(k), v) {
                (Some(Value::String(had)), Value::String(more)) => had.push_str(more),
                (Some(Value::Array(had)), Value::Array(more)) => had.extend(more.iter().cloned()),
                _ => {
                    self.extra.insert(k.clone(), v.clone());
                }
            }
        }
    }
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
            if !c.delta.extra.is_empty() {
                choice.add_extra(&c.delta.extra);
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

    /// The answer as the completion it amounts to; `None` only if that does not read back.
    pub fn to_completion(&self) -> Option<ChatCompletion> {
        serde_json::from_value(self.to_json()).ok()
    }

    /// The answer as the non-streamed completion it amounts to.
    pub fn to_json(&self) -> serde_json::Value {
        let choices: Vec<serde_json::Value> = self
            .choices
            .iter()
            .map(|(i, c)| {
                let mut message = serde_json::json!({"role": "assistant", "content": c.content});
                for (k, v) in &c.extra {
                    if k != "role" && k != "content" && k != "tool_calls" {
                        message[k] = v.clone();
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: serde_json::Value) -> ChatChunk {
        serde_json::from_value(serde_json::json!({"choices": [{"delta": delta}]})).unwrap()
    }

    #[test]
    fn an_assembled_stream_keeps_what_its_deltas_carry_beyond_text() {
        let mut a = Assembled::default();
        a.add(&chunk(serde_json::json!({"reasoning_content": "think "})));
        a.add(&chunk(
            serde_json::json!({"reasoning_content": "hard", "reasoning_signature": "c2ln"}),
        ));
        a.add(&chunk(
            serde_json::json!({"responses_output": [{"type": "web_search_call", "id": "ws_1"}]}),
        ));
        a.add(&chunk(serde_json::json!({"content": "answer"})));
        a.add(&chunk(
            serde_json::json!({"responses_output": [{"type": "web_search_call", "id": "ws_2"}]}),
        ));
        let c = a.to_completion().unwrap();
        let m = &c.choices[0].message;
        assert_eq!(m.text(), "answer");
        assert_eq!(m.extra["reasoning_content"], "think hard");
        assert_eq!(m.extra["reasoning_signature"], "c2ln");
        let ids: Vec<_> = m.extra["responses_output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["ws_1", "ws_2"]);
    }

    /// The frames a response's body yields, as text, read until it ends.
    async fn frames(resp: Response) -> Vec<String> {
        use http_body_util::BodyExt as _;
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(f) = body.frame().await {
            if let Ok(data) = f.unwrap().into_data() {
                out.push(String::from_utf8(data.to_vec()).unwrap());
            }
        }
        out
    }

    fn text(t: &str) -> Result<ChatChunk, ApiError> {
        Ok(chunk(serde_json::json!({"content": t})))
    }

    #[tokio::test]
    async fn chunks_already_here_share_a_frame_and_none_is_waited_for() {
        use crate::surface::Codec as _;
        let encoder = || crate::surface::chat::Chat::default().encoder();
        // A burst: three chunks ready at once go out in one frame, the end in the next.
        let burst = futures_util::stream::iter([text("a"), text("b"), text("c")]);
        let got = frames(response(Box::pin(burst), encoder(), None, None)).await;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].matches("data: ").count(), 3, "{got:?}");
        assert!(got[1].contains("[DONE]"), "{got:?}");
        // A chunk still on its way is not waited for: the first goes out alone.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(text("first")).unwrap();
        let slow = tokio_stream_of(rx);
        let resp = response(Box::pin(slow), encoder(), None, None);
        let mut body = resp.into_body();
        use http_body_util::BodyExt as _;
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("first"));
        assert!(!String::from_utf8_lossy(&first).contains("second"));
        tx.send(text("second")).unwrap();
        drop(tx);
        let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(String::from_utf8_lossy(&second).contains("second"));
    }

    /// An unbounded receiver as a stream (tokio-stream is not a dependency).
    fn tokio_stream_of<T: Send + 'static>(
        rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send {
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|t| (t, rx)) })
    }
}
