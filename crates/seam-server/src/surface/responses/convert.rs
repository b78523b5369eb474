//! Pure translation between the Responses API and the pipeline's chat shapes: a `POST
//! /v1/responses` body (and the conversation a `previous_response_id` names) → `ChatRequest`, and
//! a `ChatCompletion` → the Response object. No IO.

use seam_types::chat::{
    ChatCompletion, ChatRequest, Content, ContentPart, Extra, FunctionCall, FunctionDef, ImageUrl,
    Message, NamedFunction, NamedToolChoice, Role, Tool, ToolCall, ToolChoice, ToolChoiceMode,
    Usage,
};
use seam_types::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A `POST /v1/responses` body: the fields Seam reads, and the rest kept (and ignored) in `rest`
/// so the audit record holds the client's request as sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CreateRequest {
    pub model: String,
    /// A string (one user message) or a list of input items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// `truncation`, `include`, `service_tier`, `prompt_cache_key`, … : read, not acted on.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl CreateRequest {
    /// Whether the answer is stored for a later `previous_response_id` (OpenAI's default: yes).
    pub fn store(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// Refuses what Seam cannot honour: fields that change what the answer means.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.model.is_empty() {
            return Err(invalid("model", "must not be empty"));
        }
        if self.rest.get("background").and_then(Value::as_bool) == Some(true) {
            return Err(unsupported(
                "background",
                "Background responses are not supported; send the request without `background`",
            ));
        }
        for field in ["conversation", "prompt"] {
            if self.rest.get(field).is_some_and(|v| !v.is_null()) {
                return Err(unsupported(
                    field,
                    &format!("`{field}` is not supported; use `previous_response_id` and `input`"),
                ));
            }
        }
        Ok(())
    }

    /// This turn's input as Responses input items (a string becomes one user message).
    pub fn input_items(&self) -> Result<Vec<Value>, ApiError> {
        match &self.input {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![json!({
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": s}],
            })]),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(invalid("input", "must be a string or an array of items")),
        }
    }
}

/// The chat request the pipeline runs: `instructions` as a leading system message, then the
/// earlier turns (`prior`, as stored), then this turn's `items`.
pub fn to_chat(
    req: &CreateRequest,
    prior: &[Value],
    items: &[Value],
) -> Result<ChatRequest, ApiError> {
    let mut messages = Vec::new();
    if let Some(i) = req.instructions.as_deref().filter(|i| !i.is_empty()) {
        messages.push(Message::new(Role::System, i));
    }
    let head = messages.len();
    push_items(&mut messages, prior, "previous_response_id")?;
    push_items(&mut messages, items, "input")?;
    if messages.len() == head {
        return Err(invalid("input", "must contain at least one message"));
    }
    let mut extra = Extra::new();
    let tools = match &req.tools {
        Some(t) if !t.is_empty() => Some(tools(t)?),
        _ => None,
    };
    if let (Some(p), Some(_)) = (req.parallel_tool_calls, &tools) {
        // OpenAI refuses `parallel_tool_calls` without tools.
        extra.insert("parallel_tool_calls".into(), Value::Bool(p));
    }
    if let Some(effort) = req.reasoning.as_ref().and_then(|r| r.get("effort"))
        && !effort.is_null()
    {
        extra.insert("reasoning_effort".into(), effort.clone());
    }
    let chat = ChatRequest {
        model: req.model.clone(),
        messages,
        stream: req.stream.filter(|s| *s),
        stream_options: None,
        tools,
        tool_choice: req
            .tool_choice
            .as_ref()
            .map(tool_choice)
            .transpose()?
            .flatten(),
        response_format: req
            .text
            .as_ref()
            .map(response_format)
            .transpose()?
            .flatten(),
        max_tokens: req.max_output_tokens,
        max_completion_tokens: None,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: None,
        n: None,
        user: req.user.clone(),
        extra,
        native: None,
    };
    chat.validate().map_err(|(param, why)| {
        // Chat's params (`messages[3].content`) mean nothing to a Responses client.
        let param = if param.starts_with("messages") {
            "input".to_owned()
        } else {
            param
        };
        invalid(&param, why)
    })?;
    Ok(chat)
}

