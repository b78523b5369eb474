//! The accept loop: hyper's HTTP/1.1 and HTTP/2 (by prior knowledge) on each TCP connection, with
//! what a public listener needs so slow or silent clients cannot hold it.
//!
//! - At most `max_connections` are open; one more is accepted and closed at once, so the kernel's
//!   backlog never fills with connections that would starve the open ones.
//! - A watchdog per connection closes it when nothing is in flight and it stays silent: the first
//!   request head (HTTP/1.1; the first stream, HTTP/2) must be whole within `header_timeout` of the
//!   accept, later heads within `header_timeout` of their first byte, and a connection with no
//!   request in flight goes after `idle_timeout`. hyper's own `header_read_timeout` is off: its
//!   timer also runs while a kept-alive connection waits, so it cannot tell idle from slow.
//! - A request body must arrive whole within `body_timeout` of its head ([`Deadline`]); a stall
//!   becomes `408 request_timeout` where the body is read (`body.rs`).
//! - HTTP/1.1 heads over `max_header_bytes` get `431 headers_too_large` as error JSON from here,
//!   and hyper's own answers to heads it cannot parse (bodiless 400, 414, 431) are replaced by
//!   Seam's error JSON on the way out ([`Guarded`]).
//!
//! Shutdown stops accepting, lets each connection finish the requests it has (HTTP/2: GOAWAY) and
//! returns when every connection has closed; silent ones still close at their deadline.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use seam_config::ServerConfig;
use seam_types::{ApiError, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::metrics;

/// Streams one HTTP/2 connection may have open at once.
const H2_MAX_STREAMS: u32 = 128;
/// An HTTP/2 peer is pinged after this long without a frame, and dropped if the ping goes
/// unanswered for as long again: a peer gone mid-stream does not hold its streams.
const H2_PING: Duration = Duration::from_secs(20);
/// Descriptors kept for everything but client connections: the store, Redis, logs, the listener.
const RESERVED_FDS: u64 = 64;
const MAX_AUTO_CONNECTIONS: u64 = 65_536;

/// What each connection may hold; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
}

impl Limits {
    /// `[server]`'s limits; an unset `max_connections` is derived from the descriptor limit now.
    pub fn new(cfg: &ServerConfig) -> Limits {
        Limits {
            header_timeout: cfg.header_timeout,
            body_timeout: cfg.body_timeout,
            idle_timeout: cfg.idle_timeout,
            max_header_bytes: cfg.max_header_bytes,
            max_connections: cfg.max_connections.unwrap_or_else(default_max_connections),
        }
    }
}

/// Half of the soft descriptor limit left after [`RESERVED_FDS`]: a client connection with a
/// request in flight may hold an upstream connection too. 480 under the common 1024; at least 16,
/// at most 65,536 (also when the limit is unlimited).
pub fn default_max_connections() -> usize {
    cap_for(soft_fd_limit())
}

fn cap_for(soft_fd_limit: Option<u64>) -> usize {
    let soft = soft_fd_limit.unwrap_or(u64::MAX);
    let cap = (soft.saturating_sub(RESERVED_FDS) / 2).clamp(16, MAX_AUTO_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// `None`: unlimited.
#[cfg(unix)]
fn soft_fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn soft_fd_limit() -> Option<u64> {
    Some(1024)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the open connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(H2_PING))
        .keep_alive_timeout(H2_PING);
    let builder = Arc::new(builder);
    let open = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; `recv` returns `None` once all have closed.
    let (done_tx, mut done_rx) = mpsc::channel::<Infallible>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Only this loop adds, so the check cannot race another accept.
        if open.load(Ordering::Acquire) >= limits.max_connections {
            metrics::connection_refused();
            drop(tcp);
            continue;
        }
        open.fetch_add(1, Ordering::AcqRel);
        metrics::connection(true);
        let slot = Slot {
            open: open.clone(),
            _done: done_tx.clone(),
        };
        tokio::spawn(connection(
            tcp,
            builder.clone(),
            app.clone(),
            limits,
            stop_rx.clone(),
            slot,
        ));
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(done_tx);
    let _ = done_rx.recv().await;
    Ok(())
}

/// A connection's place under the cap, given back when its task ends.
struct Slot {
    open: Arc<AtomicUsize>,
    _done: mpsc::Sender<Infallible>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        metrics::connection(false);
    }
}

