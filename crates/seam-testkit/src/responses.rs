//! OpenAI's Responses API: `POST /v1/responses` (a Response object, or its named event stream
//! ending in `response.completed`).
//!
//! The answer is the chat route's, decided on the input items read as chat messages: `mock:
//! <last user text>`, or a call of the first function tool. A `reasoning` field adds a reasoning
//! item with a summary; a `web_search` (or `web_search_preview`) tool adds a `web_search_call`
//! item before the message and a `url_citation` annotation on its text, so tests see items chat
//! cannot express come back.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::faults::{ApiError, Reply, Sse, named_event};
use crate::openai::{CREATED, content_text, decide};
use crate::text::{Answer, thirds, word_pieces, words};

/// The summary text of the reasoning item the mock adds when asked to reason.
const REASONING: &str = "mock reasoning";
/// The URL the mock's `url_citation` names.
const CITED: &str = "https://mock.example/search";

pub(crate) fn responses(body: &Value, seq: usize) -> Result<Reply, ApiError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let messages = match body.get("input") {
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        Some(Value::Array(items)) => items.iter().filter_map(as_chat).collect(),
        _ => {
            return Err(ApiError::invalid(
                "input",
                "mock: `input` must be a string or an array of items",
            ));
        }
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "input",
            "mock: `input` has no message to answer",
        ));
    }
    let tools = body.get("tools").and_then(Value::as_array);
    let functions: Vec<Value> = tools
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
        .map(|t| json!({"type": "function", "function": {"name": t.get("name")}}))
        .collect();
    let searches = tools.into_iter().flatten().any(|t| {
        matches!(
            t.get("type").and_then(Value::as_str),
            Some("web_search" | "web_search_preview")
        )
    });
    let choice = body.get("tool_choice").map(|c| match c.get("name") {
        Some(name) => json!({"type": "function", "function": {"name": name}}),
        None => c.clone(),
    });
    let functions = Value::Array(functions);
    let answer = decide(
        &messages,
        Some(&functions).filter(|f| f.as_array().is_some_and(|a| !a.is_empty())),
        choice.as_ref(),
        false,
    );
    let prompt: usize = messages
        .iter()
        .map(|m| words(&content_text(m.get("content"))))
        .sum();
    let turn = Turn {
        id: format!("resp_mock_{seq}"),
        seq,
        model,
        reasoning: body.get("reasoning").is_some_and(|r| !r.is_null()),
        searches,
        usage: json!({
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": answer.tokens(),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + answer.tokens(),
        }),
    };
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return Ok(Reply::Stream(turn.events(&answer)));
    }
    Ok(Reply::Json(
        turn.response("completed", turn.output(&answer)),
    ))
}

/// An input item as the chat route's message (`role`, `content`): messages, and function results
/// as `tool` turns; calls as assistant turns; anything else is not a turn.
fn as_chat(item: &Value) -> Option<Value> {
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => Some(json!({
            "role": item.get("role")?,
            "content": item.get("content").cloned().unwrap_or(Value::Null),
        })),
        Some("function_call_output") => {
            Some(json!({"role": "tool", "content": item.get("output")}))
        }
        Some("function_call") => Some(json!({"role": "assistant", "content": null})),
        _ => None,
    }
}

/// What every item and event of one response shares.
struct Turn<'a> {
    id: String,
    seq: usize,
    model: &'a str,
    reasoning: bool,
    searches: bool,
    usage: Value,
}

