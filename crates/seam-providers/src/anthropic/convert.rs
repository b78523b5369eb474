//! Anthropic Messages ⇄ OpenAI chat translation.
//!
//! Requests: system and developer messages become the top-level `system` prompt (joined with a
//! blank line); user and assistant turns become `messages` with content blocks; assistant
//! `tool_calls` become `tool_use` blocks and `tool` messages become `tool_result` blocks in a user
//! turn. Consecutive turns of one role are merged, because Anthropic requires user and assistant
//! to alternate. Empty text is dropped, because Anthropic rejects empty text blocks.
//!
//! Lossy on purpose:
//! - `response_format` has no Anthropic equivalent, so `json_object` and `json_schema` append an
//!   instruction to `system` asking for JSON only (quoting the schema when one is given); the
//!   model is asked, not constrained.
//! - `temperature` is clamped to Anthropic's 0..=1; OpenAI-only knobs (`seed`, `logit_bias`,
//!   penalties, `logprobs`) are not sent.
//! - `n > 1` and `function` messages are refused with `Unsupported` rather than answered wrongly.
//!
//! Responses and streams: text blocks become `content`, `tool_use` blocks become `tool_calls`,
//! thinking and redacted thinking blocks become the reasoning extras `seam_types::chat`
//! documents (`reasoning_content`, `reasoning_signature`, `reasoning_redacted`,
//! `reasoning_blocks`, and `reasoning_index` on stream deltas), so a Messages client gets its
//! signatures back. Stop reasons map to their OpenAI names; usage counts every input token in
//! `prompt_tokens`, cache reads as `prompt_tokens_details.cached_tokens` and cache writes as
//! `cache_creation_input_tokens`.

use std::collections::{HashMap, VecDeque};

use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Choice, Content, ContentPart, Delta, Extra,
    FunctionCall, FunctionCallDelta, Message, Role, ToolCall, ToolCallDelta, ToolChoice,
    ToolChoiceMode, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{StreamDecoder, json_error};
use crate::sse::SseEvent;
use crate::{ProviderError, turns};

/// Anthropic requires `max_tokens`; OpenAI does not, so a request without one gets this.
const DEFAULT_MAX_TOKENS: u32 = 4096;

// ---- request wire format ----

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTool<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct WireMessage {
    role: &'static str,
    content: Vec<Block>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: Value,
}

#[derive(Serialize)]
struct WireToolChoice {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disable_parallel_tool_use: bool,
}

#[derive(Serialize)]
struct Metadata<'a> {
    user_id: &'a str,
}

// ---- response wire format ----

