//! Anthropic's Messages API (`/v1/messages`): JSON, and the named-event stream
//! `message_start`, `content_block_start`, `ping`, `content_block_delta`…, `content_block_stop`,
//! `message_delta`, `message_stop`.

use serde_json::{Value, json};

use crate::faults::{ApiError, Reply, Sse, named_event};
use crate::text::{Answer, thirds, word_pieces, words};

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
    let answer = decide(messages, body.get("tools"), body.get("tool_choice"));
    let input_tokens = words(&blocks_text(body.get("system")))
        + messages
            .iter()
            .map(|m| {
                let content = m.get("content");
                words(&blocks_text(content)) + words(&tool_results(content).join("\n"))
            })
            .sum::<usize>();
    let output_tokens = answer.tokens();
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
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
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
        return Ok(Reply::Stream(Sse {
            prelude: vec![
                named_event("message_start", &start),
                named_event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": 0, "content_block": block}),
                ),
                named_event("ping", &json!({"type": "ping"})),
            ],
            content: deltas
                .into_iter()
                .map(|delta| {
                    named_event(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
                    )
                })
                .collect(),
            epilogue: vec![
                named_event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": 0}),
                ),
                named_event(
                    "message_delta",
                    &json!({"type": "message_delta",
                            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                            "usage": {"output_tokens": output_tokens}}),
                ),
                named_event("message_stop", &json!({"type": "message_stop"})),
            ],
            error: named_event(
                "error",
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": "mock overloaded"}}),
            ),
        }));
    }
    let content = match &answer {
        Answer::Text(text) => json!([{"type": "text", "text": text}]),
        Answer::ToolCall { name, arguments } => {
            // `arguments` was encoded from a JSON object a moment ago, so it parses back.
            let input: Value = serde_json::from_str(arguments).unwrap_or_default();
            json!([{"type": "tool_use", "id": tool_id, "name": name, "input": input}])
        }
    };
    Ok(Reply::Json(json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    })))
}

/// Tool results in the last (user) message → echo them; a user turn last with tools offered →
/// call one; else echo the last user text.
fn decide(messages: &[Value], tools: Option<&Value>, tool_choice: Option<&Value>) -> Answer {
    let last = messages.last();
    let results = tool_results(last.and_then(|m| m.get("content")));
    if !results.is_empty() {
        return Answer::echo(&results.join("\n"));
    }
    let user_text = messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .map(|m| blocks_text(m.get("content")))
        .unwrap_or_default();
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
}
