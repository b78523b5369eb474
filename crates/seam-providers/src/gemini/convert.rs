//! Gemini `generateContent` ⇄ OpenAI chat translation.
//!
//! Requests: system and developer messages become `systemInstruction`; user and assistant turns
//! become `contents` with roles `user` and `model` and typed `parts` (text, `inlineData` for data-URL
//! images and audio, `functionCall`, `functionResponse`). A tool message becomes a
//! `functionResponse` in a user turn, named after the assistant tool call it answers, because
//! Gemini matches responses by function name, not by id. Consecutive turns of one role are merged
//! and empty text is dropped, because Gemini rejects empty parts and expects turns to alternate.
//!
//! Lossy on purpose:
//! - JSON Schemas (tool parameters, `response_format.json_schema`) are cut down to the subset
//!   Gemini's `Schema` accepts: unknown keywords (`additionalProperties`, `$schema`, `$ref`, …) are
//!   dropped, `oneOf` becomes `anyOf`, `const` becomes a one-value `enum`, and a type list with
//!   `"null"` becomes `nullable`.
//! - A tool result must be an object for Gemini, so anything else is wrapped as `{"result": …}`.
//! - `user`, `logit_bias`, `logprobs` and `parallel_tool_calls` have no Gemini equivalent and are
//!   not sent; image URLs other than `data:` URLs are refused with `Unsupported`.
//!
//! Responses and streams: each candidate becomes a choice; text parts are concatenated (thought
//! summaries skipped), `functionCall` parts become tool calls with ids `call_<n>`, finish reasons
//! and usage map to their OpenAI names. Gemini's stream has no terminal event: it is complete when
//! every candidate has sent a finish reason and the body ends.
//!
//! Split by concern: `schema` (the JSON Schema subset), `stream` (the stream decoder) and
//! `embeddings` (`batchEmbedContents`).

use std::collections::HashMap;

use seam_types::chat::{
    ChatCompletion, ChatRequest, Choice, Content, ContentPart, Extra, FunctionCall, Message, Role,
    ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::http::encode_segment;
use crate::{ProviderError, turns};

mod embeddings;
mod schema;
mod stream;

pub use embeddings::{BatchEmbedResponse, embeddings, embeddings_body};
pub use schema::gemini_schema;
pub use stream::Decoder;

/// Gemini's limit on one `batchEmbedContents` call.
pub const MAX_EMBED_BATCH: usize = 100;

// ---- addressing ----

/// The methods Seam calls on a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Generate,
    StreamGenerate,
    BatchEmbed,
}

/// The model's resource name: `models/{model}`, unless the model already names a resource
/// (`tunedModels/…`, `models/…`).
pub fn resource(model: &str) -> String {
    if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// `/v1beta/{resource}:{method}`, each segment of the resource encoded on its own.
pub fn path(model: &str, method: Method) -> String {
    let method = match method {
        Method::Generate => "generateContent",
        Method::StreamGenerate => "streamGenerateContent",
        Method::BatchEmbed => "batchEmbedContents",
    };
    let resource = resource(model);
    let segments: Vec<_> = resource.split('/').map(encode_segment).collect();
    format!("/v1beta/{}:{method}", segments.join("/"))
}

// ---- request wire format ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest {
    contents: Vec<WireContent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTools>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Serialize)]
struct WireContent {
    role: &'static str,
    parts: Vec<Part>,
}

#[derive(Serialize)]
struct SystemInstruction {
    parts: Vec<Part>,
}

/// A part is a one-key object; the key says what it holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Part {
    Text(String),
    #[serde(rename_all = "camelCase")]
    InlineData {
        mime_type: String,
        data: String,
    },
    FunctionCall {
        name: String,
        args: Value,
    },
    FunctionResponse {
        name: String,
        response: Value,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireTools {
    function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Serialize)]
struct FunctionDeclaration {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    function_calling_config: FunctionCallingConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<Vec<String>>,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<Value>,
}

// ---- request translation ----

/// The `generateContent` body (the model is in the URL). Fails with `Unsupported` for what Gemini
/// cannot do.
pub fn request_body(req: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
    let names = tool_call_names(req);
    let mut system = Vec::new();
    let mut contents: Vec<WireContent> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, parts) = match m.role {
            Role::System | Role::Developer => {
                let text = m.text();
                if !text.is_empty() {
                    system.push(Part::Text(text));
                }
                continue;
            }
            Role::User => ("user", content_parts(i, m.content.as_ref())?),
            Role::Assistant => ("model", model_parts(i, m)?),
            Role::Tool => ("user", vec![function_response(i, m, &names)?]),
            Role::Function => {
                return Err(ProviderError::Unsupported(format!(
                    "messages[{i}]: role \"function\" is not supported by Gemini; use tool messages"
                )));
            }
        };
        turns::push(&mut contents, role, parts);
    }
    let tools = tools(req)?;
    let body = GenerateRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(SystemInstruction { parts: system }),
        tool_config: tools.as_ref().and_then(|_| tool_config(req)),
        tools,
        generation_config: generation_config(req)?,
    };
    serde_json::to_vec(&body).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

