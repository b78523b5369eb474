//! From config to routes: providers in a table, aliases as prebuilt routes, glob aliases
//! (`claude-*`) matched by specificity, direct addressing (`PROVIDER/MODEL`) as routes built on
//! first use and cached (bounded).
//!
//! A glob alias whose targets name `{model}` needs a route per requested name (the upstream
//! model differs); those are built on first use and remembered in a bounded memo, so a request
//! after the first costs a hash lookup.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seam_config::{Config, ProviderConfig, TargetConfig, Trust};
use seam_providers::Provider;
use seam_router::{
    BreakerConfig, Limiter, Placement, Plan, Registry, Route, Strategy, Target, Timeouts,
};
use seam_types::{ApiError, ErrorCode};

use crate::telemetry;

/// Direct-addressing routes cached at most; beyond this they are built per request.
const MAX_DIRECT_ROUTES: usize = 512;
/// Requested names a glob alias matched, remembered at most with their routes; past it the
/// oldest is forgotten.
pub const MAX_MATCHED_NAMES: usize = 4096;
/// A requested name longer than this (in bytes) is matched by no glob: no model is named so,
/// and the memo stays small.
pub const MAX_GLOB_NAME: usize = 256;

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
    /// Glob aliases, most specific first (see [`seam_config::glob_rank`]): the first that
    /// matches a name serves it.
    globs: Vec<Glob>,
    matched: Mutex<Matched>,
    direct: Mutex<HashMap<String, Arc<Route>>>,
    defaults: Plan,
    registry: Arc<Registry>,
}

/// An alias as configured, with its providers found: what its routes are built from.
struct Template {
    strategy: Strategy,
    /// Each target with its provider's slot.
    targets: Vec<(usize, TargetConfig)>,
    plan: Plan,
    placement: Placement,
}

/// A glob alias: its pattern and how its routes are made.
struct Glob {
    pattern: String,
    routes: Routes,
}

enum Routes {
    /// No target names `{model}`: one route serves every name.
    Fixed(Arc<Route>),
    /// A target names `{model}`: a route per requested name.
    PerName(Template),
}

/// Requested names a glob matched, with their routes. Bounded; oldest out first.
#[derive(Default)]
struct Matched {
    routes: HashMap<Arc<str>, Arc<Route>>,
    order: VecDeque<Arc<str>>,
}

impl Matched {
    fn get(&self, name: &str) -> Option<Arc<Route>> {
        self.routes.get(name).cloned()
    }

