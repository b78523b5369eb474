//! Every assertion type, with promptfoo's semantics: [`parse`] turns a suite's assertion into an
//! [`Assertion`] (rejecting unknown types and malformed values up front), [`grade`] grades one
//! output against it, and [`grade_all`] combines a test's assertions into one [`Grade`].
//!
//! - `text`: string checks (`equals`, `contains`…, `regex`, `levenshtein`, `word-count`) and the
//!   response's metadata (`finish-reason`, `latency`, `cost`).
//! - `json`: `is-json`, `contains-json`, `is-valid-openai-tools-call`.
//! - `similarity`: `rouge-n`, `bleu` and the embedding-based `similar`.
//! - `graded`: the model-graded assertions, which ask the suite's [`Judge`](crate::Judge).
//!
//! `not-` inverts a verdict (pass flips, score becomes `1 - score`), except where the assertion
//! could not be decided at all (a cached response's latency, a judge reply that cannot be read):
//! those fail whether negated or not, so a missing measurement never turns into a pass.

mod cache;
mod graded;
mod javascript;
mod json;
mod parse;
mod similarity;
mod text;

use std::borrow::Cow;
use std::collections::BTreeMap;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, try_join_all};
use serde_json::Value;

use crate::model::{Assertion, Context, EvalError, Grade, Output, Tokens};

pub(crate) use javascript::output_value;
pub use javascript::with_value;
pub use parse::{SUPPORTED, is_model_graded, parse, uses_judge};

/// Scores within this distance of a threshold meet it (floating-point sums such as 0.1 + 0.2).
const EPSILON: f64 = 1e-9;

/// Grades one output. A test's assertions are combined by [`grade_all`].
///
/// # Errors
/// [`EvalError::Suite`] when the assertion is malformed (an unknown type, a value of the wrong
/// shape, a model-graded assertion without a judge); [`EvalError::Provider`] when the judge fails.
pub async fn grade(a: &Assertion, out: &Output, ctx: &Context<'_>) -> Result<Grade, EvalError> {
    grade_boxed(a, out, ctx).await
}

/// All of a test's assertions: pass iff every assertion passes (promptfoo's rule), score = the
/// weighted mean of their scores (weight-0 assertions don't count toward it), `named_scores` per
/// `metric`, `components` = each assertion's grade. With a test-level `threshold`, pass iff
/// score >= threshold instead. No assertions: a pass with score 1.
///
/// # Errors
/// As [`grade`], for the first assertion that errs.
pub async fn grade_all(
    asserts: &[Assertion],
    threshold: Option<f64>,
    out: &Output,
    ctx: &Context<'_>,
) -> Result<Grade, EvalError> {
    let grades = try_join_all(asserts.iter().map(|a| grade_boxed(a, out, ctx))).await?;
    Ok(combine(asserts, grades, threshold))
}

/// What one assertion concluded, before `not-` is applied.
pub(crate) enum Outcome {
    /// A verdict on the output; `not-` inverts it.
    Verdict(Grade),
    /// Could not be decided (a cached response's latency, an unreadable judge reply): a failure
    /// that `not-` leaves a failure.
    Undecided(Grade),
    /// A verdict with `not-` already applied (script assertions invert the pass, not the score).
    Final(Grade),
}

impl Outcome {
    /// A pass/fail verdict scored 1 or 0.
    fn check(pass: bool, reason: impl Into<String>) -> Outcome {
        Outcome::Verdict(Grade::scored(pass, if pass { 1.0 } else { 0.0 }, reason))
    }

    /// A verdict with a score, passing iff the score meets `threshold`.
    fn measured(score: f64, threshold: f64, what: impl std::fmt::Display) -> Outcome {
        let pass = meets(score, threshold);
        let cmp = if pass { ">=" } else { "<" };
        Outcome::Verdict(Grade::scored(
            pass,
            score,
            format!("{what} {score:.2} {cmp} threshold {threshold}"),
        ))
    }

    fn undecided(reason: impl Into<String>) -> Outcome {
        Outcome::Undecided(Grade::fail(reason))
    }

    fn with_tokens(mut self, tokens: Option<Tokens>) -> Outcome {
        match &mut self {
            Outcome::Verdict(g) | Outcome::Undecided(g) | Outcome::Final(g) => {
                g.judge_tokens = tokens;
            }
        }
        self
    }
}

fn meets(score: f64, threshold: f64) -> bool {
    score >= threshold - EPSILON
}

