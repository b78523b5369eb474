//! The markdown the runner prints: latency per scenario (direct, through seam, added), routing,
//! policy, cache, API surfaces, memory, MCP tool calls, the audit trail, and the targets from BENCHMARKS.md with whether this run met
//! them.

use serde::Serialize;

use crate::audit::{self, Audit};
use crate::policy::{self, Policy};
use crate::routing::{self, Routing};
use crate::run::{RunArgs, Scenario};
use crate::stats::{LoadReport, Percentiles};

/// Where and how the run happened, printed above the tables.
#[derive(Serialize)]
pub struct Meta {
    pub cpu: String,
    pub cores: usize,
    /// Share of all cores busy during the second before the run (other jobs: noise).
    pub busy_before_pct: f64,
    pub pinning: String,
    pub duration_secs: f64,
    pub warmup_secs: f64,
}

impl Meta {
    pub fn collect(args: &RunArgs, busy_before_pct: f64) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let pinning = if args.no_pin {
            "none (--no-pin)".to_owned()
        } else {
            format!(
                "seam on core {}; mocks and load generator on core {} (`taskset -c`)",
                args.seam_cpu, args.load_cpu
            )
        };
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            busy_before_pct,
            pinning,
            duration_secs: args.duration_secs,
            warmup_secs: args.warmup_secs,
        }
    }
}

/// One scenario, both paths.
#[derive(Serialize)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub direct: LoadReport,
    /// The do-nothing proxy on seam's core; `None` with `--no-reference`.
    pub proxy: Option<LoadReport>,
    /// `None` with `--direct-only`.
    pub seam: Option<LoadReport>,
}

/// seam's resident memory, KiB.
#[derive(Serialize)]
pub struct Memory {
    /// After start-up, before any load.
    pub idle_kb: u64,
    /// Highest VmRSS sampled (every 10 ms) while the concurrent streams ran.
    pub peak_kb: u64,
    /// One second after the streams ended.
    pub after_kb: u64,
    pub streams: LoadReport,
}

// Targets (BENCHMARKS.md).
pub const ADDED_P50_MS: f64 = 0.15;
pub const ADDED_P99_MS: f64 = 1.0;
const SATURATION_RATIO: f64 = 0.5;
const ADDED_TTFC_MS: f64 = 1.0;
const RSS_IDLE_MIB: f64 = 40.0;
const RSS_STREAMS_MIB: f64 = 150.0;

/// The blocks a run may have besides the latency table; `None` where it was skipped.
#[derive(Default)]
pub struct Sections<'a> {
    pub routing: Option<&'a Routing>,
    pub policy: Option<&'a Policy>,
    pub cache: Option<&'a crate::cache::Cache>,
    pub surfaces: Option<&'a crate::surfaces::Surfaces>,
    pub memory: Option<&'a Memory>,
    pub mcp: Option<&'a crate::mcp::Mcp>,
    pub audit: Option<&'a Audit>,
    pub names: Option<&'a crate::names::Names>,
    pub prompts: Option<&'a crate::prompts::Prompts>,
    pub full: Option<&'a crate::full::Full>,
}

