//! A suite's assertion (YAML read as JSON) → [`Assertion`], checked up front: an unknown type,
//! field or malformed value is an [`EvalError::Suite`] naming where it is, never a silent pass.

use serde_json::{Map, Value};

use super::{bad, graded, json, locate, similarity, text, value_list, value_text};
use crate::model::{Assertion, EvalError};

/// Every assertion type, without its optional `not-` prefix.
pub const SUPPORTED: &[&str] = &[
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "is-json",
    "contains-json",
    "is-valid-openai-tools-call",
    "finish-reason",
    "levenshtein",
    "rouge-n",
    "bleu",
    "word-count",
    "latency",
    "cost",
    "similar",
    "llm-rubric",
    "factuality",
    "model-graded-closedqa",
    "answer-relevance",
    "context-faithfulness",
    "assert-set",
    "javascript",
    "python",
];

/// The types that ask the judge for a completion (and so take a `rubricPrompt`).
const MODEL_GRADED: &[&str] = &[
    "llm-rubric",
    "factuality",
    "model-graded-closedqa",
    "answer-relevance",
    "context-faithfulness",
];

/// An assertion's fields; `description` is accepted and ignored.
const FIELDS: &[&str] = &[
    "type",
    "value",
    "threshold",
    "weight",
    "metric",
    "provider",
    "rubricPrompt",
    "assert",
    "description",
    "transform",
];

/// Parses one assertion from the suite's YAML-as-JSON (`{"type": "not-contains", "value": ...,
/// "threshold": .., "weight": .., "metric": .., "provider": .., "rubricPrompt": .., "assert":
/// [..]}`); `path` is for errors.
///
/// # Errors
/// [`EvalError::Suite`] at `path` (or a field under it) for an unknown type or field and for a
/// value, threshold, weight or member of the wrong shape.
pub fn parse(v: &Value, path: &str) -> Result<Assertion, EvalError> {
    let Some(fields) = v.as_object() else {
        return Err(EvalError::suite(
            path,
            "an assertion must be a mapping with a `type`",
        ));
    };
    if let Some(field) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(EvalError::suite(
            format!("{path}.{field}"),
            format!(
                "unknown assertion field `{field}`; assertions take {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let Some(Value::String(ty)) = fields.get("type") else {
        let message = format!(
            "an assertion needs a `type`, one of {}",
            SUPPORTED.join(", ")
        );
        return Err(EvalError::suite(format!("{path}.type"), message));
    };
    let (negate, kind) = match ty.strip_prefix("not-") {
        Some(kind) => (true, kind),
        None => (false, ty.as_str()),
    };
    if !SUPPORTED.contains(&kind) {
        return Err(locate(unknown_type(ty), &format!("{path}.type")));
    }
    if negate && kind == "assert-set" {
        return Err(EvalError::suite(
            format!("{path}.type"),
            "assert-set cannot be negated; negate its members instead",
        ));
    }
    let at = |e| locate(e, path);
    let a = Assertion {
        kind: kind.to_owned(),
        negate,
        value: present(fields, "value").cloned(),
        threshold: number(fields, "threshold").map_err(at)?,
        weight: weight(fields).map_err(at)?,
        metric: metric(fields).map_err(at)?,
        provider: present(fields, "provider").cloned(),
        rubric_prompt: present(fields, "rubricPrompt").cloned(),
        assert: members(fields, kind, path)?,
        transform: transform(fields).map_err(at)?,
    };
    check(&a).map_err(at)?;
    Ok(a)
}

/// Whether grading `a` asks a [`Judge`](crate::Judge): a model-graded type or `similar`, itself
/// or among an `assert-set`'s members. What runs without one (online evaluators) checks this up
/// front instead of failing on the first answer.
pub fn uses_judge(a: &Assertion) -> bool {
    MODEL_GRADED.contains(&a.kind.as_str())
        || a.kind == "similar"
        || a.assert.iter().any(uses_judge)
}

/// Whether `kind` (without `not-`) is model-graded, so a test's `options.rubricPrompt` applies.
pub fn is_model_graded(kind: &str) -> bool {
    MODEL_GRADED.contains(&kind)
}

/// The error for a type that isn't in [`SUPPORTED`].
pub(super) fn unknown_type(ty: &str) -> EvalError {
    bad(
        "",
        format!(
            "unknown assertion type `{ty}`; supported types: {} (each can be negated with a `not-` prefix)",
            SUPPORTED.join(", ")
        ),
    )
}

/// A field that is given and not `null` (an empty YAML field reads as `null`).
fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|v| !v.is_null())
}

