//! The API features a request uses, named for its audit record (`features`): what another
//! target would have to support for this traffic to move there (`seam report exit`). Read from
//! the decoded request only; names, never content.

use seam_types::chat::{ChatRequest, Content, Wire};
use serde_json::Value;

/// Function tools offered to the model.
pub const TOOLS: &str = "tools";
/// Structured output: `response_format: {type: "json_schema"}`.
pub const JSON_SCHEMA: &str = "json_schema";
/// Image input (an `image_url` part, or a Messages `image` block).
pub const VISION: &str = "vision";
/// Explicit prompt-cache markers (`cache_control`).
pub const PROMPT_CACHING: &str = "prompt_caching";
/// `stream: true`.
pub const STREAMING: &str = "streaming";

/// How deep a native body is searched for `cache_control` (Messages puts it at most four levels
/// down: `messages[].content[].cache_control`).
const MAX_DEPTH: usize = 5;

/// The features `req` uses, in a fixed order (empty for a plain text request).
pub fn of(req: &ChatRequest) -> Vec<String> {
    let mut out = Vec::new();
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        out.push(TOOLS);
    }
    if req
        .response_format
        .as_ref()
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        == Some("json_schema")
    {
        out.push(JSON_SCHEMA);
    }
    let parts = || {
        req.messages.iter().flat_map(|m| match &m.content {
            Some(Content::Parts(p)) => p.as_slice(),
            _ => &[],
        })
    };
    if parts().any(|p| p.image_url.is_some() || p.kind == "image_url" || p.kind == "image") {
        out.push(VISION);
    }
    let marked = req
        .messages
        .iter()
        .any(|m| m.extra.contains_key("cache_control"))
        || parts().any(|p| p.extra.contains_key("cache_control"))
        || req
            .tools
            .iter()
            .flatten()
            .any(|t| t.extra.contains_key("cache_control"))
        || req.native.as_ref().is_some_and(|n| {
            n.wire == Wire::AnthropicMessages
                && n.body
                    .iter()
                    .any(|(k, v)| k == "cache_control" || has_key(v, "cache_control", MAX_DEPTH))
        });
    if marked {
        out.push(PROMPT_CACHING);
    }
    if req.stream == Some(true) {
        out.push(STREAMING);
    }
    out.into_iter().map(str::to_owned).collect()
}

fn has_key(v: &Value, key: &str, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k == key || has_key(x, key, depth - 1)),
        Value::Array(a) => a.iter().any(|x| has_key(x, key, depth - 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use serde_json::json;

    fn check(body: Value, want: &[&str]) {
        let req: ChatRequest = serde_json::from_value(body).unwrap();
        assert_eq!(of(&req), want);
    }

    #[test]
    fn each_feature_is_named_from_the_request() {
        let hi = json!([{"role": "user", "content": "hi"}]);
        check(json!({"model": "m", "messages": hi}), &[]);
        check(
            json!({"model": "m", "messages": hi, "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}),
            &[TOOLS],
        );
        check(json!({"model": "m", "messages": hi, "tools": []}), &[]);
        check(
            json!({"model": "m", "messages": hi, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
            &[JSON_SCHEMA],
        );
        check(
            json!({"model": "m", "messages": hi, "response_format": {"type": "json_object"}}),
            &[],
        );
        check(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]}),
            &[VISION],
        );
        check(
            json!({"model": "m", "messages": [{"role": "system", "content": [
                {"type": "text", "text": "long", "cache_control": {"type": "ephemeral"}}]}]}),
            &[PROMPT_CACHING],
        );
        check(
            json!({"model": "m", "messages": hi, "stream": true, "tools": [{"function": {"name": "f"}}]}),
            &[TOOLS, STREAMING],
        );
    }

    #[test]
    fn a_native_messages_body_is_searched_for_cache_markers() {
        let mut req: ChatRequest = serde_json::from_value(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .unwrap();
        let body = json!({"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]});
        let serde_json::Value::Object(body) = body else {
            unreachable!()
        };
        req.native = Some(seam_types::chat::Native {
            wire: Wire::AnthropicMessages,
            body: std::sync::Arc::new(body),
            headers: Vec::new(),
            requires: None,
        });
        assert_eq!(of(&req), [PROMPT_CACHING]);
    }
}
