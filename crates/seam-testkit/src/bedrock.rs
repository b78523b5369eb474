//! Amazon Bedrock's Converse API: `/model/{id}/converse` (JSON) and `/model/{id}/converse-stream`
//! (binary event stream: `messageStart`, `contentBlockStart` for a tool call, `contentBlockDelta`…,
//! `contentBlockStop`, `messageStop`, then `metadata` with usage).
//!
//! Requests are checked the way Converse checks them where a translation could go wrong: unknown
//! fields are rejected, roles must alternate starting with `user`, text must not be blank, and
//! tool blocks need a `toolConfig`.

use serde_json::{Value, json};

use crate::eventstream::{event, exception};
use crate::faults::{ApiError, Reply, Sse};
use crate::text::{Answer, thirds, word_pieces, words};

const REQUEST_FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];
const INFERENCE_FIELDS: &[&str] = &["maxTokens", "temperature", "topP", "stopSequences"];
const BLOCK_KINDS: &[&str] = &[
    "text",
    "image",
    "document",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
];

pub(crate) fn converse(body: &Value, seq: usize, stream: bool) -> Result<Reply, ApiError> {
    let messages = check_request(body)?;
    let answer = decide(messages, body.get("toolConfig"));
    let input_tokens = words(&blocks_text(body.get("system")))
        + messages
            .iter()
            .map(|m| words(&blocks_text(m.get("content"))) + words(&tool_results(m).join("\n")))
            .sum::<usize>();
    let output_tokens = answer.tokens();
    let usage = json!({"inputTokens": input_tokens, "outputTokens": output_tokens,
                       "totalTokens": input_tokens + output_tokens});
    let tool_id = format!("tooluse_mock_{seq}");
    let stop_reason = match answer {
        Answer::Text(_) => "end_turn",
        Answer::ToolCall { .. } => "tool_use",
    };
    if !stream {
        let block = match &answer {
            Answer::Text(text) => json!({ "text": text }),
            Answer::ToolCall { name, arguments } => {
                // `arguments` was encoded from a JSON object a moment ago, so it parses back.
                let input: Value = serde_json::from_str(arguments).unwrap_or_default();
                json!({"toolUse": {"toolUseId": tool_id, "name": name, "input": input}})
            }
        };
        return Ok(Reply::Json(json!({
            "output": {"message": {"role": "assistant", "content": [block]}},
            "stopReason": stop_reason,
            "usage": usage,
            "metrics": {"latencyMs": 1},
        })));
    }
    let mut prelude = vec![event("messageStart", &json!({"role": "assistant"}))];
    let deltas: Vec<Value> = match &answer {
        Answer::Text(text) => word_pieces(text)
            .into_iter()
            .map(|p| json!({ "text": p }))
            .collect(),
        Answer::ToolCall { name, arguments } => {
            prelude.push(event(
                "contentBlockStart",
                &json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": tool_id, "name": name}}}),
            ));
            thirds(arguments)
                .into_iter()
                .map(|p| json!({"toolUse": {"input": p}}))
                .collect()
        }
    };
    Ok(Reply::EventStream(Sse {
        prelude,
        content: deltas
            .into_iter()
            .map(|delta| {
                event(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex": 0, "delta": delta}),
                )
            })
            .collect(),
        epilogue: vec![
            event("contentBlockStop", &json!({"contentBlockIndex": 0})),
            event("messageStop", &json!({ "stopReason": stop_reason })),
            event(
                "metadata",
                &json!({"usage": usage, "metrics": {"latencyMs": 1}}),
            ),
        ],
        error: exception("modelStreamErrorException", "mock overloaded"),
    }))
}

