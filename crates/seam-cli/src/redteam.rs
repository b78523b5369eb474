//! `seam redteam`: attack a model or alias behind any OpenAI-compatible endpoint with the built-in
//! probe library (`seam-evals`), print a pass rate per category, and exit 0 when the overall rate
//! reaches `--pass-threshold`, 100 when it does not, 1 on an error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use seam_evals::redteam::{self, Category, Probe, Report, RunOptions, Target};

/// Exit status when the pass rate is below the threshold.
const BELOW_THRESHOLD: u8 = 100;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The model or alias to attack, sent as `model`.
    #[arg(long, required_unless_present = "list")]
    target: Option<String>,
    /// The endpoint, up to and including `/v1`.
    #[arg(
        long,
        env = "OPENAI_BASE_URL",
        default_value = "http://127.0.0.1:8700/v1"
    )]
    base_url: String,
    /// Bearer key (default: SEAM_API_KEY, else OPENAI_API_KEY; none when neither is set).
    #[arg(long)]
    api_key: Option<String>,
    /// Also write the report: `.json` (every result) or `.md` (a summary for a pull request).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Exit 0 when at least this share of the probes passes (0 to 1), else 100.
    #[arg(long, default_value_t = 1.0)]
    pass_threshold: f64,
    /// Only these categories (repeatable, or comma-separated); see --list.
    #[arg(long = "category", value_name = "NAME", value_delimiter = ',')]
    categories: Vec<String>,
    /// Draws every canary, nonce and fake secret: the same seed sends the same probes
    /// (default: random; the report prints it).
    #[arg(long)]
    seed: Option<u64>,
    /// Probes in flight at once.
    #[arg(long, default_value_t = 4)]
    max_concurrency: usize,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    timeout: u64,
    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Retries of a request that met 429, 5xx or a timeout.
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// List the probes (id, category, description) and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Clone, Copy)]
enum OutputFormat {
    Json,
    Markdown,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.pass_threshold) {
        bail!(
            "--pass-threshold must be between 0 and 1, not {}",
            args.pass_threshold
        );
    }
    if args.max_concurrency == 0 {
        bail!("--max-concurrency must be at least 1");
    }
    let format = args.output.as_deref().map(output_format).transpose()?;
    let probes = select(&args.categories)?;
    if args.list {
        let mut list = String::new();
        for p in &probes {
            list.push_str(&format!(
                "{:<34} {:<26} {}\n",
                p.id, p.category, p.description
            ));
        }
        print_out(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(model) = args.target else {
        bail!("--target is required");
    };
    let target = Target {
        base_url: args.base_url,
        model,
        api_key: args.api_key.or_else(|| {
            ["SEAM_API_KEY", "OPENAI_API_KEY"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        }),
        max_concurrency: args.max_concurrency,
        timeout: Duration::from_secs(args.timeout.max(1)),
        max_tokens: args.max_tokens,
        retries: args.retries,
    };
    let options = RunOptions {
        seed: args.seed.unwrap_or_else(random_seed),
        pass_threshold: args.pass_threshold,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = progress(probes.len());
    let report = runtime.block_on(redteam::run(&target, &probes, options, &|| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    }));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    if report.summary.probes > 0 && report.summary.errors == report.summary.probes {
        let first = report
            .results
            .iter()
            .find_map(|r| r.error.as_deref())
            .unwrap_or("no answer");
        bail!("no probe got an answer from {}: {first}", target.base_url);
    }
    print_out(&report.text())?;
    if let (Some(path), Some(format)) = (&args.output, format) {
        write(path, format, &report)?;
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(BELOW_THRESHOLD)
    })
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

/// The library, or the categories asked for.
fn select(names: &[String]) -> anyhow::Result<Vec<Probe>> {
    let mut wanted = Vec::new();
    for name in names {
        let Some(c) = Category::parse(name.trim()) else {
            let known: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
            bail!("unknown category `{name}` (one of: {})", known.join(", "));
        };
        wanted.push(c);
    }
    let probes = redteam::builtin().context("the built-in probe library is broken")?;
    Ok(probes
        .into_iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&p.category))
        .collect())
}

fn output_format(path: &Path) -> anyhow::Result<OutputFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok(OutputFormat::Json),
        Some("md") => Ok(OutputFormat::Markdown),
        _ => bail!("-o {}: the name must end in .json or .md", path.display()),
    }
}

fn write(path: &Path, format: OutputFormat, report: &Report) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(report).context("cannot encode the report")?;
            s.push('\n');
            s
        }
        OutputFormat::Markdown => report.markdown(),
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A bar on a terminal only: scripts and CI logs get the table alone.
fn progress(len: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} probes ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// 48 random bits: small enough to survive JSON readers that parse numbers as doubles.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let rng = ring::rand::SystemRandom::new();
    if ring::rand::SecureRandom::fill(&rng, &mut bytes).is_err() {
        // No system randomness: fall back to the clock, which is still a fine seed.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return (now.as_nanos() as u64) >> 16;
    }
    u64::from_le_bytes(bytes) >> 16
}