async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    // Out of descriptors (EMFILE, ENFILE) and the like: connections closing will free some;
    // pausing keeps the loop from spinning meanwhile.
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn connection(
    tcp: TcpStream,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: Slot,
) {
    // Small SSE frames must not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let tcp_peer = tcp.peer_addr().ok().map(Peer);
    let conn = Arc::new(Conn::new());
    let io = TokioIo::new(Guarded {
        tcp,
        conn: conn.clone(),
        max_head: limits.max_header_bytes,
        preface: 0,
        scan: 0,
        reply: None,
    });
    let service = Service {
        app: TowerToHyperService::new(app),
        peer: tcp_peer,
        conn: conn.clone(),
        body_timeout: limits.body_timeout,
    };
    let mut serving = pin!(builder.serve_connection(io, service));
    let mut watchdog = pin!(watchdog(&conn, &limits));
    let mut stopping = false;
    loop {
        tokio::select! {
            done = serving.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "client connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                serving.as_mut().graceful_shutdown();
            }
            phase = watchdog.as_mut() => {
                metrics::connection_timed_out(phase);
                return;
            }
        }
    }
}

const UNKNOWN: u8 = 0;
const H1: u8 = 1;
const H2: u8 = 2;
/// `Conn::head_bytes` once the head's blank line has been read.
const HEAD_DONE: usize = usize::MAX;
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's IO, its requests and its watchdog share. HTTP/2 streams run on tasks of
/// their own, hence atomics.
struct Conn {
    born: Instant,
    /// Requests whose response has not ended.
    in_flight: AtomicUsize,
    /// Whether any request has started.
    served: AtomicBool,
    /// Milliseconds after `born` when the last response ended.
    idle_since: AtomicU64,
    /// Milliseconds after `born`, plus one (0: none), of the first byte read since then.
    head_started: AtomicU64,
    /// HTTP/1.1 head bytes read since then, or [`HEAD_DONE`].
    head_bytes: AtomicUsize,
    /// A response has ended but hyper has not flushed since: what it writes is still that response.
    ending: AtomicBool,
    proto: AtomicU8,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            head_bytes: AtomicUsize::new(0),
            ending: AtomicBool::new(false),
            proto: AtomicU8::new(UNKNOWN),
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn start_request(&self) {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end_request(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.ms(), Ordering::Relaxed);
            self.head_started.store(0, Ordering::Relaxed);
            self.head_bytes.store(0, Ordering::Relaxed);
            self.ending.store(true, Ordering::Release);
        }
    }

    /// No request in flight and the last response flushed: whatever is read starts a head.
    fn between(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.ending.load(Ordering::Acquire)
    }

    /// When the connection is to be closed if nothing changes, and why; `None` while a request
    /// is in flight.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.served.load(Ordering::Relaxed) {
            return Some((self.born + limits.header_timeout, "header"));
        }
        let head = self.head_started.load(Ordering::Relaxed);
        if head != 0 && self.proto.load(Ordering::Relaxed) != H2 {
            let at = self.born + Duration::from_millis(head - 1) + limits.header_timeout;
            return Some((at, "header"));
        }
        let idle = Duration::from_millis(self.idle_since.load(Ordering::Relaxed));
        Some((self.born + idle + limits.idle_timeout, "idle"))
    }
}

/// Resolves, with the phase (`header` or `idle`), once the connection has been silent too long.
///
/// Requests and reads only store atomics; nothing wakes the watchdog on the request path. It
/// sleeps until the deadline the connection's state gives, looking again at least every
/// [`look_every`] so that a head started on a kept-alive connection (whose deadline is earlier
/// than the idle one) is noticed long before its own deadline, which is then kept exactly.
async fn watchdog(conn: &Conn, limits: &Limits) -> &'static str {
    let every = look_every(limits);
    let mut sleep = pin!(tokio::time::sleep(Duration::ZERO));
    loop {
        let now = Instant::now();
        let next = match conn.deadline(limits) {
            // A request in flight is never cut; look again later.
            None => now + every,
            Some((at, phase)) if at <= now => return phase,
            Some((at, _)) => at.min(now + every),
        };
        sleep.as_mut().reset(next);
        sleep.as_mut().await;
    }
}

/// A quarter of the shorter of the header and idle timeouts (at least 10 ms): a kept-alive
/// connection is looked at about four times per header timeout, whatever it does.
fn look_every(limits: &Limits) -> Duration {
    (limits.header_timeout.min(limits.idle_timeout) / 4).max(Duration::from_millis(10))
}

