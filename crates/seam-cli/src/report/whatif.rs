//! `seam report whatif`.

use std::path::PathBuf;

use anyhow::Context as _;
use seam_reports::{scenario, traffic, whatif};

use super::{Output, Source};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The scenario file (TOML): the paths to replay the period's traffic against
    /// (docs/reports.md; docs/examples/scenarios.toml).
    #[arg(long)]
    scenarios: PathBuf,
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let period = args.source.period()?;
    let cfg = args.source.config()?;
    let file = args.scenarios.display().to_string();
    let text =
        std::fs::read_to_string(&args.scenarios).with_context(|| format!("cannot read {file}"))?;
    let scenarios = scenario::parse(&text, &cfg.pricing)
        .map_err(|errors| anyhow::anyhow!("{file}: {}", errors.join("; ")))?;
    let mut log = args.source.log(&cfg)?;
    let mut w = whatif::Whatif::new(scenarios);
    let traffic = traffic::scan_with(&mut log, period, &mut |f| w.add(f))
        .map_err(|e| anyhow::anyhow!("cannot read the audit log: {e}"))?;
    let data = w.data(&traffic);
    let name = args
        .scenarios
        .file_name()
        .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
    let report = whatif::report(&data, &super::generated(), &name);
    args.output.write(&report)
}
