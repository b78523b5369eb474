//! `seam-bench console`: how fast the console's overview reads a large store, and what keeping
//! the rollups costs the writer (issue 19).
//!
//! It fills a fresh SQLite store with `--records` metadata-class records spread evenly over the
//! year before now, through seam-store's [`AuditLog::append`] in `--batch`-record transactions
//! (so the rollups are kept as the writer keeps them), then times [`AuditLog::rollup`] — the
//! query behind `GET /console/api/overview` — for the 24-hour, 7-, 30- and 365-day windows
//! (median of `--runs`, each on a fresh snapshot), against the baseline a console without
//! rollups would need at least: one `COUNT`/`SUM` scan of the window's records.
//!
//! The writer's side: `--writer-records` records appended to two more fresh stores in turn, a
//! batch to one and then the same batch to the other, one with rollups and one without, at
//! `--writer-batch` records per transaction (seam's writer commits what is queued, up to 1,000).

use std::path::{Path, PathBuf};
use std::time::Instant;

use seam_store::rollup::{DAY_S, HOUR_S};
use seam_store::{
    AttemptRecord, AuditLog, AuditRecord, BackendConfig, FindingRecord, RecordKind, StoreConfig,
    UsageRecord, Window,
};

/// The overview of a 1,000,000-record store must read within this many milliseconds (issue 19).
pub const OVERVIEW_MS: f64 = 200.0;
const YEAR_MS: i64 = 365 * 86_400_000;

#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// Records to fill the store with, spread over the last year.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Records per `AuditLog::append` while filling.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Timed runs per window (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Records appended to each of the two writer stores (with and without rollups).
    #[arg(long, default_value_t = 50_000)]
    pub writer_records: u64,
    /// Records per transaction in the writer comparison.
    #[arg(long, default_value_t = 100)]
    pub writer_batch: usize,
    /// Put the stores here and keep them (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn main(args: ConsoleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.records > 0 && args.batch > 0 && args.runs > 0 && args.writer_batch > 0,
        "need --records, --batch, --runs and --writer-batch above 0"
    );
    let (dir, keep) = match &args.dir {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("seam-bench-console-{}", std::process::id())),
            false,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let outcome = measure(&args, &dir);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

