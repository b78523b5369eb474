//! Chat completions, shaped like OpenAI's `/v1/chat/completions`.
//!
//! Every struct keeps the fields Seam reads as typed fields and everything else in `extra`, so
//! a request forwarded to an OpenAI-compatible upstream carries the client's unknown fields
//! untouched, and a response passed back keeps the upstream's.
//!
//! # Reasoning and cache usage in `extra`
//!
//! Answers carry model reasoning and prompt-cache counts in `extra` maps under these names (no
//! typed fields, so an OpenAI-compatible upstream's own fields pass through as they are):
//!
//! - On an answer's assistant [`Message`] and on a stream [`Delta`]:
//!   - `reasoning_content` (string): the thinking text, under the name DeepSeek and vLLM use. In a
//!     stream it arrives in pieces, like `content`.
//!   - `reasoning_signature` (string): Anthropic's signature of the thinking block, which a client
//!     must send back unchanged with the block. In a stream it arrives in a delta of its own,
//!     after the block's text.
//!   - `reasoning_redacted` (array of strings): the `data` of each `redacted_thinking` block.
//!   - `reasoning_blocks` (array, messages only): when an answer has more than one reasoning
//!     block, all of them in order, each `{"type": "thinking", "thinking", "signature"}` or
//!     `{"type": "redacted_thinking", "data"}`; it then replaces `reasoning_signature` and
//!     `reasoning_redacted`, and `reasoning_content` holds the thinking texts joined.
//!   - `reasoning_index` (u32, deltas only): which reasoning block of the answer, counted from 0
//!     in order, a delta's `reasoning_content`, `reasoning_signature` or `reasoning_redacted`
//!     belongs to.
//! - On [`Usage`]: `prompt_tokens` is every input token the vendor billed, cached or not;
//!   `prompt_tokens_details.cached_tokens` the ones read from the prompt cache (OpenAI's name);
//!   `cache_creation_input_tokens` the ones written to it (Anthropic's name).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::{self, Indexed};

/// Fields Seam does not interpret, kept in their original order.
pub type Extra = Map<String, Value>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
    /// The client's own request, when its surface speaks a wire format a target may take as it
    /// is (see [`Native`]). Never serialised: not part of the chat body, the audit record's chat
    /// form or anything an OpenAI-format target receives.
    #[serde(skip)]
    pub native: Option<Native>,
}

/// A request in a surface's own wire format, carried beside its chat translation so that a
/// target speaking the same format gets it without a lossy round trip (Messages → Anthropic:
/// `cache_control`, `thinking`, thinking blocks and their signatures, `top_k`, beta headers).
/// The gateway applies the input policy to its texts exactly as to the chat form's; the
/// adapter of that format sends it with the target's `model` and the `stream` flag set, and
/// every other adapter sends the translation.
#[derive(Clone, Debug, PartialEq)]
pub struct Native {
    pub wire: Wire,
    /// The body (after the policy, once the gateway has applied it).
    pub body: std::sync::Arc<Map<String, Value>>,
    /// Headers the target gets with it (`anthropic-beta`), as the client sent them.
    pub headers: Vec<(String, String)>,
    /// Why only a target of this format can answer (a server tool, a block the translation
    /// cannot carry): a target of another format refuses the request with this as its 400, and
    /// the chat form beside it is the translation of what could be translated.
    pub requires: Option<String>,
}

/// The wire formats a [`Native`] request can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Anthropic's Messages API (`POST /v1/messages`).
    AnthropicMessages,
    /// OpenAI's Responses API (`POST /v1/responses`).
    OpenAiResponses,
}

impl Wire {
    /// Where a body of this format names its data subject: a top-level key, and the key under
    /// it (`metadata.user_id` in Messages), if nested.
    pub fn subject(self) -> (&'static str, Option<&'static str>) {
        match self {
            Wire::AnthropicMessages => ("metadata", Some("user_id")),
            Wire::OpenAiResponses => ("user", None),
        }
    }
}

