//! The MCP wire as the bench speaks it, both sides: the client (a session, a `tools/call`, the
//! check of every answer) the load generator and the probe use, and the minimal tool server the
//! mock serves on `/mcp` (streamable HTTP, JSON answers, one tool).

use std::sync::LazyLock;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::load::Client;

/// Where MCP's streamable HTTP transport listens, on the mock and on seam.
pub const PATH: &str = "/mcp";
/// The revision the bench speaks on both sides.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// What an MCP client must accept: a JSON answer or an SSE stream.
const ACCEPTS: &str = "application/json, text/event-stream";

/// The mock's one tool.
pub const TOOL: &str = "echo";
/// The session id the mock gives every `initialize`; it keeps no state per session.
const MOCK_SESSION: &str = "seam-bench-mock-session";

/// The email address in [`RESULT_TEXT`] (the policy scenario's prompt has it too); whether an
/// answer still carries it is how the bench sees the output policy at work.
pub const EMAIL: &str = "maria.keller@example.com";

/// What `echo` answers: a support-ticket summary with an email address and a phone number in it,
/// the kind of tool result an output policy exists for.
pub const RESULT_TEXT: &str = concat!(
    "Ticket 48213 (open, priority normal): the customer was charged three times 59.90 EUR for one ",
    "order after the checkout timed out twice. She asks to cancel the two extra orders and refund ",
    "them. Contact: maria.keller@example.com or +44 20 7946 0958, office hours only. Refund due ",
    "in 5 working days."
);

/// The arguments every call sends (no personal data: the policy has no input stage here).
const ARGUMENTS: &str = r#"{"ticket":"48213","fields":["summary","contact"]}"#;

/// A whole answer is read into memory to be checked; a bound on what a probe keeps.
const MAX_ANSWER_BYTES: usize = 1 << 20;

// The client side: requests, sessions, and the check of every answer.

/// A `tools/call` of `tool` with the bench's arguments.
pub fn call_body(tool: &str, id: u64) -> Bytes {
    let tool = Value::from(tool);
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":{tool},"arguments":{ARGUMENTS}}}}}"#
    ))
}

/// A POST of `body` to `url` with the headers every MCP request carries, and the session's.
pub fn request(url: &Uri, body: Bytes, session: Option<&HeaderValue>) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static(ACCEPTS));
    if let Some(session) = session {
        headers.insert(SESSION_HEADER, session.clone());
        headers.insert(VERSION_HEADER, HeaderValue::from_static(PROTOCOL_VERSION));
    }
    request
}

/// Checks the answer to call `id`: a JSON-RPC 2.0 result for that id, not a tool error, with a
/// text. `Ok(true)` when the text still carries [`EMAIL`]; the error is a short kind the report
/// counts (`jsonrpc_-32602`, `tool_error`, …).
pub fn check_answer(body: &[u8], id: u64) -> Result<bool, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "not_json".to_owned())?;
    if let Some(error) = v.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        return Err(format!("jsonrpc_{code}"));
    }
    let result = match v.get("result") {
        Some(r) if v.get("jsonrpc").and_then(Value::as_str) == Some("2.0") => r,
        _ => return Err("not_jsonrpc".to_owned()),
    };
    if v.get("id").and_then(Value::as_u64) != Some(id) {
        return Err("wrong_id".to_owned());
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err("tool_error".to_owned());
    }
    let text = result
        .get("content")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| "no_text".to_owned())?;
    Ok(text.contains(EMAIL))
}

/// One MCP session on a server (the mock, or seam).
pub struct Session {
    pub url: Uri,
    /// The `Mcp-Session-Id` the server gave, if any.
    pub id: Option<HeaderValue>,
}

