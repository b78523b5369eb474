//! `javascript` (and `not-javascript`): the suite's code, run in the [`crate::js`] sandbox as
//! promptfoo runs it — `new Function('output', 'context', body)` — with promptfoo's verdicts:
//! a boolean passes when true; a number is the score, passing when above 0 or at least the
//! assertion's `threshold`; a GradingResult `{pass, score, reason}` is taken as it is. `not-`
//! inverts the pass, never the score (promptfoo's rule for script assertions). A script that
//! throws, returns something else, or is stopped by a limit fails, negated or not.

use serde_json::{Value, json};

use super::{Outcome, bad, value_text};
use crate::js::{self, JsError, Limits};
use crate::model::{Assertion, Context, EvalError, Grade, Output};

/// The output as JavaScript sees it: a transform's JSON value, else the text (a tool-calls-only
/// answer: its `tool_calls`).
pub(crate) fn output_value(out: &Output) -> Value {
    match &out.value {
        Some(v) => v.clone(),
        None if out.text.is_empty() && !out.tool_calls.is_empty() => {
            Value::Array(out.tool_calls.clone())
        }
        None => Value::String(out.text.clone()),
    }
}

/// promptfoo's assertion `context`: the test's vars, the rendered prompt, the test and the
/// assertion's config (none: seam eval has no assertion `config`).
fn context_value(ctx: &Context<'_>) -> Value {
    json!({
        "vars": ctx.vars,
        "prompt": ctx.prompt,
        "test": ctx.test.cloned().unwrap_or_else(|| json!({"vars": ctx.vars})),
        "config": {},
    })
}

pub(super) async fn javascript(
    a: &Assertion,
    out: &Output,
    ctx: &Context<'_>,
) -> Result<Outcome, EvalError> {
    let code = value_text(a)?.trim_end().to_owned();
    js::check_code(&code, "value")?;
    let result = js::call_blocking(
        &["output", "context"],
        js::assertion_body(&code),
        vec![output_value(out), context_value(ctx)],
        Limits::default(),
    )
    .await;
    Ok(Outcome::Final(verdict(a, result)))
}

fn failed(reason: String) -> Grade {
    Grade::fail(reason)
}

/// promptfoo's normalisation of a script's result, `not-` included.
fn verdict(a: &Assertion, result: Result<js::JsValue, JsError>) -> Grade {
    let r = match result {
        Ok(r) => r,
        Err(e @ JsError::Sandbox(_)) => return failed(format!("JavaScript {e}")),
        Err(JsError::Limit(m)) => return failed(format!("JavaScript {m}")),
        Err(e) => return failed(format!("Custom function threw error: {e}")),
    };
    let inverse = a.negate;
    let bad_return = || {
        failed(format!(
            "Custom function must return a boolean, a finite number, or a GradingResult object ({{pass, score, reason}}). Got type {}.",
            r.kind
        ))
    };
    match (r.kind.as_str(), &r.value) {
        ("boolean", Some(Value::Bool(b))) => {
            let pass = *b != inverse;
            Grade::scored(
                pass,
                if pass { 1.0 } else { 0.0 },
                if pass {
                    "Assertion passed".to_owned()
                } else {
                    format!("JavaScript returned {b}")
                },
            )
        }
        ("number", Some(Value::Number(n))) => {
            let score = n.as_f64().unwrap_or(0.0);
            let raw = match a.threshold {
                None => score > 0.0,
                Some(t) => score >= t,
            };
            let pass = raw != inverse;
            let reason = if pass {
                "Assertion passed".to_owned()
            } else {
                match a.threshold {
                    None => format!("JavaScript returned score {score}"),
                    Some(t) => format!(
                        "JavaScript returned score {score}, {} threshold {t}",
                        if raw { ">=" } else { "<" }
                    ),
                }
            };
            Grade::scored(pass, score, reason)
        }
        ("object", Some(Value::Object(o))) => {
            let (Some(p), Some(score), Some(reason)) = (
                o.get("pass").and_then(Value::as_bool),
                o.get("score").and_then(Value::as_f64),
                o.get("reason").and_then(Value::as_str),
            ) else {
                return bad_return();
            };
            let pass = p != inverse;
            let reason = match (inverse, pass) {
                (false, _) => reason.to_owned(),
                (true, true) => "Assertion passed".to_owned(),
                (true, false) if reason.is_empty() => "JavaScript returned true".to_owned(),
                (true, false) => reason.to_owned(),
            };
            Grade::scored(pass, score, reason)
        }
        _ => bad_return(),
    }
}

/// Checked when the suite is loaded: a string `value` with code the sandbox can run.
pub(super) fn check(a: &Assertion) -> Result<(), EvalError> {
    let code = value_text(a)?;
    if code.trim().is_empty() {
        return Err(bad("value", "`javascript` needs code in `value`"));
    }
    js::check_code(&code, "value")
}

/// An assertion's own `transform`: the output this assertion grades, with promptfoo's
/// `output`/`context` (`vars`, `prompt`).
pub(super) async fn transformed(
    code: &str,
    out: &Output,
    ctx: &Context<'_>,
) -> Result<Output, String> {
    let context = json!({"vars": ctx.vars, "prompt": ctx.prompt});
    let v = js::transform(code, output_value(out), context)
        .await
        .map_err(|e| format!("transform failed: {e}"))?;
    Ok(with_value(out, v))
}

/// `out` with its output replaced by `v`: a string is the text; anything else is kept as JSON
/// for JavaScript and graded as its JSON text by the other assertions (promptfoo stringifies).
pub fn with_value(out: &Output, v: Value) -> Output {
    let mut o = out.clone();
    match v {
        Value::String(s) => {
            o.text = s;
            o.value = None;
        }
        other => {
            o.text = other.to_string();
            o.value = Some(other);
        }
    }
    o
}
