//! Bedrock Converse ⇄ OpenAI chat translation.
//!
//! Requests: system and developer messages become `system` text blocks; user and assistant turns
//! become `messages` with content blocks (`text`, `image` from base64 data URLs, `toolUse`,
//! `toolResult`); a tool message becomes a `toolResult` block in a user turn. Consecutive turns of
//! one role are merged and empty text is dropped, because Converse requires alternating roles and
//! rejects blank text. Tools become `toolConfig.tools[].toolSpec` and `tool_choice` becomes
//! `toolConfig.toolChoice` (`auto`, `any`, `tool`).
//!
//! Lossy on purpose:
//! - Converse has no "no tools" choice: `tool_choice: "none"` leaves the tools out. When the
//!   conversation already holds tool calls, Converse insists on a `toolConfig`, so the tools (or,
//!   without any, placeholders named after the calls) are sent with no `toolChoice`.
//! - `response_format` has no Converse equivalent: `json_object` and `json_schema` append an
//!   instruction to `system` asking for JSON only, as for Anthropic.
//! - `temperature` is clamped to 0..=1, the range most Bedrock models accept; OpenAI-only knobs
//!   (`seed`, `logit_bias`, penalties, `logprobs`, `user`) are not sent.
//! - `n > 1`, `function` messages and image URLs other than `data:` URLs are refused with
//!   `Unsupported`.
//!
//! Responses and streams: text blocks become `content`, `toolUse` blocks become `tool_calls`,
//! reasoning blocks are skipped, and stop reasons and usage map to their OpenAI names. Converse
//! answers carry no id, so the adapter passes one in (from `x-amzn-requestid`). The stream decoder
//! lives in `stream`.

use seam_types::chat::{
    ChatCompletion, ChatRequest, Choice, Content, ContentPart, Extra, FunctionCall, Message, Role,
    ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::encode_segment;
use crate::{ProviderError, turns};

mod stream;

pub use stream::Decoder;

/// `/model/{model id}/converse` or `/converse-stream`, the id encoded as one segment (model ids
/// and ARNs hold `:` and `/`).
pub fn path(model: &str, stream: bool) -> String {
    let op = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!("/model/{}/{op}", encode_segment(model))
}

/// `chatcmpl-<request id>`, or a fresh id when the answer had no `x-amzn-requestid`.
pub fn completion_id(request_id: Option<&str>) -> String {
    match request_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("chatcmpl-{id}"),
        None => crate::fresh_id("chatcmpl-bedrock-"),
    }
}

// ---- request wire format ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConverseRequest {
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<SystemBlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_config: Option<InferenceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig>,
}

#[derive(Serialize)]
struct SystemBlock {
    text: String,
}

#[derive(Serialize)]
struct WireMessage {
    role: &'static str,
    content: Vec<Block>,
}

/// A content block is a one-key object; the key says what it holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Block {
    Text(String),
    Image(Image),
    ToolUse(ToolUse),
    ToolResult(ToolResult),
}

#[derive(Serialize)]
struct Image {
    format: &'static str,
    source: ImageSource,
}

