//! The response cache: `[cache]` (its bounds) and `cache = { ttl_s, scope, mode, threshold,
//! embedder }` on an alias (`[models.NAME]`) or a key (`[keys.NAME]`). Caching is opt-in: without
//! a rule nothing is cached. `mode = "semantic"` adds, after an exact miss, a lookup of stored
//! questions close in meaning to the last user message (see the server's `cache::semantic`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// The longest `ttl_s`: 30 days.
pub const MAX_TTL_S: u64 = 30 * 24 * 60 * 60;
/// The semantic index's own bound (it is kept beside the exact store, in this process).
pub const DEFAULT_SEMANTIC_MAX_BYTES: usize = 16 * 1024 * 1024;
/// The cosine similarity a stored question must reach by default to answer another.
pub const DEFAULT_THRESHOLD: f32 = 0.95;
/// The built-in local embedding model (all-MiniLM-L6-v2), the default `embedder`.
pub use crate::retrieval::LOCAL_EMBEDDER;

/// Who may be served an entry. Ordered narrowest first, so the narrower of two is their `min`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheScope {
    /// Entries never leave the API key that stored them (one anonymous scope without keys).
    Key,
    /// Shared by the keys of one team; a key without a team falls back to `Key`.
    Team,
    /// Shared by every caller.
    Org,
}

impl CacheScope {
    pub const NAMES: &'static str = "key, team, org";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "key" => Some(CacheScope::Key),
            "team" => Some(CacheScope::Team),
            "org" => Some(CacheScope::Org),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CacheScope::Key => "key",
            CacheScope::Team => "team",
            CacheScope::Org => "org",
        }
    }
}

/// A validated `cache = { ttl_s, scope, mode, threshold, embedder }`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheRule {
    pub ttl: Duration,
    pub scope: CacheScope,
    /// `mode = "semantic"`: after an exact miss, a question close enough in meaning is answered
    /// from the cache too. `None`: `mode = "exact"` (the default).
    pub semantic: Option<SemanticRule>,
}

/// What `mode = "semantic"` adds to a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct SemanticRule {
    /// The least cosine similarity, in (0, 1], between the last user messages' embeddings.
    pub threshold: f32,
    /// [`LOCAL_EMBEDDER`], or the name of an alias in `[models]` that serves embeddings.
    pub embedder: Arc<str>,
}

impl CacheRule {
    /// The rule for a request: a key's applies to every alias it calls, an alias's to every
    /// caller; with both, the key's ttl and the narrower scope. Semantic if either is: with both
    /// semantic, the higher threshold and the alias's embedder (chosen for its content).
    pub fn combine(key: Option<&CacheRule>, alias: Option<&CacheRule>) -> Option<CacheRule> {
        match (key, alias) {
            (Some(k), Some(a)) => Some(CacheRule {
                ttl: k.ttl,
                scope: k.scope.min(a.scope),
                semantic: match (&k.semantic, &a.semantic) {
                    (Some(ks), Some(als)) => Some(SemanticRule {
                        threshold: ks.threshold.max(als.threshold),
                        embedder: Arc::clone(&als.embedder),
                    }),
                    (ks, als) => als.clone().or_else(|| ks.clone()),
                },
            }),
            (k, a) => k.or(a).cloned(),
        }
    }
}

