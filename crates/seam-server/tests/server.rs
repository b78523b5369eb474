//! The HTTP surface through the axum router (no socket on Seam's side), against the testkit mock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_config::Resolver;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "server/admin_keys.rs"]
mod admin_keys;
#[path = "server/audit.rs"]
mod audit;
#[path = "server/audit_outcomes.rs"]
mod audit_outcomes;
#[path = "server/auth.rs"]
mod auth;
#[path = "server/cache.rs"]
mod cache;
#[path = "server/console.rs"]
mod console;
#[path = "server/console_stats.rs"]
mod console_stats;
#[path = "server/conversations.rs"]
mod conversations;
#[path = "server/evaluators.rs"]
mod evaluators;
#[path = "server/governed.rs"]
mod governed;
#[path = "server/labels.rs"]
mod labels;
#[path = "server/limits.rs"]
mod limits;
#[path = "server/mcp.rs"]
mod mcp;
#[path = "server/mcp_calls.rs"]
mod mcp_calls;
#[path = "server/placement.rs"]
mod placement;
#[path = "server/policy.rs"]
mod policy;
#[path = "server/ready.rs"]
mod ready;
#[path = "server/routing.rs"]
mod routing;
#[path = "server/semantic_cache.rs"]
mod semantic_cache;
#[path = "server/slow.rs"]
mod slow;
#[path = "server/usage.rs"]
mod usage;

const SECRET: &str = "sk-test-never-logged";

/// The admin key of the servers the admin, auth and console tests build.
const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// A fresh folder for one test's config-relative files (store, spool), removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "seam-{what}-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server `toml` describes, its relative paths under `dir` and `env:NAME` read from `vars`.
fn state_in(
    toml: &str,
    dir: &std::path::Path,
    vars: &[(&str, &str)],
) -> std::sync::Arc<seam_server::AppState> {
    let env = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let r = Resolver {
        env: &env,
        base_dir: dir.to_path_buf(),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    std::sync::Arc::new(
        seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap(),
    )
}

fn app(mock: &MockUpstream, extra: &str) -> axum::Router {
    let toml = format!(
        r#"
[server]
max_body_bytes = 4096
[audit]
enabled = false
[providers.mock]
kind = "openai"
base_url = "{openai}"
api_key = "env:MOCK_KEY"
timeout_ms = 400
first_token_timeout_ms = 1500
stream_idle_timeout_ms = 400
[providers.anth]
kind = "anthropic"
base_url = "{base}"
api_key = "env:MOCK_KEY"
[providers.echo]
kind = "echo"
[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
[models.resilient]
targets = [{{ provider = "mock", model = "fault-503" }}, {{ provider = "mock", model = "gpt-mock" }}]
{extra}
"#,
        openai = mock.openai_base_url(),
        base = mock.base_url(),
    );
    let env = |k: &str| (k == "MOCK_KEY").then(|| SECRET.to_owned());
    let r = Resolver {
        env: &env,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(&toml, &r).unwrap();
    let state = seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap();
    seam_server::app(std::sync::Arc::new(state))
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "a b c d e f"}]})
}

#[tokio::test]
async fn forwards_the_clients_body_with_only_model_replaced_and_seams_credential() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let body = json!({
        "model": "gpt",
        "messages": [{"role": "user", "content": "hi", "name": "ann"}],
        "seed": 7,
        "logit_bias": {"50256": -100},
        "vendor_extension": {"deep": [1, {"x": null}]},
        "temperature": 0.25
    });
    let (status, headers, _) = call(&app, "POST", "/v1/chat/completions", Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-seam-route"], "mock/gpt-mock");
    let sent = mock.requests().pop().unwrap();
    let mut expect = body;
    expect["model"] = json!("gpt-mock");
    assert_eq!(sent.body, expect);
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[tokio::test]
async fn anthropic_requests_carry_its_headers() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("anth/claude-x", false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(SECRET));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.body["model"], "claude-x");
    assert!(sent.body["max_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn fallback_skips_a_failing_target_and_says_so() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let (status, headers, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("resilient", false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-seam-attempts"], "2");
    assert_eq!(mock.hits("fault-503"), 1);
    assert_eq!(mock.hits("gpt-mock"), 1);
}

