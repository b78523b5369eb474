//! The audit trail at the HTTP edge: one record per request — answered, refused or failed,
//! streamed or not — handed to `seam-store`'s writer.
//!
//! A [`Draft`] is started when a request arrives (id, time, subject, tags, class) and finished
//! with what happened. With `durability = "sync"` the response waits for the record's commit
//! (grouped with other requests' records by the writer), so a completed response always has its
//! record; if the commit fails the client gets `503 audit_unavailable` instead of the answer. A
//! stream under `sync` also commits an `opening` record before its first byte ([`Draft::open`]).
//! Payloads are serialised only when the record's class keeps them.
//!
//! A request refused before any upstream call keeps no payload, whatever its class; past
//! `refusals_per_second` such refusals are counted ([`Refusals`]) and written as one record per
//! second per (key, endpoint, status, error code), so a flood cannot grow the store without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use seam_config::{AuditClass, Config, StorageConfig};
use seam_gateway::{Attempt, PolicyReport, Remask, Rewritten};
use seam_store::{
    AttemptRecord, AuditLog, AuditRecord, AuditWriter, BackendConfig, Durability, FindingRecord,
    Payload, Query, RecordKind, Retention, RetentionClass, StoreConfig, StoredRecord, UsageRecord,
};
use seam_types::{ApiError, ErrorCode};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::pricing::Priced;

/// `x-seam-subject`: the data subject a request is about.
pub const SUBJECT: &str = "x-seam-subject";
/// `x-seam-tags`: comma-separated labels recorded with the request.
pub const TAGS: &str = "x-seam-tags";

const MAX_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 64;
const MAX_SUBJECT_LEN: usize = 256;

/// The store settings a config names; also what `seam audit` opens.
pub fn store_config(cfg: &Config) -> StoreConfig {
    let backend = match &cfg.storage {
        StorageConfig::Sqlite { path, .. } => BackendConfig::Sqlite { path: path.clone() },
        StorageConfig::Postgres { url, .. } => BackendConfig::Postgres {
            url: url.expose().to_owned(),
        },
    };
    StoreConfig {
        backend,
        master_key: cfg.audit.master_key.as_ref().map(|k| k.0),
        retention: cfg
            .audit
            .retention
            .iter()
            .map(|r| Retention {
                class: class(r.class),
                payload_days: r.payload_days,
                record_days: r.record_days,
            })
            .collect(),
    }
}

pub fn class(c: AuditClass) -> RetentionClass {
    match c {
        AuditClass::Full => RetentionClass::Full,
        AuditClass::Redacted => RetentionClass::Redacted,
        AuditClass::Metadata => RetentionClass::Metadata,
    }
}

/// The audit trail of a running server: the writer, and a second connection for searches and
/// retention, each on its own OS thread. The PostgreSQL client is synchronous and runs its own
/// runtime, so connections are opened, used and dropped only off the async runtime's threads.
pub struct Auditor {
    writer: AuditWriter,
    sync: bool,
    jobs: std::sync::mpsc::Sender<Job>,
    refusals: Arc<Refusals>,
    /// Dropped with the auditor: wakes the refusal counter's thread, which writes what it holds
    /// and stops.
    _stop: std::sync::mpsc::Sender<()>,
}

enum Job {
    Search(Query, oneshot::Sender<Result<Vec<StoredRecord>, String>>),
    Rollup(
        Vec<seam_store::Window>,
        oneshot::Sender<Result<Vec<seam_store::Rollup>, String>>,
    ),
    Latest(
        Query,
        Option<i64>,
        oneshot::Sender<Result<Vec<StoredRecord>, String>>,
    ),
    Purge(oneshot::Sender<Result<String, String>>),
}

