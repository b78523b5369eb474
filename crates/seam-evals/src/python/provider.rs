//! `file://provider.py[:fn]` and `python:provider.py` providers: promptfoo's
//! `call_api(prompt, options, context)` (async functions too), returning a dict with `output`,
//! and optionally `error`, `tokenUsage`, `cost`, `cached`. The user's integration code, so not
//! sandboxed: bounded by `config.timeout` (milliseconds, as in promptfoo) or the run's timeout.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Job, Limits, Script};
use crate::model::{EvalError, Output, Tokens};

/// `config` keys promptfoo's Python provider reads itself rather than passing on.
const REFUSED: &[(&str, &str)] = &[
    (
        "pythonExecutable",
        "set SEAM_EVAL_PYTHON (or PROMPTFOO_PYTHON) instead; seam eval runs one Python per run",
    ),
    (
        "transformResponse",
        "is not supported for Python providers; return the final output from the function",
    ),
];

/// Checks a Python provider's `config` at load.
pub(crate) fn check_config(config: &Map<String, Value>, path: &str) -> Result<(), EvalError> {
    for (key, why) in REFUSED {
        if config.contains_key(*key) {
            return Err(EvalError::suite(
                format!("{path}.config.{key}"),
                format!("`{key}` {why}"),
            ));
        }
    }
    if let Some(t) = config.get("timeout")
        && !t.as_f64().is_some_and(|t| t > 0.0)
    {
        return Err(EvalError::suite(
            format!("{path}.config.timeout"),
            "must be a positive number of milliseconds",
        ));
    }
    Ok(())
}

/// Calls the provider's function for one rendered prompt.
pub(crate) async fn call_api(
    script: &Script,
    config: &Map<String, Value>,
    prompt: &str,
    vars: &Map<String, Value>,
    run_timeout: Duration,
) -> Result<Output, EvalError> {
    let timeout = config
        .get("timeout")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0)
        .map_or(run_timeout, |ms| Duration::from_secs_f64(ms / 1000.0));
    let options = json!({"config": config});
    let context = json!({"vars": vars, "prompt": {"raw": prompt}});
    let started = Instant::now();
    let name = script
        .file
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let fail = |e: String| EvalError::Provider(format!("{name}:{}: {e}", script.function));
    let result = super::call(
        Job::File(script.clone()),
        vec![json!(prompt), options, context],
        Limits::trusted(timeout),
    )
    .await
    .map_err(fail)?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let Value::Object(o) = result else {
        return Err(fail(
            "call_api must return a dict with an `output` (or an `error`)".into(),
        ));
    };
    if let Some(e) = o.get("error").filter(|e| !e.is_null()) {
        return Err(fail(
            e.as_str().map_or_else(|| e.to_string(), str::to_owned),
        ));
    }
    let text = match o.get("output") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            return Err(fail(
                "call_api must return a dict with an `output` (or an `error`)".into(),
            ));
        }
        Some(other) => other.to_string(),
    };
    let usage = o.get("tokenUsage").or_else(|| o.get("token_usage"));
    let tokens = usage.filter(|u| u.is_object()).map(|u| Tokens {
        prompt: u["prompt"].as_u64().unwrap_or(0),
        completion: u["completion"].as_u64().unwrap_or(0),
        total: u["total"].as_u64().unwrap_or(0),
    });
    Ok(Output {
        text,
        finish_reason: o
            .get("finishReason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        latency_ms,
        cost_usd: o.get("cost").and_then(Value::as_f64),
        tokens,
        cached: o.get("cached").and_then(Value::as_bool).unwrap_or(false),
        ..Output::default()
    })
}
