use proptest::prelude::*;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Delta, FunctionCallDelta, ToolCallDelta, Usage,
};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use super::convert::{self, MessagesRequest};
use super::stream::Encoder;
use crate::surface::StreamEncoder;

fn decode(body: Value) -> Result<ChatRequest, ApiError> {
    let req: MessagesRequest = crate::body::json(body.to_string().as_bytes())?;
    convert::validate(&req)?;
    convert::to_chat(&req)
}

/// The translated request as JSON, as an upstream would see it.
fn chat_json(body: Value) -> Value {
    serde_json::to_value(decode(body).unwrap()).unwrap()
}

fn with_messages(messages: Value) -> Value {
    json!({"model": "m", "max_tokens": 10, "messages": messages})
}

#[test]
fn scalar_fields_translate() {
    let got = chat_json(json!({
        "model": "claude-mock", "max_tokens": 300, "stream": true,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
        "stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 5,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "service_tier": "auto", "cache_control": {"type": "ephemeral"},
        "mcp_servers": [], "container": "c", "some_future_field": {"x": 1}
    }));
    assert_eq!(
        got,
        json!({
            "model": "claude-mock",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"}
            ],
            "stream": true, "max_tokens": 300, "temperature": 0.5, "top_p": 0.9,
            "stop": ["END"], "user": "u-1"
        })
    );
}

#[test]
fn system_blocks_and_system_turns_become_system_messages() {
    let got = chat_json(json!({
        "model": "m", "max_tokens": 1,
        "system": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "b"}],
        "messages": [{"role": "system", "content": "c"}, {"role": "user", "content": "x"}]
    }));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "system", "content": "c"},
            {"role": "user", "content": "x"}
        ])
    );
}

#[test]
fn every_user_block_kind_translates() {
    let got = chat_json(with_messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}}
    ]}])));
    assert_eq!(
        got["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "text", "text": "plain doc"},
            {"type": "text", "text": "inner"}
        ]}])
    );
}

#[test]
fn a_tool_round_trip_translates_in_order() {
    let got = chat_json(json!({
        "model": "m", "max_tokens": 10,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
                  {"type": "custom", "name": "f", "input_schema": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "f", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "boom"}]},
                {"type": "text", "text": "and tomorrow?"}
            ]}
        ]
    }));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]},
            {"role": "tool", "content": "sunny", "tool_call_id": "toolu_1"},
            {"role": "tool", "content": "boom", "tool_call_id": "toolu_2"},
            {"role": "user", "content": "and tomorrow?"}
        ])
    );
    assert_eq!(
        got["tools"],
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}}
        ])
    );
    assert_eq!(got["tool_choice"], json!("required"));
    assert_eq!(got["parallel_tool_calls"], json!(false));
}

#[test]
fn tool_choice_forms() {
    let choice = |c: Value| {
        let mut body = with_messages(json!([{"role": "user", "content": "x"}]));
        body["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
        body["tool_choice"] = c;
        chat_json(body)
    };
    assert_eq!(
        choice(json!({"type": "auto"}))["tool_choice"],
        json!("auto")
    );
    assert_eq!(
        choice(json!({"type": "none"}))["tool_choice"],
        json!("none")
    );
    let named = choice(json!({"type": "tool", "name": "f"}));
    assert_eq!(
        named["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert!(named.get("parallel_tool_calls").is_none());
}

#[test]
fn structured_output_becomes_a_json_schema_response_format() {
    let mut body = with_messages(json!([{"role": "user", "content": "x"}]));
    body["output_config"] =
        json!({"effort": "low", "format": {"type": "json_schema", "schema": {"type": "object"}}});
    assert_eq!(
        chat_json(body)["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": true}})
    );
}

#[test]
fn an_assistant_turn_of_thinking_only_is_dropped() {
    let got = chat_json(with_messages(json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "zz"}]},
        {"role": "user", "content": "y"}
    ])));
    assert_eq!(got["messages"].as_array().unwrap().len(), 2);
}

