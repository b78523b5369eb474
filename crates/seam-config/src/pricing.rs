//! Prices: a bundled catalog of the major vendors' list prices, overridable per target with
//! `[pricing."provider/model"]`, in USD per million tokens.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ConfigError;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Cached input tokens, when the vendor reports them; the input price when absent.
    pub cached_input_per_mtok: Option<f64>,
}

impl Price {
    /// The cost of one request in USD.
    pub fn cost(&self, prompt: u64, cached: u64, completion: u64) -> f64 {
        let cached = cached.min(prompt);
        let fresh = prompt - cached;
        let per = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        per(fresh, self.input_per_mtok)
            + per(
                cached,
                self.cached_input_per_mtok.unwrap_or(self.input_per_mtok),
            )
            + per(completion, self.output_per_mtok)
    }
}

/// List prices by upstream model name (a dated model name matches its base by prefix), as of
/// 2026-11. Self-hosted targets have no price unless the config gives one.
pub const CATALOG: &[(&str, f64, f64, Option<f64>)] = &[
    // OpenAI (also served by Azure OpenAI under the same names).
    ("gpt-4o-mini", 0.15, 0.60, Some(0.075)),
    ("gpt-4o", 2.50, 10.00, Some(1.25)),
    ("gpt-4.1-nano", 0.10, 0.40, Some(0.025)),
    ("gpt-4.1-mini", 0.40, 1.60, Some(0.10)),
    ("gpt-4.1", 2.00, 8.00, Some(0.50)),
    ("o4-mini", 1.10, 4.40, Some(0.275)),
    ("o3-mini", 1.10, 4.40, Some(0.55)),
    ("o3", 2.00, 8.00, Some(0.50)),
    ("gpt-3.5-turbo", 0.50, 1.50, None),
    ("text-embedding-3-small", 0.02, 0.0, None),
    ("text-embedding-3-large", 0.13, 0.0, None),
    // Anthropic (cached: cache reads).
    ("claude-3-5-haiku", 0.80, 4.00, Some(0.08)),
    ("claude-3-5-sonnet", 3.00, 15.00, Some(0.30)),
    ("claude-3-7-sonnet", 3.00, 15.00, Some(0.30)),
    ("claude-sonnet-4", 3.00, 15.00, Some(0.30)),
    ("claude-opus-4", 15.00, 75.00, Some(1.50)),
    ("claude-3-haiku", 0.25, 1.25, Some(0.03)),
    // Google.
    ("gemini-2.0-flash", 0.10, 0.40, Some(0.025)),
    ("gemini-1.5-flash", 0.075, 0.30, Some(0.01875)),
    ("gemini-1.5-pro", 1.25, 5.00, Some(0.3125)),
];

/// The catalog's price for an upstream model name: exact, else the longest catalog name the
/// model starts with followed by `-` or `@` (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku@2024`).
pub fn catalog_price(model: &str) -> Option<Price> {
    let model = model.rsplit('/').next().unwrap_or(model);
    let model = model.strip_prefix("anthropic.").unwrap_or(model);
    CATALOG
        .iter()
        .filter(|(name, ..)| {
            model == *name
                || model
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('@'))
        })
        .max_by_key(|(name, ..)| name.len())
        .map(|&(_, input, output, cached)| Price {
            input_per_mtok: input,
            output_per_mtok: output,
            cached_input_per_mtok: cached,
        })
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPrice {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
}

/// `[usage]`: the sanity checks reported usage passes before it is priced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageConfig {
    /// One request priced above this is an anomaly, and counts as this much.
    pub max_request_cost_usd: f64,
}

/// The default ceiling: above what any single request costs at today's list prices (a full
/// 200k-token context with a long answer on the dearest catalog model is under $15).
pub const DEFAULT_MAX_REQUEST_COST_USD: f64 = 50.0;

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            max_request_cost_usd: DEFAULT_MAX_REQUEST_COST_USD,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawUsage {
    pub max_request_cost_usd: Option<f64>,
}

pub(crate) fn usage(raw: RawUsage, errors: &mut Vec<ConfigError>) -> UsageConfig {
    match raw.max_request_cost_usd {
        None => UsageConfig::default(),
        Some(x) if x.is_finite() && x > 0.0 => UsageConfig {
            max_request_cost_usd: x,
        },
        Some(_) => {
            errors.push(ConfigError::new(
                "usage.max_request_cost_usd",
                "must be a positive amount in USD",
            ));
            UsageConfig::default()
        }
    }
}

pub(crate) fn pricing(
    raw: BTreeMap<String, RawPrice>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, Price> {
    let mut out = BTreeMap::new();
    for (target, p) in raw {
        let path = format!("pricing.\"{target}\"");
        if !target.contains('/') {
            errors.push(ConfigError::new(
                path.clone(),
                "must name a target as \"provider/model\"",
            ));
            continue;
        }
        let mut field = |name: &str, v: Option<f64>, required: bool| -> Option<f64> {
            match v {
                None if required => {
                    errors.push(ConfigError::new(format!("{path}.{name}"), "is required"));
                    None
                }
                Some(x) if !(x.is_finite() && x >= 0.0) => {
                    errors.push(ConfigError::new(
                        format!("{path}.{name}"),
                        "must be a non-negative amount in USD per million tokens",
                    ));
                    None
                }
                v => v,
            }
        };
        let input = field("input_per_mtok", p.input_per_mtok, true);
        let output = field("output_per_mtok", p.output_per_mtok, true);
        let cached = field("cached_input_per_mtok", p.cached_input_per_mtok, false);
        if let (Some(input_per_mtok), Some(output_per_mtok)) = (input, output) {
            out.insert(
                target,
                Price {
                    input_per_mtok,
                    output_per_mtok,
                    cached_input_per_mtok: cached,
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_dated_names_by_the_longest_base() {
        let p = catalog_price("gpt-4o-mini-2024-07-18").map(|p| p.input_per_mtok);
        assert_eq!(p, Some(0.15));
        assert_eq!(
            catalog_price("gpt-4o").map(|p| p.output_per_mtok),
            Some(10.0)
        );
        assert_eq!(
            catalog_price("anthropic.claude-3-5-haiku-20241022-v1:0").map(|p| p.input_per_mtok),
            Some(0.80)
        );
        assert!(catalog_price("gpt-4oops").is_none());
        assert!(catalog_price("qwen2.5-7b-instruct").is_none());
    }

    #[test]
    fn cost_prices_cached_tokens_apart() {
        let p = catalog_price("gpt-4o-mini").unwrap_or(Price {
            input_per_mtok: 0.0,
            output_per_mtok: 0.0,
            cached_input_per_mtok: None,
        });
        let c = p.cost(1_000_000, 400_000, 1_000_000);
        assert!((c - (0.6 * 0.15 + 0.4 * 0.075 + 0.60)).abs() < 1e-9, "{c}");
    }
}