/// A non-streaming `/v1/messages` answer.
#[derive(Debug, Deserialize)]
pub struct AnthropicResponse {
    id: String,
    model: String,
    #[serde(default)]
    content: Vec<ResponseBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseBlock {
    Text {
        // Empty in a stream's `content_block_start`; the text follows in deltas.
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    Thinking {
        // Empty in a stream's `content_block_start`; text and signature follow in deltas.
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    /// Server tool uses and results: nothing a chat client can show. The same blocks open a
    /// stream's `content_block_start`.
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// OpenAI counts every prompt token; Anthropic splits out the cached ones.
    fn prompt_tokens(&self) -> u64 {
        self.input_tokens.unwrap_or(0)
            + self.cache_creation_input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0)
    }

    /// Takes the counts `later` has; a partial `message_delta` usage leaves the others.
    fn merge(&mut self, later: WireUsage) {
        let take = |to: &mut Option<u64>, from: Option<u64>| {
            if from.is_some() {
                *to = from;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    /// The chat usage: every input token in `prompt_tokens` (what Anthropic bills), cache reads
    /// as `prompt_tokens_details.cached_tokens` (priced at the cached rate), cache writes as
    /// `cache_creation_input_tokens`.
    fn to_chat(&self) -> Usage {
        let mut u = Usage::new(self.prompt_tokens(), self.output_tokens.unwrap_or(0));
        if let Some(n) = self.cache_read_input_tokens {
            u.extra.insert(
                "prompt_tokens_details".into(),
                serde_json::json!({ "cached_tokens": n }),
            );
        }
        if let Some(n) = self.cache_creation_input_tokens {
            u.extra
                .insert("cache_creation_input_tokens".into(), Value::from(n));
        }
        u
    }
}

// ---- request translation ----

/// The `/v1/messages` body for `model`. Fails with `Unsupported` for what Anthropic cannot do.
pub fn request_body(
    model: &str,
    req: &ChatRequest,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::Unsupported(
            "n > 1 is not supported by Anthropic; send one request per choice".into(),
        ));
    }
    let mut system = Vec::new();
    let mut messages: Vec<WireMessage> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, blocks) = match m.role {
            Role::System | Role::Developer => {
                let text = m.text();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Role::User => ("user", content_blocks(i, m.content.as_ref())?),
            Role::Assistant => ("assistant", assistant_blocks(i, m)?),
            Role::Tool => ("user", vec![tool_result(m)]),
            Role::Function => {
                return Err(ProviderError::Unsupported(format!(
                    "messages[{i}]: role \"function\" is not supported by Anthropic; use tool messages"
                )));
            }
        };
        turns::push(&mut messages, role, blocks);
    }
    if let Some(instruction) = json_instruction(req.response_format.as_ref())? {
        system.push(instruction);
    }
    let body = MessagesRequest {
        model,
        max_tokens: req
            .max_completion_tokens
            .or(req.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS),
        messages,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        stop_sequences: req.stop.as_ref().map(|s| s.to_vec()),
        tools: tools(req)?,
        tool_choice: tool_choice(req),
        metadata: req.user.as_deref().map(|user_id| Metadata { user_id }),
        stream,
    };
    serde_json::to_vec(&body).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

fn content_blocks(i: usize, content: Option<&Content>) -> Result<Vec<Block>, ProviderError> {
    turns::content(content, |j, part, out| part_block(i, j, part, out))
}

impl turns::Block for Block {
    fn is_tool_result(&self) -> bool {
        matches!(self, Block::ToolResult { .. })
    }

    fn text(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Block::Text { text: text.into() })
    }
}

turns::impl_turn!(WireMessage, content, Block);

fn push_text(out: &mut Vec<Block>, text: &str) {
    out.extend(<Block as turns::Block>::text(text));
}

fn part_block(
    i: usize,
    j: usize,
    part: &ContentPart,
    out: &mut Vec<Block>,
) -> Result<(), ProviderError> {
    let unsupported =
        |why: &str| ProviderError::Unsupported(format!("messages[{i}].content[{j}]: {why}"));
    match part.kind.as_str() {
        "text" => push_text(out, part.text.as_deref().unwrap_or_default()),
        // A refusal in replayed history carries nothing the model needs to see again.
        "refusal" => {}
        "image_url" => {
            let url = part
                .image_url
                .as_ref()
                .map(|u| u.url.as_str())
                .ok_or_else(|| unsupported("image_url part without a url"))?;
            out.push(Block::Image {
                source: image_source(url).ok_or_else(|| {
                    unsupported("Anthropic accepts images as http(s) URLs or base64 data URLs only")
                })?,
            });
        }
        other => {
            return Err(unsupported(&format!(
                "content part type {other:?} is not supported by Anthropic"
            )));
        }
    }
    Ok(())
}

/// `data:<mime>;base64,<data>` → base64 source; `http(s)://…` → URL source.
fn image_source(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        if media_type.is_empty() {
            return None;
        }
        return Some(ImageSource::Base64 {
            media_type: media_type.into(),
            data: data.into(),
        });
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        .then(|| ImageSource::Url { url: url.into() })
}

fn assistant_blocks(i: usize, m: &Message) -> Result<Vec<Block>, ProviderError> {
    let mut out = content_blocks(i, m.content.as_ref())?;
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = call.function.arguments.trim();
        // Some clients send "" for a tool without parameters; Anthropic wants an object.
        let input = if args.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str::<Value>(args).unwrap_or(Value::Null)
        };
        if !input.is_object() {
            return Err(ProviderError::Unsupported(format!(
                "messages[{i}].tool_calls[{j}] ({}): arguments must be a JSON object for Anthropic",
                call.function.name
            )));
        }
        out.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input,
        });
    }
    Ok(out)
}

fn tool_result(m: &Message) -> Block {
    let text = m.text();
    Block::ToolResult {
        tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
        content: (!text.is_empty()).then_some(text),
    }
}

