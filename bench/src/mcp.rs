//! The MCP scenario: what Seam adds to a `tools/call`, measured against the tool server called
//! directly, without and with a policy on results, and the MCP wire both sides of it speak.
//!
//! The mock's `POST /mcp` ([`answer`]) is a minimal MCP server (streamable HTTP, JSON answers):
//! `initialize` (with an `Mcp-Session-Id`), notifications (`202`), `tools/list` (one tool, `echo`)
//! and `tools/call` of `echo`, which answers a ~300-byte text carrying an email address and a phone
//! number ([`RESULT_TEXT`]). Seam is started on its own port with two `[mcp.servers]` pointing at
//! that mock: `bench` (no policy) and `guarded` (the policy `tools`, which redacts personal data
//! and secrets in results), and the audit trail on (sync SQLite, class `metadata`: a record per
//! call, committed before the answer), so every call through it pays for its audit record.
//!
//! 1. A probe per path: a session, then one call; every answer must be a JSON-RPC result, the
//!    direct and `bench` ones carrying the email, the `guarded` one without it.
//! 2. One open-loop run whose calls take three slots in turn — the mock directly (`echo`),
//!    `bench__echo` and `guarded__echo` through seam — at `--mcp-rate` calls per second each, each
//!    slot on a session the load generator opened before its warm-up; added latency is each seam
//!    slot − direct.
//! 3. Closed-loop saturation (`--saturation-concurrency` workers, no warm-up) on each path in
//!    turn; through seam the audit store's records are counted before and after, and must have
//!    grown by one per answer.
//!
//! Any failed call, a `guarded` answer that still carries the email, or a missing record fails
//! the run ([`Mcp::ensure_sound`]), after the report is printed.

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit_store;
use crate::body::Prompt;
use crate::load::Client;
use crate::procs::{self, AuditMode, Launcher, Ports, SeamProcess, SeamSpec};
use crate::report::{cells, ratio, signed};
use crate::routing::Check;
use crate::run::{LoadRun, RunArgs, Scenario, run_load_with};
use crate::stats::LoadReport;

/// Where MCP's streamable HTTP transport listens, on the mock and on seam.
pub const PATH: &str = "/mcp";
/// The revision the bench speaks on both sides.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// What an MCP client must accept: a JSON answer or an SSE stream.
const ACCEPTS: &str = "application/json, text/event-stream";

/// The mock's one tool.
pub const TOOL: &str = "echo";
/// The servers in seam's config: the same mock, without and with the output policy.
pub const PLAIN_SERVER: &str = "bench";
pub const GUARDED_SERVER: &str = "guarded";
/// The policy `guarded` runs (`[policies.tools]`).
pub const POLICY: &str = "tools";
/// The session id the mock gives every `initialize`; it keeps no state per session.
const MOCK_SESSION: &str = "seam-bench-mock-session";

/// The email address in [`RESULT_TEXT`] (the policy scenario's prompt has it too); whether an
/// answer still carries it is how the bench sees the output policy at work.
pub const EMAIL: &str = "maria.keller@example.com";

/// What `echo` answers: a support-ticket summary with an email address and a phone number in it,
/// the kind of tool result an output policy exists for.
pub const RESULT_TEXT: &str = concat!(
    "Ticket 48213 (open, priority normal): the customer was charged three times 59.90 EUR for one ",
    "order after the checkout timed out twice. She asks to cancel the two extra orders and refund ",
    "them. Contact: maria.keller@example.com or +44 20 7946 0958, office hours only. Last update: ",
    "finance confirmed the duplicates; refund due within 5 working days."
);

/// The arguments every call sends (no personal data: the policy has no input stage here).
const ARGUMENTS: &str = r#"{"ticket":"48213","fields":["summary","contact"]}"#;

/// The issue's budget for what seam adds to a call at p50, without and with the output policy.
pub const ADDED_P50_MS: f64 = 0.2;
pub const ADDED_P50_POLICY_MS: f64 = 0.3;

/// A whole answer is read into memory to be checked; a bound on what a slot may keep.
const MAX_ANSWER_BYTES: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The client side: requests, sessions, and the check of every answer.

