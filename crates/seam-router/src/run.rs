//! One request against one route: the attempt loop.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::Admission;
use crate::limiter::{Overload, Permit};
use crate::strategy;
use crate::{Placement, Route, Target};

/// Unary answers are bounded by `timeouts.total`; streams by `timeouts.first_token` until their
/// first chunk, which is when the caller's future resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Unary,
    Stream,
}

/// How the caller judges one failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether another attempt (here or on another target) may succeed.
    pub retryable: bool,
    /// Whether it counts against the target's breaker: the upstream is failing, as opposed to
    /// refusing this request (4xx) or rate-limiting it (429).
    pub unhealthy: bool,
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// A short stable code for records and metrics, e.g. `upstream_5xx`.
    pub code: &'static str,
    /// For the route reason: "returned 503", "timed out waiting for the first token".
    pub summary: String,
}

/// One upstream attempt, for response headers, logs, metrics and the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Index of the target in the route.
    pub target: usize,
    /// `provider/model`.
    pub label: String,
    /// The upstream's status, or the one Seam derived (502 connect failure, 504 timeout).
    pub status: u16,
    pub latency: Duration,
    /// `None` on success.
    pub code: Option<&'static str>,
}

pub struct Success<T> {
    pub value: T,
    pub target: usize,
    pub attempts: Vec<Attempt>,
    /// Time spent in the successful attempt.
    pub upstream: Duration,
    /// The provider's concurrency slot; a stream keeps it until it ends.
    pub permit: Permit,
    /// Why this target answered, for `x-seam-route-reason`.
    pub reason: String,
}

#[derive(Debug)]
pub enum FailureKind<E> {
    /// The last attempt failed with `error` on target `target`.
    Upstream { error: E, target: usize },
    /// Placement (the alias's and the request's) left no target.
    NoEligibleTarget,
    /// Every eligible target's circuit breaker is open.
    NoHealthyTarget { retry_in: Duration },
    /// Every eligible target was at capacity and the queue was full or timed out.
    Overloaded(Overload),
}

#[derive(Debug)]
pub struct Failure<E> {
    pub kind: FailureKind<E>,
    pub attempts: Vec<Attempt>,
    pub reason: String,
}

/// Runs one request against `route` under `constraints` (the request's own placement rules,
/// which narrow the route's and never widen them).
///
/// `call` makes one attempt on a target; `classify` judges its error; `timed_out` builds the error
/// for an attempt that ran out of time ("response" or "first token"). A constrained placement is
/// named at the end of the reason (`; placement trust=private`), answered or not.
pub async fn run<'r, T, E, F, Fut>(
    route: &'r Route,
    constraints: &Placement,
    mode: Mode,
    classify: impl Fn(&E) -> Verdict,
    timed_out: impl Fn(&'static str) -> E,
    call: F,
) -> Result<Success<T>, Failure<E>>
where
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let placement = route.placement.narrow(constraints);
    let mut result = run_placed(route, &placement, mode, classify, timed_out, call).await;
    if !placement.is_unconstrained() {
        let reason = match &mut result {
            Ok(s) => &mut s.reason,
            Err(f) => &mut f.reason,
        };
        reason.push_str("; placement ");
        reason.push_str(&placement.to_string());
    }
    result
}

