//! The upstream HTTP client every network provider shares the shape of: hyper's pooled client
//! used directly (keep-alive, rustls with ring, HTTP/1.1 and HTTP/2 by ALPN), bounded body reads,
//! and one mapping from transport and status failures to [`ProviderError`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyDataStream, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use seam_config::ProviderConfig;
use seam_types::chat::ChatChunk;
use serde::Deserialize;
use tower_service::Service as _;

use crate::sse::{SseEvent, SseParser};
use crate::{ChunkStream, ProviderError};

/// Largest non-streaming upstream body Seam reads.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Largest single event-stream line.
pub const MAX_SSE_LINE: usize = 4 * 1024 * 1024;

/// How long an idle pooled connection is kept before it is closed.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Installs ring as rustls' process-wide provider; idempotent.
pub fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// hyper's pooled client over TCP, with TLS for `https://` URIs, through the proxies
/// [`Proxies`] names (`http://` or `https://` ones).
#[derive(Clone)]
pub(crate) struct Pool {
    client: PooledClient<TimedConnector, Full<Bytes>>,
    proxies: Proxies,
}

impl Pool {
    /// Sends `req`. A plain-`http://` request that goes through a proxy carries the proxy's
    /// credentials (it is sent to the proxy in absolute form); an `https://` one is tunnelled, and
    /// the credentials went in the `CONNECT`.
    pub(crate) fn request(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        if req.uri().scheme() == Some(&Scheme::HTTP)
            && let Some(auth) = self
                .proxies
                .intercept(req.uri())
                .and_then(|via| via.basic_auth().cloned())
        {
            req.headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, auth);
        }
        self.client.request(req)
    }
}

/// Which upstreams go through a proxy, and which proxy: the `HTTPS_PROXY`, `HTTP_PROXY`,
/// `ALL_PROXY` and `NO_PROXY` rules (either case), as curl and reqwest read them. A proxy is
/// reached over TCP (`http://host:port`) or over TLS (`https://host:port`).
#[derive(Clone, Default)]
pub struct Proxies(Option<Arc<Matcher>>);

impl Proxies {
    /// The process's proxy variables, read now; none set means every upstream is reached directly.
    pub fn from_env() -> Self {
        const VARS: [&str; 6] = [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ];
        if VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        {
            Proxies(Some(Arc::new(Matcher::from_env())))
        } else {
            Proxies(None)
        }
    }

    /// Rules built in code (`Matcher::builder()`), so tests need not set process-wide variables.
    pub fn new(rules: Matcher) -> Self {
        Proxies(Some(Arc::new(rules)))
    }

    fn intercept(&self, dst: &Uri) -> Option<Intercept> {
        self.0.as_ref()?.intercept(dst)
    }
}

/// [`pool_with`] through the proxies the environment names.
pub(crate) fn pool(connect_timeout: Duration, max_idle: usize) -> Result<Pool, String> {
    pool_with(connect_timeout, max_idle, Proxies::from_env())
}

/// Builds a connection pool: `connect_timeout` bounds the TCP connect, any TLS to a proxy and its
/// `CONNECT`, and the TLS handshake with the upstream together; at most `max_idle` idle
/// connections per host are kept, each for [`POOL_IDLE`]. Redirects are never followed (hyper's
/// client has no such layer): an upstream's 3xx is its answer, so a request and its credentials
/// never go where a redirect points.
pub(crate) fn pool_with(
    connect_timeout: Duration,
    max_idle: usize,
    proxies: Proxies,
) -> Result<Pool, String> {
    install_crypto_provider();
    // The process's provider (ring, installed above, unless the embedder chose another).
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(hyper_rustls::ConfigBuilderExt::try_with_platform_verifier)
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false); // `https://` URIs pass through to the TLS layer
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    // Dead peers are noticed on idle pooled connections (the settings reqwest used).
    tcp.set_keepalive(Some(Duration::from_secs(15)));
    tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
    tcp.set_keepalive_retries(Some(3));
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    tcp.set_tcp_user_timeout(Some(Duration::from_secs(30)));
    let via_proxy = proxies.0.clone().map(|rules| {
        // An `https://` proxy is verified as an upstream is; it speaks HTTP/1.1 (`CONNECT` and
        // absolute-form requests), so that is all it is offered.
        let to_proxy = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_only()
            .enable_http1()
            .wrap_connector(tcp.clone());
        // The builder below sets these on its own copy; a tunnelled connection offers the same.
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        ProxyConnector {
            rules,
            tcp: tcp.clone(),
            to_proxy,
            tls: Arc::new(tls),
        }
    });
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(tcp);
    let connector = TimedConnector {
        direct: https,
        via_proxy,
        timeout: connect_timeout,
    };
    let client = PooledClient::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(max_idle)
        .build(connector);
    Ok(Pool { client, proxies })
}