/// Base64 in JSON; Bedrock decodes it.
#[derive(Serialize)]
struct ImageSource {
    bytes: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse {
    tool_use_id: String,
    name: String,
    input: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult {
    tool_use_id: String,
    content: Vec<ToolResultContent>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ToolResultContent {
    Text(String),
    Json(Value),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    tools: Vec<WireTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireTool {
    tool_spec: ToolSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: InputSchema,
}

#[derive(Serialize)]
struct InputSchema {
    json: Value,
}

// ---- request translation ----

/// The Converse body (the model is in the URL). Fails with `Unsupported` for what Converse cannot
/// do.
pub fn request_body(req: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::Unsupported(
            "n > 1 is not supported by Bedrock; send one request per choice".into(),
        ));
    }
    let mut system = Vec::new();
    let mut messages: Vec<WireMessage> = Vec::new();
    // Function names the history already uses, for placeholder tools (see `tool_config`).
    let mut called: Vec<&str> = Vec::new();
    let mut has_tool_blocks = false;
    for (i, m) in req.messages.iter().enumerate() {
        let (role, blocks) = match m.role {
            Role::System | Role::Developer => {
                let text = m.text();
                if !text.is_empty() {
                    system.push(SystemBlock { text });
                }
                continue;
            }
            Role::User => ("user", content_blocks(i, m.content.as_ref())?),
            Role::Assistant => {
                for call in m.tool_calls.iter().flatten() {
                    has_tool_blocks = true;
                    if !called.contains(&call.function.name.as_str()) {
                        called.push(&call.function.name);
                    }
                }
                ("assistant", assistant_blocks(i, m)?)
            }
            Role::Tool => {
                has_tool_blocks = true;
                ("user", vec![tool_result(m)])
            }
            Role::Function => {
                return Err(ProviderError::Unsupported(format!(
                    "messages[{i}]: role \"function\" is not supported by Bedrock; use tool messages"
                )));
            }
        };
        turns::push(&mut messages, role, blocks);
    }
    if let Some(instruction) = json_instruction(req.response_format.as_ref())? {
        system.push(SystemBlock { text: instruction });
    }
    let inference = InferenceConfig {
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        stop_sequences: req.stop.as_ref().map(|s| s.to_vec()),
    };
    let any_inference = inference.max_tokens.is_some()
        || inference.temperature.is_some()
        || inference.top_p.is_some()
        || inference.stop_sequences.is_some();
    let body = ConverseRequest {
        messages,
        system,
        inference_config: any_inference.then_some(inference),
        tool_config: tool_config(req, has_tool_blocks, &called)?,
    };
    serde_json::to_vec(&body).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

fn content_blocks(i: usize, content: Option<&Content>) -> Result<Vec<Block>, ProviderError> {
    turns::content(content, |j, part, out| part_block(i, j, part, out))
}

impl turns::Block for Block {
    fn is_tool_result(&self) -> bool {
        matches!(self, Block::ToolResult(_))
    }

    fn text(text: &str) -> Option<Self> {
        (!text.trim().is_empty()).then(|| Block::Text(text.into()))
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
            out.push(Block::Image(image(url).ok_or_else(|| {
                unsupported(
                    "Bedrock accepts images as base64 data URLs of PNG, JPEG, GIF or WebP only",
                )
            })?));
        }
        other => {
            return Err(unsupported(&format!(
                "content part type {other:?} is not supported by Bedrock"
            )));
        }
    }
    Ok(())
}

/// `data:image/<png|jpeg|gif|webp>;base64,<data>` → an image block.
fn image(url: &str) -> Option<Image> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    let format = match meta.strip_suffix(";base64")? {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    };
    Some(Image {
        format,
        source: ImageSource { bytes: data.into() },
    })
}

fn assistant_blocks(i: usize, m: &Message) -> Result<Vec<Block>, ProviderError> {
    let mut out = content_blocks(i, m.content.as_ref())?;
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = call.function.arguments.trim();
        // Some clients send "" for a tool without parameters; Converse wants an object.
        let input = if args.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str::<Value>(args).unwrap_or(Value::Null)
        };
        if !input.is_object() {
            return Err(ProviderError::Unsupported(format!(
                "messages[{i}].tool_calls[{j}] ({}): arguments must be a JSON object for Bedrock",
                call.function.name
            )));
        }
        out.push(Block::ToolUse(ToolUse {
            tool_use_id: call.id.clone(),
            name: call.function.name.clone(),
            input,
        }));
    }
    Ok(out)
}

/// A JSON object result travels as `json`, anything else as `text`; an empty result as no
/// content at all, since Converse rejects blank text.
fn tool_result(m: &Message) -> Block {
    let text = m.text();
    let content = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => vec![ToolResultContent::Json(v)],
        _ if text.trim().is_empty() => Vec::new(),
        _ => vec![ToolResultContent::Text(text)],
    };
    Block::ToolResult(ToolResult {
        tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
        content,
    })
}

