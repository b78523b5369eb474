//! `seam report cost|whatif|quality|matrix|exit`: the build/buy/hybrid decision from this
//! store's traffic (crates/seam-reports builds and renders; this module parses flags, opens the
//! store and writes the result).
//!
//! Every report takes the same output flags ([`Output`]): `--format md|html|json` (default: from
//! `-o`'s extension, else Markdown) and `-o FILE` (default: stdout).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use seam_reports::{Format, Report};

mod cost;
mod exit;
mod matrix;
mod quality;
mod whatif;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Spend, tokens and requests by alias, model, key and team; cache savings; the cost of
    /// retries and fallbacks; the daily series and how predictable it is.
    Cost(cost::Args),
    /// The period's measured traffic replayed against other paths (another vendor, self-hosted
    /// GPUs, hybrid burst) from a scenario file: 12- and 24-month TCO, break-even, sensitivity.
    Whatif(whatif::Args),
    /// Per model and prompt: the latest eval and red-team verdicts and online metrics.
    Quality(quality::Args),
    /// The eight decision criteria scored per path from a weights file and the measured facts.
    Matrix(matrix::Args),
    /// For each alias: could its traffic move to another vendor this quarter, and what blocks it.
    Exit(exit::Args),
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Md,
    Html,
    Json,
}

/// The flags every report shares: where it goes and in which format.
#[derive(clap::Args)]
pub(crate) struct Output {
    /// md, html or json (default: from -o's extension, else md).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Write the report here instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// The flags of the reports that read the store: which store (the config's `[storage]`) and
/// which period (`--since`/`--until`, default the last 30 days).
#[derive(clap::Args)]
pub(crate) struct Source {
    /// A TOML config file: its [storage] is the store read, its [pricing] prices scenarios
    /// (default: the embedded default config).
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
    /// Start of the period: 2026-11-29, 2026-11-29T10:00:00Z or Unix milliseconds (default:
    /// 30 days before --until).
    #[arg(long)]
    since: Option<String>,
    /// End of the period, exclusive (default: now).
    #[arg(long)]
    until: Option<String>,
}

impl Source {
    pub(crate) fn config(&self) -> anyhow::Result<seam_config::Config> {
        load_config(self.config.as_deref())
    }

    pub(crate) fn period(&self) -> anyhow::Result<seam_reports::traffic::Period> {
        seam_reports::traffic::Period::parse(self.since.as_deref(), self.until.as_deref(), now_ms())
            .map_err(anyhow::Error::msg)
    }

    /// The store of `cfg`; a SQLite file that does not exist is an error, not an empty report.
    pub(crate) fn store(
        &self,
        cfg: &seam_config::Config,
    ) -> anyhow::Result<seam_store::StoreConfig> {
        let store = seam_server::audit::store_config(cfg);
        if let seam_store::BackendConfig::Sqlite { path } = &store.backend
            && !path.exists()
        {
            anyhow::bail!(
                "no audit log at {} (check [storage] url and --config)",
                path.display()
            );
        }
        Ok(store)
    }
}

/// Builds one report from the config's store and setup over `period` (see
/// [`seam_reports::build`], which the console's reports page calls too).
pub(crate) fn build(
    cfg: &seam_config::Config,
    store: Option<&seam_store::StoreConfig>,
    period: seam_reports::traffic::Period,
    results: Vec<seam_reports::quality::Source>,
    f: impl FnOnce(&seam_reports::build::Inputs<'_>) -> Result<Report, seam_reports::build::BuildError>,
) -> anyhow::Result<Report> {
    let setup = seam_reports::setup::Setup::from_config(cfg);
    let inputs = seam_reports::build::Inputs {
        store,
        setup: &setup,
        pricing: &cfg.pricing,
        period,
        generated: generated(),
        results,
    };
    f(&inputs).map_err(anyhow::Error::msg)
}

/// Secrets that no report reads: a report runs where the gateway's vendor keys, admin key or
/// exporter tokens are not set (a laptop, CI), so those may be missing. The store's URL and the
/// audit master key are still required.
const UNUSED_SECRETS: &[&str] = &["providers.", "mcp.", "admin.", "telemetry.", "policies."];

/// The config as `crate::config::load` reads it, except that a secret under [`UNUSED_SECRETS`]
/// whose environment variable is not set is not an error (it stands in as a value no vendor
/// accepts).
pub(crate) fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<seam_config::Config> {
    let Some(path) = path else {
        return crate::config::load(None);
    };
    let errors = match seam_config::load(path) {
        Ok(cfg) => return Ok(cfg),
        Err(errors) => errors,
    };
    let only_unused = errors.iter().all(|e| {
        UNUSED_SECRETS.iter().any(|p| e.path.starts_with(p)) && e.message.contains(" is not set")
    });
    let text = std::fs::read_to_string(path);
    let (true, Ok(text)) = (only_unused, text) else {
        // The strict load's message, with every error.
        return crate::config::load(Some(path));
    };
    let lenient = |name: &str| {
        Some(std::env::var(name).unwrap_or_else(|_| "unset-not-needed-by-reports".to_owned()))
    };
    let resolver = seam_config::Resolver {
        env: &lenient,
        base_dir: path.parent().map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        ),
    };
    seam_config::from_toml(&text, &resolver).or_else(|_| crate::config::load(Some(path)))
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Now, RFC 3339: a report's `generated`.
pub(crate) fn generated() -> String {
    seam_store::rfc3339(now_ms())
}

impl Output {
    fn format(&self) -> Format {
        match self.format {
            Some(FormatArg::Md) => Format::Markdown,
            Some(FormatArg::Html) => Format::Html,
            Some(FormatArg::Json) => Format::Json,
            None => self
                .output
                .as_ref()
                .and_then(|p| p.extension())
                .and_then(|e| e.to_str())
                .and_then(Format::parse)
                .unwrap_or(Format::Markdown),
        }
    }

    pub(crate) fn write(&self, report: &Report) -> anyhow::Result<()> {
        let text = seam_reports::render(report, self.format());
        match &self.output {
            Some(path) => std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display())),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .context("cannot write to stdout")
            }
        }
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Cost(a) => cost::run(a),
        Command::Whatif(a) => whatif::run(a),
        Command::Quality(a) => quality::run(a),
        Command::Matrix(a) => matrix::run(a),
        Command::Exit(a) => exit::run(a),
    }?;
    Ok(ExitCode::SUCCESS)
}
