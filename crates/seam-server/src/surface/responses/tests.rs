use std::sync::Arc;

use proptest::prelude::*;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Delta, FunctionCallDelta, Role, ToolCallDelta, Usage,
};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use super::convert::{self, CreateRequest, Meta, Status};
use super::stream::Encoder;
use crate::surface::StreamEncoder;

const BASE: &str = "0190f0f0aaaabbbbccccddddeeeeffff";

fn req(body: Value) -> CreateRequest {
    serde_json::from_value(body).unwrap()
}

/// The chat request a body becomes, as JSON (what an OpenAI-format upstream would get).
fn chat(body: Value) -> Value {
    chat_with(body, &[])
}

fn chat_with(body: Value, prior: &[Value]) -> Value {
    let r = req(body);
    r.check().unwrap();
    let items = r.input_items().unwrap();
    serde_json::to_value(convert::to_chat(&r, prior, &items).unwrap()).unwrap()
}

fn refused(body: Value) -> ApiError {
    let r = req(body);
    r.check()
        .and_then(|()| convert::to_chat(&r, &[], &r.input_items()?))
        .unwrap_err()
}

#[test]
fn a_string_input_is_one_user_message_after_the_instructions() {
    let c = chat(json!({"model": "m", "input": "Hello", "instructions": "Be terse."}));
    assert_eq!(
        c,
        json!({"model": "m", "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hello"},
        ]})
    );
}

#[test]
fn every_item_kind_translates() {
    let c = chat(json!({"model": "m", "input": [
        {"role": "developer", "content": "dev rules"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"},
        ]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{\"x\":1}"},
        {"type": "function_call", "call_id": "call_b", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "one"},
        {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "two"}]},
        {"role": "system", "content": "sys"},
    ]}));
    assert_eq!(
        c["messages"],
        json!([
            {"role": "developer", "content": "dev rules"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
            ]},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ]},
            {"role": "tool", "content": "one", "tool_call_id": "call_a"},
            {"role": "tool", "content": "two", "tool_call_id": "call_b"},
            {"role": "system", "content": "sys"},
        ])
    );
}

#[test]
fn calls_without_a_preceding_assistant_message_start_one() {
    let c = chat(json!({"model": "m", "input": [
        {"role": "user", "content": "Paris"},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]}));
    assert_eq!(
        c["messages"][1],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
        ]})
    );
}

#[test]
fn prior_turns_come_before_this_turn_and_instructions_first() {
    let prior = [
        json!({"type": "message", "role": "user", "id": "msg_in", "content": [{"type": "input_text", "text": "first"}]}),
        json!({"type": "message", "role": "assistant", "id": "msg_out", "status": "completed",
               "content": [{"type": "output_text", "text": "ok", "annotations": []}]}),
    ];
    let c = chat_with(
        json!({"model": "m", "input": "second", "instructions": "new rules", "previous_response_id": "resp_x"}),
        &prior,
    );
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "new rules"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ])
    );
}

#[test]
fn parameters_map_to_chat() {
    let c = chat(json!({
        "model": "m", "input": "hi",
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {}}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": false,
        "max_output_tokens": 50, "temperature": 0.5, "top_p": 0.9,
        "reasoning": {"effort": "low"},
        "metadata": {"k": "v"}, "user": "u-1", "store": false, "stream": true,
        "truncation": "auto", "include": [], "service_tier": "auto", "prompt_cache_key": "p",
        "some_future_field": 1,
    }));
    assert_eq!(
        c,
        json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": true,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                       "parameters": {"type": "object", "properties": {}}, "strict": true}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 50, "temperature": 0.5, "top_p": 0.9, "user": "u-1",
            "parallel_tool_calls": false,
            "reasoning_effort": "low",
        })
    );
}

#[test]
fn tool_choice_modes_and_parallel_calls_without_tools() {
    for mode in ["auto", "none", "required"] {
        let c = chat(
            json!({"model": "m", "input": "hi", "tool_choice": mode, "parallel_tool_calls": true}),
        );
        assert_eq!(c["tool_choice"], json!(mode));
        // OpenAI refuses `parallel_tool_calls` without tools.
        assert!(c.get("parallel_tool_calls").is_none());
    }
}

