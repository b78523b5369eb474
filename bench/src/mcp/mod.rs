//! The MCP scenario: what Seam adds to a `tools/call` over calling the tool server directly,
//! without and with a policy on results, and how much of it is the audit record.
//!
//! The mock's `POST /mcp` ([`wire::answer`]) is a minimal MCP tool server whose one tool, `echo`,
//! answers a ~300-byte text carrying an email address and a phone number. Two seams, both on
//! seam's core, have that mock twice in `[mcp.servers]`: `bench` (no policy) and `guarded` (the
//! policy `tools`, which redacts personal data and secrets in results). One keeps the audit trail
//! (SQLite, class `metadata`: a record per call, committed before the answer; with
//! `--mcp-async-audit` queued instead), as a config without a master key does by default; the
//! targets are read on it. The other has it off, to show how much of what seam adds is the record,
//! and serves the reference path too: a chat completion to the same mock, so "MCP over chat" is
//! what a tool call costs beyond any request through seam on the machine of the moment.
//!
//! 1. A probe per MCP path: a session, then one call; every answer must be a JSON-RPC result, the
//!    `guarded` one without the email, the others with it. seam's hub may still be connecting
//!    when seam is ready, so an unavailable server is retried for a few seconds.
//! 2. One open-loop run whose calls take the paths in turn ([`Way`]) at `--mcp-rate` calls per
//!    second each, each path on a session the load generator opened before its warm-up; added
//!    latency is a path − direct.
//! 3. Closed-loop saturation (`--saturation-concurrency` workers, no warm-up) on each path
//!    alone; on the audited seam the store's records are counted before and after, and must have
//!    grown by one per call.
//!
//! Any failed call, a `guarded` answer that still carries the email (or another path's without
//! it), or a missing record fails the run ([`Mcp::ensure_sound`]), after the report is printed.

mod wire;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::Uri;
use serde::Serialize;

pub use wire::{PATH, SESSION_HEADER, Session, answer, call_body, check_answer, request};

use crate::audit_store;
use crate::body::Prompt;
use crate::procs::{self, AuditMode, Launcher, Ports, SeamProcess, SeamSpec};
use crate::report::{cells, ratio, signed};
use crate::routing::Check;
use crate::run::{LoadRun, RunArgs, Scenario, run_load_with};
use crate::stats::LoadReport;

/// The servers in seam's config: the same mock, without and with the output policy.
pub const PLAIN_SERVER: &str = "bench";
pub const GUARDED_SERVER: &str = "guarded";
/// The policy `guarded` runs (`[policies.tools]`).
pub const POLICY: &str = "tools";

/// The issue's budget for what seam adds to a call at p50, without and with the output policy
/// (audit trail on).
pub const ADDED_P50_MS: f64 = 0.2;
pub const ADDED_P50_POLICY_MS: f64 = 0.3;

/// A path a call takes; the open-loop run's slots, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// The mock's `/mcp`, tool `echo`.
    Direct,
    /// The audited seam, `bench__echo` (no policy).
    Seam,
    /// The audited seam, `guarded__echo` (the output policy).
    Guarded,
    /// The seam with the audit trail off, `bench__echo`.
    Unaudited,
    /// The reference: a chat completion (alias `bench`, the same mock) through the seam with the
    /// audit trail off, so MCP − chat is what the MCP path costs over seam's model path on the
    /// machine of the moment.
    Chat,
}

