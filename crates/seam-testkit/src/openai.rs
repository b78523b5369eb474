//! OpenAI's wire format: `/v1/chat/completions` (JSON and SSE), `/v1/embeddings`, `/v1/models`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::faults::{ApiError, Reply, Sse, data_event};
use crate::text::{Answer, thirds, word_pieces, words};

/// `created` on every object the mock returns, so bodies are byte-for-byte reproducible.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// Vector length when the request names no `dimensions`.
const DEFAULT_DIMENSIONS: u64 = 8;
const MAX_DIMENSIONS: u64 = 8192;

pub(crate) fn chat(body: &Value, seq: usize) -> Result<Reply, ApiError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid("messages", "mock: `messages` must be a non-empty array")
        })?;
    if messages.iter().any(|m| role(m).is_empty()) {
        return Err(ApiError::invalid(
            "messages",
            "mock: every message needs a `role`",
        ));
    }
    let streamed = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if model.starts_with("canary-fields") {
        let last_user = messages.iter().rev().find(|m| role(m) == "user");
        let text = content_text(last_user.and_then(|m| m.get("content")));
        return Ok(crate::canary::reply(&text, model, seq, streamed));
    }
    // `echo-system…`: answers with the request's system messages, so a test sees what a
    // gateway put into them (retrieval's context).
    let answer = if model.starts_with("echo-system") {
        let system: Vec<String> = messages
            .iter()
            .filter(|m| role(m) == "system")
            .map(|m| content_text(m.get("content")))
            .collect();
        Answer::echo(&system.join("\n"))
    } else {
        decide(
            messages,
            body.get("tools"),
            body.get("tool_choice"),
            json_mode(body),
        )
    };
    let prompt_tokens: usize = messages
        .iter()
        .map(|m| words(&content_text(m.get("content"))))
        .sum();
    let usage = usage(prompt_tokens, answer.tokens());
    let shape = Shape::of(model);
    let stream = Stream {
        id: format!("chatcmpl-mock-{seq}"),
        call_id: format!("call_mock_{seq}"),
        model,
        shape,
        // A `*-no-usage` model streams like a server that ignores `stream_options`.
        include_usage: !model.ends_with("-no-usage")
            && shape != Shape::Minimal
            && body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
    };
    if shape == Shape::NoChoices {
        let head = json!({"id": stream.id, "object": "chat.completion", "created": CREATED, "model": model});
        if !streamed {
            return Ok(Reply::Json(head));
        }
        return Ok(Reply::Stream(Sse {
            prelude: vec![data_event(&head)],
            content: Vec::new(),
            epilogue: vec![Bytes::from_static(b"data: [DONE]\n\n")],
            error: stream_error(),
        }));
    }
    if streamed {
        return Ok(Reply::Stream(stream.events(&answer, usage)));
    }
    if shape == Shape::Minimal {
        let message = match &answer {
            Answer::Text(text) => json!({ "content": text }),
            Answer::ToolCall { name, arguments } => json!({"tool_calls": [{
                "function": {"name": name, "arguments": arguments},
            }]}),
        };
        return Ok(Reply::Json(json!({"choices": [{"message": message}]})));
    }
    let (message, finish) = match &answer {
        Answer::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Answer::ToolCall { name, arguments } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": stream.call_id, "type": "function",
                "function": {"name": name, "arguments": arguments},
            }]}),
            "tool_calls",
        ),
    };
    let mut reply = json!({
        "id": stream.id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    });
    if let (Shape::NoId, Some(reply)) = (shape, reply.as_object_mut()) {
        reply.remove("id");
    }
    Ok(Reply::Json(reply))
}

