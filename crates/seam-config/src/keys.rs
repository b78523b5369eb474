//! `[admin]` and `[keys.NAME]`: who may call Seam. Keys are normally created with `seam keys
//! create` and live in the store; a config may also declare keys by the hash of their secret, for
//! GitOps (the secret itself never appears in a file).

use serde::Deserialize;

use crate::audit::{AuditClass, class};
use crate::{ConfigError, Resolver, Secret};

#[derive(Clone, Debug, Default)]
pub struct AdminConfig {
    /// `Authorization: Bearer <key>` for `/admin/*`. Required for the admin API once API keys exist.
    pub key: Option<Secret>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetPeriod {
    Day,
    Month,
}

/// A key declared in the config.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyConfig {
    /// The table name: the key's id and name.
    pub name: String,
    /// `sha256:` and the hex SHA-256 of the secret (`seam keys hash` prints it).
    pub hash: String,
    /// Glob patterns of the aliases it may use (`*` any run of characters, `?` one).
    pub models: Vec<String>,
    /// May use `PROVIDER/MODEL` addressing.
    pub direct: bool,
    pub policy: Option<String>,
    pub audit_class: Option<AuditClass>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<BudgetPeriod>,
    pub team: Option<String>,
    /// The exact cache for every alias this key calls.
    pub cache: Option<crate::CacheRule>,
    /// Where its requests may go, laid over each alias's (unconstrained when not given).
    pub placement: crate::Placement,
    /// Glob patterns of the MCP tools, prompts and resources it may use, by namespaced name
    /// (`crm__lookup_*`); empty allows none.
    pub tools: Vec<String>,
    /// May sign in to the web console, read-only (as a viewer).
    pub console: bool,
    /// Which documents of which collections it may see and change.
    pub retrieval: crate::RetrievalScope,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawAdmin {
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawKey {
    pub hash: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    pub direct: Option<bool>,
    pub policy: Option<String>,
    pub audit_class: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<String>,
    pub team: Option<String>,
    pub cache: Option<crate::cache::RawCacheRule>,
    /// `trust=private;region=eu`, as `x-seam-placement` takes it.
    pub placement: Option<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    pub console: Option<bool>,
    /// Grant patterns of document labels (`public`, `team:*`).
    #[serde(default)]
    pub labels: Vec<String>,
    pub subject_grants: Option<bool>,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub ingest: Vec<String>,
}

/// The longest tool pattern: namespaced names are short, and a pattern is matched per call.
const MAX_TOOL_PATTERN: usize = 200;

pub(crate) fn admin(raw: RawAdmin, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> AdminConfig {
    let key = raw.key.and_then(|v| {
        if !(v.starts_with("env:") || v.starts_with("file:")) {
            errors.push(ConfigError::new(
                "admin.key",
                "must be a reference (env:NAME or file:PATH), not the key itself",
            ));
            return None;
        }
        let s = r.secret("admin.key", &v).map_err(|e| errors.push(e)).ok()?;
        if s.expose().len() < 16 {
            errors.push(ConfigError::new(
                "admin.key",
                "is too short: use at least 16 random characters",
            ));
            return None;
        }
        Some(s)
    });
    AdminConfig { key }
}

/// `sha256:` followed by 64 lower-case hex digits.
fn valid_hash(h: &str) -> bool {
    h.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

pub(crate) fn key(
    name: &str,
    raw: RawKey,
    policies: &std::collections::BTreeMap<String, crate::PolicyConfig>,
    audit: &crate::AuditConfig,
    errors: &mut Vec<ConfigError>,
) -> Option<KeyConfig> {
    let path = format!("keys.{name}");
    let before = errors.len();
    let hash = match raw.hash {
        Some(h) if valid_hash(&h) => h,
        Some(_) => {
            errors.push(ConfigError::new(
                format!("{path}.hash"),
                "must be \"sha256:\" and 64 lower-case hex digits (seam keys hash prints it); never the key itself",
            ));
            String::new()
        }
        None => {
            errors.push(ConfigError::new(format!("{path}.hash"), "is required"));
            String::new()
        }
    };
    // A key for the MCP gateway, the console or collections alone needs no model.
    if raw.models.is_empty()
        && raw.direct != Some(true)
        && raw.tools.is_empty()
        && raw.console != Some(true)
        && raw.collections.is_empty()
        && raw.ingest.is_empty()
    {
        errors.push(ConfigError::new(
            format!("{path}.models"),
            "is empty: the key could not use any model (list aliases, globs like \"gpt-*\", or \"*\")",
        ));
    }
    if raw.tools.iter().any(|t| t.trim().is_empty()) {
        errors.push(ConfigError::new(
            format!("{path}.tools"),
            "must not contain an empty pattern",
        ));
    }
    if raw
        .tools
        .iter()
        .any(|t| t.chars().count() > MAX_TOOL_PATTERN)
    {
        errors.push(ConfigError::new(
            format!("{path}.tools"),
            format!("patterns must be at most {MAX_TOOL_PATTERN} characters"),
        ));
    }
    if let Some(p) = &raw.policy
        && !policies.contains_key(p)
    {
        errors.push(ConfigError::new(
            format!("{path}.policy"),
            format!("no policy named \"{p}\""),
        ));
    }
    let audit_class = raw.audit_class.as_deref().and_then(|c| {
        let c = class(&format!("{path}.audit_class"), c, errors)?;
        if c.keeps_payloads() && audit.master_key.is_none() {
            errors.push(ConfigError::new(
                format!("{path}.audit_class"),
                "keeps payloads, which are encrypted: set audit.master_key",
            ));
        }
        Some(c)
    });
    let limits = crate::limits::rule(
        &path,
        &crate::limits::RawRule {
            rpm: raw.rpm,
            tpm: raw.tpm,
            max_concurrency: raw.max_concurrency,
            budget_usd: raw.budget_usd,
            budget_period: raw.budget_period.clone(),
        },
        errors,
    );
    let cache = raw.cache.and_then(|c| crate::cache::rule(&path, c, errors));
    let placement = match raw.placement.as_deref().map(crate::Placement::parse) {
        None => crate::Placement::default(),
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            errors.push(ConfigError::new(format!("{path}.placement"), e.to_string()));
            crate::Placement::default()
        }
    };
    let retrieval = crate::retrieval::key_scope(
        &path,
        raw.labels,
        raw.subject_grants,
        raw.collections,
        raw.ingest,
        errors,
    );
    if errors.len() > before {
        return None;
    }
    Some(KeyConfig {
        retrieval,
        name: name.to_owned(),
        hash,
        models: raw.models,
        direct: raw.direct.unwrap_or(false),
        policy: raw.policy,
        audit_class,
        rpm: limits.rpm,
        tpm: limits.tpm,
        max_concurrency: limits.max_concurrency,
        budget_usd: limits.budget.map(|b| b.0),
        budget_period: limits.budget.map(|b| b.1),
        team: raw.team,
        cache,
        placement,
        tools: raw.tools,
        console: raw.console.unwrap_or(false),
    })
}
