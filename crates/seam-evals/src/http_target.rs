//! promptfoo's `http` provider: any HTTP API as a suite's target. The request is built from the
//! provider's `config` — `url`, `method` (POST when there is a `body`, else GET), `headers`,
//! `queryParams`, `body` (an object, whose every string is rendered with the test's vars and
//! `{{prompt}}`, sent as JSON; or a string, rendered and sent as text) — after an optional
//! `transformRequest` (JavaScript over `prompt`, `vars`, `context`) changed the prompt. The
//! answer is the parsed JSON (else the text), or what `transformResponse` (JavaScript over
//! `json`, `text`, `context`) made of it. JavaScript runs in the [`crate::js`] sandbox;
//! `file://` transforms are modules and are refused when the suite is loaded.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::js::{self, Limits};
use crate::{EvalError, Output, template};

/// The most of an answer read (bigger answers are an error, not an unbounded buffer).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The `config` keys this provider implements; any other is refused up front.
const KNOWN: &[&str] = &[
    "url",
    "method",
    "headers",
    "body",
    "queryParams",
    "transformRequest",
    "transformResponse",
];

/// An `http` provider as the suite describes it (templates not yet rendered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub transform_request: Option<String>,
    pub transform_response: Option<String>,
}

/// Whether a provider id names promptfoo's `http` provider.
pub fn is_http(id: &str) -> bool {
    id == "http" || id == "https" || id.starts_with("http:") || id.starts_with("https:")
}

fn err(path: impl Into<String>, m: impl Into<String>) -> EvalError {
    EvalError::suite(path, m)
}

fn code(v: &Value, path: &str) -> Result<String, EvalError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => {
            js::check_code(s, path)?;
            Ok(s.clone())
        }
        _ => Err(err(path, "must be JavaScript code (a string)")),
    }
}

fn pairs(v: &Value, path: &str) -> Result<Vec<(String, String)>, EvalError> {
    let Some(m) = v.as_object() else {
        return Err(err(path, "must be a mapping"));
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
            _ => Err(err(format!("{path}.{k}"), "must be a string")),
        })
        .collect()
}

impl HttpTarget {
    /// Reads the provider's `config`; `path` is the provider's place in the suite.
    pub fn parse(
        id: &str,
        config: &Map<String, Value>,
        path: &str,
    ) -> Result<HttpTarget, EvalError> {
        if let Some(k) = config.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(err(
                format!("{path}.config.{k}"),
                format!(
                    "is not supported by seam eval's http provider (it takes {})",
                    KNOWN.join(", ")
                ),
            ));
        }
        let url = match config.get("url") {
            Some(Value::String(u)) => u.clone(),
            Some(_) => return Err(err(format!("{path}.config.url"), "must be a string")),
            None if id.starts_with("http://") || id.starts_with("https://") => id.to_owned(),
            None => {
                return Err(err(
                    format!("{path}.config.url"),
                    format!("is required for `{id}` (the endpoint to call)"),
                ));
            }
        };
        let body = config.get("body").filter(|b| !b.is_null()).cloned();
        let method = match config.get("method") {
            None => if body.is_some() { "POST" } else { "GET" }.to_owned(),
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_ascii_uppercase(),
            Some(_) => return Err(err(format!("{path}.config.method"), "must be a string")),
        };
        reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| err(format!("{path}.config.method"), "is not an HTTP method"))?;
        let headers = match config.get("headers") {
            None => Vec::new(),
            Some(h) => pairs(h, &format!("{path}.config.headers"))?,
        };
        let query = match config.get("queryParams") {
            None => Vec::new(),
            Some(q) => pairs(q, &format!("{path}.config.queryParams"))?,
        };
        let transform_request = config
            .get("transformRequest")
            .map(|v| code(v, &format!("{path}.config.transformRequest")))
            .transpose()?;
        let transform_response = config
            .get("transformResponse")
            .map(|v| code(v, &format!("{path}.config.transformResponse")))
            .transpose()?;
        Ok(HttpTarget {
            url,
            method,
            headers,
            query,
            body,
            transform_request,
            transform_response,
        })
    }
}

/// One request, rendered: what is sent (and what record/replay keys on, headers aside: they may
/// hold keys).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Request {
    /// The record/replay identity of this request and the response transform applied to it.
    pub fn cache_body(&self, t: &HttpTarget) -> Value {
        json!({
            "http": {
                "method": self.method,
                "query": self.query,
                "body": self.body,
                "transformResponse": t.transform_response,
            }
        })
    }
}