#[test]
fn text_format_becomes_response_format() {
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let c = chat(json!({"model": "m", "input": "hi", "text": {"format": {
        "type": "json_schema", "name": "person", "schema": schema, "strict": true}}}));
    assert_eq!(
        c["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": true}})
    );
    let c = chat(json!({"model": "m", "input": "hi", "text": {"format": {"type": "json_object"}}}));
    assert_eq!(c["response_format"], json!({"type": "json_object"}));
    let c = chat(json!({"model": "m", "input": "hi", "text": {"format": {"type": "text"}}}));
    assert!(c.get("response_format").is_none());
}

#[test]
fn what_seam_cannot_do_is_a_400_naming_it() {
    let cases = [
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}),
            "unsupported_parameter",
            "input[0].content[0].file_id",
            "file store",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "ws_1"}]}),
            "unsupported_parameter",
            "input[0].type",
            "item_reference",
        ),
        (
            json!({"model": "m", "input": "hi", "background": true}),
            "unsupported_parameter",
            "background",
            "Background",
        ),
        (
            json!({"model": "m", "input": [{"role": "critic", "content": "x"}]}),
            "invalid_request",
            "input[0].role",
            "must be one of",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
            "invalid_request",
            "input[0].call_id",
            "required",
        ),
        (
            json!({"model": "m", "input": []}),
            "invalid_request",
            "input",
            "at least one",
        ),
        (
            json!({"model": "m", "input": "hi", "temperature": 3.0}),
            "invalid_request",
            "temperature",
            "between 0 and 2",
        ),
    ];
    for (body, code, param, says) in cases {
        let e = refused(body.clone());
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.code, code, "{body}");
        assert_eq!(e.param.as_deref(), Some(param), "{body}");
        assert!(e.message.contains(says), "{body}: {}", e.message);
    }
}

#[test]
fn built_in_tools_are_left_to_the_native_body() {
    // The translation carries what chat can; the adapter of a target that gets it refuses the
    // rest (built-in tools and their items), the native body carries it to one that can.
    let c = chat(json!({"model": "m", "input": [
            {"role": "user", "content": "find it"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "found"}]},
            {"role": "user", "content": "thanks"}],
        "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}],
        "tool_choice": {"type": "web_search"}}));
    assert_eq!(c["tools"].as_array().unwrap().len(), 1);
    assert_eq!(c["tools"][0]["function"]["name"], "f");
    assert!(c.get("tool_choice").is_none());
    assert_eq!(c["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn what_only_the_responses_api_can_do_is_named() {
    let check = |body: Value, prior: &[Value], expect: Option<&str>| {
        let r = req(body.clone());
        let input = r.input_items().unwrap();
        let why = convert::requires(&r, prior.iter().chain(&input));
        assert_eq!(why.as_deref(), expect, "{body}");
    };
    let needs = "needs a provider with responses_api = true (OpenAI's Responses API)";
    check(
        json!({"model": "m", "input": "hi", "tool_choice": "auto",
                 "tools": [{"type": "function", "name": "f"}]}),
        &[],
        None,
    );
    check(
        json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]}),
        &[],
        Some(&format!("The built-in tool `web_search` {needs}")),
    );
    check(
        json!({"model": "m", "input": "hi", "tool_choice": {"type": "file_search"}}),
        &[],
        Some(&format!("A tool_choice of type `file_search` {needs}")),
    );
    // A search in an earlier turn, kept by Seam, still needs a target that can read it.
    check(
        json!({"model": "m", "input": "more"}),
        &[json!({"type": "web_search_call", "id": "ws_1", "status": "completed"})],
        Some(&format!("Input items of type `web_search_call` {needs}")),
    );
}

#[test]
fn the_native_body_expands_the_conversation_and_keeps_nothing_at_the_vendor() {
    let r = req(
        json!({"model": "gpt", "input": "and now?", "previous_response_id": "resp_1",
        "stream": true, "reasoning": {"effort": "high", "summary": "auto"},
        "tools": [{"type": "web_search"}], "include": ["reasoning.encrypted_content"],
        "truncation": "auto", "user": "u-1", "store": true}),
    );
    let prior = [
        json!({"type": "message", "id": "msg_seamin0000", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
        json!({"type": "reasoning", "id": "rs_seam0000", "summary": [], "content": [{"type": "reasoning_text", "text": "t"}]}),
        json!({"type": "reasoning", "id": "rs_vendor", "summary": [], "encrypted_content": "opaque"}),
        json!({"type": "web_search_call", "id": "ws_1", "status": "completed"}),
        json!({"type": "message", "id": "msg_seam0001", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "hello", "annotations": []}]}),
    ];
    let body = super::native_body(&r, &prior, &r.input_items().unwrap()).unwrap();
    let body = Value::Object(body);
    assert_eq!(body["store"], false);
    assert!(body.get("previous_response_id").is_none());
    assert!(body.get("stream").is_none());
    for kept in ["reasoning", "tools", "include", "truncation", "user"] {
        assert_eq!(
            body[kept],
            serde_json::to_value(&r).unwrap()[kept],
            "{kept}"
        );
    }
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "reasoning", "id": "rs_vendor", "summary": [], "encrypted_content": "opaque"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "hello", "annotations": []}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
        ])
    );
}

