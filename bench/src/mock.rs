//! The mock upstream: an OpenAI-shaped `POST /v1/chat/completions` and an Anthropic-shaped
//! `POST /v1/messages` that answer from canned bytes, as fast as hyper allows, so the benchmark
//! measures the gateway and not the upstream; and `POST /mcp`, a minimal MCP tool server with one
//! tool ([`crate::mcp::answer`]).
//! With `--status 503` it is a failing upstream instead: every request gets that status and a
//! small OpenAI-shaped error body (the first target of the fallback scenario).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::time::Sleep;

use crate::{body, mcp, server};

/// Request bodies larger than this are refused; the benchmark sends a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 1 << 20;

#[derive(clap::Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18701")]
    pub listen: SocketAddr,
    /// Delay before each stream chunk after the first, in milliseconds (keeps streams open for the
    /// memory test); 0 sends the chunks back to back, each in its own write.
    #[arg(long, default_value_t = 0)]
    pub chunk_delay_ms: u64,
    /// Answer every request with this status and an OpenAI-shaped error body instead (a failing
    /// upstream); 200 serves the canned answers.
    #[arg(long, default_value_t = 200, value_parser = parse_status)]
    pub status: u16,
}

fn parse_status(s: &str) -> Result<u16, String> {
    let status = StatusCode::from_bytes(s.as_bytes()).map_err(|e| e.to_string())?;
    if status == StatusCode::OK || status.is_client_error() || status.is_server_error() {
        Ok(status.as_u16())
    } else {
        Err("expected 200 (serve) or a 4xx/5xx status (fail every request)".to_owned())
    }
}

/// What every connection shares: the canned answers, built once.
struct Canned {
    completion: Bytes,
    events: Arc<[Bytes]>,
    /// The Anthropic Messages answer and stream.
    message: Bytes,
    anthropic_events: Arc<[Bytes]>,
    chunk_delay: Option<Duration>,
    /// `--status` other than 200: the status and error body every request gets.
    failure: Option<(StatusCode, Bytes)>,
}

/// What the failing mock answers, shaped like an OpenAI error.
const FAILURE_BODY: &str =
    r#"{"error":{"message":"mock failure","type":"server_error","code":null,"param":null}}"#;

type MockBody = Either<Full<Bytes>, SseBody>;

pub async fn serve(args: MockArgs) -> anyhow::Result<()> {
    let listener = server::listen(args.listen)?;
    let canned = Arc::new(Canned {
        completion: body::completion(),
        events: body::stream_events().into(),
        message: body::message(),
        anthropic_events: body::anthropic_events().into(),
        chunk_delay: (args.chunk_delay_ms > 0).then(|| Duration::from_millis(args.chunk_delay_ms)),
        failure: failure(args.status)?,
    });
    eprintln!(
        "mock: listening on {} (chunk delay {} ms, status {})",
        listener.local_addr()?,
        args.chunk_delay_ms,
        args.status
    );
    server::serve(listener, "mock", move |req| {
        handle(req, Arc::clone(&canned))
    })
    .await
}

fn failure(status: u16) -> anyhow::Result<Option<(StatusCode, Bytes)>> {
    let status = StatusCode::from_u16(status)?;
    Ok((status != StatusCode::OK).then(|| (status, Bytes::from_static(FAILURE_BODY.as_bytes()))))
}

async fn handle(
    req: Request<Incoming>,
    canned: Arc<Canned>,
) -> Result<Response<MockBody>, Infallible> {
    if let Some((status, body)) = &canned.failure {
        // Read the request as a real upstream would, so the connection stays reusable.
        drop(
            Limited::new(req.into_body(), MAX_REQUEST_BYTES)
                .collect()
                .await,
        );
        return Ok(json(*status, body.clone()));
    }
    let post = req.method() == Method::POST;
    let is_chat = post && req.uri().path().ends_with("/chat/completions");
    let is_messages = post && req.uri().path().ends_with("/v1/messages");
    if req.method() == Method::GET && req.uri().path().ends_with("/models") {
        let models = r#"{"object":"list","data":[{"id":"bench-model","object":"model","owned_by":"seam-bench"}]}"#;
        return Ok(json(StatusCode::OK, Bytes::from_static(models.as_bytes())));
    }
    if req.method() == Method::GET && matches!(req.uri().path(), "/readyz" | "/healthz") {
        return Ok(json(
            StatusCode::OK,
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        ));
    }
    // The tracing scenario's collector: an OTLP export is read whole and accepted.
    if post && req.uri().path() == "/v1/traces" {
        drop(
            Limited::new(req.into_body(), MAX_REQUEST_BYTES)
                .collect()
                .await,
        );
        return Ok(json(StatusCode::OK, Bytes::from_static(b"{}")));
    }
    if req.uri().path() == mcp::PATH {
        return Ok(mcp_answer(req).await);
    }
    if !is_chat && !is_messages {
        return Ok(error(StatusCode::NOT_FOUND, "no such route on the mock"));
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "unreadable or oversized body",
            ));
        }
    };
    let (answer, events) = if is_messages {
        (&canned.message, &canned.anthropic_events)
    } else {
        (&canned.completion, &canned.events)
    };
    if !body::wants_stream(&body) {
        return Ok(json(StatusCode::OK, answer.clone()));
    }
    let sse = SseBody {
        events: Arc::clone(events),
        next: 0,
        chunk_delay: canned.chunk_delay,
        pause: Pause::None,
    };
    let mut response = Response::new(Either::Right(sse));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

