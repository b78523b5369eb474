//! The accept loop, one hyper connection per socket, and the dispatch every request goes through:
//! read the body, record it, route it, check auth, apply the model's fault, answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::faults::{self, ApiError, Fault, Reply, Wire};
use crate::{Recorded, Shared, anthropic, openai};

/// Largest request body the mock reads; larger ones get a 413.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Accepts connections until the task is aborted; dropping the `JoinSet` then aborts every
/// connection still open.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection until the client is done or a handler pulls the kill switch.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, so the kill path can set SO_LINGER to zero (close sends RST)
    // while hyper owns the stream. Only the kill path sets it: on a normal close it would discard
    // unsent response bytes.
    let Ok((stream, twin)) = split_handle(stream) else {
        return;
    };
    let kill = Arc::new(Notify::new());
    let service = {
        let kill = Arc::clone(&kill);
        hyper::service::service_fn(move |req| {
            let shared = Arc::clone(&shared);
            let kill = Arc::clone(&kill);
            async move { Ok::<_, Infallible>(handle(&shared, &kill, req).await) }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        () = kill.notified() => {
            let _ = twin.set_zero_linger();
        }
    }
}

fn split_handle(stream: TcpStream) -> std::io::Result<(TcpStream, TcpSocket)> {
    let std_stream = stream.into_std()?;
    let twin = TcpSocket::from_std_stream(std_stream.try_clone()?);
    Ok((TcpStream::from_std(std_stream)?, twin))
}

async fn handle(shared: &Shared, kill: &Notify, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let wire = if path == "/v1/messages" {
        Wire::Anthropic
    } else {
        Wire::OpenAi
    };
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), MAX_BODY).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "mock: request body too large",
        )
        .render(wire);
    };
    let body = parse_body(&bytes);
    let seq = shared.record(Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    });
    let headers = &parts.headers;
    match (&parts.method, path.as_str()) {
        (&Method::POST, "/v1/chat/completions") => {
            model_call(kill, wire, headers, &body, |b| openai::chat(b, seq)).await
        }
        (&Method::POST, "/v1/embeddings") => {
            model_call(kill, wire, headers, &body, openai::embeddings).await
        }
        (&Method::POST, "/v1/messages") => {
            model_call(kill, wire, headers, &body, |b| anthropic::messages(b, seq)).await
        }
        (&Method::GET, "/v1/models") => match check_auth(wire, headers) {
            Ok(()) => faults::render(Reply::Json(openai::models()), None),
            Err(e) => e.render(wire),
        },
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("mock: no route for {} {path}", parts.method),
        )
        .render(wire),
    }
}

/// `Null` for an empty body, the parsed JSON, or the text as a JSON string when it is not JSON.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The shared path of every route that takes a `model`: auth, then the model's fault, then the
/// route's answer bent by that fault.
async fn model_call(
    kill: &Notify,
    wire: Wire,
    headers: &HeaderMap,
    body: &Value,
    answer: impl FnOnce(&Value) -> Result<Reply, ApiError>,
) -> Response<Body> {
    if let Err(e) = check_auth(wire, headers) {
        return e.render(wire);
    }
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return ApiError::invalid(
            "model",
            "mock: the body must be a JSON object with a string `model`",
        )
        .render(wire);
    };
    let fault = match Fault::parse(model) {
        Ok(f) => f,
        Err(msg) => return ApiError::invalid("model", msg).render(wire),
    };
    match fault {
        Some(Fault::Status(status)) => return ApiError::fault(status).render(wire),
        Some(Fault::Reset) => {
            // The connection task drops the socket and, over HTTP/1, this future with it. An
            // HTTP/2 stream runs in its own task, so it gives up after a while rather than never.
            kill.notify_one();
            tokio::time::sleep(Duration::from_secs(60)).await;
            return ApiError::fault(StatusCode::INTERNAL_SERVER_ERROR).render(wire);
        }
        Some(Fault::SlowFirstByte(delay)) => tokio::time::sleep(delay).await,
        _ => {}
    }
    match answer(body) {
        Ok(reply) => faults::render(reply, fault),
        Err(e) => e.render(wire),
    }
}

fn check_auth(wire: Wire, headers: &HeaderMap) -> Result<(), ApiError> {
    let present = |name: &str| {
        headers
            .get(name)
            .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
    };
    match wire {
        Wire::OpenAi => match headers.get(AUTHORIZATION) {
            None => Ok(()),
            Some(v) => match v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
                Some(token) if !token.trim().is_empty() => Ok(()),
                _ => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "mock: the Authorization header must be `Bearer <key>`",
                )),
            },
        },
        Wire::Anthropic if !present("x-api-key") => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "mock: x-api-key header is required",
        )),
        Wire::Anthropic if !present("anthropic-version") => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "mock: anthropic-version header is required",
        )),
        Wire::Anthropic => Ok(()),
    }
}
