//! `seam report matrix`: the eight decision criteria scored 0–5 per path (buy, build, hybrid,
//! or the paths a weights file names) from the measured facts, with the weights file's
//! judgements for what traffic cannot measure. Every score carries the facts it used and its
//! formula (docs/reports.md lists them); a judgement replaces the formula and says so.
//!
//! The facts are shares and ratios in 0..=1 so each formula is a line:
//!
//! | fact | meaning |
//! | --- | --- |
//! | `cv` | coefficient of variation of daily spend (population SD / mean) |
//! | `p95` | latency p95 of answered requests, ms |
//! | `v` | share of requests answered by the largest vendor (0 with no vendor traffic) |
//! | `m` | share of aliases with a second provider (vendor or private) |
//! | `s` | share of aliases with a private target |
//! | `ac` | share of aliases covered by an eval suite |
//! | `pc` | share of prompts in traffic covered by an eval suite (1 with none) |
//! | `pol` | share of aliases whose policy acts on input and on output |
//! | `aud` | audit trail on: 1 sync, 0.75 async, 0 off |

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::doc::{Cell, Column, Report, Table};
use crate::weights::{CRITERIA, MAX_SCORE, Weights};

/// The measured facts the formulas read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facts {
    /// Days with traffic in the daily spend series.
    pub days: usize,
    pub cv: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Requests answered in the period.
    pub requests: u64,
    /// The largest vendor (provider name) and its share of answered requests.
    pub top_vendor: Option<String>,
    pub v: f64,
    /// Share of answered requests on private targets.
    pub private_share: f64,
    pub aliases: usize,
    pub m: f64,
    pub s: f64,
    pub ac: f64,
    pub prompts: usize,
    pub pc: f64,
    pub pol: f64,
    /// Keys in the config, and the share naming a policy of their own.
    pub keys: usize,
    pub key_pol: f64,
    pub audit: String,
    pub aud: f64,
}

