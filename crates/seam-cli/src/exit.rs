//! `seam export --to DIR` and `seam import --from DIR`: the exit drill. The work is
//! `seam_store::portable`'s; this adds what only the binary knows — the config file and the
//! prompt files beside it go into the export verbatim — and, after an import, verifies the
//! audit chain with the new config's master key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use seam_store::portable::{self, Extra};
use seam_store::{AuditLog, BackendConfig};

use crate::config::load;
use crate::progress::Progress;

/// `seam export`'s flags.
#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// The folder to write (created if absent; refused when it holds anything, unless --force).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// The config naming the store (default: SEAM_CONFIG, else the embedded default). It is
    /// copied into the export as config.toml, as written: its secrets are `env:`/`file:`
    /// references, never resolved.
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
    /// Write into a folder that already holds files (those of the same names are replaced).
    #[arg(long)]
    force: bool,
}

/// `seam import`'s flags.
#[derive(clap::Args)]
pub(crate) struct ImportArgs {
    /// A folder `seam export` wrote.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The config naming the target store, which must be empty (default: SEAM_CONFIG, else the
    /// embedded default), and the master key the audit log was written with.
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
}

pub(crate) fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let cfg = load(args.config.as_deref())?;
    let store = seam_server::audit::store_config(&cfg);
    // A mistyped path must not export a new, empty store.
    if let BackendConfig::Sqlite { path } = &store.backend
        && !path.exists()
    {
        bail!(
            "no store at {} (check [storage] url and --config)",
            path.display()
        );
    }
    // Opening the log checks the master key against the store and seals any subject an older
    // Seam kept in clear, so nothing leaves unsealed.
    drop(AuditLog::open(&store).context("cannot open the store")?);
    let mut extras = Vec::new();
    if let Some(config) = &args.config {
        extras.push(Extra {
            path: "config.toml".to_owned(),
            source: config.clone(),
        });
    }
    prompt_files(&cfg.prompts_dir, &cfg.prompts_dir, &mut extras)?;
    let progress = Progress::new("exporting");
    let mut done = 0u64;
    let mut current = 0u64;
    let manifest = portable::export(&store, &args.to, &extras, args.force, &mut |_, n| {
        if n < current {
            done += current;
        }
        current = n;
        progress.set(done + n);
    });
    progress.finish();
    let manifest = manifest.context("export failed")?;
    let rows: u64 = manifest.files.iter().filter_map(|f| f.rows).sum();
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "exported {rows} rows of {} tables and {} files ({:.1} MB) to {}; checksums in {}",
        manifest.files.iter().filter(|f| f.table.is_some()).count(),
        extras.len(),
        bytes as f64 / 1e6,
        args.to.display(),
        args.to.join(portable::SUMS).display()
    );
    if args.config.is_none() {
        println!("no --config was given, so no config file is in the export");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let cfg = load(args.config.as_deref())?;
    let store = seam_server::audit::store_config(&cfg);
    let progress = Progress::new("importing");
    let mut done = 0u64;
    let mut current = 0u64;
    let report = portable::import(&store, &args.from, &mut |_, n| {
        if n < current {
            done += current;
        }
        current = n;
        progress.set(done + n);
    });
    progress.finish();
    let report = report.context("import failed")?;
    println!(
        "imported {} rows of {} tables from {}",
        report.rows,
        report.tables,
        args.from.display()
    );
    let progress = Progress::new("verifying");
    let verified = AuditLog::open(&store)
        .and_then(|mut log| log.verify(&mut |n| progress.set(n)))
        .context("the imported audit log cannot be opened with this config's master key");
    progress.finish();
    let verified = verified?;
    if let Some(p) = &verified.problem {
        bail!("the imported audit chain does not verify: {p}");
    }
    println!(
        "audit chain verified: {} records{}",
        verified.records,
        if verified.signed {
            ", signatures checked"
        } else {
            " (no master key: links only)"
        }
    );
    if !report.extras.is_empty() {
        println!(
            "not loaded, for you to place: {} (in {})",
            report.extras.join(", "),
            args.from.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The prompt registry's files (`prompts/` beside the config), as `prompts/…` in the export.
fn prompt_files(root: &Path, dir: &Path, out: &mut Vec<Extra>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    paths.sort();
    for path in paths {
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            prompt_files(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let parts: Option<Vec<&str>> = rel.iter().map(|p| p.to_str()).collect();
            let Some(parts) = parts else {
                bail!("{}: a file name that is not UTF-8", path.display());
            };
            out.push(Extra {
                path: format!("prompts/{}", parts.join("/")),
                source: path.clone(),
            });
        }
    }
    Ok(())
}