/// `/mcp`: POST answers one JSON-RPC message; DELETE ends a session (the mock keeps none); GET
/// (a stream of server messages) is not offered, which MCP answers with 405.
async fn mcp_answer(req: Request<Incoming>) -> Response<MockBody> {
    let status = match *req.method() {
        Method::POST => None,
        Method::DELETE => Some(StatusCode::OK),
        _ => Some(StatusCode::METHOD_NOT_ALLOWED),
    };
    let body = Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await;
    if let Some(status) = status {
        let mut response = Response::new(Either::Left(Full::default()));
        *response.status_mut() = status;
        return response;
    }
    let Ok(body) = body else {
        return error(StatusCode::BAD_REQUEST, "unreadable or oversized body");
    };
    let answer = mcp::answer(&body.to_bytes());
    if answer.body.is_empty() {
        // 202 for a notification: no body, so no content type.
        let mut response = Response::new(Either::Left(Full::default()));
        *response.status_mut() = answer.status;
        return response;
    }
    let mut response = json(answer.status, answer.body);
    if let Some(session) = answer.session {
        response.headers_mut().insert(mcp::SESSION_HEADER, session);
    }
    response
}

fn json(status: StatusCode, bytes: Bytes) -> Response<MockBody> {
    let mut response = Response::new(Either::Left(Full::new(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> Response<MockBody> {
    let body = serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "code": null, "param": null}
    });
    json(status, Bytes::from(body.to_string()))
}

/// Where a stream is between two chunks.
enum Pause {
    /// Ready to send the next chunk.
    None,
    /// Gave the connection one turn so hyper flushed the previous chunk on its own.
    Yielded,
    /// Waiting out `--chunk-delay-ms`.
    Sleeping(Pin<Box<Sleep>>),
}

/// The canned SSE stream: one body frame per event, each written to the socket on its own.
///
/// Returning `Pending` between frames (a yield, or the configured delay) makes hyper flush the
/// frame it holds before asking for the next, the way a real upstream emits tokens one by one.
pub struct SseBody {
    events: Arc<[Bytes]>,
    next: usize,
    chunk_delay: Option<Duration>,
    pause: Pause,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(event) = this.events.get(this.next) else {
            return Poll::Ready(None);
        };
        if this.next > 0 {
            match &mut this.pause {
                Pause::None => match this.chunk_delay {
                    Some(delay) => {
                        let mut sleep = Box::pin(tokio::time::sleep(delay));
                        if sleep.as_mut().poll(cx).is_pending() {
                            this.pause = Pause::Sleeping(sleep);
                            return Poll::Pending;
                        }
                    }
                    None => {
                        this.pause = Pause::Yielded;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                },
                Pause::Yielded => {}
                Pause::Sleeping(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
        let frame = Frame::data(event.clone());
        this.next += 1;
        this.pause = Pause::None;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load;

    #[test]
    fn status_is_200_or_an_error_status() {
        assert_eq!(parse_status("503"), Ok(503));
        assert_eq!(parse_status("200"), Ok(200));
        assert!(parse_status("302").is_err());
        assert!(parse_status("abc").is_err());
    }

    #[tokio::test]
    async fn a_failing_mock_answers_its_status_with_an_openai_error() {
        let url = load::tests::start_mock_answering(503).await;
        let client = load::client();
        for _ in 0..2 {
            let mut request = Request::new(Full::new(body::request(
                "bench",
                false,
                body::Prompt::Short,
            )));
            *request.method_mut() = Method::POST;
            *request.uri_mut() = url.clone();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["error"]["message"], "mock failure");
            assert_eq!(v["error"]["type"], "server_error");
            assert!(v["error"]["code"].is_null() && v["error"]["param"].is_null());
        }
    }

    /// POSTs `body` to `path` on the mock behind `chat_url`; the status, content type and body.
    async fn post(chat_url: &hyper::Uri, path: &str, body: Bytes) -> (StatusCode, String, Bytes) {
        let url: hyper::Uri = chat_url
            .to_string()
            .replace("/v1/chat/completions", path)
            .parse()
            .unwrap();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url;
        let response = load::client().request(request).await.unwrap();
        let status = response.status();
        let kind = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, bytes)
    }

    #[tokio::test]
    async fn the_mock_answers_messages_with_the_canned_message_and_event_stream() {
        let url = load::tests::start_mock().await;
        let request =
            |stream| body::Surface::Messages.request("bench", stream, body::Prompt::Short);
        let (status, kind, bytes) = post(&url, "/v1/messages", request(false)).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::OK, "application/json")
        );
        assert_eq!(bytes, body::message());
        let (status, kind, bytes) = post(&url, "/v1/messages", request(true)).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::OK, "text/event-stream")
        );
        assert_eq!(bytes, body::anthropic_events().concat());
        // Chat completions are unchanged beside it.
        let chat = body::request("bench", false, body::Prompt::Short);
        assert_eq!(
            post(&url, "/v1/chat/completions", chat).await.2,
            body::completion()
        );
    }

    /// seam's own Anthropic adapter, pointed at the mock as the generated config points
    /// `mock_anth` at it, reads the canned answer and stream without complaint.
    #[tokio::test]
    async fn seams_anthropic_adapter_accepts_the_canned_message_and_stream() {
        use futures_util::StreamExt as _;
        seam_providers::install_crypto_provider();
        let url = load::tests::start_mock().await;
        let mut ports = crate::procs::Ports::from_base(18700);
        ports.fast = url.port_u16().unwrap();
        let config = crate::procs::config_toml(&ports, 18700, crate::procs::AuditMode::Off);
        let resolver = seam_config::Resolver {
            env: &|_| None,
            base_dir: std::path::PathBuf::from("/run-dir"),
        };
        let config = seam_config::from_toml(&config, &resolver).unwrap();
        let provider = seam_providers::anthropic::Anthropic::new(
            &config.providers["mock_anth"],
            &seam_providers::Proxies::default(),
        );
        let provider = provider.unwrap();
        let request: seam_types::chat::ChatRequest =
            serde_json::from_slice(&body::request("bench-anth", false, body::Prompt::Short))
                .unwrap();
        let answer = provider.chat("bench-model", &request).await.unwrap();
        let answer = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            body::ANSWER_TEXT
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
        assert_eq!(answer["usage"]["completion_tokens"], 64);
        let mut chunks = provider.chat_stream("bench-model", &request).await.unwrap();
        let mut text = String::new();
        let mut last = None;
        while let Some(chunk) = chunks.next().await {
            let chunk = serde_json::to_value(chunk.unwrap()).unwrap();
            if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
                text.push_str(piece);
            }
            last = Some(chunk);
        }
        let expected: String = (0..body::STREAM_CHUNKS).map(body::stream_piece).collect();
        assert_eq!(text, expected);
        // The stream ends as every pipeline stream does: a usage-only chunk.
        let last = last.unwrap();
        assert_eq!(last["usage"]["completion_tokens"], body::STREAM_CHUNKS);
        assert_eq!(last["usage"]["prompt_tokens"], 16);
    }

    #[tokio::test]
    async fn sse_body_yields_every_event_once_then_ends() {
        let mut body = SseBody {
            events: body::stream_events().into(),
            next: 0,
            chunk_delay: None,
            pause: Pause::None,
        };
        let mut received = Vec::new();
        while let Some(frame) = body.frame().await {
            received.push(frame.unwrap().into_data().unwrap());
        }
        assert_eq!(received.len(), body::STREAM_CHUNKS + 1);
        assert_eq!(received.last().unwrap().as_ref(), body::DONE_EVENT);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn sse_body_waits_the_chunk_delay_between_events() {
        let mut body = SseBody {
            events: body::stream_events().into(),
            next: 0,
            chunk_delay: Some(Duration::from_millis(2)),
            pause: Pause::None,
        };
        let start = std::time::Instant::now();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            frame.unwrap();
            frames += 1;
        }
        assert_eq!(frames, body::STREAM_CHUNKS + 1);
        // One delay before every event but the first.
        assert!(start.elapsed() >= Duration::from_millis(2 * body::STREAM_CHUNKS as u64));
    }
}
