//! Limits and budgets for every request, per scope: the whole gateway (`org`), a team, an API key
//! and a data subject. Each scope may cap requests per minute, tokens per minute, concurrent
//! requests and spend per calendar day or month (UTC).
//!
//! # How a request is counted
//!
//! [`Limiter::admit`] checks every scope of a request and, only if all of them allow it, records it
//! in all of them at once (one lock in process, one Lua script in Redis): the request is counted in
//! each requests-per-minute window, its token estimate (prompt + `max_tokens`) is reserved in each
//! tokens-per-minute window, it takes a concurrency slot, and its worst-case cost is reserved
//! against each budget. The [`Ticket`] it returns is settled with what the request really used
//! ([`Ticket::settle`]): the token reservation becomes the reported count, the cost reservation
//! becomes the real cost, and the slot is freed. A ticket dropped unsettled (a client that left,
//! a task that failed) is settled at its reservation, so nothing leaks.
//!
//! Windows slide: a scope with `rpm = N` gets at most N requests in *any* 60 s, and is told
//! exactly when the next one fits. In Redis every entry is keyed by the request id, so admitting
//! or settling the same request twice (a call retried after a lost reply) counts it once. In
//! process nothing is retried, and a window keeps one bucket per millisecond instead of one entry
//! per request: its memory is bounded by the 60 s it covers, not by the traffic.
//!
//! # Where the counters live
//!
//! In process ([`Limiter::local`]) by default; in Redis ([`Limiter::redis`]) when replicas share
//! `storage.redis_url`, with the same semantics (a test drives both with the same random sequence
//! and compares every decision). Spend is also written to the ledger (a [`SpendStore`]: the server
//! opens seam-store's, on SQLite or PostgreSQL), which seeds a budget's counter whenever it is
//! missing: after a restart, or when Redis lost its data.
//!
//! # Overshoot bound
//!
//! Requests, tokens reserved and concurrency never exceed a limit, across any number of replicas
//! sharing Redis. Spend exceeds a budget only by what requests cost beyond their reservation: zero
//! when requests set `max_tokens` and the usage reported is within it; otherwise at most the sum,
//! over the requests in flight when the budget ran out, of their cost above the estimate. The
//! ledger may lag the live counters by up to one flush interval (1 s): counters re-seeded from it
//! after losing Redis can miss at most that much spend.

mod guard;
mod ledger;
mod local;
mod period;
mod shared;

use std::sync::Arc;
use std::time::Duration;

pub use guard::{GuardError, RedisGuard};
pub use ledger::{Charge, LedgerSink, OpenSpendStore, SpendStore};
pub use period::Period;
pub use shared::Connect;

/// Millionths of a US dollar.
pub type MicroUsd = u64;

/// The window every per-minute limit slides over.
pub const WINDOW_MS: u64 = 60_000;

/// How long a concurrency slot or a cost reservation outlives a replica that died holding it.
pub const LEASE_MS: u64 = 15 * 60_000;

/// What one scope allows; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub concurrency: Option<u32>,
    pub budget: Option<Budget>,
}

impl Rule {
    pub fn is_empty(&self) -> bool {
        *self == Rule::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub microusd: MicroUsd,
    pub period: Period,
}

/// One scope a request counts against: `org`, `team:NAME`, `key:ID`, `subject:KEY:HASH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub id: String,
    pub rule: Rule,
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    /// Identifies the request: in Redis, counting the same id twice counts it once.
    pub request: String,
    /// Tokens to reserve: the prompt estimate plus the most the answer may use.
    pub tokens: u64,
    /// Cost to reserve against budgets: the most the request may cost.
    pub microusd: MicroUsd,
}

/// What a request really used, reported when it ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Used {
    pub tokens: u64,
    pub microusd: MicroUsd,
}

/// Why a request was refused; `scope` is the id of the scope whose limit it hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    Requests {
        scope: String,
        limit: u32,
        retry_after_ms: u64,
    },
    /// `retry_after_ms` is `None` when the request alone asks for more than the limit.
    Tokens {
        scope: String,
        limit: u64,
        asked: u64,
        retry_after_ms: Option<u64>,
    },
    Concurrency {
        scope: String,
        limit: u32,
    },
    Budget {
        scope: String,
        limit: MicroUsd,
        /// Spent plus reserved by requests in flight.
        committed: MicroUsd,
        asked: MicroUsd,
        period: Period,
        resets_at_ms: u64,
    },
    /// The shared counters could not be reached and `on_error` is closed.
    Unavailable {
        reason: String,
    },
}

