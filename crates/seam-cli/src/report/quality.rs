//! `seam report quality`, and the store flags the decision reports (quality, matrix, exit)
//! share: the config naming the store, the period (default: the last 90 days, a quarter), and
//! eval or red-team report files besides the store's uploads.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use seam_reports::quality::Source;
use seam_reports::traffic::Period;

use super::{Output, now_ms};

/// A quarter: the default period of the decision reports.
const QUARTER_MS: i64 = 90 * 86_400_000;

#[derive(clap::Args)]
pub(crate) struct Store {
    /// A TOML config file: its [storage] is the store read, its [models.*] and [providers.*]
    /// the paths weighed (default: SEAM_CONFIG, else the embedded default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
    /// Start of the period: 2026-11-29, 2026-11-29T10:00:00Z or Unix milliseconds (default:
    /// 90 days before --until).
    #[arg(long)]
    since: Option<String>,
    /// End of the period, exclusive (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Eval or red-team report files (`seam eval -o x.json`, `seam redteam -o x.json`), read
    /// besides the runs uploaded to the store.
    #[arg(long, num_args = 1..)]
    results: Vec<PathBuf>,
}

impl Store {
    pub(crate) fn config(&self) -> anyhow::Result<seam_config::Config> {
        super::load_config(self.config.as_deref())
    }

    pub(crate) fn period(&self) -> anyhow::Result<Period> {
        let now = now_ms();
        let until = match &self.until {
            Some(u) => seam_store::parse_time(u).map_err(|e| anyhow!("--until: {e}"))?,
            None => now,
        };
        let since = self
            .since
            .clone()
            .unwrap_or_else(|| (until - QUARTER_MS).to_string());
        Period::parse(Some(&since), Some(&until.to_string()), now).map_err(anyhow::Error::msg)
    }

    /// The config's store, if it exists: a SQLite file that is not there is no store.
    fn store(cfg: &seam_config::Config) -> Option<seam_store::StoreConfig> {
        let store = seam_server::audit::store_config(cfg);
        match &store.backend {
            seam_store::BackendConfig::Sqlite { path } if !path.exists() => None,
            _ => Some(store),
        }
    }

    /// The `--results` files, as report sources.
    fn results(&self) -> anyhow::Result<Vec<Source>> {
        let mut out = Vec::new();
        for path in &self.results {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let report = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{}: not a JSON report: {e}", path.display()))?;
            let at_ms = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            out.push(Source {
                name: path.display().to_string(),
                at_ms,
                report,
            });
        }
        Ok(out)
    }

    /// Builds a report from the config's store (required when `needs_log`; else the
    /// `--results` files can stand in for it) and the `--results` files.
    pub(crate) fn build(
        &self,
        needs_log: bool,
        f: impl FnOnce(
            &seam_reports::build::Inputs<'_>,
        ) -> Result<seam_reports::Report, seam_reports::build::BuildError>,
    ) -> anyhow::Result<seam_reports::Report> {
        let cfg = self.config()?;
        let period = self.period()?;
        let store = Self::store(&cfg);
        if store.is_none() && (needs_log || self.results.is_empty()) {
            if needs_log {
                bail!(
                    "no store at {} (check [storage] url and --config)",
                    store_path(&cfg)
                );
            }
            bail!(
                "no store at {} and no --results: nothing to report (check [storage] url and --config)",
                store_path(&cfg)
            );
        }
        let results = self.results()?;
        super::build(&cfg, store.as_ref(), period, results, f)
    }
}

fn store_path(cfg: &seam_config::Config) -> String {
    match seam_server::audit::store_config(cfg).backend {
        seam_store::BackendConfig::Sqlite { path } => path.display().to_string(),
        seam_store::BackendConfig::Postgres { .. } => "the PostgreSQL store".to_owned(),
    }
}

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    store: Store,
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let report = args.store.build(false, seam_reports::build::quality)?;
    args.output.write(&report)
}
