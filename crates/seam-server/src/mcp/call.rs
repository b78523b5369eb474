//! One governed call through `/mcp` — `tools/call`, `prompts/get` or `resources/read` — on the
//! same steps as a model request: an audit draft first (so no exit loses the record), limits
//! (the key's rate and concurrency, and a tool's own rpm), the input policy on what goes to the
//! server, the call (timeout, concurrency cap, breaker: the hub's), the output policy on what comes
//! back, then the record — committed before the answer under sync durability.

use std::sync::Arc;
use std::time::{Duration, Instant};

use seam_config::McpServerConfig;
use seam_gateway::{Attempt, Rewritten};
use seam_mcp::jsonrpc::ErrorObject;
use seam_mcp::{CallError, Hub};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::errors;
use crate::audit::{Draft, Finish};
use crate::auth::Caller;
use crate::{Live, RequestId, RequestStart, SharedState};

/// What is called.
pub(crate) enum Target<'a> {
    /// A tool: its namespaced name and its own name on its server; `listed`: the server's list
    /// has it (false when the list could not be read: the server is down).
    Tool {
        name: &'a str,
        tool: &'a str,
        listed: bool,
    },
    Prompt {
        name: &'a str,
        prompt: &'a str,
    },
    Resource {
        uri: &'a str,
    },
}

impl Target<'_> {
    fn method(&self) -> &'static str {
        match self {
            Target::Tool { .. } => "tools/call",
            Target::Prompt { .. } => "prompts/get",
            Target::Resource { .. } => "resources/read",
        }
    }

    /// The audit record's endpoint.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Target::Tool { .. } => "mcp_tool",
            Target::Prompt { .. } => "mcp_prompt",
            Target::Resource { .. } => "mcp_resource",
        }
    }

    /// The metric label: a tool's namespaced name when its server lists it (never a string only
    /// the client chose), else the method.
    fn label(&self) -> String {
        match self {
            Target::Tool {
                name, listed: true, ..
            } => (*name).to_owned(),
            _ => self.method().to_owned(),
        }
    }
}

/// Who calls, from where.
pub(crate) struct Cx<'a> {
    pub st: &'a SharedState,
    pub live: &'a Arc<Live>,
    pub hub: &'a Arc<Hub>,
    pub caller: Option<&'a Caller>,
    pub rid: &'a RequestId,
    pub start: RequestStart,
    pub headers: &'a axum::http::HeaderMap,
}

