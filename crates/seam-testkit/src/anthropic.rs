//! Anthropic's Messages API (`/v1/messages`): JSON, and the named-event stream
//! `message_start`, `content_block_start`, `ping`, `content_block_delta`…, `content_block_stop`,
//! `message_delta`, `message_stop`.
//!
//! Extended thinking: a request with `"thinking": {"type": "enabled" | "adaptive", …}`, or for a
//! model whose name contains `thinking`, is answered with a `thinking` block first —
//! `Thinking about: <last user text>`, signed by [`signature`] — streamed as `thinking_delta`s
//! and a `signature_delta`. A thinking block sent back in history with a signature of the mock's
//! must carry it with the text it signed, or the request is refused as Anthropic refuses an
//! altered block (signatures the mock did not issue are not checked).
//!
//! Prompt caching: a request with `cache_control` anywhere, or for a model whose name contains
//! `cache`, reports [`CACHE_READ`] tokens read from the cache and [`CACHE_WRITE`] written to it,
//! beside `input_tokens`.

use serde_json::{Value, json};

use crate::faults::{ApiError, Reply, Sse, named_event};
use crate::text::{Answer, thirds, word_pieces, words};

/// How the mock's signatures begin.
const SIGNATURE_PREFIX: &str = "EqMockSig";

/// The mock's signature of a thinking text: [`SIGNATURE_PREFIX`], then hex digits derived from
/// the text (FNV-1a), as long as Anthropic's, so an altered block is told apart.
pub(crate) fn signature(thinking: &str) -> String {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in thinking.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    let mut out = String::from(SIGNATURE_PREFIX);
    while out.len() < 320 {
        h = (h ^ out.len() as u64).wrapping_mul(PRIME);
        out.push_str(&format!("{h:016x}"));
    }
    out
}
/// Input tokens reported as read from the prompt cache, when caching is on.
pub(crate) const CACHE_READ: u64 = 11;
/// Input tokens reported as written to the prompt cache, when caching is on.
pub(crate) const CACHE_WRITE: u64 = 7;

pub(crate) fn messages(body: &Value, seq: usize) -> Result<Reply, ApiError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    if max_tokens.unwrap_or(0) == 0 {
        return Err(ApiError::invalid(
            "max_tokens",
            "max_tokens: Field required (a positive integer)",
        ));
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid("messages", "messages: at least one message is required")
        })?;
    check_signatures(messages)?;
    let answer = decide(messages, body.get("tools"), body.get("tool_choice"));
    let thought =
        thinks(body, model).then(|| format!("Thinking about: {}", last_user_text(messages)));
    let cached = model.contains("cache") || has_cache_control(body);
    let input_tokens = words(&blocks_text(body.get("system")))
        + messages
            .iter()
            .map(|m| {
                let content = m.get("content");
                words(&blocks_text(content)) + words(&tool_results(content).join("\n"))
            })
            .sum::<usize>();
    let output_tokens = answer.tokens() + thought.as_deref().map_or(0, words);
    let usage = |output: usize| {
        let mut u = json!({"input_tokens": input_tokens, "output_tokens": output});
        if cached {
            u["cache_read_input_tokens"] = json!(CACHE_READ);
            u["cache_creation_input_tokens"] = json!(CACHE_WRITE);
        }
        u
    };
    let id = format!("msg_mock_{seq}");
    let tool_id = format!("toolu_mock_{seq}");
    let stop_reason = match answer {
        Answer::Text(_) => "end_turn",
        Answer::ToolCall { .. } => "tool_use",
    };
    if body.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let start = json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": usage(0),
        }});
        let (block, deltas): (Value, Vec<Value>) = match &answer {
            Answer::Text(text) => (
                json!({"type": "text", "text": ""}),
                word_pieces(text)
                    .into_iter()
                    .map(|p| json!({"type": "text_delta", "text": p}))
                    .collect(),
            ),
            Answer::ToolCall { name, arguments } => (
                json!({"type": "tool_use", "id": tool_id, "name": name, "input": {}}),
                thirds(arguments)
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect(),
            ),
        };
        let block_start = |index: usize, block: &Value| {
            named_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": block}),
            )
        };
        let block_delta = |index: usize, delta: Value| {
            named_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            )
        };
        let block_stop = |index: usize| {
            named_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            )
        };
        // The thinking block, if any, is block 0 and streams before the answer's.
        let mut content = Vec::new();
        let first = match &thought {
            Some(t) => {
                content.extend(
                    word_pieces(t)
                        .into_iter()
                        .map(|p| block_delta(0, json!({"type": "thinking_delta", "thinking": p}))),
                );
                content.push(block_delta(
                    0,
                    json!({"type": "signature_delta", "signature": signature(t)}),
                ));
                content.push(block_stop(0));
                content.push(block_start(1, &block));
                json!({"type": "thinking", "thinking": "", "signature": ""})
            }
            None => block.clone(),
        };
        let last = usize::from(thought.is_some());
        content.extend(deltas.into_iter().map(|d| block_delta(last, d)));
        return Ok(Reply::Stream(Sse {
            prelude: vec![
                named_event("message_start", &start),
                block_start(0, &first),
                named_event("ping", &json!({"type": "ping"})),
            ],
            content,
            epilogue: vec![
                block_stop(last),
                named_event(
                    "message_delta",
                    &json!({"type": "message_delta",
                            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                            "usage": usage(output_tokens)}),
                ),
                named_event("message_stop", &json!({"type": "message_stop"})),
            ],
            error: named_event(
                "error",
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": "mock overloaded"}}),
            ),
        }));
    }
    let mut content: Vec<Value> = thought
        .iter()
        .map(|t| json!({"type": "thinking", "thinking": t, "signature": signature(t)}))
        .collect();
    content.push(match &answer {
        Answer::Text(text) => json!({"type": "text", "text": text}),
        Answer::ToolCall { name, arguments } => {
            // `arguments` was encoded from a JSON object a moment ago, so it parses back.
            let input: Value = serde_json::from_str(arguments).unwrap_or_default();
            json!({"type": "tool_use", "id": tool_id, "name": name, "input": input})
        }
    });
    Ok(Reply::Json(json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage(output_tokens),
    })))
}

