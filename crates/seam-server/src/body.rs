//! Reading request bodies: capped before they are buffered, parsed with the failing field's path.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use seam_types::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;

/// Reads at most `cap` bytes; a declared or actual larger body is 413, one that stalls past the
/// listener's deadline (`listen::Deadline`) is 408.
pub async fn read(body: Body, headers: &HeaderMap, cap: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::RequestTooLarge,
            format!(
                "The request body is larger than the limit of {cap} bytes (server.max_body_bytes)"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, cap).await.map_err(|e| {
        let source = std::error::Error::source(&e);
        let over = source.is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            too_large()
        } else if let Some(t) = std::iter::successors(source, |s| s.source())
            .find_map(|s| s.downcast_ref::<crate::listen::BodyTimeout>())
        {
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "The request body did not arrive whole within {} ms of its head \
                     (server.body_timeout_ms)",
                    t.0.as_millis()
                ),
            )
        } else {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "The request body could not be read",
            )
        }
    })
}

/// How deep JSON may nest: serde_json's recursion limit.
pub const MAX_DEPTH: usize = 128;

/// Parses JSON; a syntax error is `invalid_json`, a wrong or missing field is `invalid_request`
/// with `param` set to its path (`messages[0].role`).
///
/// A body is parsed plainly first; only one that fails is parsed again with its path tracked
/// (which costs an allocation per field), so a good request never pays for the error's detail.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "The request body is empty; send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => return Err(describe(e)),
    };
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!(
                "Trailing characters after the JSON object at line {} column {}",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(value)
}

/// As [`json`], from a body already parsed (a rendered prompt's): the same errors, with no
/// second pass over bytes.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if let Ok(v) = T::deserialize(&value) {
        return Ok(v);
    }
    serde_path_to_error::deserialize(value).map_err(describe)
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            // serde's message names the expected type, never the offending value's content beyond
            // a short literal; it is safe to show.
            let msg = inner.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            let (param, msg) = missing_field(&path, &msg);
            let mut err = ApiError::new(ErrorCode::InvalidRequest, msg);
            if param != "." && !param.is_empty() {
                err = err.with_param(param);
            }
            err
        }
        // Valid JSON, but deeper than the parser follows (serde_json stops at 128 levels, which
        // keeps a hostile body from exhausting the stack).
        _ if inner.to_string().starts_with("recursion limit exceeded") => ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "The request body nests JSON more than {MAX_DEPTH} levels deep (line {} column {})",
                inner.line(),
                inner.column()
            ),
        ),
        _ => ApiError::new(
            ErrorCode::InvalidJson,
            format!(
                "The request body is not valid JSON (line {} column {})",
                inner.line(),
                inner.column()
            ),
        ),
    }
}

/// For "missing field `x`" and "unknown field `x`", the param is the field itself, not the
/// object that lacks or holds it.
fn missing_field(path: &str, msg: &str) -> (String, String) {
    let at = |field: &str| {
        if path == "." || path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some(field) = rest.strip_suffix('`')
    {
        let param = at(field);
        let msg = format!("Invalid value for `{param}`: is required");
        return (param, msg);
    }
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        // serde_path_to_error's path already ends with the unknown field.
        let param = if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else {
            at(field)
        };
        let msg = format!("`{param}` is not a known field");
        return (param, msg);
    }
    (
        path.to_owned(),
        format!("Invalid value for `{path}`: {msg}"),
    )
}

/// Reads, parses and validates a request body: the one way every JSON endpoint takes its input.
pub async fn request<T: DeserializeOwned>(
    raw: Body,
    headers: &HeaderMap,
    cap: usize,
    validate: impl FnOnce(&T) -> Result<(), (String, &'static str)>,
) -> Result<T, ApiError> {
    let bytes = read(raw, headers, cap).await?;
    let req: T = json(&bytes)?;
    validate(&req).map_err(invalid)?;
    Ok(req)
}

/// `validate()`'s `(param, why)` as a 400.
pub fn invalid((param, why): (String, &'static str)) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("`{param}` {why}")).with_param(param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use seam_types::chat::ChatRequest;

    type Expect = Result<(), (&'static str, Option<&'static str>)>;

    fn check(body: &str) -> Result<(), (String, Option<String>)> {
        json::<ChatRequest>(body.as_bytes())
            .map(|_| ())
            .map_err(|e| (e.code.into_owned(), e.param))
    }

    #[test]
    fn errors_name_the_param() {
        let cases: &[(&str, Expect)] = &[
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
                Ok(()),
            ),
            ("", Err(("invalid_json", None))),
            ("{", Err(("invalid_json", None))),
            (
                r#"{"model":"m","messages":[]} x"#,
                Err(("invalid_json", None)),
            ),
            (
                r#"{"messages":[]}"#,
                Err(("invalid_request", Some("model"))),
            ),
            (
                r#"{"model":1,"messages":[]}"#,
                Err(("invalid_request", Some("model"))),
            ),
            (
                r#"{"model":"m","messages":[{"content":"x"}]}"#,
                Err(("invalid_request", Some("messages[0].role"))),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
                Err(("invalid_request", Some("stream"))),
            ),
            (r#"[1,2]"#, Err(("invalid_request", None))),
        ];
        for (body, expect) in cases {
            let expect = (*expect).map_err(|(c, p)| (c.to_owned(), p.map(String::from)));
            assert_eq!(check(body), expect, "body {body:?}");
        }
    }

    #[test]
    fn deep_nesting_is_named_not_called_invalid_json() {
        let deep = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"metadata":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = json::<ChatRequest>(deep.as_bytes()).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (400, "invalid_request"));
        assert!(
            e.message.contains("more than 128 levels deep"),
            "{}",
            e.message
        );
        // Within the limit it parses.
        let fine = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"metadata":{}1{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(json::<ChatRequest>(fine.as_bytes()).is_ok());
    }

    proptest! {
        // Whatever arrives, parsing answers with Ok or a 400, never a panic.
        #[test]
        fn arbitrary_bodies_are_ok_or_400(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = json::<ChatRequest>(&bytes) {
                prop_assert_eq!(e.status, 400);
            }
        }

        #[test]
        fn jsonish_bodies_are_ok_or_400(s in r#"\{("(model|messages|role|content|stream|tools|n)": ?(\[|\{|"[a-z]{0,3}"|[0-9]{1,3}|true|null)[\]\}]?,? ?){0,8}\}?"#) {
            if let Err(e) = json::<ChatRequest>(s.as_bytes()) {
                prop_assert_eq!(e.status, 400);
            }
        }
    }
}
