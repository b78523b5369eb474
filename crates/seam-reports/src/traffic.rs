//! The traffic of a period, aggregated in one pass over the audit log: what the cost, what-if
//! and matrix reports stand on.
//!
//! [`scan`] streams the period's request facts ([`seam_store::AuditLog::scan_requests`]) into a
//! [`Traffic`]; a report that needs each request too (the hybrid simulation) passes a closure to
//! [`scan_with`]. Memory is bounded by the number of distinct aliases, routes, keys, teams, error
//! codes, days and minutes, never by the number of requests: latencies go into HDR histograms.
//!
//! What counts: `request` records are the traffic; a rollout's `shadow` copies are their own
//! line ([`Traffic::shadow`]) and in no other total. An aggregated refusal record counts as its
//! `count` requests.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use seam_store::{AuditLog, RequestFacts, StoreError};
use serde::Serialize;

pub const DAY_MS: i64 = 86_400_000;
pub const MINUTE_MS: i64 = 60_000;
/// Days in an average month (365.25 / 12): what a period's traffic is scaled to.
pub const MONTH_DAYS: f64 = 30.4375;
/// Latencies are kept in microseconds up to an hour, to three significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// `[since, until)`, Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since_ms: i64,
    pub until_ms: i64,
}

impl Period {
    /// `--since`/`--until` as [`seam_store::parse_time`] reads them; the default is the 30 days
    /// before `now_ms`.
    pub fn parse(since: Option<&str>, until: Option<&str>, now_ms: i64) -> Result<Period, String> {
        let until_ms = match until {
            Some(s) => seam_store::parse_time(s).map_err(|e| format!("--until: {e}"))?,
            None => now_ms,
        };
        let since_ms = match since {
            Some(s) => seam_store::parse_time(s).map_err(|e| format!("--since: {e}"))?,
            None => until_ms - 30 * DAY_MS,
        };
        if since_ms >= until_ms {
            return Err("--since must be before --until".to_owned());
        }
        Ok(Period { since_ms, until_ms })
    }

    pub fn days(&self) -> f64 {
        (self.until_ms - self.since_ms) as f64 / DAY_MS as f64
    }

    /// What multiplies the period's traffic into an average month: 30.4375 days over the
    /// period's length in days.
    pub fn month_factor(&self) -> f64 {
        MONTH_DAYS / self.days()
    }
}

/// Sums over a set of requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub requests: u64,
    /// Status ≥ 400.
    pub errors: u64,
    /// Every input token billed, cached ones included.
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub cache_hits: u64,
    /// Requests that cost something but whose target had no price.
    pub unpriced: u64,
    /// Requests that needed a second attempt on the same target.
    pub retried: u64,
    pub retried_cost_usd: f64,
    /// Requests answered by another target than the first one tried.
    pub fell_back: u64,
    pub fell_back_cost_usd: f64,
    /// Requests the input policy held to private targets.
    pub route_private: u64,
}

impl Totals {
    fn add(&mut self, f: &RequestFacts) {
        let n = u64::from(f.count);
        self.requests += n;
        if f.status >= 400 {
            self.errors += n;
        }
        self.input_tokens += f.usage.prompt_tokens;
        self.cached_tokens += f.usage.cached_tokens;
        self.output_tokens += f.usage.completion_tokens;
        let cost = f.cost_usd.unwrap_or(0.0);
        self.cost_usd += cost;
        if f.cost_usd.is_none() && f.status < 400 && !f.cache_hit {
            self.unpriced += n;
        }
        if f.cache_hit {
            self.cache_hits += n;
        }
        if f.retried {
            self.retried += n;
            self.retried_cost_usd += cost;
        }
        if f.fell_back {
            self.fell_back += n;
            self.fell_back_cost_usd += cost;
        }
        if f.route_private {
            self.route_private += n;
        }
    }

    /// Paid (not cached, answered) requests: what a cache hit would have cost is their mean.
    fn paid(&self) -> u64 {
        self.requests
            .saturating_sub(self.cache_hits)
            .saturating_sub(self.errors)
    }
}

/// One day or one minute of traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Slot {
    pub requests: u64,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Of the above, the requests the policy held private and their tokens.
    pub private_requests: u64,
    pub private_input_tokens: u64,
    pub private_output_tokens: u64,
}

