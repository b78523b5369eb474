//! OpenTelemetry traces: each traced request's spans, recorded in a small per-request
//! [`Recorder`] (reached through the request's [`Trace`](crate::trace::Trace)), handed to a
//! bounded queue when the request ends, and exported over OTLP/HTTP (protobuf) by one
//! background task.
//!
//! The hot path never waits on the collector: a request's spans go into the queue with one
//! short lock, or are dropped (and counted) when it is full; the exporter sends one batch at a
//! time with a timeout and drops a batch that fails (counted) — no retries to pile up. Without
//! an endpoint no [`Sink`] is installed and nothing is recorded (one `Option` check per request).
//!
//! Spans are kept in Seam's own compact form and turned into `opentelemetry-proto` messages off
//! the request path, by the exporter.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use metrics::{counter, describe_counter};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, span, status};
use prost::Message as _;
use seam_config::TelemetryConfig;

pub const SPANS_DROPPED: &str = "seam_trace_spans_dropped_total";
pub const SPANS_EXPORTED: &str = "seam_trace_spans_exported_total";
pub const EXPORT_ERRORS: &str = "seam_trace_export_errors_total";

/// How long the exporter waits for a full batch before sending what it has.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Registers help texts; call once at start-up after installing a metrics recorder.
pub fn describe() {
    describe_counter!(
        SPANS_DROPPED,
        "Trace spans dropped because the export queue (telemetry.queue) was full."
    );
    describe_counter!(SPANS_EXPORTED, "Trace spans the OTLP collector accepted.");
    describe_counter!(
        EXPORT_ERRORS,
        "OTLP export requests that failed (their spans are dropped, not retried)."
    );
}

/// An attribute value. Keys are `&'static str`: every attribute name is Seam's own.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    StrList(Vec<String>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::F64(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::StrList(v)
    }
}

pub type Attrs = Vec<(&'static str, Value)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Server,
    Client,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub time_ns: u64,
    pub attrs: Attrs,
}

/// A finished span, in Seam's form.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// Zero: a root span.
    pub parent_id: [u8; 8],
    pub name: String,
    pub kind: Kind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Attrs,
    pub events: Vec<Event>,
    pub error: bool,
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn random_id<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    loop {
        for b in &mut out {
            *b = fastrand::u8(..);
        }
        if out.iter().any(|b| *b != 0) {
            return out;
        }
    }
}

/// The request span while it is open, and the finished children.
struct State {
    name: String,
    attrs: Attrs,
    events: Vec<Event>,
    error: bool,
    children: Vec<SpanRecord>,
    /// Upstream attempts begun (span id, start), in call order: the router reports the
    /// attempts' outcomes afterwards, in the same order.
    attempts: Vec<([u8; 8], u64)>,
}

struct Inner {
    sink: Arc<Sink>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: [u8; 8],
    start_ns: u64,
    state: Mutex<State>,
}

/// One traced request's spans. Cloned into whatever outlives the handler (a stream's end hook);
/// when the last clone is dropped, the request span ends and every span goes to the queue.
#[derive(Clone)]
pub struct Recorder(Arc<Inner>);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl PartialEq for Recorder {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Recorder {}

impl Recorder {
    /// A recorder for a request of trace `trace_id` whose caller's span is `parent_id` (zero:
    /// none), sending its spans to `sink`.
    pub fn new(sink: Arc<Sink>, trace_id: [u8; 16], parent_id: [u8; 8], name: &str) -> Self {
        Recorder(Arc::new(Inner {
            sink,
            trace_id,
            span_id: random_id(),
            parent_id,
            start_ns: now_ns(),
            state: Mutex::new(State {
                name: name.to_owned(),
                attrs: Vec::with_capacity(24),
                events: Vec::new(),
                error: false,
                children: Vec::new(),
                attempts: Vec::new(),
            }),
        }))
    }

    /// The request span's id (the parent of every child span).
    pub fn span_id(&self) -> [u8; 8] {
        self.0.span_id
    }