#[test]
fn items_chat_cannot_express_come_back_in_the_vendors_order() {
    let m = meta(json!({"model": "gpt", "input": "weather?"}));
    let search = json!({"type": "web_search_call", "id": "ws_1", "status": "completed",
                        "action": {"type": "search", "query": "q"}});
    let cite =
        json!({"type": "url_citation", "url": "https://x", "start_index": 0, "end_index": 5});
    let a = answer(
        json!({"role": "assistant", "content": "Paris", "reasoning_content": "think",
               "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
               "responses_output": [
                   {"type": "reasoning"}, search,
                   {"type": "message", "annotations": [cite]},
                   {"type": "function_call", "call_id": "call_1"}]}),
        "tool_calls",
        json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
    );
    let r = unary(&m, &a);
    let output = r["output"].as_array().unwrap();
    let types: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["reasoning", "web_search_call", "message", "function_call"]
    );
    assert_eq!(output[1], search);
    assert_eq!(output[2]["content"][0]["text"], "Paris");
    assert_eq!(output[2]["content"][0]["annotations"], json!([cite]));
    assert_eq!(output[3]["call_id"], "call_1");

    // Streamed: the built-in item where it came, the annotations on the message's part.
    let mut kept = text_chunk("");
    kept.choices[0].delta.content = None;
    kept.choices[0]
        .delta
        .extra
        .insert("responses_output".into(), json!([search]));
    let mut cited = text_chunk("");
    cited.choices[0].delta.content = None;
    cited.choices[0].delta.extra.insert(
        "responses_output".into(),
        json!([{"type": "message", "annotations": [cite]}]),
    );
    let ev = run(&m, &[kept, text_chunk("Paris"), cited, usage_chunk()]);
    assert_sequenced(&ev);
    let done: Vec<&Value> = ev
        .iter()
        .filter(|(k, _)| k == "response.output_item.done")
        .map(|(_, v)| &v["item"])
        .collect();
    assert_eq!(done[0], &search);
    assert_eq!(done[1]["content"][0]["annotations"], json!([cite]));
    let completed = &ev.last().unwrap().1["response"]["output"];
    assert_eq!(completed[0], search);
    assert_eq!(completed[1]["content"][0]["annotations"], json!([cite]));
}

fn meta(body: Value) -> Meta {
    Meta::new(BASE, 1_700_000_000, &req(body))
}

fn answer(message: Value, finish: &str, usage: Value) -> ChatCompletion {
    serde_json::from_value(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-upstream",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }))
    .unwrap()
}

fn unary(meta: &Meta, a: &ChatCompletion) -> Value {
    let finish = a.choices[0].finish_reason.as_deref();
    convert::response(
        meta,
        &a.model,
        &convert::output_items(a),
        Status::Done(finish),
        a.usage.as_ref(),
    )
}

#[test]
fn a_text_answer_is_a_completed_response_echoing_the_request() {
    let m = meta(
        json!({"model": "gpt", "input": "hi", "instructions": "terse", "metadata": {"k": "v"},
                        "user": "u-1", "temperature": 0.2}),
    );
    let a = answer(
        json!({"role": "assistant", "content": "Hello!"}),
        "stop",
        json!({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 1}}),
    );
    let r = unary(&m, &a);
    let expected = json!({
        "id": format!("resp_{BASE}"), "object": "response", "created_at": 1_700_000_000,
        "status": "completed", "background": false, "error": null, "incomplete_details": null,
        "model": "gpt-upstream",
        "output": [{"type": "message", "id": format!("msg_{BASE}0000"), "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}]}],
        "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                  "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 11},
        "instructions": "terse", "max_output_tokens": null, "metadata": {"k": "v"},
        "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null}, "store": true, "temperature": 0.2,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": null,
        "truncation": "disabled", "user": "u-1",
    });
    assert_eq!(r, expected);
}

#[test]
fn calls_and_reasoning_become_output_items() {
    let m = meta(json!({"model": "gpt", "input": "Paris"}));
    let a = answer(
        json!({"role": "assistant", "content": null, "reasoning_content": "think",
               "tool_calls": [
                 {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"q\":\"Paris\"}"}},
                 {"id": "call_2", "type": "function", "function": {"name": "t", "arguments": "{}"}}]}),
        "tool_calls",
        json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
    );
    let r = unary(&m, &a);
    assert_eq!(r["status"], "completed");
    assert_eq!(
        r["output"],
        json!([
            {"type": "reasoning", "id": format!("rs_{BASE}0000"), "summary": [],
             "content": [{"type": "reasoning_text", "text": "think"}], "status": "completed"},
            {"type": "function_call", "id": format!("fc_{BASE}0001"), "call_id": "call_1", "name": "w",
             "arguments": "{\"q\":\"Paris\"}", "status": "completed"},
            {"type": "function_call", "id": format!("fc_{BASE}0002"), "call_id": "call_2", "name": "t",
             "arguments": "{}", "status": "completed"},
        ])
    );
    assert_eq!(
        r["usage"]["input_tokens_details"]["cached_tokens"], 0,
        "details default to zero"
    );
}