/// A string that is only `{{ prompt }}`.
fn is_prompt_only(s: &str) -> bool {
    s.trim()
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .is_some_and(|inner| inner.trim() == "prompt")
}

fn render_body(
    v: &Value,
    vars: &Map<String, Value>,
    prompt: &Value,
    path: &str,
) -> Result<Value, EvalError> {
    Ok(match v {
        // A transformed prompt that is an object stands in whole for a `{{prompt}}` leaf.
        Value::String(s) if is_prompt_only(s) && !prompt.is_string() => prompt.clone(),
        Value::String(s) => Value::String(template::render(s, vars, path)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_body(x, vars, prompt, path))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), render_body(x, vars, prompt, path)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
        other => other.clone(),
    })
}

/// The request for `prompt` with the test's `vars`: `transformRequest` first, then every
/// template rendered.
///
/// # Errors
/// [`EvalError::Provider`] when `transformRequest` fails; [`EvalError::Suite`] for a template
/// that does not render.
pub async fn prepare(
    t: &HttpTarget,
    prompt: &str,
    vars: &Map<String, Value>,
    path: &str,
) -> Result<Request, EvalError> {
    let prompt_value = match &t.transform_request {
        None => Value::String(prompt.to_owned()),
        Some(code) => {
            let r = js::call_blocking(
                &["prompt", "vars", "context"],
                function_body(code, &["prompt", "vars", "context"], true),
                vec![
                    Value::String(prompt.to_owned()),
                    Value::Object(vars.clone()),
                    json!({"vars": vars, "prompt": {"raw": prompt}}),
                ],
                Limits::default(),
            )
            .await
            .map_err(|e| EvalError::Provider(format!("transformRequest failed: {e}")))?;
            match (r.kind.as_str(), r.value) {
                ("undefined", _) | (_, None) => Value::Null,
                (_, Some(v)) => v,
            }
        }
    };
    let mut with_prompt = vars.clone();
    with_prompt.insert("prompt".into(), prompt_value.clone());
    let headers = t
        .headers
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                template::render(v, &with_prompt, &format!("{path}.config.headers.{k}"))?,
            ))
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    let query = t
        .query
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                template::render(v, &with_prompt, &format!("{path}.config.queryParams.{k}"))?,
            ))
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    let body = t
        .body
        .as_ref()
        .map(|b| {
            render_body(
                b,
                &with_prompt,
                &prompt_value,
                &format!("{path}.config.body"),
            )
        })
        .transpose()?;
    Ok(Request {
        method: t.method.clone(),
        url: template::render(&t.url, &with_prompt, &format!("{path}.config.url"))?,
        query,
        headers,
        body,
    })
}

/// promptfoo's body for a request/response transform: a function expression is called with
/// the arguments; otherwise (`transformRequest` only) code with a `return` is the body; else
/// the code is an expression whose value is returned.
fn function_body(code: &str, params: &[&str], body_with_return: bool) -> String {
    let code = code.trim();
    let arrow = regex::Regex::new(r"^(\(.*?\)\s*=>|function\s*\(.*?\))")
        .map(|re| re.is_match(code))
        .unwrap_or(false);
    if arrow {
        return format!("return ({code})({});", params.join(", "));
    }
    let has_return = regex::Regex::new(r"\breturn\b")
        .map(|re| re.is_match(code))
        .unwrap_or(false);
    if body_with_return && has_return {
        return code.to_owned();
    }
    format!("return ({code});")
}