/// The TLS connector with one deadline over the TCP connect, any TLS to a proxy and its
/// `CONNECT`, and the handshake with the upstream. An upstream no proxy rule matches is
/// connected to exactly as without proxies.
#[derive(Clone)]
pub(crate) struct TimedConnector {
    direct: HttpsConnector<HttpConnector>,
    /// `None` when no proxy is configured.
    via_proxy: Option<ProxyConnector>,
    timeout: Duration,
}

/// What connecting through a proxy needs: the rules that pick it, TCP to an `http://` proxy or
/// TLS to an `https://` one, and TLS to the upstream inside the tunnel (the same rustls settings
/// as a direct connection).
#[derive(Clone)]
struct ProxyConnector {
    rules: Arc<Matcher>,
    tcp: HttpConnector,
    to_proxy: HttpsConnector<HttpConnector>,
    tls: Arc<rustls::ClientConfig>,
}

type Stream = hyper_rustls::MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;
type ConnectError = Box<dyn StdError + Send + Sync>;

impl ProxyConnector {
    /// An `https://` upstream: a `CONNECT` tunnel through the proxy, then TLS to the upstream
    /// (its name as SNI). An `http://` one: a connection to the proxy, marked so hyper sends
    /// absolute-form requests over it. An `https://` proxy is spoken to over TLS (its name as
    /// SNI), so a tunnelled upstream's TLS runs inside the proxy's.
    async fn connect(self, via: Intercept, dst: Uri) -> Result<Conn, ConnectError> {
        let proxy = via.uri();
        let over_tls = match proxy.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            other => return Err(unsupported_proxy(other).into()),
        };
        let ProxyConnector {
            mut tcp,
            mut to_proxy,
            tls,
            ..
        } = self;
        let auth = via.basic_auth().cloned();
        if dst.scheme() != Some(&Scheme::HTTPS) {
            let io = if over_tls {
                to_proxy.call(proxy.clone()).await?
            } else {
                hyper_rustls::MaybeHttpsStream::Http(tcp.call(proxy.clone()).await?)
            };
            return Ok(Conn {
                io: Io::Single(io),
                proxied: true,
            });
        }
        let io = if over_tls {
            let tunnel = with_auth(Tunnel::new(proxy.clone(), to_proxy), auth);
            Io::Nested(Box::new(
                HttpsConnector::from((tunnel, tls)).call(dst).await?,
            ))
        } else {
            let tunnel = with_auth(Tunnel::new(proxy.clone(), tcp), auth);
            Io::Single(HttpsConnector::from((tunnel, tls)).call(dst).await?)
        };
        Ok(Conn { io, proxied: false })
    }
}

/// `tunnel`, sending the proxy URL's credentials (if any) with its `CONNECT`.
fn with_auth<C>(tunnel: Tunnel<C>, auth: Option<HeaderValue>) -> Tunnel<C> {
    match auth {
        Some(auth) => tunnel.with_auth(auth),
        None => tunnel,
    }
}

/// The error for a proxy whose scheme is neither `http` nor `https`: it names the kind of proxy,
/// never its URL, which may hold credentials.
fn unsupported_proxy(scheme: Option<&str>) -> String {
    let kind = match scheme {
        Some(s) if s.eq_ignore_ascii_case("socks4") || s.eq_ignore_ascii_case("socks4a") => {
            "SOCKS4 proxies are"
        }
        Some(s) if s.eq_ignore_ascii_case("socks5") || s.eq_ignore_ascii_case("socks5h") => {
            "SOCKS5 proxies are"
        }
        _ => "this proxy scheme is",
    };
    format!("{kind} not supported (only http:// and https:// proxies are)")
}

