//! `seam-bench report`: fills a SQLite store with a million request records of mixed traffic
//! (30 days, three aliases, four routes, twenty keys in five teams; cache hits, errors,
//! retries, fallbacks and policy-forced private requests) and times the release CLI's
//! `seam report cost` and `seam report whatif` (the worked example scenario file) on it, as
//! whole processes. Target: 5 s each (issue 21).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use seam_store::{
    AttemptRecord, AuditLog, AuditRecord, BackendConfig, FindingRecord, KeyScope, KeyStore,
    RecordKind, StoreConfig, UsageRecord,
};
use serde_json::Value;

pub const TARGET_SECS: f64 = 5.0;
const DAY_MS: i64 = 86_400_000;
/// 2026-10-01T00:00:00Z: the filled month starts here.
const START_MS: i64 = 1_790_812_800_000;
const SCENARIOS: &str = include_str!("../../docs/examples/scenarios.toml");

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The seam binary whose `seam report` is timed.
    #[arg(long, default_value = "target/release/seam")]
    pub seam: PathBuf,
    /// Request records to fill the store with, over 30 days.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Records per `AuditLog::append` (one transaction each).
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Put the store here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn main(args: ReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.records > 0 && args.batch > 0,
        "need --records > 0 and --batch > 0"
    );
    let seam = crate::audit_store::seam_binary(&args.seam)?;
    let (dir, keep) = match &args.dir {
        Some(d) => (d.clone(), true),
        None => (
            std::env::temp_dir().join(format!("seam-bench-report-{}", std::process::id())),
            false,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("audit.db");
    anyhow::ensure!(
        !db.exists(),
        "{} exists: the fill wants a fresh store",
        db.display()
    );
    std::fs::write(
        dir.join("seam.toml"),
        "[storage]\nurl = \"sqlite://audit.db\"\n\
         [providers.e]\nkind = \"echo\"\n\
         [models.chat]\ntargets = [{ provider = \"e\", model = \"echo\" }]\n",
    )?;
    std::fs::write(dir.join("scenarios.toml"), SCENARIOS)?;
    let fill_secs = fill(&args, &db)?;
    let since = seam_store::rfc3339(START_MS);
    let until = seam_store::rfc3339(START_MS + 30 * DAY_MS);
    let period = ["--since", since.as_str(), "--until", until.as_str()];
    let (cost_secs, _) = timed(
        &seam,
        &dir,
        &[&["cost", "-o", "cost.json"][..], &period[..]].concat(),
    )?;
    let (whatif_secs, _) = timed(
        &seam,
        &dir,
        &[
            &[
                "whatif",
                "--scenarios",
                "scenarios.toml",
                "-o",
                "whatif.json",
            ][..],
            &period[..],
        ]
        .concat(),
    )?;
    let cost: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cost.json"))?)?;
    let requests = cost["data"]["totals"]["requests"].as_u64();
    let spend = cost["data"]["totals"]["cost_usd"].as_f64().unwrap_or(0.0);
    let yes = |s: f64| if s <= TARGET_SECS { "yes" } else { "**no**" };
    println!(
        "### Reports over {} request records (SQLite)\n\n\
         Filled with seam-store's `AuditLog::append` in batches of {} in {fill_secs:.1} s; then \
         the release CLI, timed as whole processes (start-up included):\n\n\
         | report | records | seconds | target | met |\n\
         |---|--:|--:|--:|:-:|\n\
         | `seam report cost` | {} | {cost_secs:.2} | ≤ {TARGET_SECS} s | {} |\n\
         | `seam report whatif` (4 paths) | {} | {whatif_secs:.2} | ≤ {TARGET_SECS} s | {} |\n\n\
         The cost report counted {} requests and ${spend:.2} of spend.",
        args.records,
        args.batch,
        args.records,
        yes(cost_secs),
        args.records,
        yes(whatif_secs),
        requests.unwrap_or(0),
    );
    if !keep {
        drop(std::fs::remove_dir_all(&dir));
    }
    anyhow::ensure!(
        requests == Some(args.records),
        "the cost report counted {requests:?} requests, not {}",
        args.records
    );
    Ok(())
}

fn timed(seam: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let out = Command::new(seam)
        .current_dir(dir)
        .env_remove("SEAM_CONFIG")
        .arg("report")
        .args(args)
        .args(["--config", "seam.toml"])
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "seam report {} failed: {}",
        args.first().copied().unwrap_or(""),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "seam report {}: {secs:.2} s",
        args.first().copied().unwrap_or("")
    );
    Ok((secs, String::from_utf8_lossy(&out.stdout).into_owned()))
}

