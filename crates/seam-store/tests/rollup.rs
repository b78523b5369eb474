//! Rollups (issue 19): the console's aggregates, kept by appends and backfilled on upgrade, equal
//! what a scan of the same records computes; run against both backends like `audit.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::{Env, Kind, cfg};
use seam_store::rollup::{DAY_S, HOUR_S, Measures, SCORE_BINS};
use seam_store::*;

/// Midnight UTC, 2026-11-29.
const BASE: i64 = 1_795_910_400_000;

fn open(e: &Env) -> AuditLog {
    AuditLog::open(&cfg(e.backend.clone(), None)).unwrap()
}

/// A small deterministic generator (xorshift), so every run checks the same records.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn attempt(status: u16, error: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        target: "mock/m".to_owned(),
        status,
        latency_ms: 3.0,
        error: error.map(str::to_owned),
    }
}

/// `n` records over three days: several keys, models, statuses, kinds (some not counted),
/// findings, fallbacks and aggregated refusals. Costs are multiples of 1/1024 and latencies of
/// 1/4, so sums are exact whatever their order.
fn records(n: usize, seed: u64) -> Vec<AuditRecord> {
    let mut g = Rng(seed);
    (0..n)
        .map(|i| {
            let kind = match g.below(20) {
                0 => RecordKind::Feedback,
                1 => RecordKind::Opening,
                2 => RecordKind::Shadow,
                3 | 4 => RecordKind::ToolCall,
                _ => RecordKind::Request,
            };
            let mut r = AuditRecord::event(
                format!("r-{seed}-{i}"),
                kind,
                if kind == RecordKind::ToolCall {
                    "mcp"
                } else {
                    "chat"
                },
                BASE + g.below(3 * 86_400_000) as i64,
            );
            r.key_id =
                [None, Some("k1"), Some("k2"), Some("k3")][g.below(4) as usize].map(str::to_owned);
            r.model = Some(["gpt", "claude", "llama"][g.below(3) as usize].to_owned());
            r.subject = Some(format!("user-{}", g.below(5)));
            let roll = g.below(10);
            (r.status, r.error_code, r.attempts) = match roll {
                0 => (429, Some("rate_limited".to_owned()), vec![]),
                1 => (
                    502,
                    Some("upstream_error".to_owned()),
                    vec![
                        attempt(500, Some("upstream_error")),
                        attempt(502, Some("upstream_error")),
                    ],
                ),
                2 => (
                    200,
                    None,
                    vec![attempt(504, Some("upstream_timeout")), attempt(200, None)],
                ),
                3 => (400, Some("policy_blocked".to_owned()), vec![]),
                _ => (200, None, vec![attempt(200, None)]),
            };
            if roll == 0 && g.below(2) == 0 {
                r.count = Some(1 + g.below(30) as u32);
            }
            if r.status == 200 {
                r.usage = Some(UsageRecord {
                    prompt_tokens: g.below(2000),
                    completion_tokens: g.below(500),
                    ..UsageRecord::default()
                });
                r.cost_usd = Some(g.below(100) as f64 / 1024.0);
                r.cache_hit = g.below(8) == 0;
                if g.below(2) == 0 {
                    r.ttft_ms = Some(g.below(4000) as f64 / 4.0);
                }
            }
            r.latency_ms = g.below(400_000) as f64 / 4.0;
            if roll == 3 {
                r.findings.push(FindingRecord::counted(
                    "input",
                    "EMAIL",
                    "block",
                    1 + g.below(3) as u32,
                ));
            }
            if g.below(6) == 0 {
                let mut f = FindingRecord::counted("input", "PROMPT_INJECTION", "flag", 1);
                f.score = Some(g.below(1000) as f64 / 1000.0);
                r.findings.push(f);
            }
            r
        })
        .collect()
}

fn counted(r: &AuditRecord) -> bool {
    matches!(r.kind, RecordKind::Request | RecordKind::ToolCall)
}

fn weight(r: &AuditRecord) -> u64 {
    u64::from(r.count.unwrap_or(1))
}

/// The sums a scan computes.
fn naive(recs: &[&AuditRecord]) -> Measures {
    let mut m = Measures::default();
    for r in recs {
        let n = weight(r);
        m.requests += n;
        m.errors += if r.status >= 400 { n } else { 0 };
        m.input_tokens += r.usage.map_or(0, |u| u.prompt_tokens);
        m.output_tokens += r.usage.map_or(0, |u| u.completion_tokens);
        m.cost_usd += r.cost_usd.unwrap_or(0.0);
        m.cache_hits += if r.cache_hit { n } else { 0 };
        m.latency_sum += r.latency_ms * n as f64;
    }
    m
}

