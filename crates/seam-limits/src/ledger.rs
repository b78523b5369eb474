//! The durable side of budgets: charges summed in memory and written to the store's spend
//! ledger once a second on a thread of their own, and reads that seed missing counters.
//!
//! A charge is added to one map under one short lock: one sum per (scope, period), so the map is
//! bounded by the budgeted scopes charged within a flush interval, not by the traffic, and a
//! request never waits for the store or wakes a thread. (A channel to the writer cost a wake-up
//! per charge: eight per request with budgets on four scopes, more than the policy scan.) The
//! writer takes the map every [`FLUSH`] and writes it in one transaction; a failed write keeps
//! its sums for the next. The live counters, not the ledger, decide budgets.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use seam_store::{Charge, Ledger, StoreConfig};

use crate::{Admitted, MicroUsd, Period};

/// How often summed charges are written.
const FLUSH: Duration = Duration::from_secs(1);

/// Charges not yet written: scope → (period label → microusd). A scope has at most a day and a
/// month label, two across a period's boundary.
type Sums = HashMap<String, Vec<(String, MicroUsd)>>;

/// What the sinks and the writer share.
#[derive(Default)]
struct Shared {
    sums: Mutex<Sums>,
    /// Set when the last sink is dropped; the writer then flushes once more and ends.
    closed: Mutex<bool>,
    wake: Condvar,
}

/// Tells the writer to finish when the last sink goes.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        *lock(&self.0.closed) = true;
        self.0.wake.notify_all();
    }
}

/// Sums charges for the writer thread; reads go through a connection of their own.
#[derive(Clone)]
pub struct LedgerSink {
    shared: Arc<Shared>,
    _closer: Arc<Closer>,
    store: StoreConfig,
    reader: Arc<Mutex<Option<Ledger>>>,
}

impl LedgerSink {
    /// Starts the writer; its connection opens with the first charge (so a server that never
    /// spends never creates a database). The thread ends, after a last flush, when every sink
    /// is dropped.
    pub fn new(store: &StoreConfig) -> Result<LedgerSink, String> {
        let shared = Arc::new(Shared::default());
        let cfg = store.clone();
        let writer = Arc::clone(&shared);
        // The writer's connection lives on its own thread: the PostgreSQL client must not run
        // on the async runtime's threads.
        std::thread::Builder::new()
            .name("seam-ledger".into())
            .spawn(move || write(&cfg, &writer))
            .map_err(|e| format!("spend ledger: cannot start its writer: {e}"))?;
        Ok(LedgerSink {
            _closer: Arc::new(Closer(Arc::clone(&shared))),
            shared,
            store: store.clone(),
            reader: Arc::new(Mutex::new(None)),
        })
    }

