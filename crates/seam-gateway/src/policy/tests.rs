//! Every string of a request reaches the vendor governed, every string of an answer comes back
//! governed (issue 13, point 5).

use std::path::PathBuf;

use futures_util::StreamExt;
use seam_config::Resolver;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest, Native};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use serde_json::{Value, json};

use super::*;
use crate::ClientStream;

/// The values planted in every field. Plain forms; encoded ones (`ada%40example.com`) join this
/// table once the normaliser decodes them.
const CANARIES: &[&str] = &["ada.lovelace@example.com", "4111 1111 1111 1111"];

const POLICIES: &str = r#"
[providers.e]
kind = "echo"
[policies.tok]
[policies.tok.input]
pii = { action = "tokenize" }
[policies.out]
[policies.out.output]
pii = { action = "redact" }
[policies.keep]
user = "keep"
[policies.keep.input]
pii = { action = "tokenize" }
[policies.drop]
user = "drop"
[policies.scan]
user = "scan"
[policies.scan.input]
pii = { action = "tokenize" }
[policies.none]
[policies.trim.input]
max_input_tokens = 40
on_overflow = "truncate"
"#;

fn policies() -> Policies {
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    let cfg = seam_config::from_toml(POLICIES, &r).unwrap();
    Policies::new(&cfg).unwrap()
}

fn named(p: &Policies, name: &str) -> Arc<Governed> {
    Arc::clone(&p.by_name[name])
}

/// A request with `v` in every string field that can carry text.
fn request(v: &str) -> ChatRequest {
    serde_json::from_value(json!({
        "model": "m",
        "user": v,
        "safety_identifier": v,
        "metadata": {"customer": v, v: "as a key"},
        "prompt_cache_key": format!("k {v}"),
        "web_search_options": {"user_location": {"approximate": {"city": v}}},
        "stop": [format!("stop {v}")],
        "messages": [
            {"role": "system", "content": format!("sys {v}"), "name": v},
            {"role": "user", "content": [
                {"type": "text", "text": format!("t {v}"), "cache_control": {"type": "ephemeral", "note": v}},
                {"type": "image_url", "image_url": {"url": format!("https://x.test/?q={v}")}},
                {"type": "file", "file": {"filename": format!("{v}.pdf"), "file_data": "data:application/pdf;base64,QUJD"}}
            ]},
            {"role": "assistant", "content": null, "refusal": v, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "lookup", "arguments": json!({"q": v}).to_string()}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": format!("r {v}"), "x_extra": [v]}
        ],
        "tools": [{"type": "function", "x_tool": v, "function": {
            "name": "lookup",
            "description": format!("find {v}"),
            "strict": true,
            "parameters": {"type": "object", "description": v, "properties": {
                "q": {"type": "string", "description": format!("like {v}"), "enum": [v], "default": v, "examples": [v]}
            }, "required": ["q"]}
        }}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "description": v,
            "schema": {"type": "object", "properties": {"a": {"type": "string", "const": v}}}}},
        "stream_options": {"include_usage": true, "x_so": v},
        "future_field": {"deep": [{"deeper": v}]}
    }))
    .unwrap()
}

fn sent(p: &Prepared<'_>) -> String {
    serde_json::to_string(&*p.request).unwrap()
}

