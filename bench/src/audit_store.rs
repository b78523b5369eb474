//! `seam-bench audit-store`: how fast the audit store is verified and a subject erased at scale,
//! and the helpers the audit scenario shares (a master key, counting rows, `seam audit verify`).
//!
//! It fills a fresh SQLite store with `--records` records through seam-store's
//! [`AuditLog::append`] in batches (as the writer thread does, but without a gateway in front),
//! then times the release CLI on it: `seam audit verify` (records per minute) and
//! `seam audit erase --subject S` (seconds). The records look like what the policy scenario's
//! `guarded` alias writes: class `redacted` under a master key, so each carries the ~1.2 KB
//! request as sent upstream and the ~600-byte answer, encrypted; four findings, one attempt,
//! usage. `--subject-records` of them (spread evenly) belong to the subject that is erased, the
//! rest to `--subjects` other subjects in turn.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context as _;
use base64::Engine as _;
use seam_store::{
    AttemptRecord, AuditLog, AuditRecord, BackendConfig, FindingRecord, Payload, RetentionClass,
    StoreConfig, UsageRecord,
};
use serde::Serialize;
use serde_json::Value;

use crate::body::{self, PII_ENTITIES, Prompt};
use crate::procs::{AUDIT_DB, AuditMode, MASTER_KEY_ENV, Ports, config_toml};

/// `seam audit verify` must check at least this many records per minute (BENCHMARKS.md).
pub const VERIFY_PER_MIN: f64 = 500_000.0;
/// `seam audit erase` must finish within this many seconds (BENCHMARKS.md).
pub const ERASE_SECS: f64 = 1.0;

/// The subject whose records are erased.
const SUBJECT: &str = "bench-subject-erased@example.com";

#[derive(clap::Args)]
pub struct AuditStoreArgs {
    /// The seam binary whose `seam audit` is timed.
    #[arg(long, default_value = "target/release/seam")]
    pub seam: PathBuf,
    /// Records to fill the store with.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Of them, records of the subject that is erased (spread evenly through the chain).
    #[arg(long, default_value_t = 10_000)]
    pub subject_records: u64,
    /// Other subjects, taking the remaining records in turn.
    #[arg(long, default_value_t = 1_000)]
    pub subjects: u64,
    /// Records per `AuditLog::append` (one transaction each; seam's writer commits at most 1,000).
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Before verifying, write the store out and drop the kernel's page cache (root only;
    /// affects the whole machine), so verify reads the store from disk.
    #[arg(long)]
    pub drop_caches: bool,
    /// Put the store here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// What `seam audit verify` said and how long it took (the whole process, start-up included).
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// Exit 0 and an `ok:` line.
    pub intact: bool,
    /// The record count from the `ok: N records intact` line.
    pub records: Option<u64>,
    pub secs: f64,
    /// The line it printed (stdout when intact, else stderr).
    pub line: String,
}

#[derive(Serialize)]
struct Figures {
    records: u64,
    subject_records: u64,
    batch: usize,
    fill_secs: f64,
    db_bytes: u64,
    mean_payload_bytes: f64,
    /// Whether the page cache was dropped before verify.
    cold: bool,
    verify: Verified,
    erase_secs: f64,
    erased_records: Option<u64>,
    erase_line: String,
}

