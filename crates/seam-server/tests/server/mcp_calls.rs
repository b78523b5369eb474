//! `/mcp` in front of upstream MCP servers (the testkit's mock, over streamable HTTP and stdio):
//! aggregation under namespaced names, key scopes, policy on arguments and results, limits,
//! timeouts, size caps and the audit record of every call.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_store::keys::hash_secret;
use seam_testkit::mcp::{
    CUSTOMER_API_KEY, CUSTOMER_CARD, CUSTOMER_EMAIL, MockMcp, PLANTED_ID, PLANTED_NOTE,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::TempDir;
use super::mcp::{open, post, rpc};

const FULL: &str = "sk-seam-test-mcp-full-0123456789abcdef";
const NARROW: &str = "sk-seam-test-mcp-narrow-0123456789abcd";
const PRIVATE_ONLY: &str = "sk-seam-test-mcp-private-0123456789ab";
const ADMIN: &str = "admin-key-0123456789abcdef";

fn app(dir: &std::path::Path, mock: &MockMcp, extra: &str) -> axum::Router {
    let toml = format!(
        r#"
[storage]
url = "sqlite://mcp.db"
[audit]
master_key = "env:MASTER"
default_class = "full"
[admin]
key = "env:ADMIN"
[policies.tools.input]
secrets = {{ action = "block" }}
[policies.tools.output]
pii = {{ action = "redact" }}
secrets = {{ action = "redact" }}
[mcp]
max_result_bytes = 65536
[mcp.servers.crm]
url = "{url}"
policy = "tools"
timeout_ms = 300
[mcp.servers.crm.tools.echo]
rpm = 3
[mcp.servers.open]
url = "{url}"
trust = "private"
[keys.full]
hash = "{full}"
tools = ["*"]
rpm = 1000
[keys.narrow]
hash = "{narrow}"
tools = ["crm__c*", "crm__add"]
[keys.private]
hash = "{private}"
tools = ["*"]
placement = "trust=private"
{extra}
"#,
        url = mock.url(),
        full = hash_secret(FULL),
        narrow = hash_secret(NARROW),
        private = hash_secret(PRIVATE_ONLY),
    );
    let vars = [
        ("MASTER", "Y29uZm9ybWFuY2UtYXVkaXQta2V5LTMyLWJ5dGVzISE="),
        ("ADMIN", ADMIN),
    ];
    seam_server::app(super::state_in(&toml, dir, &vars))
}

async fn call(app: &axum::Router, key: &str, sid: &str, name: &str, args: Value) -> Value {
    let params = json!({"name": name, "arguments": args});
    ask(app, key, sid, 7, "tools/call", params).await
}

/// One request of session `sid` with key `key`: the JSON-RPC answer.
async fn ask(
    app: &axum::Router,
    key: &str,
    sid: &str,
    id: i64,
    method: &str,
    params: Value,
) -> Value {
    post(app, Some(key), Some(sid), &[], rpc(id, method, params))
        .await
        .body
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list["result"][field]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin_get(app: &axum::Router, path: &str) -> Value {
    let req = Request::get(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn tools_are_aggregated_scoped_called_and_recorded() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let list = ask(&app, FULL, &sid, 2, "tools/list", json!({})).await;
    let all = names(&list, "tools");
    assert!(
        all.contains(&"crm__echo".to_owned()) && all.contains(&"open__echo".to_owned()),
        "{all:?}"
    );
    let r = call(&app, FULL, &sid, "crm__add", json!({"a": 2, "b": 3})).await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 5.0, "{r}");
    // The upstream got its own name, not the namespaced one.
    let got: Vec<_> = mock
        .received()
        .into_iter()
        .filter(|m| m.message["method"] == "tools/call")
        .collect();
    assert_eq!(got.last().unwrap().message["params"]["name"], "add");

    // The narrow key sees and calls only its globs; the rest does not exist for it.
    let nsid = open(&app, NARROW).await;
    let list = ask(&app, NARROW, &nsid, 3, "tools/list", json!({})).await;
    let mut seen = names(&list, "tools");
    seen.sort();
    assert_eq!(seen, ["crm__add", "crm__crash", "crm__customer"]);
    let r = call(&app, NARROW, &nsid, "crm__echo", json!({"text": "hi"})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r = call(&app, NARROW, &nsid, "open__add", json!({"a": 1, "b": 1})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // A key held to private servers sees only `open`.
    let psid = open(&app, PRIVATE_ONLY).await;
    let list = ask(&app, PRIVATE_ONLY, &psid, 3, "tools/list", json!({})).await;
    assert!(
        names(&list, "tools")
            .iter()
            .all(|n| n.starts_with("open__")),
        "{list}"
    );

    // Every call is a tool_call record in the chain.
    let audit = admin_get(&app, "/admin/audit?kind=tool_call").await;
    let recs = audit["records"].as_array().unwrap();
    assert!(recs.len() >= 3, "{audit}");
    assert!(
        recs.iter()
            .any(|r| r["model"] == "crm__add" && r["status"] == 200 && r["route"] == "mcp:crm")
    );
    assert!(
        recs.iter()
            .any(|r| r["status"] != 200 || r["error_code"].is_string())
    );
}

#[tokio::test]
async fn results_are_redacted_and_secret_arguments_refused_without_values_anywhere() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let r = call(&app, FULL, &sid, "crm__customer", json!({"id": "c-1"})).await;
    let text = r["result"].to_string();
    for value in [CUSTOMER_EMAIL, CUSTOMER_CARD, CUSTOMER_API_KEY] {
        assert!(!text.contains(value), "{value} reached the client: {text}");
    }
    assert!(text.contains("<EMAIL_ADDRESS>"), "{text}");
    // The same tool on a server without a policy: as the tool wrote it.
    let r = call(&app, FULL, &sid, "open__customer", json!({"id": "c-1"})).await;
    assert!(r["result"].to_string().contains(CUSTOMER_EMAIL));

    let before = mock.count("tools/call");
    let r = call(
        &app,
        FULL,
        &sid,
        "crm__echo",
        json!({"text": format!("use {CUSTOMER_API_KEY}")}),
    )
    .await;
    assert_eq!(r["error"]["code"], -32001, "{r}");
    assert_eq!(r["error"]["data"]["code"], "policy_violation");
    assert!(!r.to_string().contains(CUSTOMER_API_KEY));
    assert_eq!(
        mock.count("tools/call"),
        before,
        "a refused call never reaches the server"
    );

    let audit = admin_get(&app, "/admin/audit?kind=tool_call").await;
    let refused = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["error_code"] == "policy_violation")
        .unwrap();
    assert!(
        !refused.to_string().contains(CUSTOMER_API_KEY),
        "a secret reached the audit trail: {refused}"
    );
    // The governed call keeps what the client got: redacted.
    let governed = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "crm__customer")
        .unwrap();
    assert!(!governed.to_string().contains(CUSTOMER_EMAIL), "{governed}");
    assert!(refused.to_string().contains("SECRET"), "{refused}");
}

#[tokio::test]
async fn limits_timeouts_size_caps_and_tool_errors_are_json_rpc_errors_and_the_session_goes_on() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    // A tool's own rpm (3 per minute per key).
    for _ in 0..3 {
        let r = call(&app, FULL, &sid, "crm__echo", json!({"text": "x"})).await;
        assert!(r["result"].is_object(), "{r}");
    }
    let r = call(&app, FULL, &sid, "crm__echo", json!({"text": "x"})).await;
    assert_eq!(r["error"]["code"], -32004, "{r}");
    assert!(r["error"]["data"]["retry_after_ms"].as_u64().unwrap() > 0);
    // Hangs past the timeout: an error, and the session still works.
    let r = call(&app, FULL, &sid, "crm__sleep", json!({"ms": 2000})).await;
    assert_eq!(r["error"]["code"], -32006, "{r}");
    let r = call(&app, FULL, &sid, "crm__add", json!({"a": 1, "b": 1})).await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 2.0, "{r}");
    // Larger than max_result_bytes.
    let r = call(&app, FULL, &sid, "crm__big", json!({"bytes": 200_000})).await;
    assert_eq!(r["error"]["code"], -32007, "{r}");
    // A tool's own failure is its result.
    let r = call(&app, FULL, &sid, "crm__fail", json!({})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
}

