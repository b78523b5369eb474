//! Guards and goals as written in the config: `METRIC [OP BOUND]`.
//!
//! `error_rate` (bare: the candidate is not worse than the control, in the metric's natural
//! direction), `latency_p95 <= 1.2x` (a ratio of candidate to control), `feedback:resolved >= -0.02`
//! (a margin on the difference candidate − control). [`Check::parse`] refuses anything whose
//! meaning is unclear; `Display` gives back the canonical text, which audit records quote.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A quantile of a distribution metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantile {
    P50,
    P95,
    P99,
}

impl Quantile {
    /// The quantile as a probability.
    pub fn level(self) -> f64 {
        match self {
            Quantile::P50 => 0.50,
            Quantile::P95 => 0.95,
            Quantile::P99 => 0.99,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P95 => "p95",
            Quantile::P99 => "p99",
        }
    }
}

/// What a check measures.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Share of requests that failed.
    ErrorRate,
    /// Share of answers that broke their output contract.
    ContractViolations,
    /// Share of requests a policy flagged or blocked.
    PolicyViolations,
    /// Total latency, milliseconds.
    Latency(Quantile),
    /// Time to first token (streams), milliseconds.
    Ttft(Quantile),
    /// Cost per request in USD, compared at the median: a mean of a heavy-tailed,
    /// unbounded quantity has no anytime-valid interval without a bound on it.
    Cost,
    /// Output tokens per request, compared at the median (as `Cost`).
    OutputTokens,
    /// User feedback named NAME, a value in 0..=1 (booleans are 0 or 1).
    Feedback(String),
    /// An online evaluator named NAME: pass/fail (0 or 1) or a score in 0..=1.
    Eval(String),
}

/// How a metric's value is summarised and bounded, which decides the statistics used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A mean of values in 0..=1 (rates, feedback, evaluator scores).
    Mean,
    /// A quantile of a histogrammed distribution.
    Quantile(Quantile),
}

impl Metric {
    pub const NAMES: &'static str = "error_rate, contract_violations, policy_violations, \
        latency_p50|p95|p99, ttft_p50|p95|p99, cost, output_tokens, feedback:NAME, eval:NAME";

    /// Whether a higher value is better (feedback, evaluators); otherwise lower is better.
    pub fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Feedback(_) | Metric::Eval(_))
    }

    pub fn kind(&self) -> Kind {
        match self {
            Metric::Latency(q) | Metric::Ttft(q) => Kind::Quantile(*q),
            Metric::Cost | Metric::OutputTokens => Kind::Quantile(Quantile::P50),
            _ => Kind::Mean,
        }
    }

    /// The key of the tally this metric reads (see [`crate::tally`]).
    pub fn tally_key(&self) -> String {
        use crate::tally::keys;
        match self {
            Metric::ErrorRate => keys::ERROR.into(),
            Metric::ContractViolations => keys::CONTRACT_VIOLATION.into(),
            Metric::PolicyViolations => keys::POLICY_VIOLATION.into(),
            Metric::Latency(_) => keys::LATENCY_MS.into(),
            Metric::Ttft(_) => keys::TTFT_MS.into(),
            Metric::Cost => keys::COST_USD.into(),
            Metric::OutputTokens => keys::OUTPUT_TOKENS.into(),
            Metric::Feedback(name) => format!("feedback:{name}"),
            Metric::Eval(name) => format!("eval:{name}"),
        }
    }

    fn parse(s: &str) -> Result<Metric, String> {
        let named = |prefix: &str, make: fn(String) -> Metric| -> Option<Result<Metric, String>> {
            let name = s.strip_prefix(prefix)?;
            Some(if valid_name(name) {
                Ok(make(name.to_owned()))
            } else {
                Err(format!(
                    "\"{s}\": the name after {prefix} must be 1-64 letters, digits, '-', '_' or '.'"
                ))
            })
        };
        if let Some(m) =
            named("feedback:", Metric::Feedback).or_else(|| named("eval:", Metric::Eval))
        {
            return m;
        }
        let quantile = |rest: &str| match rest {
            "p50" => Some(Quantile::P50),
            "p95" => Some(Quantile::P95),
            "p99" => Some(Quantile::P99),
            _ => None,
        };
        let m = match s {
            "error_rate" => Metric::ErrorRate,
            "contract_violations" => Metric::ContractViolations,
            "policy_violations" => Metric::PolicyViolations,
            "cost" => Metric::Cost,
            "output_tokens" => Metric::OutputTokens,
            _ => {
                let parsed = s
                    .strip_prefix("latency_")
                    .and_then(quantile)
                    .map(Metric::Latency)
                    .or_else(|| s.strip_prefix("ttft_").and_then(quantile).map(Metric::Ttft));
                return parsed.ok_or_else(|| {
                    format!("unknown metric \"{s}\"; expected one of {}", Metric::NAMES)
                });
            }
        };
        Ok(m)
    }
}