/// A `tools/call` of `tool` with the bench's arguments.
pub fn call_body(tool: &str, id: u64) -> Bytes {
    let tool = Value::from(tool);
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":{tool},"arguments":{ARGUMENTS}}}}}"#
    ))
}

/// A POST of `body` to `url` with the headers every MCP request carries, and the session's.
pub fn request(url: &Uri, body: Bytes, session: Option<&HeaderValue>) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static(ACCEPTS));
    if let Some(session) = session {
        headers.insert(SESSION_HEADER, session.clone());
        headers.insert(VERSION_HEADER, HeaderValue::from_static(PROTOCOL_VERSION));
    }
    request
}

/// Checks the answer to call `id`: a JSON-RPC 2.0 result for that id, not a tool error, with a
/// text. `Ok(true)` when the text still carries [`EMAIL`]; the error is a short kind the report
/// counts (`jsonrpc_-32602`, `tool_error`, …).
pub fn check_answer(body: &[u8], id: u64) -> Result<bool, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "not_json".to_owned())?;
    if let Some(error) = v.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        return Err(format!("jsonrpc_{code}"));
    }
    let result = match v.get("result") {
        Some(r) if v.get("jsonrpc").and_then(Value::as_str) == Some("2.0") => r,
        _ => return Err("not_jsonrpc".to_owned()),
    };
    if v.get("id").and_then(Value::as_u64) != Some(id) {
        return Err("wrong_id".to_owned());
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err("tool_error".to_owned());
    }
    let text = result
        .get("content")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| "no_text".to_owned())?;
    Ok(text.contains(EMAIL))
}

/// One MCP session on a server (the mock, or seam).
pub struct Session {
    pub url: Uri,
    /// The `Mcp-Session-Id` the server gave, if any.
    pub id: Option<HeaderValue>,
}

impl Session {
    /// `initialize`, then `notifications/initialized`: what a client does before its first call.
    pub async fn open(client: &Client, url: &Uri) -> anyhow::Result<Self> {
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "seam-bench", "version": env!("CARGO_PKG_VERSION")}
            }
        });
        let (status, headers, body) = post(client, request(url, json_bytes(&init), None)).await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let version = answer
            .get("result")
            .and_then(|r| r.get("protocolVersion"))
            .and_then(Value::as_str);
        anyhow::ensure!(
            status == StatusCode::OK && version == Some(PROTOCOL_VERSION),
            "initialize at {url} answered {status} without protocol version {PROTOCOL_VERSION}: {}",
            shown(&body)
        );
        let id = headers.get(SESSION_HEADER).cloned();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, body) = post(client, request(url, json_bytes(&note), id.as_ref())).await?;
        anyhow::ensure!(
            status == StatusCode::ACCEPTED,
            "notifications/initialized at {url} answered {status} (expected 202): {}",
            shown(&body)
        );
        Ok(Self {
            url: url.clone(),
            id,
        })
    }

    /// One `tools/call` of `tool`; whether its text carried [`EMAIL`], or why it failed.
    pub async fn call(&self, client: &Client, tool: &str) -> anyhow::Result<bool> {
        let req = request(&self.url, call_body(tool, 1), self.id.as_ref());
        let (status, _, body) = post(client, req).await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "tools/call of `{tool}` at {} answered {status}: {}",
            self.url,
            shown(&body)
        );
        check_answer(&body, 1).map_err(|kind| {
            anyhow::anyhow!(
                "tools/call of `{tool}` at {} failed ({kind}): {}",
                self.url,
                shown(&body)
            )
        })
    }
}

async fn post(
    client: &Client,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
    let url = request.uri().clone();
    let response = client
        .request(request)
        .await
        .with_context(|| format!("posting to {url}"))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer from {url}: {e}"))?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// The start of an answer, for an error message.
fn shown(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The mock side.

/// How the mock answers one POST to `/mcp`.
pub struct Answer {
    pub status: StatusCode,
    /// JSON, or empty for a `202`.
    pub body: Bytes,
    /// Whether the answer carries the mock's `Mcp-Session-Id` (`initialize` only).
    pub session: Option<HeaderValue>,
}

/// The results the mock sends, serialised once.
struct Canned {
    initialize: String,
    list: String,
    call: String,
}

static CANNED: LazyLock<Canned> = LazyLock::new(|| Canned {
    initialize: json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "seam-bench-mock", "version": env!("CARGO_PKG_VERSION")}
    })
    .to_string(),
    list: json!({"tools": [{
        "name": TOOL,
        "description": "Returns a support ticket's summary.",
        "inputSchema": {"type": "object"}
    }]})
    .to_string(),
    call: json!({"content": [{"type": "text", "text": RESULT_TEXT}], "isError": false}).to_string(),
});