/// How a model's answers are shaped: OpenAI's own, or one of the lax shapes of servers that call
/// themselves OpenAI-compatible (chosen, like faults, by the model's name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Full,
    /// `lax-minimal…`: `{"choices":[{"message":{"content":…}}]}` and stream chunks
    /// `{"choices":[{"delta":{"content":…}}]}` — no id, object, created, model, index, role,
    /// tool-call id or type, no usage; embeddings `{"data":[{"embedding":…}]}`.
    Minimal,
    /// `lax-no-id…`: complete answers and chunks without `id`.
    NoId,
    /// `lax-no-done…`: a complete stream whose body ends after the finishing chunk (and usage),
    /// without `data: [DONE]`.
    NoDone,
    /// `lax-no-choices…`: too lax to be an answer — `id`, `object`, `created`, `model` and no
    /// `choices` (a stream: one such chunk, then `[DONE]`).
    NoChoices,
}

impl Shape {
    fn of(model: &str) -> Shape {
        let Some(lax) = model.strip_prefix("lax-") else {
            return Shape::Full;
        };
        if lax.starts_with("minimal") {
            Shape::Minimal
        } else if lax.starts_with("no-id") {
            Shape::NoId
        } else if lax.starts_with("no-done") {
            Shape::NoDone
        } else if lax.starts_with("no-choices") {
            Shape::NoChoices
        } else {
            Shape::Full
        }
    }
}

/// A tool result last → echo it; a user turn last with tools offered → call one; else echo the
/// last user text. In JSON mode the echo is the text alone, without `mock: `.
pub(crate) fn decide(
    messages: &[Value],
    tools: Option<&Value>,
    tool_choice: Option<&Value>,
    json: bool,
) -> Answer {
    let say = |text: &str| {
        if json {
            Answer::Text(text.to_owned())
        } else {
            Answer::echo(text)
        }
    };
    let mut results: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| role(m) == "tool")
        .map(|m| content_text(m.get("content")))
        .collect();
    if !results.is_empty() {
        results.reverse();
        return say(&results.join("\n"));
    }
    let user_text = messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let last_is_user = messages.last().is_some_and(|m| role(m) == "user");
    match tool_to_call(tools, tool_choice) {
        Some(name) if last_is_user => Answer::call(name, &user_text),
        _ => say(&user_text),
    }
}

/// Whether `response_format` asks for JSON (`json_object` or `json_schema`). A model in JSON mode
/// answers with JSON alone, so the mock drops its `mock: ` prefix and a test that sends JSON text
/// gets JSON back.
fn json_mode(body: &Value) -> bool {
    matches!(
        body.pointer("/response_format/type")
            .and_then(Value::as_str),
        Some("json_object" | "json_schema")
    )
}

/// The tool `tool_choice` names, else the first one offered; none when `tool_choice` is `"none"`.
fn tool_to_call<'a>(tools: Option<&'a Value>, tool_choice: Option<&'a Value>) -> Option<&'a str> {
    let first = tools?
        .as_array()?
        .first()?
        .pointer("/function/name")?
        .as_str()?;
    match tool_choice {
        Some(Value::String(mode)) if mode == "none" => None,
        Some(choice) => Some(
            choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or(first),
        ),
        None => Some(first),
    }
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A string content, or its `text` parts joined by newlines.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// What every chunk of one completion shares.
struct Stream<'a> {
    id: String,
    call_id: String,
    model: &'a str,
    shape: Shape,
    include_usage: bool,
}

