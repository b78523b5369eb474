//! Every error a client can see: one table of stable codes, each with its OpenAI error `type`
//! and HTTP status, so the `openai` SDKs raise the matching exception class.
//!
//! Messages never carry secrets or request content; they say what was wrong and where.

use std::borrow::Cow;

use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $kind:literal, $status:literal, $doc:literal),)*) => {
        /// A stable error code. The table is documented in `docs/errors.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The OpenAI error `type`.
            pub const fn kind(self) -> &'static str {
                match self { $(ErrorCode::$variant => $kind,)* }
            }

            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            pub const fn doc(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
        }
    };
}

error_codes! {
    InvalidJson => ("invalid_json", "invalid_request_error", 400, "The body is not valid JSON."),
    InvalidRequest => ("invalid_request", "invalid_request_error", 400, "A field is missing or has an invalid value; `param` names it."),
    UnsupportedParameter => ("unsupported_parameter", "invalid_request_error", 400, "The target cannot honour a parameter (e.g. embeddings on an Anthropic model)."),
    InvalidApiKey => ("invalid_api_key", "authentication_error", 401, "API keys exist and the request has none, or one that is unknown, revoked or expired."),
    ModelNotAllowed => ("model_not_allowed", "permission_error", 403, "The key may not use this model (its `models` globs, or `direct` for PROVIDER/MODEL)."),
    AdminForbidden => ("admin_forbidden", "permission_error", 403, "`/admin/*` needs `Authorization: Bearer` with `[admin] key`, and API keys exist without one configured."),
    ConsoleForbidden => ("console_forbidden", "permission_error", 403, "A console viewer (a key with the `console` scope) asked for an admin-only action: creating or revoking keys, uploading eval reports, starting a chain verification."),
    CsrfFailed => ("csrf_failed", "permission_error", 403, "A console request that changes something lacked the session's `x-seam-csrf` token, or came from another origin."),
    RateLimited => ("rate_limited", "rate_limit_error", 429, "A scope (org, team, key or subject) is over its requests per minute or concurrent requests, or an address made more than 10 console sign-in attempts in a minute, or the console is already building a report; retry after `retry-after` seconds."),
    TokensLimited => ("tokens_limited", "rate_limit_error", 429, "A scope is over its tokens per minute (the request's prompt estimate plus `max_tokens` is reserved); retry after `retry-after` seconds, or ask for fewer tokens."),
    BudgetExceeded => ("budget_exceeded", "rate_limit_error", 429, "A scope's spend for the calendar day or month (UTC) would exceed its budget; `retry-after` is the time to the next period."),
    LimitsUnavailable => ("limits_unavailable", "api_error", 503, "The shared limit counters (Redis) could not be reached and `limits.on_error = \"closed\"`; retry after `retry-after` seconds."),
    ModelNotFound => ("model_not_found", "invalid_request_error", 404, "`model` is neither a configured alias nor a known PROVIDER/MODEL."),
    NotFound => ("not_found", "invalid_request_error", 404, "No such route."),
    ToolNotFound => ("tool_not_found", "invalid_request_error", 404, "On `/mcp`: no configured server serves the tool, prompt or resource, or the key may not use it (JSON-RPC `-32602`, `-32002` for a resource)."),
    MethodNotAllowed => ("method_not_allowed", "invalid_request_error", 405, "The route exists but not with this method."),
    InvalidConfig => ("invalid_config", "invalid_request_error", 400, "`POST /admin/reload` found a problem in the config; the previous config keeps serving."),
    RequestTooLarge => ("request_too_large", "invalid_request_error", 413, "The body is larger than `server.max_body_bytes`."),
    ContextLengthExceeded => ("context_length_exceeded", "invalid_request_error", 400, "The messages exceed the policy's `max_input_tokens` (estimated) and the policy rejects rather than truncates."),
    PolicyViolation => ("policy_violation", "invalid_request_error", 422, "The policy blocks an entity type found in the request (named in the message, never the value), or a likely prompt injection."),
    ContractViolation => ("contract_violation", "invalid_request_error", 422, "The answer did not match the JSON Schema of `response_format` or the alias's `output_schema`, also after one re-ask."),
    UpstreamError => ("upstream_error", "api_error", 502, "Every target failed with a server error or could not be reached."),
    UpstreamInvalidResponse => ("upstream_invalid_response", "api_error", 502, "The upstream answered with something that is not its documented wire format."),
    StreamInterrupted => ("stream_interrupted", "api_error", 502, "A stream failed after its first chunk reached the client; sent as the stream's last event."),
    Overloaded => ("overloaded", "api_error", 503, "Every target is at its `max_concurrency` and the wait queue is full or timed out; retry after `retry-after` seconds."),
    NoEligibleTarget => ("no_eligible_target", "api_error", 503, "Placement rules (trust, region) leave no target for this request."),
    NoHealthyTarget => ("no_healthy_target", "api_error", 503, "Every eligible target's circuit breaker is open; retry after `retry-after` seconds."),
    UpstreamTimeout => ("upstream_timeout", "timeout_error", 504, "The upstream did not answer (or send its first token) in time."),
    AuditUnavailable => ("audit_unavailable", "api_error", 503, "With `audit.durability = \"sync\"`, the request's audit record could not be committed, so the answer is withheld."),
    Internal => ("internal_error", "api_error", 500, "A bug in Seam; the log has details under the request id."),
    RequestTimeout => ("request_timeout", "invalid_request_error", 408, "The request body did not arrive whole within `server.body_timeout_ms` of its head; the connection is closed."),
    MalformedRequest => ("malformed_request", "invalid_request_error", 400, "The request line or a header is not valid HTTP/1.1; the connection is closed."),
    HeadersTooLarge => ("headers_too_large", "invalid_request_error", 431, "The request line and headers are larger than `server.max_header_bytes`, or there are more than 100 headers; the connection is closed."),
    ClientClosed => ("client_closed", "invalid_request_error", 499, "The client closed the connection before its answer was ready; recorded in the audit trail, never sent."),
    UriTooLong => ("uri_too_long", "invalid_request_error", 414, "The request target is longer than HTTP/1.1 parsing allows (64 KiB); the connection is closed."),
    CollectionNotFound => ("collection_not_found", "invalid_request_error", 404, "No collection with that name in `[retrieval.collections]`."),
    CollectionForbidden => ("collection_forbidden", "permission_error", 403, "The key may not search this collection (its `collections` globs), or add to or delete from it (`ingest`), or give a document a label it is not granted."),
    DocumentNotFound => ("document_not_found", "invalid_request_error", 404, "No document with that id in the collection."),
    RetrievalUnavailable => ("retrieval_unavailable", "api_error", 503, "The collection's embedder could not embed: the local model is not installed (`seam models fetch minilm`), or its embeddings alias failed."),
}

