//! Usage and cost: streams ask upstream for usage whether or not the client did, and forward it
//! only when it did; a stream without usage is counted by Seam and marked estimated; spend and
//! tokens are counted by key, team and model; reported usage is held to sanity bounds.
//! (The Prometheus recorder is process-wide, so each test uses aliases and keys of its own.)

use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{app, call, events};

const KEY: &str = "sk-seam-usage-test-key-0123456789abcdef";

async fn metrics(app: &axum::Router) -> String {
    call(app, "GET", "/metrics", None).await.2
}

fn stream(model: &str, include_usage: Option<bool>) -> Value {
    let mut body = json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "a b c d e f"}]});
    if let Some(u) = include_usage {
        body["stream_options"] = json!({"include_usage": u});
    }
    body
}

#[tokio::test]
async fn streams_always_ask_upstream_for_usage_and_forward_it_only_when_asked() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(
        &mock,
        "[models.usage-stream]\ntargets = [{ provider = \"mock\", model = \"gpt-mock\" }]\n",
    );
    for (asked, model) in [
        (None, "usage-stream"),
        (Some(false), "usage-stream"),
        (Some(true), "usage-stream"),
        (None, "anth/claude-x"),
        (Some(true), "anth/claude-x"),
        (None, "echo/e"),
        (Some(true), "echo/e"),
    ] {
        let (status, _, body) = call(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(stream(model, asked)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{model}: {body}");
        let (chunks, done) = events(&body);
        assert!(done, "{model}");
        let with_usage: Vec<&Value> = chunks.iter().filter(|c| c.get("usage").is_some()).collect();
        if asked == Some(true) {
            assert_eq!(with_usage.len(), 1, "{model} {asked:?}: {body}");
            let last = chunks.last().unwrap();
            assert_eq!(last["choices"], json!([]), "{model}: usage comes last");
            assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
        } else {
            assert!(with_usage.is_empty(), "{model} {asked:?}: {body}");
            assert!(
                chunks
                    .iter()
                    .all(|c| !c["choices"].as_array().unwrap().is_empty()),
                "{model} {asked:?}: no usage-only chunk: {body}"
            );
        }
        if !model.contains('/') {
            let sent = mock.requests().pop().unwrap();
            assert_eq!(
                sent.body["stream_options"]["include_usage"], true,
                "{asked:?}: the upstream is always asked"
            );
        }
    }
    // Every one of those streams was accounted with the upstream's counts.
    let text = metrics(&app).await;
    let needle = "seam_tokens_total{key=\"none\",team=\"\",model=\"usage-stream\",kind=\"completion\",source=\"reported\"} ";
    let line = text
        .lines()
        .find(|l| l.starts_with(needle))
        .unwrap_or_else(|| panic!("{text}"));
    // "mock: a b c d e f": 7 words, three streams.
    assert_eq!(line.trim_start_matches(needle), "21");
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_and_marked_so() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(
        &mock,
        "[models.usage-silent]\ntargets = [{ provider = \"mock\", model = \"gpt-4o-mini-no-usage\" }]\n",
    );
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(stream("usage-silent", Some(true))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (chunks, done) = events(&body);
    assert!(done);
    // The upstream sent none, so the client gets none either.
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "{body}");
    let text = metrics(&app).await;
    let prefix = "seam_tokens_total{key=\"none\",team=\"\",model=\"usage-silent\",kind=";
    // o200k_base: "a b c d e f" is 6 tokens, with 4 of framing; "mock: a b c d e f" is 8.
    for (kind, n) in [("prompt", "10"), ("completion", "8")] {
        let needle = format!("{prefix}\"{kind}\",source=\"estimated\"}} {n}");
        assert!(
            text.lines().any(|l| l == needle),
            "missing {needle} in\n{text}"
        );
    }
    assert!(!text.contains(&format!("{prefix}\"prompt\",source=\"reported\"")));
}

async fn keyed(
    app: &axum::Router,
    path: &str,
    body: Value,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {KEY}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn spend_and_tokens_are_counted_by_key_team_and_model() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        r#"
[models.usage-team]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
[models.usage-embed]
targets = [{{ provider = "mock", model = "embed-mock" }}]
[keys.usage-app]
hash = "{hash}"
models = ["usage-*"]
direct = true
team = "payments"
[pricing."mock/gpt-mock"]
input_per_mtok = 1000000.0
output_per_mtok = 2000000.0
[pricing."mock/embed-mock"]
input_per_mtok = 1000000.0
output_per_mtok = 0.0
"#,
        hash = seam_store::keys::hash_secret(KEY)
    );
    let app = app(&mock, &extra);
    let chat = json!({"model": "usage-team", "messages": [{"role": "user", "content": "a b c"}]});
    let (status, headers, body) = keyed(&app, "/v1/chat/completions", chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 3 prompt words at $1 each, "mock: a b c" is 4 completion words at $2.
    assert_eq!(headers["x-seam-cost-usd"], "11.00000000");
    let (status, _, _) = keyed(&app, "/v1/chat/completions", stream("usage-team", None)).await;
    assert_eq!(status, StatusCode::OK);
    let direct = json!({"model": "mock/gpt-mock", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        keyed(&app, "/v1/chat/completions", direct).await.0,
        StatusCode::OK
    );
    let embed = json!({"model": "usage-embed", "input": ["one two", "three"]});
    let (status, _, body) = keyed(&app, "/v1/embeddings", embed).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let text = metrics(&app).await;
    let labels = "key=\"usage-app\",team=\"payments\"";
    for line in [
        // 11 (unary) + 6 + 14 (stream: "a b c d e f" and 7 words).
        format!(
            "seam_spend_microusd_total{{provider=\"mock\",{labels},model=\"usage-team\"}} 31000000"
        ),
        format!(
            "seam_tokens_total{{{labels},model=\"usage-team\",kind=\"prompt\",source=\"reported\"}} 9"
        ),
        format!(
            "seam_tokens_total{{{labels},model=\"usage-team\",kind=\"completion\",source=\"reported\"}} 11"
        ),
        // Direct addressing is labelled with the route that answered.
        format!(
            "seam_tokens_total{{{labels},model=\"mock/gpt-mock\",kind=\"prompt\",source=\"reported\"}} 1"
        ),
        format!(
            "seam_tokens_total{{{labels},model=\"usage-embed\",kind=\"prompt\",source=\"reported\"}} 3"
        ),
        format!(
            "seam_tokens_total{{{labels},model=\"usage-embed\",kind=\"completion\",source=\"reported\"}} 0"
        ),
        format!(
            "seam_spend_microusd_total{{provider=\"mock\",{labels},model=\"usage-embed\"}} 3000000"
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(!text.contains(KEY));
}

#[tokio::test]
async fn reported_usage_beyond_the_requests_limit_is_priced_at_the_limit() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[models.usage-bounded]
targets = [{ provider = "mock", model = "gpt-mock" }]
[pricing."mock/gpt-mock"]
input_per_mtok = 1000000.0
output_per_mtok = 1000000.0
"#;
    let app = app(&mock, extra);
    // The mock answers every word back whatever max_tokens says: 31 completion tokens for a
    // request that allowed 2.
    let words = vec!["w"; 30].join(" ");
    let body = json!({"model": "usage-bounded", "max_tokens": 2,
        "messages": [{"role": "user", "content": words}]});
    let (status, headers, body) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    // The client still sees what the upstream reported; Seam prices 30 + 2.
    assert_eq!(answer["usage"]["completion_tokens"], 31);
    assert_eq!(headers["x-seam-cost-usd"], "32.00000000");
    let text = metrics(&app).await;
    assert!(
        text.lines().any(|l| l.starts_with(
            "seam_usage_anomalies_total{provider=\"mock\",reason=\"completion_over_limit\"}"
        )),
        "{text}"
    );
    assert!(text.lines().any(|l| l
        == "seam_tokens_total{key=\"none\",team=\"\",model=\"usage-bounded\",kind=\"completion\",source=\"reported\"} 2"));
}
