//! The durable side of budgets: charges summed in memory and written to the spend ledger once a
//! second on a thread of their own, and reads that seed missing counters.
//!
//! A charge is added to one map under one short lock: one sum per (scope, period), so the map is
//! bounded by the budgeted scopes charged within a flush interval, not by the traffic, and a
//! request never waits for the store or wakes a thread. (A channel to the writer cost a wake-up
//! per charge: eight per request with budgets on four scopes, more than the policy scan.) The
//! writer takes the map every [`FLUSH`] and writes it in one transaction; a failed write keeps
//! its sums for the next. The live counters, not the ledger, decide budgets.
//!
//! The ledger itself is whatever [`SpendStore`] the caller's [`OpenSpendStore`] opens (the server
//! opens seam-store's `spend_ledger`), so this crate knows no database.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use seam_types::Charge;

use crate::{Admitted, MicroUsd, Period};

/// One connection to the spend ledger. Synchronous: it is only called on the writer's thread
/// and in `spawn_blocking`. Errors are messages for the log, never for a client.
pub trait SpendStore: Send {
    /// Adds every charge, all or none (one transaction).
    fn add(&mut self, charges: &[Charge]) -> Result<(), String>;
    /// What `scope` has spent in `period` (0 when nothing was recorded).
    fn spent(&mut self, scope: &str, period: &str) -> Result<u64, String>;
}

/// Opens a connection to the spend ledger; called again after a connection fails.
pub type OpenSpendStore = Arc<dyn Fn() -> Result<Box<dyn SpendStore>, String> + Send + Sync>;

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
    open: OpenSpendStore,
    reader: Arc<Mutex<Option<Box<dyn SpendStore>>>>,
}

