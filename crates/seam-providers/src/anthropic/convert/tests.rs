use super::*;
use serde_json::json;

fn req(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

/// The Anthropic body for an OpenAI body, as JSON.
fn body(openai: Value) -> Value {
    serde_json::from_slice(&request_body("claude-x", &req(openai), false).unwrap()).unwrap()
}

fn refused(openai: Value) -> String {
    match request_body("claude-x", &req(openai), false) {
        Err(ProviderError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

fn user(content: Value) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": content}]})
}

#[test]
fn minimal_request() {
    assert_eq!(
        body(user(json!("hi"))),
        json!({
            "model": "claude-x",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        })
    );
}

#[test]
fn system_and_developer_messages_become_the_system_prompt() {
    let b = body(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "hi"}
    ]}));
    assert_eq!(b["system"], "Be brief.\n\nAnswer in French.");
    assert_eq!(b["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn consecutive_turns_of_one_role_are_merged() {
    let b = body(json!({"model": "m", "messages": [
        {"role": "user", "content": "one"},
        {"role": "system", "content": "mid-conversation system"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": ""},
        {"role": "user", "content": "three"}
    ]}));
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "content": [{"type": "text", "text": "three"}]}
        ])
    );
    assert_eq!(b["system"], "mid-conversation system");
}

#[test]
fn tool_call_history_round_trips() {
    let b = body(json!({"model": "m", "messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}},
            {"id": "toolu_3", "type": "function", "function": {"name": "now", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "rain"}]},
        {"role": "tool", "tool_call_id": "toolu_3", "content": ""},
        {"role": "user", "content": "Thanks"}
    ]}));
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
                {"type": "tool_use", "id": "toolu_3", "name": "now", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain"},
                {"type": "tool_result", "tool_use_id": "toolu_3"},
                {"type": "text", "text": "Thanks"}
            ]}
        ])
    );
}

#[test]
fn tool_arguments_that_are_not_an_object_are_refused() {
    for args in ["[1, 2]", "not json", "\"s\""] {
        let m = refused(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": args}}]}
        ]}));
        assert_eq!(
            m, "messages[1].tool_calls[0] (lookup): arguments must be a JSON object for Anthropic",
            "{args}"
        );
    }
}

#[test]
fn image_parts() {
    let part = |url: &str| json!([{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": url, "detail": "high"}}]);
    let cases = [
        (
            "data:image/png;base64,iVBORw0KGgo=",
            json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}),
        ),
        (
            "https://example.com/cat.jpg",
            json!({"type": "url", "url": "https://example.com/cat.jpg"}),
        ),
    ];
    for (url, source) in cases {
        assert_eq!(
            body(user(part(url)))["messages"][0]["content"],
            json!([{"type": "text", "text": "what is this?"}, {"type": "image", "source": source}]),
            "{url}"
        );
    }
    for url in [
        "data:image/png,rawbytes",
        "ftp://example.com/cat.jpg",
        "data:;base64,AAAA",
    ] {
        assert!(
            refused(user(part(url))).starts_with("messages[0].content[1]: "),
            "{url}"
        );
    }
    assert!(
        refused(user(json!([{"type": "input_audio", "input_audio": {}}])))
            .contains("\"input_audio\"")
    );
}

#[test]
fn tool_definitions_and_tool_choice() {
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "now"}}
    ]);
    let with = |extra: Value| {
        let mut r =
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        body(r)
    };
    assert_eq!(
        with(json!({}))["tools"],
        json!([
            {"name": "get_weather", "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "now", "input_schema": {"type": "object"}}
        ])
    );
    let cases = [
        (json!({}), Value::Null),
        (json!({"tool_choice": "auto"}), json!({"type": "auto"})),
        (json!({"tool_choice": "required"}), json!({"type": "any"})),
        (json!({"tool_choice": "none"}), json!({"type": "none"})),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "now"}}}),
            json!({"type": "tool", "name": "now"}),
        ),
        (
            json!({"parallel_tool_calls": false}),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (
            json!({"tool_choice": "required", "parallel_tool_calls": false}),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
        (
            json!({"tool_choice": "auto", "parallel_tool_calls": true}),
            json!({"type": "auto"}),
        ),
        (
            json!({"tool_choice": "none", "parallel_tool_calls": false}),
            json!({"type": "none"}),
        ),
    ];
    for (extra, expect) in cases {
        assert_eq!(with(extra.clone())["tool_choice"], expect, "{extra}");
    }
}

