//! `seam report exit`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use seam_reports::capabilities::Overrides;

use super::quality::{Store, subtitle};
use super::{Output, generated};

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
    let cfg = args.store.config()?;
    let period = args.store.period()?;
    let setup = seam_reports::setup::Setup::from_config(&cfg);
    let mut log = args.store.log(&cfg)?;
    let usage = seam_reports::exit::scan(&mut log, period, &setup)
        .map_err(|e| anyhow!("cannot read the audit log: {e}"))?;
    drop(log);
    let quality = args.store.quality(&cfg, period)?;
    let exit = seam_reports::exit::build(&setup, &usage, &quality, &overrides);
    let report = seam_reports::exit::report(&exit, &generated(), Some(subtitle(period)));
    args.output.write(&report)
}