/// Boxed so that `assert-set` can recurse.
fn grade_boxed<'a>(
    a: &'a Assertion,
    out: &'a Output,
    ctx: &'a Context<'a>,
) -> BoxFuture<'a, Result<Grade, EvalError>> {
    async move {
        let mut g = if a.kind == "assert-set" {
            let grades = try_join_all(a.assert.iter().map(|m| grade_boxed(m, out, ctx))).await?;
            combine(&a.assert, grades, a.threshold)
        } else {
            // An assertion's own `transform` changes what it grades; if it fails, the
            // assertion fails, negated or not.
            let transformed = match &a.transform {
                Some(code) => Some(javascript::transformed(code, out, ctx).await),
                None => None,
            };
            match transformed {
                Some(Err(reason)) => Grade::fail(reason),
                Some(Ok(t)) => decide(a, &t, ctx).await?,
                None => decide(a, out, ctx).await?,
            }
        };
        if let Some(metric) = &a.metric {
            g.named_scores.insert(metric.clone(), g.score);
        }
        g.assertion = Some(a.into());
        Ok(g)
    }
    .boxed()
}

async fn decide(a: &Assertion, out: &Output, ctx: &Context<'_>) -> Result<Grade, EvalError> {
    Ok(
        match evaluate(a, out, ctx)
            .await
            .map_err(|e| locate(e, &a.type_name()))?
        {
            Outcome::Verdict(g) if a.negate => negated(g),
            Outcome::Verdict(g) | Outcome::Undecided(g) | Outcome::Final(g) => g,
        },
    )
}

async fn evaluate(a: &Assertion, out: &Output, ctx: &Context<'_>) -> Result<Outcome, EvalError> {
    match a.kind.as_str() {
        "similar" => similarity::similar(a, out, ctx).await,
        "llm-rubric" => graded::llm_rubric(a, out, ctx).await,
        "factuality" => graded::factuality(a, out, ctx).await,
        "model-graded-closedqa" => graded::closed_qa(a, out, ctx).await,
        "answer-relevance" => graded::answer_relevance(a, out, ctx).await,
        "context-faithfulness" => graded::context_faithfulness(a, out, ctx).await,
        "javascript" => javascript::javascript(a, out, ctx).await,
        // Negation is applied inside, with promptfoo's python rules.
        "python" => crate::python::assertion::grade(a, out, ctx).await,
        _ => deterministic(a, out),
    }
}

/// The assertions that need nothing but the output.
fn deterministic(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    match a.kind.as_str() {
        "equals" => text::equals(a, out),
        "contains" => text::contains(a, out, false),
        "icontains" => text::contains(a, out, true),
        "contains-any" => text::contains_any(a, out, false),
        "icontains-any" => text::contains_any(a, out, true),
        "contains-all" => text::contains_all(a, out, false),
        "icontains-all" => text::contains_all(a, out, true),
        "starts-with" => text::starts_with(a, out),
        "regex" => text::regex(a, out),
        "word-count" => text::word_count(a, out),
        "levenshtein" => text::levenshtein(a, out),
        "finish-reason" => text::finish_reason(a, out),
        "latency" => text::latency(a, out),
        "cost" => text::cost(a, out),
        "is-json" => json::is_json(a, out),
        "contains-json" => json::contains_json(a, out),
        "is-valid-openai-tools-call" => json::tools_call(a, out),
        "rouge-n" => similarity::rouge_n(a, out),
        "bleu" => similarity::bleu(a, out),
        other => Err(parse::unknown_type(other)),
    }
}

/// The reason stays a fact about the output (`output contains "cat"`); the grade's assertion,
/// `not-contains`, says what was expected of it.
fn negated(mut g: Grade) -> Grade {
    g.pass = !g.pass;
    g.score = 1.0 - g.score;
    g
}

/// Combines assertions' grades (a test's, or an `assert-set`'s members).
fn combine(asserts: &[Assertion], grades: Vec<Grade>, threshold: Option<f64>) -> Grade {
    if grades.is_empty() {
        return Grade::pass("No assertions");
    }
    let mut total = 0.0;
    let mut total_weight = 0.0;
    // Per metric: weighted sum and weight, plus an unweighted sum and count for metrics whose
    // assertions all have weight 0 (promptfoo's way of recording a metric without scoring it).
    let mut metrics: BTreeMap<String, [f64; 4]> = BTreeMap::new();
    let mut judge_tokens = None;
    for (a, g) in asserts.iter().zip(&grades) {
        let weight = a.score_weight();
        total += weight * g.score;
        total_weight += weight;
        for (name, score) in &g.named_scores {
            let m = metrics.entry(name.clone()).or_default();
            m[0] += weight * score;
            m[1] += weight;
            m[2] += score;
            m[3] += 1.0;
        }
        judge_tokens = add_tokens(judge_tokens, g.judge_tokens);
    }
    let all_pass = grades.iter().all(|g| g.pass);
    let score = if total_weight > 0.0 {
        total / total_weight
    } else if all_pass {
        1.0
    } else {
        0.0
    };
    let (pass, reason) = match threshold {
        Some(t) => {
            let pass = meets(score, t);
            let cmp = if pass { ">=" } else { "<" };
            (
                pass,
                format!("aggregate score {score:.2} {cmp} threshold {t}"),
            )
        }
        None if all_pass => (true, "all assertions passed".to_owned()),
        None => {
            let failed: Vec<String> = grades
                .iter()
                .filter(|g| !g.pass)
                .map(Grade::labelled_reason)
                .collect();
            (false, failed.join("; "))
        }
    };
    let named_scores = metrics
        .into_iter()
        .map(|(name, [sum, weight, plain, count])| {
            let mean = if weight > 0.0 {
                sum / weight
            } else {
                plain / count
            };
            (name, mean)
        })
        .collect();
    Grade {
        pass,
        score,
        reason,
        assertion: None,
        named_scores,
        components: grades,
        judge_tokens,
    }
}