/// The system-prompt instruction that stands in for `response_format`, if any.
fn json_instruction(format: Option<&Value>) -> Result<Option<String>, ProviderError> {
    let Some(format) = format else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        None | Some("text") => Ok(None),
        Some("json_object") => Ok(Some(JSON_ONLY.into())),
        Some("json_schema") => Ok(Some(
            match format.get("json_schema").and_then(|s| s.get("schema")) {
                Some(schema) => format!(
                    "Respond with only a JSON value that conforms to this JSON Schema, with no other \
                     text or code fences:\n{schema}"
                ),
                None => JSON_ONLY.into(),
            },
        )),
        Some(other) => Err(ProviderError::Unsupported(format!(
            "response_format type {other:?} is not supported by Anthropic"
        ))),
    }
}

const JSON_ONLY: &str =
    "Respond with only a single JSON object, with no other text or code fences.";

fn tools(req: &ChatRequest) -> Result<Option<Vec<WireTool<'_>>>, ProviderError> {
    let Some(tools) = &req.tools else {
        return Ok(None);
    };
    let out = tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.kind != "function" {
                return Err(ProviderError::Unsupported(format!(
                    "tools[{i}]: tool type {:?} is not supported by Anthropic",
                    t.kind
                )));
            }
            Ok(WireTool {
                name: &t.function.name,
                description: t.function.description.as_deref(),
                input_schema: t
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(out))
}

fn tool_choice(req: &ChatRequest) -> Option<WireToolChoice> {
    let choice = |kind, name| WireToolChoice {
        kind,
        name,
        disable_parallel_tool_use: false,
    };
    let serial = req.extra.get("parallel_tool_calls") == Some(&Value::Bool(false));
    let has_tools = req.tools.as_ref().is_some_and(|t| !t.is_empty());
    let mut out = match &req.tool_choice {
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => choice("auto", None),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => choice("any", None),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => return Some(choice("none", None)),
        Some(ToolChoice::Named(n)) => choice("tool", Some(n.function.name.clone())),
        // Anthropic carries the parallel-calls switch on tool_choice, so one is needed to hold it.
        None if serial && has_tools => choice("auto", None),
        None => return None,
    };
    out.disable_parallel_tool_use = serial;
    Some(out)
}

