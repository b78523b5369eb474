//! Client sessions of `/mcp` (`Mcp-Session-Id`): created by `initialize`, bound to the key that
//! created them, forgotten after `[mcp] session_idle_s` unused or, past `max_sessions`, least
//! recently used first. A request naming a session Seam does not hold gets a 404, as the
//! transport says, and the client starts a new one.
//!
//! Sessions belong to the process, not to a config: a reload keeps them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// One client session.
pub struct Session {
    pub id: String,
    /// The key that created it; another key naming it is told it does not exist.
    pub key_id: Option<String>,
    /// The protocol revision `initialize` settled on.
    pub version: &'static str,
    /// The client sent `notifications/initialized`.
    pub initialized: AtomicBool,
    /// Milliseconds since the registry's epoch at the last use.
    last_used: AtomicU64,
    /// Requests being answered, by their id's JSON text: `notifications/cancelled` fires one.
    inflight: Mutex<HashMap<String, tokio::sync::oneshot::Sender<()>>>,
}

impl Session {
    /// Registers request `id` as in flight; the receiver fires if the client cancels it. The
    /// guard forgets it.
    pub fn track(
        self: &Arc<Self>,
        id: &serde_json::Value,
    ) -> (Tracked, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let key = id.to_string();
        let mut m = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Past the bound, the request runs but cannot be cancelled: its sender is dropped, which
        // the receiver reports as an error, never as a cancellation.
        if m.len() < MAX_INFLIGHT {
            m.insert(key.clone(), tx);
        }
        (
            Tracked {
                session: Arc::clone(self),
                key,
            },
            rx,
        )
    }

    /// `notifications/cancelled`: stops the request if it is still in flight.
    pub fn cancel(&self, id: &serde_json::Value) {
        let tx = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id.to_string());
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
    }
}

/// Requests tracked per session at most (more still run, but cannot be cancelled).
const MAX_INFLIGHT: usize = 1024;

/// Forgets a tracked request when its answer is done.
pub struct Tracked {
    session: Arc<Session>,
    key: String,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.session
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// Every session of the process.
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    epoch: Instant,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

/// 128 random bits, hex: not guessable, visible ASCII as the transport requires.
fn new_id() -> String {
    let mut b = [0u8; 16];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        // No system randomness: a time-ordered id with its random bits from the uuid crate.
        return uuid::Uuid::now_v7().simple().to_string();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Sessions {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session; past `max` sessions the least recently used (and every idle one) goes.
    pub fn create(
        &self,
        key_id: Option<String>,
        version: &'static str,
        max: usize,
        idle_ms: u64,
    ) -> Arc<Session> {
        let now = self.now();
        let s = Arc::new(Session {
            id: new_id(),
            key_id,
            version,
            initialized: AtomicBool::new(false),
            last_used: AtomicU64::new(now),
            inflight: Mutex::new(HashMap::new()),
        });
        let mut map = self.lock();
        if map.len() >= max {
            map.retain(|_, s| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) < idle_ms);
            while map.len() >= max.max(1) {
                let Some(oldest) = map
                    .values()
                    .min_by_key(|s| s.last_used.load(Ordering::Relaxed))
                    .map(|s| s.id.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(s.id.clone(), Arc::clone(&s));
        metrics::gauge!(crate::metrics::MCP_SESSIONS).set(map.len() as f64);
        s
    }

    /// The session `id` of `key_id`, touched; `None` when unknown, expired or another key's.
    pub fn get(&self, id: &str, key_id: Option<&str>, idle_ms: u64) -> Option<Arc<Session>> {
        let now = self.now();
        let mut map = self.lock();
        let s = map.get(id)?;
        if now.saturating_sub(s.last_used.load(Ordering::Relaxed)) >= idle_ms {
            map.remove(id);
            return None;
        }
        if s.key_id.as_deref() != key_id {
            return None;
        }
        s.last_used.store(now, Ordering::Relaxed);
        Some(Arc::clone(s))
    }

    /// Ends the session (`DELETE /mcp`); whether it existed for this key.
    pub fn remove(&self, id: &str, key_id: Option<&str>) -> bool {
        let mut map = self.lock();
        let mine = map.get(id).is_some_and(|s| s.key_id.as_deref() == key_id);
        if mine {
            map.remove(id);
        }
        metrics::gauge!(crate::metrics::MCP_SESSIONS).set(map.len() as f64);
        mine
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn sessions_are_bound_to_their_key_bounded_and_expire() {
        let s = Sessions::default();
        let a = s.create(Some("k1".into()), "2025-11-25", 2, 60_000);
        assert_eq!(a.id.len(), 32);
        assert!(s.get(&a.id, Some("k1"), 60_000).is_some());
        assert!(s.get(&a.id, Some("k2"), 60_000).is_none());
        assert!(s.get(&a.id, None, 60_000).is_none());
        let b = s.create(Some("k1".into()), "2025-11-25", 2, 60_000);
        let c = s.create(Some("k1".into()), "2025-11-25", 2, 60_000);
        assert_eq!(s.len(), 2);
        assert!(s.get(&c.id, Some("k1"), 60_000).is_some());
        assert!(
            s.get(&b.id, Some("k1"), 60_000).is_some()
                || s.get(&a.id, Some("k1"), 60_000).is_some()
        );
        assert!(!s.remove(&c.id, Some("k2")));
        assert!(s.remove(&c.id, Some("k1")));
        assert!(s.get(&c.id, Some("k1"), 60_000).is_none());
        // Idle past the bound: gone.
        let d = s.create(None, "2025-11-25", 10, 60_000);
        assert!(s.get(&d.id, None, 0).is_none());
    }
}
