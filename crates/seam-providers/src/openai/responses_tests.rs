use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::http::NativeBody;
use crate::sse::SseParser;

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[test]
fn native_body_has_the_targets_model_and_stream() {
    let body = map(
        json!({"model": "alias", "stream": false, "input": "hi", "reasoning": {"effort": "low"}}),
    );
    let sent = serde_json::to_value(NativeBody {
        model: "gpt-5",
        stream: true,
        body: &body,
    })
    .unwrap();
    assert_eq!(
        sent,
        json!({"model": "gpt-5", "input": "hi", "reasoning": {"effort": "low"}, "stream": true})
    );
    let unary = serde_json::to_value(NativeBody {
        model: "gpt-5",
        stream: false,
        body: &body,
    })
    .unwrap();
    assert!(unary.get("stream").is_none());
}

#[test]
fn a_response_becomes_a_completion() {
    let r = map(json!({
        "id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed",
        "model": "gpt-5-2025",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [
                {"type": "output_text", "text": "Paris", "annotations": [{"type": "url_citation", "url": "https://x", "start_index": 0, "end_index": 5}]}
            ]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"q\":\"Paris\"}"}
        ],
        "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
                  "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 17}
    }));
    let c = completion(&r, "asked").unwrap();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["id"], "resp_1");
    assert_eq!(v["created"], 1700000000);
    assert_eq!(v["model"], "gpt-5-2025");
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let m = &choice["message"];
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["content"], "Paris");
    assert_eq!(m["reasoning_content"], "thinking");
    assert_eq!(
        m["tool_calls"],
        json!([{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"q\":\"Paris\"}"}}])
    );
    assert_eq!(
        m[OUTPUT_KEY],
        json!([
            {"type": "reasoning"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
            {"type": "message", "annotations": [{"type": "url_citation", "url": "https://x", "start_index": 0, "end_index": 5}]},
            {"type": "function_call", "call_id": "call_1"}
        ])
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 3}})
    );
}

#[test]
fn plain_incomplete_and_failed_responses() {
    let plain = completion(
        &map(json!({"status": "completed", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "hi", "annotations": []}]}]})),
        "m",
    )
    .unwrap();
    assert_eq!(plain.choices[0].message.text(), "hi");
    assert_eq!(plain.choices[0].finish_reason.as_deref(), Some("stop"));
    // Nothing chat cannot say: no extra key.
    assert!(plain.choices[0].message.extra.is_empty());
    assert_eq!(plain.model, "m");

    let cut = completion(
        &map(json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                    "output": [{"type": "message", "content": [{"type": "output_text", "text": "h"}]}]})),
        "m",
    )
    .unwrap();
    assert_eq!(cut.choices[0].finish_reason.as_deref(), Some("length"));

    let refused = completion(
        &map(json!({"status": "completed", "output": [
            {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}]})),
        "m",
    )
    .unwrap();
    assert_eq!(refused.choices[0].message.extra["refusal"], "no");

    let failed = completion(
        &map(json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}})),
        "m",
    );
    assert!(matches!(failed, Err(ProviderError::Status { message, .. }) if message == "boom"));
}

/// A Responses stream: text with a citation after a web search, then a function call.
fn stream_text() -> String {
    let events = [
        json!({"type": "response.created", "response": {"id": "resp_9", "created_at": 1700000001, "model": "gpt-5", "status": "in_progress", "output": []}}),
        json!({"type": "response.in_progress", "response": {"id": "resp_9"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "hmm"}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "web_search_call", "id": "ws_1", "status": "completed"}}),
        json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "message", "id": "msg_1", "content": []}}),
        json!({"type": "response.output_text.delta", "output_index": 2, "delta": "Par"}),
        json!({"type": "response.output_text.delta", "output_index": 2, "delta": "is"}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "message", "id": "msg_1", "content": [
            {"type": "output_text", "text": "Paris", "annotations": [{"type": "url_citation", "url": "https://x"}]}]}}),
        json!({"type": "response.output_item.added", "output_index": 3, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 3, "delta": "{\"q\":"}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 3, "delta": "\"Paris\"}"}),
        json!({"type": "response.completed", "response": {"id": "resp_9", "status": "completed",
            "usage": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}}}),
    ];
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