/// `connect` with the pool's connect deadline.
async fn within(
    timeout: Duration,
    connect: impl Future<Output = Result<Conn, ConnectError>>,
) -> Result<Conn, ConnectError> {
    match tokio::time::timeout(timeout, connect).await {
        Ok(done) => done,
        Err(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out").into())
        }
    }
}

impl tower_service::Service<Uri> for TimedConnector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.direct.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let timeout = self.timeout;
        if let Some(proxy) = &self.via_proxy
            && let Some(via) = proxy.rules.intercept(&dst)
        {
            return Box::pin(within(timeout, proxy.clone().connect(via, dst)));
        }
        let connecting = self.direct.call(dst);
        Box::pin(within(timeout, async move {
            let io = Io::Single(connecting.await?);
            Ok(Conn { io, proxied: false })
        }))
    }
}

/// One connection the pool holds: the stream, and whether it goes to a proxy that expects
/// absolute-form requests.
pub(crate) struct Conn {
    io: Io,
    proxied: bool,
}

/// A connection's stream: at most one TLS session over TCP (a direct connection, or any through
/// an `http://` proxy, or a plain one through an `https://` proxy), or an upstream's TLS inside
/// an `https://` proxy's. The nested one is boxed so the common stream stays its own size.
#[expect(
    clippy::large_enum_variant,
    reason = "the direct stream stays inline: boxing it would allocate on the common path"
)]
enum Io {
    Single(Stream),
    Nested(Box<hyper_rustls::MaybeHttpsStream<Stream>>),
}

