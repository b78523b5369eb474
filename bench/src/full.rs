//! The `full` scenario (issue 23): seam's whole pipeline against a plain reverse proxy, nginx.
//!
//! Three servers, each alone on seam's core (started, measured, stopped, one after the other),
//! in front of the fast mock, with the same ~330-byte chat request carrying an email address and
//! a phone number ([`Prompt::Contact`]):
//! - **nginx**, the reference, when it is installed ([`crate::nginx`]); without it the rows and
//!   ratios are left out and the runner says so once;
//! - **seam, routing only**: one alias, no keys, no policy, audit off;
//! - **seam, full pipeline**: an API key (team `bench`) with rpm, tpm and a daily budget, the
//!   same limits on the org, the team and each data subject (`x-seam-subject`), a policy that
//!   tokenizes personal data in the request and redacts it in the answer, blocks secrets and
//!   flags injection, and sync audit of class `full` (a master key, SQLite).
//!
//! Each is measured at saturation with [`CONNECTIONS`] connections (closed loop), non-stream
//! (JSON) and stream (SSE, the mock's 20 chunks), then on one connection, against the mock
//! directly on one connection: its `+p50`. seam's RSS is read after start-up (idle) and as its
//! high-water mark (`VmHWM`) after its runs (peak), and its anonymous memory (`RssAnon`) at both
//! moments: the file-backed part of RSS is mostly the executable's pages, and how many of those a
//! start maps depends on the file's state in the page cache (a fresh copy of one binary mapped up
//! to 4.5 MB more than the original), so RSS alone can differ between builds that allocate the
//! same.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::audit_store;
use crate::body::Prompt;
use crate::nginx;
use crate::procs::{AuditMode, Launcher, MASTER_KEY_ENV, Ports, SeamSpec, proc_status_kb};
use crate::report::{ratio, signed};
use crate::routing::Check;
use crate::run::{LoadRun, RunArgs, Scenario, run_load_extra};
use crate::stats::LoadReport;

/// Connections of the saturation runs (the issue's table).
pub const CONNECTIONS: usize = 32;

/// The alias every request asks for.
const MODEL: &str = "bench";
/// The team of the scenario's key, limited in `[limits.team.bench]`.
const TEAM: &str = "bench";
/// The data subject every request names (`x-seam-subject`): the subject scope's counter.
const SUBJECT: &str = "customer-4821";
/// A limit no run reaches: every request is counted in every scope and none is refused.
const HIGH_RPM: u32 = 1_000_000_000;
const HIGH_TPM: u64 = 1_000_000_000_000;
const HIGH_BUDGET_USD: u32 = 1_000_000;

/// One server's runs.
#[derive(Serialize)]
pub struct ServerRuns {
    pub name: String,
    pub json: LoadReport,
    pub sse: LoadReport,
    pub one: LoadReport,
    /// seam's RSS in KiB after start-up and its high-water mark after the runs (nginx: none).
    pub rss_kb: Option<(u64, u64)>,
    /// seam's anonymous memory (`RssAnon`) in KiB after start-up and after the runs.
    pub anon_kb: Option<(u64, u64)>,
}

#[derive(Serialize)]
pub struct Full {
    /// The mock directly, one connection: the `+p50` baseline.
    pub direct_one: LoadReport,
    pub nginx: Option<ServerRuns>,
    pub routing: ServerRuns,
    /// The full pipeline with sync audit: every answer waits for its record's commit.
    pub pipeline: ServerRuns,
    /// The same with async audit.
    pub pipeline_async: ServerRuns,
    /// Request records with status 200 in each full seam's store after its runs (sync, async).
    pub records_ok: (u64, u64),
    /// The commit's floor under sync durability: p50 of one 4 KiB append and `fdatasync` in the
    /// store's directory, in ms.
    pub fsync_p50_ms: f64,
}

