//! Fault injection and the response writer: which fault a `model` names, error bodies in each wire
//! format, and how a fault bends a JSON or event-stream reply on its way out.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use crate::eventstream;

/// A misbehaviour selected by a request's `model` (see the crate docs for the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Status(StatusCode),
    Reset,
    SlowFirstByte(Duration),
    TruncatedJson,
    CutStream(usize),
    AbortStream(usize),
    StreamError,
    SlowStream(Duration),
}

/// How many content chunks `fault-stream-error` sends before its error event.
const CHUNKS_BEFORE_ERROR: usize = 2;
/// How long `fault-abort-stream-<n>` waits before failing the body.
const ABORT_FLUSH_PAUSE: Duration = Duration::from_millis(20);

impl Fault {
    /// `Ok(None)` for an ordinary model; `Err` for a `fault-` name this mock does not know.
    pub(crate) fn parse(model: &str) -> Result<Option<Fault>, String> {
        let Some(name) = model.strip_prefix("fault-") else {
            return Ok(None);
        };
        let millis = |s: &str| s.parse::<u64>().ok().map(Duration::from_millis);
        let count = |s: &str| s.parse::<usize>().ok();
        let fault = if let Some(v) = name.strip_prefix("slow-first-byte-") {
            millis(v).map(Fault::SlowFirstByte)
        } else if let Some(v) = name.strip_prefix("slow-stream-") {
            millis(v).map(Fault::SlowStream)
        } else if let Some(v) = name.strip_prefix("cut-stream-") {
            count(v).map(Fault::CutStream)
        } else if let Some(v) = name.strip_prefix("abort-stream-") {
            count(v).map(Fault::AbortStream)
        } else {
            match name {
                "reset" => Some(Fault::Reset),
                "truncated-json" => Some(Fault::TruncatedJson),
                "stream-error" => Some(Fault::StreamError),
                code => code
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .map(Fault::Status),
            }
        };
        fault
            .map(Some)
            .ok_or_else(|| format!("mock: unknown fault `{model}`"))
    }
}

/// Which API a route belongs to: its auth rules and the format of its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
    /// Azure OpenAI: OpenAI's error bodies, its own auth.
    Azure,
    Bedrock,
}

/// An error reply, rendered in the route's format.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// OpenAI's `code`; Anthropic bodies have none.
    code: Option<&'static str>,
    param: Option<&'static str>,
    /// AWS's error type (`x-amzn-errortype`), when the status alone does not say it.
    aws_type: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            code: None,
            param: None,
            aws_type: None,
        }
    }

    /// A Bedrock error with its AWS type, e.g. `InvalidSignatureException`.
    pub(crate) fn aws(
        status: StatusCode,
        aws_type: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            aws_type: Some(aws_type),
            ..ApiError::new(status, message)
        }
    }

    /// A 400 about one request field.
    pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param),
            ..ApiError::new(StatusCode::BAD_REQUEST, message)
        }
    }

    /// The reply of `fault-<status>`.
    pub(crate) fn fault(status: StatusCode) -> ApiError {
        let (message, code) = match status.as_u16() {
            400 => ("mock rejected the request", Some("mock_bad_request")),
            401 => ("mock: incorrect API key provided", Some("invalid_api_key")),
            429 => ("mock: rate limit reached", Some("rate_limit_exceeded")),
            503 | 529 => ("mock overloaded", None),
            _ => ("mock fault", None),
        };
        ApiError {
            code,
            ..ApiError::new(status, message)
        }
    }

    pub(crate) fn render(&self, wire: Wire) -> Response<Body> {
        let status = self.status.as_u16();
        let body = match wire {
            Wire::OpenAi | Wire::Azure => {
                let kind = match status {
                    429 => "requests",
                    500.. => "server_error",
                    _ => "invalid_request_error",
                };
                json!({"error": {
                    "message": self.message,
                    "type": kind,
                    "code": self.code,
                    "param": self.param,
                }})
            }
            Wire::Anthropic => {
                let kind = match status {
                    401 => "authentication_error",
                    403 => "permission_error",
                    404 => "not_found_error",
                    413 => "request_too_large",
                    429 => "rate_limit_error",
                    503 | 529 => "overloaded_error",
                    500.. => "api_error",
                    _ => "invalid_request_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": self.message}})
            }
            Wire::Gemini => {
                let kind = match status {
                    400 => "INVALID_ARGUMENT",
                    401 => "UNAUTHENTICATED",
                    403 => "PERMISSION_DENIED",
                    404 => "NOT_FOUND",
                    413 => "INVALID_ARGUMENT",
                    429 => "RESOURCE_EXHAUSTED",
                    503 | 529 => "UNAVAILABLE",
                    504 => "DEADLINE_EXCEEDED",
                    500.. => "INTERNAL",
                    _ => "FAILED_PRECONDITION",
                };
                json!({"error": {"code": status, "message": self.message, "status": kind}})
            }
            Wire::Bedrock => json!({"message": self.message}),
        };
        let mut resp = json_response(self.status, body.to_string());
        if wire == Wire::Bedrock {
            let kind = self.aws_type.unwrap_or(match status {
                403 => "AccessDeniedException",
                404 => "ResourceNotFoundException",
                408 => "ModelTimeoutException",
                424 => "ModelErrorException",
                429 => "ThrottlingException",
                503 | 529 => "ServiceUnavailableException",
                500.. => "InternalServerException",
                _ => "ValidationException",
            });
            resp.headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(kind));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// A route's normal answer, before any fault bends it.
