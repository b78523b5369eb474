//! Embedded JavaScript for promptfoo suites: `javascript` assertions, `transform`s and an HTTP
//! target's `transformRequest`/`transformResponse`, run with promptfoo's calling conventions in
//! a sandbox ([`engine`]): QuickJS with no filesystem, network, process or module access, a time
//! limit (5 s), a memory limit (64 MiB) and a stack limit that bounds recursion. Each call gets a
//! fresh runtime, so nothing leaks from one test into the next.
//!
//! Why QuickJS and not a pure-Rust engine: boa's limits are a loop-iteration count, a recursion
//! depth and a value-stack size — it has no memory limit and cannot be interrupted inside its
//! interpreter, so `'x'.repeat(1e9)` or a backtracking regex could not be bounded in process.
//! QuickJS enforces all three limits itself (its allocator counts against the memory limit; its
//! interrupt handler is polled by the interpreter and by the regex engine) and costs about 45 s
//! of one core to compile from the C source `rquickjs-sys` bundles.
//!
//! Code is checked when the suite is loaded ([`check_code`]): `require`, `import`, `process`,
//! `fetch` and `file://` module references are refused up front, naming the suite path, rather
//! than failing once requests were spent.

mod engine;

use std::time::Duration;

use serde_json::Value;

use crate::EvalError;

/// How much a script may use.
#[derive(Clone, Debug)]
pub struct Limits {
    pub time: Duration,
    pub memory_bytes: usize,
    pub stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(5),
            memory_bytes: 64 * 1024 * 1024,
            stack_bytes: 512 * 1024,
        }
    }
}

/// Why a script gave no result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JsError {
    /// It reached for something the sandbox does not have (`require`, `process`, …).
    #[error(
        "`{0}` is not available: module files and require() are not supported (the sandbox has no filesystem, network or process access)"
    )]
    Sandbox(String),
    /// It ran out of time, memory or stack.
    #[error("{0}")]
    Limit(String),
    #[error("SyntaxError: {0}")]
    Syntax(String),
    /// It threw.
    #[error("{0}")]
    Thrown(String),
    /// It returned something unusable.
    #[error("{0}")]
    Returned(String),
    /// The engine itself failed (not the script's doing).
    #[error("JavaScript engine: {0}")]
    Engine(String),
}

/// What a script returned: its JavaScript type (`typeof`, `undefined`, `nonfinite`) and its
/// value as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct JsValue {
    pub kind: String,
    pub value: Option<Value>,
}

/// promptfoo's function body for an inline assertion: a multi-line value is the body as
/// written; one line is an expression (`return` is prepended), or declarations followed by a
/// final expression (`const s = …; s > 0.5`), whose last statement is returned.
pub fn assertion_body(code: &str) -> String {
    let code = code.trim_end();
    if code.contains('\n') {
        return code.to_owned();
    }
    let trimmed = code
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let declares = ["const ", "let ", "var "]
        .iter()
        .any(|k| trimmed.starts_with(k));
    if declares {
        if let Some(i) = last_statement_semicolon(trimmed) {
            let (statements, expression) = trimmed.split_at(i + 1);
            let expression = expression.trim();
            if !expression.is_empty() {
                return format!("{statements} return {expression}");
            }
        }
        return trimmed.to_owned();
    }
    format!("return {trimmed}")
}

/// promptfoo's body for an inline transform: multi-line as written, else `return EXPR`.
pub fn transform_body(code: &str) -> String {
    if code.contains('\n') {
        code.to_owned()
    } else {
        format!("return {code}")
    }
}

/// The last `;` outside strings, template literals, comments and brackets.
fn last_statement_semicolon(code: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut last = None;
    let mut quote: Option<char> = None;
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            match c {
                '\\' => {
                    chars.next();
                }
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '/' if chars.peek().map(|(_, n)| *n) == Some('/') => break,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ';' if depth == 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

/// `code` with the insides of string and template literals and comments blanked, so that
/// `output.includes('require(')` is not taken for a call.
fn without_literals(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut quote: Option<char> = None;
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    // A string's closing quote, or the newline that ends a `//` comment.
                    quote = None;
                    out.push(c);
                }
            }
            None => match c {
                '"' | '\'' | '`' => {
                    quote = Some(c);
                    out.push(c);
                }
                '/' if chars.peek() == Some(&'/') => quote = Some('\n'),
                _ => out.push(c),
            },
        }
    }
    out
}

/// Refuses, at load time, code that needs what the sandbox lacks; `path` is where it is in the
/// suite.
///
/// # Errors
/// [`EvalError::Suite`] at `path` for a `file://` module reference, `require(…)`, `import`,
/// `process`, or `fetch(…)`.
pub fn check_code(code: &str, path: &str) -> Result<(), EvalError> {
    if code.trim_start().starts_with("file://") {
        return Err(EvalError::suite(
            path,
            "JavaScript files (file://…) are modules, and module files and require() are not supported: inline the function body in the suite",
        ));
    }
    let code = without_literals(code);
    for (pattern, what) in [
        (r"\brequire\s*\(", "require()"),
        (r"(^|[^.\w$])import\s*[(\s{*]", "import"),
        (r"(^|[^.\w$])process\s*[.\[]", "process"),
        (r"(^|[^.\w$])fetch\s*\(", "fetch()"),
    ] {
        let re = regex::Regex::new(pattern)
            .map_err(|e| EvalError::suite(path, format!("internal pattern: {e}")))?;
        if re.is_match(&code) {
            return Err(EvalError::suite(
                path,
                format!(
                    "uses {what}: module files and require() are not supported — seam eval runs JavaScript in a sandbox without filesystem, network, process or module access"
                ),
            ));
        }
    }
    Ok(())
}

