//! From config to routes: providers in a table, aliases as prebuilt routes, direct addressing
//! (`PROVIDER/MODEL`) as routes built on first use and cached (bounded).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seam_config::{BreakerSettings, Config, ProviderConfig, Trust};
use seam_providers::Provider;
use seam_router::{
    BreakerConfig, Limiter, Placement, Plan, Registry, Route, Strategy, Target, Timeouts,
};
use seam_types::{ApiError, ErrorCode};

use crate::telemetry;

/// Direct-addressing routes cached at most; beyond this they are built per request.
const MAX_DIRECT_ROUTES: usize = 512;

/// A configured provider and what the router needs to know about it.
pub struct ProviderEntry {
    pub name: String,
    pub provider: Provider,
    pub trust: Trust,
    pub region: Option<String>,
    pub timeouts: Timeouts,
    pub limiter: Arc<Limiter>,
    pub breaker: BreakerConfig,
}

/// One row of `GET /admin/targets`.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetReport {
    pub label: String,
    pub provider: String,
    pub model: String,
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    pub in_flight: usize,
    pub capacity: usize,
    pub queued: usize,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub succeeded: u64,
    pub failed: u64,
}

pub(crate) struct Table {
    providers: Vec<ProviderEntry>,
    by_name: HashMap<String, usize>,
    aliases: HashMap<String, Arc<Route>>,
    direct: Mutex<HashMap<String, Arc<Route>>>,
    defaults: Plan,
    registry: Arc<Registry>,
}

fn breaker(b: &BreakerSettings) -> BreakerConfig {
    BreakerConfig {
        enabled: b.enabled,
        consecutive_failures: b.consecutive_failures,
        error_ratio: b.error_ratio,
        min_requests: b.min_requests,
        window: b.window,
        open_for: b.open_for,
    }
}

fn entry(p: &ProviderConfig, registry: &Registry) -> Result<ProviderEntry, String> {
    Ok(ProviderEntry {
        name: p.name.clone(),
        provider: Provider::new(p)?,
        trust: p.trust,
        region: p.region.clone(),
        timeouts: Timeouts {
            total: p.timeout,
            first_token: p.first_token_timeout,
            stream_idle: p.stream_idle_timeout,
        },
        limiter: registry.limiter(
            &p.name,
            p.max_concurrency as usize,
            p.max_queue as usize,
            p.queue_timeout,
        ),
        breaker: breaker(&p.breaker),
    })
}

impl Table {
    pub(crate) fn new(cfg: &Config, registry: &Arc<Registry>) -> Result<Self, String> {
        let mut providers = Vec::new();
        let mut by_name = HashMap::new();
        for (name, p) in &cfg.providers {
            by_name.insert(name.clone(), providers.len());
            providers.push(entry(p, registry)?);
        }
        let r = &cfg.routing;
        let defaults = Plan {
            max_attempts: r.max_attempts,
            deadline: r.deadline,
            backoff_base: r.backoff_base,
            backoff_max: r.backoff_max,
            retry_after_cap: r.retry_after_cap,
        };
        let mut table = Table {
            providers,
            by_name,
            aliases: HashMap::new(),
            direct: Mutex::new(HashMap::new()),
            defaults,
            registry: registry.clone(),
        };
        let labels: Vec<String> = cfg
            .models
            .values()
            .flat_map(|m| &m.targets)
            .flat_map(|t| [t.model.clone(), format!("{}/{}", t.provider, t.model)])
            .collect();
        telemetry::admit_labels(labels.iter().map(String::as_str));
        for (alias, m) in &cfg.models {
            let mut targets = Vec::with_capacity(m.targets.len());
            for t in &m.targets {
                let slot = *table
                    .by_name
                    .get(&t.provider)
                    .ok_or_else(|| format!("models.{alias}: unknown provider {}", t.provider))?;
                targets.push(table.target(slot, &t.model, t.weight, t.cost_rank));
            }
            let route = Route {
                name: alias.clone(),
                strategy: m.strategy,
                targets,
                plan: Plan {
                    max_attempts: m.max_attempts,
                    deadline: m.deadline,
                    ..defaults
                },
                placement: m.placement.clone(),
            };
            table.aliases.insert(alias.clone(), Arc::new(route));
        }
        Ok(table)
    }

    fn target(&self, slot: usize, model: &str, weight: u32, cost_rank: u32) -> Target {
        let p = &self.providers[slot];
        let label = format!("{}/{}", p.name, model);
        Target {
            health: self.registry.health(&label, p.breaker),
            label,
            provider: p.name.clone(),
            model: model.to_owned(),
            metric_model: telemetry::model_label(model),
            slot,
            trust: p.trust,
            region: p.region.clone(),
            weight,
            cost_rank,
            limiter: p.limiter.clone(),
            timeouts: p.timeouts,
        }
    }

    pub(crate) fn provider(&self, slot: usize) -> &Provider {
        &self.providers[slot].provider
    }

    pub(crate) fn is_alias(&self, model: &str) -> bool {
        self.aliases.contains_key(model)
    }

    pub(crate) fn aliases(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.aliases.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// An alias wins over direct addressing, so `openai/gpt-4o` can be redefined as an alias.
    pub(crate) fn resolve(&self, model: &str) -> Result<Arc<Route>, ApiError> {
        if let Some(r) = self.aliases.get(model) {
            return Ok(r.clone());
        }
        let not_found = || {
            ApiError::new(
                ErrorCode::ModelNotFound,
                format!(
                    "The model `{}` does not exist: use a configured alias (GET /v1/models) or PROVIDER/MODEL",
                    truncate(model, 200)
                ),
            )
            .with_param("model")
        };
        let Some((provider, upstream_model)) = model.split_once('/') else {
            return Err(not_found());
        };
        let Some(&slot) = self
            .by_name
            .get(provider)
            .filter(|_| !upstream_model.is_empty())
        else {
            return Err(not_found());
        };
        if let Ok(cache) = self.direct.lock()
            && let Some(r) = cache.get(model)
        {
            return Ok(r.clone());
        }
        let route = Arc::new(Route {
            name: model.to_owned(),
            strategy: Strategy::Fallback,
            targets: vec![self.target(slot, upstream_model, 1, 0)],
            plan: self.defaults,
            placement: Placement::default(),
        });
        if let Ok(mut cache) = self.direct.lock()
            && cache.len() < MAX_DIRECT_ROUTES
        {
            cache.insert(model.to_owned(), route.clone());
        }
        Ok(route)
    }

    pub(crate) fn report(&self) -> Vec<TargetReport> {
        let now = Instant::now();
        self.registry
            .targets()
            .into_iter()
            .filter_map(|(label, h)| {
                let (provider, model) = label.split_once('/')?;
                let limiter = &self.providers[*self.by_name.get(provider)?].limiter;
                Some(TargetReport {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    state: h.breaker.state(now).as_str(),
                    in_flight: limiter.in_flight(),
                    capacity: limiter.capacity(),
                    queued: limiter.queued(),
                    latency_ms: h.latency.get().map(|s| s * 1000.0),
                    ttft_ms: h.ttft.get().map(|s| s * 1000.0),
                    succeeded: h.succeeded.load(Ordering::Relaxed),
                    failed: h.failed.load(Ordering::Relaxed),
                    label,
                })
            })
            .collect()
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
