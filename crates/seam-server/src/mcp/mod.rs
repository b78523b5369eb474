//! `/mcp`: MCP's streamable HTTP transport in front of every configured tool server.
//!
//! `POST` carries one JSON-RPC message: a request is answered with one JSON response (or, when
//! it asks for progress and the client accepts `text/event-stream`, an SSE stream of the server's
//! progress notifications ending with the response); a notification or a response is
//! acknowledged with `202`. `GET` opens the session's stream of server notifications (the lists
//! changed); `DELETE` ends the session. `initialize` creates a session (`Mcp-Session-Id`), bound
//! to the key that created it, and settles the protocol revision (`MCP-Protocol-Version` on later
//! requests). The key authenticates every request (the `/v1` layer's `auth::require_key`).
//!
//! What a key may see is its `tools` scope (globs over namespaced names) and its placement's
//! trust tiers (a key held to `trust=private` sees only `private` servers); what it may not see
//! does not exist for it — listing leaves it out, calling it is an unknown tool. Calls are
//! governed in [`call`].

mod call;
mod errors;
pub mod session;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seam_config::McpServerConfig;
use seam_mcp::jsonrpc::{self, ErrorObject, Message};
use seam_mcp::{Changed, Entry, Hub, Kind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use errors::http_response;

use crate::auth::Caller;
use crate::pipeline::Cx;
use crate::{Live, SharedState, body};

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// The answer to a request the client cancelled (LSP's code, which MCP clients know).
const REQUEST_CANCELLED: i64 = -32800;

/// How often a quiet server stream sends a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Whether `caller`'s placement lets it see `server` at all (its trust tier).
fn trusted(caller: Option<&Caller>, server: &McpServerConfig) -> bool {
    caller.is_none_or(|c| {
        c.placement
            .trust
            .as_ref()
            .is_none_or(|t| t.contains(&server.trust))
    })
}

/// Whether `caller` may see `name` (namespaced) on `server`.
fn visible(caller: Option<&Caller>, server: &McpServerConfig, name: &str) -> bool {
    trusted(caller, server) && caller.is_none_or(|c| c.allows_tool(name))
}

/// The transport's rule against DNS rebinding: a request carrying `Origin` (a browser's) is
/// served only from a loopback origin or one `[mcp] allowed_origins` names. Clients that are not
/// browsers send none.
fn origin_refused(headers: &HeaderMap, live: &Live) -> Option<Response> {
    let origin = headers.get(header::ORIGIN)?;
    let o = origin
        .to_str()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let host = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    let loopback = matches!(name, "localhost" | "127.0.0.1" | "::1");
    if loopback || live.mcp.config().allowed_origins.contains(&o) {
        return None;
    }
    Some(errors::response(
        403,
        &Value::Null,
        ErrorObject::new(
            jsonrpc::INVALID_REQUEST,
            "Forbidden: this Origin may not call /mcp (add it to [mcp] allowed_origins)",
        )
        .with_data(json!({"code": "origin_not_allowed", "status": 403})),
    ))
}

fn idle_ms(live: &Live) -> u64 {
    live.mcp.config().session_idle_s.saturating_mul(1000)
}

/// `POST /mcp`.
pub async fn post(State(st): State<SharedState>, cx: Cx, raw: Body) -> Response {
    let live = st.live();
    if let Some(refused) = origin_refused(&cx.headers, &live) {
        return refused;
    }
    let bytes = match body::read(raw, &cx.headers, live.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return errors::http_response(&e),
    };
    let msg = match jsonrpc::parse(&bytes) {
        Ok(m) => m,
        Err(invalid) => return errors::response(400, &invalid.id, invalid.error),
    };
    let caller = cx.caller.as_deref();
    let key_id = caller.map(|c| c.key_id.as_str());
    let (id, method, params) = match msg {
        Message::Request { id, method, params } => (id, method, params),
        // Notifications (`initialized`, `cancelled`) and answers to requests Seam never sends:
        // acknowledged. `initialized` marks the session.
        Message::Notification { method, params } => {
            let session = session_of(&cx.headers)
                .and_then(|sid| st.mcp_sessions.get(sid, key_id, idle_ms(&live)));
            match (method.as_str(), session) {
                ("notifications/initialized", Some(s)) => {
                    s.initialized
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                ("notifications/cancelled", Some(s)) => {
                    if let Some(id) = params.as_ref().and_then(|p| p.get("requestId")) {
                        s.cancel(id);
                    }
                }
                _ => {}
            }
            return StatusCode::ACCEPTED.into_response();
        }
        Message::Response { .. } | Message::Error { .. } => {
            return StatusCode::ACCEPTED.into_response();
        }
    };
    // The stateless revision's probe: not served, so the client falls back to `initialize`.
    if method == "server/discover" {
        return errors::response(200, &id, method_not_found(&method));
    }
    if let Some(v) = cx.headers.get(VERSION_HEADER) {
        let ok = v
            .to_str()
            .is_ok_and(|v| seam_mcp::PROTOCOL_VERSIONS.contains(&v.trim()));
        if !ok && method != "initialize" {
            return errors::response(
                400,
                &id,
                ErrorObject::new(
                    jsonrpc::INVALID_REQUEST,
                    format!(
                        "Bad Request: unsupported MCP-Protocol-Version (supported: {})",
                        seam_mcp::PROTOCOL_VERSIONS.join(", ")
                    ),
                ),
            );
        }
    }
    let params = params.unwrap_or_else(|| json!({}));
    if method == "initialize" {
        return initialize(&st, &live, key_id, &id, &params);
    }
    let Some(sid) = session_of(&cx.headers) else {
        return errors::response(
            400,
            &id,
            ErrorObject::new(
                jsonrpc::INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required (send initialize first)",
            ),
        );
    };
    let Some(session) = st.mcp_sessions.get(sid, key_id, idle_ms(&live)) else {
        return errors::response(
            404,
            &id,
            ErrorObject::new(
                jsonrpc::INVALID_REQUEST,
                "Session not found: it expired or was never created; send initialize again",
            ),
        );
    };
    let hub = Arc::clone(&live.mcp);
    let progress = params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .is_some()
        && accepts_sse(&cx.headers);
    if progress && method == "tools/call" {
        return streamed(st, live, hub, cx, &session, id, params);
    }
    let ccx = call::Cx {
        st: &st,
        live: &live,
        hub: &hub,
        caller,
        rid: &cx.rid,
        start: cx.start,
        headers: &cx.headers,
    };
    // Cancelled by the client: the call is dropped (the tool server is told, and the record
    // says the client went away), and the request is answered with the cancellation.
    let (_tracked, cancelled) = session.track(&id);
    let answer = tokio::select! {
        a = dispatch(&ccx, &method, &params, None) => a,
        Ok(()) = cancelled => Err(ErrorObject::new(REQUEST_CANCELLED, "Request cancelled by the client")),
    };
    json_answer(&id, answer)
}

/// The server's progress as SSE events, then the response.
/// The call runs on a task of its own; a client that cancels it or goes away stops it (the
/// tool server is told, and the record says the client left).
fn streamed(
    st: SharedState,
    live: Arc<Live>,
    hub: Arc<Hub>,
    cx: Cx,
    session: &Arc<session::Session>,
    id: Value,
    params: Value,
) -> Response {
    let (tx, mut rx) = mpsc::channel::<Value>(16);
    let (out_tx, out_rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    let (tracked, mut cancelled) = session.track(&id);
    tokio::spawn(async move {
        let _tracked = tracked;
        let ccx = call::Cx {
            st: &st,
            live: &live,
            hub: &hub,
            caller: cx.caller.as_deref(),
            rid: &cx.rid,
            start: cx.start,
            headers: &cx.headers,
        };
        let answer = dispatch(&ccx, "tools/call", &params, Some(tx));
        tokio::pin!(answer);
        let result = loop {
            tokio::select! {
                r = &mut answer => break r,
                Some(n) = rx.recv() => {
                    let _ = out_tx.send(Ok(event(&n))).await;
                }
                Ok(()) = &mut cancelled => {
                    break Err(ErrorObject::new(REQUEST_CANCELLED, "Request cancelled by the client"));
                }
                () = out_tx.closed() => return,
            }
        };
        while let Ok(n) = rx.try_recv() {
            let _ = out_tx.send(Ok(event(&n))).await;
        }
        let msg = match result {
            Ok(v) => jsonrpc::response(&id, v),
            Err(e) => jsonrpc::error(&id, e),
        };
        let _ = out_tx.send(Ok(event(&msg))).await;
    });
    let stream = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    sse_response(Body::from_stream(stream))
}

fn event(v: &Value) -> Bytes {
    let mut out = b"event: message\ndata: ".to_vec();
    out.extend_from_slice(&serde_json::to_vec(v).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
    out.into()
}

fn sse_response(body: Body) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn json_answer(id: &Value, answer: Result<Value, ErrorObject>) -> Response {
    let msg = match answer {
        Ok(v) => jsonrpc::response(id, v),
        Err(e) => jsonrpc::error(id, e),
    };
    crate::pipeline::json_response(&msg)
}

fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn accepts_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

fn method_not_found(method: &str) -> ErrorObject {
    let shown: String = method.chars().take(60).collect();
    ErrorObject::new(
        jsonrpc::METHOD_NOT_FOUND,
        format!("Method not found: {shown}"),
    )
}

fn invalid_params(why: impl Into<String>) -> ErrorObject {
    ErrorObject::new(jsonrpc::INVALID_PARAMS, why.into())
}

/// `initialize`: a new session, the revision both sides speak, what Seam serves.
fn initialize(
    st: &SharedState,
    live: &Live,
    key_id: Option<&str>,
    id: &Value,
    params: &Value,
) -> Response {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .and_then(|a| seam_mcp::PROTOCOL_VERSIONS.iter().find(|v| **v == a))
        .copied()
        .unwrap_or(seam_mcp::LATEST_PROTOCOL_VERSION);
    let cfg = live.mcp.config();
    let session = st.mcp_sessions.create(
        key_id.map(str::to_owned),
        version,
        cfg.max_sessions,
        idle_ms(live),
    );
    let result = json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": true},
            "prompts": {"listChanged": true},
            "resources": {"listChanged": true, "subscribe": false},
        },
        "serverInfo": {"name": "seam", "title": "Seam", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Tools, prompts and resources of this team's MCP servers, named SERVER__NAME, governed by Seam.",
    });
    let mut resp = json_answer(id, Ok(result));
    if let Ok(v) = HeaderValue::from_str(&session.id) {
        resp.headers_mut().insert(SESSION_HEADER, v);
    }
    resp
}

/// One request of a session.
async fn dispatch(
    cx: &call::Cx<'_>,
    method: &str,
    params: &Value,
    notify: Option<mpsc::Sender<Value>>,
) -> Result<Value, ErrorObject> {
    match method {
        "ping" => Ok(json!({})),
        "logging/setLevel" => Ok(json!({})),
        "tools/list" => list(cx, Kind::Tools, params).await,
        "prompts/list" => list(cx, Kind::Prompts, params).await,
        "resources/list" => list(cx, Kind::Resources, params).await,
        "resources/templates/list" => list(cx, Kind::ResourceTemplates, params).await,
        "tools/call" | "prompts/get" => {
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid_params("`params.name` must be a string"))?;
            if let Some(a) = params.get("arguments")
                && !a.is_object()
            {
                return Err(invalid_params("`params.arguments` must be an object"));
            }
            let kind = if method == "tools/call" {
                Kind::Tools
            } else {
                Kind::Prompts
            };
            let Some((server, own, listed)) = find(cx, kind, name).await else {
                let what = if kind == Kind::Tools {
                    "tool"
                } else {
                    "prompt"
                };
                let shown: String = name.chars().take(80).collect();
                if let Some((s, _)) = seam_mcp::split_name(name)
                    && cx.hub.server(s).is_some()
                {
                    call::refusal(s, "scope");
                }
                let error = invalid_params(format!(
                    "Unknown {what}: {shown} (not served, or not permitted for this key)"
                ))
                .with_data(json!({"code": "tool_not_found", "status": 404}));
                let endpoint = if kind == Kind::Tools {
                    "mcp_tool"
                } else {
                    "mcp_prompt"
                };
                return Err(call::unknown(cx, endpoint, name, error).await);
            };
            let target = if kind == Kind::Tools {
                call::Target::Tool {
                    name,
                    tool: &own,
                    listed,
                }
            } else {
                call::Target::Prompt { name, prompt: &own }
            };
            call::run(cx, server, target, params, notify).await
        }
        "resources/read" => {
            let uri = params
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid_params("`params.uri` must be a string"))?;
            let Some(server) = resource_owner(cx, uri).await else {
                let error = ErrorObject::new(
                    jsonrpc::RESOURCE_NOT_FOUND,
                    "Resource not found (not served, or not permitted for this key)",
                )
                .with_data(json!({"code": "tool_not_found", "status": 404}));
                return Err(call::unknown(cx, "mcp_resource", "resource", error).await);
            };
            call::run(cx, server, call::Target::Resource { uri }, params, notify).await
        }
        _ => Err(method_not_found(method)),
    }
}

