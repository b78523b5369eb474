//! The request pipeline between the HTTP edge and the providers.
//!
//! `seam-gateway` never sees an HTTP type: it takes parsed requests (`seam-types`), resolves the
//! `model` to an ordered list of targets ([`route`]), tries them with timeouts and concurrency
//! caps ([`attempt`]), and returns the answer with the facts the edge reports (which target
//! answered, how many attempts, upstream time). Streams are peeked: the first chunk is awaited
//! inside the first-token timeout, so a target that fails before it can still be replaced; after
//! that, failures surface as the stream's last item ([`stream`]). Metrics are emitted through the
//! `metrics` facade with bounded label sets ([`telemetry`]).

mod attempt;
pub mod route;
mod stream;
pub mod telemetry;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use seam_config::Config;
use seam_providers::Provider;
use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use tokio::sync::Semaphore;

pub use attempt::{Attempt, Failure};
pub use route::Route;

/// What the client receives on a stream: chunks, and at most one error as the last item.
pub type ClientStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ApiError>> + Send>>;

/// A successful answer and how it was obtained.
pub struct Outcome<T> {
    pub value: T,
    /// `provider/model` of the target that answered.
    pub route: String,
    /// Every attempt made, the successful one last.
    pub attempts: Vec<Attempt>,
    /// Time spent waiting on the upstream (for streams: until the first chunk).
    pub upstream: Duration,
}

/// A configured provider with its limits.
pub struct ProviderEntry {
    pub name: String,
    pub provider: Provider,
    pub timeout: Duration,
    pub first_token_timeout: Duration,
    pub slots: Arc<Semaphore>,
}

pub struct Gateway {
    providers: HashMap<String, Arc<ProviderEntry>>,
    routes: HashMap<String, Route>,
}

impl Gateway {
    /// Builds providers and routes from a validated config.
    pub fn new(cfg: &Config) -> Result<Self, String> {
        let mut providers = HashMap::new();
        for (name, p) in &cfg.providers {
            let entry = ProviderEntry {
                name: name.clone(),
                provider: Provider::new(p)?,
                timeout: p.timeout,
                first_token_timeout: p.first_token_timeout,
                slots: Arc::new(Semaphore::new(p.max_concurrency as usize)),
            };
            providers.insert(name.clone(), Arc::new(entry));
        }
        let mut routes = HashMap::new();
        for (alias, m) in &cfg.models {
            routes.insert(alias.clone(), route::from_config(m, &providers)?);
        }
        Ok(Gateway { providers, routes })
    }

    /// The aliases clients may send as `model`, sorted.
    pub fn aliases(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.routes.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// `model` as an alias, or as `PROVIDER/MODEL`.
    pub fn resolve(&self, model: &str) -> Result<Route, ApiError> {
        route::resolve(model, &self.routes, &self.providers)
    }

    pub async fn chat(&self, req: &ChatRequest) -> Result<Outcome<ChatCompletion>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        let out = attempt::run(
            &route,
            "response",
            |t| t.entry.timeout,
            |t| t.entry.provider.chat(&t.model, req),
        )
        .await?;
        Ok(answered(&route, out, |c| {
            c.usage
                .as_ref()
                .map(|u| (u.prompt_tokens, u.completion_tokens))
        }))
    }

    /// A stream whose first chunk has already arrived from the target that answered.
    pub async fn chat_stream(&self, req: &ChatRequest) -> Result<Outcome<ClientStream>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        let out = attempt::run(
            &route,
            "first token",
            |t| t.entry.first_token_timeout,
            |t| stream::open(&t.entry, &t.model, req),
        )
        .await?;
        let (provider, model) = route.labels(out.target);
        telemetry::ttft(provider, model, out.upstream);
        let guarded = stream::guard(
            out.value,
            out.permit,
            route.targets[out.target].entry.timeout,
            route.label(out.target).to_owned(),
            provider.to_owned(),
            model.to_owned(),
        );
        Ok(Outcome {
            value: Box::pin(guarded),
            route: route.label(out.target).to_owned(),
            attempts: out.attempts,
            upstream: out.upstream,
        })
    }

    pub async fn embeddings(
        &self,
        req: &EmbeddingsRequest,
    ) -> Result<Outcome<EmbeddingsResponse>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        let out = attempt::run(
            &route,
            "response",
            |t| t.entry.timeout,
            |t| t.entry.provider.embeddings(&t.model, req),
        )
        .await?;
        Ok(answered(&route, out, |e| {
            e.usage.as_ref().map(|u| (u.prompt_tokens, 0))
        }))
    }
}

/// Records the tokens a unary answer reports and releases its concurrency slot.
fn answered<T>(
    route: &Route,
    out: attempt::Success<T>,
    usage: impl FnOnce(&T) -> Option<(u64, u64)>,
) -> Outcome<T> {
    if let Some((prompt, completion)) = usage(&out.value) {
        let (provider, model) = route.labels(out.target);
        telemetry::tokens(provider, model, prompt, completion);
    }
    out.into_outcome(route)
}

#[cfg(test)]
mod tests;
