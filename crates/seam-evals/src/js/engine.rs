//! The embedded engine: QuickJS (through rquickjs), one fresh runtime per call, with a memory
//! limit, a stack limit and an interrupt that stops the script at its deadline. Nothing but the
//! language's own built-ins is reachable: QuickJS has no filesystem, network or process API
//! unless its `std`/`os` modules are loaded, which they never are, and `require`, `process`,
//! `fetch`, `module` and `exports` are defined to throw a marked error so that a script reaching
//! for them is told why.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::{CatchResultExt, CaughtError, Context, Promise, Runtime};
use serde_json::Value;

use super::{JsError, Limits};

/// A marker in the errors thrown by the sandbox's stand-ins for `require` and friends.
const MARK: &str = "__seam_sandbox__:";

/// Stand-ins for what Node.js has and the sandbox does not, then the helper that hands the
/// result back as JSON with its JavaScript type (`undefined` and non-finite numbers survive).
const PRELUDE: &str = r#"
(() => {
  const deny = (name) => ({
    configurable: false,
    get() { throw new Error("__seam_sandbox__:" + name); },
  });
  for (const name of ["require", "process", "fetch", "module", "exports", "__dirname", "__filename", "XMLHttpRequest", "WebSocket"]) {
    Object.defineProperty(globalThis, name, deny(name));
  }
  globalThis.__seam_encode = (r) => {
    const t = typeof r;
    if (r === undefined) return '{"t":"undefined"}';
    if (t === "number" && !Number.isFinite(r)) return JSON.stringify({ t: "nonfinite", v: String(r) });
    if (t === "function" || t === "symbol" || t === "bigint") return JSON.stringify({ t });
    return JSON.stringify({ t, v: r });
  };
})();
"#;

/// Calls `new Function(params..., body)` with `args` (JSON values) in a fresh sandbox, awaits a
/// returned promise, and gives back the result's JavaScript type and its JSON value.
pub(super) fn call(
    params: &[&str],
    body: &str,
    args: &[&Value],
    limits: &Limits,
) -> Result<(String, Option<Value>), JsError> {
    let rt = Runtime::new().map_err(|e| JsError::Engine(e.to_string()))?;
    rt.set_memory_limit(limits.memory_bytes);
    rt.set_max_stack_size(limits.stack_bytes);
    let timed_out = Rc::new(Cell::new(false));
    let deadline = Instant::now() + limits.time;
    let flag = Rc::clone(&timed_out);
    rt.set_interrupt_handler(Some(Box::new(move || {
        if Instant::now() >= deadline {
            flag.set(true);
        }
        flag.get()
    })));
    let ctx = Context::full(&rt).map_err(|e| JsError::Engine(e.to_string()))?;
    let encoded_args: Vec<String> = args
        .iter()
        .map(|a| serde_json::to_string(a).map_err(|e| JsError::Engine(e.to_string())))
        .collect::<Result<_, _>>()?;
    let outcome = ctx.with(|ctx| -> Result<String, JsError> {
        let fail = |e: CaughtError<'_>| classify(&e, timed_out.get(), limits);
        ctx.eval::<(), _>(PRELUDE).catch(&ctx).map_err(fail)?;
        let globals = ctx.globals();
        let set = |k: &str, v: &str| {
            globals
                .set(k, v)
                .map_err(|e| JsError::Engine(e.to_string()))
        };
        set("__seam_body", body)?;
        set(
            "__seam_params",
            &serde_json::to_string(params).map_err(|e| JsError::Engine(e.to_string()))?,
        )?;
        set("__seam_args", &format!("[{}]", encoded_args.join(",")))?;
        // The function is built from the body as promptfoo builds it (`new Function`), so a
        // syntax error is reported as one, and awaited so that async bodies work.
        let driver = r#"
(async () => {
  const f = new Function(...JSON.parse(globalThis.__seam_params), globalThis.__seam_body);
  const args = JSON.parse(globalThis.__seam_args);
  return globalThis.__seam_encode(await f(...args));
})()
"#;
        let promise: Promise<'_> = ctx.eval(driver).catch(&ctx).map_err(fail)?;
        promise.finish::<String>().catch(&ctx).map_err(fail)
    });
    let encoded = outcome?;
    let v: Value = serde_json::from_str(&encoded).map_err(|e| JsError::Engine(e.to_string()))?;
    let kind = v
        .get("t")
        .and_then(Value::as_str)
        .unwrap_or("undefined")
        .to_owned();
    Ok((kind, v.get("v").cloned()))
}

/// What stopped the script, in words a suite author can act on.
fn classify(e: &CaughtError<'_>, timed_out: bool, limits: &Limits) -> JsError {
    if timed_out {
        return JsError::Limit(format!(
            "stopped: it ran past the {} time limit",
            human(limits.time)
        ));
    }
    let (name, message) = match e {
        CaughtError::Exception(ex) => (
            ex.as_object()
                .get::<_, String>("name")
                .unwrap_or_else(|_| "Error".into()),
            ex.message().unwrap_or_default(),
        ),
        CaughtError::Value(v) => (
            "Error".into(),
            v.as_string()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| format!("{v:?}")),
        ),
        CaughtError::Error(err) => ("Error".into(), err.to_string()),
    };
    if let Some(what) = message.strip_prefix(MARK) {
        return JsError::Sandbox(what.to_owned());
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("out of memory")
        || lower.contains("invalid string length")
        || lower.contains("invalid array length")
    {
        return JsError::Limit(format!(
            "stopped: it used more than the {} MiB memory limit",
            limits.memory_bytes / (1024 * 1024)
        ));
    }
    if lower.contains("stack overflow") || lower.contains("call stack size") {
        return JsError::Limit("stopped: it recursed past the stack limit".into());
    }
    if lower.contains("interrupted") {
        return JsError::Limit(format!(
            "stopped: it ran past the {} time limit",
            human(limits.time)
        ));
    }
    if name == "SyntaxError" {
        return JsError::Syntax(message);
    }
    JsError::Thrown(format!("{name}: {message}"))
}

fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}