/// Every visible item of `kind`, aggregated. Seam does not paginate: the whole list comes at once,
/// so a cursor is one it never gave.
async fn list(cx: &call::Cx<'_>, kind: Kind, params: &Value) -> Result<Value, ErrorObject> {
    if params.get("cursor").is_some_and(|c| !c.is_null()) {
        return Err(invalid_params(
            "Invalid cursor: this server does not paginate",
        ));
    }
    let (entries, skipped) = cx.hub.list(kind).await;
    let items: Vec<Value> = entries
        .into_iter()
        .filter(|e| {
            cx.hub
                .server(&e.server)
                .is_some_and(|s| visible(cx.caller, s, &e.name))
        })
        .map(|e| e.item)
        .collect();
    let mut out = json!({ kind.field(): items });
    if !skipped.is_empty() {
        // Which servers are missing from the list, not why (their errors are the operator's).
        let names: Vec<&str> = skipped
            .iter()
            .filter(|(s, _)| cx.hub.server(s).is_some_and(|cfg| trusted(cx.caller, cfg)))
            .map(|(s, _)| s.as_str())
            .collect();
        if !names.is_empty() {
            out["_meta"] = json!({ "seam/unavailable_servers": names });
        }
    }
    Ok(out)
}

/// The server and own name of a visible tool or prompt, and whether its server lists it (it is
/// called when the list cannot be read).
async fn find<'h>(
    cx: &call::Cx<'h>,
    kind: Kind,
    name: &str,
) -> Option<(&'h McpServerConfig, String, bool)> {
    let (server, own) = seam_mcp::split_name(name)?;
    let cfg = cx.hub.server(server)?;
    if !visible(cx.caller, cfg, name) {
        return None;
    }
    // A server that cannot list now is asked anyway: its call fails as unavailable (-32005),
    // which is what the agent should hear, not that the tool does not exist.
    match cx.hub.has(kind, server, own).await {
        Some(false) => None,
        Some(true) => Some((cfg, own.to_owned(), true)),
        None => Some((cfg, own.to_owned(), false)),
    }
}