    /// Whether message content may go on spans (`telemetry.capture_content`).
    pub fn captures_content(&self) -> bool {
        self.0.sink.capture_content
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        self.0.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Renames the request span (`{operation} {model}` once the request is read).
    pub fn name(&self, name: String) {
        self.with(|s| s.name = name);
    }

    /// Sets attributes on the request span (a later value for a key replaces the earlier one).
    pub fn set(&self, attrs: impl IntoIterator<Item = (&'static str, Value)>) {
        self.with(|s| {
            for (k, v) in attrs {
                match s.attrs.iter_mut().find(|(key, _)| *key == k) {
                    Some(slot) => slot.1 = v,
                    None => s.attrs.push((k, v)),
                }
            }
        });
    }

    /// Marks the request span failed (status ERROR) with `error.type`.
    pub fn fail(&self, error_type: &str) {
        self.set([("error.type", Value::from(error_type))]);
        self.with(|s| s.error = true);
    }

    /// Marks the request span failed, with `error.type` unless a more precise one is set.
    pub fn fail_unless_known(&self, error_type: &str) {
        self.with(|s| {
            s.error = true;
            if !s.attrs.iter().any(|(k, _)| *k == "error.type") {
                s.attrs.push(("error.type", Value::from(error_type)));
            }
        });
    }

    /// An event on the request span.
    pub fn event(&self, name: &'static str, attrs: Attrs) {
        let time_ns = now_ns();
        self.with(|s| {
            s.events.push(Event {
                name,
                time_ns,
                attrs,
            })
        });
    }

    /// A finished child span of the request span.
    pub fn child(&self, c: Child) {
        let span = SpanRecord {
            trace_id: self.0.trace_id,
            span_id: c.span_id.unwrap_or_else(random_id),
            parent_id: self.0.span_id,
            name: c.name,
            kind: c.kind,
            start_ns: c.start_ns,
            end_ns: c.end_ns.max(c.start_ns),
            attrs: c.attrs,
            events: c.events,
            error: c.error,
        };
        self.with(|s| s.children.push(span));
    }

    /// An upstream attempt begins: its span id (sent upstream in `traceparent`) and start.
    fn begin_attempt(&self) -> [u8; 8] {
        let id = random_id();
        let start = now_ns();
        self.with(|s| s.attempts.push((id, start)));
        id
    }

    /// The attempts begun so far, from the `skip`-th on (span id, start).
    pub fn attempts_from(&self, skip: usize) -> Vec<([u8; 8], u64)> {
        self.with(|s| {
            s.attempts
                .get(skip..)
                .map(<[_]>::to_vec)
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// How many attempts have begun (to pair the router's report with its spans).
    pub fn attempts_begun(&self) -> usize {
        self.with(|s| s.attempts.len()).unwrap_or(0)
    }
}

/// A child span, finished.
pub struct Child {
    pub name: String,
    pub kind: Kind,
    /// `None`: a new id.
    pub span_id: Option<[u8; 8]>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Attrs,
    pub events: Vec<Event>,
    pub error: bool,
}

impl Child {
    /// An internal stage span from `start_ns` to now.
    pub fn stage(name: &str, start_ns: u64) -> Self {
        Child {
            name: name.to_owned(),
            kind: Kind::Internal,
            span_id: None,
            start_ns,
            end_ns: now_ns(),
            attrs: Vec::new(),
            events: Vec::new(),
            error: false,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Ok(state) = self.state.get_mut() else {
            return;
        };
        let mut spans = std::mem::take(&mut state.children);
        spans.push(SpanRecord {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_id: self.parent_id,
            name: std::mem::take(&mut state.name),
            // SERVER: this span is Seam handling the client's request, the child of the
            // client's span; the upstream attempts below it are the GenAI CLIENT spans. The
            // GenAI attributes are on both, so a backend sees the operation at either level.
            kind: Kind::Server,
            start_ns: self.start_ns,
            end_ns: now_ns(),
            attrs: std::mem::take(&mut state.attrs),
            events: std::mem::take(&mut state.events),
            error: state.error,
        });
        self.sink.push(spans);
    }
}

/// The current task's recorder, if it serves a traced, sampled request.
pub fn current() -> Option<Recorder> {
    crate::trace::CURRENT
        .try_with(|t| t.recorder.clone())
        .ok()
        .flatten()
}

tokio::task_local! {
    /// The span id of the upstream attempt the current task makes (sent as its `traceparent`).
    static ATTEMPT: [u8; 8];
}

/// The span id the current upstream attempt sends in `traceparent`, when one was begun.
pub(crate) fn attempt_span() -> Option<[u8; 8]> {
    ATTEMPT.try_with(|a| *a).ok()
}

/// Runs one upstream attempt: when the request is traced, the attempt gets its span id (the one
/// its `traceparent` carries upstream) and its start is noted for [`Recorder::attempts_from`].
pub async fn attempt<F: Future>(fut: F) -> F::Output {
    match current() {
        Some(r) => ATTEMPT.scope(r.begin_attempt(), fut).await,
        None => fut.await,
    }
}

/// The bounded queue between requests and the exporter.
pub struct Sink {
    queue: Mutex<VecDeque<SpanRecord>>,
    capacity: usize,
    batch: usize,
    notify: tokio::sync::Notify,
    /// Share of traces Seam begins that are sampled.
    pub sampling: f64,
    pub capture_content: bool,
}

impl Sink {
    /// A queue holding at most `capacity` spans, woken when `batch` are waiting.
    pub fn new(capacity: usize, batch: usize, sampling: f64, capture_content: bool) -> Self {
        Sink {
            queue: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity,
            batch: batch.max(1),
            notify: tokio::sync::Notify::new(),
            sampling,
            capture_content,
        }
    }

    /// A request's spans, all or none: when they do not fit, they are dropped and counted.
    pub fn push(&self, spans: Vec<SpanRecord>) {
        let n = spans.len();
        let wake = match self.queue.lock() {
            Ok(mut q) if q.len() + n <= self.capacity => {
                q.extend(spans);
                q.len() >= self.batch
            }
            _ => {
                counter!(SPANS_DROPPED).increment(n as u64);
                return;
            }
        };
        if wake {
            self.notify.notify_one();
        }
    }

    /// Up to `batch` spans, oldest first.
    pub fn take_batch(&self) -> Vec<SpanRecord> {
        match self.queue.lock() {
            Ok(mut q) => {
                let n = q.len().min(self.batch);
                q.drain(..n).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.queue.lock().map_or(0, |q| q.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a trace Seam begins is sampled.
    pub fn sample(&self) -> bool {
        self.sampling >= 1.0 || (self.sampling > 0.0 && fastrand::f64() < self.sampling)
    }
}

fn installed() -> &'static RwLock<Option<Arc<Sink>>> {
    static SINK: OnceLock<RwLock<Option<Arc<Sink>>>> = OnceLock::new();
    SINK.get_or_init(|| RwLock::new(None))
}

/// The process's sink, when `[telemetry] endpoint` is set.
pub fn sink() -> Option<Arc<Sink>> {
    installed().read().ok().and_then(|s| s.clone())
}

/// Installs the exporter `cfg` describes (nothing without an endpoint) and starts its task on
/// the current runtime. Settings are read once: a reload does not change them.
pub fn install(cfg: &TelemetryConfig) -> Result<(), String> {
    let Some(url) = &cfg.traces_url else {
        return Ok(());
    };
    let exporter = Exporter::new(cfg, url)?;
    let sink = Arc::new(Sink::new(
        cfg.queue,
        cfg.batch,
        cfg.sampling,
        cfg.capture_content,
    ));
    if let Ok(mut slot) = installed().write() {
        *slot = Some(Arc::clone(&sink));
    }
    tokio::spawn(exporter.run(sink));
    Ok(())
}

/// Posts batches to `{endpoint}/v1/traces`.
pub struct Exporter {
    pool: crate::http::Pool,
    url: http::Uri,
    /// Bounds each export, connect and answer together.
    timeout: Duration,
    headers: http::HeaderMap,
    resource: Resource,
}

impl Exporter {
    pub fn new(cfg: &TelemetryConfig, url: &str) -> Result<Self, String> {
        // One request at a time: one idle connection is all the pool keeps.
        let pool = crate::http::pool(cfg.timeout, 1)
            .map_err(|e| format!("telemetry: cannot build HTTP client: {e}"))?;
        let (url, basic) = crate::http::parse_uri(url)
            .map_err(|e| format!("telemetry.endpoint: not a valid URL ({e})"))?;
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("seam/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(basic) = basic {
            headers.insert(http::header::AUTHORIZATION, basic);
        }
        for (name, value) in &cfg.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("telemetry.headers: invalid header name {name:?}"))?;
            let mut v = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("telemetry.headers: invalid value for header {name}"))?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        let mut attributes = vec![
            kv("service.name", Value::from(cfg.service_name.as_str())),
            kv("service.version", Value::from(env!("CARGO_PKG_VERSION"))),
            kv("telemetry.sdk.name", Value::from("seam")),
            kv("telemetry.sdk.language", Value::from("rust")),
        ];
        for (k, v) in &cfg.resource {
            attributes.retain(|a| &a.key != k);
            attributes.push(kv(k, Value::from(v.as_str())));
        }
        Ok(Exporter {
            pool,
            url,
            timeout: cfg.timeout,
            headers,
            resource: Resource {
                attributes,
                ..Resource::default()
            },
        })
    }

    /// Sends batches until the process ends: a full batch at once, else what is waiting every
    /// [`FLUSH_EVERY`]. One request at a time, so a slow collector slows only this task.
    pub async fn run(self, sink: Arc<Sink>) {
        loop {
            tokio::select! {
                () = sink.notify.notified() => {}
                () = tokio::time::sleep(FLUSH_EVERY) => {}
            }
            loop {
                let batch = sink.take_batch();
                if batch.is_empty() {
                    break;
                }
                self.export(batch).await;
            }
        }
    }

    /// One batch, sent once: failures are counted and the batch dropped.
    pub async fn export(&self, batch: Vec<SpanRecord>) {
        let n = batch.len() as u64;
        let body = encode(&self.resource, batch);
        let req = crate::http::post(&self.url, self.headers.clone(), body);
        let sent = tokio::time::timeout(self.timeout, self.pool.request(req)).await;
        let sent = match sent {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) if crate::http::is_timeout(&e) => Err("timeout"),
            Ok(Err(e)) if e.is_connect() => Err("connect"),
            Ok(Err(_)) => Err("transport"),
            Err(_) => Err("timeout"),
        };
        match sent {
            Ok(r) if r.status().is_success() => counter!(SPANS_EXPORTED).increment(n),
            Ok(r) => {
                tracing::warn!(
                    status = r.status().as_u16(),
                    spans = n,
                    "trace export refused"
                );
                counter!(EXPORT_ERRORS).increment(1);
                counter!(SPANS_DROPPED).increment(n);
            }
            Err(why) => {
                tracing::warn!(reason = why, spans = n, "trace export failed");
                counter!(EXPORT_ERRORS).increment(1);
                counter!(SPANS_DROPPED).increment(n);
            }
        }
    }
}

fn any(v: Value) -> AnyValue {
    let value = match v {
        Value::Str(s) => any_value::Value::StringValue(s),
        Value::Int(n) => any_value::Value::IntValue(n),
        Value::F64(n) => any_value::Value::DoubleValue(n),
        Value::Bool(b) => any_value::Value::BoolValue(b),
        Value::StrList(l) => any_value::Value::ArrayValue(ArrayValue {
            values: l
                .into_iter()
                .map(|s| AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(v)),
        ..KeyValue::default()
    }
}

fn attrs(a: Attrs) -> Vec<KeyValue> {
    a.into_iter().map(|(k, v)| kv(k, v)).collect()
}

/// A batch as one OTLP `ExportTraceServiceRequest`, protobuf-encoded.
pub fn encode(resource: &Resource, batch: Vec<SpanRecord>) -> Vec<u8> {
    let spans = batch
        .into_iter()
        .map(|s| opentelemetry_proto::tonic::trace::v1::Span {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_vec(),
            parent_span_id: if s.parent_id == [0; 8] {
                Vec::new()
            } else {
                s.parent_id.to_vec()
            },
            name: s.name,
            kind: match s.kind {
                Kind::Internal => span::SpanKind::Internal,
                Kind::Server => span::SpanKind::Server,
                Kind::Client => span::SpanKind::Client,
            } as i32,
            start_time_unix_nano: s.start_ns,
            end_time_unix_nano: s.end_ns,
            attributes: attrs(s.attrs),
            events: s
                .events
                .into_iter()
                .map(|e| span::Event {
                    time_unix_nano: e.time_ns,
                    name: e.name.to_owned(),
                    attributes: attrs(e.attrs),
                    dropped_attributes_count: 0,
                })
                .collect(),
            status: Some(opentelemetry_proto::tonic::trace::v1::Status {
                message: String::new(),
                code: if s.error {
                    status::StatusCode::Error
                } else {
                    status::StatusCode::Unset
                } as i32,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "seam".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.37.0".to_owned(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;
    use crate::trace::{CURRENT, Trace};

    fn span(n: u8) -> SpanRecord {
        SpanRecord {
            trace_id: [1; 16],
            span_id: [n; 8],
            parent_id: [0; 8],
            name: format!("s{n}"),
            kind: Kind::Internal,
            start_ns: 1,
            end_ns: 2,
            attrs: Vec::new(),
            events: Vec::new(),
            error: false,
        }
    }

    #[test]
    fn a_full_queue_drops_whole_requests_and_keeps_the_rest() {
        let sink = Sink::new(5, 2, 1.0, false);
        sink.push(vec![span(1), span(2), span(3)]);
        // Three more do not fit in five: all three are dropped, none half-kept.
        sink.push(vec![span(4), span(5), span(6)]);
        assert_eq!(sink.len(), 3);
        sink.push(vec![span(7), span(8)]);
        assert_eq!(sink.len(), 5);
        let ids: Vec<u8> = sink.take_batch().iter().map(|s| s.span_id[0]).collect();
        assert_eq!(ids, [1, 2], "batches are oldest first, at most `batch`");
        assert_eq!(sink.len(), 3);
    }

    #[tokio::test]
    async fn a_recorder_sends_its_spans_when_the_last_clone_drops() {
        let sink = Arc::new(Sink::new(100, 10, 1.0, false));
        let r = Recorder::new(
            Arc::clone(&sink),
            [7; 16],
            [9; 8],
            "POST /v1/chat/completions",
        );
        r.name("chat m".into());
        r.set([("gen_ai.operation.name", Value::from("chat"))]);
        r.set([("gen_ai.operation.name", Value::from("embeddings"))]);
        r.child(Child::stage("seam.cache.lookup", now_ns()));
        let held = r.clone();
        drop(r);
        assert!(sink.is_empty(), "a clone still holds the request open");
        drop(held);
        let spans = sink.take_batch();
        assert_eq!(spans.len(), 2);
        let root = &spans[1];
        assert_eq!(root.name, "chat m");
        assert_eq!(root.kind, Kind::Server);
        assert_eq!(root.parent_id, [9; 8]);
        assert_eq!(
            root.attrs,
            vec![("gen_ai.operation.name", Value::from("embeddings"))]
        );
        assert_eq!(spans[0].parent_id, root.span_id);
        assert_eq!(spans[0].trace_id, [7; 16]);
    }

    #[tokio::test]
    async fn without_a_recorder_nothing_is_recorded_and_attempts_run_plainly() {
        assert!(current().is_none());
        let t = Trace::begin();
        assert!(t.recorder.is_none());
        let out = CURRENT.scope(t, attempt(async { (current().is_none(), attempt_span()) }));
        assert_eq!(out.await, (true, None));
    }

    #[tokio::test]
    async fn an_attempt_sends_the_span_id_it_records() {
        let sink = Arc::new(Sink::new(100, 10, 1.0, false));
        let mut t = Trace::begin();
        let r = Recorder::new(Arc::clone(&sink), t.trace_id, [0; 8], "x");
        t.recorder = Some(r.clone());
        let (tp, _) = CURRENT
            .scope(t, attempt(async { crate::trace::outgoing().unwrap() }))
            .await;
        let begun = r.attempts_from(0);
        assert_eq!(begun.len(), 1);
        let hex: String = begun[0].0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&tp[36..52], hex);
    }

    /// The exporter's own pool reaches a collector over HTTP, and a collector that is slower
    /// than `timeout` costs one timeout, not a hang.
    #[tokio::test]
    async fn batches_reach_the_collector_within_the_timeout() {
        let collector = seam_testkit::otlp::OtlpReceiver::start_on(([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let cfg = TelemetryConfig {
            timeout: Duration::from_millis(300),
            ..TelemetryConfig::default()
        };
        let url = format!("{}/v1/traces", collector.base_url());
        let exporter = Exporter::new(&cfg, &url).unwrap();
        exporter.export(vec![span(1), span(2)]).await;
        assert_eq!(collector.spans().len(), 2);
        collector.set_mode(seam_testkit::otlp::Mode::Slow(Duration::from_secs(5)));
        let t0 = std::time::Instant::now();
        exporter.export(vec![span(3)]).await;
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        assert_eq!(collector.spans().len(), 2);
    }

    #[test]
    fn a_batch_encodes_as_otlp_protobuf() {
        let mut s = span(3);
        s.kind = Kind::Client;
        s.error = true;
        s.parent_id = [4; 8];
        s.attrs = vec![
            ("gen_ai.usage.input_tokens", Value::from(12_u64)),
            (
                "gen_ai.response.finish_reasons",
                Value::from(vec!["stop".to_owned()]),
            ),
        ];
        let bytes = encode(&Resource::default(), vec![s]);
        let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        let got = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(got.span_id, vec![3; 8]);
        assert_eq!(got.parent_span_id, vec![4; 8]);
        assert_eq!(got.kind, span::SpanKind::Client as i32);
        assert_eq!(
            got.status.as_ref().unwrap().code,
            status::StatusCode::Error as i32
        );
        assert_eq!(got.attributes[0].key, "gen_ai.usage.input_tokens");
        assert_eq!(
            got.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(12))
        );
        // A root span has no parent id at all (not eight zero bytes).
        let root = encode(&Resource::default(), vec![span(1)]);
        let req = ExportTraceServiceRequest::decode(root.as_slice()).unwrap();
        assert!(
            req.resource_spans[0].scope_spans[0].spans[0]
                .parent_span_id
                .is_empty()
        );
    }
}