impl Full {
    /// Fails when a run had errors, an answer of the full seam lacks its policy header naming
    /// both tokenized entities, or the full seam's store holds fewer records than it answered.
    pub fn ensure_sound(&self) -> anyhow::Result<()> {
        let servers =
            self.nginx
                .iter()
                .chain([&self.routing, &self.pipeline, &self.pipeline_async]);
        for s in servers {
            for r in [&s.json, &s.sse, &s.one] {
                anyhow::ensure!(
                    r.errors == 0 && r.ok > 0,
                    "the full scenario's `{}` had {} errors and {} ok answers: {:?}",
                    r.label,
                    r.errors,
                    r.ok,
                    r.error_kinds
                );
            }
        }
        for (p, records) in [
            (&self.pipeline, self.records_ok.0),
            (&self.pipeline_async, self.records_ok.1),
        ] {
            let runs = [&p.json, &p.sse, &p.one];
            let answered: u64 = runs.iter().map(|r| r.ok).sum();
            for r in runs {
                anyhow::ensure!(
                    policy_acted(r),
                    "not every answer of `{}` carried an x-seam-policy header tokenizing the \
                     email address and the phone number: {:?}",
                    r.label,
                    r.seam_policies
                );
            }
            anyhow::ensure!(
                records >= answered,
                "AUDIT RECORDS MISSING: `{}` answered {answered} measured requests but its store \
                 holds {records} request records with status 200",
                p.name
            );
        }
        Ok(())
    }
}

/// Whether every ok answer's `x-seam-policy` header names both entities as tokenized.
fn policy_acted(r: &LoadReport) -> bool {
    let tokenized =
        |h: &str| h.contains("EMAIL_ADDRESS:tokenize") && h.contains("PHONE_NUMBER:tokenize");
    r.ok > 0 && r.seam_policies.keys().all(|h| tokenized(h)) && r.with_policy_header() == r.ok
}

/// The routing-only seam's config: one alias to the fast mock, no keys, no policy, audit off.
pub fn routing_config(listen: u16, fast: u16) -> String {
    let audit = AuditMode::Off.toml();
    format!(
        r#"# Generated by seam-bench run: the full scenario, routing only.
[server]
listen = "127.0.0.1:{listen}"

{audit}
[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:{fast}/v1"
max_concurrency = 4096

[models.{MODEL}]
targets = [{{ provider = "mock", model = "bench-model" }}]
"#
    )
}

/// How the full seam commits its audit records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// An answer waits for its record's commit.
    Sync,
    /// Records go through a bounded queue; an answer does not wait.
    Async,
}

impl Durability {
    fn toml(self) -> &'static str {
        match self {
            Durability::Sync => "sync",
            Durability::Async => "async",
        }
    }
}

