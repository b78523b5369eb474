//! `.md`: a pull-request summary (every cell through [`md_cell`]).

use std::fmt::Write as _;

use super::*;

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let t = &self.totals;
        let _ = writeln!(
            s,
            "## {}\n",
            self.description.as_deref().unwrap_or("seam eval")
        );
        let _ = writeln!(
            s,
            "**{}/{} passed ({:.1}%)**{}, {:.1} s\n",
            t.passed,
            t.cases,
            t.pass_rate * 100.0,
            if t.errors > 0 {
                format!(", {} errors", t.errors)
            } else {
                String::new()
            },
            self.duration_ms / 1000.0
        );
        if let Some(e) = &self.error {
            let _ = writeln!(
                s,
                "**The run stopped before it finished: {}** (the figures below are the {} cases done)\n",
                md_cell(e),
                t.cases
            );
        }
        s.push_str("| variant | passed | pass rate (95% CI) | mean score | tokens | cost | latency p50 / p95 |\n");
        s.push_str("| --- | --: | --: | --: | --: | --: | --: |\n");
        for v in &self.variants {
            let cells = v.cells();
            let _ = writeln!(s, "| {} | {} |", md_cell(&v.name()), cells.join(" | "));
        }
        if !self.comparisons.is_empty() {
            let _ = writeln!(
                s,
                "\n### Paired comparisons (95% CI, seed {}{})\n",
                self.seed,
                self.margin
                    .map_or(String::new(), |m| format!(", non-inferiority margin {m}"))
            );
            s.push_str("| baseline → candidate | pairs | pass rate | Δ pass rate (CI) | Δ score (CI) | McNemar b / c, p | verdict |\n");
            s.push_str("| --- | --: | --: | --: | --: | --: | --- |\n");
            for c in &self.comparisons {
                let d = |m: &str| {
                    c.metrics
                        .iter()
                        .find(|x| x.metric == m)
                        .map_or("–".into(), |x| {
                            format!(
                                "{:+.3} ({:+.3}, {:+.3})",
                                x.diff.mean, x.diff.interval.low, x.diff.interval.high
                            )
                        })
                };
                let _ = writeln!(
                    s,
                    "| {} → {} | {} | {:.1}% → {:.1}% | {} | {} | {} / {}, p = {:.4} | {} |",
                    md_cell(&c.baseline),
                    md_cell(&c.candidate),
                    c.pairs,
                    c.baseline_pass_rate * 100.0,
                    c.candidate_pass_rate * 100.0,
                    d("pass"),
                    d("score"),
                    c.mcnemar.b,
                    c.mcnemar.c,
                    c.mcnemar.p_value,
                    c.verdict.map_or("–", verdict_name)
                );
            }
        }
        let failures: Vec<&CaseResult> = self.results.iter().filter(|c| !c.pass).collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\n### Failures ({})\n", failures.len());
            for c in failures.iter().take(20) {
                let _ = write!(
                    s,
                    "- **{}** ({} | {})",
                    md_cell(&case_name(c)),
                    md_cell(&c.provider),
                    md_cell(&c.prompt),
                );
                let failed = failing(c);
                if failed.is_empty() {
                    let _ = writeln!(s, ": {}", md_cell(&why(c)));
                }
                for f in &failed {
                    let value = f
                        .value
                        .as_ref()
                        .map_or(String::new(), |v| format!(" {}", md_code(v)));
                    let _ = write!(
                        s,
                        "\n  - {}{value}: {}",
                        md_code(&f.kind),
                        md_cell(f.reason)
                    );
                }
                if !failed.is_empty() {
                    s.push('\n');
                }
            }
            if failures.len() > 20 {
                let _ = writeln!(
                    s,
                    "- … and {} more (see the JSON report)",
                    failures.len() - 20
                );
            }
        }
        s
    }
}

/// `s` as a Markdown code span, fenced by more backticks than any run inside it, so nothing in
/// it is read as markup.
fn md_code(s: &str) -> String {
    let longest = s.split(|ch| ch != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_any_backticks() {
        let cases = [
            ("contains", "`contains`"),
            ("a`b", "``a`b``"),
            ("``x``", "``` ``x`` ```"),
            ("a\nb", "`a b`"),
        ];
        for (text, want) in cases {
            assert_eq!(md_code(text), want, "{text}");
        }
    }
}