fn measure(args: &ConsoleArgs, dir: &Path) -> anyhow::Result<()> {
    let now = seam_now();
    let db = dir.join("console.db");
    anyhow::ensure!(
        !db.exists(),
        "{} exists: the fill wants a fresh store",
        db.display()
    );
    let mut log = open(&db)?;
    let fill_secs = crate::audit_store::append_all(&mut log, args.records, args.batch, |i| {
        let t = now - YEAR_MS + (i as i64) * (YEAR_MS / args.records as i64);
        record(i, t)
    })?;
    let rollup_rows = count(
        &db,
        "SELECT (SELECT COUNT(*) FROM rollup_totals) + (SELECT COUNT(*) FROM rollup_keys) + (SELECT COUNT(*) FROM rollup_models) + (SELECT COUNT(*) FROM rollup_errors) + (SELECT COUNT(*) FROM rollup_hist) + (SELECT COUNT(*) FROM rollup_findings) + (SELECT COUNT(*) FROM rollup_scores) + (SELECT COUNT(*) FROM rollup_routes)",
    )?;
    println!(
        "### Console aggregates: {} records over a year, SQLite\n\nfilled in {fill_secs:.0} s ({:.0} records/s, {}-record transactions); {} rollup rows; store {:.0} MiB\n",
        args.records,
        args.records as f64 / fill_secs,
        args.batch,
        rollup_rows,
        std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0,
    );
    println!(
        "| window | step | overview (rollups), median ms | min | max | scan of the records (COUNT/SUM only), median ms | scan ÷ rollups | within {OVERVIEW_MS:.0} ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let raw = rusqlite::Connection::open(&db)?;
    for (name, step_s, steps) in [
        ("24h", HOUR_S, 24),
        ("7d", HOUR_S, 168),
        ("30d", DAY_S, 30),
        ("365d", 7 * DAY_S, 53),
    ] {
        let w = Window::ending(now, step_s, steps);
        let mut times = Vec::with_capacity(args.runs);
        let mut requests = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            let r = log.rollup(&w).map_err(|e| anyhow::anyhow!("rollup: {e}"))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            requests = r.totals.requests;
        }
        let mut scans = Vec::with_capacity(args.runs);
        let mut scanned = 0i64;
        for _ in 0..args.runs {
            let t = Instant::now();
            scanned = raw.query_row(
                "SELECT COUNT(*), SUM(cost_usd), SUM(latency_ms) FROM audit_log
                 WHERE time_ms >= ?1 AND time_ms < ?2 AND kind IN ('request', 'tool_call')",
                [w.start_ms, w.end_ms()],
                |r| r.get(0),
            )?;
            scans.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::ensure!(requests > 0 && scanned > 0, "the {name} window is empty");
        let (m, s) = (median(&mut times), median(&mut scans));
        println!(
            "| {name} | {step_s} s | {m:.2} | {:.2} | {:.2} | {s:.1} | {:.1} | {} |",
            times[0],
            times[times.len() - 1],
            s / m,
            if m <= OVERVIEW_MS { "yes" } else { "**no**" }
        );
    }
    drop(log);
    writer(args, dir, now)
}

/// Appends the same batches to a store with rollups and one without, in turn.
fn writer(args: &ConsoleArgs, dir: &Path, now: i64) -> anyhow::Result<()> {
    let mut with = open(&dir.join("with.db"))?;
    let mut without = open(&dir.join("without.db"))?;
    without.set_rollups(false);
    let (mut t_with, mut t_without) = (0.0, 0.0);
    let mut i = 0u64;
    let mut round = 0u64;
    while i < args.writer_records {
        let n = (args.writer_batch as u64).min(args.writer_records - i);
        // Live traffic: a batch is the last few moments' requests.
        let batch: Vec<AuditRecord> = (i..i + n)
            .map(|j| record(j, now - 60_000 + (j % 60_000) as i64))
            .collect();
        let ids = |suffix: &str| -> Vec<AuditRecord> {
            batch
                .iter()
                .map(|r| AuditRecord {
                    id: format!("{}{suffix}", r.id),
                    ..r.clone()
                })
                .collect()
        };
        let (a, b) = (ids("a"), ids("b"));
        // Alternate which goes first, so neither always finds the disk warm.
        let order: [bool; 2] = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for rollups in order {
            let t = Instant::now();
            if rollups {
                with.append(&a).map_err(|e| anyhow::anyhow!("{e}"))?;
                t_with += t.elapsed().as_secs_f64();
            } else {
                without.append(&b).map_err(|e| anyhow::anyhow!("{e}"))?;
                t_without += t.elapsed().as_secs_f64();
            }
        }
        i += n;
        round += 1;
    }
    let per = |secs: f64| secs * 1e6 / args.writer_records as f64;
    println!(
        "\nwriter, {} records in {}-record transactions (interleaved):\n\n| | µs per record | records/s |\n|---|---|---|\n| without rollups | {:.1} | {:.0} |\n| with rollups | {:.1} | {:.0} |\n| cost of the rollups | {:+.1} ({:+.0} %) | |",
        args.writer_records,
        args.writer_batch,
        per(t_without),
        args.writer_records as f64 / t_without,
        per(t_with),
        args.writer_records as f64 / t_with,
        per(t_with) - per(t_without),
        (t_with / t_without - 1.0) * 100.0,
    );
    Ok(())
}

fn open(db: &Path) -> anyhow::Result<AuditLog> {
    AuditLog::open(&StoreConfig {
        backend: BackendConfig::Sqlite {
            path: db.to_path_buf(),
        },
        master_key: None,
        retention: Vec::new(),
    })
    .map_err(|e| anyhow::anyhow!("opening {}: {e}", db.display()))
}

fn count(db: &Path, sql: &str) -> anyhow::Result<i64> {
    Ok(rusqlite::Connection::open(db)?.query_row(sql, [], |r| r.get(0))?)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn seam_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// splitmix64: record `i`'s dice, the same every run.
fn dice(i: u64, salt: u64) -> u64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const MODELS: [&str; 8] = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet",
    "claude-haiku",
    "gemini-flash",
    "llama-70b",
    "embed-small",
    "smart",
];

/// A record as a busy deployment writes them: 40 keys (a few busy), 8 models, ~4 % errors
/// (rate limits, timeouts, policy blocks), ~3 % fallbacks, findings on ~10 %, tool calls on ~5 %.
fn record(i: u64, time_ms: i64) -> AuditRecord {
    let d = |salt: u64, n: u64| dice(i, salt) % n;
    let tool = d(1, 20) == 0;
    let mut r = AuditRecord::event(
        format!("req-{i:010}"),
        if tool {
            RecordKind::ToolCall
        } else {
            RecordKind::Request
        },
        if tool {
            "mcp"
        } else if d(2, 10) == 0 {
            "embeddings"
        } else {
            "chat"
        },
        time_ms,
    );
    // Key popularity falls off: key 0 most, key 39 least.
    let k = (d(3, 40) * d(4, 40)) / 40;
    r.key_id = Some(format!("key_{k:02}"));
    r.model = Some(MODELS[(d(5, 8) * d(6, 8) / 8) as usize].to_owned());
    r.route = Some("openai/gpt-4o".to_owned());
    let latency = 80.0 + (d(7, 10_000) as f64).powf(1.3) / 10.0;
    r.latency_ms = latency;
    let roll = d(8, 100);
    let ok = AttemptRecord {
        target: "openai/gpt-4o".to_owned(),
        status: 200,
        latency_ms: latency,
        error: None,
    };
    match roll {
        0 | 1 => {
            r.status = 429;
            r.error_code = Some("rate_limited".to_owned());
            r.latency_ms = 0.3;
        }
        2 => {
            r.status = 504;
            r.error_code = Some("upstream_timeout".to_owned());
            r.attempts = vec![
                AttemptRecord {
                    status: 504,
                    error: Some("upstream_timeout".to_owned()),
                    ..ok.clone()
                };
                2
            ];
        }
        3 => {
            r.status = 400;
            r.error_code = Some("policy_blocked".to_owned());
            r.findings
                .push(FindingRecord::counted("input", "CREDIT_CARD", "block", 1));
        }
        4..=6 => {
            r.attempts = vec![
                AttemptRecord {
                    status: 503,
                    error: Some("upstream_unavailable".to_owned()),
                    ..ok.clone()
                },
                ok,
            ];
        }
        _ => r.attempts = vec![ok],
    }
    if r.status == 200 {
        let (inp, out) = (200 + d(9, 3000), 20 + d(10, 800));
        r.usage = Some(UsageRecord {
            prompt_tokens: inp,
            completion_tokens: out,
            ..UsageRecord::default()
        });
        r.cost_usd = Some(inp as f64 * 2.5e-6 + out as f64 * 1e-5);
        r.cache_hit = d(11, 25) == 0;
        r.ttft_ms = (d(12, 3) == 0).then(|| latency / 4.0);
        if d(13, 10) == 0 {
            r.findings.push(FindingRecord::counted(
                "input",
                "EMAIL_ADDRESS",
                "redact",
                1 + d(14, 3) as u32,
            ));
        }
        if d(15, 50) == 0 {
            let mut f = FindingRecord::counted("input", "PROMPT_INJECTION", "flag", 1);
            f.score = Some(0.5 + d(16, 500) as f64 / 1000.0);
            r.findings.push(f);
        }
    }
    r
}
