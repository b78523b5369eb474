//! Typed metric events: one function per event, so names and labels live in one place.
//!
//! Labels are config-defined names (provider, alias, endpoint, error code) or bounded sets; a
//! model name is a label only when a config names it, and every client-chosen one under direct
//! addressing is `direct`. No label ever carries request content.

use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use seam_providers::ProviderError;
use seam_providers::otel::{self, Attrs, Child, Event, Kind, Recorder, Value};
use seam_router::{Attempt, Route};

use crate::TargetReport;
use crate::handles;

pub const UPSTREAM_REQUESTS: &str = "seam_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "seam_upstream_duration_seconds";
pub const TTFT: &str = "seam_time_to_first_token_seconds";
/// Tokens by upstream target. `seam_tokens_total` (by key, team and model) is the edge's.
pub const TOKENS: &str = "seam_upstream_tokens_total";
pub const STREAMS: &str = "seam_streams_total";
pub const STREAM_DURATION: &str = "seam_stream_duration_seconds";
pub const BREAKER_STATE: &str = "seam_breaker_state";
pub const IN_FLIGHT: &str = "seam_target_in_flight";
pub const QUEUED: &str = "seam_provider_queued";
pub const POLICY_FINDINGS: &str = "seam_policy_findings_total";
pub const POLICY_REFUSALS: &str = "seam_policy_refusals_total";
pub const POLICY_INJECTIONS: &str = "seam_policy_injections_total";
/// OpenTelemetry's GenAI client metrics (semantic conventions `gen_ai.client.*`), as Prometheus
/// names: Seam is the client of every upstream, so each attempt is one operation.
pub const GENAI_DURATION: &str = "gen_ai_client_operation_duration_seconds";
pub const GENAI_TOKENS: &str = "gen_ai_client_token_usage";
pub const GENAI_FIRST_CHUNK: &str = "gen_ai_client_operation_time_to_first_chunk_seconds";

/// Registers help texts; call once at start-up after installing a recorder.
pub fn describe() {
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Upstream attempts by provider, model and outcome."
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        metrics::Unit::Seconds,
        "Upstream attempt latency (streams: until the first chunk)."
    );
    describe_histogram!(
        TTFT,
        metrics::Unit::Seconds,
        "Time from the upstream request to its first streamed chunk."
    );
    describe_counter!(
        TOKENS,
        "Tokens reported by upstreams, by provider, upstream model and kind (prompt|completion); \
         as reported, before Seam's sanity checks."
    );
    describe_counter!(
        STREAMS,
        "Streams by how they ended: completed, interrupted, idle_timeout, client_closed."
    );
    describe_histogram!(
        STREAM_DURATION,
        metrics::Unit::Seconds,
        "Stream duration after the first chunk."
    );
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker per target: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(IN_FLIGHT, "Requests in flight to a target's provider.");
    describe_counter!(
        POLICY_FINDINGS,
        "Policy findings by policy, stage (input|output), entity and action. Never values."
    );
    describe_counter!(
        POLICY_REFUSALS,
        "Requests a policy refused, by policy and reason (entity|injection|context|contract)."
    );
    describe_counter!(
        POLICY_INJECTIONS,
        "Likely prompt injections a policy acted on, by policy, deciding part \
         (heuristic|classifier), action (flag|block) and where the text entered \
         (user_message|tool_result|tool_arguments|mcp_arguments|mcp_result)."
    );
    describe_gauge!(
        QUEUED,
        "Requests waiting for a slot at a target's provider."
    );
    describe_histogram!(
        GENAI_DURATION,
        metrics::Unit::Seconds,
        "OpenTelemetry gen_ai.client.operation.duration: each upstream attempt, by \
         gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model and error_type."
    );
    describe_histogram!(
        GENAI_TOKENS,
        "OpenTelemetry gen_ai.client.token.usage: tokens per upstream answer, by \
         gen_ai_token_type (input|output), gen_ai_operation_name, gen_ai_provider_name and \
         gen_ai_request_model."
    );
    describe_histogram!(
        GENAI_FIRST_CHUNK,
        metrics::Unit::Seconds,
        "OpenTelemetry gen_ai.client.operation.time_to_first_chunk: streamed attempts."
    );
}

