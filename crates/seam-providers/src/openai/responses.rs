//! OpenAI's Responses API (`POST {base_url}/responses`) for requests that came in as Responses
//! (`Wire::OpenAiResponses`): the client's body goes as it is, and the answer comes back in the
//! pipeline's chat shapes.
//!
//! What chat cannot express — built-in tool calls (`web_search_call`, …) and a message's
//! `annotations` — travels in the completion message's `extra` under [`OUTPUT_KEY`]: the output
//! in the vendor's order, where a message, a function call and reasoning are stubs marking where
//! the chat form's text, tool call (by `call_id`) and `reasoning_content` go, and any other item
//! is kept whole. In a stream, a built-in item arrives whole on an empty delta's `extra` when the
//! vendor is done with it, as does a message's stub when it has annotations.

use std::collections::VecDeque;

use seam_types::chat::{
    ChatChunk, ChatCompletion, Choice, Content, Delta, Extra, FunctionCall, FunctionCallDelta,
    Message, Role, ToolCall, ToolCallDelta, Usage,
};
use serde_json::{Map, Value, json};

use super::convert::Lax;
use crate::ProviderError;
use crate::http::StreamDecoder;
use crate::sse::SseEvent;

/// The key, in a completion message's or a stream delta's `extra`, of the Responses output items
/// chat cannot express (see the module doc).
pub const OUTPUT_KEY: &str = "responses_output";

/// A Response object as a chat completion; `model` is the one Seam asked for. A `failed`
/// response is the vendor's error.
pub fn completion(r: &Map<String, Value>, model: &str) -> Result<ChatCompletion, ProviderError> {
    if r.get("status").and_then(Value::as_str) == Some("failed") {
        return Err(failure(r.get("error"), 502));
    }
    let mut text = String::new();
    let mut refusal: Option<String> = None;
    let mut reasoning = Vec::new();
    let mut calls = Vec::new();
    let mut order = Vec::new();
    let mut beyond_chat = false;
    for item in r
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let mut annotations = Vec::new();
                for part in content_parts(item) {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            text.push_str(str_of(part, "text"));
                            if let Some(Value::Array(a)) = part.get("annotations") {
                                annotations.extend(a.iter().cloned());
                            }
                        }
                        Some("refusal") => {
                            refusal
                                .get_or_insert_with(String::new)
                                .push_str(str_of(part, "refusal"));
                        }
                        _ => {}
                    }
                }
                beyond_chat |= !annotations.is_empty();
                order.push(message_stub(annotations));
            }
            Some("function_call") => {
                let call_id = str_of(item, "call_id").to_owned();
                order.push(json!({"type": "function_call", "call_id": call_id}));
                calls.push(ToolCall {
                    id: call_id,
                    kind: "function".into(),
                    function: FunctionCall {
                        name: str_of(item, "name").to_owned(),
                        arguments: str_of(item, "arguments").to_owned(),
                    },
                });
            }
            Some("reasoning") => {
                order.push(json!({"type": "reasoning"}));
                reasoning.extend(reasoning_texts(item));
            }
            _ => {
                beyond_chat = true;
                order.push(item.clone());
            }
        }
    }
    let mut extra = Extra::new();
    if !reasoning.is_empty() {
        extra.insert(
            "reasoning_content".into(),
            Value::String(reasoning.join("\n\n")),
        );
    }
    if let Some(r) = refusal {
        extra.insert("refusal".into(), Value::String(r));
    }
    if beyond_chat {
        extra.insert(OUTPUT_KEY.into(), Value::Array(order));
    }
    let finish = finish_reason(r, !calls.is_empty());
    let message = Message {
        role: Role::Assistant,
        content: (!text.is_empty() || calls.is_empty()).then_some(Content::Text(text)),
        name: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        tool_call_id: None,
        extra,
    };
    Ok(ChatCompletion {
        id: r
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| crate::fresh_id("resp-seam-"), str::to_owned),
        object: "chat.completion".into(),
        created: r
            .get("created_at")
            .and_then(Value::as_u64)
            .unwrap_or_else(crate::unix_now),
        model: r
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(model)
            .to_owned(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish.into()),
            logprobs: None,
            extra: Extra::new(),
        }],
        usage: r.get("usage").filter(|u| u.is_object()).map(usage),
        system_fingerprint: None,
        extra: Extra::new(),
    })
}