pub fn main(args: AuditStoreArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.records > 0 && args.subject_records <= args.records && args.batch > 0,
        "need --records > 0, --subject-records ≤ --records and --batch > 0"
    );
    let seam = seam_binary(&args.seam)?;
    let (dir, keep) = match &args.dir {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("seam-bench-audit-{}", std::process::id())),
            false,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(AUDIT_DB);
    anyhow::ensure!(
        !db.exists(),
        "{} exists: the fill wants a fresh store",
        db.display()
    );
    let config = dir.join("seam.toml");
    let ports = Ports::from_base(18700);
    std::fs::write(
        &config,
        config_toml(&ports, ports.seam, AuditMode::Redacted),
    )?;
    let key = master_key()?;

    let fill_secs = fill(&args, &db, &key)?;
    let db_bytes = file_bytes(&db);
    let mean_payload_bytes = mean_payload_bytes(&db)?;
    if args.drop_caches {
        drop_page_cache()?;
    }
    eprintln!("verifying with {} …", seam.display());
    let verify = verify(&seam, &config, &key)?;
    eprintln!("{} ({:.1} s)", verify.line, verify.secs);
    let started = Instant::now();
    let out = seam_audit(&seam, &config, &key, &["erase", "--subject", SUBJECT])?;
    let erase_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "seam audit erase failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let erase_line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let erased_records = erase_line
        .strip_prefix("erased: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    eprintln!("{erase_line} ({erase_secs:.3} s)");
    let figures = Figures {
        records: args.records,
        subject_records: args.subject_records,
        batch: args.batch,
        fill_secs,
        db_bytes,
        mean_payload_bytes,
        cold: args.drop_caches,
        verify,
        erase_secs,
        erased_records,
        erase_line,
    };
    println!("{}", markdown(&figures));
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !keep {
        drop(std::fs::remove_dir_all(&dir));
    }
    anyhow::ensure!(
        figures.verify.intact && figures.verify.records == Some(args.records),
        "verify did not report {} intact records: {}",
        args.records,
        figures.verify.line
    );
    anyhow::ensure!(
        erased_records == Some(args.subject_records),
        "erase did not report {} records: {}",
        args.subject_records,
        figures.erase_line
    );
    Ok(())
}

/// Appends `records` records made by `make` to `log`, `batch` at a time, saying every 100,000
/// how far it got; returns the seconds it took. Every store-filling bench shares it.
pub(crate) fn append_all(
    log: &mut AuditLog,
    records: u64,
    batch: usize,
    mut make: impl FnMut(u64) -> seam_store::AuditRecord,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut pending = Vec::with_capacity(batch);
    for i in 0..records {
        pending.push(make(i));
        if pending.len() == batch || i + 1 == records {
            log.append(&pending)
                .map_err(|e| anyhow::anyhow!("appending at record {i}: {e}"))?;
            pending.clear();
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "filled {} records ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The release `seam` binary at `path`, or an error that says how to build it.
pub(crate) fn seam_binary(path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|_| {
        anyhow::anyhow!(
            "seam binary not found at {}: build it first (`cargo build --release -p seam-cli`) \
             or pass --seam PATH",
            path.display()
        )
    })
}

/// Appends `--records` records in batches; returns the seconds it took.
pub(crate) fn fill(args: &AuditStoreArgs, db: &Path, key: &str) -> anyhow::Result<f64> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(key)?;
    let master: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the master key is not 32 bytes"))?;
    let cfg = StoreConfig {
        backend: BackendConfig::Sqlite {
            path: db.to_path_buf(),
        },
        master_key: Some(master),
        retention: Vec::new(),
    };
    let mut log = AuditLog::open(&cfg).map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let shape = Shape::new(args)?;
    let secs = append_all(&mut log, args.records, args.batch, |i| shape.record(i))?;
    eprintln!(
        "filled {} records in {secs:.1} s ({:.0} records/s)",
        args.records,
        args.records as f64 / secs
    );
    Ok(secs)
}

/// What every filled record shares, and how the subjects are dealt.
struct Shape {
    upstream_request: Value,
    response: Value,
    start_ms: i64,
    records: u64,
    /// Record `i` is the erased subject's when `i % every == 0` (until there are enough).
    every: u64,
    subject_records: u64,
    subjects: u64,
}

impl Shape {
    fn new(args: &AuditStoreArgs) -> anyhow::Result<Shape> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        Ok(Shape {
            upstream_request: serde_json::from_slice(&body::request(
                "guarded",
                false,
                Prompt::Pii,
            ))?,
            response: serde_json::from_slice(&body::completion())?,
            start_ms: i64::try_from(now.as_millis())?,
            records: args.records,
            every: args
                .records
                .checked_div(args.subject_records)
                .unwrap_or(u64::MAX)
                .max(1),
            subject_records: args.subject_records,
            subjects: args.subjects.max(1),
        })
    }

    fn record(&self, i: u64) -> AuditRecord {
        let erased = i % self.every == 0 && i / self.every < self.subject_records;
        let subject = if erased {
            SUBJECT.to_owned()
        } else {
            format!("user-{}@example.com", i % self.subjects)
        };
        // Ten records a second, ending now, so the chain reads like a day or so of traffic.
        let back = i64::try_from((self.records - i) * 100).unwrap_or(0);
        AuditRecord {
            id: format!("0190b2c4-{:04x}-7000-8000-{i:012x}", i >> 48),
            time_ms: self.start_ms - back,
            key_id: None,
            subject: Some(subject),
            tags: vec!["bench".to_owned()],
            endpoint: "chat".to_owned(),
            model: Some("guarded".to_owned()),
            route: Some("mock/bench-model".to_owned()),
            status: 200,
            error_code: None,
            attempts: vec![AttemptRecord {
                target: "mock/bench-model".to_owned(),
                status: 200,
                latency_ms: 0.25,
                error: None,
            }],
            findings: PII_ENTITIES
                .iter()
                .map(|e| FindingRecord::counted("input", e, "tokenize", 1))
                .collect(),
            usage: Some(UsageRecord {
                prompt_tokens: 16,
                completion_tokens: 64,
                ..UsageRecord::default()
            }),
            cost_usd: None,
            latency_ms: 0.41,
            ttft_ms: None,
            cache_hit: false,
            placement: None,
            kind: seam_store::RecordKind::Request,
            count: None,
            prompt: None,
            variant: None,
            trace_id: None,
            citations: Vec::new(),
            features: Vec::new(),
            class: RetentionClass::Redacted,
            payload: Payload {
                client_request: None,
                upstream_request: Some(self.upstream_request.clone()),
                response: Some(self.response.clone()),
            },
        }
    }
}