/// Sends `req` and turns the answer into an [`Output`] (through `transformResponse`).
///
/// # Errors
/// [`EvalError::Provider`] for a failed request, a non-2xx status, an answer over 16 MiB, or a
/// `transformResponse` that fails or returns an `error`.
pub async fn send(
    t: &HttpTarget,
    http: &reqwest::Client,
    req: &Request,
    timeout: Duration,
) -> Result<Output, EvalError> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| EvalError::Provider(format!("{}: not an HTTP method", req.method)))?;
    let mut url = reqwest::Url::parse(&req.url).map_err(|e| {
        EvalError::Provider(format!("{}: not a URL ({e})", without_query(&req.url)))
    })?;
    if !req.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&req.query);
    }
    let mut r = http.request(method, url).timeout(timeout);
    let has_type = req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    match &req.body {
        None => {}
        Some(Value::String(s)) => {
            if !has_type {
                r = r.header(reqwest::header::CONTENT_TYPE, "text/plain");
            }
            r = r.body(s.clone());
        }
        Some(other) => {
            if !has_type {
                r = r.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            r = r.body(other.to_string());
        }
    }
    let where_ = without_query(&req.url);
    let start = Instant::now();
    let mut resp = r
        .send()
        .await
        .map_err(|e| EvalError::Provider(format!("{where_}: {}", e.without_url())))?;
    let status = resp.status();
    let headers: Map<String, Value> = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_owned(),
                Value::String(v.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        EvalError::Provider(format!(
            "{where_}: the answer was cut ({})",
            e.without_url()
        ))
    })? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(EvalError::Provider(format!(
                "{where_}: the answer is over {} MiB",
                MAX_ANSWER_BYTES / (1024 * 1024)
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !status.is_success() {
        let snippet: String = text.chars().take(200).collect();
        return Err(EvalError::Provider(format!(
            "{where_}: HTTP {} ({snippet})",
            status.as_u16()
        )));
    }
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let output = match &t.transform_response {
        None => match parsed {
            Some(v) if truthy(&v) => v,
            _ => Value::String(text),
        },
        Some(code) => {
            let context = json!({"response": {
                "data": parsed,
                "status": status.as_u16(),
                "statusText": status.canonical_reason().unwrap_or(""),
                "headers": headers,
            }});
            let r = js::call_blocking(
                &["json", "text", "context"],
                function_body(code, &["json", "text", "context"], false),
                vec![parsed.unwrap_or(Value::Null), Value::String(text), context],
                Limits::default(),
            )
            .await
            .map_err(|e| EvalError::Provider(format!("transformResponse failed: {e}")))?;
            response_output(r)?
        }
    };
    let mut out = crate::assertions::with_value(&Output::default(), output);
    out.latency_ms = took.as_secs_f64() * 1000.0;
    Ok(out)
}

/// JavaScript's truthiness, for promptfoo's `data || text`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// What `transformResponse` returned, as promptfoo reads it: a string is the output; an object
/// with `output` (or `error`) is a provider response; anything else is the output itself.
fn response_output(r: js::JsValue) -> Result<Value, EvalError> {
    match (r.kind.as_str(), r.value) {
        ("undefined", _) | (_, None | Some(Value::Null)) => Err(EvalError::Provider(
            "transformResponse returned no output".into(),
        )),
        (_, Some(Value::Object(o))) if o.contains_key("error") && !o["error"].is_null() => {
            Err(EvalError::Provider(format!(
                "transformResponse: {}",
                o["error"]
                    .as_str()
                    .map_or_else(|| o["error"].to_string(), str::to_owned)
            )))
        }
        (_, Some(Value::Object(o))) if o.contains_key("output") => match &o["output"] {
            Value::Null => Err(EvalError::Provider(
                "transformResponse returned no output".into(),
            )),
            v => Ok(v.clone()),
        },
        (_, Some(v)) => Ok(v),
    }
}

/// The URL without its query string, for errors (a query may carry a key).
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_bodies_follow_promptfoo() {
        let p = &["json", "text", "context"];
        assert_eq!(
            function_body("json.output", p, false),
            "return (json.output);"
        );
        assert_eq!(
            function_body("(json, text) => json.a", p, false),
            "return ((json, text) => json.a)(json, text, context);"
        );
        let q = &["prompt", "vars", "context"];
        assert_eq!(
            function_body("const x = prompt.trim(); return {q: x}", q, true),
            "const x = prompt.trim(); return {q: x}"
        );
        assert_eq!(
            function_body("prompt.toUpperCase()", q, true),
            "return (prompt.toUpperCase());"
        );
    }

    #[test]
    fn config_is_checked_up_front() {
        let cfg = |v: Value| v.as_object().cloned().unwrap_or_default();
        let ok = HttpTarget::parse(
            "https://api.example.com/chat",
            &cfg(json!({"body": {"q": "{{prompt}}"}})),
            "providers[0]",
        );
        assert_eq!(
            ok.map(|t| (t.url, t.method)),
            Ok(("https://api.example.com/chat".into(), "POST".into()))
        );
        let cases = [
            ("http", json!({}), "providers[0].config.url: is required"),
            (
                "https",
                json!({"url": "http://x", "tls": {}}),
                "providers[0].config.tls: is not supported",
            ),
            (
                "https",
                json!({"url": "http://x", "transformResponse": "file://parse.js"}),
                "providers[0].config.transformResponse: JavaScript files",
            ),
            (
                "https",
                json!({"url": "http://x", "method": "NOT A METHOD"}),
                "providers[0].config.method",
            ),
        ];
        for (id, c, want) in cases {
            let e =
                HttpTarget::parse(id, &cfg(c.clone()), "providers[0]").map_err(|e| e.to_string());
            assert!(e.as_ref().is_err_and(|m| m.starts_with(want)), "{c}: {e:?}");
        }
    }
}
