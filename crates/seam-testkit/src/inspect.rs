//! The `/__mock/` routes: the request log over HTTP, for tests that run the mock out of process
//! (the `seam-mock` binary) and cannot call [`crate::MockUpstream::requests`]. Requests to these
//! routes are never recorded themselves.

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::faults::{self, ApiError, Reply, Wire};
use crate::{Recorded, Shared};

/// The path prefix of every inspection route.
pub(crate) const PREFIX: &str = "/__mock/";

/// Answers a request whose path starts with [`PREFIX`].
pub(crate) fn handle(shared: &Shared, method: &Method, path: &str) -> Response<Body> {
    match (method, path.strip_prefix(PREFIX)) {
        (&Method::GET, Some("requests")) => {
            let requests: Vec<Value> = shared
                .snapshot()
                .iter()
                .enumerate()
                .map(|(seq, r)| to_json(seq, r))
                .collect();
            faults::render(Reply::Json(json!({ "requests": requests })), None)
        }
        (&Method::DELETE, Some("requests")) => {
            shared.clear();
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("mock: no route for {method} {path}"),
        )
        .render(Wire::OpenAi),
    }
}

/// One log entry as JSON. A repeated header's values are joined with `", "`, as HTTP allows.
fn to_json(seq: usize, r: &Recorded) -> Value {
    let mut headers = Map::new();
    for (name, value) in &r.headers {
        match headers.get_mut(name) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    json!({
        "seq": seq,
        "method": r.method,
        "path": r.path,
        "path_model": r.path_model,
        "headers": headers,
        "body": r.body,
    })
}
