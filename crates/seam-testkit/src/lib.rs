//! Mock upstreams for Seam's tests: one HTTP server that speaks every wire format Seam has an
//! adapter for, answers deterministically, records everything it receives, and misbehaves on
//! demand.
//!
//! | API | routes | answers |
//! | --- | --- | --- |
//! | OpenAI | `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models` | JSON, SSE ending in `[DONE]` |
//! | OpenAI Responses | `POST /v1/responses` | a Response object, named SSE events ending in `response.completed` |
//! | Anthropic | `POST /v1/messages` | JSON, named SSE events ending in `message_stop` |
//! | Gemini | `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:batchEmbedContents` | JSON, SSE whose last event carries `finishReason` |
//! | Azure OpenAI | `POST /openai/deployments/{deployment}/chat/completions`, `…/embeddings` (`?api-version=` required) | OpenAI's |
//! | Bedrock | `POST /model/{id}/converse`, `/model/{id}/converse-stream` | JSON, binary `application/vnd.amazon.eventstream` |
//! | Inspection | `GET /__mock/requests`, `DELETE /__mock/requests` | the request log (see [Inspection](#inspection)); never recorded |
//!
//! # Design
//!
//! * **Faults are chosen by the request's `model`**, so a test drives them through Seam without
//!   any side channel: direct addressing such as `mock/fault-503` reaches the mock as
//!   `model: "fault-503"`. Gemini, Azure and Bedrock name the model in the URL, and there the URL's
//!   model (percent-decoded) is the one that counts. Every other model answers normally and is
//!   echoed back.
//! * **Answers are a pure function of the request**: the reply text is `mock: <last user text>`;
//!   with tools and a user turn last, the first tool (or the one `tool_choice` names) is called
//!   with `{"q": "<last user text>"}`; after a tool result the reply is `mock: <tool result text>`.
//!   On OpenAI and Azure routes a `response_format` of type `json_object` or `json_schema` drops
//!   the `mock: ` prefix, as a model in JSON mode answers with JSON alone.
//!   On `/v1/messages`, a request with `thinking` enabled (or a model named `*thinking*`) is
//!   answered with a signed `thinking` block first (`Thinking about: <last user text>`), and a
//!   thinking block in history that the mock signed must come back with the text it signed; a
//!   request with `cache_control` (or a model named `*cache*`) reports 11 cache-read and 7
//!   cache-write input tokens.
//!   Streams split the same text into word pieces (`"mock:"`, `" hello"`, …) whose concatenation
//!   equals the non-stream text. Token counts are whitespace word counts. OpenAI streams end with
//!   a usage chunk when `stream_options.include_usage` asks for one, except for models named
//!   `*-no-usage`, which stream like a server that ignores `stream_options`. Ids carry the request's
//!   sequence number on this mock (`chatcmpl-mock-0`, `msg_mock_1`, `gemini_mock_2`,
//!   `x-amzn-requestid: mock-request-3`, …) and `created` is fixed.
//! * **Strict where translations go wrong.** The Gemini and Bedrock routes reject what those APIs
//!   reject (unknown fields, Gemini schema keywords such as `additionalProperties`, non-object
//!   function responses, Converse turns that do not alternate, blank text, tool blocks without a
//!   `toolConfig`), so an adapter that builds a bad request fails its tests here.
//! * **Independent of Seam's own types.** Requests are read as plain JSON and replies are written
//!   as plain JSON, so the mock checks Seam against the wire formats, not against `seam-types`.
//! * **Its own accept loop.** Each connection is served by hyper with a per-connection kill switch,
//!   which is how `fault-reset` closes the socket (with an RST) without writing a single byte.
//!   Dropping [`MockUpstream`] stops the listener and every open connection.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mock = seam_testkit::MockUpstream::start().await?;
//! // An `openai`-kind provider uses `mock.openai_base_url()` (`http://127.0.0.1:PORT/v1`); an
//! // `anthropic`, `gemini`, `azure` or `bedrock` one uses `mock.base_url()`. Point Seam at it,
//! // send `mock/fault-503`, then:
//! assert_eq!(mock.hits("fault-503"), 1);
//! assert_eq!(mock.requests()[0].path, "/v1/chat/completions");
//! # Ok(())
//! # }
//! ```
//!
//! Outside Rust, the `seam-mock` binary serves the same mock: `seam-mock [--listen ADDR]` prints
//! one line, `listening on http://127.0.0.1:PORT`, then serves until killed.
//!
//! A mock MCP server lives in [`mcp`] (in-process over HTTP with [`mcp::MockMcp`]; as the
//! `seam-mock-mcp` binary over HTTP or `--stdio`, whose path [`mcp::binary`] gives tests in other
//! crates).
//!
//! # Inspection
//!
//! Out-of-process tests read the log over HTTP. `GET /__mock/requests` answers 200 with
//! `{"requests": [{"seq", "method", "path", "path_model", "headers", "body"}, …]}` in arrival
//! order: `seq` is the request's sequence number, `path_model` is `null` on routes that carry the
//! model in the body, `headers` maps each lower-case name to its value (a repeated header's values
//! joined with `", "`) and `body` is [`Recorded::body`]. `DELETE /__mock/requests` answers 204 and
//! does what [`MockUpstream::clear`] does. Requests under `/__mock/` are never recorded, and any
//! other `/__mock/` path is a 404.
//!
//! # Faults
//!
//! | `model` | behaviour |
//! | --- | --- |
//! | `fault-<status>` (`fault-500`, `fault-503`, `fault-429`, `fault-400`, `fault-401`, any 4xx/5xx) | that status with an error body in the route's format (Gemini: `{"error":{"code","message","status"}}`; Bedrock: `{"message"}` with `x-amzn-errortype`); 429 adds `retry-after: 1`; 400 is `{"error":{"message":"mock rejected the request","type":"invalid_request_error","code":"mock_bad_request","param":null}}` on OpenAI routes |
//! | `fault-reset` | reads the request, then closes the connection with no response |
//! | `fault-slow-first-byte-<ms>` | sleeps before the response headers, then answers normally |
//! | `fault-truncated-json` | 200 `application/json` whose body stops mid-document (a stream: one event with cut JSON, then EOF; on Bedrock a well-framed message whose JSON payload is cut) |
//! | `fault-cut-stream-<n>` | streams `n` content chunks, then ends the body cleanly without `[DONE]` / `message_stop` / a Gemini `finishReason` / Bedrock's `messageStop` |
//! | `fault-abort-stream-<n>` | streams `n` content chunks, then aborts the body (the connection drops mid-chunked-body) |
//! | `fault-stream-error` | two content chunks, then an in-band error (`server_error` / `overloaded_error` / Gemini `UNAVAILABLE` / a Bedrock `modelStreamErrorException` message) |
//! | `fault-slow-stream-<ms>` | sleeps `<ms>` between stream events |
//!
//! Stream faults leave non-stream requests alone.
//!
//! # Lax shapes
//!
//! Servers that call themselves OpenAI-compatible often leave fields out. On OpenAI (and Azure)
//! routes, models named with these prefixes answer the way such servers do:
//!
//! | `model` | answers |
//! | --- | --- |
//! | `lax-minimal…` | `{"choices":[{"message":{"content":…}}]}` (a tool call without `id`, `type`); stream chunks `{"choices":[{"delta":{"content":…}}]}` with no role chunk, a tool call without `index`/`id`/`type`, a finishing chunk without `delta`, no usage; embeddings `{"data":[{"embedding":…}]}` |
//! | `lax-no-id…` | complete answers and chunks without `id` |
//! | `lax-no-done…` | a complete stream that ends without `data: [DONE]` |
//! | `lax-no-choices…` | not an answer at all: `id`, `object`, `created`, `model`, no `choices` (a stream: one such chunk, then `[DONE]`) |
//! | `canary-fields…` | the last user text, as received, in every string field a server may send: `content`, `refusal`, `reasoning_content`, `reasoning`, an annotation's title, the audio transcript, `logprobs`, unknown fields at the top, choice, message and usage level; a stream splits each text field across two chunks and repeats the unknown fields (chunk, choice, delta) whole in each |
//! A `fault-` name not in this table is answered
//! with a 400 naming it, so a typo in a test fails loudly instead of passing as a normal model.
//!
//! # Auth
//!
//! OpenAI routes accept requests without `Authorization`, but one that is present must be
//! `Bearer <token>`. `/v1/messages` requires `x-api-key` and `anthropic-version`. Gemini routes
//! require `x-goog-api-key`; Azure routes require `api-key` and an `api-version` query parameter.
//! Bedrock routes accept `Authorization: Bearer <key>` (a Bedrock API key) or a SigV4 signature,
//! which they verify against [`BEDROCK_TEST_ACCESS_KEY_ID`], [`BEDROCK_TEST_SECRET_ACCESS_KEY`] and
//! [`BEDROCK_TEST_REGION`] (service `bedrock`; an `x-amz-security-token` must be
//! [`BEDROCK_TEST_SESSION_TOKEN`]): a wrong signature gets AWS's 403 with
//! `x-amzn-errortype: InvalidSignatureException`. [`sign_bedrock_request`] signs a request the way
//! the routes expect. Headers are recorded either way, so tests assert on what Seam sent.

