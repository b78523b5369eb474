//! Anthropic Messages ⇄ the pipeline's chat types, pure (no IO).
//!
//! Requests: `system` (and `system`-role turns) become system messages; each user turn's blocks
//! become one or more chat messages in their original order — text, images and documents are
//! parts of a user message, each `tool_result` a `tool` message of its own, so a turn that mixes
//! them is split where they meet. An assistant turn's text becomes its content and its
//! `tool_use` blocks its `tool_calls`. Thinking blocks in history are dropped: only the same
//! format could carry their signatures.
//!
//! Fields a chat-completions target cannot honour are dropped (`top_k`, `thinking`,
//! `cache_control`, `service_tier`, `container`, `mcp_servers`, …) or refused when dropping would
//! change the answer's meaning (server tools, blocks only Anthropic's servers understand).
//! Error messages name the field and the block or tool type, never request content.
//!
//! Answers: the message's reasoning extras (`seam_types::chat` documents them) become
//! `thinking` blocks with their signatures and `redacted_thinking` blocks, in order, before the
//! text and the `tool_use` blocks; usage splits the cache reads and writes out of
//! `input_tokens`, as Anthropic does.

use seam_types::chat::{
    ChatCompletion, ChatRequest, Content, ContentPart, Extra, FunctionCall, FunctionDef, ImageUrl,
    Message, NamedFunction, NamedToolChoice, Role, Stop, Tool, ToolCall, ToolChoice,
    ToolChoiceMode, Usage,
};
use seam_types::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

// ---- request wire format ----

/// A `POST /v1/messages` body. Fields Seam does not translate are absent here, so serde ignores
/// them (Anthropic adds fields often; an unknown one is no reason to refuse).
#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u64,
    pub messages: Vec<InputMessage>,
    #[serde(default)]
    pub system: Option<TextOrBlocks>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub tools: Option<Vec<InputTool>>,
    #[serde(default)]
    pub tool_choice: Option<InputToolChoice>,
    #[serde(default)]
    pub output_config: Option<OutputConfig>,
}

