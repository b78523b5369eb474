//! Policies through the HTTP surface: what the upstream receives, what the client gets back, and
//! what refusals look like. The conformance tier covers the same with the `openai` SDK; these
//! cover what it cannot reach (placement, embeddings, earlier tool calls, reload).

use std::sync::Arc;

use axum::http::StatusCode;
use seam_config::Resolver;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};

use super::{call, events};

const EMAIL: &str = "ada.lovelace@example.com";
const CARD: &str = "4111 1111 1111 1111";

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
[audit]
enabled = false
[providers.vendor]
kind = "openai"
base_url = "{url}"
trust = "vendor"
[providers.private]
kind = "openai"
base_url = "{url}"
trust = "private"
[policies.default.input]
pii = {{ action = "tokenize" }}
[policies.sovereign.input]
pii = {{ action = "route_private" }}
[policies.strict.input]
pii = {{ action = "block" }}
[policies.trim.input]
max_input_tokens = 40
on_overflow = "truncate"
[models.vendor-only]
targets = [{{ provider = "vendor", model = "m1" }}]
policy = "sovereign"
[models.both]
strategy = "fallback"
targets = [{{ provider = "vendor", model = "m-vendor" }}, {{ provider = "private", model = "m-private" }}]
policy = "sovereign"
[models.masked]
targets = [{{ provider = "vendor", model = "m-masked" }}]
[models.strict]
targets = [{{ provider = "vendor", model = "m-strict" }}]
policy = "strict"
[models.trim]
targets = [{{ provider = "vendor", model = "m-trim" }}]
policy = "trim"
{extra}
"#,
        url = mock.openai_base_url()
    )
}