/// Forwards a call to whichever stream `$io` (a `&mut Io`) holds.
macro_rules! on_io {
    ($io:expr, $s:ident => $call:expr) => {
        match $io {
            Io::Single($s) => $call,
            Io::Nested($s) => {
                let $s = &mut **$s;
                $call
            }
        }
    };
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        let connected = match &self.io {
            Io::Single(s) => s.connected(),
            Io::Nested(s) => s.connected(),
        };
        connected.proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        on_io!(&mut self.get_mut().io, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        on_io!(&mut self.get_mut().io, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        on_io!(&mut self.get_mut().io, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Single(s) => s.is_write_vectored(),
            Io::Nested(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        on_io!(&mut self.get_mut().io, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        on_io!(&mut self.get_mut().io, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// An upstream's answer: its status and headers, and a body read as it arrives.
pub struct UpstreamResponse(http::Response<Incoming>);

impl UpstreamResponse {
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.0.headers()
    }

    /// The body's length when the upstream declared it.
    pub fn content_length(&self) -> Option<u64> {
        hyper::body::Body::size_hint(self.0.body()).exact()
    }

    /// The body's data frames as a stream of byte chunks, in the order they arrived.
    pub fn into_stream(self) -> BodyDataStream<Incoming> {
        BodyDataStream::new(self.0.into_body())
    }
}

/// A POST of `body` to `uri` with exactly `headers` (hyper adds `host` and `content-length`).
pub(crate) fn post(uri: &Uri, headers: HeaderMap, body: Vec<u8>) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::from(body)));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri.clone();
    *req.headers_mut() = headers;
    req
}

/// Sends one request through `pool`; a transport failure becomes a [`ProviderError`].
pub(crate) async fn send(
    pool: &Pool,
    uri: &Uri,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<UpstreamResponse, ProviderError> {
    pool.request(post(uri, headers, body))
        .await
        .map(UpstreamResponse)
        .map_err(|e| transport_error(&e, false))
}

/// A provider's connection pool and fixed headers.
#[derive(Clone)]
pub struct UpstreamClient {
    pool: Pool,
    headers: HeaderMap,
}

impl UpstreamClient {
    /// `fixed` are the provider's own headers (its credential, a version header), sent on every
    /// request and marked sensitive so they never print.
    /// `proxies` decides which upstreams are reached through a proxy, and which.
    pub fn new(
        cfg: &ProviderConfig,
        fixed: Vec<(&str, String)>,
        proxies: &Proxies,
    ) -> Result<Self, String> {
        let max_idle = usize::try_from(cfg.max_concurrency).unwrap_or(256);
        let pool = pool_with(cfg.connect_timeout, max_idle, proxies.clone())
            .map_err(|e| format!("providers.{}: cannot build HTTP client: {e}", cfg.name))?;
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("seam/", env!("CARGO_PKG_VERSION"))),
        );
        // Credentials in the URL (`https://user:pass@host`) travel as Basic auth; a fixed
        // `authorization` header, set next, takes precedence.
        if let Some(basic) = parse_uri(&cfg.base_url).ok().and_then(|(_, auth)| auth) {
            headers.insert(http::header::AUTHORIZATION, basic);
        }
        let mut add = |name: &str, value: &str| -> Result<(), String> {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!(
                    "providers.{}.headers: invalid header name {name:?}",
                    cfg.name
                )
            })?;
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| format!("providers.{}: invalid value for header {name}", cfg.name))?;
            v.set_sensitive(true);
            headers.insert(n, v);
            Ok(())
        };
        for (name, value) in fixed {
            add(name, &value)?;
        }
        for (name, value) in &cfg.headers {
            add(name, value.expose())?;
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(UpstreamClient { pool, headers })
    }

    /// Parses `base_url` + `suffix` once, at start-up, so requests skip URL parsing.
    pub fn endpoint(cfg: &ProviderConfig, suffix: &str) -> Result<Uri, String> {
        parse_uri(&format!("{}{suffix}", cfg.base_url))
            .map(|(uri, _)| uri)
            .map_err(|e| format!("providers.{}.base_url: not a valid URL ({e})", cfg.name))
    }

    /// POSTs a JSON body; a non-2xx answer becomes `ProviderError::Status` with the upstream's
    /// message, type and code read from its error body.
    pub async fn post_json(
        &self,
        url: &Uri,
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.post_json_with(url, Vec::new(), body).await
    }

    /// A client's own body (`ChatRequest::native`) as it came, with this target's `model` and the
    /// `stream` flag, and the headers it carries (`anthropic-beta`): the same-format passthrough.
    pub async fn post_native(
        &self,
        url: &Uri,
        native: &seam_types::chat::Native,
        model: &str,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let body = NativeBody {
            model,
            stream,
            body: &native.body,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| ProviderError::InvalidResponse(format!("request not encodable: {e}")))?;
        let headers = native
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        self.post_json_with(url, headers, body).await
    }

    /// [`post_json`](Self::post_json) with headers computed per request (a SigV4 signature), sent
    /// after the fixed ones and marked sensitive like them.
    pub async fn post_json_with(
        &self,
        url: &Uri,
        extra: Vec<(HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut headers = self.headers.clone();
        for (name, mut value) in extra {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // The request's trace continues upstream: a child span of it per attempt.
        if let Some((parent, state)) = crate::trace::outgoing() {
            if let Ok(v) = HeaderValue::from_str(&parent) {
                headers.insert(HeaderName::from_static("traceparent"), v);
            }
            if let Some(v) = state.and_then(|s| HeaderValue::from_str(&s).ok()) {
                headers.insert(HeaderName::from_static("tracestate"), v);
            }
        }
        let resp = send(&self.pool, url, headers, body).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(resp).await)
    }
}

/// Parses an absolute `http://` or `https://` URL into the form requests are sent with: the
/// scheme's default port and any `user:password@` removed, and an empty path made `/`. The
/// credentials come back as a sensitive `Basic` authorization value.
pub(crate) fn parse_uri(text: &str) -> Result<(Uri, Option<HeaderValue>), String> {
    let uri: Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let mut parts = uri.into_parts();
    let default_port = match &parts.scheme {
        Some(s) if *s == Scheme::HTTP => 80,
        Some(s) if *s == Scheme::HTTPS => 443,
        _ => return Err("the scheme must be http:// or https://".into()),
    };
    let Some(authority) = parts.authority.take() else {
        return Err("no host".into());
    };
    let (userinfo, hostport) = match authority.as_str().rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority.as_str()),
    };
    let hostport = match authority.port_u16() {
        Some(p) if p == default_port => hostport.strip_suffix(&format!(":{p}")).unwrap_or(hostport),
        _ => hostport,
    };
    if hostport.is_empty() || hostport.starts_with(':') {
        return Err("no host".into());
    }
    let auth = userinfo.map(basic_auth).transpose()?;
    parts.authority = Some(Authority::try_from(hostport).map_err(|e| e.to_string())?);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
    }
    let uri = Uri::from_parts(parts).map_err(|e| e.to_string())?;
    Ok((uri, auth))
}