/// `POST /v1/messages/count_tokens`: the same fields less the ones that shape the output.
#[derive(Debug, Deserialize)]
pub struct CountTokensRequest {
    pub model: String,
    pub messages: Vec<InputMessage>,
    #[serde(default)]
    pub system: Option<TextOrBlocks>,
    #[serde(default)]
    pub tools: Option<Vec<InputTool>>,
    #[serde(default)]
    pub tool_choice: Option<InputToolChoice>,
    #[serde(default)]
    pub output_config: Option<OutputConfig>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InputMessage {
    pub role: InputRole,
    pub content: TextOrBlocks,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputRole {
    User,
    Assistant,
    System,
}

/// Content as a string (shorthand for one text block) or as blocks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TextOrBlocks {
    Text(String),
    Blocks(Vec<Block>),
}

/// One content block: its `type` and the rest of its fields, read per type in [`to_chat`], so
/// an unknown type is refused by name rather than by serde's list of every known one.
#[derive(Debug, Deserialize)]
pub struct Block {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct InputTool {
    /// Absent or `custom` for a client tool; anything else is one of Anthropic's server tools.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InputToolChoice {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Deserialize)]
pub struct OutputConfig {
    #[serde(default)]
    pub format: Option<OutputFormat>,
}

#[derive(Debug, Deserialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub schema: Option<Value>,
}

// ---- request translation ----

fn invalid(param: impl Into<String>, why: impl std::fmt::Display) -> ApiError {
    let param = param.into();
    ApiError::new(ErrorCode::InvalidRequest, format!("`{param}` {why}")).with_param(param)
}

fn unsupported(param: impl Into<String>, why: impl std::fmt::Display) -> ApiError {
    let param = param.into();
    ApiError::new(ErrorCode::UnsupportedParameter, format!("`{param}`: {why}")).with_param(param)
}

/// Checks what Anthropic checks that serde cannot: the field named, never its content.
pub fn validate(req: &MessagesRequest) -> Result<(), ApiError> {
    if req.model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    if req.max_tokens == 0 {
        // Anthropic accepts 0 to pre-warm its prompt cache, which a chat target cannot do.
        return Err(invalid("max_tokens", "must be at least 1"));
    }
    if u32::try_from(req.max_tokens).is_err() {
        return Err(invalid("max_tokens", "is too large"));
    }
    if let Some(t) = req.temperature
        && !(0.0..=1.0).contains(&t)
    {
        return Err(invalid("temperature", "must be between 0 and 1"));
    }
    if let Some(p) = req.top_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(invalid("top_p", "must be between 0 and 1"));
    }
    Ok(())
}

/// The pipeline's request for a Messages request (validated with [`validate`] first).
pub fn to_chat(req: &MessagesRequest) -> Result<ChatRequest, ApiError> {
    let mut chat = base_chat(
        &req.model,
        &req.messages,
        req.system.as_ref(),
        req.tools.as_deref(),
        req.tool_choice.as_ref(),
        req.output_config.as_ref(),
    )?;
    chat.max_tokens = u32::try_from(req.max_tokens).ok();
    chat.stream = req.stream;
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    chat.stop = req
        .stop_sequences
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(|s| Stop::Many(s.clone()));
    chat.user = req.metadata.as_ref().and_then(|m| m.user_id.clone());
    Ok(chat)
}

/// The request `count_tokens` counts: what [`to_chat`] would send, less the output settings.
pub fn count_to_chat(req: &CountTokensRequest) -> Result<ChatRequest, ApiError> {
    if req.model.is_empty() {
        return Err(invalid("model", "must not be empty"));
    }
    base_chat(
        &req.model,
        &req.messages,
        req.system.as_ref(),
        req.tools.as_deref(),
        req.tool_choice.as_ref(),
        req.output_config.as_ref(),
    )
}

fn base_chat(
    model: &str,
    input: &[InputMessage],
    system: Option<&TextOrBlocks>,
    tools: Option<&[InputTool]>,
    choice: Option<&InputToolChoice>,
    output: Option<&OutputConfig>,
) -> Result<ChatRequest, ApiError> {
    if input.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut messages = Vec::with_capacity(input.len() + 1);
    if let Some(system) = system {
        messages.extend(system_message(system, "system")?);
    }
    for (i, m) in input.iter().enumerate() {
        match m.role {
            InputRole::System => messages.extend(system_message(
                &m.content,
                &format!("messages[{i}].content"),
            )?),
            InputRole::User => user_turn(i, &m.content, &mut messages)?,
            InputRole::Assistant => messages.extend(assistant_turn(i, &m.content)?),
        }
    }
    let tools = tools.map(translate_tools).transpose()?;
    let has_tools = tools.as_ref().is_some_and(|t| !t.is_empty());
    let mut extra = Extra::new();
    let tool_choice = choice.map(|c| {
        let (choice, serial) = translate_tool_choice(c);
        if serial && has_tools {
            extra.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
        choice
    });
    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        stream: None,
        stream_options: None,
        tools,
        tool_choice,
        response_format: output.map(response_format).transpose()?.flatten(),
        max_tokens: None,
        max_completion_tokens: None,
        temperature: None,
        top_p: None,
        stop: None,
        n: None,
        user: None,
        extra,
        native: None,
    })
}

fn text_part(text: &str) -> ContentPart {
    ContentPart {
        kind: "text".into(),
        text: Some(text.to_owned()),
        image_url: None,
        extra: Extra::new(),
    }
}

/// Parts as a message's content: one text part as a plain string (what every target reads),
/// anything else as parts.
fn content(mut parts: Vec<ContentPart>) -> Content {
    if parts.len() == 1 && parts[0].kind == "text" && parts[0].image_url.is_none() {
        if let Some(text) = parts.pop().and_then(|p| p.text) {
            return Content::Text(text);
        }
    }
    Content::Parts(parts)
}

fn message(role: Role, content: Content) -> Message {
    Message {
        role,
        content: Some(content),
        name: None,
        tool_calls: None,
        tool_call_id: None,
        extra: Extra::new(),
    }
}

