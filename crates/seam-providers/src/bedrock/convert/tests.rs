use std::collections::VecDeque;

use super::*;
use crate::bedrock::eventstream::Message as Frame;
use crate::http::StreamDecoder;

fn req(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

/// The Converse body for an OpenAI body, as JSON.
fn body(openai: Value) -> Value {
    serde_json::from_slice(&request_body(&req(openai)).unwrap()).unwrap()
}

fn refused(openai: Value) -> String {
    match request_body(&req(openai)) {
        Err(ProviderError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

fn user(content: Value) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": content}]})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn paths() {
    assert_eq!(
        path("anthropic.claude-3-5-sonnet-20240620-v1:0", false),
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(
        path("arn:aws:bedrock:us-east-1:123:inference-profile/us.x", true),
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.x/converse-stream"
    );
}

#[test]
fn ids() {
    assert_eq!(completion_id(Some("req-1")), "chatcmpl-req-1");
    let (a, b) = (completion_id(None), completion_id(Some("")));
    assert!(a.starts_with("chatcmpl-bedrock-") && b.starts_with("chatcmpl-bedrock-"));
    assert_ne!(a, b);
}

#[test]
fn minimal_request() {
    assert_eq!(
        body(user(json!("hi"))),
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    );
}

#[test]
fn system_inference_config_and_merging() {
    let b = body(
        json!({"model": "m", "max_tokens": 100, "temperature": 1.7, "top_p": 0.5,
            "stop": ["END"], "seed": 3, "user": "u", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "one"},
            {"role": "user", "content": "  "},
            {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "refusal", "refusal": "no"}]},
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "three"}
        ]}),
    );
    assert_eq!(
        b,
        json!({
            "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 1.0, "topP": 0.5, "stopSequences": ["END"]},
            "messages": [
                {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
                {"role": "assistant", "content": [{"text": "a"}, {"text": "b"}]},
                {"role": "user", "content": [{"text": "three"}]}
            ]
        })
    );
}

#[test]
fn tool_history_round_trips() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let b = body(json!({"model": "m", "tools": tools, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "tooluse_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "tooluse_2", "content": "{\"temp\": 21}"},
        {"role": "user", "content": "Thanks"}
    ]}));
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}},
                {"toolResult": {"toolUseId": "tooluse_2", "content": [{"json": {"temp": 21}}]}},
                {"text": "Thanks"}
            ]}
        ])
    );
    assert_eq!(
        b["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}]})
    );
    let m = refused(json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
    ]}));
    assert_eq!(
        m,
        "messages[1].tool_calls[0] (f): arguments must be a JSON object for Bedrock"
    );
}

#[test]
fn tool_choice() {
    let tools = json!([{"type": "function", "function": {"name": "now"}}]);
    let spec = json!([{"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object"}}}}]);
    let cases = [
        (json!(null), Some(json!({"tools": spec}))),
        (json!("auto"), Some(json!({"tools": spec}))),
        (
            json!("required"),
            Some(json!({"tools": spec, "toolChoice": {"any": {}}})),
        ),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            Some(json!({"tools": spec, "toolChoice": {"tool": {"name": "now"}}})),
        ),
        (json!("none"), None),
    ];
    for (choice, expect) in cases {
        let mut r = with(user(json!("x")), json!({"tools": tools}));
        if !choice.is_null() {
            r["tool_choice"] = choice.clone();
        }
        assert_eq!(body(r).get("toolConfig"), expect.as_ref(), "{choice}");
    }
    assert!(
        refused(with(
            user(json!("x")),
            json!({"tools": [{"type": "web", "function": {"name": "w"}}]})
        ))
        .starts_with("tools[0]")
    );
}

#[test]
fn tool_history_always_has_a_tool_config() {
    let history = json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": ""}
    ]);
    let placeholder = json!({"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]});
    let b = body(json!({"model": "m", "messages": history}));
    assert_eq!(b["toolConfig"], placeholder);
    assert_eq!(
        b["messages"][2]["content"],
        json!([{"toolResult": {"toolUseId": "t1", "content": []}}])
    );
    let b = body(json!({"model": "m", "messages": history, "tool_choice": "none"}));
    assert_eq!(b["toolConfig"], placeholder);
    let tools = json!([{"type": "function", "function": {"name": "other"}}]);
    let b = body(json!({"model": "m", "messages": history, "tools": tools, "tool_choice": "none"}));
    assert_eq!(b["toolConfig"]["tools"][0]["toolSpec"]["name"], "other");
    assert!(b["toolConfig"].get("toolChoice").is_none());
}

#[test]
fn images_and_refusals() {
    let b = body(user(json!([
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    ])));
    assert_eq!(
        b["messages"][0]["content"],
        json!([{"text": "what is this?"}, {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}}])
    );
    for url in [
        "https://example.com/cat.png",
        "data:image/tiff;base64,AAAA",
        "data:image/png,raw",
    ] {
        let m = refused(user(
            json!([{"type": "image_url", "image_url": {"url": url}}]),
        ));
        assert!(m.starts_with("messages[0].content[0]: "), "{url}: {m}");
    }
    assert!(refused(with(user(json!("x")), json!({"n": 2}))).starts_with("n > 1"));
    assert!(
        refused(
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]})
        )
        .contains("function")
    );
    assert!(
        refused(user(json!([{"type": "input_audio", "input_audio": {}}]))).contains("input_audio")
    );
}

#[test]
fn response_format_becomes_a_system_instruction() {
    let b = body(with(
        user(json!("x")),
        json!({"response_format": {"type": "json_object"}}),
    ));
    assert_eq!(
        b["system"],
        json!([{"text": "Respond with only a single JSON object, with no other text or code fences."}])
    );
    let b = body(with(
        user(json!("x")),
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}}),
    ));
    assert!(
        b["system"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with("{\"type\":\"object\"}")
    );
    assert!(
        refused(with(
            user(json!("x")),
            json!({"response_format": {"type": "grammar"}})
        ))
        .contains("grammar")
    );
}