impl Stream<'_> {
    fn events(&self, answer: &Answer, usage: Value) -> Sse {
        if self.shape == Shape::Minimal {
            return self.minimal_events(answer);
        }
        let (first, content, finish): (Value, Vec<Value>, &str) = match answer {
            Answer::Text(text) => (
                json!({"role": "assistant", "content": ""}),
                word_pieces(text)
                    .into_iter()
                    .map(|p| json!({ "content": p }))
                    .collect(),
                "stop",
            ),
            Answer::ToolCall { name, arguments } => (
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "index": 0, "id": self.call_id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                thirds(arguments)
                    .into_iter()
                    .map(|p| json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}))
                    .collect(),
                "tool_calls",
            ),
        };
        let mut epilogue = vec![self.chunk(json!({}), Some(finish))];
        if self.include_usage {
            epilogue.push(self.event(json!([]), Some(usage)));
        }
        if self.shape != Shape::NoDone {
            epilogue.push(Bytes::from_static(b"data: [DONE]\n\n"));
        }
        Sse {
            prelude: vec![self.chunk(first, None)],
            content: content.into_iter().map(|d| self.chunk(d, None)).collect(),
            epilogue,
            error: stream_error(),
        }
    }

    /// The least a lax server sends: bare deltas (no role chunk; a tool call without index, id or
    /// type), a finishing chunk without a delta, then `[DONE]`.
    fn minimal_events(&self, answer: &Answer) -> Sse {
        let bare = |choice: Value| data_event(&json!({ "choices": [choice] }));
        let content: Vec<Bytes> = match answer {
            Answer::Text(text) => word_pieces(text)
                .into_iter()
                .map(|p| bare(json!({"delta": {"content": p}})))
                .collect(),
            Answer::ToolCall { name, arguments } => {
                let start = json!({"delta": {"tool_calls": [{"function": {"name": name, "arguments": ""}}]}});
                std::iter::once(bare(start))
                    .chain(thirds(arguments).into_iter().map(|p| {
                        bare(json!({"delta": {"tool_calls": [{"function": {"arguments": p}}]}}))
                    }))
                    .collect()
            }
        };
        let finish = match answer {
            Answer::Text(_) => "stop",
            Answer::ToolCall { .. } => "tool_calls",
        };
        Sse {
            prelude: Vec::new(),
            content,
            epilogue: vec![
                bare(json!({ "finish_reason": finish })),
                Bytes::from_static(b"data: [DONE]\n\n"),
            ],
            error: stream_error(),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        let choices =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        // OpenAI sends `"usage": null` on every chunk but the last when usage was asked for.
        self.event(choices, self.include_usage.then_some(Value::Null))
    }

    fn event(&self, choices: Value, usage: Option<Value>) -> Bytes {
        let mut chunk = Map::new();
        if self.shape != Shape::NoId {
            chunk.insert("id".into(), json!(self.id));
        }
        chunk.insert("object".into(), json!("chat.completion.chunk"));
        chunk.insert("created".into(), json!(CREATED));
        chunk.insert("model".into(), json!(self.model));
        chunk.insert("choices".into(), choices);
        if let Some(usage) = usage {
            chunk.insert("usage".into(), usage);
        }
        data_event(&Value::Object(chunk))
    }
}

fn stream_error() -> Bytes {
    data_event(&json!({"error": {"message": "mock overloaded", "type": "server_error"}}))
}

pub(crate) fn embeddings(body: &Value) -> Result<Reply, ApiError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let inputs = embedding_inputs(body.get("input")).ok_or_else(|| {
        ApiError::invalid(
            "input",
            "mock: `input` must be a non-empty string, array of strings, or array of token arrays",
        )
    })?;
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMENSIONS,
        Some(d) => d
            .as_u64()
            .filter(|d| (1..=MAX_DIMENSIONS).contains(d))
            .ok_or_else(|| {
                ApiError::invalid(
                    "dimensions",
                    "mock: `dimensions` must be between 1 and 8192",
                )
            })?,
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "encoding_format",
                "mock: `encoding_format` must be `float` or `base64`",
            ));
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            let vector = embed(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    if Shape::of(model) == Shape::Minimal {
        let data: Vec<Value> = data
            .into_iter()
            .map(|d| json!({"embedding": d["embedding"]}))
            .collect();
        return Ok(Reply::Json(json!({ "data": data })));
    }
    let tokens: usize = inputs.iter().map(|(_, tokens)| tokens).sum();
    Ok(Reply::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// Each input as text with its token count: words of a string, ids of a token array (rendered
/// as space-separated numbers).
fn embedding_inputs(input: Option<&Value>) -> Option<Vec<(String, usize)>> {
    let text = |s: &str| (s.to_owned(), words(s));
    let token_list = |v: &Value| -> Option<(String, usize)> {
        let ids = v
            .as_array()?
            .iter()
            .map(|t| t.as_u64().map(|t| t.to_string()))
            .collect::<Option<Vec<_>>>()?;
        Some((ids.join(" "), ids.len()))
    };
    match input? {
        Value::String(s) if !s.is_empty() => Some(vec![text(s)]),
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                return token_list(input?).map(|one| vec![one]);
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Some(text(s)),
                    other => token_list(other),
                })
                .collect()
        }
        _ => None,
    }
}