/// `transform`: inline JavaScript the sandbox can run (checked now, run per output).
fn transform(fields: &Map<String, Value>) -> Result<Option<String>, EvalError> {
    match present(fields, "transform") {
        None => Ok(None),
        Some(Value::String(code)) if !code.trim().is_empty() => {
            crate::js::check_code(code, "transform")?;
            Ok(Some(code.clone()))
        }
        Some(_) => Err(bad(
            "transform",
            "`transform` must be JavaScript code (a string)",
        )),
    }
}

fn number(fields: &Map<String, Value>, name: &str) -> Result<Option<f64>, EvalError> {
    match present(fields, name) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(bad(name, format!("`{name}` must be a number"))),
        },
    }
}

fn weight(fields: &Map<String, Value>) -> Result<Option<f64>, EvalError> {
    match number(fields, "weight")? {
        Some(w) if w < 0.0 => Err(bad("weight", "`weight` must be 0 or more")),
        w => Ok(w),
    }
}

fn metric(fields: &Map<String, Value>) -> Result<Option<String>, EvalError> {
    match present(fields, "metric") {
        None => Ok(None),
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(Some(m.clone())),
        Some(_) => Err(bad("metric", "`metric` must be a non-empty string")),
    }
}

/// `assert-set`'s members (required, non-empty); any other type must not have `assert`.
fn members(
    fields: &Map<String, Value>,
    kind: &str,
    path: &str,
) -> Result<Vec<Assertion>, EvalError> {
    match (present(fields, "assert"), kind) {
        (Some(Value::Array(items)), "assert-set") if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse(item, &format!("{path}.assert[{i}]")))
            .collect(),
        (_, "assert-set") => Err(EvalError::suite(
            format!("{path}.assert"),
            "assert-set needs an `assert` list of assertions",
        )),
        (None, _) => Ok(Vec::new()),
        (Some(_), _) => Err(EvalError::suite(
            format!("{path}.assert"),
            format!("only assert-set takes an `assert` list, not `{kind}`"),
        )),
    }
}

/// What grading would reject later, found now. Fields are relative to the assertion.
fn check(a: &Assertion) -> Result<(), EvalError> {
    let kind = a.kind.as_str();
    if a.provider.is_some() && !(MODEL_GRADED.contains(&kind) || kind == "similar") {
        return Err(bad(
            "provider",
            format!("`{kind}` does not use a judge, so it takes no `provider`"),
        ));
    }
    if let Some(prompt) = &a.rubric_prompt {
        if !MODEL_GRADED.contains(&kind) {
            return Err(bad(
                "rubricPrompt",
                format!("`{kind}` is not model-graded, so it takes no `rubricPrompt`"),
            ));
        }
        graded::custom_prompt(prompt)?;
    }
    // A value still holding `{{…}}` is rendered per test; its pattern or schema is checked then.
    let templated = matches!(&a.value, Some(Value::String(s)) if s.contains("{{"));
    match kind {
        "equals" => match &a.value {
            Some(Value::Object(_) | Value::Array(_)) => Ok(()),
            _ => value_text(a).map(drop),
        },
        "contains"
        | "icontains"
        | "starts-with"
        | "finish-reason"
        | "factuality"
        | "model-graded-closedqa" => value_text(a).map(drop),
        "contains-any" | "contains-all" | "icontains-any" | "icontains-all" => {
            value_list(a).map(drop)
        }
        "regex" if templated => value_text(a).map(drop),
        "regex" => text::compiled_regex(a).map(drop),
        "is-json" | "contains-json" if templated => Ok(()),
        "is-json" | "contains-json" => json::value_schema(a).map(drop),
        "is-valid-openai-tools-call" => json::declared_tools(a).map(drop),
        "levenshtein" => {
            value_text(a)?;
            match a.threshold {
                Some(t) if t < 0.0 => Err(bad(
                    "threshold",
                    "levenshtein's threshold must be 0 or more",
                )),
                _ => Ok(()),
            }
        }
        "rouge-n" | "bleu" | "similar" => similarity::references(a).map(drop),
        "word-count" => text::word_bounds(a).map(drop),
        "latency" | "cost" => text::required_threshold(a).map(drop),
        "llm-rubric" => graded::rubric_text(a).map(drop),
        "javascript" => super::javascript::check(a),
        "python" => value_text(a).map(drop),
        _ => Ok(()),
    }
}
