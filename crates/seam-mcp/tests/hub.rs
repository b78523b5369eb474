//! The hub against the testkit's mock MCP server, over both transports: what a client of `/mcp`
//! would notice (names, results, errors, restarts, reloads).

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use seam_config::Trust;
use seam_config::mcp::{McpConfig, McpServerConfig, McpTransport};
use seam_mcp::{CallError, Changed, Hub, Kind};
use seam_testkit::mcp::{McpOptions, MockMcp};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

fn http(url: &str) -> McpTransport {
    McpTransport::Http {
        url: url.to_owned(),
        headers: vec![(
            "X-Team".into(),
            seam_config::mcp::HeaderValue::Plain("search".into()),
        )],
    }
}

fn stdio(extra: &[&str]) -> McpTransport {
    let mut args = vec!["--stdio".to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    McpTransport::Stdio {
        command: seam_testkit::mcp::binary()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        args,
        env: vec![],
        cwd: None,
    }
}

fn server(name: &str, transport: McpTransport) -> McpServerConfig {
    McpServerConfig {
        name: name.to_owned(),
        transport,
        trust: Trust::Private,
        policy: None,
        timeout_ms: 5_000,
        max_concurrency: 8,
        breaker: seam_config::BreakerSettings::default(),
        tools: BTreeMap::new(),
    }
}

fn config(servers: Vec<McpServerConfig>) -> McpConfig {
    McpConfig {
        servers: servers.into_iter().map(|s| (s.name.clone(), s)).collect(),
        ..McpConfig::default()
    }
}

/// The server's entry in the admin report.
async fn report(hub: &Hub, name: &str) -> Value {
    let r = hub.report().await;
    r["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap()
}

/// Waits until the server is up (a stdio process has started and shaken hands).
async fn wait_up(hub: &Hub, name: &str) -> Value {
    for _ in 0..200 {
        let r = report(hub, name).await;
        if r["state"] == "up" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{name} never came up: {}", report(hub, name).await);
}

async fn call(hub: &Hub, server: &str, tool: &str, args: Value) -> Result<Value, CallError> {
    hub.call(
        server,
        "tools/call",
        json!({"name": tool, "arguments": args}),
        T,
        None,
    )
    .await
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap()
}

/// Both transports, each as a server named after it.
async fn both() -> (MockMcp, Arc<Hub>) {
    let mock = MockMcp::start().await.unwrap();
    let hub = Hub::new(
        &config(vec![
            server("web", http(&mock.url())),
            server("proc", stdio(&[])),
        ]),
        None,
    );
    wait_up(&hub, "proc").await;
    (mock, hub)
}

#[tokio::test]
async fn tools_prompts_and_resources_are_listed_under_namespaced_names_and_called() {
    let (mock, hub) = both().await;
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(skipped.is_empty(), "{skipped:?}");
    let names: Vec<&str> = tools.iter().map(|e| e.name.as_str()).collect();
    for n in [
        "proc__echo",
        "proc__add",
        "web__echo",
        "web__customer",
        "web__sleep",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let echo = tools.iter().find(|e| e.name == "web__echo").unwrap();
    assert_eq!(&*echo.server, "web");
    assert_eq!(echo.item["name"], "web__echo");
    assert_eq!(echo.item["description"], "Echoes text.");

    for s in ["web", "proc"] {
        let r = call(&hub, s, "echo", json!({"text": "hi"})).await.unwrap();
        assert_eq!(text(&r), "hi");
        let r = call(&hub, s, "add", json!({"a": 2, "b": 3})).await.unwrap();
        assert_eq!(r["structuredContent"], json!({"sum": 5}));
        let r = call(&hub, s, "fail", json!({})).await.unwrap();
        assert_eq!(r["isError"], true);
        let e = call(&hub, s, "nope", json!({})).await.unwrap_err();
        assert!(
            matches!(e, CallError::Remote(ref o) if o.code == -32602),
            "{e:?}"
        );
        let r = hub
            .call(
                s,
                "prompts/get",
                json!({"name": "greet", "arguments": {"name": "Ada"}}),
                T,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r["messages"][0]["content"]["text"], "Hello, Ada!");
        let r = hub
            .call(
                s,
                "resources/read",
                json!({"uri": "mock://items/7"}),
                T,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r["contents"][0]["text"], "item 7");
    }

    // Before any resource list, only locate_resource finds a server.
    assert_eq!(hub.resource_server("mock://items/3"), None);
    assert_eq!(
        hub.locate_resource("mock://items/3").await.as_deref(),
        Some("proc")
    );
    assert_eq!(hub.locate_resource("other://x").await, None);
    let (prompts, _) = hub.list(Kind::Prompts).await;
    assert!(prompts.iter().any(|p| p.name == "web__greet"));
    let (resources, _) = hub.list(Kind::Resources).await;
    let readme = resources.iter().find(|r| &*r.server == "proc").unwrap();
    assert_eq!(
        (
            readme.name.as_str(),
            &readme.item["uri"],
            &readme.item["name"]
        ),
        (
            "proc__readme",
            &json!("mock://readme"),
            &json!("proc__readme")
        )
    );
    let (templates, _) = hub.list(Kind::ResourceTemplates).await;
    assert!(
        templates
            .iter()
            .any(|t| t.item["uriTemplate"] == "mock://items/{id}")
    );
    // Both serve the same URIs: the first in config order wins.
    assert_eq!(
        hub.resource_server("mock://readme").as_deref(),
        Some("proc")
    );
    assert_eq!(
        hub.resource_server("mock://items/9").as_deref(),
        Some("proc")
    );
    assert_eq!(hub.resource_server("other://x"), None);

    // The HTTP upstream got the session and revision headers and our configured header.
    let got = mock.received();
    let init = got
        .iter()
        .find(|r| r.message["method"] == "initialize")
        .unwrap();
    assert_eq!(init.message["params"]["clientInfo"]["name"], "seam");
    assert_eq!(init.session_id, None);
    let later = got
        .iter()
        .find(|r| r.message["method"] == "tools/call")
        .unwrap();
    assert_eq!(
        later.protocol_version.as_deref(),
        Some(seam_mcp::LATEST_PROTOCOL_VERSION)
    );
    assert!(
        later
            .session_id
            .as_deref()
            .unwrap()
            .starts_with("mock-session-")
    );
    assert_eq!(mock.count("notifications/initialized"), 1);

    let r = report(&hub, "web").await;
    assert_eq!(
        (&r["transport"], &r["state"], &r["breaker"]),
        (&json!("http"), &json!("up"), &json!("closed"))
    );
    assert_eq!(r["url"], mock.url());
    assert_eq!(r["server_info"]["name"], "seam-mock-mcp");
    assert!(r["tools"].as_array().unwrap().contains(&json!("web__echo")));
    let r = report(&hub, "proc").await;
    assert_eq!(r["transport"], "stdio");
    assert!(r["command"].as_str().unwrap().ends_with("seam-mock-mcp"));
    assert!(r.get("args").is_none() && r.get("env").is_none());
}

#[tokio::test]
async fn progress_reaches_the_caller_with_its_own_token() {
    let (_mock, hub) = both().await;
    for s in ["web", "proc"] {
        let (tx, mut rx) = mpsc::channel(8);
        let params = json!({"name": "echo", "arguments": {"text": "p"}, "_meta": {"progressToken": "client-tok"}});
        let r = hub
            .call(s, "tools/call", params, T, Some(tx))
            .await
            .unwrap();
        assert_eq!(text(&r), "p");
        let n = rx.recv().await.unwrap();
        assert_eq!(n["method"], "notifications/progress");
        assert_eq!(n["params"]["progressToken"], "client-tok", "{s}");
    }
}

#[tokio::test]
async fn a_timeout_leaves_the_connection_usable_and_cancels_upstream() {
    let (mock, hub) = both().await;
    for s in ["web", "proc"] {
        let e = hub
            .call(
                s,
                "tools/call",
                json!({"name": "sleep", "arguments": {"ms": 400}}),
                Duration::from_millis(50),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(
            e,
            CallError::Timeout {
                server: s.into(),
                ms: 50
            }
        );
        let r = call(&hub, s, "echo", json!({"text": "after"}))
            .await
            .unwrap();
        assert_eq!(text(&r), "after");
    }
    for _ in 0..100 {
        if mock.count("notifications/cancelled") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = mock
        .received()
        .into_iter()
        .find(|r| r.message["method"] == "notifications/cancelled");
    assert!(cancelled.unwrap().message["params"]["requestId"].is_u64());
    // The late answer of the stdio sleep is discarded without harm.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        text(
            &call(&hub, "proc", "echo", json!({"text": "x"}))
                .await
                .unwrap()
        ),
        "x"
    );
}

#[tokio::test]
async fn answers_past_the_size_cap_are_refused() {
    let mock = MockMcp::start().await.unwrap();
    let mut cfg = config(vec![
        server("web", http(&mock.url())),
        server("proc", stdio(&[])),
    ]);
    cfg.max_result_bytes = 2_000;
    let hub = Hub::new(&cfg, None);
    wait_up(&hub, "proc").await;
    for s in ["web", "proc"] {
        let e = call(&hub, s, "big", json!({"bytes": 5_000}))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            CallError::TooLarge {
                server: s.into(),
                limit: 2_000
            }
        );
        assert_eq!(
            text(&call(&hub, s, "big", json!({"bytes": 100})).await.unwrap()).len(),
            100
        );
        // Streamed (SSE on HTTP) answers are capped too.
        let params =
            json!({"name": "big", "arguments": {"bytes": 5_000}, "_meta": {"progressToken": 1}});
        let e = hub
            .call(s, "tools/call", params, T, None)
            .await
            .unwrap_err();
        assert!(matches!(e, CallError::TooLarge { .. }), "{e:?}");
    }
}

#[tokio::test]
async fn a_full_server_refuses_at_once() {
    let mock = MockMcp::start().await.unwrap();
    let mut web = server("web", http(&mock.url()));
    web.max_concurrency = 1;
    let hub = Hub::new(&config(vec![web]), None);
    let busy = {
        let hub = Arc::clone(&hub);
        tokio::spawn(async move { call(&hub, "web", "sleep", json!({"ms": 300})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = call(&hub, "web", "echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Overloaded("web".into()));
    // Lists are not held up by the cap.
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(skipped.is_empty() && !tools.is_empty());
    assert!(busy.await.unwrap().is_ok());
    assert!(
        call(&hub, "web", "echo", json!({"text": "x"}))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_breaker_opens_after_failures_but_not_on_tool_errors() {
    let (_mock, hub) = both().await;
    for _ in 0..10 {
        assert!(call(&hub, "web", "fail", json!({})).await.is_ok());
        assert!(matches!(
            call(&hub, "web", "nope", json!({})).await,
            Err(CallError::Remote(_))
        ));
    }
    for _ in 0..5 {
        let e = hub
            .call(
                "web",
                "tools/call",
                json!({"name": "sleep", "arguments": {"ms": 200}}),
                Duration::from_millis(20),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CallError::Timeout { .. }));
    }
    let e = call(&hub, "web", "echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    let CallError::Unavailable { reason, .. } = e else {
        panic!("{e:?}")
    };
    assert!(reason.contains("circuit breaker"), "{reason}");
    assert_eq!(report(&hub, "web").await["breaker"], "open");
    assert!(
        call(&hub, "proc", "echo", json!({"text": "x"}))
            .await
            .is_ok(),
        "other servers go on"
    );
}

#[tokio::test]
async fn a_crashed_process_is_restarted() {
    let hub = Hub::new(&config(vec![server("proc", stdio(&[]))]), None);
    let before = wait_up(&hub, "proc").await;
    let e = call(&hub, "proc", "crash", json!({})).await.unwrap_err();
    assert!(matches!(e, CallError::Unavailable { .. }), "{e:?}");
    // While it restarts, calls fail at once.
    let started = std::time::Instant::now();
    let e = call(&hub, "proc", "echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(e, CallError::Unavailable { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(100));
    let after = wait_up(&hub, "proc").await;
    assert_eq!(
        text(
            &call(&hub, "proc", "echo", json!({"text": "back"}))
                .await
                .unwrap()
        ),
        "back"
    );
    assert_eq!(after["restarts"], 1);
    assert_ne!(after["pid"], before["pid"]);
    assert!(after["last_error"].as_str().unwrap().contains("exited"));
    assert_eq!(after["breaker"], "closed");
}

#[tokio::test]
async fn a_down_server_is_skipped_with_a_reason() {
    let mock = MockMcp::start().await.unwrap();
    let hub = Hub::new(
        &config(vec![
            server("down", http("http://127.0.0.1:1/mcp?token=secret")),
            server("web", http(&mock.url())),
        ]),
        None,
    );
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(tools.iter().all(|t| &*t.server == "web") && !tools.is_empty());
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, "down");
    assert!(skipped[0].1.contains("connect"), "{}", skipped[0].1);
    let r = report(&hub, "down").await;
    assert_eq!(
        (&r["state"], &r["url"]),
        (&json!("down"), &json!("http://127.0.0.1:1/mcp"))
    );
    let e = call(&hub, "down", "echo", json!({})).await.unwrap_err();
    assert!(matches!(e, CallError::Unavailable { .. }), "{e:?}");
    assert_eq!(
        call(&hub, "nowhere", "echo", json!({})).await.unwrap_err(),
        CallError::UnknownServer("nowhere".into())
    );
}

#[tokio::test]
async fn a_reload_keeps_unchanged_servers_and_tells_subscribers() {
    let mock = MockMcp::start().await.unwrap();
    let first = Hub::new(&config(vec![server("proc", stdio(&[]))]), None);
    let pid = wait_up(&first, "proc").await["pid"].clone();
    let mut changes = first.subscribe();

    let second = Hub::new(
        &config(vec![
            server("proc", stdio(&[])),
            server("web", http(&mock.url())),
        ]),
        Some(&first),
    );
    drop(first);
    assert_eq!(report(&second, "proc").await["pid"], pid, "same process");
    for c in [Changed::Tools, Changed::Prompts, Changed::Resources] {
        assert_eq!(changes.recv().await.unwrap(), c);
    }
    let (tools, _) = second.list(Kind::Tools).await;
    assert!(tools.iter().any(|t| t.name == "web__echo"));

    // Unchanged again: no news. Changed config: a new process.
    let third = Hub::new(
        &config(vec![
            server("proc", stdio(&[])),
            server("web", http(&mock.url())),
        ]),
        Some(&second),
    );
    assert!(changes.try_recv().is_err(), "nothing changed");
    let mut slower = server("proc", stdio(&[]));
    slower.timeout_ms = 6_000;
    let fourth = Hub::new(&config(vec![slower]), Some(&third));
    drop((second, third));
    let r = wait_up(&fourth, "proc").await;
    assert_ne!(r["pid"], pid);
    assert!(fourth.report().await["servers"].as_array().unwrap().len() == 1);
}

#[tokio::test]
async fn list_changed_refreshes_the_cached_list() {
    let (mock, hub) = both().await;
    let mut changes = hub.subscribe();
    let (tools, _) = hub.list(Kind::Tools).await;
    assert!(!tools.iter().any(|t| t.name.ends_with("__extra")));
    // stdio: the notification arrives on stdout.
    call(&hub, "proc", "grow", json!({"name": "extra"}))
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap(), Changed::Tools);
    // HTTP: on the call's own event stream…
    let params =
        json!({"name": "grow", "arguments": {"name": "extra"}, "_meta": {"progressToken": 5}});
    hub.call("web", "tools/call", params, T, None)
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap(), Changed::Tools);
    let (tools, _) = hub.list(Kind::Tools).await;
    assert!(tools.iter().any(|t| t.name == "proc__extra"));
    assert!(tools.iter().any(|t| t.name == "web__extra"));
    // …or on the session's GET stream.
    wait_for(|| mock.streams() == 1).await;
    call(&hub, "web", "grow", json!({"name": "more"}))
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap(), Changed::Tools);
    let (tools, _) = hub.list(Kind::Tools).await;
    assert!(tools.iter().any(|t| t.name == "web__more"));
    mock.broadcast(&json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"}));
    assert_eq!(changes.recv().await.unwrap(), Changed::Prompts);
}

async fn wait_for(ready: impl Fn() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting");
}

#[tokio::test]
async fn a_server_without_a_get_stream_still_works() {
    let opts = McpOptions {
        refuse_get: true,
        ..McpOptions::default()
    };
    let mock = MockMcp::start_on("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let hub = Hub::new(&config(vec![server("web", http(&mock.url()))]), None);
    for i in 0..3 {
        let r = call(&hub, "web", "echo", json!({"text": i.to_string()})).await;
        assert_eq!(text(&r.unwrap()), i.to_string());
    }
    assert_eq!(mock.streams(), 0);
    assert_eq!(report(&hub, "web").await["state"], "up");
}

#[tokio::test]
async fn long_lists_are_read_page_by_page() {
    let opts = McpOptions {
        page_size: Some(3),
        ..McpOptions::default()
    };
    let mock = MockMcp::start_on("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let hub = Hub::new(
        &config(vec![
            server("web", http(&mock.url())),
            server("proc", stdio(&["--page-size", "2"])),
        ]),
        None,
    );
    wait_up(&hub, "proc").await;
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(skipped.is_empty(), "{skipped:?}");
    for s in ["web", "proc"] {
        assert_eq!(tools.iter().filter(|t| &*t.server == s).count(), 8, "{s}");
    }
    assert_eq!(mock.count("tools/list"), 3);
    // Cached: a second list does not ask again.
    hub.list(Kind::Tools).await;
    assert_eq!(mock.count("tools/list"), 3);
}

#[tokio::test]
async fn an_expired_session_is_begun_again() {
    let mock = MockMcp::start().await.unwrap();
    let hub = Hub::new(&config(vec![server("web", http(&mock.url()))]), None);
    assert!(
        call(&hub, "web", "echo", json!({"text": "1"}))
            .await
            .is_ok()
    );
    mock.expire_sessions();
    assert_eq!(
        text(
            &call(&hub, "web", "echo", json!({"text": "2"}))
                .await
                .unwrap()
        ),
        "2"
    );
    assert_eq!(mock.count("initialize"), 2);
}

#[tokio::test]
async fn a_dropped_hub_ends_its_http_sessions() {
    let mock = MockMcp::start().await.unwrap();
    let hub = Hub::new(&config(vec![server("web", http(&mock.url()))]), None);
    assert!(
        call(&hub, "web", "echo", json!({"text": "1"}))
            .await
            .is_ok()
    );
    assert_eq!(mock.sessions(), 1);
    wait_for(|| mock.streams() == 1).await;
    drop(hub);
    wait_for(|| mock.sessions() == 0 && mock.streams() == 0).await;
}

#[tokio::test]
async fn a_server_speaking_an_unknown_revision_is_refused() {
    let opts = McpOptions {
        protocol_version: Some("2099-01-01".into()),
        ..McpOptions::default()
    };
    let mock = MockMcp::start_on("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let hub = Hub::new(&config(vec![server("web", http(&mock.url()))]), None);
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(tools.is_empty());
    assert!(skipped[0].1.contains("2099-01-01"), "{skipped:?}");
    let e = call(&hub, "web", "echo", json!({})).await.unwrap_err();
    assert!(matches!(e, CallError::Protocol { .. }), "{e:?}");
    assert_eq!(report(&hub, "web").await["state"], "down");
}

#[tokio::test]
async fn a_policy_or_trust_change_keeps_the_process() {
    let first = Hub::new(&config(vec![server("proc", stdio(&[]))]), None);
    let pid = wait_up(&first, "proc").await["pid"].clone();
    let mut changes = first.subscribe();
    let mut edited = server("proc", stdio(&[]));
    edited.trust = Trust::Vendor;
    edited.policy = Some("strict".into());
    let second = Hub::new(&config(vec![edited]), Some(&first));
    drop(first);
    let r = report(&second, "proc").await;
    assert_eq!((&r["pid"], &r["trust"]), (&pid, &json!("vendor")));
    assert_eq!(
        second.server("proc").unwrap().policy.as_deref(),
        Some("strict")
    );
    assert!(changes.try_recv().is_err(), "no list changed");
}

/// Against servers written with the Python SDK (what most MCP servers are built on), over both
/// transports. Needs its interpreter: `SEAM_MCP_PYTHON=/path/to/venv/bin/python cargo test -p
/// seam-mcp -- --ignored`.
#[tokio::test]
#[ignore = "needs the Python mcp SDK (set SEAM_MCP_PYTHON)"]
async fn python_sdk_servers_interoperate() {
    let python = std::env::var("SEAM_MCP_PYTHON").expect("SEAM_MCP_PYTHON");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/interop_server.py"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut http_server = tokio::process::Command::new(&python)
        .args([script, "http", &port.to_string()])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdio_server = McpTransport::Stdio {
        command: python.clone(),
        args: vec![script.to_owned()],
        env: vec![],
        cwd: None,
    };
    // The HTTP server takes a moment to listen.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{port}/mcp");
    let hub = Hub::new(
        &config(vec![
            server("pyhttp", http(&url)),
            server("pystdio", stdio_server),
        ]),
        None,
    );
    wait_up(&hub, "pystdio").await;
    let (tools, skipped) = hub.list(Kind::Tools).await;
    assert!(skipped.is_empty(), "{skipped:?}");
    for s in ["pyhttp", "pystdio"] {
        assert!(
            tools.iter().any(|t| t.name == format!("{s}__shout")),
            "{tools:?}"
        );
        let r = call(&hub, s, "shout", json!({"text": "hi"})).await.unwrap();
        assert_eq!(text(&r), "HI");
        let (tx, mut rx) = mpsc::channel(8);
        let params =
            json!({"name": "slow", "arguments": {"n": 3}, "_meta": {"progressToken": "pt"}});
        let r = hub
            .call(s, "tools/call", params, T, Some(tx))
            .await
            .unwrap();
        assert_eq!(text(&r), "done 3");
        assert_eq!(
            rx.recv().await.unwrap()["params"]["progressToken"],
            "pt",
            "{s}"
        );
        let r = hub
            .call(
                s,
                "resources/read",
                json!({"uri": "py://things/4"}),
                T,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r["contents"][0]["text"], "thing 4");
        let r = hub
            .call(
                s,
                "prompts/get",
                json!({"name": "hello", "arguments": {"name": "Ada"}}),
                T,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r["messages"][0]["content"]["text"], "Hello Ada");
    }
    let (templates, _) = hub.list(Kind::ResourceTemplates).await;
    assert!(
        templates.iter().any(|t| t.name == "pyhttp__thing"),
        "{templates:?}"
    );
    assert_eq!(
        hub.resource_server("py://things/1").as_deref(),
        Some("pyhttp")
    );
    assert_eq!(
        report(&hub, "pyhttp").await["server_info"]["name"],
        "py-interop"
    );
    let _ = http_server.kill().await;
}