/// `system` as a string or text blocks; `None` when it holds no blocks.
fn system_message(system: &TextOrBlocks, at: &str) -> Result<Option<Message>, ApiError> {
    match system {
        TextOrBlocks::Text(t) => Ok(Some(message(Role::System, Content::Text(t.clone())))),
        TextOrBlocks::Blocks(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (j, b) in blocks.iter().enumerate() {
                if b.kind != "text" {
                    return Err(invalid(
                        format!("{at}[{j}].type"),
                        "must be \"text\" in a system prompt",
                    ));
                }
                parts.push(text_part(str_field(b, "text", &format!("{at}[{j}]"))?));
            }
            Ok((!parts.is_empty()).then(|| message(Role::System, content(parts))))
        }
    }
}

fn str_field<'b>(b: &'b Block, name: &str, at: &str) -> Result<&'b str, ApiError> {
    match b.fields.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(format!("{at}.{name}"), "must be a string")),
        None => Err(invalid(format!("{at}.{name}"), "is required")),
    }
}

fn obj_field<'b>(b: &'b Block, name: &str, at: &str) -> Result<&'b Map<String, Value>, ApiError> {
    match b.fields.get(name) {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(invalid(format!("{at}.{name}"), "must be an object")),
        None => Err(invalid(format!("{at}.{name}"), "is required")),
    }
}

fn source_str<'s>(
    source: &'s Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<&'s str, ApiError> {
    match source.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(invalid(
            format!("{at}.source.{name}"),
            "is required (a string)",
        )),
    }
}

/// Blocks only Anthropic's own servers produce or understand.
fn untranslatable(kind: &str, at: &str) -> ApiError {
    unsupported(
        format!("{at}.type"),
        format!(
            "content blocks of type {kind:?} cannot be translated for a chat-completions target"
        ),
    )
}

/// A user turn: parts gather into one user message until a `tool_result`, which becomes a
/// `tool` message of its own, so the chat messages keep the blocks' order.
fn user_turn(i: usize, c: &TextOrBlocks, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let blocks = match c {
        TextOrBlocks::Text(t) => {
            out.push(message(Role::User, Content::Text(t.clone())));
            return Ok(());
        }
        TextOrBlocks::Blocks(b) => b,
    };
    if blocks.is_empty() {
        return Err(invalid(
            format!("messages[{i}].content"),
            "must not be empty",
        ));
    }
    let mut parts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        if b.kind == "tool_result" {
            if !parts.is_empty() {
                out.push(message(Role::User, content(std::mem::take(&mut parts))));
            }
            out.push(tool_result(b, &at)?);
            continue;
        }
        if matches!(b.kind.as_str(), "thinking" | "redacted_thinking") {
            continue;
        }
        if b.kind == "tool_use" {
            return Err(invalid(
                format!("{at}.type"),
                "\"tool_use\" is only valid in assistant turns",
            ));
        }
        part(b, &at, &mut parts)?;
    }
    if !parts.is_empty() {
        out.push(message(Role::User, content(parts)));
    }
    Ok(())
}

/// Text, image or document block → chat content parts.
fn part(b: &Block, at: &str, parts: &mut Vec<ContentPart>) -> Result<(), ApiError> {
    match b.kind.as_str() {
        "text" => parts.push(text_part(str_field(b, "text", at)?)),
        "image" => parts.push(image(b, at)?),
        "document" => document(b, at, parts)?,
        other => return Err(untranslatable(other, at)),
    }
    Ok(())
}

fn image(b: &Block, at: &str) -> Result<ContentPart, ApiError> {
    let source = obj_field(b, "source", at)?;
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            source_str(source, "media_type", at)?,
            source_str(source, "data", at)?
        ),
        Some("url") => source_str(source, "url", at)?.to_owned(),
        Some(other) => {
            return Err(unsupported(
                format!("{at}.source.type"),
                format!(
                    "image sources of type {other:?} cannot be translated for a chat-completions target"
                ),
            ));
        }
        None => return Err(invalid(format!("{at}.source.type"), "is required")),
    };
    Ok(ContentPart {
        kind: "image_url".into(),
        text: None,
        image_url: Some(ImageUrl { url, detail: None }),
        extra: Extra::new(),
    })
}

