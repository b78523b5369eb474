//! The fault-injection suite for routing: every failure the router must survive, streaming and
//! not, asserting what the client sees, how many attempts were made and which targets were tried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use seam_config::Resolver;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};

use super::{call, events};

/// Two providers on the same mock (so breakers, caps and trust differ per provider) plus `extra`.
fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
[audit]
enabled = false
[routing]
max_attempts = 2
backoff_base_ms = 10
backoff_max_ms = 20
[providers.a]
kind = "openai"
base_url = "{url}"
trust = "private"
region = "eu"
timeout_ms = 300
first_token_timeout_ms = 300
stream_idle_timeout_ms = 300
breaker = {{ consecutive_failures = 3, open_ms = 60000 }}
[providers.b]
kind = "openai"
base_url = "{url}"
region = "us"
timeout_ms = 300
first_token_timeout_ms = 300
{extra}
"#,
        url = mock.openai_base_url()
    )
}

fn build(
    toml: &str,
    reloader: Option<seam_server::Reloader>,
) -> (axum::Router, seam_server::SharedState) {
    let r = Resolver {
        env: &|_| None,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let state = Arc::new(
        seam_server::AppState::new(&cfg, reloader, seam_server::metrics::install()).unwrap(),
    );
    (seam_server::app(state.clone()), state)
}

fn app(mock: &MockUpstream, extra: &str) -> axum::Router {
    build(&config(mock, extra), None).0
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "one two three four"}]})
}

/// Every failure before the first byte is survived by falling back to the next target, with the
/// reason and attempt count saying what happened — for unary requests and streams alike.
#[tokio::test]
async fn every_pre_answer_failure_falls_back_to_the_next_target() {
    let mock = MockUpstream::start().await.unwrap();
    let faults = [
        ("fault-500", "returned 500"),
        ("fault-503", "returned 503"),
        ("fault-429", "returned 429"),
        ("fault-reset", "could not connect"),
        ("fault-slow-first-byte-1000", "timed out waiting for the"),
        ("fault-truncated-json", "sent an invalid response"),
        (
            "fault-cut-stream-0",
            "ended its stream before the first chunk",
        ),
    ];
    let mut extra = String::new();
    for (i, (fault, _)) in faults.iter().enumerate() {
        extra.push_str(&format!(
            "[models.f{i}]\nmax_attempts = 3\ntargets = [{{ provider = \"b\", model = \"{fault}\" }}, {{ provider = \"b\", model = \"gpt-mock\" }}]\n"
        ));
    }
    let app = app(&mock, &extra);
    for stream in [false, true] {
        for (i, (fault, why)) in faults.iter().enumerate() {
            if *fault == "fault-cut-stream-0" && !stream {
                continue; // a stream fault; unary requests answer normally
            }
            if *fault == "fault-truncated-json" && stream {
                continue; // on a stream the mock sends a good chunk first: a mid-stream failure
            }
            let (status, headers, body) = call(
                &app,
                "POST",
                "/v1/chat/completions",
                Some(chat(&format!("f{i}"), stream)),
            )
            .await;
            let ctx = format!("{fault} stream={stream}: {body}");
            assert_eq!(status, StatusCode::OK, "{ctx}");
            assert_eq!(headers["x-seam-route"], "b/gpt-mock", "{ctx}");
            assert_eq!(headers["x-seam-attempts"], "2", "{ctx}");
            let reason = headers["x-seam-route-reason"].to_str().unwrap();
            assert!(
                reason.starts_with(&format!("fallback: b/{fault} {why}")),
                "{ctx}: {reason}"
            );
            if stream {
                let (evs, done) = events(&body);
                assert!(done, "{ctx}");
                let text: String = evs
                    .iter()
                    .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
                    .collect();
                assert_eq!(text, "mock: one two three four", "{ctx}");
            } else {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(
                    v["choices"][0]["message"]["content"], "mock: one two three four",
                    "{ctx}"
                );
            }
        }
    }
}

#[tokio::test]
async fn when_every_attempt_fails_the_client_gets_the_last_error_and_the_story() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("b/fault-503", false)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        headers["x-seam-attempts"], "2",
        "max_attempts from [routing]"
    );
    assert_eq!(
        headers["x-seam-route-reason"],
        "fallback: b/fault-503 returned 503, b/fault-503 returned 503"
    );
    assert_eq!(mock.hits("fault-503"), 2);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "upstream_error");

    // A stream that fails before its first chunk is a status error, not a broken stream.
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("b/fault-cut-stream-0", true)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_passed_through() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock, "");
    let start = std::time::Instant::now();
    let (status, headers, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("b/fault-429", false)),
    )
    .await;
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "waited for retry-after: 1"
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["x-seam-attempts"], "2");
}

