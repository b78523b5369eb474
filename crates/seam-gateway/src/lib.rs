//! The request pipeline between the HTTP edge and the providers.
//!
//! `seam-gateway` never sees an HTTP type. It takes parsed requests (`seam-types`), resolves the
//! `model` to a `seam_router::Route` ([`routes`]), lets the router pick and try targets, makes each
//! attempt through the provider adapters, and returns the answer with the facts the edge reports:
//! which target answered, every attempt, and why ([`Outcome`]). Streams are peeked: an attempt
//! succeeds only once its first chunk is in hand, so a target that fails before it is replaced like
//! any other; after that, failures surface as the stream's last item ([`stream`]). Metrics go
//! through the `metrics` facade with bounded label sets ([`telemetry`]).

mod contract;
mod errors;
pub mod handles;
pub mod ner;
mod policy;
pub mod routes;
mod stream;
pub mod telemetry;
mod tools;
pub mod usage;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use seam_config::Config;
use seam_providers::ProviderError;
use seam_router::{Mode, Route};
use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

pub use policy::{INJECTION_ENTITY, OutputSeen, PolicyReport, Remask};
pub use routes::{ProviderEntry, TargetReport};
pub use seam_router::{Attempt, Placement, Registry};
pub use stream::chunks_of;
pub use tools::{ToolCall, ToolRefusal};

/// What the client receives on a stream: chunks, and at most one error as the last item. The
/// upstream's usage chunk is always among them (adapters ask for it); the edge forwards it only
/// when the client set `stream_options.include_usage`.
pub type ClientStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ApiError>> + Send>>;

/// A successful answer and how it was obtained.
pub struct Outcome<T> {
    pub value: T,
    /// `provider/model` of the target that answered.
    pub route: String,
    /// Every upstream attempt, the successful one last.
    pub attempts: Vec<Attempt>,
    /// Why this target answered (`x-seam-route-reason`).
    pub reason: String,
    /// Time spent in the successful attempt (for streams: until the first chunk).
    pub upstream: Duration,
    /// What the policy decided, when the route's policy does anything (`x-seam-policy`).
    pub policy: Option<PolicyReport>,
    /// The request as sent upstream when the policy (or a contract) changed it; `None` when the
    /// client's request went as it came (with `model` replaced). For the audit trail.
    pub rewritten: Option<Rewritten>,
    /// The request's tokens, when the policy minted any: the audit trail remasks restored answers
    /// with it.
    pub remask: Option<Remask>,
    /// Whether the output stage found anything in the answer (for a stream: once it has ended),
    /// so the edge does not cache an answer the policy changed or flagged.
    pub output_seen: OutputSeen,
}

/// A request body after the input policy.
#[derive(Debug, Clone)]
pub enum Rewritten {
    Chat(Box<ChatRequest>),
    Embeddings(Box<EmbeddingsRequest>),
    /// A tool call's parameters (`/mcp`).
    Json(Box<serde_json::Value>),
}

/// No answer: the error for the client, and what was tried.
#[derive(Debug)]
pub struct Failure {
    pub error: ApiError,
    pub attempts: Vec<Attempt>,
    pub reason: Option<String>,
    /// What the policy found, when it refused the request (or found things before a failure).
    pub policy: Option<PolicyReport>,
    /// The request as sent upstream when the policy (or a contract) changed it, as on
    /// [`Outcome::rewritten`]: the attempts failed, but the vendor got this, not the client's.
    pub rewritten: Option<Rewritten>,
}

impl Failure {
    pub fn before_attempts(error: ApiError) -> Self {
        Failure {
            error,
            attempts: Vec::new(),
            reason: None,
            policy: None,
            rewritten: None,
        }
    }

    /// The request the attempts carried, when it was not the client's.
    fn sent(mut self, rewritten: Option<Rewritten>) -> Self {
        self.rewritten = rewritten;
        self
    }

    fn refused(r: policy::Refusal) -> Self {
        Failure {
            policy: Some(*r.report),
            ..Failure::before_attempts(r.error)
        }
    }
}

/// Providers and routes built from one config. Replaced whole on reload; the router's health
/// state lives in the shared [`Registry`] and carries over.
pub struct Gateway {
    table: routes::Table,
    policies: policy::Policies,
    contracts: contract::Contracts,
    /// `PROVIDER/MODEL` of every alias target: names the config chose, kept as they are.
    configured_models: std::collections::HashSet<String>,
}

