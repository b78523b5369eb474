//! The mock upstream as a client sees it: every wire format, every fault, the request log, and the
//! `seam-mock` binary, all over real sockets.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] fns fail the test the same way; clippy exempts only the fns"
)]

// One test binary (one link), split by subject; the files live in `mock/`.
#[path = "mock/anthropic_routes.rs"]
mod anthropic_routes;
#[path = "mock/azure_routes.rs"]
mod azure_routes;
#[path = "mock/bedrock_routes.rs"]
mod bedrock_routes;
#[path = "mock/faults.rs"]
mod faults;
#[path = "mock/gemini_routes.rs"]
mod gemini_routes;
#[path = "mock/openai_routes.rs"]
mod openai_routes;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use seam_testkit::MockUpstream;
use serde_json::{Value, json};

/// The chat route, relative to `openai_base_url()`.
const CHAT: &str = "/chat/completions";

fn client() -> reqwest::Client {
    // reqwest is built without a TLS provider; plain http never uses it, but building the client
    // wants one installed. `Err` means one already is.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn start() -> MockUpstream {
    MockUpstream::start().await.unwrap()
}

/// A whole response, read.
struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// POSTs `body` as JSON with `headers` and reads the whole answer.
async fn post(url: String, headers: &[(&str, &str)], body: &Value) -> Got {
    let mut req = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    Got {
        status,
        headers,
        text,
    }
}

/// POSTs to an OpenAI route (`/chat/completions`, …) with a bearer key.
async fn openai(mock: &MockUpstream, route: &str, body: Value) -> Got {
    let url = format!("{}{route}", mock.openai_base_url());
    post(url, &[("authorization", "Bearer sk-test")], &body).await
}

const ANTHROPIC_HEADERS: [(&str, &str); 2] = [
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];

/// POSTs to `/v1/messages` with the headers Anthropic requires.
async fn anthropic(mock: &MockUpstream, body: Value) -> Got {
    let url = format!("{}/v1/messages", mock.base_url());
    post(url, &ANTHROPIC_HEADERS, &body).await
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text},
    ]})
}

fn chat_stream(model: &str, text: &str) -> Value {
    let mut body = chat(model, text);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body
}

fn messages(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream, "system": "be brief",
           "messages": [{"role": "user", "content": text}]})
}

/// Events of an event stream as (event name, data).
fn sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut name = None;
            let mut data = String::new();
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, data)
        })
        .collect()
}

/// The `data` of each OpenAI chunk, `[DONE]` left out.
fn chunks(text: &str) -> Vec<Value> {
    sse(text)
        .into_iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(&d).unwrap())
        .collect()
}

fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn event_names(text: &str) -> Vec<String> {
    sse(text).into_iter().map(|(n, _)| n.unwrap()).collect()
}

fn text_deltas(text: &str) -> String {
    sse(text)
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn requests_and_hits_are_recorded() {
    let mock = start().await;
    openai(&mock, CHAT, chat("primary", "x")).await;
    openai(&mock, CHAT, chat("fault-503", "x")).await;
    anthropic(&mock, messages("primary", "y", false)).await;
    assert_eq!(mock.hits("primary"), 2);
    assert_eq!(mock.hits("fault-503"), 1);
    assert_eq!(mock.hits("never"), 0);

    let seen = mock.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].body, chat("primary", "x"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(seen[2].path, "/v1/messages");
    assert_eq!(seen[2].header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(seen[2].model(), Some("primary"));

    mock.clear();
    assert!(mock.requests().is_empty());
    assert_eq!(mock.hits("primary"), 0);
}

/// Sends `method` to an inspection route and reads the answer.
async fn inspect(mock: &MockUpstream, method: reqwest::Method, route: &str) -> Got {
    let url = format!("{}/__mock/{route}", mock.base_url());
    let resp = client().request(method, url).send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    Got {
        status,
        headers,
        text,
    }
}

#[tokio::test]
async fn the_request_log_is_served_over_http_and_not_recorded() {
    let mock = start().await;
    openai(&mock, CHAT, chat("primary", "x")).await;
    let url = format!("{}/v1beta/models/gem%2Dx:generateContent", mock.base_url());
    post(url, &[("x-goog-api-key", "k")], &json!({"contents": []})).await;

    let got = inspect(&mock, reqwest::Method::GET, "requests").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    let requests = got.json()["requests"].clone();
    let [first, second] = requests.as_array().unwrap().as_slice() else {
        panic!("{requests}")
    };
    assert_eq!(first["seq"], 0);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/v1/chat/completions");
    assert_eq!(first["path_model"], Value::Null);
    assert_eq!(first["headers"]["authorization"], "Bearer sk-test");
    assert_eq!(first["body"], chat("primary", "x"));
    assert_eq!(second["seq"], 1);
    assert_eq!(second["path_model"], "gem-x");
    assert_eq!(second["headers"]["x-goog-api-key"], "k");

    // Neither the GET above nor these reach the log.
    let unknown = inspect(&mock, reqwest::Method::GET, "nothing").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(mock.requests().len(), 2);

    let deleted = inspect(&mock, reqwest::Method::DELETE, "requests").await;
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert!(mock.requests().is_empty());
    assert_eq!(mock.hits("primary"), 0);
    let got = inspect(&mock, reqwest::Method::GET, "requests").await;
    assert_eq!(got.json(), json!({"requests": []}));
}

#[tokio::test]
async fn dropping_the_mock_stops_it() {
    let mock = start().await;
    let addr = mock.addr();
    assert_eq!(openai(&mock, CHAT, chat("m", "x")).await.status, 200);
    drop(mock);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn seam_mock_binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam-mock"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let read_line = move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    };
    let line = tokio::task::spawn_blocking(read_line)
        .await
        .unwrap()
        .unwrap();
    let base = line
        .strip_prefix("listening on ")
        .and_then(|l| l.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let got = post(format!("{base}/v1{CHAT}"), &[], &chat("m", "from python")).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        got.json()["choices"][0]["message"]["content"],
        "mock: from python"
    );
}