/// Decodes a body given in pieces: the chunks, and whether the stream completed.
fn decode(pieces: &[&[u8]]) -> Result<(Vec<ChatChunk>, bool), ProviderError> {
    let mut parser = SseParser::new(1 << 20);
    let mut decoder = Decoder::new("asked");
    let mut out = VecDeque::new();
    let mut events = Vec::new();
    let mut done = false;
    for piece in pieces {
        parser.push(piece, &mut events).unwrap();
        for ev in events.drain(..) {
            if !done {
                done = decoder.event(ev, &mut out)?;
            }
        }
    }
    parser.finish(&mut events);
    for ev in events.drain(..) {
        if !done {
            done = decoder.event(ev, &mut out)?;
        }
    }
    if !done {
        done = decoder.end(&mut out)?;
    }
    Ok((out.into_iter().collect(), done))
}

#[test]
fn a_stream_becomes_chunks() {
    let text = stream_text();
    let (chunks, done) = decode(&[text.as_bytes()]).unwrap();
    assert!(done);
    for c in &chunks {
        assert_eq!(c.id, "resp_9");
        assert_eq!(c.model, "gpt-5");
        assert_eq!(c.created, 1700000001);
    }
    let deltas: Vec<&Delta> = chunks
        .iter()
        .filter_map(|c| Some(&c.choices.first()?.delta))
        .collect();
    assert_eq!(deltas[0].role, Some(Role::Assistant));
    assert_eq!(deltas[0].extra["reasoning_content"], "hmm");
    assert_eq!(
        deltas[1].extra[OUTPUT_KEY],
        json!([{"type": "web_search_call", "id": "ws_1", "status": "completed"}])
    );
    let content: String = deltas.iter().filter_map(|d| d.content.clone()).collect();
    assert_eq!(content, "Paris");
    assert_eq!(
        deltas[4].extra[OUTPUT_KEY],
        json!([{"type": "message", "annotations": [{"type": "url_citation", "url": "https://x"}]}])
    );
    let calls: Vec<&ToolCallDelta> = deltas
        .iter()
        .filter_map(|d| d.tool_calls.as_ref())
        .flatten()
        .collect();
    assert_eq!(calls[0].id.as_deref(), Some("call_1"));
    assert_eq!(
        calls[0].function.as_ref().unwrap().name.as_deref(),
        Some("get_weather")
    );
    let args: String = calls
        .iter()
        .filter_map(|c| c.function.as_ref()?.arguments.clone())
        .collect();
    assert_eq!(args, r#"{"q":"Paris"}"#);
    assert!(calls.iter().all(|c| c.index == 0));
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c.choices.first()?.finish_reason.as_deref())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.as_ref().unwrap().total_tokens, 11);
}

#[test]
fn failures_and_cuts() {
    let text = stream_text();
    let cut_at = text.find("response.completed").unwrap();
    let (_, done) = decode(&[&text.as_bytes()[..cut_at]]).unwrap();
    assert!(!done, "a stream without response.completed is cut");

    let failed = "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n";
    assert!(matches!(
        decode(&[failed.as_bytes()]),
        Err(ProviderError::StreamCut(m)) if m.contains("boom")
    ));
    let error = "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n";
    assert!(matches!(
        decode(&[error.as_bytes()]),
        Err(ProviderError::StreamCut(m)) if m.contains("slow down")
    ));
    let incomplete = "data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
    let (chunks, done) = decode(&[incomplete.as_bytes()]).unwrap();
    assert!(done);
    assert_eq!(
        chunks[0].choices[0].finish_reason.as_deref(),
        Some("length")
    );
}

proptest! {
    // However the bytes are split, the chunks are the same.
    #[test]
    fn any_split_gives_the_same_chunks(cuts in proptest::collection::vec(0usize..4000, 0..8)) {
        let text = stream_text();
        let bytes = text.as_bytes();
        let (whole, done) = decode(&[bytes]).unwrap();
        prop_assert!(done);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut last = 0;
        for c in cuts {
            pieces.push(&bytes[last..c]);
            last = c;
        }
        pieces.push(&bytes[last..]);
        let (split, done) = decode(&pieces).unwrap();
        prop_assert!(done);
        prop_assert_eq!(split, whole);
    }
}
