//! `seam-bench evals`: how fast evaluations run.
//!
//! 1. Deterministic assertions per second on one core: `grade_all` over a fixed mix of eleven
//!    assertion types (contains, icontains, contains-any, regex, starts-with, equals, word-count,
//!    levenshtein, rouge-n, bleu, is-json on a JSON answer) against ~600-byte answers.
//! 2. A 1,000-case suite (CSV tests, three assertions each) run by the release `seam eval`
//!    against a release `seam serve` on its embedded default (the `echo` provider, audit trail
//!    on), wall clock from process start to exit, with a fresh record/replay cache; then the
//!    same suite again, replayed from the cache.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context as _;
use seam_evals::{Context, Output, assertions};
use serde_json::{Map, Value, json};

/// Targets (BENCHMARKS.md).
pub const ASSERTIONS_PER_SEC: f64 = 5_000.0;
pub const SUITE_SECS: f64 = 10.0;

#[derive(clap::Args)]
pub struct EvalsArgs {
    /// The seam binary (serves echo and runs `seam eval`).
    #[arg(long, default_value = "target/release/seam")]
    pub seam: PathBuf,
    /// Cases in the generated suite.
    #[arg(long, default_value_t = 1_000)]
    pub cases: usize,
    /// Rounds of the assertion mix.
    #[arg(long, default_value_t = 20_000)]
    pub rounds: usize,
    /// `seam eval --max-concurrency`.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

fn mix() -> anyhow::Result<Vec<(seam_evals::Assertion, Output)>> {
    let text = "echo: The quarterly report shows revenue of 4.2 million, up 12 percent on last year, \
        driven by the new subscription tier and lower churn in the enterprise segment. Costs rose \
        by 3 percent, mostly cloud spend, and the team expects margins to widen next quarter as \
        the migration to self-hosted inference completes. Risks: a pending audit and one large \
        customer renewal in March. Next steps: finalise the budget, hire two engineers, and ship.";
    let plain = Output {
        text: text.to_owned(),
        ..Output::default()
    };
    let json_out = Output {
        text:
            json!({"revenue": 4.2, "growth": 0.12, "risks": ["audit", "renewal"], "summary": text})
                .to_string(),
        ..Output::default()
    };
    let reference = "The quarterly report shows revenue of 4.2 million, up 12 percent, driven by subscriptions and lower churn; costs rose 3 percent.";
    let specs = [
        (json!({"type": "contains", "value": "revenue"}), &plain),
        (
            json!({"type": "icontains", "value": "QUARTERLY REPORT"}),
            &plain,
        ),
        (
            json!({"type": "contains-any", "value": ["churn", "attrition", "retention"]}),
            &plain,
        ),
        (
            json!({"type": "regex", "value": "\\d+(\\.\\d+)? million"}),
            &plain,
        ),
        (json!({"type": "starts-with", "value": "echo:"}), &plain),
        (json!({"type": "not-equals", "value": "nothing"}), &plain),
        (
            json!({"type": "word-count", "value": {"min": 20, "max": 200}}),
            &plain,
        ),
        (
            json!({"type": "levenshtein", "value": reference, "threshold": 1000}),
            &plain,
        ),
        (
            json!({"type": "rouge-n", "value": reference, "threshold": 0.2}),
            &plain,
        ),
        (
            json!({"type": "bleu", "value": reference, "threshold": 0.01}),
            &plain,
        ),
        (
            json!({"type": "is-json", "value": {"type": "object", "required": ["revenue", "risks"]}}),
            &json_out,
        ),
    ];
    specs
        .iter()
        .enumerate()
        .map(|(i, (spec, out))| {
            let a = assertions::parse(spec, &format!("mix[{i}]"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((a, (*out).clone()))
        })
        .collect()
}

fn assertions_per_sec(rounds: usize) -> anyhow::Result<(f64, usize)> {
    let mix = mix()?;
    let vars = Map::new();
    let ctx = Context {
        vars: &vars,
        prompt: "",
        judge: None,
        test: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(async {
        // Warm up, and check every assertion passes on its answer (a failing one is a bug here).
        for (a, out) in &mix {
            let g = assertions::grade_all(std::slice::from_ref(a), None, out, &ctx)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(g.pass, "{} does not pass its answer: {}", a.kind, g.reason);
        }
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..rounds {
            for (a, out) in &mix {
                let g = assertions::grade_all(std::slice::from_ref(a), None, out, &ctx)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                n += usize::from(g.pass);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        Ok(((rounds * mix.len()) as f64 / secs, n))
    })
}

fn write_suite(dir: &Path, cases: usize) -> anyhow::Result<()> {
    let mut csv = String::from("topic,__expected1,__expected2,__expected3\n");
    for i in 0..cases {
        csv.push_str(&format!(
            "topic-{i},contains: topic-{i},starts-with: echo:,not-icontains: error\n"
        ));
    }
    std::fs::write(dir.join("tests.csv"), csv)?;
    std::fs::write(
        dir.join("suite.yaml"),
        "description: bench suite\nprompts: [\"Write one line about {{topic}}\"]\nproviders: [seam:chat]\ntests: file://tests.csv\n",
    )?;
    Ok(())
}

fn serve(seam: &Path, dir: &Path) -> anyhow::Result<(std::process::Child, String)> {
    let mut child = Command::new(seam)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("SEAM_LOG", "info")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("SEAM_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", seam.display()))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().context("seam exited before listening")??;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, format!("http://{addr}/v1")))
}

fn timed_eval(
    seam: &Path,
    dir: &Path,
    url: &str,
    concurrency: usize,
    out: &str,
) -> anyhow::Result<(f64, Value)> {
    let start = Instant::now();
    let status = Command::new(seam)
        .args([
            "eval",
            "suite.yaml",
            "--base-url",
            url,
            "--cache-dir",
            "cache",
            "-o",
            out,
        ])
        .args(["--max-concurrency", &concurrency.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()?;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(status.code() == Some(0), "seam eval exited with {status}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(out))?)?;
    Ok((secs, report))
}

pub fn main(mut args: EvalsArgs) -> anyhow::Result<()> {
    // The children run in a temporary directory: name the binary absolutely.
    args.seam = std::fs::canonicalize(&args.seam).with_context(|| {
        format!(
            "{}: build it first (cargo build --release -p seam-cli)",
            args.seam.display()
        )
    })?;
    let (per_sec, passed) = assertions_per_sec(args.rounds)?;
    let dir = std::env::temp_dir().join(format!("seam-bench-evals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    write_suite(&dir, args.cases)?;
    let (mut server, url) = serve(&args.seam, &dir)?;
    let first = timed_eval(&args.seam, &dir, &url, args.concurrency, "first.json");
    let replay = timed_eval(&args.seam, &dir, &url, args.concurrency, "replay.json");
    let _ = server.kill();
    let _ = server.wait();
    let (first_secs, first) = first?;
    let (replay_secs, replay) = replay?;
    let _ = std::fs::remove_dir_all(&dir);
    let cases = first["totals"]["cases"].as_u64().unwrap_or(0);
    let ok = |m: bool| if m { "met" } else { "MISSED" };
    println!("| check | measured | target | |");
    println!("| --- | --: | --: | --- |");
    println!(
        "| deterministic assertions per second, one core ({} types, {passed} graded) | {per_sec:.0} | ≥ {ASSERTIONS_PER_SEC:.0} | {} |",
        mix()?.len(),
        ok(per_sec >= ASSERTIONS_PER_SEC)
    );
    println!(
        "| {cases}-case suite through the gateway (echo), `seam eval` wall clock, fresh cache, {} in flight | {first_secs:.2} s ({} passed) | ≤ {SUITE_SECS:.0} s | {} |",
        args.concurrency,
        first["totals"]["passed"],
        ok(first_secs <= SUITE_SECS)
    );
    println!(
        "| the same suite replayed from the record/replay cache | {replay_secs:.2} s ({} passed) | | |",
        replay["totals"]["passed"]
    );
    Ok(())
}
