//! `is-json`, `contains-json` and `is-valid-openai-tools-call`, and finding JSON inside text
//! (which the model-graded assertions use to read a judge's reply).

use std::sync::Arc;

use jsonschema::Validator;
use serde_json::{Map, Value};

use super::{Outcome, bad, cache, quote};
use crate::model::{Assertion, EvalError, Output};

/// Places in one text where a JSON value is tried; bounds the work on long, brace-heavy text.
const MAX_ATTEMPTS: usize = 256;
/// Schema errors listed in a reason.
const MAX_ERRORS: usize = 3;

/// The whole output (surrounding whitespace aside) is JSON, valid against `value` if that is a
/// JSON Schema. Fenced JSON (```` ```json ````) is not: use `contains-json` for that.
pub(super) fn is_json(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let schema = value_schema(a)?;
    Ok(match serde_json::from_str::<Value>(out.text.trim()) {
        Err(e) => Outcome::check(false, format!("output is not valid JSON: {e}")),
        Ok(v) => match schema.as_deref().and_then(|s| schema_errors(s, &v)) {
            None if schema.is_some() => {
                Outcome::check(true, "output is JSON valid against the schema")
            }
            None => Outcome::check(true, "output is valid JSON"),
            Some(errors) => Outcome::check(
                false,
                format!("output JSON does not match the schema: {errors}"),
            ),
        },
    })
}

/// Some JSON object or array appears in the output (fenced or not); with a schema in `value`,
/// at least one of them is valid against it.
pub(super) fn contains_json(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let schema = value_schema(a)?;
    let found = find_json(&out.text);
    let Some(first) = found.first() else {
        return Ok(Outcome::check(
            false,
            "output contains no JSON object or array",
        ));
    };
    let Some(schema) = schema else {
        return Ok(Outcome::check(true, "output contains JSON"));
    };
    if found.iter().any(|v| schema.is_valid(v)) {
        return Ok(Outcome::check(
            true,
            "output contains JSON valid against the schema",
        ));
    }
    let errors = schema_errors(&schema, first).unwrap_or_default();
    let which = if found.len() == 1 {
        "the JSON in the output"
    } else {
        "no JSON in the output; the first"
    };
    Ok(Outcome::check(
        false,
        format!("{which} does not match the schema: {errors}"),
    ))
}

/// `value` as a compiled JSON Schema: a mapping (or `true`/`false`), or a string holding one.
pub(super) fn value_schema(a: &Assertion) -> Result<Option<Arc<Validator>>, EvalError> {
    match &a.value {
        // `is-json:` in a CSV `__expected` column has an empty value.
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let schema: Value = serde_json::from_str(s).map_err(|e| {
                bad(
                    "value",
                    format!(
                        "`{}`'s value must be a JSON Schema; this string is not JSON: {e}",
                        a.kind
                    ),
                )
            })?;
            compile(&schema, "value").map(Some)
        }
        Some(schema @ (Value::Object(_) | Value::Bool(_))) => compile(schema, "value").map(Some),
        Some(_) => Err(bad(
            "value",
            format!("`{}`'s value must be a JSON Schema (a mapping)", a.kind),
        )),
    }
}

fn compile(schema: &Value, field: &str) -> Result<Arc<Validator>, EvalError> {
    cache::schema(&schema.to_string(), schema)
        .map_err(|e| bad(field, format!("invalid JSON Schema: {e}")))
}