#[test]
fn sampling_limits_and_metadata() {
    let with = |extra: Value| {
        let mut r = user(json!("x"));
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        body(r)
    };
    let cases = [
        (json!({"max_tokens": 100}), "max_tokens", json!(100)),
        (
            json!({"max_tokens": 100, "max_completion_tokens": 50}),
            "max_tokens",
            json!(50),
        ),
        (json!({"temperature": 1.7}), "temperature", json!(1.0)),
        (json!({"temperature": 0.3}), "temperature", json!(0.3)),
        (json!({"top_p": 0.9}), "top_p", json!(0.9)),
        (json!({"stop": "END"}), "stop_sequences", json!(["END"])),
        (
            json!({"stop": ["a", "b"]}),
            "stop_sequences",
            json!(["a", "b"]),
        ),
        (
            json!({"user": "user-42"}),
            "metadata",
            json!({"user_id": "user-42"}),
        ),
        (json!({"seed": 7}), "seed", Value::Null),
        (json!({"n": 1}), "n", Value::Null),
    ];
    for (extra, field, expect) in cases {
        assert_eq!(with(extra.clone())[field], expect, "{extra}");
    }
    let streamed: Value =
        serde_json::from_slice(&request_body("claude-x", &req(user(json!("x"))), true).unwrap())
            .unwrap();
    assert_eq!(streamed["stream"], true);
    let mut many = user(json!("x"));
    many["n"] = json!(2);
    assert!(refused(many).contains("n > 1"));
}

#[test]
fn response_format_asks_for_json_in_the_system_prompt() {
    let with = |format: Value| {
        let mut r = json!({"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}]});
        r["response_format"] = format;
        body(r)["system"].clone()
    };
    assert_eq!(with(json!({"type": "text"})), "Be brief.");
    assert_eq!(
        with(json!({"type": "json_object"})),
        format!("Be brief.\n\n{JSON_ONLY}")
    );
    let schema = with(
        json!({"type": "json_schema", "json_schema": {"name": "city",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}),
    );
    let schema = schema.as_str().unwrap();
    assert!(schema.starts_with("Be brief.\n\nRespond with only a JSON value that conforms"));
    assert!(schema.ends_with(r#"{"properties":{"name":{"type":"string"}},"type":"object"}"#));
    let mut r = user(json!("x"));
    r["response_format"] = json!({"type": "grammar"});
    assert!(refused(r).contains("\"grammar\""));
}

fn response(content: Value, stop_reason: &str) -> AnthropicResponse {
    serde_json::from_value(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x-20250101",
        "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 12}
    }))
    .unwrap()
}

#[test]
fn stop_reasons() {
    let cases = [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (
            "model_context_window_exceeded",
            "model_context_window_exceeded",
        ),
    ];
    for (anthropic, openai) in cases {
        let c = completion(&response(json!([{"type": "text", "text": "x"}]), anthropic));
        assert_eq!(
            c.choices[0].finish_reason.as_deref(),
            Some(openai),
            "{anthropic}"
        );
    }
}

#[test]
fn completion_text_tool_calls_and_usage() {
    let c = completion(&response(
        json!([
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "days": 2}}
        ]),
        "tool_use",
    ));
    assert_eq!(
        (c.id.as_str(), c.model.as_str()),
        ("msg_01", "claude-x-20250101")
    );
    let m = &c.choices[0].message;
    assert_eq!(m.role, Role::Assistant);
    assert_eq!(m.text(), "Let me check.");
    let calls = m.tool_calls.as_ref().unwrap();
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.name.as_str()),
        ("toolu_1", "get_weather")
    );
    assert_eq!(calls[0].function.arguments, r#"{"city":"Paris","days":2}"#);
    assert_eq!(m.extra["reasoning_content"], "hmm");
    assert_eq!(m.extra["reasoning_signature"], "sig");
    let u = c.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (30, 12, 42)
    );
    // Cache reads are priced apart; cache writes are kept for Messages clients.
    assert_eq!(
        Value::Object(u.extra),
        json!({"prompt_tokens_details": {"cached_tokens": 7}, "cache_creation_input_tokens": 3})
    );

    let only_tools = completion(&response(
        json!([{"type": "tool_use", "id": "t", "name": "now", "input": {}}]),
        "tool_use",
    ));
    assert_eq!(only_tools.choices[0].message.content, None);
    let only_text = completion(&response(
        json!([{"type": "text", "text": "hi"}]),
        "end_turn",
    ));
    assert_eq!(only_text.choices[0].message.tool_calls, None);
    assert_eq!(only_text.choices[0].message.text(), "hi");
}

