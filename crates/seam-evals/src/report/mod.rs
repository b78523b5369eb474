//! What a run concluded: totals, per-variant summaries (provider × prompt), paired comparisons
//! between variants (or against a baseline run), and the four output formats chosen by `-o`'s
//! extension: `.json` (everything, re-readable as a `--baseline`), `.junit.xml`, `.html` (one
//! self-contained file with charts) and `.md` (a pull-request summary).
//!
//! Each format has its renderer file (`json.rs`, `junit.rs`, `html.rs`, `markdown.rs`), a
//! method on [`Report`]; what they share (case names, failing assertions, escapers) is here.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::runner::{CaseResult, Run};
use crate::stats::{self, Interval, McNemar, PairedDiff, Verdict};
use crate::{Grade, Tokens};

mod html;
mod json;
mod junit;
mod markdown;

/// Confidence of every interval in a report.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples per comparison.
pub const RESAMPLES: u32 = 2_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    /// Cases whose endpoint or judge failed (also counted in `failed`).
    pub errors: usize,
    pub pass_rate: f64,
}

/// One provider × prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub provider: String,
    pub prompt: String,
    pub totals: Totals,
    /// Wilson interval of the pass rate.
    pub pass_rate_interval: Interval,
    pub mean_score: f64,
    /// Mean of each named metric.
    pub metrics: BTreeMap<String, f64>,
    pub tokens: Tokens,
    /// Sum of known costs (USD); `None` when no answer had one.
    pub cost_usd: Option<f64>,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    /// Answers replayed from the cache.
    pub cached: usize,
}

impl Variant {
    /// The summary columns after the name, as every table shows them: passed, pass rate (95%
    /// CI), mean score, tokens, cost, latency p50 / p95.
    fn cells(&self) -> [String; 6] {
        [
            format!("{}/{}", self.totals.passed, self.totals.cases),
            format!(
                "{:.1}% ({:.1}–{:.1})",
                self.totals.pass_rate * 100.0,
                self.pass_rate_interval.low * 100.0,
                self.pass_rate_interval.high * 100.0
            ),
            format!("{:.3}", self.mean_score),
            self.tokens.total.to_string(),
            self.cost_usd.map_or("–".into(), |c| format!("${c:.4}")),
            format!("{:.0} / {:.0} ms", self.latency_ms_p50, self.latency_ms_p95),
        ]
    }

