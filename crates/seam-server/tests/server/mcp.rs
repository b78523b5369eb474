//! `/mcp`, the transport: sessions, protocol revisions, JSON-RPC errors with their ids, keys.
//! Calls through upstream servers are in `mcp_calls.rs`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_store::keys::hash_secret;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{TempDir, state_in};

const KEY: &str = "sk-seam-test-mcp-key-0123456789abcdef";
const OTHER: &str = "sk-seam-test-mcp-other-0123456789abcd";

pub(crate) fn app_with(dir: &std::path::Path, extra: &str) -> axum::Router {
    let toml = format!(
        r#"
[storage]
url = "sqlite://mcp.db"
[keys.agent]
hash = "{agent}"
tools = ["*"]
[keys.other]
hash = "{other}"
tools = ["*"]
{extra}
"#,
        agent = hash_secret(KEY),
        other = hash_secret(OTHER),
    );
    seam_server::app(state_in(&toml, dir, &[]))
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub session: Option<String>,
    pub content_type: String,
    pub body: Value,
}

pub(crate) async fn post(
    app: &axum::Router,
    key: Option<&str>,
    session: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        session,
        content_type,
        body,
    }
}

pub(crate) fn rpc(id: i64, method: &str, params: Value) -> Body {
    Body::from(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string())
}

