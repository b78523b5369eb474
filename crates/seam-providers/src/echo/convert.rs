//! Echo's answers, as pure functions of the request.

use base64::Engine;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Choice, Delta, Extra, FunctionCall, FunctionCallDelta,
    Message, Role, ToolCall, ToolCallDelta, ToolChoice, ToolChoiceMode, Usage,
};
use seam_types::embeddings::{
    Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage, EncodingFormat,
};
use serde_json::{Map, Value, json};

pub const DEFAULT_DIMENSIONS: usize = 256;

/// Echo's unit of usage: whitespace-separated words.
fn tokens(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

enum Answer {
    Text { text: String, finish: &'static str },
    Call(ToolCall),
}

fn answer(req: &ChatRequest) -> Answer {
    let last = req.messages.last();
    let after_tool = last.is_some_and(|m| m.role == Role::Tool);
    if !after_tool && let Some(call) = tool_call(req) {
        return Answer::Call(call);
    }
    let said = if after_tool {
        last.map(Message::text).unwrap_or_default()
    } else {
        req.last_user_text()
    };
    let mut text = match response_format(req) {
        Some(Format::JsonObject) => json!({ "echo": said }).to_string(),
        Some(Format::Schema(schema)) => example(&schema, &said).to_string(),
        None => format!("echo: {said}"),
    };
    let limit = req.max_completion_tokens.or(req.max_tokens).map(u64::from);
    let mut finish = "stop";
    if let Some(limit) = limit
        && tokens(&text) > limit
    {
        text = pieces(&text)
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        finish = "length";
    }
    Answer::Text { text, finish }
}

enum Format {
    JsonObject,
    Schema(Value),
}

fn response_format(req: &ChatRequest) -> Option<Format> {
    let rf = req.response_format.as_ref()?;
    match rf.get("type").and_then(Value::as_str)? {
        "json_object" => Some(Format::JsonObject),
        "json_schema" => Some(Format::Schema(
            rf.pointer("/json_schema/schema")
                .cloned()
                .unwrap_or_else(|| json!({})),
        )),
        _ => None,
    }
}

/// The tool echo calls: the named one, else the first, unless `tool_choice` is `none`.
fn tool_call(req: &ChatRequest) -> Option<ToolCall> {
    let tools = req.tools.as_ref()?;
    let tool = match &req.tool_choice {
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => return None,
        Some(ToolChoice::Named(n)) => tools.iter().find(|t| t.function.name == n.function.name)?,
        _ => tools.first()?,
    };
    let schema = tool
        .function
        .parameters
        .clone()
        .unwrap_or_else(|| json!({}));
    let args = example(&schema, &req.last_user_text());
    Some(ToolCall {
        id: format!(
            "call_{:016x}",
            fnv(tool.function.name.as_bytes()) ^ fnv(args.to_string().as_bytes())
        ),
        kind: "function".into(),
        function: FunctionCall {
            name: tool.function.name.clone(),
            arguments: args.to_string(),
        },
    })
}

/// A value that satisfies a (simple) JSON Schema, with strings set to `said`.
fn example(schema: &Value, said: &str) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return example(first, said);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "object",
    };
    match kind {
        "string" => Value::String(said.to_owned()),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        "array" => match schema.get("items") {
            Some(items) => json!([example(items, said)]),
            None => json!([]),
        },
        _ => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (name, sub) in props {
                    if required.is_empty() || required.contains(&name.as_str()) {
                        out.insert(name.clone(), example(sub, said));
                    }
                }
            }
            Value::Object(out)
        }
    }
}

fn prompt_tokens(req: &ChatRequest) -> u64 {
    req.messages.iter().map(|m| tokens(&m.text())).sum()
}

fn id(req: &ChatRequest) -> String {
    format!(
        "chatcmpl-echo-{:016x}",
        fnv(req.last_user_text().as_bytes())
    )
}

pub fn completion(model: &str, req: &ChatRequest, created: u64) -> ChatCompletion {
    let (message, finish, completion_tokens) = match answer(req) {
        Answer::Text { text, finish } => {
            let n = tokens(&text);
            (Message::new(Role::Assistant, text), finish, n)
        }
        Answer::Call(call) => {
            let n = tokens(&call.function.arguments);
            let mut m = Message::new(Role::Assistant, "");
            m.content = None;
            m.tool_calls = Some(vec![call]);
            (m, "tool_calls", n)
        }
    };
    let n = req.n.unwrap_or(1).max(1);
    ChatCompletion {
        id: id(req),
        object: "chat.completion".into(),
        created,
        model: model.into(),
        choices: (0..n)
            .map(|index| Choice {
                index,
                message: message.clone(),
                finish_reason: Some(finish.into()),
                logprobs: None,
                extra: Extra::new(),
            })
            .collect(),
        usage: Some(Usage::new(
            prompt_tokens(req),
            completion_tokens * u64::from(n),
        )),
        system_fingerprint: None,
        extra: Extra::new(),
    }
}

