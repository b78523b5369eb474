//! `seam-bench limits`: what a limit check costs, in process and through Redis.
//!
//! Each request is admitted against four scopes (org, team, key, subject), each limiting requests
//! per minute, tokens per minute, concurrency and a daily budget — every kind of counter at once,
//! the most a request can ask of the limiter — and then settled with its usage, exactly as the
//! server does. Limits are set high enough never to refuse, so every request takes the full
//! path. The time of `admit` and of `settle` is recorded per request; their sum is what limits
//! add to a request. `--tasks` requests run at once on the one thread (for Redis they share one
//! multiplexed connection, as replicas' requests do).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use seam_limits::{Ask, Budget, Limiter, OnError, Period, Rule, Scope, Used};

/// Limit checks must add at most this at p99 in process, and via Redis (BENCHMARKS.md), in µs.
pub const LOCAL_P99_US: u64 = 50;
pub const REDIS_P99_US: u64 = 1_000;

#[derive(clap::Args)]
pub struct LimitsArgs {
    /// Requests per backend.
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Requests in flight at once (closed loop: each task sends its next when the last is done).
    #[arg(long, default_value_t = 1)]
    pub tasks: u64,
    /// Instead of tasks: start requests at this fixed rate per second (open loop; latency counts
    /// from when each was due, so queueing is not hidden).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Redis to measure; `none` measures only the in-process counters.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
}

fn scopes(run: &str) -> Vec<Scope> {
    let rule = Rule {
        rpm: Some(100_000_000),
        tpm: Some(u64::MAX / 4),
        concurrency: Some(1_000_000),
        budget: Some(Budget {
            microusd: u64::MAX / 4,
            period: Period::Day,
        }),
    };
    [
        "org",
        "team:bench",
        "key:bench",
        "subject:bench:0123456789abcdef",
    ]
    .iter()
    .map(|s| Scope {
        id: format!("bench-{run}:{s}"),
        rule,
    })
    .collect()
}

struct Timings {
    admit: Histogram<u64>,
    settle: Histogram<u64>,
    total: Histogram<u64>,
}

/// One request: admit then settle; (admit, settle, total) in ns, `total` from when it began
/// (`due` is not used for the total: tokio's timer wakes up to a millisecond late, which is the
/// benchmark's lateness, not the limiter's).
async fn one(
    limiter: &Arc<Limiter>,
    scopes: &[Scope],
    request: String,
    due: Instant,
) -> anyhow::Result<[u64; 3]> {
    let ask = Ask {
        request,
        tokens: 1_100,
        microusd: 2_500,
    };
    let t0 = Instant::now();
    let ticket = limiter
        .admit(scopes, ask)
        .await
        .map_err(|d| anyhow::anyhow!("refused: {d:?}"))?;
    let t1 = Instant::now();
    ticket
        .settle(Used {
            tokens: 300,
            microusd: 700,
        })
        .await;
    let t2 = Instant::now();
    Ok([
        u64::try_from((t1 - t0).as_nanos())?,
        u64::try_from((t2 - t1).as_nanos())?,
        u64::try_from((t2 - t0.max(due)).as_nanos())?,
    ])
}

/// Open loop: requests start at `rate` per second whatever the latency.
async fn measure_rate(
    limiter: Arc<Limiter>,
    args: &LimitsArgs,
    run: &str,
) -> anyhow::Result<Timings> {
    let scopes = Arc::new(scopes(run));
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let gap = std::time::Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let mut handles = Vec::with_capacity(usize::try_from(args.requests)?);
    local
        .run_until(async {
            for i in 0..args.requests {
                let due = start + gap * u32::try_from(i)?;
                tokio::time::sleep_until(due.into()).await;
                let (l, s, id) = (
                    Arc::clone(&limiter),
                    Arc::clone(&scopes),
                    format!("{run}-{i}"),
                );
                handles.push(tokio::task::spawn_local(async move {
                    one(&l, &s, id, due).await
                }));
            }
            anyhow::Ok(())
        })
        .await?;
    let mut out = Timings {
        admit: Histogram::new(3)?,
        settle: Histogram::new(3)?,
        total: Histogram::new(3)?,
    };
    local
        .run_until(async {
            for h in handles {
                let [a, s, t] = h.await??;
                out.admit.record(a)?;
                out.settle.record(s)?;
                out.total.record(t)?;
            }
            anyhow::Ok(())
        })
        .await?;
    Ok(out)
}

