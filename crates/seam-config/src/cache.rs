//! The exact response cache: `[cache]` (its bounds) and `cache = { ttl_s, scope }` on an alias
//! (`[models.NAME]`) or a key (`[keys.NAME]`). Caching is opt-in: without a rule nothing is cached.

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// The longest `ttl_s`: 30 days.
pub const MAX_TTL_S: u64 = 30 * 24 * 60 * 60;

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

/// A validated `cache = { ttl_s, scope }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheRule {
    pub ttl: Duration,
    pub scope: CacheScope,
}

impl CacheRule {
    /// The rule for a request: a key's applies to every alias it calls, an alias's to every
    /// caller; with both, the key's ttl and the narrower scope.
    pub fn combine(key: Option<CacheRule>, alias: Option<CacheRule>) -> Option<CacheRule> {
        match (key, alias) {
            (Some(k), Some(a)) => Some(CacheRule {
                ttl: k.ttl,
                scope: k.scope.min(a.scope),
            }),
            (k, a) => k.or(a),
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
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: DEFAULT_MAX_BYTES,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCache {
    pub max_bytes: Option<u64>,
    pub max_entry_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCacheRule {
    pub ttl_s: Option<u64>,
    pub scope: Option<String>,
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
    CacheConfig {
        max_bytes,
        max_entry_bytes,
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
    (errors.len() == before).then_some(CacheRule {
        ttl: Duration::from_secs(ttl),
        scope,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn r(ttl: u64, scope: CacheScope) -> Option<CacheRule> {
        Some(CacheRule {
            ttl: Duration::from_secs(ttl),
            scope,
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
            assert_eq!(CacheRule::combine(key, alias), expect, "{key:?} {alias:?}");
        }
    }
}
