//! A run's results: per probe, per category and overall, as a terminal table, Markdown for a
//! pull request, or JSON with everything.

use std::fmt::Write;

use serde::Serialize;

use super::Category;
use super::runner::{RunOptions, Target};
use crate::report::md_cell;

/// A probe's verdict. `Passed`: the attack did not succeed (or was blocked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// No answer after retries: counted as not passed.
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeResult {
    pub id: String,
    pub category: Category,
    pub description: String,
    pub status: Status,
    /// On failure: the detector that saw the attack succeed, and a quote of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// When the target refused the request itself: `422 policy_violation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
    /// The answer (planted secrets masked; at most 2,000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    pub latency_ms: f64,
}

/// Counts over a set of probes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub probes: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// passed / probes (1 for none).
    pub pass_rate: f64,
}

impl Totals {
    fn of<'a>(results: impl Iterator<Item = &'a ProbeResult>) -> Totals {
        let mut t = Totals {
            probes: 0,
            passed: 0,
            failed: 0,
            errors: 0,
            pass_rate: 1.0,
        };
        for r in results {
            t.probes += 1;
            match r.status {
                Status::Passed => t.passed += 1,
                Status::Failed => t.failed += 1,
                Status::Error => t.errors += 1,
            }
        }
        t.pass_rate = rate(t.passed, t.probes);
        t
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CategorySummary {
    pub category: Category,
    #[serde(flatten)]
    pub totals: Totals,
}

fn rate(passed: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        passed as f64 / total as f64
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub target: String,
    pub base_url: String,
    /// `--seed` reproduces the run.
    pub seed: u64,
    pub pass_threshold: f64,
    /// The overall pass rate reached the threshold.
    pub passed: bool,
    pub summary: Totals,
    pub categories: Vec<CategorySummary>,
    pub results: Vec<ProbeResult>,
}

/// The overall row's name in tables.
const OVERALL: &str = "all";

impl Report {
    pub fn new(target: &Target, options: RunOptions, results: Vec<ProbeResult>) -> Report {
        let categories: Vec<CategorySummary> = Category::ALL
            .into_iter()
            .map(|c| CategorySummary {
                category: c,
                totals: Totals::of(results.iter().filter(|r| r.category == c)),
            })
            .filter(|c| c.totals.probes > 0)
            .collect();
        let summary = Totals::of(results.iter());
        Report {
            target: target.model.clone(),
            base_url: target.base_url.clone(),
            seed: options.seed,
            pass_threshold: options.pass_threshold,
            passed: summary.pass_rate >= options.pass_threshold,
            summary,
            categories,
            results,
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &ProbeResult> {
        self.results.iter().filter(|r| r.status != Status::Passed)
    }

    /// The table printed after a run.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "seam redteam: {} probes against `{}` at {} (seed {})\n",
            self.summary.probes, self.target, self.base_url, self.seed
        );
        let _ = writeln!(
            out,
            "{:<26} {:>6} {:>6} {:>6} {:>6} {:>9}",
            "category", "probes", "passed", "failed", "errors", "pass rate"
        );
        let row = |out: &mut String, name: &str, s: &Totals| {
            let _ = writeln!(
                out,
                "{:<26} {:>6} {:>6} {:>6} {:>6} {:>9}",
                name,
                s.probes,
                s.passed,
                s.failed,
                s.errors,
                percent(s.pass_rate)
            );
        };
        for c in &self.categories {
            row(&mut out, c.category.name(), &c.totals);
        }
        row(&mut out, OVERALL, &self.summary);
        let failures: Vec<&ProbeResult> = self.failures().collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\nfailures:");
            for r in failures {
                let _ = writeln!(out, "  {} [{}]: {}", r.id, r.category, why(r));
            }
        }
        let _ = writeln!(out, "\n{}", self.verdict());
        out
    }

    /// A summary for a pull request, for `-o FILE.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Red team: `{}`\n", self.target);
        let _ = writeln!(
            out,
            "**{}**. Endpoint {}; seed `{}` (`seam redteam --target {} --seed {}` sends the same probes).\n",
            self.verdict(),
            self.base_url,
            self.seed,
            self.target,
            self.seed
        );
        let _ = writeln!(
            out,
            "| category | probes | passed | failed | errors | pass rate |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        let row = |out: &mut String, name: &str, s: &Totals| {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} |",
                s.probes,
                s.passed,
                s.failed,
                s.errors,
                percent(s.pass_rate)
            );
        };
        for c in &self.categories {
            row(&mut out, c.category.name(), &c.totals);
        }
        row(&mut out, &format!("**{OVERALL}**"), &self.summary);
        let failures: Vec<&ProbeResult> = self.failures().collect();
        if !failures.is_empty() {
            let _ = writeln!(
                out,
                "\n<details><summary>{} probes did not pass</summary>\n\n| probe | category | why |\n| --- | --- | --- |",
                failures.len()
            );
            for r in failures {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    r.id,
                    r.category,
                    md_cell(&why(r))
                );
            }
            let _ = writeln!(out, "\n</details>");
        }
        out
    }

    fn verdict(&self) -> String {
        let word = if self.passed { "PASS" } else { "FAIL" };
        let relation = if self.passed { "≥" } else { "<" };
        format!(
            "{word}: pass rate {} {relation} threshold {}",
            percent(self.summary.pass_rate),
            percent(self.pass_threshold)
        )
    }
}

fn why(r: &ProbeResult) -> String {
    match (&r.error, &r.detector, &r.evidence) {
        (Some(e), _, _) => format!("error: {e}"),
        (None, Some(d), Some(e)) => format!("{d}: {e}"),
        _ => String::new(),
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}
