//! A sub-millisecond timer for the open-loop scheduler.
//!
//! Tokio's timer wheel rounds every deadline up to the next millisecond, so at 1,000–3,000 req/s
//! most requests would leave up to a millisecond late, and because latency is counted from the
//! scheduled time that lateness would swamp the ~0.1 ms being measured. A Linux timerfd has no
//! timer slack and wakes the runtime's epoll within a few microseconds of its deadline.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Instant;

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::unix::AsyncFd;

pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    pub fn new() -> io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // `AsyncFd::new` is deprecated because a type whose `AsRawFd` can change under it would
        // break tokio's registration; an `OwnedFd` never changes, and its replacement
        // (`register`) is `unsafe`, which the workspace forbids.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(Self { fd })
    }

    /// Waits until `deadline` (returns at once if it has passed).
    pub async fn sleep_until(&mut self, deadline: Instant) -> io::Result<()> {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(());
            }
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(wait.subsec_nanos()),
                },
            };
            timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            self.wait_expiry().await?;
        }
    }

    async fn wait_expiry(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            match guard.try_io(|fd| {
                rustix::io::read(fd.get_ref(), &mut expirations).map_err(io::Error::from)
            }) {
                Ok(read) => return read.map(drop),
                // Spurious readiness: readiness was cleared, wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sleeps_until_the_deadline_and_not_before() {
        let mut timer = PreciseTimer::new().unwrap();
        for micros in [0, 150, 700, 2_300] {
            let deadline = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline);
        }
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        let mut timer = PreciseTimer::new().unwrap();
        let past = Instant::now();
        tokio::time::sleep(Duration::from_millis(2)).await;
        timer.sleep_until(past).await.unwrap();
    }
}
