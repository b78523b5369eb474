//! A server run as a child process speaking newline-delimited JSON-RPC on stdin and stdout,
//! supervised: a process that dies is started again with exponential backoff and a new
//! handshake. Calls in flight when it dies fail as unavailable; calls while it is starting fail
//! at once rather than wait.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Shared;
use crate::hub::CallError;
use crate::jsonrpc::{self, Message};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A process up this long has its backoff reset: its next death is a fresh incident.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Longest stderr line logged; the rest of the line is dropped.
const MAX_STDERR_LINE: usize = 4096;
/// Lines waiting to be written to the process's stdin.
const WRITE_QUEUE: usize = 256;
/// The variables a child keeps from Seam's environment; everything else is cleared so a tool
/// server never inherits Seam's secrets.
const KEPT_ENV: &[&str] = &["PATH", "HOME", "LANG", "TMPDIR"];

/// How to start the process.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

type Reply = Result<Value, CallError>;

struct Pending {
    done: oneshot::Sender<Reply>,
    /// The caller's progress channel and its own token.
    progress: Option<(mpsc::Sender<Value>, Value)>,
}

/// One running process: its stdin queue and the requests awaiting answers.
struct Proc {
    tx: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proc {
    /// Queues a line without waiting: a full queue means a wedged process.
    fn send_line(&self, msg: &Value) -> bool {
        let mut line = msg.to_string().into_bytes();
        line.push(b'\n');
        self.tx.try_send(line).is_ok()
    }

    /// Fails every waiting request (the process is gone).
    fn fail_all(&self, shared: &Shared, reason: &str) {
        for (_, p) in lock(&self.pending).drain() {
            let _ = p.done.send(Err(shared.unavailable(reason)));
        }
    }
}

pub(crate) struct StdioConn {
    shared: Arc<Shared>,
    live: Arc<Mutex<Option<Arc<Proc>>>>,
    /// Aborted on drop, which drops the child and so kills it (`kill_on_drop`).
    supervisor: JoinHandle<()>,
}

impl Drop for StdioConn {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

impl StdioConn {
    pub fn start(shared: Arc<Shared>, spec: Spec, timeout: Duration) -> StdioConn {
        let live = Arc::new(Mutex::new(None));
        let supervisor = tokio::spawn(supervise(
            Arc::clone(&shared),
            spec,
            Arc::clone(&live),
            timeout,
        ));
        StdioConn {
            shared,
            live,
            supervisor,
        }
    }

    fn current(&self) -> Result<Arc<Proc>, CallError> {
        lock(&self.live).clone().ok_or_else(|| {
            let s = self.shared.status();
            let reason = match (s.state, &s.last_error) {
                (super::State::Down, Some(e)) => format!("its process is down ({e})"),
                _ => "its process is starting".to_owned(),
            };
            drop(s);
            self.shared.unavailable(reason)
        })
    }

    /// `Err(Unavailable)` while no process is up.
    pub fn ready(&self) -> Result<(), CallError> {
        self.current().map(|_| ())
    }