/// One criterion for one path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    pub score: f64,
    /// The formula with the facts put in, or `judged`.
    pub how: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathScores {
    pub path: String,
    pub based_on: String,
    /// Criterion → score.
    pub scores: BTreeMap<String, Score>,
    /// Σ weight × score / Σ weight, 0–5.
    pub total: f64,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matrix {
    pub facts: Facts,
    pub weights: BTreeMap<String, f64>,
    pub paths: Vec<PathScores>,
}

fn clamp(x: f64) -> f64 {
    (x.clamp(0.0, MAX_SCORE) * 100.0).round() / 100.0
}

/// The facts each criterion reads, shown beside its scores.
pub fn facts_of(criterion: &str, f: &Facts) -> String {
    match criterion {
        "time_to_value" => format!("m = {:.2}, s = {:.2}", f.m, f.s),
        "tco_predictability" => format!(
            "cv = {:.2} over {} days{}",
            f.cv,
            f.days,
            if f.days < 7 {
                " (under a week: weak evidence)"
            } else {
                ""
            }
        ),
        "control_differentiation" => format!("pol = {:.2}, ac = {:.2}", f.pol, f.ac),
        "interoperability" => format!("m = {:.2} ({} aliases)", f.m, f.aliases),
        "performance_scale" => format!(
            "p50 / p95 / p99 = {:.0} / {:.0} / {:.0} ms",
            f.p50_ms, f.p95_ms, f.p99_ms
        ),
        "risk_compliance" => format!("pol = {:.2}, aud = {:.2} ({})", f.pol, f.aud, f.audit),
        "talent_operations" => "not measured: a judgement of the team".to_owned(),
        "vendor_dependence_exit" => format!(
            "v = {:.2}{}, m = {:.2}, pc = {:.2}",
            f.v,
            f.top_vendor
                .as_deref()
                .map_or(String::new(), |t| format!(" ({t})")),
            f.m,
            f.pc
        ),
        _ => String::new(),
    }
}

/// The built-in formula of `criterion` for a path based on `base`: (score, formula with values).
pub fn formula(criterion: &str, base: &str, f: &Facts) -> (f64, String) {
    // Performance from p95: 5 at 500 ms or less, 0 at 5 s or more, linear between.
    let perf = 5.0 * (1.0 - (f.p95_ms - 500.0) / 4500.0).clamp(0.0, 1.0);
    let perf_how = format!(
        "5 × clamp(1 − (p95 − 500) / 4500) = 5 × clamp(1 − ({:.0} − 500) / 4500)",
        f.p95_ms
    );
    let exit = (f.m + (1.0 - f.v) + f.pc) / 3.0;
    let risk = (f.pol + f.aud) / 2.0;
    let (x, how): (f64, String) = match (criterion, base) {
        ("time_to_value", "buy") => (5.0, "5 (a vendor API serves today)".into()),
        ("time_to_value", "hybrid") => (3.0 + 2.0 * f.m, format!("3 + 2m = 3 + 2 × {:.2}", f.m)),
        ("time_to_value", _) => (1.0 + 2.0 * f.s, format!("1 + 2s = 1 + 2 × {:.2}", f.s)),
        ("tco_predictability", "buy") => (
            5.0 * (1.0 - f.cv.min(1.0)),
            format!("5 × (1 − min(cv, 1)) = 5 × (1 − {:.2})", f.cv.min(1.0)),
        ),
        ("tco_predictability", "build") => (
            4.0,
            "4 (GPUs bill by the hour, whatever the traffic)".into(),
        ),
        ("tco_predictability", _) => (
            (5.0 * (1.0 - f.cv.min(1.0)) + 4.0) / 2.0,
            format!("(5 × (1 − min(cv, 1)) + 4) / 2, cv = {:.2}", f.cv),
        ),
        ("control_differentiation", "buy") => (
            1.0 + 2.0 * f.pol,
            format!("1 + 2·pol = 1 + 2 × {:.2}", f.pol),
        ),
        ("control_differentiation", "hybrid") => (
            2.0 + 2.0 * f.pol + f.ac,
            format!("2 + 2·pol + ac = 2 + 2 × {:.2} + {:.2}", f.pol, f.ac),
        ),
        ("control_differentiation", _) => (
            3.0 + 2.0 * f.pol,
            format!("3 + 2·pol = 3 + 2 × {:.2}", f.pol),
        ),
        ("interoperability", _) => (1.0 + 4.0 * f.m, format!("1 + 4m = 1 + 4 × {:.2}", f.m)),
        ("performance_scale", "build") if f.private_share == 0.0 => {
            (3.0, "3 (no private traffic measured yet)".into())
        }
        ("performance_scale", _) => (perf, perf_how),
        ("risk_compliance", "buy") => (
            1.0 + 3.0 * risk,
            format!(
                "1 + 3 × (pol + aud) / 2 = 1 + 3 × ({:.2} + {:.2}) / 2",
                f.pol, f.aud
            ),
        ),
        ("risk_compliance", "hybrid") => (
            1.5 + 3.0 * risk,
            format!(
                "1.5 + 3 × (pol + aud) / 2 = 1.5 + 3 × ({:.2} + {:.2}) / 2",
                f.pol, f.aud
            ),
        ),
        ("risk_compliance", _) => (
            2.0 + 3.0 * risk,
            format!(
                "2 + 3 × (pol + aud) / 2 = 2 + 3 × ({:.2} + {:.2}) / 2",
                f.pol, f.aud
            ),
        ),
        ("talent_operations", "buy") => (5.0, "5 (default: no serving to run; judge it)".into()),
        ("talent_operations", "hybrid") => {
            (3.0, "3 (default: some serving to run; judge it)".into())
        }
        ("talent_operations", _) => (2.0, "2 (default: GPUs and models to run; judge it)".into()),
        ("vendor_dependence_exit", "build") => (5.0, "5 (no vendor)".into()),
        ("vendor_dependence_exit", "hybrid") => (
            1.0 + 4.0 * exit,
            format!(
                "1 + 4 × (m + (1 − v) + pc) / 3 = 1 + 4 × ({:.2} + {:.2} + {:.2}) / 3",
                f.m,
                1.0 - f.v,
                f.pc
            ),
        ),
        ("vendor_dependence_exit", _) => (
            5.0 * exit,
            format!(
                "5 × (m + (1 − v) + pc) / 3 = 5 × ({:.2} + {:.2} + {:.2}) / 3",
                f.m,
                1.0 - f.v,
                f.pc
            ),
        ),
        _ => (0.0, "unknown criterion".into()),
    };
    (clamp(x), how)
}

/// Scores every path of `w` on `facts`.
pub fn score(facts: Facts, w: &Weights) -> Matrix {
    let total_weight: f64 = CRITERIA
        .iter()
        .map(|c| w.weights.get(*c).copied().unwrap_or(1.0))
        .sum();
    let paths = w
        .paths
        .iter()
        .map(|p| {
            let scores: BTreeMap<String, Score> = CRITERIA
                .iter()
                .map(|c| {
                    let s = match p.judgements.get(*c) {
                        Some(j) => Score {
                            score: clamp(*j),
                            how: "judged (weights file)".into(),
                        },
                        None => {
                            let (score, how) = formula(c, &p.based_on, &facts);
                            Score { score, how }
                        }
                    };
                    ((*c).to_owned(), s)
                })
                .collect();
            let sum: f64 = CRITERIA
                .iter()
                .map(|c| w.weights.get(*c).copied().unwrap_or(1.0) * scores[*c].score)
                .sum();
            PathScores {
                path: p.name.clone(),
                based_on: p.based_on.clone(),
                total: if total_weight > 0.0 {
                    (sum / total_weight * 100.0).round() / 100.0
                } else {
                    0.0
                },
                scores,
                note: p.note.clone(),
            }
        })
        .collect();
    Matrix {
        facts,
        weights: w.weights.clone(),
        paths,
    }
}

fn label(c: &str) -> &'static str {
    match c {
        "time_to_value" => "Time to value",
        "tco_predictability" => "TCO predictability",
        "control_differentiation" => "Control and differentiation",
        "interoperability" => "Interoperability",
        "performance_scale" => "Performance and scale",
        "risk_compliance" => "Risk and compliance",
        "talent_operations" => "Talent and operations",
        "vendor_dependence_exit" => "Vendor dependence and exit",
        _ => "?",
    }
}

