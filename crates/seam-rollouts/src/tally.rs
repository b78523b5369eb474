//! Additive tallies: what each replica counts per (rollout, stage, variant) and flushes to the
//! store, and what the decision reads back, summed.
//!
//! Everything here adds: merging two tallies adds their rows, so replicas flush *deltas*
//! (what they counted since their last flush) with `INSERT … ON CONFLICT DO UPDATE SET
//! n = n + excluded.n, …`, in any order, any number of times, and the totals are exact.
//!
//! # The rows a store keeps ([`Delta`])
//!
//! Moments, one row per metric, keyed by `(rollout, stage, variant, metric)`:
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `metric` | text | a key below |
//! | `n` | integer (u64) | observations |
//! | `sum` | real (f64) | sum of the values |
//! | `sum_sq` | real (f64) | sum of their squares |
//!
//! Histogram buckets, one row per non-empty bucket, keyed by `(rollout, stage, variant, metric,
//! bucket)`:
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `metric` | text | `latency_ms`, `ttft_ms`, `cost_usd` or `output_tokens` |
//! | `bucket` | integer (0..[`BUCKET_COUNT`]) | see [`bucket_of`] |
//! | `count` | integer (u64) | observations in it |
//!
//! Metric keys: `error`, `policy_violation`, `contract_violation` (0/1 per request; `error`'s
//! `n` is the request count), `latency_ms`, `ttft_ms` (streams only), `cost_usd`,
//! `output_tokens` (when known), `feedback:NAME` and `eval:NAME` (values in 0..=1).
//!
//! The bucket edges are part of the stored format and must never change: bucket 0 is
//! `[0, 1e-7 × 1.05)`, bucket `b ≥ 1` is `[1e-7 × 1.05^b, 1e-7 × 1.05^(b+1))`, the last one is
//! open above. One scale serves every unit: 5 %-wide buckets from 0.1 µUSD to 10⁷ (ms or tokens),
//! fine enough for a 1.2× quantile ratio.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The tally keys of the built-in metrics.
pub mod keys {
    pub const ERROR: &str = "error";
    pub const POLICY_VIOLATION: &str = "policy_violation";
    pub const CONTRACT_VIOLATION: &str = "contract_violation";
    pub const LATENCY_MS: &str = "latency_ms";
    pub const TTFT_MS: &str = "ttft_ms";
    pub const COST_USD: &str = "cost_usd";
    pub const OUTPUT_TOKENS: &str = "output_tokens";
}

const LOW: f64 = 1e-7;
const GROWTH: f64 = 1.05;
/// Histogram buckets: enough 5 % steps to climb from 1e-7 to 1e7.
pub const BUCKET_COUNT: u32 = 662;

/// The bucket of a value (negative and NaN values count as 0).
#[inline]
pub fn bucket_of(x: f64) -> u32 {
    if x.is_nan() || x < LOW * GROWTH {
        return 0;
    }
    let b = ((x / LOW).ln() / GROWTH.ln()).floor();
    (b as u32).clamp(1, BUCKET_COUNT - 1)
}

/// The lowest value of bucket `b`.
pub fn bucket_lower(b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        LOW * GROWTH.powi(b.min(BUCKET_COUNT - 1) as i32)
    }
}

/// The bound below which every value of bucket `b` lies (infinite for the last bucket).
pub fn bucket_upper(b: u32) -> f64 {
    if b + 1 >= BUCKET_COUNT {
        f64::INFINITY
    } else {
        LOW * GROWTH.powi(b as i32 + 1)
    }
}

/// One request as a rollout sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub error: bool,
    pub latency_ms: f64,
    /// Streams only.
    pub ttft_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    pub output_tokens: Option<u64>,
    pub policy_violation: bool,
    pub contract_violation: bool,
}

/// Count, sum and sum of squares of one metric's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    /// The mean, 0 without observations.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
}

/// One moments row of a [`Delta`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MomentRow {
    pub metric: String,
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// One histogram row of a [`Delta`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRow {
    pub metric: String,
    pub bucket: u32,
    pub count: u64,
}

/// A tally as flat rows a store adds up column by column (the shape is in the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub moments: Vec<MomentRow>,
    pub buckets: Vec<BucketRow>,
}

/// Why a feedback or evaluator value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoreError {
    /// Not `feedback:NAME` or `eval:NAME`.
    Metric,
    /// Not a finite number in 0..=1 (normalise ranges such as 1-5 stars before).
    Value,
}