/// A base64 PDF becomes an OpenAI `file` part; a text source (or a content source's text and
/// images) becomes parts of their own. URL and file-id sources name Anthropic-side files.
fn document(b: &Block, at: &str, parts: &mut Vec<ContentPart>) -> Result<(), ApiError> {
    let source = obj_field(b, "source", at)?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source_str(source, "media_type", at)?;
            let data = source_str(source, "data", at)?;
            let mut extra = Extra::new();
            extra.insert(
                "file".into(),
                json!({"file_data": format!("data:{media};base64,{data}")}),
            );
            parts.push(ContentPart {
                kind: "file".into(),
                text: None,
                image_url: None,
                extra,
            });
        }
        Some("text") => parts.push(text_part(source_str(source, "data", at)?)),
        Some("content") => match source.get("content") {
            Some(Value::String(s)) => parts.push(text_part(s)),
            Some(Value::Array(items)) => {
                for (k, item) in items.iter().enumerate() {
                    let inner = format!("{at}.source.content[{k}]");
                    let block: Block = serde_json::from_value(item.clone())
                        .map_err(|_| invalid(format!("{inner}.type"), "is required"))?;
                    match block.kind.as_str() {
                        "text" | "image" => part(&block, &inner, parts)?,
                        other => return Err(untranslatable(other, &inner)),
                    }
                }
            }
            _ => return Err(invalid(format!("{at}.source.content"), "is required")),
        },
        Some(other) => {
            return Err(unsupported(
                format!("{at}.source.type"),
                format!(
                    "document sources of type {other:?} cannot be translated for a chat-completions target"
                ),
            ));
        }
        None => return Err(invalid(format!("{at}.source.type"), "is required")),
    }
    Ok(())
}

/// A `tool_result` block → a `tool` message (`is_error` adds nothing: the text says it).
fn tool_result(b: &Block, at: &str) -> Result<Message, ApiError> {
    let id = str_field(b, "tool_use_id", at)?;
    let content = match b.fields.get("content") {
        None | Some(Value::Null) => Content::Text(String::new()),
        Some(Value::String(s)) => Content::Text(s.clone()),
        Some(Value::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for (k, item) in items.iter().enumerate() {
                let inner = format!("{at}.content[{k}]");
                let block: Block = serde_json::from_value(item.clone())
                    .map_err(|_| invalid(format!("{inner}.type"), "is required"))?;
                if block.kind != "text" {
                    // Chat targets take only text in tool messages.
                    return Err(unsupported(
                        format!("{inner}.type"),
                        format!(
                            "{:?} blocks inside a tool_result cannot be translated for a chat-completions target; send text",
                            block.kind
                        ),
                    ));
                }
                parts.push(text_part(str_field(&block, "text", &inner)?));
            }
            if parts.is_empty() {
                Content::Text(String::new())
            } else {
                content(parts)
            }
        }
        Some(_) => {
            return Err(invalid(
                format!("{at}.content"),
                "must be a string or an array of blocks",
            ));
        }
    };
    Ok(Message {
        role: Role::Tool,
        content: Some(content),
        name: None,
        tool_calls: None,
        tool_call_id: Some(id.to_owned()),
        extra: Extra::new(),
    })
}

/// An assistant turn: its text in order as content, its `tool_use` blocks as `tool_calls`;
/// `None` when nothing is left (a turn of thinking blocks only).
fn assistant_turn(i: usize, c: &TextOrBlocks) -> Result<Option<Message>, ApiError> {
    let blocks = match c {
        TextOrBlocks::Text(t) => {
            return Ok(Some(message(Role::Assistant, Content::Text(t.clone()))));
        }
        TextOrBlocks::Blocks(b) => b,
    };
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match b.kind.as_str() {
            "text" => parts.push(text_part(str_field(b, "text", &at)?)),
            "tool_use" => {
                let input = b.fields.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(ToolCall {
                    id: str_field(b, "id", &at)?.to_owned(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: str_field(b, "name", &at)?.to_owned(),
                        arguments: input.to_string(),
                    },
                });
            }
            "thinking" | "redacted_thinking" => {}
            "tool_result" => {
                return Err(invalid(
                    format!("{at}.type"),
                    "\"tool_result\" is only valid in user turns",
                ));
            }
            other => return Err(untranslatable(other, &at)),
        }
    }
    if parts.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    Ok(Some(Message {
        role: Role::Assistant,
        content: (!parts.is_empty()).then(|| content(parts)),
        name: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        tool_call_id: None,
        extra: Extra::new(),
    }))
}

