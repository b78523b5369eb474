//! The load generator: open loop at a fixed rate, or closed loop at a fixed concurrency, over a
//! pool of HTTP/1.1 keep-alive connections; prints one JSON line (`LoadReport`) on stdout.
//!
//! Open loop: request `i` is due at `t0 + i / rate` whatever happened to earlier ones, and its
//! latency is counted from that due time, so a stall in the system under test shows up in the
//! latency of every request it delayed (coordinated omission is counted, as in wrk2).
//!
//! With several `--model`s the requests take them in turn and each gets its own report (one JSON
//! line each, in the order given): the models are compared under the same conditions at the same
//! moments, which back-to-back runs on a noisy machine cannot promise.
//!
//! A `--model` may name another API surface by a prefix ([`Surface::split`]): `messages:ALIAS`
//! sends an Anthropic Messages request to `/v1/messages`, `responses:ALIAS` an OpenAI Responses
//! request to `/v1/responses`, on the host of its `--url`; `mcp:TOOL` a `tools/call` of `TOOL` to
//! `/mcp`, on an MCP session the generator opens before its warm-up, and checks every answer
//! ([`crate::mcp::check_answer`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::task::JoinSet;

use crate::body::{Prompt, Surface};
use crate::mcp;
use crate::stats::{LoadReport, Recorder, ReportShape, Sample};
use crate::timer::PreciseTimer;

pub type Client = LegacyClient<HttpConnector, Full<Bytes>>;

#[derive(clap::Args, Clone)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["rate", "concurrency"])))]
pub struct LoadArgs {
    /// Full URL of the chat completions endpoint. Given once per `--model`, request `i` goes to
    /// the `(i mod n)`-th (two servers compared at the same moments); given once, all go there.
    /// A `messages:` or `responses:` model goes to that surface's path on the same host.
    #[arg(long = "url", required = true)]
    pub urls: Vec<Uri>,
    /// Ask for a stream (`"stream": true`) and measure time to first chunk.
    #[arg(long)]
    pub stream: bool,
    /// What the user turn says: `short` (one sentence), `pii` (~1 KB with personal data),
    /// `names-short` or `names-long` (~120 bytes or ~1 KB with names, a city and a street line,
    /// a different text on every request), `names-long-same` (one such text on every request),
    /// `ticket` (the prompts scenario's ~1 KB support prompt: the messages it renders to, or for
    /// a `prompt:NAME` model its variables).
    #[arg(long, value_enum, default_value_t = Prompt::Short)]
    pub prompt: Prompt,
    /// The number of the first request's text, for prompts that vary (`names-short`,
    /// `names-long`): requests are numbered from here across all slots, so runs given ranges
    /// that do not overlap never send the same text twice.
    #[arg(long, default_value_t = 0)]
    pub prompt_seq_start: u64,
    /// The `model` field of the request. Given several times, request `i` asks for the
    /// `(i mod n)`-th, and each gets its own report line (the same model twice: two reports).
    /// `messages:ALIAS` or `responses:ALIAS`: an Anthropic Messages or OpenAI Responses request
    /// for `ALIAS` instead of a chat completion; `mcp:TOOL`: an MCP `tools/call` of `TOOL`.
    #[arg(long = "model", default_value = "bench")]
    pub models: Vec<String>,
    /// Open loop: requests per second, scheduled at fixed intervals.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: this many workers, each sending its next request when the last one ends.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration_secs: f64,
    /// Unmeasured load before the measured part (opens connections, warms caches).
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Per-request limit in seconds; a slower request counts as a `timeout` error.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_secs: f64,
    /// Closed loop: start the workers evenly over this many seconds instead of all at once
    /// (hundreds of simultaneous connects overflow a server's accept queue).
    #[arg(long, default_value_t = 0.0)]
    pub ramp_secs: f64,
    /// A name carried into the JSON line.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Send `Authorization: Bearer KEY` with every request (a seam with API keys).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Send `x-seam-subject: ID` with every request (the subject scope of seam's limits).
    #[arg(long, value_name = "ID")]
    pub subject: Option<String>,
}