/// The part of a JSON-RPC message the mock reads.
#[derive(Deserialize)]
struct Incoming {
    id: Option<Value>,
    method: Option<String>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
}

/// The mock's answer to one JSON-RPC message; it keeps no state (any session id is accepted).
pub fn answer(body: &[u8]) -> Answer {
    let Ok(msg) = serde_json::from_slice::<Incoming>(body) else {
        return error(StatusCode::BAD_REQUEST, &Value::Null, -32700, "Parse error");
    };
    let (Some(id), Some(method)) = (msg.id, msg.method) else {
        // A notification, or an answer to a request the mock never sends.
        return Answer {
            status: StatusCode::ACCEPTED,
            body: Bytes::new(),
            session: None,
        };
    };
    let canned = &*CANNED;
    match method.as_str() {
        "initialize" => Answer {
            session: Some(HeaderValue::from_static(MOCK_SESSION)),
            ..result(&id, &canned.initialize)
        },
        "ping" => result(&id, "{}"),
        "tools/list" => result(&id, &canned.list),
        "tools/call" => match msg.params.and_then(|p| p.name) {
            Some(name) if name == TOOL => result(&id, &canned.call),
            _ => error(StatusCode::OK, &id, -32602, "Unknown tool"),
        },
        _ => error(StatusCode::OK, &id, -32601, "Method not found"),
    }
}

fn result(id: &Value, result: &str) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#
        )),
        session: None,
    }
}

fn error(status: StatusCode, id: &Value, code: i64, message: &str) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    Answer {
        status,
        body: json_bytes(&body),
        session: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario.

/// The open-loop run (three slots in turn) and saturation per path.
#[derive(Serialize)]
pub struct Mcp {
    pub scenario: Scenario,
    pub direct: LoadReport,
    /// `bench__echo` through seam; `None` with `--direct-only`.
    pub plain: Option<LoadReport>,
    /// `guarded__echo` through seam (the output policy); `None` with `--direct-only`.
    pub guarded: Option<LoadReport>,
    pub saturation: Scenario,
    pub saturation_direct: LoadReport,
    pub saturation_plain: Option<Saturated>,
    pub saturation_guarded: Option<Saturated>,
}

/// A saturation run through seam and the audit records it left.
#[derive(Serialize)]
pub struct Saturated {
    pub report: LoadReport,
    /// Rows the MCP seam's audit store gained during the run.
    pub records: u64,
}

/// One slot: its name in the tables, its `--model` and which server it goes to.
struct McpPath {
    name: &'static str,
    slot: String,
    url: String,
}

impl Mcp {
    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        let sat = [&self.saturation_plain, &self.saturation_guarded];
        [
            Some(&self.direct),
            self.plain.as_ref(),
            self.guarded.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(sat.into_iter().flatten().map(|s| &s.report))
        .chain([&self.saturation_direct])
    }

    /// How many paths the open-loop run had (its rate is theirs together).
    fn reports_per_run(&self) -> usize {
        1 + usize::from(self.plain.is_some()) + usize::from(self.guarded.is_some())
    }

    /// What went wrong, if anything: a failed call on any path, an answer of the policy path
    /// that still carries the email (or one of the others without it), or a seam saturation run
    /// that left fewer or more audit records than answers.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.reports() {
            if r.errors > 0 || r.ok == 0 {
                out.push(format!(
                    "{}: {} of {} calls failed {:?}",
                    r.label, r.errors, r.requests, r.error_kinds
                ));
            }
        }
        let unredacted = [
            Some(&self.direct),
            self.plain.as_ref(),
            Some(&self.saturation_direct),
            self.saturation_plain.as_ref().map(|s| &s.report),
        ];
        for r in unredacted.into_iter().flatten() {
            if r.with_email != r.ok {
                out.push(format!(
                    "{}: {}/{} answers carried the email (all should: no policy)",
                    r.label, r.with_email, r.ok
                ));
            }
        }
        let guarded = [
            self.guarded.as_ref(),
            self.saturation_guarded.as_ref().map(|s| &s.report),
        ];
        for r in guarded.into_iter().flatten() {
            if r.with_email > 0 {
                out.push(format!(
                    "{}: {}/{} answers still carried the email through the policy",
                    r.label, r.with_email, r.ok
                ));
            }
        }
        for s in [&self.saturation_plain, &self.saturation_guarded]
            .into_iter()
            .flatten()
        {
            if s.records != s.report.requests {
                out.push(format!(
                    "{}: {} calls answered, {} audit records added",
                    s.report.label, s.report.requests, s.records
                ));
            }
        }
        out
    }

    /// Fails the run on any of [`Mcp::problems`]; called after the report is out.
    pub fn ensure_sound(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "the MCP scenario failed: {}",
            problems.join("; ")
        );
        Ok(())
    }
}