/// The most characters of a client-chosen `model` an audit record keeps.
pub const MAX_RECORDED_MODEL: usize = 128;
/// A client-chosen `model` longer than this (in bytes) is not kept at all, only its length: no
/// model is named so, and scanning and masking stay bounded.
const MAX_SCANNED_MODEL: usize = 256;

impl Gateway {
    pub fn new(cfg: &Config, registry: &Arc<Registry>) -> Result<Self, String> {
        Ok(Gateway {
            table: routes::Table::new(cfg, registry)?,
            policies: policy::Policies::new(cfg)?,
            contracts: contract::Contracts::new(cfg)?,
            configured_models: cfg
                .models
                .values()
                .flat_map(|m| {
                    m.targets
                        .iter()
                        .map(|t| format!("{}/{}", t.provider, t.model_for(&m.alias)))
                })
                .collect(),
        })
    }

    /// `model` as an audit record may keep it. An alias or a configured `PROVIDER/MODEL` is a
    /// name the config chose, kept as it is. Anything else is the client's string (direct
    /// addressing, a name a glob alias matched, or a name that resolves to nothing) and is kept
    /// only after the scanner has seen it: every value it finds masked as `[ENTITY]`, control
    /// characters as `?`, at most [`MAX_RECORDED_MODEL`] characters.
    pub fn model_for_record<'m>(&self, model: &'m str) -> std::borrow::Cow<'m, str> {
        if self.table.is_exact_alias(model) || self.configured_models.contains(model) {
            return std::borrow::Cow::Borrowed(model);
        }
        std::borrow::Cow::Owned(masked_model(model))
    }

    /// A client's label (an `x-seam-tags` entry) as an audit record may keep it: every value the
    /// scanner finds masked as `[ENTITY]`, control characters as `?` — labels are stored in
    /// clear and searched, so they must not carry the personal data the policy exists to keep
    /// out. Borrowed when the scanner finds nothing.
    pub fn label_for_record<'t>(&self, label: &'t str) -> std::borrow::Cow<'t, str> {
        let masked = masked_model(label);
        if masked == label {
            std::borrow::Cow::Borrowed(label)
        } else {
            std::borrow::Cow::Owned(masked)
        }
    }

    /// `text` for display to someone who may see its shape but not the personal data in it:
    /// every value the full scanner finds (as [`Gateway::label_for_record`]) replaced by its type
    /// as a `redact` action writes it (`<EMAIL>`). Borrowed when nothing is found; a text the
    /// scanner cannot map back whole is withheld entirely.
    pub fn mask_text<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        match mask_findings(text, seam_policy::actions::redact) {
            Some(None) => std::borrow::Cow::Borrowed(text),
            Some(Some(masked)) => std::borrow::Cow::Owned(masked),
            None => std::borrow::Cow::Owned(format!("<TEXT of {} bytes>", text.len())),
        }
    }

    /// What finds names, places and addresses, for the start-up log; `None` when no policy
    /// covers them.
    pub fn ner_status(&self) -> Option<String> {
        self.policies.ner.as_ref().map(ner::Ner::status)
    }

    /// The aliases clients may send as `model`, sorted; a glob alias as its pattern (`claude-*`).
    pub fn aliases(&self) -> Vec<&str> {
        self.table.aliases()
    }

    /// Whether an alias serves `model`, by its name or a glob (else it is direct addressing, or
    /// unknown). What is keyed by alias name should use [`Gateway::alias_of`].
    pub fn is_alias(&self, model: &str) -> bool {
        self.table.alias_of(model).is_some()
    }

    /// The configured alias that serves `model`: `model` itself when it is an alias, else the
    /// most specific glob alias that matches it (`claude-*` for `claude-sonnet-4-5-20250929`).
    /// `None` for direct addressing and unknown names. Key scopes, cache rules, audit classes and
    /// metric labels are keyed by this, never by the client's string.
    pub fn alias_of(&self, model: &str) -> Option<&str> {
        self.table.alias_of(model)
    }

    /// `model` as an alias, a name a glob alias matches, or `PROVIDER/MODEL`.
    pub fn resolve(&self, model: &str) -> Result<Arc<Route>, ApiError> {
        self.table.resolve(model)
    }

    /// Whether a target `model` may route to sends a native body of `wire` as it is: when none
    /// does, a surface need not carry one (it would only be walked by the policy and dropped).
    pub fn takes_native(&self, model: &str, wire: seam_types::chat::Wire) -> bool {
        self.resolve(model).is_ok_and(|route| {
            route
                .targets
                .iter()
                .any(|t| self.table.provider(t.slot).takes(wire))
        })
    }

    /// Every target the router knows, with breaker state, load and moving averages.
    pub fn targets(&self) -> Vec<TargetReport> {
        self.table.report()
    }

    /// Sets the breaker and load gauges; called when metrics are scraped.
    pub fn export_gauges(&self) {
        for t in self.table.report() {
            telemetry::target_gauges(&t);
        }
    }

    /// A unary answer. `key_policy`: the caller's key's policy, laid over the route's (it can
    /// tighten, never loosen).
    pub async fn chat(
        &self,
        req: &ChatRequest,
        constraints: &Placement,
        key_policy: Option<&str>,
    ) -> Result<Outcome<ChatCompletion>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        let contract = self
            .contracts
            .for_request(&route.name, req)
            .map_err(Failure::before_attempts)?;
        let policy = self
            .policies
            .for_request(&route.name, key_policy)
            .map_err(Failure::before_attempts)?;
        let policy = &policy;
        let mut prepared = prepare_input(policy, req, &route).await?;
        if let Some(c) = &contract {
            let r = prepared.request.to_mut();
            c.apply(r);
            // The contract speaks through the chat form (its schema and re-ask); a client's own
            // body would go without it.
            r.native = None;
            // A stream with a contract is answered whole, then sent in chunks.
            r.stream = None;
            r.stream_options = None;
        }
        let placement = prepared.placement(constraints);
        let sent: &ChatRequest = &prepared.request;
        let mut out = match self.unary_chat(&route, &placement, sent).await {
            Ok(o) => o,
            Err(mut f) => {
                f.policy = prepared.active().then(|| prepared.report.clone());
                return Err(f.sent(rewritten_chat(&prepared.request)));
            }
        };
        let raw = contract.as_ref().map(|_| out.value.clone());
        let t1 = seam_providers::otel::now_ns();
        let records = scan(completion_bytes(&out.value), || {
            prepared.finish_completion(&mut out.value)
        });
        if prepared.active() {
            telemetry::policy_span("seam.policy.output", t1, policy.name(), &records);
        }
        prepared.output_seen.note(&records);
        prepared.report.records.extend(records);
        if let (Some(c), Some(raw)) = (&contract, raw)
            && let Some(why) = c.check(&out.value)
        {
            let again = contract::reask(sent, &raw, &why);
            let mut attempts = std::mem::take(&mut out.attempts);
            let mut second = match self.unary_chat(&route, &placement, &again).await {
                Ok(o) => o,
                Err(mut f) => {
                    attempts.append(&mut f.attempts);
                    f.attempts = attempts;
                    return Err(f.sent(rewritten_chat(&prepared.request)));
                }
            };
            attempts.append(&mut second.attempts);
            let records = scan(completion_bytes(&second.value), || {
                prepared.finish_completion(&mut second.value)
            });
            prepared.output_seen.note(&records);
            prepared.report.records.extend(records);
            if let Some(why) = c.check(&second.value) {
                telemetry::policy_refusal(policy.name(), "contract");
                return Err(Failure {
                    error: contract::violation(&why),
                    attempts,
                    reason: Some(second.reason),
                    rewritten: rewritten_chat(&prepared.request),
                    policy: prepared.active().then_some(prepared.report),
                });
            }
            second.attempts = attempts;
            second.upstream += out.upstream;
            out = second;
        }
        out.remask = prepared.remask();
        out.output_seen = prepared.output_seen.clone();
        out.policy = prepared.active().then_some(prepared.report);
        if let std::borrow::Cow::Owned(r) = prepared.request {
            out.rewritten = Some(Rewritten::Chat(Box::new(r)));
        }
        Ok(out)
    }

    async fn unary_chat(
        &self,
        route: &Route,
        placement: &Placement,
        req: &ChatRequest,
    ) -> Result<Outcome<ChatCompletion>, Failure> {
        let out = self
            .run(route, placement, Mode::Unary, "chat", |p, model| {
                p.chat(model, req)
            })
            .await?;
        Ok(answered(route, out, |c| {
            c.usage
                .as_ref()
                .map(|u| (u.prompt_tokens, u.completion_tokens))
        }))
    }

    /// A stream whose first chunk has already arrived from the target that answered.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        constraints: &Placement,
        key_policy: Option<&str>,
    ) -> Result<Outcome<ClientStream>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        if self
            .contracts
            .for_request(&route.name, req)
            .map_err(Failure::before_attempts)?
            .is_some()
        {
            let out = self.chat(req, constraints, key_policy).await?;
            return Ok(Outcome {
                value: Box::pin(stream::from_completion(out.value)),
                route: out.route,
                attempts: out.attempts,
                reason: out.reason,
                upstream: out.upstream,
                policy: out.policy,
                rewritten: out.rewritten,
                remask: out.remask,
                output_seen: out.output_seen,
            });
        }
        let policy = self
            .policies
            .for_request(&route.name, key_policy)
            .map_err(Failure::before_attempts)?;
        let policy = &policy;
        let prepared = prepare_input(policy, req, &route).await?;
        let placement = prepared.placement(constraints);
        let sent: &ChatRequest = &prepared.request;
        let out = match self
            .run(&route, &placement, Mode::Stream, "chat", |p, model| {
                stream::open(p, model, sent)
            })
            .await
        {
            Ok(o) => o,
            Err(mut f) => {
                f.policy = prepared.active().then(|| prepared.report.clone());
                return Err(f.sent(rewritten_chat(&prepared.request)));
            }
        };
        let target = &route.targets[out.target];
        telemetry::ttft(&target.provider, &target.metric_model, out.upstream);
        let guarded = stream::guard(
            out.value,
            out.permit,
            target.timeouts.stream_idle,
            target.label.clone(),
            target.provider.clone(),
            target.metric_model.clone(),
        );
        let value = prepared.filter_stream(Box::pin(guarded));
        let policy = prepared.active().then(|| prepared.report.clone());
        let remask = prepared.remask();
        let rewritten = match prepared.request {
            std::borrow::Cow::Owned(r) => Some(Rewritten::Chat(Box::new(r))),
            std::borrow::Cow::Borrowed(_) => None,
        };
        Ok(Outcome {
            value,
            route: target.label.clone(),
            attempts: out.attempts,
            reason: out.reason,
            upstream: out.upstream,
            policy,
            rewritten,
            remask,
            output_seen: prepared.output_seen.clone(),
        })
    }

    /// The input stage of policy `name` on `texts` (a collection's `policy`, on documents before
    /// they are stored): each text as the policy rewrote it, or the refusal when the policy
    /// blocks something (its message names entity types, never values). Tokens it mints stay
    /// in the texts: there is no answer to restore them in.
    pub fn govern_texts(&self, name: &str, texts: Vec<String>) -> Result<Vec<String>, ApiError> {
        let policy = self.policies.for_named(Some(name), None)?;
        let n = texts.len();
        let req = EmbeddingsRequest {
            model: String::new(),
            input: seam_types::embeddings::EmbeddingInput::Many(texts),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Default::default(),
        };
        let prepared = policy::prepare_embeddings(&policy, &req).map_err(|r| r.error)?;
        match &prepared.request.input {
            seam_types::embeddings::EmbeddingInput::Many(v) if v.len() == n => Ok(v.clone()),
            _ => Err(ApiError::new(
                seam_types::ErrorCode::Internal,
                "the policy changed the shape of the texts",
            )),
        }
    }

    /// Whether anything in `text` (a request's last user message) would be acted on: a value
    /// the input rules of `model`'s route cover (under the caller's key policy, whatever they do
    /// with it), an injection score at the policy's threshold, or anything Seam's full scanner
    /// finds (personal data, secrets), whatever the policy. The semantic cache answers only
    /// clean texts: two questions that differ in an address are close in meaning but must not
    /// share an answer, and a hit must never skip a refusal. An unknown route or key policy
    /// counts as a finding. The scan (a model, when the policy uses one) runs off the runtime.
    pub async fn input_findings(&self, model: &str, key_policy: Option<&str>, text: &str) -> bool {
        let Ok(route) = self.resolve(model) else {
            return true;
        };
        let Ok(policy) = self.policies.for_request(&route.name, key_policy) else {
            return true;
        };
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || policy::finds_in_text(&policy, &text))
            .await
            .unwrap_or(true)
    }

    pub async fn embeddings(
        &self,
        req: &EmbeddingsRequest,
        constraints: &Placement,
        key_policy: Option<&str>,
    ) -> Result<Outcome<EmbeddingsResponse>, Failure> {
        let route = self.resolve(&req.model).map_err(Failure::before_attempts)?;
        let policy = self
            .policies
            .for_request(&route.name, key_policy)
            .map_err(Failure::before_attempts)?;
        let policy = &policy;
        let t0 = seam_providers::otel::now_ns();
        let mut prepared = scan(embeddings_bytes(req), || {
            policy::prepare_embeddings(policy, req)
        })
        .map_err(|r| Failure::refused(*r))?;
        if prepared.active {
            telemetry::policy_span(
                "seam.policy.input",
                t0,
                policy.name(),
                &prepared.report.records,
            );
        }
        let placement = policy::narrow_private(constraints, prepared.private);
        let sent: &EmbeddingsRequest = &prepared.request;
        let out = match self
            .run(&route, &placement, Mode::Unary, "embeddings", |p, model| {
                p.embeddings(model, sent)
            })
            .await
        {
            Ok(o) => o,
            Err(f) => {
                let rewritten = match &prepared.request {
                    std::borrow::Cow::Owned(r) => Some(Rewritten::Embeddings(Box::new(r.clone()))),
                    std::borrow::Cow::Borrowed(_) => None,
                };
                return Err(f.sent(rewritten));
            }
        };
        let mut out = answered(&route, out, |e| {
            e.usage.as_ref().map(|u| (u.prompt_tokens, 0))
        });
        prepared.finish(&mut out.value);
        out.policy = prepared.active.then_some(prepared.report);
        if let std::borrow::Cow::Owned(r) = prepared.request {
            out.rewritten = Some(Rewritten::Embeddings(Box::new(r)));
        }
        Ok(out)
    }

    /// The router's loop with this gateway's providers, error judgement and telemetry.
    async fn run<'r, T, F, Fut>(
        &'r self,
        route: &'r Route,
        constraints: &Placement,
        mode: Mode,
        operation: &'static str,
        call: F,
    ) -> Result<seam_router::Success<T>, Failure>
    where
        F: Fn(&'r seam_providers::Provider, &'r str) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        // Each attempt runs under its span id, which its `traceparent` carries upstream.
        let recorder = seam_providers::otel::current();
        let before = recorder.as_ref().map_or(0, |r| r.attempts_begun());
        let result = seam_router::run(
            route,
            constraints,
            mode,
            errors::classify,
            ProviderError::Timeout,
            |t| seam_providers::otel::attempt(call(self.table.provider(t.slot), &t.model)),
        )
        .await;
        let (attempts, reason) = match &result {
            Ok(s) => (&s.attempts, &s.reason),
            Err(f) => (&f.attempts, &f.reason),
        };
        telemetry::attempts(route, attempts, operation);
        if let Some(r) = &recorder {
            let begun = r.attempts_from(before);
            telemetry::attempt_spans(r, route, attempts, &begun, reason, operation);
        }
        result.map_err(|f| errors::failure(route, constraints, f))
    }
}

