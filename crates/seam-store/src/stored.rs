//! What comes back out of the log, and its export shape.

use serde_json::{Value, json};

use crate::{AttemptRecord, FindingRecord, Payload, RetentionClass, UsageRecord, rfc3339};

/// What a stored record's payload is now.
#[derive(Clone, Debug, PartialEq)]
pub enum PayloadState {
    /// Decrypted: the parts its class keeps.
    Kept(Payload),
    /// The record's class keeps no payload (`metadata`, and tombstones).
    NotKept,
    /// Removed by retention; its digest stays in the chain.
    Purged,
    /// The subject was erased: the data key is gone, so the ciphertext is unreadable.
    Erased,
    /// A payload exists but no master key was given to decrypt it.
    Locked,
}

impl PayloadState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PayloadState::Kept(_) => "kept",
            PayloadState::NotKept => "not_kept",
            PayloadState::Purged => "purged",
            PayloadState::Erased => "erased",
            PayloadState::Locked => "locked",
        }
    }
}

/// A request record, the opening of a stream, an MCP tool call, or the tombstone an erasure
/// leaves in the chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// What happened to a request (for a stream: written when it ends).
    #[default]
    Request,
    /// A stream under sync durability, committed before its first byte reaches the client: id
    /// `{request id}:open`, metadata only. Without a `request` record of the same request id,
    /// the stream's end was never recorded.
    Opening,
    /// What an erasure leaves in the chain; written by the store only.
    Erasure,
    /// One call through the MCP gateway: its payload is the arguments as the client sent them,
    /// as forwarded after the policy, and the result.
    ToolCall,
    /// A rating of an earlier request (`POST /v1/feedback`): id `fb_…`, `model`, `prompt` and
    /// `variant` copied from the rated request, the rated request's id as a tag
    /// (`request:ID`); its payload is the rating as sent (a comment may be personal).
    Feedback,
    /// A rollout's shadow call: the candidate's answer to a copy of a request, never returned;
    /// id `{request id}:shadow`, `variant` `rollout:shadow`.
    Shadow,
    /// A rollout's decision (advance, promote, roll back, an operator's command): id
    /// `rollout_…`, `model` the rollout's name, the evidence as tags, one line per check.
    RolloutDecision,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Request => "request",
            RecordKind::Opening => "opening",
            RecordKind::Erasure => "erasure",
            RecordKind::ToolCall => "tool_call",
            RecordKind::Feedback => "feedback",
            RecordKind::Shadow => "shadow",
            RecordKind::RolloutDecision => "rollout_decision",
        }
    }

    /// Every kind's name, for messages that list them.
    pub const NAMES: &'static str =
        "request, opening, tool_call, feedback, shadow, rollout_decision, erasure";

    /// Whether records of this kind carry a payload (sealed, as their class keeps it): requests,
    /// tool calls, feedback and shadow calls do; an opening and a tombstone are metadata whatever their class says.
    pub fn keeps_payload(self) -> bool {
        matches!(
            self,
            RecordKind::Request | RecordKind::ToolCall | RecordKind::Feedback | RecordKind::Shadow
        )
    }

    /// The kind a stored `kind` column names; `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "request" => RecordKind::Request,
            "opening" => RecordKind::Opening,
            "erasure" => RecordKind::Erasure,
            "tool_call" => RecordKind::ToolCall,
            "feedback" => RecordKind::Feedback,
            "shadow" => RecordKind::Shadow,
            "rollout_decision" => RecordKind::RolloutDecision,
            _ => return None,
        })
    }
}

/// A record as stored, with its place in the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRecord {
    pub seq: i64,
    pub id: String,
    pub kind: RecordKind,
    pub time_ms: i64,
    pub key_id: Option<String>,
    /// The clear subject; `None` when the record has none or the subject was erased.
    pub subject: Option<String>,
    /// The keyed hash the record holds instead of the subject.
    pub subject_hash: Option<String>,
    pub tags: Vec<String>,
    pub endpoint: String,
    pub model: Option<String>,
    pub route: Option<String>,
    pub status: u16,
    pub error_code: Option<String>,
    pub attempts: Vec<AttemptRecord>,
    pub findings: Vec<FindingRecord>,
    pub usage: Option<UsageRecord>,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub cache_hit: bool,
    /// The placement the request was held to; `None` when unconstrained (or recorded before
    /// placements were).
    pub placement: Option<String>,
    /// How many refusals this record stands for, when refusals above the configured rate were
    /// aggregated into it; `None`: one request (or recorded before aggregation existed).
    pub count: Option<u32>,
    /// The prompt the request rendered, `name@version`.
    pub prompt: Option<String>,
    /// The rollout variant that served it, `rollout:variant`.
    pub variant: Option<String>,
    /// The request's W3C trace id.
    pub trace_id: Option<String>,
    /// The retrieved passages the request was given.
    pub citations: Vec<crate::CitationRecord>,
    /// The API features the request used (`tools`, `json_schema`, …).
    pub features: Vec<String>,
    pub class: RetentionClass,
    pub payload: PayloadState,
    /// This record's chain hash (hex).
    pub hash: String,
}

impl StoredRecord {
    /// The export shape (one JSON object per record; `seam audit export` writes JSON lines).
    /// `payload` is null unless it could be decrypted; `payload_state` says why.
    pub fn to_json(&self) -> Value {
        let payload = match &self.payload {
            PayloadState::Kept(p) => json!({
                "client_request": p.client_request,
                "upstream_request": p.upstream_request,
                "response": p.response,
            }),
            _ => Value::Null,
        };
        json!({
            "seq": self.seq,
            "id": self.id,
            "kind": self.kind.as_str(),
            "time": rfc3339(self.time_ms),
            "time_ms": self.time_ms,
            "subject": self.subject,
            "key_id": self.key_id,
            "endpoint": self.endpoint,
            "model": self.model,
            "route": self.route,
            "status": self.status,
            "error_code": self.error_code,
            "attempts": self.attempts,
            "findings": self.findings,
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "cache_hit": self.cache_hit,
            "placement": self.placement,
            "count": self.count,
            "prompt": self.prompt,
            "variant": self.variant,
            "trace_id": self.trace_id,
            "citations": self.citations,
            "features": self.features,
            "tags": self.tags,
            "class": self.class.as_str(),
            "payload": payload,
            "payload_state": self.payload.as_str(),
            "hash": self.hash,
        })
    }
}