/// The server of a visible resource: listed with this URI, or matching a visible template.
async fn resource_owner<'h>(cx: &call::Cx<'h>, uri: &str) -> Option<&'h McpServerConfig> {
    let hub: &'h Hub = cx.hub;
    let visible_entry = |e: &Entry| {
        hub.server(&e.server)
            .filter(|s| visible(cx.caller, s, &e.name))
    };
    let (resources, _) = cx.hub.list(Kind::Resources).await;
    if let Some(e) = resources
        .iter()
        .find(|e| e.item.get("uri").and_then(Value::as_str) == Some(uri))
    {
        return visible_entry(e);
    }
    let (templates, _) = cx.hub.list(Kind::ResourceTemplates).await;
    templates
        .iter()
        .filter(|e| {
            e.item
                .get("uriTemplate")
                .and_then(Value::as_str)
                .and_then(|t| t.split('{').next())
                .is_some_and(|prefix| !prefix.is_empty() && uri.starts_with(prefix))
        })
        .find_map(visible_entry)
}

/// `GET /mcp`: the session's stream of server notifications.
pub async fn get(State(st): State<SharedState>, cx: Cx) -> Response {
    let live = st.live();
    if let Some(refused) = origin_refused(&cx.headers, &live) {
        return refused;
    }
    let key_id = cx.caller.as_deref().map(|c| c.key_id.clone());
    if !accepts_sse(&cx.headers) {
        return errors::response(
            406,
            &Value::Null,
            ErrorObject::new(
                jsonrpc::INVALID_REQUEST,
                "Not Acceptable: GET /mcp opens an event stream (Accept: text/event-stream)",
            ),
        );
    }
    let Some(sid) = session_of(&cx.headers).map(str::to_owned) else {
        return errors::response(
            400,
            &Value::Null,
            ErrorObject::new(
                jsonrpc::INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            ),
        );
    };
    if st
        .mcp_sessions
        .get(&sid, key_id.as_deref(), idle_ms(&live))
        .is_none()
    {
        return errors::response(
            404,
            &Value::Null,
            ErrorObject::new(jsonrpc::INVALID_REQUEST, "Session not found"),
        );
    }
    let changes = live.mcp.subscribe();
    drop(live);
    let closed = Box::pin(st.closed());
    let state = (changes, st, sid, key_id, closed);
    let stream = futures_util::stream::unfold(
        state,
        |(mut changes, st, sid, key_id, mut closed)| async move {
            {
                let item = tokio::select! {
                    () = &mut closed => return None,
                    item = tokio::time::timeout(KEEPALIVE, changes.recv()) => item,
                };
                let live = st.live();
                st.mcp_sessions
                    .get(&sid, key_id.as_deref(), idle_ms(&live))?;
                let bytes = match item {
                    Err(_) => Bytes::from_static(b": keepalive\n\n"),
                    Ok(Ok(c)) => {
                        let method = match c {
                            Changed::Tools => "notifications/tools/list_changed",
                            Changed::Prompts => "notifications/prompts/list_changed",
                            Changed::Resources => "notifications/resources/list_changed",
                        };
                        event(&jsonrpc::notification(method, None))
                    }
                    // Missed some: the client re-lists everything.
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => event(
                        &jsonrpc::notification("notifications/tools/list_changed", None),
                    ),
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                };
                Some((
                    Ok::<_, Infallible>(bytes),
                    (changes, st, sid, key_id, closed),
                ))
            }
        },
    );
    sse_response(Body::from_stream(stream))
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(State(st): State<SharedState>, cx: Cx) -> Response {
    if let Some(refused) = origin_refused(&cx.headers, &st.live()) {
        return refused;
    }
    let key_id = cx.caller.as_deref().map(|c| c.key_id.as_str());
    let Some(sid) = session_of(&cx.headers) else {
        return errors::response(
            400,
            &Value::Null,
            ErrorObject::new(
                jsonrpc::INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            ),
        );
    };
    if st.mcp_sessions.remove(sid, key_id) {
        StatusCode::OK.into_response()
    } else {
        errors::response(
            404,
            &Value::Null,
            ErrorObject::new(jsonrpc::INVALID_REQUEST, "Session not found"),
        )
    }
}
