//! `seam report whatif`: the period's measured traffic replayed against other paths.
//!
//! The period is scaled to an average month (30.4375 days) by `30.4375 / period days`.
//! - vendor: every answered request's tokens priced at the path's model, cached input at its
//!   cached price;
//! - self-hosted: each minute's GPU-seconds (input / prefill tokens/s + output / decode
//!   tokens/s) over what one GPU gives a minute at the target utilisation → the GPUs the peak
//!   (and the 99th percentile) minute needs, running all month;
//! - hybrid: [`Hybrid`] replays the requests minute by minute in arrival order: the requests
//!   the policy forces private (`route_private`) take the private GPUs first, then the rest in
//!   arrival order while capacity lasts; the remainder overflows to the vendor model.
//!
//! Fixed costs give 12- and 24-month TCO; break-even volumes and the sensitivity table scale
//! the traffic (a hybrid path's overflow at another volume is estimated per minute, as a fluid,
//! from the minute totals; at the measured volume it is the request-by-request replay).

use serde::Serialize;

use crate::doc::{Cell, Chart, ChartKind, Column, Report, Series, Table, Unit};
use crate::scenario::{Gpu, Path, PathKind, Scenarios, Vendor};
use crate::traffic::{MONTH_DAYS, Traffic};
use seam_store::RequestFacts;

/// Hours in an average month.
pub const MONTH_HOURS: f64 = MONTH_DAYS * 24.0;
/// Minutes a hybrid result lists by time when the forced-private load does not fit.
const LISTED_MINUTES: usize = 20;

/// The hybrid replay of one path: fed every request in arrival order.
#[derive(Clone, Debug)]
pub struct Hybrid {
    gpu: Gpu,
    gpus: u32,
    overflow: Vendor,
    minute: Option<i64>,
    /// The current minute's requests: (input, cached, output, forced private).
    pending: Vec<(u64, u64, u64, bool)>,
    pub result: HybridResult,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HybridResult {
    pub private_requests: u64,
    pub overflow_requests: u64,
    pub overflow_cost_usd: f64,
    pub forced_private_requests: u64,
    /// Forced-private requests beyond the private capacity of their minute.
    pub forced_unfit_requests: u64,
    pub unfit_minutes: u64,
    /// The first minutes (RFC 3339) where the forced-private load did not fit.
    pub unfit_minute_list: Vec<String>,
}

impl Hybrid {
    pub fn new(gpu: Gpu, gpus: u32, overflow: Vendor) -> Hybrid {
        Hybrid {
            gpu,
            gpus,
            overflow,
            minute: None,
            pending: Vec::new(),
            result: HybridResult::default(),
        }
    }

    /// Adds one request; shadows, cache hits and failures take no capacity.
    pub fn add(&mut self, f: &RequestFacts) {
        if f.shadow || f.cache_hit || f.status >= 400 {
            return;
        }
        let minute = f.time_ms.div_euclid(60_000);
        if self.minute != Some(minute) {
            self.flush();
            self.minute = Some(minute);
        }
        self.pending.push((
            f.usage.prompt_tokens,
            f.usage.cached_tokens,
            f.usage.completion_tokens,
            f.route_private,
        ));
    }

    /// Ends the replay; returns the result.
    pub fn finish(mut self) -> HybridResult {
        self.flush();
        self.result
    }

