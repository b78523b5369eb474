//! `seam report matrix`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use seam_reports::weights::Weights;

use super::quality::{Store, subtitle};
use super::{Output, generated};

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
    let cfg = args.store.config()?;
    let period = args.store.period()?;
    let setup = seam_reports::setup::Setup::from_config(&cfg);
    let mut log = args.store.log(&cfg)?;
    let mut usage = seam_reports::exit::Usage::default();
    let traffic = seam_reports::traffic::scan_with(&mut log, period, &mut |f| usage.add(f, &setup))
        .map_err(|e| anyhow!("cannot read the audit log: {e}"))?;
    drop(log);
    let quality = args.store.quality(&cfg, period)?;
    let facts = seam_reports::matrix::facts(&setup, &traffic, &usage, &quality);
    let m = seam_reports::matrix::score(facts, &weights);
    let weights_from = args
        .weights
        .as_ref()
        .map_or("even weights".to_owned(), |p| {
            format!("weights {}", p.display())
        });
    let report = seam_reports::matrix::report(
        &m,
        &generated(),
        Some(format!("{}, {weights_from}", subtitle(period))),
    );
    args.output.write(&report)
}