#[test]
fn no_string_of_a_request_reaches_the_vendor_in_clear() {
    let ps = policies();
    let policy = named(&ps, "tok");
    for v in CANARIES {
        let req = request(v);
        let p = prepare(&policy, &req, "m").unwrap();
        let out = sent(&p);
        assert!(!out.contains(v), "{v} reached the vendor: {out}");
        // Structure is untouched.
        let sent: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(sent["model"], "m");
        assert_eq!(sent["tools"][0]["function"]["name"], "lookup");
        assert_eq!(
            sent["tools"][0]["function"]["parameters"]["required"],
            json!(["q"])
        );
        assert_eq!(sent["messages"][2]["tool_calls"][0]["id"], "call_1");
        assert_eq!(sent["messages"][3]["tool_call_id"], "call_1");
        assert_eq!(sent["response_format"]["json_schema"]["name"], "out");
        assert_eq!(
            sent["messages"][1]["content"][2]["file"]["file_data"],
            "data:application/pdf;base64,QUJD"
        );
        // One vault: the same value has the same token everywhere it was found.
        let token = sent["tools"][0]["function"]["parameters"]["properties"]["q"]["enum"][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(token.starts_with('['), "{token}");
        assert_eq!(sent["metadata"]["customer"], token.as_str());
        assert!(sent["metadata"].get(&token).is_some(), "keys too: {sent}");
        // `user` and `safety_identifier` are hashed by default, the same value the same way.
        let user = sent["user"].as_str().unwrap();
        assert!(user.starts_with("<USER:"), "{user}");
        assert_eq!(sent["safety_identifier"], user);
        // Records name places, never values.
        for r in &p.report.records {
            assert!(!r.location.contains(v), "{}", r.location);
        }
    }
}

#[test]
fn the_user_field_follows_its_rule() {
    let ps = policies();
    let v = CANARIES[0];
    let body = json!({"model": "m", "user": v, "messages": [{"role": "user", "content": "hi"}]});
    let req: ChatRequest = serde_json::from_value(body).unwrap();
    let user = |name: &str| {
        let p = prepare(&named(&ps, name), &req, "m").unwrap();
        p.request.user.clone()
    };
    let hashed = user("tok").unwrap();
    assert!(
        hashed.starts_with("<USER:") && !hashed.contains(v),
        "{hashed}"
    );
    assert_eq!(user("tok").unwrap(), hashed, "stable per key");
    assert_eq!(user("keep").as_deref(), Some(v));
    assert_eq!(user("drop"), None);
    assert_eq!(user("scan").as_deref(), Some("[EMAIL_ADDRESS_1]"));
    // A policy that does nothing forwards the request as it came.
    let p = prepare(&named(&ps, "none"), &req, "m").unwrap();
    assert!(matches!(p.request, Cow::Borrowed(r) if std::ptr::eq(r, &req)));
    assert!(!p.active());
    // A key's stricter rule wins.
    let tightened = ps.for_request("direct/x", Some("drop")).unwrap();
    assert_eq!(tightened.user, UserField::Drop);
}

#[test]
fn a_request_with_nothing_found_is_not_copied() {
    let ps = policies();
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "metadata": {"a": "plain"}, "seed": 3,
        "tools": [{"type": "function", "function": {"name": "f", "description": "plain",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}],
        "messages": [{"role": "user", "content": "hello", "name": "agent-7"}]
    }))
    .unwrap();
    let p = prepare(&named(&ps, "tok"), &req, "m").unwrap();
    assert!(matches!(p.request, Cow::Borrowed(_)));
}

#[test]
fn embeddings_requests_govern_user_and_extras() {
    let ps = policies();
    let v = CANARIES[1];
    let req: EmbeddingsRequest = serde_json::from_value(json!({
        "model": "m", "input": "plain", "user": v, "metadata": {"k": v}
    }))
    .unwrap();
    let p = prepare_embeddings(&named(&ps, "tok"), &req).unwrap();
    let out = serde_json::to_string(&*p.request).unwrap();
    assert!(!out.contains(v), "{out}");
    assert!(out.contains("<USER:"), "{out}");
}

/// An answer with `v` in every string field the output stage must see.
fn answer(v: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "x_top": v,
        "choices": [{"index": 0, "finish_reason": "stop", "x_choice": v,
            "logprobs": {"content": [{"token": v, "logprob": -0.1}]},
            "message": {"role": "assistant", "content": format!("c {v}"), "refusal": v,
                "reasoning_content": format!("think {v}"),
                "annotations": [{"type": "url_citation", "url_citation": {"title": v, "url": format!("https://x.test/{v}")}}],
                "audio": {"id": "a1", "transcript": v},
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": v, "arguments": json!({"q": v}).to_string()}}]}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "x_usage": v}
    })
}

fn prepared<'r>(ps: &Policies, name: &str, req: &'r ChatRequest) -> Prepared<'r> {
    prepare(&named(ps, name), req, "m").unwrap()
}

fn hello() -> ChatRequest {
    serde_json::from_value(
        json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
    )
    .unwrap()
}

#[test]
fn no_string_of_an_answer_reaches_the_client_unscanned() {
    let ps = policies();
    let req = hello();
    let p = prepared(&ps, "out", &req);
    for v in CANARIES {
        let mut c: ChatCompletion = serde_json::from_value(answer(v)).unwrap();
        let records = p.finish_completion(&mut c);
        let out = serde_json::to_string(&c).unwrap();
        assert!(!out.contains(v), "{v} reached the client: {out}");
        assert!(records.len() >= 12, "{records:?}");
        assert_eq!(c.id, "chatcmpl-1");
        assert_eq!(
            c.choices[0].message.tool_calls.as_ref().unwrap()[0].id,
            "c1"
        );
    }
}