impl Slot {
    fn add(&mut self, f: &RequestFacts) {
        self.requests += u64::from(f.count);
        self.input_tokens += f.usage.prompt_tokens;
        self.cached_tokens += f.usage.cached_tokens;
        self.output_tokens += f.usage.completion_tokens;
        self.cost_usd += f.cost_usd.unwrap_or(0.0);
        if f.route_private {
            self.private_requests += u64::from(f.count);
            self.private_input_tokens += f.usage.prompt_tokens;
            self.private_output_tokens += f.usage.completion_tokens;
        }
    }
}

/// Latency percentiles of a set of requests, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A latency histogram (microseconds).
#[derive(Clone, Debug)]
pub struct Latency(Option<Histogram<u64>>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).ok())
    }
}

impl Latency {
    pub fn record(&mut self, ms: f64) {
        if let Some(h) = &mut self.0
            && ms.is_finite()
            && ms >= 0.0
        {
            let us = ((ms * 1000.0).round() as u64).clamp(1, MAX_LATENCY_US);
            let _ = h.record(us);
        }
    }

    pub fn percentiles(&self) -> Percentiles {
        match &self.0 {
            Some(h) if !h.is_empty() => {
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                Percentiles {
                    count: h.len(),
                    p50_ms: ms(0.50),
                    p95_ms: ms(0.95),
                    p99_ms: ms(0.99),
                    max_ms: h.max() as f64 / 1000.0,
                }
            }
            _ => Percentiles::default(),
        }
    }
}

/// The period's traffic, aggregated.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub period: Period,
    /// Every `request` record (shadows excluded).
    pub totals: Totals,
    /// Rollout shadow copies: real spend, no client.
    pub shadow: Totals,
    /// By the model as asked for (`(none)` when the record has none).
    pub by_alias: BTreeMap<String, Totals>,
    /// By the target that answered, `provider/model` (`(none)` for refusals).
    pub by_route: BTreeMap<String, Totals>,
    /// By alias, then route: the mean cost of a paid request, which prices cache hits.
    pub by_alias_route: BTreeMap<String, BTreeMap<String, Totals>>,
    pub by_key: BTreeMap<String, Totals>,
    pub by_team: BTreeMap<String, Totals>,
    /// By vendor (the route's provider).
    pub by_provider: BTreeMap<String, Totals>,
    /// Error code → requests.
    pub errors: BTreeMap<String, u64>,
    /// UTC day (ms of its midnight) → traffic.
    pub days: BTreeMap<i64, Slot>,
    /// Minute (ms of its start) → traffic.
    pub minutes: BTreeMap<i64, Slot>,
    /// Arrival to last byte, answered requests (not cache hits).
    pub latency: Latency,
    pub ttft: Latency,
    pub latency_by_route: BTreeMap<String, Latency>,
}

const NONE: &str = "(none)";

/// Adds `f` to `m[k]` without allocating the key when it is already there (the common case).
fn bump(m: &mut BTreeMap<String, Totals>, k: Option<&str>, f: &RequestFacts) {
    let k = k.unwrap_or(NONE);
    match m.get_mut(k) {
        Some(t) => t.add(f),
        None => {
            let mut t = Totals::default();
            t.add(f);
            m.insert(k.to_owned(), t);
        }
    }
}

impl Traffic {
    pub fn new(period: Period) -> Traffic {
        Traffic {
            period,
            totals: Totals::default(),
            shadow: Totals::default(),
            by_alias: BTreeMap::new(),
            by_route: BTreeMap::new(),
            by_alias_route: BTreeMap::new(),
            by_key: BTreeMap::new(),
            by_team: BTreeMap::new(),
            by_provider: BTreeMap::new(),
            errors: BTreeMap::new(),
            days: BTreeMap::new(),
            minutes: BTreeMap::new(),
            latency: Latency::default(),
            ttft: Latency::default(),
            latency_by_route: BTreeMap::new(),
        }
    }

