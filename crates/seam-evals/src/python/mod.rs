//! Python in suites, with promptfoo's calling conventions: `python` assertions ([`assertion`]),
//! `file://*.py` providers ([`provider`]), prompt functions and `file://*.py` vars ([`code`]).
//!
//! Every call runs the user's `python3` (`SEAM_EVAL_PYTHON`, else promptfoo's `PROMPTFOO_PYTHON`,
//! else `python3` on `PATH`) as a fresh process with [`wrapper.py`](WRAPPER) given on the
//! command line: the request goes in on stdin, the answer comes back as one JSON line on the
//! original stdout, which the wrapper keeps to itself before any user code runs (the user's
//! prints go to stderr, of which a bounded tail is kept for error messages). Each call has a
//! wall-clock timeout after which its whole process group is killed, and its answer is capped.
//!
//! A process per call rather than a long-lived worker: no state leaks between tests, a timeout
//! or crash never poisons later calls, and the sandbox is set up once per process. It costs a
//! Python start per call (about 20 ms here), small beside a model call.
//!
//! Assertions run in a [`sandbox`]: Landlock (no filesystem writes, reads only under Python's
//! install, the system's libraries and the assertion's own directory; no TCP bind or connect),
//! resource limits (address space, CPU seconds, no file writes) and audit hooks (no sockets,
//! subprocesses or `ctypes`). Providers and prompt functions are the user's integration code,
//! which needs the network: they run unsandboxed, with the timeout and caps.

pub(crate) mod assertion;
pub(crate) mod code;
pub(crate) mod provider;
mod sandbox;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// Whether grading `a` runs Python (itself or an `assert-set` member): what runs assertions
/// outside `seam eval` (online evaluators) refuses these.
pub fn runs_python(a: &crate::Assertion) -> bool {
    a.kind == "python" || a.assert.iter().any(runs_python)
}

/// The wrapper every call runs (`python3 -c WRAPPER`).
pub const WRAPPER: &str = include_str!("wrapper.py");

/// The most an answer may hold; a larger one is an error.
const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// How much of stderr is kept for error messages (the end of it).
const STDERR_TAIL: usize = 4096;
/// Default wall-clock limit of an assertion call (`SEAM_EVAL_PYTHON_TIMEOUT` overrides).
const ASSERTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Default address-space limit of an assertion (`SEAM_EVAL_PYTHON_MEMORY_MB` overrides).
const ASSERTION_MEMORY_MB: u64 = 1024;

/// A function in a Python file: `file://x.py:fn` (or `python:x.py`), the function defaulting per
/// use (`get_assert`, `call_api`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub file: PathBuf,
    pub function: String,
}

impl Script {
    /// `file://x.py[:fn]` or `x.py[:fn]` (relative to `dir`); `None` when the file is not `.py`.
    pub fn parse(reference: &str, default_function: &str, dir: &Path) -> Option<Script> {
        let rest = reference
            .strip_prefix("file://")
            .or_else(|| reference.strip_prefix("python:"))
            .unwrap_or(reference);
        let (file, function) = match rest.rsplit_once(':') {
            Some((f, func)) if f.ends_with(".py") && is_identifier(func) => (f, func),
            _ => (rest, default_function),
        };
        if !file.ends_with(".py") {
            return None;
        }
        Some(Script {
            file: dir.join(file),
            function: function.to_owned(),
        })
    }

    /// The same script with its path made absolute (from the working directory), so that it
    /// means the same file wherever it is used and the sandbox can name its directory.
    pub(crate) fn absolute(mut self) -> Script {
        if let Ok(p) = std::path::absolute(&self.file) {
            self.file = p;
        }
        self
    }

