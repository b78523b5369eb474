//! `[routing]`, `[models.ALIAS]` and the routing keys of providers: strategies, retries, deadlines,
//! placement and circuit breakers.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::raw::{RawBreaker, RawModel, RawPlacement, RawRouting};
use crate::{ConfigError, Placement, ProviderConfig, Trust};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Targets in order; the first that answers wins.
    Fallback,
    /// A random order drawn by each target's `weight`.
    Weighted,
    /// Power of two choices on a moving average of latency (time to first token for streams).
    LeastLatency,
    /// `trust = "private"` targets while they have free capacity, then vendor targets.
    Burst,
    /// Cheapest first, by each target's `cost_rank` (until the price catalog exists).
    Cost,
}

impl Strategy {
    pub const NAMES: &'static str = "fallback, weighted, least_latency, burst, cost";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "fallback" => Strategy::Fallback,
            "weighted" => Strategy::Weighted,
            "least_latency" => Strategy::LeastLatency,
            "burst" => Strategy::Burst,
            "cost" => Strategy::Cost,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Fallback => "fallback",
            Strategy::Weighted => "weighted",
            Strategy::LeastLatency => "least_latency",
            Strategy::Burst => "burst",
            Strategy::Cost => "cost",
        }
    }
}

/// Retry and deadline settings; `[routing]` gives the defaults, an alias may override some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutingConfig {
    pub max_attempts: u32,
    pub deadline: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub retry_after_cap: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerSettings {
    /// `false` turns the breaker off: the target is always tried.
    pub enabled: bool,
    pub consecutive_failures: u32,
    pub error_ratio: f64,
    pub min_requests: u32,
    pub window: Duration,
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    /// What an absent `breaker = { … }` gives.
    fn default() -> Self {
        BreakerSettings {
            enabled: true,
            consecutive_failures: 5,
            error_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            open_for: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub alias: String,
    pub strategy: Strategy,
    pub targets: Vec<TargetConfig>,
    pub policy: String,
    /// A JSON Schema every answer must match; checked (and compiled) by the gateway.
    pub output_schema: Option<serde_json::Value>,
    /// This alias's audit class; `None`: `audit.default_class`.
    pub audit_class: Option<crate::AuditClass>,
    /// The exact cache for every caller of this alias.
    pub cache: Option<crate::CacheRule>,
    pub max_attempts: u32,
    pub deadline: Duration,
    pub placement: Placement,
    /// Context from a collection injected into each request, before the input policy.
    pub retrieval: Option<crate::ModelRetrieval>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetConfig {
    pub provider: String,
    /// The upstream model; every [`MODEL_PLACEHOLDER`] in it stands for the name the client sent.
    pub model: String,
    pub weight: u32,
    pub cost_rank: u32,
}

/// In a target's `model`, the model name the client sent (`model = "{model}"`,
/// `model = "anthropic.{model}"`), so one glob alias serves every name it matches.
pub const MODEL_PLACEHOLDER: &str = "{model}";

impl TargetConfig {
    /// Whether `model` names the client's model, so the upstream model differs per request.
    pub fn is_templated(&self) -> bool {
        self.model.contains(MODEL_PLACEHOLDER)
    }

    /// The upstream model for a request that asked for `requested`.
    pub fn model_for(&self, requested: &str) -> std::borrow::Cow<'_, str> {
        if self.is_templated() {
            std::borrow::Cow::Owned(self.model.replace(MODEL_PLACEHOLDER, requested))
        } else {
            std::borrow::Cow::Borrowed(&self.model)
        }
    }
}

/// Whether an alias name is a glob: it contains `*`, which matches any run of characters
/// (none included). `"*"` alone matches every name.
pub fn is_glob(alias: &str) -> bool {
    alias.contains('*')
}

/// Whether `name` matches the glob `pattern`, where `*` is the only special character.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == name;
    };
    let (middle, tail) = rest.rsplit_once('*').unwrap_or(("", rest));
    if name.len() < head.len() + tail.len() || !name.starts_with(head) || !name.ends_with(tail) {
        return false;
    }
    // The fixed ends are matched; the middle parts, in order, leftmost first (with `*` only,
    // the leftmost match of each part never loses a match a later one would find).
    let mut hay = &name[head.len()..name.len() - tail.len()];
    for part in middle.split('*').filter(|p| !p.is_empty()) {
        match hay.find(part) {
            Some(i) => hay = &hay[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// How specific a glob is, most specific first: more literal (non-`*`) characters, then fewer
/// `*`. Globs that tie are taken in alias name order.
pub fn glob_rank(pattern: &str) -> (std::cmp::Reverse<usize>, usize) {
    let stars = pattern.matches('*').count();
    (std::cmp::Reverse(pattern.chars().count() - stars), stars)
}

fn positive_ms(
    path: &str,
    v: Option<u64>,
    default: u64,
    errors: &mut Vec<ConfigError>,
) -> Duration {
    match v {
        Some(0) => {
            errors.push(ConfigError::new(path, "must be greater than 0"));
            Duration::from_millis(default)
        }
        Some(n) => Duration::from_millis(n),
        None => Duration::from_millis(default),
    }
}

fn attempts(path: &str, v: Option<u32>, default: u32, errors: &mut Vec<ConfigError>) -> u32 {
    match v {
        Some(0) => {
            errors.push(ConfigError::new(path, "must be at least 1"));
            default
        }
        Some(n) if n > 20 => {
            errors.push(ConfigError::new(path, "must be at most 20"));
            default
        }
        Some(n) => n,
        None => default,
    }
}

pub(crate) fn defaults(raw: RawRouting, errors: &mut Vec<ConfigError>) -> RoutingConfig {
    let cfg = RoutingConfig {
        max_attempts: attempts("routing.max_attempts", raw.max_attempts, 3, errors),
        deadline: positive_ms("routing.deadline_ms", raw.deadline_ms, 120_000, errors),
        backoff_base: positive_ms("routing.backoff_base_ms", raw.backoff_base_ms, 100, errors),
        backoff_max: positive_ms("routing.backoff_max_ms", raw.backoff_max_ms, 2_000, errors),
        retry_after_cap: positive_ms(
            "routing.retry_after_cap_ms",
            raw.retry_after_cap_ms,
            5_000,
            errors,
        ),
    };
    if cfg.backoff_max < cfg.backoff_base {
        errors.push(ConfigError::new(
            "routing.backoff_max_ms",
            "must not be less than backoff_base_ms",
        ));
    }
    cfg
}

pub(crate) fn breaker(
    path: &str,
    raw: Option<RawBreaker>,
    errors: &mut Vec<ConfigError>,
) -> BreakerSettings {
    let raw = raw.unwrap_or_default();
    let path = format!("{path}.breaker");
    let error_ratio = match raw.error_ratio {
        Some(r) if !(r > 0.0 && r <= 1.0) => {
            errors.push(ConfigError::new(
                format!("{path}.error_ratio"),
                "must be in (0, 1]",
            ));
            0.5
        }
        Some(r) => r,
        None => 0.5,
    };
    BreakerSettings {
        enabled: raw.enabled.unwrap_or(true),
        consecutive_failures: attempts(
            &format!("{path}.consecutive_failures"),
            raw.consecutive_failures.map(|n| n.min(20)),
            5,
            errors,
        ),
        error_ratio,
        min_requests: raw.min_requests.unwrap_or(20).max(1),
        window: positive_ms(&format!("{path}.window_ms"), raw.window_ms, 30_000, errors),
        open_for: positive_ms(&format!("{path}.open_ms"), raw.open_ms, 10_000, errors),
    }
}

fn placement(path: &str, raw: Option<RawPlacement>, errors: &mut Vec<ConfigError>) -> Placement {
    let Some(raw) = raw else {
        return Placement::default();
    };
    let trust = raw.trust.map(|names| {
        names
            .iter()
            .filter_map(|n| {
                let t = Trust::parse(n);
                if t.is_none() {
                    errors.push(ConfigError::new(
                        format!("{path}.placement.trust"),
                        format!("unknown trust \"{n}\"; expected vendor or private"),
                    ));
                }
                t
            })
            .collect()
    });
    Placement {
        trust,
        regions: raw.regions,
    }
}

/// Validates one alias against the providers declared (`declared`) and built (`providers`).
/// What an alias is checked against: the rest of the config, already validated.
pub(crate) struct ModelContext<'a> {
    /// Every provider name declared, valid or not (targets naming an invalid one are not
    /// reported twice).
    pub declared: &'a [String],
    pub providers: &'a BTreeMap<String, ProviderConfig>,
    pub policies: &'a BTreeMap<String, crate::PolicyConfig>,
    pub routing: &'a RoutingConfig,
    pub audit: &'a crate::AuditConfig,
}

pub(crate) fn model(
    alias: &str,
    m: RawModel,
    cx: &ModelContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> ModelConfig {
    let ModelContext {
        declared,
        providers,
        policies,
        routing,
        audit,
    } = *cx;
    let path = format!("models.{alias}");
    if alias.is_empty() {
        errors.push(ConfigError::new(path.clone(), "alias must not be empty"));
    }
    if alias.contains(['?', '[']) {
        errors.push(ConfigError::new(
            path.clone(),
            "`?` and `[` are reserved in alias names; the only wildcard is `*` (any run of characters)",
        ));
    }
    let strategy_name = m.strategy.as_deref().unwrap_or("fallback");
    let strategy = Strategy::parse(strategy_name).unwrap_or_else(|| {
        errors.push(ConfigError::new(
            format!("{path}.strategy"),
            format!(
                "unknown strategy \"{strategy_name}\"; expected one of {}",
                Strategy::NAMES
            ),
        ));
        Strategy::Fallback
    });
    if m.targets.is_empty() {
        errors.push(ConfigError::new(
            format!("{path}.targets"),
            "needs at least one { provider, model }",
        ));
    }
    let mut targets = Vec::new();
    for (i, t) in m.targets.into_iter().enumerate() {
        let tpath = format!("{path}.targets[{i}]");
        let (Some(provider), Some(model)) = (t.provider, t.model) else {
            errors.push(ConfigError::new(tpath, "needs both provider and model"));
            continue;
        };
        if !declared.contains(&provider) {
            errors.push(ConfigError::new(
                format!("{tpath}.provider"),
                format!("no provider named \"{provider}\" in [providers]"),
            ));
        }
        if model.replace(MODEL_PLACEHOLDER, "").contains(['{', '}']) {
            errors.push(ConfigError::new(
                format!("{tpath}.model"),
                "the only placeholder is {model} (the model name the client sent)",
            ));
        }
        if strategy == Strategy::Cost && t.cost_rank.is_none() {
            errors.push(ConfigError::new(
                format!("{tpath}.cost_rank"),
                "is required with strategy = \"cost\" (lower is cheaper)",
            ));
        }
        targets.push(TargetConfig {
            provider,
            model,
            weight: t.weight.unwrap_or(1),
            cost_rank: t.cost_rank.unwrap_or(0),
        });
    }
    if strategy == Strategy::Weighted
        && !targets.is_empty()
        && targets.iter().all(|t| t.weight == 0)
    {
        errors.push(ConfigError::new(
            format!("{path}.targets"),
            "weighted needs at least one target with weight > 0",
        ));
    }
    let private = |t: &&TargetConfig| {
        providers
            .get(&t.provider)
            .is_some_and(|p| p.trust == Trust::Private)
    };
    if strategy == Strategy::Burst && !targets.is_empty() && !targets.iter().any(|t| private(&t)) {
        errors.push(ConfigError::new(
            format!("{path}.strategy"),
            "burst fills trust = \"private\" targets first, and this alias has none",
        ));
    }
    let policy = m.policy.unwrap_or_else(|| crate::DEFAULT_POLICY.into());
    if !policies.contains_key(&policy) {
        let known: Vec<&str> = policies.keys().map(String::as_str).collect();
        errors.push(ConfigError::new(
            format!("{path}.policy"),
            format!(
                "no policy named \"{policy}\"; declared: {}",
                known.join(", ")
            ),
        ));
    }
    let output_schema = m.output_schema.and_then(|v| match serde_json::to_value(v) {
        Ok(json @ serde_json::Value::Object(_)) => Some(json),
        _ => {
            errors.push(ConfigError::new(
                format!("{path}.output_schema"),
                "must be a table holding a JSON Schema",
            ));
            None
        }
    });
    let audit_class = m.audit_class.as_deref().and_then(|c| {
        let class = crate::audit::class(&format!("{path}.audit_class"), c, errors)?;
        if class.keeps_payloads() && audit.master_key.is_none() {
            errors.push(ConfigError::new(
                format!("{path}.audit_class"),
                "keeps payloads, which are encrypted: set audit.master_key",
            ));
        }
        Some(class)
    });
    let cache = m.cache.and_then(|c| crate::cache::rule(&path, c, errors));
    let retrieval = m
        .retrieval
        .and_then(|r| crate::retrieval::model_retrieval(&path, r, errors));
    let placement = placement(&path, m.placement, errors);
    let allowed = |t: &TargetConfig| {
        providers
            .get(&t.provider)
            .is_none_or(|p| placement.allows(p.trust, p.region.as_deref()))
    };
    let constrained = !placement.is_unconstrained();
    if constrained && !targets.is_empty() && !targets.iter().any(allowed) {
        errors.push(ConfigError::new(
            format!("{path}.placement"),
            "no target satisfies it, so every request would fail",
        ));
    }
    ModelConfig {
        retrieval,
        alias: alias.to_owned(),
        strategy,
        targets,
        policy,
        output_schema,
        audit_class,
        cache,
        max_attempts: attempts(
            &format!("{path}.max_attempts"),
            m.max_attempts,
            routing.max_attempts,
            errors,
        ),
        deadline: positive_ms(
            &format!("{path}.deadline_ms"),
            m.deadline_ms,
            routing.deadline.as_millis() as u64,
            errors,
        ),
        placement,
    }
}