/// [`run`] with the route's and the request's placement already combined.
async fn run_placed<'r, T, E, F, Fut>(
    route: &'r Route,
    placement: &Placement,
    mode: Mode,
    classify: impl Fn(&E) -> Verdict,
    timed_out: impl Fn(&'static str) -> E,
    mut call: F,
) -> Result<Success<T>, Failure<E>>
where
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let name = route.strategy.as_str();
    let deadline = Instant::now() + route.plan.deadline;
    let eligible: Vec<usize> = (0..route.targets.len())
        .filter(|&i| route.targets[i].placed_within(placement))
        .collect();
    if eligible.is_empty() {
        return Err(Failure {
            kind: FailureKind::NoEligibleTarget,
            attempts: Vec::new(),
            reason: format!("{name}: no target satisfies the placement constraints"),
        });
    }
    let (order, lead) = strategy::order(
        route.strategy,
        &route.targets,
        &eligible,
        mode == Mode::Stream,
        &mut || fastrand::f64(),
    );

    let mut st = Loop {
        attempts: Vec::new(),
        notes: Vec::new(),
        dropped: vec![false; route.targets.len()],
        last: None,
        breaker_wait: None,
        max_attempts: route.plan.max_attempts as usize,
        retry_after_cap: route.plan.retry_after_cap,
        deadline,
    };
    let mut round: u32 = 0;
    loop {
        let mut full: Option<usize> = None;
        let mut tried = false;
        let mut hint = Duration::ZERO;
        for &i in &order {
            if st.exhausted() {
                break;
            }
            if st.dropped[i] {
                continue;
            }
            let t = &route.targets[i];
            let probe = match t.health.breaker.admit(Instant::now().into_std()) {
                Admission::Allow => false,
                Admission::Probe => true,
                Admission::Reject { retry_in } => {
                    st.notes.push(format!("{} circuit open", t.label));
                    st.breaker_wait = Some(
                        st.breaker_wait
                            .map_or(retry_in, |w: Duration| w.min(retry_in)),
                    );
                    continue;
                }
            };
            let Some(permit) = t.limiter.try_acquire() else {
                st.notes.push(format!(
                    "{} at capacity ({}/{})",
                    t.label,
                    t.limiter.in_flight(),
                    t.limiter.capacity()
                ));
                full.get_or_insert(i);
                continue;
            };
            tried = true;
            match st
                .attempt(i, t, permit, probe, mode, &classify, &timed_out, &mut call)
                .await
            {
                Step::Done(value, permit, upstream) => {
                    return Ok(st.success(name, &lead, value, i, permit, upstream));
                }
                Step::Stop(e) => {
                    return Err(st.failure(
                        name,
                        FailureKind::Upstream {
                            error: e,
                            target: i,
                        },
                    ));
                }
                Step::Next(wait) => hint = hint.max(wait),
            }
        }
        if !tried && !st.exhausted() {
            // Nothing could be sent this round. If a target was only full, queue for it.
            if let Some(i) = full {
                let t = &route.targets[i];
                match t.limiter.acquire(st.deadline).await {
                    Ok(permit) => {
                        let probe =
                            t.health.breaker.admit(Instant::now().into_std()) == Admission::Probe;
                        match st
                            .attempt(i, t, permit, probe, mode, &classify, &timed_out, &mut call)
                            .await
                        {
                            Step::Done(value, permit, upstream) => {
                                return Ok(st.success(name, &lead, value, i, permit, upstream));
                            }
                            Step::Stop(e) => {
                                return Err(st.failure(
                                    name,
                                    FailureKind::Upstream {
                                        error: e,
                                        target: i,
                                    },
                                ));
                            }
                            Step::Next(wait) => hint = hint.max(wait),
                        }
                    }
                    Err(o) => {
                        st.notes
                            .push(format!("{} queue {}", t.label, overload_text(o)));
                        if st.last.is_none() {
                            return Err(st.failure(name, FailureKind::Overloaded(o)));
                        }
                        break;
                    }
                }
            } else {
                break; // every remaining target is dropped or behind an open breaker
            }
        }
        if st.exhausted()
            || st
                .dropped
                .iter()
                .enumerate()
                .all(|(i, d)| *d || !eligible.contains(&i))
        {
            break;
        }
        round += 1;
        let backoff = backoff(route, round);
        let wait = backoff.max(hint);
        if Instant::now() + wait >= st.deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    let kind = match st.last.take() {
        Some((target, error)) => FailureKind::Upstream { error, target },
        None => match st.breaker_wait {
            Some(retry_in) => FailureKind::NoHealthyTarget { retry_in },
            None => FailureKind::Overloaded(Overload::QueueFull),
        },
    };
    Err(st.failure(name, kind))
}

/// Full jitter: uniform in `[0, min(max, base × 2^(round−1))]`.
fn backoff(route: &Route, round: u32) -> Duration {
    let base = route.plan.backoff_base.as_secs_f64();
    let cap = route.plan.backoff_max.as_secs_f64();
    let ceiling = (base * 2f64.powi(round.saturating_sub(1).min(30) as i32)).min(cap);
    Duration::from_secs_f64(ceiling * fastrand::f64())
}

