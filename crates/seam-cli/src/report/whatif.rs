//! `seam report whatif`.

use std::path::PathBuf;

use anyhow::Context as _;

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
    // Errors name the file as given; the report names it by its file name.
    if let Err(errors) = seam_reports::scenario::parse(&text, &cfg.pricing) {
        anyhow::bail!("{file}: {}", errors.join("; "));
    }
    let name = args
        .scenarios
        .file_name()
        .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
    let store = args.source.store(&cfg)?;
    let report = super::build(&cfg, Some(&store), period, Vec::new(), |i| {
        seam_reports::build::whatif(i, &text, &name)
    })?;
    args.output.write(&report)
}
