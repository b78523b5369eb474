//! One configured server: its transport (streamable HTTP or a supervised stdio process), its
//! state, breaker, concurrency cap and cached lists. The hub holds one [`Upstream`] per server and
//! hands the same `Arc` to the next hub when the server's config is unchanged.

mod http;
mod sse;
mod stdio;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use seam_config::{McpServerConfig, McpTransport, Trust};
use seam_router::breaker::{Admission, Breaker, BreakerConfig};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::hub::{CallError, Changed, Kind};
use crate::jsonrpc::Message;

/// Most pages read for one list; a server that keeps sending cursors past it is cut off there.
const MAX_PAGES: usize = 100;

/// What `initialize` told us.
#[derive(Clone, Debug)]
pub(crate) struct Handshake {
    pub version: String,
    pub capabilities: Value,
    pub server_info: Value,
}

impl Handshake {
    /// Whether the server declared the capability a list of `kind` needs.
    fn offers(&self, kind: Kind) -> bool {
        let cap = match kind {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources | Kind::ResourceTemplates => "resources",
        };
        self.capabilities.get(cap).is_some_and(|c| !c.is_null())
    }
}

/// `initialize`'s params: Seam's newest revision, no client capabilities.
pub(crate) fn initialize_params() -> Value {
    json!({
        "protocolVersion": crate::LATEST_PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "seam", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// Reads `initialize`'s result; a revision Seam does not speak fails the server.
pub(crate) fn read_handshake(result: &Value) -> Result<Handshake, String> {
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or("its initialize answer has no protocolVersion")?;
    if !crate::PROTOCOL_VERSIONS.contains(&version) {
        let shown: String = version.chars().take(32).collect();
        return Err(format!(
            "it speaks MCP revision {shown:?}, which Seam does not (Seam speaks {})",
            crate::PROTOCOL_VERSIONS.join(", ")
        ));
    }
    Ok(Handshake {
        version: version.to_owned(),
        capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
        server_info: result.get("serverInfo").cloned().unwrap_or(Value::Null),
    })
}

/// `params` as sent: `null` (no params) is left out, as JSON-RPC has no `"params": null`.
pub(crate) fn params(params: Value) -> Option<Value> {
    (!params.is_null()).then_some(params)
}

/// Replaces the caller's `_meta.progressToken` (if any) with `ours`, returning the caller's, so
/// progress from the server can be routed back by our token and shown with theirs.
pub(crate) fn swap_progress_token(params: &mut Value, ours: u64) -> Option<Value> {
    let slot = params.get_mut("_meta")?.get_mut("progressToken")?;
    Some(std::mem::replace(slot, json!(ours)))
}

/// A `notifications/progress` message with the caller's token put back.
pub(crate) fn restore_progress(mut params: Value, token: &Value) -> Value {
    if let Some(slot) = params.get_mut("progressToken") {
        *slot = token.clone();
    }
    crate::jsonrpc::notification("notifications/progress", Some(params))
}

/// `up`, `starting` or `down`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Starting,
    Up,
    Down,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Up => "up",
            State::Down => "down",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Status {
    pub state: State,
    pub last_error: Option<String>,
    pub restarts: u64,
    pub pid: Option<u32>,
    pub handshake: Option<Handshake>,
}

#[derive(Debug)]
struct Cached {
    fetched: Instant,
    /// `false` once a `list_changed` said so: read again next time, but still used to find a
    /// resource's server.
    fresh: bool,
    items: Arc<Vec<Value>>,
}

/// What the transports and the upstream share: state, cached lists, the change channel.
#[derive(Debug)]
pub(crate) struct Shared {
    pub name: Arc<str>,
    pub max_bytes: u64,
    status: Mutex<Status>,
    cache: Mutex<HashMap<Kind, Cached>>,
    /// Bumped by every invalidation, so a list read before one is not stored after it.
    epoch: AtomicU64,
    changed: broadcast::Sender<Changed>,
    /// The last list failure warned about, so a failing server warns once, not per call.
    list_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a few assignments: a poisoned lock still holds usable data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn status(&self) -> MutexGuard<'_, Status> {
        lock(&self.status)
    }

    pub fn set_starting(&self) {
        self.status().state = State::Starting;
    }

    pub fn set_up(&self, handshake: Handshake, pid: Option<u32>) {
        let mut s = self.status();
        if s.state == State::Down {
            tracing::info!(server = %self.name, "MCP server is up again");
        }
        if s.handshake.is_some() {
            // A new process or session may serve other tools: read the lists again (quietly:
            // a list that did change is announced by the server, or seen at the next read).
            for c in lock(&self.cache).values_mut() {
                c.fresh = false;
            }
        }
        s.state = State::Up;
        s.handshake = Some(handshake);
        s.pid = pid;
    }

    /// Marks it down with a short reason (no secrets: reasons never carry headers, env or
    /// arguments), warning once per change.
    pub fn set_down(&self, reason: &str) {
        let mut s = self.status();
        if s.state != State::Down || s.last_error.as_deref() != Some(reason) {
            tracing::warn!(server = %self.name, reason, "MCP server is down");
        }
        s.state = State::Down;
        s.last_error = Some(reason.to_owned());
        s.pid = None;
    }

    /// Marks a server that answered as up again (HTTP: there is no process to watch).
    pub fn mark_up(&self) {
        let mut s = self.status();
        if s.state != State::Up && s.handshake.is_some() {
            tracing::info!(server = %self.name, "MCP server is up again");
            s.state = State::Up;
        }
    }

    /// Forgets a list (a server said it changed) and tells sessions.
    pub fn invalidate(&self, changed: Changed) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let kinds: &[Kind] = match changed {
            Changed::Tools => &[Kind::Tools],
            Changed::Prompts => &[Kind::Prompts],
            Changed::Resources => &[Kind::Resources, Kind::ResourceTemplates],
        };
        let mut cache = lock(&self.cache);
        for k in kinds {
            if let Some(c) = cache.get_mut(k) {
                c.fresh = false;
            }
        }
        drop(cache);
        let _ = self.changed.send(changed);
    }

    /// A notification the server sent outside any call's progress.
    pub fn server_notification(&self, method: &str, params: Option<&Value>) {
        match method {
            "notifications/tools/list_changed" => self.invalidate(Changed::Tools),
            "notifications/prompts/list_changed" => self.invalidate(Changed::Prompts),
            "notifications/resources/list_changed" => self.invalidate(Changed::Resources),
            "notifications/message" => {
                let level = params
                    .and_then(|p| p.get("level"))
                    .and_then(Value::as_str)
                    .unwrap_or("info");
                tracing::debug!(server = %self.name, level, "MCP server sent a log message");
            }
            _ => tracing::debug!(server = %self.name, method, "MCP server notification ignored"),
        }
    }

    /// The answer to a request the server sent us: `ping` is answered, the rest (sampling,
    /// roots, elicitation) Seam does not offer.
    pub fn answer_server_request(&self, id: &Value, method: &str) -> Value {
        if method == "ping" {
            crate::jsonrpc::response(id, json!({}))
        } else {
            tracing::debug!(server = %self.name, method, "MCP server request refused");
            crate::jsonrpc::error(
                id,
                crate::jsonrpc::ErrorObject::new(
                    crate::jsonrpc::METHOD_NOT_FOUND,
                    "Seam does not offer this to MCP servers",
                ),
            )
        }
    }

    fn cached(&self, kind: Kind) -> Option<Arc<Vec<Value>>> {
        lock(&self.cache).get(&kind).map(|c| Arc::clone(&c.items))
    }

    pub fn unavailable(&self, reason: impl Into<String>) -> CallError {
        CallError::Unavailable {
            server: self.name.to_string(),
            reason: reason.into(),
        }
    }

    pub fn protocol(&self, reason: impl Into<String>) -> CallError {
        CallError::Protocol {
            server: self.name.to_string(),
            reason: reason.into(),
        }
    }

    pub fn too_large(&self) -> CallError {
        CallError::TooLarge {
            server: self.name.to_string(),
            limit: self.max_bytes,
        }
    }
}

/// Reads one upstream answer to request `id`: its result, or the server's error as `Remote`.
pub(crate) fn answer_of(shared: &Shared, message: Message) -> Result<Value, CallError> {
    match message {
        Message::Response { result, .. } => Ok(result),
        Message::Error { error, .. } => Err(CallError::Remote(error)),
        _ => Err(shared.protocol("it answered a request with something other than a response")),
    }
}

enum Transport {
    Http(Arc<http::HttpConn>),
    Stdio(stdio::StdioConn),
    /// The config could not be turned into a client (an invalid header value).
    Broken(String),
}

/// One server.
pub(crate) struct Upstream {
    pub cfg: McpServerConfig,
    pub shared: Arc<Shared>,
    breaker: Breaker,
    inflight: Arc<Semaphore>,
    transport: Transport,
}

impl Upstream {
    /// Starts connecting in the background (a stdio server's process is spawned at once).
    pub fn start(
        cfg: &McpServerConfig,
        max_bytes: u64,
        changed: broadcast::Sender<Changed>,
    ) -> Arc<Upstream> {
        let shared = Arc::new(Shared {
            name: Arc::from(cfg.name.as_str()),
            max_bytes,
            status: Mutex::new(Status {
                state: State::Starting,
                last_error: None,
                restarts: 0,
                pid: None,
                handshake: None,
            }),
            cache: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            changed,
            list_error: Mutex::new(None),
        });
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let transport = match &cfg.transport {
            McpTransport::Http { url, headers } => {
                match http::HttpConn::new(Arc::clone(&shared), url, headers) {
                    Ok(conn) => {
                        let conn = Arc::new(conn);
                        let c = Arc::clone(&conn);
                        // Connect now so the first list does not pay for the handshake and the
                        // admin report shows the server's state.
                        let s = Arc::clone(&shared);
                        tokio::spawn(async move {
                            if tokio::time::timeout(timeout, c.handshake()).await.is_err() {
                                s.set_down(&no_handshake(timeout));
                            }
                        });
                        Transport::Http(conn)
                    }
                    Err(reason) => {
                        shared.set_down(&reason);
                        Transport::Broken(reason)
                    }
                }
            }
            McpTransport::Stdio {
                command,
                args,
                env,
                cwd,
            } => Transport::Stdio(stdio::StdioConn::start(
                Arc::clone(&shared),
                stdio::Spec {
                    command: command.clone(),
                    args: args.clone(),
                    env: env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect(),
                    cwd: cwd.clone(),
                },
                timeout,
            )),
        };
        Arc::new(Upstream {
            cfg: cfg.clone(),
            shared,
            breaker: Breaker::new(BreakerConfig::from(&cfg.breaker), Instant::now()),
            inflight: Arc::new(Semaphore::new(cfg.max_concurrency as usize)),
            transport,
        })
    }

    /// Sends a request under the breaker and `timeout`; `gated` calls also take a slot of the
    /// concurrency cap (lists do not, so a busy server still shows its tools).
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
        notify: Option<mpsc::Sender<Value>>,
        gated: bool,
    ) -> Result<Value, CallError> {
        let _permit = if gated {
            Some(
                Arc::clone(&self.inflight)
                    .try_acquire_owned()
                    .map_err(|_| CallError::Overloaded(self.cfg.name.clone()))?,
            )
        } else {
            None
        };
        // A process that is (re)starting refuses at once, and that is not the server failing
        // a request, so the breaker does not hear of it.
        match &self.transport {
            Transport::Broken(reason) => return Err(self.shared.unavailable(reason.clone())),
            Transport::Stdio(s) => s.ready_first(timeout).await?,
            Transport::Http(_) => {}
        }
        let probe = match self.breaker.admit(Instant::now()) {
            Admission::Allow => false,
            Admission::Probe => true,
            // One fixed reason, so a list skipping it warns once, not per call.
            Admission::Reject { .. } => {
                return Err(self.shared.unavailable("its circuit breaker is open"));
            }
        };
        let request = async {
            match &self.transport {
                Transport::Http(h) => http::HttpConn::request(h, method, params, notify).await,
                Transport::Stdio(s) => s.request(method, params, notify).await,
                Transport::Broken(reason) => Err(self.shared.unavailable(reason.clone())),
            }
        };
        let result = tokio::time::timeout(timeout, request)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Timeout {
                    server: self.cfg.name.clone(),
                    ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            });
        // The server answered (even with an error, or too much): it is alive.
        let alive = matches!(
            result,
            Ok(_) | Err(CallError::Remote(_) | CallError::TooLarge { .. })
        );
        self.breaker.record(alive, probe, Instant::now());
        result
    }

    /// The server's items of `kind` (its own names), from the cache while fresh.
    pub async fn list(&self, kind: Kind, ttl: Duration) -> Result<Arc<Vec<Value>>, String> {
        if let Some(c) = lock(&self.shared.cache).get(&kind)
            && c.fresh
            && c.fetched.elapsed() < ttl
        {
            return Ok(Arc::clone(&c.items));
        }
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        let result = self.fetch(kind).await;
        match &result {
            Ok(items) => {
                *lock(&self.shared.list_error) = None;
                if self.shared.epoch.load(Ordering::Acquire) == epoch {
                    lock(&self.shared.cache).insert(
                        kind,
                        Cached {
                            fetched: Instant::now(),
                            fresh: true,
                            items: Arc::clone(items),
                        },
                    );
                }
            }
            Err(reason) => {
                let mut last = lock(&self.shared.list_error);
                if last.as_deref() != Some(reason) {
                    tracing::warn!(server = %self.cfg.name, list = kind.method(), reason = %reason, "MCP server skipped in a list");
                    *last = Some(reason.clone());
                }
            }
        }
        result
    }

    async fn fetch(&self, kind: Kind) -> Result<Arc<Vec<Value>>, String> {
        let timeout = Duration::from_millis(self.cfg.timeout_ms);
        let handshake = match &self.transport {
            Transport::Broken(reason) => return Err(reason.clone()),
            Transport::Http(h) => {
                // Under the breaker, so a server that keeps failing is skipped at once instead
                // of costing every list a connection attempt.
                let probe = match self.breaker.admit(Instant::now()) {
                    Admission::Allow => false,
                    Admission::Probe => true,
                    Admission::Reject { .. } => return Err("its circuit breaker is open".into()),
                };
                let handshake = tokio::time::timeout(timeout, h.handshake()).await;
                self.breaker
                    .record(matches!(handshake, Ok(Ok(_))), probe, Instant::now());
                let Ok(handshake) = handshake else {
                    let reason = no_handshake(timeout);
                    self.shared.set_down(&reason);
                    return Err(reason);
                };
                handshake.map_err(|e| short(&e))?
            }
            Transport::Stdio(s) => {
                s.ready_first(timeout).await.map_err(|e| short(&e))?;
                self.shared
                    .status()
                    .handshake
                    .clone()
                    .ok_or("it is starting")?
            }
        };
        if !handshake.offers(kind) {
            return Ok(Arc::new(Vec::new()));
        }
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let params = match cursor.take() {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let mut page = self
                .call(kind.method(), params, timeout, None, false)
                .await
                .map_err(|e| short(&e))?;
            match page.get_mut(kind.field()).map(Value::take) {
                Some(Value::Array(list)) => items.extend(list),
                _ => {
                    return Err(format!(
                        "its {} answer has no `{}`",
                        kind.method(),
                        kind.field()
                    ));
                }
            }
            match page.get("nextCursor") {
                Some(c @ Value::String(s)) if !s.is_empty() => cursor = Some(c.clone()),
                _ => return Ok(Arc::new(items)),
            }
        }
        tracing::warn!(server = %self.cfg.name, list = kind.method(), "MCP server list cut at {MAX_PAGES} pages");
        Ok(Arc::new(items))
    }

    /// The last list of `kind` read, fresh or not (to find which server has a resource).
    pub fn last_list(&self, kind: Kind) -> Option<Arc<Vec<Value>>> {
        self.shared.cached(kind)
    }

    /// Whether a reload to `cfg` can keep this upstream: what the connection is made of is the
    /// same (policies, tool settings and trust are read from the new config by their users).
    pub fn reusable_for(&self, cfg: &McpServerConfig, max_bytes: u64) -> bool {
        self.cfg.transport == cfg.transport
            && self.cfg.timeout_ms == cfg.timeout_ms
            && self.cfg.max_concurrency == cfg.max_concurrency
            && self.cfg.breaker == cfg.breaker
            && self.shared.max_bytes == max_bytes
    }

    /// This server's part of `GET /admin/mcp`; `trust` from the current config.
    pub fn report(&self, trust: Trust) -> Value {
        let (transport, place) = match &self.cfg.transport {
            McpTransport::Http { url, .. } => ("http", json!({ "url": display_url(url) })),
            McpTransport::Stdio { command, .. } => ("stdio", json!({ "command": command })),
        };
        let tools: Vec<String> = self
            .shared
            .cached(Kind::Tools)
            .iter()
            .flat_map(|items| items.iter())
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(|n| crate::join_name(&self.cfg.name, n))
            .collect();
        let s = self.shared.status();
        let mut r = json!({
            "name": self.cfg.name,
            "transport": transport,
            "trust": match trust { Trust::Private => "private", Trust::Vendor => "vendor" },
            "state": s.state.as_str(),
            "breaker": self.breaker.state(Instant::now()).as_str(),
            "restarts": s.restarts,
            "pid": s.pid,
            "last_error": s.last_error,
            "protocol_version": s.handshake.as_ref().map(|h| h.version.clone()),
            "server_info": s.handshake.as_ref().map(|h| json!({
                "name": h.server_info.get("name"),
                "version": h.server_info.get("version"),
            })),
            "in_flight": (self.cfg.max_concurrency as usize).saturating_sub(self.inflight.available_permits()),
            "tools": tools,
        });
        if let (Some(obj), Value::Object(place)) = (r.as_object_mut(), place) {
            obj.extend(place);
        }
        r
    }
}