/// Runs the call; `params` is the client's, `notify` receives the server's progress.
pub(crate) async fn run(
    cx: &Cx<'_>,
    server: &McpServerConfig,
    target: Target<'_>,
    params: &Value,
    notify: Option<mpsc::Sender<Value>>,
) -> Result<Value, ErrorObject> {
    let started = Instant::now();
    let label = target.label();
    let mut draft = cx.st.draft(
        cx.live,
        cx.rid,
        cx.start,
        cx.headers,
        target.endpoint(),
        cx.caller,
    );
    draft.set_kind(seam_store::RecordKind::ToolCall);
    let recorded_name = match &target {
        Target::Tool { name, .. } | Target::Prompt { name, .. } => {
            cx.live.gateway.label_for_record(name).into_owned()
        }
        Target::Resource { .. } => server.name.clone(),
    };
    draft.request(&recorded_name, None, None, params);

    // Limits: the key's scopes (rate, concurrency) and the tool's own rpm.
    let subject = draft.subject().map(str::to_owned);
    let mut scopes = cx.st.limits.scopes(cx.caller, subject.as_deref());
    if let Target::Tool { tool, name, .. } = &target
        && let Some(rpm) = server.tools.get(*tool).and_then(|t| t.rpm)
    {
        let key = cx.caller.map_or("none", |c| c.key_id.as_str());
        scopes.push(seam_limits::Scope {
            id: format!("tool:{key}:{name}"),
            rule: seam_limits::Rule {
                rpm: Some(rpm),
                ..seam_limits::Rule::default()
            },
        });
    }
    let labels = crate::limits::Labels::new(cx.live, cx.caller, None);
    let id = cx.rid.0.to_str().unwrap_or("unknown").to_owned();
    let ticket = match cx.st.limits.admit(&id, &scopes, labels, || (0, 0)).await {
        Ok(t) => t,
        Err(e) => {
            refusal(&server.name, "limits");
            return Err(refuse(draft, &e, None).await);
        }
    };

    // The input policy on what goes to the server.
    let (arguments, uri_args) = match &target {
        Target::Tool { .. } | Target::Prompt { .. } => (params.get("arguments").cloned(), false),
        Target::Resource { uri } => (Some(json!({ "uri": uri })), true),
    };
    let tool_name = match &target {
        Target::Tool { tool, .. } => *tool,
        Target::Prompt { prompt, .. } => *prompt,
        Target::Resource { .. } => "",
    };
    let key_policy = cx.caller.and_then(|c| c.policy.as_deref());
    let (mut governed, rewritten) = match cx.live.gateway.tool_call(
        server.policy_for(tool_name),
        key_policy,
        server.trust,
        arguments.as_ref(),
    ) {
        Ok(x) => x,
        Err(r) => {
            refusal(&server.name, "policy");
            crate::limits::settle(ticket, 0, None);
            return Err(refuse(draft, &r.error, Some(&r.report)).await);
        }
    };
    let mut upstream = match &target {
        Target::Tool { tool, .. } => json!({ "name": tool }),
        Target::Prompt { prompt, .. } => json!({ "name": prompt }),
        Target::Resource { uri } => json!({ "uri": uri }),
    };
    if uri_args {
        if let Some(u) = rewritten.as_ref().and_then(|r| r.get("uri")) {
            upstream["uri"] = u.clone();
        }
    } else if let Some(a) = rewritten.clone().or(arguments) {
        upstream["arguments"] = a;
    }
    if let Some(m) = params.get("_meta") {
        upstream["_meta"] = m.clone();
    }

    // The call.
    let timeout = Duration::from_millis(server.timeout_for(tool_name));
    // What the server gets, with its own names: copied only when the class keeps payloads.
    let sent_params = draft
        .keeps_payloads()
        .then(|| Rewritten::Json(Box::new(upstream.clone())));
    let sent = Instant::now();
    let answer = cx
        .hub
        .call(&server.name, target.method(), upstream, timeout, notify)
        .await;
    let upstream_time = sent.elapsed();
    if let Some(r) = draft.span() {
        let code = answer.as_ref().err().map(|e| errors::upstream(e).2);
        crate::otel::mcp_upstream(r, &server.name, target.method(), upstream_time, code);
    }
    crate::limits::settle(ticket, 0, None);
    let remask = governed.remask();
    let attempt = |status: u16, code: Option<&'static str>| Attempt {
        target: 0,
        label: format!("mcp:{}", server.name),
        status,
        latency: upstream_time,
        code,
    };
    let mut result = match answer {
        Ok(v) => v,
        Err(e) => {
            let (obj, status, code) = errors::upstream(&e);
            count(&server.name, &label, code, started);
            let remote = matches!(e, CallError::Remote(_));
            let attempts = [attempt(if remote { 200 } else { status }, Some(code))];
            let done = draft
                .finish(Finish {
                    status: if remote { 200 } else { status },
                    error_code: Some(code.to_owned()),
                    route: Some(format!("mcp:{}", server.name)),
                    attempts: &attempts,
                    policy: governed.active().then_some(&governed.report),
                    rewritten: sent_params.as_ref(),
                    ..Finish::default()
                })
                .await;
            return Err(match done {
                Ok(()) => obj,
                Err(audit) => errors::object(&audit),
            });
        }
    };

    // The output policy on what comes back. An answer the injection rule blocks never reaches
    // the client: a tool's becomes a tool error the agent's model reads (MCP's way for a tool's
    // own failure), a prompt or a resource a JSON-RPC error.
    let mut error_code = None;
    if let Err(e) = governed.answer(&mut result) {
        let attempts = [attempt(200, None)];
        count(&server.name, &label, "withheld", started);
        if !matches!(target, Target::Tool { .. }) {
            let done = draft
                .finish(Finish {
                    status: e.status,
                    error_code: Some(e.code.to_string()),
                    route: Some(format!("mcp:{}", server.name)),
                    attempts: &attempts,
                    policy: Some(&governed.report),
                    rewritten: sent_params.as_ref(),
                    ..Finish::default()
                })
                .await;
            return Err(match done {
                Ok(()) => errors::object(&e),
                Err(audit) => errors::object(&audit),
            });
        }
        result = json!({
            "content": [{"type": "text", "text": format!("Seam withheld this tool's result. {}", e.message)}],
            "isError": true,
        });
        error_code = Some(e.code.to_string());
    }
    let tool_error = result.get("isError").and_then(Value::as_bool) == Some(true);
    if error_code.is_none() {
        let outcome = if tool_error { "tool_error" } else { "ok" };
        count(&server.name, &label, outcome, started);
    }
    let attempts = [attempt(200, None)];
    let response = draft.keeps_payloads().then(|| result.clone());
    let done = draft
        .finish(Finish {
            status: 200,
            error_code: error_code.or_else(|| tool_error.then(|| "tool_error".to_owned())),
            route: Some(format!("mcp:{}", server.name)),
            attempts: &attempts,
            policy: governed.active().then_some(&governed.report),
            rewritten: sent_params.as_ref(),
            remask: remask.as_ref(),
            response,
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => Ok(result),
        Err(audit) => Err(errors::object(&audit)),
    }
}

