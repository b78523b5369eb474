//! [`AuditWriter`]: group commit on a dedicated thread.
//!
//! The thread owns the [`AuditLog`]. It blocks for the first queued record, drains whatever else
//! is queued (up to [`MAX_BATCH`]) and appends them in one transaction, so concurrent requests
//! share one fsync. In `Sync` mode it first yields its core once, so that the threads answering
//! requests queue theirs before the batch is taken; in `Async` mode it gathers records for up to
//! [`ASYNC_LINGER`] after the first. In `Async` mode a full queue overflows into a spool of lines (each line
//! fsync'd) that the thread replays once the queue is empty, on [`AuditWriter::flush`] and at
//! start-up; a record that cannot be spooled either is dropped, counted and logged. A spooled
//! record is never on disk in clear: with a master key each line is the record sealed with
//! AES-256-GCM under a key derived from it (`sealed:` and base64); without one, a store keeps
//! no payload, and the line is the record's JSON with its subject replaced by the salted hash.
//!
//! The writer also says whether it is doing its job ([`AuditWriter::problems`], for readiness):
//! a failed commit marks it failing until a later commit succeeds, and while it is failing the
//! thread probes the database every [`PROBE_EVERY`] with a commit that changes nothing, so it
//! recovers without traffic (a server taken out of rotation gets none).

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::crypto::{SpoolKey, open_with, salted_hash, seal_with};
use crate::{AuditLog, AuditRecord, Payload, StoreError};

/// Most records appended in one transaction.
pub const MAX_BATCH: usize = 1000;
/// The queue bound in `Sync` mode; a submit beyond it fails at once.
const SYNC_QUEUE: usize = 16_384;
/// How long an async writer gathers records into one transaction after the first arrives: no
/// answer waits for an async commit, so this costs nothing but exposure, and it turns one
/// commit per record on a quiet server into one per this interval.
pub const ASYNC_LINGER: Duration = Duration::from_millis(10);
/// How often a failing writer checks whether the database takes commits again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a failed spool write keeps the writer reported as failing.
pub const SPOOL_FAILURE_HOLD: Duration = Duration::from_secs(30);

/// When a submitted record counts as done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Durability {
    /// [`Commit`] resolves once the record's transaction has committed.
    Sync,
    /// [`Commit`] resolves at once. At most `queue` records wait in memory; beyond that they
    /// are spooled to files in `spool_dir` (one directory per writer process).
    Async { queue: usize, spool_dir: PathBuf },
}

/// Counters since the writer started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records committed to the database.
    pub committed: u64,
    /// Transactions that committed records.
    pub batches: u64,
    /// Records waiting in the in-memory queue now.
    pub queued: u64,
    /// Records written to the spool because the queue was full.
    pub spooled: u64,
    /// Records lost: neither queued nor spooled, or refused by the database in `Async` mode.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    committed: AtomicU64,
    batches: AtomicU64,
    queued: AtomicU64,
    spooled: AtomicU64,
    dropped: AtomicU64,
    health: Mutex<Health>,
}

/// What is wrong now, each as a one-line store error (never a record's content).
#[derive(Default)]
struct Health {
    /// The last commit (or probe) failed.
    commit: Option<String>,
    /// The last spool write failed, and when: the records it could not take are lost, and
    /// readiness says so for [`SPOOL_FAILURE_HOLD`] (the overflow may well be over by the time
    /// a probe looks).
    spool_write: Option<(String, Instant)>,
    /// The last replay of the spool failed (it is retried).
    replay: Option<String>,
    stopped: bool,
}