/// What the client got wrong, as `(param, status)`: each names the field, never the content.
#[test]
fn bad_requests_name_the_field() {
    let secret = "SECRET-CONTENT";
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"model": "m", "messages": [{"role": "user", "content": secret}]}),
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": secret}]}),
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": []}),
            "messages",
        ),
        (
            with_messages(json!([{"role": "tool", "content": secret}])),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "temperature": 1.5, "messages": [{"role": "user", "content": secret}]}),
            "temperature",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": secret}],
                   "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": secret}],
                   "tools": [{"name": "f"}]}),
            "tools[0].input_schema",
        ),
        (
            with_messages(
                json!([{"role": "user", "content": [{"type": "server_tool_use", "id": "s", "name": secret, "input": {}}]}]),
            ),
            "messages[0].content[0].type",
        ),
        (
            with_messages(
                json!([{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": secret}}]}]),
            ),
            "messages[0].content[0].source.type",
        ),
        (
            with_messages(json!([{"role": "user", "content": [{"type": "text"}]}])),
            "messages[0].content[0].text",
        ),
        (
            with_messages(json!([{"role": "user", "content": []}])),
            "messages[0].content",
        ),
    ];
    for (body, param) in cases {
        let e = decode(body.clone()).expect_err(&body.to_string());
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        assert!(!e.message.contains(secret), "{}", e.message);
    }
    let server_tool = decode(json!({"model": "m", "max_tokens": 1,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "bash_20250124", "name": "bash"}]}))
    .unwrap_err();
    assert!(
        server_tool.message.contains("bash_20250124"),
        "{}",
        server_tool.message
    );
}

#[test]
fn the_first_message_may_be_the_assistants() {
    assert!(
        decode(with_messages(
            json!([{"role": "assistant", "content": "x"}])
        ))
        .is_ok()
    );
}

fn completion(v: Value) -> ChatCompletion {
    serde_json::from_value(v).unwrap()
}

#[test]
fn answers_translate() {
    let answer = completion(json!({
        "id": "chatcmpl-1", "model": "gpt-x",
        "choices": [{"message": {"role": "assistant", "content": "Hi.",
            "reasoning_content": "think",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "not json"}}
            ]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
                  "prompt_tokens_details": {"cached_tokens": 4}}
    }));
    assert_eq!(
        convert::from_chat(&answer, "claude-mock"),
        json!({
            "id": "msg_chatcmpl-1", "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [
                {"type": "thinking", "thinking": "think", "signature": ""},
                {"type": "text", "text": "Hi."},
                {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "call_2", "name": "g", "input": {}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 6, "output_tokens": 3,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4}
        })
    );
}

#[test]
fn thinking_signatures_and_cache_usage_translate() {
    let answer = completion(json!({
        "id": "msg_01", "model": "claude-x",
        "choices": [{"message": {"role": "assistant", "content": "Hi.",
            "reasoning_content": "think", "reasoning_signature": "c2ln",
            "reasoning_redacted": ["ZGF0YQ=="]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42,
                  "prompt_tokens_details": {"cached_tokens": 7}, "cache_creation_input_tokens": 3}
    }));
    let m = convert::from_chat(&answer, "claude-mock");
    assert_eq!(m["id"], "msg_01");
    assert_eq!(
        m["content"],
        json!([
            {"type": "thinking", "thinking": "think", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "ZGF0YQ=="},
            {"type": "text", "text": "Hi."}
        ])
    );
    // What Anthropic sent: 20 fresh input tokens, 7 read from the cache, 3 written to it.
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 20, "output_tokens": 12,
               "cache_creation_input_tokens": 3, "cache_read_input_tokens": 7})
    );
}

#[test]
fn several_reasoning_blocks_keep_their_order() {
    let answer = completion(json!({
        "choices": [{"message": {"role": "assistant", "content": "ok",
            "reasoning_content": "a\n\nb",
            "reasoning_blocks": [
                {"type": "thinking", "thinking": "a", "signature": "s1"},
                {"type": "redacted_thinking", "data": "r"},
                {"type": "thinking", "thinking": "b"},
                {"type": "thinking", "signature": "no text: not a block"},
                {"type": "tool_use", "id": "x"},
                "junk"
            ]}}]
    }));
    assert_eq!(
        convert::from_chat(&answer, "m")["content"],
        json!([
            {"type": "thinking", "thinking": "a", "signature": "s1"},
            {"type": "redacted_thinking", "data": "r"},
            {"type": "thinking", "thinking": "b", "signature": ""},
            {"type": "text", "text": "ok"}
        ])
    );
}

#[test]
fn stop_reasons() {
    for (finish, expect) in [
        (Some("stop"), "end_turn"),
        (Some("length"), "max_tokens"),
        (Some("tool_calls"), "tool_use"),
        (Some("content_filter"), "refusal"),
        (None, "end_turn"),
    ] {
        assert_eq!(convert::stop_reason(finish), expect, "{finish:?}");
    }
}

