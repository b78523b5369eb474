//! What one load run measured: histograms while it runs, one JSON line (`LoadReport`) at the end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// Slowest value a histogram keeps exactly (60 s, in nanoseconds); slower ones are clamped.
const MAX_TRACKED_NS: u64 = 60_000_000_000;

/// Distinct values of a seam header counted by name; any further ones are counted as `other`.
const MAX_DISTINCT: usize = 16;

/// How one request went, as far as the histograms care.
pub struct Sample {
    /// From the scheduled start (open loop) or the send (closed loop) to the last body byte.
    pub latency: Duration,
    /// From the same origin to the first non-empty body frame; streams only.
    pub ttfc: Option<Duration>,
    /// seam's `x-seam-attempts`, `x-seam-route` and `x-seam-policy` headers, when the answer
    /// came through seam (the last only from an alias whose policy does something).
    pub attempts: Option<HeaderValue>,
    pub route: Option<HeaderValue>,
    pub policy: Option<HeaderValue>,
    /// An MCP answer whose text still carried the benchmark's email address (other surfaces'
    /// answers are not read: always false).
    pub with_email: bool,
}

/// Latency percentiles in milliseconds (microsecond resolution).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// Per percentile, the mean of two runs (the max: the larger); how two slots of one alias
    /// in the same run are combined.
    pub fn midpoint(a: Self, b: Self) -> Self {
        let mean = |x: f64, y: f64| (x + y) / 2.0;
        Self {
            p50: mean(a.p50, b.p50),
            p90: mean(a.p90, b.p90),
            p99: mean(a.p99, b.p99),
            p999: mean(a.p999, b.p999),
            max: a.max.max(b.max),
            mean: mean(a.mean, b.mean),
        }
    }

    /// Per percentile, `self − base` (the max and mean too).
    pub fn minus(self, base: Self) -> Self {
        Self {
            p50: self.p50 - base.p50,
            p90: self.p90 - base.p90,
            p99: self.p99 - base.p99,
            p999: self.p999 - base.p999,
            max: self.max - base.max,
            mean: self.mean - base.mean,
        }
    }
}

/// The JSON line `seam-bench load` prints and `seam-bench run` reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadReport {
    pub label: String,
    pub url: String,
    /// The `model` field the requests carried.
    #[serde(default)]
    pub model: String,
    /// `open` (fixed rate) or `closed` (fixed concurrency).
    pub mode: String,
    pub stream: bool,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    /// Seconds from the first measured request to the last completion.
    pub window_s: f64,
    /// Measured requests (warm-up excluded): `ok + errors`.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub throughput_rps: f64,
    pub latency_ms: Percentiles,
    pub ttfc_ms: Option<Percentiles>,
    /// Streams that ended with `data: [DONE]`; streams only.
    pub streams_with_done: Option<u64>,
    /// How late the scheduler dispatched requests (open loop only): the generator's own error.
    pub send_lag_ms: Option<Percentiles>,
    /// Ok answers by their `x-seam-attempts` header; empty when nothing came through seam.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seam_attempts: BTreeMap<String, u64>,
    /// Ok answers by their `x-seam-route` header (which target answered).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seam_routes: BTreeMap<String, u64>,
    /// Ok answers by their `x-seam-policy` header (what the policy did, entity counts only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seam_policies: BTreeMap<String, u64>,
    /// Ok MCP answers whose text still carried the email address of the mock's tool result
    /// (`mcp:` slots only; no other answer is read).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub with_email: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LoadReport {
    pub fn all_streams_done(&self) -> Option<bool> {
        self.streams_with_done.map(|done| done == self.requests)
    }

    /// Ok answers that carried an `x-seam-policy` header.
    pub fn with_policy_header(&self) -> u64 {
        self.seam_policies.values().sum()
    }
}

/// Collects outcomes of measured requests.
pub struct Recorder {
    latency: Histogram<u64>,
    ttfc: Histogram<u64>,
    send_lag: Histogram<u64>,
    ok: u64,
    error_kinds: BTreeMap<String, u64>,
    attempts: BTreeMap<String, u64>,
    routes: BTreeMap<String, u64>,
    policies: BTreeMap<String, u64>,
    with_email: u64,
    window_start: Instant,
    last_done: Option<Instant>,
}