/// Appends chat messages for Responses items. Consecutive `function_call`s (and a call right
/// after an assistant message) become one assistant message with `tool_calls`; `reasoning` items
/// are dropped: a chat target cannot take them back. So are a built-in tool's items
/// ([`is_builtin_item`]): they travel in the native body, and a target that gets this
/// translation refuses the request (the provider adapter says so).
fn push_items(out: &mut Vec<Message>, items: &[Value], root: &str) -> Result<(), ApiError> {
    for (i, item) in items.iter().enumerate() {
        let at = format!("{root}[{i}]");
        let Some(obj) = item.as_object() else {
            return Err(invalid(&at, "must be an object"));
        };
        let kind = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            None | Some(Value::Null) if obj.contains_key("role") => "message",
            _ => return Err(invalid(&format!("{at}.type"), "is required")),
        };
        match kind {
            "message" => out.push(message(obj, &at)?),
            "function_call" => {
                let call = ToolCall {
                    id: str_field(obj, "call_id", &at)?.to_owned(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: str_field(obj, "name", &at)?.to_owned(),
                        arguments: str_field(obj, "arguments", &at)?.to_owned(),
                    },
                };
                match out.last_mut() {
                    Some(m) if m.role == Role::Assistant => {
                        m.tool_calls.get_or_insert_with(Vec::new).push(call);
                    }
                    _ => out.push(Message {
                        role: Role::Assistant,
                        content: None,
                        name: None,
                        tool_calls: Some(vec![call]),
                        tool_call_id: None,
                        extra: Extra::new(),
                    }),
                }
            }
            "function_call_output" => {
                let call_id = str_field(obj, "call_id", &at)?.to_owned();
                let content = match obj.get("output") {
                    Some(Value::String(s)) => Content::Text(s.clone()),
                    Some(Value::Array(parts)) => parts_content(parts, &format!("{at}.output"))?,
                    _ => return Err(invalid(&format!("{at}.output"), "is required")),
                };
                out.push(Message {
                    role: Role::Tool,
                    content: Some(content),
                    name: None,
                    tool_calls: None,
                    tool_call_id: Some(call_id),
                    extra: Extra::new(),
                });
            }
            "reasoning" => {}
            other if is_builtin_item(other) => {}
            other => {
                return Err(unsupported(
                    &format!("{at}.type"),
                    &format!(
                        "Input items of type `{}` are not supported; Seam takes `message`, \
                         `function_call`, `function_call_output` and `reasoning`",
                        short(other)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What only a target with OpenAI's Responses API can do (the reason any other target refuses
/// the request with): the first built-in tool (a `tools[].type` other than `function`), a
/// `tool_choice` naming one, or a built-in tool's item in the conversation. `None` when the chat
/// translation says it all.
pub fn requires<'a>(
    req: &CreateRequest,
    mut items: impl Iterator<Item = &'a Value>,
) -> Option<String> {
    fn kind(v: &Value) -> Option<&str> {
        v.get("type").and_then(Value::as_str)
    }
    let needs = "needs a provider with responses_api = true (OpenAI's Responses API)";
    if let Some(t) = req
        .tools
        .iter()
        .flatten()
        .filter_map(kind)
        .find(|t| *t != "function")
    {
        return Some(format!("The built-in tool `{}` {needs}", short(t)));
    }
    if let Some(t) = req
        .tool_choice
        .as_ref()
        .and_then(kind)
        .filter(|t| *t != "function")
    {
        return Some(format!("A tool_choice of type `{}` {needs}", short(t)));
    }
    items
        .find_map(|i| kind(i).filter(|t| is_builtin_item(t)))
        .map(|t| format!("Input items of type `{}` {needs}", short(t)))
}

/// An input item a built-in tool made or answers (`web_search_call`, `computer_call_output`,
/// `mcp_list_tools`, …): only a target with the Responses API can take it.
pub fn is_builtin_item(kind: &str) -> bool {
    (kind.ends_with("_call") || kind.ends_with("_call_output") || kind.starts_with("mcp_"))
        && kind != "function_call"
        && kind != "function_call_output"
}

fn message(obj: &Map<String, Value>, at: &str) -> Result<Message, ApiError> {
    let role = match obj.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system") => Role::System,
        Some("developer") => Role::Developer,
        Some(_) => {
            return Err(invalid(
                &format!("{at}.role"),
                "must be one of `user`, `assistant`, `system`, `developer`",
            ));
        }
        None => return Err(invalid(&format!("{at}.role"), "is required")),
    };
    let content = match obj.get("content") {
        Some(Value::String(s)) => Content::Text(s.clone()),
        Some(Value::Array(parts)) => parts_content(parts, &format!("{at}.content"))?,
        _ => return Err(invalid(&format!("{at}.content"), "is required")),
    };
    Ok(Message {
        role,
        content: Some(content),
        name: None,
        tool_calls: None,
        tool_call_id: None,
        extra: Extra::new(),
    })
}

/// Content parts → chat content: one text part stays a plain string (what every target takes);
/// anything else is a list of chat parts in the same order.
fn parts_content(parts: &[Value], at: &str) -> Result<Content, ApiError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        out.push(part(p, &format!("{at}[{j}]"))?);
    }
    if let [only] = out.as_slice()
        && only.kind == "text"
        && let Some(t) = &only.text
    {
        return Ok(Content::Text(t.clone()));
    }
    Ok(Content::Parts(out))
}

fn part(p: &Value, at: &str) -> Result<ContentPart, ApiError> {
    let Some(obj) = p.as_object() else {
        return Err(invalid(at, "must be an object"));
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    let text_part = |text: &str| ContentPart {
        kind: "text".into(),
        text: Some(text.to_owned()),
        image_url: None,
        extra: Extra::new(),
    };
    match kind {
        "input_text" | "output_text" | "text" => Ok(text_part(str_field(obj, "text", at)?)),
        "refusal" => Ok(text_part(str_field(obj, "refusal", at)?)),
        "input_image" => {
            if obj.get("file_id").is_some_and(|v| !v.is_null()) {
                return Err(no_files(&format!("{at}.file_id")));
            }
            let url = str_field(obj, "image_url", at)?;
            Ok(ContentPart {
                kind: "image_url".into(),
                text: None,
                image_url: Some(ImageUrl {
                    url: url.to_owned(),
                    detail: obj.get("detail").and_then(Value::as_str).map(str::to_owned),
                }),
                extra: Extra::new(),
            })
        }
        "input_file" => {
            for field in ["file_id", "file_url"] {
                if obj.get(field).is_some_and(|v| !v.is_null()) {
                    return Err(no_files(&format!("{at}.{field}")));
                }
            }
            let mut file = Map::new();
            file.insert(
                "file_data".into(),
                Value::String(str_field(obj, "file_data", at)?.to_owned()),
            );
            if let Some(name) = obj.get("filename").filter(|v| v.is_string()) {
                file.insert("filename".into(), name.clone());
            }
            let mut extra = Extra::new();
            extra.insert("file".into(), Value::Object(file));
            Ok(ContentPart {
                kind: "file".into(),
                text: None,
                image_url: None,
                extra,
            })
        }
        other => Err(unsupported(
            &format!("{at}.type"),
            &format!(
                "Content parts of type `{}` are not supported; Seam takes `input_text`, \
                 `output_text`, `input_image` and `input_file`",
                short(other)
            ),
        )),
    }
}

/// Function tools → chat tools. Built-in tools (`web_search`, `custom`, …) are left to the
/// native body: a target that gets this translation refuses them (the provider adapter says so).
fn tools(tools: &[Value]) -> Result<Vec<Tool>, ApiError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        let Some(obj) = t.as_object() else {
            return Err(invalid(&at, "must be an object"));
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("function") => {}
            Some(_) => continue,
            None => return Err(invalid(&format!("{at}.type"), "is required")),
        }
        let mut extra = Extra::new();
        if let Some(strict) = obj.get("strict").filter(|v| !v.is_null()) {
            extra.insert("strict".into(), strict.clone());
        }
        out.push(Tool {
            kind: "function".into(),
            function: FunctionDef {
                name: str_field(obj, "name", &at)?.to_owned(),
                description: obj
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                parameters: obj.get("parameters").filter(|v| !v.is_null()).cloned(),
                extra,
            },
            extra: Extra::new(),
        });
    }
    Ok(out)
}

/// `tool_choice` → chat; one naming a built-in tool (or `allowed_tools`) is left to the native
/// body (`None`), as the built-in tools are.
fn tool_choice(v: &Value) -> Result<Option<ToolChoice>, ApiError> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Auto))),
            "none" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::None))),
            "required" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Required))),
            _ => Err(invalid(
                "tool_choice",
                "must be `auto`, `none`, `required` or a function",
            )),
        },
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("function") => Ok(Some(ToolChoice::Named(NamedToolChoice {
                kind: "function".into(),
                function: NamedFunction {
                    name: str_field(obj, "name", "tool_choice")?.to_owned(),
                },
            }))),
            Some(_) => Ok(None),
            None => Err(invalid("tool_choice.type", "is required")),
        },
        _ => Err(invalid(
            "tool_choice",
            "must be `auto`, `none`, `required` or a function",
        )),
    }
}