fn no_handshake(timeout: Duration) -> String {
    format!("no answer to initialize within {} ms", timeout.as_millis())
}

/// A URL as shown to admins: no userinfo, query or fragment (where tokens hide).
fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(invalid url)".to_owned(),
    }
}

/// A call error as a list's skip reason (without the server's name, which the list pairs it
/// with).
pub(crate) fn short(e: &CallError) -> String {
    match e {
        CallError::Unavailable { reason, .. } | CallError::Protocol { reason, .. } => {
            reason.clone()
        }
        CallError::Timeout { ms, .. } => format!("no answer within {ms} ms"),
        CallError::TooLarge { limit, .. } => format!("its answer is larger than {limit} bytes"),
        CallError::Remote(err) => format!("it answered with error {}", err.code),
        CallError::Overloaded(_) => "it is at its concurrency limit".to_owned(),
        CallError::UnknownServer(_) => "it is not configured".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            display_url("https://user:pw@crm.internal:8443/mcp?token=abc#x"),
            "https://crm.internal:8443/mcp"
        );
    }

    #[test]
    fn progress_tokens_are_swapped_and_restored() {
        let mut p = json!({"name": "t", "_meta": {"progressToken": "client-7"}});
        let theirs = swap_progress_token(&mut p, 42).unwrap();
        assert_eq!(p["_meta"]["progressToken"], json!(42));
        let n = restore_progress(json!({"progressToken": 42, "progress": 1}), &theirs);
        assert_eq!(n["params"]["progressToken"], json!("client-7"));
        assert_eq!(n["method"], "notifications/progress");
        assert!(swap_progress_token(&mut json!({}), 1).is_none());
    }

    #[test]
    fn unknown_revisions_are_refused() {
        let h = read_handshake(
            &json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}}),
        )
        .unwrap();
        assert!(h.offers(Kind::Tools) && !h.offers(Kind::Prompts));
        let e = read_handshake(&json!({"protocolVersion": "2099-01-01"})).unwrap_err();
        assert!(e.contains("2099-01-01"), "{e}");
    }
}
