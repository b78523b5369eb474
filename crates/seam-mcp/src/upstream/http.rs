//! MCP's streamable HTTP transport, client side: every message is a POST; an answer is one JSON
//! body or an event stream that ends with it. The session (`Mcp-Session-Id`) begins with
//! `initialize` and is begun again once when the server forgets it (a 404).
//!
//! Server-initiated messages (`list_changed`, `ping`) come on the streams of our own requests and
//! on the GET stream, which is held open per session and reopened with backoff when it drops; a
//! server that answers the GET with 405 (it has no such stream) is left alone, and its lists
//! are refreshed when their TTL runs out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Handshake, Shared, sse};
use crate::hub::CallError;
use crate::jsonrpc::{self, Message};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a best-effort `notifications/cancelled` may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);
/// The GET stream is reopened after this, doubling up to [`MAX_LISTEN_BACKOFF`].
const FIRST_LISTEN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_LISTEN_BACKOFF: Duration = Duration::from_secs(30);

/// A session with the server.
#[derive(Debug)]
struct Session {
    id: Option<HeaderValue>,
    version: HeaderValue,
    handshake: Handshake,
}

#[derive(Debug)]
pub(crate) struct HttpConn {
    shared: Arc<Shared>,
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    next_id: AtomicU64,
    /// The current session's GET stream reader.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Why one exchange failed: the session is gone (begin another), or the call failed.
enum Failure {
    Expired,
    Call(CallError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call(e)
    }
}

impl HttpConn {
    pub fn new(
        shared: Arc<Shared>,
        url: &str,
        headers: &[(String, seam_config::mcp::HeaderValue)],
    ) -> Result<HttpConn, String> {
        // `Err` means a provider is already installed, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let url = reqwest::Url::parse(url).map_err(|_| "its url is not a valid URL".to_owned())?;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("the header name {name:?} is not valid"))?;
            let mut v = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the value of header {name} is not valid"))?;
            v.set_sensitive(true);
            map.insert(n, v);
        }
        map.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        map.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        Ok(HttpConn {
            shared,
            client,
            url,
            headers: map,
            session: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
            listener: Mutex::new(None),
        })
    }

    /// The current session's handshake, beginning a session if there is none.
    pub async fn handshake(self: &Arc<Self>) -> Result<Handshake, CallError> {
        Ok(self.session().await?.handshake.clone())
    }

    async fn session(self: &Arc<Self>) -> Result<Arc<Session>, CallError> {
        // Held across `initialize`, so concurrent callers wait for one handshake.
        let mut slot = self.session.lock().await;
        if let Some(s) = &*slot {
            return Ok(Arc::clone(s));
        }
        match self.initialize().await {
            Ok(s) => {
                let s = Arc::new(s);
                self.shared.set_up(s.handshake.clone(), None);
                *slot = Some(Arc::clone(&s));
                let listener = tokio::spawn(listen(Arc::downgrade(self), Arc::clone(&s)));
                let old = self
                    .listener
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .replace(listener);
                if let Some(old) = old {
                    old.abort();
                }
                Ok(s)
            }
            Err(e) => {
                self.shared.set_down(&super::short(&e));
                Err(e)
            }
        }
    }