#[tokio::test]
async fn a_non_retryable_4xx_is_returned_without_trying_further() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(
        &mock,
        "[models.two]\ntargets = [{ provider = \"mock\", model = \"fault-400\" }, { provider = \"mock\", model = \"gpt-mock\" }]\n",
    );
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("two", false)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["x-seam-attempts"], "1");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "mock_bad_request");
    assert_eq!(mock.hits("gpt-mock"), 0);
}

/// The events of an SSE body, and whether it ended with `[DONE]`.
fn events(body: &str) -> (Vec<Value>, bool) {
    let mut out = Vec::new();
    let mut done = false;
    for ev in body.split("\n\n").filter(|e| !e.is_empty()) {
        let data = ev.strip_prefix("data: ").unwrap();
        if data == "[DONE]" {
            done = true;
        } else {
            out.push(serde_json::from_str(data).unwrap());
        }
    }
    (out, done)
}

#[tokio::test]
async fn a_stream_that_dies_mid_way_ends_with_an_error_event_and_no_done() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    for model in [
        "mock/fault-cut-stream-3",
        "mock/fault-abort-stream-3",
        "mock/fault-slow-stream-600",
        "anth/fault-abort-stream-3",
    ] {
        let (status, headers, body) = call(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(chat(model, true)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{model}");
        assert_eq!(headers["content-type"], "text/event-stream");
        let (events, done) = events(&body);
        assert!(!done, "{model}: a failed stream must not end with [DONE]");
        let last = events.last().unwrap();
        assert_eq!(
            last["error"]["code"], "stream_interrupted",
            "{model}: {body}"
        );
        assert!(
            events.len() > 1,
            "{model}: chunks before the failure were delivered"
        );
    }
}

#[tokio::test]
async fn a_complete_stream_ends_with_done() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    for model in ["gpt", "anth/claude", "echo/e"] {
        let (_, _, body) = call(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(chat(model, true)),
        )
        .await;
        let (events, done) = events(&body);
        assert!(done, "{model}");
        assert!(events.iter().all(|e| e.get("error").is_none()));
    }
}

#[tokio::test]
async fn bodies_over_the_cap_are_413_even_without_content_length() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let big = json!({"model": "gpt", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let (status, _, body) = call(&app, "POST", "/v1/chat/completions", Some(big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("request_too_large"));
    // A chunked body declares no length; the cap still holds while reading.
    let chunks = futures_util::stream::iter(
        big.to_string()
            .into_bytes()
            .chunks(1000)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let req = Request::post("/v1/chat/completions")
        .body(Body::from_stream(chunks))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(mock.requests().len(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn every_response_has_a_request_id_and_unknown_routes_are_openai_shaped() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let (status, headers, body) = call(&app, "GET", "/v2/whatever", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-seam-request-id"].len(), 32);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "not_found"
    );
    let (status, _, body) = call(&app, "GET", "/v1/chat/completions", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn anthropic_rejects_n_greater_than_one_clearly() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let mut req = chat("anth/claude", false);
    req["n"] = json!(2);
    let (status, _, body) = call(&app, "POST", "/v1/chat/completions", Some(req)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unsupported_parameter"), "{body}");
    assert_eq!(mock.requests().len(), 0);
}

#[tokio::test]
async fn metrics_expose_overhead_ttft_and_tokens() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("gpt", false)),
    )
    .await;
    call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("gpt", true)),
    )
    .await;
    let (status, headers, text) = call(&app, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for needle in [
        "seam_gateway_overhead_seconds_bucket{endpoint=\"chat_completions\"",
        "seam_time_to_first_token_seconds_bucket{provider=\"mock\",model=\"gpt-mock\"",
        "seam_upstream_tokens_total{provider=\"mock\",model=\"gpt-mock\",kind=\"completion\"}",
        "seam_tokens_total{key=\"none\",team=\"\",model=\"gpt\",kind=\"completion\",source=\"reported\"}",
        "seam_requests_total{endpoint=\"chat_completions\",status=\"200\"}",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    assert!(!text.contains(SECRET));
}