/// `text.format` → chat `response_format`; a JSON Schema format becomes the schema Seam's output
/// contracts check. Plain `text` asks for nothing.
fn response_format(text: &Value) -> Result<Option<Value>, ApiError> {
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let Some(obj) = format.as_object() else {
                return Err(invalid("text.format", "must be an object"));
            };
            let mut schema = Map::new();
            schema.insert(
                "name".into(),
                Value::String(str_field(obj, "name", "text.format")?.to_owned()),
            );
            match obj.get("schema") {
                Some(s @ Value::Object(_)) => schema.insert("schema".into(), s.clone()),
                _ => return Err(invalid("text.format.schema", "is required")),
            };
            for field in ["strict", "description"] {
                if let Some(v) = obj.get(field).filter(|v| !v.is_null()) {
                    schema.insert(field.into(), v.clone());
                }
            }
            Ok(Some(
                json!({"type": "json_schema", "json_schema": Value::Object(schema)}),
            ))
        }
        _ => Err(invalid(
            "text.format.type",
            "must be `text`, `json_object` or `json_schema`",
        )),
    }
}

/// What one response echoes of its request, and the ids it is known by.
#[derive(Clone, Debug)]
pub struct Meta {
    /// `resp_…`.
    pub id: String,
    /// The uuid the item ids derive from, so one answer's items have the same ids however often
    /// they are built (streamed, stored, returned).
    base: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The model the client asked for: shown until an answer names the one that served it.
    pub model: String,
    pub store: bool,
    echo: Map<String, Value>,
}

