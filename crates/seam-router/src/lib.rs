//! Routing decisions, independent of wire formats and of HTTP.
//!
//! A [`Route`] is what an alias (or a `PROVIDER/MODEL` address) resolves to: targets, a
//! [`Strategy`] that orders them for each request, a [`Plan`] for retries and a deadline, and a
//! [`Placement`] that says which targets may see the data. [`run`] executes one request against a
//! route: it filters by placement, orders by strategy, skips targets whose circuit breaker is open
//! or whose provider is at capacity, calls the rest in order (moving to the next target at once on
//! a retryable failure), backs off between rounds (honouring `retry-after` up to a cap), waits in a
//! provider's bounded queue only when every target is at capacity, and explains the decision in one
//! line for `x-seam-route-reason`.
//!
//! The router knows nothing of providers: a target carries the index of its provider in the
//! caller's table, and the caller passes the function that makes one attempt and another that
//! classifies its errors.

pub mod breaker;
pub mod health;
pub mod limiter;
mod run;
pub mod strategy;

use std::sync::Arc;
use std::time::Duration;

use seam_config::Trust;

pub use breaker::{Admission, BreakerConfig, State};
pub use health::{Registry, TargetHealth};
pub use limiter::{Limiter, Overload, Permit};
pub use run::{Attempt, Failure, FailureKind, Mode, Success, Verdict, run};
/// Which targets may see a request's data; one type (and one text form) with the config's.
pub use seam_config::Placement;
pub use strategy::Strategy;

/// One place a request can go.
#[derive(Debug)]
pub struct Target {
    /// `provider/model`, as reported in `x-seam-route`.
    pub label: String,
    pub provider: String,
    /// The model name the provider knows.
    pub model: String,
    /// The model as a metric label (bounded by the caller).
    pub metric_model: String,
    /// Index of the provider in the caller's table.
    pub slot: usize,
    pub trust: Trust,
    pub region: Option<String>,
    pub weight: u32,
    pub cost_rank: u32,
    pub limiter: Arc<Limiter>,
    pub health: Arc<TargetHealth>,
    pub timeouts: Timeouts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// A unary answer must arrive within this.
    pub total: Duration,
    /// A stream's first chunk must arrive within this.
    pub first_token: Duration,
    /// The longest gap allowed between stream chunks.
    pub stream_idle: Duration,
}

/// Retries and the overall deadline of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Upstream attempts at most, across all targets and rounds.
    pub max_attempts: u32,
    /// From the request's arrival until an answer (or, for streams, the first chunk).
    pub deadline: Duration,
    /// First backoff between rounds; doubles each round, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `retry-after` longer than this is not waited for: that target is dropped for the request.
    pub retry_after_cap: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            max_attempts: 3,
            deadline: Duration::from_secs(120),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            retry_after_cap: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
pub struct Route {
    /// The alias, or `provider/model` for direct addressing.
    pub name: String,
    pub strategy: Strategy,
    pub targets: Vec<Target>,
    pub plan: Plan,
    pub placement: Placement,
}

impl Target {
    /// Whether `placement` lets this target see the data.
    pub fn placed_within(&self, placement: &Placement) -> bool {
        placement.allows(self.trust, self.region.as_deref())
    }
}

impl Route {
    pub fn label(&self, i: usize) -> &str {
        self.targets.get(i).map_or("", |t| t.label.as_str())
    }
}

/// Builders for tests of this crate and of its callers.
#[doc(hidden)]
pub mod testing {
    use std::sync::Arc;
    use std::time::Duration;

    use seam_config::Trust;

    use crate::{BreakerConfig, Limiter, Target, TargetHealth, Timeouts};

    pub fn target(
        label: &str,
        trust: Trust,
        weight: u32,
        cost_rank: u32,
        capacity: usize,
    ) -> Target {
        let (provider, model) = label.split_once('/').unwrap_or((label, label));
        Target {
            label: label.to_owned(),
            provider: provider.to_owned(),
            model: model.to_owned(),
            metric_model: model.to_owned(),
            slot: 0,
            trust,
            region: None,
            weight,
            cost_rank,
            limiter: Arc::new(Limiter::new(capacity, 0, Duration::from_millis(100))),
            health: Arc::new(TargetHealth::new(BreakerConfig::default())),
            timeouts: Timeouts {
                total: Duration::from_secs(5),
                first_token: Duration::from_secs(2),
                stream_idle: Duration::from_secs(5),
            },
        }
    }
}