// ---- response translation ----

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`; unknown reasons pass through as sent.
fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    }
    .into()
}

/// A non-streaming answer as a chat completion.
pub fn completion(resp: &AnthropicResponse) -> ChatCompletion {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut reasoning = Vec::new();
    for block in &resp.content {
        match block {
            ResponseBlock::Text { text: t } => text.push_str(t),
            ResponseBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.clone(),
                    arguments: arguments(input),
                },
            }),
            ResponseBlock::Thinking { .. } | ResponseBlock::RedactedThinking { .. } => {
                reasoning.push(block)
            }
            ResponseBlock::Other => {}
        }
    }
    let mut message = Message::new(Role::Assistant, text);
    reasoning_extra(&reasoning, &mut message.extra);
    if !calls.is_empty() {
        if message.text().is_empty() {
            message.content = None;
        }
        message.tool_calls = Some(calls);
    }
    ChatCompletion {
        id: resp.id.clone(),
        object: "chat.completion".into(),
        created: crate::unix_now(),
        model: resp.model.clone(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: resp.stop_reason.as_deref().map(finish_reason),
            logprobs: None,
            extra: Extra::new(),
        }],
        usage: Some(resp.usage.to_chat()),
        system_fingerprint: None,
        extra: Extra::new(),
    }
}

/// An answer's thinking and redacted thinking blocks as message extras: one thinking block as
/// `reasoning_content` and `reasoning_signature`, redacted blocks alone as `reasoning_redacted`,
/// anything else in order as `reasoning_blocks` (with the texts joined in `reasoning_content`,
/// for chat clients).
fn reasoning_extra(blocks: &[&ResponseBlock], extra: &mut Extra) {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            ResponseBlock::Thinking { thinking, .. } => Some(thinking.as_str()),
            _ => None,
        })
        .collect();
    if !texts.is_empty() {
        extra.insert("reasoning_content".into(), texts.join("\n\n").into());
    }
    let redacted: Vec<Value> = blocks
        .iter()
        .filter_map(|b| match b {
            ResponseBlock::RedactedThinking { data } => Some(Value::from(data.as_str())),
            _ => None,
        })
        .collect();
    match blocks {
        [] => {}
        [ResponseBlock::Thinking { signature, .. }] => {
            if !signature.is_empty() {
                extra.insert("reasoning_signature".into(), signature.as_str().into());
            }
        }
        _ if texts.is_empty() => {
            extra.insert("reasoning_redacted".into(), Value::Array(redacted));
        }
        _ => {
            let all = blocks
                .iter()
                .filter_map(|b| match b {
                    ResponseBlock::Thinking {
                        thinking,
                        signature,
                    } => Some(serde_json::json!({
                        "type": "thinking", "thinking": thinking, "signature": signature,
                    })),
                    ResponseBlock::RedactedThinking { data } => {
                        Some(serde_json::json!({"type": "redacted_thinking", "data": data}))
                    }
                    _ => None,
                })
                .collect();
            extra.insert("reasoning_blocks".into(), Value::Array(all));
        }
    }
}

/// Compact JSON for tool arguments; a missing input is the empty object, which is what it means.
fn arguments(input: &Value) -> String {
    if input.is_null() {
        return "{}".into();
    }
    input.to_string()
}

// ---- streaming ----

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: ResponseBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: StreamError,
    },
    /// Anthropic documents that new event types may appear; they are skipped.
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    id: String,
    model: String,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    /// Citation deltas, and whatever Anthropic adds.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct StreamError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A tool_use block in flight, keyed by its Anthropic block index.
struct ToolBlock {
    /// Position among this message's tool calls: OpenAI's `tool_calls[].index`.
    index: u32,
    /// The start event's input, sent at block stop if no argument deltas came.
    initial: Value,
    sent_arguments: bool,
}

/// Turns Anthropic's event stream into OpenAI chunks; one per upstream stream.
#[derive(Default)]
pub struct Decoder {
    /// `(id, model, created)` from `message_start`; `None` until it arrives.
    message: Option<(String, String, u64)>,
    /// The counts so far: `message_start`'s, updated by `message_delta`'s.
    usage: WireUsage,
    tools: HashMap<u64, ToolBlock>,
    next_tool: u32,
    /// Thinking and redacted thinking blocks by Anthropic block index → `reasoning_index`.
    reasoning: HashMap<u64, u32>,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    fn chunk(&self, delta: Delta) -> Result<ChatChunk, ProviderError> {
        let (id, model, created) = self.message.as_ref().ok_or_else(|| {
            ProviderError::InvalidResponse("stream event before message_start".into())
        })?;
        Ok(ChatChunk::delta(id, *created, model, delta))
    }

    fn tool_delta(&self, delta: ToolCallDelta) -> Result<ChatChunk, ProviderError> {
        self.chunk(Delta {
            tool_calls: Some(vec![delta]),
            ..Delta::default()
        })
    }

    /// The `reasoning_index` of Anthropic block `block`, counted in the order blocks start.
    fn reasoning_index(&mut self, block: u64) -> u32 {
        let next = u32::try_from(self.reasoning.len()).unwrap_or(u32::MAX);
        *self.reasoning.entry(block).or_insert(next)
    }

    /// A delta of reasoning block `block`: `key` set to `value`, with its `reasoning_index`.
    fn reasoning_delta(
        &mut self,
        block: u64,
        key: &str,
        value: Value,
    ) -> Result<ChatChunk, ProviderError> {
        let index = self.reasoning_index(block);
        let mut delta = Delta::default();
        delta.extra.insert(key.into(), value);
        delta
            .extra
            .insert("reasoning_index".into(), Value::from(index));
        self.chunk(delta)
    }

    fn arguments_delta(&self, index: u32, arguments: String) -> Result<ChatChunk, ProviderError> {
        self.tool_delta(ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta {
                name: None,
                arguments: Some(arguments),
            }),
        })
    }
}

impl StreamDecoder for Decoder {
    fn event(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<ChatChunk>,
    ) -> Result<bool, ProviderError> {
        let event: StreamEvent = serde_json::from_str(&ev.data)
            .map_err(|e| ProviderError::InvalidResponse(json_error(&e)))?;
        match event {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage;
                self.message = Some((message.id, message.model, crate::unix_now()));
                out.push_back(self.chunk(Delta {
                    role: Some(Role::Assistant),
                    content: Some(String::new()),
                    ..Delta::default()
                })?);
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                ResponseBlock::Text { text } if !text.is_empty() => {
                    out.push_back(self.chunk(Delta {
                        content: Some(text),
                        ..Delta::default()
                    })?)
                }
                ResponseBlock::ToolUse { id, name, input } => {
                    let tool = ToolBlock {
                        index: self.next_tool,
                        initial: input,
                        sent_arguments: false,
                    };
                    self.next_tool += 1;
                    out.push_back(self.tool_delta(ToolCallDelta {
                        index: tool.index,
                        id: Some(id),
                        kind: Some("function".into()),
                        function: Some(FunctionCallDelta {
                            name: Some(name),
                            arguments: Some(String::new()),
                        }),
                    })?);
                    self.tools.insert(index, tool);
                }
                ResponseBlock::Thinking {
                    thinking,
                    signature,
                } => {
                    // Anthropic sends both empty here (they follow in deltas); any it sends count.
                    self.reasoning_index(index);
                    if !thinking.is_empty() {
                        out.push_back(self.reasoning_delta(
                            index,
                            "reasoning_content",
                            thinking.into(),
                        )?);
                    }
                    if !signature.is_empty() {
                        out.push_back(self.reasoning_delta(
                            index,
                            "reasoning_signature",
                            signature.into(),
                        )?);
                    }
                }
                ResponseBlock::RedactedThinking { data } => out.push_back(self.reasoning_delta(
                    index,
                    "reasoning_redacted",
                    Value::Array(vec![data.into()]),
                )?),
                ResponseBlock::Text { .. } | ResponseBlock::Other => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => {
                    out.push_back(self.chunk(Delta {
                        content: Some(text),
                        ..Delta::default()
                    })?)
                }
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    if let Some(tool) = self.tools.get_mut(&index) {
                        tool.sent_arguments = true;
                        let i = tool.index;
                        out.push_back(self.arguments_delta(i, partial_json)?);
                    }
                }
                BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => out.push_back(
                    self.reasoning_delta(index, "reasoning_content", thinking.into())?,
                ),
                BlockDelta::SignatureDelta { signature } if !signature.is_empty() => out.push_back(
                    self.reasoning_delta(index, "reasoning_signature", signature.into())?,
                ),
                BlockDelta::TextDelta { .. }
                | BlockDelta::InputJsonDelta { .. }
                | BlockDelta::ThinkingDelta { .. }
                | BlockDelta::SignatureDelta { .. }
                | BlockDelta::Other => {}
            },
            StreamEvent::ContentBlockStop { index } => {
                // A tool without parameters may stream no argument bytes at all; clients then
                // parse "" as JSON and fail, so send what the non-stream answer would have.
                if let Some(tool) = self.tools.remove(&index)
                    && !tool.sent_arguments
                {
                    out.push_back(self.arguments_delta(tool.index, arguments(&tool.initial))?);
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(usage) = usage {
                    // message_delta counts are cumulative; input counts appear only on some models.
                    self.usage.merge(usage);
                }
                if let Some(reason) = delta.stop_reason {
                    let mut c = self.chunk(Delta::default())?;
                    if let Some(choice) = c.choices.first_mut() {
                        choice.finish_reason = Some(finish_reason(&reason));
                    }
                    out.push_back(c);
                }
            }
            StreamEvent::MessageStop => {
                // Always: the edge accounts for it, and forwards it only to clients that asked.
                let mut c = self.chunk(Delta::default())?;
                c.choices.clear();
                c.usage = Some(self.usage.to_chat());
                out.push_back(c);
                return Ok(true);
            }
            StreamEvent::Error { error } => {
                return Err(ProviderError::StreamCut(format!(
                    "upstream error event ({}): {}",
                    error.kind.as_deref().unwrap_or("unknown"),
                    error.message.as_deref().unwrap_or("no message"),
                )));
            }
            StreamEvent::Ping | StreamEvent::Unknown => {}
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
