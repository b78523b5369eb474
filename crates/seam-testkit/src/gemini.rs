//! Google's Gemini API: `models/{model}:generateContent` (JSON), `:streamGenerateContent?alt=sse`
//! (each event a whole `GenerateContentResponse` holding the next piece; no terminal event, the
//! last piece carries `finishReason` and `usageMetadata`) and `:batchEmbedContents`.
//!
//! Requests are checked the way Gemini checks them where a translation could go wrong: unknown
//! fields are rejected (Gemini's JSON is protobuf-strict), roles must be `user` or `model`, a
//! `functionResponse.response` must be an object, and schemas must not use keywords Gemini's
//! `Schema` lacks (`additionalProperties`, `$schema`, `$ref`, …).

use bytes::Bytes;
use serde_json::{Value, json};

use crate::faults::{ApiError, Reply, Sse};
use crate::openai;
use crate::text::{Answer, word_pieces, words};

const REQUEST_FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];
const GENERATION_FIELDS: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
];
const PART_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "thought",
    "thoughtSignature",
];
/// JSON Schema keywords Gemini's `Schema` does not have; it answers 400 when it meets one.
const FOREIGN_SCHEMA_KEYS: &[&str] = &[
    "additionalProperties",
    "$schema",
    "$ref",
    "$defs",
    "definitions",
    "oneOf",
    "allOf",
    "not",
    "const",
    "patternProperties",
    "exclusiveMinimum",
    "exclusiveMaximum",
];

pub(crate) fn generate(
    body: &Value,
    model: &str,
    seq: usize,
    stream: bool,
) -> Result<Reply, ApiError> {
    check_request(body)?;
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "contents",
                "* GenerateContentRequest.contents: contents is not specified",
            )
        })?;
    let mut answer = decide(contents, body.get("tools"), body.get("toolConfig"));
    // JSON mode answers with JSON alone, as the OpenAI routes do.
    let json_mode = body
        .pointer("/generationConfig/responseMimeType")
        .and_then(Value::as_str)
        == Some("application/json");
    if json_mode
        && let Answer::Text(t) = &mut answer
        && let Some(rest) = t.strip_prefix("mock: ")
    {
        *t = rest.to_owned();
    }
    let system = body.pointer("/systemInstruction/parts");
    let prompt_tokens = words(&parts_text(system))
        + contents
            .iter()
            .map(|c| words(&parts_text(c.get("parts"))))
            .sum::<usize>();
    let output_tokens = answer.tokens();
    let usage = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
                       "totalTokenCount": prompt_tokens + output_tokens});
    let n = body
        .pointer("/generationConfig/candidateCount")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let response_id = format!("gemini_mock_{seq}");
    let envelope = |candidates: Vec<Value>, usage: Option<&Value>| {
        let mut v =
            json!({"candidates": candidates, "modelVersion": model, "responseId": response_id});
        if let Some(u) = usage {
            v["usageMetadata"] = u.clone();
        }
        v
    };
    let candidates = |parts: &Value, finish: Option<&str>| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let mut c = json!({"content": {"role": "model", "parts": parts}, "index": i});
                if let Some(f) = finish {
                    c["finishReason"] = json!(f);
                }
                c
            })
            .collect()
    };
    let parts: Vec<Value> = match &answer {
        Answer::Text(text) => vec![json!({ "text": text })],
        Answer::ToolCall { name, arguments } => {
            // `arguments` was encoded from a JSON object a moment ago, so it parses back.
            let args: Value = serde_json::from_str(arguments).unwrap_or_default();
            vec![json!({"functionCall": {"name": name, "args": args}})]
        }
    };
    if !stream {
        return Ok(Reply::Json(envelope(
            candidates(&json!(parts), Some("STOP")),
            Some(&usage),
        )));
    }
    let content: Vec<Bytes> = match &answer {
        Answer::Text(text) => word_pieces(text)
            .into_iter()
            .map(|p| event(&envelope(candidates(&json!([{ "text": p }]), None), None)))
            .collect(),
        Answer::ToolCall { .. } => vec![event(&envelope(candidates(&json!(parts), None), None))],
    };
    let last = envelope(
        candidates(&json!([{"text": ""}]), Some("STOP")),
        Some(&usage),
    );
    Ok(Reply::Stream(Sse {
        prelude: Vec::new(),
        content,
        epilogue: vec![event(&last)],
        error: event(
            &json!({"error": {"code": 503, "message": "mock overloaded", "status": "UNAVAILABLE"}}),
        ),
    }))
}

/// `data: {json}` and a CRLF blank line, as Google's servers frame events.
fn event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\r\n\r\n"))
}