mod anthropic;
mod azure;
mod bedrock;
mod canary;
mod eventstream;
mod faults;
mod gemini;
mod inspect;
pub mod mcp;
mod openai;
pub mod otlp;
pub mod process;
mod responses;
mod server;
mod sigv4;
mod text;

pub use sigv4::sign_bedrock_request;

/// The access key id the Bedrock routes accept in a SigV4 `Credential`.
pub const BEDROCK_TEST_ACCESS_KEY_ID: &str = "AKIDSEAMTESTKIT00001";
/// The secret the Bedrock routes verify signatures with.
pub const BEDROCK_TEST_SECRET_ACCESS_KEY: &str = "seam/testkit+SECRET/key0000000000000000000";
/// The only `x-amz-security-token` the Bedrock routes accept (the header is optional).
pub const BEDROCK_TEST_SESSION_TOKEN: &str = "seam-testkit-session-token";
/// The region Bedrock signatures must be scoped to.
pub const BEDROCK_TEST_REGION: &str = "us-east-1";

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the mock received, in arrival order.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URI path, without the query string.
    pub path: String,
    /// The model the URL names, decoded (Gemini's `models/{model}:…`, Azure's deployment,
    /// Bedrock's `/model/{id}/…`); `None` on routes that carry it in the body.
    pub path_model: Option<String>,
    /// Every header as received (names in lower case, values lossily decoded; a repeated header
    /// appears once per value).
    pub headers: Vec<(String, String)>,
    /// The body as JSON; `Null` when empty, a JSON string holding the text when it is not JSON.
    pub body: Value,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The model the request named: the URL's, else the body's `model`.
    pub fn model(&self) -> Option<&str> {
        self.path_model
            .as_deref()
            .or_else(|| self.body.get("model").and_then(Value::as_str))
    }
}