impl Recorder {
    /// `window_start`: when the first measured request was due; throughput is counted from it.
    pub fn new(window_start: Instant) -> anyhow::Result<Self> {
        let histogram = || Histogram::<u64>::new_with_bounds(1, MAX_TRACKED_NS, 3);
        Ok(Self {
            latency: histogram()?,
            ttfc: histogram()?,
            send_lag: histogram()?,
            ok: 0,
            error_kinds: BTreeMap::new(),
            attempts: BTreeMap::new(),
            routes: BTreeMap::new(),
            policies: BTreeMap::new(),
            with_email: 0,
            window_start,
            last_done: None,
        })
    }

    pub fn record(&mut self, outcome: Result<Sample, String>, done_at: Instant) {
        self.last_done = Some(self.last_done.map_or(done_at, |last| last.max(done_at)));
        match outcome {
            Ok(sample) => {
                self.ok += 1;
                self.with_email += u64::from(sample.with_email);
                self.latency.saturating_record(nanos(sample.latency));
                if let Some(ttfc) = sample.ttfc {
                    self.ttfc.saturating_record(nanos(ttfc));
                }
                // Only through seam: direct answers carry neither header and leave both maps empty.
                if let Some(attempts) = &sample.attempts {
                    count(&mut self.attempts, attempts);
                }
                if let Some(route) = &sample.route {
                    count(&mut self.routes, route);
                }
                if let Some(policy) = &sample.policy {
                    count(&mut self.policies, policy);
                }
            }
            Err(kind) => *self.error_kinds.entry(kind).or_default() += 1,
        }
    }

    pub fn record_send_lag(&mut self, lag: Duration) {
        self.send_lag.saturating_record(nanos(lag));
    }

    /// The report; `shape` supplies what the recorder does not know (label, url, mode …).
    pub fn report(&self, shape: ReportShape) -> LoadReport {
        let errors: u64 = self.error_kinds.values().sum();
        let window = self.last_done.map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(self.window_start)
        });
        let window_s = window.as_secs_f64();
        let throughput_rps = if window_s > 0.0 {
            self.ok as f64 / window_s
        } else {
            0.0
        };
        LoadReport {
            label: shape.label,
            url: shape.url,
            model: shape.model,
            mode: if shape.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .to_owned(),
            stream: shape.stream,
            rate: shape.rate,
            concurrency: shape.concurrency,
            window_s,
            requests: self.ok + errors,
            ok: self.ok,
            errors,
            error_kinds: self.error_kinds.clone(),
            throughput_rps,
            latency_ms: percentiles(&self.latency),
            ttfc_ms: shape.stream.then(|| percentiles(&self.ttfc)),
            // A stream counts as ok only if it ended with [DONE] (see `load::send`).
            streams_with_done: shape.stream.then_some(self.ok),
            send_lag_ms: shape.rate.map(|_| percentiles(&self.send_lag)),
            seam_attempts: self.attempts.clone(),
            seam_routes: self.routes.clone(),
            seam_policies: self.policies.clone(),
            with_email: self.with_email,
        }
    }
}

/// One more answer with header value `value`; past `MAX_DISTINCT` distinct values, under `other`.
fn count(map: &mut BTreeMap<String, u64>, value: &HeaderValue) {
    let text = value.to_str().unwrap_or("(not text)");
    if let Some(n) = map.get_mut(text) {
        *n += 1;
    } else if map.len() < MAX_DISTINCT {
        map.insert(text.to_owned(), 1);
    } else {
        *map.entry("other".to_owned()).or_default() += 1;
    }
}

/// The run parameters a report repeats.
pub struct ReportShape {
    pub label: String,
    pub url: String,
    pub model: String,
    pub stream: bool,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |ns: u64| round_us(ns as f64 / 1e6);
    Percentiles {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: round_us(h.mean() / 1e6),
    }
}

