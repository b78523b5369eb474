//! Resolving what the client sent as `model` to an ordered list of targets.

use std::collections::HashMap;
use std::sync::Arc;

use seam_config::ModelConfig;
use seam_types::{ApiError, ErrorCode};

use crate::ProviderEntry;
use crate::telemetry;

/// One place a request can go: a provider and the model name it knows.
pub struct Target {
    pub entry: Arc<ProviderEntry>,
    pub model: String,
    /// `provider/model`, as reported in `x-seam-route`.
    pub label: String,
    /// The model as a metric label; bounded, so client-chosen names cannot explode cardinality.
    pub metric_model: String,
}

impl Target {
    fn new(entry: Arc<ProviderEntry>, model: &str) -> Self {
        Target {
            label: format!("{}/{}", entry.name, model),
            metric_model: telemetry::model_label(model),
            model: model.to_owned(),
            entry,
        }
    }
}

/// The targets for one request, in the order they are tried.
#[derive(Clone)]
pub struct Route(Arc<RouteInner>);

pub struct RouteInner {
    pub targets: Vec<Target>,
}

impl std::ops::Deref for Route {
    type Target = RouteInner;
    fn deref(&self) -> &RouteInner {
        &self.0
    }
}

impl Route {
    pub fn label(&self, i: usize) -> &str {
        self.targets.get(i).map_or("", |t| t.label.as_str())
    }

    /// `(provider, model)` metric labels of target `i`.
    pub fn labels(&self, i: usize) -> (&str, &str) {
        self.targets.get(i).map_or(("", ""), |t| {
            (t.entry.name.as_str(), t.metric_model.as_str())
        })
    }
}

pub(crate) fn from_config(
    m: &ModelConfig,
    providers: &HashMap<String, Arc<ProviderEntry>>,
) -> Result<Route, String> {
    let mut targets = Vec::with_capacity(m.targets.len());
    for t in &m.targets {
        let entry = providers
            .get(&t.provider)
            .ok_or_else(|| format!("models.{}: unknown provider {}", m.alias, t.provider))?;
        targets.push(Target::new(entry.clone(), &t.model));
    }
    Ok(Route(Arc::new(RouteInner { targets })))
}

/// An alias wins over direct addressing, so `openai/gpt-4o` can be redefined as an alias.
pub(crate) fn resolve(
    model: &str,
    routes: &HashMap<String, Route>,
    providers: &HashMap<String, Arc<ProviderEntry>>,
) -> Result<Route, ApiError> {
    if let Some(r) = routes.get(model) {
        return Ok(r.clone());
    }
    if let Some((provider, upstream_model)) = model.split_once('/')
        && !upstream_model.is_empty()
        && let Some(entry) = providers.get(provider)
    {
        return Ok(Route(Arc::new(RouteInner {
            targets: vec![Target::new(entry.clone(), upstream_model)],
        })));
    }
    Err(ApiError::new(
        ErrorCode::ModelNotFound,
        format!(
            "The model `{}` does not exist: use a configured alias (GET /v1/models) or PROVIDER/MODEL",
            truncate(model, 200)
        ),
    )
    .with_param("model"))
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