/// Whether to think first: asked for, or a thinking model.
fn thinks(body: &Value, model: &str) -> bool {
    let kind = body
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str);
    matches!(kind, Some("enabled" | "adaptive")) || model.contains("thinking")
}

/// Whether any part of the request asks for prompt caching.
fn has_cache_control(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| k == "cache_control" || has_cache_control(v)),
        Value::Array(a) => a.iter().any(has_cache_control),
        _ => false,
    }
}

/// Refuses a thinking block in history that the mock signed but whose text or signature was
/// altered since, as Anthropic refuses one.
fn check_signatures(messages: &[Value]) -> Result<(), ApiError> {
    for m in messages.iter().filter(|m| role(m) == "assistant") {
        let Some(Value::Array(blocks)) = m.get("content") else {
            continue;
        };
        for b in blocks {
            let field = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default();
            let sig = field("signature");
            if field("type") == "thinking"
                && sig.starts_with(SIGNATURE_PREFIX)
                && sig != signature(field("thinking"))
            {
                return Err(ApiError::invalid(
                    "messages",
                    "messages: Invalid `signature` in `thinking` block",
                ));
            }
        }
    }
    Ok(())
}

fn last_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .map(|m| blocks_text(m.get("content")))
        .unwrap_or_default()
}

/// Tool results in the last (user) message → echo them; a user turn last with tools offered →
/// call one; else echo the last user text.
fn decide(messages: &[Value], tools: Option<&Value>, tool_choice: Option<&Value>) -> Answer {
    let last = messages.last();
    let results = tool_results(last.and_then(|m| m.get("content")));
    if !results.is_empty() {
        return Answer::echo(&results.join("\n"));
    }
    let user_text = last_user_text(messages);
    let last_is_user = last.is_some_and(|m| role(m) == "user");
    match tool_to_call(tools, tool_choice) {
        Some(name) if last_is_user => Answer::call(name, &user_text),
        _ => Answer::echo(&user_text),
    }
}

