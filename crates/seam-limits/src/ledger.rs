//! The durable side of budgets: charges batched into the store's spend ledger on a thread of
//! their own, and reads that seed missing counters.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seam_store::{Charge, Ledger, StoreConfig};

use crate::{Admitted, MicroUsd, Period};

/// How often batched charges are written.
const FLUSH: Duration = Duration::from_secs(1);

/// Sends charges to the writer thread; reads go through a connection of their own.
#[derive(Clone)]
pub struct LedgerSink {
    tx: mpsc::Sender<Charge>,
    store: StoreConfig,
    reader: Arc<Mutex<Option<Ledger>>>,
}

impl LedgerSink {
    /// Starts the writer; its connection opens with the first charge (so a server that never
    /// spends never creates a database). The thread ends, after a last flush, when every sink
    /// is dropped.
    pub fn new(store: &StoreConfig) -> Result<LedgerSink, String> {
        let (tx, rx) = mpsc::channel();
        let cfg = store.clone();
        // The writer's connection lives on its own thread: the PostgreSQL client must not run
        // on the async runtime's threads.
        std::thread::Builder::new()
            .name("seam-ledger".into())
            .spawn(move || write(&cfg, &rx))
            .map_err(|e| format!("spend ledger: cannot start its writer: {e}"))?;
        Ok(LedgerSink {
            tx,
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
                let _ = self.tx.send(Charge {
                    scope: h.id.clone(),
                    period: p.label(a.at_ms),
                    microusd,
                });
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

fn write(store: &StoreConfig, rx: &mpsc::Receiver<Charge>) {
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
