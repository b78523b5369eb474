//! `.html`: one self-contained page with the charts inline (SVG).

use std::fmt::Write as _;

use super::*;

impl Report {
    pub fn to_html(&self) -> String {
        let mut s = String::new();
        let title = xml(self.description.as_deref().unwrap_or("seam eval"));
        let _ = write!(
            s,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}}\
.pass{{color:#1a7f37}}.fail{{color:#cf222e}}pre{{white-space:pre-wrap;margin:0;max-width:60em}}\
</style></head><body><h1>{title}</h1>"
        );
        let t = &self.totals;
        let _ = write!(
            s,
            "<p><b>{}/{} passed ({:.1}%)</b>, {} errors, {:.1} s</p>",
            t.passed,
            t.cases,
            t.pass_rate * 100.0,
            t.errors,
            self.duration_ms / 1000.0
        );
        if let Some(e) = &self.error {
            let _ = write!(
                s,
                "<p class=\"fail\"><b>The run stopped before it finished: {}</b> (the figures are the {} cases done)</p>",
                xml(e),
                t.cases
            );
        }
        s.push_str("<h2>Pass rate and mean score by variant</h2>");
        s.push_str(&bars(
            &self
                .variants
                .iter()
                .map(|v| {
                    (
                        v.name(),
                        v.totals.pass_rate,
                        v.mean_score,
                        v.pass_rate_interval,
                    )
                })
                .collect::<Vec<_>>(),
        ));
        s.push_str("<table><tr><th>variant</th><th>passed</th><th>pass rate (95% CI)</th><th>mean score</th><th>tokens</th><th>cost</th><th>latency p50/p95</th></tr>");
        for v in &self.variants {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                xml(&v.name()),
                v.cells().join("</td><td>")
            );
        }
        s.push_str("</table>");
        if !self.comparisons.is_empty() {
            s.push_str("<h2>Paired comparisons</h2><table><tr><th>baseline → candidate</th><th>pairs</th><th>metric</th><th>baseline</th><th>candidate</th><th>Δ (95% CI)</th><th>verdict</th></tr>");
            for c in &self.comparisons {
                for m in &c.metrics {
                    let _ = write!(
                        s,
                        "<tr><td>{} → {}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:+.3} ({:+.3}, {:+.3})</td><td>{}</td></tr>",
                        xml(&c.baseline),
                        xml(&c.candidate),
                        c.pairs,
                        xml(&m.metric),
                        m.baseline_mean,
                        m.candidate_mean,
                        m.diff.mean,
                        m.diff.interval.low,
                        m.diff.interval.high,
                        m.verdict.map_or("–", verdict_name)
                    );
                }
                let _ = write!(
                    s,
                    "<tr><td colspan=\"7\">McNemar: b = {}, c = {}, p = {:.4}</td></tr>",
                    c.mcnemar.b, c.mcnemar.c, c.mcnemar.p_value
                );
            }
            s.push_str("</table>");
        }
        s.push_str("<h2>Cases</h2><table><tr><th>test</th><th>variant</th><th>result</th><th>score</th><th>output</th><th>reason</th></tr>");
        for c in &self.results {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{} | {}</td><td class=\"{}\">{}</td><td>{:.3}</td><td><pre>{}</pre></td><td>{}</td></tr>",
                xml(&case_name(c)),
                xml(&c.provider),
                xml(&c.prompt),
                if c.pass { "pass" } else { "fail" },
                if c.pass { "PASS" } else { "FAIL" },
                c.score,
                xml(&c.output.as_ref().map_or(String::new(), |o| o
                    .text
                    .chars()
                    .take(1000)
                    .collect())),
                reason_html(c)
            );
        }
        s.push_str("</table></body></html>\n");
        s
    }
}

/// Horizontal bars: pass rate (with its interval as a whisker) and mean score, per variant.
fn bars(rows: &[(String, f64, f64, Interval)]) -> String {
    let row_h = 34;
    let h = rows.len() * row_h + 20;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{h}\" role=\"img\">"
    );
    for (i, (name, rate, score, ci)) in rows.iter().enumerate() {
        let y = i * row_h + 10;
        let w = |x: f64| (x.clamp(0.0, 1.0) * 400.0).round();
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
<rect x=\"260\" y=\"{y}\" width=\"{}\" height=\"12\" fill=\"#2da44e\"/>\
<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\">{:.1}%</text>\
<rect x=\"260\" y=\"{}\" width=\"{}\" height=\"10\" fill=\"#0969da\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\">score {:.3}</text>",
            y + 14,
            xml(&name.chars().take(40).collect::<String>()),
            w(*rate),
            260.0 + w(ci.low),
            260.0 + w(ci.high),
            y + 6,
            y + 6,
            270.0 + w(*rate).max(w(ci.high)),
            y + 11,
            rate * 100.0,
            y + 14,
            w(*score),
            270.0 + w(*score),
            y + 23,
            score
        );
    }
    s.push_str("</svg>");
    s
}

/// The reason cell of the HTML cases table: a failing case's error, or each failing assertion
/// as type, value and reason.
fn reason_html(c: &CaseResult) -> String {
    if c.pass {
        return String::new();
    }
    let failed = failing(c);
    if c.error.is_some() || failed.is_empty() {
        return xml(&why(c));
    }
    let mut s = String::new();
    for f in failed {
        let value = f
            .value
            .map_or(String::new(), |v| format!(" <code>{}</code>", xml(&v)));
        let _ = write!(
            s,
            "<div><code>{}</code>{value}: {}</div>",
            xml(&f.kind),
            xml(f.reason)
        );
    }
    s
}
