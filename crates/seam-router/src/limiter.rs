//! Concurrency caps with a bounded wait queue: a provider takes at most `capacity` requests at
//! once; up to `max_queue` more may wait up to `queue_timeout` for a slot; anything beyond is
//! refused at once, so overload is shed instead of piling up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub type Permit = OwnedSemaphorePermit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overload {
    /// `max_queue` requests were already waiting.
    QueueFull,
    /// No slot freed within `queue_timeout` (or before the request's deadline).
    QueueTimeout,
}

#[derive(Debug)]
pub struct Limiter {
    slots: Arc<Semaphore>,
    capacity: usize,
    max_queue: usize,
    queue_timeout: Duration,
    waiting: AtomicUsize,
}

impl Limiter {
    pub fn new(capacity: usize, max_queue: usize, queue_timeout: Duration) -> Self {
        Limiter {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            max_queue,
            queue_timeout,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Whether this limiter was built with these settings (so a reload can keep it).
    pub fn same_limits(&self, capacity: usize, max_queue: usize, queue_timeout: Duration) -> bool {
        self.capacity == capacity
            && self.max_queue == max_queue
            && self.queue_timeout == queue_timeout
    }

    /// A slot now, or `None` when all are taken. Queued waiters are served first: tokio's
    /// semaphore hands released permits to waiters before they become available here.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// A slot, waiting in the bounded queue if needed, but never past `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> Result<Permit, Overload> {
        if let Some(p) = self.try_acquire() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Overload::QueueFull);
        }
        let _waiting = Waiting(&self.waiting);
        let until = deadline.min(Instant::now() + self.queue_timeout);
        match tokio::time::timeout_at(until, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Overload::QueueTimeout),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn in_flight(&self) -> usize {
        self.capacity.saturating_sub(self.slots.available_permits())
    }

    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub fn has_capacity(&self) -> bool {
        self.slots.available_permits() > 0
    }
}

/// Leaves the queue count when the waiter is done, however it ends (also when cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queue_is_bounded_and_times_out() {
        let l = Arc::new(Limiter::new(1, 1, Duration::from_millis(100)));
        let far = Instant::now() + Duration::from_secs(60);
        let held = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_none());
        assert_eq!(l.in_flight(), 1);

        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire(far).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(l.queued(), 1);
        assert_eq!(l.acquire(far).await.err(), Some(Overload::QueueFull));

        drop(held);
        let got = waiter.await.unwrap();
        assert!(got.is_ok(), "a released slot goes to the waiter");
        assert_eq!(l.queued(), 0);

        let waited = l.acquire(far).await;
        assert_eq!(waited.err(), Some(Overload::QueueTimeout));
        assert_eq!(l.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_bounds_the_wait() {
        let l = Limiter::new(1, 4, Duration::from_secs(10));
        let _held = l.try_acquire().unwrap();
        let start = Instant::now();
        let r = l.acquire(start + Duration::from_millis(50)).await;
        assert_eq!(r.err(), Some(Overload::QueueTimeout));
        assert_eq!(start.elapsed(), Duration::from_millis(50));
    }
}