/// A unit vector that depends only on `text` and its length: FNV-1a of the text seeds a
/// splitmix64 sequence.
fn embed(text: &str, dimensions: u64) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 24 bits as a float in [-1, 1): exact in an f32.
            let unit = (z >> 40) as f32 / (1u64 << 24) as f32;
            unit * 2.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return raw;
    }
    raw.into_iter().map(|x| x / norm).collect()
}

pub(crate) fn models() -> Value {
    let model = |id: &str| json!({"id": id, "object": "model", "created": CREATED, "owned_by": "seam-testkit"});
    json!({"object": "list", "data": [model("mock-chat"), model("mock-embedding")]})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Value {
        json!({"role": "user", "content": text})
    }

    #[test]
    fn decisions() {
        let tools = json!([{"type": "function", "function": {"name": "first"}},
                           {"type": "function", "function": {"name": "second"}}]);
        let named = json!({"type": "function", "function": {"name": "second"}});
        let tool_msg = json!({"role": "tool", "tool_call_id": "c", "content": "42"});
        let assistant = json!({"role": "assistant", "content": null, "tool_calls": []});
        let (none, required) = (json!("none"), json!("required"));
        let cases = [
            (vec![user("hi")], None, None, Answer::echo("hi")),
            (
                vec![user("hi")],
                Some(&tools),
                None,
                Answer::call("first", "hi"),
            ),
            (
                vec![user("hi")],
                Some(&tools),
                Some(&named),
                Answer::call("second", "hi"),
            ),
            (
                vec![user("hi")],
                Some(&tools),
                Some(&none),
                Answer::echo("hi"),
            ),
            (
                vec![user("hi")],
                Some(&tools),
                Some(&required),
                Answer::call("first", "hi"),
            ),
            (
                vec![user("hi"), assistant, tool_msg],
                Some(&tools),
                None,
                Answer::echo("42"),
            ),
        ];
        for (messages, tools, choice, expect) in cases {
            assert_eq!(
                decide(&messages, tools, choice, false),
                expect,
                "{messages:?}"
            );
        }
    }

    #[test]
    fn json_mode_echoes_the_text_alone() {
        let cases = [
            ("json_object", true),
            ("json_schema", true),
            ("text", false),
        ];
        for (format, json) in cases {
            let body = json!({"response_format": {"type": format}});
            assert_eq!(json_mode(&body), json, "{format}");
        }
        assert!(!json_mode(&json!({})));
        let text = r#"{"name": "Ada"}"#;
        let expect = Answer::Text(text.to_owned());
        assert_eq!(decide(&[user(text)], None, None, true), expect);
    }

    #[test]
    fn parts_are_joined() {
        let content = json!([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]);
        assert_eq!(content_text(Some(&content)), "a\nb");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embed("hello", 16);
        assert_eq!(a, embed("hello", 16));
        assert_ne!(a, embed("hellp", 16));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn embedding_input_forms() {
        let check = |input: Value, expect: Option<Vec<(&str, usize)>>| {
            let got = embedding_inputs(Some(&input));
            let expect = expect.map(|v| {
                v.into_iter()
                    .map(|(s, n)| (s.to_owned(), n))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, expect, "{input}");
        };
        check(json!("a b"), Some(vec![("a b", 2)]));
        check(json!(["x", "y z"]), Some(vec![("x", 1), ("y z", 2)]));
        check(json!([1, 2, 3]), Some(vec![("1 2 3", 3)]));
        check(json!([[1], [2, 3]]), Some(vec![("1", 1), ("2 3", 2)]));
        check(json!(""), None);
        check(json!([]), None);
        check(json!([{}]), None);
    }
}
