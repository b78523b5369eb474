//! `seam report cost`: where the period's money went and how predictable the bill is.
//!
//! Everything comes from one [`Traffic`] scan: spend, tokens and requests by alias, model (the
//! route that answered), key and team; what the cache saved; what retries and fallbacks cost;
//! the daily series with its variability; errors; latency percentiles.

use serde::Serialize;

use crate::doc::{Cell, Chart, ChartKind, Column, Report, Series, Table, Unit};
use crate::traffic::{CacheSaving, Percentiles, Slot, Spread, Totals, Traffic, spread};

/// The report's numbers, its JSON `data`.
#[derive(Clone, Debug, Serialize)]
pub struct CostData {
    pub since: String,
    pub until: String,
    pub totals: Totals,
    pub shadow: Totals,
    pub by_alias: Vec<Named>,
    pub by_model: Vec<Named>,
    pub by_key: Vec<Named>,
    pub by_team: Vec<Named>,
    pub cache: CacheData,
    pub daily: Vec<Day>,
    pub variability: Variability,
    pub errors: Vec<ErrorCount>,
    pub latency: Percentiles,
    pub ttft: Percentiles,
}

#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Clone, Debug, Serialize)]
pub struct CacheData {
    pub hits: u64,
    pub saved_usd: f64,
    pub by_pair: Vec<CacheSaving>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    #[serde(flatten)]
    pub slot: Slot,
}

/// How predictable the daily bill is.
#[derive(Clone, Debug, Serialize)]
pub struct Variability {
    #[serde(flatten)]
    pub spread: Spread,
    pub min_day: Option<String>,
    pub max_day: Option<String>,
    /// The last 7 days' spend over the 7 before, minus one; `None` under 14 days or with no
    /// spend in the earlier week.
    pub week_over_week: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorCount {
    pub code: String,
    pub requests: u64,
}

pub fn day_name(ms: i64) -> String {
    seam_store::rfc3339(ms).chars().take(10).collect()
}

fn named(m: &std::collections::BTreeMap<String, Totals>) -> Vec<Named> {
    let mut v: Vec<Named> = m
        .iter()
        .map(|(k, t)| Named {
            name: k.clone(),
            totals: t.clone(),
        })
        .collect();
    v.sort_by(|a, b| {
        b.totals
            .cost_usd
            .total_cmp(&a.totals.cost_usd)
            .then(b.totals.requests.cmp(&a.totals.requests))
            .then(a.name.cmp(&b.name))
    });
    v
}

/// The numbers, computed once; [`report`] lays them out.
pub fn data(t: &Traffic) -> CostData {
    let daily: Vec<Day> = t
        .daily()
        .into_iter()
        .map(|(d, slot)| Day {
            day: day_name(d),
            slot,
        })
        .collect();
    let costs: Vec<f64> = daily.iter().map(|d| d.slot.cost_usd).collect();
    let sp = spread(&costs);
    let pick = |v: f64| {
        daily
            .iter()
            .find(|d| d.slot.cost_usd == v)
            .map(|d| d.day.clone())
    };
    let week_over_week = (costs.len() >= 14)
        .then(|| {
            let n = costs.len();
            let last: f64 = costs[n - 7..].iter().sum();
            let prev: f64 = costs[n - 14..n - 7].iter().sum();
            (prev > 0.0).then(|| last / prev - 1.0)
        })
        .flatten();
    let (by_pair, saved_usd) = t.cache_savings();
    let mut errors: Vec<ErrorCount> = t
        .errors
        .iter()
        .map(|(c, n)| ErrorCount {
            code: c.clone(),
            requests: *n,
        })
        .collect();
    errors.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.code.cmp(&b.code)));
    CostData {
        since: seam_store::rfc3339(t.period.since_ms),
        until: seam_store::rfc3339(t.period.until_ms),
        totals: t.totals.clone(),
        shadow: t.shadow.clone(),
        by_alias: named(&t.by_alias),
        by_model: named(&t.by_route),
        by_key: named(&t.by_key),
        by_team: named(&t.by_team),
        cache: CacheData {
            hits: t.totals.cache_hits,
            saved_usd,
            by_pair,
        },
        variability: Variability {
            min_day: pick(sp.min),
            max_day: pick(sp.max),
            spread: sp,
            week_over_week,
        },
        daily,
        errors,
        latency: t.latency.percentiles(),
        ttft: t.ttft.percentiles(),
    }
}

fn share(part: f64, whole: f64) -> Cell {
    if whole > 0.0 {
        Cell::Pct(part / whole)
    } else {
        Cell::Empty
    }
}

fn int(n: u64) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn breakdown(title: &str, rows: &[Named], total: f64) -> Table {
    let mut t = Table::new(vec![
        Column::left(title),
        Column::right("Requests"),
        Column::right("Input tokens"),
        Column::right("Cached tokens"),
        Column::right("Output tokens"),
        Column::right("Spend"),
        Column::right("Share"),
    ]);
    for r in rows {
        t.row(vec![
            Cell::text(&r.name),
            int(r.totals.requests),
            int(r.totals.input_tokens),
            int(r.totals.cached_tokens),
            int(r.totals.output_tokens),
            Cell::Usd(r.totals.cost_usd),
            share(r.totals.cost_usd, total),
        ]);
    }
    t
}