fn tool_config(
    req: &ChatRequest,
    has_tool_blocks: bool,
    called: &[&str],
) -> Result<Option<ToolConfig>, ProviderError> {
    let tools: Vec<WireTool> = req
        .tools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            if t.kind != "function" {
                return Err(ProviderError::Unsupported(format!(
                    "tools[{i}]: tool type {:?} is not supported by Bedrock",
                    t.kind
                )));
            }
            Ok(WireTool {
                tool_spec: ToolSpec {
                    name: t.function.name.clone(),
                    description: t.function.description.clone(),
                    input_schema: InputSchema {
                        json: t
                            .function
                            .parameters
                            .clone()
                            .unwrap_or_else(|| json!({"type": "object"})),
                    },
                },
            })
        })
        .collect::<Result<_, _>>()?;
    let choice = match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => None,
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some(json!({"any": {}})),
        Some(ToolChoice::Named(n)) => Some(json!({"tool": {"name": n.function.name}})),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => {
            if !has_tool_blocks {
                return Ok(None);
            }
            // Converse rejects tool blocks without a toolConfig; send the tools, choosing none.
            return Ok(Some(ToolConfig {
                tools: if tools.is_empty() {
                    placeholders(called)
                } else {
                    tools
                },
                tool_choice: None,
            }));
        }
    };
    if tools.is_empty() {
        return Ok((has_tool_blocks && !called.is_empty()).then(|| ToolConfig {
            tools: placeholders(called),
            tool_choice: None,
        }));
    }
    // OpenAI's "auto" is Converse's default; sent explicitly it is refused by models that
    // support tools but not toolChoice.
    Ok(Some(ToolConfig {
        tools,
        tool_choice: choice,
    }))
}

/// Specs for functions the history called but the request no longer offers.
fn placeholders(called: &[&str]) -> Vec<WireTool> {
    called
        .iter()
        .map(|name| WireTool {
            tool_spec: ToolSpec {
                name: (*name).to_owned(),
                description: None,
                input_schema: InputSchema {
                    json: json!({"type": "object"}),
                },
            },
        })
        .collect()
}

/// The system-prompt instruction that stands in for `response_format`, if any.
fn json_instruction(format: Option<&Value>) -> Result<Option<String>, ProviderError> {
    const JSON_ONLY: &str =
        "Respond with only a single JSON object, with no other text or code fences.";
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
            "response_format type {other:?} is not supported by Bedrock"
        ))),
    }
}

// ---- response wire format ----

/// A Converse answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    #[serde(default)]
    output: Option<Output>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct Output {
    #[serde(default)]
    message: Option<OutputMessage>,
}

#[derive(Debug, Deserialize)]
struct OutputMessage {
    #[serde(default)]
    content: Vec<OutputBlock>,
}

/// Blocks are one-key objects; reasoning and citation blocks are read as empty and skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutputBlock {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<OutputToolUse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutputToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default)]
    input: Value,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

impl WireUsage {
    /// OpenAI counts every prompt token; Converse splits out the cached ones.
    fn usage(&self) -> Usage {
        Usage::new(
            self.input_tokens + self.cache_read_input_tokens + self.cache_write_input_tokens,
            self.output_tokens,
        )
    }
}

// ---- response translation ----

/// OpenAI's `finish_reason` for a Converse `stopReason`; unknown reasons pass through as sent.
fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        other => other,
    }
    .into()
}

/// Compact JSON for tool arguments; a missing input is the empty object, which is what it means.
fn arguments(input: &Value) -> String {
    if input.is_null() {
        return "{}".into();
    }
    input.to_string()
}

pub fn completion(resp: &ConverseResponse, id: String, model: &str) -> ChatCompletion {
    let mut text = String::new();
    let mut calls = Vec::new();
    let blocks = resp
        .output
        .iter()
        .flat_map(|o| &o.message)
        .flat_map(|m| &m.content);
    for block in blocks {
        if let Some(t) = &block.text {
            text.push_str(t);
        }
        if let Some(u) = &block.tool_use {
            calls.push(ToolCall {
                id: u.tool_use_id.clone(),
                kind: "function".into(),
                function: FunctionCall {
                    name: u.name.clone(),
                    arguments: arguments(&u.input),
                },
            });
        }
    }
    let mut message = Message::new(Role::Assistant, text);
    if !calls.is_empty() {
        if message.text().is_empty() {
            message.content = None;
        }
        message.tool_calls = Some(calls);
    }
    ChatCompletion {
        id,
        object: "chat.completion".into(),
        created: crate::unix_now(),
        model: model.into(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: resp.stop_reason.as_deref().map(finish_reason),
            logprobs: None,
            extra: Extra::new(),
        }],
        usage: Some(
            resp.usage
                .as_ref()
                .map_or_else(|| Usage::new(0, 0), WireUsage::usage),
        ),
        system_fingerprint: None,
        extra: Extra::new(),
    }
}

#[cfg(test)]
mod tests;