impl Counters {
    fn health(&self, f: impl FnOnce(&mut Health)) {
        match self.health.lock() {
            Ok(mut h) => f(&mut h),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn failing(&self) -> bool {
        let mut failing = false;
        self.health(|h| failing = h.commit.is_some());
        failing
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

enum Msg {
    Record(Box<AuditRecord>, Option<Reply>),
    Flush(Reply),
}

/// Hands records to the writer thread. Cheap to clone; the thread stops once every clone is
/// dropped, after committing what was queued.
#[derive(Clone)]
pub struct AuditWriter {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    spool: Option<Arc<Mutex<Spool>>>,
}

/// Resolves when the record is as durable as the writer's [`Durability`] promises.
pub struct Commit(CommitState);

enum CommitState {
    Done(Option<Result<(), StoreError>>),
    Waiting(oneshot::Receiver<Result<(), StoreError>>),
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            CommitState::Done(r) => Poll::Ready(r.take().unwrap_or(Ok(()))),
            CommitState::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| Err(stopped()))),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::new("the audit writer has stopped")
}

impl AuditWriter {
    /// Starts the writer thread, which first replays any spool left by an earlier run.
    pub fn spawn(log: AuditLog, durability: Durability) -> AuditWriter {
        let (capacity, spool) = match &durability {
            Durability::Sync => (SYNC_QUEUE, None),
            Durability::Async { queue, spool_dir } => (
                *queue,
                Some(Arc::new(Mutex::new(Spool::new(
                    spool_dir.clone(),
                    log.spool_key(),
                )))),
            ),
        };
        let (tx, rx) = sync_channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread = Thread {
            log,
            rx,
            counters: counters.clone(),
            spool: spool.clone(),
        };
        if let Err(e) = std::thread::Builder::new()
            .name("seam-audit".to_owned())
            .spawn(move || thread.run())
        {
            // The receiver is gone with the closure: every submit now reports the writer stopped.
            tracing::error!(error = %e, "cannot start the audit writer thread");
            counters.health(|h| h.stopped = true);
        }
        AuditWriter {
            tx,
            counters,
            spool,
        }
    }

    /// Queues a record. Never blocks on the database; in `Async` mode a full queue spools to
    /// disk (a small synchronous write: the overload path).
    pub fn submit(&self, rec: AuditRecord) -> Commit {
        let (reply, wait) = if self.spool.is_none() {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        let outcome = self.tx.try_send(Msg::Record(Box::new(rec), reply));
        let failed = match outcome {
            Ok(()) => None,
            Err(e) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                Some(e)
            }
        };
        match (failed, wait) {
            (None, Some(rx)) => Commit(CommitState::Waiting(rx)),
            (None, None) => Commit(CommitState::Done(Some(Ok(())))),
            (Some(TrySendError::Disconnected(_)), _) => {
                Commit(CommitState::Done(Some(Err(stopped()))))
            }
            (Some(TrySendError::Full(_)), Some(_)) => Commit(CommitState::Done(Some(Err(
                StoreError::new("the audit queue is full"),
            )))),
            (Some(TrySendError::Full(Msg::Record(rec, _))), None) => {
                Commit(CommitState::Done(Some(self.overflow(&rec))))
            }
            (Some(TrySendError::Full(Msg::Flush(_))), None) => {
                Commit(CommitState::Done(Some(Ok(()))))
            }
        }
    }

    /// The async-mode overflow policy: spool, else drop, count and log.
    fn overflow(&self, rec: &AuditRecord) -> Result<(), StoreError> {
        let written = match &self.spool {
            Some(spool) => spool
                .lock()
                .map_err(|_| StoreError::new("spool lock poisoned"))
                .and_then(|mut s| s.write(rec)),
            None => Err(StoreError::new("no spool")),
        };
        match written {
            Ok(()) => {
                self.counters.spooled.fetch_add(1, Ordering::Relaxed);
                self.counters.health(|h| h.spool_write = None);
                Ok(())
            }
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                let why = format!("records cannot be spooled: {e}");
                self.counters
                    .health(|h| h.spool_write = Some((why, Instant::now())));
                tracing::error!(record = %rec.id, error = %e, "audit queue full and spool unwritable: record dropped");
                Err(e)
            }
        }
    }

    /// Resolves once everything submitted before it (spooled records included) is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        let mut msg = Msg::Flush(tx);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return Err(stopped()),
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Why the writer cannot keep its promise now: commits failing, the spool failing, the
    /// thread gone. Empty when it can.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.counters.health(|h| {
            if h.stopped {
                out.push("the audit writer has stopped".to_owned());
            }
            if let Some(e) = &h.commit {
                out.push(format!("audit records cannot be committed: {e}"));
            }
            if let Some((e, at)) = &h.spool_write
                && at.elapsed() < SPOOL_FAILURE_HOLD
            {
                out.push(format!("audit spool: {e}"));
            }
            if let Some(e) = &h.replay {
                out.push(format!("audit spool: {e}"));
            }
        });
        out
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            committed: c.committed.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
            spooled: c.spooled.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The spool: the file being appended to, and whether any file awaits replay.
struct Spool {
    dir: PathBuf,
    key: SpoolKey,
    file: Option<File>,
    pending: bool,
    seq: u64,
}

/// What marks a sealed spool line, and binds its ciphertext to the spool.
const SEALED: &str = "sealed:";
const SPOOL_AAD: &[u8] = b"seam spool v1";

