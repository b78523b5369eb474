//! `[responses]`: the conversation state the Responses API keeps for `previous_response_id`.
//! Where it lives follows `[storage]` and `[audit] master_key`: sealed in the store with a
//! master key, in process memory without one (conversation text is never written in clear).

use serde::Deserialize;

use crate::ConfigError;

pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_MAX_MEMORY_ENTRIES: usize = 10_000;
/// The longest `retention_days`: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// A validated `[responses]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsesConfig {
    /// Whether Seam keeps conversation state at all. When false, `store: true` requests are
    /// answered but not kept, and `previous_response_id` is unknown.
    pub store: bool,
    /// Days a stored response can be continued or read; then it is deleted.
    pub retention_days: u32,
    /// Without `[audit] master_key`: responses held in memory; past it, the oldest is dropped.
    pub max_memory_entries: usize,
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        ResponsesConfig {
            store: true,
            retention_days: DEFAULT_RETENTION_DAYS,
            max_memory_entries: DEFAULT_MAX_MEMORY_ENTRIES,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawResponses {
    pub store: Option<bool>,
    pub retention_days: Option<u32>,
    pub max_memory_entries: Option<u64>,
}

pub(crate) fn responses(raw: RawResponses, errors: &mut Vec<ConfigError>) -> ResponsesConfig {
    let d = ResponsesConfig::default();
    let retention_days = match raw.retention_days {
        None => d.retention_days,
        Some(n) if (1..=MAX_RETENTION_DAYS).contains(&n) => n,
        Some(_) => {
            errors.push(ConfigError::new(
                "responses.retention_days",
                format!("must be 1 – {MAX_RETENTION_DAYS}"),
            ));
            d.retention_days
        }
    };
    let max_memory_entries = match raw.max_memory_entries {
        None => d.max_memory_entries,
        Some(0) => {
            errors.push(ConfigError::new(
                "responses.max_memory_entries",
                "must be at least 1",
            ));
            d.max_memory_entries
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    ResponsesConfig {
        store: raw.store.unwrap_or(d.store),
        retention_days,
        max_memory_entries,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn check(text: &str) -> Result<ResponsesConfig, Vec<String>> {
        let env = |_: &str| None;
        let r = crate::Resolver {
            env: &env,
            base_dir: std::path::PathBuf::from("/tmp"),
        };
        crate::from_toml(text, &r)
            .map(|c| c.responses)
            .map_err(|es| es.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn responses_section_is_parsed_and_checked() {
        assert_eq!(check("").unwrap(), ResponsesConfig::default());
        assert_eq!(
            check("[responses]\nstore = false\nretention_days = 7\nmax_memory_entries = 50")
                .unwrap(),
            ResponsesConfig {
                store: false,
                retention_days: 7,
                max_memory_entries: 50
            }
        );
        assert_eq!(
            check("[responses]\nttl = 3").unwrap_err(),
            vec!["responses.ttl: unknown key"]
        );
        assert_eq!(
            check("[responses]\nretention_days = 0\nmax_memory_entries = 0").unwrap_err(),
            vec![
                "responses.retention_days: must be 1 – 3650",
                "responses.max_memory_entries: must be at least 1",
            ]
        );
    }
}