    /// `file:///abs/x.py:fn`, the form stored back into a suite once resolved.
    pub fn reference(&self) -> String {
        format!("file://{}:{}", self.file.display(), self.function)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What to run in Python.
#[derive(Clone, Debug)]
pub(crate) enum Job {
    /// Only compile each `(source, name)` (a syntax check; runs none of it): a syntax error's
    /// message or `null`, for each.
    Compile { sources: Vec<(String, String)> },
    /// Define `source`, then call its `function`.
    Code {
        source: String,
        name: String,
        function: String,
    },
    /// Import the file, then call its function.
    File(Script),
}

/// How a call is bounded.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub timeout: Duration,
    /// `Some`: run sandboxed, these extra directories readable (besides Python's install).
    pub sandbox: Option<Vec<PathBuf>>,
}

impl Limits {
    /// An assertion's limits: sandboxed, `SEAM_EVAL_PYTHON_TIMEOUT` seconds (30).
    pub fn assertion(readable: Vec<PathBuf>) -> Limits {
        Limits {
            timeout: env_secs("SEAM_EVAL_PYTHON_TIMEOUT").unwrap_or(ASSERTION_TIMEOUT),
            sandbox: Some(readable),
        }
    }

    /// The user's own integration code: no sandbox.
    pub fn trusted(timeout: Duration) -> Limits {
        Limits {
            timeout,
            sandbox: None,
        }
    }
}

fn env_secs(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
}

fn memory_limit() -> u64 {
    std::env::var("SEAM_EVAL_PYTHON_MEMORY_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(ASSERTION_MEMORY_MB)
        .saturating_mul(1024 * 1024)
}

/// The interpreter, found once: its real executable and the directories it reads from.
#[derive(Debug)]
struct Interpreter {
    exe: PathBuf,
    roots: Vec<PathBuf>,
}

const PROBE: &str = "import json, os, sys\n\
roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]\n\
roots += [p for p in sys.path if p and os.path.isdir(p)]\n\
print(json.dumps({'exe': os.path.realpath(sys.executable), 'roots': roots, \
'version': list(sys.version_info[:2])}))\n";

/// The command that starts Python, as the user set it.
fn python_command() -> String {
    ["SEAM_EVAL_PYTHON", "PROMPTFOO_PYTHON"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "python3".to_owned())
}

fn interpreter() -> Result<&'static Interpreter, String> {
    static FOUND: OnceLock<Result<Interpreter, String>> = OnceLock::new();
    FOUND.get_or_init(probe).as_ref().map_err(Clone::clone)
}

fn probe() -> Result<Interpreter, String> {
    let cmd = python_command();
    let not_found = |why: String| {
        format!(
            "cannot run Python 3 as `{cmd}` ({why}); install python3 or set SEAM_EVAL_PYTHON (or PROMPTFOO_PYTHON) to its path"
        )
    };
    let out = run_thread(Spawn {
        exe: PathBuf::from(&cmd),
        args: vec!["-c".into(), PROBE.into()],
        input: Vec::new(),
        timeout: Duration::from_secs(20),
        sandbox: None,
    })
    .map_err(not_found)?;
    let v: Value = serde_json::from_slice(&out)
        .map_err(|_| not_found("it did not answer as Python 3 does".into()))?;
    let version = v["version"].as_array().cloned().unwrap_or_default();
    if version.first().and_then(Value::as_u64) != Some(3)
        || version.get(1).and_then(Value::as_u64).unwrap_or(0) < 8
    {
        return Err(not_found("Python 3.8 or newer is needed".into()));
    }
    let exe = v["exe"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| not_found("it did not say where it is".into()))?;
    let mut roots: Vec<PathBuf> = v["roots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(PathBuf::from)
        .collect();
    if let Some(bin) = exe.parent() {
        roots.push(bin.to_path_buf());
    }
    Ok(Interpreter { exe, roots })
}

/// Checks up front that Python can be run and, if `sandboxed` calls are coming, that the kernel
/// can sandbox them.
///
/// # Errors
/// A sentence saying what is missing and what to do.
pub(crate) fn preflight(sandboxed: bool) -> Result<(), String> {
    interpreter()?;
    if sandboxed {
        sandbox::available()?;
    }
    Ok(())
}

/// Runs `job` with `args`, bounded by `limits`; the function's return value (JSON), or an error
/// message (the Python exception, a timeout, a crash with the end of stderr).
pub(crate) async fn call(job: Job, args: Vec<Value>, limits: Limits) -> Result<Value, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: the sandbox is applied to the thread that starts the process, and
    // must never land on a thread that goes on to do anything else.
    std::thread::Builder::new()
        .name("seam-python".into())
        .spawn(move || {
            let _ = tx.send(call_blocking(job, args, limits));
        })
        .map_err(|e| format!("cannot start a thread for Python: {e}"))?;
    rx.await
        .map_err(|_| "the Python call ended without an answer".to_owned())?
}

/// [`call`] for the loader, which is not async.
pub(crate) fn call_sync(job: Job, args: Vec<Value>, limits: Limits) -> Result<Value, String> {
    std::thread::Builder::new()
        .name("seam-python".into())
        .spawn(move || call_blocking(job, args, limits))
        .map_err(|e| format!("cannot start a thread for Python: {e}"))?
        .join()
        .map_err(|_| "the Python call ended without an answer".to_owned())?
}

fn call_blocking(job: Job, args: Vec<Value>, limits: Limits) -> Result<Value, String> {
    let py = interpreter()?;
    let mut request = match job {
        Job::Compile { sources } => json!({
            "kind": "compile",
            "sources": sources
                .into_iter()
                .map(|(source, name)| json!({"source": source, "name": name}))
                .collect::<Vec<_>>(),
        }),
        Job::Code {
            source,
            name,
            function,
        } => json!({"kind": "code", "source": source, "name": name, "function": function}),
        Job::File(s) => json!({
            "kind": "file",
            "path": s.file.display().to_string(),
            "function": s.function,
        }),
    };
    request["args"] = Value::Array(args);
    let mut sandbox = None;
    if let Some(readable) = &limits.sandbox {
        request["limits"] = json!({
            "memory_bytes": memory_limit(),
            "cpu_seconds": limits.timeout.as_secs().saturating_add(1),
        });
        let mut roots = py.roots.clone();
        roots.extend(readable.iter().cloned());
        sandbox = Some(sandbox::Rules { readable: roots });
    }
    let mut args = vec!["-c".to_owned(), WRAPPER.to_owned()];
    if sandbox.is_some() {
        // Bytecode caches are writes; the sandbox would refuse them anyway.
        args.insert(0, "-B".into());
    }
    let out = run_thread(Spawn {
        exe: py.exe.clone(),
        args,
        input: request.to_string().into_bytes(),
        timeout: limits.timeout,
        sandbox,
    })?;
    let line = out
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let answer: Value = serde_json::from_slice(line)
        .map_err(|_| "Python answered something that is not the wrapper's JSON".to_owned())?;
    if let Some(message) = answer.get("error").and_then(Value::as_str) {
        return Err(message.to_owned());
    }
    answer
        .get("ok")
        .cloned()
        .ok_or_else(|| "Python answered without a result".to_owned())
}

enum Event {
    Exited(std::io::Result<std::process::ExitStatus>),
    TooBig,
}

struct Spawn {
    exe: PathBuf,
    args: Vec<String>,
    input: Vec<u8>,
    timeout: Duration,
    sandbox: Option<sandbox::Rules>,
}

/// Variables a sandboxed call keeps; everything else (API keys first of all) stays out of it.
const SANDBOX_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
];