#[tokio::test]
async fn prompts_and_resources_are_served_scoped_and_governed() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let prompts = ask(&app, FULL, &sid, 2, "prompts/list", json!({})).await;
    assert!(
        names(&prompts, "prompts").contains(&"crm__greet".to_owned()),
        "{prompts}"
    );
    let get = json!({"name": "crm__greet", "arguments": {"name": "Ada"}});
    let r = ask(&app, FULL, &sid, 3, "prompts/get", get).await;
    // The prompt came back through the output policy: the name in it is personal data.
    assert!(
        r["result"]["messages"]
            .to_string()
            .contains("Hello, <PERSON>!"),
        "{r}"
    );
    let res = ask(&app, FULL, &sid, 4, "resources/list", json!({})).await;
    assert!(res.to_string().contains("mock://readme"), "{res}");
    let r = ask(
        &app,
        FULL,
        &sid,
        5,
        "resources/read",
        json!({"uri": "mock://readme"}),
    )
    .await;
    assert!(r["result"]["contents"].is_array(), "{r}");
    let t = ask(&app, FULL, &sid, 6, "resources/templates/list", json!({})).await;
    assert!(t.to_string().contains("mock://items/{id}"), "{t}");
    let r = ask(
        &app,
        FULL,
        &sid,
        7,
        "resources/read",
        json!({"uri": "mock://items/42"}),
    )
    .await;
    assert!(r["result"]["contents"].is_array(), "{r}");
    let r = ask(
        &app,
        FULL,
        &sid,
        8,
        "resources/read",
        json!({"uri": "other://x"}),
    )
    .await;
    assert_eq!(r["error"]["code"], -32002, "{r}");
    // The narrow key may not see prompts or resources it has no glob for.
    let nsid = open(&app, NARROW).await;
    let r = ask(
        &app,
        NARROW,
        &nsid,
        9,
        "resources/read",
        json!({"uri": "mock://readme"}),
    )
    .await;
    assert_eq!(r["error"]["code"], -32002, "{r}");
    let r = ask(
        &app,
        NARROW,
        &nsid,
        9,
        "prompts/get",
        json!({"name": "crm__greet"}),
    )
    .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[tokio::test]