/// What every request of a run (or of one `--model`) sends.
pub struct Target {
    url: Uri,
    body: Bytes,
    /// The alias and prompt, for prompts whose text changes per request.
    model: String,
    prompt: Prompt,
    surface: Surface,
    stream: bool,
    timeout: Duration,
    /// `mcp:` slots: the tool, the session and the next call's id.
    mcp: Option<McpSlot>,
    /// `Authorization: Bearer …` for every request (`--api-key`).
    authorization: Option<HeaderValue>,
    /// `x-seam-subject` for every request (`--subject`).
    subject: Option<HeaderValue>,
}

/// What an `mcp:` slot's calls share.
struct McpSlot {
    tool: String,
    /// The `Mcp-Session-Id` of the session opened before the run ([`open_sessions`]).
    session: Option<HeaderValue>,
    /// JSON-RPC ids are unique within a session, so every call takes the next.
    next_id: AtomicU64,
}

/// The number of the next request's text for prompts that vary ([`Prompt::numbered`]): one
/// counter for the whole process, so no two slots send the same text (seam's model caches its
/// answers by text, and a repeated text would measure that cache, not the model).
static NEXT_PROMPT: AtomicU64 = AtomicU64::new(0);

/// The version header a Messages request carries, as Anthropic's SDK sends it.
const ANTHROPIC_VERSION: &str = "2023-06-01";

impl Target {
    /// The requests of one slot: `slot` is a `--model` (a bare alias, or `messages:ALIAS` /
    /// `responses:ALIAS`); a prefixed slot goes to its surface's path on `url`'s host.
    pub fn new(
        slot: &str,
        url: &Uri,
        stream: bool,
        prompt: Prompt,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let (surface, model) = Surface::split(slot);
        anyhow::ensure!(
            !(stream && surface == Surface::Mcp),
            "an `mcp:` slot is never streamed; drop --stream"
        );
        Ok(Self {
            url: surface_url(url, surface)?,
            body: surface.request(model, stream, prompt),
            model: model.to_owned(),
            prompt,
            surface,
            stream,
            timeout,
            mcp: (surface == Surface::Mcp).then(|| McpSlot {
                tool: model.to_owned(),
                session: None,
                next_id: AtomicU64::new(1),
            }),
            authorization: None,
            subject: None,
        })
    }

    /// Every request of this slot carries `Authorization: Bearer KEY` when `key` is given, and
    /// `x-seam-subject` when `subject` is.
    pub fn with_identity(
        mut self,
        key: Option<&str>,
        subject: Option<&str>,
    ) -> anyhow::Result<Self> {
        self.subject = match subject {
            Some(s) => Some(
                HeaderValue::from_str(s)
                    .map_err(|_| anyhow::anyhow!("--subject is not a valid header value"))?,
            ),
            None => None,
        };
        self.authorization = match key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| anyhow::anyhow!("--api-key is not a valid header value"))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(self)
    }

    /// One request of this slot.
    pub fn request(&self) -> Request<Full<Bytes>> {
        self.next_request().0
    }

    /// One request of this slot, and for an `mcp:` slot the id of its call.
    fn next_request(&self) -> (Request<Full<Bytes>>, Option<u64>) {
        if let Some(m) = &self.mcp {
            let id = m.next_id.fetch_add(1, Ordering::Relaxed);
            let body = mcp::call_body(&m.tool, id);
            return (mcp::request(&self.url, body, m.session.as_ref()), Some(id));
        }
        let body = if self.prompt.varies() && self.surface != Surface::Mcp {
            let n = NEXT_PROMPT.fetch_add(1, Ordering::Relaxed);
            let text = self.prompt.numbered(n);
            self.surface.request_text(&self.model, self.stream, &text)
        } else {
            self.body.clone()
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        if let Some(subject) = &self.subject {
            headers.insert("x-seam-subject", subject.clone());
        }
        if self.surface == Surface::Messages {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        (request, None)
    }

    /// Watches a streamed answer's body for its proper end.
    pub fn ending(&self) -> Ending {
        match self.surface.final_event() {
            None => Ending::Done(Tail::default()),
            Some(name) => Ending::Event(EventWatch::new(name)),
        }
    }
}

/// `url` for chat; for another surface, its path on `url`'s scheme and host.
fn surface_url(url: &Uri, surface: Surface) -> anyhow::Result<Uri> {
    if surface == Surface::Chat {
        return Ok(url.clone());
    }
    let mut parts = url.clone().into_parts();
    parts.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static(surface.path()));
    Ok(Uri::from_parts(parts)?)
}