/// Tool call id → function name, from every assistant turn: a tool message names only the id.
fn tool_call_names(req: &ChatRequest) -> HashMap<&str, &str> {
    req.messages
        .iter()
        .flat_map(|m| m.tool_calls.iter().flatten())
        .map(|c| (c.id.as_str(), c.function.name.as_str()))
        .collect()
}

fn content_parts(i: usize, content: Option<&Content>) -> Result<Vec<Part>, ProviderError> {
    turns::content(content, |j, part, out| media_part(i, j, part, out))
}

impl turns::Block for Part {
    fn is_tool_result(&self) -> bool {
        matches!(self, Part::FunctionResponse { .. })
    }

    fn text(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Part::Text(text.into()))
    }
}

turns::impl_turn!(WireContent, parts, Part);

fn push_text(out: &mut Vec<Part>, text: &str) {
    out.extend(<Part as turns::Block>::text(text));
}

fn media_part(
    i: usize,
    j: usize,
    part: &ContentPart,
    out: &mut Vec<Part>,
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
            let (mime_type, data) = data_url(url).ok_or_else(|| {
                unsupported("Gemini accepts images as base64 data URLs (data:<type>;base64,…) only")
            })?;
            out.push(Part::InlineData {
                mime_type: mime_type.into(),
                data: data.into(),
            });
        }
        "input_audio" => {
            let audio = part.extra.get("input_audio");
            let field = |k: &str| audio.and_then(|a| a.get(k)).and_then(Value::as_str);
            let (Some(data), Some(format)) = (field("data"), field("format")) else {
                return Err(unsupported("input_audio needs data and format"));
            };
            out.push(Part::InlineData {
                mime_type: format!("audio/{format}"),
                data: data.into(),
            });
        }
        other => {
            return Err(unsupported(&format!(
                "content part type {other:?} is not supported by Gemini"
            )));
        }
    }
    Ok(())
}

/// `data:<mime>;base64,<data>` → `(mime, data)`.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    (!mime.is_empty()).then_some((mime, data))
}

fn model_parts(i: usize, m: &Message) -> Result<Vec<Part>, ProviderError> {
    let mut out = content_parts(i, m.content.as_ref())?;
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = call.function.arguments.trim();
        // Some clients send "" for a function without parameters; Gemini wants an object.
        let args = if args.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str::<Value>(args).unwrap_or(Value::Null)
        };
        if !args.is_object() {
            return Err(ProviderError::Unsupported(format!(
                "messages[{i}].tool_calls[{j}] ({}): arguments must be a JSON object for Gemini",
                call.function.name
            )));
        }
        out.push(Part::FunctionCall {
            name: call.function.name.clone(),
            args,
        });
    }
    Ok(out)
}

fn function_response(
    i: usize,
    m: &Message,
    names: &HashMap<&str, &str>,
) -> Result<Part, ProviderError> {
    let id = m.tool_call_id.as_deref().unwrap_or_default();
    let name = names
        .get(id)
        .copied()
        .or(m.name.as_deref())
        .ok_or_else(|| {
            ProviderError::Unsupported(format!(
                "messages[{i}]: tool_call_id matches no earlier assistant tool call; Gemini needs \
                 the function's name"
            ))
        })?;
    Ok(Part::FunctionResponse {
        name: name.to_owned(),
        response: tool_response(&m.text()),
    })
}

/// Gemini's `response` must be an object: a JSON object passes as is, any other JSON value or
/// plain text is wrapped as `{"result": …}`.
fn tool_response(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => json!({ "result": other }),
        Err(_) => json!({ "result": text }),
    }
}

fn tools(req: &ChatRequest) -> Result<Option<Vec<WireTools>>, ProviderError> {
    let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let declarations = tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.kind != "function" {
                return Err(ProviderError::Unsupported(format!(
                    "tools[{i}]: tool type {:?} is not supported by Gemini",
                    t.kind
                )));
            }
            Ok(FunctionDeclaration {
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                parameters: t.function.parameters.as_ref().and_then(gemini_schema),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(vec![WireTools {
        function_declarations: declarations,
    }]))
}

fn tool_config(req: &ChatRequest) -> Option<ToolConfig> {
    let (mode, allowed) = match req.tool_choice.as_ref()? {
        ToolChoice::Mode(ToolChoiceMode::Auto) => ("AUTO", None),
        ToolChoice::Mode(ToolChoiceMode::Required) => ("ANY", None),
        ToolChoice::Mode(ToolChoiceMode::None) => ("NONE", None),
        ToolChoice::Named(n) => ("ANY", Some(vec![n.function.name.clone()])),
    };
    Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    })
}