impl Auditor {
    /// `None` when `[audit] enabled = false`.
    pub fn open(cfg: &Config) -> Result<Option<Auditor>, String> {
        if !cfg.audit.enabled {
            return Ok(None);
        }
        let store = store_config(cfg);
        if let BackendConfig::Sqlite { path } = &store.backend
            && let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("audit: cannot create {}: {e}", dir.display()))?;
        }
        let opened = std::thread::spawn(move || {
            let log = AuditLog::open(&store).map_err(|e| format!("audit: {e}"))?;
            let reader = AuditLog::open(&store).map_err(|e| format!("audit: {e}"))?;
            Ok::<_, String>((log, reader))
        })
        .join()
        .map_err(|_| "audit: opening the log panicked".to_owned())??;
        let (log, reader) = opened;
        let (durability, sync) = match cfg.audit.durability {
            seam_config::Durability::Sync => (Durability::Sync, true),
            seam_config::Durability::Async => (
                Durability::Async {
                    queue: cfg.audit.queue,
                    spool_dir: cfg.audit.spool_dir.clone(),
                },
                false,
            ),
        };
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("seam-audit-reader".into())
            .spawn(move || serve_jobs(reader, &rx))
            .map_err(|e| format!("audit: cannot start the reader thread: {e}"))?;
        let writer = AuditWriter::spawn(log, durability);
        let refusals = Arc::new(Refusals {
            per_second: cfg.audit.refusals_per_second,
            writer: writer.clone(),
            window: Mutex::new(Window::default()),
        });
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let counter = Arc::clone(&refusals);
        std::thread::Builder::new()
            .name("seam-audit-refusals".into())
            .spawn(move || counter.run(&stopped))
            .map_err(|e| format!("audit: cannot start the refusal counter's thread: {e}"))?;
        Ok(Some(Auditor {
            writer,
            sync,
            jobs,
            refusals,
            _stop: stop,
        }))
    }

    /// Records matching `q` (for `GET /admin/audit`).
    pub async fn search(&self, q: Query) -> Result<Vec<StoredRecord>, String> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Search(q, tx))
            .map_err(|_| "the audit reader has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the audit reader has stopped".to_owned())?
    }

    /// The rollups of each window (the console's aggregates), read in turn.
    pub async fn rollups(
        &self,
        windows: Vec<seam_store::Window>,
    ) -> Result<Vec<seam_store::Rollup>, String> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Rollup(windows, tx))
            .map_err(|_| "the audit reader has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the audit reader has stopped".to_owned())?
    }

    /// Records matching `q`, newest first, before `before_seq` (the console's list; at most
    /// `q.limit`).
    pub async fn latest(
        &self,
        q: Query,
        before_seq: Option<i64>,
    ) -> Result<Vec<StoredRecord>, String> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Latest(q, before_seq, tx))
            .map_err(|_| "the audit reader has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the audit reader has stopped".to_owned())?
    }

    /// Applies retention now (the periodic task of `seam serve`).
    pub async fn purge(&self) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Purge(tx))
            .map_err(|_| "the audit reader has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the audit reader has stopped".to_owned())?
    }

    /// Queues a record the server writes of its own accord (a rollout's decision): nobody waits
    /// for its commit.
    pub fn submit_detached(&self, rec: AuditRecord) {
        drop(self.writer.submit(rec));
    }

    /// Why the trail cannot keep its promise now (for `/readyz`): empty when it can.
    pub fn problems(&self) -> Vec<String> {
        self.writer.problems()
    }

    /// Waits until every record submitted so far is committed, counted refusals included
    /// (graceful shutdown).
    pub async fn flush(&self) -> Result<(), String> {
        self.refusals.write_counted(true);
        self.writer.flush().await.map_err(|e| e.to_string())
    }

    /// A refusal before any upstream call: recorded on its own while under the rate (and, under
    /// sync durability, committed before the error is sent), else counted.
    async fn refusal(&self, rec: AuditRecord) -> Result<(), ApiError> {
        match self.refusals.admit(rec) {
            Some(rec) => self.submit(rec).await,
            None => Ok(()),
        }
    }

    pub(crate) async fn submit(&self, rec: AuditRecord) -> Result<(), ApiError> {
        let commit = self.writer.submit(rec);
        if !self.sync {
            return Ok(());
        }
        commit.await.map_err(|e| {
            tracing::error!(error = %e, "audit record not committed; the response is withheld");
            ApiError::new(
                ErrorCode::AuditUnavailable,
                "Seam could not commit the audit record of this request, so it withholds the answer; retry later",
            )
        })
    }
}

