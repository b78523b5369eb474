//! The upstream HTTP client every network provider shares the shape of: pooled keep-alive, rustls
//! (ring), HTTP/1.1 and HTTP/2 (by ALPN), bounded body reads, and one mapping from transport and
//! status failures to [`ProviderError`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use seam_config::ProviderConfig;
use seam_types::chat::ChatChunk;
use serde::Deserialize;

use crate::sse::{SseEvent, SseParser};
use crate::{ChunkStream, ProviderError};

/// Largest non-streaming upstream body Seam reads.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Largest single event-stream line.
pub const MAX_SSE_LINE: usize = 4 * 1024 * 1024;

/// Installs ring as rustls' process-wide provider; idempotent.
pub fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A provider's connection pool and fixed headers.
#[derive(Clone)]
pub struct UpstreamClient {
    client: reqwest::Client,
    headers: HeaderMap,
}

impl UpstreamClient {
    /// `fixed` are the provider's own headers (its credential, a version header), sent on every
    /// request and marked sensitive so they never print.
    pub fn new(cfg: &ProviderConfig, fixed: Vec<(&str, String)>) -> Result<Self, String> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(usize::try_from(cfg.max_concurrency).unwrap_or(256))
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("providers.{}: cannot build HTTP client: {e}", cfg.name))?;
        let mut headers = HeaderMap::new();
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
        Ok(UpstreamClient { client, headers })
    }

    /// POSTs a JSON body; a non-2xx answer becomes `ProviderError::Status` with the upstream's
    /// message, type and code read from its error body.
    /// Parses `base_url` + `suffix` once, at start-up, so requests skip URL parsing.
    pub fn endpoint(cfg: &ProviderConfig, suffix: &str) -> Result<reqwest::Url, String> {
        let text = format!("{}{suffix}", cfg.base_url);
        reqwest::Url::parse(&text)
            .map_err(|e| format!("providers.{}.base_url: not a valid URL ({e})", cfg.name))
    }

    pub async fn post_json(
        &self,
        url: &reqwest::Url,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ProviderError> {
        let resp = self
            .client
            .post(url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(resp).await)
    }
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        return ProviderError::Timeout("response");
    }
    // The source chain says "connection refused/reset"; the URL is dropped so no query string or
    // credential embedded in it can reach a log.
    let mut msg = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    if e.is_connect() {
        ProviderError::Connect(msg)
    } else if e.is_body() || e.is_decode() {
        ProviderError::InvalidResponse(msg)
    } else {
        ProviderError::Connect(msg)
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// Reads an upstream error body (OpenAI's and Anthropic's share `{"error": {"message", "type"}}`).
async fn status_error(resp: reqwest::Response) -> ProviderError {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = read_capped(resp, 64 * 1024).await.unwrap_or_default();
    parse_error_body(status, retry_after, &body)
}

pub fn parse_error_body(status: u16, retry_after: Option<u64>, body: &[u8]) -> ProviderError {
    let (message, kind, code) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) => (
            env.error.message,
            env.error.kind,
            env.error.code.and_then(|c| match c {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        ),
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
pub async fn read_capped(resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, ProviderError> {
    let mut out = Vec::with_capacity(
        resp.content_length()
            .map_or(4096, |n| (n as usize).min(cap)),
    );
    let mut stream = resp.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(transport_error)?;
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
    resp: reqwest::Response,
) -> Result<T, ProviderError> {
    let body = read_capped(resp, MAX_RESPONSE_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| ProviderError::InvalidResponse(json_error(&e)))
}

/// A serde error without the input it quotes: position and category only.
pub fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected JSON shape",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Turns one provider's events into OpenAI chunks.
pub trait StreamDecoder: Send + 'static {
    /// Handles one event, pushing any chunks for the client. Returns `true` once the upstream
    /// has said the stream is complete.
    fn event(&mut self, ev: SseEvent, out: &mut VecDeque<ChatChunk>)
    -> Result<bool, ProviderError>;
}

struct State<D> {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    decoder: D,
    events: Vec<SseEvent>,
    ready: VecDeque<ChatChunk>,
    error: Option<ProviderError>,
    done: bool,
    body_ended: bool,
}

/// Adapts an event-stream response into a [`ChunkStream`] through `decoder`. A body that ends
/// before the decoder saw the end becomes `ProviderError::StreamCut`, so truncation is never silent.
/// Chunks decoded before an error are delivered first; the error is the stream's last item.
pub fn decode_sse<D: StreamDecoder>(resp: reqwest::Response, decoder: D) -> ChunkStream {
    let state = State {
        body: resp.bytes_stream().boxed(),
        parser: SseParser::new(MAX_SSE_LINE),
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
                let mut body =
                    std::mem::replace(&mut st.body, futures_util::stream::empty().boxed());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while body.next().await.is_some() {}
                    })
                    .await;
                });
                return None;
            }
            match st.body.next().await {
                Some(Ok(piece)) => {
                    if let Err(e) = st.parser.push(&piece, &mut st.events) {
                        st.error = Some(ProviderError::InvalidResponse(e.to_string()));
                    }
                }
                Some(Err(e)) => {
                    st.error = Some(ProviderError::StreamCut(match transport_error(e) {
                        ProviderError::Timeout(_) => "timed out".into(),
                        other => other.to_string(),
                    }));
                }
                None => {
                    st.body_ended = true;
                    st.parser.finish(&mut st.events);
                    drain(&mut st);
                    if !st.done && st.error.is_none() {
                        st.error = Some(ProviderError::StreamCut(
                            "upstream closed the stream without its final event".into(),
                        ));
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

fn drain<D: StreamDecoder>(st: &mut State<D>) {
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