/// A call of something the key may not see, or no server serves: recorded like any refusal (the
/// name only as the scanner lets it through), answered as an unknown name.
pub(crate) async fn unknown(
    cx: &Cx<'_>,
    endpoint: &'static str,
    name: &str,
    error: ErrorObject,
) -> ErrorObject {
    let mut draft = cx
        .st
        .draft(cx.live, cx.rid, cx.start, cx.headers, endpoint, cx.caller);
    draft.set_kind(seam_store::RecordKind::ToolCall);
    let recorded = cx.live.gateway.label_for_record(name).into_owned();
    draft.request(&recorded, None, None, &Value::Null);
    let e = seam_types::ApiError::new(seam_types::ErrorCode::ToolNotFound, error.message.clone());
    let done = draft
        .finish(Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => error,
        Err(audit) => errors::object(&audit),
    }
}

/// A call Seam refused before the server saw it: its record, then the error.
async fn refuse(
    draft: Draft,
    e: &seam_types::ApiError,
    report: Option<&seam_gateway::PolicyReport>,
) -> ErrorObject {
    let done = draft
        .finish(Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            policy: report,
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => errors::object(e),
        Err(audit) => errors::object(&audit),
    }
}

fn count(server: &str, tool: &str, outcome: &'static str, started: Instant) {
    ::metrics::counter!(crate::metrics::MCP_CALLS, "server" => server.to_owned(), "tool" => tool.to_owned(), "outcome" => outcome).increment(1);
    ::metrics::histogram!(crate::metrics::MCP_CALL_DURATION, "server" => server.to_owned(), "tool" => tool.to_owned())
        .record(started.elapsed().as_secs_f64());
}

/// A refusal before the server was called, by reason (`scope`, `policy`, `limits`).
pub(crate) fn refusal(server: &str, reason: &'static str) {
    ::metrics::counter!(crate::metrics::MCP_REFUSALS, "server" => server.to_owned(), "reason" => reason)
        .increment(1);
}