impl Denied {
    pub fn scope(&self) -> &str {
        match self {
            Denied::Requests { scope, .. }
            | Denied::Tokens { scope, .. }
            | Denied::Concurrency { scope, .. }
            | Denied::Budget { scope, .. } => scope,
            Denied::Unavailable { .. } => "",
        }
    }
}

/// What to do when Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Admit the request uncounted (and say so in a warning and a metric).
    #[default]
    Open,
    /// Refuse it with 503.
    Closed,
}

/// A scope's part in an admitted request, kept to settle it.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub id: String,
    pub tpm: bool,
    pub concurrency: bool,
    /// The budget period's label and end, when the scope has a budget.
    pub budget: Option<(String, u64)>,
}

pub(crate) struct Admitted {
    pub request: String,
    pub at_ms: u64,
    pub held: Vec<Held>,
    pub ask: Ask,
}

impl Admitted {
    /// What admission reserved: what an unsettled request is charged.
    fn reserved(&self) -> Used {
        Used {
            tokens: self.ask.tokens,
            microusd: self.ask.microusd,
        }
    }
}

/// The outcome of one attempt at admission by a backend.
pub(crate) enum Step {
    Admitted,
    Denied(Denied),
    /// The budget counter of `scopes[index]` for `label` is not loaded: seed it from the ledger.
    Seed {
        index: usize,
        label: String,
    },
}

enum Backend {
    Local(local::Local),
    Redis(shared::Shared),
}