/// The TCP peer of a request's connection, as a request extension.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

/// The axum app as a hyper service that tells [`Conn`] when each request starts and ends.
#[derive(Clone)]
struct Service {
    app: TowerToHyperService<Router>,
    /// The client's address, for handlers that need it (the console's sign-in rate limit).
    peer: Option<Peer>,
    conn: Arc<Conn>,
    body_timeout: Duration,
}

type Respond = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Respond;

    fn call(&self, req: Request<Incoming>) -> Respond {
        let flight = Flight::start(self.conn.clone());
        let at = Instant::now() + self.body_timeout;
        let mut req = req.map(|body| {
            if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(Deadline {
                    inner: body,
                    at,
                    limit: self.body_timeout,
                    sleep: None,
                })
            }
        });
        if let Some(p) = self.peer {
            req.extensions_mut().insert(p);
        }
        let answer = hyper::service::Service::call(&self.app, req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(resp.map(|inner| Tracked {
                inner,
                _flight: flight,
            }))
        })
    }
}

/// A request from its head to the end (or drop) of its response.
struct Flight(Arc<Conn>);

impl Flight {
    fn start(conn: Arc<Conn>) -> Flight {
        conn.start_request();
        Flight(conn)
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that ends its request's [`Flight`] when hyper is done with it.
pub struct Tracked {
    inner: Body,
    _flight: Flight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body did not arrive whole within `server.body_timeout_ms`; `body.rs` answers 408.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// A request body with a deadline. The timer is set only once a read has to wait, so a body
/// that arrives with its head costs none.
struct Deadline {
    inner: Incoming,
    at: Instant,
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let at = this.at;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The TCP stream under hyper. It sees every byte either way, which hyper's API does not expose:
/// it times heads for the watchdog, answers an HTTP/1.1 head over the limit with error JSON, and
/// replaces the bodiless error responses hyper writes for heads it cannot parse.
///
/// hyper writes on an HTTP/1.1 connection only to answer a request, or, with no request in
/// flight and the previous response flushed, to answer a head it failed to parse (its
/// `on_parse_error`: 400, 414 or 431). So a write that starts a status line in that state is
/// hyper's own, and is replaced whole.
struct Guarded {
    tcp: TcpStream,
    conn: Arc<Conn>,
    max_head: usize,
    /// Bytes of the HTTP/2 preface matched so far.
    preface: usize,
    /// Where the head's blank line search stands: 1 after a LF, 2 after LF CR.
    scan: u8,
    /// Seam's answer in place of hyper's, while and after it is written.
    reply: Option<Reply>,
}

struct Reply {
    bytes: Vec<u8>,
    written: usize,
    /// Ours (the head outgrew the limit): hyper has not answered, so once the reply is out,
    /// half-close and read what the client still sends, so the close does not reset the reply.
    linger: bool,
    shut: bool,
}

impl Reply {
    fn new(e: &ApiError, linger: bool) -> Reply {
        metrics::error(e);
        let body = serde_json::to_vec(&e.body()).unwrap_or_else(|_| b"{}".to_vec());
        let reason = StatusCode::from_u16(e.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let mut bytes = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            e.status,
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        Reply {
            bytes,
            written: 0,
            linger,
            shut: false,
        }
    }

    fn poll_send(&mut self, tcp: &mut TcpStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.bytes.len() {
            let n = ready!(Pin::new(&mut *tcp).poll_write(cx, &self.bytes[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl Guarded {
    /// Notes bytes read; true when they take an HTTP/1.1 head past the limit.
    fn observe(&mut self, read: &[u8]) -> bool {
        if read.is_empty() {
            return false;
        }
        let conn = &*self.conn;
        let mut proto = conn.proto.load(Ordering::Relaxed);
        if proto == UNKNOWN {
            for &b in read {
                if H2_PREFACE.get(self.preface) != Some(&b) {
                    proto = H1;
                    break;
                }
                self.preface += 1;
                if self.preface == H2_PREFACE.len() {
                    proto = H2;
                    break;
                }
            }
            conn.proto.store(proto, Ordering::Relaxed);
        }
        if !conn.between() {
            return false;
        }
        if conn.head_started.load(Ordering::Relaxed) == 0 {
            conn.head_started.store(conn.ms() + 1, Ordering::Relaxed);
        }
        let before = conn.head_bytes.load(Ordering::Relaxed);
        if proto == H2 || before == HEAD_DONE {
            return false;
        }
        if before == 0 {
            self.scan = 0;
        }
        // Up to the blank line (CRLF CRLF, or bare LFs as httparse allows): what follows is body.
        let mut n = 0;
        let mut done = false;
        for &b in read {
            n += 1;
            self.scan = match (b, self.scan) {
                (b'\n', 1 | 2) => {
                    done = true;
                    break;
                }
                (b'\n', _) => 1,
                (b'\r', 1) => 2,
                _ => 0,
            };
        }
        let total = before.saturating_add(n);
        if total > self.max_head {
            return true;
        }
        conn.head_bytes
            .store(if done { HEAD_DONE } else { total }, Ordering::Relaxed);
        false
    }

    /// Which of hyper's error responses `first` starts, if it is one (see the type's docs).
    fn hypers_error(&self, first: &[u8]) -> Option<ApiError> {
        if self.conn.proto.load(Ordering::Relaxed) == H2 || !self.conn.between() {
            return None;
        }
        let rest = first
            .strip_prefix(b"HTTP/1.1 ")
            .or_else(|| first.strip_prefix(b"HTTP/1.0 "))?;
        let (code, message) = match rest.get(..3)? {
            b"400" => (
                ErrorCode::MalformedRequest,
                "The request line or a header is not valid HTTP/1.1".to_owned(),
            ),
            b"414" => (
                ErrorCode::UriTooLong,
                "The request target is too long".to_owned(),
            ),
            b"431" => (
                ErrorCode::HeadersTooLarge,
                format!(
                    "The request has more than 100 headers or is larger than {} bytes \
                     (server.max_header_bytes)",
                    self.max_head
                ),
            ),
            _ => return None,
        };
        Some(ApiError::new(code, message))
    }

    /// What hyper's read sees once Seam answers: nothing until the reply is out, then (for ours)
    /// the client's remaining bytes are read and dropped until it closes; then end of stream.
    fn poll_after_reply(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(reply) = self.reply.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        ready!(reply.poll_send(&mut self.tcp, cx))?;
        if !reply.linger {
            return Poll::Ready(Ok(()));
        }
        if !reply.shut {
            ready!(Pin::new(&mut self.tcp).poll_shutdown(cx))?;
            reply.shut = true;
        }
        let mut scratch = [0u8; 4096];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut buf))?;
            if buf.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Writes Seam's reply in place of hyper's bytes, reporting all of them written.
    fn poll_replace(
        &mut self,
        first: &[u8],
        len: usize,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<usize>>> {
        if self.reply.is_none() {
            let e = self.hypers_error(first)?;
            self.reply = Some(Reply::new(&e, false));
        }
        let reply = self.reply.as_mut()?;
        Some(reply.poll_send(&mut self.tcp, cx).map_ok(|()| len))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.reply.is_some() {
            return this.poll_after_reply(cx);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
        if this.observe(&buf.filled()[before..]) {
            buf.set_filled(before);
            let e = ApiError::new(
                ErrorCode::HeadersTooLarge,
                format!(
                    "The request line and headers are larger than {} bytes \
                     (server.max_header_bytes)",
                    this.max_head
                ),
            );
            this.reply = Some(Reply::new(&e, true));
            return this.poll_after_reply(cx);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(done) = this.poll_replace(buf, buf.len(), cx) {
            return done;
        }
        Pin::new(&mut this.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        let len = bufs.iter().map(|b| b.len()).sum();
        if let Some(done) = this.poll_replace(first, len, cx) {
            return done;
        }
        Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.tcp).poll_flush(cx))?;
        // hyper flushes only once everything it buffered is written: an ended response is out.
        if this.conn.in_flight.load(Ordering::Acquire) == 0 {
            this.conn.ending.store(false, Ordering::Release);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.reply.as_ref().is_some_and(|r| r.shut) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_descriptors_for_upstreams_and_the_store() {
        for (soft, cap) in [
            (Some(1024), 480),
            (Some(20_000), 9_968),
            (Some(4096), 2_016),
            (Some(100), 18),
            (Some(10), 16),
            (Some(1 << 20), 65_536),
            (None, 65_536),
        ] {
            assert_eq!(cap_for(soft), cap, "soft limit {soft:?}");
        }
    }
}