    /// Forgets `old` unless another caller already replaced it.
    async fn forget(&self, old: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, old)) {
            *slot = None;
        }
    }

    async fn initialize(&self) -> Result<Session, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let msg = jsonrpc::request(&json!(id), "initialize", Some(super::initialize_params()));
        let resp = self.send(None, &msg).await?;
        let session_id = resp.headers().get("mcp-session-id").cloned();
        let result = self.read_answer(resp, id, None, None).await?;
        let handshake = super::read_handshake(&result).map_err(|r| self.shared.protocol(r))?;
        let version = HeaderValue::from_str(&handshake.version).map_err(|_| {
            self.shared
                .protocol("its protocolVersion is not a header value")
        })?;
        let session = Session {
            id: session_id,
            version,
            handshake,
        };
        let note = jsonrpc::notification("notifications/initialized", None);
        let resp = self.send(Some(&session), &note).await?;
        if !resp.status().is_success() {
            return Err(self.shared.protocol(format!(
                "it answered notifications/initialized with HTTP {}",
                resp.status().as_u16()
            )));
        }
        Ok(session)
    }

    /// Sends a request and reads its result; progress for it goes to `notify`. Dropped before
    /// it ends, it tells the server the request is cancelled.
    pub async fn request(
        this: &Arc<Self>,
        method: &str,
        mut params: Value,
        notify: Option<mpsc::Sender<Value>>,
    ) -> Result<Value, CallError> {
        let mut session = this.session().await?;
        let id = this.next_id.fetch_add(1, Ordering::Relaxed);
        let progress = notify.zip(super::swap_progress_token(&mut params, id));
        let msg = jsonrpc::request(&json!(id), method, super::params(params));
        let mut guard = Cancel {
            conn: Arc::clone(this),
            session: Arc::clone(&session),
            id,
            armed: true,
        };
        let mut renewed = false;
        let result = loop {
            match this.exchange(&session, &msg, id, progress.as_ref()).await {
                Ok(v) => break Ok(v),
                Err(Failure::Call(e)) => break Err(e),
                Err(Failure::Expired) if !renewed => {
                    renewed = true;
                    this.forget(&session).await;
                    match this.session().await {
                        Ok(s) => session = s,
                        Err(e) => break Err(e),
                    }
                    guard.session = Arc::clone(&session);
                }
                Err(Failure::Expired) => {
                    break Err(this
                        .shared
                        .protocol("it forgot a session it had just begun"));
                }
            }
        };
        guard.armed = false;
        match &result {
            Err(e @ CallError::Unavailable { .. }) => this.shared.set_down(&super::short(e)),
            Ok(_) | Err(CallError::Remote(_)) => this.shared.mark_up(),
            Err(_) => {}
        }
        result
    }

    async fn exchange(
        &self,
        session: &Arc<Session>,
        msg: &Value,
        id: u64,
        progress: Option<&(mpsc::Sender<Value>, Value)>,
    ) -> Result<Value, Failure> {
        let resp = self.send(Some(session), msg).await?;
        if resp.status() == StatusCode::NOT_FOUND && session.id.is_some() {
            return Err(Failure::Expired);
        }
        Ok(self.read_answer(resp, id, progress, Some(session)).await?)
    }

    async fn send(
        &self,
        session: Option<&Session>,
        msg: &Value,
    ) -> Result<reqwest::Response, CallError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(msg.to_string());
        if let Some(s) = session {
            if let Some(id) = &s.id {
                req = req.header("mcp-session-id", id.clone());
            }
            req = req.header("mcp-protocol-version", s.version.clone());
        }
        req.send()
            .await
            .map_err(|e| self.shared.unavailable(describe(&e)))
    }

    /// Reads the answer to request `id` from a response: one JSON body, or an event stream
    /// whose other messages (progress, notifications, the server's own requests) are handled
    /// on the way.
    async fn read_answer(
        &self,
        mut resp: reqwest::Response,
        id: u64,
        progress: Option<&(mpsc::Sender<Value>, Value)>,
        session: Option<&Arc<Session>>,
    ) -> Result<Value, CallError> {
        let status = resp.status();
        if !status.is_success() {
            let reason = format!("it answered HTTP {}", status.as_u16());
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                self.shared.unavailable(reason)
            } else {
                self.shared.protocol(reason)
            });
        }
        if status == StatusCode::ACCEPTED {
            return Err(self
                .shared
                .protocol("it answered a request with 202 and no response"));
        }
        let limit = usize::try_from(self.shared.max_bytes).unwrap_or(usize::MAX);
        let stream = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        if !stream {
            if resp
                .content_length()
                .is_some_and(|n| n > self.shared.max_bytes)
            {
                return Err(self.shared.too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.broken(&e))? {
                if body.len() + chunk.len() > limit {
                    return Err(self.shared.too_large());
                }
                body.extend_from_slice(&chunk);
            }
            let message = jsonrpc::parse(&body)
                .map_err(|_| self.shared.protocol("its answer is not a JSON-RPC message"))?;
            return match &message {
                Message::Response { id: got, .. } | Message::Error { id: got, .. }
                    if got.as_u64() == Some(id) =>
                {
                    super::answer_of(&self.shared, message)
                }
                _ => Err(self
                    .shared
                    .protocol("its answer is not the response to our request")),
            };
        }
        let mut reader = sse::Reader::new(limit);
        let mut events = Vec::new();
        loop {
            let Some(chunk) = resp.chunk().await.map_err(|e| self.broken(&e))? else {
                return Err(self
                    .shared
                    .protocol("its event stream ended before the response"));
            };
            reader
                .feed(&chunk, &mut events)
                .map_err(|_| self.shared.too_large())?;
            for event in events.drain(..) {
                if let Some(answer) = self.on_event(&event, Some(id), progress, session) {
                    return answer;
                }
            }
        }
    }

    /// Handles one event of a stream: the answer to request `id` is returned; progress,
    /// notifications and the server's requests are dealt with here.
    fn on_event(
        &self,
        event: &[u8],
        id: Option<u64>,
        progress: Option<&(mpsc::Sender<Value>, Value)>,
        session: Option<&Arc<Session>>,
    ) -> Option<Result<Value, CallError>> {
        let Ok(message) = jsonrpc::parse(event) else {
            tracing::debug!(server = %self.shared.name, "MCP server sent an unreadable event");
            return None;
        };
        match message {
            Message::Response { id: ref got, .. } | Message::Error { id: ref got, .. }
                if id.is_some() && got.as_u64() == id =>
            {
                return Some(super::answer_of(&self.shared, message));
            }
            Message::Response { .. } | Message::Error { .. } => {}
            Message::Notification { method, params } => {
                if method == "notifications/progress" {
                    if let (Some((tx, theirs)), Some(p)) = (progress, params) {
                        let _ = tx.try_send(super::restore_progress(p, theirs));
                    }
                } else {
                    self.shared.server_notification(&method, params.as_ref());
                }
            }
            Message::Request {
                id: their_id,
                method,
                ..
            } => self.answer(
                session,
                self.shared.answer_server_request(&their_id, &method),
            ),
        }
        None
    }

    /// POSTs our answer to a server's request, in the background.
    fn answer(&self, session: Option<&Arc<Session>>, answer: Value) {
        let (Some(session), Ok(rt)) = (session, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header("mcp-protocol-version", session.version.clone());
        let req = match &session.id {
            Some(id) => req.header("mcp-session-id", id.clone()),
            None => req,
        };
        rt.spawn(async move {
            let _ = tokio::time::timeout(CANCEL_TIMEOUT, req.body(answer.to_string()).send()).await;
        });
    }

    fn broken(&self, e: &reqwest::Error) -> CallError {
        self.shared
            .protocol(format!("its answer broke off: {}", describe(e)))
    }
}

