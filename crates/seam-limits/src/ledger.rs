//! The durable side of budgets: charges batched into the store's spend ledger on a thread of
//! their own, and reads that seed missing counters.
//!
//! The channel to the writer is bounded ([`CAPACITY`] charges). When it is full (the store is
//! slow or down and a burst arrives) a charge is never dropped and the request never waits: it
//! is added to a small overflow map, one sum per (scope, period), which the writer folds in at
//! its next flush. Its size is bounded by the budgeted scopes, not by the traffic. The live
//! counters, not the ledger, decide budgets, so a full channel changes no decision.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seam_store::{Charge, Ledger, StoreConfig};

use crate::{Admitted, MicroUsd, Period};

/// How often batched charges are written.
const FLUSH: Duration = Duration::from_secs(1);

/// How many charges may wait for the writer before they go to the overflow map.
pub const CAPACITY: usize = 65_536;

static OVERFLOWS: AtomicU64 = AtomicU64::new(0);

/// Charges that found the writer's queue full since start (summed, not lost); exported by the
/// server as `seam_ledger_overflow_total`.
pub fn overflows() -> u64 {
    OVERFLOWS.load(Ordering::Relaxed)
}

/// Charges that found the channel full, summed per (scope, period) until the writer's next flush.
type Overflow = Arc<Mutex<HashMap<(String, String), u64>>>;

/// Sends charges to the writer thread; reads go through a connection of their own.
#[derive(Clone)]
pub struct LedgerSink {
    tx: mpsc::SyncSender<Charge>,
    overflow: Overflow,
    store: StoreConfig,
    reader: Arc<Mutex<Option<Ledger>>>,
}

impl LedgerSink {
    /// Starts the writer; its connection opens with the first charge (so a server that never
    /// spends never creates a database). The thread ends, after a last flush, when every sink
    /// is dropped.
    pub fn new(store: &StoreConfig) -> Result<LedgerSink, String> {
        let (tx, rx) = mpsc::sync_channel(CAPACITY);
        let overflow = Overflow::default();
        let cfg = store.clone();
        let spill = Arc::clone(&overflow);
        // The writer's connection lives on its own thread: the PostgreSQL client must not run
        // on the async runtime's threads.
        std::thread::Builder::new()
            .name("seam-ledger".into())
            .spawn(move || write(&cfg, &rx, &spill))
            .map_err(|e| format!("spend ledger: cannot start its writer: {e}"))?;
        Ok(LedgerSink {
            tx,
            overflow,
            store: store.clone(),
            reader: Arc::new(Mutex::new(None)),
        })
    }

    /// Records what an admitted request cost in each of its budgeted scopes, for the day and
    /// the month it was admitted in.
    pub(crate) fn charge(&self, a: &Admitted, microusd: MicroUsd) {
        for h in &a.held {
            if h.budget.is_none() {
                continue;
            }
            for p in [Period::Day, Period::Month] {
                self.send(Charge {
                    scope: h.id.clone(),
                    period: p.label(a.at_ms),
                    microusd,
                });
            }
        }
    }