pub fn report(m: &Matrix, generated: &str, subtitle: Option<String>) -> Report {
    let mut r = Report::new("matrix", "Decision matrix: buy, build or hybrid", generated);
    r.subtitle = subtitle;
    let f = &m.facts;
    r.section("Measured facts").facts(vec![
        (
            "Requests answered".into(),
            Cell::Int(i64::try_from(f.requests).unwrap_or(i64::MAX)),
        ),
        (
            "Daily spend, coefficient of variation (cv)".into(),
            Cell::Num(f.cv, 2),
        ),
        ("Latency p50".into(), Cell::Ms(f.p50_ms)),
        ("Latency p95".into(), Cell::Ms(f.p95_ms)),
        ("Latency p99".into(), Cell::Ms(f.p99_ms)),
        (
            format!(
                "Largest vendor's share (v){}",
                f.top_vendor
                    .as_deref()
                    .map_or(String::new(), |t| format!(": {t}"))
            ),
            Cell::Pct(f.v),
        ),
        (
            "Traffic on private targets".into(),
            Cell::Pct(f.private_share),
        ),
        (
            format!("Aliases with a second provider (m), of {}", f.aliases),
            Cell::Pct(f.m),
        ),
        ("Aliases with a private target (s)".into(), Cell::Pct(f.s)),
        (
            "Aliases covered by an eval suite (ac)".into(),
            Cell::Pct(f.ac),
        ),
        (
            format!(
                "Prompts in traffic covered by a suite (pc), of {}",
                f.prompts
            ),
            Cell::Pct(f.pc),
        ),
        (
            "Aliases with an input and output policy (pol)".into(),
            Cell::Pct(f.pol),
        ),
        (
            format!("Keys with a policy of their own, of {}", f.keys),
            Cell::Pct(f.key_pol),
        ),
        (
            format!("Audit trail (aud): {}", f.audit),
            Cell::Num(f.aud, 2),
        ),
    ]);
    let mut cols = vec![Column::left("criterion"), Column::right("weight")];
    cols.extend(m.paths.iter().map(|p| Column::right(p.path.clone())));
    let mut t = Table::new(cols);
    for c in CRITERIA {
        let mut row = vec![
            Cell::text(label(c)),
            Cell::Num(m.weights.get(c).copied().unwrap_or(1.0), 1),
        ];
        row.extend(m.paths.iter().map(|p| Cell::Num(p.scores[c].score, 2)));
        t.row(row);
    }
    let mut total = vec![Cell::text("Weighted total (0–5)"), Cell::Empty];
    total.extend(m.paths.iter().map(|p| Cell::Num(p.total, 2)));
    t.row(total);
    let s = r.section("Scores (0 worst, 5 best)");
    s.table(t.caption("Weighted total = Σ weight × score / Σ weight."));
    if let Some(best) = m.paths.iter().max_by(|a, b| a.total.total_cmp(&b.total)) {
        s.text(format!(
            "Highest weighted total: {} ({:.2}).",
            best.path, best.total
        ));
    }
    let s = r.section("How each score was computed");
    let mut t = Table::new(vec![
        Column::left("criterion"),
        Column::left("facts"),
        Column::left("path"),
        Column::right("score"),
        Column::left("formula"),
    ]);
    for c in CRITERIA {
        for p in &m.paths {
            let sc = &p.scores[c];
            t.row(vec![
                Cell::text(label(c)),
                Cell::text(facts_of(c, f)),
                Cell::text(if p.path == p.based_on {
                    p.path.clone()
                } else {
                    format!("{} (as {})", p.path, p.based_on)
                }),
                Cell::Num(sc.score, 2),
                Cell::text(&sc.how),
            ]);
        }
    }
    s.table(t);
    for p in m.paths.iter().filter(|p| p.note.is_some()) {
        s.note(format!("{}: {}", p.path, p.note.as_deref().unwrap_or("")));
    }
    r.data = serde_json::to_value(m).unwrap_or(Value::Null);
    r
}

