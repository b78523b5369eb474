//! A circuit breaker per target.
//!
//! Closed: requests flow; it trips open after `consecutive_failures` failures in a row, or when at
//! least `min_requests` requests in the rolling `window` failed at `error_ratio` or more. Open:
//! requests are refused without being sent, for `open_for`. Half-open: one probe is let through;
//! its success closes the breaker, its failure opens it again. A probe that never reports back
//! (its request was dropped) is replaced by another after `open_for`, so the breaker cannot wedge;
//! a probe granted to a request that then cannot be sent (no free slot) is handed back at once,
//! so the next request probes instead of waiting `open_for` for nothing.
//!
//! The state machine is pure: time is passed in, so it is property-tested without sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    /// `false`: always admit, never open.
    pub enabled: bool,
    pub consecutive_failures: u32,
    pub error_ratio: f64,
    pub min_requests: u32,
    pub window: Duration,
    pub open_for: Duration,
}

impl From<&seam_config::BreakerSettings> for BreakerConfig {
    /// A provider's or an MCP server's `breaker = { … }`.
    fn from(b: &seam_config::BreakerSettings) -> Self {
        BreakerConfig {
            enabled: b.enabled,
            consecutive_failures: b.consecutive_failures,
            error_ratio: b.error_ratio,
            min_requests: b.min_requests,
            window: b.window,
            open_for: b.open_for,
        }
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            enabled: true,
            consecutive_failures: 5,
            error_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            open_for: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Closed: send it.
    Allow,
    /// Half-open: send it as the probe; its result decides the state.
    Probe,
    /// Open: do not send; the breaker may let a probe through after `retry_in`.
    Reject { retry_in: Duration },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    /// For the `seam_breaker_state` gauge.
    pub fn gauge(self) -> f64 {
        match self {
            State::Closed => 0.0,
            State::HalfOpen => 1.0,
            State::Open => 2.0,
        }
    }
}

const BUCKETS: usize = 10;

#[derive(Debug)]
struct Inner {
    state: Phase,
    consecutive: u32,
    /// `(bucket number, ok, failed)`; bucket number = time since `origin` / (window / BUCKETS).
    buckets: [(u64, u32, u32); BUCKETS],
    origin: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig, now: Instant) -> Self {
        Breaker {
            cfg,
            inner: Mutex::new(Inner {
                state: Phase::Closed,
                consecutive: 0,
                buckets: [(u64::MAX, 0, 0); BUCKETS],
                origin: now,
            }),
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    pub fn admit(&self, now: Instant) -> Admission {
        if !self.cfg.enabled {
            return Admission::Allow;
        }
        let Ok(mut s) = self.inner.lock() else {
            return Admission::Allow; // a poisoned breaker must not take traffic down with it
        };
        match s.state {
            Phase::Closed => Admission::Allow,
            Phase::Open { until } if now >= until => {
                s.state = Phase::HalfOpen { probe_since: now };
                Admission::Probe
            }
            Phase::Open { until } => Admission::Reject {
                retry_in: until - now,
            },
            Phase::HalfOpen { probe_since } if now >= probe_since + self.cfg.open_for => {
                s.state = Phase::HalfOpen { probe_since: now };
                Admission::Probe
            }
            Phase::HalfOpen { probe_since } => Admission::Reject {
                retry_in: (probe_since + self.cfg.open_for).saturating_duration_since(now),
            },
        }
    }

    /// Hands back the probe [`Breaker::admit`] granted at `granted_at` to a request that was not
    /// sent: the breaker is open with its wait over, so the next admission is the probe. A probe
    /// granted since (after `open_for`) is left alone.
    pub fn release_probe(&self, granted_at: Instant) {
        let Ok(mut s) = self.inner.lock() else {
            return;
        };
        if s.state
            == (Phase::HalfOpen {
                probe_since: granted_at,
            })
        {
            s.state = Phase::Open { until: granted_at };
        }
    }

    /// Reports an outcome. `probe` says whether the request was admitted as the probe.
    pub fn record(&self, ok: bool, probe: bool, now: Instant) {
        if !self.cfg.enabled {
            return;
        }
        let Ok(mut s) = self.inner.lock() else {
            return;
        };
        match s.state {
            Phase::HalfOpen { .. } if probe => {
                if ok {
                    s.reset(Phase::Closed);
                } else {
                    s.reset(Phase::Open {
                        until: now + self.cfg.open_for,
                    });
                }
            }
            // Late results of requests sent before the breaker opened change nothing.
            Phase::Open { .. } | Phase::HalfOpen { .. } => {}
            Phase::Closed => {
                let bucket = s.bucket(now, self.cfg.window);
                if ok {
                    s.consecutive = 0;
                    s.buckets[bucket].1 += 1;
                } else {
                    s.consecutive += 1;
                    s.buckets[bucket].2 += 1;
                }
                let (total, failed) = s.totals(now, self.cfg.window);
                let ratio_trips = total >= self.cfg.min_requests
                    && f64::from(failed) >= self.cfg.error_ratio * f64::from(total);
                if s.consecutive >= self.cfg.consecutive_failures || (!ok && ratio_trips) {
                    s.reset(Phase::Open {
                        until: now + self.cfg.open_for,
                    });
                }
            }
        }
    }

    pub fn state(&self, now: Instant) -> State {
        let Ok(s) = self.inner.lock() else {
            return State::Closed;
        };
        match s.state {
            Phase::Closed => State::Closed,
            Phase::Open { until } if now >= until => State::HalfOpen,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

impl Inner {
    fn reset(&mut self, state: Phase) {
        self.state = state;
        self.consecutive = 0;
        self.buckets = [(u64::MAX, 0, 0); BUCKETS];
    }

    fn bucket_number(&self, now: Instant, window: Duration) -> u64 {
        let width = (window / BUCKETS as u32).max(Duration::from_millis(1));
        (now.saturating_duration_since(self.origin).as_nanos() / width.as_nanos()) as u64
    }

    fn bucket(&mut self, now: Instant, window: Duration) -> usize {
        let n = self.bucket_number(now, window);
        let i = (n % BUCKETS as u64) as usize;
        if self.buckets[i].0 != n {
            self.buckets[i] = (n, 0, 0);
        }
        i
    }

    fn totals(&self, now: Instant, window: Duration) -> (u32, u32) {
        let n = self.bucket_number(now, window);
        self.buckets
            .iter()
            .filter(|(b, _, _)| *b != u64::MAX && n.saturating_sub(*b) < BUCKETS as u64)
            .fold((0, 0), |(t, f), (_, ok, failed)| {
                (t + ok + failed, f + failed)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            enabled: true,
            consecutive_failures: 3,
            error_ratio: 0.5,
            min_requests: 10,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
        }
    }

    #[test]
    fn consecutive_failures_open_then_a_probe_closes() {
        let t0 = Instant::now();
        let b = Breaker::new(cfg(), t0);
        for _ in 0..2 {
            assert_eq!(b.admit(t0), Admission::Allow);
            b.record(false, false, t0);
        }
        assert_eq!(b.state(t0), State::Closed);
        b.record(false, false, t0);
        assert_eq!(b.state(t0), State::Open);
        assert_eq!(
            b.admit(t0 + Duration::from_secs(1)),
            Admission::Reject {
                retry_in: Duration::from_secs(4)
            }
        );
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.admit(t1), Admission::Probe);
        assert!(
            matches!(b.admit(t1), Admission::Reject { .. }),
            "one probe at a time"
        );
        b.record(true, true, t1);
        assert_eq!(b.state(t1), State::Closed);
        assert_eq!(b.admit(t1), Admission::Allow);
    }

    /// A breaker tripped by three failures at `t0`, and the moment its first probe goes, `open_for`
    /// later (granted by an `admit` at that moment).
    fn probing() -> (Breaker, Instant) {
        let t0 = Instant::now();
        let b = Breaker::new(cfg(), t0);
        for _ in 0..3 {
            b.record(false, false, t0);
        }
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.admit(t1), Admission::Probe);
        (b, t1)
    }

    #[test]
    fn a_failed_probe_reopens_and_a_lost_probe_is_replaced() {
        let (b, t1) = probing();
        b.record(false, true, t1);
        assert_eq!(b.state(t1), State::Open);
        let t2 = t1 + Duration::from_secs(5);
        assert_eq!(b.admit(t2), Admission::Probe);
        // The probe's request was dropped and never reports; after open_for another goes.
        let t3 = t2 + Duration::from_secs(5);
        assert_eq!(b.admit(t3), Admission::Probe);
    }

    #[test]
    fn a_probe_handed_back_goes_to_the_next_request() {
        let (b, t1) = probing();
        b.release_probe(t1);
        assert_eq!(b.state(t1), State::HalfOpen, "open with its wait over");
        let t2 = t1 + Duration::from_millis(1);
        assert_eq!(b.admit(t2), Admission::Probe);
        // A stale hand-back (of the probe before this one) does not free this probe.
        b.release_probe(t1);
        assert!(matches!(b.admit(t2), Admission::Reject { .. }));
        b.record(true, true, t2);
        assert_eq!(b.state(t2), State::Closed);
    }

    #[test]
    fn a_disabled_breaker_never_opens() {
        let t0 = Instant::now();
        let b = Breaker::new(
            BreakerConfig {
                enabled: false,
                ..cfg()
            },
            t0,
        );
        for _ in 0..100 {
            assert_eq!(b.admit(t0), Admission::Allow);
            b.record(false, false, t0);
        }
        assert_eq!(b.state(t0), State::Closed);
    }

    #[test]
    fn error_ratio_over_the_window_opens() {
        let t0 = Instant::now();
        let b = Breaker::new(cfg(), t0);
        // Alternate ok/fail: never 3 in a row, but 50% of 10 requests failed.
        for i in 0..10 {
            b.record(i % 2 == 0, false, t0 + Duration::from_millis(i * 100));
        }
        assert_eq!(b.state(t0 + Duration::from_secs(1)), State::Open);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t0 = Instant::now();
        let b = Breaker::new(cfg(), t0);
        for i in 0..9 {
            b.record(i % 2 == 0, false, t0);
        }
        // 20 s later the window holds only the new request.
        let later = t0 + Duration::from_secs(20);
        b.record(false, false, later);
        assert_eq!(b.state(later), State::Closed);
    }

    proptest! {
        // Whatever happens, the breaker is in a consistent state: open only with a reason, never
        // admitting while open, and always admitting again within `open_for` of opening.
        #[test]
        fn state_machine_invariants(events in proptest::collection::vec((any::<bool>(), 0u64..3000), 0..200)) {
            let t0 = Instant::now();
            let b = Breaker::new(cfg(), t0);
            let mut now = t0;
            let mut probe_out = false;
            for (ok, step_ms) in events {
                now += Duration::from_millis(step_ms);
                match b.admit(now) {
                    Admission::Allow => {
                        prop_assert_eq!(b.state(now), State::Closed);
                        b.record(ok, false, now);
                    }
                    Admission::Probe => {
                        prop_assert_eq!(b.state(now), State::HalfOpen);
                        probe_out = true;
                        b.record(ok, true, now);
                        let s = b.state(now);
                        prop_assert_eq!(s, if ok { State::Closed } else { State::Open });
                    }
                    Admission::Reject { retry_in } => {
                        prop_assert!(retry_in <= cfg().open_for);
                        prop_assert!(b.state(now) != State::Closed);
                    }
                }
            }
            let _ = probe_out;
            // Eventually a request is admitted again.
            let later = now + cfg().open_for;
            let admitted = !matches!(b.admit(later), Admission::Reject { .. });
            prop_assert!(admitted);
        }
    }
}