/// The `gen_ai.provider.name` of each configured provider (by its name in the config), across
/// every config this process has loaded.
fn genai_providers() -> &'static RwLock<std::collections::HashMap<String, &'static str>> {
    static NAMES: OnceLock<RwLock<std::collections::HashMap<String, &'static str>>> =
        OnceLock::new();
    NAMES.get_or_init(|| RwLock::new(std::collections::HashMap::new()))
}

/// The well-known `gen_ai.provider.name` of a provider kind (OpenTelemetry's list; a server
/// that speaks OpenAI's API — vLLM, Ollama, llama.cpp — is `openai`, the API it speaks).
pub fn genai_provider(kind: seam_config::ProviderKind) -> &'static str {
    match kind {
        seam_config::ProviderKind::OpenAi => "openai",
        seam_config::ProviderKind::Anthropic => "anthropic",
        seam_config::ProviderKind::Gemini => "gcp.gemini",
        seam_config::ProviderKind::Azure => "azure.ai.openai",
        seam_config::ProviderKind::Bedrock => "aws.bedrock",
        seam_config::ProviderKind::Echo => "seam.echo",
        seam_config::ProviderKind::Local => "seam.local",
    }
}

/// Records each configured provider's `gen_ai.provider.name` and upstream address (called when
/// a gateway is built).
pub fn admit_providers<'a>(providers: impl IntoIterator<Item = &'a seam_config::ProviderConfig>) {
    let (Ok(mut map), Ok(mut addrs)) = (genai_providers().write(), addresses().write()) else {
        return;
    };
    for p in providers {
        map.insert(p.name.clone(), genai_provider(p.kind));
        if let Some(a) = server_address(&p.base_url) {
            addrs.insert(p.name.clone(), a);
        }
    }
}

/// The `server.address` and `server.port` of each configured provider.
fn addresses() -> &'static RwLock<std::collections::HashMap<String, (String, i64)>> {
    static ADDRS: OnceLock<RwLock<std::collections::HashMap<String, (String, i64)>>> =
        OnceLock::new();
    ADDRS.get_or_init(|| RwLock::new(std::collections::HashMap::new()))
}

/// Host and port of a base URL (the scheme's port when none is written).
fn server_address(base_url: &str) -> Option<(String, i64)> {
    let (scheme, rest) = base_url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let default = if scheme == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h, p.parse().unwrap_or(default))
        }
        _ => (authority, default),
    };
    (!host.is_empty()).then(|| (host.trim_matches(['[', ']']).to_owned(), port))
}

/// The GenAI and server attributes of an operation on a configured provider.
pub fn provider_attributes(provider: &str) -> Attrs {
    let mut a: Attrs = vec![(
        "gen_ai.provider.name",
        Value::from(genai_provider_of(provider)),
    )];
    if let Some((host, port)) = addresses()
        .read()
        .ok()
        .and_then(|m| m.get(provider).cloned())
    {
        a.push(("server.address", Value::Str(host)));
        a.push(("server.port", Value::Int(port)));
    }
    a
}

/// One CLIENT span per upstream attempt (OpenTelemetry's GenAI inference span), each with the
/// span id its `traceparent` carried upstream; `begun`: the attempts' ids and starts, in the
/// order the router made them.
pub fn attempt_spans(
    recorder: &Recorder,
    route: &Route,
    attempts: &[Attempt],
    begun: &[([u8; 8], u64)],
    reason: &str,
    operation: &'static str,
) {
    for (a, (id, start)) in attempts.iter().zip(begun) {
        let Some(t) = route.targets.get(a.target) else {
            continue;
        };
        let mut attrs = provider_attributes(&t.provider);
        attrs.extend([
            ("gen_ai.operation.name", Value::from(operation)),
            ("gen_ai.request.model", Value::from(t.model.as_str())),
            ("seam.target", Value::from(a.label.as_str())),
            (
                "http.response.status_code",
                Value::from(u64::from(a.status)),
            ),
        ]);
        if let Some(code) = a.code {
            attrs.push(("error.type", Value::from(code)));
        }
        if a.code.is_none() {
            attrs.push(("seam.route_reason", Value::from(reason)));
        }
        let latency = u64::try_from(a.latency.as_nanos()).unwrap_or(u64::MAX);
        recorder.child(Child {
            name: format!("{operation} {}", t.model),
            kind: Kind::Client,
            span_id: Some(*id),
            start_ns: *start,
            end_ns: start.saturating_add(latency),
            attrs,
            events: Vec::new(),
            error: a.code.is_some(),
        });
    }
}