/// The built-in metrics in slot order, and which of them keep a histogram.
const BUILTIN: [&str; 7] = [
    keys::ERROR,
    keys::POLICY_VIOLATION,
    keys::CONTRACT_VIOLATION,
    keys::LATENCY_MS,
    keys::TTFT_MS,
    keys::COST_USD,
    keys::OUTPUT_TOKENS,
];
/// Slots 3.. of `BUILTIN` are distributions.
const FIRST_DISTRIBUTION: usize = 3;

fn builtin_slot(key: &str) -> Option<usize> {
    BUILTIN.iter().position(|k| *k == key)
}

/// Sufficient statistics of one variant (of one stage, or of a whole rollout once summed).
/// Built-in metrics live in fixed slots, so counting a request touches no map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    builtin: [Moments; BUILTIN.len()],
    /// Dense bucket counts of the distributions, empty until their first value.
    histograms: [Vec<u64>; BUILTIN.len() - FIRST_DISTRIBUTION],
    /// `feedback:NAME` and `eval:NAME`.
    scores: BTreeMap<String, Moments>,
}

impl Tally {
    /// Counts one request.
    pub fn observe(&mut self, o: &Observation) {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        self.builtin[0].add(flag(o.error));
        self.builtin[1].add(flag(o.policy_violation));
        self.builtin[2].add(flag(o.contract_violation));
        self.distribution(3, Some(o.latency_ms));
        self.distribution(4, o.ttft_ms);
        self.distribution(5, o.cost_usd);
        self.distribution(6, o.output_tokens.map(|t| t as f64));
    }