async fn measure(limiter: Arc<Limiter>, args: &LimitsArgs, run: &str) -> anyhow::Result<Timings> {
    if args.rate > 0 {
        return measure_rate(limiter, args, run).await;
    }
    let scopes = Arc::new(scopes(run));
    let per_task = args.requests / args.tasks.max(1);
    let mut tasks = Vec::new();
    let local = tokio::task::LocalSet::new();
    for t in 0..args.tasks.max(1) {
        let limiter = Arc::clone(&limiter);
        let scopes = Arc::clone(&scopes);
        let run = run.to_owned();
        tasks.push(local.spawn_local(async move {
            let mut h = [
                Histogram::<u64>::new(3)?,
                Histogram::<u64>::new(3)?,
                Histogram::<u64>::new(3)?,
            ];
            for i in 0..per_task {
                let [a, s, tot] =
                    one(&limiter, &scopes, format!("{run}-{t}-{i}"), Instant::now()).await?;
                h[0].record(a)?;
                h[1].record(s)?;
                h[2].record(tot)?;
            }
            anyhow::Ok(h)
        }));
    }
    let mut out = Timings {
        admit: Histogram::new(3)?,
        settle: Histogram::new(3)?,
        total: Histogram::new(3)?,
    };
    local
        .run_until(async {
            for t in tasks {
                let [a, s, tot] = t.await??;
                out.admit.add(a)?;
                out.settle.add(s)?;
                out.total.add(tot)?;
            }
            anyhow::Ok(())
        })
        .await?;
    Ok(out)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1_000.0)
}

/// A response waits for `admit` only: the server settles on a task of its own (in process it
/// takes microseconds either way), so the target applies to admit's p99.
fn row(name: &str, t: &Timings, target_us: u64, requests: u64, took: std::time::Duration) {
    let p99 = t.admit.value_at_quantile(0.99);
    println!(
        "| {name} | {:.0} | {} | **{}** | {} | {} / {} | {} / {} | ≤ {target_us} µs: {} |",
        requests as f64 / took.as_secs_f64(),
        us(t.admit.value_at_quantile(0.5)),
        us(p99),
        us(t.admit.value_at_quantile(0.999)),
        us(t.settle.value_at_quantile(0.5)),
        us(t.settle.value_at_quantile(0.99)),
        us(t.total.value_at_quantile(0.5)),
        us(t.total.value_at_quantile(0.99)),
        if p99 <= target_us * 1_000 {
            "met"
        } else {
            "MISSED"
        },
    );
}

pub async fn main(args: LimitsArgs) -> anyhow::Result<()> {
    let run = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let load = if args.rate > 0 {
        format!("{} per second, open loop", args.rate)
    } else {
        format!("{} in flight, closed loop", args.tasks)
    };
    println!(
        "{} requests per backend, {load}; 4 scopes × (rpm, tpm, concurrency, daily budget); times in µs\n",
        args.requests
    );
    println!(
        "| counters | requests/s | admit p50 | **admit p99** | admit p99.9 | settle p50 / p99 | admit + settle p50 / p99 | target (admit p99) |"
    );
    println!("| --- | --: | --: | --: | --: | --: | --: | --- |");
    let t = Instant::now();
    let local = measure(Limiter::local(None), &args, &run).await?;
    row(
        "in process",
        &local,
        LOCAL_P99_US,
        args.requests,
        t.elapsed(),
    );
    if args.redis_url != "none" {
        let client = redis::Client::open(args.redis_url.as_str()).context("redis url")?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .context("cannot reach Redis")?;
        let connect: seam_limits::Connect = Arc::new(move || {
            let c = conn.clone();
            Box::pin(async move { Ok(c) })
        });
        // The default `limits.redis_timeout_ms`: the bench measures the path requests take.
        let guard = Arc::new(seam_limits::RedisGuard::new(
            std::time::Duration::from_millis(50),
        ));
        let shared = Limiter::redis(connect, guard, None, OnError::Closed);
        let started = Instant::now();
        let t = measure(shared, &args, &format!("{run}r")).await?;
        row(
            "Redis (local, one connection)",
            &t,
            REDIS_P99_US,
            args.requests,
            started.elapsed(),
        );
    }
    Ok(())
}