/// A policy stage's span (`seam.policy.input`, `seam.policy.output`): one event per entity and
/// action with its count, never a value.
pub fn policy_span(name: &str, start_ns: u64, policy: &str, records: &[seam_policy::Record]) {
    let Some(r) = otel::current() else {
        return;
    };
    let mut span = Child::stage(name, start_ns);
    span.attrs.push(("seam.policy", Value::from(policy)));
    for ((stage, entity, action), n) in seam_policy::engine::summarize(records) {
        span.events.push(Event {
            name: "gen_ai.seam.policy.finding",
            time_ns: span.end_ns,
            attrs: vec![
                ("seam.policy.stage", Value::from(stage.as_str())),
                ("seam.policy.entity", Value::from(entity)),
                ("seam.policy.action", Value::from(action)),
                ("seam.policy.count", Value::from(n as u64)),
            ],
        });
    }
    r.child(span);
}

pub fn genai_provider_of(provider: &str) -> &'static str {
    genai_providers()
        .read()
        .ok()
        .and_then(|m| m.get(provider).copied())
        .unwrap_or("_OTHER")
}

/// The GenAI labels of an operation on `provider`/`model` (a model label as [`model_label`]
/// bounds it).
fn genai_labels<'a>(
    operation: &'static str,
    provider: &'a str,
    model: &'a str,
) -> [(&'static str, &'a str); 3] {
    [
        ("gen_ai_operation_name", operation),
        ("gen_ai_provider_name", genai_provider_of(provider)),
        ("gen_ai_request_model", model),
    ]
}

/// Model names a config has named (alias targets' models and their `PROVIDER/MODEL` labels),
/// across every config this process has loaded: these, and only these, are metric labels.
fn configured() -> &'static RwLock<HashSet<String>> {
    static NAMES: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();
    NAMES.get_or_init(|| RwLock::new(HashSet::new()))
}

/// Admits the model names of a config as labels (called when a gateway is built).
pub fn admit_labels<'a>(names: impl IntoIterator<Item = &'a str>) {
    if let Ok(mut set) = configured().write() {
        for n in names {
            if !set.contains(n) {
                set.insert(n.to_owned());
            }
        }
    }
}

/// The metric label for a model name: itself when a config names it, else [`DIRECT`] — a
/// client-chosen name (direct addressing) never becomes a label, so it can neither carry request
/// content into `/metrics` nor grow the series without bound.
pub fn model_label(model: &str) -> String {
    match configured().read() {
        Ok(set) if set.contains(model) => model.to_owned(),
        _ => DIRECT.to_owned(),
    }
}

/// The label of every model no config names.
pub const DIRECT: &str = "direct";

pub fn failure_outcome(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::Connect(_) => "connect_error",
        ProviderError::Timeout(_) => "timeout",
        ProviderError::Status { status, .. } if *status >= 500 => "upstream_5xx",
        ProviderError::Status { status: 429, .. } => "upstream_429",
        ProviderError::Status { .. } => "upstream_4xx",
        ProviderError::InvalidResponse(_) => "invalid_response",
        ProviderError::StreamCut(_) => "stream_cut",
        ProviderError::Unsupported(_) => "unsupported",
    }
}