#[test]
fn a_length_finish_is_incomplete_for_max_output_tokens() {
    let m = meta(json!({"model": "gpt", "input": "hi", "max_output_tokens": 3}));
    let a = answer(
        json!({"role": "assistant", "content": "cut sho"}),
        "length",
        json!({"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}),
    );
    let r = unary(&m, &a);
    assert_eq!(r["status"], "incomplete");
    assert_eq!(
        r["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(r["output"][0]["status"], "incomplete");
    assert_eq!(r["max_output_tokens"], 3);
}

#[test]
fn input_items_get_ids_unless_they_have_one() {
    let m = meta(json!({"model": "gpt", "input": "x"}));
    let items = m.with_ids(vec![
        json!({"role": "user", "content": "a"}),
        json!({"type": "function_call_output", "call_id": "c", "output": "o"}),
        json!({"type": "message", "role": "user", "content": "b", "id": "msg_mine"}),
    ]);
    assert_eq!(items[0]["id"], format!("msg_{BASE}in0000"));
    assert_eq!(items[1]["id"], format!("fco_{BASE}in0001"));
    assert_eq!(items[2]["id"], "msg_mine");
}

// ---- streams ----

/// `event: T\ndata: J\n\n` frames → (T, J); the event name always equals the data's `type`.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.ends_with("\n\n"));
    text.split_terminator("\n\n")
        .map(|frame| {
            let (ev, data) = frame.split_once('\n').unwrap();
            let ev = ev.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], ev.as_str());
            (ev, data)
        })
        .collect()
}

fn text_chunk(t: &str) -> ChatChunk {
    ChatChunk::delta(
        "c",
        1,
        "gpt-upstream",
        Delta {
            content: Some(t.into()),
            ..Delta::default()
        },
    )
}

fn call_chunk(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
    ChatChunk::delta(
        "c",
        1,
        "gpt-upstream",
        Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: id.map(Into::into),
                kind: id.map(|_| "function".into()),
                function: Some(FunctionCallDelta {
                    name: name.map(Into::into),
                    arguments: Some(args.into()),
                }),
            }]),
            ..Delta::default()
        },
    )
}

fn run(meta: &Meta, chunks: &[ChatChunk]) -> Vec<(String, Value)> {
    let mut enc = Encoder::new(Arc::new(meta.clone()));
    let mut out = Vec::new();
    for c in chunks {
        enc.chunk(c, &mut out);
    }
    enc.end(&mut out);
    events(&out)
}

fn kinds(ev: &[(String, Value)]) -> Vec<&str> {
    ev.iter().map(|(k, _)| k.as_str()).collect()
}

fn assert_sequenced(ev: &[(String, Value)]) {
    for (i, (_, data)) in ev.iter().enumerate() {
        assert_eq!(data["sequence_number"], i as u64, "{data}");
    }
}

fn usage_chunk() -> ChatChunk {
    ChatChunk::usage("c", 1, "gpt-upstream", Usage::new(5, 3))
}