/// The first few ways `v` breaks `schema`, each with the path into `v` (`/` is the root), or
/// `None` when it is valid.
fn schema_errors(schema: &Validator, v: &Value) -> Option<String> {
    let errors: Vec<String> = schema
        .iter_errors(v)
        .take(MAX_ERRORS)
        .map(|e| {
            let path = e.instance_path().as_str();
            let at = if path.is_empty() { "/" } else { path };
            format!("at {at}: {e}")
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// JSON objects and arrays inside `text`, in order, outermost only. Tries each `{` and `[` (up
/// to [`MAX_ATTEMPTS`] of them) and skips past what parses.
pub(crate) fn find_json(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut attempts = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find(['{', '[']) {
        let start = at + offset;
        attempts += 1;
        if attempts > MAX_ATTEMPTS {
            break;
        }
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) => {
                found.push(v);
                at = start + values.byte_offset();
            }
            // `{` and `[` are one byte, so the next character starts right after.
            _ => at = start + 1,
        }
    }
    found
}

/// The first JSON object in `text` that has one of `keys`, else the first JSON object at all.
pub(crate) fn find_object(text: &str, keys: &[&str]) -> Option<Map<String, Value>> {
    let mut objects = find_json(text).into_iter().filter_map(|v| match v {
        Value::Object(m) => Some(m),
        _ => None,
    });
    let first = objects.next()?;
    if keys.iter().any(|k| first.contains_key(*k)) {
        return Some(first);
    }
    Some(
        objects
            .find(|m| keys.iter().any(|k| m.contains_key(*k)))
            .unwrap_or(first),
    )
}

/// A tool the output may call: its name and, if declared, its parameters' schema.
pub(super) struct Tool {
    name: String,
    parameters: Option<Arc<Validator>>,
}

/// The response has tool calls, each with a function name and JSON arguments. When `value`
/// declares tools (OpenAI's `tools` list, `{tools: [...]}`, or plain names), each call names one
/// of them and its arguments are valid against that tool's `parameters`.
pub(super) fn tools_call(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let tools = declared_tools(a)?;
    if out.tool_calls.is_empty() {
        return Ok(Outcome::check(false, "the response has no tool calls"));
    }
    let mut names = Vec::with_capacity(out.tool_calls.len());
    for (i, call) in out.tool_calls.iter().enumerate() {
        match check_call(i, call, tools.as_deref()) {
            Ok(name) => names.push(name),
            Err(reason) => return Ok(Outcome::check(false, reason)),
        }
    }
    Ok(Outcome::check(
        true,
        format!("valid tool calls: {}", names.join(", ")),
    ))
}

/// The call's function name, or why the call is invalid.
fn check_call(i: usize, call: &Value, tools: Option<&[Tool]>) -> Result<String, String> {
    let function = call.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("tool call {i} has no function name"))?;
    let arguments = match function.and_then(|f| f.get("arguments")) {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
            format!(
                "tool call {i} ({name}): arguments are not valid JSON ({e}): {}",
                quote(s)
            )
        })?,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) | None => return Err(format!("tool call {i} ({name}) has no JSON arguments")),
    };
    let Some(tools) = tools else {
        return Ok(name.to_owned());
    };
    let Some(tool) = tools.iter().find(|t| t.name == name) else {
        let declared: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return Err(format!(
            "tool call {i} calls {name:?}, which is not among the declared tools: {}",
            declared.join(", ")
        ));
    };
    if let Some(errors) = tool
        .parameters
        .as_deref()
        .and_then(|s| schema_errors(s, &arguments))
    {
        return Err(format!(
            "tool call {i} ({name}): arguments do not match the parameters schema: {errors}"
        ));
    }
    Ok(name.to_owned())
}

pub(super) fn declared_tools(a: &Assertion) -> Result<Option<Vec<Tool>>, EvalError> {
    let list = match &a.value {
        None => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(Value::Object(m)) => match m.get("tools") {
            Some(Value::Array(list)) => list,
            _ => {
                return Err(bad(
                    "value",
                    "is-valid-openai-tools-call's value must be a list of tools or `{tools: [...]}`",
                ));
            }
        },
        Some(_) => {
            return Err(bad(
                "value",
                "is-valid-openai-tools-call's value must be a list of tools",
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("value[{i}]");
            match tool(t) {
                None => Err(bad(&at, "a tool must be a name, or a mapping with a `name` (in `function` or at the top) and optional `parameters`")),
                Some(tool) => tool.map_err(|e| super::locate(e, &at)),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `None` when `t` is not a tool at all; an error when its parameters are not a schema.
fn tool(t: &Value) -> Option<Result<Tool, EvalError>> {
    if let Value::String(name) = t {
        return Some(Ok(Tool {
            name: name.clone(),
            parameters: None,
        }));
    }
    let spec = t.get("function").unwrap_or(t);
    let name = spec.get("name")?.as_str()?.to_owned();
    let parameters = match spec.get("parameters") {
        None | Some(Value::Null) => Ok(None),
        Some(schema) => compile(schema, "parameters").map(Some),
    };
    Some(parameters.map(|parameters| Tool { name, parameters }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_json_in_text() {
        let cases: &[(&str, Vec<Value>)] = &[
            ("no json here", vec![]),
            ("{\"a\": 1}", vec![json!({"a": 1})]),
            (
                "Sure:\n```json\n{\"a\": [1, 2]}\n```\nDone.",
                vec![json!({"a": [1, 2]})],
            ),
            (
                "{not json} then [1, 2] and {\"b\": {\"c\": null}}",
                vec![json!([1, 2]), json!({"b": {"c": null}})],
            ),
            ("unclosed { \"a\": 1 and [1, 2", vec![]),
            (
                "{\"outer\": {\"inner\": 1}}",
                vec![json!({"outer": {"inner": 1}})],
            ),
            ("emoji 🎉 {\"ok\": true}", vec![json!({"ok": true})]),
        ];
        for (text, want) in cases {
            assert_eq!(&find_json(text), want, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn finding_json_never_panics(text in "[{}\\[\\]\",:a1 é]{0,64}") {
            for v in find_json(&text) {
                proptest::prop_assert!(v.is_object() || v.is_array());
            }
        }
    }

    #[test]
    fn brace_heavy_text_is_bounded() {
        let text = "[1,".repeat(50_000);
        assert!(find_json(&text).is_empty());
    }

    #[test]
    fn finds_the_object_with_the_wanted_keys() {
        let reply = "Example: {\"x\": 1}. Verdict: {\"pass\": true}";
        assert_eq!(
            find_object(reply, &["pass"]),
            json!({"pass": true}).as_object().cloned()
        );
        assert_eq!(
            find_object(reply, &["nope"]),
            json!({"x": 1}).as_object().cloned()
        );
        assert_eq!(find_object("[1]", &["pass"]), None);
    }
}