#[tokio::test]
async fn an_open_breaker_skips_its_target_and_shows_in_admin_and_metrics() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = "[models.m]\ntargets = [{ provider = \"a\", model = \"fault-500\" }, { provider = \"b\", model = \"gpt-mock\" }]\n";
    let app = app(&mock, extra);
    for _ in 0..3 {
        let (status, _, _) =
            call(&app, "POST", "/v1/chat/completions", Some(chat("m", false))).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        mock.hits("fault-500"),
        3,
        "three consecutive failures open a's breaker"
    );
    let (status, headers, _) =
        call(&app, "POST", "/v1/chat/completions", Some(chat("m", true))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mock.hits("fault-500"), 3, "not tried while open");
    assert_eq!(
        headers["x-seam-route-reason"],
        "fallback: a/fault-500 circuit open"
    );
    assert_eq!(headers["x-seam-attempts"], "1");

    let (_, _, body) = call(&app, "GET", "/admin/targets", None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let t = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "a/fault-500")
        .unwrap()
        .clone();
    assert_eq!(t["breaker"], "open");
    assert_eq!(t["failed"], 3);
    let (_, _, metrics) = call(&app, "GET", "/metrics", None).await;
    assert!(
        metrics.contains("seam_breaker_state{provider=\"a\",model=\"fault-500\"} 2"),
        "breaker gauge"
    );

    // Alone behind an open breaker: fail fast with a clear code and retry-after.
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("a/fault-500", false)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("no_healthy_target"));
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn placement_never_sends_to_a_violating_target() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[models.eu-private]
placement = { trust = ["private"], regions = ["eu"] }
targets = [{ provider = "b", model = "vendor-model" }, { provider = "a", model = "fault-500" }]
"#;
    let app = app(&mock, extra);
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("eu-private", false)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(
        mock.hits("vendor-model"),
        0,
        "the vendor target is never tried"
    );
    assert_eq!(headers["x-seam-attempts"], "2");
}

#[tokio::test]
async fn burst_fills_the_private_target_then_spills_exactly_the_overflow() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[providers.local]
kind = "openai"
base_url = "URL"
trust = "private"
max_concurrency = 2
max_queue = 0
[models.hybrid]
strategy = "burst"
max_attempts = 1
targets = [{ provider = "b", model = "fault-slow-first-byte-200" }, { provider = "local", model = "fault-slow-first-byte-200" }]
"#
    .replace("URL", &mock.openai_base_url());
    let app = app(&mock, &extra);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let (status, headers, _) = call(
                &app,
                "POST",
                "/v1/chat/completions",
                Some(chat("hybrid", false)),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            headers["x-seam-route"].to_str().unwrap().to_owned()
        }));
    }
    let mut routes: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        *routes.entry(t.await.unwrap()).or_default() += 1;
    }
    assert_eq!(routes["local/fault-slow-first-byte-200"], 2, "{routes:?}");
    assert_eq!(routes["b/fault-slow-first-byte-200"], 4, "{routes:?}");
}

#[tokio::test]
async fn a_full_provider_with_a_full_queue_sheds_with_503_and_retry_after() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[providers.tiny]
kind = "openai"
base_url = "URL"
max_concurrency = 1
max_queue = 0
"#
    .replace("URL", &mock.openai_base_url());
    let app = app(&mock, &extra);
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/v1/chat/completions",
                Some(chat("tiny/fault-slow-first-byte-300", false)),
            )
            .await
            .0
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("tiny/m", false)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("\"overloaded\""));
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    // Health endpoints answer while the provider is saturated.
    let (status, _, _) = call(&app, "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn weighted_and_least_latency_split_traffic_as_configured() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[models.w]
strategy = "weighted"
targets = [{ provider = "b", model = "heavy", weight = 3 }, { provider = "b", model = "light", weight = 1 }]
[models.fast]
strategy = "least_latency"
targets = [{ provider = "b", model = "fault-slow-first-byte-40" }, { provider = "b", model = "quick" }]
"#;
    let app = app(&mock, extra);
    for _ in 0..200 {
        call(&app, "POST", "/v1/chat/completions", Some(chat("w", false))).await;
    }
    let heavy = mock.hits("heavy") as f64 / 200.0;
    assert!((0.63..0.87).contains(&heavy), "heavy got {heavy}");
    for _ in 0..10 {
        call(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(chat("fast", false)),
        )
        .await;
    }
    let before = mock.hits("quick");
    for _ in 0..10 {
        let (_, headers, _) = call(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(chat("fast", false)),
        )
        .await;
        assert!(
            headers["x-seam-route-reason"]
                .to_str()
                .unwrap()
                .starts_with("least_latency: b/quick")
        );
    }
    assert_eq!(
        mock.hits("quick") - before,
        10,
        "once both are measured, the faster always leads"
    );
}

#[tokio::test]
async fn reload_swaps_routes_and_refuses_a_bad_config() {
    let mock = MockUpstream::start().await.unwrap();
    let text = Arc::new(Mutex::new(config(
        &mock,
        "[models.old]\ntargets = [{ provider = \"b\", model = \"m\" }]\n",
    )));
    let source = text.clone();
    let reloader: seam_server::Reloader = Box::new(move || {
        let r = Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        let t = source.lock().unwrap().clone();
        seam_config::from_toml(&t, &r).map_err(|e| e.iter().map(ToString::to_string).collect())
    });
    let (app, _) = build(&text.lock().unwrap().clone(), Some(reloader));
    *text.lock().unwrap() = config(
        &mock,
        "[models.new]\ntargets = [{ provider = \"b\", model = \"m\" }]\n",
    );
    let (status, _, body) = call(&app, "POST", "/admin/reload", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["models"],
        json!(["new"])
    );
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("new", false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("old", false)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    *text.lock().unwrap() =
        "[models.broken]\ntargets = [{ provider = \"nope\", model = \"m\" }]\n".into();
    let (status, _, body) = call(&app, "POST", "/admin/reload", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_config");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("models.broken.targets[0].provider")
    );
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(chat("new", false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the previous config keeps serving");
}