    /// Records what an admitted request cost in each of its budgeted scopes, for the day and
    /// the month it was admitted in.
    pub(crate) fn charge(&self, a: &Admitted, microusd: MicroUsd) {
        if a.held.iter().all(|h| h.budget.is_none()) {
            return;
        }
        let labels = [Period::Day.label(a.at_ms), Period::Month.label(a.at_ms)];
        let mut sums = lock(&self.shared.sums);
        for h in a.held.iter().filter(|h| h.budget.is_some()) {
            add(&mut sums, &h.id, &labels, microusd);
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

/// Adds `microusd` to `scope` in each of `labels`, allocating only for a pair not yet summed.
fn add(sums: &mut Sums, scope: &str, labels: &[String], microusd: MicroUsd) {
    let periods = match sums.get_mut(scope) {
        Some(p) => p,
        None => sums.entry(scope.to_owned()).or_default(),
    };
    for label in labels {
        match periods.iter_mut().find(|(l, _)| l == label) {
            Some((_, v)) => *v += microusd,
            None => periods.push((label.clone(), microusd)),
        }
    }
}

/// Folds `from` into `into`.
fn merge(into: &mut Sums, from: Sums) {
    for (scope, periods) in from {
        for (label, v) in periods {
            add(into, &scope, std::slice::from_ref(&label), v);
        }
    }
}

fn write(store: &StoreConfig, shared: &Shared) {
    let mut ledger: Option<Ledger> = None;
    // Sums a failed write kept, merged with what arrives until the next one.
    let mut pending = Sums::new();
    loop {
        let due = Instant::now() + FLUSH;
        let mut closed = lock(&shared.closed);
        while !*closed {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            closed = match shared.wake.wait_timeout(closed, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        let last = *closed;
        drop(closed);
        let taken = std::mem::take(&mut *lock(&shared.sums));
        if pending.is_empty() {
            pending = taken;
        } else {
            merge(&mut pending, taken);
        }
        if !pending.is_empty() {
            flush(store, &mut ledger, &mut pending);
        }
        if last {
            return;
        }
    }
}

/// Writes the pending sums; on failure they stay pending for the next flush.
fn flush(store: &StoreConfig, ledger: &mut Option<Ledger>, pending: &mut Sums) {
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
        .flat_map(|(scope, periods)| {
            periods.iter().map(|(period, v)| Charge {
                scope: scope.clone(),
                period: period.clone(),
                microusd: *v,
            })
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

    fn labels(day: &str, month: &str) -> [String; 2] {
        [day.to_owned(), month.to_owned()]
    }

    #[test]
    fn charges_are_summed_per_scope_and_period() {
        let mut sums = Sums::new();
        let december = labels("d:2026-12-07", "m:2026-12");
        for i in 1..=5 {
            add(&mut sums, "key:a", &december, i);
        }
        add(&mut sums, "key:b", &december, 100);
        // Across midnight: a new day, the same month.
        add(&mut sums, "key:a", &labels("d:2026-12-08", "m:2026-12"), 7);
        assert_eq!(sums.len(), 2);
        let a = &sums["key:a"];
        let get = |p: &[(String, u64)], l: &str| p.iter().find(|(x, _)| x == l).map(|x| x.1);
        assert_eq!(get(a, "d:2026-12-07"), Some(15));
        assert_eq!(get(a, "d:2026-12-08"), Some(7));
        assert_eq!(get(a, "m:2026-12"), Some(22));
        assert_eq!(get(&sums["key:b"], "m:2026-12"), Some(100));
        let mut into = Sums::new();
        add(&mut into, "key:a", &december, 1000);
        merge(&mut into, sums);
        assert_eq!(get(&into["key:a"], "m:2026-12"), Some(1022));
        assert_eq!(get(&into["key:b"], "d:2026-12-07"), Some(100));
    }

    /// Every sum reaches the store, the last ones when the last sink is dropped.
    #[test]
    fn the_writer_flushes_and_finishes_when_the_last_sink_goes() {
        let dir = std::env::temp_dir().join(format!("seam-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = StoreConfig {
            backend: seam_store::BackendConfig::Sqlite {
                path: dir.join("ledger.db"),
            },
            master_key: None,
            retention: Vec::new(),
        };
        let sink = LedgerSink::new(&store).unwrap();
        let at_ms = 1_796_083_200_000; // 2026-12-01T00:00Z
        let admitted = Admitted {
            request: "r1".into(),
            at_ms,
            held: vec![crate::Held {
                id: "key:a".into(),
                tpm: false,
                concurrency: false,
                budget: Some(("d:2026-12-01".into(), 0)),
            }],
            ask: crate::Ask {
                request: "r1".into(),
                tokens: 1,
                microusd: 1,
            },
        };
        for _ in 0..3 {
            sink.charge(&admitted, 250);
        }
        let copy = sink.clone();
        drop(sink);
        copy.charge(&admitted, 250);
        drop(copy);
        // The writer ends after its last flush; the reader sees all four charges.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut l = Ledger::open(&store).unwrap();
            let day = l.spent("key:a", "d:2026-12-01").unwrap();
            let month = l.spent("key:a", "m:2026-12").unwrap();
            if day == 1000 && month == 1000 {
                break;
            }
            assert!(Instant::now() < deadline, "day {day}, month {month}");
            #[expect(clippy::disallowed_methods, reason = "a plain test thread, no runtime")]
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
