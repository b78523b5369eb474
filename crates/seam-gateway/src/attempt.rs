//! Trying a route's targets in order: the first that answers wins; a retryable failure moves on
//! to the next target, a non-retryable one (a 4xx the client caused) is returned at once.

use std::future::Future;
use std::time::{Duration, Instant};

use seam_providers::ProviderError;
use seam_types::{ApiError, ErrorCode};
use tokio::sync::OwnedSemaphorePermit;

use crate::route::{Route, Target};
use crate::{Outcome, telemetry};

/// One upstream attempt, for response headers, logs and (later) the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// `provider/model`.
    pub target: String,
    /// Upstream status, or the status Seam derived (502 connect failure, 504 timeout, 503 at capacity).
    pub status: u16,
    pub latency: Duration,
    /// A short, content-free description of the failure.
    pub error: Option<String>,
}

/// Every target failed, or the request failed before any attempt (e.g. unknown model).
#[derive(Debug)]
pub struct Failure {
    pub error: ApiError,
    pub attempts: Vec<Attempt>,
}

impl Failure {
    pub fn before_attempts(error: ApiError) -> Self {
        Failure {
            error,
            attempts: Vec::new(),
        }
    }
}

pub(crate) struct Success<T> {
    pub value: T,
    pub target: usize,
    pub attempts: Vec<Attempt>,
    pub upstream: Duration,
    /// The target's concurrency slot, held for as long as the answer is being produced; a
    /// stream keeps it until it ends.
    pub permit: OwnedSemaphorePermit,
}

impl<T> Success<T> {
    pub fn into_outcome(self, route: &Route) -> Outcome<T> {
        Outcome {
            route: route.label(self.target).to_owned(),
            value: self.value,
            attempts: self.attempts,
            upstream: self.upstream,
        }
    }
}

/// Runs `call` against each target in turn, each bounded by `deadline(target)`. `waiting_for`
/// names what a timeout waited for ("response", "first token").
pub(crate) async fn run<'r, T, F, Fut>(
    route: &'r Route,
    waiting_for: &'static str,
    deadline: impl Fn(&Target) -> Duration,
    mut call: F,
) -> Result<Success<T>, Failure>
where
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempts = Vec::with_capacity(route.targets.len());
    let mut last: Option<(usize, ProviderError)> = None;
    for (i, t) in route.targets.iter().enumerate() {
        let Ok(permit) = t.entry.slots.clone().try_acquire_owned() else {
            telemetry::upstream(&t.entry.name, &t.metric_model, "at_capacity", None);
            attempts.push(Attempt {
                target: t.label.clone(),
                status: 503,
                latency: Duration::ZERO,
                error: Some("at capacity".into()),
            });
            continue;
        };
        let start = Instant::now();
        let result = match tokio::time::timeout(deadline(t), call(t)).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout(waiting_for)),
        };
        let latency = start.elapsed();
        match result {
            Ok(value) => {
                telemetry::upstream(&t.entry.name, &t.metric_model, "ok", Some(latency));
                attempts.push(Attempt {
                    target: t.label.clone(),
                    status: 200,
                    latency,
                    error: None,
                });
                return Ok(Success {
                    value,
                    target: i,
                    attempts,
                    upstream: latency,
                    permit,
                });
            }
            Err(e) => {
                let outcome = telemetry::failure_outcome(&e);
                telemetry::upstream(&t.entry.name, &t.metric_model, outcome, Some(latency));
                tracing::warn!(
                    target_route = %t.label,
                    status = e.status(),
                    error = %e,
                    latency_ms = latency.as_millis() as u64,
                    "upstream attempt failed"
                );
                attempts.push(Attempt {
                    target: t.label.clone(),
                    status: e.status(),
                    latency,
                    error: Some(e.to_string()),
                });
                if !e.is_retryable() {
                    return Err(Failure {
                        error: e.to_api_error(&t.label),
                        attempts,
                    });
                }
                last = Some((i, e));
            }
        }
    }
    let error = match last {
        Some((i, e)) => e.to_api_error(route.label(i)),
        None => {
            let mut e = ApiError::new(
                ErrorCode::Overloaded,
                "every target is at its max_concurrency; retry shortly",
            );
            e.retry_after = Some(1);
            e
        }
    };
    Err(Failure { error, attempts })
}