impl ChatRequest {
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the client asked for a final usage chunk on a stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The text of the last user message, parts joined; empty when there is none.
    pub fn last_user_text(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.text())
            .unwrap_or_default()
    }

    /// Checks what serde cannot: returns the offending param and why.
    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        if self.model.is_empty() {
            return Err(("model".into(), "must not be empty"));
        }
        if self.messages.is_empty() {
            return Err(("messages".into(), "must contain at least one message"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.role == Role::Tool && m.tool_call_id.is_none() {
                return Err((
                    format!("messages[{i}].tool_call_id"),
                    "is required for tool messages",
                ));
            }
            if m.content.is_none() && m.tool_calls.is_none() && m.role != Role::Assistant {
                return Err((format!("messages[{i}].content"), "is required"));
            }
        }
        if self.n.is_some_and(|n| n == 0) {
            return Err(("n".into(), "must be at least 1"));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(("temperature".into(), "must be between 0 and 2"));
        }
        if let Some(tools) = &self.tools {
            for (i, t) in tools.iter().enumerate() {
                if t.function.name.is_empty() {
                    return Err((format!("tools[{i}].function.name"), "must not be empty"));
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// `None` both when absent and when `null` (an assistant turn that only calls tools).
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Extra::new(),
        }
    }

    /// The message's text: the string content, or its text parts joined by newlines.
    pub fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(c) => c.text(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    pub fn text(&self) -> String {
        match self {
            Content::Text(s) => s.clone(),
            Content::Parts(parts) => {
                let texts: Vec<&str> = parts.iter().filter_map(|p| p.text.as_deref()).collect();
                texts.join("\n")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionDef,
    #[serde(flatten)]
    pub extra: Extra,
}

fn function_kind() -> String {
    "function".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `"none" | "auto" | "required" | {"type": "function", "function": {"name": …}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Named(NamedToolChoice),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// JSON-encoded arguments, as the model produced them.
    pub arguments: String,
}

/// An answer. Read leniently (see [`crate::lenient`]): `id`, `created` and `model` may be absent
/// or `null` (empty / zero until the provider adapter fills them), `index` defaults to the
/// choice's position, a message's `role` to `assistant`; `choices` is required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub id: String,
    #[serde(
        default = "completion_object",
        deserialize_with = "lenient::or_default"
    )]
    pub object: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub created: u64,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub model: String,
    #[serde(deserialize_with = "lenient::by_position")]
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn completion_object() -> String {
    "chat.completion".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default = "lenient::unset", deserialize_with = "lenient::index")]
    pub index: u32,
    #[serde(deserialize_with = "lenient::answer_message")]
    pub message: Message,
    /// `stop`, `length`, `tool_calls`, `content_filter`, or an upstream's own value, kept as sent.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            extra: Extra::new(),
        }
    }
}

/// A stream chunk, read as leniently as [`ChatCompletion`]: `data: {"choices":[{"delta":{"content":"h"}}]}`
/// is a chunk; the provider adapter fills `id`, `created` and `model` for the whole stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub id: String,
    #[serde(default = "chunk_object", deserialize_with = "lenient::or_default")]
    pub object: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub created: u64,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub model: String,
    #[serde(deserialize_with = "lenient::by_position")]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Indexed for Choice {
    fn index_mut(&mut self) -> &mut u32 {
        &mut self.index
    }
}

impl Indexed for ChunkChoice {
    fn index_mut(&mut self) -> &mut u32 {
        &mut self.index
    }
}

impl Indexed for ToolCallDelta {
    fn index_mut(&mut self) -> &mut u32 {
        &mut self.index
    }
}

fn chunk_object() -> String {
    "chat.completion.chunk".into()
}

impl ChatChunk {
    /// A chunk with one choice carrying `delta`.
    pub fn delta(id: &str, created: u64, model: &str, delta: Delta) -> Self {
        ChatChunk {
            id: id.into(),
            object: chunk_object(),
            created,
            model: model.into(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: None,
                logprobs: None,
                extra: Extra::new(),
            }],
            usage: None,
            system_fingerprint: None,
            extra: Extra::new(),
        }
    }

    /// The final chunk of a choice: an empty delta and its finish reason.
    pub fn finish(id: &str, created: u64, model: &str, reason: &str) -> Self {
        let mut c = Self::delta(id, created, model, Delta::default());
        if let Some(choice) = c.choices.first_mut() {
            choice.finish_reason = Some(reason.into());
        }
        c
    }

    /// The usage-only chunk OpenAI sends last when `stream_options.include_usage` is set.
    pub fn usage(id: &str, created: u64, model: &str, usage: Usage) -> Self {
        let mut c = Self::delta(id, created, model, Delta::default());
        c.choices.clear();
        c.usage = Some(usage);
        c
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default = "lenient::unset", deserialize_with = "lenient::index")]
    pub index: u32,
    /// Absent on some servers' finishing chunk.
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::by_position_opt"
    )]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default = "lenient::unset", deserialize_with = "lenient::index")]
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let body = json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}}],
            "seed": 7,
            "logit_bias": {"50256": -100},
            "stream_options": {"include_usage": true, "future_flag": 1},
            "temperature": 0.7
        });
        let req: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(req.extra["seed"], 7);
        assert!(req.wants_stream_usage());
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
    }

    #[test]
    fn parts_content_joins_text() {
        let m: Message = serde_json::from_value(json!({
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "data:x"}}, {"type": "text", "text": "b"}]
        }))
        .unwrap();
        assert_eq!(m.text(), "a\nb");
    }

    #[test]
    fn tool_choice_forms() {
        let cases = [
            (json!("auto"), ToolChoice::Mode(ToolChoiceMode::Auto)),
            (json!("none"), ToolChoice::Mode(ToolChoiceMode::None)),
            (
                json!({"type": "function", "function": {"name": "f"}}),
                ToolChoice::Named(NamedToolChoice {
                    kind: "function".into(),
                    function: NamedFunction { name: "f".into() },
                }),
            ),
        ];
        for (input, expect) in cases {
            assert_eq!(serde_json::from_value::<ToolChoice>(input).unwrap(), expect);
        }
    }

    #[test]
    fn validate_names_the_param() {
        let check = |body: Value, expect: Option<&str>| {
            let req: ChatRequest = serde_json::from_value(body).unwrap();
            assert_eq!(req.validate().err().map(|e| e.0), expect.map(String::from));
        };
        check(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            None,
        );
        check(
            json!({"model": "", "messages": [{"role": "user", "content": "x"}]}),
            Some("model"),
        );
        check(json!({"model": "m", "messages": []}), Some("messages"));
        check(
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            Some("messages[0].tool_call_id"),
        );
        check(
            json!({"model": "m", "messages": [{"role": "user"}]}),
            Some("messages[0].content"),
        );
        check(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}),
            Some("temperature"),
        );
    }

    #[test]
    fn answers_from_lax_servers_are_read() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "id": null,
            "choices": [
                {"message": {"content": "a"}},
                {"message": {"content": null, "tool_calls": [
                    {"function": {"name": "f", "arguments": {"q": 1}}},
                    {"function": {"name": "g"}}
                ]}, "index": null}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": null}
        }))
        .unwrap();
        assert_eq!((c.id.as_str(), c.created, c.model.as_str()), ("", 0, ""));
        assert_eq!(c.object, "chat.completion");
        assert_eq!(c.choices[0].index, 0);
        assert_eq!(c.choices[1].index, 1);
        assert_eq!(c.choices[0].message.role, Role::Assistant);
        assert_eq!(c.choices[0].finish_reason, None);
        let calls = c.choices[1].message.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.arguments, r#"{"q":1}"#);
        assert_eq!(
            (calls[0].id.as_str(), calls[0].kind.as_str()),
            ("", "function")
        );
        assert_eq!(calls[1].function.arguments, "{}");
        assert_eq!(c.usage.unwrap().completion_tokens, 0);

        // Indexes that were sent are kept, in any order.
        let c: ChatCompletion = serde_json::from_value(json!({
            "choices": [{"index": 1, "message": {"role": "assistant", "content": "b"}},
                        {"index": 0, "message": {"content": "a"}}]
        }))
        .unwrap();
        assert_eq!((c.choices[0].index, c.choices[1].index), (1, 0));
    }

    #[test]
    fn chunks_from_lax_servers_are_read() {
        let c: ChatChunk =
            serde_json::from_str(r#"{"choices":[{"delta":{"content":"h"}}]}"#).unwrap();
        assert_eq!(c.choices[0].index, 0);
        assert_eq!(c.choices[0].delta.content.as_deref(), Some("h"));
        assert_eq!(c.object, "chat.completion.chunk");
        let c: ChatChunk = serde_json::from_str(
            r#"{"choices":[{"finish_reason":"stop"},{"delta":{"tool_calls":[{"function":{"name":"f"}}]}}]}"#,
        )
        .unwrap();
        assert_eq!(c.choices[0].delta, Delta::default());
        assert_eq!(c.choices[1].index, 1);
        assert_eq!(c.choices[1].delta.tool_calls.as_ref().unwrap()[0].index, 0);
    }

    #[test]
    fn what_is_not_an_answer_is_still_refused() {
        for body in [
            json!({"id": "x", "object": "chat.completion"}),
            json!({"choices": "no"}),
            json!({"choices": [{"index": 0}]}),
        ] {
            assert!(
                serde_json::from_value::<ChatCompletion>(body.clone()).is_err(),
                "{body}"
            );
        }
        assert!(serde_json::from_value::<ChatChunk>(json!({"id": "x"})).is_err());
        // Requests stay strict: a message needs its role.
        assert!(serde_json::from_value::<Message>(json!({"content": "x"})).is_err());
    }

    #[test]
    fn chunk_serializes_null_finish_reason() {
        let c = ChatChunk::delta(
            "id",
            1,
            "m",
            Delta {
                content: Some("x".into()),
                ..Default::default()
            },
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(v["object"], "chat.completion.chunk");
    }
}