impl LedgerSink {
    /// Starts the writer; its connection opens with the first charge (so a server that never
    /// spends never creates a database). The thread ends, after a last flush, when every sink
    /// is dropped.
    pub fn new(open: OpenSpendStore) -> Result<LedgerSink, String> {
        let shared = Arc::new(Shared::default());
        let opener = Arc::clone(&open);
        let writer = Arc::clone(&shared);
        // The writer's connection lives on its own thread: a blocking client (PostgreSQL's) must
        // not run on the async runtime's threads.
        std::thread::Builder::new()
            .name("seam-ledger".into())
            .spawn(move || write(&opener, &writer))
            .map_err(|e| format!("spend ledger: cannot start its writer: {e}"))?;
        Ok(LedgerSink {
            _closer: Arc::new(Closer(Arc::clone(&shared))),
            shared,
            open,
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

    /// What the ledger says `scope` spent in `period` (off the async runtime: the store blocks).
    pub(crate) async fn spent(&self, scope: &str, period: &str) -> Result<u64, String> {
        let (scope, period) = (scope.to_owned(), period.to_owned());
        let open = Arc::clone(&self.open);
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let mut guard = match reader.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if guard.is_none() {
                *guard = Some(open().map_err(|e| format!("spend ledger: {e}"))?);
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

fn write(open: &OpenSpendStore, shared: &Shared) {
    let mut ledger: Option<Box<dyn SpendStore>> = None;
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
            flush(open, &mut ledger, &mut pending);
        }
        if last {
            return;
        }
    }
}

/// Writes the pending sums; on failure they stay pending for the next flush.
fn flush(open: &OpenSpendStore, ledger: &mut Option<Box<dyn SpendStore>>, pending: &mut Sums) {
    if ledger.is_none() {
        match open() {
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
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// A ledger in memory. Clones share it; `fail_opens`, `fail_adds` and `fail_reads` make that
    /// many of the next calls fail.
    #[derive(Clone, Default)]
    struct Memory {
        rows: Arc<Mutex<HashMap<(String, String), u64>>>,
        opens: Arc<AtomicUsize>,
        adds: Arc<AtomicUsize>,
        fail_opens: Arc<AtomicUsize>,
        fail_adds: Arc<AtomicUsize>,
        fail_reads: Arc<AtomicUsize>,
    }

    /// Takes one failure from `n`, if any is left.
    fn fails(n: &AtomicUsize) -> bool {
        n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
    }

    impl Memory {
        fn opener(&self) -> OpenSpendStore {
            let m = self.clone();
            Arc::new(move || {
                m.opens.fetch_add(1, Ordering::SeqCst);
                if fails(&m.fail_opens) {
                    return Err("refused".into());
                }
                Ok(Box::new(m.clone()) as Box<dyn SpendStore>)
            })
        }

        fn get(&self, scope: &str, period: &str) -> u64 {
            let rows = lock(&self.rows);
            rows.get(&(scope.to_owned(), period.to_owned()))
                .copied()
                .unwrap_or(0)
        }

        /// Waits (10 s at most) until `scope` has `want` in both `day` and `month`.
        fn wait_for(&self, scope: &str, day: &str, month: &str, want: u64) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (d, m) = (self.get(scope, day), self.get(scope, month));
                if d == want && m == want {
                    return;
                }
                assert!(Instant::now() < deadline, "day {d}, month {m}");
                nap();
            }
        }
    }

    impl SpendStore for Memory {
        fn add(&mut self, charges: &[Charge]) -> Result<(), String> {
            self.adds.fetch_add(1, Ordering::SeqCst);
            if fails(&self.fail_adds) {
                return Err("disk full".into());
            }
            let mut rows = lock(&self.rows);
            for c in charges {
                *rows.entry((c.scope.clone(), c.period.clone())).or_default() += c.microusd;
            }
            Ok(())
        }

        fn spent(&mut self, scope: &str, period: &str) -> Result<u64, String> {
            if fails(&self.fail_reads) {
                return Err("connection reset".into());
            }
            Ok(self.get(scope, period))
        }
    }

    fn nap() {
        #[expect(clippy::disallowed_methods, reason = "a plain test thread, no runtime")]
        std::thread::sleep(Duration::from_millis(20));
    }

    /// A request admitted on 2026-12-01 with a budget on `key:a`.
    fn admitted() -> Admitted {
        Admitted {
            request: "r1".into(),
            at_ms: 1_796_083_200_000, // 2026-12-01T00:00Z
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
        }
    }

    /// Every sum reaches the store, the last ones when the last sink is dropped; a server that
    /// never spends never opens the store.
    #[test]
    fn the_writer_flushes_and_finishes_when_the_last_sink_goes() {
        let store = Memory::default();
        let sink = LedgerSink::new(store.opener()).unwrap();
        let admitted = admitted();
        for _ in 0..3 {
            sink.charge(&admitted, 250);
        }
        let copy = sink.clone();
        drop(sink);
        copy.charge(&admitted, 250);
        drop(copy);
        // The writer ends after its last flush with all four charges.
        store.wait_for("key:a", "d:2026-12-01", "m:2026-12", 1000);
        assert_eq!(store.opens.load(Ordering::SeqCst), 1);

        let idle = Memory::default();
        drop(LedgerSink::new(idle.opener()).unwrap());
        #[expect(clippy::disallowed_methods, reason = "a plain test thread, no runtime")]
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(idle.opens.load(Ordering::SeqCst), 0);
    }

    /// A failed write keeps its sums: they are merged with later charges and written, once, by
    /// the next flush on a new connection.
    #[test]
    fn a_failed_write_keeps_its_sums_for_the_next_flush() {
        let store = Memory::default();
        store.fail_adds.store(1, Ordering::SeqCst);
        let sink = LedgerSink::new(store.opener()).unwrap();
        let admitted = admitted();
        sink.charge(&admitted, 250);
        sink.charge(&admitted, 250);
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.adds.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the writer never flushed");
            nap();
        }
        assert_eq!(store.get("key:a", "m:2026-12"), 0);
        sink.charge(&admitted, 100);
        drop(sink);
        store.wait_for("key:a", "d:2026-12-01", "m:2026-12", 600);
        // The failed write dropped its connection; the next flush opened another.
        assert_eq!(store.opens.load(Ordering::SeqCst), 2);
    }

    /// A store that cannot be opened is tried again at the next flush; nothing is lost.
    #[test]
    fn a_failed_open_is_retried_at_the_next_flush() {
        let store = Memory::default();
        store.fail_opens.store(1, Ordering::SeqCst);
        let sink = LedgerSink::new(store.opener()).unwrap();
        sink.charge(&admitted(), 300);
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.opens.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the writer never flushed");
            nap();
        }
        drop(sink);
        store.wait_for("key:a", "d:2026-12-01", "m:2026-12", 300);
        assert_eq!(store.opens.load(Ordering::SeqCst), 2);
    }

    /// Reads open their own connection on first use, keep it, and reconnect after an error.
    #[tokio::test]
    async fn the_reader_reconnects_after_an_error() {
        let store = Memory::default();
        lock(&store.rows).insert(("key:a".into(), "m:2026-12".into()), 42);
        let sink = LedgerSink::new(store.opener()).unwrap();
        assert_eq!(sink.spent("key:a", "m:2026-12").await, Ok(42));
        assert_eq!(sink.spent("key:b", "m:2026-12").await, Ok(0));
        assert_eq!(store.opens.load(Ordering::SeqCst), 1);
        store.fail_reads.store(1, Ordering::SeqCst);
        assert_eq!(
            sink.spent("key:a", "m:2026-12").await,
            Err("spend ledger: connection reset".to_owned())
        );
        assert_eq!(sink.spent("key:a", "m:2026-12").await, Ok(42));
        assert_eq!(store.opens.load(Ordering::SeqCst), 2);
        store.fail_opens.store(1, Ordering::SeqCst);
        store.fail_reads.store(1, Ordering::SeqCst);
        assert!(sink.spent("key:a", "m:2026-12").await.is_err());
        assert_eq!(
            sink.spent("key:a", "m:2026-12").await,
            Err("spend ledger: refused".to_owned())
        );
        assert_eq!(sink.spent("key:a", "m:2026-12").await, Ok(42));
    }
}