fn overload_text(o: Overload) -> &'static str {
    match o {
        Overload::QueueFull => "full",
        Overload::QueueTimeout => "timed out",
    }
}

enum Step<T, E> {
    Done(T, Permit, Duration),
    Stop(E),
    /// Try the next target; wait at least this long before another round.
    Next(Duration),
}

struct Loop<E> {
    attempts: Vec<Attempt>,
    notes: Vec<String>,
    /// Targets not to try again for this request (e.g. a `retry-after` beyond the cap).
    dropped: Vec<bool>,
    last: Option<(usize, E)>,
    breaker_wait: Option<Duration>,
    max_attempts: usize,
    retry_after_cap: Duration,
    deadline: Instant,
}

impl<E> Loop<E> {
    fn exhausted(&self) -> bool {
        self.attempts.len() >= self.max_attempts || Instant::now() >= self.deadline
    }

    #[allow(clippy::too_many_arguments)] // the loop's whole context for one attempt
    async fn attempt<'r, T, F, Fut>(
        &mut self,
        i: usize,
        t: &'r Target,
        permit: Permit,
        probe: bool,
        mode: Mode,
        classify: &impl Fn(&E) -> Verdict,
        timed_out: &impl Fn(&'static str) -> E,
        call: &mut F,
    ) -> Step<T, E>
    where
        F: FnMut(&'r Target) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let (limit, what) = match mode {
            Mode::Unary => (t.timeouts.total, "response"),
            Mode::Stream => (t.timeouts.first_token, "first token"),
        };
        let start = Instant::now();
        let until = (start + limit).min(self.deadline);
        let result = match tokio::time::timeout_at(until, call(t)).await {
            Ok(r) => r,
            Err(_) => Err(timed_out(what)),
        };
        let latency = start.elapsed();
        let now = Instant::now().into_std();
        match result {
            Ok(value) => {
                t.health.breaker.record(true, probe, now);
                match mode {
                    Mode::Unary => t.health.latency.observe(latency),
                    Mode::Stream => t.health.ttft.observe(latency),
                }
                t.health
                    .succeeded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.attempts.push(Attempt {
                    target: i,
                    label: t.label.clone(),
                    status: 200,
                    latency,
                    code: None,
                });
                Step::Done(value, permit, latency)
            }
            Err(e) => {
                drop(permit);
                let v = classify(&e);
                t.health.breaker.record(!v.unhealthy, probe, now);
                t.health
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    target_route = %t.label,
                    status = v.status,
                    code = v.code,
                    latency_ms = latency.as_millis() as u64,
                    "upstream attempt failed"
                );
                self.attempts.push(Attempt {
                    target: i,
                    label: t.label.clone(),
                    status: v.status,
                    latency,
                    code: Some(v.code),
                });
                self.notes.push(format!("{} {}", t.label, v.summary));
                if !v.retryable {
                    return Step::Stop(e);
                }
                let mut wait = Duration::ZERO;
                if let Some(ra) = v.retry_after {
                    let left = self.deadline.saturating_duration_since(Instant::now());
                    if ra > self.retry_after_cap || ra >= left {
                        self.dropped[i] = true;
                    } else {
                        wait = ra;
                    }
                }
                self.last = Some((i, e));
                Step::Next(wait)
            }
        }
    }

    fn success<T>(
        &mut self,
        name: &str,
        lead: &str,
        value: T,
        target: usize,
        permit: Permit,
        upstream: Duration,
    ) -> Success<T> {
        let reason = if self.notes.is_empty() {
            lead.to_owned()
        } else {
            format!("{name}: {}", self.notes.join(", "))
        };
        Success {
            value,
            target,
            attempts: std::mem::take(&mut self.attempts),
            upstream,
            permit,
            reason,
        }
    }

    fn failure(&mut self, name: &str, kind: FailureKind<E>) -> Failure<E> {
        Failure {
            kind,
            attempts: std::mem::take(&mut self.attempts),
            reason: format!("{name}: {}", self.notes.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests;