impl Meta {
    /// The meta of a response whose id is built from `base` (a uuid's hex digits).
    pub fn new(base: &str, created_at: i64, req: &CreateRequest) -> Self {
        let mut echo = Map::new();
        let mut put = |k: &str, v: Value| {
            echo.insert(k.into(), v);
        };
        put("instructions", opt(&req.instructions));
        put("max_output_tokens", opt(&req.max_output_tokens));
        put(
            "metadata",
            Value::Object(req.metadata.clone().unwrap_or_default()),
        );
        put(
            "parallel_tool_calls",
            Value::Bool(req.parallel_tool_calls.unwrap_or(true)),
        );
        put("previous_response_id", opt(&req.previous_response_id));
        put(
            "reasoning",
            json!({
                "effort": req.reasoning.as_ref().and_then(|r| r.get("effort")).cloned(),
                "summary": req.reasoning.as_ref().and_then(|r| r.get("summary")).cloned(),
            }),
        );
        put("store", Value::Bool(req.store()));
        put("temperature", opt(&req.temperature));
        let mut text = match &req.text {
            Some(Value::Object(t)) => t.clone(),
            _ => Map::new(),
        };
        if text.get("format").is_none_or(Value::is_null) {
            text.insert("format".into(), json!({"type": "text"}));
        }
        put("text", Value::Object(text));
        put(
            "tool_choice",
            req.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        );
        put("tools", Value::Array(req.tools.clone().unwrap_or_default()));
        put("top_p", opt(&req.top_p));
        put(
            "truncation",
            req.rest
                .get("truncation")
                .filter(|v| v.is_string())
                .cloned()
                .unwrap_or_else(|| json!("disabled")),
        );
        if let Some(u) = &req.user {
            put("user", Value::String(u.clone()));
        }
        Meta {
            id: format!("resp_{base}"),
            base: base.to_owned(),
            created_at,
            model: req.model.clone(),
            store: req.store(),
            echo,
        }
    }

