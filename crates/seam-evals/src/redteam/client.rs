//! One chat completion against the target, with retries: 429 and 5xx (and timeouts) are retried
//! with exponential backoff, honouring `retry-after`; 401, 403, 404 and an unreachable endpoint
//! stop the whole run, since no probe can succeed; 422 (a gateway's policy refusal) and content
//! filter errors are a *blocked* attack, not an error.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::library::Message;
use super::runner::Target;
use crate::EvalError;

/// Largest answer body read.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// First backoff; doubled per retry, up to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `retry-after` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What the target did with an attack.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// The first choice's text (`""` when it had none).
    Answer(String),
    /// Refused by policy before or instead of answering: the status and error code.
    Blocked { status: u16, code: String },
}

/// A call that did not get a reply.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// Nothing can work (unreachable, unauthorised, unknown model): stop the run.
    Fatal(String),
    /// This probe failed after its retries.
    Failed(String),
}

/// A reply with how it was got.
pub struct Called {
    pub reply: Reply,
    pub attempts: u32,
    pub latency_ms: f64,
}

pub struct Endpoint {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
    max_tokens: u32,
    retries: u32,
}

impl Endpoint {
    pub fn new(target: &Target) -> Result<Endpoint, EvalError> {
        crate::client::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(target.timeout)
            .connect_timeout(target.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| EvalError::Provider(format!("cannot build an HTTP client: {e}")))?;
        let base = target.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(EvalError::Provider(format!(
                "base URL {base:?} must start with http:// or https://"
            )));
        }
        Ok(Endpoint {
            client,
            url: format!("{base}/chat/completions"),
            api_key: target.api_key.clone(),
            model: target.model.clone(),
            max_tokens: target.max_tokens,
            retries: target.retries,
        })
    }

    /// Sends `messages`, retrying what is worth retrying.
    pub async fn chat(&self, messages: &[Message]) -> Result<Called, CallError> {
        let body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.max_tokens,
        })
        .to_string();
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let wait = match self.once(&body).await {
                Ok(reply) => {
                    return Ok(Called {
                        reply,
                        attempts: attempt,
                        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                    });
                }
                Err(Attempt::Fatal(m)) => return Err(CallError::Fatal(m)),
                Err(Attempt::Final(m)) => return Err(CallError::Failed(m)),
                Err(Attempt::Retry(m, after)) => {
                    if attempt > self.retries {
                        return Err(CallError::Failed(format!("{m} (after {attempt} attempts)")));
                    }
                    let backoff = BACKOFF
                        .saturating_mul(1u32 << (attempt - 1).min(8))
                        .min(MAX_BACKOFF);
                    after.map_or(backoff, |a| a.min(MAX_RETRY_AFTER))
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(&self, body: &str) -> Result<Reply, Attempt> {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_connect() || e.is_builder() {
                Attempt::Fatal(format!("cannot reach {}: {}", self.url, cause(&e)))
            } else {
                Attempt::Retry(chain(&e), None)
            }
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let mut bytes = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_BODY {
                        return Err(Attempt::Final(format!(
                            "the answer is larger than {MAX_BODY} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(Attempt::Retry(chain(&e), None)),
            }
        }
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        classify(status, json.as_ref(), retry_after)
    }
}

/// One attempt's failure, and whether another is worth making.
enum Attempt {
    Fatal(String),
    Retry(String, Option<Duration>),
    Final(String),
}

/// A response → the reply, or what kind of failure it is.
fn classify(
    status: StatusCode,
    json: Option<&Value>,
    retry_after: Option<Duration>,
) -> Result<Reply, Attempt> {
    let field = |name: &str| {
        json.and_then(|j| j.pointer(&format!("/error/{name}")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let described = || {
        let code = field("code");
        let message: String = field("message").chars().take(200).collect();
        let code = if code.is_empty() { field("type") } else { code };
        match (code.is_empty(), message.is_empty()) {
            (true, true) => format!("HTTP {}", status.as_u16()),
            (false, true) => format!("HTTP {} {code}", status.as_u16()),
            (_, false) => format!("HTTP {} {code}: {message}", status.as_u16()),
        }
    };
    if status.is_success() {
        let Some(j) = json else {
            return Err(Attempt::Final(format!(
                "HTTP {}: the body is not JSON",
                status.as_u16()
            )));
        };
        let message = j.pointer("/choices/0/message");
        let text = match message.and_then(|m| m.get("content")) {
            Some(Value::String(s)) => s.clone(),
            // Content as parts: the text parts joined.
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
            _ if message.is_some() => String::new(),
            _ => {
                return Err(Attempt::Final(
                    "the answer has no choices[0].message".into(),
                ));
            }
        };
        return Ok(Reply::Answer(text));
    }
    let code = field("code");
    let kind = field("type");
    let filtered = [code.as_str(), kind.as_str()]
        .iter()
        .any(|c| c.contains("content_filter") || c.contains("content_policy"));
    match status.as_u16() {
        422 => Ok(Reply::Blocked {
            status: 422,
            code: if code.is_empty() { kind } else { code },
        }),
        400 if filtered => Ok(Reply::Blocked {
            status: 400,
            code: if code.is_empty() { kind } else { code },
        }),
        401 | 403 | 404 => Err(Attempt::Fatal(described())),
        408 | 409 | 429 => Err(Attempt::Retry(described(), retry_after)),
        s if s >= 500 => Err(Attempt::Retry(described(), retry_after)),
        _ => Err(Attempt::Final(described())),
    }
}

/// What went wrong beneath reqwest's own message (which repeats the URL) and hyper's
/// "client error (Connect)": `tcp connect error: Connection refused (os error 111)`.
fn cause(e: &reqwest::Error) -> String {
    let mut deepest = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let m = s.to_string();
        if !m.starts_with("client error") {
            deepest = m;
        }
        source = s.source();
    }
    deepest.replace('\n', " ")
}

/// An error and its causes on one line, repeated messages dropped.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        source = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> StatusCode {
        StatusCode::from_u16(s).unwrap()
    }

    #[test]
    fn classifies_answers_blocks_and_failures() {
        let ok = json!({"choices": [{"message": {"role": "assistant", "content": "hi"}}]});
        assert_eq!(
            classify(status(200), Some(&ok), None).ok(),
            Some(Reply::Answer("hi".into()))
        );
        let tools = json!({"choices": [{"message": {"role": "assistant", "content": null}}]});
        assert_eq!(
            classify(status(200), Some(&tools), None).ok(),
            Some(Reply::Answer(String::new()))
        );
        let policy = json!({"error": {"code": "policy_violation", "type": "invalid_request_error", "message": "x"}});
        assert_eq!(
            classify(status(422), Some(&policy), None).ok(),
            Some(Reply::Blocked {
                status: 422,
                code: "policy_violation".into()
            })
        );
        let filter = json!({"error": {"code": "content_filter", "message": "x"}});
        assert!(matches!(
            classify(status(400), Some(&filter), None),
            Ok(Reply::Blocked { status: 400, .. })
        ));
        let missing = json!({"error": {"code": "model_not_found", "message": "no model `x`"}});
        match classify(status(404), Some(&missing), None) {
            Err(Attempt::Fatal(m)) => assert_eq!(m, "HTTP 404 model_not_found: no model `x`"),
            _ => panic!("404 is fatal"),
        }
        let after = Some(Duration::from_secs(2));
        assert!(matches!(
            classify(status(429), None, after),
            Err(Attempt::Retry(_, Some(d))) if d == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(status(503), None, None),
            Err(Attempt::Retry(..))
        ));
        assert!(matches!(
            classify(status(400), None, None),
            Err(Attempt::Final(_))
        ));
    }
}