/// The reasoning extras of a unary answer's message, by its blocks.
#[test]
fn reasoning_blocks_become_message_extras() {
    let extras = |content: Value| {
        let c = completion(&response(content, "end_turn"));
        let mut extra = c.choices[0].message.extra.clone();
        extra
            .remove("reasoning_content")
            .map(|r| (r, Value::Object(extra)))
    };
    let text = json!({"type": "text", "text": "ok"});
    assert_eq!(extras(json!([text])), None);
    assert_eq!(
        extras(json!([{"type": "thinking", "thinking": "a", "signature": ""}, text])),
        Some((json!("a"), json!({}))),
        "no signature, none sent"
    );
    let redacted = completion(&response(
        json!([{"type": "redacted_thinking", "data": "r1"}, {"type": "redacted_thinking", "data": "r2"}, text]),
        "end_turn",
    ));
    assert_eq!(
        Value::Object(redacted.choices[0].message.extra.clone()),
        json!({"reasoning_redacted": ["r1", "r2"]})
    );
    // More than one block: all of them in order, the texts joined for chat clients.
    assert_eq!(
        extras(json!([
            {"type": "redacted_thinking", "data": "r1"},
            {"type": "thinking", "thinking": "a", "signature": "s1"},
            {"type": "thinking", "thinking": "b", "signature": "s2"},
            text
        ])),
        Some((
            json!("a\n\nb"),
            json!({"reasoning_blocks": [
                {"type": "redacted_thinking", "data": "r1"},
                {"type": "thinking", "thinking": "a", "signature": "s1"},
                {"type": "thinking", "thinking": "b", "signature": "s2"}
            ]})
        ))
    );
}

fn sse(data: Value) -> SseEvent {
    SseEvent {
        event: data["type"].as_str().map(String::from),
        data: data.to_string(),
    }
}