/// One counter and one latency sample per upstream attempt (`operation`: `chat` or
/// `embeddings`, OpenTelemetry's `gen_ai.operation.name`).
pub fn attempts(route: &Route, attempts: &[Attempt], operation: &'static str) {
    for a in attempts {
        let Some(t) = route.targets.get(a.target) else {
            continue;
        };
        upstream(
            &t.provider,
            &t.metric_model,
            a.code.unwrap_or("ok"),
            Some(a.latency),
            operation,
        );
    }
}

pub fn target_gauges(t: &TargetReport) {
    let state = match t.state {
        "open" => 2.0,
        "half_open" => 1.0,
        _ => 0.0,
    };
    let labels = [
        ("provider", t.provider.clone()),
        ("model", model_label(&t.model)),
    ];
    gauge!(BREAKER_STATE, &labels).set(state);
    gauge!(IN_FLIGHT, &labels).set(t.in_flight as f64);
    gauge!(QUEUED, &labels).set(t.queued as f64);
}

fn upstream(
    provider: &str,
    model: &str,
    outcome: &'static str,
    latency: Option<Duration>,
    operation: &'static str,
) {
    let labels = [("provider", provider), ("model", model)];
    handles::counter(
        UPSTREAM_REQUESTS,
        &[labels[0], labels[1], ("outcome", outcome)],
    )
    .increment(1);
    if let Some(l) = latency {
        handles::histogram(UPSTREAM_DURATION, &labels).record(l.as_secs_f64());
        // OpenTelemetry's `error.type` is set only on failures.
        let genai = genai_labels(operation, provider, model);
        if outcome == "ok" {
            handles::histogram(GENAI_DURATION, &genai).record(l.as_secs_f64());
        } else {
            handles::histogram(
                GENAI_DURATION,
                &[genai[0], genai[1], genai[2], ("error_type", outcome)],
            )
            .record(l.as_secs_f64());
        }
    }
}

pub fn ttft(provider: &str, model: &str, d: Duration) {
    handles::histogram(TTFT, &[("provider", provider), ("model", model)]).record(d.as_secs_f64());
    handles::histogram(GENAI_FIRST_CHUNK, &genai_labels("chat", provider, model))
        .record(d.as_secs_f64());
}

pub fn tokens(provider: &str, model: &str, prompt: u64, completion: u64) {
    for (kind, n) in [("prompt", prompt), ("completion", completion)] {
        handles::counter(
            TOKENS,
            &[("provider", provider), ("model", model), ("kind", kind)],
        )
        .increment(n);
    }
    let genai = genai_labels("chat", provider, model);
    for (kind, n) in [("input", prompt), ("output", completion)] {
        handles::histogram(
            GENAI_TOKENS,
            &[genai[0], genai[1], genai[2], ("gen_ai_token_type", kind)],
        )
        .record(n as f64);
    }
}

pub fn stream_end(provider: &str, model: &str, outcome: &'static str, d: Duration) {
    let labels = [("provider", provider), ("model", model)];
    handles::counter(STREAMS, &[labels[0], labels[1], ("outcome", outcome)]).increment(1);
    handles::histogram(STREAM_DURATION, &labels).record(d.as_secs_f64());
}

/// Counts policy findings. Labels are bounded: policies come from the config, entities and actions
/// from fixed lists.
pub fn policy_findings(policy: &str, records: &[seam_policy::Record]) {
    for ((stage, entity, action), n) in seam_policy::engine::summarize(records) {
        handles::counter(
            POLICY_FINDINGS,
            &[
                ("policy", policy),
                ("stage", stage.as_str()),
                ("entity", entity),
                ("action", action),
            ],
        )
        .increment(n as u64);
    }
}

pub fn policy_refusal(policy: &str, reason: &'static str) {
    counter!(POLICY_REFUSALS, "policy" => policy.to_owned(), "reason" => reason).increment(1);
}

/// An injection score over a policy's threshold: the part that gave it, what the rule did and
/// where the text entered — fixed names only, never the text.
pub fn policy_injection(
    policy: &str,
    part: &'static str,
    action: &'static str,
    source: &'static str,
) {
    counter!(
        POLICY_INJECTIONS,
        "policy" => policy.to_owned(),
        "part" => part,
        "action" => action,
        "source" => source,
    )
    .increment(1);
}