fn answer(v: Value) -> ConverseResponse {
    serde_json::from_value(v).unwrap()
}

#[test]
fn answers() {
    let c = completion(
        &answer(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm"}}},
                {"text": "Hello"}, {"text": " there"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7, "cacheReadInputTokens": 3},
            "metrics": {"latencyMs": 10}
        })),
        "chatcmpl-x".into(),
        "anthropic.claude",
    );
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["id"], "chatcmpl-x");
    assert_eq!(v["model"], "anthropic.claude");
    assert_eq!(
        v["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                "finish_reason": "stop", "logprobs": null}])
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10})
    );

    let c = completion(
        &answer(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather", "input": {"q": "Paris"}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 1}
        })),
        "id".into(),
        "m",
    );
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "tooluse_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"q\":\"Paris\"}"}}]})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn finish_reasons() {
    let cases = [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("something_new", "something_new"),
    ];
    for (reason, expect) in cases {
        assert_eq!(finish_reason(reason), expect, "{reason}");
    }
}

fn event(kind: &str, payload: Value) -> Frame {
    Frame {
        headers: vec![
            (":event-type".into(), kind.into()),
            (":content-type".into(), "application/json".into()),
            (":message-type".into(), "event".into()),
        ],
        payload: payload.to_string().into_bytes(),
    }
}

/// Runs frames through a decoder the way `decode_frames` does; the second value is the end's
/// verdict (`Ok(true)` complete, `Ok(false)` cut) or the error that stopped it.
fn stream(frames: Vec<Frame>) -> (Vec<Value>, Result<bool, ProviderError>) {
    let mut d = Decoder::new("chatcmpl-r".into(), "m");
    let mut out = VecDeque::new();
    let mut verdict = None;
    for f in frames {
        match d.event(f, &mut out) {
            Ok(true) => {
                verdict = Some(Ok(true));
                break;
            }
            Ok(false) => {}
            Err(e) => {
                verdict = Some(Err(e));
                break;
            }
        }
    }
    let verdict = verdict.unwrap_or_else(|| d.end(&mut out));
    let chunks = out
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    (chunks, verdict)
}

fn text_frames(pieces: &[&str]) -> Vec<Frame> {
    let mut f = vec![event("messageStart", json!({"role": "assistant"}))];
    for p in pieces {
        f.push(event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": p}, "p": "abc"}),
        ));
    }
    f
}

#[test]
fn stream_text_with_usage() {
    let mut frames = text_frames(&["Hello", " world"]);
    frames.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    frames.push(event("messageStop", json!({"stopReason": "end_turn"})));
    frames.push(event(
        "metadata",
        json!({"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}, "metrics": {"latencyMs": 1}}),
    ));
    let (chunks, verdict) = stream(frames);
    assert_eq!(verdict, Ok(true));
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello world");
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(
        chunks[4]["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
    );
    assert_eq!(chunks.len(), 5);
    assert!(
        chunks
            .iter()
            .all(|c| c["id"] == "chatcmpl-r" && c["model"] == "m")
    );
}

#[test]
fn stream_tool_use() {
    let frames = vec![
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"q\":"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_2", "name": "now"}}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 2})),
        event("messageStop", json!({"stopReason": "tool_use"})),
    ];
    // The body ends after messageStop without metadata: complete all the same, with no usage
    // chunk (nothing was counted; Seam estimates).
    let (chunks, verdict) = stream(frames);
    assert_eq!(verdict, Ok(true));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(
        calls,
        [
            &json!([{"index": 0, "id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]),
            &json!([{"index": 0, "function": {"arguments": "{\"q\":"}}]),
            &json!([{"index": 0, "function": {"arguments": "\"Paris\"}"}}]),
            &json!([{"index": 1, "id": "tooluse_2", "type": "function", "function": {"name": "now", "arguments": ""}}]),
            &json!([{"index": 1, "function": {"arguments": "{}"}}]),
        ]
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn a_stream_cut_before_message_stop_is_cut() {
    let (chunks, verdict) = stream(text_frames(&["Hel"]));
    assert_eq!(verdict, Ok(false));
    assert_eq!(chunks.len(), 2);
    assert_eq!(stream(Vec::new()).1, Ok(false));
}

#[test]
fn exceptions_end_the_stream() {
    let mut frames = text_frames(&["Hi"]);
    frames.push(Frame {
        headers: vec![
            (":message-type".into(), "exception".into()),
            (":exception-type".into(), "modelStreamErrorException".into()),
        ],
        payload: br#"{"message":"The model failed"}"#.to_vec(),
    });
    let (chunks, verdict) = stream(frames);
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        verdict,
        Err(ProviderError::StreamCut(
            "upstream exception (modelStreamErrorException): The model failed".into()
        ))
    );
    let error = Frame {
        headers: vec![
            (":message-type".into(), "error".into()),
            (":error-code".into(), "InternalError".into()),
            (":error-message".into(), "boom".into()),
        ],
        payload: Vec::new(),
    };
    assert_eq!(
        stream(vec![error]).1,
        Err(ProviderError::StreamCut(
            "upstream error (InternalError): boom".into()
        ))
    );
    let bad = event("contentBlockDelta", json!(null));
    assert!(matches!(
        stream(vec![bad]).1,
        Err(ProviderError::InvalidResponse(_))
    ));
    // Unknown events are skipped.
    let (chunks, verdict) = stream(vec![event("somethingNew", json!({}))]);
    assert!(chunks.is_empty());
    assert_eq!(verdict, Ok(false));
}
