//! A mock OpenTelemetry collector: `POST /v1/traces` (OTLP/HTTP, protobuf) decoded with
//! `opentelemetry-proto` and kept in memory; `GET /spans` serves them as JSON for tests;
//! `POST /__otlp/mode` makes it answer `ok`, `fail` (500) or `slow` (`delay_ms` before answering),
//! to play a collector that is down or slow. `GET /__otlp/stats` counts export requests.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The most spans kept; older ones go first.
const MAX_SPANS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Fail,
    Slow(Duration),
}

struct Inner {
    spans: Vec<Value>,
    mode: Mode,
    requests: u64,
    refused: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running receiver; dropping it stops it.
pub struct OtlpReceiver {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OtlpReceiver {
    pub async fn start_on(addr: SocketAddr) -> io::Result<OtlpReceiver> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(Inner {
            spans: Vec::new(),
            mode: Mode::Ok,
            requests: 0,
            refused: 0,
        }));
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .route("/spans", get(spans).delete(clear))
            .route("/__otlp/mode", post(mode))
            .route("/__otlp/stats", get(stats))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(OtlpReceiver { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`: the `[telemetry] endpoint`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received, as `GET /spans` serves them.
    pub fn spans(&self) -> Vec<Value> {
        self.shared
            .lock()
            .map(|s| s.spans.clone())
            .unwrap_or_default()
    }

    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut s) = self.shared.lock() {
            s.mode = mode;
        }
    }
}

async fn traces(State(shared): State<Shared>, body: Bytes) -> Response {
    let mode = match shared.lock() {
        Ok(mut s) => {
            s.requests += 1;
            s.mode
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match mode {
        Mode::Fail => {
            if let Ok(mut s) = shared.lock() {
                s.refused += 1;
            }
            return (StatusCode::INTERNAL_SERVER_ERROR, "collector down").into_response();
        }
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Ok => {}
    }
    let req = match ExportTraceServiceRequest::decode(body.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("not OTLP protobuf: {e}")).into_response();
        }
    };
    let decoded = flatten(req);
    if let Ok(mut s) = shared.lock() {
        s.spans.extend(decoded);
        let over = s.spans.len().saturating_sub(MAX_SPANS);
        s.spans.drain(..over);
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

async fn spans(State(shared): State<Shared>) -> Response {
    let spans = shared.lock().map(|s| s.spans.clone()).unwrap_or_default();
    axum::Json(Value::Array(spans)).into_response()
}

async fn clear(State(shared): State<Shared>) -> StatusCode {
    if let Ok(mut s) = shared.lock() {
        s.spans.clear();
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(shared): State<Shared>) -> Response {
    let (requests, refused, spans) = shared
        .lock()
        .map(|s| (s.requests, s.refused, s.spans.len()))
        .unwrap_or_default();
    axum::Json(json!({"requests": requests, "refused": refused, "spans": spans})).into_response()
}

/// `{"mode": "ok" | "fail" | "slow", "delay_ms": N}`.
async fn mode(State(shared): State<Shared>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "expected JSON").into_response();
    };
    let m = match v.get("mode").and_then(Value::as_str) {
        Some("ok") => Mode::Ok,
        Some("fail") => Mode::Fail,
        Some("slow") => Mode::Slow(Duration::from_millis(
            v.get("delay_ms").and_then(Value::as_u64).unwrap_or(10_000),
        )),
        _ => return (StatusCode::BAD_REQUEST, "mode: ok, fail or slow").into_response(),
    };
    if let Ok(mut s) = shared.lock() {
        s.mode = m;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value(v: Option<&AnyValue>) -> Value {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::IntValue(n)) => json!(n),
        Some(any_value::Value::DoubleValue(n)) => json!(n),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| value(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(l)) => Value::Object(attributes(&l.values)),
        Some(any_value::Value::BytesValue(b)) => json!(hex(b)),
        Some(any_value::Value::StringValueStrindex(n)) => json!(n),
        None => Value::Null,
    }
}

fn attributes(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), value(kv.value.as_ref())))
        .collect()
}

/// Every span of an export, with its resource's attributes beside it.
fn flatten(req: ExportTraceServiceRequest) -> Vec<Value> {
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            let scope = ss.scope.map(|s| s.name).unwrap_or_default();
            for s in ss.spans {
                let kind = match s.kind {
                    1 => "internal",
                    2 => "server",
                    3 => "client",
                    4 => "producer",
                    5 => "consumer",
                    _ => "unspecified",
                };
                let status = match s.status.map(|st| st.code) {
                    Some(1) => "ok",
                    Some(2) => "error",
                    _ => "unset",
                };
                let events: Vec<Value> = s
                    .events
                    .iter()
                    .map(|e| {
                        json!({"name": e.name, "time_unix_nano": e.time_unix_nano,
                                    "attributes": attributes(&e.attributes)})
                    })
                    .collect();
                out.push(json!({
                    "trace_id": hex(&s.trace_id),
                    "span_id": hex(&s.span_id),
                    "parent_span_id": hex(&s.parent_span_id),
                    "name": s.name,
                    "kind": kind,
                    "start_time_unix_nano": s.start_time_unix_nano,
                    "end_time_unix_nano": s.end_time_unix_nano,
                    "attributes": attributes(&s.attributes),
                    "events": events,
                    "status": status,
                    "scope": scope,
                    "resource": resource,
                }));
            }
        }
    }
    out
}
