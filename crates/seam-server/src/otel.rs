//! The request span's attributes (OpenTelemetry's GenAI semantic conventions, and `seam.*`),
//! written in one place per stage: when the request is read ([`request`], [`params`]), when the
//! answer is in ([`response`], [`content`]) and when the record is made ([`finish`]). The
//! recorder itself, the child spans' shape and the export are `seam_providers::otel`'s.
//!
//! Nothing here carries a secret or request content, except [`content`], which only runs with
//! `telemetry.capture_content` and sees the texts after policy.

use seam_providers::otel::{Recorder, Value};
use seam_store::RecordKind;
use seam_types::chat::{ChatCompletion, ChatRequest};

use crate::audit::Finish;

/// OpenTelemetry's `gen_ai.operation.name` for an endpoint.
fn operation(endpoint: &str, kind: RecordKind) -> &'static str {
    match (kind, endpoint) {
        (RecordKind::ToolCall, _) => "execute_tool",
        (_, "embeddings") => "embeddings",
        _ => "chat",
    }
}

/// The request as read: the operation and the model as the record keeps it (the client's
/// string only after the scanner saw it), the key by id.
pub fn request(
    r: &Recorder,
    endpoint: &'static str,
    kind: RecordKind,
    model: &str,
    key_id: Option<&str>,
) {
    let op = operation(endpoint, kind);
    r.name(format!("{op} {model}"));
    let mut attrs = vec![("gen_ai.operation.name", Value::from(op))];
    if op == "execute_tool" {
        attrs.push(("gen_ai.tool.name", Value::from(model)));
        attrs.push(("seam.mcp.method", Value::from(endpoint)));
    } else {
        attrs.push(("gen_ai.request.model", Value::from(model)));
    }
    if let Some(k) = key_id {
        attrs.push(("seam.key_id", Value::from(k)));
    }
    r.set(attrs);
}

/// The parameters the request sets.
pub fn params(r: &Recorder, req: &ChatRequest) {
    let mut attrs = vec![("gen_ai.request.stream", Value::from(req.is_stream()))];
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        attrs.push(("gen_ai.request.max_tokens", Value::from(u64::from(n))));
    }
    if let Some(t) = req.temperature {
        attrs.push(("gen_ai.request.temperature", Value::from(t)));
    }
    if let Some(p) = req.top_p {
        attrs.push(("gen_ai.request.top_p", Value::from(p)));
    }
    if let Some(n) = req.n.filter(|n| *n != 1) {
        attrs.push(("gen_ai.request.choice.count", Value::from(u64::from(n))));
    }
    r.set(attrs);
}

/// A whole answer: its id, model and finish reasons, why its target answered.
pub fn response(r: &Recorder, c: &ChatCompletion, reason: &str) {
    let reasons: Vec<String> = c
        .choices
        .iter()
        .filter_map(|ch| ch.finish_reason.clone())
        .collect();
    let mut attrs = vec![
        ("gen_ai.response.id", Value::from(c.id.as_str())),
        ("gen_ai.response.model", Value::from(c.model.as_str())),
        ("gen_ai.response.finish_reasons", Value::from(reasons)),
        ("seam.route_reason", Value::from(reason)),
    ];
    if let Some(cached) = c
        .usage
        .as_ref()
        .and_then(|u| u.extra.get("prompt_tokens_details"))
        .and_then(|d| d.get("cached_tokens"))
        .and_then(serde_json::Value::as_u64)
    {
        attrs.push(("gen_ai.usage.cache_read.input_tokens", Value::from(cached)));
    }
    r.set(attrs);
}

/// An embeddings answer: its model, why its target answered.
pub fn embeddings(r: &Recorder, model: &str, reason: &str) {
    r.set([
        ("gen_ai.response.model", Value::from(model)),
        ("seam.route_reason", Value::from(reason)),
    ]);
}

/// The call to the upstream MCP server, a CLIENT child span (`{method} {server}`) that took
/// `took` and ended now.
pub fn mcp_upstream(
    r: &Recorder,
    server: &str,
    method: &str,
    took: std::time::Duration,
    error: Option<&str>,
) {
    let end_ns = seam_providers::otel::now_ns();
    let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    let mut attrs = vec![
        ("rpc.method", Value::from(method)),
        ("seam.mcp.server", Value::from(server)),
    ];
    if let Some(e) = error {
        attrs.push(("error.type", Value::from(e)));
    }
    r.child(seam_providers::otel::Child {
        name: format!("{method} {server}"),
        kind: seam_providers::otel::Kind::Client,
        span_id: None,
        start_ns: end_ns.saturating_sub(took),
        end_ns,
        attrs,
        events: Vec::new(),
        error: error.is_some(),
    });
}

/// The messages as sent upstream and the answer as the client got it, both after policy
/// (`telemetry.capture_content` only), as the conventions' JSON strings.
pub fn content(r: &Recorder, sent: &ChatRequest, answer: &ChatCompletion) {
    if !r.captures_content() {
        return;
    }
    let input = serde_json::to_string(&sent.messages).unwrap_or_default();
    let output: Vec<_> = answer.choices.iter().map(|c| &c.message).collect();
    let output = serde_json::to_string(&output).unwrap_or_default();
    r.set([
        ("gen_ai.input.messages", Value::Str(input)),
        ("gen_ai.output.messages", Value::Str(output)),
    ]);
}

/// What the record says of the request: the route (and so the provider that answered), usage,
/// the cache, and on failure `error.type` (the error code, never a message) and status ERROR.
pub fn finish(r: &Recorder, f: &Finish<'_>) {
    let mut attrs = vec![
        ("seam.cache_hit", Value::from(f.cache_hit)),
        ("seam.attempts", Value::from(f.attempts.len() as u64)),
    ];
    if let Some(route) = &f.route {
        attrs.push(("seam.route", Value::from(route.as_str())));
        if let Some((provider, model)) = route.split_once('/') {
            attrs.extend(seam_gateway::telemetry::provider_attributes(provider));
            attrs.push(("seam.response.target_model", Value::from(model)));
        }
    }
    if let Some(u) = &f.usage {
        attrs.push(("gen_ai.usage.input_tokens", Value::from(u.prompt_tokens)));
        attrs.push((
            "gen_ai.usage.output_tokens",
            Value::from(u.completion_tokens),
        ));
        if u.estimated {
            attrs.push(("seam.usage.estimated", Value::from(true)));
        }
    }
    r.set(attrs);
    if let Some(code) = &f.error_code {
        r.fail(code);
    }
}