fn add_tokens(a: Option<Tokens>, b: Option<Tokens>) -> Option<Tokens> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Tokens {
            prompt: a.prompt + b.prompt,
            completion: a.completion + b.completion,
            total: a.total + b.total,
        }),
        (a, b) => a.or(b),
    }
}

/// Prefixes a [`EvalError::Suite`] path (`value`, `threshold`, or empty) with where the
/// assertion is.
fn locate(e: EvalError, at: &str) -> EvalError {
    match e {
        EvalError::Suite { path, message } if path.is_empty() => EvalError::suite(at, message),
        EvalError::Suite { path, message } => EvalError::suite(format!("{at}.{path}"), message),
        other => other,
    }
}

/// An error in one field of the assertion; [`locate`] adds where the assertion is.
fn bad(field: &str, message: impl Into<String>) -> EvalError {
    EvalError::suite(field, message)
}

/// Strings as they are; numbers and booleans as written (promptfoo converts them with `String`).
fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// `value` as one string (or number).
fn value_text(a: &Assertion) -> Result<Cow<'_, str>, EvalError> {
    a.value
        .as_ref()
        .and_then(scalar_text)
        .ok_or_else(|| bad("value", format!("`{}` needs a string `value`", a.kind)))
}

/// `value` as a list: a YAML list, or one comma-separated string (`"a, b"`; double quotes keep a
/// comma inside an item).
fn value_list(a: &Assertion) -> Result<Vec<Cow<'_, str>>, EvalError> {
    let items: Vec<Cow<'_, str>> = match &a.value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                scalar_text(v)
                    .ok_or_else(|| bad("value", format!("`{}` needs a list of strings", a.kind)))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => split_commas(s).into_iter().map(Cow::Owned).collect(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => scalar_text(v).into_iter().collect(),
        _ => Vec::new(),
    };
    if items.is_empty() {
        return Err(bad(
            "value",
            format!(
                "`{}` needs a list of strings (or one comma-separated string)",
                a.kind
            ),
        ));
    }
    Ok(items)
}

/// Splits `a, "b, c", d` into `a`, `b, c`, `d`; items are trimmed and empty ones dropped.
fn split_commas(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if current.trim().is_empty() => {
                current.clear();
                quoted = true;
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// A short, quoted excerpt for reasons: at most 120 characters, escapes visible.
fn quote(s: &str) -> String {
    const MAX: usize = 120;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b", &["a", "b"]),
            (" a , b ,, ", &["a", "b"]),
            ("\"1,000\", in stock", &["1,000", "in stock"]),
            ("say \"hi\", bye", &["say \"hi\"", "bye"]),
            ("\"a \"\"quoted\"\" word\"", &["a \"quoted\" word"]),
            ("single", &["single"]),
        ];
        for (input, want) in cases {
            assert_eq!(split_commas(input), *want, "{input}");
        }
    }

    #[test]
    fn which_assertions_use_a_judge() {
        let cases = [
            (
                serde_json::json!({"type": "not-contains", "value": "x"}),
                false,
            ),
            (
                serde_json::json!({"type": "llm-rubric", "value": "polite"}),
                true,
            ),
            (serde_json::json!({"type": "similar", "value": "x"}), true),
            (
                serde_json::json!({"type": "assert-set", "assert": [
                    {"type": "contains", "value": "x"},
                    {"type": "factuality", "value": "y"}
                ]}),
                true,
            ),
        ];
        for (v, want) in cases {
            let a = parse(&v, "a").map_err(|e| e.to_string());
            assert_eq!(a.map(|a| uses_judge(&a)), Ok(want), "{v}");
        }
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let long = "é".repeat(200);
        let q = quote(&long);
        assert!(q.ends_with('…'));
        assert_eq!(q.chars().filter(|c| *c == 'é').count(), 120);
    }
}
