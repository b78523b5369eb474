//! The TOML file as written: every field optional where the file may omit it. `validate` turns
//! this into [`crate::Config`], after which nothing is "unset".

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: crate::storage::RawStorage,
    #[serde(default)]
    pub routing: RawRouting,
    #[serde(default)]
    pub providers: BTreeMap<String, crate::providers::RawProvider>,
    #[serde(default)]
    pub models: BTreeMap<String, RawModel>,
    #[serde(default)]
    pub policies: BTreeMap<String, crate::policy::RawPolicy>,
    #[serde(default)]
    pub audit: crate::audit::RawAudit,
    #[serde(default)]
    pub admin: crate::keys::RawAdmin,
    #[serde(default)]
    pub keys: BTreeMap<String, crate::keys::RawKey>,
    #[serde(default)]
    pub pricing: BTreeMap<String, crate::pricing::RawPrice>,
    #[serde(default)]
    pub limits: crate::limits::RawLimits,
    #[serde(default)]
    pub usage: crate::pricing::RawUsage,
    #[serde(default)]
    pub cache: crate::cache::RawCache,
    #[serde(default)]
    pub responses: crate::responses::RawResponses,
    #[serde(default)]
    pub mcp: crate::mcp::RawMcp,
    #[serde(default)]
    pub ner: crate::ner::RawNer,
    #[serde(default)]
    pub rollouts: BTreeMap<String, crate::rollouts::RawRollout>,
    #[serde(default)]
    pub evaluators: BTreeMap<String, crate::evaluators::RawEvaluator>,
    #[serde(default)]
    pub telemetry: crate::telemetry::RawTelemetry,
    #[serde(default)]
    pub retrieval: crate::retrieval::RawRetrieval,
    #[serde(default)]
    pub evals: crate::evals::RawEvals,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub max_header_bytes: Option<u64>,
    pub header_timeout_ms: Option<u64>,
    pub body_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub max_connections: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRouting {
    pub max_attempts: Option<u32>,
    pub deadline_ms: Option<u64>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub retry_after_cap_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawBreaker {
    pub enabled: Option<bool>,
    pub consecutive_failures: Option<u32>,
    pub error_ratio: Option<f64>,
    pub min_requests: Option<u32>,
    pub window_ms: Option<u64>,
    pub open_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPlacement {
    pub trust: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawModel {
    pub strategy: Option<String>,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    pub policy: Option<String>,
    pub max_attempts: Option<u32>,
    pub deadline_ms: Option<u64>,
    pub placement: Option<RawPlacement>,
    /// A JSON Schema every answer of this alias must match (an output contract).
    pub output_schema: Option<toml::Value>,
    /// The audit class of this alias's requests (else `audit.default_class`).
    pub audit_class: Option<String>,
    /// Serve repeated identical requests from the exact cache.
    pub cache: Option<crate::cache::RawCacheRule>,
    /// Context from a collection, searched with the caller's grants.
    pub retrieval: Option<crate::retrieval::RawModelRetrieval>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTarget {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub weight: Option<u32>,
    pub cost_rank: Option<u32>,
}