    /// The same response (id, time) described by the request that was decoded.
    pub fn for_request(&self, req: &CreateRequest) -> Self {
        Meta::new(&self.base, self.created_at, req)
    }

    /// The id of the output item at `index`: `msg_…`, `fc_…`, `rs_…`.
    pub fn item_id(&self, item: &OutItem, index: usize) -> String {
        let prefix = match item {
            OutItem::Reasoning { .. } => "rs",
            OutItem::Message { .. } => "msg",
            OutItem::Call { .. } => "fc",
            OutItem::Raw(v) => match v.get("id").and_then(Value::as_str) {
                Some(id) => return id.to_owned(),
                None => "item",
            },
        };
        format!("{prefix}_{}{index:04x}", self.base)
    }

    /// This turn's input items as stored: each has an `id` (the client's, else one of ours).
    pub fn with_ids(&self, items: Vec<Value>) -> Vec<Value> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, mut item)| {
                if let Some(obj) = item.as_object_mut()
                    && !obj.get("id").is_some_and(Value::is_string)
                {
                    let prefix = match obj.get("type").and_then(Value::as_str) {
                        Some("function_call") => "fc",
                        Some("function_call_output") => "fco",
                        Some("reasoning") => "rs",
                        _ => "msg",
                    };
                    obj.insert(
                        "id".into(),
                        Value::String(format!("{prefix}_{}in{i:04x}", self.base)),
                    );
                }
                item
            })
            .collect()
    }
}

fn opt<T: Serialize>(v: &Option<T>) -> Value {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null)
}

