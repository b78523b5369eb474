//! `seam-bench prompts`: what rendering a prompt and assigning a rollout variant cost, in process,
//! on the server's own code (seam-prompts, seam-rollouts and seam-server's prompt and rollout
//! steps), with seam's Prometheus recorder installed so their counters cost what they do in
//! `seam serve`.
//!
//! - **Render**: `Prompt::render` of the prompts scenario's ~1 KB template with its variables
//!   (schema check, the default filled in, system and user templates), timed per call.
//! - **Prompt step**: `seam_server::prompts::apply` for chat on the scenario's request body (find,
//!   parse, resolve, render, write the messages, serialise), and on a body without a prompt (the
//!   one substring search every other request pays), timed per call.
//! - **Assignment**: `seam_rollouts::bucket` + `Variant::assign`, and `Rollouts::for_alias` +
//!   `Runtime::sticky` + `Runtime::assign` on a running canary (the set's lock, the rollout's
//!   state lock, the hash, the `Assignment`), and `Runtime::shadows` on a running shadow rollout;
//!   each timed over batches of [`BATCH`] calls (one call is near the clock's own cost).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use seam_rollouts::{Variant, bucket};
use seam_server::rollouts::Rollouts;
use seam_server::surface::chat::Chat;

use crate::procs::Ports;
use crate::prompts::{self, PROMPT_MODEL, PROMPT_NAME, SHADOWED};

/// Calls per timed batch in the assignment loops.
pub const BATCH: u64 = 1_000;
/// The issue's budget for an active canary's assignment, in µs (0.005 ms).
pub const ASSIGN_US: f64 = 5.0;

/// The alias with the canary the assignment loop measures.
const CANARY: &str = "bench-canary";

#[derive(clap::Args)]
pub struct PromptsArgs {
    /// Renders, and prompt steps, timed one by one.
    #[arg(long, default_value_t = 100_000)]
    pub renders: u64,
    /// Batches of 1,000 assignments timed per assignment row.
    #[arg(long, default_value_t = 10_000)]
    pub batches: u64,
}

/// The canary the assignment rows use: on its own alias, at its first step (1 %), never
/// advancing while the bench runs.
fn canary_toml() -> String {
    format!(
        r#"
[models.{CANARY}]
targets = [{{ provider = "mock", model = "bench-model" }}]

[rollouts.{CANARY}]
alias = "{CANARY}"
mode = "canary"
candidate = {{ targets = [{{ provider = "mock_b", model = "bench-model" }}] }}
min_samples_per_step = 1000000000
"#
    )
}

/// The prompts scenario's config plus the canary, its store in `dir`.
fn config(dir: &Path) -> anyhow::Result<seam_config::Config> {
    let mut text = prompts::config_toml(&Ports::from_base(18700));
    text.push_str(&canary_toml());
    let resolver = seam_config::Resolver {
        env: &|_| None,
        base_dir: dir.to_path_buf(),
    };
    seam_config::from_toml(&text, &resolver).map_err(|errors| {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the generated config: {}", errors.join("; "))
    })
}

struct Row {
    name: String,
    /// Per call, in picoseconds (batches are divided down).
    ps: Histogram<u64>,
    calls: u64,
    took: Duration,
    target: Option<(String, bool)>,
}