/// One spool line for `rec` (without its newline).
fn encode(key: &SpoolKey, rec: &AuditRecord) -> Result<Vec<u8>, StoreError> {
    let json_err = |e: serde_json::Error| StoreError::new(format!("audit spool: {e}"));
    match key {
        SpoolKey::Sealed(k) => {
            let plain = serde_json::to_vec(rec).map_err(json_err)?;
            let sealed = seal_with(k, SPOOL_AAD, &plain)?;
            Ok(format!("{SEALED}{}", BASE64.encode(sealed)).into_bytes())
        }
        SpoolKey::Salted(salt) => {
            let hash = rec.subject.as_deref().map(|s| salted_hash(salt, s));
            let bare = AuditRecord {
                subject: None,
                payload: Payload::default(),
                ..rec.clone()
            };
            let mut v = serde_json::to_value(&bare).map_err(json_err)?;
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("subject_hash".to_owned(), hash.into());
            }
            serde_json::to_vec(&v).map_err(json_err)
        }
    }
}

/// A spool line back to its record and, for a keyless line, the subject hash it carries
/// instead of the subject. Lines written before spooled records were sealed are plain records.
fn decode(key: &SpoolKey, line: &str) -> Result<(AuditRecord, Option<String>), String> {
    if let Some(b64) = line.strip_prefix(SEALED) {
        let SpoolKey::Sealed(k) = key else {
            return Err("a sealed spool line, and no master key to open it".to_owned());
        };
        let sealed = BASE64.decode(b64.trim()).map_err(|e| e.to_string())?;
        let plain = open_with(k, SPOOL_AAD, &sealed)
            .ok_or_else(|| "a sealed spool line does not open with this master key".to_owned())?;
        let rec = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
        return Ok((rec, None));
    }
    let mut v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let hash = v
        .as_object_mut()
        .and_then(|m| m.remove("subject_hash"))
        .and_then(|h| h.as_str().map(str::to_owned));
    let rec = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Ok((rec, hash))
}

impl Spool {
    fn new(dir: PathBuf, key: SpoolKey) -> Spool {
        // Files left by an earlier run count as pending until the first replay looks.
        Spool {
            dir,
            key,
            file: None,
            pending: true,
            seq: 0,
        }
    }

    fn write(&mut self, rec: &AuditRecord) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::new(format!("audit spool: {e}"));
        let mut line = encode(&self.key, rec)?;
        line.push(b'\n');
        if self.file.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(io)?;
            self.seq += 1;
            let name = format!(
                "spool-{}-{}-{}.jsonl",
                std::process::id(),
                crate::now_ms(),
                self.seq
            );
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .map_err(io)?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&line).map_err(io)?;
            f.sync_data().map_err(io)?;
        }
        self.pending = true;
        Ok(())
    }

    /// Closes the current file and lists every spool file, oldest first; later writes start a
    /// new file, so the files returned are complete.
    fn take(&mut self) -> Vec<PathBuf> {
        self.file = None;
        self.pending = false;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

struct Thread {
    log: AuditLog,
    rx: Receiver<Msg>,
    counters: Arc<Counters>,
    spool: Option<Arc<Mutex<Spool>>>,
}

/// Marks the writer stopped however its thread ends (a panic included).
struct Stopped(Arc<Counters>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.health(|h| h.stopped = true);
    }
}

