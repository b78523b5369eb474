//! `seam-bench exit`: the exit drill at scale (issue 21). Fills a fresh SQLite store with
//! `--records` audit records as `seam-bench audit-store` does (class `redacted`, sealed
//! payloads, through `AuditLog::append`), then times seam-store's `portable::export` of it and
//! `portable::import` of the folder into a new SQLite store — and, with `--postgres URL` (an
//! empty database), into PostgreSQL and back out. In process, so the figures are the drill's
//! own work, not the CLI's start-up; the imported chain is verified too (timed, no target).
//! The process's peak resident memory is reported: the drill streams, so it stays flat
//! whatever the record count.

use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use seam_store::portable::{self, Manifest};
use seam_store::{AuditLog, BackendConfig, StoreConfig};
use serde::Serialize;

use crate::audit_store::{AuditStoreArgs, fill, master_key};

/// Export and import must each take at most this many seconds for 1,000,000 records (issue 21).
pub const TARGET_SECS: f64 = 60.0;

#[derive(clap::Args)]
pub struct ExitArgs {
    /// Audit records to fill the source store with.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Records per `AuditLog::append` while filling.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Also import into this PostgreSQL database (it must be empty) and export from it.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Work here and keep the stores and exports (default: a temporary directory, removed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Step {
    step: String,
    rows: u64,
    secs: f64,
    /// Whether it has the 60 s target (export and import do; verify does not).
    targeted: bool,
}

#[derive(Serialize)]
struct Figures {
    records: u64,
    fill_secs: f64,
    source_bytes: u64,
    export_bytes: u64,
    steps: Vec<Step>,
    /// The process's peak resident set, MiB (VmHWM).
    peak_rss_mib: f64,
    /// The PostgreSQL export's audit_log.jsonl is byte-identical to SQLite's.
    postgres_identical: Option<bool>,
}

pub fn main(args: ExitArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.records > 0 && args.batch > 0,
        "need --records > 0 and --batch > 0"
    );
    let (dir, keep) = match &args.dir {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("seam-bench-exit-{}", std::process::id())),
            false,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let source = dir.join("source.db");
    anyhow::ensure!(
        !source.exists(),
        "{} exists: the fill wants a fresh store",
        source.display()
    );
    let key = master_key()?;
    let master: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the master key is not 32 bytes"))?;
    let cfg = |backend: BackendConfig| StoreConfig {
        backend,
        master_key: Some(master),
        retention: Vec::new(),
    };
    let sqlite = |p: &Path| {
        cfg(BackendConfig::Sqlite {
            path: p.to_path_buf(),
        })
    };

    let fill_args = AuditStoreArgs {
        seam: PathBuf::new(),
        records: args.records,
        subject_records: args.records / 100,
        subjects: 1_000,
        batch: args.batch,
        drop_caches: false,
        dir: None,
        json_out: None,
    };
    let fill_secs = fill(&fill_args, &source, &key)?;
    let source_bytes = file_bytes(&source);

    let mut steps = Vec::new();
    let out_a = dir.join("export-sqlite");
    let (manifest_a, secs) = timed_export(&sqlite(&source), &out_a)?;
    let export_bytes = manifest_a.files.iter().map(|f| f.bytes).sum();
    steps.push(step("export (SQLite → folder)", &manifest_a, secs, true));

    let imported = dir.join("imported.db");
    let secs = timed_import(&sqlite(&imported), &out_a)?;
    steps.push(step("import (folder → SQLite)", &manifest_a, secs, true));
    let (verified, secs) = timed_verify(&sqlite(&imported))?;
    steps.push(Step {
        step: "`verify` on the imported SQLite chain".to_owned(),
        rows: verified,
        secs,
        targeted: false,
    });

    let mut postgres_identical = None;
    if let Some(url) = &args.postgres {
        let pg = cfg(BackendConfig::Postgres { url: url.clone() });
        let secs = timed_import(&pg, &out_a)?;
        steps.push(step(
            "import (folder → PostgreSQL)",
            &manifest_a,
            secs,
            true,
        ));
        let out_b = dir.join("export-postgres");
        let (manifest_b, secs) = timed_export(&pg, &out_b)?;
        steps.push(step(
            "export (PostgreSQL → folder)",
            &manifest_b,
            secs,
            true,
        ));
        let sum = |m: &Manifest| {
            m.files
                .iter()
                .find(|f| f.table.as_deref() == Some("audit_log"))
                .map(|f| f.sha256.clone())
        };
        postgres_identical = Some(sum(&manifest_a) == sum(&manifest_b));
    }

    let figures = Figures {
        records: args.records,
        fill_secs,
        source_bytes,
        export_bytes,
        steps,
        peak_rss_mib: peak_rss_kib() as f64 / 1024.0,
        postgres_identical,
    };
    println!("{}", markdown(&figures));
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    if !keep {
        drop(std::fs::remove_dir_all(&dir));
    }
    anyhow::ensure!(
        verified == args.records,
        "the imported chain verified {verified} records, not {}",
        args.records
    );
    anyhow::ensure!(
        postgres_identical != Some(false),
        "the export from PostgreSQL differs from the export from SQLite"
    );
    Ok(())
}