#[test]
fn a_text_stream_is_the_responses_event_sequence() {
    let m = meta(json!({"model": "gpt", "input": "hi", "stream": true}));
    let ev = run(
        &m,
        &[
            text_chunk("Hel"),
            text_chunk("lo"),
            ChatChunk::finish("c", 1, "gpt-upstream", "stop"),
            usage_chunk(),
        ],
    );
    assert_eq!(
        kinds(&ev),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_sequenced(&ev);
    assert_eq!(ev[0].1["response"]["status"], "in_progress");
    assert_eq!(ev[0].1["response"]["output"], json!([]));
    assert_eq!(ev[2].1["item"]["content"], json!([]));
    assert_eq!(ev[6].1["text"], "Hello");
    let done = &ev[9].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["usage"]["total_tokens"], 8);
    // The stream's final response is the one a unary request (and the store) gets.
    let a = answer(
        json!({"role": "assistant", "content": "Hello"}),
        "stop",
        json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    );
    assert_eq!(done, &unary(&m, &a));
}

#[test]
fn a_function_call_stream_has_argument_deltas() {
    let m = meta(json!({"model": "gpt", "input": "Paris", "stream": true}));
    let ev = run(
        &m,
        &[
            call_chunk(0, Some("call_1"), Some("w"), ""),
            call_chunk(0, None, None, "{\"q\":"),
            call_chunk(0, None, None, "\"Paris\"}"),
            ChatChunk::finish("c", 1, "gpt-upstream", "tool_calls"),
            usage_chunk(),
        ],
    );
    assert_eq!(
        kinds(&ev),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_sequenced(&ev);
    assert_eq!(ev[2].1["item"]["call_id"], "call_1");
    assert_eq!(ev[2].1["item"]["name"], "w");
    assert_eq!(ev[5].1["arguments"], "{\"q\":\"Paris\"}");
    let a = answer(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"q\":\"Paris\"}"}}]}),
        "tool_calls",
        json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    );
    assert_eq!(ev[7].1["response"], unary(&m, &a));
}