    fn flush(&mut self) {
        let capacity = self.gpu.per_minute() * f64::from(self.gpus);
        let mut used = 0.0;
        let mut unfit = false;
        let r = &mut self.result;
        for &(input, _, output, _) in self.pending.iter().filter(|p| p.3) {
            let need = self.gpu.seconds(input, output);
            r.forced_private_requests += 1;
            r.private_requests += 1;
            if used + need > capacity + 1e-9 {
                r.forced_unfit_requests += 1;
                unfit = true;
            }
            used += need;
        }
        for &(input, cached, output, _) in self.pending.iter().filter(|p| !p.3) {
            let need = self.gpu.seconds(input, output);
            if used + need <= capacity + 1e-9 {
                used += need;
                r.private_requests += 1;
            } else {
                r.overflow_requests += 1;
                r.overflow_cost_usd += self.overflow.price.cost(input, cached, output);
            }
        }
        if unfit {
            r.unfit_minutes += 1;
            if r.unfit_minute_list.len() < LISTED_MINUTES
                && let Some(m) = self.minute
            {
                r.unfit_minute_list.push(seam_store::rfc3339(m * 60_000));
            }
        }
        self.pending.clear();
    }
}

/// One path's outcome at the measured volume.
#[derive(Clone, Debug, Serialize)]
pub struct PathResult {
    pub name: String,
    pub kind: &'static str,
    /// Variable cost (tokens, GPUs) per month.
    pub variable_usd_per_month: f64,
    /// Engineering and platform per month.
    pub fixed_usd_per_month: f64,
    pub setup_usd: f64,
    pub usd_per_month: f64,
    pub tco_12_months_usd: f64,
    pub tco_24_months_usd: f64,
    /// Total per million tokens (input + output) at the measured load.
    pub usd_per_mtok: Option<f64>,
    /// Self-hosted and hybrid: GPUs running.
    pub gpus: Option<u32>,
    /// Self-hosted: the GPUs the peak and the 99th-percentile minute need.
    pub gpus_peak_minute: Option<u32>,
    pub gpus_p99_minute: Option<u32>,
    pub hybrid: Option<HybridResult>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BreakEven {
    pub a: String,
    pub b: String,
    /// Monthly volume (million tokens, input + output) where the two cost the same, with
    /// which is cheaper below it; `None` when one is cheaper throughout 0.01× to 100×.
    pub mtok_per_month: Option<f64>,
    pub cheaper_below: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Sensitivity {
    pub name: String,
    pub base: f64,
    pub traffic_half: f64,
    pub traffic_one_and_half: f64,
    pub prices_down: f64,
    pub prices_up: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct WhatifData {
    pub since: String,
    pub until: String,
    pub period_days: f64,
    pub month_factor: f64,
    pub measured: Measured,
    pub price_change_pct: f64,
    pub paths: Vec<PathResult>,
    pub break_even: Vec<BreakEven>,
    pub sensitivity: Vec<Sensitivity>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub requests: u64,
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub tokens_per_month: f64,
    pub peak_minute_requests: u64,
    pub route_private_requests: u64,
}

/// One GPU path's view of the minutes, computed once: each minute's GPU-seconds `d` and (for a
/// hybrid path) the vendor cost `c` of its tokens, sorted by `d` descending with prefix sums, so
/// any volume's peak and fluid overflow are a lookup rather than a pass over every minute.
#[derive(Default)]
struct Profile {
    /// GPU-seconds of each minute with traffic, descending.
    demand: Vec<f64>,
    /// Prefix sums of `c` and of `c / d` in that order.
    cost: Vec<f64>,
    cost_per_second: Vec<f64>,
}

impl Profile {
    fn new(t: &Traffic, gpu: &Gpu, vendor: Option<&Vendor>) -> Profile {
        let mut m: Vec<(f64, f64)> = t
            .minutes
            .values()
            .map(|s| {
                let d = gpu.seconds(s.input_tokens, s.output_tokens);
                let c = vendor.map_or(0.0, |v| {
                    v.price
                        .cost(s.input_tokens, s.cached_tokens, s.output_tokens)
                });
                (d, c)
            })
            .filter(|(d, _)| *d > 0.0)
            .collect();
        m.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut p = Profile {
            demand: Vec::with_capacity(m.len()),
            cost: Vec::with_capacity(m.len() + 1),
            cost_per_second: Vec::with_capacity(m.len() + 1),
        };
        p.cost.push(0.0);
        p.cost_per_second.push(0.0);
        let (mut c_sum, mut cd_sum) = (0.0, 0.0);
        for (d, c) in m {
            c_sum += c;
            cd_sum += c / d;
            p.demand.push(d);
            p.cost.push(c_sum);
            p.cost_per_second.push(cd_sum);
        }
        p
    }

    fn peak(&self) -> f64 {
        self.demand.first().copied().unwrap_or(0.0)
    }

    /// The `q` quantile of the minutes' demand (nearest rank).
    fn quantile(&self, q: f64) -> f64 {
        let n = self.demand.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.demand[n - rank]
    }

    /// The vendor cost of what overflows `capacity` GPU-seconds a minute at `v` × the traffic:
    /// per minute over capacity, the share above it, Σ c·v·(1 − cap / (d·v)).
    fn overflow(&self, capacity: f64, v: f64) -> f64 {
        if v <= 0.0 {
            return 0.0;
        }
        let k = self.demand.partition_point(|d| d * v > capacity);
        v * self.cost[k] - capacity * self.cost_per_second[k]
    }
}

fn gpus_for(demand_s: f64, gpu: &Gpu) -> u32 {
    let n = (demand_s / gpu.per_minute() - 1e-9).ceil();
    if n.is_finite() && n > 0.0 {
        n.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

struct Model<'a> {
    t: &'a Traffic,
    month: f64,
}

impl Model<'_> {
    /// Variable cost per month of `kind` at `v` × the measured traffic and `p` × vendor prices,
    /// and the GPUs it runs.
    fn variable(
        &self,
        kind: &PathKind,
        profile: &Profile,
        v: f64,
        p: f64,
        measured: Option<&HybridResult>,
    ) -> (f64, Option<u32>) {
        let s = &self.t.totals;
        match kind {
            PathKind::Vendor(vendor) => (
                vendor
                    .price
                    .cost(s.input_tokens, s.cached_tokens, s.output_tokens)
                    * self.month
                    * v
                    * p,
                None,
            ),
            PathKind::SelfHosted { gpu, min_gpus } => {
                let n = gpus_for(profile.peak() * v, gpu).max(*min_gpus).max(1);
                (f64::from(n) * gpu.usd_per_hour * MONTH_HOURS, Some(n))
            }
            PathKind::Hybrid { gpu, gpus, .. } => {
                let fixed = f64::from(*gpus) * gpu.usd_per_hour * MONTH_HOURS;
                let over = match measured {
                    Some(h) if v == 1.0 => h.overflow_cost_usd,
                    _ => profile.overflow(gpu.per_minute() * f64::from(*gpus), v),
                };
                (fixed + over * self.month * p, Some(*gpus))
            }
        }
    }
}

fn profile(t: &Traffic, kind: &PathKind) -> Profile {
    match kind {
        PathKind::Vendor(_) => Profile::default(),
        PathKind::SelfHosted { gpu, .. } => Profile::new(t, gpu, None),
        PathKind::Hybrid { gpu, overflow, .. } => Profile::new(t, gpu, Some(overflow)),
    }
}

/// Runs the replay: call [`Whatif::add`] with every request of the scan, then [`Whatif::report`].
pub struct Whatif {
    pub scenarios: Scenarios,
    hybrids: Vec<Option<Hybrid>>,
}

impl Whatif {
    pub fn new(scenarios: Scenarios) -> Whatif {
        let hybrids = scenarios
            .paths
            .iter()
            .map(|p| match &p.kind {
                PathKind::Hybrid {
                    gpu,
                    gpus,
                    overflow,
                } => Some(Hybrid::new(*gpu, *gpus, overflow.clone())),
                _ => None,
            })
            .collect();
        Whatif { scenarios, hybrids }
    }

    pub fn add(&mut self, f: &RequestFacts) {
        for h in self.hybrids.iter_mut().flatten() {
            h.add(f);
        }
    }

    pub fn data(self, t: &Traffic) -> WhatifData {
        let month = t.period.month_factor();
        let model = Model { t, month };
        let profiles: Vec<Profile> = self
            .scenarios
            .paths
            .iter()
            .map(|p| profile(t, &p.kind))
            .collect();
        let s = &t.totals;
        let tokens_month = (s.input_tokens + s.output_tokens) as f64 * month;
        let hybrids: Vec<Option<HybridResult>> = self
            .hybrids
            .into_iter()
            .map(|h| h.map(Hybrid::finish))
            .collect();
        let mut paths = Vec::new();
        for ((p, h), pr) in self.scenarios.paths.iter().zip(&hybrids).zip(&profiles) {
            paths.push(result(&model, p, pr, h.as_ref(), tokens_month));
        }
        let mut break_even = Vec::new();
        for i in 0..self.scenarios.paths.len() {
            for j in i + 1..self.scenarios.paths.len() {
                break_even.push(crossing(
                    &model,
                    (&self.scenarios.paths[i], &profiles[i]),
                    (&self.scenarios.paths[j], &profiles[j]),
                    tokens_month,
                ));
            }
        }
        let x = self.scenarios.price_change_pct / 100.0;
        let sensitivity = self
            .scenarios
            .paths
            .iter()
            .zip(&hybrids)
            .zip(&profiles)
            .map(|((p, h), pr)| {
                let at = |v: f64, pm: f64| {
                    model.variable(&p.kind, pr, v, pm, h.as_ref()).0 + p.fixed.monthly()
                };
                Sensitivity {
                    name: p.name.clone(),
                    base: at(1.0, 1.0),
                    traffic_half: at(0.5, 1.0),
                    traffic_one_and_half: at(1.5, 1.0),
                    prices_down: at(1.0, 1.0 - x),
                    prices_up: at(1.0, 1.0 + x),
                }
            })
            .collect();
        let peak = t.minutes.values().map(|m| m.requests).max().unwrap_or(0);
        WhatifData {
            since: seam_store::rfc3339(t.period.since_ms),
            until: seam_store::rfc3339(t.period.until_ms),
            period_days: t.period.days(),
            month_factor: month,
            measured: Measured {
                requests: s.requests,
                cost_usd: s.cost_usd,
                input_tokens: s.input_tokens,
                cached_tokens: s.cached_tokens,
                output_tokens: s.output_tokens,
                tokens_per_month: tokens_month,
                peak_minute_requests: peak,
                route_private_requests: s.route_private,
            },
            price_change_pct: self.scenarios.price_change_pct,
            paths,
            break_even,
            sensitivity,
        }
    }
}

fn result(
    m: &Model<'_>,
    p: &Path,
    pr: &Profile,
    h: Option<&HybridResult>,
    tokens_month: f64,
) -> PathResult {
    let (variable, gpus) = m.variable(&p.kind, pr, 1.0, 1.0, h);
    let fixed = p.fixed.monthly();
    let monthly = variable + fixed;
    let (peak, p99) = match &p.kind {
        PathKind::SelfHosted { gpu, .. } => (
            Some(gpus_for(pr.peak(), gpu)),
            Some(gpus_for(pr.quantile(0.99), gpu)),
        ),
        _ => (None, None),
    };
    PathResult {
        name: p.name.clone(),
        kind: p.kind.name(),
        variable_usd_per_month: variable,
        fixed_usd_per_month: fixed,
        setup_usd: p.fixed.setup_usd,
        usd_per_month: monthly,
        tco_12_months_usd: p.fixed.setup_usd + 12.0 * monthly,
        tco_24_months_usd: p.fixed.setup_usd + 24.0 * monthly,
        usd_per_mtok: (tokens_month > 0.0).then(|| monthly / (tokens_month / 1e6)),
        gpus,
        gpus_peak_minute: peak,
        gpus_p99_minute: p99,
        hybrid: h.cloned(),
    }
}

/// Where two paths' monthly costs cross, searched over 0.01× to 100× the measured volume
/// (geometric steps, then bisection).
fn crossing(
    m: &Model<'_>,
    (a, pa): (&Path, &Profile),
    (b, pb): (&Path, &Profile),
    tokens_month: f64,
) -> BreakEven {
    let diff = |v: f64| {
        (m.variable(&a.kind, pa, v, 1.0, None).0 + a.fixed.monthly())
            - (m.variable(&b.kind, pb, v, 1.0, None).0 + b.fixed.monthly())
    };
    let steps = 400;
    let lo_v = 0.01f64;
    let ratio = (100.0f64 / lo_v).powf(1.0 / f64::from(steps));
    let mut prev_v = lo_v;
    let mut prev = diff(prev_v);
    let mut found = None;
    for _ in 0..steps {
        let v = prev_v * ratio;
        let d = diff(v);
        if prev != 0.0 && d.signum() != prev.signum() {
            let (mut lo, mut hi) = (prev_v, v);
            for _ in 0..40 {
                let mid = (lo + hi) / 2.0;
                if diff(mid).signum() == prev.signum() {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found = Some(((lo + hi) / 2.0, prev));
            break;
        }
        prev_v = v;
        prev = d;
    }
    BreakEven {
        a: a.name.clone(),
        b: b.name.clone(),
        mtok_per_month: found.map(|(v, _)| v * tokens_month / 1e6),
        cheaper_below: found.map(|(_, d)| {
            if d < 0.0 {
                a.name.clone()
            } else {
                b.name.clone()
            }
        }),
    }
}

/// The what-if report.
pub fn report(d: &WhatifData, generated: &str, scenario_file: &str) -> Report {
    let mut r = Report::new("whatif", "What-if report", generated);
    r.subtitle = Some(format!(
        "{} to {} (UTC), scenarios from {scenario_file}",
        d.since, d.until
    ));
    let m = &d.measured;
    let int = |n: u64| Cell::Int(i64::try_from(n).unwrap_or(i64::MAX));
    r.section("Measured traffic")
        .facts(vec![
            ("Requests".into(), int(m.requests)),
            ("Spend in the period".into(), Cell::Usd(m.cost_usd)),
            ("Input tokens".into(), int(m.input_tokens)),
            ("Cached input tokens".into(), int(m.cached_tokens)),
            ("Output tokens".into(), int(m.output_tokens)),
            ("Busiest minute (requests)".into(), int(m.peak_minute_requests)),
            ("Forced private by policy".into(), int(m.route_private_requests)),
            ("Tokens per month (scaled)".into(), Cell::Num(m.tokens_per_month, 0)),
        ])
        .note(format!(
            "The period is {:.2} days; monthly figures multiply it by 30.4375 / {:.2} = {:.4} (an average month).",
            d.period_days, d.period_days, d.month_factor
        ));

    let mut t = Table::new(vec![
        Column::left("Path"),
        Column::left("Kind"),
        Column::right("Variable / month"),
        Column::right("Fixed / month"),
        Column::right("Setup"),
        Column::right("12-month TCO"),
        Column::right("24-month TCO"),
        Column::right("$ / Mtok"),
        Column::right("GPUs"),
    ]);
    for p in &d.paths {
        t.row(vec![
            Cell::text(&p.name),
            Cell::text(p.kind),
            Cell::Usd(p.variable_usd_per_month),
            Cell::Usd(p.fixed_usd_per_month),
            Cell::Usd(p.setup_usd),
            Cell::Usd(p.tco_12_months_usd),
            Cell::Usd(p.tco_24_months_usd),
            p.usd_per_mtok.map_or(Cell::Empty, Cell::Usd),
            p.gpus.map_or(Cell::Empty, |g| Cell::Int(i64::from(g))),
        ]);
    }
    let paths = r.section("Paths");
    paths.table(t);
    paths.chart(Chart {
        title: "TCO by path".into(),
        kind: ChartKind::Bars,
        unit: Unit::Usd,
        x: d.paths.iter().map(|p| p.name.clone()).collect(),
        series: vec![
            Series {
                name: "12 months".into(),
                values: d.paths.iter().map(|p| p.tco_12_months_usd).collect(),
            },
            Series {
                name: "24 months".into(),
                values: d.paths.iter().map(|p| p.tco_24_months_usd).collect(),
            },
        ],
    });

    for p in &d.paths {
        if let (Some(peak), Some(p99)) = (p.gpus_peak_minute, p.gpus_p99_minute) {
            r.section(format!("Self-hosted: {}", p.name)).facts(vec![
                (
                    "GPUs the peak minute needs".into(),
                    Cell::Int(i64::from(peak)),
                ),
                (
                    "GPUs the p99 minute needs".into(),
                    Cell::Int(i64::from(p99)),
                ),
                (
                    "GPUs planned".into(),
                    p.gpus.map_or(Cell::Empty, |g| Cell::Int(i64::from(g))),
                ),
            ]);
        }
        if let Some(h) = &p.hybrid {
            let total = h.private_requests + h.overflow_requests;
            let sec = r.section(format!("Hybrid: {}", p.name));
            sec.facts(vec![
                ("Served on the private GPUs".into(), int(h.private_requests)),
                ("Overflowed to the vendor".into(), int(h.overflow_requests)),
                (
                    "Overflow share".into(),
                    if total > 0 {
                        Cell::Pct(h.overflow_requests as f64 / total as f64)
                    } else {
                        Cell::Empty
                    },
                ),
                (
                    "Overflow spend in the period".into(),
                    Cell::Usd(h.overflow_cost_usd),
                ),
                (
                    "Forced private by policy".into(),
                    if total > 0 {
                        Cell::Pct(h.forced_private_requests as f64 / total as f64)
                    } else {
                        Cell::Empty
                    },
                ),
                ("Minutes where they do not fit".into(), int(h.unfit_minutes)),
            ]);
            if h.unfit_minutes == 0 {
                sec.text("The forced-private load fits in the private capacity in every minute.");
            } else {
                sec.text(format!(
                    "The forced-private load exceeds the private capacity in {} minutes, first: {}.",
                    h.unfit_minutes,
                    h.unfit_minute_list.join(", ")
                ));
            }
        }
    }

    let mut be = Table::new(vec![
        Column::left("Paths"),
        Column::right("Break-even (Mtok / month)"),
        Column::left("Cheaper below it"),
    ]);
    for b in &d.break_even {
        be.row(vec![
            Cell::text(format!("{} vs {}", b.a, b.b)),
            b.mtok_per_month.map_or(Cell::Empty, |v| Cell::Num(v, 1)),
            b.cheaper_below.clone().map_or(Cell::Empty, Cell::Text),
        ]);
    }
    r.section("Break-even volume")
        .table(be)
        .note("Searched from 0.01× to 100× the measured monthly volume; a dash: one path is cheaper throughout.");

    let x = d.price_change_pct;
    let mut st = Table::new(vec![
        Column::left("Path (cost / month)"),
        Column::right("Measured"),
        Column::right("Traffic ×0.5"),
        Column::right("Traffic ×1.5"),
        Column::right(format!("Vendor prices −{x} %")),
        Column::right(format!("Vendor prices +{x} %")),
    ]);
    for s in &d.sensitivity {
        st.row(vec![
            Cell::text(&s.name),
            Cell::Usd(s.base),
            Cell::Usd(s.traffic_half),
            Cell::Usd(s.traffic_one_and_half),
            Cell::Usd(s.prices_down),
            Cell::Usd(s.prices_up),
        ]);
    }
    r.section("Sensitivity").table(st);

    r.data = serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
    r
}
