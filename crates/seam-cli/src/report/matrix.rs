//! `seam report matrix`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use seam_reports::weights::Weights;

use super::Output;
use super::quality::Store;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The weights file (TOML: [weights], [paths.NAME]; see docs/examples/weights.toml).
    /// Without it every criterion weighs 1 over buy, build and hybrid.
    #[arg(long)]
    weights: Option<PathBuf>,
    #[command(flatten)]
    store: Store,
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let weights = match &args.weights {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Weights::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Weights::even(),
    };
    let weights_from = args
        .weights
        .as_ref()
        .map_or("even weights".to_owned(), |p| {
            format!("weights {}", p.display())
        });
    let report = args.store.build(true, |i| {
        seam_reports::build::matrix(i, &weights, &weights_from)
    })?;
    args.output.write(&report)
}