/// The messages, once the request passes Converse's checks.
fn check_request(body: &Value) -> Result<&[Value], ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("mock: the body must be a JSON object".into()))?;
    known_fields(object.keys(), REQUEST_FIELDS, "")?;
    if let Some(config) = body.get("inferenceConfig").and_then(Value::as_object) {
        known_fields(config.keys(), INFERENCE_FIELDS, "inferenceConfig.")?;
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("A conversation must start with a user message.".into()))?;
    let mut previous = "assistant";
    let mut tool_blocks = false;
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role == previous || !(role == "user" || role == "assistant") {
            return Err(invalid(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again."
                    .into(),
            ));
        }
        previous = role;
        let blocks = m
            .get("content")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid(format!("messages.{i}.content: must not be empty")))?;
        for (j, block) in blocks.iter().enumerate() {
            let keys: Vec<&String> = block
                .as_object()
                .map(|b| b.keys().collect())
                .unwrap_or_default();
            let [kind] = keys.as_slice() else {
                return Err(invalid(format!(
                    "messages.{i}.content.{j}: a content block has exactly one member"
                )));
            };
            if !BLOCK_KINDS.contains(&kind.as_str()) {
                return Err(invalid(format!(
                    "messages.{i}.content.{j}: unknown block {kind}"
                )));
            }
            if block
                .get("text")
                .is_some_and(|t| t.as_str().is_none_or(|t| t.trim().is_empty()))
            {
                return Err(invalid(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. \
                     Add text to the text field, and try again."
                )));
            }
            tool_blocks |= *kind == "toolUse" || *kind == "toolResult";
        }
    }
    let tools = body.pointer("/toolConfig/tools").and_then(Value::as_array);
    if body.get("toolConfig").is_some() && tools.is_none_or(|t| t.is_empty()) {
        return Err(invalid("toolConfig.tools: must not be empty".into()));
    }
    for (i, t) in tools.into_iter().flatten().enumerate() {
        let named = t
            .pointer("/toolSpec/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !named
            || !t
                .pointer("/toolSpec/inputSchema/json")
                .is_some_and(Value::is_object)
        {
            return Err(invalid(format!(
                "toolConfig.tools.{i}: needs toolSpec.name and inputSchema.json"
            )));
        }
    }
    if tool_blocks && tools.is_none() {
        return Err(invalid(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
                .into(),
        ));
    }
    Ok(messages)
}

fn known_fields<'a>(
    keys: impl Iterator<Item = &'a String>,
    allowed: &[&str],
    at: &str,
) -> Result<(), ApiError> {
    for k in keys {
        if !allowed.contains(&k.as_str()) {
            return Err(invalid(format!(
                "Malformed input request: extraneous key [{at}{k}] is not permitted, please \
                 reformat your input and try again."
            )));
        }
    }
    Ok(())
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid("messages", message)
}

/// Tool results in the last (user) message → echo them; a user turn last with tools offered →
/// call one (the one `toolChoice.tool` names, else the first); else echo the last user text.
fn decide(messages: &[Value], tool_config: Option<&Value>) -> Answer {
    let last = messages.last();
    let results = last.map(tool_results).unwrap_or_default();
    if !results.is_empty() {
        return Answer::echo(&results.join("\n"));
    }
    let user_text = messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .map(|m| blocks_text(m.get("content")))
        .unwrap_or_default();
    let first = tool_config
        .and_then(|c| c.pointer("/tools/0/toolSpec/name"))
        .and_then(Value::as_str);
    let named = tool_config
        .and_then(|c| c.pointer("/toolChoice/tool/name"))
        .and_then(Value::as_str);
    match named.or(first) {
        Some(name) if last.is_some_and(|m| role(m) == "user") => Answer::call(name, &user_text),
        _ => Answer::echo(&user_text),
    }
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `text` blocks joined by newlines.
fn blocks_text(content: Option<&Value>) -> String {
    content
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each `toolResult` block's content as text: its text blocks, or its JSON compactly encoded.
fn tool_results(message: &Value) -> Vec<String> {
    message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("toolResult"))
        .map(|r| {
            r.get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| match (c.get("text"), c.get("json")) {
                    (Some(Value::String(t)), _) => t.clone(),
                    (_, Some(j)) => j.to_string(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let tools = json!({"tools": [{"toolSpec": {"name": "first", "inputSchema": {"json": {}}}},
                                     {"toolSpec": {"name": "second", "inputSchema": {"json": {}}}}]});
        let mut named = tools.clone();
        named["toolChoice"] = json!({"tool": {"name": "second"}});
        let user = json!({"role": "user", "content": [{"text": "hi"}]});
        let assistant = json!({"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t", "name": "first", "input": {"q": "hi"}}}]});
        let result = json!({"role": "user", "content": [
            {"toolResult": {"toolUseId": "t", "content": [{"text": "42"}]}},
            {"toolResult": {"toolUseId": "u", "content": [{"json": {"n": 43}}]}}]});
        let cases = [
            (vec![user.clone()], None, Answer::echo("hi")),
            (
                vec![user.clone()],
                Some(&tools),
                Answer::call("first", "hi"),
            ),
            (
                vec![user.clone()],
                Some(&named),
                Answer::call("second", "hi"),
            ),
            (
                vec![user, assistant, result],
                Some(&tools),
                Answer::echo("42\n{\"n\":43}"),
            ),
        ];
        for (messages, config, expect) in cases {
            assert_eq!(decide(&messages, config), expect, "{messages:?}");
        }
    }

    #[test]
    fn converse_checks() {
        let ok = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
        assert!(check_request(&ok).is_ok());
        let bad = [
            json!({"messages": []}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            json!({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]}),
            json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}),
            json!({"messages": [{"role": "user", "content": []}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}),
            json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": []}}]}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}], "inferenceConfig": {"max_tokens": 1}}),
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}], "toolConfig": {"tools": []}}),
        ];
        for body in bad {
            assert!(check_request(&body).is_err(), "{body}");
        }
    }
}