impl Way {
    const ALL: [Way; 5] = [
        Way::Direct,
        Way::Seam,
        Way::Guarded,
        Way::Unaudited,
        Way::Chat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Way::Direct => "direct",
            Way::Seam => "seam",
            Way::Guarded => "seam + policy",
            Way::Unaudited => "seam, audit off",
            Way::Chat => "chat via seam, audit off",
        }
    }

    /// The tool the calls name on this path (the alias, for chat).
    fn tool(self) -> String {
        match self {
            Way::Direct => wire::TOOL.to_owned(),
            Way::Seam | Way::Unaudited => namespaced(PLAIN_SERVER),
            Way::Guarded => namespaced(GUARDED_SERVER),
            Way::Chat => CHAT_ALIAS.to_owned(),
        }
    }

    /// The load generator's `--model` for this path.
    fn slot(self) -> String {
        match self {
            Way::Chat => CHAT_ALIAS.to_owned(),
            _ => format!("mcp:{}", self.tool()),
        }
    }

    /// Whether its answers are MCP results (read and checked for the email).
    fn is_mcp(self) -> bool {
        self != Way::Chat
    }

    /// Whether the answers must come without the email.
    fn redacted(self) -> bool {
        self == Way::Guarded
    }

    /// Whether each call leaves a record in the audited seam's store.
    fn audited(self) -> bool {
        matches!(self, Way::Seam | Way::Guarded)
    }

    fn url(self, ports: &Ports) -> String {
        let port = match self {
            Way::Direct => ports.fast,
            Way::Seam | Way::Guarded => ports.mcp,
            Way::Unaudited | Way::Chat => ports.mcp_unaudited,
        };
        if self == Way::Chat {
            Ports::url(port)
        } else {
            format!("http://127.0.0.1:{port}{PATH}")
        }
    }
}

/// The chat reference's alias (the fast mock, no policy) in the generated config.
const CHAT_ALIAS: &str = "bench";

/// The namespaced name of the mock's tool on `server` through seam.
fn namespaced(server: &str) -> String {
    format!("{server}__{}", wire::TOOL)
}

/// One path's runs.
#[derive(Serialize)]
pub struct PathRun {
    pub way: Way,
    /// Its slot of the open-loop run.
    pub load: LoadReport,
    /// Closed loop, the path alone.
    pub saturation: LoadReport,
    /// Records the audited seam's store gained during the saturation run (audited paths only).
    pub records: Option<u64>,
}

/// The open-loop run and saturation, per path (direct alone with `--direct-only`).
#[derive(Serialize)]
pub struct Mcp {
    /// The audited seam's `durability`: `sync` (the default) or `async`.
    pub durability: &'static str,
    /// `--mcp-rate`: calls per second on each path (the scenario's rate is all of them).
    pub rate_per_path: f64,
    pub scenario: Scenario,
    pub saturation: Scenario,
    pub paths: Vec<PathRun>,
}