/// The name of a task metric (`feedback:NAME`, `eval:NAME`): 1-64 letters, digits, `-`, `_` or
/// `.` — what `POST /v1/feedback` accepts too, so every rating can be a check.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::ContractViolations => f.write_str("contract_violations"),
            Metric::PolicyViolations => f.write_str("policy_violations"),
            Metric::Latency(q) => write!(f, "latency_{}", q.suffix()),
            Metric::Ttft(q) => write!(f, "ttft_{}", q.suffix()),
            Metric::Cost => f.write_str("cost"),
            Metric::OutputTokens => f.write_str("output_tokens"),
            Metric::Feedback(n) => write!(f, "feedback:{n}"),
            Metric::Eval(n) => write!(f, "eval:{n}"),
        }
    }
}

/// The comparison, which must agree with the metric's natural direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<=`: for lower-is-better metrics.
    Le,
    /// `>=`: for higher-is-better metrics.
    Ge,
}

/// What the candidate is compared on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// candidate / control OP this (`1.2x`).
    Ratio(f64),
    /// candidate − control OP this, in the metric's unit (a rate, ms, USD, tokens, a score).
    Diff(f64),
}

/// One guard or goal, parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Check {
    pub metric: Metric,
    /// `None`: written bare, meaning "not worse than control" (a difference of 0).
    pub limit: Option<(Op, Bound)>,
}

impl Check {
    /// Parses `METRIC`, `METRIC <= 1.2x` or `METRIC >= -0.02`.
    pub fn parse(text: &str) -> Result<Check, String> {
        let text = text.trim();
        let Some(at) = text.find(['<', '>', '=']) else {
            return Metric::parse(text).map(|metric| Check {
                metric,
                limit: None,
            });
        };
        let metric = Metric::parse(text[..at].trim())?;
        let rest = &text[at..];
        let (op, bound) = if let Some(b) = rest.strip_prefix("<=") {
            (Op::Le, b)
        } else if let Some(b) = rest.strip_prefix(">=") {
            (Op::Ge, b)
        } else {
            return Err(format!("\"{text}\": the comparison must be <= or >="));
        };
        let want = if metric.higher_is_better() {
            Op::Ge
        } else {
            Op::Le
        };
        if op != want {
            let (dir, sym) = match want {
                Op::Le => ("lower", "<="),
                Op::Ge => ("higher", ">="),
            };
            return Err(format!(
                "\"{text}\": {metric} is better {dir}, so its bound is written with {sym}"
            ));
        }
        let bound = parse_bound(&metric, bound.trim()).map_err(|e| format!("\"{text}\": {e}"))?;
        Ok(Check {
            metric,
            limit: Some((op, bound)),
        })
    }

    /// The op and bound this check holds the candidate to (bare: the natural op, difference 0).
    pub fn effective(&self) -> (Op, Bound) {
        self.limit.unwrap_or(if self.metric.higher_is_better() {
            (Op::Ge, Bound::Diff(0.0))
        } else {
            (Op::Le, Bound::Diff(0.0))
        })
    }
}