/// `[cache]`: bounds that hold whichever alias or key enables caching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The in-process store's total size (unused with `storage.redis_url`, where Redis holds it).
    pub max_bytes: usize,
    /// Larger answers are not cached.
    pub max_entry_bytes: usize,
    /// The semantic index's total size (vectors and answers), always in this process.
    pub semantic_max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: DEFAULT_MAX_BYTES,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            semantic_max_bytes: DEFAULT_SEMANTIC_MAX_BYTES,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCache {
    pub max_bytes: Option<u64>,
    pub max_entry_bytes: Option<u64>,
    pub semantic_max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCacheRule {
    pub ttl_s: Option<u64>,
    pub scope: Option<String>,
    pub mode: Option<String>,
    pub threshold: Option<f64>,
    pub embedder: Option<String>,
}

pub(crate) fn cache(raw: RawCache, errors: &mut Vec<ConfigError>) -> CacheConfig {
    let d = CacheConfig::default();
    let size = |v: Option<u64>| v.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let max_bytes = match size(raw.max_bytes) {
        None => d.max_bytes,
        Some(n) if n < 1024 => {
            errors.push(ConfigError::new("cache.max_bytes", "must be at least 1024"));
            d.max_bytes
        }
        Some(n) => n,
    };
    let max_entry_bytes = match size(raw.max_entry_bytes) {
        None => d.max_entry_bytes.min(max_bytes),
        Some(0) => {
            errors.push(ConfigError::new(
                "cache.max_entry_bytes",
                "must be at least 1",
            ));
            d.max_entry_bytes
        }
        Some(n) if n > max_bytes => {
            errors.push(ConfigError::new(
                "cache.max_entry_bytes",
                format!("must not exceed cache.max_bytes ({max_bytes})"),
            ));
            d.max_entry_bytes
        }
        Some(n) => n,
    };
    let semantic_max_bytes = match size(raw.semantic_max_bytes) {
        None => d.semantic_max_bytes,
        Some(n) if n < 1024 => {
            errors.push(ConfigError::new(
                "cache.semantic_max_bytes",
                "must be at least 1024",
            ));
            d.semantic_max_bytes
        }
        Some(n) => n,
    };
    CacheConfig {
        max_bytes,
        max_entry_bytes,
        semantic_max_bytes,
    }
}

/// `PATH.cache = { ttl_s = 3600, scope = "key" }`.
pub(crate) fn rule(
    path: &str,
    raw: RawCacheRule,
    errors: &mut Vec<ConfigError>,
) -> Option<CacheRule> {
    let before = errors.len();
    let ttl = match raw.ttl_s {
        None => {
            errors.push(ConfigError::new(
                format!("{path}.cache.ttl_s"),
                "is required (seconds an answer is served from the cache)",
            ));
            0
        }
        Some(t) if !(1..=MAX_TTL_S).contains(&t) => {
            errors.push(ConfigError::new(
                format!("{path}.cache.ttl_s"),
                format!("must be between 1 and {MAX_TTL_S} (30 days)"),
            ));
            0
        }
        Some(t) => t,
    };
    let scope = match raw.scope.as_deref() {
        None => CacheScope::Key,
        Some(s) => CacheScope::parse(s).unwrap_or_else(|| {
            errors.push(ConfigError::new(
                format!("{path}.cache.scope"),
                format!(
                    "unknown scope \"{s}\"; expected one of {}",
                    CacheScope::NAMES
                ),
            ));
            CacheScope::Key
        }),
    };
    let semantic = semantic(path, &raw, errors);
    (errors.len() == before).then_some(CacheRule {
        ttl: Duration::from_secs(ttl),
        scope,
        semantic,
    })
}

/// `mode`, `threshold` and `embedder` of a rule: the semantic part, or `None` for `exact`. The
/// embedder's alias is checked against `[models]` later ([`embedders`]).
fn semantic(path: &str, raw: &RawCacheRule, errors: &mut Vec<ConfigError>) -> Option<SemanticRule> {
    let semantic = match raw.mode.as_deref() {
        None | Some("exact") => false,
        Some("semantic") => true,
        Some(m) => {
            errors.push(ConfigError::new(
                format!("{path}.cache.mode"),
                format!("unknown mode \"{m}\"; expected one of exact, semantic"),
            ));
            return None;
        }
    };
    if !semantic {
        for (key, set) in [
            ("threshold", raw.threshold.is_some()),
            ("embedder", raw.embedder.is_some()),
        ] {
            if set {
                errors.push(ConfigError::new(
                    format!("{path}.cache.{key}"),
                    "applies only with mode = \"semantic\"",
                ));
            }
        }
        return None;
    }
    let threshold = match raw.threshold {
        None => DEFAULT_THRESHOLD,
        Some(t) if t > 0.0 && t <= 1.0 => t as f32,
        Some(_) => {
            errors.push(ConfigError::new(
                format!("{path}.cache.threshold"),
                "must be in (0, 1] (the least cosine similarity that answers from the cache)",
            ));
            DEFAULT_THRESHOLD
        }
    };
    let embedder = match raw.embedder.as_deref() {
        None => LOCAL_EMBEDDER,
        Some("") => {
            errors.push(ConfigError::new(
                format!("{path}.cache.embedder"),
                format!("must be \"{LOCAL_EMBEDDER}\" or the name of an alias in [models]"),
            ));
            LOCAL_EMBEDDER
        }
        Some(e) => e,
    };
    Some(SemanticRule {
        threshold,
        embedder: embedder.into(),
    })
}

/// Every semantic rule's `embedder` names the built-in model or an alias in `[models]` (by its
/// exact name: a glob serves names, it has none of its own).
pub(crate) fn embedders(
    models: &BTreeMap<String, crate::ModelConfig>,
    keys: &[crate::KeyConfig],
    errors: &mut Vec<ConfigError>,
) {
    let rules = keys
        .iter()
        .map(|k| (format!("keys.{}", k.name), &k.cache))
        .chain(
            models
                .iter()
                .map(|(a, m)| (format!("models.{a}"), &m.cache)),
        );
    for (path, rule) in rules {
        let Some(s) = rule.as_ref().and_then(|r| r.semantic.as_ref()) else {
            continue;
        };
        let name = &*s.embedder;
        if name != LOCAL_EMBEDDER && (!models.contains_key(name) || crate::routing::is_glob(name)) {
            errors.push(ConfigError::new(
                format!("{path}.cache.embedder"),
                format!("no alias named \"{name}\" in [models] (or \"{LOCAL_EMBEDDER}\", the built-in model)"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn r(ttl: u64, scope: CacheScope) -> Option<CacheRule> {
        Some(CacheRule {
            ttl: Duration::from_secs(ttl),
            scope,
            semantic: None,
        })
    }

    fn sem(rule: Option<CacheRule>, threshold: f32, embedder: &str) -> Option<CacheRule> {
        rule.map(|r| CacheRule {
            semantic: Some(SemanticRule {
                threshold,
                embedder: embedder.into(),
            }),
            ..r
        })
    }

    #[test]
    fn combine_takes_the_keys_ttl_and_the_narrower_scope() {
        use CacheScope::*;
        let table = [
            (None, None, None),
            (r(5, Org), None, r(5, Org)),
            (None, r(7, Team), r(7, Team)),
            (r(5, Org), r(7, Team), r(5, Team)),
            (r(5, Key), r(7, Org), r(5, Key)),
            (r(5, Team), r(7, Org), r(5, Team)),
        ];
        for (key, alias, expect) in table {
            let got = CacheRule::combine(key.as_ref(), alias.as_ref());
            assert_eq!(got, expect, "{key:?} {alias:?}");
        }
    }

    #[test]
    fn semantic_applies_if_either_rule_says_so_with_the_higher_threshold() {
        use CacheScope::*;
        let table = [
            // The key's semantic rule on an exact alias, and the other way round.
            (
                sem(r(5, Org), 0.9, "local-minilm"),
                r(7, Team),
                sem(r(5, Team), 0.9, "local-minilm"),
            ),
            (
                r(5, Key),
                sem(r(7, Org), 0.97, "emb"),
                sem(r(5, Key), 0.97, "emb"),
            ),
            // Both: the higher threshold, the alias's embedder.
            (
                sem(r(5, Org), 0.99, "local-minilm"),
                sem(r(7, Org), 0.9, "emb"),
                sem(r(5, Org), 0.99, "emb"),
            ),
            (None, sem(r(7, Org), 0.9, "emb"), sem(r(7, Org), 0.9, "emb")),
        ];
        for (key, alias, expect) in table {
            let got = CacheRule::combine(key.as_ref(), alias.as_ref());
            assert_eq!(got, expect, "{key:?} {alias:?}");
        }
    }
}