#[test]
fn tokens_in_any_answer_field_are_restored_for_the_client() {
    let ps = policies();
    let v = CANARIES[0];
    let req = request(v);
    let p = prepared(&ps, "tok", &req);
    let sent: Value = serde_json::from_str(&sent(&p)).unwrap();
    let token = sent["metadata"]["customer"].as_str().unwrap();
    let mut c: ChatCompletion = serde_json::from_value(answer(token)).unwrap();
    p.finish_completion(&mut c);
    let mut out = serde_json::to_value(&c).unwrap();
    // The link guard keeps tokens inside links as they are: a model cannot smuggle a value into
    // a URL the client would follow.
    let url = &mut out["choices"][0]["message"]["annotations"][0]["url_citation"]["url"];
    assert_eq!(*url, format!("https://x.test/{token}"));
    *url = Value::Null;
    assert!(!out.to_string().contains(token), "{out}");
    assert_eq!(out["x_top"], v);
    assert_eq!(out["choices"][0]["message"]["refusal"], v);
    assert_eq!(
        out["choices"][0]["message"]["annotations"][0]["url_citation"]["title"],
        v
    );
    assert_eq!(out["usage"]["x_usage"], v);
}

fn chunk(v: Value) -> ChatChunk {
    serde_json::from_value(v).unwrap()
}

async fn run_stream(p: &Prepared<'_>, chunks: Vec<ChatChunk>) -> Vec<Value> {
    let inner: ClientStream = Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
    p.filter_stream(inner)
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await
}

/// `v` split in two across chunks of a streamed text field, and whole in every other field.
fn split_stream(v: &str, field: &str) -> Vec<ChatChunk> {
    let (a, b) = v.split_at(v.len() / 2);
    let delta = |piece: &str| {
        let mut d = json!({"x_delta": v});
        match field {
            "audio.transcript" => d["audio"] = json!({"transcript": piece, "data": "QUJD"}),
            f => d[f] = json!(piece),
        }
        d
    };
    vec![
        chunk(
            json!({"id": "s", "model": "m", "x_chunk": v, "choices": [{"index": 0, "delta": delta(&format!("a {a}")), "x_choice": v}]}),
        ),
        chunk(
            json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": delta(&format!("{b} z"))}]}),
        ),
        chunk(
            json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ),
    ]
}

fn joined(out: &[Value], field: &str) -> String {
    let ptr = format!("/choices/0/delta/{}", field.replace('.', "/"));
    out.iter()
        .filter_map(|c| c.pointer(&ptr).and_then(Value::as_str))
        .collect()
}

#[tokio::test]
async fn streamed_text_fields_are_held_back_like_content() {
    let ps = policies();
    let req = hello();
    let p = prepared(&ps, "out", &req);
    for field in [
        "reasoning_content",
        "reasoning",
        "refusal",
        "audio.transcript",
    ] {
        for v in CANARIES {
            let out = run_stream(&p, split_stream(v, field)).await;
            let text = serde_json::to_string(&out).unwrap();
            assert!(!text.contains(v), "{field}: {v} reached the client: {text}");
            assert_eq!(
                joined(&out, field),
                "a <EMAIL_ADDRESS> z".replace(
                    "EMAIL_ADDRESS",
                    if v.contains('@') {
                        "EMAIL_ADDRESS"
                    } else {
                        "CREDIT_CARD"
                    },
                ),
                "{field}"
            );
        }
    }
    assert!(p.output_seen.any());
}

#[tokio::test]
async fn streamed_tokens_are_restored_in_every_field() {
    let ps = policies();
    let v = CANARIES[1];
    let req = request(v);
    let p = prepared(&ps, "tok", &req);
    let sent: Value = serde_json::from_str(&sent(&p)).unwrap();
    let token = sent["metadata"]["customer"].as_str().unwrap().to_owned();
    for field in ["reasoning_content", "refusal", "audio.transcript"] {
        let out = run_stream(&p, split_stream(&token, field)).await;
        assert_eq!(joined(&out, field), format!("a {v} z"), "{field}");
        assert_eq!(out[0]["x_chunk"], v);
        assert_eq!(out[0]["choices"][0]["x_choice"], v);
        assert_eq!(out[0]["choices"][0]["delta"]["x_delta"], v);
    }
}