/// Counts requests against their scopes.
pub struct Limiter {
    backend: Backend,
    ledger: Option<LedgerSink>,
    on_error: OnError,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Limiter {
    /// Counters in this process.
    pub fn local(ledger: Option<LedgerSink>) -> Arc<Limiter> {
        Arc::new(Limiter {
            backend: Backend::Local(local::Local::default()),
            ledger,
            on_error: OnError::Closed,
        })
    }

    /// Counters in Redis, shared by every replica using it. Every call goes through `guard`: a
    /// deadline each, and a breaker that makes `on_error` apply at once while Redis is down.
    pub fn redis(
        conn: shared::Connect,
        guard: Arc<RedisGuard>,
        ledger: Option<LedgerSink>,
        on_error: OnError,
    ) -> Arc<Limiter> {
        Arc::new(Limiter {
            backend: Backend::Redis(shared::Shared::new(conn, guard)),
            ledger,
            on_error,
        })
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Whether requests are refused when the shared counters are unreachable (a server that
    /// cannot reach them then cannot serve, and is not ready).
    pub fn fails_closed(&self) -> bool {
        self.is_shared() && self.on_error == OnError::Closed
    }

    /// Checks `scopes` and counts the request in all of them, or in none.
    pub async fn admit(self: &Arc<Self>, scopes: &[Scope], ask: Ask) -> Result<Ticket, Denied> {
        self.admit_at(scopes, ask, now_ms()).await
    }

    /// [`Limiter::admit`] at a given time (tests and benchmarks).
    pub async fn admit_at(
        self: &Arc<Self>,
        scopes: &[Scope],
        ask: Ask,
        now: u64,
    ) -> Result<Ticket, Denied> {
        let scopes: Vec<&Scope> = scopes.iter().filter(|s| !s.rule.is_empty()).collect();
        if scopes.is_empty() {
            return Ok(Ticket {
                limiter: Arc::clone(self),
                admitted: Some(Admitted {
                    request: ask.request.clone(),
                    at_ms: now,
                    held: Vec::new(),
                    ask,
                }),
            });
        }
        // Each missing budget counter costs one round of seeding; a request has at most a few.
        for _ in 0..=scopes.len() {
            let step = match &self.backend {
                Backend::Local(l) => Ok(l.admit(&scopes, &ask, now)),
                Backend::Redis(r) => r.admit(&scopes, &ask, now).await,
            };
            match step {
                Ok(Step::Admitted) => {
                    return Ok(Ticket {
                        limiter: Arc::clone(self),
                        admitted: Some(Admitted {
                            request: ask.request.clone(),
                            at_ms: now,
                            held: held(&scopes, now),
                            ask,
                        }),
                    });
                }
                Ok(Step::Denied(d)) => return Err(d),
                Ok(Step::Seed { index, label }) => {
                    let scope = scopes.get(index).map_or("", |s| s.id.as_str());
                    let spent = match &self.ledger {
                        Some(l) => l.spent(scope, &label).await.map_err(|e| {
                            tracing::warn!(error = %e, "budget not seeded from the ledger");
                            e
                        }),
                        None => Ok(0),
                    };
                    let spent = match spent {
                        Ok(v) => v,
                        Err(e) => return self.unavailable(ask, now, e),
                    };
                    let seeded = match &self.backend {
                        Backend::Local(l) => {
                            l.seed(scope, &label, spent);
                            Ok(())
                        }
                        Backend::Redis(r) => r.seed(scope, &label, spent, now).await,
                    };
                    if let Err(e) = seeded {
                        return self.unavailable(ask, now, e);
                    }
                }
                Err(e) => return self.unavailable(ask, now, e),
            }
        }
        self.unavailable(
            ask,
            now,
            "budget counters kept disappearing while seeding".into(),
        )
    }

    fn unavailable(self: &Arc<Self>, ask: Ask, now: u64, reason: String) -> Result<Ticket, Denied> {
        metrics_error();
        match self.on_error {
            OnError::Closed => Err(Denied::Unavailable { reason }),
            OnError::Open => {
                tracing::warn!(error = %reason, "limits not checked: admitting uncounted (limits.on_error = \"open\")");
                Ok(Ticket {
                    limiter: Arc::clone(self),
                    admitted: Some(Admitted {
                        request: ask.request.clone(),
                        at_ms: now,
                        held: Vec::new(),
                        ask,
                    }),
                })
            }
        }
    }

    async fn settle(&self, a: Admitted, used: Used, now: u64) {
        self.charge(&a, used);
        if a.held.is_empty() {
            return;
        }
        match &self.backend {
            Backend::Local(l) => l.settle(&a, used, now),
            Backend::Redis(r) => {
                if let Err(e) = r.settle(&a, used, now).await {
                    metrics_error();
                    tracing::warn!(error = %e, "a request's limits were not settled; its reservations expire with their lease");
                }
            }
        }
    }

    /// Settles without making the caller wait: in process at once and synchronously (so a ticket
    /// dropped outside any runtime still settles), in Redis on a task of its own.
    fn settle_detached(self: &Arc<Self>, a: Admitted, used: Used) {
        match &self.backend {
            Backend::Local(l) => {
                self.charge(&a, used);
                l.settle(&a, used, now_ms());
            }
            Backend::Redis(_) => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let limiter = Arc::clone(self);
                    rt.spawn(async move { limiter.settle(a, used, now_ms()).await });
                }
            }
        }
    }

    /// Adds what the request cost to the ledger.
    fn charge(&self, a: &Admitted, used: Used) {
        if let Some(l) = &self.ledger
            && used.microusd > 0
        {
            l.charge(a, used.microusd);
        }
    }
}

fn held(scopes: &[&Scope], now: u64) -> Vec<Held> {
    scopes
        .iter()
        .map(|s| Held {
            id: s.id.clone(),
            tpm: s.rule.tpm.is_some(),
            concurrency: s.rule.concurrency.is_some(),
            budget: s
                .rule
                .budget
                .map(|b| (b.period.label(now), b.period.end_ms(now))),
        })
        .collect()
}

fn metrics_error() {
    // Exported by the server from [`errors`].
    ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

static ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Times the shared counters or the ledger failed since start.
pub fn errors() -> u64 {
    ERRORS.load(std::sync::atomic::Ordering::Relaxed)
}

/// An admitted request's hold on its scopes. Settle it with what the request used; dropped
/// unsettled, it is settled at its reservation.
pub struct Ticket {
    limiter: Arc<Limiter>,
    admitted: Option<Admitted>,
}

impl Ticket {
    /// Tokens and cost reserved at admission.
    pub fn reserved(&self) -> Used {
        self.admitted
            .as_ref()
            .map_or(Used::default(), Admitted::reserved)
    }

    /// Reconciles the reservations with what the request used and frees its slot.
    pub async fn settle(mut self, used: Used) {
        if let Some(a) = self.admitted.take() {
            self.limiter.settle(a, used, now_ms()).await;
        }
    }

    /// Settles without making the caller wait: in process at once (it takes microseconds), in
    /// Redis on a task of its own, so a response is not held back by a round trip.
    pub fn settle_soon(mut self, used: Used) {
        if let Some(a) = self.admitted.take() {
            self.limiter.settle_detached(a, used);
        }
    }

    /// [`Ticket::settle`] at a given time (tests).
    pub async fn settle_at(mut self, used: Used, now: u64) {
        if let Some(a) = self.admitted.take() {
            self.limiter.settle(a, used, now).await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(a) = self.admitted.take() {
            let used = a.reserved();
            self.limiter.settle_detached(a, used);
        }
    }
}

/// `retry-after` in whole seconds, at least 1.
pub fn retry_secs(ms: u64) -> u64 {
    Duration::from_millis(ms).as_secs_f64().ceil().max(1.0) as u64
}
