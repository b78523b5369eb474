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
    call: F,
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
    let mut caller = Caller {
        mode,
        classify,
        timed_out,
        call,
    };
    match rounds(route, &eligible, &order, &mut st, &mut caller).await {
        Ended::Answered(i, value, permit, upstream) => {
            Ok(st.success(name, &lead, value, i, permit, upstream))
        }
        Ended::Stopped(i, error) => {
            Err(st.failure(name, FailureKind::Upstream { error, target: i }))
        }
        Ended::Overloaded(o) => Err(st.failure(name, FailureKind::Overloaded(o))),
        Ended::GaveUp => {
            let kind = match st.last.take() {
                Some((target, error)) => FailureKind::Upstream { error, target },
                None => match st.breaker_wait {
                    Some(retry_in) => FailureKind::NoHealthyTarget { retry_in },
                    None => FailureKind::Overloaded(Overload::QueueFull),
                },
            };
            Err(st.failure(name, kind))
        }
    }
}

/// How the rounds ended; [`run_placed`] turns it into the result.
enum Ended<T, E> {
    /// Target `.0` answered.
    Answered(usize, T, Permit, Duration),
    /// Target `.0` failed with an error not worth retrying.
    Stopped(usize, E),
    /// Nothing was ever sent and the queue for a full target refused or timed out.
    Overloaded(Overload),
    /// Attempts, deadline or targets ran out: fail with the last error seen, if any.
    GaveUp,
}

/// Rounds over `order` until an answer, a final error, or nothing left to try, with a jittered
/// backoff between rounds (at least the longest `retry-after` honoured).
async fn rounds<'r, T, E, C, O, F, Fut>(
    route: &'r Route,
    eligible: &[usize],
    order: &[usize],
    st: &mut Loop<E>,
    caller: &mut Caller<C, O, F>,
) -> Ended<T, E>
where
    C: Fn(&E) -> Verdict,
    O: Fn(&'static str) -> E,
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut round: u32 = 0;
    loop {
        let mut r = match one_round(route, order, st, caller).await {
            Flow::Continue(r) => r,
            Flow::End(ended) => return ended,
        };
        if !r.tried && !st.exhausted() {
            // Nothing could be sent this round. If a target was only full, queue for it.
            let Some(i) = r.full else {
                return Ended::GaveUp; // every remaining target is dropped or behind an open breaker
            };
            match queue(route, i, st, caller).await {
                Flow::Continue(wait) => r.hint = r.hint.max(wait),
                Flow::End(ended) => return ended,
            }
        }
        if st.exhausted()
            || st
                .dropped
                .iter()
                .enumerate()
                .all(|(i, d)| *d || !eligible.contains(&i))
        {
            return Ended::GaveUp;
        }
        round += 1;
        let wait = backoff(route, round).max(r.hint);
        if Instant::now() + wait >= st.deadline {
            return Ended::GaveUp;
        }
        tokio::time::sleep(wait).await;
    }
}

/// What one round saw, when it did not end the request.
struct Round {
    /// Whether any target was sent an attempt.
    tried: bool,
    /// The first target skipped only because its provider was at capacity.
    full: Option<usize>,
    /// The longest `retry-after` to honour before the next round.
    hint: Duration,
}

/// Either go on with `C`, or end the rounds.
enum Flow<C, T, E> {
    Continue(C),
    End(Ended<T, E>),
}

/// One pass over `order`: every target the breaker and the limiter admit gets one attempt.
async fn one_round<'r, T, E, C, O, F, Fut>(
    route: &'r Route,
    order: &[usize],
    st: &mut Loop<E>,
    caller: &mut Caller<C, O, F>,
) -> Flow<Round, T, E>
where
    C: Fn(&E) -> Verdict,
    O: Fn(&'static str) -> E,
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut r = Round {
        tried: false,
        full: None,
        hint: Duration::ZERO,
    };
    for &i in order {
        if st.exhausted() {
            break;
        }
        if st.dropped[i] {
            continue;
        }
        let t = &route.targets[i];
        let Some((permit, probe)) = admit(i, t, st, &mut r) else {
            continue;
        };
        r.tried = true;
        match try_target(i, t, permit, probe, st, caller).await {
            Flow::Continue(wait) => r.hint = r.hint.max(wait),
            Flow::End(ended) => return Flow::End(ended),
        }
    }
    Flow::Continue(r)
}

