//! The wire of each [`Surface`] a provider speaks: the request body built from the rendered chat
//! messages and the provider's parameters, and the answer read back into an [`Output`] the way
//! promptfoo reads that API (its output text, tool calls, finish reason and usage).
//!
//! Chat completions are [`Client::chat`]'s; this module adds Anthropic's Messages API (what
//! `anthropic:` ids speak, through Seam's `/v1/messages`) and OpenAI's Responses API
//! (`openai:responses:`, through `/v1/responses`).

use serde_json::{Map, Value, json};

use crate::client::{Client, Endpoint};
use crate::provider::{Provider, Surface};
use crate::{EvalError, Output, Tokens};

/// promptfoo's `max_tokens` for Anthropic when the config sets none.
const ANTHROPIC_MAX_TOKENS: u64 = 1024;
/// The `anthropic-version` Anthropic's SDK sends (a suite's `config.headers` may override it).
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The request body for `messages` on `p`'s surface, `p.params` applied over the defaults.
pub(crate) fn request(p: &Provider, messages: Vec<Value>) -> Value {
    let mut body = match p.surface {
        Surface::Messages => messages_request(&p.model, messages, &p.params),
        Surface::Responses => json!({"model": p.model, "input": messages}),
        Surface::Chat | Surface::Embeddings => json!({"model": p.model, "messages": messages}),
    };
    if let Some(o) = body.as_object_mut() {
        for (k, v) in &p.params {
            o.insert(k.clone(), v.clone());
        }
        // Anthropic refuses temperature with top_p; promptfoo then leaves temperature out.
        if p.surface == Surface::Messages && o.contains_key("top_p") {
            o.remove("temperature");
        }
    }
    body
}

/// As promptfoo builds it: system turns become `system`, `max_tokens` defaults to 1024 and
/// `temperature` to 0.
fn messages_request(model: &str, messages: Vec<Value>, params: &Map<String, Value>) -> Value {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for m in messages {
        if m["role"] == "system" {
            system.push(text_of(&m["content"]));
        } else {
            turns.push(m);
        }
    }
    let mut body = json!({
        "model": model,
        "max_tokens": ANTHROPIC_MAX_TOKENS,
        "messages": turns,
    });
    if !params.contains_key("top_p") {
        body["temperature"] = json!(0);
    }
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    body
}

/// A message's content as text: a string, or its text parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Sends `body` on `surface` and reads the answer.
pub(crate) async fn complete(
    client: &Client,
    ep: &Endpoint,
    surface: Surface,
    body: &Value,
) -> Result<Output, EvalError> {
    match surface {
        Surface::Chat => client.chat(ep, body).await,
        Surface::Messages => {
            // Anthropic's clients send the key as `x-api-key`, which Seam's Messages surface
            // takes (as it takes a bearer token).
            let mut ep = ep.clone();
            if let Some(key) = ep.api_key.take() {
                ep.headers.push(("x-api-key".into(), key));
            }
            if !ep
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("anthropic-version"))
            {
                ep.headers
                    .push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
            }
            let (v, headers, took) = client.post(&ep, surface.path(), body).await?;
            Ok(Output {
                latency_ms: took.as_secs_f64() * 1000.0,
                cost_usd: cost(&headers),
                ..messages_output(&v)
            })
        }
        Surface::Responses => {
            let (v, headers, took) = client.post(ep, surface.path(), body).await?;
            Ok(Output {
                latency_ms: took.as_secs_f64() * 1000.0,
                cost_usd: cost(&headers),
                ..responses_output(&v)
            })
        }
        Surface::Embeddings => Err(EvalError::Provider(
            "an embedding model cannot answer a prompt".into(),
        )),
    }
}

/// What the cache keys an answer under: the endpoint and, beyond chat (whose entries predate
/// the other surfaces), the surface's path.
pub(crate) fn cache_url(ep: &Endpoint, surface: Surface) -> String {
    match surface {
        Surface::Chat => ep.base_url.clone(),
        s => format!("{}/{}", ep.base_url.trim_end_matches('/'), s.path()),
    }
}

fn cost(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    headers
        .get("x-seam-cost-usd")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| s.parse().ok())
}

