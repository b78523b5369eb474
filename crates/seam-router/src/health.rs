//! What the router remembers about each target: its breaker and moving averages of latency and
//! time to first token. State lives in a [`Registry`] that outlives config reloads, so a reload
//! does not forget that a target is down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::breaker::{Breaker, BreakerConfig};
use crate::limiter::Limiter;

/// Above this many remembered targets (possible with client-chosen direct addressing), new
/// targets get health that is not remembered, so the registry stays bounded.
pub const MAX_REMEMBERED_TARGETS: usize = 1024;

/// An exponentially weighted moving average of durations; zero means "no sample yet".
#[derive(Debug, Default)]
pub struct Ewma(AtomicU64);

const ALPHA: f64 = 0.2;

impl Ewma {
    pub fn observe(&self, d: Duration) {
        let x = d.as_secs_f64();
        let mut old = self.0.load(Ordering::Relaxed);
        loop {
            let prev = f64::from_bits(old);
            let next = if old == 0 {
                x
            } else {
                prev + ALPHA * (x - prev)
            };
            match self.0.compare_exchange_weak(
                old,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => old = actual,
            }
        }
    }

    /// Seconds; `None` before the first sample.
    pub fn get(&self) -> Option<f64> {
        let bits = self.0.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }
}

#[derive(Debug)]
pub struct TargetHealth {
    pub breaker: Breaker,
    /// Whole-answer latency of unary requests.
    pub latency: Ewma,
    /// Time to first chunk of streams.
    pub ttft: Ewma,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}

impl TargetHealth {
    pub fn new(cfg: BreakerConfig) -> Self {
        TargetHealth {
            breaker: Breaker::new(cfg, Instant::now()),
            latency: Ewma::default(),
            ttft: Ewma::default(),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// The average that ranks this target for a request of this kind, falling back to the other.
    pub fn score(&self, stream: bool) -> Option<f64> {
        let (first, second) = if stream {
            (&self.ttft, &self.latency)
        } else {
            (&self.latency, &self.ttft)
        };
        first.get().or_else(|| second.get())
    }
}

/// Shared, reload-proof state: target health by `provider/model`, limiters by provider.
#[derive(Debug, Default)]
pub struct Registry {
    targets: Mutex<HashMap<String, Arc<TargetHealth>>>,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The health of `label`, kept from before if its breaker settings did not change.
    pub fn health(&self, label: &str, cfg: BreakerConfig) -> Arc<TargetHealth> {
        let Ok(mut map) = self.targets.lock() else {
            return Arc::new(TargetHealth::new(cfg));
        };
        if let Some(h) = map.get(label)
            && *h.breaker.config() == cfg
        {
            return h.clone();
        }
        let h = Arc::new(TargetHealth::new(cfg));
        if map.len() < MAX_REMEMBERED_TARGETS || map.contains_key(label) {
            map.insert(label.to_owned(), h.clone());
        }
        h
    }

    /// The limiter of `provider`, kept from before if its limits did not change, so requests in
    /// flight across a reload still count against the same cap.
    pub fn limiter(
        &self,
        provider: &str,
        capacity: usize,
        max_queue: usize,
        queue_timeout: Duration,
    ) -> Arc<Limiter> {
        let fresh = || Arc::new(Limiter::new(capacity, max_queue, queue_timeout));
        let Ok(mut map) = self.limiters.lock() else {
            return fresh();
        };
        if let Some(l) = map.get(provider)
            && l.same_limits(capacity, max_queue, queue_timeout)
        {
            return l.clone();
        }
        let l = fresh();
        map.insert(provider.to_owned(), l.clone());
        l
    }

    /// Every remembered target, sorted by label, for `GET /admin/targets`.
    pub fn targets(&self) -> Vec<(String, Arc<TargetHealth>)> {
        let Ok(map) = self.targets.lock() else {
            return Vec::new();
        };
        let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn limiters(&self) -> Vec<(String, Arc<Limiter>)> {
        let Ok(map) = self.limiters.lock() else {
            return Vec::new();
        };
        let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_starts_at_the_first_sample_and_moves_toward_new_ones() {
        let e = Ewma::default();
        assert_eq!(e.get(), None);
        e.observe(Duration::from_millis(100));
        assert!((e.get().unwrap() - 0.1).abs() < 1e-9);
        e.observe(Duration::from_millis(200));
        assert!((e.get().unwrap() - 0.12).abs() < 1e-9);
    }

    #[test]
    fn registry_keeps_state_across_reloads_unless_settings_change() {
        let r = Registry::new();
        let a = r.health("p/m", BreakerConfig::default());
        a.latency.observe(Duration::from_millis(5));
        assert!(Arc::ptr_eq(&a, &r.health("p/m", BreakerConfig::default())));
        let changed = BreakerConfig {
            consecutive_failures: 9,
            ..BreakerConfig::default()
        };
        assert!(!Arc::ptr_eq(&a, &r.health("p/m", changed)));

        let l = r.limiter("p", 4, 4, Duration::from_secs(1));
        assert!(Arc::ptr_eq(
            &l,
            &r.limiter("p", 4, 4, Duration::from_secs(1))
        ));
        assert!(!Arc::ptr_eq(
            &l,
            &r.limiter("p", 8, 4, Duration::from_secs(1))
        ));
    }
}
