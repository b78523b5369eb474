//! `python` assertions, as promptfoo runs them: an inline expression (`return` added) or a
//! multi-line body, called as `main(output, context)`; or `file://x.py[:fn]`, whose function
//! (`get_assert` by default) is called the same way. The answer is read as promptfoo reads it:
//! a bool, a number (passing above 0, or at `threshold`), a string `"true"`/`"false"`/JSON/a
//! number, or a GradingResult (`pass`/`pass_`, `score`, `reason`, `named_scores`,
//! `component_results`, snake_case or camelCase). Code that fails (an exception, a timeout, a
//! sandbox refusal) fails the assertion, negated or not.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::{Job, Limits, Script};
use crate::assertions::Outcome;
use crate::model::{Assertion, Context, EvalError, Grade, Output};

/// Grades `out` with the assertion's Python; negation is applied here (promptfoo's rules for
/// python differ from the other types': the score is never inverted).
pub(crate) async fn grade(
    a: &Assertion,
    out: &Output,
    ctx: &Context<'_>,
) -> Result<Outcome, EvalError> {
    let value = match &a.value {
        Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
        _ => {
            return Err(EvalError::suite(
                "value",
                "`python` needs a string `value`: code, or file://check.py[:function]",
            ));
        }
    };
    let (job, readable) = job(value);
    let args = vec![Value::String(out.text.clone()), context(out, ctx)];
    let g = match super::call(job, args, Limits::assertion(readable)).await {
        Ok(result) => normalize(a, &result).unwrap_or_else(|e| failed(&e)),
        Err(e) => failed(&e),
    };
    Ok(Outcome::Undecided(g))
}

/// What to run for `value`, and what besides Python's install it may read (a file's directory).
pub(crate) fn job(value: &str) -> (Job, Vec<PathBuf>) {
    match Script::parse(value, "get_assert", std::path::Path::new("")) {
        Some(s) if value.starts_with("file://") => {
            let dir = s.file.parent().map(PathBuf::from).into_iter().collect();
            (Job::File(s), dir)
        }
        _ => (
            Job::Code {
                source: inline_script(value),
                name: "<python assertion>".into(),
                function: "main".into(),
            },
            Vec::new(),
        ),
    }
}

/// promptfoo's wrapping of inline code: one line is an expression to return; several lines are
/// the body of `main`, indented like their first indented line (else four spaces).
pub(crate) fn inline_script(value: &str) -> String {
    let body = if value.contains('\n') {
        let indent = value
            .lines()
            .filter(|l| !l.trim().is_empty())
            .find_map(|l| {
                let rest = l.trim_start();
                (rest.len() < l.len()).then(|| &l[..l.len() - rest.len()])
            })
            .unwrap_or("    ");
        value
            .split('\n')
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        format!("    return {value}")
    };
    format!("import json\n\ndef main(output, context):\n{body}\n")
}

/// promptfoo's `context`: the prompt, the test's vars, and the provider's response.
fn context(out: &Output, ctx: &Context<'_>) -> Value {
    let tokens = out
        .tokens
        .map(|t| json!({"prompt": t.prompt, "completion": t.completion, "total": t.total}));
    json!({
        "prompt": ctx.prompt,
        "vars": ctx.vars,
        "test": {"vars": ctx.vars},
        "config": {},
        "providerResponse": {
            "output": out.text,
            "tokenUsage": tokens,
            "cost": out.cost_usd,
            "cached": out.cached,
        },
    })
}

fn failed(message: &str) -> Grade {
    Grade::fail(format!("Python code execution failed: {message}"))
}

