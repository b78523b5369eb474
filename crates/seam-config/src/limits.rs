//! `[limits]`: requests, tokens, concurrency and spend for the whole gateway (`[limits.org]`),
//! per team (`[limits.team.NAME]`, for keys with `team = "NAME"`) and per data subject
//! (`[limits.subject]`, applied to each subject of each key). A key's own limits are set on the
//! key (`[keys.NAME]` or `seam keys create`). A request must fit every scope it belongs to.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ConfigError;
use crate::keys::BudgetPeriod;

/// What one scope allows; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitRule {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    /// USD per calendar period (UTC).
    pub budget: Option<(f64, BudgetPeriod)>,
}

impl LimitRule {
    /// Limits nothing.
    pub fn is_empty(&self) -> bool {
        *self == LimitRule::default()
    }
}

/// What to do when the shared counters (Redis) cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Serve the request uncounted, with a warning and a metric.
    #[default]
    Open,
    /// Refuse it with 503 `limits_unavailable`.
    Closed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LimitsConfig {
    pub org: LimitRule,
    pub teams: BTreeMap<String, LimitRule>,
    pub subject: LimitRule,
    pub on_error: OnError,
    /// Output tokens reserved for a request that sets no `max_tokens`.
    pub default_max_tokens: u32,
    /// The deadline of one Redis call (limits and the cache); past it, `on_error` applies.
    pub redis_timeout_ms: u64,
}

/// `limits.redis_timeout_ms` unless set: tens of milliseconds, so a Redis that stopped answering
/// costs a request little, and the breaker makes it cost nothing after a few.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 50;

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            org: LimitRule::default(),
            teams: BTreeMap::new(),
            subject: LimitRule::default(),
            on_error: OnError::Open,
            default_max_tokens: 1024,
            redis_timeout_ms: DEFAULT_REDIS_TIMEOUT_MS,
        }
    }
}

/// The limit fields, as written under a key or a `[limits.*]` table.
#[derive(Debug, Default, Deserialize)]
pub struct RawRule {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLimits {
    #[serde(default)]
    pub org: RawRule,
    #[serde(default)]
    pub team: BTreeMap<String, RawRule>,
    #[serde(default)]
    pub subject: RawRule,
    pub on_error: Option<String>,
    pub default_max_tokens: Option<u32>,
    pub redis_timeout_ms: Option<u64>,
}

/// Validates limit fields under `path`; errors name each field's TOML path.
pub(crate) fn rule(path: &str, raw: &RawRule, errors: &mut Vec<ConfigError>) -> LimitRule {
    for (field, zero) in [
        ("rpm", raw.rpm == Some(0)),
        ("tpm", raw.tpm == Some(0)),
        ("max_concurrency", raw.max_concurrency == Some(0)),
    ] {
        if zero {
            errors.push(ConfigError::new(
                format!("{path}.{field}"),
                "must be at least 1",
            ));
        }
    }
    let mut amount = None;
    if let Some(b) = raw.budget_usd {
        if b.is_finite() && b > 0.0 && b < 1e9 {
            amount = Some(b);
        } else {
            errors.push(ConfigError::new(
                format!("{path}.budget_usd"),
                "must be a positive amount (USD), under 1e9",
            ));
        }
    }
    let period = match raw.budget_period.as_deref() {
        None => None,
        Some("day") => Some(BudgetPeriod::Day),
        Some("month") => Some(BudgetPeriod::Month),
        Some(other) => {
            errors.push(ConfigError::new(
                format!("{path}.budget_period"),
                format!("unknown period \"{other}\"; expected day or month"),
            ));
            None
        }
    };
    if raw.budget_usd.is_some() != raw.budget_period.is_some() {
        errors.push(ConfigError::new(
            path.to_owned(),
            "budget_usd and budget_period go together",
        ));
    }
    LimitRule {
        rpm: raw.rpm.filter(|v| *v > 0),
        tpm: raw.tpm.filter(|v| *v > 0),
        max_concurrency: raw.max_concurrency.filter(|v| *v > 0),
        budget: amount.zip(period),
    }
}

pub(crate) fn limits(raw: RawLimits, errors: &mut Vec<ConfigError>) -> LimitsConfig {
    let on_error = match raw.on_error.as_deref() {
        None | Some("open") => OnError::Open,
        Some("closed") => OnError::Closed,
        Some(other) => {
            errors.push(ConfigError::new(
                "limits.on_error",
                format!("unknown value \"{other}\"; expected open or closed"),
            ));
            OnError::Open
        }
    };
    if raw.default_max_tokens == Some(0) {
        errors.push(ConfigError::new(
            "limits.default_max_tokens",
            "must be at least 1",
        ));
    }
    if let Some(ms) = raw.redis_timeout_ms
        && !(1..=10_000).contains(&ms)
    {
        errors.push(ConfigError::new(
            "limits.redis_timeout_ms",
            "must be between 1 and 10000 (milliseconds)",
        ));
    }
    LimitsConfig {
        org: rule("limits.org", &raw.org, errors),
        teams: raw
            .team
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    rule(&format!("limits.team.{name}"), r, errors),
                )
            })
            .collect(),
        subject: rule("limits.subject", &raw.subject, errors),
        on_error,
        default_max_tokens: raw.default_max_tokens.unwrap_or(1024).max(1),
        redis_timeout_ms: raw
            .redis_timeout_ms
            .unwrap_or(DEFAULT_REDIS_TIMEOUT_MS)
            .clamp(1, 10_000),
    }
}
