//! Limits on both backends, with the same test bodies: in process, and in Redis
//! (`SEAM_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; skipped when unreachable unless
//! `SEAM_REQUIRE_REDIS=1`). Time is passed in, so windows are tested exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use seam_limits::*;

const T0: u64 = 1_795_954_518_000; // 2026-11-29T12:15:18Z
const DAY: u64 = 86_400_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Local,
    Redis,
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t{nanos}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn redis_connect() -> Option<Connect> {
    let url = std::env::var("SEAM_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url).unwrap();
    match redis::aio::ConnectionManager::new(client).await {
        Ok(c) => Some(Arc::new(move || {
            let c = c.clone();
            Box::pin(async move { Ok(c) })
        })),
        Err(e) => {
            assert!(
                std::env::var("SEAM_REQUIRE_REDIS").is_err(),
                "Redis is required but unreachable: {e}"
            );
            eprintln!("skipping: Redis unreachable ({e})");
            None
        }
    }
}

/// A guard with a deadline no loaded test machine misses (the default's behaviour is the
/// guard's own tests' business).
fn guard() -> Arc<RedisGuard> {
    Arc::new(RedisGuard::new(std::time::Duration::from_secs(2)))
}

/// A limiter of `kind` (None when Redis is unreachable), and a prefix making scope ids unique.
async fn limiter(kind: Kind, ledger: Option<LedgerSink>) -> Option<(Arc<Limiter>, String)> {
    let l = match kind {
        Kind::Local => Limiter::local(ledger),
        Kind::Redis => Limiter::redis(redis_connect().await?, guard(), ledger, OnError::Closed),
    };
    Some((l, unique()))
}

fn scope(prefix: &str, name: &str, rule: Rule) -> Scope {
    Scope {
        id: format!("{prefix}:{name}"),
        rule,
    }
}

fn ask(id: &str, tokens: u64, microusd: u64) -> Ask {
    Ask {
        request: format!("{id}-{}", unique()),
        tokens,
        microusd,
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod local {
            $( #[tokio::test] async fn $name() { super::$name(super::Kind::Local).await } )*
        }
        mod redis_backend {
            $( #[tokio::test] async fn $name() { super::$name(super::Kind::Redis).await } )*
        }
    };
}

async fn rpm_is_a_sliding_minute(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let s = [scope(
        &p,
        "key",
        Rule {
            rpm: Some(3),
            ..Rule::default()
        },
    )];
    for i in 0..3 {
        l.admit_at(&s, ask("r", 0, 0), T0 + i * 10_000)
            .await
            .unwrap();
    }
    match l.admit_at(&s, ask("r", 0, 0), T0 + 30_000).await {
        Err(Denied::Requests {
            limit: 3,
            retry_after_ms,
            ..
        }) => {
            assert_eq!(retry_after_ms, 30_000, "the oldest leaves at T0 + 60 s")
        }
        other => panic!("{:?}", other.err()),
    }
    // At T0 + 60 s the first has left the window: one more fits, not two.
    l.admit_at(&s, ask("r", 0, 0), T0 + 60_000).await.unwrap();
    assert!(l.admit_at(&s, ask("r", 0, 0), T0 + 60_001).await.is_err());
}

/// In Redis a request admitted twice (a call retried after its reply was lost) counts once. In
/// process nothing is retried, and windows keep no ids (their memory is bounded by the minute,
/// not the traffic): the same request admitted twice counts twice, which only errs on the strict
/// side.
async fn same_request_counts_once(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let s = [scope(
        &p,
        "key",
        Rule {
            rpm: Some(1),
            ..Rule::default()
        },
    )];
    let a = ask("same", 0, 0);
    let t1 = l.admit_at(&s, a.clone(), T0).await.unwrap();
    let again = l.admit_at(&s, a, T0 + 1).await;
    match kind {
        Kind::Redis => assert!(again.is_ok()),
        Kind::Local => assert!(again.is_err()),
    }
    assert!(l.admit_at(&s, ask("other", 0, 0), T0 + 2).await.is_err());
    drop((t1, again));
}

async fn tokens_reserve_then_reconcile(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let s = [scope(
        &p,
        "key",
        Rule {
            tpm: Some(1_000),
            ..Rule::default()
        },
    )];
    let first = l.admit_at(&s, ask("a", 600, 0), T0).await.unwrap();
    match l.admit_at(&s, ask("b", 600, 0), T0 + 1_000).await {
        Err(Denied::Tokens {
            limit: 1_000,
            asked: 600,
            retry_after_ms: Some(w),
            ..
        }) => {
            assert_eq!(w, 59_000)
        }
        other => panic!("{:?}", other.err()),
    }
    // The answer used 100 tokens, not 600: the window now holds 100.
    first
        .settle_at(
            Used {
                tokens: 100,
                microusd: 0,
            },
            T0 + 2_000,
        )
        .await;
    let _b = l.admit_at(&s, ask("b", 600, 0), T0 + 3_000).await.unwrap();
    assert!(l.admit_at(&s, ask("c", 301, 0), T0 + 4_000).await.is_err());
    let _c = l.admit_at(&s, ask("c", 300, 0), T0 + 4_000).await.unwrap();
    // Asking for more than the limit can never succeed, and says so.
    match l.admit_at(&s, ask("huge", 1_001, 0), T0 + 120_000).await {
        Err(Denied::Tokens {
            retry_after_ms: None,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
}

async fn concurrency_slots_are_freed(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let s = [scope(
        &p,
        "key",
        Rule {
            concurrency: Some(2),
            ..Rule::default()
        },
    )];
    let a = l.admit_at(&s, ask("a", 0, 0), T0).await.unwrap();
    let b = l.admit_at(&s, ask("b", 0, 0), T0).await.unwrap();
    assert!(matches!(
        l.admit_at(&s, ask("c", 0, 0), T0).await,
        Err(Denied::Concurrency { limit: 2, .. })
    ));
    a.settle_at(Used::default(), T0 + 1).await;
    let c = l.admit_at(&s, ask("c", 0, 0), T0 + 2).await.unwrap();
    // A ticket dropped unsettled frees its slot too (in Redis, on a spawned task).
    drop(b);
    let mut admitted = None;
    for _ in 0..100 {
        if let Ok(t) = l.admit_at(&s, ask("d", 0, 0), T0 + 3).await {
            admitted = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        admitted.is_some(),
        "the dropped ticket's slot was not freed"
    );
    drop(c);
}

async fn budget_reserves_worst_case_and_charges_actual(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let budget = Budget {
        microusd: 1_000_000,
        period: Period::Day,
    };
    let s = [scope(
        &p,
        "team",
        Rule {
            budget: Some(budget),
            ..Rule::default()
        },
    )];
    let a = l.admit_at(&s, ask("a", 0, 400_000), T0).await.unwrap();
    let _b = l.admit_at(&s, ask("b", 0, 400_000), T0).await.unwrap();
    match l.admit_at(&s, ask("c", 0, 400_000), T0).await {
        Err(Denied::Budget {
            committed: 800_000,
            asked: 400_000,
            resets_at_ms,
            ..
        }) => {
            assert_eq!(resets_at_ms, 1_795_996_800_000, "midnight UTC")
        }
        other => panic!("{:?}", other.err()),
    }
    a.settle_at(
        Used {
            tokens: 0,
            microusd: 100_000,
        },
        T0 + 1,
    )
    .await;
    let _c = l.admit_at(&s, ask("c", 0, 400_000), T0 + 2).await.unwrap();
    // Tomorrow is a new period.
    let _d = l
        .admit_at(&s, ask("d", 0, 900_000), T0 + DAY)
        .await
        .unwrap();
}

async fn scopes_are_all_or_nothing(kind: Kind) {
    let Some((l, p)) = limiter(kind, None).await else {
        return;
    };
    let key = scope(
        &p,
        "key",
        Rule {
            rpm: Some(2),
            ..Rule::default()
        },
    );
    let team = scope(
        &p,
        "team",
        Rule {
            rpm: Some(1),
            ..Rule::default()
        },
    );
    let _t = l
        .admit_at(std::slice::from_ref(&team), ask("t", 0, 0), T0)
        .await
        .unwrap();
    // The team is full, so the key must not count this request...
    let denied = l.admit_at(&[key.clone(), team], ask("x", 0, 0), T0).await;
    assert_eq!(
        denied.err().map(|d| d.scope().to_owned()),
        Some(format!("{p}:team"))
    );
    // ...and still has both of its requests.
    let _a = l
        .admit_at(std::slice::from_ref(&key), ask("a", 0, 0), T0)
        .await
        .unwrap();
    let _b = l.admit_at(&[key], ask("b", 0, 0), T0).await.unwrap();
}

/// A spend ledger in memory that outlives the limiters using it, as a database outlives a
/// restart. (seam-server's tests run the same restart over seam-store's SQLite ledger.)
#[derive(Clone, Default)]
struct MemoryLedger(Arc<std::sync::Mutex<std::collections::HashMap<(String, String), u64>>>);

impl MemoryLedger {
    fn opener(&self) -> OpenSpendStore {
        let m = self.clone();
        Arc::new(move || Ok(Box::new(m.clone()) as Box<dyn SpendStore>))
    }
}

impl SpendStore for MemoryLedger {
    fn add(&mut self, charges: &[Charge]) -> Result<(), String> {
        let mut rows = self.0.lock().unwrap();
        for c in charges {
            *rows.entry((c.scope.clone(), c.period.clone())).or_default() += c.microusd;
        }
        Ok(())
    }

    fn spent(&mut self, scope: &str, period: &str) -> Result<u64, String> {
        let rows = self.0.lock().unwrap();
        Ok(rows
            .get(&(scope.to_owned(), period.to_owned()))
            .copied()
            .unwrap_or(0))
    }
}

async fn budgets_survive_a_restart_through_the_ledger(kind: Kind) {
    let store = MemoryLedger::default();
    let budget = Budget {
        microusd: 1_000_000,
        period: Period::Month,
    };
    let now = seam_limits::now_ms();
    let (p, spent_before) = {
        let Some((l, p)) = limiter(kind, Some(LedgerSink::new(store.opener()).unwrap())).await
        else {
            return;
        };
        let s = [scope(
            &p,
            "key",
            Rule {
                budget: Some(budget),
                ..Rule::default()
            },
        )];
        let t = l.admit_at(&s, ask("a", 0, 700_000), now).await.unwrap();
        t.settle_at(
            Used {
                tokens: 0,
                microusd: 650_000,
            },
            now,
        )
        .await;
        (p, 650_000)
    };
    // The writer flushes within a second of the last charge.
    let mut ledger = store.clone();
    let label = Period::Month.label(now);
    let mut seen = 0;
    for _ in 0..40 {
        seen = ledger.spent(&format!("{p}:key"), &label).unwrap();
        if seen == spent_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, spent_before);
    // A fresh limiter (a restart; for Redis, a flushed counter) starts from the ledger.
    let l = match kind {
        Kind::Local => Limiter::local(Some(LedgerSink::new(store.opener()).unwrap())),
        Kind::Redis => {
            let c = redis_connect().await.unwrap();
            let mut conn = c().await.unwrap();
            let _: () = redis::cmd("DEL")
                .arg(format!("seam:l:{p}:key:b:{label}"))
                .query_async(&mut conn)
                .await
                .unwrap();
            Limiter::redis(
                c,
                guard(),
                Some(LedgerSink::new(store.opener()).unwrap()),
                OnError::Closed,
            )
        }
    };
    let s = [scope(
        &p,
        "key",
        Rule {
            budget: Some(budget),
            ..Rule::default()
        },
    )];
    match l.admit_at(&s, ask("b", 0, 400_000), now).await {
        Err(Denied::Budget {
            committed: 650_000, ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    let _c = l.admit_at(&s, ask("c", 0, 350_000), now).await.unwrap();
}

both!(
    rpm_is_a_sliding_minute,
    same_request_counts_once,
    tokens_reserve_then_reconcile,
    concurrency_slots_are_freed,
    budget_reserves_worst_case_and_charges_actual,
    scopes_are_all_or_nothing,
    budgets_survive_a_restart_through_the_ledger,
);

/// One step of a random workload: a request at `dt` ms after the previous one, asking for
/// `tokens` and `cost`, settled (with `used` of its ask, in percent) before the next step or kept.
#[derive(Clone, Debug)]
struct Op {
    dt: u64,
    tokens: u64,
    cost: u64,
    used_pct: u64,
    settle: bool,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        (0u64..8_000, 0u64..400, 0u64..300, 0u64..=100, any::<bool>()).prop_map(
            |(dt, tokens, cost, used_pct, settle)| Op {
                dt,
                tokens,
                cost,
                used_pct,
                settle,
            },
        ),
        1..120,
    )
}

fn rule() -> Rule {
    Rule {
        rpm: Some(12),
        tpm: Some(1_500),
        concurrency: Some(4),
        budget: Some(Budget {
            microusd: 5_000,
            period: Period::Day,
        }),
    }
}

/// What a decision looks like, comparable across backends.
fn outcome(r: &Result<Ticket, Denied>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(Denied::Requests { retry_after_ms, .. }) => format!("rpm {retry_after_ms}"),
        Err(Denied::Tokens { retry_after_ms, .. }) => format!("tpm {retry_after_ms:?}"),
        Err(Denied::Concurrency { .. }) => "conc".into(),
        Err(Denied::Budget { committed, .. }) => format!("budget {committed}"),
        Err(Denied::Unavailable { reason }) => format!("unavailable {reason}"),
    }
}

/// Runs `ops` and returns every decision, checking the invariants on the way: never more than
/// `rpm` admitted in any minute, never more than `concurrency` in flight, and spend never over
/// the budget (answers here never cost more than their reservation).
async fn run(l: &Arc<Limiter>, prefix: &str, ops: &[Op]) -> Vec<String> {
    let s = [scope(prefix, "k", rule())];
    let mut t = T0;
    let mut held: Vec<(Ticket, u64, u64)> = Vec::new();
    let mut admitted_at: Vec<u64> = Vec::new();
    let mut spent = 0;
    let mut decisions = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        t += op.dt;
        let r = l
            .admit_at(
                &s,
                Ask {
                    request: format!("{prefix}-{i}"),
                    tokens: op.tokens,
                    microusd: op.cost,
                },
                t,
            )
            .await;
        decisions.push(outcome(&r));
        if let Ok(ticket) = r {
            admitted_at.push(t);
            let in_minute = admitted_at.iter().filter(|a| **a + WINDOW_MS > t).count();
            assert!(in_minute <= 12, "{in_minute} admitted within a minute");
            held.push((
                ticket,
                op.tokens * op.used_pct / 100,
                op.cost * op.used_pct / 100,
            ));
            assert!(held.len() <= 4, "{} in flight", held.len());
        }
        if op.settle {
            while let Some((ticket, tokens, cost)) = held.pop() {
                ticket
                    .settle_at(
                        Used {
                            tokens,
                            microusd: cost,
                        },
                        t,
                    )
                    .await;
                spent += cost;
            }
        }
        assert!(spent <= 5_000, "spent {spent}");
    }
    for (ticket, tokens, cost) in held {
        ticket
            .settle_at(
                Used {
                    tokens,
                    microusd: cost,
                },
                t,
            )
            .await;
    }
    decisions
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The in-process counters hold every limit under random load.
    #[test]
    fn local_limits_hold(ops in ops()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let l = Limiter::local(None);
            run(&l, &unique(), &ops).await;
        });
    }

    /// Redis makes exactly the decisions the in-process counters make, step for step.
    #[test]
    fn redis_decides_like_local(ops in ops()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let Some((redis, prefix)) = limiter(Kind::Redis, None).await else { return };
            let local = run(&Limiter::local(None), &prefix, &ops).await;
            let shared = run(&redis, &prefix, &ops).await;
            assert_eq!(local, shared);
        });
    }
}
