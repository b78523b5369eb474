//! Assertions (the assertions branch replaces this stub).

use crate::{Assertion, Context, EvalError, Grade, Output};

pub const SUPPORTED: &[&str] = &["equals", "contains"];

pub fn parse(v: &serde_json::Value, path: &str) -> Result<Assertion, EvalError> {
    let t = v["type"]
        .as_str()
        .ok_or_else(|| EvalError::suite(path, "needs a type"))?;
    let (negate, kind) = match t.strip_prefix("not-") {
        Some(k) => (true, k),
        None => (false, t),
    };
    Ok(Assertion {
        kind: kind.into(),
        negate,
        value: v.get("value").cloned(),
        weight: 1.0,
        ..Assertion::default()
    })
}

pub async fn grade_all(
    asserts: &[Assertion],
    _threshold: Option<f64>,
    out: &Output,
    _ctx: &Context<'_>,
) -> Result<Grade, EvalError> {
    let pass = asserts.iter().all(|a| {
        let v = a.value.as_ref().and_then(|v| v.as_str()).unwrap_or("");
        let r = match a.kind.as_str() {
            "equals" => out.text == v,
            _ => out.text.contains(v),
        };
        r != a.negate
    });
    Ok(if pass {
        Grade::pass("")
    } else {
        Grade::fail("failed")
    })
}