/// The exact nearest-rank quantile.
fn exact(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn within_bound(est: f64, exact: f64) {
    let ok = if exact < 1.0 {
        (est - exact).abs() <= 1.0
    } else {
        (est - exact).abs() <= 0.1 * exact
    };
    assert!(ok, "estimate {est} is not within the bound of {exact}");
}

fn check_window(log: &mut AuditLog, all: &[AuditRecord], w: Window) {
    let got = log.rollup(&w).unwrap();
    let inside: Vec<&AuditRecord> = all
        .iter()
        .filter(|r| counted(r) && r.time_ms >= w.start_ms && r.time_ms < w.end_ms())
        .collect();
    assert!(!inside.is_empty());
    assert_eq!(got.totals, naive(&inside));
    assert_eq!(got.series.len() as i64, w.steps);
    for p in &got.series {
        let here: Vec<&AuditRecord> = inside
            .iter()
            .copied()
            .filter(|r| r.time_ms >= p.t_ms && r.time_ms < p.t_ms + w.step_s * 1000)
            .collect();
        assert_eq!(p.measures, naive(&here), "bucket {}", p.t_ms);
        let blocks = here
            .iter()
            .filter(|r| r.findings.iter().any(|f| f.action == "block"))
            .count() as u64;
        assert_eq!(p.blocks, blocks);
    }
    // Group-bys.
    let mut by_key: BTreeMap<String, Vec<&AuditRecord>> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Vec<&AuditRecord>> = BTreeMap::new();
    let mut errors: BTreeMap<(u16, String), u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut findings: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    let mut scores = [0u64; SCORE_BINS as usize];
    for r in &inside {
        by_key
            .entry(r.key_id.clone().unwrap_or_default())
            .or_default()
            .push(r);
        by_model
            .entry(r.model.clone().unwrap_or_default())
            .or_default()
            .push(r);
        if r.status >= 400 {
            *errors
                .entry((r.status, r.error_code.clone().unwrap_or_default()))
                .or_default() += weight(r);
        }
        if let Some(reason) = rollup::route_reason(&r.attempts) {
            *reasons.entry(reason).or_default() += 1;
        }
        for f in &r.findings {
            let e = findings
                .entry((f.stage.clone(), f.entity.clone(), f.action.clone()))
                .or_default();
            e.0 += u64::from(f.count);
            e.1 += 1;
            if let Some(s) = f.score {
                scores[((s * SCORE_BINS as f64) as usize).min(SCORE_BINS as usize - 1)] += 1;
            }
        }
    }
    let keys: BTreeMap<String, Measures> = got.by_key.iter().cloned().collect();
    let want: BTreeMap<String, Measures> =
        by_key.into_iter().map(|(k, v)| (k, naive(&v))).collect();
    assert_eq!(keys, want);
    let models: BTreeMap<String, Measures> = got.by_model.iter().cloned().collect();
    let want: BTreeMap<String, Measures> =
        by_model.into_iter().map(|(k, v)| (k, naive(&v))).collect();
    assert_eq!(models, want);
    assert!(
        got.by_key
            .windows(2)
            .all(|w| w[0].1.requests >= w[1].1.requests),
        "most first"
    );
    let got_errors: BTreeMap<(u16, String), u64> = got
        .errors
        .iter()
        .map(|(s, c, n)| ((*s, c.clone()), *n))
        .collect();
    assert_eq!(got_errors, errors);
    assert_eq!(
        got.reasons.iter().cloned().collect::<BTreeMap<_, _>>(),
        reasons
    );
    let got_findings: BTreeMap<_, _> = got
        .findings
        .iter()
        .map(|f| {
            (
                (f.stage.clone(), f.entity.clone(), f.action.clone()),
                (f.count, f.records),
            )
        })
        .collect();
    assert_eq!(got_findings, findings);
    let want_scores: Vec<(i64, u64)> = scores
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(b, n)| (b as i64, *n))
        .collect();
    assert_eq!(got.scores, want_scores);
    // Percentiles, within the documented bound (latencies weighted like requests).
    let lat: Vec<f64> = inside
        .iter()
        .flat_map(|r| std::iter::repeat_n(r.latency_ms, weight(r) as usize))
        .collect();
    let ttft: Vec<f64> = inside.iter().filter_map(|r| r.ttft_ms).collect();
    assert_eq!(got.latency.count(), lat.len() as u64);
    for p in [0.5, 0.95, 0.99] {
        within_bound(got.latency.quantile(p).unwrap(), exact(lat.clone(), p));
        within_bound(got.ttft.quantile(p).unwrap(), exact(ttft.clone(), p));
    }
}