    pub fn name(&self) -> String {
        if self.prompt.is_empty() {
            self.provider.clone()
        } else {
            format!("{} | {}", self.provider, self.prompt)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// `pass` (1 or 0 per case), `score`, or a named metric.
    pub metric: String,
    pub baseline_mean: f64,
    pub candidate_mean: f64,
    /// Candidate − baseline over paired cases, with its bootstrap interval.
    pub diff: PairedDiff,
    /// With `--margin`: is the candidate no worse than the baseline by more than the margin?
    pub verdict: Option<Verdict>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    /// Cases present on both sides (same test, vars and repeat).
    pub pairs: usize,
    pub baseline_pass_rate: f64,
    pub baseline_interval: Interval,
    pub candidate_pass_rate: f64,
    pub candidate_interval: Interval,
    /// McNemar's exact test on the paired pass/fail outcomes; `b`: baseline passed and the
    /// candidate failed, `c`: the reverse.
    pub mcnemar: McNemar,
    pub metrics: Vec<MetricComparison>,
    /// The non-inferiority verdict on the pass rate, with `--margin`.
    pub verdict: Option<Verdict>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Format version of this JSON.
    pub version: u32,
    pub description: Option<String>,
    pub started_unix_ms: u64,
    pub duration_ms: f64,
    pub totals: Totals,
    pub variants: Vec<Variant>,
    pub comparisons: Vec<Comparison>,
    pub margin: Option<f64>,
    pub seed: u64,
    pub results: Vec<CaseResult>,
    /// Why the run stopped before every case was done; `results` holds the cases it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn totals(cases: &[&CaseResult]) -> Totals {
    let passed = cases.iter().filter(|c| c.pass).count();
    Totals {
        cases: cases.len(),
        passed,
        failed: cases.len() - passed,
        errors: cases.iter().filter(|c| c.error.is_some()).count(),
        pass_rate: if cases.is_empty() {
            0.0
        } else {
            passed as f64 / cases.len() as f64
        },
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn variant(provider: &str, prompt: &str, cases: &[&CaseResult]) -> Variant {
    let t = totals(cases);
    let mut metrics: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut tokens = Tokens::default();
    let mut cost: Option<f64> = None;
    let mut latencies = Vec::new();
    let mut cached = 0;
    for c in cases {
        if let Some(g) = &c.grade {
            for (k, v) in &g.named_scores {
                let e = metrics.entry(k.clone()).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        if let Some(o) = &c.output {
            if let Some(tk) = o.tokens {
                tokens.prompt += tk.prompt;
                tokens.completion += tk.completion;
                tokens.total += tk.total;
            }
            if let Some(usd) = o.cost_usd {
                *cost.get_or_insert(0.0) += usd;
            }
            if o.cached {
                cached += 1;
            } else {
                latencies.push(o.latency_ms);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    Variant {
        provider: provider.to_owned(),
        prompt: prompt.to_owned(),
        pass_rate_interval: stats::wilson(t.passed as u64, t.cases as u64, CONFIDENCE),
        mean_score: if cases.is_empty() {
            0.0
        } else {
            cases.iter().map(|c| c.score).sum::<f64>() / cases.len() as f64
        },
        metrics: metrics
            .into_iter()
            .map(|(k, (sum, n))| (k, sum / n.max(1) as f64))
            .collect(),
        tokens,
        cost_usd: cost,
        latency_ms_p50: percentile(&latencies, 0.5),
        latency_ms_p95: percentile(&latencies, 0.95),
        cached,
        totals: t,
    }
}

/// What makes two cases the same question: description, vars and repeat.
fn pair_key(c: &CaseResult) -> String {
    format!(
        "{}\u{0}{}\u{0}{}",
        c.description.as_deref().unwrap_or(""),
        serde_json::Value::Object(c.vars.clone()),
        c.repeat
    )
}

fn metric_values(c: &CaseResult, metric: &str) -> Option<f64> {
    match metric {
        "pass" => Some(if c.pass { 1.0 } else { 0.0 }),
        "score" => Some(c.score),
        m => c.grade.as_ref()?.named_scores.get(m).copied(),
    }
}

fn compare(
    base_name: &str,
    base: &[&CaseResult],
    cand_name: &str,
    cand: &[&CaseResult],
    margin: Option<f64>,
    seed: u64,
) -> Comparison {
    let by_key: HashMap<String, &CaseResult> = base.iter().map(|c| (pair_key(c), *c)).collect();
    let pairs: Vec<(&CaseResult, &CaseResult)> = cand
        .iter()
        .filter_map(|c| by_key.get(&pair_key(c)).map(|b| (*b, *c)))
        .collect();
    let a_pass: Vec<bool> = pairs.iter().map(|(a, _)| a.pass).collect();
    let b_pass: Vec<bool> = pairs.iter().map(|(_, b)| b.pass).collect();
    let mut names: Vec<String> = vec!["pass".into(), "score".into()];
    let mut named: Vec<String> = pairs
        .iter()
        .flat_map(|(a, _)| a.grade.iter().flat_map(|g| g.named_scores.keys().cloned()))
        .collect();
    named.sort();
    named.dedup();
    names.extend(named);
    let metrics = names
        .into_iter()
        .filter_map(|m| {
            let (a, b): (Vec<f64>, Vec<f64>) = pairs
                .iter()
                .filter_map(|(x, y)| Some((metric_values(x, &m)?, metric_values(y, &m)?)))
                .unzip();
            if a.is_empty() {
                return None;
            }
            // Errors only on non-finite scores: such a metric is left out.
            let diff = stats::paired_bootstrap(&a, &b, CONFIDENCE, RESAMPLES, seed).ok()?;
            Some(MetricComparison {
                baseline_mean: a.iter().sum::<f64>() / a.len() as f64,
                candidate_mean: b.iter().sum::<f64>() / b.len() as f64,
                verdict: margin.map(|m| stats::non_inferiority(&diff.interval, m)),
                diff,
                metric: m,
            })
        })
        .collect::<Vec<_>>();
    let rate = |v: &[bool]| {
        let n = v.iter().filter(|x| **x).count() as u64;
        (
            if v.is_empty() {
                0.0
            } else {
                n as f64 / v.len() as f64
            },
            stats::wilson(n, v.len() as u64, CONFIDENCE),
        )
    };
    let (ar, ai) = rate(&a_pass);
    let (br, bi) = rate(&b_pass);
    Comparison {
        baseline: base_name.to_owned(),
        candidate: cand_name.to_owned(),
        pairs: pairs.len(),
        baseline_pass_rate: ar,
        baseline_interval: ai,
        candidate_pass_rate: br,
        candidate_interval: bi,
        // Equal lengths by construction (both come from `pairs`), so the error cannot occur.
        mcnemar: stats::mcnemar(&a_pass, &b_pass).unwrap_or(McNemar {
            b: 0,
            c: 0,
            p_value: 1.0,
        }),
        verdict: metrics
            .iter()
            .find(|m| m.metric == "pass")
            .and_then(|m| m.verdict),
        metrics,
    }
}

/// Groups a run's cases by variant, in the order variants first appear.
fn groups(results: &[CaseResult]) -> Vec<((String, String), Vec<&CaseResult>)> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by: HashMap<(String, String), Vec<&CaseResult>> = HashMap::new();
    for c in results {
        let k = (c.provider.clone(), c.prompt.clone());
        if !by.contains_key(&k) {
            order.push(k.clone());
        }
        by.entry(k).or_default().push(c);
    }
    order
        .into_iter()
        .map(|k| {
            let v = by.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// Builds the report of `run`. Comparisons: with `baseline`, each variant against the baseline
/// run's variant of the same name (or its only variant); without, every variant against the
/// first.
pub fn build(run: Run, baseline: Option<&Report>, margin: Option<f64>, seed: u64) -> Report {
    let all: Vec<&CaseResult> = run.results.iter().collect();
    let grouped = groups(&run.results);
    let variants: Vec<Variant> = grouped
        .iter()
        .map(|((p, q), cases)| variant(p, q, cases))
        .collect();
    let mut comparisons = Vec::new();
    match baseline {
        Some(b) => {
            let base_groups = groups(&b.results);
            for (((p, q), cases), v) in grouped.iter().zip(&variants) {
                let matched = base_groups
                    .iter()
                    .find(|((bp, bq), _)| bp == p && bq == q)
                    .or_else(|| (base_groups.len() == 1).then(|| &base_groups[0]));
                if let Some(((bp, bq), base_cases)) = matched {
                    let base_name = format!("baseline: {}", Variant::name(&variant(bp, bq, &[])));
                    comparisons.push(compare(
                        &base_name,
                        base_cases,
                        &v.name(),
                        cases,
                        margin,
                        seed,
                    ));
                }
            }
        }
        None => {
            if let Some(((_, first), rest)) = grouped.split_first() {
                let first_name = variants.first().map(Variant::name).unwrap_or_default();
                for ((_, cases), v) in rest.iter().zip(variants.iter().skip(1)) {
                    comparisons.push(compare(&first_name, first, &v.name(), cases, margin, seed));
                }
            }
        }
    }
    Report {
        version: 1,
        description: run.description.clone(),
        started_unix_ms: run.started_unix_ms,
        duration_ms: run.duration_ms,
        totals: totals(&all),
        variants,
        comparisons,
        margin,
        seed,
        results: run.results,
        error: None,
    }
}

impl Report {
    /// The gate: any comparison that FAILs, or (with `strict`) is INCONCLUSIVE.
    pub fn gate_fails(&self, strict: bool) -> bool {
        self.comparisons.iter().any(|c| match c.verdict {
            Some(Verdict::Fail) => true,
            Some(Verdict::Inconclusive) => strict,
            _ => false,
        })
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
    }
}

fn case_name(c: &CaseResult) -> String {
    let base = match &c.description {
        Some(d) => d.clone(),
        None => {
            let vars = serde_json::Value::Object(c.vars.clone()).to_string();
            format!(
                "test {}: {}",
                c.test + 1,
                vars.chars().take(80).collect::<String>()
            )
        }
    };
    if c.repeat > 0 {
        format!("{base} (repeat {})", c.repeat + 1)
    } else {
        base
    }
}

/// Why a case failed, on one line: its error, or its failing assertions as `type: reason`
/// (JUnit's failure message begins with the first one's type).
fn why(c: &CaseResult) -> String {
    if let Some(e) = &c.error {
        return e.clone();
    }
    let Some(g) = &c.grade else {
        return String::new();
    };
    let failed: Vec<String> = failing(c)
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.reason))
        .collect();
    if failed.is_empty() {
        g.reason.clone()
    } else {
        failed.join("; ")
    }
}

/// A failing assertion as the reports list it.
struct Failure<'a> {
    /// The type as written; an `assert-set` member's after the set's (`assert-set › contains`).
    kind: String,
    /// The value, shortened for a line of text ([`value_excerpt`]).
    value: Option<String>,
    reason: &'a str,
}

/// A case's failing assertions, in suite order. An `assert-set` is listed by its failing
/// members, and itself only when its threshold decided (the aggregate score is then a reason
/// the members don't give) or no member failed. Results written before assertions were
/// recorded list their reasons under the type `assertion`.
fn failing(c: &CaseResult) -> Vec<Failure<'_>> {
    let mut out = Vec::new();
    if let Some(g) = &c.grade {
        collect_failures(g, "", &mut out);
    }
    out
}

fn collect_failures<'a>(g: &'a Grade, parent: &str, out: &mut Vec<Failure<'a>>) {
    for c in g.components.iter().filter(|c| !c.pass) {
        let a = c.assertion.as_ref();
        let own = a.map_or("assertion", |a| a.kind.as_str());
        let kind = if parent.is_empty() {
            own.to_owned()
        } else {
            format!("{parent} › {own}")
        };
        let members_failed = c.components.iter().any(|m| !m.pass);
        if !members_failed || a.is_some_and(|a| a.threshold.is_some()) {
            out.push(Failure {
                kind: kind.clone(),
                value: a.and_then(|a| a.value.as_ref()).map(value_excerpt),
                reason: &c.reason,
            });
        }
        collect_failures(c, &kind, out);
    }
}

/// An assertion's value on one short line: a string quoted with its escapes visible, anything
/// else as compact JSON, cut at 80 characters.
fn value_excerpt(v: &serde_json::Value) -> String {
    const MAX: usize = 80;
    let text = match v {
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The longest text a Markdown report shows in one cell, in characters (before escaping).
const MD_CELL_CHARS: usize = 300;

/// Text safe inside a Markdown table cell, cut to `MD_CELL_CHARS`: the one escaper every
/// Markdown report uses (the eval report and redteam's). Backslash, `|` and `` ` `` are
/// backslash-escaped, `&` and `<` become entities (no HTML tag or entity from the text reaches
/// the page), and line breaks become spaces (a row is one line). It cuts before escaping, so an
/// escape is never split.
pub(crate) fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MD_CELL_CHARS) + 8);
    for c in s.chars().take(MD_CELL_CHARS) {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_hostile_cell_stays_in_its_cell() {
        let hostile = "a|b\\|c\n| x | y |\r\n`code` <script>&amp; \\";
        let cell = md_cell(hostile);
        assert_eq!(
            cell,
            "a\\|b\\\\\\|c \\| x \\| y \\|  \\`code\\` &lt;script>&amp;amp; \\\\"
        );
        // One line, and every `|` is escaped (preceded by an odd run of backslashes).
        assert!(!cell.contains('\n') && !cell.contains('\r'));
        let b = cell.as_bytes();
        for (i, _) in cell.match_indices('|') {
            let run = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
            assert_eq!(run % 2, 1, "unescaped | at {i} in {cell}");
        }
        // A cut never leaves half an escape: 299 letters then a pipe.
        let long = format!("{}|{}", "x".repeat(MD_CELL_CHARS - 1), "y".repeat(50));
        assert!(md_cell(&long).ends_with("x\\|"));
        let long = format!("{}|", "x".repeat(MD_CELL_CHARS));
        assert_eq!(md_cell(&long), "x".repeat(MD_CELL_CHARS));
    }

    #[test]
    fn values_are_short_one_line_excerpts() {
        let long = "é".repeat(100);
        let cases = [
            (json!("Paris"), "\"Paris\"".to_owned()),
            (json!("a\nb \"q\""), r#""a\nb \"q\"""#.to_owned()),
            (json!({"max": 3}), r#"{"max":3}"#.to_owned()),
            (json!(0.5), "0.5".to_owned()),
            (json!(long), format!("\"{}…", "é".repeat(79))),
        ];
        for (value, want) in cases {
            assert_eq!(value_excerpt(&value), want, "{value}");
        }
    }
}