/// The verdict from what the Python returned, negation included.
pub(crate) fn normalize(a: &Assertion, result: &Value) -> Result<Grade, String> {
    let value_note = match &a.value {
        Some(Value::String(s)) if !s.is_empty() => format!("\n{s}"),
        _ => String::new(),
    };
    let inverse = a.negate;
    let verdict = |raw: bool, score: f64| {
        let pass = raw != inverse;
        let reason = if pass {
            "Assertion passed".to_owned()
        } else {
            format!("Python code returned {raw}{value_note}")
        };
        Grade::scored(pass, score, reason)
    };
    match result {
        Value::Bool(b) => Ok(verdict(*b, if *b != inverse { 1.0 } else { 0.0 })),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(verdict(true, on(!inverse))),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(verdict(false, on(inverse))),
        Value::String(s) if s.starts_with('{') => {
            let parsed: Value = serde_json::from_str(s)
                .map_err(|e| format!("Invalid JSON: {e} when parsing result: {s}"))?;
            match parsed {
                Value::Object(o) => grading_result(a, &o),
                _ => Err(shape_error(s)),
            }
        }
        Value::Object(o) => grading_result(a, o),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            Ok(number(a, n, &verdict))
        }
        Value::String(s) => leading_float(s)
            .map(|n| number(a, n, &verdict))
            .ok_or_else(|| shape_error(s)),
        other => Err(shape_error(&other.to_string())),
    }
}

fn on(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn number(a: &Assertion, n: f64, verdict: &dyn Fn(bool, f64) -> Grade) -> Grade {
    let raw = match a.threshold {
        Some(t) => n >= t,
        None => n > 0.0,
    };
    verdict(raw, n)
}

fn shape_error(got: &str) -> String {
    format!(
        "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Got instead: {got}"
    )
}

/// A GradingResult dict (snake_case keys mapped as promptfoo maps them).
fn grading_result(a: &Assertion, o: &Map<String, Value>) -> Result<Grade, String> {
    let field = |camel: &str, snake: &str| o.get(camel).or_else(|| o.get(snake));
    let raw_pass = field("pass", "pass_").and_then(Value::as_bool);
    let score = field("score", "score").and_then(Value::as_f64);
    let reason = field("reason", "reason").and_then(Value::as_str);
    let (Some(mut raw_pass), Some(score), Some(reason)) = (raw_pass, score, reason) else {
        return Err(shape_error(&Value::Object(o.clone()).to_string()));
    };
    let mut reason = reason.to_owned();
    if let Some(t) = a.threshold
        && score < t
    {
        raw_pass = false;
        let note = format!("Python score {score} is less than threshold {t}");
        reason = if reason.is_empty() {
            note
        } else {
            format!("{note}: {reason}")
        };
    }
    let pass = raw_pass != a.negate;
    if pass != raw_pass {
        reason = if pass {
            "Assertion passed".to_owned()
        } else {
            format!("Python code returned {raw_pass}")
        };
    }
    let mut g = Grade::scored(pass, score, reason);
    if let Some(Value::Object(named)) = field("namedScores", "named_scores") {
        for (k, v) in named {
            if let Some(x) = v.as_f64() {
                g.named_scores.insert(k.clone(), x);
            }
        }
    }
    if let Some(Value::Array(parts)) = field("componentResults", "component_results") {
        for part in parts {
            if let Value::Object(p) = part {
                let plain = Assertion {
                    negate: false,
                    threshold: None,
                    ..a.clone()
                };
                g.components.push(grading_result(&plain, p)?);
            }
        }
    }
    Ok(g)
}

/// JavaScript's `parseFloat`: the longest leading decimal number, if any.
fn leading_float(s: &str) -> Option<f64> {
    let t = s.trim_start();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(t.len())
        .min(64);
    let candidate = &t[..end];
    (1..=candidate.len())
        .rev()
        .find_map(|i| candidate[..i].parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_is_wrapped_as_promptfoo_does() {
        assert_eq!(
            inline_script("len(output) > 3"),
            "import json\n\ndef main(output, context):\n    return len(output) > 3\n"
        );
        assert_eq!(
            inline_script("x = 1\nif x:\n  return True"),
            "import json\n\ndef main(output, context):\n  x = 1\n  if x:\n    return True\n"
        );
    }

    #[test]
    fn leading_floats() {
        assert_eq!(leading_float("0.8"), Some(0.8));
        assert_eq!(leading_float(" 2.5 points"), Some(2.5));
        assert_eq!(leading_float("nope"), None);
    }
}