    fn insert(&mut self, name: &str, route: Arc<Route>) {
        if self.routes.contains_key(name) {
            return;
        }
        if self.routes.len() >= MAX_MATCHED_NAMES
            && let Some(oldest) = self.order.pop_front()
        {
            self.routes.remove(&oldest);
        }
        let name: Arc<str> = name.into();
        self.order.push_back(name.clone());
        self.routes.insert(name, route);
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
        breaker: BreakerConfig::from(&p.breaker),
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
            globs: Vec::new(),
            matched: Mutex::new(Matched::default()),
            direct: Mutex::new(HashMap::new()),
            defaults,
            registry: registry.clone(),
        };
        // A glob's `{model}` targets are labelled by the configured text (`{model}`): bounded,
        // and it says the name came from the client.
        let labels: Vec<String> = cfg
            .models
            .values()
            .flat_map(|m| m.targets.iter().map(move |t| (m, t)))
            .flat_map(|(m, t)| {
                let model = if seam_config::is_glob(&m.alias) {
                    t.model.clone()
                } else {
                    t.model_for(&m.alias).into_owned()
                };
                [format!("{}/{model}", t.provider), model]
            })
            .collect();
        telemetry::admit_labels(labels.iter().map(String::as_str));
        telemetry::admit_providers(cfg.providers.values());
        for (alias, m) in &cfg.models {
            let mut targets = Vec::with_capacity(m.targets.len());
            for t in &m.targets {
                let slot = *table
                    .by_name
                    .get(&t.provider)
                    .ok_or_else(|| format!("models.{alias}: unknown provider {}", t.provider))?;
                targets.push((slot, t.clone()));
            }
            let template = Template {
                strategy: m.strategy,
                targets,
                plan: Plan {
                    max_attempts: m.max_attempts,
                    deadline: m.deadline,
                    ..defaults
                },
                placement: m.placement.clone(),
            };
            if !seam_config::is_glob(alias) {
                let route = table.build(alias, &template, alias, false);
                table.aliases.insert(alias.clone(), Arc::new(route));
            } else if template.targets.iter().any(|(_, t)| t.is_templated()) {
                table.globs.push(Glob {
                    pattern: alias.clone(),
                    routes: Routes::PerName(template),
                });
            } else {
                let route = table.build(alias, &template, alias, false);
                table.globs.push(Glob {
                    pattern: alias.clone(),
                    routes: Routes::Fixed(Arc::new(route)),
                });
            }
        }
        // Stable: globs that rank the same stay in alias name order (the config's map order).
        table
            .globs
            .sort_by_key(|g| seam_config::glob_rank(&g.pattern));
        Ok(table)
    }

    /// `name`'s route for a request that asked for `requested`. `per_name`: a glob's route for
    /// one name, whose `{model}` targets take their metric label from the configured text.
    fn build(&self, name: &str, t: &Template, requested: &str, per_name: bool) -> Route {
        let targets = t
            .targets
            .iter()
            .map(|(slot, c)| {
                let model = c.model_for(requested);
                let metric = if per_name && c.is_templated() {
                    &c.model
                } else {
                    model.as_ref()
                };
                self.target(*slot, &model, metric, c.weight, c.cost_rank)
            })
            .collect();
        Route {
            name: name.to_owned(),
            strategy: t.strategy,
            targets,
            plan: t.plan,
            placement: t.placement.clone(),
        }
    }

    fn target(
        &self,
        slot: usize,
        model: &str,
        metric: &str,
        weight: u32,
        cost_rank: u32,
    ) -> Target {
        let p = &self.providers[slot];
        let label = format!("{}/{}", p.name, model);
        Target {
            health: self.registry.health(&label, p.breaker),
            label,
            provider: p.name.clone(),
            model: model.to_owned(),
            metric_model: telemetry::model_label(metric),
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

    /// Whether `model` is an alias's own name (not a name a glob matched).
    pub(crate) fn is_exact_alias(&self, model: &str) -> bool {
        self.aliases.contains_key(model)
    }

    /// The alias that serves `model`: itself, else the most specific glob that matches it.
    pub(crate) fn alias_of(&self, model: &str) -> Option<&str> {
        if let Some((name, _)) = self.aliases.get_key_value(model) {
            return Some(name);
        }
        self.glob_for(model).map(|i| self.globs[i].pattern.as_str())
    }

    fn glob_for(&self, model: &str) -> Option<usize> {
        if model.len() > MAX_GLOB_NAME {
            return None;
        }
        self.globs
            .iter()
            .position(|g| seam_config::glob_matches(&g.pattern, model))
    }

    /// Every alias name (globs as their pattern), sorted.
    pub(crate) fn aliases(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .aliases
            .keys()
            .map(String::as_str)
            .chain(self.globs.iter().map(|g| g.pattern.as_str()))
            .collect();
        v.sort_unstable();
        v
    }

    /// The route a glob alias gives `model`, from the memo or built and remembered.
    fn by_glob(&self, model: &str) -> Option<Arc<Route>> {
        if let Ok(m) = self.matched.lock()
            && let Some(r) = m.get(model)
        {
            return Some(r);
        }
        let i = self.glob_for(model)?;
        let glob = &self.globs[i];
        let route = match &glob.routes {
            Routes::Fixed(r) => r.clone(),
            Routes::PerName(t) => Arc::new(self.build(&glob.pattern, t, model, true)),
        };
        if let Ok(mut m) = self.matched.lock() {
            m.insert(model, route.clone());
        }
        Some(route)
    }

    /// How many names the glob memo holds (tests check its bound).
    #[cfg(test)]
    pub(crate) fn matched_len(&self) -> usize {
        self.matched.lock().map_or(0, |m| m.routes.len())
    }

    /// An alias wins over a glob, and both over direct addressing, so `openai/gpt-4o` can be
    /// redefined as an alias (and `"*"` catches `PROVIDER/MODEL` names too).
    pub(crate) fn resolve(&self, model: &str) -> Result<Arc<Route>, ApiError> {
        if let Some(r) = self.aliases.get(model) {
            return Ok(r.clone());
        }
        if let Some(r) = self.by_glob(model) {
            return Ok(r);
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
            targets: vec![self.target(slot, upstream_model, upstream_model, 1, 0)],
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