/// Every detector Seam has (names by rules): what records and displays are masked with, whatever
/// the policies scan — a value must not show because a policy did not look for it.
fn full_scanner() -> &'static seam_policy::Scanner {
    static SCANNER: std::sync::OnceLock<seam_policy::Scanner> = std::sync::OnceLock::new();
    SCANNER.get_or_init(seam_policy::Scanner::all)
}

/// `text` with each finding at or above the default score replaced by `mark(entity)`; `None`
/// when nothing was found, or (not expected of the scanner) a finding does not fall on
/// character boundaries.
fn mask_findings(text: &str, mark: impl Fn(&str) -> String) -> Option<Option<String>> {
    let mut out = String::new();
    let mut at = 0;
    for f in full_scanner().scan(text) {
        if f.score < seam_config::policy::DEFAULT_MIN_SCORE || f.start < at {
            continue;
        }
        let before = text
            .get(at..f.start)
            .filter(|_| text.is_char_boundary(f.end))?;
        out.push_str(before);
        out.push_str(&mark(f.entity));
        at = f.end;
    }
    if at == 0 {
        return Some(None);
    }
    out.push_str(&text[at..]);
    Some(Some(out))
}

/// A client's `model` with what the full scanner finds masked.
fn masked_model(model: &str) -> String {
    if model.len() > MAX_SCANNED_MODEL {
        return format!("[model of {} bytes]", model.len());
    }
    let out = match mask_findings(model, |e| format!("[{e}]")) {
        Some(Some(m)) => m,
        Some(None) => model.to_owned(),
        // Keep nothing rather than a part.
        None => return format!("[model of {} bytes]", model.len()),
    };
    out.chars()
        .take(MAX_RECORDED_MODEL)
        .map(|c| if invisible(c) { '?' } else { c })
        .collect()
}

