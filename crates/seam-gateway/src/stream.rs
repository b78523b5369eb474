//! Streams after the peek: the first chunk is already in hand; the rest is forwarded as it
//! arrives, with an idle timeout between chunks, and any failure becomes the last item so the
//! client is never left with a silently truncated answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use seam_providers::{ChunkStream, Provider, ProviderError};
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Delta, FunctionCallDelta, Role, ToolCallDelta,
};
use seam_types::{ApiError, ErrorCode};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

use crate::telemetry;

/// Opens a stream and waits for its first token: the first chunk that carries content, a tool
/// call, a finish reason or usage. Role-only chunks before it are held back, so an upstream that
/// announces itself and then stalls or dies still counts as a failed attempt and the next target
/// can take over without the client seeing anything.
pub(crate) async fn open(
    provider: &Provider,
    model: &str,
    req: &ChatRequest,
) -> Result<(Vec<ChatChunk>, ChunkStream), ProviderError> {
    let mut s = provider.chat_stream(model, req).await?;
    let mut held = Vec::new();
    loop {
        match s.next().await {
            Some(Ok(chunk)) => {
                let token = carries_token(&chunk);
                held.push(chunk);
                if token || held.len() >= MAX_HELD {
                    return Ok((held, s));
                }
            }
            Some(Err(e)) => return Err(e),
            None => return Err(ProviderError::StreamCut("no tokens before the end".into())),
        }
    }
}

/// Role-only chunks held back at most; a stream of nothing else is let through after this many.
const MAX_HELD: usize = 8;

fn carries_token(c: &ChatChunk) -> bool {
    c.usage.is_some()
        || c.choices.iter().any(|ch| {
            ch.finish_reason.is_some()
                || ch.delta.content.as_ref().is_some_and(|t| !t.is_empty())
                || ch.delta.tool_calls.is_some()
                || !ch.delta.extra.is_empty()
        })
}

pub(crate) struct Guarded {
    held: std::vec::IntoIter<ChatChunk>,
    inner: ChunkStream,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    route: String,
    provider: String,
    model: String,
    started: Instant,
    prompt_tokens: u64,
    completion_tokens: u64,
    done: bool,
    _permit: OwnedSemaphorePermit,
}

pub(crate) fn guard(
    (held, inner): (Vec<ChatChunk>, ChunkStream),
    permit: OwnedSemaphorePermit,
    idle: Duration,
    route: String,
    provider: String,
    model: String,
) -> Guarded {
    Guarded {
        held: held.into_iter(),
        inner,
        idle,
        sleep: Box::pin(tokio::time::sleep(idle)),
        route,
        provider,
        model,
        started: Instant::now(),
        prompt_tokens: 0,
        completion_tokens: 0,
        done: false,
        _permit: permit,
    }
}

impl Guarded {
    fn observe(&mut self, chunk: &ChatChunk) {
        if let Some(u) = &chunk.usage {
            self.prompt_tokens = u.prompt_tokens;
            self.completion_tokens = u.completion_tokens;
        }
    }

    fn finish(&mut self, outcome: &'static str) {
        self.done = true;
        telemetry::stream_end(&self.provider, &self.model, outcome, self.started.elapsed());
        if self.prompt_tokens + self.completion_tokens > 0 {
            telemetry::tokens(
                &self.provider,
                &self.model,
                self.prompt_tokens,
                self.completion_tokens,
            );
        }
    }

    fn interrupted(&mut self, outcome: &'static str, why: String) -> ApiError {
        self.finish(outcome);
        tracing::warn!(target_route = %self.route, %why, "stream interrupted after its first chunk");
        ApiError::new(
            ErrorCode::StreamInterrupted,
            format!("{}: the stream failed after it started: {why}", self.route),
        )
    }
}

impl Stream for Guarded {
    type Item = Result<ChatChunk, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(chunk) = this.held.next() {
            this.observe(&chunk);
            return Poll::Ready(Some(Ok(chunk)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.observe(&chunk);
                let deadline = tokio::time::Instant::now() + this.idle;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let err = this.interrupted("interrupted", e.to_string());
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.finish("completed");
                Poll::Ready(None)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let why = format!("no chunk for {} ms", this.idle.as_millis());
                    let err = this.interrupted("idle_timeout", why);
                    Poll::Ready(Some(Err(err)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if !self.done {
            // The client went away before the end; the upstream request is cancelled with us.
            self.finish("client_closed");
        }
    }
}

/// Text per chunk when a whole answer is sent as a stream.
const PIECE: usize = 32;

/// A whole answer as the chunks a stream of it would have carried: per choice its role, its
/// content in pieces, its tool calls, its finish reason; then its usage, like every stream here
/// (the edge forwards it only to clients that asked). Used where an answer must be complete
/// before any of it is sent (output contracts).
pub(crate) fn from_completion(
    c: ChatCompletion,
) -> impl Stream<Item = Result<ChatChunk, ApiError>> + Send {
    futures_util::stream::iter(chunks_of(&c).into_iter().map(Ok))
}

/// A whole completion as the chunks a stream of it carries (see [`from_completion`]).
pub fn chunks_of(c: &ChatCompletion) -> Vec<ChatChunk> {
    let (id, created, model) = (c.id.as_str(), c.created, c.model.as_str());
    let mut chunks = Vec::new();
    for choice in &c.choices {
        let with_index = |mut chunk: ChatChunk| {
            for ch in &mut chunk.choices {
                ch.index = choice.index;
            }
            chunk
        };
        let role = Delta {
            role: Some(Role::Assistant),
            ..Delta::default()
        };
        chunks.push(with_index(ChatChunk::delta(id, created, model, role)));
        let text = choice.message.text();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut cut = rest.len().min(PIECE);
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            let (piece, tail) = rest.split_at(cut);
            let delta = Delta {
                content: Some(piece.to_owned()),
                ..Delta::default()
            };
            chunks.push(with_index(ChatChunk::delta(id, created, model, delta)));
            rest = tail;
        }
        for (k, call) in choice.message.tool_calls.iter().flatten().enumerate() {
            let delta = Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index: u32::try_from(k).unwrap_or(u32::MAX),
                    id: Some(call.id.clone()),
                    kind: Some(call.kind.clone()),
                    function: Some(FunctionCallDelta {
                        name: Some(call.function.name.clone()),
                        arguments: Some(call.function.arguments.clone()),
                    }),
                }]),
                ..Delta::default()
            };
            chunks.push(with_index(ChatChunk::delta(id, created, model, delta)));
        }
        let reason = choice.finish_reason.as_deref().unwrap_or("stop");
        chunks.push(with_index(ChatChunk::finish(id, created, model, reason)));
    }
    if let Some(u) = c.usage.clone() {
        chunks.push(ChatChunk::usage(id, created, model, u));
    }
    chunks
}