/// What a complete stream of a surface ends with, for reports: `[DONE]` or the final event.
pub fn end_marker(surface: Surface) -> &'static str {
    surface.final_event().unwrap_or("[DONE]")
}

/// One `--model`: what its requests send and what they measured.
struct Slot {
    target: Target,
    recorder: Mutex<Recorder>,
}

/// Every slot of a run; request `i` belongs to slot `i mod len`.
type Slots = Arc<Vec<Slot>>;

pub async fn main(args: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.duration_secs > 0.0 && args.warmup_secs >= 0.0 && args.timeout_secs > 0.0,
        "durations must be positive"
    );
    for report in run(&args).await? {
        eprintln!("{}", summary_line(&report));
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// One report per `--model`, in the order given.
pub async fn run(args: &LoadArgs) -> anyhow::Result<Vec<LoadReport>> {
    anyhow::ensure!(!args.models.is_empty(), "give at least one --model");
    NEXT_PROMPT.store(args.prompt_seq_start, Ordering::Relaxed);
    let urls = slot_urls(&args.urls, args.models.len())?;
    let timeout = Duration::from_secs_f64(args.timeout_secs);
    let targets: Vec<Target> = args
        .models
        .iter()
        .zip(&urls)
        .map(|(model, url)| {
            let target = Target::new(model, url, args.stream, args.prompt, timeout)?;
            target.with_identity(args.api_key.as_deref(), args.subject.as_deref())
        })
        .collect::<anyhow::Result<_>>()?;
    let urls: Vec<Uri> = targets.iter().map(|t| t.url.clone()).collect();
    let client = client();
    let targets = open_sessions(&client, targets).await?;
    let warmup = Duration::from_secs_f64(args.warmup_secs);
    let duration = Duration::from_secs_f64(args.duration_secs);
    let recorders = match (args.rate, args.concurrency) {
        (Some(rate), _) => open_loop(client, targets, rate, warmup, duration).await?,
        (None, Some(concurrency)) => {
            let ramp = Duration::from_secs_f64(args.ramp_secs.max(0.0));
            closed_loop(client, targets, concurrency, ramp, warmup, duration).await?
        }
        (None, None) => anyhow::bail!("give --rate or --concurrency"),
    };
    let several = args.models.len() > 1;
    let slots = recorders.iter().zip(args.models.iter().zip(&urls));
    let reports = slots.map(|(recorder, (model, url))| {
        recorder.report(ReportShape {
            label: if several {
                format!("{} [{model}]", args.label)
            } else {
                args.label.clone()
            },
            url: url.to_string(),
            model: model.clone(),
            stream: args.stream,
            rate: args.rate,
            concurrency: if args.rate.is_some() {
                None
            } else {
                args.concurrency
            },
        })
    });
    Ok(reports.collect())
}

/// An MCP session for each `mcp:` slot (`initialize`, then `notifications/initialized`), as a
/// client opens one before its first call; other slots are left as they are.
async fn open_sessions(client: &Client, mut targets: Vec<Target>) -> anyhow::Result<Vec<Target>> {
    for target in &mut targets {
        if let Some(m) = &mut target.mcp {
            m.session = mcp::Session::open(client, &target.url).await?.id;
        }
    }
    Ok(targets)
}

/// The URL of each slot: one for all, or one per `--model`.
fn slot_urls(urls: &[Uri], slots: usize) -> anyhow::Result<Vec<Uri>> {
    match urls {
        [one] => Ok(vec![one.clone(); slots]),
        _ if urls.len() == slots => Ok(urls.to_vec()),
        _ => anyhow::bail!(
            "give --url once, or once per --model ({} URLs for {slots} models)",
            urls.len()
        ),
    }
}

/// One human-readable line per run, for stderr.
pub fn summary_line(r: &LoadReport) -> String {
    let mut line = format!(
        "{}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, {} errors",
        if r.label.is_empty() { &r.url } else { &r.label },
        r.throughput_rps,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.p999,
        r.errors
    );
    if let Some(ttfc) = r.ttfc_ms {
        line.push_str(&format!(
            ", first chunk p50 {:.3} ms p99 {:.3} ms",
            ttfc.p50, ttfc.p99
        ));
    }
    if let Some(done) = r.streams_with_done {
        line.push_str(&format!(
            ", {done}/{} streams ended with {}",
            r.requests,
            end_marker(Surface::split(&r.model).0)
        ));
    }
    if let Some(lag) = r.send_lag_ms {
        line.push_str(&format!(", send lag p99 {:.3} ms", lag.p99));
    }
    if !r.error_kinds.is_empty() {
        line.push_str(&format!(", error kinds {:?}", r.error_kinds));
    }
    if !r.seam_attempts.is_empty() {
        line.push_str(&format!(", x-seam-attempts {:?}", r.seam_attempts));
    }
    if !r.seam_routes.is_empty() {
        line.push_str(&format!(", x-seam-route {:?}", r.seam_routes));
    }
    if !r.seam_policies.is_empty() {
        line.push_str(&format!(", x-seam-policy {:?}", r.seam_policies));
    }
    line
}

/// An HTTP/1.1 client whose pool keeps every connection it opened alive for reuse, so a
/// steady rate settles on a steady set of connections after the warm-up.
pub fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    LegacyClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

fn slots(targets: Vec<Target>, window_start: Instant) -> anyhow::Result<Slots> {
    let slots = targets.into_iter().map(|target| {
        let recorder = Mutex::new(Recorder::new(window_start)?);
        Ok(Slot { target, recorder })
    });
    Ok(Arc::new(slots.collect::<anyhow::Result<_>>()?))
}

fn with<T>(slot: &Slot, f: impl FnOnce(&mut Recorder) -> T) -> T {
    f(&mut slot.recorder.lock().unwrap_or_else(PoisonError::into_inner))
}

async fn open_loop(
    client: Client,
    targets: Vec<Target>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Recorder>> {
    anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let warmup_n = (warmup.as_secs_f64() * rate).round() as u64;
    let total = warmup_n + (duration.as_secs_f64() * rate).round() as u64;
    let mut timer = PreciseTimer::new()?;
    let t0 = Instant::now() + Duration::from_millis(1);
    let due = |i: u64| t0 + interval.mul_f64(i as f64);
    let slots = slots(targets, due(warmup_n))?;
    let mut tasks = JoinSet::new();
    for i in 0..total {
        let scheduled = due(i);
        timer.sleep_until(scheduled).await?;
        let measured = i >= warmup_n;
        let n = (i % slots.len() as u64) as usize;
        if measured {
            let lag = Instant::now().saturating_duration_since(scheduled);
            with(&slots[n], |r| r.record_send_lag(lag));
        }
        let (client, slots) = (client.clone(), Arc::clone(&slots));
        tasks.spawn(async move {
            let slot = &slots[n];
            let outcome = send(&client, &slot.target, scheduled).await;
            if measured {
                let done_at = Instant::now();
                with(slot, |r| r.record(outcome, done_at));
            }
        });
        // Reap finished tasks as we go so the set stays as small as the number in flight.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    into_recorders(slots)
}

async fn closed_loop(
    client: Client,
    targets: Vec<Target>,
    concurrency: usize,
    ramp: Duration,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Recorder>> {
    anyhow::ensure!(concurrency > 0, "--concurrency must be positive");
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let slots = slots(targets, measure_from)?;
    let mut tasks = JoinSet::new();
    for worker in 0..concurrency {
        let (client, slots) = (client.clone(), Arc::clone(&slots));
        let first = start + ramp.mul_f64(worker as f64 / concurrency as f64);
        tasks.spawn(async move {
            tokio::time::sleep_until(first.into()).await;
            // Each worker takes the models in turn, starting at a different one.
            for n in (0..slots.len()).cycle().skip(worker % slots.len()) {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let slot = &slots[n];
                let outcome = send(&client, &slot.target, sent).await;
                if sent >= measure_from {
                    let done_at = Instant::now();
                    with(slot, |r| r.record(outcome, done_at));
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    into_recorders(slots)
}

fn into_recorders(slots: Slots) -> anyhow::Result<Vec<Recorder>> {
    let slots =
        Arc::try_unwrap(slots).map_err(|_| anyhow::anyhow!("a request task outlived the run"))?;
    let recorders = slots.into_iter().map(|slot| {
        let recorder = slot.recorder.into_inner();
        recorder.unwrap_or_else(PoisonError::into_inner)
    });
    Ok(recorders.collect())
}

/// Sends one request and reads the whole answer; times are counted from `origin`.
///
/// The error is a short kind (`connect`, `status_502`, `timeout`, `stream_without_done` …) that
/// the report counts; a stream only counts as ok if it ended properly: `data: [DONE]` (chat),
/// `event: message_stop` (Messages), `event: response.completed` (Responses).
async fn send(client: &Client, target: &Target, origin: Instant) -> Result<Sample, String> {
    match tokio::time::timeout(target.timeout, exchange(client, target, origin)).await {
        Ok(outcome) => outcome,
        Err(_) => Err("timeout".to_owned()),
    }
}

async fn exchange(client: &Client, target: &Target, origin: Instant) -> Result<Sample, String> {
    let (request, call_id) = target.next_request();
    let response = client.request(request).await.map_err(|err| {
        if err.is_connect() {
            "connect".to_owned()
        } else {
            "request".to_owned()
        }
    })?;
    let status = response.status();
    // Cheap clones (shared bytes): the recorder counts them only for answers that came through seam.
    let attempts = response.headers().get("x-seam-attempts").cloned();
    let route = response.headers().get("x-seam-route").cloned();
    let policy = response.headers().get("x-seam-policy").cloned();
    let mut body = response.into_body();
    let mut ttfc = None;
    // Streams only: a whole answer is not scanned, on any surface.
    let mut ending = target.stream.then(|| target.ending());
    // MCP answers only: read whole and checked (a few hundred bytes).
    let mut whole = call_id.map(|_| Vec::new());
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| "body".to_owned())?;
        if let Ok(data) = frame.into_data() {
            if !data.is_empty() {
                ttfc.get_or_insert_with(|| origin.elapsed());
                if let Some(ending) = &mut ending {
                    ending.push(&data);
                }
                if let Some(whole) = &mut whole {
                    if whole.len() + data.len() > MAX_MCP_ANSWER_BYTES {
                        return Err("too_large".to_owned());
                    }
                    whole.extend_from_slice(&data);
                }
            }
        }
    }
    let latency = origin.elapsed();
    if status != StatusCode::OK {
        return Err(format!("status_{}", status.as_u16()));
    }
    if let Some(ending) = ending.filter(|e| !e.ended()) {
        return Err(ending.error_kind());
    }
    let with_email = match (call_id, whole) {
        (Some(id), Some(whole)) => mcp::check_answer(&whole, id)?,
        _ => false,
    };
    Ok(Sample {
        latency,
        ttfc: if target.stream { ttfc } else { None },
        attempts,
        route,
        policy,
        with_email,
    })
}

/// The most of an MCP answer a call reads; the mock's are about 500 bytes.
const MAX_MCP_ANSWER_BYTES: usize = 1 << 20;

/// How a streamed answer shows that it ended properly.
pub enum Ending {
    /// Chat completions: the body ends with `data: [DONE]`.
    Done(Tail),
    /// A named-event surface: its final event came (Messages `message_stop`, Responses
    /// `response.completed`).
    Event(EventWatch),
}

impl Ending {
    /// The next body frame.
    pub fn push(&mut self, data: &[u8]) {
        match self {
            Ending::Done(tail) => tail.push(data),
            Ending::Event(watch) => watch.push(data),
        }
    }

    pub fn ended(&self) -> bool {
        match self {
            Ending::Done(tail) => tail.ends_with_done(),
            Ending::Event(watch) => watch.seen,
        }
    }

    /// The error kind of a stream that did not end properly.
    fn error_kind(&self) -> String {
        match self {
            Ending::Done(_) => "stream_without_done".to_owned(),
            Ending::Event(watch) => format!("stream_without_{}", watch.name),
        }
    }
}

/// Watches a named-event stream for its `event: NAME` line as the frames pass, a line split
/// across frames included; nothing else of the body is kept (the data of `response.completed` is
/// the whole response, so a tail of the body would not show the event line).
pub struct EventWatch {
    name: &'static str,
    /// `\nevent: NAME\n`.
    needle: Vec<u8>,
    /// The last `needle.len() - 1` bytes seen, starting as `\n` so an event at the very start
    /// of the body matches too.
    carry: Vec<u8>,
    seen: bool,
}

impl EventWatch {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            needle: format!("\nevent: {name}\n").into_bytes(),
            carry: b"\n".to_vec(),
            seen: false,
        }
    }

    fn push(&mut self, data: &[u8]) {
        if self.seen || data.is_empty() {
            return;
        }
        let keep = self.needle.len() - 1;
        // Across the boundary: the carried bytes and the head of this frame.
        let head = &data[..data.len().min(keep)];
        self.carry.extend_from_slice(head);
        self.seen = contains(&self.carry, &self.needle) || has_line(data, &self.needle);
        if data.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&data[data.len() - keep..]);
        } else {
            // `head` is all of `data`: keep the end of the carried bytes with it.
            let excess = self.carry.len().saturating_sub(keep);
            self.carry.drain(..excess);
        }
    }
}

/// Whether `needle` occurs in `haystack` (a few dozen bytes: the carried ones).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `needle` (which starts with `\n`) starts at one of the line breaks of `data`: only
/// those are compared, so a frame costs about one pass over its bytes whatever its size.
fn has_line(data: &[u8], needle: &[u8]) -> bool {
    let mut bytes = data.iter().enumerate();
    bytes.any(|(i, b)| *b == b'\n' && data[i..].starts_with(needle))
}

/// The last bytes of a body, enough to see whether a stream ended with `data: [DONE]`.
#[derive(Default)]
pub struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    const KEEP: usize = 64;

    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(Self::KEEP)..];
        self.bytes.extend_from_slice(data);
        let excess = self.bytes.len().saturating_sub(Self::KEEP);
        self.bytes.drain(..excess);
    }

    fn ends_with_done(&self) -> bool {
        self.bytes.trim_ascii_end().ends_with(b"data: [DONE]")
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::mock;

    #[test]
    fn tail_sees_done_split_across_frames() {
        let mut tail = Tail::default();
        tail.push(b"data: {\"x\":1}\n\ndata: [DO");
        assert!(!tail.ends_with_done());
        tail.push(b"NE]\n\n");
        assert!(tail.ends_with_done());
        tail.push(&[b'x'; 500]);
        assert!(!tail.ends_with_done());
    }

    #[test]
    fn the_final_event_is_seen_as_frames_pass_wherever_they_split() {
        let body = concat!(
            "event: response.output_text.delta\ndata: {\"delta\":\"event: response.completed\"}\n\n",
            "event: response.completed\ndata: {\"response\":{\"output\":[\"",
            "a long response that follows the event line, far longer than any tail kept",
            "\"]}}\n\n"
        )
        .as_bytes();
        let start = body
            .windows(26)
            .position(|w| w == b"\nevent: response.completed")
            .unwrap();
        // Every split point, and every frame size: the event line is found once it has passed,
        // never before, and a text that merely mentions it does not count.
        for size in 1..body.len() {
            let mut watch = EventWatch::new("response.completed");
            for (i, frame) in body.chunks(size).enumerate() {
                watch.push(frame);
                let pushed = ((i + 1) * size).min(body.len());
                let passed = pushed >= start + "\nevent: response.completed\n".len();
                assert_eq!(watch.seen, passed, "frames of {size}, after frame {i}");
            }
        }
        let mut first = EventWatch::new("message_stop");
        first.push(b"event: message_stop\ndata: {}\n\n");
        assert!(first.seen, "an event at the very start of the body");
        let mut other = EventWatch::new("message_stop");
        other.push(b"event: message_delta\ndata: {\"type\":\"message_stop\"}\n\n");
        assert!(!other.seen);
        assert_eq!(
            Ending::Event(other).error_kind(),
            "stream_without_message_stop"
        );
    }

    #[test]
    fn a_surface_slot_goes_to_its_path_on_the_same_host() {
        let url: Uri = "http://127.0.0.1:18700/v1/chat/completions"
            .parse()
            .unwrap();
        let target = |slot: &str| {
            Target::new(slot, &url, true, Prompt::Short, Duration::from_secs(1)).unwrap()
        };
        assert_eq!(target("bench").url.to_string(), url.to_string());
        let messages = target("messages:bench-anth");
        assert_eq!(
            messages.url.to_string(),
            "http://127.0.0.1:18700/v1/messages"
        );
        let request = messages.request();
        assert_eq!(request.headers()["anthropic-version"], ANTHROPIC_VERSION);
        let body: serde_json::Value = serde_json::from_slice(&messages.body).unwrap();
        assert_eq!(
            (body["model"].as_str(), body["stream"].as_bool()),
            (Some("bench-anth"), Some(true))
        );
        let responses = target("responses:bench");
        assert_eq!(
            responses.url.to_string(),
            "http://127.0.0.1:18700/v1/responses"
        );
        assert!(
            responses
                .request()
                .headers()
                .get("anthropic-version")
                .is_none()
        );
    }

    #[tokio::test]
    async fn messages_slots_against_the_mock_end_with_message_stop() {
        let mut a = args(start_mock().await, true);
        a.rate = Some(200.0);
        a.models = vec!["messages:bench".into(), "bench".into()];
        let reports = run(&a).await.unwrap();
        for r in &reports {
            assert_eq!((r.requests, r.errors), (30, 0), "{:?}", r.error_kinds);
            assert_eq!(r.all_streams_done(), Some(true));
        }
        assert!(
            reports[0].url.ends_with("/v1/messages"),
            "{}",
            reports[0].url
        );
        assert!(summary_line(&reports[0]).contains("30/30 streams ended with message_stop"));
        assert!(summary_line(&reports[1]).contains("30/30 streams ended with [DONE]"));
        // The mock has no Responses endpoint: a 404 per request, counted by kind.
        a.stream = false;
        a.models = vec!["responses:bench".into()];
        let report = one(&a).await;
        assert_eq!(report.error_kinds.get("status_404"), Some(&report.requests));
    }

    #[tokio::test]
    async fn mcp_slots_open_a_session_and_check_every_answer() {
        let mut a = args(start_mock().await, false);
        a.rate = Some(200.0);
        a.models = vec!["mcp:echo".into(), "mcp:nope".into()];
        let reports = run(&a).await.unwrap();
        let (echo, nope) = (&reports[0], &reports[1]);
        assert!(echo.url.ends_with("/mcp"), "{}", echo.url);
        assert_eq!(
            (echo.requests, echo.errors),
            (30, 0),
            "{:?}",
            echo.error_kinds
        );
        assert_eq!(echo.with_email, 30);
        assert_eq!(nope.error_kinds.get("jsonrpc_-32602"), Some(&30));
        assert_eq!(nope.with_email, 0);
        // Every call of a session takes its own id.
        let target = Target::new("mcp:echo", &a.urls[0], false, Prompt::Short, a_second()).unwrap();
        let ids: Vec<Option<u64>> = (0..3).map(|_| target.next_request().1).collect();
        assert_eq!(ids, [Some(1), Some(2), Some(3)]);
        assert!(Target::new("mcp:echo", &a.urls[0], true, Prompt::Short, a_second()).is_err());
    }

    #[test]
    fn api_key_and_subject_go_on_every_request() {
        let url: Uri = "http://127.0.0.1:18700/v1/chat/completions"
            .parse()
            .unwrap();
        let plain = Target::new("bench", &url, false, Prompt::Contact, a_second()).unwrap();
        let request = plain.request();
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert!(request.headers().get("x-seam-subject").is_none());
        let target = plain
            .with_identity(Some("sk-bench-abc"), Some("customer-1"))
            .unwrap();
        for _ in 0..2 {
            let request = target.request();
            assert_eq!(request.headers()[AUTHORIZATION], "Bearer sk-bench-abc");
            assert_eq!(request.headers()["x-seam-subject"], "customer-1");
        }
    }

    fn a_second() -> Duration {
        Duration::from_secs(1)
    }

    /// A free loopback address (bound, then released for the server under test to take).
    pub fn free_addr() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    pub async fn wait_listening(addr: std::net::SocketAddr) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("nothing listens on {addr}");
    }

    /// Starts the mock in this runtime; returns its chat completions URL.
    pub async fn start_mock() -> Uri {
        start_mock_answering(200).await
    }

    /// Starts the mock with `--status status` (200: the canned answers; else a failing upstream).
    pub async fn start_mock_answering(status: u16) -> Uri {
        let addr = free_addr();
        let args = mock::MockArgs {
            listen: addr,
            chunk_delay_ms: 0,
            status,
        };
        tokio::spawn(mock::serve(args));
        wait_listening(addr).await;
        format!("http://{addr}/v1/chat/completions")
            .parse()
            .unwrap()
    }

    /// The one report of a one-model run.
    pub async fn one(args: &LoadArgs) -> LoadReport {
        let mut reports = run(args).await.unwrap();
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    pub fn args(url: Uri, stream: bool) -> LoadArgs {
        LoadArgs {
            urls: vec![url],
            stream,
            prompt: Prompt::Short,
            prompt_seq_start: 0,
            models: vec!["bench".into()],
            rate: None,
            concurrency: None,
            duration_secs: 0.3,
            warmup_secs: 0.1,
            timeout_secs: 5.0,
            ramp_secs: 0.0,
            label: "test".into(),
            api_key: None,
            subject: None,
        }
    }

    #[tokio::test]
    async fn open_loop_against_the_mock_sends_every_scheduled_request() {
        let url = start_mock().await;
        let mut a = args(url, false);
        a.rate = Some(200.0);
        let report = one(&a).await;
        assert_eq!(report.errors, 0, "{:?}", report.error_kinds);
        assert_eq!(report.requests, 60);
        assert!(report.latency_ms.p50 > 0.0);
        assert!(report.send_lag_ms.is_some());
    }

    #[tokio::test]
    async fn several_models_take_turns_and_get_a_report_each() {
        let mut a = args(start_mock().await, false);
        a.rate = Some(200.0);
        a.models = vec!["bench".into(), "other".into(), "bench".into()];
        let reports = run(&a).await.unwrap();
        let models: Vec<&str> = reports.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(models, ["bench", "other", "bench"]);
        for r in &reports {
            // 60 measured requests in turn: 20 each, each slot at a third of the rate.
            assert_eq!((r.requests, r.errors), (20, 0), "{:?}", r.error_kinds);
            assert!(
                (r.throughput_rps - 200.0 / 3.0).abs() < 15.0,
                "{}",
                r.throughput_rps
            );
            assert!(r.label.ends_with(&format!("[{}]", r.model)), "{}", r.label);
        }
        a.rate = None;
        a.concurrency = Some(3);
        let reports = run(&a).await.unwrap();
        assert!(reports.iter().all(|r| r.requests > 0 && r.errors == 0));
    }

    #[tokio::test]
    async fn one_url_per_model_sends_each_slot_to_its_own_server() {
        let (first, second) = (start_mock().await, start_mock_answering(503).await);
        let mut a = args(first.clone(), false);
        a.rate = Some(200.0);
        a.models = vec!["bench".into(), "bench".into()];
        a.urls = vec![first.clone(), second.clone()];
        let reports = run(&a).await.unwrap();
        assert_eq!((reports[0].ok, reports[0].errors), (30, 0));
        assert_eq!(reports[1].error_kinds.get("status_503"), Some(&30));
        assert_eq!(reports[0].url, first.to_string());
        assert_eq!(reports[1].url, second.to_string());
        a.urls = vec![first.clone(), second, first];
        assert!(run(&a).await.is_err());
    }

    #[tokio::test]
    async fn closed_loop_streams_all_end_with_done() {
        let url = start_mock().await;
        let mut a = args(url, true);
        a.concurrency = Some(4);
        let report = one(&a).await;
        assert_eq!(report.errors, 0, "{:?}", report.error_kinds);
        assert!(report.requests > 0);
        assert_eq!(report.all_streams_done(), Some(true));
        let ttfc = report.ttfc_ms.unwrap();
        assert!(ttfc.p50 > 0.0 && ttfc.p50 <= report.latency_ms.p50);
    }

    #[tokio::test]
    async fn errors_are_counted_by_kind() {
        let url = start_mock().await;
        let wrong: Uri = url
            .to_string()
            .replace("/chat/completions", "/nope")
            .parse()
            .unwrap();
        let mut a = args(wrong, false);
        a.rate = Some(100.0);
        let report = one(&a).await;
        assert_eq!(report.ok, 0);
        assert_eq!(report.error_kinds.get("status_404"), Some(&report.requests));
    }

    #[tokio::test]
    async fn a_failing_mock_fails_every_request_with_its_status() {
        let mut a = args(start_mock_answering(503).await, false);
        a.rate = Some(100.0);
        let report = one(&a).await;
        assert_eq!(report.ok, 0);
        assert_eq!(report.error_kinds.get("status_503"), Some(&report.requests));
        // Direct answers carry no seam headers.
        assert!(report.seam_attempts.is_empty() && report.seam_routes.is_empty());
        assert!(report.seam_policies.is_empty());
    }
}