fn translate_tools(tools: &[InputTool]) -> Result<Vec<Tool>, ApiError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(kind) = t.kind.as_deref().filter(|k| *k != "custom") {
                return Err(unsupported(
                    format!("tools[{i}].type"),
                    format!("Anthropic server tool {kind:?} cannot run on a chat-completions target; define it as a custom tool"),
                ));
            }
            let name = t
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(format!("tools[{i}].name"), "is required"))?;
            let schema = t
                .input_schema
                .clone()
                .ok_or_else(|| invalid(format!("tools[{i}].input_schema"), "is required"))?;
            let mut extra = Extra::new();
            if let Some(strict) = t.strict {
                extra.insert("strict".into(), Value::Bool(strict));
            }
            Ok(Tool {
                kind: "function".into(),
                function: FunctionDef {
                    name: name.to_owned(),
                    description: t.description.clone(),
                    parameters: Some(schema),
                    extra,
                },
                extra: Extra::new(),
            })
        })
        .collect()
}

/// The chat tool choice, and whether parallel tool calls were switched off.
fn translate_tool_choice(c: &InputToolChoice) -> (ToolChoice, bool) {
    match c {
        InputToolChoice::Auto {
            disable_parallel_tool_use,
        } => (
            ToolChoice::Mode(ToolChoiceMode::Auto),
            disable_parallel_tool_use.unwrap_or(false),
        ),
        InputToolChoice::Any {
            disable_parallel_tool_use,
        } => (
            ToolChoice::Mode(ToolChoiceMode::Required),
            disable_parallel_tool_use.unwrap_or(false),
        ),
        InputToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        } => (
            ToolChoice::Named(NamedToolChoice {
                kind: "function".into(),
                function: NamedFunction { name: name.clone() },
            }),
            disable_parallel_tool_use.unwrap_or(false),
        ),
        InputToolChoice::None => (ToolChoice::Mode(ToolChoiceMode::None), false),
    }
}

/// `output_config.format` (structured outputs) → `response_format`; `effort` is dropped.
fn response_format(o: &OutputConfig) -> Result<Option<Value>, ApiError> {
    let Some(f) = &o.format else {
        return Ok(None);
    };
    if f.kind != "json_schema" {
        return Err(unsupported(
            "output_config.format.type",
            format!("output format {:?} is not supported", f.kind),
        ));
    }
    let schema = f
        .schema
        .clone()
        .ok_or_else(|| invalid("output_config.format.schema", "is required"))?;
    Ok(Some(json!({
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": true}
    })))
}

// ---- answer translation ----

/// Anthropic's `stop_reason` for a chat `finish_reason`.
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter" | "refusal") => "refusal",
        Some("model_context_window_exceeded") => "model_context_window_exceeded",
        Some("pause_turn") => "pause_turn",
        _ => "end_turn",
    }
}

/// A message id in Anthropic's form: the upstream's when it already is one.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        "msg_seam".to_owned()
    } else {
        let clean: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("msg_{clean}")
    }
}

