//! The accept loop, one hyper connection per socket, and the dispatch every request goes through:
//! route it by path, read the body, record it, check auth, apply the model's fault, answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::faults::{self, ApiError, Fault, Reply, Wire};
use crate::{
    Recorded, Shared, anthropic, azure, bedrock, gemini, inspect, openai, responses, sigv4,
};

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

/// Where a request goes: the API it belongs to and, for APIs that name the model in the URL,
/// that model.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    OpenAiChat,
    OpenAiResponses,
    OpenAiEmbeddings,
    OpenAiModels,
    Messages,
    Gemini {
        model: String,
        method: GeminiMethod,
    },
    Azure {
        deployment: String,
        embeddings: bool,
    },
    Bedrock {
        model: String,
        stream: bool,
    },
    NotFound(Wire),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GeminiMethod {
    Generate,
    StreamGenerate,
    BatchEmbed,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Route {
        let post = method == Method::POST;
        match (post, path) {
            (true, "/v1/chat/completions") => return Route::OpenAiChat,
            (true, "/v1/responses") => return Route::OpenAiResponses,
            (true, "/v1/embeddings") => return Route::OpenAiEmbeddings,
            (true, "/v1/messages") => return Route::Messages,
            (false, "/v1/models") if method == Method::GET => return Route::OpenAiModels,
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/v1beta/") {
            let found = rest.rsplit_once(':').and_then(|(resource, m)| {
                let model = resource.strip_prefix("models/")?;
                let method = match m {
                    "generateContent" => GeminiMethod::Generate,
                    "streamGenerateContent" => GeminiMethod::StreamGenerate,
                    "batchEmbedContents" => GeminiMethod::BatchEmbed,
                    _ => return None,
                };
                Some(Route::Gemini {
                    model: percent_decode(model),
                    method,
                })
            });
            return found
                .filter(|_| post)
                .unwrap_or(Route::NotFound(Wire::Gemini));
        }
        if let Some(rest) = path.strip_prefix("/openai/deployments/") {
            let found = rest.split_once('/').and_then(|(d, op)| {
                let embeddings = match op {
                    "chat/completions" => false,
                    "embeddings" => true,
                    _ => return None,
                };
                Some(Route::Azure {
                    deployment: percent_decode(d),
                    embeddings,
                })
            });
            return found
                .filter(|_| post)
                .unwrap_or(Route::NotFound(Wire::Azure));
        }
        if let Some(rest) = path.strip_prefix("/model/") {
            let found = rest.split_once('/').and_then(|(id, op)| {
                let stream = match op {
                    "converse" => false,
                    "converse-stream" => true,
                    _ => return None,
                };
                Some(Route::Bedrock {
                    model: percent_decode(id),
                    stream,
                })
            });
            return found
                .filter(|_| post)
                .unwrap_or(Route::NotFound(Wire::Bedrock));
        }
        Route::NotFound(if path == "/v1/messages" {
            Wire::Anthropic
        } else {
            Wire::OpenAi
        })
    }

    fn wire(&self) -> Wire {
        match self {
            Route::OpenAiChat
            | Route::OpenAiResponses
            | Route::OpenAiEmbeddings
            | Route::OpenAiModels => Wire::OpenAi,
            Route::Messages => Wire::Anthropic,
            Route::Gemini { .. } => Wire::Gemini,
            Route::Azure { .. } => Wire::Azure,
            Route::Bedrock { .. } => Wire::Bedrock,
            Route::NotFound(wire) => *wire,
        }
    }

    /// The model named in the URL, if this API puts it there.
    fn path_model(&self) -> Option<&str> {
        match self {
            Route::Gemini { model, .. } | Route::Bedrock { model, .. } => Some(model),
            Route::Azure { deployment, .. } => Some(deployment),
            _ => None,
        }
    }
}

