//! The runner: starts the mocks, the reference proxy and `seam` pinned to their cores, runs every
//! scenario against the mock directly, through the proxy and through `seam` (one after the other,
//! same load), then the routing, policy, cache and surfaces scenarios through `seam`, samples
//! `seam`'s memory,
//! then runs the MCP scenario on two seams of its own (`tools/call` direct, through an audited
//! seam without and with a policy on results, and through one with audit off) and the audit
//! scenario on two more seams (audit off and audited), then (`--only-names` or `--with-names`)
//! the names scenario on a seam of its own, then the prompts scenario (a `prompt:` request and a
//! shadow rollout) on another, then the full scenario (nginx, when installed, seam routing only
//! and seam's whole pipeline, each alone), and prints the markdown report.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio::process::Command;

use crate::body::Prompt;
use crate::procs::{
    AuditMode, Launcher, MockShape, Ports, SeamSpec, check_taskset, cpu_busy_pct, proc_status_kb,
    start_mock, start_proxy, start_seam,
};
use crate::report::{self, Memory, Meta, ScenarioResult};
use crate::stats::LoadReport;
use crate::{audit, cache, load, mcp, names, policy, prompts, routing, surfaces};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The seam binary to measure.
    #[arg(long, default_value = "target/release/seam")]
    pub seam: PathBuf,
    /// Measure the mock directly only (no seam): checks the harness and gives the baseline.
    #[arg(long, conflicts_with_all = ["only_policy", "only_audit", "only_cache", "only_surfaces", "only_names", "only_prompts", "only_full"])]
    pub direct_only: bool,
    /// Measured seconds per scenario and path.
    #[arg(long, default_value_t = 10.0)]
    pub duration_secs: f64,
    /// Unmeasured warm-up seconds before each measured run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// seam listens on this port, the fast mock on +1, the slow (memory test) mock on +2, the
    /// reference proxy on +3, the failing (fallback scenario) mock on +4, the audit scenario's
    /// seams on +5 (audit off) and +6 (audited), the MCP scenario's seams on +7 (audited)
    /// and +8 (audit off), the names scenario's seam on +9, the prompts scenario's on +10, the full scenario's
    /// nginx on +11 and its seams on +12 (routing only) and +13 (full pipeline).
    #[arg(long, default_value_t = 18700)]
    pub port_base: u16,
    /// Core for the mocks and the load generator.
    #[arg(long, default_value_t = 0)]
    pub load_cpu: usize,
    /// Core for seam.
    #[arg(long, default_value_t = 1)]
    pub seam_cpu: usize,
    /// Skip the reference path (a do-nothing proxy on seam's core): saves about a minute.
    #[arg(long)]
    pub no_reference: bool,
    /// Skip the routing scenarios (plain, fallback and weighted aliases, in turn): saves about 45 s.
    #[arg(long)]
    pub no_routing: bool,
    /// Rate of the routing scenarios, requests per second (open loop, non-stream).
    #[arg(long, default_value_t = 1000.0)]
    pub routing_rate: f64,
    /// Skip the policy scenarios (`plain` and `guarded` in turn, non-stream then stream): saves
    /// about 90 s.
    #[arg(long, conflicts_with = "only_policy")]
    pub no_policy: bool,
    /// Run the policy scenarios alone: no latency table, reference proxy, routing, memory test or
    /// audit scenario.
    #[arg(long, conflicts_with = "only_audit")]
    pub only_policy: bool,
    /// Rate of the non-stream policy scenario, requests per second (open loop); the stream one
    /// runs at `--stream-rate`.
    #[arg(long, default_value_t = 1000.0)]
    pub policy_rate: f64,
    /// Skip the names scenario (`plain` and `names`, the named-entity model on, in turn with
    /// unique ~1 KB and ~120-byte prompts, a cached run, each alone at saturation, and seam's
    /// memory with the model and without): saves about 4 minutes. It is not in a full run
    /// unless `--with-names` is given.
    #[arg(long, conflicts_with_all = ["only_names", "with_names"])]
    pub no_names: bool,
    /// Run the names scenario in a full run too (it needs the model installed: `seam models
    /// fetch`, and `SEAM_MODELS_DIR` set for seam if it is not in the default folder).
    #[arg(long)]
    pub with_names: bool,
    /// Run the names scenario alone.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache", "only_surfaces", "only_mcp"])]
    pub only_names: bool,
    /// Rate of the names scenario's runs with the ~120-byte prompt, requests per second in all
    /// (open loop, non-stream; half of them `names`). The model reads every `names` request on
    /// seam's one core, so the rate must stay well under what that core tags per second.
    #[arg(long, default_value_t = 40.0)]
    pub names_rate: f64,
    /// Rate of the names scenario's runs with the ~1 KB prompt (unique, then cached), requests
    /// per second in all (open loop, non-stream; half of them `names`).
    #[arg(long, default_value_t = 6.0)]
    pub names_long_rate: f64,
    /// Connections of the names scenario's saturation runs (closed loop, ~120-byte prompt).
    #[arg(long, default_value_t = 8)]
    pub names_concurrency: usize,
    /// Skip the cache scenario (`bench-echo` and `bench-cached` in turn, non-stream then
    /// stream): saves about 50 s.
    #[arg(long, conflicts_with = "only_cache")]
    pub no_cache: bool,
    /// Run the cache scenario alone.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy"])]
    pub only_cache: bool,
    /// Rate of the non-stream cache scenario, requests per second in all (open loop); the stream
    /// one runs at `--stream-rate`.
    #[arg(long, default_value_t = 1000.0)]
    pub cache_rate: f64,
    /// Skip the surfaces scenario (chat completions, Responses and Messages in turn, non-stream,
    /// stream, then each alone at saturation): saves about 3 minutes 30 seconds.
    #[arg(long, conflicts_with = "only_surfaces")]
    pub no_surfaces: bool,
    /// Run the surfaces scenario alone.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache"])]
    pub only_surfaces: bool,
    /// Rate of the non-stream surfaces run, requests per second in all (open loop); the stream
    /// one runs at `--stream-rate`.
    #[arg(long, default_value_t = 1000.0)]
    pub surfaces_rate: f64,
    /// Skip the MCP scenario (`tools/call` to the mock's `/mcp` directly, through seam, through
    /// seam with a policy on results, and through a seam with the audit trail off, and a chat
    /// completion through that seam, in turn; then each path at saturation): saves about 2 minutes.
    #[arg(long, conflicts_with = "only_mcp")]
    pub no_mcp: bool,
    /// Run the MCP scenario alone (with `--direct-only`, its direct path alone).
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache", "only_surfaces"])]
    pub only_mcp: bool,
    /// Rate of the MCP scenario, calls per second on each path (open loop; the five paths take
    /// turns, so the load generator sends five times this).
    #[arg(long, default_value_t = 500.0)]
    pub mcp_rate: f64,
    /// The MCP scenario's audited seam commits its records asynchronously (`durability =
    /// "async"`: an answer does not wait for its record) instead of with the default `sync`.
    #[arg(long)]
    pub mcp_async_audit: bool,
    /// Skip the prompts scenario (a `prompt:` request against the messages it renders to, in turn
    /// on one connection, then each alone at saturation; an alias with a shadow rollout at
    /// `sample = 1.0` against one without, each alone on one connection and at saturation):
    /// saves about 2 minutes 30 seconds.
    #[arg(long, conflicts_with = "only_prompts")]
    pub no_prompts: bool,
    /// Run the prompts scenario alone.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache", "only_surfaces", "only_mcp", "only_names"])]
    pub only_prompts: bool,
    /// Skip the full scenario (nginx, when installed, seam routing only and seam with the whole
    /// pipeline, each alone at saturation with 32 connections, JSON and SSE, then on one
    /// connection): saves about 2 minutes.
    #[arg(long, conflicts_with = "only_full")]
    pub no_full: bool,
    /// Run the full scenario alone.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache", "only_surfaces", "only_mcp", "only_names", "only_prompts", "only_tracing"])]
    pub only_full: bool,
    /// The nginx binary of the full scenario's reference proxy; without it, the first `nginx`
    /// on `PATH` or in `/usr/sbin`, and none (its rows left out) when it is not installed.
    #[arg(long, value_name = "PATH")]
    pub nginx: Option<PathBuf>,
    /// Skip the audit scenario (seam with audit off vs audited, then audited saturation and a
    /// record count): saves about 90 s.
    #[arg(long, conflicts_with = "only_audit")]
    pub no_audit: bool,
    /// Run the audit scenario alone.
    #[arg(long)]
    pub only_audit: bool,
    /// Run the tracing scenario alone (seam without `[telemetry]` vs exporting every trace over
    /// OTLP); it runs only when asked.
    #[arg(long, conflicts_with_all = ["only_audit", "only_policy", "only_cache", "only_surfaces", "only_mcp", "only_names", "only_prompts"])]
    pub only_tracing: bool,
    /// Rate of the tracing scenario's interleaved run, requests per second in all.
    #[arg(long, default_value_t = 1000.0)]
    pub tracing_rate: f64,
    /// Run the core, routing, policy and memory scenarios with seam's default audit trail on
    /// (sync `metadata` records in SQLite) instead of off.
    #[arg(long)]
    pub core_audit: bool,
    /// Rate of the audit scenario's interleaved run, requests per second in all (open loop,
    /// non-stream).
    #[arg(long, default_value_t = 1000.0)]
    pub audit_rate: f64,
    /// Do not pin processes with `taskset` (numbers get noisier).
    #[arg(long)]
    pub no_pin: bool,
    /// Workers in the closed-loop saturation scenario.
    #[arg(long, default_value_t = 64)]
    pub saturation_concurrency: usize,
    /// Rate of the streaming scenarios (latency table and policy), streams per second.
    #[arg(long, default_value_t = 500.0)]
    pub stream_rate: f64,
    /// Concurrent open streams for the memory test.
    #[arg(long, default_value_t = 512)]
    pub memory_streams: usize,
    /// Per-chunk delay of the slow mock (memory test), in ms: streams stay open ~20× this.
    #[arg(long, default_value_t = 100)]
    pub memory_chunk_delay_ms: u64,
    /// Also write every result as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// One load shape, run once against each path.