    /// Counts one feedback or evaluator value: `metric` is `feedback:NAME` or `eval:NAME`, the
    /// value is in 0..=1 (true = 1).
    pub fn score(&mut self, metric: &str, value: f64) -> Result<(), ScoreError> {
        let named = ["feedback:", "eval:"]
            .iter()
            .any(|p| metric.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !named {
            return Err(ScoreError::Metric);
        }
        if !(0.0..=1.0).contains(&value) {
            return Err(ScoreError::Value);
        }
        // A lookup first: the key exists after its first value, so no String is built per call.
        match self.scores.get_mut(metric) {
            Some(m) => m.add(value),
            None => {
                let mut m = Moments::default();
                m.add(value);
                self.scores.insert(metric.to_owned(), m);
            }
        }
        Ok(())
    }

    fn distribution(&mut self, slot: usize, x: Option<f64>) {
        let Some(x) = x else { return };
        let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
        self.builtin[slot].add(x);
        self.bucket_add(slot, bucket_of(x), 1);
    }

    fn bucket_add(&mut self, slot: usize, bucket: u32, count: u64) {
        let h = &mut self.histograms[slot - FIRST_DISTRIBUTION];
        if h.is_empty() {
            h.resize(BUCKET_COUNT as usize, 0);
        }
        h[bucket as usize] += count;
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.builtin.iter_mut().zip(&other.builtin) {
            mine.merge(theirs);
        }
        for (i, h) in other.histograms.iter().enumerate() {
            for (b, &c) in h.iter().enumerate().filter(|&(_, &c)| c > 0) {
                self.bucket_add(i + FIRST_DISTRIBUTION, b as u32, c);
            }
        }
        for (k, m) in &other.scores {
            self.scores.entry(k.clone()).or_default().merge(m);
        }
    }

    /// The metric's moments (zero when never seen).
    pub fn moments(&self, key: &str) -> Moments {
        match builtin_slot(key) {
            Some(i) => self.builtin[i],
            None => self.scores.get(key).copied().unwrap_or_default(),
        }
    }

    /// The metric's non-empty buckets, `(bucket, count)` in bucket order.
    pub fn histogram(&self, key: &str) -> impl Iterator<Item = (u32, u64)> + '_ {
        let h = builtin_slot(key)
            .filter(|&i| i >= FIRST_DISTRIBUTION)
            .map_or(&[][..], |i| &self.histograms[i - FIRST_DISTRIBUTION][..]);
        h.iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(b, &c)| (b as u32, c))
    }

    /// Requests counted.
    pub fn requests(&self) -> u64 {
        self.builtin[0].n
    }

    pub fn is_empty(&self) -> bool {
        self.requests() == 0 && self.scores.is_empty()
    }

    /// This tally as rows (a replica's pending delta, or totals); metrics never seen have none.
    pub fn to_delta(&self) -> Delta {
        let builtin = BUILTIN.iter().zip(&self.builtin).map(|(k, m)| (*k, m));
        let scores = self.scores.iter().map(|(k, m)| (k.as_str(), m));
        let moments = builtin
            .chain(scores)
            .filter(|(_, m)| m.n > 0)
            .map(|(k, m)| MomentRow {
                metric: k.to_owned(),
                n: m.n,
                sum: m.sum,
                sum_sq: m.sum_sq,
            })
            .collect();
        let buckets = BUILTIN[FIRST_DISTRIBUTION..]
            .iter()
            .flat_map(|k| {
                self.histogram(k).map(|(bucket, count)| BucketRow {
                    metric: (*k).to_owned(),
                    bucket,
                    count,
                })
            })
            .collect();
        Delta { moments, buckets }
    }

    /// The tally rows add up to (rows for the same metric or bucket are summed). Rows this
    /// version does not know (a metric key, a bucket past the last) are skipped, so an older
    /// replica reads a newer one's rows.
    pub fn from_delta(d: &Delta) -> Tally {
        let mut t = Tally::default();
        for r in &d.moments {
            let m = Moments {
                n: r.n,
                sum: r.sum,
                sum_sq: r.sum_sq,
            };
            match builtin_slot(&r.metric) {
                Some(i) => t.builtin[i].merge(&m),
                None if r.metric.starts_with("feedback:") || r.metric.starts_with("eval:") => {
                    t.scores.entry(r.metric.clone()).or_default().merge(&m);
                }
                None => {}
            }
        }
        for r in d.buckets.iter().filter(|r| r.bucket < BUCKET_COUNT) {
            if let Some(i) = builtin_slot(&r.metric).filter(|&i| i >= FIRST_DISTRIBUTION) {
                t.bucket_add(i, r.bucket, r.count);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn obs(error: bool, latency_ms: f64) -> Observation {
        Observation {
            error,
            latency_ms,
            ttft_ms: Some(latency_ms / 4.0),
            cost_usd: Some(0.0021),
            output_tokens: Some(120),
            ..Observation::default()
        }
    }

    #[test]
    fn buckets_are_five_percent_wide_and_hold_their_values() {
        for x in [
            0.0, 1e-9, 1e-7, 2e-7, 0.1, 1.0, 37.5, 1234.5, 600_000.0, 9.9e6, 1e12,
        ] {
            let b = bucket_of(x);
            assert!(bucket_lower(b) <= x && x < bucket_upper(b), "{x} in {b}");
            if b > 0 && b + 1 < BUCKET_COUNT {
                let width = bucket_upper(b) / bucket_lower(b);
                assert!((width - 1.05).abs() < 1e-9);
            }
        }
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(1e12), BUCKET_COUNT - 1);
        // Pinned: stored rows index these buckets.
        assert_eq!(bucket_of(1.0), 330);
        assert_eq!(bucket_of(250.0), 443);
    }

    #[test]
    fn merging_and_rows_add_up() {
        let mut a = Tally::default();
        let mut b = Tally::default();
        for i in 0..10 {
            a.observe(&obs(i == 3, 100.0 + f64::from(i)));
            b.observe(&obs(false, 250.0));
        }
        a.score("feedback:resolved", 1.0).unwrap();
        b.score("feedback:resolved", 0.0).unwrap();
        b.score("eval:faithful", 0.75).unwrap();

        let mut whole = a.clone();
        whole.merge(&b);
        assert_eq!(whole.requests(), 20);
        assert_eq!(whole.moments(keys::ERROR).sum, 1.0);
        assert_eq!(whole.moments("feedback:resolved").n, 2);
        assert_eq!(
            whole
                .histogram(keys::LATENCY_MS)
                .map(|(_, c)| c)
                .sum::<u64>(),
            20
        );

        // Rows from two replicas, concatenated as a store would add them, give the same totals.
        let mut rows = a.to_delta();
        let more = b.to_delta();
        rows.moments.extend(more.moments);
        rows.buckets.extend(more.buckets);
        assert_eq!(Tally::from_delta(&rows), whole);

        let json = serde_json::to_string(&whole.to_delta()).unwrap();
        let back: Delta = serde_json::from_str(&json).unwrap();
        assert_eq!(Tally::from_delta(&back), whole);
    }

    #[test]
    fn scores_are_named_and_in_range() {
        let mut t = Tally::default();
        assert_eq!(t.score("feedback:ok", 1.0), Ok(()));
        assert_eq!(t.score("eval:x", 0.5), Ok(()));
        assert_eq!(t.score("ok", 1.0), Err(ScoreError::Metric));
        assert_eq!(t.score("feedback:", 1.0), Err(ScoreError::Metric));
        assert_eq!(t.score("feedback:ok", 1.5), Err(ScoreError::Value));
        assert_eq!(t.score("feedback:ok", f64::NAN), Err(ScoreError::Value));
        assert_eq!(t.moments("feedback:ok").n, 1);
    }
}