const ALIASES: [&str; 3] = ["chat", "summarise", "extract"];
const ROUTES: [(&str, f64, f64); 4] = [
    ("openai/gpt-4o-mini", 0.15, 0.60),
    ("openai/gpt-4o", 2.50, 10.0),
    ("anthropic/claude-3-5-haiku", 0.80, 4.00),
    ("anthropic/claude-sonnet-4", 3.00, 15.0),
];

fn fill(args: &ReportArgs, db: &Path) -> anyhow::Result<f64> {
    let cfg = StoreConfig {
        backend: BackendConfig::Sqlite {
            path: db.to_path_buf(),
        },
        master_key: None,
        retention: Vec::new(),
    };
    let mut keys = KeyStore::open(&cfg).map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let mut ids = Vec::new();
    for k in 0..20 {
        let scope = KeyScope {
            team: Some(format!("team-{}", k % 5)),
            ..KeyScope::default()
        };
        let (rec, _) = keys
            .create(&format!("bench-{k}"), &scope, START_MS)
            .map_err(|e| anyhow::anyhow!("creating a key: {e}"))?;
        ids.push(rec.id);
    }
    let mut log = AuditLog::open(&cfg).map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    // The reports read no rollup; the fill is not what is measured.
    log.set_rollups(false);
    let span = 30 * DAY_MS;
    crate::audit_store::append_all(&mut log, args.records, args.batch, |i| {
        record(i, args.records, span, &ids)
    })
}

fn record(i: u64, n: u64, span: i64, keys: &[String]) -> AuditRecord {
    let t = START_MS + i64::try_from(u128::from(i) * span as u128 / u128::from(n)).unwrap_or(0);
    let (route, inp, out) = ROUTES[(i % 4) as usize];
    let prompt = 200 + (i * 7919) % 2000;
    let cached = if i % 5 == 0 { prompt / 2 } else { 0 };
    let completion = 50 + (i * 104_729) % 500;
    let cost =
        ((prompt - cached) as f64 * inp + cached as f64 * inp / 2.0 + completion as f64 * out)
            / 1e6;
    let ok = AttemptRecord {
        target: route.to_owned(),
        status: 200,
        latency_ms: 300.0,
        error: None,
    };
    let mut r = AuditRecord {
        key_id: Some(keys[(i % keys.len() as u64) as usize].clone()),
        model: Some(ALIASES[(i % 3) as usize].to_owned()),
        route: Some(route.to_owned()),
        attempts: vec![ok.clone()],
        usage: Some(UsageRecord {
            prompt_tokens: prompt,
            cached_tokens: cached,
            completion_tokens: completion,
            ..UsageRecord::default()
        }),
        cost_usd: Some(cost),
        latency_ms: 200.0 + ((i * 31) % 1800) as f64,
        ttft_ms: Some(80.0 + ((i * 17) % 400) as f64),
        ..AuditRecord::event(format!("rep-{i:010}"), RecordKind::Request, "chat", t)
    };
    match i % 50 {
        0..=4 => {
            r.cache_hit = true;
            r.attempts.clear();
            r.usage = Some(UsageRecord::default());
            r.cost_usd = Some(0.0);
        }
        5 => {
            r.status = 502;
            r.error_code = Some("upstream_unavailable".to_owned());
            r.route = None;
            r.usage = None;
            r.cost_usd = None;
        }
        6 => r.attempts.insert(0, AttemptRecord { status: 503, ..ok }),
        7 => {
            r.findings = vec![FindingRecord::counted(
                "input",
                "PERSON",
                "route_private",
                1,
            )]
        }
        _ => {}
    }
    r
}