/// `initialize` and `notifications/initialized`: the session id.
pub(crate) async fn open(app: &axum::Router, key: &str) -> String {
    let r = post(
        app,
        Some(key),
        None,
        &[],
        rpc(
            1,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["result"]["protocolVersion"], "2025-06-18");
    let sid = r.session.expect("a session id");
    let n = post(
        app,
        Some(key),
        Some(&sid),
        &[("mcp-protocol-version", "2025-06-18")],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    )
    .await;
    assert_eq!(n.status, StatusCode::ACCEPTED);
    sid
}

#[tokio::test]
async fn a_session_is_created_by_initialize_and_used_by_later_requests() {
    let dir = TempDir::new("mcp");
    let app = app_with(dir.path(), "");
    let sid = open(&app, KEY).await;
    assert_eq!(sid.len(), 32);
    let r = post(&app, Some(KEY), Some(&sid), &[], rpc(2, "ping", json!({}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.body, json!({"jsonrpc": "2.0", "id": 2, "result": {}}));
    // No servers: empty lists, not errors.
    for (method, field) in [
        ("tools/list", "tools"),
        ("prompts/list", "prompts"),
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
    ] {
        let r = post(&app, Some(KEY), Some(&sid), &[], rpc(3, method, json!({}))).await;
        assert_eq!(r.body["result"][field], json!([]), "{method}: {:?}", r.body);
    }
    // An unknown revision in initialize: Seam offers its newest.
    let r = post(
        &app,
        Some(KEY),
        None,
        &[],
        rpc(
            9,
            "initialize",
            json!({"protocolVersion": "1999-01-01", "capabilities": {}}),
        ),
    )
    .await;
    assert_eq!(
        r.body["result"]["protocolVersion"],
        seam_mcp::LATEST_PROTOCOL_VERSION
    );
    assert_eq!(
        r.body["result"]["capabilities"]["tools"]["listChanged"],
        true
    );
}

#[tokio::test]
async fn unknown_expired_and_other_keys_sessions_are_404_and_a_missing_one_is_400() {
    let dir = TempDir::new("mcp");
    let app = app_with(dir.path(), "");
    let sid = open(&app, KEY).await;
    let r = post(
        &app,
        Some(KEY),
        Some("0123abcd"),
        &[],
        rpc(5, "ping", json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["id"], 5);
    assert_eq!(r.body["error"]["code"], -32600);
    // Another key cannot use the session.
    let r = post(
        &app,
        Some(OTHER),
        Some(&sid),
        &[],
        rpc(6, "ping", json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&app, Some(KEY), None, &[], rpc(7, "tools/list", json!({}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["id"], 7);
    // DELETE ends it.
    let del = |key: &str| {
        Request::delete("/mcp")
            .header("authorization", format!("Bearer {key}"))
            .header("mcp-session-id", sid.as_str())
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.clone().oneshot(del(OTHER)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.clone().oneshot(del(KEY)).await.unwrap().status(),
        StatusCode::OK
    );
    let r = post(&app, Some(KEY), Some(&sid), &[], rpc(8, "ping", json!({}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_messages_get_json_rpc_codes_with_their_ids() {
    let dir = TempDir::new("mcp");
    let app = app_with(dir.path(), "");
    let sid = open(&app, KEY).await;
    let r = post(&app, Some(KEY), Some(&sid), &[], "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], -32700);
    assert_eq!(r.body["id"], Value::Null);
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        json!({"jsonrpc": "1.0", "id": "abc", "method": "ping"}).to_string(),
    )
    .await;
    assert_eq!(
        (
            r.status,
            r.body["error"]["code"].clone(),
            r.body["id"].clone()
        ),
        (StatusCode::BAD_REQUEST, json!(-32600), json!("abc"))
    );
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]).to_string(),
    )
    .await;
    assert_eq!(r.body["error"]["code"], -32600);
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        rpc(11, "tools/frobnicate", json!({})),
    )
    .await;
    assert_eq!(
        (
            r.status,
            r.body["error"]["code"].clone(),
            r.body["id"].clone()
        ),
        (StatusCode::OK, json!(-32601), json!(11))
    );
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        rpc(12, "tools/call", json!({"name": 5})),
    )
    .await;
    assert_eq!(
        (r.body["error"]["code"].clone(), r.body["id"].clone()),
        (json!(-32602), json!(12))
    );
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        rpc(
            13,
            "tools/call",
            json!({"name": "nope__tool", "arguments": {}}),
        ),
    )
    .await;
    assert_eq!(r.body["error"]["code"], -32602);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown tool")
    );
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[],
        rpc(14, "tools/list", json!({"cursor": "x"})),
    )
    .await;
    assert_eq!(r.body["error"]["code"], -32602);
    let r = post(
        &app,
        Some(KEY),
        Some(&sid),
        &[("mcp-protocol-version", "2099-01-01")],
        rpc(15, "ping", json!({})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["id"].clone()),
        (StatusCode::BAD_REQUEST, json!(15))
    );
    // The stateless revision's probe: method not found, so clients fall back to initialize.
    let r = post(
        &app,
        Some(KEY),
        None,
        &[("mcp-protocol-version", "2026-07-28")],
        rpc(16, "server/discover", json!({})),
    )
    .await;
    assert_eq!(r.body["error"]["code"], -32601);
}

#[tokio::test]
async fn keys_are_required_and_refusals_are_json_rpc_shaped() {
    let dir = TempDir::new("mcp");
    let app = app_with(dir.path(), "");
    let r = post(&app, None, None, &[], rpc(1, "initialize", json!({}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["jsonrpc"], "2.0");
    assert_eq!(r.body["error"]["code"], -32011);
    assert_eq!(r.body["error"]["data"]["code"], "invalid_api_key");
    let r = post(
        &app,
        Some("sk-seam-wrong"),
        None,
        &[],
        rpc(1, "initialize", json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn get_opens_the_sessions_event_stream() {
    let dir = TempDir::new("mcp");
    let app = app_with(dir.path(), "");
    let sid = open(&app, KEY).await;
    let get = |sid: &str, accept: &str| {
        Request::get("/mcp")
            .header("authorization", format!("Bearer {KEY}"))
            .header("mcp-session-id", sid)
            .header("accept", accept)
            .body(Body::empty())
            .unwrap()
    };
    let resp = app
        .clone()
        .oneshot(get(&sid, "text/event-stream"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let resp = app
        .clone()
        .oneshot(get("feed", "text/event-stream"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app
        .clone()
        .oneshot(get(&sid, "application/json"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn browser_origins_other_than_loopback_and_the_allowed_ones_are_forbidden() {
    let dir = TempDir::new("mcp");
    let app = app_with(
        dir.path(),
        "[mcp]\nallowed_origins = [\"https://console.example.com\"]\n",
    );
    let init = || {
        rpc(
            1,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
        )
    };
    for (origin, ok) in [
        ("http://evil.example:8700", false),
        ("http://localhost.evil.example", false),
        ("null", false),
        ("http://localhost:5173", true),
        ("http://127.0.0.1:8700", true),
        ("http://[::1]:8700", true),
        ("https://console.example.com", true),
        ("https://console.example.com/", true),
    ] {
        let r = post(&app, Some(KEY), None, &[("origin", origin)], init()).await;
        let expected = if ok {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status, expected, "{origin}: {:?}", r.body);
    }
    // Not a browser: no Origin, served.
    let r = post(&app, Some(KEY), None, &[], init()).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Whatever a client posts — bytes, JSON that is almost a message, any method with any params —
/// `/mcp` answers with a JSON-RPC body and a 2xx or 4xx status, never a 5xx.
#[test]
fn any_body_gets_a_json_rpc_answer_never_a_server_error() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = TempDir::new("mcp-fuzz");
    let (app, sid) = rt.block_on(async {
        let app = app_with(dir.path(), "");
        let sid = open(&app, KEY).await;
        (app, sid)
    });
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Body::from),
        (
            prop_oneof![
                Just(json!(1)),
                Just(json!("x")),
                Just(json!(null)),
                Just(json!([1])),
                Just(json!({"a": 1}))
            ],
            prop_oneof![
                Just("ping"),
                Just("tools/list"),
                Just("tools/call"),
                Just("prompts/get"),
                Just("resources/read"),
                Just("initialize"),
                Just("nope"),
                Just("notifications/cancelled"),
            ],
            prop_oneof![
                Just(json!(null)),
                Just(json!({})),
                Just(json!([])),
                Just(json!({"name": 3})),
                Just(json!({"name": "a__b", "arguments": []})),
                Just(json!({"uri": {"x": 1}})),
                Just(json!({"cursor": 5})),
                Just(json!("s")),
                Just(json!({"requestId": [1]})),
            ],
            any::<bool>(),
        )
            .prop_map(|(id, method, params, with_id)| {
                let mut m = json!({"jsonrpc": "2.0", "method": method, "params": params});
                if with_id {
                    m["id"] = id;
                }
                Body::from(m.to_string())
            }),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 128,
        ..Default::default()
    });
    runner
        .run(&body, |b| {
            let r = rt.block_on(post(&app, Some(KEY), Some(&sid), &[], b));
            prop_assert!(r.status.as_u16() < 500, "{:?} {:?}", r.status, r.body);
            if r.status != StatusCode::ACCEPTED {
                prop_assert_eq!(&r.body["jsonrpc"], "2.0", "{:?}", r.body);
            }
            Ok(())
        })
        .unwrap();
}