fn build(toml: &str, reloader: Option<seam_server::Reloader>) -> axum::Router {
    let r = Resolver {
        env: &|_| None,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let state = Arc::new(
        seam_server::AppState::new(&cfg, reloader, seam_server::metrics::install()).unwrap(),
    );
    seam_server::app(state)
}

fn user(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn route_private_keeps_personal_data_on_private_targets() {
    let mock = MockUpstream::start().await.unwrap();
    let app = build(&config(&mock, ""), None);
    // Without personal data the first (vendor) target answers.
    let (status, headers, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("both", "hello")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-seam-route"], "vendor/m-vendor");
    // With it, only the private target may see the request.
    let text = format!("mail {EMAIL}");
    let (status, headers, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("both", &text)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-seam-route"], "private/m-private");
    assert!(
        headers["x-seam-policy"]
            .to_str()
            .unwrap()
            .contains("EMAIL_ADDRESS:route_private:1")
    );
    // An alias with only vendor targets refuses rather than leak.
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("vendor-only", &text)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("no_eligible_target"), "{body}");
    assert!(!body.contains(EMAIL));
    assert_eq!(mock.hits("m1"), 0);
}

#[tokio::test]
async fn earlier_tool_calls_and_content_parts_are_masked_and_restored() {
    let mock = MockUpstream::start().await.unwrap();
    let app = build(&config(&mock, ""), None);
    let body = json!({
        "model": "masked",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": format!("card {CARD}")}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "lookup", "arguments": json!({"email": EMAIL}).to_string()}}]},
            {"role": "tool", "tool_call_id": "c1", "content": format!("found {EMAIL}")},
        ]
    });
    let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let sent = serde_json::to_string(&mock.requests().pop().unwrap().body).unwrap();
    assert!(!sent.contains(EMAIL) && !sent.contains(CARD), "{sent}");
    assert!(sent.contains("[EMAIL_ADDRESS_1]") && sent.contains("[CREDIT_CARD_1]"));
    // The mock echoes the tool result: the client gets the value back.
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        format!("mock: found {EMAIL}")
    );
}

#[tokio::test]
async fn streams_restore_values_and_release_held_text_at_the_end() {
    let mock = MockUpstream::start().await.unwrap();
    let app = build(&config(&mock, ""), None);
    let mut body = user("masked", &format!("write to {EMAIL} today"));
    body["stream"] = json!(true);
    let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let (chunks, done) = events(&text);
    assert!(done);
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(joined, format!("mock: write to {EMAIL} today"));
}

#[tokio::test]
async fn embeddings_are_masked_or_refused_too() {
    let mock = MockUpstream::start().await.unwrap();
    let app = build(&config(&mock, ""), None);
    let body = json!({"model": "vendor/text-embed", "input": [format!("about {EMAIL}"), "plain"]});
    let (status, headers, text) = call(&app, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(headers.contains_key("x-seam-policy"));
    let sent = mock.requests().pop().unwrap().body;
    assert_eq!(sent["input"], json!(["about [EMAIL_ADDRESS_1]", "plain"]));

    let body = json!({"model": "strict", "input": format!("card {CARD}")});
    let (status, _, text) = call(&app, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("policy_violation") && text.contains("CREDIT_CARD"));
    assert!(!text.contains("4111"));
}

#[tokio::test]
async fn truncation_keeps_system_and_the_last_turn_and_tool_pairs_together() {
    let mock = MockUpstream::start().await.unwrap();
    let app = build(&config(&mock, ""), None);
    let long = "word ".repeat(30);
    let body = json!({
        "model": "trim",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": format!("old {long}")},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": long},
            {"role": "user", "content": "latest question"},
        ]
    });
    let (status, headers, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let sent = mock.requests().pop().unwrap().body;
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"], "{sent}");
    assert_eq!(sent["messages"][1]["content"], "latest question");
    assert!(
        headers["x-seam-policy"]
            .to_str()
            .unwrap()
            .contains("dropped_messages=3")
    );
}

#[tokio::test]
async fn an_alias_without_a_policy_costs_nothing_and_sends_no_header() {
    let mock = MockUpstream::start().await.unwrap();
    let toml = config(
        &mock,
        "[models.plain]\ntargets = [{ provider = \"vendor\", model = \"m-plain\" }]\npolicy = \"none\"\n[policies.none]\n",
    );
    let app = build(&toml, None);
    let (status, headers, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("plain", &format!("mail {EMAIL}"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("x-seam-policy"));
    let sent = serde_json::to_string(&mock.requests().pop().unwrap().body).unwrap();
    assert!(sent.contains(EMAIL));
}

#[tokio::test]
async fn a_reload_with_an_unknown_entity_is_refused_and_the_old_policy_keeps_serving() {
    let mock = MockUpstream::start().await.unwrap();
    let bad = config(
        &mock,
        "[policies.strict.input.entities]\nNOT_AN_ENTITY = \"block\"\n",
    );
    let reloader: seam_server::Reloader = Box::new(move || {
        let r = Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        seam_config::from_toml(&bad, &r).map_err(|e| e.iter().map(ToString::to_string).collect())
    });
    let app = build(&config(&mock, ""), Some(reloader));
    let (status, _, body) = call(&app, "POST", "/admin/reload", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("policies.strict.input.entities.NOT_AN_ENTITY"),
        "{body}"
    );
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("strict", &format!("card {CARD}"))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn limits_on_openai_models_count_with_their_tokenizer() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = r#"
[policies.tight.input]
max_input_tokens = 20
[models.gpt4o]
targets = [{ provider = "vendor", model = "gpt-4o-mini" }]
policy = "tight"
[models.other]
targets = [{ provider = "vendor", model = "llama-3" }]
policy = "tight"
"#;
    let app = build(&config(&mock, extra), None);
    // 11 repetitions of " hello" are 11 tokens in o200k_base but 66 bytes (17 estimated).
    let text = "hello".to_owned() + &" hello".repeat(10);
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("gpt4o", &text)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let long = "hello".to_owned() + &" hello".repeat(20);
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("gpt4o", &long)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("o200k_base") && body.contains("context_length_exceeded"),
        "{body}"
    );
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(user("other", &long)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("(estimate)"), "{body}");
}