/// Holds the session's GET stream open for messages the server sends on its own, reopening it
/// with backoff while the session is current. Ends when the server has no such stream (405 or
/// any other refusal), the session is replaced, or the connection is dropped.
async fn listen(conn: Weak<HttpConn>, session: Arc<Session>) {
    let mut backoff = FIRST_LISTEN_BACKOFF;
    loop {
        let Some(c) = conn.upgrade() else { return };
        let mut req = c
            .client
            .get(c.url.clone())
            .headers(c.headers.clone())
            .header(http::header::ACCEPT, "text/event-stream")
            .header("mcp-protocol-version", session.version.clone());
        if let Some(id) = &session.id {
            req = req.header("mcp-session-id", id.clone());
        }
        let limit = usize::try_from(c.shared.max_bytes).unwrap_or(usize::MAX);
        let shared = Arc::clone(&c.shared);
        // Not held while waiting, so an idle stream never keeps a dropped connection alive.
        drop(c);
        let mut resp = match req.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::debug!(server = %shared.name, status = r.status().as_u16(), "MCP server has no GET stream");
                return;
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_LISTEN_BACKOFF;
        let mut reader = sse::Reader::new(limit);
        let mut events = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            if reader.feed(&chunk, &mut events).is_err() {
                break;
            }
            let Some(c) = conn.upgrade() else { return };
            for event in events.drain(..) {
                let _ = c.on_event(&event, None, None, Some(&session));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
    }
}

impl Drop for HttpConn {
    /// Ends the session (a DELETE, best effort) so the server can free it at once.
    fn drop(&mut self) {
        if let Some(l) = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            l.abort();
        }
        let Some(session) = self.session.get_mut().take() else {
            return;
        };
        let (Some(id), Ok(rt)) = (session.id.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let req = self
            .client
            .delete(self.url.clone())
            .headers(self.headers.clone())
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", session.version.clone());
        rt.spawn(async move {
            let _ = tokio::time::timeout(CANCEL_TIMEOUT, req.send()).await;
        });
    }
}

/// Sends `notifications/cancelled` for a request whose caller went away (or timed out).
struct Cancel {
    conn: Arc<HttpConn>,
    session: Arc<Session>,
    id: u64,
    armed: bool,
}

impl Drop for Cancel {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let note = jsonrpc::notification(
            "notifications/cancelled",
            Some(json!({"requestId": self.id, "reason": "the client went away or timed out"})),
        );
        let conn = Arc::clone(&self.conn);
        let session = Arc::clone(&self.session);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ =
                    tokio::time::timeout(CANCEL_TIMEOUT, conn.send(Some(&session), &note)).await;
            });
        }
    }
}

/// A transport error in one line, without the URL (its query may hold a token).
fn describe(e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the body broke off"
    } else {
        "the request failed"
    };
    let root = root.to_string();
    if root.contains("://") {
        what.to_owned()
    } else {
        format!("{what}: {root}")
    }
}
