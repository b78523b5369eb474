//! The suite's Python besides assertions: prompt functions (`file://prompts.py:fn`, called with
//! `{vars, provider}` and returning text or chat messages) and `file://*.py` vars (promptfoo
//! calls `get_var(var_name, prompt, other_vars)` and uses its `output`). Also the load-time
//! checks: every Python file exists and compiles, and every inline assertion compiles, before
//! the first request.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::{Job, Limits, Script, assertion};
use crate::model::{Assertion, EvalError};
use crate::suite::{Api, Provider};

/// A var value that names a Python file, once loaded: `file:///abs/x.py`.
pub(crate) fn var_script(v: &Value) -> Option<Script> {
    match v {
        Value::String(s) if s.starts_with("file://") => {
            Script::parse(s, "get_var", Path::new("")).filter(|s| s.file.is_absolute())
        }
        _ => None,
    }
}

/// At load: a `file://x.py` var becomes `file:///abs/x.py:get_var`, checked to exist and
/// compile; `None` for any other value.
pub(crate) fn load_var(s: &str, dir: &Path, path: &str) -> Result<Option<Value>, EvalError> {
    let Some(script) = Script::parse(s, "get_var", dir).map(Script::absolute) else {
        return Ok(None);
    };
    check_file(&script, path)?;
    Ok(Some(Value::String(script.reference())))
}