#[derive(Clone, Serialize)]
pub struct Scenario {
    pub key: &'static str,
    pub title: String,
    pub stream: bool,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub prompt: Prompt,
}

fn scenarios(args: &RunArgs) -> Vec<Scenario> {
    let open = |key, rate: f64, stream| Scenario {
        key,
        title: format!(
            "{} @ {rate:.0} req/s",
            if stream { "stream" } else { "non-stream" }
        ),
        stream,
        rate: Some(rate),
        concurrency: None,
        prompt: Prompt::Short,
    };
    vec![
        open("rate_1000", 1000.0, false),
        open("rate_3000", 3000.0, false),
        Scenario {
            key: "saturation",
            title: format!("saturation, {} workers", args.saturation_concurrency),
            stream: false,
            rate: None,
            concurrency: Some(args.saturation_concurrency),
            prompt: Prompt::Short,
        },
        open("stream", args.stream_rate, true),
    ]
}

pub async fn main(args: RunArgs) -> anyhow::Result<()> {
    let seam = resolve_seam(&args)?;
    let launcher = Launcher {
        exe: std::env::current_exe().context("cannot locate the seam-bench binary")?,
        pin: !args.no_pin,
    };
    if launcher.pin {
        check_taskset(&args).await?;
    }
    let meta = Meta::collect(&args, cpu_busy_pct(Duration::from_secs(1)).await?);
    if meta.busy_before_pct > 10.0 {
        eprintln!(
            "warning: the CPUs were {:.0}% busy before the run; another job is running and the \
             numbers will be noisy",
            meta.busy_before_pct
        );
    }
    let ports = Ports::from_base(args.port_base);
    for port in ports.all() {
        anyhow::ensure!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "port {port} is already in use; stop what listens there or pass --port-base"
        );
    }

    let dir = std::env::temp_dir().join(format!("seam-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Children are killed when these handles drop, on every return path.
    let mock = |chunk_delay_ms, status| MockShape {
        chunk_delay_ms,
        status,
    };
    let cpu = args.load_cpu;
    let _fast_mock = start_mock(&launcher, cpu, ports.fast, mock(0, 200)).await?;
    let delay = args.memory_chunk_delay_ms;
    let _slow_mock = start_mock(&launcher, cpu, ports.slow, mock(delay, 200)).await?;
    let _failing_mock = start_mock(&launcher, cpu, ports.failing, mock(0, 503)).await?;
    let only = any_only(&args);
    let proxy = if args.no_reference || only {
        None
    } else {
        Some(start_proxy(&launcher, args.seam_cpu, &ports).await?)
    };
    let seam_proc = match &seam {
        // The MCP, audit and names scenarios start seams of their own.
        Some(path)
            if !args.only_audit
                && !args.only_mcp
                && !args.only_names
                && !args.only_prompts
                && !args.only_tracing
                && !args.only_full =>
        {
            // The gateway's own cost, without the audit trail: what the audit adds is the audit
            // scenario's question, answered against the same seam with and without it.
            let spec = SeamSpec {
                dir: &dir.join("seam"),
                port: ports.seam,
                audit: if args.core_audit {
                    AuditMode::Metadata
                } else {
                    AuditMode::Off
                },
                master_key: None,
            };
            Some(start_seam(&launcher, &args, path, &ports, spec).await?)
        }
        _ => None,
    };
    let idle_kb = match &seam_proc {
        Some(p) => {
            // Let start-up allocations settle before calling it idle.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some(proc_status_kb(p.pid, "VmRSS")?)
        }
        None => None,
    };

    let paths = Paths {
        seam: seam_proc.is_some(),
        proxy: proxy.is_some(),
    };
    let results = if only {
        Vec::new()
    } else {
        run_scenarios(&launcher, &args, &ports, paths).await?
    };
    // Before the memory test, so all aliases meet the seam the scenarios above met.
    let routing = if paths.seam && !args.no_routing && !only {
        Some(routing::run(&launcher, &args, &ports).await?)
    } else {
        None
    };
    let policy = if paths.seam && !args.no_policy && only_or(&args, args.only_policy) {
        Some(policy::run(&launcher, &args, &ports).await?)
    } else {
        None
    };
    let cache = if paths.seam && !args.no_cache && only_or(&args, args.only_cache) {
        Some(cache::run(&launcher, &args, &ports).await?)
    } else {
        None
    };
    let surfaces = if paths.seam && !args.no_surfaces && only_or(&args, args.only_surfaces) {
        Some(surfaces::run(&launcher, &args, &ports).await?)
    } else {
        None
    };
    let memory = match (&seam_proc, idle_kb) {
        _ if only => None,
        (Some(p), Some(idle_kb)) => {
            Some(memory_test(&launcher, &args, p.pid, idle_kb, &Ports::url(ports.seam)).await?)
        }
        _ => None,
    };
    if let Some(mut p) = seam_proc {
        if let Ok(Some(status)) = p.child.try_wait() {
            anyhow::bail!(
                "seam exited during the benchmark ({status}); log: {}",
                p.log.display()
            );
        }
        // Stopped before the MCP and audit scenarios, which start two seams each on its core.
        drop(p.child.kill().await);
    }
    let names = match &seam {
        Some(path) if names_on(&args) => {
            Some(names::run(&launcher, &args, path, &dir, &ports).await?)
        }
        _ => None,
    };
    let mcp = if !args.no_mcp && only_or(&args, args.only_mcp) {
        Some(mcp::run(&launcher, &args, seam.as_deref(), &dir, &ports).await?)
    } else {
        None
    };
    let audit = match &seam {
        Some(path) if !args.no_audit && only_or(&args, args.only_audit) => {
            Some(audit::run(&launcher, &args, path, &dir, &ports).await?)
        }
        _ => None,
    };

    let prompts = match &seam {
        Some(path) if !args.no_prompts && only_or(&args, args.only_prompts) => {
            Some(prompts::run(&launcher, &args, path, &dir, &ports).await?)
        }
        _ => None,
    };

    let full = match &seam {
        Some(path) if !args.no_full && only_or(&args, args.only_full) => {
            let nginx = crate::nginx::find(args.nginx.as_deref())?;
            if nginx.is_none() {
                eprintln!(
                    "nginx is not installed: the full scenario runs without its reference rows \
                     (install it, or pass --nginx PATH)"
                );
            }
            Some(crate::full::run(&launcher, &args, path, nginx.as_deref(), &dir, &ports).await?)
        }
        _ => None,
    };

    let tracing = match &seam {
        Some(path) if args.only_tracing => {
            Some(crate::traces::run(&launcher, &args, path, &dir, &ports).await?)
        }
        _ => None,
    };

    let sections = report::Sections {
        routing: routing.as_ref(),
        policy: policy.as_ref(),
        cache: cache.as_ref(),
        surfaces: surfaces.as_ref(),
        memory: memory.as_ref(),
        mcp: mcp.as_ref(),
        audit: audit.as_ref(),
        names: names.as_ref(),
        prompts: prompts.as_ref(),
        full: full.as_ref(),
    };
    let mut md = report::markdown(&meta, &results, &sections);
    if let Some(t) = &tracing {
        crate::traces::section(&mut md, t);
    }
    if let Some(f) = &full {
        crate::full::section(&mut md, f);
    }
    println!("{md}");
    if let Some(path) = &args.json_out {
        let json = serde_json::json!({
            "meta": meta, "scenarios": results, "routing": routing, "policy": policy,
            "cache": cache, "surfaces": surfaces, "memory": memory, "mcp": mcp, "audit": audit,
            "names": names, "prompts": prompts, "tracing": tracing, "full": full
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(m) = &mcp {
        // After the report is out: a failed or unredacted call, or a missing record, fails the run.
        m.ensure_sound()?;
    }
    if let Some(f) = &full {
        // After the report is out: an error, an answer the policy did not act on, or a missing
        // record fails the run.
        f.ensure_sound()?;
    }
    if let Some(a) = &audit {
        // After the report is out: a record missing for an answered request fails the run.
        a.ensure_every_answer_recorded()?;
    }
    drop(std::fs::remove_dir_all(&dir));
    Ok(())
}

/// Whether a section runs as far as the `--only-*` flags go: no `--only-*` was given, or
/// `mine` (its own) was.
fn only_or(args: &RunArgs, mine: bool) -> bool {
    !any_only(args) || mine
}

/// Whether some `--only-*` flag was given.
fn any_only(args: &RunArgs) -> bool {
    args.only_policy
        || args.only_audit
        || args.only_cache
        || args.only_surfaces
        || args.only_mcp
        || args.only_names
        || args.only_prompts
        || args.only_tracing
        || args.only_full
}

/// Whether the names scenario runs: `--only-names`, or a full run with `--with-names`.
fn names_on(args: &RunArgs) -> bool {
    args.only_names || (args.with_names && !args.no_names && !any_only(args))
}

fn resolve_seam(args: &RunArgs) -> anyhow::Result<Option<PathBuf>> {
    if args.direct_only {
        return Ok(None);
    }
    let path = std::fs::canonicalize(&args.seam).map_err(|_| {
        anyhow::anyhow!(
            "seam binary not found at {}: build it first (`cargo build --release -p seam-cli`), \
             pass --seam PATH, or run with --direct-only to measure the mock alone",
            args.seam.display()
        )
    })?;
    Ok(Some(path))
}

/// Which paths besides "direct" this run measures.
#[derive(Clone, Copy)]
struct Paths {
    seam: bool,
    proxy: bool,
}

/// Each scenario against the mock, the reference proxy, then seam, back to back.
async fn run_scenarios(
    launcher: &Launcher,
    args: &RunArgs,
    ports: &Ports,
    paths: Paths,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let mut results = Vec::new();
    for scenario in scenarios(args) {
        let run = |port, path| run_one(launcher, args, &scenario, Ports::url(port), path);
        let direct = run(ports.fast, "direct").await?;
        let proxy = if paths.proxy {
            Some(run(ports.proxy, "reference proxy").await?)
        } else {
            None
        };
        let seam = if paths.seam {
            Some(run(ports.seam, "seam").await?)
        } else {
            None
        };
        results.push(ScenarioResult {
            scenario,
            direct,
            proxy,
            seam,
        });
    }
    Ok(results)
}

fn load_command(
    launcher: &Launcher,
    args: &RunArgs,
    urls: &[String],
    models: &[&str],
    label: &str,
) -> Command {
    let mut cmd = launcher.command(args.load_cpu, &launcher.exe);
    cmd.arg("load");
    for url in urls {
        cmd.arg("--url").arg(url);
    }
    for model in models {
        cmd.arg("--model").arg(model);
    }
    cmd.arg("--label")
        .arg(label)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// One load run of `scenario` against `url` with the alias `bench`; `path` names it in the label.
async fn run_one(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    url: String,
    path: &str,
) -> anyhow::Result<LoadReport> {
    let mut reports = run_load(launcher, args, scenario, &["bench"], url, path).await?;
    reports.pop().context("the load generator gave no report")
}

/// One load run of `scenario` against `url`, the requests taking `models` in turn; one report
/// per model, in order. It measures `--duration-secs` per model, so each model gets as many
/// samples as a one-model run; `path` names the run in the label.
pub async fn run_load(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    models: &[&str],
    url: String,
    path: &str,
) -> anyhow::Result<Vec<LoadReport>> {
    let run = LoadRun {
        models,
        urls: &[url],
        warmup_secs: args.warmup_secs,
    };
    run_load_with(launcher, args, scenario, run, path).await
}

/// Which slots a load run has and how long it warms up.
pub struct LoadRun<'a> {
    pub models: &'a [&'a str],
    /// One URL for every slot, or one per slot.
    pub urls: &'a [String],
    pub warmup_secs: f64,
}

/// [`run_load`] with a URL per slot and its own warm-up.
pub async fn run_load_with(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    run: LoadRun<'_>,
    path: &str,
) -> anyhow::Result<Vec<LoadReport>> {
    run_load_from(launcher, args, scenario, run, path, 0).await
}

/// [`run_load_with`], the requests' texts numbered from `seq_start` (prompts that vary per
/// request, [`Prompt::varies`]).
pub async fn run_load_from(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    run: LoadRun<'_>,
    path: &str,
    seq_start: u64,
) -> anyhow::Result<Vec<LoadReport>> {
    run_load_extra(launcher, args, scenario, run, path, seq_start, &[]).await
}

/// [`run_load_from`] with more arguments for the load generator (`--api-key KEY`).
pub async fn run_load_extra(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    run: LoadRun<'_>,
    path: &str,
    seq_start: u64,
    extra: &[String],
) -> anyhow::Result<Vec<LoadReport>> {
    let LoadRun {
        models,
        urls,
        warmup_secs,
    } = run;
    let label = format!("{} ({path})", scenario.title);
    let mut cmd = load_command(launcher, args, urls, models, &label);
    cmd.arg("--prompt").arg(scenario.prompt.arg());
    if seq_start > 0 {
        cmd.arg("--prompt-seq-start").arg(seq_start.to_string());
    }
    let duration = args.duration_secs * models.len() as f64;
    cmd.arg("--duration-secs")
        .arg(duration.to_string())
        .arg("--warmup-secs")
        .arg(warmup_secs.to_string());
    if scenario.stream {
        cmd.arg("--stream");
    }
    cmd.args(extra);
    if let Some(rate) = scenario.rate {
        cmd.arg("--rate").arg(rate.to_string());
    }
    if let Some(concurrency) = scenario.concurrency {
        cmd.arg("--concurrency").arg(concurrency.to_string());
    }
    // A short pause so the previous run's connections close before this one starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let output = cmd.output().await.context("running the load generator")?;
    let reports = parse_load_output(output.status, &output.stdout, &output.stderr, &label)?;
    anyhow::ensure!(
        reports.len() == models.len(),
        "the load generator gave {} reports for {} models ({label})",
        reports.len(),
        models.len()
    );
    Ok(reports)
}

/// Every JSON line the load generator printed, in order (one per model).
fn parse_load_output(
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    label: &str,
) -> anyhow::Result<Vec<LoadReport>> {
    let stderr = String::from_utf8_lossy(stderr);
    anyhow::ensure!(
        status.success(),
        "load generator failed for {label} ({status}): {stderr}"
    );
    let stdout = String::from_utf8_lossy(stdout);
    let mut reports = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let report: LoadReport = serde_json::from_str(line)
            .with_context(|| format!("parsing the result for {label}"))?;
        eprintln!("{}", load::summary_line(&report));
        reports.push(report);
    }
    anyhow::ensure!(
        !reports.is_empty(),
        "load generator printed no result for {label}"
    );
    Ok(reports)
}

/// seam's RSS at rest and its peak while `--memory-streams` streams stay open through it.
async fn memory_test(
    launcher: &Launcher,
    args: &RunArgs,
    pid: u32,
    idle_kb: u64,
    seam_url: &str,
) -> anyhow::Result<Memory> {
    let label = format!("{} concurrent streams (seam)", args.memory_streams);
    // Each worker keeps one stream open (~20 chunk delays long) and opens the next at once.
    let stream_secs = 20.0 * args.memory_chunk_delay_ms as f64 / 1000.0;
    let duration = (3.0 * stream_secs).max(3.0);
    let urls = [seam_url.to_owned()];
    let mut cmd = load_command(launcher, args, &urls, &["bench-slow"], &label);
    cmd.arg("--stream")
        .arg("--concurrency")
        .arg(args.memory_streams.to_string())
        .arg("--duration-secs")
        .arg(duration.to_string())
        .arg("--warmup-secs")
        .arg("0")
        .arg("--ramp-secs")
        .arg("0.5")
        .arg("--timeout-secs")
        .arg((stream_secs + 30.0).to_string());
    let child = cmd.spawn().context("running the load generator")?;
    let output = child.wait_with_output();
    tokio::pin!(output);
    let mut peak_kb = idle_kb;
    let output = loop {
        tokio::select! {
            out = &mut output => break out?,
            () = tokio::time::sleep(Duration::from_millis(10)) => {
                peak_kb = peak_kb.max(proc_status_kb(pid, "VmRSS")?);
            }
        }
    };
    let streams = parse_load_output(output.status, &output.stdout, &output.stderr, &label)?
        .pop()
        .context("the load generator gave no report")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Memory {
        idle_kb,
        peak_kb,
        after_kb: proc_status_kb(pid, "VmRSS")?,
        streams,
    })
}
