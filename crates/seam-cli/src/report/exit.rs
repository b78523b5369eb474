//! `seam report exit`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use seam_reports::capabilities::Overrides;

use super::Output;
use super::quality::Store;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Capability overrides (TOML: [targets."PROVIDER/MODEL"] tools = true …), over the
    /// bundled table.
    #[arg(long)]
    capabilities: Option<PathBuf>,
    #[command(flatten)]
    store: Store,
    #[command(flatten)]
    output: Output,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let overrides = match &args.capabilities {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Overrides::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Overrides::default(),
    };
    let report = args
        .store
        .build(true, |i| seam_reports::build::exit(i, &overrides))?;
    args.output.write(&report)
}