/// The full seam's config: the key (by its hash), limits on four scopes, the policy on the
/// alias, audit of class `full` (committed as `durability` says) under the master key in
/// `SEAM_MASTER_KEY`.
pub fn pipeline_config(listen: u16, fast: u16, key_hash: &str, durability: Durability) -> String {
    let limits = format!(
        "rpm = {HIGH_RPM}\ntpm = {HIGH_TPM}\nbudget_usd = {HIGH_BUDGET_USD}\nbudget_period = \"day\"\n"
    );
    format!(
        r#"# Generated by seam-bench run: the full scenario, the whole pipeline.
[server]
listen = "127.0.0.1:{listen}"

[storage]
url = "sqlite://{db}"

[audit]
enabled = true
durability = "{durability}"
master_key = "env:{MASTER_KEY_ENV}"
default_class = "full"

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:{fast}/v1"
max_concurrency = 4096

[pricing."mock/bench-model"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[policies.full]
# The rules only; the names model is the names scenario's question.
ner = false

[policies.full.input]
pii = {{ action = "tokenize" }}
secrets = {{ action = "block" }}
injection = {{ action = "flag" }}

[policies.full.output]
pii = {{ action = "redact" }}

[models.{MODEL}]
targets = [{{ provider = "mock", model = "bench-model" }}]
policy = "full"

[keys.bench]
hash = "{key_hash}"
models = ["{MODEL}"]
team = "{TEAM}"
{limits}
[limits.org]
{limits}
[limits.team.{TEAM}]
{limits}
[limits.subject]
{limits}"#,
        db = crate::procs::AUDIT_DB,
        durability = durability.toml(),
    )
}

/// A fresh API key for the full seam: 32 random bytes, base64url, `sk-bench-` first.
fn api_key() -> anyhow::Result<String> {
    let raw = audit_store::master_key()?;
    let clean: String = raw.chars().filter(char::is_ascii_alphanumeric).collect();
    Ok(format!("sk-bench-{clean}"))
}

fn scenario(key: &'static str, stream: bool, concurrency: usize) -> Scenario {
    Scenario {
        key,
        title: format!(
            "full scenario, {}, {concurrency} connection{}",
            if stream { "SSE" } else { "JSON" },
            if concurrency == 1 { "" } else { "s" }
        ),
        stream,
        rate: None,
        concurrency: Some(concurrency),
        prompt: Prompt::Contact,
    }
}

/// One closed-loop run of `s` against `url`.
async fn one_run(
    launcher: &Launcher,
    args: &RunArgs,
    url: &str,
    name: &str,
    extra: &[String],
    s: Scenario,
) -> anyhow::Result<LoadReport> {
    let urls = [url.to_owned()];
    let run = LoadRun {
        models: &[MODEL],
        urls: &urls,
        warmup_secs: args.warmup_secs,
    };
    let mut reports = run_load_extra(launcher, args, &s, run, name, 0, extra).await?;
    reports
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no report for {name}"))
}

/// JSON and SSE at saturation, then JSON on one connection, against `url`.
async fn measure(
    launcher: &Launcher,
    args: &RunArgs,
    url: &str,
    name: &str,
    extra: &[String],
) -> anyhow::Result<(LoadReport, LoadReport, LoadReport)> {
    let run = |s| one_run(launcher, args, url, name, extra, s);
    let json = run(scenario("full_json", false, CONNECTIONS)).await?;
    let sse = run(scenario("full_sse", true, CONNECTIONS)).await?;
    let one = run(scenario("full_one", false, 1)).await?;
    Ok((json, sse, one))
}

/// Runs the scenario: the mock directly, nginx (if `nginx_exe`), the routing-only seam, the
/// full seam; each server stopped before the next starts.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    nginx_exe: Option<&Path>,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Full> {
    let direct = Ports::url(ports.fast);
    let one = scenario("full_one", false, 1);
    let direct_one = one_run(launcher, args, &direct, "direct", &[], one).await?;

    let nginx = match nginx_exe {
        Some(exe) => {
            let proc = nginx::start(
                launcher,
                exe,
                args.seam_cpu,
                &dir.join("nginx"),
                ports.nginx,
                ports.fast,
            )
            .await?;
            let (json, sse, one) =
                measure(launcher, args, &Ports::url(ports.nginx), "nginx", &[]).await?;
            proc.stop().await;
            Some(ServerRuns {
                name: nginx_version(exe),
                json,
                sse,
                one,
                rss_kb: None,
                anon_kb: None,
            })
        }
        None => None,
    };

    let routing = {
        let spec = SeamSpec {
            dir: &dir.join("full-routing"),
            port: ports.full_routing,
            audit: AuditMode::Off,
            master_key: None,
        };
        let config = routing_config(ports.full_routing, ports.fast);
        let mut p = crate::procs::start_seam_with(launcher, args, seam, spec, &config).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = proc_status_kb(p.pid, "VmRSS")?;
        let anon_idle = proc_status_kb(p.pid, "RssAnon")?;
        let url = Ports::url(ports.full_routing);
        let (json, sse, one) = measure(launcher, args, &url, "seam, routing only", &[]).await?;
        let peak = proc_status_kb(p.pid, "VmHWM")?;
        let anon_after = proc_status_kb(p.pid, "RssAnon")?;
        drop(p.child.kill().await);
        ServerRuns {
            name: "Seam, routing only (no keys, policy or audit)".to_owned(),
            json,
            sse,
            one,
            rss_kb: Some((idle, peak)),
            anon_kb: Some((anon_idle, anon_after)),
        }
    };

    let (pipeline, sync_records) =
        pipeline_runs(launcher, args, seam, dir, ports, Durability::Sync).await?;
    let (pipeline_async, async_records) =
        pipeline_runs(launcher, args, seam, dir, ports, Durability::Async).await?;
    let fsync_p50_ms = fsync_p50_ms(&dir.join("full-pipeline-sync"))?;

    Ok(Full {
        direct_one,
        nginx,
        routing,
        pipeline,
        pipeline_async,
        records_ok: (sync_records, async_records),
        fsync_p50_ms,
    })
}