impl Turn<'_> {
    fn response(&self, status: &str, output: Vec<Value>) -> Value {
        json!({
            "id": self.id, "object": "response", "created_at": CREATED, "status": status,
            "model": self.model, "output": output,
            "usage": if status == "completed" { self.usage.clone() } else { Value::Null },
        })
    }

    fn reasoning_item(&self) -> Value {
        json!({"type": "reasoning", "id": format!("rs_mock_{}", self.seq),
               "summary": [{"type": "summary_text", "text": REASONING}]})
    }

    fn search_item(&self) -> Value {
        json!({"type": "web_search_call", "id": format!("ws_mock_{}", self.seq), "status": "completed",
               "action": {"type": "search", "query": "mock query"}})
    }

    fn message_item(&self, text: &str) -> Value {
        let annotations = if self.searches {
            json!([{"type": "url_citation", "url": CITED, "title": "mock result",
                    "start_index": 0, "end_index": text.len()}])
        } else {
            json!([])
        };
        json!({"type": "message", "id": format!("msg_mock_{}", self.seq), "status": "completed",
               "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": annotations}]})
    }

    fn call_item(&self, name: &str, arguments: &str) -> Value {
        json!({"type": "function_call", "id": format!("fc_mock_{}", self.seq),
               "call_id": format!("call_mock_{}", self.seq), "name": name,
               "arguments": arguments, "status": "completed"})
    }

    fn output(&self, answer: &Answer) -> Vec<Value> {
        let mut output = Vec::new();
        if self.reasoning {
            output.push(self.reasoning_item());
        }
        if self.searches {
            output.push(self.search_item());
        }
        output.push(match answer {
            Answer::Text(text) => self.message_item(text),
            Answer::ToolCall { name, arguments } => self.call_item(name, arguments),
        });
        output
    }

    /// The event stream: lifecycle events around each item's added/delta/done events.
    fn events(&self, answer: &Answer) -> Sse {
        let mut seq = 0u64;
        let mut ev = |kind: &str, mut v: Value| -> Bytes {
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), json!(kind));
                o.insert("sequence_number".into(), json!(seq));
            }
            seq += 1;
            named_event(kind, &v)
        };
        let mut prelude = vec![
            ev(
                "response.created",
                json!({"response": self.response("in_progress", vec![])}),
            ),
            ev(
                "response.in_progress",
                json!({"response": self.response("in_progress", vec![])}),
            ),
        ];
        let mut index = 0;
        let mut whole = Vec::new();
        if self.reasoning {
            whole.push(self.reasoning_item());
        }
        if self.searches {
            whole.push(self.search_item());
        }
        for item in whole {
            prelude.push(ev(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            if item["type"] == "reasoning" {
                prelude.push(ev("response.reasoning_summary_text.delta", json!({
                    "item_id": item["id"], "output_index": index, "summary_index": 0, "delta": REASONING})));
            }
            prelude.push(ev(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            ));
            index += 1;
        }
        let mut content = Vec::new();
        let mut epilogue = Vec::new();
        match answer {
            Answer::Text(text) => {
                let item_id = format!("msg_mock_{}", self.seq);
                let mut empty = self.message_item("");
                empty["content"] = json!([]);
                empty["status"] = json!("in_progress");
                prelude.push(ev(
                    "response.output_item.added",
                    json!({"output_index": index, "item": empty}),
                ));
                for piece in word_pieces(text) {
                    content.push(ev("response.output_text.delta", json!({
                        "item_id": item_id, "output_index": index, "content_index": 0, "delta": piece})));
                }
                epilogue.push(ev(
                    "response.output_text.done",
                    json!({
                    "item_id": item_id, "output_index": index, "content_index": 0, "text": text}),
                ));
                epilogue.push(ev(
                    "response.output_item.done",
                    json!({"output_index": index, "item": self.message_item(text)}),
                ));
            }
            Answer::ToolCall { name, arguments } => {
                let item_id = format!("fc_mock_{}", self.seq);
                let mut open = self.call_item(name, "");
                open["status"] = json!("in_progress");
                prelude.push(ev(
                    "response.output_item.added",
                    json!({"output_index": index, "item": open}),
                ));
                for piece in thirds(arguments) {
                    content.push(ev(
                        "response.function_call_arguments.delta",
                        json!({
                        "item_id": item_id, "output_index": index, "delta": piece}),
                    ));
                }
                epilogue.push(ev(
                    "response.function_call_arguments.done",
                    json!({
                    "item_id": item_id, "output_index": index, "arguments": arguments}),
                ));
                epilogue.push(ev(
                    "response.output_item.done",
                    json!({"output_index": index, "item": self.call_item(name, arguments)}),
                ));
            }
        }
        epilogue.push(ev(
            "response.completed",
            json!({"response": self.response("completed", self.output(answer))}),
        ));
        Sse {
            prelude,
            content,
            epilogue,
            error: named_event(
                "error",
                &json!({"type": "error", "code": "server_error", "message": "mock overloaded"}),
            ),
        }
    }
}