fn totals_equal_a_scan_of_the_records(e: &mut Env) {
    let recs = records(600, 7);
    let mut log = open(e);
    log.append(&recs).unwrap();
    let now = BASE + 3 * 86_400_000 - 1;
    // Hourly rows: the last 24 hours and the three days; daily rows: 30 days and 2 weeks.
    check_window(&mut log, &recs, Window::ending(now, HOUR_S, 24));
    check_window(&mut log, &recs, Window::ending(now, HOUR_S, 72));
    check_window(&mut log, &recs, Window::ending(now, DAY_S, 30));
    check_window(&mut log, &recs, Window::ending(now, 7 * DAY_S, 2));
    // A window with nothing in it has every bucket, all zero.
    let empty = log
        .rollup(&Window::ending(BASE - 86_400_000, HOUR_S, 24))
        .unwrap();
    assert_eq!(empty.series.len(), 24);
    assert_eq!(empty.totals, Measures::default());
    assert!(empty.latency.quantile(0.5).is_none());
}

fn several_batches_equal_one(e: &mut Env) {
    let recs = records(300, 11);
    let mut one = open(e);
    one.append(&recs).unwrap();
    let w = Window::ending(BASE + 3 * 86_400_000 - 1, HOUR_S, 72);
    let d = Window::ending(BASE + 3 * 86_400_000 - 1, DAY_S, 7);
    let (a, ad) = (one.rollup(&w).unwrap(), one.rollup(&d).unwrap());
    drop(one);
    let other = common::env(e.kind(), "other.db").unwrap();
    let mut many = open(&other);
    for chunk in recs.chunks(7) {
        many.append(chunk).unwrap();
    }
    assert_eq!(many.rollup(&w).unwrap(), a);
    assert_eq!(many.rollup(&d).unwrap(), ad);
}

fn backfill_equals_incremental(e: &mut Env) {
    let recs = records(400, 13);
    let w = Window::ending(BASE + 3 * 86_400_000 - 1, HOUR_S, 72);
    let d = Window::ending(BASE + 3 * 86_400_000 - 1, DAY_S, 30);
    let inc_env = common::env(e.kind(), "inc.db").unwrap();
    let mut inc = open(&inc_env);
    inc.append(&recs).unwrap();
    let (want, want_d) = (inc.rollup(&w).unwrap(), inc.rollup(&d).unwrap());

    // A store written before migration 11: the records, no rollup tables.
    let mut old = open(e);
    old.append(&recs[..250]).unwrap();
    drop(old);
    e.sql(
        "DROP TABLE rollup_totals; DROP TABLE rollup_keys; DROP TABLE rollup_models;
         DROP TABLE rollup_errors; DROP TABLE rollup_hist; DROP TABLE rollup_findings;
         DROP TABLE rollup_scores; DROP TABLE rollup_routes;
         DELETE FROM audit_meta WHERE name LIKE 'rollup_%';
         DELETE FROM schema_migrations WHERE version = 11;",
    );
    // Opening migrates and rolls up what was there; later appends add theirs.
    let mut upgraded = open(e);
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_meta WHERE name LIKE 'rollup_%'"),
        0
    );
    upgraded.append(&recs[250..]).unwrap();
    assert_eq!(upgraded.rollup(&w).unwrap(), want);
    assert_eq!(upgraded.rollup(&d).unwrap(), want_d);
    // Opening again counts nothing twice.
    drop(upgraded);
    assert_eq!(open(e).rollup(&w).unwrap(), want);
}

fn a_purge_leaves_the_rollups(e: &mut Env) {
    let recs = records(100, 17);
    let mut log = AuditLog::open(&StoreConfig {
        retention: vec![Retention {
            class: RetentionClass::Metadata,
            payload_days: None,
            record_days: Some(1),
        }],
        ..cfg(e.backend.clone(), None)
    })
    .unwrap();
    log.append(&recs).unwrap();
    let w = Window::ending(BASE + 3 * 86_400_000 - 1, DAY_S, 30);
    let before = log.rollup(&w).unwrap();
    let report = log.purge(BASE + 30 * 86_400_000).unwrap();
    assert!(report.records_deleted > 0);
    assert_eq!(log.rollup(&w).unwrap(), before);
}

impl Env {
    fn kind(&self) -> Kind {
        match self.backend {
            BackendConfig::Sqlite { .. } => Kind::Sqlite,
            BackendConfig::Postgres { .. } => Kind::Postgres,
        }
    }
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "rollup.db") {
        body(&mut e);
    }
}

on_both_backends!(
    totals_equal_a_scan_of_the_records,
    several_batches_equal_one,
    backfill_equals_incremental,
    a_purge_leaves_the_rollups,
);