impl Thread {
    fn run(mut self) {
        let _stopped = Stopped(self.counters.clone());
        self.replay_spool();
        while let Some(first) = self.next() {
            // Woken by a record, give the threads that woke us the core first: on a busy core
            // they queue more records before this batch is taken, so one commit (one fsync, one
            // signed checkpoint) serves them all instead of one each. With a core to spare, or
            // nothing else to run, this returns at once.
            if matches!(first, Msg::Record(..)) {
                std::thread::yield_now();
            }
            let mut records = Vec::new();
            let mut replies = Vec::new();
            let mut flushes = Vec::new();
            // No answer waits for an async commit: gather what arrives within ASYNC_LINGER
            // into the same transaction (a flush waits at most that long).
            let linger = self.spool.is_some().then(|| Instant::now() + ASYNC_LINGER);
            let mut msg = Some(first);
            while let Some(m) = msg.take() {
                match m {
                    Msg::Record(rec, reply) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        records.push(*rec);
                        replies.push(reply);
                    }
                    Msg::Flush(reply) => flushes.push(reply),
                }
                if records.len() < MAX_BATCH {
                    msg = self.rx.try_recv().ok();
                    if msg.is_none()
                        && flushes.is_empty()
                        && let Some(until) = linger
                    {
                        // Asleep, not waiting on the queue: a record that arrives meanwhile
                        // wakes no one (waiting on it cost a wake-up per record).
                        let left = until.saturating_duration_since(Instant::now());
                        if !left.is_zero() {
                            #[expect(
                                clippy::disallowed_methods,
                                reason = "the writer is a dedicated OS thread, not an async task"
                            )]
                            std::thread::sleep(left);
                            msg = self.rx.try_recv().ok();
                        }
                    }
                }
            }
            self.commit(&records, replies);
            // Replay the spool when the queue has room (it is empty), and before a flush answers.
            let idle = self.counters.queued.load(Ordering::Relaxed) == 0;
            if idle || !flushes.is_empty() {
                self.replay_spool();
            }
            for f in flushes {
                let _ = f.send(Ok(()));
            }
        }
        self.replay_spool();
    }

    /// The next message; while commits are failing, probes the database between messages.
    fn next(&mut self) -> Option<Msg> {
        loop {
            if !self.counters.failing() {
                return self.rx.recv().ok();
            }
            match self.rx.recv_timeout(PROBE_EVERY) {
                Ok(m) => return Some(m),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let outcome = self.log.probe().err().map(|e| e.to_string());
                    let recovered = outcome.is_none();
                    self.counters.health(|h| h.commit = outcome);
                    if recovered {
                        tracing::info!("the audit store takes commits again");
                        self.replay_spool();
                    }
                }
            }
        }
    }

    fn commit(&mut self, records: &[AuditRecord], replies: Vec<Option<Reply>>) {
        if records.is_empty() {
            return;
        }
        let outcome = self.log.append(records);
        if outcome.is_ok() || records.len() == 1 {
            // A failed batch is retried record by record below; their outcomes decide.
            let why = outcome.as_ref().err().map(ToString::to_string);
            self.counters.health(|h| h.commit = why);
        }
        match outcome {
            Ok(()) => {
                self.counters
                    .committed
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
                for r in replies.into_iter().flatten() {
                    let _ = r.send(Ok(()));
                }
            }
            // One bad record must not sink its neighbours: retry each alone.
            Err(_) if records.len() > 1 => {
                for (rec, reply) in records.iter().zip(replies) {
                    self.commit(std::slice::from_ref(rec), vec![reply]);
                }
            }
            Err(e) => match replies.into_iter().next().flatten() {
                Some(r) => {
                    let _ = r.send(Err(e));
                }
                None => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(record = %records[0].id, error = %e, "audit record could not be stored: dropped");
                }
            },
        }
    }

    /// Appends every spooled record not already stored, then deletes the spool files. A file
    /// whose batch fails stays for the next replay.
    fn replay_spool(&mut self) {
        let Some(spool) = self.spool.clone() else {
            return;
        };
        let files = match spool.lock() {
            Ok(mut s) if s.pending => s.take(),
            _ => return,
        };
        let mut failed = None;
        for path in files {
            match self.replay_file(&path) {
                Ok(()) => {
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::error!(error = %e, "cannot remove a replayed audit spool file");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit spool replay failed; will retry");
                    failed = Some(format!("spooled records cannot be replayed: {e}"));
                    if let Ok(mut s) = spool.lock() {
                        s.pending = true;
                    }
                }
            }
        }
        self.counters.health(|h| h.replay = failed);
    }

    fn replay_file(&mut self, path: &Path) -> Result<(), StoreError> {
        let file = File::open(path).map_err(|e| StoreError::new(format!("audit spool: {e}")))?;
        let key = self.log.spool_key();
        let mut batch = Vec::new();
        let mut hashes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| StoreError::new(format!("audit spool: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            match decode(&key, &line) {
                Ok((rec, hash)) if !seen.contains(&rec.id) && !self.log.contains(&rec.id)? => {
                    seen.insert(rec.id.clone());
                    // A keyless line carries its hash; a sealed or older one its subject.
                    hashes.push(hash);
                    batch.push(rec);
                }
                Ok(_) => {}
                Err(e) => {
                    // A torn last line from a crash mid-write, or one sealed under another
                    // master key: nothing more can be recovered.
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "unreadable audit spool line dropped");
                }
            }
            if batch.len() >= MAX_BATCH {
                self.append_replayed(&mut batch, &mut hashes)?;
            }
        }
        self.append_replayed(&mut batch, &mut hashes)
    }

    fn append_replayed(
        &mut self,
        batch: &mut Vec<AuditRecord>,
        hashes: &mut Vec<Option<String>>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.log.append_hashed(batch, Some(hashes))?;
        hashes.clear();
        self.counters
            .committed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }
}