/// The full seam with `durability`, measured; and the request records with status 200 in its
/// store once it has stopped.
async fn pipeline_runs(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
    durability: Durability,
) -> anyhow::Result<(ServerRuns, u64)> {
    let full_dir = dir.join(format!("full-pipeline-{}", durability.toml()));
    let master = audit_store::master_key()?;
    let key = api_key()?;
    let spec = SeamSpec {
        dir: &full_dir,
        port: ports.full_pipeline,
        audit: AuditMode::Redacted,
        master_key: Some(&master),
    };
    let config = pipeline_config(
        ports.full_pipeline,
        ports.fast,
        &seam_store::hash_secret(&key),
        durability,
    );
    let mut p = crate::procs::start_seam_with(launcher, args, seam, spec, &config).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = proc_status_kb(p.pid, "VmRSS")?;
    let anon_idle = proc_status_kb(p.pid, "RssAnon")?;
    let url = Ports::url(ports.full_pipeline);
    let extra = [
        "--api-key".to_owned(),
        key,
        "--subject".to_owned(),
        SUBJECT.to_owned(),
    ];
    let label = format!("seam, full pipeline, {} audit", durability.toml());
    let (json, sse, one) = measure(launcher, args, &url, &label, &extra).await?;
    let peak = proc_status_kb(p.pid, "VmHWM")?;
    let anon_after = proc_status_kb(p.pid, "RssAnon")?;
    // SIGTERM, so that an async seam commits what it has queued before it exits.
    crate::procs::terminate(&mut p.child).await;
    let records = audit_store::count_ok_requests(&full_dir.join(crate::procs::AUDIT_DB))?;
    let runs = ServerRuns {
        name: format!(
            "Seam, full pipeline (key + rpm/tpm/budget on org, team, key and subject, PII \
             tokenize in and redact out, secrets, injection, {} audit of class `full`)",
            durability.toml()
        ),
        json,
        sse,
        one,
        rss_kb: Some((idle, peak)),
        anon_kb: Some((anon_idle, anon_after)),
    };
    Ok((runs, records))
}

/// p50 of one 4 KiB append and `fdatasync` in `dir`, in ms: what a commit under sync durability
/// cannot go below on this disk.
fn fsync_p50_ms(dir: &Path) -> anyhow::Result<f64> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let page = [0x5au8; 4096];
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = std::time::Instant::now();
        f.write_all(&page)?;
        f.sync_data()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    std::fs::remove_file(&path)?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// `nginx X.Y.Z plain reverse proxy`, from `nginx -v` (which prints to stderr).
fn nginx_version(exe: &Path) -> String {
    let out = std::process::Command::new(exe).arg("-v").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    let version = text
        .trim()
        .rsplit('/')
        .next()
        .filter(|v| !v.is_empty() && text.contains("nginx"))
        .unwrap_or("?");
    format!("nginx {version} plain reverse proxy")
}