/// `{"type": "tool", "name": …}` names the tool; `{"type": "none"}` forbids one; otherwise the
/// first tool offered.
fn tool_to_call<'a>(tools: Option<&'a Value>, tool_choice: Option<&'a Value>) -> Option<&'a str> {
    let first = tools?.as_array()?.first()?.get("name")?.as_str()?;
    let kind = tool_choice
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str);
    match kind {
        Some("none") => None,
        Some("tool") => Some(
            tool_choice
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(first),
        ),
        _ => Some(first),
    }
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A string content, or its `text` blocks joined by newlines.
fn blocks_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The text of each `tool_result` block in `content`.
fn tool_results(content: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(blocks)) = content else {
        return Vec::new();
    };
    blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| blocks_text(b.get("content")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let tools =
            json!([{"name": "first", "input_schema": {}}, {"name": "second", "input_schema": {}}]);
        let named = json!({"type": "tool", "name": "second"});
        let none = json!({"type": "none"});
        let user = json!({"role": "user", "content": [{"type": "text", "text": "hi"}]});
        let assistant = json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "t", "name": "first", "input": {"q": "hi"}}]});
        let result = json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": "42"},
            {"type": "tool_result", "tool_use_id": "u", "content": [{"type": "text", "text": "43"}]}]});
        let cases = [
            (vec![user.clone()], None, None, Answer::echo("hi")),
            (
                vec![user.clone()],
                Some(&tools),
                None,
                Answer::call("first", "hi"),
            ),
            (
                vec![user.clone()],
                Some(&tools),
                Some(&named),
                Answer::call("second", "hi"),
            ),
            (
                vec![user.clone()],
                Some(&tools),
                Some(&none),
                Answer::echo("hi"),
            ),
            (
                vec![user, assistant, result],
                Some(&tools),
                None,
                Answer::echo("42\n43"),
            ),
        ];
        for (messages, tools, choice, expect) in cases {
            assert_eq!(decide(&messages, tools, choice), expect, "{messages:?}");
        }
    }

    fn ask(body: Value) -> Result<Reply, ApiError> {
        messages(&body, 0)
    }

    fn json_answer(body: Value) -> Value {
        match ask(body) {
            Ok(Reply::Json(v)) => v,
            _ => panic!("not a JSON answer"),
        }
    }

    /// `(event name, data)` of a streamed answer, faults aside.
    fn stream_answer(mut body: Value) -> Vec<(String, Value)> {
        body["stream"] = json!(true);
        let Ok(Reply::Stream(sse)) = ask(body) else {
            panic!("not a stream")
        };
        [sse.prelude, sse.content, sse.epilogue]
            .concat()
            .iter()
            .map(|b| {
                let text = std::str::from_utf8(b).unwrap();
                let (name, data) = text.trim_end().split_once('\n').unwrap();
                (
                    name.strip_prefix("event: ").unwrap().to_owned(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    fn hello(model: &str) -> Value {
        json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hello there"}]})
    }

    #[test]
    fn thinking_comes_first_and_signed() {
        let mut asked = hello("claude-mock");
        asked["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
        for body in [asked, hello("claude-thinking-mock")] {
            let a = json_answer(body.clone());
            assert_eq!(
                a["content"],
                json!([
                    {"type": "thinking", "thinking": "Thinking about: hello there",
                     "signature": signature("Thinking about: hello there")},
                    {"type": "text", "text": "mock: hello there"}
                ])
            );
            assert_eq!(
                a["usage"]["output_tokens"],
                4 + 3,
                "the thinking words count too"
            );

            let events = stream_answer(body);
            let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
            assert_eq!(
                events[1].1["content_block"],
                json!({"type": "thinking", "thinking": "", "signature": ""})
            );
            let thinking: String = events
                .iter()
                .filter(|(_, d)| d["index"] == 0 && d["delta"]["type"] == "thinking_delta")
                .map(|(_, d)| d["delta"]["thinking"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(thinking, "Thinking about: hello there");
            let sig = events
                .iter()
                .position(|(_, d)| d["delta"]["type"] == "signature_delta")
                .unwrap();
            assert_eq!(
                events[sig].1["delta"]["signature"],
                signature("Thinking about: hello there")
            );
            assert_eq!(
                events[sig + 1].1,
                json!({"type": "content_block_stop", "index": 0})
            );
            assert_eq!(events[sig + 2].1["content_block"]["type"], "text");
            assert_eq!(events[sig + 2].1["index"], 1);
        }
        let plain = json_answer(hello("claude-mock"));
        assert_eq!(plain["content"].as_array().unwrap().len(), 1);
        assert!(plain["usage"].get("cache_read_input_tokens").is_none());
    }

    #[test]
    fn a_thinking_block_in_history_must_keep_its_signature() {
        let history = |thinking: &str, signature: &str| {
            json!({"model": "claude-mock", "max_tokens": 64, "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": thinking, "signature": signature},
                    {"type": "text", "text": "b"}]},
                {"role": "user", "content": "c"}
            ]})
        };
        let sig = signature("t");
        assert!(sig.len() >= 320 && sig != signature("u"));
        assert!(ask(history("t", &sig)).is_ok());
        assert!(ask(history("t", "not the mock's")).is_ok(), "not checked");
        for (text, sig) in [("altered", sig.as_str()), ("t", &sig[..sig.len() - 1])] {
            let e = format!("{:?}", ask(history(text, sig)).err().unwrap());
            assert!(
                e.contains("400") && e.contains("Invalid `signature`"),
                "{e}"
            );
        }
    }

    #[test]
    fn caching_reports_reads_and_writes() {
        let mut body = hello("claude-mock");
        body["system"] =
            json!([{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]);
        for body in [body, hello("claude-cache-mock")] {
            let u = &json_answer(body.clone())["usage"];
            assert_eq!(
                (
                    &u["cache_read_input_tokens"],
                    &u["cache_creation_input_tokens"]
                ),
                (&json!(CACHE_READ), &json!(CACHE_WRITE))
            );
            let events = stream_answer(body);
            assert_eq!(
                events[0].1["message"]["usage"]["cache_read_input_tokens"],
                CACHE_READ
            );
        }
    }
}
