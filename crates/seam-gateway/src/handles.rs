//! Metric handles memoised per thread, so a request's metric events neither allocate labels nor
//! look a series up in the recorder's shared registry.
//!
//! `metrics::counter!(NAME, "label" => value.to_owned())` builds a key of owned labels, hashes
//! it and finds the series under the registry's lock on every call: about 0.3 µs each, ten times
//! per request. Here a call hashes the name and the label values it is given as borrowed strings
//! and, once a thread has seen that series, returns its handle from a thread-local map (a clone
//! of an `Arc`). The first call for a series registers it as the macros do.
//!
//! Bounds: labels are config-defined names or fixed sets (see [`crate::telemetry`]), so the
//! series are few; a thread that holds [`CAP`] of them starts over, so a label that somehow grew
//! without bound costs lookups, never memory. A handle is bound to the recorder installed when it
//! was first asked for: `seam serve` installs its recorder before any request runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use metrics::{Counter, Histogram};

/// Series one thread keeps handles for before it clears its map.
pub const CAP: usize = 4096;

/// A series: its name (a constant, compared by address and text) and its labels.
struct Series<H> {
    name: &'static str,
    labels: Box<[(&'static str, Box<str>)]>,
    handle: H,
}

impl<H> Series<H> {
    fn is(&self, name: &'static str, labels: &[(&'static str, &str)]) -> bool {
        self.name == name
            && self.labels.len() == labels.len()
            && self
                .labels
                .iter()
                .zip(labels)
                .all(|((k, v), (k2, v2))| k == k2 && &**v == *v2)
    }
}

/// A thread's handles by a hash of their series; a bucket holds the rare collisions.
struct Memo<H> {
    map: HashMap<u64, Vec<Series<H>>, BuildHasherDefault<Identity>>,
    len: usize,
}

/// The map's keys are hashes already.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<H: Clone> Memo<H> {
    fn new() -> Self {
        Memo {
            map: HashMap::default(),
            len: 0,
        }
    }

    fn get(
        &mut self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        register: impl FnOnce(&'static str, Vec<(&'static str, String)>) -> H,
    ) -> H {
        let h = hash(name, labels);
        if let Some(s) = self
            .map
            .get(&h)
            .and_then(|b| b.iter().find(|s| s.is(name, labels)))
        {
            return s.handle.clone();
        }
        if self.len >= CAP {
            self.map.clear();
            self.len = 0;
        }
        let owned: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let handle = register(name, owned);
        self.map.entry(h).or_default().push(Series {
            name,
            labels: labels.iter().map(|(k, v)| (*k, Box::from(*v))).collect(),
            handle: handle.clone(),
        });
        self.len += 1;
        handle
    }
}

/// A multiply-rotate hash over the name and labels (FxHash's step): a few nanoseconds for the
/// short strings labels are, where SipHash cost more than the lookup. Labels are config names,
/// not anything a client chooses, so flooding one bucket is not a concern.
fn hash(name: &'static str, labels: &[(&'static str, &str)]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    fn add(h: u64, bytes: &[u8]) -> u64 {
        let mut h = h;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        // The length ends the field, so ("ab", "c") and ("a", "bc") differ.
        (h.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K)
    }
    let mut h = add(0, name.as_bytes());
    for (k, v) in labels {
        h = add(h, k.as_bytes());
        h = add(h, v.as_bytes());
    }
    h
}

thread_local! {
    static COUNTERS: RefCell<Memo<Counter>> = RefCell::new(Memo::new());
    static HISTOGRAMS: RefCell<Memo<Histogram>> = RefCell::new(Memo::new());
}

/// The counter `name` with `labels`, as `metrics::counter!(name, labels)` would give it.
pub fn counter(name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
    COUNTERS.with_borrow_mut(|m| m.get(name, labels, |name, owned| metrics::counter!(name, &owned)))
}

/// The histogram `name` with `labels`, as `metrics::histogram!(name, labels)` would give it.
pub fn histogram(name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
    HISTOGRAMS.with_borrow_mut(|m| {
        m.get(name, labels, |name, owned| {
            metrics::histogram!(name, &owned)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_registered_once_per_thread_and_told_apart_by_every_label() {
        let mut m: Memo<u32> = Memo::new();
        let mut registered = 0;
        let mut get = |m: &mut Memo<u32>, labels: &[(&'static str, &str)]| {
            m.get("seam_x_total", labels, |_, owned| {
                registered += 1;
                u32::try_from(owned.len() * 100).unwrap() + registered
            })
        };
        let a = get(&mut m, &[("provider", "p"), ("model", "m")]);
        assert_eq!(get(&mut m, &[("provider", "p"), ("model", "m")]), a);
        // Same values under other keys, or split differently, are other series.
        let b = get(&mut m, &[("model", "p"), ("provider", "m")]);
        let c = get(&mut m, &[("provider", "pm"), ("model", "")]);
        let d = get(&mut m, &[("provider", "p")]);
        assert_eq!([a, b, c, d], [201, 202, 203, 104]);
        assert_eq!(m.len, 4);
    }

    #[test]
    fn a_thread_past_the_cap_starts_over() {
        let mut m: Memo<usize> = Memo::new();
        for i in 0..CAP + 10 {
            let v = i.to_string();
            m.get("seam_x_total", &[("key", &v)], |_, _| i);
        }
        assert_eq!(m.len, 10);
        assert!(m.map.values().map(Vec::len).sum::<usize>() == 10);
    }

    /// Counts what the handles record, as a real recorder would.
    #[derive(Default)]
    struct Recorder {
        registered: std::sync::atomic::AtomicUsize,
        value: std::sync::Arc<std::sync::atomic::AtomicU64>,
    }

    impl metrics::Recorder for Recorder {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> Counter {
            assert_eq!(key.name(), "seam_memo_test_total");
            assert_eq!(
                key.labels()
                    .map(|l| (l.key(), l.value()))
                    .collect::<Vec<_>>(),
                [("provider", "p")]
            );
            self.registered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Counter::from_arc(self.value.clone())
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn handles_count_into_the_installed_recorder_registering_once() {
        let recorder = Recorder::default();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..3 {
                counter("seam_memo_test_total", &[("provider", "p")]).increment(2);
            }
        });
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        assert_eq!(recorder.value.load(relaxed), 6);
        assert_eq!(recorder.registered.load(relaxed), 1);
    }
}
