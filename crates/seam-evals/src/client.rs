//! An OpenAI-compatible chat client for suites and judges: one pooled connection set, retries on
//! what is worth retrying (429, 5xx, connection failures; `retry-after` honoured up to a cap),
//! and errors that name the status and the endpoint's message, never the key.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{EvalError, Output, Tokens};

/// Attempts per request, the first included.
const ATTEMPTS: u32 = 4;
/// The longest wait between attempts, whatever `retry-after` says.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Where to send requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Up to and including `/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

/// Installs ring as rustls' process-wide provider (reqwest is built without one); idempotent.
/// Every HTTP client seam-evals builds calls it first.
pub(crate) fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(timeout: Duration) -> Result<Client, EvalError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .user_agent(concat!("seam-eval/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EvalError::Provider(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client { http })
    }

    /// The pooled HTTP client, for promptfoo's `http` provider.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs `body` to `path` under the endpoint, retrying transient failures; the JSON answer,
    /// its headers and the time the successful attempt took.
    pub(crate) async fn post(
        &self,
        ep: &Endpoint,
        path: &str,
        body: &Value,
    ) -> Result<(Value, reqwest::header::HeaderMap, Duration), EvalError> {
        let url = format!("{}/{path}", ep.base_url.trim_end_matches('/'));
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let mut req = self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
            if let Some(k) = &ep.api_key {
                req = req.bearer_auth(k);
            }
            for (k, v) in &ep.headers {
                req = req.header(k, v);
            }
            let start = Instant::now();
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let bytes = resp.bytes().await.map_err(|e| {
                        EvalError::Provider(format!("{url}: the answer was cut ({e})"))
                    })?;
                    let took = start.elapsed();
                    if status.is_success() {
                        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                            EvalError::Provider(format!("{url}: the answer is not JSON ({e})"))
                        })?;
                        return Ok((v, headers, took));
                    }
                    let message = serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| {
                            String::from_utf8_lossy(&bytes).chars().take(200).collect()
                        });
                    last = format!("{url}: HTTP {} ({message})", status.as_u16());
                    if !(status.as_u16() == 429 || status.is_server_error()) {
                        return Err(EvalError::Provider(last));
                    }
                    headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .map(Duration::from_secs_f64)
                }
                Err(e) => {
                    last = format!("{url}: {}", without_url(&e));
                    None
                }
            };
            if attempt + 1 < ATTEMPTS {
                let backoff = Duration::from_millis(250 * 2u64.pow(attempt));
                tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_WAIT)).await;
            }
        }
        Err(EvalError::Provider(format!(
            "{last}, after {ATTEMPTS} attempts"
        )))
    }

    /// A chat completion: `body` is the whole request (`model`, `messages`, parameters).
    pub async fn chat(&self, ep: &Endpoint, body: &Value) -> Result<Output, EvalError> {
        let (v, headers, took) = self.post(ep, "chat/completions", body).await?;
        let choice = &v["choices"][0];
        let message = &choice["message"];
        let text = match &message["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        let usage = &v["usage"];
        let tokens = usage.is_object().then(|| Tokens {
            prompt: usage["prompt_tokens"].as_u64().unwrap_or(0),
            completion: usage["completion_tokens"].as_u64().unwrap_or(0),
            total: usage["total_tokens"].as_u64().unwrap_or(0),
        });
        Ok(Output {
            text,
            tool_calls: message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
            latency_ms: took.as_secs_f64() * 1000.0,
            cost_usd: headers
                .get("x-seam-cost-usd")
                .and_then(|h| h.to_str().ok())
                .and_then(|s| s.parse().ok()),
            tokens,
            cached: false,
            value: None,
        })
    }

    /// The embedding of `input` from `model`.
    pub async fn embed(
        &self,
        ep: &Endpoint,
        model: &str,
        input: &str,
    ) -> Result<Vec<f32>, EvalError> {
        let body = serde_json::json!({"model": model, "input": input, "encoding_format": "float"});
        let (v, _, _) = self.post(ep, "embeddings", &body).await?;
        v["data"][0]["embedding"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_f64)
                    .map(|x| x as f32)
                    .collect()
            })
            .ok_or_else(|| {
                EvalError::Provider("the embeddings answer has no data[0].embedding".into())
            })
    }
}

/// reqwest's error text without the URL (it is already named, and may carry a query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    kind.to_owned()
}
