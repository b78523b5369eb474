//! Issue 13, point 5: every string a request carries to the vendor, and every string an answer
//! brings back, passes the policy — not only message content and tool-call arguments.

use std::sync::Arc;

use axum::http::StatusCode;
use seam_config::Resolver;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};

use super::{call, events};

/// Planted in every field. Plain forms; the encoded ones (`ada.lovelace%40example.com`, HTML
/// entities, `\u0040`) join this table with the normaliser that decodes them.
/// Plain, and in encodings something downstream decodes (percent-encoding, HTML references).
const CANARIES: &[&str] = &[
    "ada.lovelace@example.com",
    "4111 1111 1111 1111",
    "ada.lovelace%40example.com",
    "ada.lovelace&#64;example&period;com",
    "4111%201111%201111%201111",
    "&#52;111 1111 1111 1111",
];

fn app(mock: &MockUpstream) -> axum::Router {
    let toml = format!(
        r#"
[audit]
enabled = false
[providers.vendor]
kind = "openai"
base_url = "{url}"
[policies.tok.input]
pii = {{ action = "tokenize" }}
[policies.red.output]
pii = {{ action = "redact" }}
[models.plain]
targets = [{{ provider = "vendor", model = "m-plain" }}]
policy = "tok"
[models.tok-canary]
targets = [{{ provider = "vendor", model = "canary-fields-tok" }}]
policy = "tok"
[models.red-canary]
targets = [{{ provider = "vendor", model = "canary-fields-red" }}]
policy = "red"
"#,
        url = mock.openai_base_url()
    );
    let r = Resolver {
        env: &|_| None,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(&toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let state = seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap();
    seam_server::app(Arc::new(state))
}

/// A chat request with `v` in every string field that can carry text.
fn everywhere(model: &str, v: &str) -> Value {
    json!({
        "model": model,
        "user": v,
        "metadata": {"customer": v},
        "unknown_top": {"nested": [v]},
        "stop": [format!("end {v}")],
        "messages": [
            {"role": "system", "content": format!("sys {v}"), "name": v},
            {"role": "user", "name": v, "content": [
                {"type": "text", "text": format!("hi {v}"), "x_part": v},
                {"type": "image_url", "image_url": {"url": format!("https://x.test/?u={v}")}}
            ]},
            {"role": "assistant", "content": null, "refusal": v, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "lookup", "arguments": json!({"q": v}).to_string()}}]},
            {"role": "tool", "tool_call_id": "c1", "content": format!("r {v}")},
            {"role": "user", "content": format!("now {v}")}
        ],
        "tools": [{"type": "function", "function": {
            "name": "lookup", "description": format!("finds {v}"),
            "parameters": {"type": "object", "properties": {"q": {"type": "string",
                "description": format!("e.g. {v}"), "enum": [v], "default": v}}}
        }}],
        "tool_choice": "none"
    })
}

#[tokio::test]
async fn no_string_of_a_request_reaches_the_vendor_in_clear() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock);
    for v in CANARIES {
        for stream in [false, true] {
            let mut body = everywhere("plain", v);
            body["stream"] = json!(stream);
            let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let sent = mock.requests().pop().unwrap().body;
            let raw = sent.to_string();
            assert!(!raw.contains(v), "{v} reached the vendor: {raw}");
            assert!(
                sent["user"].as_str().unwrap().starts_with("<USER:"),
                "{sent}"
            );
            assert_eq!(sent["tools"][0]["function"]["name"], "lookup");
            assert_eq!(sent["messages"][2]["tool_calls"][0]["id"], "c1");
            // The client gets its own value back, never the token.
            assert!(text.contains(v) && !text.contains("_1]"), "{text}");
        }
    }
    let body =
        json!({"model": "plain", "input": "plain", "user": CANARIES[0], "x_note": CANARIES[1]});
    let (status, _, text) = call(&app, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let raw = mock.requests().pop().unwrap().body.to_string();
    assert!(CANARIES.iter().all(|v| !raw.contains(v)), "{raw}");
}

/// Every string of an answer (unary) or of all its chunks (a stream), with text fields joined.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The stream's text fields, each joined across chunks.
fn joined(chunks: &[Value]) -> Vec<(String, String)> {
    [
        "content",
        "reasoning_content",
        "reasoning",
        "refusal",
        "audio/transcript",
    ]
    .iter()
    .map(|f| {
        let ptr = format!("/choices/0/delta/{f}");
        let text = chunks
            .iter()
            .filter_map(|c| c.pointer(&ptr).and_then(Value::as_str))
            .collect();
        ((*f).to_owned(), text)
    })
    .collect()
}

#[tokio::test]
async fn no_string_of_an_answer_reaches_the_client_unscanned() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock);
    for v in CANARIES {
        let redacted = if v.contains("example") {
            "<EMAIL_ADDRESS>"
        } else {
            "<CREDIT_CARD>"
        };
        let body = json!({"model": "red-canary", "messages": [{"role": "user", "content": v}]});
        let (status, _, text) =
            call(&app, "POST", "/v1/chat/completions", Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(!text.contains(v), "{v} reached the client: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["choices"][0]["message"]["refusal"], redacted);
        assert_eq!(answer["x_top"], redacted);

        let mut body = body;
        body["stream"] = json!(true);
        let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(!text.contains(v), "{v} reached the client: {text}");
        let (chunks, done) = events(&text);
        assert!(done);
        for (field, got) in joined(&chunks) {
            assert_eq!(got, redacted, "{field}");
        }
    }
}

#[tokio::test]
async fn tokens_in_every_answer_field_are_restored_for_the_client() {
    let mock = MockUpstream::start().await.unwrap();
    let app = app(&mock);
    for v in CANARIES {
        let body = json!({"model": "tok-canary", "messages": [{"role": "user", "content": v}]});
        let (status, _, text) =
            call(&app, "POST", "/v1/chat/completions", Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let sent = mock.requests().pop().unwrap().body.to_string();
        assert!(!sent.contains(v), "{sent}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let mut all = Vec::new();
        strings(&answer, &mut all);
        assert!(
            all.iter().all(|s| !s.contains("_1]")),
            "a token reached the client: {text}"
        );
        for (ptr, expect) in [
            ("/x_top", v),
            ("/usage/x_usage", v),
            ("/choices/0/x_choice", v),
            ("/choices/0/message/refusal", v),
            ("/choices/0/message/reasoning_content", v),
            ("/choices/0/message/x_message", v),
            ("/choices/0/message/annotations/0/url_citation/title", v),
            ("/choices/0/message/audio/transcript", v),
            ("/choices/0/logprobs/content/0/token", v),
        ] {
            assert_eq!(
                answer.pointer(ptr).and_then(Value::as_str),
                Some(*expect),
                "{ptr}"
            );
        }

        let mut body = body;
        body["stream"] = json!(true);
        let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(!text.contains("_1]"), "a token reached the client: {text}");
        let (chunks, _) = events(&text);
        for (field, got) in joined(&chunks) {
            assert_eq!(got, *v, "{field}");
        }
        assert_eq!(chunks[0]["x_chunk"], *v);
        assert_eq!(chunks[0]["choices"][0]["delta"]["x_delta"], *v);
    }
}