fn generation_config(req: &ChatRequest) -> Result<Option<GenerationConfig>, ProviderError> {
    let extra = |k: &str| req.extra.get(k).filter(|v| !v.is_null()).cloned();
    let mut config = GenerationConfig {
        max_output_tokens: req.max_completion_tokens.or(req.max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        stop_sequences: req.stop.as_ref().map(|s| s.to_vec()),
        candidate_count: req.n,
        seed: extra("seed"),
        presence_penalty: extra("presence_penalty"),
        frequency_penalty: extra("frequency_penalty"),
        ..GenerationConfig::default()
    };
    if let Some(format) = &req.response_format {
        match format.get("type").and_then(Value::as_str) {
            None | Some("text") => {}
            Some("json_object") => config.response_mime_type = Some("application/json"),
            Some("json_schema") => {
                config.response_mime_type = Some("application/json");
                config.response_schema = format
                    .pointer("/json_schema/schema")
                    .and_then(gemini_schema);
            }
            Some(other) => {
                return Err(ProviderError::Unsupported(format!(
                    "response_format type {other:?} is not supported by Gemini"
                )));
            }
        }
    }
    // Every field is skipped when unset, so an empty object means there is nothing to send.
    let empty = serde_json::to_value(&config).is_ok_and(|v| v == json!({}));
    Ok((!empty).then_some(config))
}

// ---- response wire format ----

/// A `generateContent` answer, and each event of a `streamGenerateContent` stream.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    response_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    index: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

/// Parts are one-key objects; the ones an OpenAI client cannot show (code execution, files) are
/// read as empty and skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    #[serde(default)]
    text: Option<String>,
    /// A thought summary, not part of the answer.
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<WireFunctionCall>,
}

#[derive(Debug, Deserialize)]
struct WireFunctionCall {
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    /// Thinking models bill their thoughts as output.
    #[serde(default)]
    thoughts_token_count: u64,
}

impl UsageMetadata {
    fn usage(&self) -> Usage {
        Usage::new(
            self.prompt_token_count,
            self.candidates_token_count + self.thoughts_token_count,
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

impl GenerateResponse {
    /// A blocked prompt has no candidates, only a block reason.
    fn blocked(&self) -> bool {
        self.candidates.is_empty()
            && self
                .prompt_feedback
                .as_ref()
                .is_some_and(|f| f.block_reason.is_some())
    }
}

// ---- response translation ----

/// OpenAI's `finish_reason` for a Gemini `finishReason`; `called` says whether the candidate called
/// a function, which Gemini reports as a plain `STOP`. Unknown reasons pass through in lower case.
fn finish_reason(reason: &str, called: bool) -> String {
    match reason {
        "STOP" if called => "tool_calls",
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        other => return other.to_ascii_lowercase(),
    }
    .into()
}

/// The id Seam gives a call: Gemini's calls have none, and the client needs one to answer it.
fn call_id(n: usize) -> String {
    format!("call_{n}")
}

/// Compact JSON for arguments; missing arguments are the empty object, which is what they mean.
fn arguments(args: &Value) -> String {
    if args.is_null() {
        return "{}".into();
    }
    args.to_string()
}

/// `chatcmpl-<responseId>`, or a fresh id when Gemini sent none.
fn completion_id(resp: &GenerateResponse) -> String {
    match &resp.response_id {
        Some(id) => format!("chatcmpl-{id}"),
        None => crate::fresh_id("chatcmpl-gemini-"),
    }
}

pub fn completion(resp: &GenerateResponse, model: &str) -> ChatCompletion {
    let mut choices: Vec<Choice> = resp
        .candidates
        .iter()
        .enumerate()
        .map(|(pos, c)| {
            let mut text = String::new();
            let mut calls = Vec::new();
            for part in c.content.iter().flat_map(|c| &c.parts) {
                if let Some(call) = &part.function_call {
                    calls.push(ToolCall {
                        id: call_id(calls.len()),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: call.name.clone(),
                            arguments: arguments(&call.args),
                        },
                    });
                } else if let Some(t) = part.text.as_deref().filter(|_| !part.thought) {
                    text.push_str(t);
                }
            }
            let called = !calls.is_empty();
            let mut message = Message::new(Role::Assistant, text);
            if called {
                if message.text().is_empty() {
                    message.content = None;
                }
                message.tool_calls = Some(calls);
            }
            Choice {
                index: c.index.unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX)),
                message,
                finish_reason: c.finish_reason.as_deref().map(|r| finish_reason(r, called)),
                logprobs: None,
                extra: Extra::new(),
            }
        })
        .collect();
    if resp.blocked() {
        choices.push(Choice {
            index: 0,
            message: Message::new(Role::Assistant, ""),
            finish_reason: Some("content_filter".into()),
            logprobs: None,
            extra: Extra::new(),
        });
    }
    ChatCompletion {
        id: completion_id(resp),
        object: "chat.completion".into(),
        created: crate::unix_now(),
        model: resp.model_version.clone().unwrap_or_else(|| model.into()),
        choices,
        usage: Some(
            resp.usage_metadata
                .as_ref()
                .map_or_else(|| Usage::new(0, 0), UsageMetadata::usage),
        ),
        system_fingerprint: None,
        extra: Extra::new(),
    }
}

#[cfg(test)]
mod tests;
