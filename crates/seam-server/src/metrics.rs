//! The Prometheus recorder and the edge's own metric events.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use seam_gateway::handles;
use seam_types::{ApiError, ErrorCode};

pub const CHAT: &str = "chat_completions";
pub const EMBEDDINGS: &str = "embeddings";
pub const MESSAGES: &str = "messages";
pub const RESPONSES: &str = "responses";
pub const MCP: &str = "mcp";

pub const REQUESTS: &str = "seam_requests_total";
pub const REQUEST_DURATION: &str = "seam_request_duration_seconds";
pub const OVERHEAD: &str = "seam_gateway_overhead_seconds";
pub const ERRORS: &str = "seam_errors_total";
pub const CONNECTIONS_OPEN: &str = "seam_connections_open";
pub const CONNECTIONS_REFUSED: &str = "seam_connections_refused_total";
pub const CONNECTIONS_TIMED_OUT: &str = "seam_connections_timed_out_total";
pub const MCP_CALLS: &str = "seam_mcp_calls_total";
pub const MCP_CALL_DURATION: &str = "seam_mcp_call_duration_seconds";
pub const MCP_REFUSALS: &str = "seam_mcp_refusals_total";
pub const MCP_SESSIONS: &str = "seam_mcp_sessions";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.05,
];

/// Installs the process-wide recorder once and returns its handle; later calls return the same.
/// A task drains histogram samples every few seconds so memory stays flat between scrapes.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(OVERHEAD.into()), OVERHEAD_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(crate::evaluate::SCORES.into()),
                        crate::evaluate::SCORE_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::error!(error = %e, "metrics recorder not installed"))
                .ok()?;
            describe();
            seam_gateway::telemetry::describe();
            seam_providers::otel::describe();
            crate::cache::describe();
            crate::evaluate::describe();
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

fn describe() {
    describe_counter!(REQUESTS, "HTTP requests by endpoint and status.");
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time to the response head (streams: to the first chunk)."
    );
    describe_histogram!(
        OVERHEAD,
        metrics::Unit::Seconds,
        "Seam's own time per request: total minus upstream."
    );
    describe_counter!(ERRORS, "Errors returned to clients, by code.");
    describe_counter!(
        MCP_CALLS,
        "Calls through /mcp (tools/call, prompts/get, resources/read) by server, tool (namespaced; \
         prompts and resources by method) and outcome (ok, tool_error, upstream_unavailable, \
         overloaded, upstream_timeout, result_too_large, upstream_error)."
    );
    describe_histogram!(
        MCP_CALL_DURATION,
        metrics::Unit::Seconds,
        "Time of calls through /mcp, Seam's part included, by server and tool."
    );
    describe_counter!(
        MCP_REFUSALS,
        "Calls on /mcp Seam refused before the server saw them, by server and reason (scope, \
         policy, limits)."
    );
    describe_gauge!(MCP_SESSIONS, "Client sessions held on /mcp.");
    describe_gauge!(CONNECTIONS_OPEN, "Client connections open now.");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Client connections closed as soon as accepted because server.max_connections were open."
    );
    describe_counter!(
        CONNECTIONS_TIMED_OUT,
        "Client connections closed by the server for silence: phase header (a request head \
         not whole within server.header_timeout_ms) or idle (no request within \
         server.idle_timeout_ms)."
    );
    describe_counter!(
        crate::limits::REJECTIONS,
        "Requests refused by a limit or budget, by code (rate_limited, tokens_limited, budget_exceeded, limits_unavailable), scope kind (org, team, key, subject), key id, team and model alias."
    );
    describe_counter!(
        crate::limits::LIMIT_ERRORS,
        "Times the shared limit counters (Redis) or the spend ledger could not be reached."
    );
    describe_counter!(
        crate::pricing::SPEND,
        "Spend in millionths of a USD, by provider, API key id, team and model (the alias the \
         client used, else the provider/model that answered); list prices or [pricing]."
    );
    describe_counter!(
        crate::pricing::TOKENS,
        "Tokens by API key id, team, model (as for spend) and kind (prompt|completion); source is \
         reported (by the upstream, after sanity checks) or estimated (Seam counted a stream \
         that reported none)."
    );
    describe_counter!(
        crate::pricing::ANOMALIES,
        "Reported usages that failed a sanity check, by provider and reason; the bounded values \
         were priced."
    );
}

/// A fixed label per route, so unknown paths cannot create series.
pub fn endpoint(path: &str) -> &'static str {
    match path {
        "/v1/chat/completions" => CHAT,
        "/v1/embeddings" => EMBEDDINGS,
        "/v1/messages" => MESSAGES,
        "/v1/messages/count_tokens" => "count_tokens",
        "/v1/responses" => RESPONSES,
        p if p.starts_with("/v1/responses/") => "responses_state",
        "/v1/models" => "models",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/mcp" => MCP,
        p if p.starts_with("/v1/models/") => "models",
        _ => "other",
    }
}

pub fn request(endpoint: &'static str, status: u16, d: Duration) {
    let labels = [("endpoint", endpoint), ("status", status_label(status))];
    handles::counter(REQUESTS, &labels).increment(1);
    handles::histogram(REQUEST_DURATION, &labels[..1]).record(d.as_secs_f64());
}

pub fn overhead(endpoint: &'static str, d: Duration) {
    handles::histogram(OVERHEAD, &[("endpoint", endpoint)]).record(d.as_secs_f64());
}

/// A client connection was accepted (`open` true) or has closed.
pub fn connection(open: bool) {
    let g = gauge!(CONNECTIONS_OPEN);
    if open {
        g.increment(1.0);
    } else {
        g.decrement(1.0);
    }
}

pub fn connection_refused() {
    counter!(CONNECTIONS_REFUSED).increment(1);
}

/// `phase`: `header` or `idle`.
pub fn connection_timed_out(phase: &'static str) {
    counter!(CONNECTIONS_TIMED_OUT, "phase" => phase).increment(1);
}

/// Seam's own codes by name; an upstream's passed-through code is grouped by status.
pub fn error(e: &ApiError) {
    let code = ErrorCode::ALL.iter().find(|c| e.is(**c)).map_or_else(
        || format!("upstream_{}", e.status),
        |c| c.as_str().to_owned(),
    );
    counter!(ERRORS, "code" => code).increment(1);
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        s if s < 300 => "2xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}