fn check_request(body: &Value) -> Result<(), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("contents", "mock: the body must be a JSON object"))?;
    known_fields(object.keys(), REQUEST_FIELDS, "GenerateContentRequest")?;
    if let Some(config) = body.get("generationConfig").and_then(Value::as_object) {
        known_fields(config.keys(), GENERATION_FIELDS, "generation_config")?;
        if let Some(schema) = config.get("responseSchema") {
            check_schema(schema, "generation_config.response_schema")?;
        }
    }
    for (i, c) in contents_of(body).iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(invalid(format!(
                "Please use a valid role: user, model. (contents[{i}].role = {role:?})"
            )));
        }
        let parts = c
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid(format!("contents[{i}].parts: must not be empty")))?;
        for (j, part) in parts.iter().enumerate() {
            let keys = part.as_object().map(|p| p.keys()).into_iter().flatten();
            known_fields(keys, PART_FIELDS, &format!("contents[{i}].parts[{j}]"))?;
            if let Some(fr) = part.get("functionResponse") {
                let named = fr
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
                if !named || !fr.get("response").is_some_and(Value::is_object) {
                    return Err(invalid(format!(
                        "contents[{i}].parts[{j}].function_response: needs a name and an object response"
                    )));
                }
            }
        }
    }
    for (i, tool) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, decl) in tool
            .get("functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(params) = decl.get("parameters") {
                check_schema(
                    params,
                    &format!("tools[{i}].function_declarations[{j}].parameters"),
                )?;
            }
        }
    }
    Ok(())
}

fn known_fields<'a>(
    keys: impl Iterator<Item = &'a String>,
    allowed: &[&str],
    at: &str,
) -> Result<(), ApiError> {
    for k in keys {
        if !allowed.contains(&k.as_str()) {
            return Err(invalid(format!(
                "Invalid JSON payload received. Unknown name \"{k}\" at '{at}': Cannot find field."
            )));
        }
    }
    Ok(())
}

fn check_schema(schema: &Value, at: &str) -> Result<(), ApiError> {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                if FOREIGN_SCHEMA_KEYS.contains(&k.as_str()) {
                    return Err(invalid(format!(
                        "Invalid JSON payload received. Unknown name \"{k}\" at '{at}': Cannot find field."
                    )));
                }
                if k == "properties" {
                    let props = v.as_object().into_iter().flatten();
                    for (name, sub) in props {
                        check_schema(sub, &format!("{at}.properties[{name}]"))?;
                    }
                } else {
                    check_schema(v, &format!("{at}.{k}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|s| check_schema(s, at)),
        _ => Ok(()),
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid("contents", message)
}

fn contents_of(body: &Value) -> &[Value] {
    body.get("contents")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Function responses in the last (user) turn → echo them; a user turn last with functions
/// declared → call one; else echo the last user text.
fn decide(contents: &[Value], tools: Option<&Value>, tool_config: Option<&Value>) -> Answer {
    let last = contents.last();
    let results: Vec<String> = last
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.pointer("/functionResponse/response"))
        .map(|r| match r.get("result") {
            Some(Value::String(s)) if r.as_object().is_some_and(|o| o.len() == 1) => s.clone(),
            _ => r.to_string(),
        })
        .collect();
    if !results.is_empty() {
        return Answer::echo(&results.join("\n"));
    }
    let user_text = contents
        .iter()
        .rev()
        .find(|c| role(c) == "user")
        .map(|c| parts_text(c.get("parts")))
        .unwrap_or_default();
    let last_is_user = last.is_some_and(|c| role(c) == "user");
    match function_to_call(tools, tool_config) {
        Some(name) if last_is_user => Answer::call(name, &user_text),
        _ => Answer::echo(&user_text),
    }
}

/// Mode `NONE` forbids a call; `allowedFunctionNames` names one; otherwise the first declared.
fn function_to_call<'a>(tools: Option<&'a Value>, config: Option<&'a Value>) -> Option<&'a str> {
    let first = tools?
        .as_array()?
        .iter()
        .filter_map(|t| t.get("functionDeclarations")?.as_array()?.first())
        .find_map(|d| d.get("name")?.as_str())?;
    let calling = config.and_then(|c| c.get("functionCallingConfig"));
    if calling.and_then(|c| c.get("mode")).and_then(Value::as_str) == Some("NONE") {
        return None;
    }
    Some(
        calling
            .and_then(|c| c.pointer("/allowedFunctionNames/0"))
            .and_then(Value::as_str)
            .unwrap_or(first),
    )
}

/// A content's role; Gemini takes a missing one as `user`.
fn role(content: &Value) -> &str {
    content
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
}

/// The `text` parts joined by newlines.
fn parts_text(parts: Option<&Value>) -> String {
    parts
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `batchEmbedContents`: one vector per request, each request naming the URL's model. Vectors are
/// the OpenAI route's, so a text embeds the same on either route.
pub(crate) fn batch_embed(body: &Value, model: &str) -> Result<Reply, ApiError> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "requests",
                "* BatchEmbedContentsRequest.requests: must not be empty",
            )
        })?;
    let expected = format!("models/{model}");
    let mut texts = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r.get("model").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(ApiError::invalid(
                "requests",
                format!("requests[{i}].model: must be {expected}, the model in the URL"),
            ));
        }
        let text = parts_text(r.pointer("/content/parts"));
        if text.is_empty() {
            return Err(ApiError::invalid(
                "requests",
                format!("requests[{i}].content: must hold text"),
            ));
        }
        texts.push(text);
    }
    let mut openai_body = json!({"model": model, "input": texts});
    if let Some(d) = requests[0].get("outputDimensionality") {
        openai_body["dimensions"] = d.clone();
    }
    let Reply::Json(list) = openai::embeddings(&openai_body)? else {
        return Err(ApiError::invalid(
            "requests",
            "mock: unexpected embeddings reply",
        ));
    };
    let embeddings: Vec<Value> = list
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| json!({"values": d["embedding"]}))
        .collect();
    Ok(Reply::Json(json!({ "embeddings": embeddings })))
}