#[test]
fn error_mapping_matches_the_sdk_classes() {
    let cases = [
        (ErrorCode::InvalidRequest, 400, "invalid_request_error"),
        (ErrorCode::InvalidApiKey, 401, "authentication_error"),
        (ErrorCode::ModelNotAllowed, 403, "permission_error"),
        (ErrorCode::ModelNotFound, 404, "not_found_error"),
        (ErrorCode::RequestTooLarge, 413, "request_too_large"),
        (ErrorCode::PolicyViolation, 422, "invalid_request_error"),
        (ErrorCode::RateLimited, 429, "rate_limit_error"),
        (ErrorCode::Internal, 500, "api_error"),
        (ErrorCode::UpstreamError, 502, "api_error"),
        (ErrorCode::StreamInterrupted, 502, "api_error"),
        (ErrorCode::Overloaded, 529, "overloaded_error"),
        (ErrorCode::NoHealthyTarget, 529, "overloaded_error"),
        (ErrorCode::NoEligibleTarget, 503, "api_error"),
        (ErrorCode::AuditUnavailable, 503, "api_error"),
        (ErrorCode::UpstreamTimeout, 504, "timeout_error"),
    ];
    for (code, status, kind) in cases {
        let (s, body) = convert::error_body(&ApiError::new(code, "why"));
        assert_eq!(
            (s, body["error"]["type"].as_str()),
            (status, Some(kind)),
            "{code:?}"
        );
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["message"], "why");
        assert_eq!(body["error"]["details"]["error_code"], code.as_str());
    }
    // An upstream's own 4xx keeps its status; its code is not Seam's, so no details.
    let (s, body) = convert::error_body(&ApiError::upstream(
        409,
        Some("x".into()),
        Some("weird".into()),
        "m".into(),
    ));
    assert_eq!(
        (s, &body["error"]["type"]),
        (409, &json!("invalid_request_error"))
    );
    assert!(body["error"].get("details").is_none());
}

#[test]
fn error_responses_keep_retry_after() {
    let mut e = ApiError::new(ErrorCode::RateLimited, "slow down");
    e.retry_after = Some(7);
    let resp = super::error_response(&e);
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
}

// ---- streams ----

fn text_chunk(t: &str) -> ChatChunk {
    ChatChunk::delta(
        "chatcmpl-9",
        1,
        "up",
        Delta {
            content: Some(t.into()),
            ..Delta::default()
        },
    )
}

fn tool_chunk(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
    ChatChunk::delta(
        "chatcmpl-9",
        1,
        "up",
        Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: id.map(String::from),
                kind: id.map(|_| "function".into()),
                function: Some(FunctionCallDelta {
                    name: name.map(String::from),
                    arguments: Some(args.into()),
                }),
            }]),
            ..Delta::default()
        },
    )
}

/// Runs chunks through an encoder and parses the bytes back into `(event name, data)`.
fn events(chunks: &[ChatChunk], end: bool) -> Vec<(String, Value)> {
    let mut enc = Encoder::new("claude-mock");
    let mut out = Vec::new();
    for c in chunks {
        enc.chunk(c, &mut out);
    }
    if end {
        enc.end(&mut out);
    }
    parse(&out)
}

fn parse(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with("\n\n"));
    text.split_terminator("\n\n")
        .map(|ev| {
            let (name, data) = ev.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name);
            (name.to_owned(), data)
        })
        .collect()
}

fn names(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_text_stream_is_a_message_with_one_text_block() {
    let mut first = text_chunk("");
    first.choices[0].delta.role = Some(seam_types::chat::Role::Assistant);
    let chunks = [
        first,
        text_chunk("Hel"),
        text_chunk("lo"),
        ChatChunk::finish("chatcmpl-9", 1, "up", "stop"),
        ChatChunk::usage("chatcmpl-9", 1, "up", Usage::new(12, 2)),
    ];
    let evs = events(&chunks, true);
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &evs[0].1["message"];
    assert_eq!(
        (&start["id"], &start["model"], &start["content"]),
        (&json!("msg_chatcmpl-9"), &json!("claude-mock"), &json!([]))
    );
    assert_eq!(
        evs[2].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(
        evs[4].1["delta"],
        json!({"type": "text_delta", "text": "lo"})
    );
    assert_eq!(
        evs[6].1,
        json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"input_tokens": 12, "output_tokens": 2,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
    );
}

#[test]
fn stream_usage_counts_cache_reads_and_writes_apart() {
    let mut u = Usage::new(30, 5);
    u.extra
        .insert("prompt_tokens_details".into(), json!({"cached_tokens": 7}));
    u.extra
        .insert("cache_creation_input_tokens".into(), json!(3));
    let evs = events(
        &[text_chunk("x"), ChatChunk::usage("chatcmpl-9", 1, "up", u)],
        true,
    );
    let (_, delta) = evs.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 20, "output_tokens": 5,
               "cache_creation_input_tokens": 3, "cache_read_input_tokens": 7})
    );
}

