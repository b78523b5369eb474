//! Writing a chat stream as server-sent events, the way OpenAI does: `data: {chunk}` per chunk
//! and `data: [DONE]` at the end. A stream that fails after it started ends with
//! `data: {"error": {...}}` and no `[DONE]`, which the `openai` SDKs raise as an `APIError`.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use seam_gateway::ClientStream;
use seam_types::ApiError;
use seam_types::chat::ChatChunk;

use crate::metrics;

pub fn response(stream: ClientStream) -> Response {
    let events = futures_util::stream::unfold(Some(stream), |state| async move {
        let mut s = state?;
        let bytes = match s.next().await {
            Some(Ok(chunk)) => return Some((Ok::<_, Infallible>(chunk_event(&chunk)), Some(s))),
            Some(Err(e)) => error_event(&e),
            None => Bytes::from_static(b"data: [DONE]\n\n"),
        };
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