/// A realistic stream: thinking, text, then a tool call whose arguments arrive in pieces.
fn conversation() -> Vec<SseEvent> {
    let delta = |index: u64, delta: Value| {
        sse(json!({"type": "content_block_delta", "index": index, "delta": delta}))
    };
    vec![
        sse(
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant",
            "model": "claude-x-20250101", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 20, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 1}}}),
        ),
        sse(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        delta(
            0,
            json!({"type": "thinking_delta", "thinking": "The user wants weather."}),
        ),
        delta(0, json!({"type": "signature_delta", "signature": "sig"})),
        sse(json!({"type": "content_block_stop", "index": 0})),
        sse(
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        sse(json!({"type": "ping"})),
        delta(1, json!({"type": "text_delta", "text": "Let me "})),
        delta(1, json!({"type": "text_delta", "text": "check."})),
        sse(json!({"type": "content_block_stop", "index": 1})),
        sse(
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        ),
        delta(2, json!({"type": "input_json_delta", "partial_json": ""})),
        delta(
            2,
            json!({"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}),
        ),
        delta(
            2,
            json!({"type": "input_json_delta", "partial_json": "ris\", \"days\": 2}"}),
        ),
        sse(json!({"type": "content_block_stop", "index": 2})),
        sse(
            json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}}),
        ),
        sse(json!({"type": "content_block_stop", "index": 3})),
        sse(
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 12}}),
        ),
        sse(json!({"type": "message_stop"})),
    ]
}

/// Feeds events until the decoder says the stream is complete.
fn decode(events: Vec<SseEvent>) -> (Vec<ChatChunk>, Result<bool, ProviderError>) {
    let mut d = Decoder::new();
    let mut out = VecDeque::new();
    let mut last = Ok(false);
    for ev in events {
        last = d.event(ev, &mut out);
        if !matches!(last, Ok(false)) {
            break;
        }
    }
    (out.into(), last)
}

#[test]
fn streamed_conversation_matches_the_completion() {
    let (chunks, done) = decode(conversation());
    assert_eq!(done, Ok(true));
    assert!(
        chunks
            .iter()
            .all(|c| c.id == "msg_01" && c.model == "claude-x-20250101")
    );

    let first = &chunks[0].choices[0].delta;
    assert_eq!(
        (first.role, first.content.as_deref()),
        (Some(Role::Assistant), Some(""))
    );

    let choices: Vec<_> = chunks.iter().flat_map(|c| c.choices.iter()).collect();
    let text: String = choices
        .iter()
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    let expected = completion(&response(
        json!([{"type": "text", "text": "Let me "}, {"type": "text", "text": "check."}]),
        "tool_use",
    ));
    assert_eq!(text, expected.choices[0].message.text());

    let tool_deltas: Vec<&ToolCallDelta> = choices
        .iter()
        .filter_map(|c| c.delta.tool_calls.as_ref())
        .flatten()
        .collect();
    let starts: Vec<_> = tool_deltas.iter().filter(|t| t.id.is_some()).collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        (
            starts[0].index,
            starts[0].id.as_deref(),
            starts[0].kind.as_deref()
        ),
        (0, Some("toolu_1"), Some("function"))
    );
    assert_eq!(
        starts[1].function.as_ref().unwrap().name.as_deref(),
        Some("now")
    );
    let args = |index: u32| -> Value {
        let joined: String = tool_deltas
            .iter()
            .filter(|t| t.index == index)
            .filter_map(|t| t.function.as_ref()?.arguments.as_deref())
            .collect();
        serde_json::from_str(&joined).unwrap()
    };
    assert_eq!(args(0), json!({"city": "Paris", "days": 2}));
    assert_eq!(
        args(1),
        json!({}),
        "a tool without argument deltas still gets valid JSON"
    );

    let finish: Vec<_> = choices
        .iter()
        .filter_map(|c| c.finish_reason.as_deref())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (30, 12, 42)
    );
    assert_eq!(u.extra["prompt_tokens_details"]["cached_tokens"], 7);
    assert_eq!(u.extra["cache_creation_input_tokens"], 3);
    // Only the last chunk carries usage, whether or not the client asked for it.
    assert_eq!(chunks.iter().filter(|c| c.usage.is_some()).count(), 1);
}

/// `(reasoning_index, key, value)` of each reasoning delta, in order.
fn reasoning_deltas(chunks: &[ChatChunk]) -> Vec<(u64, String, Value)> {
    let keys = [
        "reasoning_content",
        "reasoning_signature",
        "reasoning_redacted",
    ];
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .flat_map(|c| {
            let e = &c.delta.extra;
            keys.iter().filter_map(move |k| {
                let v = e.get(*k)?;
                Some((e["reasoning_index"].as_u64()?, (*k).to_owned(), v.clone()))
            })
        })
        .collect()
}

