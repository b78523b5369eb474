//! What the gateway hands to the audit log, and what comes back out. These types are the contract
//! between the request path and storage: the request path fills an [`AuditRecord`] per request;
//! storage decides what of it is kept (by [`RetentionClass`]), encrypts payloads, chains and signs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a record keeps of the request's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionClass {
    /// All three payloads, encrypted: the request as the client sent it, as sent upstream, and
    /// the response returned.
    Full,
    /// Only the post-policy texts, encrypted: the request as sent upstream and the response.
    Redacted,
    /// No payloads.
    Metadata,
}

impl RetentionClass {
    pub const NAMES: &'static str = "full, redacted, metadata";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "full" => RetentionClass::Full,
            "redacted" => RetentionClass::Redacted,
            "metadata" => RetentionClass::Metadata,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetentionClass::Full => "full",
            RetentionClass::Redacted => "redacted",
            RetentionClass::Metadata => "metadata",
        }
    }
}

/// One retrieved passage a request was given: the collection, the document's id, the chunk's
/// position in it and its search score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CitationRecord {
    pub collection: String,
    pub document: String,
    pub chunk: u32,
    pub score: f64,
}

/// One upstream attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// `provider/model`.
    pub target: String,
    /// The upstream's status or the one Seam derived (502 connect failure, 504 timeout).
    pub status: u16,
    pub latency_ms: f64,
    /// Seam's error code for a failed attempt (`upstream_timeout`, …); `None` on success.
    pub error: Option<String>,
}

/// One policy decision, aggregated: entity type, action and how many times. Never a value.
/// A prompt injection (`PROMPT_INJECTION`, `flag` or `block`) adds its score, the part that gave
/// it and where the text entered; other findings leave them out. Kept in the `findings` JSON
/// column, so records written before these fields existed read with them absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// `input` or `output`.
    pub stage: String,
    pub entity: String,
    pub action: String,
    pub count: u32,
    /// 0..=1, to three decimals: the injection score that crossed the policy's threshold (the
    /// highest of the request's texts; of aggregated refusals, the highest of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Which part of the assessment gave the score: `heuristic` or `classifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Where the text entered: `user_message`, `tool_result`, `tool_arguments`,
    /// `mcp_arguments` or `mcp_result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl FindingRecord {
    /// A finding with only its counts (every one but an injection).
    pub fn counted(stage: &str, entity: &str, action: &str, count: u32) -> Self {
        FindingRecord {
            stage: stage.to_owned(),
            entity: entity.to_owned(),
            action: action.to_owned(),
            count,
            score: None,
            by: None,
            source: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Of `prompt_tokens`, those read from the vendor's prompt cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`, Anthropic's cache reads). Left out of the stored
    /// JSON when zero, so records written before it existed hash as they did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: u64,
    /// Seam counted the tokens itself: the upstream's stream reported none.
    #[serde(default, skip_serializing_if = "is_false")]
    pub estimated: bool,
    /// The upstream's report failed a sanity check; these are the bounded values that were
    /// priced (the server's log has the reported ones).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bounded: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The texts of a request, as JSON values (the bodies as they were). Which of them are kept is
/// the record's class's business; the request path fills what it has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The request body as the client sent it.
    pub client_request: Option<Value>,
    /// The request as sent upstream, after the policy (absent when nothing was sent).
    pub upstream_request: Option<Value>,
    /// The response as returned to the client (a stream is assembled into one completion).
    pub response: Option<Value>,
}