/// Splits text into word pieces whose concatenation is the text: each piece is a word with the
/// whitespace that precedes it.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space && i > start {
            out.push(&text[start..i]);
            start = i;
        }
        prev_space = space;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The stream for the same answer `completion` gives: a role chunk, the content word by word (or
/// the tool call with its arguments in pieces), the finish chunk, and usage if asked for.
pub fn chunks(model: &str, req: &ChatRequest, created: u64) -> Vec<ChatChunk> {
    let id = id(req);
    let mut out = Vec::new();
    let n = req.n.unwrap_or(1).max(1);
    let mut completion_tokens = 0;
    for index in 0..n {
        let mut push = |delta: Delta, finish: Option<&str>| {
            let mut c = ChatChunk::delta(&id, created, model, delta);
            if let Some(choice) = c.choices.first_mut() {
                choice.index = index;
                choice.finish_reason = finish.map(String::from);
            }
            out.push(c);
        };
        push(
            Delta {
                role: Some(Role::Assistant),
                content: Some(String::new()),
                ..Delta::default()
            },
            None,
        );
        match answer(req) {
            Answer::Text { text, finish } => {
                completion_tokens += tokens(&text);
                for p in pieces(&text) {
                    push(
                        Delta {
                            content: Some(p.to_owned()),
                            ..Delta::default()
                        },
                        None,
                    );
                }
                push(Delta::default(), Some(finish));
            }
            Answer::Call(call) => {
                completion_tokens += tokens(&call.function.arguments);
                let mut first = true;
                let args = call.function.arguments.clone();
                let arg_pieces: Vec<&str> = args.split_inclusive(',').collect();
                for p in arg_pieces {
                    push(
                        Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: 0,
                                id: first.then(|| call.id.clone()),
                                kind: first.then(|| "function".into()),
                                function: Some(FunctionCallDelta {
                                    name: first.then(|| call.function.name.clone()),
                                    arguments: Some(p.to_owned()),
                                }),
                            }]),
                            ..Delta::default()
                        },
                        None,
                    );
                    first = false;
                }
                push(Delta::default(), Some("tool_calls"));
            }
        }
    }
    // Always, like every adapter: the edge forwards it only to clients that asked.
    out.push(ChatChunk::usage(
        &id,
        created,
        model,
        Usage::new(prompt_tokens(req), completion_tokens),
    ));
    out
}

pub fn embeddings(model: &str, req: &EmbeddingsRequest) -> EmbeddingsResponse {
    let dims = req.dimensions.map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let texts = req.input.texts();
    let total: u64 = texts.iter().map(|t| tokens(t).max(1)).sum();
    let data = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = embed_text(t, dims);
            let value = match req.encoding_format {
                Some(EncodingFormat::Base64) => {
                    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                _ => json!(v),
            };
            Embedding::new(u32::try_from(i).unwrap_or(u32::MAX), value)
        })
        .collect();
    EmbeddingsResponse {
        object: "list".into(),
        data,
        model: model.into(),
        usage: Some(EmbeddingsUsage {
            prompt_tokens: total,
            total_tokens: total,
        }),
        extra: Extra::new(),
    }
}