/// Runs every Python var of `vars` (promptfoo's `get_var(var_name, prompt, other_vars)`, with
/// the prompt's template) and puts its `output` in place.
pub(crate) async fn resolve_vars(
    vars: &Map<String, Value>,
    prompt: &str,
    timeout: Duration,
    path: &str,
) -> Result<Map<String, Value>, EvalError> {
    let mut out = vars.clone();
    for (name, v) in vars {
        let Some(script) = var_script(v) else {
            continue;
        };
        let others: Map<String, Value> = vars
            .iter()
            .filter(|(k, v)| *k != name && var_script(v).is_none())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let args = vec![json!(name), json!(prompt), Value::Object(others)];
        let at = format!("{path}.vars.{name}");
        let result = super::call(Job::File(script), args, Limits::trusted(timeout))
            .await
            .map_err(|e| EvalError::suite(at.as_str(), format!("get_var failed: {e}")))?;
        if let Some(e) = result.get("error").filter(|e| !e.is_null()) {
            let e = e.as_str().map_or_else(|| e.to_string(), str::to_owned);
            return Err(EvalError::suite(
                at,
                format!("get_var returned an error: {e}"),
            ));
        }
        let value = match result {
            Value::Object(mut o) if o.contains_key("output") => {
                o.remove("output").unwrap_or_default()
            }
            _ => {
                return Err(EvalError::suite(
                    at,
                    "get_var must return a dict with `output` (or `error`)",
                ));
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// Calls a prompt function with promptfoo's context; the prompt's text and whether it is a list
/// of chat messages (as JSON).
pub(crate) async fn prompt(
    script: &Script,
    vars: &Map<String, Value>,
    provider: &Provider,
    timeout: Duration,
    label: &str,
) -> Result<(String, bool), EvalError> {
    let context = json!({
        "vars": vars,
        "provider": {"id": provider.id, "label": provider.label},
    });
    let at = format!("prompt {label}");
    let result = super::call(
        Job::File(script.clone()),
        vec![context],
        Limits::trusted(timeout),
    )
    .await
    .map_err(|e| EvalError::suite(at.as_str(), format!("the prompt function failed: {e}")))?;
    match result {
        Value::String(s) => Ok((s, false)),
        Value::Array(messages) => Ok((Value::Array(messages).to_string(), true)),
        other => Err(EvalError::suite(
            at,
            format!(
                "a prompt function must return a string or a list of chat messages, not {}",
                kind(&other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// At load: `file://x.py:fn` prompts, resolved and checked. `None` for other references.
pub(crate) fn load_prompt(
    reference: &str,
    dir: &Path,
    path: &str,
) -> Result<Option<Script>, EvalError> {
    let rel = reference.trim_start_matches("file://");
    if !rel.contains(".py") {
        return Ok(None);
    }
    let Some(script) = Script::parse(reference, "", dir).map(Script::absolute) else {
        return Ok(None);
    };
    if script.function.is_empty() {
        return Err(EvalError::suite(
            path,
            format!(
                "`{reference}`: a Python prompt needs its function named (file://{rel}:function_name); running a prompt file as a script is not supported"
            ),
        ));
    }
    check_file(&script, path)?;
    Ok(Some(script))
}

/// At load: Python providers' files made absolute, checked, and their config checked.
pub(crate) fn resolve_providers(providers: &mut [Provider], dir: &Path) -> Result<(), EvalError> {
    for (i, p) in providers.iter_mut().enumerate() {
        let path = format!("providers[{i}]");
        if let Api::Python(script) = &mut p.api {
            *script = Script {
                file: dir.join(&script.file),
                function: std::mem::take(&mut script.function),
            }
            .absolute();
            check_file(script, &path)?;
            super::provider::check_config(&p.params, &path)?;
        }
    }
    Ok(())
}

/// At load: each `python` assertion (and assert-set member) checked: its file made absolute and
/// compiled, or its inline code compiled, and the sandbox known to be available.
pub(crate) fn prepare_assertions(
    asserts: &mut [Assertion],
    dir: &Path,
    path: &str,
) -> Result<(), EvalError> {
    let mut pending = Vec::new();
    collect_assertions(asserts, dir, path, &mut pending)?;
    compile_all(pending)
}

/// [`prepare_assertions`]' first pass: files resolved, and what to compile gathered, so that a
/// test's Python is checked by one process.
fn collect_assertions(
    asserts: &mut [Assertion],
    dir: &Path,
    path: &str,
    pending: &mut Vec<Pending>,
) -> Result<(), EvalError> {
    for (i, a) in asserts.iter_mut().enumerate() {
        let at = format!("{path}.assert[{i}]");
        collect_assertions(&mut a.assert, dir, &at, pending)?;
        if a.kind != "python" {
            continue;
        }
        let value_at = format!("{at}.value");
        let Some(Value::String(value)) = &a.value else {
            return Err(EvalError::suite(
                value_at,
                "`python` needs a string `value`: code, or file://check.py[:function]",
            ));
        };
        super::preflight(true).map_err(|e| EvalError::suite(at.as_str(), e))?;
        if value.starts_with("file://") {
            let script = Script::parse(value, "get_assert", dir)
                .map(Script::absolute)
                .ok_or_else(|| {
                    EvalError::suite(
                        value_at.as_str(),
                        "a python assertion's file must be a .py file (file://check.py[:function])",
                    )
                })?;
            pending.extend(file_check(&script, &value_at)?);
            a.value = Some(Value::String(script.reference()));
        } else if !value.contains("{{") {
            // A value with `{{vars}}` is only Python once rendered; it is checked when it runs.
            pending.push(Pending {
                at: value_at,
                source: assertion::inline_script(value),
                name: "<python assertion>".into(),
                offset: 3,
                file: None,
            });
        }
    }
    Ok(())
}

/// One source to compile, and where to report its syntax error.
struct Pending {
    at: String,
    source: String,
    name: String,
    /// Lines of wrapping before the user's code.
    offset: u64,
    /// A file's identity, remembered once it compiles.
    file: Option<FileKey>,
}

type FileKey = (PathBuf, u64, SystemTime);

/// Files that compiled (same size and modification time): a var file is named by every test
/// that uses it, and is checked once.
fn compiled_files() -> &'static Mutex<HashSet<FileKey>> {
    static CHECKED: OnceLock<Mutex<HashSet<FileKey>>> = OnceLock::new();
    CHECKED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The file exists and compiles.
fn check_file(script: &Script, path: &str) -> Result<(), EvalError> {
    compile_all(file_check(script, path)?.into_iter().collect())
}

/// The file exists; its compile check, unless it already passed one.
fn file_check(script: &Script, path: &str) -> Result<Option<Pending>, EvalError> {
    let unreadable = |e: std::io::Error| {
        EvalError::suite(path, format!("cannot read {}: {e}", script.file.display()))
    };
    let meta = std::fs::metadata(&script.file).map_err(unreadable)?;
    let key = (
        script.file.clone(),
        meta.len(),
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    );
    if compiled_files().lock().is_ok_and(|c| c.contains(&key)) {
        return Ok(None);
    }
    Ok(Some(Pending {
        at: path.to_owned(),
        source: std::fs::read_to_string(&script.file).map_err(unreadable)?,
        name: script.file.display().to_string(),
        offset: 0,
        file: Some(key),
    }))
}

/// Compiles every pending source in one Python process (running none of them); the first
/// syntax error is reported at its place, its line counted from the user's first line.
fn compile_all(pending: Vec<Pending>) -> Result<(), EvalError> {
    let Some(first) = pending.first() else {
        return Ok(());
    };
    let job = Job::Compile {
        sources: pending
            .iter()
            .map(|p| (p.source.clone(), p.name.clone()))
            .collect(),
    };
    let verdicts = super::call_sync(job, Vec::new(), Limits::trusted(Duration::from_secs(30)))
        .map_err(|e| EvalError::suite(first.at.as_str(), e))?;
    let verdicts = verdicts.as_array().cloned().unwrap_or_default();
    for (p, v) in pending.into_iter().zip(verdicts) {
        if let Some(message) = v.as_str() {
            let message = shift_line(message, p.offset);
            return Err(match p.file {
                Some(_) => EvalError::suite(p.at, format!("{}: {message}", p.name)),
                None => EvalError::suite(p.at, message),
            });
        }
        if let (Some(key), Ok(mut c)) = (p.file, compiled_files().lock()) {
            c.insert(key);
        }
    }
    Ok(())
}

/// `SyntaxError: … (line 5)` → `(line 2)` when 3 lines of wrapping came first.
fn shift_line(message: &str, offset: u64) -> String {
    if offset > 0
        && let Some((head, tail)) = message.rsplit_once("(line ")
        && let Some(n) = tail.strip_suffix(')').and_then(|n| n.parse::<u64>().ok())
    {
        return format!("{head}(line {})", n.saturating_sub(offset).max(1));
    }
    message.to_owned()
}