/// What the server tasks and the test share: the request log and per-model hit counts.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    requests: Vec<Recorded>,
    hits: HashMap<String, usize>,
}

impl Shared {
    /// Appends a request and returns its sequence number on this mock.
    pub(crate) fn record(&self, request: Recorded) -> usize {
        let mut log = self.lock();
        if let Some(model) = request.model() {
            *log.hits.entry(model.to_owned()).or_default() += 1;
        }
        log.requests.push(request);
        log.requests.len() - 1
    }

    /// Every request so far, in arrival order (a request's index is its sequence number).
    pub(crate) fn snapshot(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets every request and hit count; sequence numbers start again at 0.
    pub(crate) fn clear(&self) {
        let mut log = self.lock();
        log.requests.clear();
        log.hits.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        // A panic while holding the lock cannot leave the log half-written (every update is a
        // single push or increment), so a poisoned lock is still safe to read.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running mock upstream. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a mock on `127.0.0.1` with a port the OS picks. Must be called inside a Tokio
    /// runtime, which then serves it.
    pub async fn start() -> io::Result<MockUpstream> {
        MockUpstream::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a mock listening on `addr`.
    pub async fn start_on(addr: SocketAddr) -> io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(MockUpstream { addr, shared, task })
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the base URL of an `anthropic`-kind provider (Seam appends
    /// `/v1/messages`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL of an `openai`-kind provider.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.snapshot()
    }

    /// How many requests named `model` (on any route, faulted or not).
    pub fn hits(&self, model: &str) -> usize {
        self.shared.lock().hits.get(model).copied().unwrap_or(0)
    }

    /// Forgets every recorded request and hit count; sequence numbers start again at 0.
    pub fn clear(&self) {
        self.shared.clear();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // Aborting the accept loop drops its listener and the set of connection tasks with it.
        self.task.abort();
    }
}