/// `user:password` from a URL (percent-encoded) as a sensitive `Basic` header value.
fn basic_auth(userinfo: &str) -> Result<HeaderValue, String> {
    let decoded = percent_decode(userinfo).ok_or("credentials in the URL are not valid UTF-8")?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = HeaderValue::try_from(format!("Basic {token}"))
        .map_err(|_| "credentials in the URL cannot be sent".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}

/// `%XX` escapes decoded; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)),
            _ => None,
        };
        match escaped {
            Some((h, l)) => {
                out.push(u8::try_from(h * 16 + l).ok()?);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A provider's `base_url`, parsed once. Endpoints that name the model in their path (Azure
/// deployments, Gemini and Bedrock models) are built from it per request: the scheme and host
/// reused, and only the path and query formatted.
#[derive(Clone, Debug)]
pub struct BaseUrl(Uri);

impl BaseUrl {
    pub fn parse(cfg: &ProviderConfig) -> Result<Self, String> {
        UpstreamClient::endpoint(cfg, "").map(BaseUrl)
    }

    /// The base URL's path followed by `path` (already encoded, starting with `/`), with `query`.
    /// Fails only for a path or query no URL can carry, which encoded segments never are.
    pub fn join(&self, path: &str, query: Option<&str>) -> Result<Uri, ProviderError> {
        let base = self.0.path().trim_end_matches('/');
        let pq = match query {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        };
        let unsendable =
            || ProviderError::Unsupported("the model name cannot be sent in a URL".into());
        let mut parts = http::uri::Parts::default();
        parts.scheme = self.0.scheme().cloned();
        parts.authority = self.0.authority().cloned();
        parts.path_and_query = Some(PathAndQuery::try_from(pq).map_err(|_| unsendable())?);
        Uri::from_parts(parts).map_err(|_| unsendable())
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters, so a model id or deployment name is
/// exactly one path segment whatever it holds (`/`, `:`, `?` and `%` included).
pub fn encode_segment(s: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if s.bytes().all(unreserved) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}"); // writing to a String cannot fail
        }
    }
    Cow::Owned(out)
}

/// A transport failure: a timeout anywhere in the source chain is `Timeout`; otherwise the
/// chain's last message ("connection refused", "invalid peer certificate: UnknownIssuer"), with
/// no URL, so no query string or credential embedded in one can reach a log. A failure while
/// reading a body (`body`) is an invalid response; one before the answer, a connect error.
fn transport_error(e: &(dyn StdError + 'static), body: bool) -> ProviderError {
    if is_timeout(e) {
        return ProviderError::Timeout("response");
    }
    let mut msg = String::new();
    let mut src: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    if body {
        ProviderError::InvalidResponse(msg)
    } else {
        ProviderError::Connect(msg)
    }
}

/// Whether a timeout (the connect deadline, an I/O timeout) is anywhere in `e`'s source chain.
pub(crate) fn is_timeout(e: &(dyn StdError + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(s) = src {
        let timed_out = s
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
            || s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        if timed_out {
            return true;
        }
        src = s.source();
    }
    false
}

/// The error bodies upstreams send: `{"error": {…}}` (OpenAI, Anthropic, Azure, Gemini) or a bare
/// `{"message": …}` (AWS).
#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    error: Option<ErrorDetail>,
    #[serde(default, alias = "Message")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    /// Google's symbolic code (`RESOURCE_EXHAUSTED`); its `code` is only the HTTP status again.
    #[serde(default)]
    status: Option<String>,
}

/// Reads an upstream error body (OpenAI's and Anthropic's share `{"error": {"message", "type"}}`).
async fn status_error(resp: UpstreamResponse) -> ProviderError {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    // AWS names the error in a header (`ThrottlingException:http://…`); the body has only a message.
    let aws_kind = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(':').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let body = read_capped(resp, 64 * 1024).await.unwrap_or_default();
    let mut err = parse_error_body(status, retry_after, &body);
    if let ProviderError::Status { kind, .. } = &mut err
        && kind.is_none()
    {
        *kind = aws_kind;
    }
    err
}

pub fn parse_error_body(status: u16, retry_after: Option<u64>, body: &[u8]) -> ProviderError {
    let (message, kind, code) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope {
            error: Some(e),
            message,
        }) => (
            e.message.or(message),
            e.kind,
            e.status.or_else(|| {
                e.code.and_then(|c| match c {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            }),
        ),
        Ok(ErrorEnvelope {
            error: None,
            message,
        }) => (message, None, None),
        Err(_) => (None, None, None),
    };
    ProviderError::Status {
        status,
        kind,
        code,
        message: message.unwrap_or_else(|| format!("upstream returned HTTP {status}")),
        retry_after,
    }
}

/// `retry-after` in seconds (integer form), or `retry-after-ms` rounded up.
pub fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(s) = get("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(s);
    }
    get("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| (ms / 1000.0).ceil() as u64)
}

/// Reads a whole body, failing once it passes `cap` bytes.
pub async fn read_capped(resp: UpstreamResponse, cap: usize) -> Result<Vec<u8>, ProviderError> {
    let mut out = Vec::with_capacity(
        resp.content_length()
            .map_or(4096, |n| (n as usize).min(cap)),
    );
    let mut stream = resp.into_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| transport_error(&e, true))?;
        if out.len() + piece.len() > cap {
            return Err(ProviderError::InvalidResponse(format!(
                "body larger than {cap} bytes"
            )));
        }
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// Decodes a JSON response body.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    resp: UpstreamResponse,
) -> Result<T, ProviderError> {
    let body = read_capped(resp, MAX_RESPONSE_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| ProviderError::InvalidResponse(json_error(&e)))
}

/// A serde error without the input it quotes: position and category only.
pub fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => {
            // A missing field is named by Seam's own types, never by the input, so it is safe
            // to say; other shape errors may quote values and are left as a category.
            let text = e.to_string();
            if let Some((field, _)) = text
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split_once('`'))
            {
                return format!(
                    "unexpected JSON shape (missing field `{field}`) at line {} column {}",
                    e.line(),
                    e.column()
                );
            }
            "unexpected JSON shape"
        }
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Splits a streamed body into frames: event-stream events ([`SseParser`]), or AWS's binary
/// messages. Memory is bounded by the parser's own limit on one frame.
pub trait FrameParser: Send + 'static {
    type Frame: Send + 'static;
    /// Feeds bytes; complete frames are appended to `out`. An error ends the stream.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Self::Frame>) -> Result<(), ProviderError>;
    /// At the end of the body: any frame the end completes. A partial frame is dropped; the
    /// decoder notices the truncation by what it has not seen.
    fn finish(&mut self, out: &mut Vec<Self::Frame>);
}

