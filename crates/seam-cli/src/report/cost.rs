//! `seam report cost`.

use super::{Output, Source};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let period = args.source.period()?;
    let cfg = args.source.config()?;
    let store = args.source.store(&cfg)?;
    let report = super::build(&cfg, Some(&store), period, Vec::new(), |i| {
        seam_reports::build::cost(i)
    })?;
    args.output.write(&report)
}