impl Session {
    /// `initialize`, then `notifications/initialized`: what a client does before its first call.
    pub async fn open(client: &Client, url: &Uri) -> anyhow::Result<Self> {
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "seam-bench", "version": env!("CARGO_PKG_VERSION")}
            }
        });
        let (status, headers, body) = post(client, request(url, json_bytes(&init), None)).await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let version = answer
            .get("result")
            .and_then(|r| r.get("protocolVersion"))
            .and_then(Value::as_str);
        anyhow::ensure!(
            status == StatusCode::OK && version == Some(PROTOCOL_VERSION),
            "initialize at {url} answered {status} without protocol version {PROTOCOL_VERSION}: {}",
            shown(&body)
        );
        let id = headers.get(SESSION_HEADER).cloned();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, body) = post(client, request(url, json_bytes(&note), id.as_ref())).await?;
        anyhow::ensure!(
            status == StatusCode::ACCEPTED,
            "notifications/initialized at {url} answered {status} (expected 202): {}",
            shown(&body)
        );
        Ok(Self {
            url: url.clone(),
            id,
        })
    }

    /// One `tools/call` of `tool`; whether its text carried [`EMAIL`], or why it failed.
    pub async fn call(&self, client: &Client, tool: &str) -> anyhow::Result<bool> {
        let req = request(&self.url, call_body(tool, 1), self.id.as_ref());
        let (status, _, body) = post(client, req).await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "tools/call of `{tool}` at {} answered {status}: {}",
            self.url,
            shown(&body)
        );
        check_answer(&body, 1).map_err(|kind| {
            anyhow::anyhow!(
                "tools/call of `{tool}` at {} failed ({kind}): {}",
                self.url,
                shown(&body)
            )
        })
    }
}

async fn post(
    client: &Client,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
    let url = request.uri().clone();
    let response = client
        .request(request)
        .await
        .with_context(|| format!("posting to {url}"))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer from {url}: {e}"))?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// The start of an answer, for an error message.
fn shown(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

// The mock side.

/// How the mock answers one POST to `/mcp`.
pub struct Answer {
    pub status: StatusCode,
    /// JSON, or empty for a `202`.
    pub body: Bytes,
    /// Whether the answer carries the mock's `Mcp-Session-Id` (`initialize` only).
    pub session: Option<HeaderValue>,
}

/// The results the mock sends, serialised once.
struct Canned {
    initialize: String,
    list: String,
    call: String,
}

static CANNED: LazyLock<Canned> = LazyLock::new(|| Canned {
    initialize: json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "seam-bench-mock", "version": env!("CARGO_PKG_VERSION")}
    })
    .to_string(),
    list: json!({"tools": [{
        "name": TOOL,
        "description": "Returns a support ticket's summary.",
        "inputSchema": {"type": "object"}
    }]})
    .to_string(),
    call: json!({"content": [{"type": "text", "text": RESULT_TEXT}], "isError": false}).to_string(),
});

/// The part of a JSON-RPC message the mock reads.
#[derive(Deserialize)]
struct Incoming {
    id: Option<Value>,
    method: Option<String>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
}

/// The mock's answer to one JSON-RPC message; it keeps no state (any session id is accepted).
pub fn answer(body: &[u8]) -> Answer {
    let Ok(msg) = serde_json::from_slice::<Incoming>(body) else {
        return error(StatusCode::BAD_REQUEST, &Value::Null, -32700, "Parse error");
    };
    let (Some(id), Some(method)) = (msg.id, msg.method) else {
        // A notification, or an answer to a request the mock never sends.
        return Answer {
            status: StatusCode::ACCEPTED,
            body: Bytes::new(),
            session: None,
        };
    };
    let canned = &*CANNED;
    match method.as_str() {
        "initialize" => Answer {
            session: Some(HeaderValue::from_static(MOCK_SESSION)),
            ..result(&id, &canned.initialize)
        },
        "ping" => result(&id, "{}"),
        "tools/list" => result(&id, &canned.list),
        "tools/call" => match msg.params.and_then(|p| p.name) {
            Some(name) if name == TOOL => result(&id, &canned.call),
            _ => error(StatusCode::OK, &id, -32602, "Unknown tool"),
        },
        _ => error(StatusCode::OK, &id, -32601, "Method not found"),
    }
}

fn result(id: &Value, result: &str) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#
        )),
        session: None,
    }
}

