//! Mock upstreams for Seam's tests: one HTTP server that speaks both OpenAI's
//! (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) and Anthropic's (`/v1/messages`) wire
//! formats, answers deterministically, records everything it receives, and misbehaves on demand.
//!
//! # Design
//!
//! * **Faults are chosen by the request's `model`**, so a test drives them through Seam without
//!   any side channel: direct addressing such as `mock/fault-503` reaches the mock as
//!   `model: "fault-503"`. Every other model answers normally and is echoed back.
//! * **Answers are a pure function of the request**: the reply text is `mock: <last user text>`;
//!   with tools and a user turn last, the first tool (or the one `tool_choice` names) is called
//!   with `{"q": "<last user text>"}`; after a tool result the reply is `mock: <tool result text>`.
//!   Streams split the same text into word pieces (`"mock:"`, `" hello"`, …) whose concatenation
//!   equals the non-stream text. Token counts are whitespace word counts. Ids carry the request's
//!   sequence number on this mock (`chatcmpl-mock-0`, `msg_mock_1`, …) and `created` is fixed.
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
//! // `anthropic`-kind one uses `mock.base_url()`. Point Seam at it, send `mock/fault-503`, then:
//! assert_eq!(mock.hits("fault-503"), 1);
//! assert_eq!(mock.requests()[0].path, "/v1/chat/completions");
//! # Ok(())
//! # }
//! ```
//!
//! Outside Rust, the `seam-mock` binary serves the same mock: `seam-mock [--listen ADDR]` prints
//! one line, `listening on http://127.0.0.1:PORT`, then serves until killed.
//!
//! # Faults
//!
//! | `model` | behaviour |
//! | --- | --- |
//! | `fault-<status>` (`fault-500`, `fault-503`, `fault-429`, `fault-400`, `fault-401`, any 4xx/5xx) | that status with an error body in the route's format; 429 adds `retry-after: 1`; 400 is `{"error":{"message":"mock rejected the request","type":"invalid_request_error","code":"mock_bad_request","param":null}}` on OpenAI routes |
//! | `fault-reset` | reads the request, then closes the connection with no response |
//! | `fault-slow-first-byte-<ms>` | sleeps before the response headers, then answers normally |
//! | `fault-truncated-json` | 200 `application/json` whose body stops mid-document (a stream: one event with cut JSON, then EOF) |
//! | `fault-cut-stream-<n>` | streams `n` content chunks, then ends the body cleanly without `[DONE]` / `message_stop` |
//! | `fault-abort-stream-<n>` | streams `n` content chunks, then aborts the body (the connection drops mid-chunked-body) |
//! | `fault-stream-error` | two content chunks, then an in-band error event (`server_error` / `overloaded_error`) |
//! | `fault-slow-stream-<ms>` | sleeps `<ms>` between stream events |
//!
//! Stream faults leave non-stream requests alone. A `fault-` name not in this table is answered
//! with a 400 naming it, so a typo in a test fails loudly instead of passing as a normal model.
//!
//! # Auth
//!
//! OpenAI routes accept requests without `Authorization`, but one that is present must be
//! `Bearer <token>`. `/v1/messages` requires `x-api-key` and `anthropic-version`. Headers are
//! recorded either way, so tests assert on what Seam sent.

mod anthropic;
mod faults;
mod openai;
mod server;
mod text;

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

    /// The body's `model`, when it has one.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
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
        self.shared.lock().requests.clone()
    }

    /// How many requests named `model` (on any route, faulted or not).
    pub fn hits(&self, model: &str) -> usize {
        self.shared.lock().hits.get(model).copied().unwrap_or(0)
    }

    /// Forgets every recorded request and hit count; sequence numbers start again at 0.
    pub fn clear(&self) {
        let mut log = self.shared.lock();
        log.requests.clear();
        log.hits.clear();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // Aborting the accept loop drops its listener and the set of connection tasks with it.
        self.task.abort();
    }
}