fn content_parts(item: &Value) -> impl Iterator<Item = &Value> {
    item.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn message_stub(annotations: Vec<Value>) -> Value {
    json!({"type": "message", "annotations": annotations})
}

/// A reasoning item's summary texts (what OpenAI shows), else its reasoning texts (open models).
fn reasoning_texts(item: &Value) -> Vec<String> {
    let texts = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| str_of(p, "text").to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() {
        texts("content")
    } else {
        summary
    }
}

/// `incomplete` → `length` (or `content_filter`); a finished answer with calls → `tool_calls`.
fn finish_reason(r: &Map<String, Value>, calls: bool) -> &'static str {
    match r.get("status").and_then(Value::as_str) {
        Some("incomplete") => {
            let reason = r
                .get("incomplete_details")
                .and_then(|d| d.get("reason"))
                .and_then(Value::as_str);
            if reason == Some("content_filter") {
                "content_filter"
            } else {
                "length"
            }
        }
        _ if calls => "tool_calls",
        _ => "stop",
    }
}

/// Responses usage → chat usage, cached and reasoning tokens in the `*_details`.
fn usage(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let detail = |outer: &str, inner: &str| {
        u.get(outer)
            .and_then(|d| d.get(inner))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (input, output) = (n("input_tokens"), n("output_tokens"));
    let mut usage = Usage::new(input, output);
    if let Some(total) = u.get("total_tokens").and_then(Value::as_u64) {
        usage.total_tokens = total;
    }
    usage.extra.insert(
        "prompt_tokens_details".into(),
        json!({"cached_tokens": detail("input_tokens_details", "cached_tokens")}),
    );
    usage.extra.insert(
        "completion_tokens_details".into(),
        json!({"reasoning_tokens": detail("output_tokens_details", "reasoning_tokens")}),
    );
    usage
}

/// A `failed` response's or an `error` event's error as the provider's error.
fn failure(error: Option<&Value>, status: u16) -> ProviderError {
    let field = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    ProviderError::Status {
        status,
        kind: Some("server_error".into()),
        code: field("code"),
        message: field("message").unwrap_or_else(|| "the response failed".into()),
        retry_after: None,
    }
}

/// The Responses event stream as chat chunks. `response.completed` (or `.incomplete`) ends it
/// with a finish reason and a usage-only chunk; a body that ends before is cut.
pub(crate) struct Decoder {
    /// Fills what the vendor left out (an id, the role of the first delta).
    lax: Lax,
    /// The response's id, time and model, from `response.created`.
    id: String,
    created: u64,
    model: String,
    /// Output index of each function call → its chat tool-call index.
    calls: Vec<(u64, u32)>,
}

impl Decoder {
    pub(crate) fn new(model: &str) -> Self {
        Decoder {
            lax: Lax::new(model),
            id: String::new(),
            created: 0,
            model: String::new(),
            calls: Vec::new(),
        }
    }

    fn push(&mut self, out: &mut VecDeque<ChatChunk>, delta: Delta, finish: Option<&str>) {
        let mut c = ChatChunk::delta(&self.id, self.created, &self.model, delta);
        if let (Some(f), Some(choice)) = (finish, c.choices.first_mut()) {
            choice.finish_reason = Some(f.into());
        }
        self.lax.fill(&mut c);
        out.push_back(c);
    }

    fn tool_index(&self, output_index: u64) -> Option<u32> {
        self.calls
            .iter()
            .find(|(o, _)| *o == output_index)
            .map(|&(_, i)| i)
    }

    /// Takes the response's id, time and model from `response.created`.
    fn meta(&mut self, r: &Value) {
        str_of(r, "id").clone_into(&mut self.id);
        self.created = r.get("created_at").and_then(Value::as_u64).unwrap_or(0);
        str_of(r, "model").clone_into(&mut self.model);
    }
}

impl StreamDecoder for Decoder {
    fn event(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<ChatChunk>,
    ) -> Result<bool, ProviderError> {
        let data: Value = match serde_json::from_str(ev.data.trim()) {
            Ok(v) => v,
            Err(e) => {
                return Err(ProviderError::InvalidResponse(crate::http::json_error(&e)));
            }
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event.as_deref())
            .unwrap_or_default();
        let output_index = data.get("output_index").and_then(Value::as_u64);
        match kind {
            "response.created" => {
                if let Some(r) = data.get("response") {
                    self.meta(r);
                }
            }
            "response.output_text.delta" => {
                let text = str_of(&data, "delta");
                if !text.is_empty() {
                    let delta = Delta {
                        content: Some(text.to_owned()),
                        ..Delta::default()
                    };
                    self.push(out, delta, None);
                }
            }
            "response.refusal.delta" => {
                let mut delta = Delta::default();
                delta
                    .extra
                    .insert("refusal".into(), json!(str_of(&data, "delta")));
                self.push(out, delta, None);
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let mut delta = Delta::default();
                delta
                    .extra
                    .insert("reasoning_content".into(), json!(str_of(&data, "delta")));
                self.push(out, delta, None);
            }
            "response.output_item.added" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                if str_of(item, "type") == "function_call"
                    && let Some(o) = output_index
                {
                    let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                    self.calls.push((o, index));
                    let args = str_of(item, "arguments");
                    let call = ToolCallDelta {
                        index,
                        id: Some(str_of(item, "call_id").to_owned()).filter(|s| !s.is_empty()),
                        kind: Some("function".into()),
                        function: Some(FunctionCallDelta {
                            name: Some(str_of(item, "name").to_owned()),
                            arguments: Some(args.to_owned()),
                        }),
                    };
                    let delta = Delta {
                        tool_calls: Some(vec![call]),
                        ..Delta::default()
                    };
                    self.push(out, delta, None);
                }
            }
            "response.function_call_arguments.delta" => {
                let args = str_of(&data, "delta");
                if let Some(index) = output_index.and_then(|o| self.tool_index(o))
                    && !args.is_empty()
                {
                    let call = ToolCallDelta {
                        index,
                        id: None,
                        kind: None,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(args.to_owned()),
                        }),
                    };
                    let delta = Delta {
                        tool_calls: Some(vec![call]),
                        ..Delta::default()
                    };
                    self.push(out, delta, None);
                }
            }
            "response.output_item.done" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                let kept = match str_of(item, "type") {
                    "function_call" | "reasoning" => None,
                    "message" => {
                        let annotations: Vec<Value> = content_parts(item)
                            .filter_map(|p| p.get("annotations")?.as_array())
                            .flatten()
                            .cloned()
                            .collect();
                        (!annotations.is_empty()).then(|| message_stub(annotations))
                    }
                    _ => Some(item.clone()),
                };
                if let Some(kept) = kept {
                    let mut delta = Delta::default();
                    delta
                        .extra
                        .insert(OUTPUT_KEY.into(), Value::Array(vec![kept]));
                    self.push(out, delta, None);
                }
            }
            "response.completed" | "response.incomplete" => {
                let r = data.get("response").and_then(Value::as_object);
                let empty = Map::new();
                let r = r.unwrap_or(&empty);
                let finish = finish_reason(r, !self.calls.is_empty());
                self.push(out, Delta::default(), Some(finish));
                if let Some(u) = r.get("usage").filter(|u| u.is_object()) {
                    let mut c = ChatChunk::usage(&self.id, self.created, &self.model, usage(u));
                    self.lax.fill(&mut c);
                    out.push_back(c);
                }
                return Ok(true);
            }
            "response.failed" => {
                let error = data.get("response").and_then(|r| r.get("error"));
                return Err(cut(failure(error, 502)));
            }
            "error" => return Err(cut(failure(Some(&data), 502))),
            _ => {}
        }
        Ok(false)
    }
}

/// A failure reported in the stream: the vendor's message, as a cut stream (as chat's in-band
/// errors are).
fn cut(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::Status { message, .. } => {
            ProviderError::StreamCut(format!("upstream error event: {message}"))
        }
        other => other,
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