fn error(status: StatusCode, id: &Value, code: i64, message: &str) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    Answer {
        status,
        body: json_bytes(&body),
        session: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use super::*;

    const PHONE: &str = "+44 20 7946 0958";

    #[test]
    fn the_result_text_is_about_300_bytes_and_holds_an_email_and_a_phone_number() {
        let len = RESULT_TEXT.len();
        assert!((250..=350).contains(&len), "{len} bytes");
        assert!(RESULT_TEXT.contains(EMAIL) && RESULT_TEXT.contains(PHONE));
        let mut found: Vec<&str> = seam_policy::Scanner::all()
            .scan(RESULT_TEXT)
            .iter()
            .filter(|f| f.score >= seam_config::policy::DEFAULT_MIN_SCORE)
            .map(|f| f.entity)
            .collect();
        found.sort_unstable();
        assert_eq!(found, ["EMAIL_ADDRESS", "PHONE_NUMBER"]);
    }

    #[test]
    fn the_mock_speaks_the_handshake_and_answers_calls_of_its_tool() {
        let init = answer(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
        assert_eq!(init.status, StatusCode::OK);
        assert_eq!(init.session.unwrap(), MOCK_SESSION);
        let v: Value = serde_json::from_slice(&init.body).unwrap();
        assert_eq!(v["result"]["protocolVersion"], PROTOCOL_VERSION);
        assert_eq!(v["result"]["capabilities"], json!({"tools": {}}));

        let note = answer(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!((note.status, note.body.len()), (StatusCode::ACCEPTED, 0));

        let list = answer(br#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#);
        let v: Value = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(v["id"], "a");
        assert_eq!(v["result"]["tools"][0]["name"], TOOL);
        assert_eq!(v["result"]["tools"][0]["inputSchema"]["type"], "object");

        let call = answer(&call_body(TOOL, 42));
        assert_eq!(call.status, StatusCode::OK);
        assert!(call.session.is_none());
        assert_eq!(check_answer(&call.body, 42), Ok(true));
        let v: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(v["result"]["content"][0]["text"], RESULT_TEXT);
        assert_eq!(v["result"]["isError"], false);

        let unknown = answer(&call_body("nope", 7));
        assert_eq!(check_answer(&unknown.body, 7), Err("jsonrpc_-32602".into()));
        let method = answer(br#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#);
        assert_eq!(check_answer(&method.body, 1), Err("jsonrpc_-32601".into()));
        assert_eq!(answer(b"not json").status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_answer_must_be_a_result_for_its_id_with_a_text() {
        let ok = |text: &str| {
            json!({"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": text}], "isError": false}})
                .to_string()
        };
        assert_eq!(check_answer(ok(RESULT_TEXT).as_bytes(), 3), Ok(true));
        let redacted = RESULT_TEXT.replace(EMAIL, "<EMAIL_ADDRESS>");
        assert_eq!(check_answer(ok(&redacted).as_bytes(), 3), Ok(false));
        assert_eq!(check_answer(ok("x").as_bytes(), 4), Err("wrong_id".into()));
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32005,"message":"down"}}"#,
                "jsonrpc_-32005",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"isError":true}}"#,
                "tool_error",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#,
                "no_text",
            ),
            (r#"{"id":3,"result":{}}"#, "not_jsonrpc"),
            ("event: message\ndata: {}\n\n", "not_json"),
        ];
        for (body, kind) in cases {
            assert_eq!(check_answer(body.as_bytes(), 3), Err(kind.into()), "{body}");
        }
    }

    #[test]
    fn a_call_carries_the_session_and_the_protocol_version() {
        let url: Uri = "http://127.0.0.1:1/mcp".parse().unwrap();
        let session = HeaderValue::from_static("s-1");
        let req = request(&url, call_body("bench__echo", 9), Some(&session));
        assert_eq!(req.headers()[SESSION_HEADER], "s-1");
        assert_eq!(req.headers()[VERSION_HEADER], PROTOCOL_VERSION);
        assert!(
            req.headers()[ACCEPT]
                .to_str()
                .unwrap()
                .contains("text/event-stream")
        );
        let body = call_body("bench__echo", 9);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["params"]["name"], "bench__echo");
        assert_eq!(
            (v["id"].as_u64(), v["method"].as_str()),
            (Some(9), Some("tools/call"))
        );
        let init = request(&url, Bytes::new(), None);
        assert!(init.headers().get(SESSION_HEADER).is_none());
    }
}