fn parse_bound(metric: &Metric, s: &str) -> Result<Bound, String> {
    if s.is_empty() {
        return Err("a bound is missing after the comparison".into());
    }
    if let Some(r) = s.strip_suffix('x') {
        let r: f64 = r
            .trim()
            .parse()
            .map_err(|_| format!("\"{s}\" is not a ratio like 1.2x"))?;
        if !(r.is_finite() && r > 0.0 && r <= 1000.0) {
            return Err(format!("the ratio {s} must be above 0x and at most 1000x"));
        }
        return Ok(Bound::Ratio(r));
    }
    let d: f64 = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number or a ratio like 1.2x"))?;
    if !d.is_finite() {
        return Err(format!("the bound {s} must be finite"));
    }
    if metric.kind() == Kind::Mean && !(-1.0..=1.0).contains(&d) {
        return Err(format!(
            "{metric} is a share or a score in 0..1, so a difference of {s} is out of range (-1..1)"
        ));
    }
    Ok(Bound::Diff(d))
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.metric)?;
        if let Some((op, bound)) = self.limit {
            let op = match op {
                Op::Le => "<=",
                Op::Ge => ">=",
            };
            match bound {
                Bound::Ratio(r) => write!(f, " {op} {r}x")?,
                Bound::Diff(d) => write!(f, " {op} {d}")?,
            }
        }
        Ok(())
    }
}

impl TryFrom<String> for Check {
    type Error = String;

    fn try_from(s: String) -> Result<Check, String> {
        Check::parse(&s)
    }
}

impl From<Check> for String {
    fn from(c: Check) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn good_checks_parse_to_their_canonical_text() {
        let table = [
            ("error_rate", "error_rate"),
            ("  contract_violations ", "contract_violations"),
            ("policy_violations <= 0.01", "policy_violations <= 0.01"),
            ("latency_p95 <= 1.2x", "latency_p95 <= 1.2x"),
            ("latency_p99<=1.50x", "latency_p99 <= 1.5x"),
            ("ttft_p50 <= 200", "ttft_p50 <= 200"),
            ("cost <= 1.1x", "cost <= 1.1x"),
            ("output_tokens <= +50", "output_tokens <= 50"),
            ("feedback:resolved >= -0.02", "feedback:resolved >= -0.02"),
            ("feedback:thumbs_up", "feedback:thumbs_up"),
            ("eval:faithfulness >= 0.95x", "eval:faithfulness >= 0.95x"),
            ("eval:json.valid >= 0", "eval:json.valid >= 0"),
        ];
        for (text, canonical) in table {
            let c = Check::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.to_string(), canonical, "{text}");
            assert_eq!(Check::parse(canonical).unwrap(), c, "{text} round trip");
        }
    }

    #[test]
    fn bare_checks_mean_not_worse_in_the_natural_direction() {
        let e = Check::parse("error_rate").unwrap();
        assert_eq!(e.effective(), (Op::Le, Bound::Diff(0.0)));
        let f = Check::parse("feedback:x").unwrap();
        assert_eq!(f.effective(), (Op::Ge, Bound::Diff(0.0)));
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let table = [
            ("", "unknown metric"),
            ("errors", "unknown metric \"errors\""),
            ("latency_p90 <= 1.2x", "unknown metric \"latency_p90\""),
            ("error_rate >= 2x", "error_rate is better lower"),
            (
                "feedback:resolved <= 0.1",
                "feedback:resolved is better higher",
            ),
            ("feedback:", "the name after feedback:"),
            ("eval: x", "the name after eval:"),
            ("latency_p95 <= -1.2x", "must be above 0x"),
            ("latency_p95 <= 0x", "must be above 0x"),
            ("latency_p95 <= 1.2y", "is not a number"),
            ("latency_p95 <=", "a bound is missing"),
            ("latency_p95 < 1.2x", "must be <= or >="),
            ("latency_p95 == 1.2x", "must be <= or >="),
            ("error_rate <= 2", "out of range"),
            ("feedback:ok >= -1.5", "out of range"),
            ("cost <= inf", "must be finite"),
            ("cost <= NaNx", "must be above 0x"),
        ];
        for (text, want) in table {
            let e = Check::parse(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains('\n'), "{text}: one line");
        }
    }

    #[test]
    fn checks_serialise_as_their_text() {
        let c = Check::parse("latency_p95 <= 1.2x").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"latency_p95 <= 1.2x\"");
        assert_eq!(serde_json::from_str::<Check>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Check>("\"nope\"").is_err());
    }
}