/// Admission: the target's breaker, then a concurrency slot. A refusal is noted in the reason
/// (and remembered in `st` or `r`) and is not an attempt.
fn admit<E>(i: usize, t: &Target, st: &mut Loop<E>, r: &mut Round) -> Option<(Permit, bool)> {
    let now = Instant::now().into_std();
    let probe = match t.health.breaker.admit(now) {
        Admission::Allow => false,
        Admission::Probe => true,
        Admission::Reject { retry_in } => {
            circuit_open(t, st, retry_in);
            return None;
        }
    };
    let Some(permit) = t.limiter.try_acquire() else {
        if probe {
            // Not sent, so not the probe: the next request to find a slot probes instead.
            t.health.breaker.release_probe(now);
        }
        st.notes.push(format!(
            "{} at capacity ({}/{})",
            t.label,
            t.limiter.in_flight(),
            t.limiter.capacity()
        ));
        r.full.get_or_insert(i);
        return None;
    };
    Some((permit, probe))
}

/// Notes that target `t`'s breaker refused a request, and how soon it may take one.
fn circuit_open<E>(t: &Target, st: &mut Loop<E>, retry_in: Duration) {
    st.notes.push(format!("{} circuit open", t.label));
    st.breaker_wait = Some(
        st.breaker_wait
            .map_or(retry_in, |w: Duration| w.min(retry_in)),
    );
}

/// Between rounds, when nothing could be sent: wait in target `i`'s bounded queue for a slot,
/// then try it. A refused or timed-out wait ends the rounds.
async fn queue<'r, T, E, C, O, F, Fut>(
    route: &'r Route,
    i: usize,
    st: &mut Loop<E>,
    caller: &mut Caller<C, O, F>,
) -> Flow<Duration, T, E>
where
    C: Fn(&E) -> Verdict,
    O: Fn(&'static str) -> E,
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let t = &route.targets[i];
    match t.limiter.acquire(st.deadline).await {
        Ok(permit) => {
            let probe = match t.health.breaker.admit(Instant::now().into_std()) {
                Admission::Allow => false,
                Admission::Probe => true,
                // The breaker opened while this request waited for a slot: it is not sent, and
                // as when every target is behind an open breaker, the request fails at once.
                Admission::Reject { retry_in } => {
                    drop(permit);
                    circuit_open(t, st, retry_in);
                    return Flow::End(Ended::GaveUp);
                }
            };
            try_target(i, t, permit, probe, st, caller).await
        }
        Err(o) => {
            st.notes
                .push(format!("{} queue {}", t.label, overload_text(o)));
            if st.last.is_none() {
                Flow::End(Ended::Overloaded(o))
            } else {
                Flow::End(Ended::GaveUp)
            }
        }
    }
}

/// One attempt on target `i`, and what it means for the rounds: the one place a [`Step`] is read.
async fn try_target<'r, T, E, C, O, F, Fut>(
    i: usize,
    t: &'r Target,
    permit: Permit,
    probe: bool,
    st: &mut Loop<E>,
    caller: &mut Caller<C, O, F>,
) -> Flow<Duration, T, E>
where
    C: Fn(&E) -> Verdict,
    O: Fn(&'static str) -> E,
    F: FnMut(&'r Target) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    match st.attempt(i, t, permit, probe, caller).await {
        Step::Done(value, permit, upstream) => {
            Flow::End(Ended::Answered(i, value, permit, upstream))
        }
        Step::Stop(e) => Flow::End(Ended::Stopped(i, e)),
        Step::Next(wait) => Flow::Continue(wait),
    }
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

/// The caller's side of an attempt: `call` makes it, `classify` judges its error, `timed_out`
/// builds the error for one that ran out of time.
struct Caller<C, O, F> {
    mode: Mode,
    classify: C,
    timed_out: O,
    call: F,
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

    async fn attempt<'r, T, C, O, F, Fut>(
        &mut self,
        i: usize,
        t: &'r Target,
        permit: Permit,
        probe: bool,
        caller: &mut Caller<C, O, F>,
    ) -> Step<T, E>
    where
        C: Fn(&E) -> Verdict,
        O: Fn(&'static str) -> E,
        F: FnMut(&'r Target) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mode = caller.mode;
        let (limit, what) = match mode {
            Mode::Unary => (t.timeouts.total, "response"),
            Mode::Stream => (t.timeouts.first_token, "first token"),
        };
        let start = Instant::now();
        let until = (start + limit).min(self.deadline);
        let result = match tokio::time::timeout_at(until, (caller.call)(t)).await {
            Ok(r) => r,
            Err(_) => Err((caller.timed_out)(what)),
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
                let v = (caller.classify)(&e);
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
