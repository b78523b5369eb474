//! The upstream HTTP client every network provider shares the shape of: pooled keep-alive, rustls
//! (ring), HTTP/1.1 and HTTP/2 (by ALPN), bounded body reads, and one mapping from transport and
//! status failures to [`ProviderError`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
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
            // An upstream's redirect is its answer, not an instruction: following it would
            // resend the request (and headers such as `x-api-key` that reqwest does not strip
            // across hosts) wherever it points. A 3xx surfaces as the upstream's error.
            .redirect(reqwest::redirect::Policy::none())
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

    /// Parses `base_url` + `suffix` once, at start-up, so requests skip URL parsing.
    pub fn endpoint(cfg: &ProviderConfig, suffix: &str) -> Result<reqwest::Url, String> {
        let text = format!("{}{suffix}", cfg.base_url);
        reqwest::Url::parse(&text)
            .map_err(|e| format!("providers.{}.base_url: not a valid URL ({e})", cfg.name))
    }

    /// POSTs a JSON body; a non-2xx answer becomes `ProviderError::Status` with the upstream's
    /// message, type and code read from its error body.
    pub async fn post_json(
        &self,
        url: &reqwest::Url,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ProviderError> {
        self.post_json_with(url, Vec::new(), body).await
    }

    /// A client's own body (`ChatRequest::native`) as it came, with this target's `model` and the
    /// `stream` flag, and the headers it carries (`anthropic-beta`): the same-format passthrough.
    pub async fn post_native(
        &self,
        url: &reqwest::Url,
        native: &seam_types::chat::Native,
        model: &str,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
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
        url: &reqwest::Url,
        extra: Vec<(HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ProviderError> {
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
        let resp = self
            .client
            .post(url.clone())
            .headers(headers)
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

/// A provider's `base_url`, parsed once. Endpoints that name the model in their path (Azure
/// deployments, Gemini and Bedrock models) are built from it per request: a clone and a path
/// replacement, without parsing the whole URL again.
#[derive(Clone, Debug)]
pub struct BaseUrl(reqwest::Url);

impl BaseUrl {
    pub fn parse(cfg: &ProviderConfig) -> Result<Self, String> {
        UpstreamClient::endpoint(cfg, "").map(BaseUrl)
    }

    /// The base URL's path followed by `path` (already encoded, starting with `/`), with `query`.
    pub fn join(&self, path: &str, query: Option<&str>) -> reqwest::Url {
        let mut url = self.0.clone();
        let joined = format!("{}{path}", self.0.path().trim_end_matches('/'));
        url.set_path(&joined);
        url.set_query(query);
        url
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
async fn status_error(resp: reqwest::Response) -> ProviderError {
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
    body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
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
pub fn decode_sse<D: StreamDecoder>(resp: reqwest::Response, decoder: D) -> ChunkStream {
    decode_frames(resp, SseParser::new(MAX_SSE_LINE), decoder)
}

/// [`decode_sse`] over any framing.
pub fn decode_frames<P, D>(resp: reqwest::Response, parser: P, decoder: D) -> ChunkStream
where
    P: FrameParser,
    D: StreamDecoder<P::Frame>,
{
    let state = State {
        body: resp.bytes_stream().boxed(),
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
                        st.error = Some(e);
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
        let base = |url: &str| BaseUrl(reqwest::Url::parse(url).unwrap());
        assert_eq!(
            base("https://h.example.com")
                .join("/model/a%3A0/converse", None)
                .as_str(),
            "https://h.example.com/model/a%3A0/converse"
        );
        assert_eq!(
            base("http://127.0.0.1:9/proxy/")
                .join("/openai/deployments/d/embeddings", Some("api-version=1"))
                .as_str(),
            "http://127.0.0.1:9/proxy/openai/deployments/d/embeddings?api-version=1"
        );
    }
}