    /// Adds one request.
    pub fn add(&mut self, f: &RequestFacts) {
        if f.shadow {
            self.shadow.add(f);
            return;
        }
        self.totals.add(f);
        bump(&mut self.by_alias, f.alias.as_deref(), f);
        bump(&mut self.by_route, f.route.as_deref(), f);
        bump(&mut self.by_key, f.key_id.as_deref(), f);
        bump(&mut self.by_team, f.team.as_deref(), f);
        let provider = f.route.as_deref().map(|r| r.split('/').next().unwrap_or(r));
        bump(&mut self.by_provider, provider, f);
        let alias = f.alias.as_deref().unwrap_or(NONE);
        match self.by_alias_route.get_mut(alias) {
            Some(routes) => bump(routes, f.route.as_deref(), f),
            None => {
                let mut routes = BTreeMap::new();
                bump(&mut routes, f.route.as_deref(), f);
                self.by_alias_route.insert(alias.to_owned(), routes);
            }
        }
        if let Some(code) = &f.error_code {
            *self.errors.entry(code.clone()).or_default() += u64::from(f.count);
        }
        self.days
            .entry(f.time_ms.div_euclid(DAY_MS) * DAY_MS)
            .or_default()
            .add(f);
        self.minutes
            .entry(f.time_ms.div_euclid(MINUTE_MS) * MINUTE_MS)
            .or_default()
            .add(f);
        if f.status < 400 && !f.cache_hit {
            self.latency.record(f.latency_ms);
            if let Some(t) = f.ttft_ms {
                self.ttft.record(t);
            }
            if let Some(r) = &f.route {
                match self.latency_by_route.get_mut(r.as_str()) {
                    Some(h) => h.record(f.latency_ms),
                    None => {
                        let mut h = Latency::default();
                        h.record(f.latency_ms);
                        self.latency_by_route.insert(r.clone(), h);
                    }
                }
            }
        }
    }

    /// What the cache saved: per `(alias, route)`, hits × the mean cost of that pair's paid
    /// requests in the period (a hit's own record carries no usage: it was never sent). Returns
    /// `(alias, route, hits, mean cost, saved)` rows and the total.
    pub fn cache_savings(&self) -> (Vec<CacheSaving>, f64) {
        let mut rows = Vec::new();
        let mut total = 0.0;
        let pairs = self
            .by_alias_route
            .iter()
            .flat_map(|(a, routes)| routes.iter().map(move |(r, t)| (a, r, t)));
        for (alias, route, t) in pairs {
            if t.cache_hits == 0 {
                continue;
            }
            let paid = t.paid();
            let mean = if paid == 0 {
                None
            } else {
                Some(t.cost_usd / paid as f64)
            };
            let saved = mean.map_or(0.0, |m| m * t.cache_hits as f64);
            total += saved;
            rows.push(CacheSaving {
                alias: alias.clone(),
                route: route.clone(),
                hits: t.cache_hits,
                mean_cost_usd: mean,
                saved_usd: saved,
            });
        }
        (rows, total)
    }

    /// Every UTC day from the first with traffic to the last, the quiet ones as zeros.
    pub fn daily(&self) -> Vec<(i64, Slot)> {
        let (Some((&first, _)), Some((&last, _))) =
            (self.days.first_key_value(), self.days.last_key_value())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut d = first;
        while d <= last {
            out.push((d, self.days.get(&d).copied().unwrap_or_default()));
            d += DAY_MS;
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheSaving {
    pub alias: String,
    pub route: String,
    pub hits: u64,
    /// `None` when the pair had no paid request to price a hit by.
    pub mean_cost_usd: Option<f64>,
    pub saved_usd: f64,
}

/// Scans the period into a [`Traffic`].
pub fn scan(log: &mut AuditLog, period: Period) -> Result<Traffic, StoreError> {
    scan_with(log, period, &mut |_| {})
}

/// [`scan`], calling `each` with every request too, in arrival (append) order.
pub fn scan_with(
    log: &mut AuditLog,
    period: Period,
    each: &mut dyn FnMut(&RequestFacts),
) -> Result<Traffic, StoreError> {
    let mut t = Traffic::new(period);
    log.scan_requests(period.since_ms, period.until_ms, &mut |f| {
        t.add(f);
        each(f);
    })?;
    Ok(t)
}

/// Mean, coefficient of variation, min, max and 95th percentile of a series (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    /// Population standard deviation over the mean; 0 for an empty or zero series.
    pub cv: f64,
    pub min: f64,
    pub max: f64,
    pub p95: f64,
}

pub fn spread(values: &[f64]) -> Spread {
    if values.is_empty() {
        return Spread::default();
    }
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1;
    Spread {
        n,
        mean,
        cv: if mean == 0.0 { 0.0 } else { var.sqrt() / mean },
        min: sorted[0],
        max: sorted[n - 1],
        p95: sorted[rank],
    }
}