/// A Messages answer as promptfoo reads it: the text blocks joined by blank lines; when the model
/// called a tool, every block in order, a `tool_use` block as its JSON.
pub(crate) fn messages_output(v: &Value) -> Output {
    let blocks = v["content"].as_array().map_or(&[][..], Vec::as_slice);
    let tool_use = blocks.iter().any(|b| b["type"] == "tool_use");
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => parts.push(b["text"].as_str().unwrap_or("").to_owned()),
            Some("thinking") => parts.push(format!(
                "Thinking: {}\nSignature: {}",
                b["thinking"].as_str().unwrap_or(""),
                b["signature"].as_str().unwrap_or("")
            )),
            Some("redacted_thinking") => parts.push(format!(
                "Redacted Thinking: {}",
                b["data"].as_str().unwrap_or("")
            )),
            Some("tool_use") => {
                parts.push(b.to_string());
                tool_calls.push(json!({
                    "id": b["id"],
                    "type": "function",
                    "function": {"name": b["name"], "arguments": b["input"].to_string()},
                }));
            }
            _ if tool_use => parts.push(b.to_string()),
            _ => {}
        }
    }
    let usage = &v["usage"];
    let tokens = usage.is_object().then(|| {
        let prompt = usage["input_tokens"].as_u64().unwrap_or(0);
        let completion = usage["output_tokens"].as_u64().unwrap_or(0);
        Tokens {
            prompt,
            completion,
            total: prompt + completion,
        }
    });
    // promptfoo's normalised finish reasons.
    let finish_reason = v["stop_reason"].as_str().map(|r| {
        match r {
            "end_turn" | "stop_sequence" => "stop",
            "max_tokens" => "length",
            "tool_use" => "tool_calls",
            other => other,
        }
        .to_owned()
    });
    Output {
        text: parts.join("\n\n"),
        tool_calls,
        finish_reason,
        tokens,
        ..Output::default()
    }
}

/// A Responses answer as promptfoo reads it: each output item's text on its own line (the
/// assistant's `output_text`, a function call as its JSON, a reasoning summary), or the refusal.
pub(crate) fn responses_output(v: &Value) -> Output {
    let items = v["output"].as_array().map_or(&[][..], Vec::as_slice);
    let mut parts = Vec::new();
    let mut refusal = None;
    let mut tool_calls = Vec::new();
    for item in items {
        match item["type"].as_str() {
            Some("message") if item["role"] == "assistant" => {
                let mut text = String::new();
                for c in item["content"].as_array().map_or(&[][..], Vec::as_slice) {
                    match c["type"].as_str() {
                        Some("output_text") => text.push_str(c["text"].as_str().unwrap_or("")),
                        Some("refusal") => {
                            refusal = Some(c["refusal"].as_str().unwrap_or("").to_owned());
                        }
                        _ => {}
                    }
                }
                if !text.is_empty() {
                    parts.push(text);
                }
            }
            Some("function_call") => {
                parts.push(item.to_string());
                tool_calls.push(json!({
                    "id": item["call_id"],
                    "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]},
                }));
            }
            Some("reasoning") => {
                let summary: Vec<&str> = item["summary"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .filter_map(|s| s["text"].as_str())
                    .collect();
                if !summary.is_empty() {
                    parts.push(format!("Reasoning: {}", summary.join("\n")));
                }
            }
            _ => {}
        }
    }
    let usage = &v["usage"];
    let tokens = usage.is_object().then(|| {
        let prompt = usage["input_tokens"].as_u64().unwrap_or(0);
        let completion = usage["output_tokens"].as_u64().unwrap_or(0);
        Tokens {
            prompt,
            completion,
            total: usage["total_tokens"]
                .as_u64()
                .unwrap_or(prompt + completion),
        }
    });
    let finish_reason = match v["status"].as_str() {
        Some("completed") if !tool_calls.is_empty() => Some("tool_calls".to_owned()),
        Some("completed") => Some("stop".to_owned()),
        Some("incomplete") => Some("length".to_owned()),
        _ => None,
    };
    Output {
        text: refusal.unwrap_or_else(|| parts.join("\n")),
        tool_calls,
        finish_reason,
        tokens,
        ..Output::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_answers_read_like_promptfoo() {
        let out = messages_output(&json!({
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 2}
        }));
        assert_eq!(out.text, "a\n\nb");
        assert_eq!(out.finish_reason.as_deref(), Some("stop"));
        assert_eq!(out.tokens.unwrap().total, 5);
        let tool = json!({"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}});
        let out = messages_output(&json!({
            "content": [{"type": "text", "text": "calling"}, tool],
            "stop_reason": "tool_use"
        }));
        assert_eq!(out.text, format!("calling\n\n{tool}"));
        assert_eq!(out.tool_calls[0]["function"]["arguments"], "{\"x\":1}");
        assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn responses_answers_read_like_promptfoo() {
        let out = responses_output(&json!({
            "status": "completed",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
                {"type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Paris"}]}
            ],
            "usage": {"input_tokens": 4, "output_tokens": 1, "total_tokens": 5}
        }));
        assert_eq!(out.text, "Reasoning: think\nParis");
        assert_eq!(out.tokens.unwrap().total, 5);
        let out = responses_output(&json!({
            "status": "completed",
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "refusal", "refusal": "no"}]}]
        }));
        assert_eq!(out.text, "no");
    }
}
