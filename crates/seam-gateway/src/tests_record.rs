//! What the gateway tells the audit trail: the request as sent when every attempt failed, and the
//! client's `model` only after the scanner has seen it (issue 13, points 2 and 6).

use std::path::PathBuf;

use seam_config::Resolver;
use seam_router::Placement;
use seam_types::chat::ChatRequest;
use seam_types::embeddings::EmbeddingsRequest;
use serde_json::json;

use super::*;

const EMAIL: &str = "john.doe@example.org";
const CARD: &str = "4111 1111 1111 1111";

/// One provider nothing listens on (every attempt fails to connect), a tokenizing default
/// policy, and one alias.
fn gateway() -> Gateway {
    let toml = r#"
[providers.dead]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
timeout_ms = 500
[providers.echo]
kind = "echo"
[policies.default.input]
pii = { action = "tokenize" }
[models.chat]
targets = [{ provider = "dead", model = "gpt-x" }]
[models.answered]
targets = [{ provider = "echo", model = "e" }]
"#;
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap();
    Gateway::new(&cfg, &Arc::new(Registry::new())).unwrap()
}

fn carrying_values(model: &str, stream: bool) -> ChatRequest {
    serde_json::from_value(json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": format!("mail {EMAIL}, card {CARD}")}]
    }))
    .unwrap()
}

fn assert_sent_tokenized(f: &Failure) {
    assert!(!f.attempts.is_empty(), "{f:?}");
    let sent = match &f.rewritten {
        Some(Rewritten::Chat(r)) => serde_json::to_string(r).unwrap(),
        Some(Rewritten::Embeddings(r)) => serde_json::to_string(r).unwrap(),
        Some(Rewritten::Json(v)) => v.to_string(),
        None => panic!("the failure does not say what was sent: {f:?}"),
    };
    assert!(!sent.contains(EMAIL) && !sent.contains(CARD), "{sent}");
    assert!(sent.contains("[EMAIL_ADDRESS_1]"), "{sent}");
}

#[tokio::test]
async fn a_failure_after_attempts_carries_the_request_as_sent() {
    let g = gateway();
    let anywhere = Placement::default();
    let f = g
        .chat(&carrying_values("chat", false), &anywhere, None)
        .await
        .err()
        .unwrap();
    assert_sent_tokenized(&f);
    let f = gateway()
        .chat_stream(&carrying_values("chat", true), &anywhere, None)
        .await
        .err()
        .unwrap();
    assert_sent_tokenized(&f);
    let emb: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "chat", "input": format!("mail {EMAIL}")})).unwrap();
    // A fresh registry: the chat attempts above may have opened the target's breaker.
    let f = gateway()
        .embeddings(&emb, &anywhere, None)
        .await
        .err()
        .unwrap();
    assert!(!f.attempts.is_empty());
    match &f.rewritten {
        Some(Rewritten::Embeddings(r)) => {
            let sent = serde_json::to_string(r).unwrap();
            assert!(!sent.contains(EMAIL), "{sent}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failure_of_an_unchanged_request_says_the_clients_went() {
    let g = gateway();
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "chat", "messages": [{"role": "user", "content": "nothing personal"}]
    }))
    .unwrap();
    let f = g
        .chat(&req, &Placement::default(), None)
        .await
        .err()
        .unwrap();
    assert!(!f.attempts.is_empty());
    assert!(f.rewritten.is_none());
}

#[test]
fn configured_model_names_are_kept_and_client_strings_are_masked() {
    let g = gateway();
    let cases: &[(&str, &str)] = &[
        // Names the config chose.
        ("chat", "chat"),
        ("dead/gpt-x", "dead/gpt-x"),
        // Client strings without personal data come through.
        ("dead/gpt-4o-mini", "dead/gpt-4o-mini"),
        ("nosuch", "nosuch"),
        // Values the scanner finds are masked; control characters replaced.
        ("dead/card-0-john.doe@example.org", "dead/[EMAIL_ADDRESS]"),
        ("dead/4111111111111111", "dead/[CREDIT_CARD]"),
        ("dead/a\rb\nc\u{202E}d", "dead/a?b?c?d"),
    ];
    for (model, want) in cases {
        assert_eq!(g.model_for_record(model), *want, "{model:?}");
    }
    let long = format!("dead/{}", "x".repeat(200));
    let kept = g.model_for_record(&long);
    assert_eq!(kept.chars().count(), MAX_RECORDED_MODEL);
    let huge = format!("dead/{}{EMAIL}", "x".repeat(400));
    assert_eq!(g.model_for_record(&huge), "[model of 425 bytes]");
}