impl FrameParser for SseParser {
    type Frame = SseEvent;

    fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), ProviderError> {
        SseParser::push(self, bytes, out).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
    }

    fn finish(&mut self, out: &mut Vec<SseEvent>) {
        SseParser::finish(self, out);
    }
}

/// Turns one provider's events (frames of type `F`) into OpenAI chunks.
pub trait StreamDecoder<F = SseEvent>: Send + 'static {
    /// Handles one event, pushing any chunks for the client. Returns `true` once the upstream
    /// has said the stream is complete.
    fn event(&mut self, ev: F, out: &mut VecDeque<ChatChunk>) -> Result<bool, ProviderError>;

    /// Called once when the body ends before `event` returned `true`. Providers with no terminal
    /// event (Gemini) decide here whether what they saw makes a complete stream, pushing any last
    /// chunks; `false` (the default) makes the end a `ProviderError::StreamCut`.
    fn end(&mut self, _out: &mut VecDeque<ChatChunk>) -> Result<bool, ProviderError> {
        Ok(false)
    }
}

struct State<P: FrameParser, D> {
    /// `None` once handed to the task that drains it for the pool.
    body: Option<BodyDataStream<Incoming>>,
    parser: P,
    decoder: D,
    events: Vec<P::Frame>,
    ready: VecDeque<ChatChunk>,
    error: Option<ProviderError>,
    done: bool,
    body_ended: bool,
}