/// The scenario's markdown section: req/s and the ratio to nginx, +p50 at one connection over
/// the mock directly, seam's RSS.
pub fn section(out: &mut String, f: &Full) {
    crate::report::new_block(out);
    out.push_str(&format!(
        "### Full pipeline against a plain reverse proxy\n\n\
         ~330-byte chat request with an email address and a phone number; each server alone on \
         seam's core; saturation with {CONNECTIONS} connections (closed loop); SSE streams are \
         the mock's 20 chunks; +p50 is the server's p50 on one connection minus the mock's \
         directly ({:.3} ms).\n\n",
        f.direct_one.latency_ms.p50
    ));
    if f.nginx.is_none() {
        out.push_str(
            "nginx is not installed (or not found): its row and the ratios are left out. \
             Install it (`apt-get install nginx`) or pass `--nginx PATH`.\n\n",
        );
    }
    out.push_str(
        "| gateway | JSON req/s | vs nginx | SSE req/s (20 chunks) | vs nginx | +p50 at 1 conn | RSS idle / peak | anon idle / after |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let anchor = f
        .nginx
        .as_ref()
        .map(|n| (n.json.throughput_rps, n.sse.throughput_rps));
    let vs = |value: f64, base: Option<f64>| base.map_or("—".to_owned(), |b| ratio(value, b));
    for s in f
        .nginx
        .iter()
        .chain([&f.routing, &f.pipeline, &f.pipeline_async])
    {
        let pair = |kb: Option<(u64, u64)>| {
            kb.map_or("—".to_owned(), |(a, b)| {
                format!("{:.0} / {:.0} MB", mb(a), mb(b))
            })
        };
        let (rss, anon) = (pair(s.rss_kb), pair(s.anon_kb));
        out.push_str(&format!(
            "| {} | {:.0} | {} | {:.0} | {} | {} ms | {rss} | {anon} |\n",
            s.name,
            s.json.throughput_rps,
            vs(s.json.throughput_rps, anchor.map(|a| a.0)),
            s.sse.throughput_rps,
            vs(s.sse.throughput_rps, anchor.map(|a| a.1)),
            signed(s.one.latency_ms.p50 - f.direct_one.latency_ms.p50),
        ));
    }
    let answered = |p: &ServerRuns| p.json.ok + p.sse.ok + p.one.ok;
    let acted = [&f.pipeline, &f.pipeline_async]
        .iter()
        .flat_map(|p| [&p.json, &p.sse, &p.one])
        .all(policy_acted);
    out.push_str(&format!(
        "\nThe sync seam's store holds {} request records with status 200 for {} measured \
         answers, the async seam's {} for {} (warm-ups add records too); every answer carried \
         `x-seam-policy` tokenizing both entities: {acted}. Under sync durability an answer waits \
         for its record's commit, whose floor is the disk's: one 4 KiB append and `fdatasync` in \
         the store's directory takes {:.3} ms (p50).\n\n",
        f.records_ok.0,
        answered(&f.pipeline),
        f.records_ok.1,
        answered(&f.pipeline_async),
        f.fsync_p50_ms,
    ));
}

/// Issue 23's targets: throughput as a ratio to nginx in the same run.
const ROUTING_JSON: f64 = 0.6;
const ROUTING_SSE: f64 = 0.4;
const SYNC_JSON: f64 = 0.3;
const SYNC_SSE: f64 = 0.15;
const ASYNC_JSON: f64 = 0.4;
/// The async full pipeline's +p50 at one connection over routing only's, in ms.
const ASYNC_GAP_MS: f64 = 0.05;
/// RSS of the full seams, in MB: after start-up, and the high-water mark after the runs.
const IDLE_MB: f64 = 20.0;
const PEAK_MB: f64 = 64.0;

/// The scenario's rows of the targets table (issue 23). Without nginx the ratio rows are
/// pending: there is nothing to hold them against.
pub fn checks(f: &Full) -> Vec<Check> {
    let vs = |s: &ServerRuns, sse: bool, target: f64| {
        f.nginx.as_ref().map(|n| {
            let (a, b) = if sse {
                (s.sse.throughput_rps, n.sse.throughput_rps)
            } else {
                (s.json.throughput_rps, n.json.throughput_rps)
            };
            let met = b > 0.0 && a / b >= target;
            (format!("{} ({a:.0} / {b:.0} req/s)", ratio(a, b)), met)
        })
    };
    let plus = |s: &ServerRuns| s.one.latency_ms.p50 - f.direct_one.latency_ms.p50;
    let gap = plus(&f.pipeline_async) - plus(&f.routing);
    // The higher of the two full seams' figures, `pick` choosing idle or peak.
    let most = |pick: fn((u64, u64)) -> u64, limit: f64| {
        let full = [&f.pipeline, &f.pipeline_async];
        let v = full.iter().filter_map(|s| s.rss_kb).map(|kb| mb(pick(kb)));
        v.reduce(f64::max).map(|v| {
            (
                format!("{v:.0} MB (the higher of sync and async)"),
                v <= limit,
            )
        })
    };
    let ratio_row = |check: &str, s: &ServerRuns, sse: bool, target: f64| {
        (
            check.to_owned(),
            vs(s, sse, target),
            format!("≥ {target}× nginx"),
        )
    };
    vec![
        ratio_row(
            "full: routing only, JSON req/s vs nginx",
            &f.routing,
            false,
            ROUTING_JSON,
        ),
        ratio_row(
            "full: routing only, SSE req/s vs nginx",
            &f.routing,
            true,
            ROUTING_SSE,
        ),
        ratio_row(
            "full: full pipeline, sync audit, JSON req/s vs nginx",
            &f.pipeline,
            false,
            SYNC_JSON,
        ),
        ratio_row(
            "full: full pipeline, sync audit, SSE req/s vs nginx",
            &f.pipeline,
            true,
            SYNC_SSE,
        ),
        ratio_row(
            "full: full pipeline, async audit, JSON req/s vs nginx",
            &f.pipeline_async,
            false,
            ASYNC_JSON,
        ),
        (
            "full: async full pipeline +p50 at 1 connection over routing only's".to_owned(),
            Some((
                format!(
                    "{} ms ({} against {}; sync {}, commit floor {:.3} ms)",
                    signed(gap),
                    signed(plus(&f.pipeline_async)),
                    signed(plus(&f.routing)),
                    signed(plus(&f.pipeline)),
                    f.fsync_p50_ms
                ),
                gap <= ASYNC_GAP_MS,
            )),
            format!("≤ {ASYNC_GAP_MS} ms"),
        ),
        (
            "full: full pipeline RSS after start-up".to_owned(),
            most(|(idle, _)| idle, IDLE_MB),
            format!("≤ {IDLE_MB} MB"),
        ),
        (
            "full: full pipeline peak RSS after its runs".to_owned(),
            most(|(_, peak)| peak, PEAK_MB),
            format!("≤ {PEAK_MB} MB"),
        ),
    ]
}

/// MB (10^6 bytes) from KiB, as the issue's table gives RSS.
fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(config: &str) -> seam_config::Config {
        let key = |name: &str| (name == MASTER_KEY_ENV).then(|| "A".repeat(43) + "=");
        let resolver = seam_config::Resolver {
            env: &key,
            base_dir: PathBuf::from("/run-dir"),
        };
        seam_config::from_toml(config, &resolver).unwrap()
    }

    #[test]
    fn the_full_config_enables_what_the_issue_lists() {
        use seam_config::policy::Action;
        use seam_config::{AuditClass, Durability as Committed};
        let hash = seam_store::hash_secret("sk-bench-test");
        let c = parse(&pipeline_config(18713, 18701, &hash, Durability::Sync));
        // A key, in a team, limited like every other scope.
        assert_eq!(c.keys.len(), 1);
        let key = &c.keys[0];
        assert_eq!(key.hash, hash);
        assert_eq!(key.team.as_deref(), Some(TEAM));
        assert_eq!(key.models, [MODEL]);
        assert_eq!(key.rpm, Some(HIGH_RPM));
        assert_eq!(key.tpm, Some(HIGH_TPM));
        assert_eq!(key.budget_usd, Some(f64::from(HIGH_BUDGET_USD)));
        assert!(key.budget_period.is_some());
        let scopes = [&c.limits.org, &c.limits.teams[TEAM], &c.limits.subject];
        for rule in scopes {
            assert_eq!(rule.rpm, Some(HIGH_RPM));
            assert_eq!(rule.tpm, Some(HIGH_TPM));
            assert_eq!(
                rule.budget.as_ref().map(|b| b.0),
                Some(f64::from(HIGH_BUDGET_USD))
            );
        }
        // The policy on the alias: PII tokenized in, redacted out, secrets, injection.
        assert_eq!(c.models[MODEL].policy, "full");
        let p = &c.policies["full"];
        let action = |r: &Option<seam_config::policy::ClassRule>| r.as_ref().map(|r| r.action);
        assert_eq!(action(&p.input.rules.pii), Some(Action::Tokenize));
        assert_eq!(action(&p.input.rules.secrets), Some(Action::Block));
        assert!(p.input.injection.is_some());
        assert_eq!(action(&p.output.pii), Some(Action::Redact));
        // Sync audit of class `full`, with the master key.
        assert!(c.audit.enabled);
        assert_eq!(c.audit.durability, Committed::Sync);
        assert_eq!(c.audit.default_class, AuditClass::Full);
        assert_eq!(c.audit.master_key.map(|k| k.0), Some([0; 32]));
        assert_eq!(c.providers["mock"].base_url, "http://127.0.0.1:18701/v1");
        let a = parse(&pipeline_config(18713, 18701, &hash, Durability::Async));
        assert_eq!(a.audit.durability, Committed::Async);
    }

    #[test]
    fn the_routing_config_has_no_keys_policy_or_audit() {
        let c = parse(&routing_config(18712, 18701));
        assert!(c.keys.is_empty());
        assert!(!c.audit.enabled);
        assert_eq!(c.models[MODEL].policy, "default");
        assert!(c.limits.org.is_empty() && c.limits.subject.is_empty());
        assert!(c.limits.teams.is_empty());
        assert_eq!(c.providers["mock"].base_url, "http://127.0.0.1:18701/v1");
    }

    #[test]
    fn the_request_is_about_330_bytes_with_an_email_and_a_phone_number() {
        let body = crate::body::request(MODEL, false, Prompt::Contact);
        assert!((300..=360).contains(&body.len()), "{} bytes", body.len());
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("maria.keller@example.com"));
        assert!(text.contains("+44 20 7946 0958"));
    }

    fn runs(name: &str, json: f64, sse: f64, one_p50: f64, rss: Option<(u64, u64)>) -> ServerRuns {
        use crate::report::tests::report;
        ServerRuns {
            name: name.to_owned(),
            json: report(1.0, 2.0, json, false),
            sse: report(1.0, 2.0, sse, true),
            one: report(one_p50, 1.0, 2000.0, false),
            rss_kb: rss,
            anon_kb: rss,
        }
    }

    fn measured() -> Full {
        use crate::report::tests::report;
        Full {
            direct_one: report(0.042, 0.1, 18_000.0, false),
            nginx: Some(runs("nginx", 28_000.0, 3_600.0, 0.292, None)),
            routing: runs("routing", 8_000.0, 2_000.0, 0.424, Some((23_000, 34_000))),
            pipeline: runs("sync", 3_500.0, 1_270.0, 1.150, Some((33_000, 58_600))),
            pipeline_async: runs("async", 2_900.0, 1_500.0, 0.568, Some((32_000, 56_600))),
            records_ok: (10, 10),
            fsync_p50_ms: 0.33,
        }
    }

    #[test]
    fn the_targets_are_held_against_nginx_in_the_same_run() {
        let rows = checks(&measured());
        let row = |check: &str| {
            let (_, m, t) = rows.iter().find(|r| r.0.contains(check)).unwrap();
            let (value, met) = m.clone().unwrap();
            (value, met, t.clone())
        };
        assert_eq!(
            row("routing only, JSON"),
            (
                "0.29× (8000 / 28000 req/s)".to_owned(),
                false,
                "≥ 0.6× nginx".to_owned()
            )
        );
        assert!(row("routing only, SSE").1);
        assert!(!row("sync audit, JSON").1);
        assert_eq!(row("sync audit, SSE").0, "0.35× (1270 / 3600 req/s)");
        assert!(row("sync audit, SSE").1);
        assert!(!row("async audit, JSON").1);
        // 0.526 against 0.382: 0.144 ms over the 0.05 ms the issue allows.
        let (gap, met, _) = row("+p50");
        assert!(
            gap.starts_with(
                "+0.144 ms (+0.526 against +0.382; sync +1.108, commit floor 0.330 ms)"
            ),
            "{gap}"
        );
        assert!(!met);
        // The higher of the two full seams: 33,000 KiB is 33.8 MB, 58,600 KiB is 60.0 MB.
        assert_eq!(
            row("after start-up").0,
            "34 MB (the higher of sync and async)"
        );
        assert!(!row("after start-up").1);
        assert_eq!(row("peak RSS").0, "60 MB (the higher of sync and async)");
        assert!(row("peak RSS").1);
    }

    #[test]
    fn without_nginx_the_ratio_targets_are_pending_and_the_rest_still_held() {
        let f = Full {
            nginx: None,
            ..measured()
        };
        let rows = checks(&f);
        let pending: Vec<_> = rows
            .iter()
            .filter(|r| r.1.is_none())
            .map(|r| &r.0)
            .collect();
        assert_eq!(pending.len(), 5, "{pending:?}");
        assert!(pending.iter().all(|c| c.contains("vs nginx")));
        let sections = crate::report::Sections {
            full: Some(&f),
            ..Default::default()
        };
        let meta = crate::report::tests::meta();
        let md = crate::report::markdown(&meta, &[], &sections);
        assert!(
            md.contains("| full: routing only, JSON req/s vs nginx | pending | ≥ 0.6× nginx | — |"),
            "{md}"
        );
        assert!(md.contains("| full: full pipeline peak RSS after its runs | 60 MB (the higher of sync and async) | ≤ 64 MB | yes |"), "{md}");
        // The scenario's own section follows the targets table as a block of its own.
        let mut md = md;
        section(&mut md, &f);
        assert!(
            md.contains("| ≤ 64 MB | yes |\n\n### Full pipeline against a plain reverse proxy\n"),
            "{md}"
        );
    }

    #[test]
    fn api_keys_are_fresh_and_header_safe() {
        let (a, b) = (api_key().unwrap(), api_key().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("sk-bench-") && a.len() > 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