/// Refusals before any upstream call, per second: the first `per_second` are recorded one by one;
/// the rest are counted per (key, endpoint, status, error code) and written as one record each
/// when the second is over (by the next refusal, or by the counter's thread within a tick).
struct Refusals {
    per_second: u32,
    writer: AuditWriter,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// Unix second this window counts.
    second: i64,
    /// Refusals seen in it, recorded or counted.
    seen: u32,
    counted: Counted,
}

/// Refusals counted in a window, per (key, endpoint, status, error code).
type Counted = HashMap<(Option<String>, String, u16, Option<String>), AuditRecord>;

/// How often the counter's thread looks for a finished second.
const REFUSAL_TICK: Duration = Duration::from_millis(250);

impl Refusals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(rec)` when the refusal is to be recorded on its own; `None` when it was counted.
    fn admit(&self, rec: AuditRecord) -> Option<AuditRecord> {
        let second = now_ms().div_euclid(1000);
        let (rec, done) = {
            let mut w = self.lock();
            let done = if w.second == second {
                HashMap::new()
            } else {
                w.second = second;
                w.seen = 0;
                std::mem::take(&mut w.counted)
            };
            w.seen = w.seen.saturating_add(1);
            let rec = if w.seen <= self.per_second {
                Some(rec)
            } else {
                count_into(&mut w.counted, rec);
                None
            };
            (rec, done)
        };
        self.write(done.into_values());
        rec
    }

    /// Writes what was counted in finished seconds (or in every second, when `all`).
    fn write_counted(&self, all: bool) {
        let done = {
            let mut w = self.lock();
            if !all && w.second == now_ms().div_euclid(1000) {
                return;
            }
            std::mem::take(&mut w.counted)
        };
        self.write(done.into_values());
    }

    /// Counted records are written without waiting for their commit: their requests were
    /// answered already, and a flood must not wait on the disk.
    fn write(&self, recs: impl Iterator<Item = AuditRecord>) {
        for rec in recs {
            drop(self.writer.submit(rec));
        }
    }

    /// The counter's thread: writes finished seconds every tick, and everything when the
    /// auditor is dropped.
    fn run(&self, stop: &std::sync::mpsc::Receiver<()>) {
        loop {
            match stop.recv_timeout(REFUSAL_TICK) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => self.write_counted(false),
                _ => {
                    self.write_counted(true);
                    return;
                }
            }
        }
    }
}

/// Adds a refusal to its (key, endpoint, status, error code) count: the first one's id and time,
/// no subject, tags or model (they may differ), findings summed, the slowest latency.
fn count_into(counted: &mut Counted, rec: AuditRecord) {
    let key = (
        rec.key_id.clone(),
        rec.endpoint.clone(),
        rec.status,
        rec.error_code.clone(),
    );
    match counted.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => {
            let agg = e.get_mut();
            agg.count = Some(agg.count.unwrap_or(1).saturating_add(1));
            agg.latency_ms = agg.latency_ms.max(rec.latency_ms);
            for f in rec.findings {
                match agg
                    .findings
                    .iter_mut()
                    .find(|a| (&a.stage, &a.entity, &a.action) == (&f.stage, &f.entity, &f.action))
                {
                    Some(a) => {
                        a.count = a.count.saturating_add(f.count);
                        // An injection's detail: the highest score's.
                        if f.score > a.score {
                            a.score = f.score;
                            a.by = f.by;
                            a.source = f.source;
                        }
                    }
                    None => agg.findings.push(f),
                }
            }
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(AuditRecord {
                id: format!("{}:refusals", rec.id),
                subject: None,
                tags: Vec::new(),
                model: None,
                placement: None,
                count: Some(1),
                prompt: None,
                variant: None,
                trace_id: None,
                citations: Vec::new(),
                features: Vec::new(),
                ..rec
            });
        }
    }
}

/// The reader thread: searches and retention, one at a time, until the server drops its sender.
fn serve_jobs(mut log: AuditLog, rx: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Search(q, reply) => {
                let _ = reply.send(log.search(&q).map_err(|e| e.to_string()));
            }
            Job::Rollup(windows, reply) => {
                let read: Result<Vec<_>, _> = windows.iter().map(|w| log.rollup(w)).collect();
                let _ = reply.send(read.map_err(|e| e.to_string()));
            }
            Job::Latest(q, before, reply) => {
                let limit = q.limit.unwrap_or(50);
                let _ = reply.send(log.latest(&q, before, limit).map_err(|e| e.to_string()));
            }
            Job::Purge(reply) => {
                let done = log
                    .purge(now_ms())
                    .map(|r| {
                        format!(
                            "{} payloads, {} records",
                            r.payloads_purged, r.records_deleted
                        )
                    })
                    .map_err(|e| e.to_string());
                let _ = reply.send(done);
            }
        }
    }
}

/// Which class each alias's records get.
#[derive(Clone, Debug)]
pub struct Classes {
    default: AuditClass,
    by_alias: HashMap<String, AuditClass>,
}

impl Classes {
    pub fn new(cfg: &Config) -> Self {
        Classes {
            default: cfg.audit.default_class,
            by_alias: cfg
                .models
                .iter()
                .filter_map(|(a, m)| Some((a.clone(), m.audit_class?)))
                .collect(),
        }
    }

    pub fn of(&self, model: Option<&str>) -> AuditClass {
        model
            .and_then(|m| self.by_alias.get(m))
            .copied()
            .unwrap_or(self.default)
    }
}

/// The W3C trace id of the request the current task serves (see `seam_providers::trace`).
pub fn current_trace_id() -> Option<String> {
    seam_providers::trace::CURRENT
        .try_with(seam_providers::trace::Trace::trace_id_hex)
        .ok()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A record in the making.
pub struct Draft {
    auditor: Option<Arc<Auditor>>,
    classes: Arc<Classes>,
    id: String,
    time_ms: i64,
    start: Instant,
    endpoint: &'static str,
    subject: Option<String>,
    tags: Vec<String>,
    model: Option<String>,
    /// The client's model string when `model` is a masked form of it.
    raw_model: Option<String>,
    client_request: Option<Value>,
    class: AuditClass,
    key_id: Option<String>,
    /// The key's team, a metric label.
    team: Option<String>,
    /// The key's class, which wins over the alias's.
    key_class: Option<AuditClass>,
    /// The placement the request is held to, once known; `None`: unconstrained.
    placement: Option<String>,
    /// The config alias serving the request (exact, or the glob that matched), once known.
    alias: Option<String>,
    /// The record was submitted (by `finish`); until then, dropping the draft submits one.
    done: bool,
    /// `request`, or `tool_call` for calls through `/mcp`.
    kind: RecordKind,
    /// The prompt the request rendered, `name@version`.
    prompt: Option<String>,
    /// The rollout variant that served it, `rollout:variant`.
    variant: Option<String>,
    /// The rollout side serving it: finishing the record also counts the request there.
    assignment: Option<crate::rollouts::Assignment>,
    /// The request's W3C trace id.
    trace_id: Option<String>,
    /// The passages retrieval put into the request.
    citations: Vec<seam_store::CitationRecord>,
    /// The API features the request uses (`tools`, `json_schema`, …).
    features: Vec<String>,
    /// The request's spans, when traces are exported and it is sampled: the draft holds them
    /// open until the record is made (for a stream, when it ends).
    span: Option<seam_providers::otel::Recorder>,
}

/// What happened to a request, for [`Draft::finish`].
#[derive(Default)]
pub struct Finish<'a> {
    pub status: u16,
    pub error_code: Option<String>,
    pub route: Option<String>,
    pub attempts: &'a [Attempt],
    pub policy: Option<&'a PolicyReport>,
    /// Tokens and cost, after the sanity checks; counted in metrics by key, team and model.
    pub usage: Option<Priced>,
    pub ttft: Option<Duration>,
    pub rewritten: Option<&'a Rewritten>,
    /// Puts the request's tokens back into the response for `redacted` records.
    pub remask: Option<&'a Remask>,
    /// The response body (built only when the class keeps payloads).
    pub response: Option<Value>,
    /// When the response ended; `None`: now.
    pub ended: Option<Instant>,
    /// Served from the exact cache (no upstream call, no cost).
    pub cache_hit: bool,
}

impl Draft {
    pub fn new(
        auditor: Option<Arc<Auditor>>,
        classes: &Arc<Classes>,
        id: &str,
        start: Instant,
        headers: &HeaderMap,
        endpoint: &'static str,
        caller: Option<&crate::auth::Caller>,
    ) -> Self {
        let subject = headers
            .get(SUBJECT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().chars().take(MAX_SUBJECT_LEN).collect::<String>())
            .filter(|s| !s.is_empty());
        let tags = headers
            .get(TAGS)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.split(',')
                    .map(|t| t.trim().chars().take(MAX_TAG_LEN).collect::<String>())
                    .filter(|t| !t.is_empty())
                    .take(MAX_TAGS)
                    .collect()
            })
            .unwrap_or_default();
        let elapsed = i64::try_from(start.elapsed().as_millis()).unwrap_or(0);
        Draft {
            auditor,
            classes: Arc::clone(classes),
            id: id.to_owned(),
            time_ms: now_ms() - elapsed,
            start,
            endpoint,
            subject,
            tags,
            model: None,
            raw_model: None,
            client_request: None,
            class: caller
                .and_then(|c| c.audit_class)
                .unwrap_or(classes.default),
            key_id: caller.map(|c| c.key_id.clone()),
            team: caller.and_then(|c| c.team.clone()),
            key_class: caller.and_then(|c| c.audit_class),
            placement: None,
            alias: None,
            done: false,
            kind: RecordKind::Request,
            prompt: None,
            variant: None,
            assignment: None,
            trace_id: current_trace_id(),
            citations: Vec::new(),
            features: Vec::new(),
            span: seam_providers::otel::current(),
        }
    }

    /// The request's span recorder, if it is traced.
    pub fn span(&self) -> Option<&seam_providers::otel::Recorder> {
        self.span.as_ref()
    }

    /// A pipeline stage's span (`seam.cache.lookup`, `seam.limits.reserve`) from `start_ns` to now.
    pub fn stage(&self, name: &str, start_ns: u64, attrs: seam_providers::otel::Attrs) {
        if let Some(r) = &self.span {
            let mut c = seam_providers::otel::Child::stage(name, start_ns);
            c.attrs = attrs;
            r.child(c);
        }
    }

    /// The placement the request is held to (alias ∩ key ∩ `x-seam-placement`), recorded when
    /// it constrains anything.
    pub fn placement(&mut self, p: &seam_config::Placement) {
        self.placement = (!p.is_unconstrained()).then(|| p.to_string());
    }

    /// The prompt the request rendered (`name@version`), on its record.
    pub fn prompt(&mut self, name_at_version: String) {
        self.prompt = Some(name_at_version);
    }

    /// The passages retrieval put into the request, on its record.
    pub fn citations(&mut self, citations: Vec<seam_store::CitationRecord>) {
        self.citations = citations;
    }

    /// The API features the request uses ([`crate::features::of`]), on its record.
    pub fn features(&mut self, features: Vec<String>) {
        self.features = features;
    }

    /// The rollout variant serving the request (`rollout:variant`), on its record.
    pub fn variant(&mut self, rollout_variant: String) {
        self.variant = Some(rollout_variant);
    }

    /// The rollout side serving the request: its label goes on the record, and finishing the
    /// record counts the request in that side's tally.
    pub fn assign(&mut self, a: crate::rollouts::Assignment) {
        self.variant = Some(a.label());
        self.assignment = Some(a);
    }

    /// The kind of record this draft makes (`tool_call` on `/mcp`).
    pub fn set_kind(&mut self, kind: RecordKind) {
        self.kind = kind;
    }

    /// Rewrites each tag (the caller masks what the policy's scanner finds).
    pub fn mask_tags(&mut self, mut mask: impl FnMut(&str) -> String) {
        for t in &mut self.tags {
            *t = mask(t);
        }
    }

    /// The data subject: `x-seam-subject`, else the body's `user`.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Whether a record will be written at all.
    pub fn audited(&self) -> bool {
        self.auditor.is_some()
    }

    /// Whether payloads will be kept (so bodies are worth serialising).
    pub fn keeps_payloads(&self) -> bool {
        self.auditor.is_some() && self.class.keeps_payloads()
    }

    /// Whether this request's record might keep payloads, before its class is known (the class
    /// follows the alias, which the body names): false only when nothing is audited.
    pub fn may_keep_payloads(&self) -> bool {
        self.auditor.is_some()
    }

    /// What the parsed request says: its model (recorded as `Gateway::model_for_record` gives
    /// it), the alias that serves it (`Gateway::alias_of`: picks the class and the metric label), its `user` (the subject when no header names one)
    /// and, when kept, the body.
    pub fn request<T: serde::Serialize>(
        &mut self,
        model: &str,
        alias: Option<&str>,
        user: Option<&str>,
        body: &T,
    ) {
        if let Some(r) = &self.span {
            crate::otel::request(r, self.endpoint, self.kind, model, self.key_id.as_deref());
        }
        self.model = Some(model.to_owned());
        self.alias = alias.map(str::to_owned);
        self.class = self.key_class.unwrap_or_else(|| self.classes.of(alias));
        if self.subject.is_none() {
            self.subject = user
                .map(|u| u.trim().chars().take(MAX_SUBJECT_LEN).collect::<String>())
                .filter(|u| !u.is_empty());
        }
        if self.keeps_payloads() {
            self.client_request = serde_json::to_value(body).ok();
        }
    }

    /// Submits the record; with sync durability, waits for its commit.
    pub async fn finish(mut self, f: Finish<'_>) -> Result<(), ApiError> {
        let Some((auditor, rec, refusal)) = self.record(f) else {
            return Ok(());
        };
        let t0 = seam_providers::otel::now_ns();
        let done = if refusal {
            auditor.refusal(rec).await
        } else {
            auditor.submit(rec).await
        };
        let error = done.as_ref().err().map(|e| e.code.to_string());
        self.stage(
            "seam.audit.commit",
            t0,
            error
                .map(|e| vec![("error.type", e.into())])
                .unwrap_or_default(),
        );
        done
    }

    /// Counts the usage in metrics and builds the record, once: the draft is spent after it.
    fn record(&mut self, f: Finish<'_>) -> Option<(Arc<Auditor>, AuditRecord, bool)> {
        if std::mem::replace(&mut self.done, true) {
            return None;
        }
        if let Some(r) = &self.span {
            crate::otel::finish(r, &f);
        }
        if let Some(a) = self.assignment.take()
            && let Some(o) = observation(&f, self.start)
        {
            a.observe(&o);
        }
        if let (Some(priced), Some(route)) = (&f.usage, &f.route) {
            let alias = self.alias.as_deref();
            let label = crate::pricing::model_label(alias, alias.is_some(), route);
            crate::pricing::count(
                route,
                self.key_id.as_deref(),
                self.team.as_deref(),
                &label,
                priced,
            );
        }
        let auditor = self.auditor.clone()?;
        let ended = f.ended.unwrap_or_else(Instant::now);
        // Refused before any upstream call: nothing of the request is kept, whatever the class.
        let refusal = f.attempts.is_empty() && !f.cache_hit && f.status >= 400;
        if refusal {
            self.class = AuditClass::Metadata;
        }
        let keep = self.class.keeps_payloads();
        let mut upstream_request = if !keep {
            None
        } else {
            match f.rewritten {
                Some(Rewritten::Chat(r)) => serde_json::to_value(r).ok(),
                Some(Rewritten::Embeddings(r)) => serde_json::to_value(r).ok(),
                Some(Rewritten::Json(v)) => Some((**v).clone()),
                // Nothing was changed: what went upstream is what came in, if anything went.
                None if !f.attempts.is_empty() => self.client_request.clone(),
                None => None,
            }
        };
        // As sent: with the answering target's model (or, when none answered, the last one
        // tried), not the alias.
        let sent_to = f
            .route
            .as_deref()
            .or_else(|| f.attempts.last().map(|a| a.label.as_str()));
        if let (Some(Value::Object(body)), Some(route)) = (&mut upstream_request, sent_to)
            && let Some((_, model)) = route.split_once('/')
        {
            body.insert("model".into(), Value::String(model.to_owned()));
        }
        // `redacted` keeps the post-policy texts: the answer with the caller's values masked
        // again, as the vendor wrote it.
        let mut response = f.response;
        if self.class == AuditClass::Redacted
            && let (Some(r), Some(m)) = (&mut response, f.remask)
        {
            m.json(r);
        }
        let findings = findings(f.policy);
        let raw_model = self.raw_model.take();
        let rec = AuditRecord {
            id: std::mem::take(&mut self.id),
            time_ms: self.time_ms,
            key_id: self.key_id.take(),
            subject: self.subject.take(),
            tags: std::mem::take(&mut self.tags),
            endpoint: self.endpoint.to_owned(),
            model: self.model.take(),
            route: f.route,
            status: f.status,
            error_code: f.error_code,
            attempts: attempts(f.attempts),
            findings,
            usage: f.usage.as_ref().map(|p| UsageRecord {
                prompt_tokens: p.prompt_tokens,
                completion_tokens: p.completion_tokens,
                cached_tokens: p.cached_tokens,
                estimated: p.estimated,
                bounded: !p.anomalies.is_empty(),
            }),
            cost_usd: f.usage.as_ref().and_then(|p| p.cost_usd),
            latency_ms: ended.duration_since(self.start).as_secs_f64() * 1000.0,
            ttft_ms: f.ttft.map(|d| d.as_secs_f64() * 1000.0),
            cache_hit: f.cache_hit,
            placement: self.placement.take(),
            kind: self.kind,
            count: None,
            prompt: self.prompt.take(),
            variant: self.variant.take(),
            trace_id: self.trace_id.take(),
            citations: std::mem::take(&mut self.citations),
            features: std::mem::take(&mut self.features),
            class: class(self.class),
            payload: if keep {
                Payload {
                    client_request: self.client_request.take(),
                    upstream_request,
                    response,
                }
            } else {
                Payload::default()
            },
        };
        let mut rec = rec;
        recorded_names(raw_model, &mut rec);
        Some((auditor, rec, refusal))
    }

    /// The client's own model string, when the record keeps a masked form of it
    /// (`Gateway::model_for_record`): routes and attempt targets that repeat it are masked the
    /// same way, so the clear string reaches no column.
    pub fn raw_model(&mut self, raw: &str) {
        if self.model.as_deref() != Some(raw) {
            self.raw_model = Some(raw.to_owned());
        }
    }

    /// Under sync durability, commits the opening of a stream — metadata only, id
    /// `{request id}:open` — before its first byte is sent; an error means the stream must not
    /// start. Its end is the request's own record, written by [`Draft::finish`].
    pub async fn open(&self, o: Opening<'_>) -> Result<(), ApiError> {
        let Some(auditor) = self.auditor.as_ref().filter(|a| a.sync) else {
            return Ok(());
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rec = AuditRecord {
            id: format!("{}:open", self.id),
            time_ms: self.time_ms,
            key_id: self.key_id.clone(),
            subject: self.subject.clone(),
            tags: self.tags.clone(),
            endpoint: self.endpoint.to_owned(),
            model: self.model.clone(),
            route: Some(o.route.to_owned()),
            status: 200,
            error_code: None,
            attempts: attempts(o.attempts),
            findings: findings(o.policy),
            usage: None,
            cost_usd: None,
            latency_ms: ms(o.ttft),
            ttft_ms: Some(ms(o.ttft)),
            cache_hit: false,
            placement: self.placement.clone(),
            kind: RecordKind::Opening,
            count: None,
            prompt: self.prompt.clone(),
            variant: self.variant.clone(),
            trace_id: self.trace_id.clone(),
            citations: self.citations.clone(),
            features: self.features.clone(),
            class: RetentionClass::Metadata,
            payload: Payload::default(),
        };
        let mut rec = rec;
        recorded_names(self.raw_model.clone(), &mut rec);
        auditor.submit(rec).await
    }
}

impl Drop for Draft {
    /// A request dropped before its record was finished — its client went away while it waited
    /// for an upstream, say — still leaves one: status 499, `client_closed`, submitted without
    /// waiting for the commit. No path out of a handler can lose a request's record.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let e = ApiError::new(
            ErrorCode::ClientClosed,
            "the client closed the connection before the answer",
        );
        let f = Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            ..Finish::default()
        };
        if let Some((auditor, rec, _)) = self.record(f) {
            drop(auditor.writer.submit(rec));
        }
    }
}

/// What a finished request tells a rollout; `None` when it says nothing of the variant that
/// served it: a cache hit, a client that left, a request refused before the gateway (limits, a
/// bad body).
fn observation(f: &Finish<'_>, start: Instant) -> Option<seam_rollouts::Observation> {
    let code = f.error_code.as_deref();
    let policy = code == Some("policy_violation")
        || f.policy.is_some_and(|p| {
            p.injection_blocked
                || p.counts()
                    .iter()
                    .any(|(_, _, action, _)| *action == "block")
        });
    let contract = code == Some("contract_violation");
    let reached = !f.attempts.is_empty() || policy || contract || f.status >= 500;
    if f.cache_hit || f.status == 499 || !reached {
        return None;
    }
    let ended = f.ended.unwrap_or_else(Instant::now);
    Some(seam_rollouts::Observation {
        error: f.status >= 500 || code == Some("stream_interrupted"),
        latency_ms: ended.duration_since(start).as_secs_f64() * 1000.0,
        ttft_ms: f.ttft.map(|d| d.as_secs_f64() * 1000.0),
        cost_usd: f.usage.as_ref().and_then(|p| p.cost_usd),
        output_tokens: f.usage.as_ref().map(|p| p.completion_tokens),
        policy_violation: policy,
        contract_violation: contract,
    })
}

/// What is known of a stream at its first byte, for [`Draft::open`].
pub struct Opening<'a> {
    pub route: &'a str,
    pub attempts: &'a [Attempt],
    pub policy: Option<&'a PolicyReport>,
    pub ttft: Duration,
}

/// The client's model string (`raw`), where a route or an attempt's target repeats it (direct
/// addressing: `PROVIDER/MODEL` is both), as the record keeps it: its masked `model` (see
/// [`Draft::raw_model`]).
fn recorded_names(raw: Option<String>, rec: &mut AuditRecord) {
    let (Some(raw), Some(recorded)) = (raw, rec.model.clone()) else {
        return;
    };
    if rec.route.as_deref() == Some(raw.as_str()) {
        rec.route = Some(recorded.clone());
    }
    for a in &mut rec.attempts {
        if a.target == raw {
            a.target = recorded.clone();
        }
    }
}

pub(crate) fn attempts(attempts: &[Attempt]) -> Vec<AttemptRecord> {
    attempts
        .iter()
        .map(|a| AttemptRecord {
            target: a.label.clone(),
            status: a.status,
            latency_ms: a.latency.as_secs_f64() * 1000.0,
            error: a.code.map(str::to_owned),
        })
        .collect()
}

/// The policy's decisions, counted (never values); an injection's with its score, the part that
/// gave it and where the text entered.
fn findings(policy: Option<&PolicyReport>) -> Vec<FindingRecord> {
    policy
        .map(|p| {
            p.counts()
                .into_iter()
                .map(|(stage, entity, action, count)| {
                    let mut f = FindingRecord::counted(
                        stage,
                        entity,
                        action,
                        u32::try_from(count).unwrap_or(u32::MAX),
                    );
                    if entity == seam_gateway::INJECTION_ENTITY {
                        f.score = p
                            .injection
                            .map(|s| (f64::from(s) * 1000.0).round() / 1000.0);
                        f.by = p.injection_by.map(str::to_owned);
                        f.source = p.injection_in.map(str::to_owned);
                    }
                    f
                })
                .collect()
        })
        .unwrap_or_default()
}