    /// [`StdioConn::ready`], but a server whose first process is still starting (Seam or a
    /// reload just started it) is waited for, up to `wait`: it is not down, only young. A
    /// restart is not waited for — calls then fail fast.
    pub async fn ready_first(&self, wait: Duration) -> Result<(), CallError> {
        let deadline = Instant::now() + wait;
        loop {
            let Err(e) = self.ready() else {
                return Ok(());
            };
            let first = {
                let s = self.shared.status();
                s.restarts == 0 && s.state == super::State::Starting
            };
            if !first || Instant::now() >= deadline {
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a request and waits for its answer; dropped before it ends, it forgets the request
    /// (a late answer is discarded) and tells the server it is cancelled.
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        notify: Option<mpsc::Sender<Value>>,
    ) -> Reply {
        let proc = self.current()?;
        call(&self.shared, &proc, method, params, notify).await
    }
}

async fn call(
    shared: &Shared,
    proc: &Arc<Proc>,
    method: &str,
    mut params: Value,
    notify: Option<mpsc::Sender<Value>>,
) -> Reply {
    let id = proc.next_id.fetch_add(1, Ordering::Relaxed);
    let progress = notify.zip(super::swap_progress_token(&mut params, id));
    let (done, answer) = oneshot::channel();
    lock(&proc.pending).insert(id, Pending { done, progress });
    let mut guard = Forget {
        proc: Arc::clone(proc),
        id,
        armed: true,
    };
    if !proc.send_line(&jsonrpc::request(&json!(id), method, super::params(params))) {
        return Err(shared.unavailable("its stdin is not taking input"));
    }
    let reply = answer
        .await
        .unwrap_or_else(|_| Err(shared.unavailable("its process exited")));
    guard.armed = false;
    reply
}

/// Forgets a request whose caller went away and sends `notifications/cancelled`.
struct Forget {
    proc: Arc<Proc>,
    id: u64,
    armed: bool,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if lock(&self.proc.pending).remove(&self.id).is_some() && self.armed {
            self.proc.send_line(&jsonrpc::notification(
                "notifications/cancelled",
                Some(json!({"requestId": self.id, "reason": "the client went away or timed out"})),
            ));
        }
    }
}

async fn supervise(
    shared: Arc<Shared>,
    spec: Spec,
    live: Arc<Mutex<Option<Arc<Proc>>>>,
    timeout: Duration,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        shared.set_starting();
        let started = Instant::now();
        let reason = run(&shared, &spec, &live, timeout).await;
        *lock(&live) = None;
        shared.set_down(&reason);
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        shared.status().restarts += 1;
    }
}

/// Runs the process once: start, handshake, serve until it exits. Returns why it ended.
async fn run(
    shared: &Arc<Shared>,
    spec: &Spec,
    live: &Mutex<Option<Arc<Proc>>>,
    timeout: Duration,
) -> String {
    let mut cmd = Command::new(&spec.command);
    cmd.args(&spec.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for k in KEPT_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        // The command is config, not a secret; its args and env are never shown.
        Err(e) => return format!("cannot start `{}`: {e}", spec.command),
    };
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return "its stdio pipes could not be opened".to_owned();
    };
    let pid = child.id();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let proc = Arc::new(Proc {
        tx,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    });
    let writer = Tasks(tokio::spawn(async move {
        let mut stdin = stdin;
        while let Some(line) = rx.recv().await {
            if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    }));
    let name = Arc::clone(&shared.name);
    let _stderr = Tasks(tokio::spawn(log_stderr(name, BufReader::new(stderr))));
    let mut reader = Tasks(tokio::spawn(read(
        Arc::clone(shared),
        Arc::clone(&proc),
        BufReader::new(stdout),
    )));
    let handshook = tokio::select! {
        r = handshake(shared, &proc, timeout) => Ok(r),
        status = child.wait() => Err(exited(status)),
    };
    let reason = match handshook {
        Err(reason) => reason,
        Ok(Err(reason)) => stop(&mut child, &reason).await,
        Ok(Ok(handshake)) => {
            // Callers are let in before the state says up, so "up" always takes calls.
            *lock(live) = Some(Arc::clone(&proc));
            shared.set_up(handshake, pid);
            let ended = tokio::select! {
                status = child.wait() => Some(exited(status)),
                _ = &mut reader.0 => None,
            };
            match ended {
                Some(reason) => reason,
                // Stdout closes as a process exits: give it a moment to report its status.
                None => match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
                    Ok(status) => exited(status),
                    Err(_) => stop(&mut child, "it closed its stdout").await,
                },
            }
        }
    };
    *lock(live) = None;
    proc.fail_all(shared, "its process exited");
    drop(writer);
    reason
}

/// Aborts a task when dropped.
struct Tasks(JoinHandle<()>);

impl Drop for Tasks {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn stop(child: &mut Child, reason: &str) -> String {
    let _ = child.kill().await;
    reason.to_owned()
}

fn exited(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(s) => format!("its process exited ({s})"),
        Err(e) => format!("its process could not be waited for: {e}"),
    }
}

async fn handshake(
    shared: &Arc<Shared>,
    proc: &Arc<Proc>,
    timeout: Duration,
) -> Result<super::Handshake, String> {
    let result = tokio::time::timeout(
        timeout,
        call(shared, proc, "initialize", super::initialize_params(), None),
    )
    .await
    .map_err(|_| format!("no answer to initialize within {} ms", timeout.as_millis()))?
    .map_err(|e| format!("initialize failed: {}", super::short(&e)))?;
    let handshake = super::read_handshake(&result)?;
    if !proc.send_line(&jsonrpc::notification("notifications/initialized", None)) {
        return Err("its stdin is not taking input".to_owned());
    }
    Ok(handshake)
}

/// Reads stdout until it closes: answers go to their callers, the server's requests are
/// answered, notifications are handled.
async fn read(shared: Arc<Shared>, proc: Arc<Proc>, mut out: BufReader<ChildStdout>) {
    let limit = usize::try_from(shared.max_bytes).unwrap_or(usize::MAX);
    let mut buf = Vec::new();
    loop {
        match next_line(&mut out, &mut buf, limit).await {
            Ok(Line::Eof) | Err(_) => return,
            Ok(Line::TooLong) => {
                // Only the start was kept: fail the request it answers, if its id is there.
                if let Some(id) = sniff_id(&buf)
                    && let Some(p) = lock(&proc.pending).remove(&id)
                {
                    let _ = p.done.send(Err(shared.too_large()));
                } else {
                    tracing::debug!(server = %shared.name, "MCP server sent an overlong line");
                }
            }
            Ok(Line::Full) => dispatch(&shared, &proc, &buf),
        }
    }
}

fn dispatch(shared: &Shared, proc: &Proc, line: &[u8]) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let Ok(message) = jsonrpc::parse(line) else {
        tracing::debug!(server = %shared.name, "MCP server wrote a line that is not JSON-RPC");
        return;
    };
    match message {
        Message::Response { ref id, .. } | Message::Error { ref id, .. } => {
            // An unknown id is a late answer to a request that timed out: discarded.
            if let Some(p) = id.as_u64().and_then(|id| lock(&proc.pending).remove(&id)) {
                let _ = p.done.send(super::answer_of(shared, message));
            }
        }
        Message::Request { id, method, .. } => {
            proc.send_line(&shared.answer_server_request(&id, &method));
        }
        Message::Notification { method, params } => {
            if method == "notifications/progress" {
                let Some(params) = params else { return };
                let token = params.get("progressToken").and_then(Value::as_u64);
                let pending = lock(&proc.pending);
                if let Some((tx, theirs)) = token
                    .and_then(|t| pending.get(&t))
                    .and_then(|p| p.progress.as_ref())
                {
                    let _ = tx.try_send(super::restore_progress(params, theirs));
                }
            } else {
                shared.server_notification(&method, params.as_ref());
            }
        }
    }
}

