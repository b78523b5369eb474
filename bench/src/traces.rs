//! The tracing scenario (issue 19): what exporting OpenTelemetry traces adds per request.
//!
//! `[telemetry]` is read once per process, so the comparison needs two seams, started from the
//! same generated config but for that section: one without it, one exporting every trace
//! (`sampling = 1.0`) over OTLP/HTTP to the fast mock, which accepts `POST /v1/traces` as a
//! collector would (it reads the body and answers 200). Both are pinned to seam's core and use
//! the audit scenario's ports (the scenario runs alone, `--only-tracing`). One open-loop run at
//! `--tracing-rate`, its requests taking four slots in turn: off, traced, off, traced; each seam
//! is the mean of its two slots, and two slots of one seam show how finely the run resolves.

use std::path::Path;

use serde::Serialize;

use crate::body::Prompt;
use crate::procs::{AuditMode, Launcher, Ports, SeamProcess, SeamSpec, config_toml};
use crate::report::{cells, signed};
use crate::run::{LoadRun, RunArgs, Scenario, run_load_with};
use crate::stats::{LoadReport, Percentiles};

/// The budget for what tracing adds at p50 (BENCHMARKS.md).
pub const ADDED_P50_MS: f64 = 0.02;

const MODEL: &str = "bench";

#[derive(Serialize)]
pub struct Tracing {
    pub scenario: Scenario,
    pub off: LoadReport,
    pub on: LoadReport,
    pub off_b: LoadReport,
    pub on_b: LoadReport,
}

impl Tracing {
    fn off_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.off.latency_ms, self.off_b.latency_ms)
    }

    fn on_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.on.latency_ms, self.on_b.latency_ms)
    }

    /// What tracing adds: traced − off, each the mean of its two slots.
    pub fn added(&self) -> Percentiles {
        self.on_mean().minus(self.off_mean())
    }
}

pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Tracing> {
    let plain = config_toml(ports, ports.audit_off, AuditMode::Off);
    let traced = format!(
        "{}\n[telemetry]\nendpoint = \"http://127.0.0.1:{}\"\nsampling = 1.0\n",
        config_toml(ports, ports.audit_on, AuditMode::Off),
        ports.fast
    );
    let off_dir = dir.join("tracing-off");
    let on_dir = dir.join("tracing-on");
    let off = crate::procs::start_seam_with(
        launcher,
        args,
        seam,
        SeamSpec {
            dir: &off_dir,
            port: ports.audit_off,
            audit: AuditMode::Off,
            master_key: None,
        },
        &plain,
    )
    .await?;
    let on = crate::procs::start_seam_with(
        launcher,
        args,
        seam,
        SeamSpec {
            dir: &on_dir,
            port: ports.audit_on,
            audit: AuditMode::Off,
            master_key: None,
        },
        &traced,
    )
    .await?;
    let (off_url, on_url) = (Ports::url(ports.audit_off), Ports::url(ports.audit_on));
    let rate = args.tracing_rate;
    let scenario = Scenario {
        key: "tracing",
        title: format!(
            "non-stream @ {rate:.0} req/s, 4 slots in turn ({:.0} req/s each)",
            rate / 4.0
        ),
        stream: false,
        rate: Some(rate),
        concurrency: None,
        prompt: Prompt::Short,
    };
    let urls = [off_url.clone(), on_url.clone(), off_url, on_url];
    let load = LoadRun {
        models: &[MODEL; 4],
        urls: &urls,
        warmup_secs: args.warmup_secs,
    };
    let reports = run_load_with(launcher, args, &scenario, load, "tracing off / traced").await;
    stop(off).await?;
    stop(on).await?;
    let [off_a, on_a, off_b, on_b] = <[LoadReport; 4]>::try_from(reports?)
        .map_err(|r| anyhow::anyhow!("{} tracing reports for 4 slots", r.len()))?;
    Ok(Tracing {
        scenario,
        off: off_a,
        on: on_a,
        off_b,
        on_b,
    })
}

async fn stop(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "a seam of the tracing scenario exited during it ({status}); log: {}",
            p.log.display()
        );
    }
    drop(p.child.kill().await);
    Ok(())
}

pub fn section(out: &mut String, t: &Tracing) {
    crate::report::new_block(out);
    out.push_str(&format!(
        "### Tracing (ms): seam without `[telemetry]` vs exporting every trace, {}\n\n\
         Two seams from the same config but for `[telemetry]` (`sampling = 1.0`, OTLP/HTTP to \
         the fast mock, which accepts `POST /v1/traces`), both on seam's core, audit off. One \
         open-loop run whose requests take the seams in turn (off, traced, off, traced), alias \
         `{MODEL}`. \"tracing added\" is traced − off, each the mean of its two slots. Target: \
         p50 added ≤ {ADDED_P50_MS} ms.\n\n\
         | seam | req/s | p50 | p90 | p99 | p99.9 | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|\n",
        t.scenario.title
    ));
    for (name, r) in [
        ("off (slot 1)", &t.off),
        ("off (slot 3)", &t.off_b),
        ("traced (slot 2)", &t.on),
        ("traced (slot 4)", &t.on_b),
    ] {
        out.push_str(&format!("| {name} | {} |\n", cells(r, r.latency_ms)));
    }
    let rows = [
        ("**tracing added**", t.added()),
        (
            "off slot 3 − slot 1 (noise)",
            t.off_b.latency_ms.minus(t.off.latency_ms),
        ),
        (
            "traced slot 4 − slot 2 (noise)",
            t.on_b.latency_ms.minus(t.on.latency_ms),
        ),
    ];
    for (name, p) in rows {
        out.push_str(&format!(
            "| {name} |  | {} | {} | {} | {} |  |\n",
            signed(p.p50),
            signed(p.p90),
            signed(p.p99),
            signed(p.p999)
        ));
    }
    out.push('\n');
}