/// Starts the process on this thread (sandboxed first, if asked), feeds it, waits at most the
/// timeout, and returns its stdout; a non-zero exit without an answer is an error naming the end
/// of stderr.
fn run_thread(s: Spawn) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(&s.exe);
    cmd.args(&s.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .env("PYTHONIOENCODING", "utf-8");
    if let Some(rules) = &s.sandbox {
        cmd.env_clear();
        for k in SANDBOX_ENV {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        cmd.env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        sandbox::restrict_this_thread(rules, &s.exe)?;
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let group = rustix::process::Pid::from_child(&child);
    let kill = move || {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    };
    if let Some(mut stdin) = child.stdin.take() {
        let input = s.input;
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    // What ends the wait: the process exiting, or its answer growing past the cap.
    let (ev_tx, ev_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        let ev_tx = ev_tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut limited = stdout.take(MAX_ANSWER + 1);
            let _ = limited.read_to_end(&mut buf);
            if buf.len() as u64 > MAX_ANSWER {
                let _ = ev_tx.send(Event::TooBig);
            }
            let _ = out_tx.send(buf);
            let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        });
    }
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let _ = err_tx.send(tail);
        });
    }
    std::thread::spawn(move || {
        let _ = ev_tx.send(Event::Exited(child.wait()));
    });
    let stopped = match ev_rx.recv_timeout(s.timeout) {
        Ok(Event::Exited(status)) => Ok(status),
        Ok(Event::TooBig) => Err(format!(
            "its answer passed {} MiB and it was stopped",
            MAX_ANSWER / 1024 / 1024
        )),
        Err(_) => Err(format!(
            "timed out after {} s and was killed",
            s.timeout.as_secs_f64()
        )),
    };
    // Whatever it left running (a child holding the pipes) goes with it.
    kill();
    let status = match stopped {
        Ok(status) => status.map_err(|e| format!("cannot wait for Python: {e}"))?,
        Err(why) => {
            // Killed: its exit follows at once (waited for, boundedly, so none is left behind).
            let _ = ev_rx.recv_timeout(Duration::from_secs(5));
            return Err(why);
        }
    };
    let out = out_rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    let tail = err_rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    if !out.is_empty() {
        return Ok(out);
    }
    Err(crashed(status, &tail))
}