pub(crate) enum Reply {
    Json(Value),
    Stream(Sse),
    /// AWS's binary event stream: the same four parts, each a framed message (see `eventstream`).
    EventStream(Sse),
}

/// An event stream in four parts, so faults can cut it at the right place: `prelude` (before any
/// content), one event per `content` chunk, the `epilogue` (finish, usage, terminator), and the
/// in-band `error` event that `fault-stream-error` sends instead of the rest.
pub(crate) struct Sse {
    pub(crate) prelude: Vec<Bytes>,
    pub(crate) content: Vec<Bytes>,
    pub(crate) epilogue: Vec<Bytes>,
    pub(crate) error: Bytes,
}

/// Writes `reply` as bent by `fault`; faults that act before the answer (status, reset, slow
/// first byte) were handled by the caller and leave it untouched here.
pub(crate) fn render(reply: Reply, fault: Option<Fault>) -> Response<Body> {
    match reply {
        Reply::Json(value) => {
            let mut text = value.to_string();
            if fault == Some(Fault::TruncatedJson) {
                text.truncate(floor_char_boundary(&text, text.len() / 2));
            }
            json_response(StatusCode::OK, text)
        }
        Reply::Stream(sse) => stream_response(sse, fault, false),
        Reply::EventStream(frames) => stream_response(frames, fault, true),
    }
}

/// `aws`: the events are event-stream frames rather than SSE text.
fn stream_response(sse: Sse, fault: Option<Fault>, aws: bool) -> Response<Body> {
    let Sse {
        prelude,
        content,
        epilogue,
        error,
    } = sse;
    let mut events = prelude;
    let mut pace = None;
    let mut abort = false;
    match fault {
        Some(Fault::CutStream(n)) => events.extend(content.into_iter().take(n)),
        Some(Fault::AbortStream(n)) => {
            events.extend(content.into_iter().take(n));
            abort = true;
        }
        Some(Fault::StreamError) => {
            events.extend(content.into_iter().take(CHUNKS_BEFORE_ERROR));
            events.push(error);
        }
        Some(Fault::TruncatedJson) if aws => {
            events.extend(content.first().map(eventstream::truncate));
        }
        Some(Fault::TruncatedJson) => events.extend(content.first().map(truncate_event)),
        _ => {
            if let Some(Fault::SlowStream(delay)) = fault {
                pace = Some(delay);
            }
            events.extend(content);
            events.extend(epilogue);
        }
    }
    let paced = futures_util::stream::iter(events.into_iter().enumerate()).then(
        move |(i, event)| async move {
            if let Some(delay) = pace
                && i > 0
            {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, io::Error>(event)
        },
    );
    // An error from the body stream makes hyper drop the connection before the final chunk, and
    // with it whatever it has not yet written; the pause first lets it flush what came before.
    let tail = futures_util::stream::iter(abort.then_some(())).then(|()| async {
        tokio::time::sleep(ABORT_FLUSH_PAUSE).await;
        Err(io::Error::other("mock aborted the stream"))
    });
    let mut resp = Response::new(Body::from_stream(paced.chain(tail)));
    let headers = resp.headers_mut();
    let content_type = if aws {
        "application/vnd.amazon.eventstream"
    } else {
        "text/event-stream"
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// One event whose JSON stops halfway, still terminated so an SSE parser hands it over.
fn truncate_event(event: &Bytes) -> Bytes {
    let text = String::from_utf8_lossy(event);
    let body = text.trim_end();
    let cut = &body[..floor_char_boundary(body, body.len() / 2)];
    Bytes::from(format!("{cut}\n\n"))
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `data: {json}` + blank line: an OpenAI stream event.
pub(crate) fn data_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: NAME` + `data: {json}` + blank line: an Anthropic stream event.
pub(crate) fn named_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names() {
        let ms = Duration::from_millis;
        let cases = [
            ("gpt-4o-mini", Ok(None)),
            (
                "fault-500",
                Ok(Some(Fault::Status(StatusCode::INTERNAL_SERVER_ERROR))),
            ),
            (
                "fault-429",
                Ok(Some(Fault::Status(StatusCode::TOO_MANY_REQUESTS))),
            ),
            ("fault-reset", Ok(Some(Fault::Reset))),
            (
                "fault-slow-first-byte-250",
                Ok(Some(Fault::SlowFirstByte(ms(250)))),
            ),
            ("fault-slow-stream-5", Ok(Some(Fault::SlowStream(ms(5))))),
            ("fault-truncated-json", Ok(Some(Fault::TruncatedJson))),
            ("fault-cut-stream-3", Ok(Some(Fault::CutStream(3)))),
            ("fault-abort-stream-0", Ok(Some(Fault::AbortStream(0)))),
            ("fault-stream-error", Ok(Some(Fault::StreamError))),
            ("fault-200", Err(())),
            ("fault-cut-stream-x", Err(())),
            ("fault-typo", Err(())),
        ];
        for (model, expect) in cases {
            assert_eq!(Fault::parse(model).map_err(|_| ()), expect, "{model}");
        }
    }

    #[test]
    fn truncated_event_keeps_the_terminator() {
        let event = data_event(&json!({"text": "héllo wörld"}));
        let cut = truncate_event(&event);
        assert!(cut.ends_with(b"\n\n"));
        assert!(cut.len() < event.len());
    }
}