#[test]
fn a_tool_call_stream_opens_a_tool_use_block_per_call() {
    let chunks = [
        text_chunk("Let me check."),
        tool_chunk(0, Some("call_1"), Some("get_weather"), ""),
        tool_chunk(0, None, None, "{\"city\":"),
        tool_chunk(0, None, None, "\"Paris\"}"),
        tool_chunk(1, Some("call_2"), Some("f"), "{}"),
        ChatChunk::finish("chatcmpl-9", 1, "up", "tool_calls"),
        ChatChunk::usage("chatcmpl-9", 1, "up", Usage::new(5, 9)),
    ];
    let evs = events(&chunks, true);
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        evs[5].1,
        json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}})
    );
    let args: String = evs
        .iter()
        .filter(|(_, d)| d["index"] == 1 && d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert_eq!(evs[9].1["index"], 2);
    assert_eq!(evs[12].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn reasoning_streams_as_a_thinking_block() {
    let mut think = text_chunk("");
    think.choices[0]
        .delta
        .extra
        .insert("reasoning_content".into(), json!("hmm"));
    let evs = events(&[think, text_chunk("ok")], true);
    assert_eq!(
        evs[2].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        evs[3].1["delta"],
        json!({"type": "thinking_delta", "thinking": "hmm"})
    );
    assert_eq!(evs[5].1["content_block"]["type"], "text");
}

fn reasoning_chunk(index: Option<u32>, key: &str, value: Value) -> ChatChunk {
    let mut c = text_chunk("");
    c.choices[0].delta.content = None;
    let extra = &mut c.choices[0].delta.extra;
    extra.insert(key.into(), value);
    if let Some(i) = index {
        extra.insert("reasoning_index".into(), json!(i));
    }
    c
}

/// The message a client reassembles from the events, as the `anthropic` SDK does: deltas
/// applied to the block at their index.
fn reassemble(evs: &[(String, Value)]) -> Value {
    let mut content: Vec<Value> = Vec::new();
    let mut open = None;
    for (name, d) in evs {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block starts while another is open");
                assert_eq!(d["index"], content.len());
                open = d["index"].as_u64();
                content.push(d["content_block"].clone());
            }
            "content_block_delta" => {
                assert_eq!(d["index"].as_u64(), open, "a delta outside its open block");
                let b = &mut content[d["index"].as_u64().unwrap() as usize];
                let delta = &d["delta"];
                let (key, piece) = match delta["type"].as_str().unwrap() {
                    "thinking_delta" => ("thinking", delta["thinking"].clone()),
                    "text_delta" => ("text", delta["text"].clone()),
                    "signature_delta" => {
                        b["signature"] = delta["signature"].clone();
                        continue;
                    }
                    other => panic!("{other}"),
                };
                let joined = format!("{}{}", b[key].as_str().unwrap(), piece.as_str().unwrap());
                b[key] = json!(joined);
            }
            "content_block_stop" => {
                assert_eq!(d["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(open, None);
    Value::Array(content)
}

#[test]
fn thinking_streams_with_its_signature_before_the_block_stops() {
    let sig = "c2ln".repeat(80);
    let chunks = [
        reasoning_chunk(Some(0), "reasoning_content", json!("The user ")),
        reasoning_chunk(Some(0), "reasoning_content", json!("says hi.")),
        reasoning_chunk(Some(0), "reasoning_signature", json!(sig)),
        reasoning_chunk(Some(1), "reasoning_redacted", json!(["ZGF0YQ=="])),
        reasoning_chunk(Some(2), "reasoning_content", json!("More.")),
        reasoning_chunk(Some(2), "reasoning_signature", json!("s2")),
        text_chunk("Hi."),
        ChatChunk::finish("chatcmpl-9", 1, "up", "stop"),
    ];
    let evs = events(&chunks, true);
    assert_eq!(
        names(&evs)[2..11],
        [
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
        ]
    );
    assert_eq!(
        evs[5].1,
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": sig}})
    );
    assert_eq!(
        reassemble(&evs),
        json!([
            {"type": "thinking", "thinking": "The user says hi.", "signature": sig},
            {"type": "redacted_thinking", "data": "ZGF0YQ=="},
            {"type": "thinking", "thinking": "More.", "signature": "s2"},
            {"type": "text", "text": "Hi."}
        ])
    );
}

#[test]
fn unnumbered_reasoning_stays_in_the_open_thinking_block() {
    // An OpenAI-format upstream's reasoning has no index; a held-back tail neither.
    let chunks = [
        reasoning_chunk(None, "reasoning_content", json!("a")),
        reasoning_chunk(Some(0), "reasoning_content", json!("b")),
        reasoning_chunk(None, "reasoning_content", json!("c")),
        reasoning_chunk(Some(1), "reasoning_content", json!("d")),
        text_chunk("x"),
    ];
    assert_eq!(
        reassemble(&events(&chunks, true)),
        json!([
            {"type": "thinking", "thinking": "abc", "signature": ""},
            {"type": "thinking", "thinking": "d", "signature": ""},
            {"type": "text", "text": "x"}
        ])
    );
}

#[test]
fn a_failed_stream_ends_with_an_error_event() {
    let mut enc = Encoder::new("m");
    let mut out = Vec::new();
    enc.chunk(&text_chunk("partial"), &mut out);
    enc.error(
        &ApiError::new(ErrorCode::StreamInterrupted, "cut"),
        &mut out,
    );
    let evs = parse(&out);
    let (name, data) = evs.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(
        data,
        &json!({"type": "error", "error": {"type": "api_error", "message": "cut",
            "details": {"error_code": "stream_interrupted"}}})
    );
    assert!(!names(&evs).contains(&"message_stop"));
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Gen {
    Text(String),
    ToolResult(String),
    Image,
}

fn gen_block() -> impl Strategy<Value = Gen> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,12}".prop_map(Gen::Text),
        "[a-z]{0,8}".prop_map(Gen::ToolResult),
        Just(Gen::Image),
    ]
}

proptest! {
    /// However a user turn mixes blocks, every text (and tool result) reaches the chat request,
    /// in order.
    #[test]
    fn no_text_is_lost_or_reordered(blocks in proptest::collection::vec(gen_block(), 1..12)) {
        let content: Vec<Value> = blocks.iter().map(|b| match b {
            Gen::Text(t) => json!({"type": "text", "text": t}),
            Gen::ToolResult(t) => json!({"type": "tool_result", "tool_use_id": "t", "content": t}),
            Gen::Image => json!({"type": "image", "source": {"type": "url", "url": "https://x.test/i.png"}}),
        }).collect();
        let chat = decode(with_messages(json!([{"role": "user", "content": content}]))).unwrap();
        let expect: Vec<String> = blocks.iter().filter_map(|b| match b {
            Gen::Text(t) | Gen::ToolResult(t) => Some(t.clone()),
            Gen::Image => None,
        }).collect();
        let mut got = Vec::new();
        for m in &chat.messages {
            match m.content.as_ref().unwrap() {
                seam_types::chat::Content::Text(t) => got.push(t.clone()),
                seam_types::chat::Content::Parts(parts) => {
                    got.extend(parts.iter().filter_map(|p| p.text.clone()))
                }
            }
        }
        prop_assert_eq!(got, expect);
        prop_assert!(chat.validate().is_ok());
    }

    /// However the upstream splits a text, the client's text deltas join to it.
    #[test]
    fn text_deltas_join_to_the_text(text in "\\PC{0,60}", cuts in proptest::collection::vec(0usize..60, 0..8)) {
        let chars: Vec<char> = text.chars().collect();
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= chars.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for c in cuts.into_iter().chain([chars.len()]) {
            chunks.push(text_chunk(&chars[from..c].iter().collect::<String>()));
            from = c;
        }
        let evs = events(&chunks, true);
        let joined: String = evs.iter()
            .filter(|(_, d)| d["delta"]["type"] == "text_delta")
            .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
            .collect();
        prop_assert_eq!(joined, text);
        prop_assert_eq!(evs.last().map(|(n, _)| n.as_str()), Some("message_stop"));
    }
}