#[test]
fn streamed_thinking_keeps_its_text_signature_and_order() {
    let (chunks, _) = decode(conversation());
    assert_eq!(
        reasoning_deltas(&chunks),
        [
            (
                0,
                "reasoning_content".into(),
                json!("The user wants weather.")
            ),
            (0, "reasoning_signature".into(), json!("sig")),
        ]
    );

    let delta = |index: u64, delta: Value| {
        sse(json!({"type": "content_block_delta", "index": index, "delta": delta}))
    };
    let start = |index: u64, block: Value| {
        sse(json!({"type": "content_block_start", "index": index, "content_block": block}))
    };
    let stop = |index: u64| sse(json!({"type": "content_block_stop", "index": index}));
    let mut events = conversation();
    events.truncate(1);
    events.extend([
        start(
            0,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ),
        delta(0, json!({"type": "thinking_delta", "thinking": "a"})),
        delta(0, json!({"type": "thinking_delta", "thinking": "b"})),
        delta(0, json!({"type": "signature_delta", "signature": "s0"})),
        stop(0),
        start(1, json!({"type": "redacted_thinking", "data": "r1"})),
        stop(1),
        start(2, json!({"type": "thinking", "thinking": ""})),
        delta(2, json!({"type": "thinking_delta", "thinking": "c"})),
        delta(2, json!({"type": "signature_delta", "signature": "s2"})),
        stop(2),
        start(3, json!({"type": "text", "text": ""})),
        delta(3, json!({"type": "text_delta", "text": "ok"})),
        stop(3),
        sse(
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"output_tokens": 5, "cache_read_input_tokens": 9}}),
        ),
        sse(json!({"type": "message_stop"})),
    ]);
    let (chunks, done) = decode(events);
    assert_eq!(done, Ok(true));
    assert_eq!(
        reasoning_deltas(&chunks),
        [
            (0, "reasoning_content".into(), json!("a")),
            (0, "reasoning_content".into(), json!("b")),
            (0, "reasoning_signature".into(), json!("s0")),
            (1, "reasoning_redacted".into(), json!(["r1"])),
            (2, "reasoning_content".into(), json!("c")),
            (2, "reasoning_signature".into(), json!("s2")),
        ]
    );
    // A later usage's counts replace the start's, field by field.
    let u = chunks.last().unwrap().usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (32, 5));
    assert_eq!(u.extra["prompt_tokens_details"]["cached_tokens"], 9);
    assert_eq!(u.extra["cache_creation_input_tokens"], 3);
}

#[test]
fn error_event_mid_stream_is_an_error() {
    let mut events = conversation();
    events.truncate(8);
    events.push(sse(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let (chunks, result) = decode(events);
    assert_eq!(
        result,
        Err(ProviderError::StreamCut(
            "upstream error event (overloaded_error): Overloaded".into()
        ))
    );
    let text: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    assert_eq!(text, "Let me ", "chunks before the error are kept");
}

#[test]
fn malformed_events_are_invalid_responses() {
    let cases = [
        r#"{"type": "message_start", "message": {"id": 1}}"#,
        "{\"type\": \"content_block_delta\", ",
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}"#,
    ];
    for data in cases {
        let ev = SseEvent {
            event: None,
            data: data.into(),
        };
        let r = Decoder::new().event(ev, &mut VecDeque::new());
        assert!(
            matches!(r, Err(ProviderError::InvalidResponse(_))),
            "{data}: {r:?}"
        );
    }
    let unknown = sse(json!({"type": "future_event", "payload": 1}));
    assert_eq!(
        Decoder::new().event(unknown, &mut VecDeque::new()),
        Ok(false)
    );
}