/// An error as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub kind: Cow<'static, str>,
    pub message: String,
    pub param: Option<String>,
    /// Seconds, sent as `retry-after`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code: Cow::Borrowed(code.as_str()),
            kind: Cow::Borrowed(code.kind()),
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// An upstream's own 4xx, passed through with its status, type, code and message.
    pub fn upstream(
        status: u16,
        kind: Option<String>,
        code: Option<String>,
        message: String,
    ) -> Self {
        ApiError {
            status,
            code: code.map_or(Cow::Borrowed("upstream_rejected"), Cow::Owned),
            kind: kind.map_or(Cow::Borrowed("invalid_request_error"), Cow::Owned),
            message,
            param: None,
            retry_after: None,
        }
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.as_str()
    }

    /// `{"error": {"message", "type", "code", "param"}}`.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorObject {
                message: &self.message,
                kind: &self.kind,
                code: &self.code,
                param: self.param.as_deref(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorObject<'a>,
}

#[derive(Serialize)]
pub struct ErrorObject<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub code: &'a str,
    pub param: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!((400..600).contains(&c.status()));
        }
    }

    #[test]
    fn body_shape() {
        let e = ApiError::new(ErrorCode::InvalidRequest, "bad").with_param("messages");
        let v = serde_json::to_value(e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "bad", "type": "invalid_request_error", "code": "invalid_request", "param": "messages"}})
        );
    }
}

#[cfg(test)]
mod doc_tests {
    use super::ErrorCode;

    #[test]
    fn docs_errors_md_lists_every_code_with_its_status() {
        let doc = include_str!("../../../docs/errors.md");
        for c in ErrorCode::ALL {
            let row = format!("| `{}` | `{}` | {} |", c.as_str(), c.kind(), c.status());
            assert!(
                doc.contains(&row),
                "docs/errors.md lacks the row starting {row}"
            );
        }
    }
}