/// Why a process ended without answering, with the last lines it wrote to stderr.
fn crashed(status: std::process::ExitStatus, stderr: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status.signal() {
        Some(24) => "ran past its CPU time limit".to_owned(),
        Some(9) => "was killed (out of memory?)".to_owned(),
        Some(sig) => format!("was killed by signal {sig}"),
        None => format!("exited with status {}", status.code().unwrap_or(-1)),
    };
    let text = String::from_utf8_lossy(stderr);
    let last: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    if last.is_empty() {
        format!("Python {how} without answering")
    } else {
        let lines: Vec<&str> = last.into_iter().rev().collect();
        format!(
            "Python {how} without answering; stderr ends: {}",
            lines.join(" | ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel layer alone (no wrapper, so no audit hooks): a TCP connect to a local
    /// listener and a file write are both denied, and reading Python's own install works.
    #[test]
    fn landlock_alone_denies_tcp_and_writes() {
        let Ok(py) = interpreter() else {
            assert!(
                std::env::var("SEAM_ALLOW_NO_PYTHON").as_deref() == Ok("1"),
                "python3 is required (SEAM_ALLOW_NO_PYTHON=1 skips)"
            );
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = std::env::temp_dir().join(format!("seam-landlock-{}", std::process::id()));
        let script = format!(
            "import json, socket\nr = {{}}\n\
try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); r['tcp'] = 'open'\n\
except OSError as e:\n    r['tcp'] = e.errno\n\
try:\n    open({target:?}, 'w'); r['write'] = 'open'\n\
except OSError as e:\n    r['write'] = e.errno\n\
print(json.dumps(r))\n",
            target = target.display().to_string()
        );
        let out = std::thread::spawn(move || {
            run_thread(Spawn {
                exe: py.exe.clone(),
                args: vec!["-B".into(), "-c".into(), script],
                input: Vec::new(),
                timeout: Duration::from_secs(20),
                sandbox: Some(sandbox::Rules {
                    readable: py.roots.clone(),
                }),
            })
        })
        .join()
        .unwrap()
        .unwrap();
        let r: Value = serde_json::from_slice(&out).unwrap();
        // EACCES (13) from Landlock for both.
        assert_eq!(r, json!({"tcp": 13, "write": 13}));
        assert!(!target.exists());
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err());
    }

    #[test]
    fn script_references() {
        let dir = Path::new("/suite");
        let cases = [
            ("file://a.py", Some(("/suite/a.py", "get_assert"))),
            ("file://a.py:check", Some(("/suite/a.py", "check"))),
            ("python:sub/p.py", Some(("/suite/sub/p.py", "get_assert"))),
            ("file:///abs/p.py:f", Some(("/abs/p.py", "f"))),
            ("file://a.txt", None),
            ("file://a.js:fn", None),
        ];
        for (input, want) in cases {
            let got = Script::parse(input, "get_assert", dir);
            let want = want.map(|(f, func)| Script {
                file: PathBuf::from(f),
                function: func.to_owned(),
            });
            assert_eq!(got, want, "{input}");
        }
    }
}
