//! Every Redis call on the request path goes through one [`RedisGuard`]: a deadline per call and a
//! breaker, so a Redis that refuses connections, or accepts them and never answers, costs a request
//! at most one deadline (tens of milliseconds), and nothing at all once the breaker has opened.
//!
//! The breaker opens after [`OPEN_AFTER`] consecutive failures. While it is open every call fails at
//! once (the caller's `limits.on_error` decides what that means for the request); every
//! [`RETRY_EVERY`] one call is let through as a trial, and the first trial that succeeds closes it.
//! The trial is a real request's call, so once Redis is back the request that finds out is
//! counted, and so is every one after it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use redis::RedisError;

/// Consecutive failures that open the breaker.
pub const OPEN_AFTER: u32 = 3;
/// How often an open breaker lets one call through to find out whether Redis is back.
pub const RETRY_EVERY: Duration = Duration::from_millis(200);

/// A deadline per call and a breaker over every call, shared by the limiter and the cache.
#[derive(Debug)]
pub struct RedisGuard {
    timeout: Duration,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds since `epoch` before which calls fail at once; 0 while closed.
    open_until: AtomicU64,
    /// A trial call is in flight (only one at a time).
    trial: AtomicBool,
}

/// Why a guarded call did not answer. Messages name the kind of failure, never the URL.
#[derive(Debug)]
pub enum GuardError {
    /// The breaker is open: the call was not made.
    Open,
    /// No answer within the deadline.
    Timeout(Duration),
    /// Redis answered with an error, or the connection failed.
    Redis(RedisError),
}

impl std::fmt::Display for GuardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardError::Open => write!(
                f,
                "redis: not called (its breaker is open after {OPEN_AFTER} failures in a row)"
            ),
            GuardError::Timeout(d) => write!(f, "redis: no answer within {} ms", d.as_millis()),
            GuardError::Redis(e) => match e.detail() {
                Some(d) => write!(f, "redis: {} ({d})", e.category()),
                None => write!(f, "redis: {}", e.category()),
            },
        }
    }
}

impl RedisGuard {
    pub fn new(timeout: Duration) -> RedisGuard {
        RedisGuard {
            timeout: timeout.max(Duration::from_millis(1)),
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            trial: AtomicBool::new(false),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether calls are being refused without trying Redis.
    pub fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `call` under the deadline, unless the breaker is open.
    pub async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, GuardError> {
        let trial = match self.open_until.load(Ordering::Acquire) {
            0 => false,
            until if self.now_ms() < until => return Err(GuardError::Open),
            // Time for a trial: only one caller gets it.
            _ => {
                if self
                    .trial
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return Err(GuardError::Open);
                }
                true
            }
        };
        let out = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(GuardError::Redis(e)),
            Err(_) => Err(GuardError::Timeout(self.timeout)),
        };
        match &out {
            Ok(_) => self.succeeded(),
            Err(_) => self.failed(trial),
        }
        if trial {
            self.trial.store(false, Ordering::Release);
        }
        out
    }

    fn succeeded(&self) {
        self.failures.store(0, Ordering::Release);
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("redis answers again: its breaker is closed");
        }
    }

    fn failed(&self, trial: bool) {
        let n = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if trial || n >= OPEN_AFTER {
            let until = self.now_ms().saturating_add(retry_ms()).max(1);
            if self.open_until.swap(until, Ordering::AcqRel) == 0 {
                tracing::warn!(
                    failures = n,
                    "redis keeps failing: its breaker is open; calls fail at once until a trial succeeds"
                );
            }
        }
    }
}

fn retry_ms() -> u64 {
    u64::try_from(RETRY_EVERY.as_millis()).unwrap_or(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails() -> RedisError {
        RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_redis_costs_one_deadline_then_nothing() {
        let g = RedisGuard::new(Duration::from_millis(20));
        for _ in 0..OPEN_AFTER {
            let t = Instant::now();
            let r = g
                .run(std::future::pending::<Result<(), RedisError>>())
                .await;
            assert!(matches!(r, Err(GuardError::Timeout(_))));
            assert!(t.elapsed() < Duration::from_secs(1));
        }
        assert!(g.is_open());
        let t = Instant::now();
        let r = g
            .run(std::future::pending::<Result<(), RedisError>>())
            .await;
        assert!(matches!(r, Err(GuardError::Open)), "{r:?}");
        assert!(t.elapsed() < Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trial_closes_it_once_redis_is_back() {
        let g = RedisGuard::new(Duration::from_millis(20));
        for _ in 0..OPEN_AFTER {
            let _ = g.run(async { Err::<(), _>(fails()) }).await;
        }
        assert!(g.is_open());
        // Before the retry time: refused without a call.
        let called = AtomicBool::new(false);
        let r = g
            .run(async {
                called.store(true, Ordering::Relaxed);
                Ok(())
            })
            .await;
        assert!(matches!(r, Err(GuardError::Open)));
        assert!(!called.load(Ordering::Relaxed));
        // A failed trial keeps it open for another period.
        tokio::time::sleep(RETRY_EVERY).await;
        assert!(g.run(async { Err::<(), _>(fails()) }).await.is_err());
        assert!(g.is_open());
        tokio::time::sleep(RETRY_EVERY).await;
        // Redis is back: the trial is made, counts, and closes the breaker.
        let r = g
            .run(async {
                called.store(true, Ordering::Relaxed);
                Ok(7)
            })
            .await;
        assert_eq!(r.ok(), Some(7));
        assert!(called.load(Ordering::Relaxed));
        assert!(!g.is_open());
    }

    #[tokio::test]
    async fn one_failure_does_not_open_it() {
        let g = RedisGuard::new(Duration::from_millis(20));
        let _ = g.run(async { Err::<(), _>(fails()) }).await;
        assert!(!g.is_open());
        assert!(g.run(async { Ok::<_, RedisError>(()) }).await.is_ok());
        let _ = g.run(async { Err::<(), _>(fails()) }).await;
        let _ = g.run(async { Err::<(), _>(fails()) }).await;
        assert!(!g.is_open(), "failures must be consecutive");
    }
}