#[test]
fn embeddings_answers_are_scanned_too() {
    let ps = policies();
    let req: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "m", "input": "plain"})).unwrap();
    let mut p = prepare_embeddings(&named(&ps, "out"), &req).unwrap();
    let mut r: EmbeddingsResponse = serde_json::from_value(json!({
        "data": [{"embedding": [0.5]}], "x_note": CANARIES[0]
    }))
    .unwrap();
    p.finish(&mut r);
    assert_eq!(r.extra["x_note"], "<EMAIL_ADDRESS>");
    assert_eq!(p.report.records.len(), 1);
}

/// An Anthropic thinking block's signature, as the provider adapter carries it: long base64.
fn signature() -> String {
    "EqQBCkgIARABGAIiQL4111111111111111+ada/lovelace=".repeat(8)
}

#[tokio::test]
async fn thinking_text_is_restored_and_its_signature_left_as_it_came() {
    let ps = policies();
    let v = CANARIES[0];
    let req = request(v);
    let p = prepared(&ps, "tok", &req);
    let sent: Value = serde_json::from_str(&sent(&p)).unwrap();
    let token = sent["metadata"]["customer"].as_str().unwrap().to_owned();
    let sig = signature();
    let mut c: ChatCompletion = serde_json::from_value(json!({
        "choices": [{"message": {"role": "assistant", "content": "ok",
            "reasoning_content": format!("think {token}"),
            "reasoning_signature": sig,
            "reasoning_blocks": [
                {"type": "thinking", "thinking": format!("a {token}"), "signature": sig},
                {"type": "redacted_thinking", "data": sig}
            ]}}]
    }))
    .unwrap();
    p.finish_completion(&mut c);
    let m = &c.choices[0].message.extra;
    assert_eq!(m["reasoning_content"], format!("think {v}"));
    assert_eq!(m["reasoning_signature"], sig.as_str());
    assert_eq!(m["reasoning_blocks"][0]["thinking"], format!("a {v}"));
    assert_eq!(m["reasoning_blocks"][0]["signature"], sig.as_str());
    assert_eq!(m["reasoning_blocks"][1]["data"], sig.as_str());

    let delta = |extra: Value| {
        chunk(json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": extra}]}))
    };
    let out = run_stream(
        &p,
        vec![
            delta(json!({"reasoning_content": format!("think {token}"), "reasoning_index": 0})),
            delta(json!({"reasoning_signature": sig, "reasoning_index": 0})),
            chunk(
                json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ),
        ],
    )
    .await;
    assert_eq!(joined(&out, "reasoning_content"), format!("think {v}"));
    assert_eq!(joined(&out, "reasoning_signature"), sig);
}

#[test]
fn output_scanning_leaves_a_signature_alone() {
    let ps = policies();
    let req = hello();
    let p = prepared(&ps, "out", &req);
    let sig = signature();
    let mut c: ChatCompletion = serde_json::from_value(json!({
        "choices": [{"message": {"role": "assistant", "content": "ok",
            "reasoning_content": format!("mail {}", CANARIES[0]),
            "reasoning_signature": sig}}]
    }))
    .unwrap();
    p.finish_completion(&mut c);
    let m = &c.choices[0].message.extra;
    assert_eq!(m["reasoning_content"], "mail <EMAIL_ADDRESS>");
    assert_eq!(m["reasoning_signature"], sig.as_str());
}

/// A Messages body carried for an Anthropic target: the same canary as the chat form's
/// translation, in its texts and its subject.
fn with_native(v: &str) -> ChatRequest {
    let mut req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "user": v,
        "messages": [{"role": "user", "content": format!("mail {v}")}]
    }))
    .unwrap();
    let body = json!({
        "model": "m",
        "max_tokens": 64,
        "metadata": {"user_id": v},
        "system": [{"type": "text", "text": format!("about {v}"), "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "plan", "signature": "c2lnbmF0dXJlLW9mLXRoZS10aGlua2luZy1ibG9jay0wMTIzNDU2Nzg5"},
                {"type": "tool_use", "id": "toolu_01", "name": "f", "input": {"q": v}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": v},
                {"type": "text", "text": format!("mail {v}")}]}
        ]
    });
    let Value::Object(body) = body else {
        unreachable!()
    };
    req.native = Some(Native {
        wire: seam_types::chat::Wire::AnthropicMessages,
        body: Arc::new(body),
        headers: Vec::new(),
        requires: None,
    });
    req
}