/// Cached prompt tokens, as OpenAI reports them (`prompt_tokens_details.cached_tokens`).
fn cached_tokens(u: &Usage) -> u64 {
    u.extra
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Prompt tokens written to the prompt cache (`cache_creation_input_tokens`, an Anthropic
/// upstream's).
fn cache_creation_tokens(u: &Usage) -> u64 {
    u.extra
        .get("cache_creation_input_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Anthropic's `usage`: `input_tokens` excludes the tokens read from and written to the prompt
/// cache, which are counted apart (the chat usage's `prompt_tokens` includes them).
pub fn usage_json(u: Option<&Usage>) -> Value {
    let (prompt, output, read, written) = u.map_or((0, 0, 0, 0), |u| {
        (
            u.prompt_tokens,
            u.completion_tokens,
            cached_tokens(u),
            cache_creation_tokens(u),
        )
    });
    json!({
        "input_tokens": prompt.saturating_sub(read).saturating_sub(written),
        "output_tokens": output,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    })
}

fn extra_str<'e>(extra: &'e Extra, key: &str) -> Option<&'e str> {
    extra
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Model reasoning beside the answer (`reasoning_content`: an Anthropic upstream's thinking, or
/// what DeepSeek-style OpenAI-format upstreams send).
pub fn reasoning(extra: &Extra) -> Option<&str> {
    extra_str(extra, "reasoning_content")
}

/// The signature of a thinking block (`reasoning_signature`).
pub fn signature(extra: &Extra) -> Option<&str> {
    extra_str(extra, "reasoning_signature")
}

/// The `data` of each redacted thinking block (`reasoning_redacted`).
pub fn redacted(extra: &Extra) -> impl Iterator<Item = &str> {
    extra
        .get("reasoning_redacted")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// An answer's thinking and redacted thinking blocks, in order, from its message's reasoning
/// extras (`seam_types::chat` documents them): `reasoning_blocks` when there are several, else
/// one thinking block (its signature empty when the upstream gave none) and the redacted ones.
pub fn reasoning_blocks(extra: &Extra) -> Vec<Value> {
    if let Some(Value::Array(blocks)) = extra.get("reasoning_blocks") {
        let str_of = |b: &Value, k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
        // From an OpenAI-format upstream this is free JSON: only well-formed blocks pass.
        return blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("thinking") => Some(json!({
                    "type": "thinking",
                    "thinking": str_of(b, "thinking")?,
                    "signature": str_of(b, "signature").unwrap_or_default(),
                })),
                Some("redacted_thinking") => {
                    Some(json!({"type": "redacted_thinking", "data": str_of(b, "data")?}))
                }
                _ => None,
            })
            .collect();
    }
    let mut out = Vec::new();
    let (text, sig) = (reasoning(extra), signature(extra));
    if text.is_some() || sig.is_some() {
        out.push(json!({
            "type": "thinking",
            "thinking": text.unwrap_or_default(),
            "signature": sig.unwrap_or_default(),
        }));
    }
    out.extend(redacted(extra).map(|d| json!({"type": "redacted_thinking", "data": d})));
    out
}

/// Tool arguments as Anthropic's `input`: the parsed object, `{}` when they are not one.
pub fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// The Messages response for a chat answer; `model` is the client's.
pub fn from_chat(answer: &ChatCompletion, model: &str) -> Value {
    let choice = answer.choices.first();
    let mut content = Vec::new();
    if let Some(c) = choice {
        content.extend(reasoning_blocks(&c.message.extra));
        let text = match &c.message.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts.iter().filter_map(|p| p.text.as_deref()).collect(),
        };
        if !text.is_empty() {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in c.message.tool_calls.iter().flatten() {
            content.push(json!({
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_input(&call.function.arguments),
            }));
        }
    }
    json!({
        "id": message_id(&answer.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.and_then(|c| c.finish_reason.as_deref())),
        "stop_sequence": null,
        "usage": usage_json(answer.usage.as_ref()),
    })
}

// ---- errors ----

/// Anthropic's error `type` and the status to send for an error from Seam's code table (or an
/// upstream's): what the `anthropic` SDK needs to raise the matching exception class. 503 becomes
/// Anthropic's 529 `overloaded_error`.
pub fn error_body(e: &ApiError) -> (u16, Value) {
    let (status, kind) = match e.status {
        401 => (401, "authentication_error"),
        403 => (403, "permission_error"),
        404 => (404, "not_found_error"),
        413 => (413, "request_too_large"),
        429 => (429, "rate_limit_error"),
        529 => (529, "overloaded_error"),
        // An overload (every target full, or every breaker open) is Anthropic's 529, which the
        // SDK retries as such; other 503s (placement, audit, limits store) stay 503 `api_error`.
        503 if e.is(ErrorCode::Overloaded) || e.is(ErrorCode::NoHealthyTarget) => {
            (529, "overloaded_error")
        }
        504 => (504, "timeout_error"),
        s @ 400..=499 => (s, "invalid_request_error"),
        s @ 500..=599 => (s, "api_error"),
        _ => (500, "api_error"),
    };
    let mut error = json!({"type": kind, "message": e.message});
    // Seam's stable code, where the client can branch on it (`APIStatusError.error_code`).
    if ErrorCode::ALL.iter().any(|c| e.is(*c)) {
        error["details"] = json!({"error_code": e.code});
    }
    (status, json!({"type": "error", "error": error}))
}