/// Our ids are numbers near the start of a response (`{"jsonrpc":"2.0","id":7,…`).
fn sniff_id(prefix: &[u8]) -> Option<u64> {
    let s = String::from_utf8_lossy(prefix);
    let at = s.find("\"id\"")? + 4;
    let rest = s[at..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

enum Line {
    Full,
    /// Longer than the limit: `buf` holds its first bytes only.
    TooLong,
    Eof,
}

/// Reads one line into `buf` (without the newline), holding at most `limit` bytes.
async fn next_line(
    r: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    const KEPT: usize = 256;
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Full,
            });
        }
        let (take, newline) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > limit {
                too_long = true;
                let room = KEPT.saturating_sub(buf.len()).min(take);
                buf.extend_from_slice(&chunk[..room]);
                buf.truncate(KEPT);
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take + usize::from(newline));
        if newline {
            return Ok(if too_long { Line::TooLong } else { Line::Full });
        }
    }
}

async fn log_stderr(name: Arc<str>, mut err: BufReader<tokio::process::ChildStderr>) {
    let mut buf = Vec::new();
    loop {
        match next_line(&mut err, &mut buf, MAX_STDERR_LINE).await {
            Ok(Line::Eof) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                tracing::debug!(server = %name, line = %line, "MCP server stderr");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn ids_are_sniffed_from_the_start_of_a_line() {
        assert_eq!(
            sniff_id(br#"{"jsonrpc":"2.0","id": 17,"result":{"#),
            Some(17)
        );
        assert_eq!(sniff_id(br#"{"jsonrpc":"2.0","result":{"#), None);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_short_ones_kept() {
        let input = format!("short\n{}\nlast", "y".repeat(1000));
        let mut r = BufReader::with_capacity(7, input.as_bytes());
        let mut buf = Vec::new();
        assert!(matches!(
            next_line(&mut r, &mut buf, 100).await.unwrap(),
            Line::Full
        ));
        assert_eq!(buf, b"short");
        assert!(matches!(
            next_line(&mut r, &mut buf, 100).await.unwrap(),
            Line::TooLong
        ));
        assert!(buf.len() <= 256);
        assert!(matches!(
            next_line(&mut r, &mut buf, 100).await.unwrap(),
            Line::Full
        ));
        assert_eq!(buf, b"last");
        assert!(matches!(
            next_line(&mut r, &mut buf, 100).await.unwrap(),
            Line::Eof
        ));
    }
}