impl Mcp {
    pub fn get(&self, way: Way) -> Option<&PathRun> {
        self.paths.iter().find(|p| p.way == way)
    }

    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        self.paths.iter().flat_map(|p| [&p.load, &p.saturation])
    }

    /// What went wrong, if anything: a failed call on any path, a `guarded` answer that still
    /// carries the email or another path's answer without it, or an audited saturation run that
    /// left fewer or more records than calls.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.paths {
            for r in [&p.load, &p.saturation] {
                if r.errors > 0 || r.ok == 0 {
                    out.push(format!(
                        "{}: {} of {} calls failed {:?}",
                        r.label, r.errors, r.requests, r.error_kinds
                    ));
                }
                if p.way.redacted() && r.with_email > 0 {
                    out.push(format!(
                        "{}: {}/{} answers still carried the email through the policy",
                        r.label, r.with_email, r.ok
                    ));
                }
                if p.way.is_mcp() && !p.way.redacted() && r.with_email != r.ok {
                    out.push(format!(
                        "{}: {}/{} answers carried the email (all should: no policy)",
                        r.label, r.with_email, r.ok
                    ));
                }
            }
            if let Some(records) = p.records.filter(|n| *n != p.saturation.requests) {
                out.push(format!(
                    "{}: {} calls, {records} audit records added",
                    p.saturation.label, p.saturation.requests
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

/// The config of an MCP seam: the generated one with `audit`, and both servers (the fast mock's
/// `/mcp`) and the policy `guarded` runs.
pub fn config_toml(ports: &Ports, listen: u16, audit: AuditMode) -> String {
    let fast = ports.fast;
    let mut config = procs::config_toml(ports, listen, audit);
    config.push_str(&format!(
        r#"
[mcp.servers.{PLAIN_SERVER}]
url = "http://127.0.0.1:{fast}{PATH}"
max_concurrency = 4096

[mcp.servers.{GUARDED_SERVER}]
url = "http://127.0.0.1:{fast}{PATH}"
max_concurrency = 4096
policy = "{POLICY}"

[policies.{POLICY}]
# The MCP scenario measures the gateway with the rules; the names scenario measures the model.
ner = false

[policies.{POLICY}.output]
pii = {{ action = "redact" }}
secrets = {{ action = "redact" }}
"#
    ));
    config
}

/// Starts the two MCP seams (none when `seam` is `None`: the direct path alone), probes each
/// path, runs the interleaved load and the saturation runs; the seams stop when this returns.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: Option<&Path>,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Mcp> {
    let audited_dir = dir.join("mcp");
    let (audited, durability) = if args.mcp_async_audit {
        (AuditMode::MetadataAsync, "async")
    } else {
        (AuditMode::Metadata, "sync")
    };
    let seams = match seam {
        Some(path) => {
            let mut started = Vec::new();
            let two = [
                (&audited_dir, ports.mcp, audited),
                (
                    &dir.join("mcp-audit-off"),
                    ports.mcp_unaudited,
                    AuditMode::Off,
                ),
            ];
            for (dir, port, audit) in two {
                let spec = SeamSpec {
                    dir,
                    port,
                    audit,
                    master_key: None,
                };
                let config = config_toml(ports, port, audit);
                started.push(procs::start_seam_with(launcher, args, path, spec, &config).await?);
            }
            started
        }
        None => Vec::new(),
    };
    let ways = if seams.is_empty() {
        vec![Way::Direct]
    } else {
        Way::ALL.to_vec()
    };
    probe(&ways, ports).await?;

    let rate = args.mcp_rate;
    let n = ways.len();
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
    let slots: Vec<String> = ways.iter().map(|w| w.slot()).collect();
    let slot_refs: Vec<&str> = slots.iter().map(String::as_str).collect();
    let urls: Vec<String> = ways.iter().map(|w| w.url(ports)).collect();
    let load = LoadRun {
        models: &slot_refs,
        urls: &urls,
        warmup_secs: args.warmup_secs,
    };
    let loads = run_load_with(launcher, args, &scenario, load, "mcp").await?;
    anyhow::ensure!(
        loads.len() == n,
        "{} MCP reports for {n} paths",
        loads.len()
    );

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
    let db = audited_dir.join(procs::AUDIT_DB);
    let mut paths = Vec::new();
    for ((way, slot), load) in ways.iter().zip(&slot_refs).zip(loads) {
        // No warm-up: every call is counted, so the audit store's new rows can be held against
        // the calls (connecting the workers takes milliseconds of the run).
        let urls = [way.url(ports)];
        let run = LoadRun {
            models: &[slot],
            urls: &urls,
            warmup_secs: 0.0,
        };
        let before = way
            .audited()
            .then(|| audit_store::count_rows(&db))
            .transpose()?;
        let mut r = run_load_with(launcher, args, &saturation, run, way.name()).await?;
        let saturation = r.pop().context("no MCP saturation report")?;
        let records = match before {
            Some(before) => Some(records_since(&db, before, saturation.requests).await?),
            None => None,
        };
        paths.push(PathRun {
            way: *way,
            load,
            saturation,
            records,
        });
    }
    for seam in seams {
        check_alive(seam)?;
    }
    Ok(Mcp {
        durability,
        rate_per_path: rate,
        scenario,
        saturation,
        paths,
    })
}

/// Rows the store gained since it held `before`, once they reach `expected` or 10 s have passed:
/// under sync durability they are all there when the calls are answered, under async the queue
/// may still be draining.
async fn records_since(db: &Path, before: u64, expected: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let added = audit_store::count_rows(db)?.saturating_sub(before);
        if added >= expected || Instant::now() >= deadline {
            return Ok(added);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A session and one call per path before the load, so a path that cannot work fails the run
/// at once with the server's own words.
async fn probe(ways: &[Way], ports: &Ports) -> anyhow::Result<()> {
    let client = crate::load::client();
    for way in ways.iter().filter(|w| w.is_mcp()) {
        let url: Uri = way.url(ports).parse()?;
        let tool = way.tool();
        let deadline = Instant::now() + Duration::from_secs(10);
        let carries = loop {
            let session = Session::open(&client, &url).await?;
            match session.call(&client, &tool).await {
                Ok(carries) => break carries,
                // seam is ready before its hub has connected to the mock: `-32005` until then.
                Err(e) if Instant::now() < deadline && e.to_string().contains("jsonrpc_-32005") => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.context(format!("the MCP probe of {}", way.name()))),
            }
        };
        anyhow::ensure!(
            carries != way.redacted(),
            "the MCP probe of {}: the answer {} the email",
            way.name(),
            if carries { "still carried" } else { "lacked" }
        );
        eprintln!("mcp probe: {} (`{tool}`) answered a result", way.name());
    }
    Ok(())
}

fn check_alive(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "a seam of the MCP scenario exited during it ({status}); log: {}",
            p.log.display()
        );
    }
    Ok(())
}

/// The MCP tables: the interleaved run with what each path adds, then saturation.
pub fn section(out: &mut String, m: &Mcp) {
    out.push_str(&format!(
        "### MCP `tools/call` (ms): the tool server directly, through seam, and through seam with \
         a policy on results\n\n\
         The mock's `{PATH}` answers `tools/call` of `{tool}` with a ~300-byte text carrying an \
         email address and a phone number. Two seams on seam's core have it twice: `{PLAIN_SERVER}` \
         (no policy) and `{GUARDED_SERVER}` (policy `{POLICY}`: personal data and secrets in \
         results redacted); one keeps the audit trail (SQLite, class `metadata`, durability \
         `{durability}`: a record per call, {committed}), the other has it off and also serves \
         the reference path, a chat completion to the same mock (alias `{CHAT_ALIAS}`). One \
         open-loop run whose calls take the paths in turn, each MCP path on an initialized \
         session; every MCP answer is checked to be a JSON-RPC result for its id, and the last \
         column counts those whose text still carried the email.\n\n\
         #### {}\n\n\
         | path | tool | audit | calls/s | p50 | p90 | p99 | p99.9 | errors | with the email |\n\
         |---|---|---|--:|--:|--:|--:|--:|--:|--:|\n",
        m.scenario.title,
        tool = wire::TOOL,
        durability = m.durability,
        committed = if m.durability == "sync" {
            "committed before the answer"
        } else {
            "queued; the answer does not wait for it"
        },
    ));
    for p in &m.paths {
        let audit = match p.way {
            Way::Direct => "—",
            Way::Unaudited | Way::Chat => "off",
            Way::Seam | Way::Guarded => m.durability,
        };
        let (tool, email) = if p.way.is_mcp() {
            let email = format!("{}/{}", p.load.with_email, p.load.ok);
            (format!("`{}`", p.way.tool()), email)
        } else {
            (format!("`{}` (chat)", p.way.tool()), "—".to_owned())
        };
        out.push_str(&format!(
            "| {} | {tool} | {audit} | {} | {email} |\n",
            p.way.name(),
            cells(&p.load, p.load.latency_ms),
        ));
    }
    let diffs = [
        ("**seam added** (seam − direct)", Way::Seam, Way::Direct),
        (
            "**seam + policy added** (seam + policy − direct)",
            Way::Guarded,
            Way::Direct,
        ),
        (
            "policy alone (seam + policy − seam)",
            Way::Guarded,
            Way::Seam,
        ),
        (
            "audit record alone (seam − seam, audit off)",
            Way::Seam,
            Way::Unaudited,
        ),
        (
            "MCP over chat, same seam (seam, audit off − chat via seam)",
            Way::Unaudited,
            Way::Chat,
        ),
        (
            "seam with audit off added (seam, audit off − direct)",
            Way::Unaudited,
            Way::Direct,
        ),
    ];
    for (name, a, b) in diffs {
        let (Some(a), Some(b)) = (m.get(a), m.get(b)) else {
            continue;
        };
        let p = a.load.latency_ms.minus(b.load.latency_ms);
        out.push_str(&format!(
            "| {name} |  |  |  | {} | {} | {} | {} |  |  |\n",
            signed(p.p50),
            signed(p.p90),
            signed(p.p99),
            signed(p.p999)
        ));
    }
    out.push_str(&format!(
        "\n#### {}, each path alone\n\n\
         Closed loop, no warm-up; on the audited seam, the records the run added are counted \
         against its calls.\n\n\
         | path | calls/s | p50 | p90 | p99 | p99.9 | errors | vs direct | audit records |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        m.saturation.title
    ));
    let direct_rps = m
        .get(Way::Direct)
        .map_or(0.0, |d| d.saturation.throughput_rps);
    for p in &m.paths {
        let r = &p.saturation;
        let records = p
            .records
            .map_or_else(|| "—".to_owned(), |n| format!("{n}/{}", r.requests));
        out.push_str(&format!(
            "| {} | {} | {} | {records} |\n",
            p.way.name(),
            cells(r, r.latency_ms),
            ratio(r.throughput_rps, direct_rps)
        ));
    }
    out.push('\n');
}

/// The MCP rows of the targets table: added p50 without and with the policy against the issue's
/// budget (audited seam), and whether every call succeeded, was redacted where it should be, and
/// was recorded.
pub fn checks(m: &Mcp) -> Vec<Check> {
    let direct = m.get(Way::Direct).map(|d| d.load.latency_ms.p50);
    let added = |way: Way, limit: f64| {
        let v = m.get(way)?.load.latency_ms.p50 - direct?;
        Some((format!("{} ms", signed(v)), v <= limit))
    };
    let title = format!(
        "tools/call @ {:.0} calls/s per path, audit on ({})",
        m.rate_per_path, m.durability
    );
    let problems = m.problems();
    let calls: u64 = m.reports().map(|r| r.requests).sum();
    let errors: u64 = m.reports().map(|r| r.errors).sum();
    vec![
        (
            format!("MCP added p50, seam − direct ({title})"),
            added(Way::Seam, ADDED_P50_MS),
            format!("≤ {ADDED_P50_MS} ms"),
        ),
        (
            format!("MCP added p50, seam + policy − direct ({title})"),
            added(Way::Guarded, ADDED_P50_POLICY_MS),
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

    /// The generated configs through seam's parser: two servers on the mock, one with the
    /// policy; the audit trail as asked.
    #[test]
    fn the_mcp_seam_configs_have_both_servers_and_the_policy_and_their_audit() {
        let ports = Ports::from_base(18700);
        let resolver = seam_config::Resolver {
            env: &|_| None,
            base_dir: std::path::PathBuf::from("/run-dir"),
        };
        let parse = |port, audit| {
            let config = config_toml(&ports, port, audit);
            seam_config::from_toml(&config, &resolver).unwrap()
        };
        let parsed = parse(ports.mcp, AuditMode::Metadata);
        assert!(parsed.audit.enabled);
        assert_eq!(parsed.audit.durability, seam_config::Durability::Sync);
        assert!(!parse(ports.mcp_unaudited, AuditMode::Off).audit.enabled);
        let queued = parse(ports.mcp, AuditMode::MetadataAsync).audit;
        assert_eq!(
            (queued.enabled, queued.durability),
            (true, seam_config::Durability::Async)
        );
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

    #[test]
    fn each_path_goes_to_its_server_with_its_tool() {
        let ports = Ports::from_base(18700);
        let paths: Vec<(String, String)> =
            Way::ALL.iter().map(|w| (w.url(&ports), w.slot())).collect();
        let url = |port: u16| format!("http://127.0.0.1:{port}/mcp");
        assert_eq!(
            paths,
            [
                (url(18701), "mcp:echo".to_owned()),
                (url(18707), "mcp:bench__echo".to_owned()),
                (url(18707), "mcp:guarded__echo".to_owned()),
                (url(18708), "mcp:bench__echo".to_owned()),
                (
                    "http://127.0.0.1:18708/v1/chat/completions".to_owned(),
                    "bench".to_owned()
                ),
            ]
        );
    }

    /// A path whose reports have `p50` and, unless redacted, the email in every answer.
    fn path(way: Way, p50: f64) -> PathRun {
        let mut r = report(p50, 0.4, 500.0, false);
        r.with_email = if way.redacted() || !way.is_mcp() {
            0
        } else {
            r.ok
        };
        PathRun {
            way,
            saturation: r.clone(),
            records: way.audited().then_some(r.requests),
            load: r,
        }
    }

    fn mcp(paths: Vec<PathRun>) -> Mcp {
        let scenario = |key| Scenario {
            key,
            title: "t".to_owned(),
            stream: false,
            rate: Some(2000.0),
            concurrency: None,
            prompt: Prompt::Short,
        };
        Mcp {
            durability: "sync",
            rate_per_path: 500.0,
            scenario: scenario("mcp"),
            saturation: scenario("mcp_saturation"),
            paths,
        }
    }

    #[test]
    fn the_tables_show_what_seam_adds_and_the_checks_hold_the_budget() {
        let m = mcp(vec![
            path(Way::Direct, 0.2),
            path(Way::Seam, 0.35),
            path(Way::Guarded, 0.55),
            path(Way::Unaudited, 0.3),
            path(Way::Chat, 0.28),
        ]);
        let mut md = String::new();
        section(&mut md, &m);
        let row = |name: &str, v: &str| format!("| {name} |  |  |  | {v} |");
        assert!(
            md.contains(&row("**seam added** (seam − direct)", "+0.150")),
            "{md}"
        );
        assert!(
            md.contains(&row("policy alone (seam + policy − seam)", "+0.200")),
            "{md}"
        );
        assert!(
            md.contains(&row(
                "audit record alone (seam − seam, audit off)",
                "+0.050"
            )),
            "{md}"
        );
        assert!(
            md.contains("| 10/10 |\n| seam + policy | `guarded__echo` | sync |"),
            "{md}"
        );
        assert!(md.contains("| 0/10 |"), "{md}");
        assert!(
            md.contains("| chat via seam, audit off | `bench` (chat) | off |"),
            "{md}"
        );
        assert!(md.contains("| 0 | — |"), "{md}");
        let mcp_over_chat = "MCP over chat, same seam (seam, audit off − chat via seam)";
        assert!(md.contains(&row(mcp_over_chat, "+0.020")), "{md}");
        assert!(md.contains("| 1.00× | 10/10 |"), "{md}");
        let rows = checks(&m);
        assert!(rows[0].0.contains("500 calls/s per path"), "{}", rows[0].0);
        assert_eq!(rows[0].1, Some(("+0.150 ms".to_owned(), true)));
        assert_eq!(rows[1].1, Some(("+0.350 ms".to_owned(), false)));
        assert_eq!(rows[2].1.as_ref().map(|c| c.1), Some(true));
        assert!(m.ensure_sound().is_ok());
    }

    #[test]
    fn direct_alone_leaves_the_seam_checks_pending() {
        let m = mcp(vec![path(Way::Direct, 0.2)]);
        let rows = checks(&m);
        assert_eq!((rows[0].1.clone(), rows[1].1.clone()), (None, None));
        assert_eq!(rows[2].1.as_ref().map(|c| c.1), Some(true));
    }

    #[test]
    fn an_unredacted_answer_an_error_or_a_missing_record_fails_the_run() {
        let mut leaky = path(Way::Guarded, 0.5);
        leaky.load.with_email = 1;
        let m = mcp(vec![path(Way::Direct, 0.2), leaky]);
        let problems = m.problems();
        assert!(
            problems[0].contains("still carried the email"),
            "{problems:?}"
        );
        let mut failing = path(Way::Seam, 0.3);
        failing.saturation.errors = 2;
        assert!(mcp(vec![failing]).ensure_sound().is_err());
        let mut missing = path(Way::Seam, 0.3);
        missing.records = Some(9);
        let problems = mcp(vec![missing]).problems();
        assert!(
            problems[0].contains("9 audit records added"),
            "{problems:?}"
        );
        let mut bare = path(Way::Unaudited, 0.3);
        bare.load.with_email = 0;
        let problems = mcp(vec![bare]).problems();
        assert!(
            problems[0].contains("0/10 answers carried the email"),
            "{problems:?}"
        );
    }
}
