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
    let mut log = args.source.log(&cfg)?;
    let traffic = seam_reports::traffic::scan(&mut log, period)
        .map_err(|e| anyhow::anyhow!("cannot read the audit log: {e}"))?;
    let report = seam_reports::cost::report(&traffic, &super::generated());
    args.output.write(&report)
}
