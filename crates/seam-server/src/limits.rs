//! Per-key limits held in this process: requests per minute and concurrent requests.
//!
//! Requests per minute are a sliding log: each key keeps the instants of its last N accepted
//! requests, so a key with `rpm = N` gets at most N requests in any 60 s window (not just per
//! calendar minute, and not N per minute on average with bursts above it), may spend them in a
//! burst, and is told exactly when the next one fits. A check is O(1) amortised; a busy key costs
//! 16 bytes per unit of its rpm. Concurrency is a counter per key, released when the response body
//! is dropped (for a stream: when it ends or the client leaves).
//!
//! These counters are per replica: with several replicas a key may get up to N per replica until
//! the shared counters (Redis) land.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys tracked at most; beyond it the oldest are forgotten (they start afresh).
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Limits {
    /// key id → instants of its accepted requests in the last minute, oldest first.
    rate: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// key id → requests in flight.
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// Held while a request is in flight; dropping it frees the slot.
pub struct Slot {
    key: String,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.in_flight.lock()
            && let Some(n) = m.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

impl Limits {
    /// Counts one request against `rpm`; `Err(wait)` when it would exceed it.
    pub fn check_rate(&self, key: &str, rpm: u32, now: Instant) -> Result<(), Duration> {
        const WINDOW: Duration = Duration::from_secs(60);
        let Ok(mut m) = self.rate.lock() else {
            return Ok(());
        };
        if m.len() >= MAX_KEYS && !m.contains_key(key) {
            // Forget keys with nothing in the last minute: they are at full allowance anyway.
            m.retain(|_, log| log.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let log = m.entry(key.to_owned()).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            log.pop_front();
        }
        let max = rpm.max(1) as usize;
        if log.len() >= max {
            // The oldest of the last N leaves the window at front + 60 s.
            let wait = log.front().map_or(Duration::ZERO, |t| {
                (*t + WINDOW).saturating_duration_since(now)
            });
            return Err(wait.max(Duration::from_millis(1)));
        }
        log.push_back(now);
        Ok(())
    }

    /// A slot under `max` concurrent requests, or `None` when the key is at its limit.
    pub fn acquire(&self, key: &str, max: u32) -> Option<Slot> {
        let mut m = self.in_flight.lock().ok()?;
        let n = m.entry(key.to_owned()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            key: key.to_owned(),
            in_flight: Arc::clone(&self.in_flight),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_allows_a_burst_then_waits_for_the_window() {
        let l = Limits::default();
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(l.check_rate("k", 6, t0).is_ok());
        }
        let wait = l.check_rate("k", 6, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(l.check_rate("k", 6, t0 + Duration::from_secs(59)).is_err());
        // A minute after the burst, the whole allowance is back.
        for _ in 0..6 {
            assert!(l.check_rate("k", 6, t0 + Duration::from_secs(60)).is_ok());
        }
        assert!(l.check_rate("other", 6, t0).is_ok(), "keys are separate");
    }

    #[test]
    fn never_more_than_rpm_in_any_minute() {
        // Requests every 1.3 s for 5 minutes against rpm 20: count the accepted ones per window.
        let l = Limits::default();
        let t0 = Instant::now();
        let mut accepted = Vec::new();
        for i in 0..230u64 {
            let t = t0 + Duration::from_millis(i * 1300);
            if l.check_rate("k", 20, t).is_ok() {
                accepted.push(t);
            }
        }
        for (i, start) in accepted.iter().enumerate() {
            let in_window = accepted[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_secs(60))
                .count();
            assert!(
                in_window <= 20,
                "{in_window} in the minute from request {i}"
            );
        }
    }

    #[test]
    fn slots_are_released_on_drop() {
        let l = Limits::default();
        let a = l.acquire("k", 2).unwrap();
        let _b = l.acquire("k", 2).unwrap();
        assert!(l.acquire("k", 2).is_none());
        drop(a);
        assert!(l.acquire("k", 2).is_some());
    }
}
