//! `seam report quality`: per model (or alias) and prompt, the latest `seam eval` verdict with
//! its pass rate's Wilson 95 % interval, the latest `seam redteam` verdict per target, and the
//! online metrics (online evaluators' scores, people's ratings) the audit trail holds — so a
//! cheaper path is weighed against the task's pass rate, not chosen blind.
//!
//! Results come from the store's `eval_runs` (uploaded through the console) and from report
//! files (`--results`, e.g. CI artifacts), read one at a time: only the latest row per variant is
//! kept, so memory follows the number of variants, not of runs.

use std::collections::BTreeMap;

use seam_evals::stats::wilson;
use seam_store::{AuditLog, EvalStore, PayloadState, Query, RecordKind, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::doc::{Cell, Column, Report, Table};

/// Confidence of every interval in the report.
pub const CONFIDENCE: f64 = 0.95;

/// One eval or red-team report, and where it came from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The run's name (the upload's) or the file's path.
    pub name: String,
    /// When it was uploaded (or the file written), Unix ms; a report's own start time wins.
    pub at_ms: i64,
    pub report: Value,
}

/// The latest eval verdict of one variant (provider × prompt).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalRow {
    /// The suite's provider label (`seam:chat`, `openai:chat:gpt-4o-mini`).
    pub provider: String,
    /// What it names: an alias (`seam:ALIAS`) or a model.
    pub subject: String,
    /// The prompt's label (a `seam prompts test` run's is the prompt's name).
    pub prompt: String,
    pub passed: u64,
    pub cases: u64,
    pub pass_rate: f64,
    pub low: f64,
    pub high: f64,
    pub mean_score: Option<f64>,
    /// Known cost per case (USD).
    pub cost_per_case: Option<f64>,
    pub latency_ms_p50: Option<f64>,
    pub run: String,
    pub at_ms: i64,
    /// Against the best variant of the same prompt: `best`, `comparable` (the intervals
    /// overlap) or `worse`.
    pub versus_best: String,
    /// How much cheaper per case than the best variant (0.25: 25 % cheaper), when both are known
    /// and this one is cheaper.
    pub cheaper_by: Option<f64>,
}

/// A paired comparison the run made, with its non-inferiority verdict when it had a margin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComparisonRow {
    pub run: String,
    pub baseline: String,
    pub candidate: String,
    pub pairs: u64,
    pub baseline_pass_rate: f64,
    pub candidate_pass_rate: f64,
    /// `pass`, `fail`, `inconclusive`, or none without a margin.
    pub verdict: Option<String>,
}

/// The latest red-team verdict of one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RedteamRow {
    pub target: String,
    pub passed: u64,
    pub probes: u64,
    pub pass_rate: f64,
    pub low: f64,
    pub high: f64,
    pub threshold: Option<f64>,
    /// The run's gate: the pass rate reached the threshold.
    pub gate: Option<bool>,
    pub run: String,
    pub at_ms: i64,
}

/// An online metric of one model and prompt over the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnlineRow {
    pub model: String,
    pub prompt: String,
    /// `eval:NAME` (an online evaluator) or `feedback:NAME` (a person's rating).
    pub metric: String,
    pub n: u64,
    /// Mean of the values that could be read (a rating's value is in its sealed payload).
    pub mean: Option<f64>,
    /// Answers graded pass/fail (online evaluators), and those that passed, with the Wilson
    /// interval of the pass rate.
    pub graded: u64,
    pub passed: Option<u64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Quality {
    pub evals: Vec<EvalRow>,
    pub comparisons: Vec<ComparisonRow>,
    pub redteam: Vec<RedteamRow>,
    pub online: Vec<OnlineRow>,
    /// Reports read, and those skipped (neither an eval nor a red-team report), by name.
    pub read: u64,
    pub skipped: Vec<String>,
}