    /// Queues a charge, or adds it to the overflow when the queue is full. Once the writer has
    /// gone (only at shutdown, when every sink is dropped) there is nowhere left to write.
    fn send(&self, c: Charge) {
        match self.tx.try_send(c) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(c)) => {
                let mut o = lock(&self.overflow);
                if o.is_empty() {
                    // At most once per flush: the writer empties the map each time.
                    tracing::warn!("spend ledger queue full; charges summed until the next flush");
                }
                *o.entry((c.scope, c.period)).or_default() += c.microusd;
                OVERFLOWS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// What the ledger says `scope` spent in `period` (off the async runtime: the PostgreSQL
    /// client blocks).
    pub(crate) async fn spent(&self, scope: &str, period: &str) -> Result<u64, String> {
        let (scope, period) = (scope.to_owned(), period.to_owned());
        let store = self.store.clone();
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let mut guard = match reader.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if guard.is_none() {
                *guard = Some(Ledger::open(&store).map_err(|e| format!("spend ledger: {e}"))?);
            }
            let Some(l) = guard.as_mut() else {
                return Ok(0);
            };
            let r = l
                .spent(&scope, &period)
                .map_err(|e| format!("spend ledger: {e}"));
            if r.is_err() {
                // Reconnect next time.
                *guard = None;
            }
            r
        })
        .await
        .map_err(|e| format!("spend ledger: {e}"))?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Moves the overflow's sums into `pending`.
fn take_overflow(overflow: &Overflow, pending: &mut HashMap<(String, String), u64>) {
    for (k, v) in lock(overflow).drain() {
        *pending.entry(k).or_default() += v;
    }
}

fn write(store: &StoreConfig, rx: &mpsc::Receiver<Charge>, overflow: &Overflow) {
    let mut ledger: Option<Ledger> = None;
    let mut pending: HashMap<(String, String), u64> = HashMap::new();
    let mut due = Instant::now() + FLUSH;
    loop {
        let wait = due.saturating_duration_since(Instant::now());
        let closed = match rx.recv_timeout(wait) {
            Ok(c) => {
                *pending.entry((c.scope, c.period)).or_default() += c.microusd;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if closed || Instant::now() >= due {
            take_overflow(overflow, &mut pending);
        }
        if (closed || Instant::now() >= due) && !pending.is_empty() {
            flush(store, &mut ledger, &mut pending);
        }
        if Instant::now() >= due {
            due = Instant::now() + FLUSH;
        }
        if closed {
            return;
        }
    }
}

/// Writes the pending increments; on failure they stay pending for the next flush.
fn flush(
    store: &StoreConfig,
    ledger: &mut Option<Ledger>,
    pending: &mut HashMap<(String, String), u64>,
) {
    if ledger.is_none() {
        match Ledger::open(store) {
            Ok(l) => *ledger = Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "spend ledger unavailable; retrying");
                return;
            }
        }
    }
    let Some(l) = ledger.as_mut() else {
        return;
    };
    let charges: Vec<Charge> = pending
        .iter()
        .map(|((scope, period), v)| Charge {
            scope: scope.clone(),
            period: period.clone(),
            microusd: *v,
        })
        .collect();
    match l.add(&charges) {
        Ok(()) => pending.clear(),
        Err(e) => {
            tracing::warn!(error = %e, "spend ledger not written; retrying");
            *ledger = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn charge(scope: &str, microusd: u64) -> Charge {
        Charge {
            scope: scope.into(),
            period: "d:2026-12-07".into(),
            microusd,
        }
    }

    /// A sink whose writer never reads: the queue fills, and nothing is lost.
    #[test]
    fn a_full_queue_sums_charges_instead_of_dropping_them() {
        let (tx, rx) = mpsc::sync_channel(2);
        let sink = LedgerSink {
            tx,
            overflow: Overflow::default(),
            store: StoreConfig {
                backend: seam_store::BackendConfig::Sqlite {
                    path: "never-opened.db".into(),
                },
                master_key: None,
                retention: Vec::new(),
            },
            reader: Arc::new(Mutex::new(None)),
        };
        let before = overflows();
        for i in 1..=5 {
            sink.send(charge("key:a", i));
        }
        sink.send(charge("key:b", 100));
        // Two queued, four summed in the overflow (two scopes).
        assert!(overflows() - before >= 4);
        let mut pending = HashMap::new();
        while let Ok(c) = rx.try_recv() {
            *pending.entry((c.scope, c.period)).or_default() += c.microusd;
        }
        assert_eq!(pending.values().sum::<u64>(), 1 + 2);
        assert_eq!(lock(&sink.overflow).len(), 2);
        take_overflow(&sink.overflow, &mut pending);
        assert!(lock(&sink.overflow).is_empty());
        let day = "d:2026-12-07".to_owned();
        assert_eq!(
            pending[&("key:a".to_owned(), day.clone())],
            1 + 2 + 3 + 4 + 5
        );
        assert_eq!(pending[&("key:b".to_owned(), day)], 100);
    }
}
