//! The cost of each answer: `[pricing."provider/model"]` first, else the bundled catalog for
//! vendor targets; self-hosted targets cost nothing unless priced in the config, and `echo` is
//! free. Recorded in the audit trail, sent as `x-seam-cost-usd`, and counted in metrics.
//!
//! Reported usage is not taken on trust: before it is priced it is checked against what Seam
//! can know of the request ([`bound`]), and a cost above `[usage] max_request_cost_usd` is
//! capped. An anomaly prices the bounded values, counts `seam_usage_anomalies_total` and logs a
//! warning with the request id and the numbers (never content). The bounds are loose enough
//! that an honest upstream never trips them:
//!
//! | check | bound | why it holds |
//! | --- | --- | --- |
//! | completion | ≤ `max_completion_tokens` (or `max_tokens`) × `n` + 16 | upstreams stop at the limit; 16 tokens of slack for stop tokens. Skipped without a limit or with predicted outputs. |
//! | prompt, upper | ≤ 4 × estimate + 256 (+ 1,024 with tools) | the estimate is a quarter of the text's bytes, and a byte-level tokenizer never makes more tokens than bytes; framing, chat templates and tool-use system prompts fit in the slack. Skipped when the request has non-text parts (images, audio, files), whose tokens Seam cannot see. |
//! | prompt, lower | ≥ estimate / 4 − 256 | text costs at least a token per 16 bytes with every real tokenizer. Vendor targets only (self-hosted servers such as Ollama truncate long prompts to their context), and not for embeddings (upstreams may truncate inputs). |
//! | cost | ≤ `max_request_cost_usd` (default $50) | above what one request costs at list prices. |

use std::collections::{BTreeMap, HashMap};

use seam_config::{Config, Price, ProviderKind, Trust};
use seam_gateway::usage::Expected;
use seam_types::chat::Usage;

/// The response header carrying a unary answer's cost.
pub const COST: &str = "x-seam-cost-usd";
/// Spend in millionths of a US dollar (counters are integers).
pub const SPEND: &str = "seam_spend_microusd_total";
/// Tokens by key, team and model.
pub const TOKENS: &str = "seam_tokens_total";
/// Reported usages that failed a sanity check.
pub const ANOMALIES: &str = "seam_usage_anomalies_total";

/// Completion tokens an upstream may report beyond the request's limit (stop tokens).
const COMPLETION_SLACK: u64 = 16;
/// Prompt tokens beyond 4 × the estimate: framing and chat templates.
const PROMPT_SLACK: u64 = 256;
/// More prompt tokens when tools are offered: providers' tool-use system prompts.
const TOOLS_SLACK: u64 = 1_024;

#[derive(Clone, Debug)]
pub struct Prices {
    overrides: BTreeMap<String, Price>,
    /// Provider name → whether the catalog applies (vendors), or it is free (echo).
    providers: HashMap<String, Pricing>,
    /// `[usage] max_request_cost_usd`.
    ceiling: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            overrides: BTreeMap::new(),
            providers: HashMap::new(),
            ceiling: seam_config::pricing::DEFAULT_MAX_REQUEST_COST_USD,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pricing {
    Catalog,
    Free,
    Unpriced,
}

/// Why a reported usage was not taken as it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anomaly {
    CompletionOverLimit,
    PromptOverEstimate,
    PromptUnderEstimate,
    CostOverCeiling,
}

impl Anomaly {
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::CompletionOverLimit => "completion_over_limit",
            Anomaly::PromptOverEstimate => "prompt_over_estimate",
            Anomaly::PromptUnderEstimate => "prompt_under_estimate",
            Anomaly::CostOverCeiling => "cost_over_ceiling",
        }
    }
}

/// A usage after the checks, and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct Priced {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Of the prompt tokens, those the vendor read from its prompt cache.
    pub cached_tokens: u64,
    /// `None` when the target has no price.
    pub cost_usd: Option<f64>,
    /// Seam counted these tokens itself: the upstream reported none.
    pub estimated: bool,
    pub anomalies: Vec<Anomaly>,
}