/// The MCP servers (both the fast mock's `/mcp`) and the policy `guarded` runs, appended to the
/// generated config of the MCP seam.
pub fn config_toml(ports: &Ports, listen: u16) -> String {
    let fast = ports.fast;
    let mut config = procs::config_toml(ports, listen, AuditMode::Metadata);
    config.push_str(&format!(
        r#"
[mcp.servers.{PLAIN_SERVER}]
url = "http://127.0.0.1:{fast}{PATH}"
max_concurrency = 4096

[mcp.servers.{GUARDED_SERVER}]
url = "http://127.0.0.1:{fast}{PATH}"
max_concurrency = 4096
policy = "{POLICY}"

[policies.{POLICY}.output]
pii = {{ action = "redact" }}
secrets = {{ action = "redact" }}
"#
    ));
    config
}

/// The namespaced name of the mock's tool on `server` through seam.
fn namespaced(server: &str) -> String {
    format!("{server}__{TOOL}")
}

/// Starts the MCP seam (unless `seam` is `None`: the direct path alone), probes each path, runs
/// the interleaved load and the saturation runs; the seam is stopped when this returns.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: Option<&Path>,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Mcp> {
    let seam_dir = dir.join("mcp");
    let seam_proc = match seam {
        Some(path) => {
            let spec = SeamSpec {
                dir: &seam_dir,
                port: ports.mcp,
                audit: AuditMode::Metadata,
                master_key: None,
            };
            let config = config_toml(ports, ports.mcp);
            Some(procs::start_seam_with(launcher, args, path, spec, &config).await?)
        }
        None => None,
    };
    let mcp_url = |port| format!("http://127.0.0.1:{port}{PATH}");
    let mut paths = vec![McpPath {
        name: "direct",
        slot: format!("mcp:{TOOL}"),
        url: mcp_url(ports.fast),
    }];
    if seam_proc.is_some() {
        for (name, server) in [("seam", PLAIN_SERVER), ("seam + policy", GUARDED_SERVER)] {
            paths.push(McpPath {
                name,
                slot: format!("mcp:{}", namespaced(server)),
                url: mcp_url(ports.mcp),
            });
        }
    }
    probe(&paths).await?;

    let rate = args.mcp_rate;
    let n = paths.len();
    let scenario = Scenario {
        key: "mcp",
        title: if n == 1 {
            format!("tools/call @ {rate:.0} calls/s")
        } else {
            format!(
                "tools/call @ {rate:.0} calls/s per path, {n} paths in turn ({:.0} calls/s in all)",
                rate * n as f64
            )
        },
        stream: false,
        rate: Some(rate * n as f64),
        concurrency: None,
        prompt: Prompt::Short,
    };
    let slots: Vec<&str> = paths.iter().map(|p| p.slot.as_str()).collect();
    let urls: Vec<String> = paths.iter().map(|p| p.url.clone()).collect();
    let load = LoadRun {
        models: &slots,
        urls: &urls,
        warmup_secs: args.warmup_secs,
    };
    let mut reports = run_load_with(launcher, args, &scenario, load, "mcp").await?;
    anyhow::ensure!(
        reports.len() == n,
        "{} MCP reports for {n} paths",
        reports.len()
    );
    let mut reports = reports.drain(..);
    let direct = reports.next().context("no direct MCP report")?;
    let (plain, guarded) = (reports.next(), reports.next());

    let saturation = Scenario {
        key: "mcp_saturation",
        title: format!(
            "tools/call saturation, {} workers",
            args.saturation_concurrency
        ),
        stream: false,
        rate: None,
        concurrency: Some(args.saturation_concurrency),
        prompt: Prompt::Short,
    };
    let db = seam_dir.join(procs::AUDIT_DB);
    let mut saturated = Vec::new();
    for path in &paths {
        // No warm-up: every call is counted, so the audit store's new rows can be held against
        // the answers (connecting the workers takes milliseconds of the run).
        let urls = [path.url.clone()];
        let load = LoadRun {
            models: &[path.slot.as_str()],
            urls: &urls,
            warmup_secs: 0.0,
        };
        let through_seam = path.name != "direct";
        let before = if through_seam {
            audit_store::count_rows(&db)?
        } else {
            0
        };
        let mut r = run_load_with(launcher, args, &saturation, load, path.name).await?;
        let report = r.pop().context("no MCP saturation report")?;
        let records = if through_seam {
            audit_store::count_rows(&db)?.saturating_sub(before)
        } else {
            0
        };
        saturated.push(Saturated { report, records });
    }
    let mut saturated = saturated.into_iter();
    let saturation_direct = saturated.next().context("no direct saturation")?.report;
    if let Some(p) = seam_proc {
        check_alive(p)?;
    }
    Ok(Mcp {
        scenario,
        direct,
        plain,
        guarded,
        saturation,
        saturation_direct,
        saturation_plain: saturated.next(),
        saturation_guarded: saturated.next(),
    })
}