fn markdown(f: &Figures) -> String {
    let per_min = f.verify.records.unwrap_or(0) as f64 / f.verify.secs * 60.0;
    let yes = |met: bool| if met { "yes" } else { "**no**" };
    let verify_met = f.verify.intact && per_min >= VERIFY_PER_MIN;
    let erase_met = f.erase_secs < ERASE_SECS && f.erased_records == Some(f.subject_records);
    format!(
        "### Audit store on SQLite: verify and erase ({} records)\n\n\
         Filled with seam-store's `AuditLog::append` in batches of {} (one transaction each): {} \
         records of class `redacted` (sealed payload {:.0} bytes on average), {} of them for the \
         erased subject, in {:.1} s ({:.0} records/s); the store is {:.0} MiB. Then the release \
         CLI, timed as whole processes (start-up included), {}:\n\n\
         | step | records | seconds | rate | target | met |\n\
         |---|--:|--:|--:|--:|:-:|\n\
         | `seam audit verify` | {} | {:.2} | {:.0} records/min | ≥ {:.0} records/min | {} |\n\
         | `seam audit erase --subject S` | {} | {:.3} |  | < {ERASE_SECS} s | {} |\n\n\
         verify: `{}`; erase: `{}`\n",
        f.records,
        f.batch,
        f.records,
        f.mean_payload_bytes,
        f.subject_records,
        f.fill_secs,
        f.records as f64 / f.fill_secs,
        f.db_bytes as f64 / 1_048_576.0,
        if f.cold {
            "verify after dropping the page cache (the store read from disk)"
        } else {
            "the store in the page cache"
        },
        f.verify
            .records
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        f.verify.secs,
        per_min,
        VERIFY_PER_MIN,
        yes(verify_met),
        f.erased_records
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        f.erase_secs,
        yes(erase_met),
        f.verify.line,
        f.erase_line
    )
}

/// Writes dirty pages out and empties the page cache, dentries and inodes.
fn drop_page_cache() -> anyhow::Result<()> {
    let synced = Command::new("sync").status().context("running sync")?;
    anyhow::ensure!(synced.success(), "sync failed");
    std::fs::write("/proc/sys/vm/drop_caches", "3")
        .context("writing /proc/sys/vm/drop_caches (root only); run without --drop-caches")
}