pub async fn main(args: PromptsArgs) -> anyhow::Result<()> {
    // Counters cost what they cost in `seam serve`.
    drop(seam_server::metrics::install());
    let dir = std::env::temp_dir().join(format!("seam-bench-prompts-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("prompts"))?;
    let measured = measure(&args, &dir).await;
    drop(std::fs::remove_dir_all(&dir));
    let rows = measured?;
    println!(
        "{} renders and prompt steps timed one by one; {} batches of {BATCH} assignments; \
         times per call\n",
        args.renders, args.batches
    );
    println!("| step | calls/s | p50 | p99 | p99.9 | target |");
    println!("| --- | --: | --: | --: | --: | --- |");
    for r in rows {
        let at = |q| duration(r.ps.value_at_quantile(q));
        println!(
            "| {} | {:.0} | {} | {} | {} | {} |",
            r.name,
            r.calls as f64 / r.took.as_secs_f64(),
            at(0.5),
            at(0.99),
            at(0.999),
            r.target.map_or(String::new(), |(t, met)| format!(
                "{t}: {}",
                if met { "met" } else { "MISSED" }
            ))
        );
    }
    Ok(())
}

/// Picoseconds as µs above a microsecond, else ns.
fn duration(ps: u64) -> String {
    if ps >= 1_000_000 {
        format!("{:.2} µs", ps as f64 / 1e6)
    } else {
        format!("{:.1} ns", ps as f64 / 1e3)
    }
}

async fn measure(args: &PromptsArgs, dir: &Path) -> anyhow::Result<Vec<Row>> {
    let prompt_file = prompts::prompt_file();
    std::fs::write(
        dir.join("prompts").join(format!("{PROMPT_NAME}.prompt")),
        &prompt_file,
    )?;
    let cfg = config(dir)?;
    let mut rows = Vec::new();

    let prompt = seam_prompts::Prompt::parse(PROMPT_NAME, &prompt_file)
        .map_err(|e| anyhow::anyhow!("the bench's prompt: {e}"))?;
    let vars = prompts::vars();
    let mut render = Timer::new()?;
    for _ in 0..args.renders {
        let t = Instant::now();
        let out = prompt.render(black_box(&vars));
        render.record(t.elapsed(), 1)?;
        out.map_err(|e| anyhow::anyhow!("render: {e}"))?;
    }
    let budget = prompts::RENDER_P50_MS * 1e9;
    rows.push(render.row(
        "`Prompt::render`, ~1 KB template, 5 variables",
        Some(budget),
        "p50 ≤ 0.02 ms",
    ));

    let registry = seam_prompts::Registry::load(&dir.join("prompts"))
        .map_err(|e| anyhow::anyhow!("the bench's prompts folder: {}", e.join("; ")))?;
    let versions =
        seam_server::prompts::Versions::open(&seam_server::audit::store_config(&cfg), true);
    let with = prompts::chat_request(PROMPT_MODEL, false);
    let without = crate::body::request("bench", false, crate::body::Prompt::Ticket);
    for (name, body, budget) in [
        (
            format!(
                "`prompts::apply` (chat), a `prompt:` body of {} bytes → {} bytes",
                with.len(),
                without.len()
            ),
            &with,
            Some(budget),
        ),
        (
            format!(
                "`prompts::apply` (chat), a body of {} bytes without a prompt",
                without.len()
            ),
            &without,
            None,
        ),
    ] {
        let mut apply = Timer::new()?;
        for _ in 0..args.renders {
            let t = Instant::now();
            let out = seam_server::prompts::apply::<Chat>(
                &versions,
                &registry,
                black_box(body.clone()),
                |_, _| None,
            )
            .await;
            apply.record(t.elapsed(), 1)?;
            out.map_err(|e| anyhow::anyhow!("apply: {}", e.message))?;
        }
        rows.push(apply.row(&name, budget, "p50 ≤ 0.02 ms"));
    }

    rows.extend(assignments(args, &cfg).await?);
    Ok(rows)
}

/// The assignment rows; waits for the rollout thread to start both rollouts in the store.
async fn assignments(args: &PromptsArgs, cfg: &seam_config::Config) -> anyhow::Result<Vec<Row>> {
    let subjects: Vec<String> = (0..1024).map(|i| format!("user-{i:08}")).collect();
    let subject = |i: u64| subjects[(i % 1024) as usize].as_str();
    let mut rows = Vec::new();
    let budget = ASSIGN_US * 1e6;

    let mut hash = Timer::new()?;
    for b in 0..args.batches {
        let t = Instant::now();
        for i in 0..BATCH {
            let bucket = bucket(black_box(CANARY), subject(b + i).as_bytes());
            black_box(Variant::assign(bucket, black_box(100)));
        }
        hash.record(t.elapsed(), BATCH)?;
    }
    rows.push(hash.row(
        "`bucket` + `Variant::assign`, a 13-byte subject",
        Some(budget),
        "p50 ≤ 5 µs",
    ));

    let store = seam_server::audit::store_config(cfg);
    let rollouts = Rollouts::open(cfg, store, None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while [CANARY, SHADOWED]
        .iter()
        .any(|a| rollouts.for_alias(a).and_then(|r| r.snapshot()).is_none())
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the rollouts did not start within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut assign = Timer::new()?;
    let mut candidates = 0u64;
    for b in 0..args.batches {
        let t = Instant::now();
        for i in 0..BATCH {
            let rt = rollouts
                .for_alias(black_box(CANARY))
                .context("the canary's alias has no rollout")?;
            let a = rt.assign(rt.sticky(Some(subject(b + i)), None), "request-id");
            candidates += u64::from(a.is_some_and(|a| a.variant == Variant::Candidate));
        }
        assign.record(t.elapsed(), BATCH)?;
    }
    let share = 100.0 * candidates as f64 / (args.batches * BATCH) as f64;
    rows.push(assign.row(
        &format!(
            "`Rollouts::for_alias` + `Runtime::assign`, a running canary at 1 % ({share:.2} % \
             of calls on the candidate)"
        ),
        Some(budget),
        "p50 ≤ 5 µs",
    ));

    let mut shadows = Timer::new()?;
    let mut copies = 0u64;
    for b in 0..args.batches {
        let t = Instant::now();
        for i in 0..BATCH {
            let rt = rollouts
                .for_alias(black_box(SHADOWED))
                .context("the shadowed alias has no rollout")?;
            copies += u64::from(rt.shadows(subject(b + i)));
        }
        shadows.record(t.elapsed(), BATCH)?;
    }
    anyhow::ensure!(
        copies == args.batches * BATCH,
        "a shadow at sample 1.0 chose {copies} of {} requests",
        args.batches * BATCH
    );
    rows.push(shadows.row(
        "`Rollouts::for_alias` + `Runtime::shadows`, a running shadow at sample 1.0",
        None,
        "",
    ));
    Ok(rows)
}

/// A histogram of per-call times and the time spent in the timed calls.
struct Timer {
    ps: Histogram<u64>,
    calls: u64,
    took: Duration,
}

impl Timer {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            ps: Histogram::new(3)?,
            calls: 0,
            took: Duration::ZERO,
        })
    }

    /// `took` for `calls` calls.
    fn record(&mut self, took: Duration, calls: u64) -> anyhow::Result<()> {
        let ps = took.as_nanos() * 1_000 / u128::from(calls.max(1));
        self.ps.record(u64::try_from(ps)?)?;
        self.calls += calls;
        self.took += took;
        Ok(())
    }

    /// The row, held to `budget_ps` at p50 when given.
    fn row(self, name: &str, budget_ps: Option<f64>, target: &str) -> Row {
        let p50 = self.ps.value_at_quantile(0.5) as f64;
        Row {
            name: name.to_owned(),
            target: budget_ps.map(|b| (target.to_owned(), p50 <= b)),
            ps: self.ps,
            calls: self.calls,
            took: self.took,
        }
    }
}
