//! The cost of each answer: `[pricing."provider/model"]` first, else the bundled catalog for
//! vendor targets; self-hosted targets cost nothing unless priced in the config, and `echo` is
//! free. Recorded in the audit trail, sent as `x-seam-cost-usd`, and counted in metrics.

use std::collections::{BTreeMap, HashMap};

use seam_config::{Config, Price, ProviderKind, Trust};
use seam_types::chat::Usage;

/// The response header carrying a unary answer's cost.
pub const COST: &str = "x-seam-cost-usd";
/// Spend in millionths of a US dollar (counters are integers).
pub const SPEND: &str = "seam_spend_microusd_total";

#[derive(Clone, Debug, Default)]
pub struct Prices {
    overrides: BTreeMap<String, Price>,
    /// Provider name → whether the catalog applies (vendors), or it is free (echo).
    providers: HashMap<String, Pricing>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pricing {
    Catalog,
    Free,
    Unpriced,
}

impl Prices {
    pub fn new(cfg: &Config) -> Self {
        let providers = cfg
            .providers
            .iter()
            .map(|(name, p)| {
                let how = match (p.kind, p.trust) {
                    (ProviderKind::Echo, _) => Pricing::Free,
                    (_, Trust::Private) => Pricing::Unpriced,
                    _ => Pricing::Catalog,
                };
                (name.clone(), how)
            })
            .collect();
        Prices {
            overrides: cfg.pricing.clone(),
            providers,
        }
    }

    /// The cost in USD of `usage` on `route` (`provider/model`); `None` when the target has no
    /// price.
    pub fn cost(&self, route: &str, usage: &Usage) -> Option<f64> {
        let cached = usage
            .extra
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let price = match self.overrides.get(route) {
            Some(p) => *p,
            None => {
                let (provider, model) = route.split_once('/')?;
                match self.providers.get(provider)? {
                    Pricing::Free => return Some(0.0),
                    Pricing::Unpriced => return None,
                    Pricing::Catalog => seam_config::pricing::catalog_price(model)?,
                }
            }
        };
        Some(price.cost(usage.prompt_tokens, cached, usage.completion_tokens))
    }
}

/// Counts spend by provider and key (ids, never secrets).
pub fn count(route: &str, key: Option<&str>, usd: f64) {
    let provider = route.split_once('/').map_or(route, |(p, _)| p).to_owned();
    metrics::counter!(SPEND, "provider" => provider, "key" => key.unwrap_or("none").to_owned())
        .increment((usd * 1_000_000.0).round() as u64);
}