/// Milliseconds rounded to whole microseconds, so the JSON does not pretend to nanoseconds.
fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(stream: bool, rate: Option<f64>) -> ReportShape {
        ReportShape {
            label: "t".into(),
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            model: "bench".into(),
            stream,
            rate,
            concurrency: None,
        }
    }

    #[test]
    fn percentiles_and_throughput_come_from_the_recorded_samples() {
        let start = Instant::now();
        let mut r = Recorder::new(start).unwrap();
        for i in 1..=1000u64 {
            let sample = Sample {
                latency: Duration::from_micros(i),
                ttfc: None,
                attempts: None,
                route: None,
                policy: None,
                with_email: false,
            };
            r.record(Ok(sample), start + Duration::from_millis(i));
        }
        r.record(Err("status_502".into()), start + Duration::from_millis(500));
        let report = r.report(shape(false, Some(1000.0)));
        assert_eq!(report.ok, 1000);
        assert_eq!(report.errors, 1);
        assert_eq!(report.requests, 1001);
        assert_eq!(report.error_kinds["status_502"], 1);
        assert!(
            (report.latency_ms.p50 - 0.5).abs() < 0.002,
            "{:?}",
            report.latency_ms
        );
        assert!(
            (report.latency_ms.p99 - 0.99).abs() < 0.002,
            "{:?}",
            report.latency_ms
        );
        assert!((report.throughput_rps - 1000.0).abs() < 1.0);
        assert!(report.ttfc_ms.is_none());
        assert!(report.send_lag_ms.is_some());
        assert_eq!(report.mode, "open");
    }

    #[test]
    fn a_stream_report_counts_streams_that_ended_with_done() {
        let start = Instant::now();
        let mut r = Recorder::new(start).unwrap();
        let sample = Sample {
            latency: Duration::from_millis(2),
            ttfc: Some(Duration::from_micros(300)),
            attempts: None,
            route: None,
            policy: None,
            with_email: false,
        };
        r.record(Ok(sample), start + Duration::from_millis(2));
        r.record(
            Err("stream_without_done".into()),
            start + Duration::from_millis(3),
        );
        let report = r.report(shape(true, None));
        assert_eq!(report.streams_with_done, Some(1));
        assert_eq!(report.all_streams_done(), Some(false));
        assert!((report.ttfc_ms.unwrap().p50 - 0.3).abs() < 0.001);
        assert_eq!(report.mode, "closed");
    }

    #[test]
    fn seam_headers_are_counted_by_value_with_a_bound_on_routes() {
        let start = Instant::now();
        let mut r = Recorder::new(start).unwrap();
        for i in 0..20 {
            let sample = Sample {
                latency: Duration::from_micros(100),
                ttfc: None,
                attempts: Some(HeaderValue::from_static("2")),
                route: Some(HeaderValue::from_str(&format!("p{}/m", i % 18)).unwrap()),
                policy: (i % 2 == 0).then(|| HeaderValue::from_static("policy=guard")),
                with_email: i < 3,
            };
            r.record(Ok(sample), start + Duration::from_millis(1));
        }
        let report = r.report(shape(false, Some(1000.0)));
        assert_eq!(report.seam_attempts, BTreeMap::from([("2".to_owned(), 20)]));
        // p0..p15 by name (p0 and p1 twice), p16 and p17 past the bound.
        assert_eq!(report.seam_routes.len(), MAX_DISTINCT + 1);
        assert_eq!(report.seam_routes["p0/m"], 2);
        assert_eq!(report.seam_routes["other"], 2);
        assert_eq!(report.with_policy_header(), 10);
        assert_eq!(report.with_email, 3);
        let line = serde_json::to_string(&report).unwrap();
        let back: LoadReport = serde_json::from_str(&line).unwrap();
        assert_eq!(back.seam_attempts, report.seam_attempts);
        assert_eq!(back.seam_policies, report.seam_policies);
    }

    #[test]
    fn the_report_round_trips_through_json() {
        let report = Recorder::new(Instant::now())
            .unwrap()
            .report(shape(true, Some(10.0)));
        let line = serde_json::to_string(&report).unwrap();
        let back: LoadReport = serde_json::from_str(&line).unwrap();
        assert_eq!(back.latency_ms, report.latency_ms);
        assert_eq!(back.label, "t");
    }
}