impl Priced {
    pub fn tokens(&self) -> (u64, u64) {
        (self.prompt_tokens, self.completion_tokens)
    }
}

/// Where a usage came from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// The upstream's count, checked against what the request lets Seam expect.
    Reported(&'a Expected),
    /// Seam's own count of a stream that reported none; only the cost ceiling applies.
    Estimated,
}

impl Prices {
    pub fn new(cfg: &Config) -> Self {
        let providers = cfg
            .providers
            .iter()
            .map(|(name, p)| {
                let how = match (p.kind, p.trust) {
                    (ProviderKind::Echo | ProviderKind::Local, _) => Pricing::Free,
                    (_, Trust::Private) => Pricing::Unpriced,
                    _ => Pricing::Catalog,
                };
                (name.clone(), how)
            })
            .collect();
        Prices {
            overrides: cfg.pricing.clone(),
            providers,
            ceiling: cfg.usage.max_request_cost_usd,
        }
    }

    /// The cost in USD of `usage` on `route` (`provider/model`) as it stands; `None` when the
    /// target has no price.
    pub fn cost(&self, route: &str, usage: &Usage) -> Option<f64> {
        let cached = cached_tokens(usage);
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

    /// Checks `usage` (see the module docs), prices what passes (or the bounds it broke), and
    /// reports any anomaly: a warning naming `request_id` and the metric.
    pub fn price(
        &self,
        route: &str,
        usage: &Usage,
        source: Source<'_>,
        request_id: &str,
    ) -> Priced {
        let provider = route.split_once('/').map_or(route, |(p, _)| p);
        let reported = (usage.prompt_tokens, usage.completion_tokens);
        let ((prompt, completion), mut anomalies, expected) = match source {
            Source::Reported(e) => {
                let vendor = self.providers.get(provider) == Some(&Pricing::Catalog);
                let (bounded, anomalies) = bound(reported, e, vendor);
                (bounded, anomalies, Some(e))
            }
            Source::Estimated => (reported, Vec::new(), None),
        };
        let mut checked = usage.clone();
        checked.prompt_tokens = prompt;
        checked.completion_tokens = completion;
        checked.total_tokens = prompt + completion;
        let mut cost_usd = self.cost(route, &checked);
        let reported_cost = cost_usd;
        if let Some(c) = cost_usd
            && c > self.ceiling
        {
            anomalies.push(Anomaly::CostOverCeiling);
            cost_usd = Some(self.ceiling);
        }
        if !anomalies.is_empty() {
            for a in &anomalies {
                metrics::counter!(ANOMALIES, "provider" => provider.to_owned(), "reason" => a.as_str())
                    .increment(1);
            }
            let reasons: Vec<&str> = anomalies.iter().map(|a| a.as_str()).collect();
            tracing::warn!(
                request_id,
                route,
                reasons = %reasons.join(","),
                reported_prompt_tokens = reported.0,
                reported_completion_tokens = reported.1,
                priced_prompt_tokens = prompt,
                priced_completion_tokens = completion,
                prompt_estimate = expected.map(|e| e.prompt_estimate),
                max_completion_tokens = expected.and_then(|e| e.max_completion),
                cost_usd = reported_cost,
                ceiling_usd = self.ceiling,
                "reported usage failed a sanity check; the bounded values are priced"
            );
        }
        Priced {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_tokens: cached_tokens(usage).min(prompt),
            cost_usd,
            estimated: matches!(source, Source::Estimated),
            anomalies,
        }
    }
}

/// `prompt_tokens_details.cached_tokens`: the prompt tokens read from the vendor's cache.
fn cached_tokens(usage: &Usage) -> u64 {
    usage
        .extra
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// `(prompt, completion)` as reported, held to what `expected` allows; the anomalies found.
/// `vendor`: the target is a vendor's, whose under-reporting the lower prompt bound catches.
pub fn bound(
    reported: (u64, u64),
    expected: &Expected,
    vendor: bool,
) -> ((u64, u64), Vec<Anomaly>) {
    let (mut prompt, mut completion) = reported;
    let mut anomalies = Vec::new();
    if let Some(max) = expected.max_completion
        && completion > max.saturating_add(COMPLETION_SLACK)
    {
        anomalies.push(Anomaly::CompletionOverLimit);
        completion = max;
    }
    let estimate = expected.prompt_estimate;
    if !expected.non_text {
        let slack = PROMPT_SLACK + if expected.tools { TOOLS_SLACK } else { 0 };
        let ceiling = estimate.saturating_mul(4).saturating_add(slack);
        if prompt > ceiling {
            anomalies.push(Anomaly::PromptOverEstimate);
            prompt = ceiling;
        }
    }
    if vendor && !expected.may_truncate {
        let floor = (estimate / 4).saturating_sub(PROMPT_SLACK);
        if prompt < floor {
            anomalies.push(Anomaly::PromptUnderEstimate);
            prompt = floor;
        }
    }
    ((prompt, completion), anomalies)
}

/// The metric label for a request's model: the alias the client used, else the route that
/// answered (bounded like every client-influenced model label).
pub fn model_label(client_model: Option<&str>, is_alias: bool, route: &str) -> String {
    match client_model {
        Some(alias) if is_alias => alias.to_owned(),
        _ => seam_gateway::telemetry::model_label(route),
    }
}

/// What one answer cost and used, by key, team and model (ids and config names, never
/// secrets): `seam_spend_microusd_total` and `seam_tokens_total`.
pub fn count(route: &str, key: Option<&str>, team: Option<&str>, model: &str, priced: &Priced) {
    use seam_gateway::handles;
    let provider = route.split_once('/').map_or(route, |(p, _)| p);
    let key = key.unwrap_or("none");
    let team = team.unwrap_or("");
    if let Some(usd) = priced.cost_usd {
        handles::counter(
            SPEND,
            &[
                ("provider", provider),
                ("key", key),
                ("team", team),
                ("model", model),
            ],
        )
        .increment((usd * 1_000_000.0).round() as u64);
    }
    let source = if priced.estimated {
        "estimated"
    } else {
        "reported"
    };
    for (kind, n) in [
        ("prompt", priced.prompt_tokens),
        ("completion", priced.completion_tokens),
    ] {
        handles::counter(
            TOKENS,
            &[
                ("key", key),
                ("team", team),
                ("model", model),
                ("kind", kind),
                ("source", source),
            ],
        )
        .increment(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(estimate: u64, max: Option<u64>) -> Expected {
        Expected {
            prompt_estimate: estimate,
            max_completion: max,
            ..Expected::default()
        }
    }

    #[test]
    fn reported_usage_is_held_to_what_the_request_allows() {
        use Anomaly::*;
        let images = Expected {
            non_text: true,
            ..expected(100, None)
        };
        let tools = Expected {
            tools: true,
            ..expected(100, None)
        };
        let embeddings = Expected {
            may_truncate: true,
            ..expected(100_000, Some(0))
        };
        // name, reported (prompt, completion), expected, vendor target, priced, anomalies.
        type Case<'a> = (
            &'a str,
            (u64, u64),
            Expected,
            bool,
            (u64, u64),
            &'a [Anomaly],
        );
        let cases: &[Case<'_>] = &[
            (
                "plausible",
                (120, 50),
                expected(100, Some(64)),
                true,
                (120, 50),
                &[],
            ),
            (
                "no limit, long answer",
                (120, 90_000),
                expected(100, None),
                true,
                (120, 90_000),
                &[],
            ),
            (
                "limit with slack",
                (120, 80),
                expected(100, Some(64)),
                true,
                (120, 80),
                &[],
            ),
            (
                "over the limit",
                (120, 81),
                expected(100, Some(64)),
                true,
                (120, 64),
                &[CompletionOverLimit],
            ),
            (
                "n choices",
                (120, 190),
                expected(100, Some(3 * 64)),
                true,
                (120, 190),
                &[],
            ),
            (
                "at the ceiling",
                (656, 1),
                expected(100, None),
                true,
                (656, 1),
                &[],
            ),
            (
                "over the ceiling",
                (657, 1),
                expected(100, None),
                true,
                (656, 1),
                &[PromptOverEstimate],
            ),
            ("tools add slack", (1_600, 1), tools, true, (1_600, 1), &[]),
            (
                "images: no ceiling",
                (50_000, 1),
                images,
                true,
                (50_000, 1),
                &[],
            ),
            (
                "images: still a floor",
                (0, 1),
                Expected {
                    non_text: true,
                    ..expected(40_000, None)
                },
                true,
                (9_744, 1),
                &[PromptUnderEstimate],
            ),
            (
                "tiny prompt reported as 0",
                (0, 5),
                expected(100, None),
                true,
                (0, 5),
                &[],
            ),
            (
                "under the floor",
                (100, 5),
                expected(40_000, None),
                true,
                (9_744, 5),
                &[PromptUnderEstimate],
            ),
            (
                "self-hosted may truncate",
                (100, 5),
                expected(40_000, None),
                false,
                (100, 5),
                &[],
            ),
            (
                "embeddings may truncate",
                (2_048, 0),
                embeddings,
                true,
                (2_048, 0),
                &[],
            ),
            (
                "embeddings have no completion",
                (2_048, 20),
                embeddings,
                true,
                (2_048, 0),
                &[CompletionOverLimit],
            ),
            (
                "everything wrong",
                (10_000_000, 10_000_000),
                expected(10, Some(100)),
                true,
                (296, 100),
                &[CompletionOverLimit, PromptOverEstimate],
            ),
        ];
        for (name, reported, e, vendor, want, anomalies) in cases {
            let (got, found) = bound(*reported, e, *vendor);
            assert_eq!((got, found.as_slice()), (*want, *anomalies), "{name}");
        }
    }

    fn prices(toml: &str) -> Prices {
        let env = |_: &str| None;
        let r = seam_config::Resolver {
            env: &env,
            base_dir: ".".into(),
        };
        Prices::new(&seam_config::from_toml(toml, &r).unwrap())
    }

    const VENDOR: &str = r#"
[providers.openai]
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:2/v1"
trust = "private"
[pricing."local/big"]
input_per_mtok = 100.0
output_per_mtok = 1000.0
[usage]
max_request_cost_usd = 5.0
"#;

    #[test]
    fn a_cost_over_the_ceiling_counts_as_the_ceiling() {
        let p = prices(VENDOR);
        let e = expected(1_000_000, None);
        // $100/M in, $1000/M out: 1M in and 10k out is $110.
        let priced = p.price(
            "local/big",
            &Usage::new(1_000_000, 10_000),
            Source::Reported(&e),
            "req-1",
        );
        assert_eq!(priced.cost_usd, Some(5.0));
        assert_eq!(priced.anomalies, [Anomaly::CostOverCeiling]);
        assert_eq!(priced.tokens(), (1_000_000, 10_000));
        // Seam's own estimates are held to the ceiling too, and to nothing else.
        let priced = p.price(
            "local/big",
            &Usage::new(1_000_000, 0),
            Source::Estimated,
            "req-2",
        );
        assert_eq!(priced.cost_usd, Some(5.0));
        assert!(priced.estimated);
        let cheap = p.price(
            "openai/gpt-4o-mini",
            &Usage::new(1_000, 100),
            Source::Reported(&expected(800, Some(100))),
            "req-3",
        );
        assert!(cheap.anomalies.is_empty());
        assert!(cheap.cost_usd.unwrap() > 0.0);
    }

    #[test]
    fn bounded_tokens_are_what_is_priced() {
        let p = prices(VENDOR);
        // A vendor reporting 1M prompt tokens for a 100-token prompt is priced at the bound.
        let priced = p.price(
            "openai/gpt-4o-mini",
            &Usage::new(1_000_000, 10),
            Source::Reported(&expected(100, None)),
            "req-4",
        );
        assert_eq!(priced.tokens(), (656, 10));
        assert_eq!(
            priced.cost_usd,
            p.cost("openai/gpt-4o-mini", &Usage::new(656, 10))
        );
    }
}