/// Adapts an event-stream response into a [`ChunkStream`] through `decoder`. A body that ends
/// before the decoder saw the end becomes `ProviderError::StreamCut`, so truncation is never silent.
/// Chunks decoded before an error are delivered first; the error is the stream's last item.
pub fn decode_sse<D: StreamDecoder>(resp: UpstreamResponse, decoder: D) -> ChunkStream {
    decode_frames(resp, SseParser::new(MAX_SSE_LINE), decoder)
}

/// [`decode_sse`] over any framing.
pub fn decode_frames<P, D>(resp: UpstreamResponse, parser: P, decoder: D) -> ChunkStream
where
    P: FrameParser,
    D: StreamDecoder<P::Frame>,
{
    let state = State {
        body: Some(resp.into_stream()),
        parser,
        decoder,
        events: Vec::new(),
        ready: VecDeque::new(),
        error: None,
        done: false,
        body_ended: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.ready.pop_front() {
                return Some((Ok(chunk), st));
            }
            if let Some(e) = st.error.take() {
                st.done = true;
                return Some((Err(e), st));
            }
            if st.done && st.body_ended {
                return None;
            }
            if st.done {
                // Read the rest of the body in the background (normally just the chunked
                // terminator) so the connection goes back to the pool instead of being closed.
                if let Some(mut body) = st.body.take() {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            while body.next().await.is_some() {}
                        })
                        .await;
                    });
                }
                return None;
            }
            let body = st.body.as_mut()?;
            match body.next().await {
                Some(Ok(piece)) => {
                    if let Err(e) = st.parser.push(&piece, &mut st.events) {
                        st.error = Some(e);
                    }
                }
                Some(Err(e)) => {
                    st.error = Some(ProviderError::StreamCut(match transport_error(&e, true) {
                        ProviderError::Timeout(_) => "timed out".into(),
                        other => other.to_string(),
                    }));
                }
                None => {
                    st.body_ended = true;
                    st.parser.finish(&mut st.events);
                    drain(&mut st);
                    if !st.done && st.error.is_none() {
                        match st.decoder.end(&mut st.ready) {
                            Ok(true) => {}
                            Ok(false) => {
                                st.error = Some(ProviderError::StreamCut(
                                    "upstream closed the stream without its final event".into(),
                                ));
                            }
                            Err(e) => st.error = Some(e),
                        }
                    }
                    st.done = true;
                    continue;
                }
            }
            if st.error.is_none() {
                drain(&mut st);
            }
        }
    }))
}

fn drain<P: FrameParser, D: StreamDecoder<P::Frame>>(st: &mut State<P, D>) {
    for ev in st.events.drain(..) {
        if st.done {
            break; // anything after the final event is ignored
        }
        match st.decoder.event(ev, &mut st.ready) {
            Ok(done) => st.done = done,
            Err(e) => {
                st.error = Some(e);
                break;
            }
        }
    }
    st.events.clear();
}

/// A client's own body with this target's `model`, and `stream: true` when streamed; serialised
/// without copying the body.
pub(crate) struct NativeBody<'a> {
    pub(crate) model: &'a str,
    pub(crate) stream: bool,
    pub(crate) body: &'a serde_json::Map<String, serde_json::Value>,
}

