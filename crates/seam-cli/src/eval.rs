//! `seam eval SUITE.yaml`: runs a promptfoo-format suite, writes the reports `-o` asks for, and
//! exits like promptfoo: 0 when everything passed, 100 when a case failed (or the pass rate is
//! under `--pass-threshold`, or a `--margin` gate failed), 1 on an error. Every check that needs
//! no request runs first (`--check` runs only those); a run that stops midway still writes its
//! reports, with the cases it finished and why it stopped, and exits 1.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use seam_evals::cache::Cache;
use seam_evals::report::{self, Report};
use seam_evals::runner::{self, Options};
use seam_evals::suite::Suite;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The suite: promptfoo's config format (YAML or JSON).
    pub suite: PathBuf,
    /// The endpoint for every provider without its own config.apiBaseUrl (e.g. a Seam gateway,
    /// http://127.0.0.1:8700/v1). Default: OPENAI_BASE_URL for openai:, SEAM_BASE_URL or
    /// http://127.0.0.1:8700/v1 for seam: and vendor ids (anthropic:, google:, bedrock:, …).
    #[arg(long)]
    pub base_url: Option<String>,
    /// The API key for every provider without its own config.apiKey (default: OPENAI_API_KEY,
    /// or SEAM_API_KEY for seam:).
    #[arg(long, env = "SEAM_EVAL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Write a report: .json, .junit.xml (or .xml), .html or .md, by extension. Repeatable.
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<PathBuf>,
    /// Cases in flight at once (default: the suite's evaluateOptions.maxConcurrency, else 4).
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Run every case this many times (samples for the statistics).
    #[arg(long)]
    pub repeat: Option<u32>,
    /// Only providers whose id or label matches this regex.
    #[arg(long)]
    pub filter_providers: Option<String>,
    /// Ask the endpoints even when a recorded answer exists (answers are still recorded).
    #[arg(long)]
    pub no_cache: bool,
    /// Where answers are recorded and replayed (default: .seam-eval-cache beside the suite).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Exit 100 only when the pass rate is below this (0..=1) instead of on any failure.
    #[arg(long)]
    pub pass_threshold: Option<f64>,
    /// A previous run's JSON report to compare against (paired by test and vars).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Non-inferiority margin on the pass rate (e.g. 0.02): PASS when the candidate is no worse
    /// than the baseline by more than this with 95% confidence, FAIL (exit 100) when it is worse.
    #[arg(long)]
    pub margin: Option<f64>,
    /// With --margin: an INCONCLUSIVE comparison also exits 100.
    #[arg(long)]
    pub strict: bool,
    /// Seed of the bootstrap (the same seed gives the same intervals).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The grader for model-graded assertions that name none (promptfoo's default grader), as a
    /// provider id (e.g. seam:judge). Else SEAM_EVAL_JUDGE, else the config's [evals] judge.
    #[arg(long, env = "SEAM_EVAL_JUDGE")]
    pub judge: Option<String>,
    /// Seam's config, read for its [evals] judge when neither --judge nor SEAM_EVAL_JUDGE is set.
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// Only check the suite (every key, file, template, provider and grader) without a request:
    /// exit 0 when it would run, 1 with the reason (promptfoo's `validate`).
    #[arg(long)]
    pub check: bool,
}

fn progress(total_hint: bool) -> Option<ProgressBar> {
    if !total_hint || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} cases ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// Refuses a report path whose format is unknown, before anything runs.
pub(crate) fn check_outputs(outputs: &[PathBuf]) -> anyhow::Result<()> {
    for o in outputs {
        let name = o.to_string_lossy().to_ascii_lowercase();
        if ![".json", ".xml", ".html", ".htm", ".md"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            anyhow::bail!(
                "{}: unknown report format (use .json, .junit.xml, .html or .md)",
                o.display()
            );
        }
    }
    Ok(())
}