fn step(name: &str, m: &Manifest, secs: f64, targeted: bool) -> Step {
    Step {
        step: name.to_owned(),
        rows: m.files.iter().filter_map(|f| f.rows).sum(),
        secs,
        targeted,
    }
}

fn progress(what: &'static str) -> impl FnMut(&str, u64) {
    move |table, n| {
        if n > 0 && n % 100_000 == 0 {
            eprintln!("{what} {table}: {n} rows");
        }
    }
}

fn timed_export(cfg: &StoreConfig, out: &Path) -> anyhow::Result<(Manifest, f64)> {
    let started = Instant::now();
    let m = portable::export(cfg, out, &[], false, &mut progress("exported"))
        .map_err(|e| anyhow::anyhow!("export: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("exported to {} in {secs:.1} s", out.display());
    Ok((m, secs))
}

fn timed_import(cfg: &StoreConfig, from: &Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    portable::import(cfg, from, &mut progress("imported"))
        .map_err(|e| anyhow::anyhow!("import: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("imported in {secs:.1} s");
    Ok(secs)
}

fn timed_verify(cfg: &StoreConfig) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut log = AuditLog::open(cfg).map_err(|e| anyhow::anyhow!("open: {e}"))?;
    let report = log
        .verify(&mut |_| {})
        .map_err(|e| anyhow::anyhow!("verify: {e}"))?;
    anyhow::ensure!(
        report.ok(),
        "the imported chain does not verify: {:?}",
        report.problem
    );
    Ok((report.records, started.elapsed().as_secs_f64()))
}

fn file_bytes(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// VmHWM from /proc/self/status, KiB (0 where unreadable).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn markdown(f: &Figures) -> String {
    let mut rows = String::new();
    for s in &f.steps {
        let met = if !s.targeted {
            ""
        } else if s.secs <= TARGET_SECS {
            "yes"
        } else {
            "**no**"
        };
        rows.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} rows/s | {} | {met} |\n",
            s.step,
            s.rows,
            s.secs,
            s.rows as f64 / s.secs,
            if s.targeted {
                format!("≤ {TARGET_SECS:.0} s")
            } else {
                String::new()
            }
        ));
    }
    format!(
        "### Exit drill (issue 21): export and import of {} audit records\n\n\
         Filled with seam-store's `AuditLog::append` (class `redacted`, sealed payloads) in \
         {:.1} s; the source store is {:.0} MiB, the export {:.0} MiB of JSON Lines. Timed in \
         process (seam-store's `portable::export` / `portable::import`), release build:\n\n\
         | step | rows | seconds | rate | target | met |\n\
         |---|--:|--:|--:|--:|:-:|\n{rows}\n\
         Peak resident memory of the whole run: {:.0} MiB.{}\n",
        f.records,
        f.fill_secs,
        f.source_bytes as f64 / 1_048_576.0,
        f.export_bytes as f64 / 1_048_576.0,
        f.peak_rss_mib,
        match f.postgres_identical {
            Some(true) => " The export from PostgreSQL is byte-identical to SQLite's.",
            Some(false) => " **The export from PostgreSQL differs from SQLite's.**",
            None => "",
        }
    )
}