/// `%XX` escapes decoded (a Bedrock model id arrives as `a.b-v1%3A0`); invalid ones kept as sent.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(shared: &Shared, kill: &Notify, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    // Inspection is not traffic: it is answered before the body is read, and never recorded.
    if path.starts_with(inspect::PREFIX) {
        return inspect::handle(shared, &parts.method, &path);
    }
    let route = Route::parse(&parts.method, &path);
    let wire = route.wire();
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
        path_model: route.path_model().map(str::to_owned),
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
    let auth = || check_auth(wire, &parts, &bytes);
    match &route {
        Route::OpenAiChat => {
            model_call(kill, wire, auth(), None, &body, |b| openai::chat(b, seq)).await
        }
        Route::OpenAiResponses => {
            model_call(kill, wire, auth(), None, &body, |b| {
                responses::responses(b, seq)
            })
            .await
        }
        Route::OpenAiEmbeddings => {
            model_call(kill, wire, auth(), None, &body, openai::embeddings).await
        }
        Route::Messages => {
            model_call(kill, wire, auth(), None, &body, |b| {
                anthropic::messages(b, seq)
            })
            .await
        }
        Route::OpenAiModels => match auth() {
            Ok(()) => faults::render(Reply::Json(openai::models()), None),
            Err(e) => e.render(wire),
        },
        Route::Gemini { model, method } => {
            let sse = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
            let answer = |b: &Value| match method {
                GeminiMethod::Generate => gemini::generate(b, model, seq, false),
                // Without `alt=sse` Gemini streams one long JSON array instead of events.
                GeminiMethod::StreamGenerate if !sse => Err(ApiError::invalid(
                    "alt",
                    "mock: streamGenerateContent needs alt=sse to answer with server-sent events",
                )),
                GeminiMethod::StreamGenerate => gemini::generate(b, model, seq, true),
                GeminiMethod::BatchEmbed => gemini::batch_embed(b, model),
            };
            model_call(kill, wire, auth(), Some(model), &body, answer).await
        }
        Route::Azure {
            deployment,
            embeddings,
        } => {
            let answer = |b: &Value| {
                if *embeddings {
                    azure::embeddings(b, deployment)
                } else {
                    azure::chat(b, deployment, seq)
                }
            };
            model_call(kill, wire, auth(), Some(deployment), &body, answer).await
        }
        Route::Bedrock { model, stream } => {
            let answer = |b: &Value| bedrock::converse(b, seq, *stream);
            let mut resp = model_call(kill, wire, auth(), Some(model), &body, answer).await;
            // Every Bedrock answer names its request; Seam turns it into the completion id.
            if let Ok(id) = HeaderValue::from_str(&format!("mock-request-{seq}")) {
                resp.headers_mut().insert("x-amzn-requestid", id);
            }
            resp
        }
        Route::NotFound(_) => ApiError::new(
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

/// The shared path of every route that takes a model: auth, then the model's fault, then the
/// route's answer bent by that fault. `path_model` is the model the URL names, for APIs that put
/// it there; otherwise it comes from the body.
async fn model_call(
    kill: &Notify,
    wire: Wire,
    auth: Result<(), ApiError>,
    path_model: Option<&str>,
    body: &Value,
    answer: impl FnOnce(&Value) -> Result<Reply, ApiError>,
) -> Response<Body> {
    if let Err(e) = auth {
        return e.render(wire);
    }
    let Some(model) = path_model.or_else(|| body.get("model").and_then(Value::as_str)) else {
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

fn check_auth(wire: Wire, parts: &http::request::Parts, body: &[u8]) -> Result<(), ApiError> {
    let headers = &parts.headers;
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
        Wire::Gemini if !present("x-goog-api-key") => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "mock: Method doesn't allow unregistered callers; send the key in x-goog-api-key",
        )),
        Wire::Gemini => Ok(()),
        Wire::Azure if !present("api-key") => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "mock: Access denied due to a missing api-key header",
        )),
        Wire::Azure => {
            let version = parts
                .uri
                .query()
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|p| p.strip_prefix("api-version=").filter(|v| !v.is_empty()));
            match version {
                Some(_) => Ok(()),
                None => Err(ApiError::invalid(
                    "api-version",
                    "mock: Missing required query parameter: api-version",
                )),
            }
        }
        Wire::Bedrock => sigv4::verify(parts.method.as_str(), &parts.uri, headers, body),
    }
}