impl serde::Serialize for NativeBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("model", self.model)?;
        for (k, v) in self.body {
            if k != "model" && k != "stream" {
                m.serialize_entry(k, v)?;
            }
        }
        if self.stream {
            m.serialize_entry("stream", &true)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: &str) -> (Option<String>, Option<String>, String) {
        match parse_error_body(429, None, body.as_bytes()) {
            ProviderError::Status {
                kind,
                code,
                message,
                ..
            } => (kind, code, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_bodies_of_every_upstream() {
        let s = |v: &str| Some(v.to_owned());
        let cases = [
            (
                r#"{"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}"#,
                (s("requests"), s("rate_limit_exceeded"), "slow down"),
            ),
            (
                r#"{"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}"#,
                (s("rate_limit_error"), None, "slow"),
            ),
            // Azure's code is a number in a string; Gemini's `code` repeats the status, so its
            // symbolic `status` is the code worth passing on.
            (
                r#"{"error": {"code": "429", "message": "Requests exceeded"}}"#,
                (None, s("429"), "Requests exceeded"),
            ),
            (
                r#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}"#,
                (None, s("RESOURCE_EXHAUSTED"), "Quota exceeded"),
            ),
            // AWS: a bare message (the type travels in `x-amzn-errortype`).
            (
                r#"{"message": "Too many requests"}"#,
                (None, None, "Too many requests"),
            ),
            (
                r#"{"Message": "Too many requests"}"#,
                (None, None, "Too many requests"),
            ),
            ("not json", (None, None, "upstream returned HTTP 429")),
        ];
        for (body, (kind, code, message)) in cases {
            assert_eq!(status(body), (kind, code, message.to_owned()), "{body}");
        }
    }

    #[test]
    fn segments_and_joined_urls() {
        assert_eq!(encode_segment("gpt-4o_mini.v1~x"), "gpt-4o_mini.v1~x");
        assert!(matches!(encode_segment("plain"), Cow::Borrowed(_)));
        assert_eq!(encode_segment("a:b/c d%"), "a%3Ab%2Fc%20d%25");
        assert_eq!(encode_segment("é"), "%C3%A9");
        let base = |url: &str| BaseUrl(parse_uri(url).unwrap().0);
        assert_eq!(
            base("https://h.example.com")
                .join("/model/a%3A0/converse", None)
                .unwrap()
                .to_string(),
            "https://h.example.com/model/a%3A0/converse"
        );
        assert_eq!(
            base("http://127.0.0.1:9/proxy/")
                .join("/openai/deployments/d/embeddings", Some("api-version=1"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9/proxy/openai/deployments/d/embeddings?api-version=1"
        );
    }

    #[test]
    fn urls_are_parsed_into_the_form_requests_use() {
        let ok = |url: &str| {
            let (uri, auth) = parse_uri(url).unwrap();
            (
                uri.to_string(),
                auth.map(|v| v.to_str().unwrap().to_owned()),
            )
        };
        // The scheme's default port is dropped (as `host` and SigV4 have it); others stay.
        assert_eq!(
            ok("https://h.example.com:443/v1").0,
            "https://h.example.com/v1"
        );
        assert_eq!(ok("http://h:80").0, "http://h/");
        assert_eq!(ok("http://h:8080/v1").0, "http://h:8080/v1");
        assert_eq!(ok("https://h:80/v1").0, "https://h:80/v1");
        assert_eq!(ok("http://[::1]:9/v1").0, "http://[::1]:9/v1");
        // Credentials in the URL leave it and become Basic auth, percent-decoded.
        let (uri, auth) = ok("https://us%40r:p%3Ass@h.example.com/v1");
        assert_eq!(uri, "https://h.example.com/v1");
        let token = base64::engine::general_purpose::STANDARD.encode("us@r:p:ss");
        assert_eq!(auth, Some(format!("Basic {token}")));
        let (_, auth) = ok("http://only@h/");
        let token = base64::engine::general_purpose::STANDARD.encode("only:");
        assert_eq!(auth, Some(format!("Basic {token}")));
        assert!(
            parse_uri("https://u:p@h/")
                .unwrap()
                .1
                .unwrap()
                .is_sensitive()
        );
        for bad in [
            "ftp://h/",
            "/v1/chat",
            "h.example.com:443",
            "https://",
            "http://:80/",
            "http://a b/",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad}");
        }
    }

    /// An unsupported proxy is named by its kind only.
    #[test]
    fn unsupported_proxies_are_named_by_kind() {
        for (scheme, kind) in [
            (Some("socks4"), "SOCKS4 proxies are"),
            (Some("socks4a"), "SOCKS4 proxies are"),
            (Some("socks5"), "SOCKS5 proxies are"),
            (Some("SOCKS5h"), "SOCKS5 proxies are"),
            (Some("ftp"), "this proxy scheme is"),
            (None, "this proxy scheme is"),
        ] {
            assert_eq!(
                unsupported_proxy(scheme),
                format!("{kind} not supported (only http:// and https:// proxies are)")
            );
        }
    }
}
