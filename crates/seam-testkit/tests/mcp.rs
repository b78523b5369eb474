//! The `seam-mock-mcp` binary as an out-of-process client sees it (the Python suite and the
//! benchmark): the address line, a session over HTTP, and stdio. The protocol itself is
//! exercised through Seam's own MCP client in `seam-mcp`'s tests.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

#[tokio::test]
async fn the_binary_prints_its_url_and_serves_sessions() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam-mock-mcp"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let url = line
        .strip_prefix("listening on ")
        .and_then(|l| l.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let post = |body: Value, session: Option<&str>| {
        let mut req = client
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let resp = post(initialize(), None).await.unwrap();
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let init: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hi"}}});
    assert_eq!(post(call.clone(), None).await.unwrap().status(), 400);
    assert_eq!(
        post(call.clone(), Some("nope")).await.unwrap().status(),
        404
    );
    let got = post(call, Some(&session)).await.unwrap();
    let got: Value = serde_json::from_slice(&got.bytes().await.unwrap()).unwrap();
    assert_eq!(got["result"]["content"][0]["text"], "hi");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_binary_speaks_stdio() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam-mock-mcp"))
        .args(["--stdio", "--page-size", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    writeln!(stdin, "{}\n{list}", initialize()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id = |id: u64| lines.iter().find(|l| l["id"] == id).unwrap();
    assert_eq!(by_id(1)["result"]["serverInfo"]["name"], "seam-mock-mcp");
    assert_eq!(by_id(2)["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(by_id(2)["result"]["nextCursor"], "2");
}