pub(crate) fn write_report(report: &Report, path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = if name.ends_with(".json") {
        report.to_json()
    } else if name.ends_with(".xml") {
        report.to_junit()
    } else if name.ends_with(".html") || name.ends_with(".htm") {
        report.to_html()
    } else if name.ends_with(".md") {
        report.to_markdown()
    } else {
        anyhow::bail!(
            "{}: unknown report format (use .json, .junit.xml, .html or .md)",
            path.display()
        );
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// promptfoo's default grader, in Seam: `--judge`, else `SEAM_EVAL_JUDGE` (both are `args.judge`),
/// else `[evals] judge` in Seam's config (read only when a test needs it). A suite that needs one
/// and has none stops here, before the first request.
fn default_grader(args: &Args, suite: &Suite) -> anyhow::Result<Option<serde_json::Value>> {
    let named = |id: String, source: &str| {
        seam_evals::provider::check_default_grader(&id, source, &suite.aliases)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(serde_json::Value::String(id)))
    };
    if let Some(j) = &args.judge {
        return named(j.clone(), "--judge");
    }
    if !seam_evals::provider::needs_default_grader(suite) {
        return Ok(None);
    }
    if let Some(path) = &args.config
        && let Some(alias) = crate::config::load(Some(path))?.evals.judge
    {
        return named(format!("seam:{alias}"), "[evals] judge");
    }
    anyhow::bail!(
        "{}: {} (--config or SEAM_CONFIG names the config)",
        args.suite.display(),
        runner::NO_JUDGE
    )
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(p) = args.pass_threshold
        && !(0.0..=1.0).contains(&p)
    {
        anyhow::bail!("--pass-threshold must be between 0 and 1");
    }
    if let Some(m) = args.margin
        && !(0.0..1.0).contains(&m)
    {
        anyhow::bail!("--margin must be at least 0 and under 1");
    }
    check_outputs(&args.outputs)?;
    let suite =
        Suite::load(&args.suite).map_err(|e| anyhow::anyhow!("{}: {e}", args.suite.display()))?;
    let baseline: Option<Report> = match &args.baseline {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Some(serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{}: not a seam eval JSON report ({e})", p.display())
            })?)
        }
        None => None,
    };
    let filter = args
        .filter_providers
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--filter-providers: not a valid regex ({e})"))?;
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| suite.dir.join(".seam-eval-cache"));
    let opts = Options {
        max_concurrency: args.max_concurrency,
        repeat: args.repeat,
        base_url: args.base_url.clone(),
        api_key: args.api_key.clone(),
        filter_providers: filter,
        cache: Cache::new(
            Some(cache_dir),
            !args.no_cache && suite.cache != Some(false),
        ),
        judge: default_grader(&args, &suite)?,
        timeout: std::time::Duration::from_secs(args.timeout_s.max(1)),
    };
    if args.check {
        let plan = runner::preflight(&suite, &opts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.suite.display()))?;
        println!(
            "{}: ok: {} tests × {} prompts × {} providers, {} cases",
            args.suite.display(),
            plan.tests,
            plan.prompts,
            plan.providers,
            plan.cases
        );
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = progress(true);
    let on_progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    };
    let (run, stopped) = runtime
        .block_on(runner::run_partial(&suite, &opts, &on_progress))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.suite.display()))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut report = report::build(run, baseline.as_ref(), args.margin, args.seed);
    report.error = stopped.as_ref().map(ToString::to_string);
    for o in &args.outputs {
        write_report(&report, o)?;
    }
    print!("{}", report.to_markdown());
    if let Some(e) = stopped {
        anyhow::bail!(
            "{}: the run stopped after {} cases (the reports hold them): {e}",
            args.suite.display(),
            report.totals.cases
        );
    }
    let t = &report.totals;
    let under = match args.pass_threshold {
        Some(p) => t.pass_rate < p,
        None => args.margin.is_none() && t.failed > 0,
    };
    if under || report.gate_fails(args.strict) {
        return Ok(ExitCode::from(100));
    }
    Ok(ExitCode::SUCCESS)
}