/// The cost report of `t`, generated at `generated` (RFC 3339).
pub fn report(t: &Traffic, generated: &str) -> Report {
    let d = data(t);
    let mut r = Report::new("cost", "Cost report", generated);
    r.subtitle = Some(format!("{} to {} (UTC)", d.since, d.until));
    let s = &d.totals;
    r.section("Totals").facts(vec![
        ("Requests".into(), int(s.requests)),
        ("Errors".into(), int(s.errors)),
        ("Spend".into(), Cell::Usd(s.cost_usd)),
        ("Input tokens".into(), int(s.input_tokens)),
        ("Cached input tokens".into(), int(s.cached_tokens)),
        ("Output tokens".into(), int(s.output_tokens)),
        ("Cache hits".into(), int(s.cache_hits)),
        ("Saved by the cache".into(), Cell::Usd(d.cache.saved_usd)),
        (
            "Spend on retried requests".into(),
            Cell::Usd(s.retried_cost_usd),
        ),
        (
            "Spend on requests that fell back".into(),
            Cell::Usd(s.fell_back_cost_usd),
        ),
        (
            "Shadow copies (rollouts)".into(),
            Cell::Usd(d.shadow.cost_usd),
        ),
    ]);
    if s.unpriced > 0 {
        r.sections[0].note(format!(
            "{} answered requests went to targets with no price and count as $0.",
            s.unpriced
        ));
    }

    let days = r.section("Daily spend");
    days.chart(Chart {
        title: "Spend per day (UTC)".into(),
        kind: ChartKind::Line,
        unit: Unit::Usd,
        x: d.daily.iter().map(|x| x.day.clone()).collect(),
        series: vec![Series {
            name: "Spend".into(),
            values: d.daily.iter().map(|x| x.slot.cost_usd).collect(),
        }],
    });
    let v = &d.variability;
    days.facts(vec![
        (
            "Days".into(),
            Cell::Int(i64::try_from(v.spread.n).unwrap_or(0)),
        ),
        ("Mean per day".into(), Cell::Usd(v.spread.mean)),
        ("Coefficient of variation".into(), Cell::Num(v.spread.cv, 3)),
        (
            format!("Lowest day ({})", v.min_day.as_deref().unwrap_or("—")),
            Cell::Usd(v.spread.min),
        ),
        (
            format!("Highest day ({})", v.max_day.as_deref().unwrap_or("—")),
            Cell::Usd(v.spread.max),
        ),
        ("95th percentile day".into(), Cell::Usd(v.spread.p95)),
        (
            "Week over week".into(),
            v.week_over_week.map_or(Cell::Empty, Cell::Pct),
        ),
    ]);
    days.note(
        "Days run from the first with traffic to the last, quiet days as $0. The coefficient of \
         variation is the standard deviation of daily spend over its mean: under 0.2 the bill is \
         predictable, over 0.5 it is not.",
    );

    for (title, rows, col) in [
        ("By alias", &d.by_alias, "Alias"),
        ("By model", &d.by_model, "Model (route)"),
        ("By key", &d.by_key, "Key"),
        ("By team", &d.by_team, "Team"),
    ] {
        r.section(title).table(breakdown(col, rows, s.cost_usd));
    }

    let cache = r.section("Cache savings");
    let mut ct = Table::new(vec![
        Column::left("Alias"),
        Column::left("Route"),
        Column::right("Hits"),
        Column::right("Mean paid request"),
        Column::right("Saved"),
    ]);
    for p in &d.cache.by_pair {
        ct.row(vec![
            Cell::text(&p.alias),
            Cell::text(&p.route),
            int(p.hits),
            p.mean_cost_usd.map_or(Cell::Empty, Cell::Usd),
            Cell::Usd(p.saved_usd),
        ]);
    }
    cache.table(ct).note(
        "A hit was never sent, so its record carries no usage: each is priced at the mean cost \
         of the paid requests of the same alias and route in the period.",
    );

    r.section("Retries and fallbacks")
        .facts(vec![
            ("Requests retried on the same target".into(), int(s.retried)),
            ("Their spend".into(), Cell::Usd(s.retried_cost_usd)),
            ("Requests answered by a fallback".into(), int(s.fell_back)),
            ("Their spend".into(), Cell::Usd(s.fell_back_cost_usd)),
        ])
        .note(
            "Failed attempts are not billed by vendors and carry no usage in the log; this is the \
         spend of the requests that needed them.",
        );

    let errs = r.section("Errors");
    let mut et = Table::new(vec![
        Column::left("Error code"),
        Column::right("Requests"),
        Column::right("Share of requests"),
    ]);
    for e in &d.errors {
        et.row(vec![
            Cell::text(&e.code),
            int(e.requests),
            share(e.requests as f64, s.requests as f64),
        ]);
    }
    errs.table(et);

    let lat = |p: &Percentiles| {
        vec![
            int(p.count),
            Cell::Ms(p.p50_ms),
            Cell::Ms(p.p95_ms),
            Cell::Ms(p.p99_ms),
            Cell::Ms(p.max_ms),
        ]
    };
    let mut lt = Table::new(vec![
        Column::left(""),
        Column::right("Requests"),
        Column::right("p50"),
        Column::right("p95"),
        Column::right("p99"),
        Column::right("max"),
    ]);
    let mut row = vec![Cell::text("Latency (to last byte)")];
    row.extend(lat(&d.latency));
    lt.row(row);
    let mut row = vec![Cell::text("Time to first token")];
    row.extend(lat(&d.ttft));
    lt.row(row);
    r.section("Latency").table(lt);

    r.data = serde_json::to_value(&d).unwrap_or(serde_json::Value::Null);
    r
}