/// One output item of a response, as text so far.
#[derive(Clone, Debug, PartialEq)]
pub enum OutItem {
    Reasoning {
        text: String,
    },
    Message {
        text: String,
        refusal: Option<String>,
        /// The `output_text` part's annotations (`url_citation`, …), as the vendor sent them.
        annotations: Vec<Value>,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
    /// An item chat cannot express (a built-in tool's `web_search_call`, …), as the vendor sent it.
    Raw(Value),
}

/// The key of a completion message's (or stream delta's) `extra` where an OpenAI target with the
/// Responses API leaves what chat cannot express: the output in the vendor's order, a message,
/// function call (by `call_id`) or reasoning as a stub marking where the chat form's goes, any
/// other item whole (the OpenAI adapter's `responses` module writes it).
pub const RESPONSES_OUTPUT: &str = "responses_output";

/// The output items of an answer's first choice, in the order a Responses client reads them:
/// reasoning, the message, then each function call — or, when the answer came from the
/// Responses API with items chat cannot express ([`RESPONSES_OUTPUT`]), in the vendor's order.
/// A message is left out only when the answer is nothing but calls (or built-in items).
pub fn output_items(answer: &ChatCompletion) -> Vec<OutItem> {
    let Some(choice) = answer.choices.first() else {
        return Vec::new();
    };
    let m = &choice.message;
    let chat = chat_items(m);
    match m.extra.get(RESPONSES_OUTPUT) {
        Some(Value::Array(order)) => in_vendor_order(chat, order),
        _ => chat,
    }
}

/// The items the chat form holds, in chat order.
fn chat_items(m: &Message) -> Vec<OutItem> {
    let mut items = Vec::new();
    if let Some(r) = m
        .extra
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        items.push(OutItem::Reasoning { text: r.to_owned() });
    }
    let text = m.content.as_ref().map(Content::text).unwrap_or_default();
    let refusal = m
        .extra
        .get("refusal")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let calls = m.tool_calls.as_deref().unwrap_or_default();
    if !text.is_empty() || refusal.is_some() || calls.is_empty() {
        items.push(OutItem::Message {
            text,
            refusal,
            annotations: Vec::new(),
        });
    }
    for c in calls {
        items.push(OutItem::Call {
            call_id: c.id.clone(),
            name: c.function.name.clone(),
            arguments: c.function.arguments.clone(),
        });
    }
    items
}

/// The chat form's items placed where the vendor's stubs say, with the items chat cannot express
/// between them; anything the stubs do not place follows. A message with nothing in it is left
/// out when built-in items say what happened.
fn in_vendor_order(chat: Vec<OutItem>, order: &[Value]) -> Vec<OutItem> {
    let mut chat: Vec<Option<OutItem>> = chat.into_iter().map(Some).collect();
    let mut take = |want: &dyn Fn(&OutItem) -> bool| -> Option<OutItem> {
        chat.iter_mut()
            .find(|i| i.as_ref().is_some_and(want))
            .and_then(Option::take)
    };
    let mut items = Vec::new();
    for stub in order {
        match stub.get("type").and_then(Value::as_str) {
            Some("message") => {
                if let Some(mut item) = take(&|i| matches!(i, OutItem::Message { .. })) {
                    if let (OutItem::Message { annotations, .. }, Some(Value::Array(a))) =
                        (&mut item, stub.get("annotations"))
                    {
                        annotations.extend(a.iter().cloned());
                    }
                    items.push(item);
                }
            }
            Some("function_call") => {
                let id = stub.get("call_id").and_then(Value::as_str);
                let found = take(
                    &|i| matches!(i, OutItem::Call { call_id, .. } if Some(call_id.as_str()) == id),
                );
                items.extend(found);
            }
            Some("reasoning") => items.extend(take(&|i| matches!(i, OutItem::Reasoning { .. }))),
            _ => items.push(OutItem::Raw(stub.clone())),
        }
    }
    let placed_any = !items.is_empty();
    for rest in chat.into_iter().flatten() {
        let empty =
            matches!(&rest, OutItem::Message { text, refusal: None, .. } if text.is_empty());
        if !(empty && placed_any) {
            items.push(rest);
        }
    }
    items
}