/// 32 random bytes in base64, as `[audit] master_key` wants them.
pub fn master_key() -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom for a master key")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// Runs `seam audit --config CONFIG ARGS…` with the master key in its environment.
fn seam_audit(
    seam: &Path,
    config: &Path,
    key: &str,
    args: &[&str],
) -> anyhow::Result<std::process::Output> {
    Command::new(seam)
        .arg("audit")
        .arg("--config")
        .arg(config)
        .args(args)
        .env(MASTER_KEY_ENV, key)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} audit", seam.display()))
}

/// Times `seam audit verify` on the store `config` names.
pub fn verify(seam: &Path, config: &Path, key: &str) -> anyhow::Result<Verified> {
    let started = Instant::now();
    let out = seam_audit(seam, config, key, &["verify"])?;
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok_line = stdout.lines().find(|l| l.starts_with("ok: "));
    let line = match ok_line {
        Some(l) => l.to_owned(),
        None => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            last.unwrap_or("(no output)").trim().to_owned()
        }
    };
    Ok(Verified {
        intact: out.status.success() && ok_line.is_some(),
        records: ok_line.and_then(|l| l.strip_prefix("ok: ")?.split(' ').next()?.parse().ok()),
        secs,
        line,
    })
}

fn open_db(db: &Path) -> anyhow::Result<rusqlite::Connection> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(db, flags)
        .with_context(|| format!("opening {}", db.display()))
}

fn count(db: &Path, sql: &str) -> anyhow::Result<u64> {
    let n: i64 = open_db(db)?.query_row(sql, [], |r| r.get(0))?;
    Ok(u64::try_from(n)?)
}

/// Request records with status 200 in the store.
pub fn count_ok_requests(db: &Path) -> anyhow::Result<u64> {
    count(
        db,
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'request' AND status = 200",
    )
}

/// Every row of `audit_log`.
pub fn count_rows(db: &Path) -> anyhow::Result<u64> {
    count(db, "SELECT COUNT(*) FROM audit_log")
}

fn mean_payload_bytes(db: &Path) -> anyhow::Result<f64> {
    let sql = "SELECT AVG(LENGTH(payload)) FROM audit_log WHERE seq <= 10000";
    let mean: Option<f64> = open_db(db)?.query_row(sql, [], |r| r.get(0))?;
    Ok(mean.unwrap_or(0.0))
}

/// The store's size on disk: the file and its write-ahead log.
fn file_bytes(db: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    size(db) + size(&PathBuf::from(format!("{}-wal", db.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(records: u64, subject_records: u64) -> AuditStoreArgs {
        AuditStoreArgs {
            seam: PathBuf::new(),
            records,
            subject_records,
            subjects: 7,
            batch: 100,
            drop_caches: false,
            dir: None,
            json_out: None,
        }
    }

    #[test]
    fn the_erased_subject_gets_its_share_spread_through_the_chain() {
        let shape = Shape::new(&args(1000, 10)).unwrap();
        let records: Vec<AuditRecord> = (0..1000).map(|i| shape.record(i)).collect();
        let erased: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.subject.as_deref() == Some(SUBJECT))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(erased, (0..10).map(|k| k * 100).collect::<Vec<_>>());
        let ids: std::collections::HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(records.windows(2).all(|w| w[0].time_ms < w[1].time_ms));
        assert_eq!(records[1].class, RetentionClass::Redacted);
        assert!(records[1].payload.upstream_request.is_some());
    }

    #[test]
    fn a_filled_store_counts_its_rows() {
        let dir = std::env::temp_dir().join(format!("seam-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        drop(std::fs::remove_file(&db));
        let a = args(250, 5);
        fill(&a, &db, &master_key().unwrap()).unwrap();
        assert_eq!(count_rows(&db).unwrap(), 250);
        assert_eq!(count_ok_requests(&db).unwrap(), 250);
        assert!(mean_payload_bytes(&db).unwrap() > 1000.0);
        drop(std::fs::remove_dir_all(&dir));
    }
}