/// `seam:ALIAS` → ALIAS; `openai:chat:MODEL` / `openai:MODEL` → MODEL; anything else as it is.
pub fn subject_of(provider: &str) -> String {
    provider
        .strip_prefix("seam:")
        .or_else(|| provider.strip_prefix("openai:chat:"))
        .or_else(|| provider.strip_prefix("openai:"))
        .unwrap_or(provider)
        .to_owned()
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Gathers the latest rows from reports given in any order.
#[derive(Default)]
pub struct Collector {
    evals: BTreeMap<(String, String), EvalRow>,
    comparisons: BTreeMap<(String, String), (i64, ComparisonRow)>,
    redteam: BTreeMap<String, RedteamRow>,
    read: u64,
    skipped: Vec<String>,
}

impl Collector {
    /// Takes one report: an eval report (`variants`) or a red-team one (`target`, `summary`).
    /// Anything else is listed as skipped.
    pub fn add(&mut self, src: Source) {
        let r = &src.report;
        if let Some(variants) = r.get("variants").and_then(Value::as_array) {
            self.read += 1;
            let at = u(r, "started_unix_ms")
                .and_then(|n| i64::try_from(n).ok())
                .unwrap_or(src.at_ms);
            let run = r
                .get("description")
                .and_then(Value::as_str)
                .filter(|_| src.name.is_empty())
                .unwrap_or(&src.name)
                .to_owned();
            for v in variants {
                let provider = s(v, "provider").unwrap_or("").to_owned();
                let prompt = s(v, "prompt").unwrap_or("").to_owned();
                let totals = v.get("totals").unwrap_or(&Value::Null);
                let cases = u(totals, "cases").unwrap_or(0);
                let passed = u(totals, "passed").unwrap_or(0).min(cases);
                let i = wilson(passed, cases, CONFIDENCE);
                let row = EvalRow {
                    subject: subject_of(&provider),
                    provider: provider.clone(),
                    prompt: prompt.clone(),
                    passed,
                    cases,
                    pass_rate: if cases == 0 {
                        0.0
                    } else {
                        passed as f64 / cases as f64
                    },
                    low: i.low,
                    high: i.high,
                    mean_score: f(v, "mean_score"),
                    cost_per_case: f(v, "cost_usd")
                        .filter(|_| cases > 0)
                        .map(|c| c / cases as f64),
                    latency_ms_p50: f(v, "latency_ms_p50"),
                    run: run.clone(),
                    at_ms: at,
                    versus_best: String::new(),
                    cheaper_by: None,
                };
                let key = (provider, prompt);
                if self.evals.get(&key).is_none_or(|old| old.at_ms <= at) {
                    self.evals.insert(key, row);
                }
            }
            for c in r
                .get("comparisons")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let row = ComparisonRow {
                    run: run.clone(),
                    baseline: s(c, "baseline").unwrap_or("").to_owned(),
                    candidate: s(c, "candidate").unwrap_or("").to_owned(),
                    pairs: u(c, "pairs").unwrap_or(0),
                    baseline_pass_rate: f(c, "baseline_pass_rate").unwrap_or(0.0),
                    candidate_pass_rate: f(c, "candidate_pass_rate").unwrap_or(0.0),
                    verdict: s(c, "verdict").map(str::to_owned),
                };
                let key = (row.baseline.clone(), row.candidate.clone());
                if self.comparisons.get(&key).is_none_or(|(t, _)| *t <= at) {
                    self.comparisons.insert(key, (at, row));
                }
            }
        } else if let (Some(target), Some(summary)) = (s(r, "target"), r.get("summary")) {
            self.read += 1;
            let probes = u(summary, "probes").unwrap_or(0);
            let passed = u(summary, "passed").unwrap_or(0).min(probes);
            let i = wilson(passed, probes, CONFIDENCE);
            let row = RedteamRow {
                target: target.to_owned(),
                passed,
                probes,
                pass_rate: if probes == 0 {
                    1.0
                } else {
                    passed as f64 / probes as f64
                },
                low: i.low,
                high: i.high,
                threshold: f(r, "pass_threshold"),
                gate: r.get("passed").and_then(Value::as_bool),
                run: src.name.clone(),
                at_ms: src.at_ms,
            };
            if self
                .redteam
                .get(target)
                .is_none_or(|old| old.at_ms <= src.at_ms)
            {
                self.redteam.insert(target.to_owned(), row);
            }
        } else {
            self.skipped.push(src.name);
        }
    }

    /// The rows, each eval row weighed against the best variant of its prompt.
    pub fn finish(self, online: Vec<OnlineRow>) -> Quality {
        let mut evals: Vec<EvalRow> = self.evals.into_values().collect();
        let mut best: BTreeMap<String, (f64, f64, Option<f64>)> = BTreeMap::new();
        for r in &evals {
            let e = best
                .entry(r.prompt.clone())
                .or_insert((r.pass_rate, r.low, r.cost_per_case));
            if r.pass_rate > e.0 {
                *e = (r.pass_rate, r.low, r.cost_per_case);
            }
        }
        for r in &mut evals {
            let Some(&(rate, low, cost)) = best.get(&r.prompt) else {
                continue;
            };
            r.versus_best = if r.pass_rate >= rate {
                "best"
            } else if r.high >= low {
                "comparable"
            } else {
                "worse"
            }
            .to_owned();
            r.cheaper_by = match (r.cost_per_case, cost) {
                (Some(mine), Some(theirs)) if theirs > 0.0 && mine < theirs => {
                    Some(1.0 - mine / theirs)
                }
                _ => None,
            };
        }
        evals.sort_by(|a, b| {
            (a.prompt.as_str(), b.pass_rate, a.provider.as_str())
                .partial_cmp(&(b.prompt.as_str(), a.pass_rate, b.provider.as_str()))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Quality {
            evals,
            comparisons: self.comparisons.into_values().map(|(_, c)| c).collect(),
            redteam: self.redteam.into_values().collect(),
            online,
            read: self.read,
            skipped: self.skipped,
        }
    }
}

/// Feeds every run the store keeps into `c`, one report at a time.
pub fn from_store(store: &mut EvalStore, c: &mut Collector) -> Result<(), StoreError> {
    for run in store.list(1_000)? {
        let Some((run, text)) = store.get(&run.id)? else {
            continue;
        };
        match serde_json::from_str(&text) {
            Ok(report) => c.add(Source {
                name: run.name,
                at_ms: run.uploaded_ms,
                report,
            }),
            Err(_) => c.skipped.push(run.name),
        }
    }
    Ok(())
}

#[derive(Default)]
struct Acc {
    n: u64,
    sum: f64,
    valued: u64,
    graded: u64,
    passed: u64,
}

/// The online metrics of `[since, until)`: every `feedback` record's metric, by model and prompt.
pub fn online(
    log: &mut AuditLog,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Vec<OnlineRow>, StoreError> {
    let mut acc: BTreeMap<(String, String, String), Acc> = BTreeMap::new();
    let q = Query {
        kind: Some(RecordKind::Feedback),
        since_ms,
        until_ms,
        ..Query::default()
    };
    log.export(&q, &mut |r| {
        let Some(metric) = r
            .tags
            .iter()
            .find(|t| t.starts_with("eval:") || t.starts_with("feedback:"))
        else {
            return Ok(());
        };
        let prompt = r
            .prompt
            .as_deref()
            .map(|p| p.split('@').next().unwrap_or(p))
            .unwrap_or("")
            .to_owned();
        let model = r.model.clone().unwrap_or_default();
        let a = acc.entry((model, prompt, metric.clone())).or_default();
        a.n += 1;
        let tagged = |k: &str| r.tags.iter().find_map(|t| t.strip_prefix(k));
        let value = tagged("value=")
            .and_then(|v| v.parse::<f64>().ok())
            .or_else(|| match &r.payload {
                PayloadState::Kept(p) => p
                    .client_request
                    .as_ref()
                    .and_then(|v| v.get("value"))
                    .and_then(|v| {
                        v.as_f64()
                            .or_else(|| v.as_bool().map(|b| f64::from(u8::from(b))))
                    }),
                _ => None,
            });
        if let Some(v) = value.filter(|v| v.is_finite()) {
            a.sum += v;
            a.valued += 1;
        }
        if let Some(p) = tagged("pass=") {
            a.graded += 1;
            a.passed += u64::from(p == "true");
        }
        Ok(())
    })?;
    Ok(acc
        .into_iter()
        .map(|((model, prompt, metric), a)| {
            let i = (a.graded > 0).then(|| wilson(a.passed, a.graded, CONFIDENCE));
            OnlineRow {
                model,
                prompt,
                metric,
                n: a.n,
                mean: (a.valued > 0).then(|| a.sum / a.valued as f64),
                graded: a.graded,
                passed: (a.graded > 0).then_some(a.passed),
                low: i.map(|i| i.low),
                high: i.map(|i| i.high),
            }
        })
        .collect())
}

fn interval(low: f64, high: f64) -> Cell {
    Cell::text(format!("{:.1}–{:.1} %", low * 100.0, high * 100.0))
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> Cell) -> Cell {
    v.map_or(Cell::Empty, f)
}

/// The report's document.
pub fn report(q: &Quality, generated: &str, subtitle: Option<String>) -> Report {
    let mut r = Report::new(
        "quality",
        "Quality: eval, red-team and online verdicts",
        generated,
    );
    r.subtitle = subtitle;
    let s = r.section("Eval suites: the latest verdict per model and prompt");
    s.text(format!(
        "{} reports read. Pass rates with their Wilson {:.0} % interval; a variant is 'comparable' to the \
         best of its prompt when its interval reaches the best's lower bound (the data cannot tell them \
         apart), 'worse' when it does not.",
        q.read,
        CONFIDENCE * 100.0
    ));
    if q.evals.is_empty() {
        s.note("No eval results: upload the JSON of seam eval -o report.json in the console, or pass --results FILE.");
    } else {
        let mut t = Table::new(vec![
            Column::left("prompt"),
            Column::left("model / alias"),
            Column::right("passed"),
            Column::right("pass rate"),
            Column::right("95 % interval"),
            Column::right("cost / case"),
            Column::right("p50"),
            Column::left("vs best"),
            Column::left("run"),
        ]);
        for e in &q.evals {
            let versus = match e.cheaper_by {
                Some(c) if e.versus_best != "best" => {
                    format!("{}, {:.0} % cheaper", e.versus_best, c * 100.0)
                }
                _ => e.versus_best.clone(),
            };
            t.row(vec![
                Cell::text(if e.prompt.is_empty() {
                    "–"
                } else {
                    &e.prompt
                }),
                Cell::text(&e.subject),
                Cell::text(format!("{}/{}", e.passed, e.cases)),
                Cell::Pct(e.pass_rate),
                interval(e.low, e.high),
                opt(e.cost_per_case, Cell::Usd),
                opt(e.latency_ms_p50, Cell::Ms),
                Cell::text(versus),
                Cell::text(&e.run),
            ]);
        }
        s.table(t);
    }
    if !q.comparisons.is_empty() {
        let s = r.section("Paired comparisons");
        let mut t = Table::new(vec![
            Column::left("baseline → candidate"),
            Column::right("pairs"),
            Column::right("baseline"),
            Column::right("candidate"),
            Column::left("verdict"),
        ]);
        for c in &q.comparisons {
            t.row(vec![
                Cell::text(format!("{} → {}", c.baseline, c.candidate)),
                Cell::Int(i64::try_from(c.pairs).unwrap_or(i64::MAX)),
                Cell::Pct(c.baseline_pass_rate),
                Cell::Pct(c.candidate_pass_rate),
                Cell::text(c.verdict.as_deref().unwrap_or("– (no margin)")),
            ]);
        }
        s.table(t);
    }
    let s = r.section("Red-team: the latest verdict per target");
    if q.redteam.is_empty() {
        s.note(
            "No red-team results: upload the JSON of seam redteam -o report.json, or pass --results FILE.",
        );
    } else {
        let mut t = Table::new(vec![
            Column::left("target"),
            Column::right("passed"),
            Column::right("pass rate"),
            Column::right("95 % interval"),
            Column::right("threshold"),
            Column::left("gate"),
            Column::left("run"),
        ]);
        for x in &q.redteam {
            t.row(vec![
                Cell::text(&x.target),
                Cell::text(format!("{}/{}", x.passed, x.probes)),
                Cell::Pct(x.pass_rate),
                interval(x.low, x.high),
                opt(x.threshold, Cell::Pct),
                Cell::text(match x.gate {
                    Some(true) => "pass",
                    Some(false) => "fail",
                    None => "–",
                }),
                Cell::text(&x.run),
            ]);
        }
        s.table(t);
    }
    let s = r.section("Online metrics over the period");
    if q.online.is_empty() {
        s.note("No online evaluator scores or ratings in the period ([evaluators.*], POST /v1/feedback).");
    } else {
        let mut t = Table::new(vec![
            Column::left("model / alias"),
            Column::left("prompt"),
            Column::left("metric"),
            Column::right("n"),
            Column::right("mean"),
            Column::right("pass rate"),
            Column::right("95 % interval"),
        ]);
        for o in &q.online {
            t.row(vec![
                Cell::text(if o.model.is_empty() { "–" } else { &o.model }),
                Cell::text(if o.prompt.is_empty() {
                    "–"
                } else {
                    &o.prompt
                }),
                Cell::text(&o.metric),
                Cell::Int(i64::try_from(o.n).unwrap_or(i64::MAX)),
                opt(o.mean, |m| Cell::Num(m, 3)),
                match o.passed {
                    Some(p) if o.graded > 0 => Cell::Pct(p as f64 / o.graded as f64),
                    _ => Cell::Empty,
                },
                match (o.low, o.high) {
                    (Some(l), Some(h)) => interval(l, h),
                    _ => Cell::Empty,
                },
            ]);
        }
        s.table(t);
    }
    if !q.skipped.is_empty() {
        r.section("Skipped").note(format!(
            "Not an eval or red-team report: {}",
            q.skipped.join(", ")
        ));
    }
    r.data = serde_json::to_value(q).unwrap_or(Value::Null);
    r
}