/// Runs `body` as `new Function(params…, body)` called with `args`, in the sandbox.
///
/// # Errors
/// [`JsError`] when the script throws, is stopped by a limit, or reaches outside the sandbox.
pub fn call(
    params: &[&str],
    body: &str,
    args: &[&Value],
    limits: &Limits,
) -> Result<JsValue, JsError> {
    let (kind, value) = engine::call(params, body, args, limits)?;
    Ok(JsValue { kind, value })
}

/// [`call`] on a blocking thread, so a script that runs to its time limit does not hold up the
/// async runtime.
///
/// # Errors
/// As [`call`].
pub async fn call_blocking(
    params: &'static [&'static str],
    body: String,
    args: Vec<Value>,
    limits: Limits,
) -> Result<JsValue, JsError> {
    let run = move || {
        let refs: Vec<&Value> = args.iter().collect();
        call(params, &body, &refs, &limits)
    };
    // Outside a Tokio runtime there is no blocking pool: the caller's thread runs it.
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => rt
            .spawn_blocking(run)
            .await
            .map_err(|e| JsError::Engine(e.to_string()))?,
        Err(_) => run(),
    }
}

/// A transform (`output`, `context`) as promptfoo runs it: the result replaces the output;
/// `null`/`undefined` is an error.
///
/// # Errors
/// [`JsError`] as [`call`], and [`JsError::Returned`] for a missing result.
pub async fn transform(code: &str, output: Value, context: Value) -> Result<Value, JsError> {
    let r = call_blocking(
        &["output", "context"],
        transform_body(code),
        vec![output, context],
        Limits::default(),
    )
    .await?;
    match (r.kind.as_str(), r.value) {
        ("undefined", _) | (_, None | Some(Value::Null)) => Err(JsError::Returned(
            "the transform did not return a value".into(),
        )),
        ("nonfinite" | "function" | "symbol" | "bigint", _) => Err(JsError::Returned(format!(
            "the transform returned a {}, which is not a JSON value",
            r.kind
        ))),
        (_, Some(v)) => Ok(v),
    }
}

/// A test's `options.transform` (or its older name `postprocess`) and `options.storeOutputAs`,
/// checked; `path` is the test's place in the suite.
///
/// # Errors
/// [`EvalError::Suite`] for code the sandbox cannot run or a value of the wrong type.
pub fn test_options(
    options: Option<&Value>,
    path: &str,
) -> Result<(Option<String>, Option<String>), EvalError> {
    let Some(o) = options.and_then(Value::as_object) else {
        return Ok((None, None));
    };
    let mut transform = None;
    for key in ["transform", "postprocess"] {
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(code)) if !code.trim().is_empty() => {
                let at = format!("{path}.options.{key}");
                check_code(code, &at)?;
                if transform.is_some() {
                    return Err(EvalError::suite(
                        at,
                        "give `transform` or `postprocess`, not both",
                    ));
                }
                transform = Some(code.clone());
            }
            Some(_) => {
                return Err(EvalError::suite(
                    format!("{path}.options.{key}"),
                    "must be JavaScript code (a string)",
                ));
            }
        }
    }
    if o.get("transformVars").is_some_and(|v| !v.is_null()) {
        return Err(EvalError::suite(
            format!("{path}.options.transformVars"),
            "is not supported by seam eval yet: compute the vars in the suite instead",
        ));
    }
    let store = match o.get("storeOutputAs") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
        Some(_) => {
            return Err(EvalError::suite(
                format!("{path}.options.storeOutputAs"),
                "must be the name of a var (a string)",
            ));
        }
    };
    Ok((transform, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_promptfoo() {
        let cases = [
            ("output.length < 100", "return output.length < 100"),
            ("output === 'a;b';", "return output === 'a;b'"),
            (
                "const s = JSON.parse(output).score; s > 0.5",
                "const s = JSON.parse(output).score; return s > 0.5",
            ),
            (
                "const s = output; s === 'a;b'",
                "const s = output; return s === 'a;b'",
            ),
            (
                "const f = (x) => { return x; }; f(1) === 1",
                "const f = (x) => { return x; }; return f(1) === 1",
            ),
            (
                "if (x) {\n  return true;\n}\n",
                "if (x) {\n  return true;\n}",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(assertion_body(code), want, "{code}");
        }
        assert_eq!(transform_body("output.trim()"), "return output.trim()");
    }

    #[test]
    fn module_access_is_refused_up_front() {
        for code in [
            "require('fs').readFileSync('/etc/passwd')",
            "const fs = require(\"fs\"); true",
            "import('fs')",
            "import fs from 'fs'\nreturn true",
            "process.exit(1)",
            "process['env'].X",
            "fetch('http://example.com')",
            "file://check.js",
        ] {
            let e = check_code(code, "tests[0].assert[0].value").map_err(|e| e.to_string());
            assert!(
                e.as_ref()
                    .is_err_and(|m| m.starts_with("tests[0].assert[0].value: ")
                        && m.contains("module files and require() are not supported")),
                "{code}: {e:?}"
            );
        }
        for code in [
            "output.includes('process.')",
            "output.length > 0",
            "context.vars.imports === 1",
        ] {
            assert!(check_code(code, "p").is_ok(), "{code}");
        }
    }
}