/// A unit vector of hashed word and word-pair features: texts sharing words are close in cosine,
/// so retrieval demos behave plausibly without a model.
pub fn embed_text(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0f32; dims.max(1)];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut add = |feature: &[u8], weight: f32| {
        let h = fnv(feature);
        let i = (h % v.len() as u64) as usize;
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[i] += sign * weight;
    };
    for w in &words {
        add(w.as_bytes(), 1.0);
    }
    for pair in words.windows(2) {
        add(format!("{} {}", pair[0], pair[1]).as_bytes(), 0.5);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// FNV-1a, 64-bit: stable across platforms and releases, unlike `DefaultHasher`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reassembles a stream's text, for tests: role chunks and finish chunks carry no text.
#[cfg(test)]
fn stream_text(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.as_deref())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use seam_types::chat::Content;

    fn req(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn answers_the_last_user_message() {
        let r = req(json!({"model": "echo", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "echo: first"},
            {"role": "user", "content": "Hello there, world"}
        ]}));
        let c = completion("echo", &r, 0);
        assert_eq!(c.choices[0].message.text(), "echo: Hello there, world");
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
        let u = c.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (8, 4, 12)
        );
    }

    #[test]
    fn stream_concatenates_to_the_completion() {
        let r = req(
            json!({"model": "echo", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "  spaced   out\nwords "}]}),
        );
        let chunks = chunks("echo", &r, 0);
        assert_eq!(
            stream_text(&chunks),
            completion("echo", &r, 0).choices[0].message.text()
        );
        assert!(chunks.len() > 4, "word by word");
        let last = chunks.last().unwrap();
        assert!(last.choices.is_empty());
        assert_eq!(last.usage.as_ref().unwrap().completion_tokens, 4);
        assert_eq!(
            chunks[chunks.len() - 2].choices[0].finish_reason.as_deref(),
            Some("stop")
        );
    }

    #[test]
    fn calls_the_tool_with_schema_arguments() {
        let r = req(
            json!({"model": "echo", "messages": [{"role": "user", "content": "Paris"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}, "days": {"type": "integer"}},
                "required": ["city", "unit"]
            }}}]}),
        );
        let c = completion("echo", &r, 0);
        let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.function.name, "get_weather");
        assert_eq!(
            serde_json::from_str::<Value>(&call.function.arguments).unwrap(),
            json!({"city": "Paris", "unit": "c"})
        );
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("tool_calls"));

        let streamed: String = chunks("echo", &r, 0)
            .iter()
            .flat_map(|c| c.choices.iter())
            .filter_map(|c| c.delta.tool_calls.as_ref())
            .flat_map(|t| t.iter())
            .filter_map(|t| t.function.as_ref()?.arguments.clone())
            .collect();
        assert_eq!(streamed, call.function.arguments);
    }

    #[test]
    fn echoes_the_tool_result_and_respects_tool_choice_none() {
        let r = req(json!({"model": "echo", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
        ], "tools": [{"type": "function", "function": {"name": "w"}}]}));
        assert_eq!(
            completion("echo", &r, 0).choices[0].message.text(),
            "echo: sunny"
        );
        let r = req(
            json!({"model": "echo", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "w"}}], "tool_choice": "none"}),
        );
        assert_eq!(
            completion("echo", &r, 0).choices[0].message.text(),
            "echo: x"
        );
    }

    #[test]
    fn response_formats_and_limits() {
        let r = req(
            json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}}),
        );
        assert_eq!(
            completion("echo", &r, 0).choices[0].message.text(),
            r#"{"echo":"hi"}"#
        );
        let r = req(
            json!({"model": "echo", "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 2}),
        );
        let c = completion("echo", &r, 0);
        assert_eq!(c.choices[0].message.text(), "echo: one");
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("length"));
        let r =
            req(json!({"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 3}));
        assert_eq!(completion("echo", &r, 0).choices.len(), 3);
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors_and_similar_texts_are_close() {
        let a = embed_text("the cat sat on the mat", 256);
        assert_eq!(a, embed_text("the cat sat on the mat", 256));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let cos = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f32>();
        let near = embed_text("the cat sat on a mat", 256);
        let far = embed_text("quarterly revenue grew strongly", 256);
        assert!(cos(&a, &near) > cos(&a, &far));
    }

    #[test]
    fn base64_embeddings_decode_to_the_floats() {
        let r: EmbeddingsRequest = serde_json::from_value(
            json!({"model": "e", "input": ["a b"], "encoding_format": "base64", "dimensions": 8}),
        )
        .unwrap();
        let resp = embeddings("e", &r);
        let b64 = resp.data[0].embedding.as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, embed_text("a b", 8));
    }

    proptest! {
        #[test]
        fn pieces_concatenate_to_the_text(s in "\\PC{0,60}") {
            prop_assert_eq!(pieces(&s).concat(), s);
        }
    }

    #[test]
    fn content_parts_are_read() {
        let r = req(
            json!({"model": "echo", "messages": [{"role": "user", "content": [{"type": "text", "text": "part"}]}]}),
        );
        assert!(matches!(r.messages[0].content, Some(Content::Parts(_))));
        assert_eq!(
            completion("echo", &r, 0).choices[0].message.text(),
            "echo: part"
        );
    }
}