/// One record per request: chat, embeddings, streams, and refused or failed requests too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The request id (`x-seam-request-id`); unique.
    pub id: String,
    /// When the request arrived, Unix milliseconds.
    pub time_ms: i64,
    /// The API key's id, once keys exist.
    pub key_id: Option<String>,
    /// The data subject: `x-seam-subject`, else the body's `user`. Stored only as a keyed hash in
    /// records; the clear value lives in a mapping that erasure deletes.
    pub subject: Option<String>,
    pub tags: Vec<String>,
    /// `chat` or `embeddings`.
    pub endpoint: String,
    /// `model` as the client sent it.
    pub model: Option<String>,
    /// `provider/model` of the target that answered.
    pub route: Option<String>,
    /// The HTTP status returned to the client.
    pub status: u16,
    /// Seam's error code when the request failed.
    pub error_code: Option<String>,
    pub attempts: Vec<AttemptRecord>,
    pub findings: Vec<FindingRecord>,
    pub usage: Option<UsageRecord>,
    pub cost_usd: Option<f64>,
    /// Arrival to the end of the response (for streams: to the last byte).
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub cache_hit: bool,
    /// The placement the request was held to (`trust=private;region=eu`: the alias's, the key's
    /// and `x-seam-placement` combined); `None` when nothing constrained it.
    #[serde(default)]
    pub placement: Option<String>,
    /// `request` (what happened), `opening` (a stream's first byte, metadata only), or
    /// `tool_call` (one MCP call; its payload holds the arguments and the result).
    /// [`crate::RecordKind::Erasure`] is the store's own and refused here.
    #[serde(default)]
    pub kind: crate::RecordKind,
    /// Refusals aggregated into one record: how many (same key, endpoint, status and error code,
    /// within one second). `None`: the record is one request.
    #[serde(default)]
    pub count: Option<u32>,
    /// The prompt the request rendered (`model: "prompt:NAME…"`), as `name@version`.
    #[serde(default)]
    pub prompt: Option<String>,
    /// The rollout variant that served the request, as `rollout:control|candidate`, or
    /// `rollout:shadow` on a shadow copy's record.
    #[serde(default)]
    pub variant: Option<String>,
    /// The request's W3C trace id (32 hex digits): the client's `traceparent`'s, or one Seam
    /// began.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The passages retrieval put into the request (`[models.NAME.retrieval]`): which
    /// document and chunk, with its score. Ids, never text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<CitationRecord>,
    /// The API features the request used, as the decoded request shows them: `tools`,
    /// `json_schema` (structured output), `vision` (image input), `prompt_caching`
    /// (`cache_control` markers) and `streaming`. Names, never content; what an exit to
    /// another target would have to support (`seam report exit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    pub class: RetentionClass,
    pub payload: Payload,
}

impl AuditRecord {
    /// A record Seam writes of its own accord (a rating, a shadow call, a rollout's decision):
    /// `id`, `kind` and `endpoint` given, status 200, metadata class, everything else empty — the
    /// caller sets what it knows with struct-update syntax.
    pub fn event(id: String, kind: crate::RecordKind, endpoint: &str, time_ms: i64) -> AuditRecord {
        AuditRecord {
            id,
            time_ms,
            key_id: None,
            subject: None,
            tags: Vec::new(),
            endpoint: endpoint.to_owned(),
            model: None,
            route: None,
            status: 200,
            error_code: None,
            attempts: Vec::new(),
            findings: Vec::new(),
            usage: None,
            cost_usd: None,
            latency_ms: 0.0,
            ttft_ms: None,
            cache_hit: false,
            placement: None,
            kind,
            count: None,
            prompt: None,
            variant: None,
            trace_id: None,
            citations: Vec::new(),
            features: Vec::new(),
            class: RetentionClass::Metadata,
            payload: Payload::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UsageRecord;

    /// The chain hashes the `usage` column as stored: a usage with no cached tokens must be
    /// stored, and so hashed, exactly as before the field existed.
    #[test]
    fn usage_without_cached_tokens_is_stored_as_before() {
        let u = UsageRecord {
            prompt_tokens: 12,
            completion_tokens: 3,
            ..UsageRecord::default()
        };
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"prompt_tokens":12,"completion_tokens":3}"#
        );
        let old: UsageRecord =
            serde_json::from_str(r#"{"prompt_tokens":12,"completion_tokens":3}"#).unwrap();
        assert_eq!(old, u);
        let cached = UsageRecord {
            cached_tokens: 8,
            ..u
        };
        let s = serde_json::to_string(&cached).unwrap();
        assert_eq!(
            s,
            r#"{"prompt_tokens":12,"completion_tokens":3,"cached_tokens":8}"#
        );
        assert_eq!(serde_json::from_str::<UsageRecord>(&s).unwrap(), cached);
    }
}