/// Control characters (CR, LF, NUL…) and the invisible ones that reorder or hide text.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The request as the policy left it, when it changed it (the `Cow` says whether it did).
#[allow(clippy::ptr_arg, reason = "Owned or Borrowed is the answer sought")]
fn rewritten_chat(request: &std::borrow::Cow<'_, ChatRequest>) -> Option<Rewritten> {
    match request {
        std::borrow::Cow::Owned(r) => Some(Rewritten::Chat(Box::new(r.clone()))),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// The model of a route's first target: the one whose tokenizer counts a policy's context limit.
fn first_model(route: &Route) -> &str {
    route.targets.first().map_or("", |t| t.model.as_str())
}

/// `req` through `policy`'s input stage (tagged, then masked or refused), with its span when the
/// stage did anything.
/// Text past which a policy scan leaves the async worker it runs on: about half a millisecond of
/// scanning at the detectors' ~100 MB/s.
pub const OFFLOAD_BYTES: usize = 64 * 1024;

/// Runs `f`, a policy scan over about `bytes` of text, so that it cannot stall other requests:
/// past [`OFFLOAD_BYTES`] on a multi-thread runtime (`seam serve`'s), the worker hands its other
/// tasks to another thread while `f` runs (`block_in_place`); smaller scans, the common case,
/// cost less than that hand-off and run where they are.
fn scan<T>(bytes: usize, f: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if bytes >= OFFLOAD_BYTES && multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// The text a request's messages carry, in bytes (what its input scan reads, roughly).
fn request_bytes(req: &ChatRequest) -> usize {
    req.messages.iter().map(|m| usage::message_bytes(m).0).sum()
}

/// The text an answer's choices carry, in bytes.
fn completion_bytes(c: &ChatCompletion) -> usize {
    c.choices
        .iter()
        .map(|ch| usage::message_bytes(&ch.message).0)
        .sum()
}

fn embeddings_bytes(req: &EmbeddingsRequest) -> usize {
    match &req.input {
        seam_types::embeddings::EmbeddingInput::One(t) => t.len(),
        seam_types::embeddings::EmbeddingInput::Many(v) => v.iter().map(String::len).sum(),
        _ => 0,
    }
}

async fn prepare_input<'r>(
    policy: &Arc<policy::Governed>,
    req: &'r ChatRequest,
    route: &Route,
) -> Result<policy::Prepared<'r>, Failure> {
    let t0 = seam_providers::otel::now_ns();
    let tagged = policy::tag_chat(policy, req).await;
    let prepared = scan(request_bytes(req), || {
        policy::prepare_tagged(policy, req, first_model(route), tagged)
    })
    .map_err(|r| Failure::refused(*r))?;
    if prepared.active() {
        telemetry::policy_span(
            "seam.policy.input",
            t0,
            policy.name(),
            &prepared.report.records,
        );
    }
    Ok(prepared)
}

/// Records the tokens a unary answer reports; its concurrency slot is released here.
fn answered<T>(
    route: &Route,
    out: seam_router::Success<T>,
    usage: impl FnOnce(&T) -> Option<(u64, u64)>,
) -> Outcome<T> {
    let target = &route.targets[out.target];
    if let Some((prompt, completion)) = usage(&out.value) {
        telemetry::tokens(&target.provider, &target.metric_model, prompt, completion);
    }
    Outcome {
        value: out.value,
        route: target.label.clone(),
        attempts: out.attempts,
        reason: out.reason,
        upstream: out.upstream,
        policy: None,
        rewritten: None,
        remask: None,
        output_seen: OutputSeen::default(),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_glob;
#[cfg(test)]
mod tests_record;
#[cfg(test)]
mod tests_semantic;