async fn a_server_that_is_down_is_left_out_of_lists_not_a_failed_list() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let extra = "[mcp.servers.gone]\nurl = \"http://127.0.0.1:9/mcp\"\ntimeout_ms = 300\n";
    let app = app(dir.path(), &mock, extra);
    let sid = open(&app, FULL).await;
    let list = ask(&app, FULL, &sid, 2, "tools/list", json!({})).await;
    assert!(
        names(&list, "tools").iter().any(|n| n.starts_with("crm__")),
        "{list}"
    );
    assert_eq!(
        list["result"]["_meta"]["seam/unavailable_servers"],
        json!(["gone"])
    );
    let admin = admin_get(&app, "/admin/mcp").await;
    let servers = admin["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{admin}");
    assert_eq!(admin["sessions"], 1);
}

#[tokio::test]
async fn progress_is_streamed_as_events_ending_with_the_result() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {FULL}"))
        .header("mcp-session-id", &sid)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(rpc(
            21,
            "tools/call",
            json!({"name": "crm__echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": "p-1"}}),
        ))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["method"] == "notifications/progress"
                && e["params"]["progressToken"] == "p-1"),
        "{text}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["id"], 21);
    assert!(last["result"].is_object(), "{text}");
}

#[tokio::test]
async fn a_reload_adds_a_stdio_server_which_is_restarted_when_it_dies_and_sessions_survive() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let bin = seam_testkit::mcp::binary().unwrap();
    let base = format!(
        "[keys.full]\nhash = \"{}\"\ntools = [\"*\"]\n[mcp.servers.crm]\nurl = \"{}\"\n",
        hash_secret(FULL),
        mock.url()
    );
    let with_files = format!(
        "{base}[mcp.servers.files]\ncommand = \"{}\"\nargs = [\"--stdio\"]\ntimeout_ms = 2000\n",
        bin.display()
    );
    let second = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&second);
    let base_dir = dir.path().to_path_buf();
    let (b, w) = (base.clone(), with_files.clone());
    let load = move || {
        let text = if flag.load(std::sync::atomic::Ordering::SeqCst) {
            &w
        } else {
            &b
        };
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: base_dir.clone(),
        };
        seam_config::from_toml(text, &r).map_err(|e| e.iter().map(ToString::to_string).collect())
    };
    let cfg = load().unwrap();
    let state = std::sync::Arc::new(
        seam_server::AppState::new(&cfg, Some(Box::new(load)), seam_server::metrics::install())
            .unwrap(),
    );
    let app = seam_server::app(std::sync::Arc::clone(&state));
    let sid = open(&app, FULL).await;
    let list = ask(&app, FULL, &sid, 2, "tools/list", json!({})).await;
    assert!(
        names(&list, "tools").iter().all(|n| n.starts_with("crm__")),
        "{list}"
    );

    second.store(true, std::sync::atomic::Ordering::SeqCst);
    state.reload().unwrap();
    // The same session sees the new server's tools.
    let list = ask(&app, FULL, &sid, 3, "tools/list", json!({})).await;
    assert!(
        names(&list, "tools").contains(&"files__echo".to_owned()),
        "{list}"
    );
    let r = call(&app, FULL, &sid, "files__echo", json!({"text": "before"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "before", "{r}");
    // The process dies mid-session; Seam restarts it and the session goes on.
    let r = call(&app, FULL, &sid, "files__crash", json!({})).await;
    assert!(r["error"].is_object(), "{r}");
    let mut answered = None;
    for _ in 0..60 {
        let r = call(&app, FULL, &sid, "files__echo", json!({"text": "after"})).await;
        if r["result"].is_object() {
            answered = Some(r);
            break;
        }
        assert_eq!(
            r["error"]["code"], -32005,
            "only 'unavailable' while it restarts: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = answered.expect("the stdio server came back");
    assert_eq!(r["result"]["content"][0]["text"], "after");
    let admin = state.live().mcp.report().await;
    let files = admin["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "files")
        .unwrap()
        .clone();
    assert!(files["restarts"].as_u64().unwrap() >= 1, "{files}");
}

#[tokio::test]
async fn a_call_the_client_cancels_stops_and_the_server_is_told() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let started = std::time::Instant::now();
    let (a, s) = (app.clone(), sid.clone());
    let slow = tokio::spawn(async move {
        post(
            &a,
            Some(FULL),
            Some(&s),
            &[],
            rpc(
                77,
                "tools/call",
                json!({"name": "open__sleep", "arguments": {"ms": 5000}}),
            ),
        )
        .await
        .body
    });
    // Once the server has the call, the client cancels it.
    for _ in 0..100 {
        if mock.count("tools/call") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let n = post(
        &app,
        Some(FULL),
        Some(&sid),
        &[],
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77}})
            .to_string(),
    )
    .await;
    assert_eq!(n.status, StatusCode::ACCEPTED);
    let r = slow.await.unwrap();
    assert_eq!(r["error"]["code"], -32800, "{r}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    for _ in 0..100 {
        if mock.count("notifications/cancelled") > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the tool server was not told of the cancellation");
}

#[tokio::test]
async fn a_streamed_call_is_cancellable_too() {
    let dir = TempDir::new("mcp-calls");
    let mock = MockMcp::start().await.unwrap();
    let app = app(dir.path(), &mock, "");
    let sid = open(&app, FULL).await;
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {FULL}"))
        .header("mcp-session-id", &sid)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(rpc(
            88,
            "tools/call",
            json!({"name": "open__sleep", "arguments": {"ms": 5000}, "_meta": {"progressToken": 5}}),
        ))
        .unwrap();
    let started = std::time::Instant::now();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    for _ in 0..100 {
        if mock.count("tools/call") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let cancel =
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 88}});
    assert_eq!(
        post(&app, Some(FULL), Some(&sid), &[], cancel.to_string())
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("-32800"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

/// A sentence no part of the injection assessment takes for an attack.
const NEUTRAL: &str =
    "The quarterly report moved to Thursday; the figures are in the shared folder.";

/// One server, `web`, under a policy whose injection rule `action`s at 0.5.
fn injection_app(dir: &std::path::Path, mock: &MockMcp, action: &str) -> axum::Router {
    let toml = format!(
        r#"
[storage]
url = "sqlite://mcp.db"
[audit]
master_key = "env:MASTER"
default_class = "full"
[admin]
key = "env:ADMIN"
[policies.guard.input]
injection = {{ action = "{action}", threshold = 0.5 }}
[mcp.servers.web]
url = "{url}"
policy = "guard"
[keys.full]
hash = "{full}"
tools = ["*"]
"#,
        url = mock.url(),
        full = hash_secret(FULL),
    );
    let vars = [
        ("MASTER", "Y29uZm9ybWFuY2UtYXVkaXQta2V5LTMyLWJ5dGVzISE="),
        ("ADMIN", ADMIN),
    ];
    seam_server::app(super::state_in(&toml, dir, &vars))
}

/// The injection finding of the tool call record of `model` (`None`: the record has none).
async fn injection_finding(app: &axum::Router, model: &str) -> (Value, Option<Value>) {
    let audit = admin_get(app, "/admin/audit?kind=tool_call").await;
    let rec = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no record of {model}: {audit}"))
        .clone();
    let finding = rec["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "PROMPT_INJECTION")
        .cloned();
    (rec, finding)
}

#[tokio::test]
async fn a_result_carrying_an_injection_is_flagged_and_recorded_with_score_and_part() {
    let dir = TempDir::new("mcp-injection");
    let mock = MockMcp::start().await.unwrap();
    let app = injection_app(dir.path(), &mock, "flag");
    let sid = open(&app, FULL).await;
    // A plain answer: scored, nothing over the threshold, no finding.
    let r = call(&app, FULL, &sid, "web__echo", json!({"text": NEUTRAL})).await;
    assert!(r["result"].is_object(), "{r}");
    assert_eq!(injection_finding(&app, "web__echo").await.1, None);
    // The planted note: the arguments are clean, the result is not; flagged, passed on.
    let r = call(&app, FULL, &sid, "web__customer", json!({"id": PLANTED_ID})).await;
    assert!(r["result"].to_string().contains(PLANTED_NOTE), "{r}");
    assert_ne!(r["result"]["isError"], true);
    let (rec, f) = injection_finding(&app, "web__customer").await;
    let f = f.unwrap_or_else(|| panic!("no injection finding: {rec}"));
    assert_eq!(f["stage"], "output", "{f}");
    assert_eq!(f["action"], "flag", "{f}");
    assert_eq!(f["source"], "mcp_result", "{f}");
    assert!(f["score"].as_f64().unwrap() >= 0.5, "{f}");
    assert!(f["by"] == "heuristic" || f["by"] == "classifier", "{f}");
    assert_eq!(rec["status"], 200);
}

#[tokio::test]
async fn a_result_carrying_an_injection_is_withheld_under_block() {
    let dir = TempDir::new("mcp-injection");
    let mock = MockMcp::start().await.unwrap();
    let app = injection_app(dir.path(), &mock, "block");
    let sid = open(&app, FULL).await;
    // A tool's result: a tool error the agent's model reads, saying why, never what.
    let r = call(&app, FULL, &sid, "web__customer", json!({"id": PLANTED_ID})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("withheld") && text.contains("prompt injection"),
        "{text}"
    );
    assert!(!r.to_string().contains("previous instructions"), "{r}");
    let (rec, f) = injection_finding(&app, "web__customer").await;
    let f = f.unwrap_or_else(|| panic!("no injection finding: {rec}"));
    assert_eq!(
        (&f["stage"], &f["action"]),
        (&json!("output"), &json!("block"))
    );
    assert_eq!(rec["error_code"], "policy_violation", "{rec}");
    assert!(!rec.to_string().contains("previous instructions"), "{rec}");
    // A resource's contents: a JSON-RPC policy error.
    let r = ask(
        &app,
        FULL,
        &sid,
        8,
        "resources/read",
        json!({"uri": "mock://items/planted"}),
    )
    .await;
    assert_eq!(r["error"]["code"], -32001, "{r}");
    assert_eq!(r["error"]["data"]["code"], "policy_violation");
    assert!(!r.to_string().contains("previous instructions"), "{r}");
    // A clean answer under the same rule goes through.
    let r = ask(
        &app,
        FULL,
        &sid,
        9,
        "resources/read",
        json!({"uri": "mock://readme"}),
    )
    .await;
    assert!(r["result"]["contents"].is_array(), "{r}");
    let r = call(&app, FULL, &sid, "web__echo", json!({"text": NEUTRAL})).await;
    assert_ne!(r["result"]["isError"], true, "{r}");
}