/// A session and one call per path before the load, so a path that cannot work fails the run
/// at once with the server's own words. Seam may still be connecting to the mock when it is
/// ready, so an unavailable server (`-32005`) is retried for a few seconds.
async fn probe(paths: &[McpPath]) -> anyhow::Result<()> {
    let client = crate::load::client();
    for path in paths {
        let url: Uri = path.url.parse()?;
        let tool = crate::body::Surface::split(&path.slot).1;
        let deadline = Instant::now() + Duration::from_secs(10);
        let carries = loop {
            let session = Session::open(&client, &url).await?;
            match session.call(&client, tool).await {
                Ok(carries) => break carries,
                Err(e) if Instant::now() < deadline && e.to_string().contains("jsonrpc_-32005") => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.context(format!("the MCP probe of {}", path.name))),
            }
        };
        let policy = tool.starts_with(GUARDED_SERVER);
        anyhow::ensure!(
            carries != policy,
            "the MCP probe of {}: the answer {} the email",
            path.name,
            if carries { "still carried" } else { "lacked" }
        );
        eprintln!("mcp probe: {} ({tool}) answered a result", path.name);
    }
    Ok(())
}

fn check_alive(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "the MCP scenario's seam exited during it ({status}); log: {}",
            p.log.display()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report.

/// The MCP tables: the interleaved run with added latency, then saturation.
pub fn section(out: &mut String, m: &Mcp) {
    out.push_str(&format!(
        "### MCP `tools/call` (ms): the tool server directly, through seam, and through seam with \
         a policy on results\n\n\
         The mock's `{PATH}` answers `tools/call` of `{TOOL}` with a ~300-byte text carrying an \
         email address and a phone number. seam (its own process on seam's core, audit on: sync \
         SQLite, class `metadata`, a record per call committed before the answer) has it twice: \
         `{PLAIN_SERVER}` (no policy) and `{GUARDED_SERVER}` (policy `{POLICY}`: personal data \
         and secrets in results redacted). One open-loop run whose calls take the paths in turn, \
         each on an initialized session; every answer is checked to be a JSON-RPC result for its \
         id, and the last column counts the answers whose text still carried the email.\n\n\
         #### {}\n\n\
         | path | tool | calls/s | p50 | p90 | p99 | p99.9 | errors | with the email |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|\n",
        m.scenario.title
    ));
    let rows = [
        ("direct", TOOL.to_owned(), Some(&m.direct)),
        ("seam", namespaced(PLAIN_SERVER), m.plain.as_ref()),
        (
            "seam + policy",
            namespaced(GUARDED_SERVER),
            m.guarded.as_ref(),
        ),
    ];
    for (name, tool, r) in rows {
        match r {
            Some(r) => out.push_str(&format!(
                "| {name} | `{tool}` | {} | {}/{} |\n",
                cells(r, r.latency_ms),
                r.with_email,
                r.ok
            )),
            None => out.push_str(&format!(
                "| {name} | `{tool}` | pending |  |  |  |  |  |  |\n"
            )),
        }
    }
    let d = m.direct.latency_ms;
    let diffs = [
        ("**seam added** (seam − direct)", m.plain.as_ref(), None),
        (
            "**seam + policy added** (seam + policy − direct)",
            m.guarded.as_ref(),
            None,
        ),
        (
            "policy alone (seam + policy − seam)",
            m.guarded.as_ref(),
            m.plain.as_ref(),
        ),
    ];
    for (name, r, base) in diffs {
        let base = base.map_or(d, |b| b.latency_ms);
        let Some(r) = r else { continue };
        let p = r.latency_ms.minus(base);
        out.push_str(&format!(
            "| {name} |  |  | {} | {} | {} | {} |  |  |\n",
            signed(p.p50),
            signed(p.p90),
            signed(p.p99),
            signed(p.p999)
        ));
    }
    out.push_str(&format!(
        "\n#### {}, each path alone\n\n\
         Closed loop, no warm-up; through seam, the audit records the run added are counted \
         against its answers.\n\n\
         | path | calls/s | p50 | p90 | p99 | p99.9 | errors | vs direct | audit records |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        m.saturation.title
    ));
    let direct_rps = m.saturation_direct.throughput_rps;
    let r = &m.saturation_direct;
    out.push_str(&format!(
        "| direct | {} | 1.00× | — |\n",
        cells(r, r.latency_ms)
    ));
    let seams = [
        ("seam", &m.saturation_plain),
        ("seam + policy", &m.saturation_guarded),
    ];
    for (name, s) in seams {
        let Some(s) = s else { continue };
        let r = &s.report;
        out.push_str(&format!(
            "| {name} | {} | {} | {}/{} |\n",
            cells(r, r.latency_ms),
            ratio(r.throughput_rps, direct_rps),
            s.records,
            r.requests
        ));
    }
    out.push('\n');
}

/// The MCP rows of the targets table: added p50 without and with the policy against the issue's
/// budget, and whether every call succeeded, was redacted where it should be, and was audited.
pub fn checks(m: &Mcp) -> Vec<Check> {
    let d = m.direct.latency_ms;
    let added = |r: Option<&LoadReport>, limit: f64| {
        r.map(|r| {
            let v = r.latency_ms.p50 - d.p50;
            (format!("{} ms", signed(v)), v <= limit)
        })
    };
    let title = format!(
        "tools/call @ {:.0} calls/s per path",
        m.direct.rate.unwrap_or(0.0) / m.reports_per_run() as f64
    );
    let problems = m.problems();
    let calls: u64 = m.reports().map(|r| r.requests).sum();
    let errors: u64 = m.reports().map(|r| r.errors).sum();
    vec![
        (
            format!("MCP added p50, seam − direct ({title})"),
            added(m.plain.as_ref(), ADDED_P50_MS),
            format!("≤ {ADDED_P50_MS} ms"),
        ),
        (
            format!("MCP added p50, seam + policy − direct ({title})"),
            added(m.guarded.as_ref(), ADDED_P50_POLICY_MS),
            format!("≤ {ADDED_P50_POLICY_MS} ms"),
        ),
        (
            "MCP calls: results, redaction, audit records (all runs)".to_owned(),
            Some((
                format!(
                    "{errors} errors in {calls} calls; {} problems",
                    problems.len()
                ),
                problems.is_empty(),
            )),
            "0 errors; policy path redacted; a record per call".to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use super::*;
    use crate::report::tests::report;

    const PHONE: &str = "+44 20 7946 0958";

    #[test]
    fn the_result_text_is_about_300_bytes_and_holds_an_email_and_a_phone_number() {
        let len = RESULT_TEXT.len();
        assert!((250..=350).contains(&len), "{len} bytes");
        assert!(RESULT_TEXT.contains(EMAIL) && RESULT_TEXT.contains(PHONE));
        let mut found: Vec<&str> = seam_policy::Scanner::all()
            .scan(RESULT_TEXT)
            .iter()
            .filter(|f| f.score >= seam_config::policy::DEFAULT_MIN_SCORE)
            .map(|f| f.entity)
            .collect();
        found.sort_unstable();
        assert_eq!(found, ["EMAIL_ADDRESS", "PHONE_NUMBER"]);
    }

    #[test]
    fn the_mock_speaks_the_handshake_and_answers_calls_of_its_tool() {
        let init = answer(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
        assert_eq!(init.status, StatusCode::OK);
        assert_eq!(init.session.unwrap(), MOCK_SESSION);
        let v: Value = serde_json::from_slice(&init.body).unwrap();
        assert_eq!(v["result"]["protocolVersion"], PROTOCOL_VERSION);
        assert_eq!(v["result"]["capabilities"], json!({"tools": {}}));

        let note = answer(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!((note.status, note.body.len()), (StatusCode::ACCEPTED, 0));

        let list = answer(br#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#);
        let v: Value = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(v["id"], "a");
        assert_eq!(v["result"]["tools"][0]["name"], TOOL);
        assert_eq!(v["result"]["tools"][0]["inputSchema"]["type"], "object");

        let call = answer(&call_body(TOOL, 42));
        assert_eq!(call.status, StatusCode::OK);
        assert!(call.session.is_none());
        assert_eq!(check_answer(&call.body, 42), Ok(true));
        let v: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(v["result"]["content"][0]["text"], RESULT_TEXT);
        assert_eq!(v["result"]["isError"], false);

        let unknown = answer(&call_body("nope", 7));
        assert_eq!(check_answer(&unknown.body, 7), Err("jsonrpc_-32602".into()));
        let method = answer(br#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#);
        assert_eq!(check_answer(&method.body, 1), Err("jsonrpc_-32601".into()));
        assert_eq!(answer(b"not json").status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_answer_must_be_a_result_for_its_id_with_a_text() {
        let ok = |text: &str| {
            json!({"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": text}], "isError": false}})
                .to_string()
        };
        assert_eq!(check_answer(ok(RESULT_TEXT).as_bytes(), 3), Ok(true));
        let redacted = RESULT_TEXT.replace(EMAIL, "[EMAIL_ADDRESS]");
        assert_eq!(check_answer(ok(&redacted).as_bytes(), 3), Ok(false));
        assert_eq!(check_answer(ok("x").as_bytes(), 4), Err("wrong_id".into()));
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32005,"message":"down"}}"#,
                "jsonrpc_-32005",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"isError":true}}"#,
                "tool_error",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#,
                "no_text",
            ),
            (r#"{"id":3,"result":{}}"#, "not_jsonrpc"),
            ("event: message\ndata: {}\n\n", "not_json"),
        ];
        for (body, kind) in cases {
            assert_eq!(check_answer(body.as_bytes(), 3), Err(kind.into()), "{body}");
        }
    }

    #[test]
    fn a_call_carries_the_session_and_the_protocol_version() {
        let url: Uri = "http://127.0.0.1:1/mcp".parse().unwrap();
        let session = HeaderValue::from_static("s-1");
        let req = request(&url, call_body("bench__echo", 9), Some(&session));
        assert_eq!(req.headers()[SESSION_HEADER], "s-1");
        assert_eq!(req.headers()[VERSION_HEADER], PROTOCOL_VERSION);
        assert!(
            req.headers()[ACCEPT]
                .to_str()
                .unwrap()
                .contains("text/event-stream")
        );
        let body = call_body("bench__echo", 9);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["params"]["name"], "bench__echo");
        assert_eq!(
            (v["id"].as_u64(), v["method"].as_str()),
            (Some(9), Some("tools/call"))
        );
        let init = request(&url, Bytes::new(), None);
        assert!(init.headers().get(SESSION_HEADER).is_none());
    }

    /// The generated config through seam's parser: two servers on the mock, one with the policy.
    #[test]
    fn the_mcp_seam_config_has_both_servers_and_the_policy_and_keeps_its_audit() {
        let ports = Ports::from_base(18700);
        let config = config_toml(&ports, ports.mcp);
        let resolver = seam_config::Resolver {
            env: &|_| None,
            base_dir: std::path::PathBuf::from("/run-dir"),
        };
        let parsed = seam_config::from_toml(&config, &resolver).unwrap();
        assert!(parsed.audit.enabled);
        assert_eq!(parsed.audit.durability, seam_config::Durability::Sync);
        let servers = &parsed.mcp.servers;
        for name in [PLAIN_SERVER, GUARDED_SERVER] {
            let url = match &servers[name].transport {
                seam_config::McpTransport::Http { url, .. } => url.clone(),
                _ => panic!("{name} is not an HTTP server"),
            };
            assert_eq!(url, "http://127.0.0.1:18701/mcp");
            assert_eq!(servers[name].max_concurrency, 4096);
        }
        assert_eq!(servers[PLAIN_SERVER].policy, None);
        assert_eq!(servers[GUARDED_SERVER].policy.as_deref(), Some(POLICY));
        use seam_config::policy::Action;
        let output = &parsed.policies[POLICY].output;
        assert_eq!(output.pii.as_ref().map(|r| r.action), Some(Action::Redact));
        assert_eq!(
            output.secrets.as_ref().map(|r| r.action),
            Some(Action::Redact)
        );
    }

    fn sample(with_email: bool) -> LoadReport {
        let mut r = report(0.2, 0.4, 500.0, false);
        r.with_email = if with_email { r.ok } else { 0 };
        r
    }

    fn mcp(direct: LoadReport, plain: LoadReport, guarded: LoadReport) -> Mcp {
        let scenario = |key| Scenario {
            key,
            title: "t".to_owned(),
            stream: false,
            rate: Some(1500.0),
            concurrency: None,
            prompt: Prompt::Short,
        };
        let saturated = |r: LoadReport| Saturated {
            records: r.requests,
            report: r,
        };
        Mcp {
            scenario: scenario("mcp"),
            saturation_direct: direct.clone(),
            saturation_plain: Some(saturated(plain.clone())),
            saturation_guarded: Some(saturated(guarded.clone())),
            direct,
            plain: Some(plain),
            guarded: Some(guarded),
            saturation: scenario("mcp_saturation"),
        }
    }

    #[test]
    fn the_tables_show_what_seam_adds_and_the_checks_hold_the_budget() {
        let mut plain = sample(true);
        plain.latency_ms.p50 = 0.35;
        let mut guarded = sample(false);
        guarded.latency_ms.p50 = 0.55;
        let m = mcp(sample(true), plain, guarded);
        let mut md = String::new();
        section(&mut md, &m);
        assert!(
            md.contains("| **seam added** (seam − direct) |  |  | +0.150 |"),
            "{md}"
        );
        assert!(
            md.contains("| policy alone (seam + policy − seam) |  |  | +0.200 |"),
            "{md}"
        );
        assert!(md.contains("| 10/10 |"), "{md}");
        assert!(md.contains("| 0/10 |"), "{md}");
        let rows = checks(&m);
        assert_eq!(rows[0].1, Some(("+0.150 ms".to_owned(), true)));
        assert_eq!(rows[1].1, Some(("+0.350 ms".to_owned(), false)));
        assert_eq!(rows[2].1.as_ref().map(|c| c.1), Some(true));
        assert!(m.ensure_sound().is_ok());
    }

    #[test]
    fn an_unredacted_answer_an_error_or_a_missing_record_fails_the_run() {
        let m = mcp(sample(true), sample(true), sample(true));
        assert!(
            m.problems()[0].contains("still carried the email"),
            "{:?}",
            m.problems()
        );
        let mut failing = sample(true);
        failing.errors = 2;
        let m = mcp(sample(true), failing, sample(false));
        assert!(m.ensure_sound().is_err());
        let mut m = mcp(sample(true), sample(true), sample(false));
        assert!(m.problems().is_empty());
        if let Some(s) = &mut m.saturation_plain {
            s.records -= 1;
        }
        assert!(
            m.problems()[0].contains("audit records added"),
            "{:?}",
            m.problems()
        );
    }
}