#[test]
fn text_then_two_calls_open_three_items_in_order() {
    let m = meta(json!({"model": "gpt", "input": "x", "stream": true}));
    let ev = run(
        &m,
        &[
            text_chunk("checking"),
            call_chunk(0, Some("a"), Some("f"), "{}"),
            call_chunk(1, Some("b"), Some("g"), "{}"),
            ChatChunk::finish("c", 1, "gpt-upstream", "tool_calls"),
        ],
    );
    assert_sequenced(&ev);
    let added: Vec<(u64, String)> = ev
        .iter()
        .filter(|(k, _)| k == "response.output_item.added")
        .map(|(_, d)| {
            (
                d["output_index"].as_u64().unwrap(),
                d["item"]["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        added,
        [
            (0, "message".into()),
            (1, "function_call".into()),
            (2, "function_call".into())
        ]
    );
    let last = &ev.last().unwrap().1["response"];
    assert_eq!(last["output"].as_array().unwrap().len(), 3);
    assert!(last["usage"].is_null(), "no usage chunk, no usage");
}

#[test]
fn a_length_stream_ends_incomplete() {
    let m = meta(json!({"model": "gpt", "input": "x", "stream": true, "max_output_tokens": 2}));
    let ev = run(
        &m,
        &[
            text_chunk("cut"),
            ChatChunk::finish("c", 1, "gpt-upstream", "length"),
        ],
    );
    let (kind, last) = ev.last().unwrap();
    assert_eq!(kind, "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn a_failure_after_the_first_byte_ends_in_response_failed() {
    let m = meta(json!({"model": "gpt", "input": "x", "stream": true}));
    let mut enc = Encoder::new(Arc::new(m));
    let mut out = Vec::new();
    enc.chunk(&text_chunk("partial"), &mut out);
    let e = ApiError::new(ErrorCode::StreamInterrupted, "The upstream stream was cut");
    enc.error(&e, &mut out);
    enc.end(&mut out);
    let ev = events(&out);
    assert_sequenced(&ev);
    let tail: Vec<&str> = kinds(&ev).into_iter().rev().take(2).collect();
    assert_eq!(tail, ["response.failed", "error"]);
    let failed = &ev.last().unwrap().1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "server_error", "message": "The upstream stream was cut"})
    );
    assert_eq!(
        failed["output"][0]["content"][0]["text"], "partial",
        "what arrived is kept"
    );
    assert_eq!(ev[ev.len() - 2].1["code"], "stream_interrupted");
}

#[test]
fn a_stream_failing_before_any_chunk_still_starts_with_response_created() {
    let m = meta(json!({"model": "gpt", "input": "x", "stream": true}));
    let mut enc = Encoder::new(Arc::new(m));
    let mut out = Vec::new();
    enc.error(
        &ApiError::new(ErrorCode::UpstreamTimeout, "timed out"),
        &mut out,
    );
    let ev = events(&out);
    assert_eq!(
        kinds(&ev),
        [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed"
        ]
    );
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Item {
    Msg(&'static str, String),
    Call(String),
    Output(String),
    Reasoning,
}

fn item() -> impl Strategy<Value = Item> {
    let text = "[a-z ]{0,12}";
    prop_oneof![
        (
            prop::sample::select(vec!["user", "assistant", "system", "developer"]),
            text
        )
            .prop_map(|(r, t)| Item::Msg(r, t)),
        text.prop_map(Item::Call),
        text.prop_map(Item::Output),
        Just(Item::Reasoning),
    ]
}

impl Item {
    fn json(&self, i: usize) -> Value {
        match self {
            Item::Msg(role, t) if i % 2 == 0 => json!({"role": role, "content": t}),
            Item::Msg(role, t) => {
                let kind = if *role == "assistant" {
                    "output_text"
                } else {
                    "input_text"
                };
                json!({"type": "message", "role": role, "content": [{"type": kind, "text": t}]})
            }
            Item::Call(args) => {
                json!({"type": "function_call", "call_id": format!("c{i}"), "name": "f", "arguments": args})
            }
            Item::Output(t) => {
                json!({"type": "function_call_output", "call_id": format!("c{i}"), "output": t})
            }
            Item::Reasoning => json!({"type": "reasoning", "summary": []}),
        }
    }

    /// The text the model must read for this item, if any.
    fn text(&self) -> Option<&str> {
        match self {
            Item::Msg(_, t) | Item::Call(t) | Item::Output(t) => Some(t),
            Item::Reasoning => None,
        }
    }
}

/// Every text of a chat request in order: message content, then its calls' arguments.
fn chat_texts(c: &ChatRequest) -> Vec<String> {
    let mut out = Vec::new();
    for m in &c.messages {
        if m.content.is_some() {
            out.push(m.text());
        }
        for call in m.tool_calls.iter().flatten() {
            out.push(call.function.arguments.clone());
        }
    }
    out
}

proptest! {
    #[test]
    fn no_item_text_is_lost_or_reordered(items in prop::collection::vec(item(), 1..12)) {
        let input: Vec<Value> = items.iter().enumerate().map(|(i, it)| it.json(i)).collect();
        let r = req(json!({"model": "m", "input": input}));
        let expected: Vec<&str> = items.iter().filter_map(Item::text).collect();
        match convert::to_chat(&r, &[], &r.input_items().unwrap()) {
            Ok(c) => {
                prop_assert_eq!(chat_texts(&c), expected);
                for m in &c.messages {
                    prop_assert!(m.role != Role::Tool || m.tool_call_id.is_some());
                }
            }
            // Only an input with nothing but reasoning has no message.
            Err(e) => prop_assert!(expected.is_empty(), "{}", e),
        }
    }

    #[test]
    fn any_chunking_streams_the_whole_text(
        text in "[a-zé😀 ]{0,40}",
        cuts in prop::collection::vec(0usize..40, 0..8),
    ) {
        let chars: Vec<char> = text.chars().collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(chars.len())).collect();
        cuts.push(0);
        cuts.push(chars.len());
        cuts.sort_unstable();
        let chunks: Vec<ChatChunk> = cuts
            .windows(2)
            .map(|w| text_chunk(&chars[w[0]..w[1]].iter().collect::<String>()))
            .chain([ChatChunk::finish("c", 1, "gpt-upstream", "stop")])
            .collect();
        let m = meta(json!({"model": "gpt", "input": "x", "stream": true}));
        let ev = run(&m, &chunks);
        let deltas: String = ev
            .iter()
            .filter(|(k, _)| k == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap())
            .collect();
        prop_assert_eq!(&deltas, &text);
        let done = &ev.last().unwrap().1["response"];
        prop_assert_eq!(done["output"][0]["content"][0]["text"].as_str(), Some(text.as_str()));
        for (i, (_, d)) in ev.iter().enumerate() {
            prop_assert_eq!(d["sequence_number"].as_u64(), Some(i as u64));
        }
    }
}