pub fn markdown(meta: &Meta, results: &[ScenarioResult], sections: &Sections<'_>) -> String {
    let Sections {
        routing,
        policy,
        cache,
        surfaces,
        memory,
        mcp,
        audit,
        names,
        prompts,
        full,
    } = *sections;
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {}, {} cores, {:.0}% busy just before the run. Pinning: {}. \
         Each run: {} s measured after {} s of warm-up.\n\n",
        meta.cpu,
        meta.cores,
        meta.busy_before_pct,
        meta.pinning,
        meta.duration_secs,
        meta.warmup_secs
    ));
    if !results.is_empty() {
        latency(&mut out, results);
    }
    let routed = routing.into_iter().flat_map(Routing::reports);
    let guarded = policy.into_iter().flat_map(Policy::reports);
    let audited = audit.into_iter().flat_map(Audit::reports);
    let cached = cache.into_iter().flat_map(crate::cache::Cache::reports);
    let surfaced = surfaces
        .into_iter()
        .flat_map(crate::surfaces::Surfaces::reports);
    let lag = results
        .iter()
        .flat_map(|r| [Some(&r.direct), r.seam.as_ref()])
        .flatten()
        .chain(routed)
        .chain(guarded)
        .chain(audited)
        .chain(cached)
        .chain(surfaced)
        .chain(names.into_iter().flat_map(crate::names::Names::reports))
        .chain(mcp.into_iter().flat_map(crate::mcp::Mcp::reports))
        .chain(
            prompts
                .into_iter()
                .flat_map(crate::prompts::Prompts::reports),
        )
        .filter_map(|r| r.send_lag_ms)
        .map(|l| l.p99)
        .fold(0.0, f64::max);
    out.push_str(&format!(
        "\nThe load generator's own dispatch lag (how late it sent a request after its scheduled \
         time, counted in the latencies above): worst p99 over the open-loop runs {lag:.3} ms.\n\n"
    ));
    // The core scenario (direct and seam alone), beside which the routing block is read.
    let core = results
        .iter()
        .find(|r| r.scenario.key == "rate_1000")
        .and_then(|x| Some((&x.direct, x.seam.as_ref()?)));
    if let Some(r) = routing {
        routing::section(&mut out, r, core);
    }
    if let Some(p) = policy {
        policy::section(&mut out, p);
    }
    if let Some(c) = cache {
        crate::cache::section(&mut out, c);
    }
    if let Some(s) = surfaces {
        crate::surfaces::section(&mut out, s);
    }
    if let Some(m) = memory {
        memory_table(&mut out, m);
    }
    if let Some(m) = mcp {
        crate::mcp::section(&mut out, m);
    }
    if let Some(a) = audit {
        audit::section(&mut out, a);
    }
    if let Some(n) = names {
        crate::names::section(&mut out, n);
    }
    if let Some(p) = prompts {
        crate::prompts::section(&mut out, p);
    }
    out.push_str("### Targets\n\n| check | measured | target | met |\n|---|--:|--:|:-:|\n");
    // With `--only-policy` there is nothing to hold the core targets against.
    if !results.is_empty() || memory.is_some() {
        targets(&mut out, results, memory);
    }
    if let Some(r) = routing {
        for (check, measured, target) in routing::checks(r, core) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(p) = policy {
        for (check, measured, target) in policy::checks(p) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(c) = cache {
        for (check, measured, target) in crate::cache::checks(c) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(s) = surfaces {
        for (check, measured, target) in crate::surfaces::checks(s) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(m) = mcp {
        for (check, measured, target) in crate::mcp::checks(m) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(a) = audit {
        for (check, measured, target) in audit::checks(a) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(p) = prompts {
        for (check, measured, target) in crate::prompts::checks(p) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    if let Some(f) = full {
        for (check, measured, target) in crate::full::checks(f) {
            target_row(&mut out, &check, measured, &target);
        }
    }
    out
}

/// The latency table and the reference proxy beside it.
fn latency(out: &mut String, results: &[ScenarioResult]) {
    out.push_str("### Latency (ms): direct to the mock, through seam, and the difference\n\n");
    out.push_str("| scenario | path | req/s | p50 | p90 | p99 | p99.9 | errors |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|\n");
    for r in results {
        let seam = r.seam.as_ref().map(|x| (x, x.latency_ms));
        if let Some(d) = r.direct.ttfc_ms {
            let title = format!("{}: first chunk", r.scenario.title);
            let seam_ttfc = r.seam.as_ref().map(|x| (x, x.ttfc_ms.unwrap_or_default()));
            latency_rows(out, &title, &r.direct, d, seam_ttfc);
            let title = format!("{}: whole stream", r.scenario.title);
            latency_rows(out, &title, &r.direct, r.direct.latency_ms, seam);
        } else {
            latency_rows(out, &r.scenario.title, &r.direct, r.direct.latency_ms, seam);
        }
        if let (Some(_), Some(s)) = (r.scenario.concurrency, &r.seam) {
            out.push_str(&format!(
                "|  | through / direct | {} |  |  |  |  |  |\n",
                ratio(s.throughput_rps, r.direct.throughput_rps)
            ));
        }
    }
    reference(out, results);
}

fn memory_table(out: &mut String, m: &Memory) {
    out.push_str("### seam memory (VmRSS)\n\n| state | MiB |\n|---|--:|\n");
    out.push_str(&format!(
        "| idle, after start-up | {:.1} |\n",
        mib(m.idle_kb)
    ));
    // Little's law: completions per second × seconds each = streams open on average.
    let in_flight = m.streams.throughput_rps * m.streams.latency_ms.mean / 1000.0;
    out.push_str(&format!(
        "| peak, {} concurrent streams ({} ok, {} errors, {in_flight:.0} open on average) | {:.1} |\n",
        m.streams.concurrency.unwrap_or(0),
        m.streams.ok,
        m.streams.errors,
        mib(m.peak_kb)
    ));
    out.push_str(&format!(
        "| idle, 1 s after the streams | {:.1} |\n\n",
        mib(m.after_kb)
    ));
}

/// The do-nothing proxy beside seam: how much of seam's added latency any extra hop costs here.
fn reference(out: &mut String, results: &[ScenarioResult]) {
    if results.iter().all(|r| r.proxy.is_none()) {
        return;
    }
    out.push_str(
        "\n### Reference: a do-nothing proxy in seam's place\n\n\
         `seam-bench proxy` (hyper; forwards the body, streams the answer back, no parsing) on \
         seam's core. What it adds is the floor for any gateway on this machine: one more \
         loopback hop and two more process wake-ups. Added latency in ms; streams by first chunk; \
         saturation by throughput through / direct.\n\n\
         | scenario | proxy added p50 | proxy added p99 | seam added p50 | seam added p99 | \
         seam − proxy p50 | seam − proxy p99 |\n|---|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in results {
        let Some(proxy) = &r.proxy else { continue };
        let pick = |x: &LoadReport| match x.ttfc_ms {
            Some(ttfc) => ttfc,
            None => x.latency_ms,
        };
        let (d, p) = (pick(&r.direct), pick(proxy));
        let seam = r.seam.as_ref().map(pick);
        let cell = |v: Option<f64>| v.map_or_else(|| "pending".to_owned(), signed);
        if r.scenario.concurrency.is_some() {
            let through = |x: &LoadReport| ratio(x.throughput_rps, r.direct.throughput_rps);
            let seam_ratio = r
                .seam
                .as_ref()
                .map_or_else(|| "pending".to_owned(), through);
            out.push_str(&format!(
                "| {} | {} |  | {seam_ratio} |  |  |  |\n",
                r.scenario.title,
                through(proxy)
            ));
            continue;
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario.title,
            signed(p.p50 - d.p50),
            signed(p.p99 - d.p99),
            cell(seam.map(|s| s.p50 - d.p50)),
            cell(seam.map(|s| s.p99 - d.p99)),
            cell(seam.map(|s| s.p50 - p.p50)),
            cell(seam.map(|s| s.p99 - p.p99)),
        ));
    }
}

fn latency_rows(
    out: &mut String,
    title: &str,
    direct: &LoadReport,
    d: Percentiles,
    seam: Option<(&LoadReport, Percentiles)>,
) {
    out.push_str(&format!("| {title} | direct | {} |\n", cells(direct, d)));
    match seam {
        Some((report, s)) => {
            out.push_str(&format!("|  | seam | {} |\n", cells(report, s)));
            out.push_str(&format!(
                "|  | added |  | {} | {} | {} | {} |  |\n",
                signed(s.p50 - d.p50),
                signed(s.p90 - d.p90),
                signed(s.p99 - d.p99),
                signed(s.p999 - d.p999)
            ));
        }
        None => out.push_str("|  | seam | pending |  |  |  |  |  |\n"),
    }
}

pub fn cells(r: &LoadReport, p: Percentiles) -> String {
    let mut errors = r.errors.to_string();
    if let Some(done) = r.streams_with_done {
        errors.push_str(&format!(" ({done}/{} [DONE])", r.requests));
    }
    format!(
        "{:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {errors}",
        r.throughput_rps, p.p50, p.p90, p.p99, p.p999
    )
}

/// The core rows of the targets table (latency, saturation, streams, memory).
fn targets(out: &mut String, results: &[ScenarioResult], memory: Option<&Memory>) {
    let find = |key: &str| results.iter().find(|r| r.scenario.key == key);
    let pair = |key: &str| find(key).and_then(|r| Some((&r.direct, r.seam.as_ref()?)));
    let mut row = |check: &str, measured: Option<(String, bool)>, target: &str| {
        target_row(out, check, measured, target);
    };
    let added = |key: &str, pick: fn(Percentiles) -> f64, limit: f64, ttfc: bool| {
        pair(key).and_then(|(d, s)| {
            let (d, s) = if ttfc {
                (d.ttfc_ms?, s.ttfc_ms?)
            } else {
                (d.latency_ms, s.latency_ms)
            };
            let delta = pick(s) - pick(d);
            Some((format!("{} ms", signed(delta)), delta <= limit))
        })
    };
    let rate_title =
        find("rate_1000").map_or_else(String::new, |r| format!(" ({})", r.scenario.title));
    row(
        &format!("added p50{rate_title}"),
        added("rate_1000", |p| p.p50, ADDED_P50_MS, false),
        "≤ 0.15 ms",
    );
    row(
        &format!("added p99{rate_title}"),
        added("rate_1000", |p| p.p99, ADDED_P99_MS, false),
        "≤ 1 ms",
    );
    let saturation = pair("saturation").map(|(d, s)| {
        let r = s.throughput_rps / d.throughput_rps.max(f64::MIN_POSITIVE);
        (
            format!(
                "{r:.2} ({:.0} / {:.0} req/s)",
                s.throughput_rps, d.throughput_rps
            ),
            r >= SATURATION_RATIO,
        )
    });
    row(
        "saturation throughput, through / direct",
        saturation,
        "≥ 0.50",
    );
    row(
        "added time to first chunk, p50",
        added("stream", |p| p.p50, ADDED_TTFC_MS, true),
        "≤ 1 ms",
    );
    row(
        "added time to first chunk, p99",
        added("stream", |p| p.p99, ADDED_TTFC_MS, true),
        "≤ 1 ms",
    );
    let streams_done = pair("stream").and_then(|(_, s)| {
        Some((
            format!("{}/{}", s.streams_with_done?, s.requests),
            s.all_streams_done()?,
        ))
    });
    row(
        "streams through seam that ended with [DONE]",
        streams_done,
        "all",
    );
    let idle = memory.map(|m| {
        (
            format!("{:.1} MiB", mib(m.idle_kb)),
            mib(m.idle_kb) <= RSS_IDLE_MIB,
        )
    });
    row("RSS idle", idle, "≤ 40 MiB");
    let peak = memory.map(|m| {
        let ok = mib(m.peak_kb) <= RSS_STREAMS_MIB && m.streams.errors == 0;
        let n = m.streams.concurrency.unwrap_or(0);
        (
            format!(
                "{:.1} MiB ({n} streams, {} errors)",
                mib(m.peak_kb),
                m.streams.errors
            ),
            ok,
        )
    });
    row("RSS peak with concurrent streams", peak, "≤ 150 MiB");
}

fn target_row(out: &mut String, check: &str, measured: Option<(String, bool)>, target: &str) {
    let (value, met) = match measured {
        Some((value, met)) => (value, if met { "yes" } else { "**no**" }),
        None => ("pending".to_owned(), "—"),
    };
    out.push_str(&format!("| {check} | {value} | {target} | {met} |\n"));
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Ends what `out` holds with a blank line, so a section appended after a table starts a block
/// of its own.
pub fn new_block(out: &mut String) {
    if out.is_empty() || out.ends_with("\n\n") {
        return;
    }
    out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
}

pub fn signed(ms: f64) -> String {
    format!("{ms:+.3}")
}

pub fn ratio(through: f64, direct: f64) -> String {
    if direct > 0.0 {
        format!("{:.2}×", through / direct)
    } else {
        "—".to_owned()
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::collections::BTreeMap;

    pub fn report(p50: f64, p99: f64, rps: f64, stream: bool) -> LoadReport {
        let p = Percentiles {
            p50,
            p90: p50,
            p99,
            p999: p99,
            max: p99,
            mean: p50,
        };
        LoadReport {
            label: String::new(),
            url: String::new(),
            model: "bench".into(),
            mode: "open".into(),
            stream,
            rate: Some(1000.0),
            concurrency: None,
            window_s: 10.0,
            requests: 10,
            ok: 10,
            errors: 0,
            error_kinds: BTreeMap::new(),
            throughput_rps: rps,
            with_email: 0,
            latency_ms: p,
            ttfc_ms: stream.then_some(p),
            streams_with_done: stream.then_some(10),
            send_lag_ms: None,
            seam_attempts: BTreeMap::new(),
            seam_routes: BTreeMap::new(),
            seam_policies: BTreeMap::new(),
        }
    }

    fn scenario(key: &'static str, concurrency: Option<usize>) -> Scenario {
        Scenario {
            key,
            title: key.to_owned(),
            stream: key == "stream",
            rate: concurrency.is_none().then_some(1000.0),
            concurrency,
            prompt: crate::body::Prompt::Short,
        }
    }

    pub fn meta() -> Meta {
        Meta {
            cpu: "cpu".into(),
            cores: 2,
            busy_before_pct: 0.0,
            pinning: "p".into(),
            duration_secs: 10.0,
            warmup_secs: 2.0,
        }
    }

    #[test]
    fn added_latency_and_targets_are_computed_from_both_paths() {
        let results = vec![
            ScenarioResult {
                scenario: scenario("rate_1000", None),
                direct: report(0.100, 0.300, 1000.0, false),
                proxy: Some(report(0.150, 0.400, 1000.0, false)),
                seam: Some(report(0.200, 0.500, 1000.0, false)),
            },
            ScenarioResult {
                scenario: scenario("saturation", Some(64)),
                direct: report(1.0, 2.0, 20000.0, false),
                proxy: None,
                seam: Some(report(1.5, 3.0, 15000.0, false)),
            },
        ];
        let md = markdown(&meta(), &results, &Sections::default());
        assert!(
            md.contains("|  | added |  | +0.100 | +0.100 | +0.200 | +0.200 |  |"),
            "{md}"
        );
        assert!(
            md.contains("| added p50 (rate_1000) | +0.100 ms | ≤ 0.15 ms | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| added p99 (rate_1000) | +0.200 ms | ≤ 1 ms | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| 0.75 (15000 / 20000 req/s) | ≥ 0.50 | yes |"),
            "{md}"
        );
        assert!(md.contains("|  | through / direct | 0.75× |"), "{md}");
        assert!(md.contains("| RSS idle | pending | ≤ 40 MiB | — |"), "{md}");
        assert!(
            md.contains("| rate_1000 | +0.050 | +0.100 | +0.100 | +0.200 | +0.050 | +0.100 |"),
            "{md}"
        );
    }

    #[test]
    fn direct_only_marks_seam_pending() {
        let results = vec![ScenarioResult {
            scenario: scenario("stream", None),
            direct: report(0.100, 0.300, 500.0, true),
            proxy: Some(report(0.150, 0.350, 500.0, true)),
            seam: None,
        }];
        let md = markdown(&meta(), &results, &Sections::default());
        assert!(md.contains("|  | seam | pending |"), "{md}");
        assert!(
            md.contains("| added time to first chunk, p50 | pending |"),
            "{md}"
        );
        assert!(md.contains("(10/10 [DONE])"), "{md}");
        assert!(
            md.contains("| stream | +0.050 | +0.050 | pending | pending | pending | pending |"),
            "{md}"
        );
    }
}
