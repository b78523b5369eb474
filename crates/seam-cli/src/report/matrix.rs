//! `seam report matrix`.

use super::Output;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args.output;
    anyhow::bail!("seam report matrix is not built yet")
}