/// Where a response stands.
#[derive(Clone, Copy, Debug)]
pub enum Status<'a> {
    InProgress,
    /// Ended with the chat finish reason.
    Done(Option<&'a str>),
    Failed(&'a ApiError),
}

/// The Response object. Unary answers, stored responses and the stream's lifecycle events are
/// all built here, so they agree.
pub fn response(
    meta: &Meta,
    model: &str,
    items: &[OutItem],
    status: Status<'_>,
    usage: Option<&Usage>,
) -> Value {
    let (status, incomplete, error) = match status {
        Status::InProgress => ("in_progress", Value::Null, Value::Null),
        Status::Done(finish) => match incomplete_reason(finish) {
            Some(reason) => ("incomplete", json!({ "reason": reason }), Value::Null),
            None => ("completed", Value::Null, Value::Null),
        },
        Status::Failed(e) => (
            "failed",
            Value::Null,
            json!({"code": failure_code(e), "message": e.message}),
        ),
    };
    let item_status = match status {
        "completed" => "completed",
        "in_progress" => "in_progress",
        _ => "incomplete",
    };
    let output: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| item_json(meta, item, i, item_status))
        .collect();
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(meta.id.clone()));
    obj.insert("object".into(), json!("response"));
    obj.insert("created_at".into(), json!(meta.created_at));
    obj.insert("status".into(), json!(status));
    obj.insert("background".into(), json!(false));
    obj.insert("error".into(), error);
    obj.insert("incomplete_details".into(), incomplete);
    obj.insert(
        "model".into(),
        json!(if model.is_empty() { &meta.model } else { model }),
    );
    obj.insert("output".into(), Value::Array(output));
    obj.insert("usage".into(), usage.map_or(Value::Null, usage_json));
    for (k, v) in &meta.echo {
        obj.insert(k.clone(), v.clone());
    }
    Value::Object(obj)
}

/// `length` ends a response early (`max_output_tokens`), as does a content filter.
pub fn incomplete_reason(finish: Option<&str>) -> Option<&'static str> {
    match finish {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    }
}

/// The output item JSON; `status` is the item's.
pub fn item_json(meta: &Meta, item: &OutItem, index: usize, status: &str) -> Value {
    let id = meta.item_id(item, index);
    match item {
        OutItem::Reasoning { text } => json!({
            "type": "reasoning",
            "id": id,
            "summary": [],
            "content": [{"type": "reasoning_text", "text": text}],
            "status": status,
        }),
        OutItem::Message {
            text,
            refusal,
            annotations,
        } => {
            let mut content = Vec::new();
            if !text.is_empty() || refusal.is_none() {
                content.push(annotated_text(text, annotations));
            }
            if let Some(r) = refusal {
                content.push(json!({"type": "refusal", "refusal": r}));
            }
            json!({
                "type": "message",
                "id": id,
                "status": status,
                "role": "assistant",
                "content": content,
            })
        }
        OutItem::Call {
            call_id,
            name,
            arguments,
        } => json!({
            "type": "function_call",
            "id": id,
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
            "status": status,
        }),
        OutItem::Raw(v) => v.clone(),
    }
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    annotated_text(text, &[])
}

/// An `output_text` content part with its annotations.
pub fn annotated_text(text: &str, annotations: &[Value]) -> Value {
    json!({"type": "output_text", "text": text, "annotations": annotations, "logprobs": []})
}

/// Chat usage → Responses usage (cached and reasoning tokens from the `*_details`).
pub fn usage_json(u: &Usage) -> Value {
    let detail = |outer: &str, inner: &str| {
        u.extra
            .get(outer)
            .and_then(|d| d.get(inner))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": detail("prompt_tokens_details", "cached_tokens"),
            "cache_write_tokens": 0,
        },
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {
            "reasoning_tokens": detail("completion_tokens_details", "reasoning_tokens"),
        },
        "total_tokens": u.total_tokens,
    })
}

/// `ResponseError.code` takes OpenAI's own values only.
fn failure_code(e: &ApiError) -> &'static str {
    match e.status {
        429 => "rate_limit_exceeded",
        400..=499 => "invalid_prompt",
        _ => "server_error",
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, field: &str, at: &str) -> Result<&'a str, ApiError> {
    obj.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{at}.{field}"), "is required (a string)"))
}

fn invalid(param: &str, why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("Invalid value for `{param}`: {why}"),
    )
    .with_param(param)
}

fn unsupported(param: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::UnsupportedParameter, message).with_param(param)
}

fn no_files(param: &str) -> ApiError {
    unsupported(
        param,
        "Seam has no file store: send files inline (`image_url` as a data URL, `file_data`)",
    )
}

/// A client-chosen type name, cut short so an error message never carries much of the body.
fn short(s: &str) -> &str {
    match s.char_indices().nth(48) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