/// The facts of the period: spend and latency from the traffic scan, provider shares by the
/// config's trust, coverage from the suites' results and the prompts in traffic.
pub fn facts(
    setup: &crate::setup::Setup,
    traffic: &crate::traffic::Traffic,
    usage: &crate::exit::Usage,
    quality: &crate::quality::Quality,
) -> Facts {
    let daily: Vec<f64> = traffic.daily().iter().map(|(_, s)| s.cost_usd).collect();
    let spread = crate::traffic::spread(&daily);
    let lat = traffic.latency.percentiles();
    let answered: BTreeMap<&str, u64> = traffic
        .by_provider
        .iter()
        .filter(|(p, _)| p.as_str() != "(none)")
        .map(|(p, t)| (p.as_str(), t.requests))
        .collect();
    let total: u64 = answered.values().sum();
    let share = |n: u64| {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    };
    let top = answered
        .iter()
        .filter(|(p, _)| !setup.is_private(p))
        .max_by_key(|(_, n)| **n);
    let private: u64 = answered
        .iter()
        .filter(|(p, _)| setup.is_private(p))
        .map(|(_, n)| n)
        .sum();
    let n = setup.aliases.len();
    let of_aliases = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let prompts = usage.prompts();
    let covered = prompts
        .keys()
        .filter(|p| {
            quality
                .evals
                .iter()
                .any(|r| crate::exit::covers_prompt(r, p))
        })
        .count();
    let (audit, aud) = match (setup.audit_enabled, setup.durability.as_str()) {
        (false, _) => ("off".to_owned(), 0.0),
        (true, "sync") => ("on, sync".to_owned(), 1.0),
        (true, d) => (format!("on, {d}"), 0.75),
    };
    Facts {
        days: spread.n,
        cv: spread.cv,
        p50_ms: lat.p50_ms,
        p95_ms: lat.p95_ms,
        p99_ms: lat.p99_ms,
        requests: total,
        top_vendor: top.map(|(p, _)| (*p).to_owned()),
        v: top.map_or(0.0, |(_, n)| share(*n)),
        private_share: share(private),
        aliases: n,
        m: of_aliases(setup.aliases.iter().filter(|a| a.has_alternative()).count()),
        s: of_aliases(setup.aliases.iter().filter(|a| a.has_private()).count()),
        ac: of_aliases(
            setup
                .aliases
                .iter()
                .filter(|a| {
                    quality
                        .evals
                        .iter()
                        .any(|r| crate::exit::covers_alias(r, &a.name))
                })
                .count(),
        ),
        prompts: prompts.len(),
        pc: if prompts.is_empty() {
            1.0
        } else {
            covered as f64 / prompts.len() as f64
        },
        pol: of_aliases(
            setup
                .aliases
                .iter()
                .filter(|a| a.input_policy && a.output_policy)
                .count(),
        ),
        keys: setup.keys,
        key_pol: if setup.keys == 0 {
            0.0
        } else {
            setup.keys_with_policy as f64 / setup.keys as f64
        },
        audit,
        aud,
    }
}