#[test]
fn a_native_body_gets_the_same_tokens_and_keeps_its_own_fields() {
    let ps = policies();
    let v = CANARIES[0];
    let req = with_native(v);
    let p = prepared(&ps, "tok", &req);
    let chat = serde_json::to_string(&*p.request).unwrap();
    let native = p.request.native.as_ref().unwrap();
    let body = Value::Object((*native.body).clone());
    let text = body.to_string();
    assert!(!text.contains(v) && !chat.contains(v), "{text}");
    // One vault: the value has the same token in both forms.
    let token = body["messages"][1]["content"][1]["text"].as_str().unwrap();
    assert!(chat.contains(token), "{token} not in {chat}");
    assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(body["thinking"]["budget_tokens"], 1024);
    let thinking = &body["messages"][0]["content"][0];
    assert_eq!(
        thinking["signature"],
        req.native.as_ref().unwrap().body["messages"][0]["content"][0]["signature"]
    );
    assert_eq!(body["messages"][1]["content"][0]["tool_use_id"], "toolu_01");
    // The subject follows the `user` rule, as the chat form's `user` does.
    assert_eq!(
        body["metadata"]["user_id"].as_str(),
        p.request.user.as_deref()
    );
    // Found once, though walked twice.
    let found: usize = p
        .report
        .records
        .iter()
        .filter(|r| r.entity == "EMAIL_ADDRESS")
        .count();
    let plain = prepared(&ps, "tok", &{
        let mut r = req.clone();
        r.native = None;
        r
    })
    .report
    .records
    .iter()
    .filter(|r| r.entity == "EMAIL_ADDRESS")
    .count();
    assert_eq!(found, plain);
    // With the subject dropped, it is gone from the native body too.
    let p = prepared(&ps, "drop", &req);
    let native = p.request.native.as_ref().unwrap();
    assert!(native.body["metadata"].get("user_id").is_none());
}

/// Text a filter holds back is released where the reasoning ends (its signature, the answer's
/// first text), not at the finish, so a Messages client gets each thinking block whole.
#[tokio::test]
async fn held_back_reasoning_is_released_before_what_follows_it() {
    let ps = policies();
    let req = hello();
    let p = prepared(&ps, "out", &req);
    let delta =
        |d: Value| chunk(json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": d}]}));
    let think = "thinking about the question at some length";
    let text =
        "The answer is a fairly long text that goes on and on for more than ninety six bytes.";
    let out = run_stream(
        &p,
        vec![
            delta(json!({"reasoning_content": think, "reasoning_index": 0})),
            delta(json!({"reasoning_signature": "sig", "reasoning_index": 0})),
            delta(json!({"reasoning_content": "unsigned", "reasoning_index": 1})),
            delta(json!({"content": text})),
            chunk(
                json!({"id": "s", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ),
        ],
    )
    .await;
    let d: Vec<&Value> = out.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(d[1]["reasoning_content"], think);
    assert_eq!(d[1]["reasoning_signature"], "sig");
    assert_eq!(d[3]["reasoning_content"], "unsigned", "before the text");
    assert_eq!(joined(&out, "content"), text);
    assert!(d[4].get("reasoning_content").is_none());
}

#[test]
fn a_request_only_its_own_format_can_carry_is_refused_rather_than_trimmed() {
    let ps = policies();
    let long = "word ".repeat(200);
    let mut req: ChatRequest = serde_json::from_value(json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "terse"},
            {"role": "user", "content": long},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "and now?"}
        ]
    }))
    .unwrap();
    // Without a native body the translation is trimmed.
    let p = prepared(&ps, "trim", &req);
    assert!(p.report.dropped_messages > 0);
    let Value::Object(body) = json!({"model": "m", "input": "x"}) else {
        unreachable!()
    };
    req.native = Some(Native {
        wire: seam_types::chat::Wire::OpenAiResponses,
        body: Arc::new(body),
        headers: Vec::new(),
        requires: Some(
            "The built-in tool `web_search` needs a provider with responses_api = true".into(),
        ),
    });
    let Err(refusal) = prepare(&named(&ps, "trim"), &req, "m") else {
        panic!("a request that needs its own format was trimmed");
    };
    assert_eq!(refusal.error.code, "context_length_exceeded");
    assert!(
        refusal.error.message.contains("web_search"),
        "{}",
        refusal.error.message
    );
}
