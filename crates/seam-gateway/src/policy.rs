//! The policy stages around the router: the input stage rewrites (or refuses) a request before any
//! target sees it; the output stage restores tokens and scans the answer, whole or streamed.
//!
//! `seam-policy` works on texts; this module knows where the texts are: every string a request
//! carries to a vendor and every string an answer brings back is text, structure or `user`
//! (`fields.rs` says which, field by field; `walk.rs` for JSON Seam does not model). It turns
//! decisions into errors, placement constraints, a response header and metrics. No value ever
//! leaves it except towards the client it came from.

mod fields;
pub(crate) mod injection;
pub(crate) mod walk;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures_util::Stream;
use seam_config::{Config, Trust, UserField};
use seam_policy::actions::Hasher;
use seam_policy::context::{self, Counter, Fit, Unit};
use seam_policy::{
    Escape, OutputFilter, Policy, Record, Scanner, StreamFilter, Tag, Tagger, Tagging, Vault,
};
use seam_router::Placement;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Content, Delta, Extra, FunctionCallDelta, Message,
    Native, Role, ToolCallDelta,
};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use seam_types::{ApiError, ErrorCode};
use serde_json::Value;

use crate::{ClientStream, telemetry};
use walk::At;

/// A compiled policy with what the gateway adds to it: the rule for `user` and the key that
/// hashes it (the policy's `hash_key`, else the process key, as for the `hash` action).
pub(crate) struct Governed {
    pub(crate) policy: Arc<Policy>,
    user: UserField,
    hasher: Hasher,
}

impl Deref for Governed {
    type Target = Policy;

    fn deref(&self) -> &Policy {
        &self.policy
    }
}

impl Governed {
    /// Whether the request's `user` changes: `scan` only when there are input rules to scan with.
    fn acts_on_user(&self) -> bool {
        match self.user {
            UserField::Keep => false,
            UserField::Scan => self.policy.scans_input(),
            UserField::Hash | UserField::Drop => true,
        }
    }

    /// Whether the policy does nothing at all: the request is forwarded untouched.
    pub(crate) fn inert(&self) -> bool {
        self.policy.is_inert() && !self.acts_on_user()
    }

    /// `<USER:1f2e3d4c5b6a7980>`: the `hash` action's keyed digest of an end user's identifier.
    fn hash_user(&self, value: &str) -> String {
        self.hasher.hash("USER", value)
    }
}

/// Every policy of a config, compiled, and which alias uses which.
pub(crate) struct Policies {
    by_alias: HashMap<String, Arc<Governed>>,
    /// `default`: direct addressing (`PROVIDER/MODEL`) and aliases that name no policy.
    default: Arc<Governed>,
    /// Every policy by name, for API keys that name one.
    by_name: HashMap<String, Arc<Governed>>,
    /// (route policy, key policy) → the route's tightened by the key's, built on first use.
    tightened: std::sync::RwLock<HashMap<(String, String), Arc<Governed>>>,
    /// The named-entity model, when a policy covers names, places or addresses.
    pub(crate) ner: Option<crate::ner::Ner>,
}

/// The key `hash` uses when a policy names no `hash_key`: drawn once per process, so hashes stay
/// stable across reloads but not across restarts (set `hash_key` for that).
fn process_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        // A failing system RNG leaves a fixed key; hashes are then as weak as unkeyed ones,
        // which the log says.
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k).is_err() {
            tracing::error!("no system randomness: policy hashes use a fixed key");
        }
        k
    })
}

impl Policies {
    pub(crate) fn new(cfg: &Config) -> Result<Self, String> {
        let needs_scanner = cfg.policies.values().any(|p| !p.is_empty());
        let scanner = Arc::new(if needs_scanner {
            Scanner::all()
        } else {
            Scanner::new(Vec::new())
        });
        let compiled = Self::compile(cfg, &scanner)?;
        // The model is loaded only when a policy that lets it read covers its entities.
        let wanted = cfg
            .policies
            .values()
            .any(|p| p.ner && compiled.get(&p.name).is_some_and(|g| g.wants_names()));
        let any_names = compiled.values().any(|g| g.wants_names());
        let ner = if wanted {
            Some(crate::ner::load(&cfg.ner)?)
        } else if any_names {
            Some(crate::ner::Ner::Off)
        } else {
            None
        };
        let compiled = match ner.as_ref().and_then(crate::ner::Ner::tagger) {
            Some(tagger) => Self::compile(cfg, &Arc::new(Scanner::all().with_tagger(tagger)))?,
            None => compiled,
        };
        Self::assemble(cfg, compiled, ner)
    }

    fn compile(
        cfg: &Config,
        scanner: &Arc<Scanner>,
    ) -> Result<HashMap<String, Arc<Governed>>, String> {
        let mut compiled = HashMap::new();
        let mut errors = Vec::new();
        for (name, p) in &cfg.policies {
            match Policy::compile(p, Arc::clone(scanner), process_key()) {
                Ok(compiled_policy) => {
                    let key = p
                        .hash_key
                        .as_ref()
                        .map_or(process_key(), |k| k.expose().as_bytes());
                    let governed = Governed {
                        policy: Arc::new(compiled_policy),
                        user: p.user_field(),
                        hasher: Hasher::new(key),
                    };
                    compiled.insert(name.clone(), Arc::new(governed));
                }
                Err(e) => errors.extend(e.into_iter().map(|e| e.to_string())),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(compiled)
    }

    fn assemble(
        cfg: &Config,
        compiled: HashMap<String, Arc<Governed>>,
        ner: Option<crate::ner::Ner>,
    ) -> Result<Self, String> {
        let default = compiled
            .get(seam_config::DEFAULT_POLICY)
            .cloned()
            .ok_or("the default policy is missing")?;
        let by_alias: HashMap<String, Arc<Governed>> = cfg
            .models
            .iter()
            .filter_map(|(alias, m)| Some((alias.clone(), compiled.get(&m.policy)?.clone())))
            .collect();
        // Tokenizer tables take a moment to load: load the ones limits will need now, off the
        // request path.
        let mut warm: Vec<String> = cfg
            .models
            .iter()
            .filter(|(alias, _)| {
                by_alias
                    .get(*alias)
                    .is_some_and(|p| p.max_input_tokens().is_some())
            })
            .filter_map(|(_, m)| m.targets.first().map(|t| t.model.clone()))
            .filter(|model| Counter::has_tokenizer(model))
            .collect();
        warm.dedup();
        if !warm.is_empty() {
            std::thread::spawn(move || {
                for model in warm {
                    Counter::for_model(&model);
                }
            });
        }
        Ok(Policies {
            by_alias,
            default,
            by_name: compiled,
            tightened: std::sync::RwLock::new(HashMap::new()),
            ner,
        })
    }

    /// The policy of a route (an alias, or `PROVIDER/MODEL`).
    pub(crate) fn for_route(&self, name: &str) -> &Arc<Governed> {
        self.by_alias.get(name).unwrap_or(&self.default)
    }

    /// A policy by name (`None`: the default), tightened by the caller's key's policy: what a
    /// tool call on `/mcp` runs under. A name the config no longer has is refused.
    pub(crate) fn for_named(
        &self,
        name: Option<&str>,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        let base = match name {
            None => &self.default,
            Some(n) => self.by_name.get(n).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!(
                        "The policy `{}` is not in the config; refusing rather than serving without it",
                        n.chars().take(100).collect::<String>()
                    ),
                )
            })?,
        };
        self.tightened_over(base, key_policy)
    }

    /// The route's policy, tightened by the caller's key's policy when it names one. A key
    /// naming a policy the config no longer has is refused rather than served loosely.
    pub(crate) fn for_request(
        &self,
        route: &str,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        self.tightened_over(self.for_route(route), key_policy)
    }

    fn tightened_over(
        &self,
        base: &Arc<Governed>,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        let Some(name) = key_policy else {
            return Ok(Arc::clone(base));
        };
        let Some(key) = self.by_name.get(name) else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                format!(
                    "The API key's policy `{}` is not in the config; refusing rather than serving without it",
                    name.chars().take(100).collect::<String>()
                ),
            ));
        };
        if Arc::ptr_eq(base, key) || key.inert() {
            return Ok(Arc::clone(base));
        }
        if base.inert() {
            return Ok(Arc::clone(key));
        }
        let pair = (base.name().to_owned(), name.to_owned());
        if let Ok(m) = self.tightened.read()
            && let Some(p) = m.get(&pair)
        {
            return Ok(Arc::clone(p));
        }
        // The stricter `user` rule wins (keep < scan < hash < drop); the route's key hashes.
        let p = Arc::new(Governed {
            policy: Arc::new(base.policy.tightened_by(&key.policy)),
            user: base.user.max(key.user),
            hasher: base.hasher.clone(),
        });
        if let Ok(mut m) = self.tightened.write() {
            m.insert(pair, Arc::clone(&p));
        }
        Ok(p)
    }
}

/// What [`crate::Gateway::input_findings`] asks of one text: the full scanner's findings at the
/// default score, the injection rule's score, then the input rules (the model included when the
/// policy lets it read). Nothing is rewritten or kept.
pub(crate) fn finds_in_text(policy: &Governed, text: &str) -> bool {
    let scanned = crate::full_scanner()
        .scan(text)
        .iter()
        .any(|f| f.score >= seam_config::policy::DEFAULT_MIN_SCORE);
    if scanned {
        return true;
    }
    if let Some(rule) = policy.injection()
        && seam_policy::injection::assess(text).score >= rule.threshold
    {
        return true;
    }
    let mut records = Vec::new();
    policy.input_text(text, "semantic_cache", &mut Vault::new(), &mut records);
    !records.is_empty()
}

/// Puts a request's tokens back into text that had them restored, so the audit trail can keep an
/// answer in the form the vendor saw (`redacted` records) while the client got the values.
#[derive(Clone, Debug)]
pub struct Remask(Arc<Vault>);

impl Remask {
    pub(crate) fn of(vault: Arc<Vault>) -> Self {
        Remask(vault)
    }

    pub fn text(&self, s: &str) -> String {
        self.0.remask(s)
    }

    /// Every string in a JSON value, remasked.
    pub fn json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.0.remask(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }
}

/// Set once the output stage records anything in an answer. Shared with a filtered stream, which
/// sets it when it ends, so the edge can tell after the last chunk whether the answer was touched.
#[derive(Clone, Debug, Default)]
pub struct OutputSeen(Arc<AtomicBool>);

impl OutputSeen {
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn note(&self, records: &[Record]) {
        if !records.is_empty() {
            self.0.store(true, Ordering::Release);
        }
    }
}

/// The entity name of an injection decision in [`PolicyReport::counts`].
pub const INJECTION_ENTITY: &str = "PROMPT_INJECTION";

/// What the input stage decided, for the `x-seam-policy` header and the audit trail.
#[derive(Clone, Debug, Default)]
pub struct PolicyReport {
    pub policy: String,
    pub records: Vec<Record>,
    /// The injection score, when the policy assesses injection: the highest of every text
    /// assessed.
    pub injection: Option<f32>,
    /// Which part gave that score: `heuristic` or `classifier`.
    pub injection_by: Option<&'static str>,
    /// Where the text with that score entered: `user_message`, `tool_result`, `tool_arguments`
    /// (of an earlier assistant turn), `mcp_arguments` or `mcp_result`.
    pub injection_in: Option<&'static str>,
    /// The score crossed the threshold of a `flag` rule.
    pub injection_flagged: bool,
    /// The score crossed the threshold of a `block` rule: the request or call was refused.
    pub injection_blocked: bool,
    /// Messages dropped to fit `max_input_tokens`.
    pub dropped_messages: usize,
    /// How names, places and addresses were looked for, when the policy covers them: `model`,
    /// `partial` (the model's byte budget ran out; the rest by rules), or `rules` (no model, or
    /// `ner = false`).
    pub ner: Option<&'static str>,
}

impl PolicyReport {
    /// (stage, entity type, action, count) of every decision, sorted; an injection over the
    /// threshold is `PROMPT_INJECTION` with `flag` or `block`, at `input` (or `output`: an MCP
    /// server's answer). For the audit trail, which adds [`PolicyReport::injection`] and
    /// [`PolicyReport::injection_by`] to that entry.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, &'static str, usize)> {
        let mut v: Vec<_> = seam_policy::engine::summarize(&self.records)
            .into_iter()
            .map(|((stage, entity, action), n)| (stage.as_str(), entity, action, n))
            .collect();
        let action = if self.injection_blocked {
            Some("block")
        } else if self.injection_flagged {
            Some("flag")
        } else {
            None
        };
        if let Some(action) = action {
            let stage = if self.injection_in == Some("mcp_result") {
                "output"
            } else {
                "input"
            };
            v.push((stage, INJECTION_ENTITY, action, 1));
            v.sort_unstable();
        }
        v
    }

    /// `policy=NAME; input=ENTITY:action:count,…; output=…; injection=0.12[:flag];
    /// injection_by=heuristic; dropped_messages=2; ner=model`. Entity names, actions and counts
    /// only, never values.
    pub fn header(&self) -> String {
        let mut h = format!("policy={}", self.policy);
        let summary = seam_policy::engine::summarize(&self.records);
        for stage in [seam_policy::Stage::Input, seam_policy::Stage::Output] {
            let items: Vec<String> = summary
                .iter()
                .filter(|((s, _, _), _)| *s == stage)
                .map(|((_, e, a), n)| format!("{e}:{a}:{n}"))
                .collect();
            if !items.is_empty() {
                h.push_str(&format!("; {}={}", stage.as_str(), items.join(",")));
            }
        }
        if let Some(score) = self.injection {
            h.push_str(&format!("; injection={score:.2}"));
            if self.injection_flagged {
                h.push_str(":flag");
            }
            if let Some(by) = self.injection_by {
                h.push_str(&format!("; injection_by={by}"));
            }
        }
        if self.dropped_messages > 0 {
            h.push_str(&format!("; dropped_messages={}", self.dropped_messages));
        }
        if let Some(ner) = self.ner {
            h.push_str(&format!("; ner={ner}"));
        }
        h
    }
}

/// A request the input stage refused, and what it found (for the audit trail).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: ApiError,
    pub(crate) report: Box<PolicyReport>,
}

impl Refusal {
    fn new(error: ApiError, report: PolicyReport) -> Box<Self> {
        Box::new(Refusal {
            error,
            report: Box::new(report),
        })
    }
}

/// A request after the input stage.
pub(crate) struct Prepared<'r> {
    pub(crate) request: Cow<'r, ChatRequest>,
    policy: Arc<Policy>,
    vault: Arc<Vault>,
    /// Only `trust = "private"` targets may see this request.
    private: bool,
    /// Whether the policy does anything (else no header is sent).
    active: bool,
    pub(crate) report: PolicyReport,
    pub(crate) output_seen: OutputSeen,
}

/// `base`, held to private targets when `private`. Narrowed, not replaced: a caller that asked
/// for vendor targets only gets no target, never a private one it ruled out.
pub(crate) fn narrow_private(base: &Placement, private: bool) -> Placement {
    if !private {
        return base.clone();
    }
    base.narrow(&Placement {
        trust: Some(vec![Trust::Private]),
        regions: None,
    })
}

impl Prepared<'_> {
    /// The caller's placement, narrowed to private targets when the policy requires it.
    pub(crate) fn placement(&self, base: &Placement) -> Placement {
        narrow_private(base, self.private)
    }

    /// The request's tokens, to put back into a restored answer for `redacted` audit records.
    pub(crate) fn remask(&self) -> Option<Remask> {
        (!self.vault.is_empty()).then(|| Remask(Arc::clone(&self.vault)))
    }

    /// Whether the policy does anything (else no header is sent).
    pub(crate) fn active(&self) -> bool {
        self.active
    }

    fn output(&self) -> Option<OutputFilter> {
        OutputFilter::new(Arc::clone(&self.policy), Arc::clone(&self.vault))
    }

    /// Restores tokens and scans every choice of a whole answer; returns the output decisions.
    pub(crate) fn finish_completion(&self, c: &mut ChatCompletion) -> Vec<Record> {
        let mut records = Vec::new();
        let Some(filter) = self.output() else {
            return records;
        };
        for choice in &mut c.choices {
            let i = choice.index;
            finish_message(&filter, &mut choice.message, i, &mut records);
        }
        let empty = self.vault.is_empty();
        let mut f = |s: &str, loc: &str| whole(&self.policy, &filter, !empty, s, loc, &mut records);
        fields::completion(c, &mut At::default(), &mut f);
        telemetry::policy_findings(self.policy.name(), &records);
        records
    }

    /// Wraps a stream so that tokens are restored and answers scanned as chunks pass.
    pub(crate) fn filter_stream(&self, inner: ClientStream) -> ClientStream {
        match self.output() {
            None => inner,
            Some(filter) => Box::pin(Filtered {
                inner,
                filter,
                rules: Arc::clone(&self.policy),
                restores: !self.vault.is_empty(),
                at: At::default(),
                channels: HashMap::new(),
                last: None,
                queue: std::collections::VecDeque::new(),
                records: Vec::new(),
                policy: self.policy.name().to_owned(),
                seen: self.output_seen.clone(),
                done: false,
            }),
        }
    }
}

fn finish_message(filter: &OutputFilter, m: &mut Message, choice: u32, records: &mut Vec<Record>) {
    match &mut m.content {
        Some(Content::Text(t)) => {
            let loc = format!("choices[{choice}].message.content");
            if let Some(new) = filter.text(t, &loc, Escape::None, records) {
                *t = new;
            }
        }
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter_mut().enumerate() {
                if let Some(t) = &mut p.text {
                    let loc = format!("choices[{choice}].message.content[{j}].text");
                    if let Some(new) = filter.text(t, &loc, Escape::None, records) {
                        *t = new;
                    }
                }
            }
        }
        None => {}
    }
    for (k, call) in m.tool_calls.iter_mut().flatten().enumerate() {
        let loc = format!("choices[{choice}].message.tool_calls[{k}].function.arguments");
        if let Some(new) = filter.text(&call.function.arguments, &loc, Escape::Json, records) {
            call.function.arguments = new;
        }
    }
}

/// One whole text of an answer, restored and scanned. Without tokens to restore, straight to the
/// output scan (no copy when nothing is found).
fn whole(
    policy: &Policy,
    filter: &OutputFilter,
    restores: bool,
    s: &str,
    loc: &str,
    records: &mut Vec<Record>,
) -> Option<String> {
    if restores {
        filter.text(s, loc, Escape::None, records)
    } else {
        policy.output_text(s, &[], loc, records)
    }
}

fn violation(policy: &Policy, entities: &[&'static str]) -> ApiError {
    telemetry::policy_refusal(policy.name(), "entity");
    ApiError::new(
        ErrorCode::PolicyViolation,
        format!(
            "The policy `{}` does not allow {} in a request; remove or mask the value and retry",
            policy.name(),
            entities.join(", ")
        ),
    )
}

/// The input stage of a chat request: entities, injection, then the context window, counted with
/// the tokenizer of `model` (the route's first target) when it has one.
#[cfg(test)]
pub(crate) fn prepare<'r>(
    policy: &Arc<Governed>,
    req: &'r ChatRequest,
    model: &str,
) -> Result<Prepared<'r>, Box<Refusal>> {
    prepare_tagged(policy, req, model, Tagged::inline(policy))
}

/// [`prepare`] with the model's tags for the request's texts (from [`tag_chat`]).
pub(crate) fn prepare_tagged<'r>(
    policy: &Arc<Governed>,
    req: &'r ChatRequest,
    model: &str,
    tagged: Tagged,
) -> Result<Prepared<'r>, Box<Refusal>> {
    let mut prepared = Prepared {
        request: Cow::Borrowed(req),
        policy: Arc::clone(&policy.policy),
        vault: Arc::new(Vault::new()),
        private: false,
        active: !policy.inert(),
        report: PolicyReport {
            policy: policy.name().to_owned(),
            ..PolicyReport::default()
        },
        output_seen: OutputSeen::default(),
    };
    if policy.inert() {
        return Ok(prepared);
    }
    if let Some(rule) = policy.injection() {
        // Every text an injection can come in by: what the user wrote, what tools returned, and
        // the arguments of tool calls that come back into the conversation.
        let mut scorer = injection::Scorer::default();
        for m in &req.messages {
            match m.role {
                Role::User => scorer.text(injection::Source::UserMessage, &m.text()),
                Role::Tool | Role::Function => {
                    scorer.text(injection::Source::ToolResult, &m.text());
                }
                Role::Assistant => {
                    for call in m.tool_calls.iter().flatten() {
                        scorer
                            .arguments(injection::Source::ToolArguments, &call.function.arguments);
                    }
                }
                Role::System | Role::Developer => {}
            }
        }
        let found = scorer.best(injection::Source::UserMessage);
        if let Err(error) = injection::decide(
            policy.name(),
            rule,
            found,
            &mut prepared.report,
            "this request",
        ) {
            return Err(Refusal::new(error, prepared.report));
        }
    }
    if policy.scans_input() || policy.acts_on_user() {
        let mut input = Input::new(policy, tagged);
        let new = input.run(|at, f, user| fields::chat_request(req, at, f, user));
        // The client's own body, when a target may take it as it is: the same texts under the
        // same policy and vault (one token per value), its findings already counted above.
        let native = req.native.as_ref().map(|n| {
            let counted = input.records.len();
            let own = [NATIVE_OWN[0], NATIVE_OWN[1], n.wire.subject().0];
            let body = input.run(|at, f, _| walk::map(&n.body, at, f, &own));
            input.records.truncate(counted);
            (n, body)
        });
        telemetry::policy_findings(policy.name(), &input.records);
        prepared.report.ner = input.tagged.mode(policy);
        if !input.blocked.is_empty() {
            prepared.report.records = input.records;
            return Err(Refusal::new(
                violation(policy, &input.blocked),
                prepared.report,
            ));
        }
        if let Some(r) = new {
            prepared.request = Cow::Owned(r);
        }
        if let Some((n, body)) = native {
            let user = prepared.request.user.clone();
            if let Some(body) = governed_native(body, &n.body, n.wire.subject(), user) {
                prepared.request.to_mut().native = Some(Native {
                    body: Arc::new(body),
                    ..n.clone()
                });
            }
        }
        prepared.vault = Arc::new(input.vault);
        prepared.private = input.private;
        prepared.report.records = input.records;
    }
    if let Some(limit) = policy.max_input_tokens() {
        let counter = Counter::for_model(model);
        let units = units(&prepared.request.messages, counter);
        match context::fit(&units, limit, policy.on_overflow()) {
            Fit::Fits => {}
            Fit::Drop(drop) => {
                // The client's own body still holds the turns to drop: only the translation may
                // go, trimmed. A request only its own format can carry (a built-in tool) cannot
                // be trimmed that way, so it is refused rather than sent without what it needs.
                if let Some(why) = prepared
                    .request
                    .native
                    .as_ref()
                    .and_then(|n| n.requires.as_ref())
                {
                    telemetry::policy_refusal(policy.name(), "context");
                    let error = ApiError::new(
                        ErrorCode::ContextLengthExceeded,
                        format!(
                            "The messages are longer than the policy `{}` allows ({limit} tokens), and they cannot be trimmed: {why}",
                            policy.name()
                        ),
                    )
                    .with_param("messages");
                    return Err(Refusal::new(error, prepared.report));
                }
                prepared.report.dropped_messages = drop.len();
                let r = prepared.request.to_mut();
                r.native = None;
                let mut i = 0;
                r.messages.retain(|_| {
                    let keep = !drop.contains(&i);
                    i += 1;
                    keep
                });
            }
            Fit::TooLong { estimated, limit } => {
                telemetry::policy_refusal(policy.name(), "context");
                let error = ApiError::new(
                    ErrorCode::ContextLengthExceeded,
                    format!(
                        "The messages come to {}{estimated} tokens ({}), more than the {limit} the policy `{}` allows",
                        if matches!(counter, Counter::Estimate) { "about " } else { "" },
                        counter.name(),
                        policy.name()
                    ),
                )
                .with_param("messages");
                return Err(Refusal::new(error, prepared.report));
            }
        }
    }
    Ok(prepared)
}

/// Keys of a native body the input walk leaves to others: `model` and `stream` are the
/// adapter's; the key holding the subject (`Wire::subject`) is the policy's `user` rule's.
const NATIVE_OWN: [&str; 2] = ["model", "stream"];

/// The native body as sent: its walked texts (`walked`, when any changed), and the subject the
/// `user` rule left in the chat form (hashed, scanned, kept or dropped) where the format keeps
/// it (`subject`: a key, and the key under it when nested). `None` when nothing changed.
fn governed_native(
    walked: Option<serde_json::Map<String, Value>>,
    original: &serde_json::Map<String, Value>,
    (key, nested): (&str, Option<&str>),
    user: Option<String>,
) -> Option<serde_json::Map<String, Value>> {
    let holder = original.get(key);
    let sent = match nested {
        Some(inner) => holder.and_then(|m| m.get(inner)),
        None => holder,
    }
    .and_then(Value::as_str);
    let user_changed = sent != user.as_deref();
    if walked.is_none() && !user_changed {
        return None;
    }
    let mut body = walked.unwrap_or_else(|| original.clone());
    if user_changed {
        match (nested, user) {
            (None, Some(u)) => {
                body.insert(key.to_owned(), Value::String(u));
            }
            (None, None) => {
                body.remove(key);
            }
            (Some(inner), user) => {
                if let Some(Value::Object(meta)) = body.get_mut(key) {
                    match user {
                        Some(u) => meta.insert(inner.to_owned(), Value::String(u)),
                        None => meta.remove(inner),
                    };
                }
            }
        }
    }
    Some(body)
}

/// Messages as units for truncation: system messages and the last message are pinned; an
/// assistant turn with tool calls travels with the tool results after it.
fn units(messages: &[Message], counter: Counter) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let mut tokens = context::PER_MESSAGE + counter.count(&m.text());
        for call in m.tool_calls.iter().flatten() {
            tokens += counter.count(&call.function.arguments) + counter.count(&call.function.name);
        }
        let pinned = m.role == Role::System || i + 1 == messages.len();
        if m.role == Role::Tool
            && let Some(prev) = units.last_mut()
            && prev.messages.end == i
            && !prev.pinned
        {
            prev.messages.end = i + 1;
            prev.tokens += tokens;
            prev.pinned |= pinned;
            continue;
        }
        units.push(Unit {
            messages: i..i + 1,
            pinned,
            tokens,
        });
    }
    units
}

/// The input stage's state for one request: one vault, so the same value gets the same token in
/// every field, and what it found.
struct Input<'p> {
    policy: &'p Governed,
    vault: Vault,
    records: Vec<Record>,
    blocked: Vec<&'static str>,
    private: bool,
    tagged: Tagged,
}

impl<'p> Input<'p> {
    fn new(policy: &'p Governed, tagged: Tagged) -> Self {
        Input {
            policy,
            vault: Vault::new(),
            records: Vec::new(),
            blocked: Vec::new(),
            private: false,
            tagged,
        }
    }

    /// Runs a field walk with this state: every text through `input_text`, `user` by its rule.
    fn run<T>(
        &mut self,
        walk: impl FnOnce(&mut At, &mut walk::Text<'_>, fields::UserRule<'_>) -> T,
    ) -> T {
        let policy = self.policy;
        let model = policy.input_model().is_some();
        let (vault, records, blocked, private, tagged) = (
            &mut self.vault,
            &mut self.records,
            &mut self.blocked,
            &mut self.private,
            &mut self.tagged,
        );
        let mut f = |text: &str, loc: &str| {
            let tagging = if model {
                tagged.tagging(text)
            } else {
                Tagging::Off
            };
            let out = policy.input_text_tagged(text, loc, vault, records, tagging);
            for e in out.blocked {
                if !blocked.contains(&e) {
                    blocked.push(e);
                }
            }
            *private |= out.private;
            out.text
        };
        let user = |v: &str, at: &At, f: &mut walk::Text<'_>| {
            fields::user_value(policy.user, |v| policy.hash_user(v), v, at, f)
        };
        walk(&mut At::default(), &mut f, &user)
    }
}

/// What the named-entity model read of one request's input texts. The gateway tags a request's
/// texts in one batch on the blocking pool ([`tag_chat`]) before the input stage, which is
/// synchronous; a text it did not tag (none was, or the byte budget ran out) is tagged inline
/// while the budget lasts, else scanned by rules alone.
pub(crate) struct Tagged {
    /// The model's tags per text, keyed by the text as the walk sees it.
    by_text: HashMap<String, Vec<Tag>>,
    /// Bytes the model may still read for this request.
    left: usize,
    /// Whether some text went without the model because the budget ran out.
    capped: bool,
}

impl Tagged {
    /// Nothing tagged yet: texts are tagged inline, within the policy's budget.
    pub(crate) fn inline(policy: &Governed) -> Self {
        Tagged {
            by_text: HashMap::new(),
            left: policy.input_model().map_or(0, |(_, max)| max),
            capped: false,
        }
    }

    /// How the scan of `text` uses the model.
    fn tagging(&mut self, text: &str) -> Tagging<'_> {
        if let Some(tags) = self.by_text.get(text) {
            return Tagging::Given(tags);
        }
        if text.trim().is_empty() {
            return Tagging::Off;
        }
        if text.len() <= self.left {
            self.left -= text.len();
            return Tagging::Inline(usize::MAX);
        }
        self.capped = true;
        Tagging::Off
    }

    /// For the `x-seam-policy` header: `None` when the policy does not cover names.
    fn mode(&self, policy: &Governed) -> Option<&'static str> {
        if !policy.wants_names() {
            return None;
        }
        Some(match (policy.input_model().is_some(), self.capped) {
            (false, _) => "rules",
            (true, true) => "partial",
            (true, false) => "model",
        })
    }
}

/// Tags a chat request's input texts with the policy's model, in one batch on the blocking pool,
/// up to the policy's byte budget (in the order the walk meets them; the rest go by rules).
pub(crate) async fn tag_chat(policy: &Arc<Governed>, req: &ChatRequest) -> Tagged {
    let mut tagged = Tagged::inline(policy);
    let Some((model, _)) = policy.input_model() else {
        return tagged;
    };
    if !policy.scans_input() {
        return tagged;
    }
    let mut texts: Vec<String> = Vec::new();
    {
        let mut collect = |t: &str, _: &str| {
            texts.push(t.to_owned());
            None
        };
        let user = |_: &str, _: &At, _: &mut walk::Text<'_>| None;
        let _ = fields::chat_request(req, &mut At::default(), &mut collect, &user);
        if let Some(n) = &req.native {
            let own = [NATIVE_OWN[0], NATIVE_OWN[1], n.wire.subject().0];
            let _ = walk::map(&n.body, &mut At::default(), &mut collect, &own);
        }
    }
    tag_texts(&mut tagged, policy.scanner(), Arc::clone(model), texts).await;
    tagged
}

async fn tag_texts(
    tagged: &mut Tagged,
    scanner: &Scanner,
    model: Arc<dyn Tagger>,
    texts: Vec<String>,
) {
    let mut seen = std::collections::HashSet::new();
    // Each text to tag, with the windows the model reads of its normalised form.
    let mut chosen: Vec<(String, Vec<std::ops::Range<usize>>)> = Vec::new();
    let mut slices: Vec<String> = Vec::new();
    for t in texts {
        if t.trim().is_empty() || !seen.insert(t.clone()) {
            continue;
        }
        let input = Scanner::model_input(&t);
        let windows: Vec<_> = scanner
            .model_windows(&input)
            .into_iter()
            .filter(|w| input.get(w.clone()).is_some())
            .collect();
        // Text the rules settle needs no model: scanned by rules, at no cost to the budget.
        if windows.is_empty() {
            tagged.by_text.insert(t, Vec::new());
            continue;
        }
        let read: usize = windows.iter().map(|w| w.len()).sum();
        if read > tagged.left {
            tagged.capped = true;
            continue;
        }
        tagged.left -= read;
        slices.extend(
            windows
                .iter()
                .filter_map(|w| input.get(w.clone()))
                .map(str::to_owned),
        );
        chosen.push((t, windows));
    }
    if chosen.is_empty() {
        return;
    }
    let tags = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = slices.iter().map(String::as_str).collect();
        model.tag(&refs)
    })
    .await;
    match tags {
        Ok(tags) => {
            let mut tags = tags.into_iter();
            for (t, windows) in chosen {
                let mine: Vec<Vec<Tag>> = tags.by_ref().take(windows.len()).collect();
                tagged
                    .by_text
                    .insert(t, seam_policy::place_tags(&windows, mine));
            }
        }
        // The blocking pool is gone (shutting down): rules alone, said in the header.
        Err(_) => tagged.capped = true,
    }
}

/// An embeddings request after the input stage.
pub(crate) struct PreparedEmbeddings<'r> {
    pub(crate) request: Cow<'r, EmbeddingsRequest>,
    /// Only `trust = "private"` targets may see this request.
    pub(crate) private: bool,
    pub(crate) report: PolicyReport,
    policy: Arc<Policy>,
    vault: Arc<Vault>,
    /// Whether the policy does anything (else no header is sent).
    pub(crate) active: bool,
}

impl PreparedEmbeddings<'_> {
    /// Restores tokens in, and scans, the answer's string fields (vectors are numbers); the
    /// decisions go to the report.
    pub(crate) fn finish(&mut self, r: &mut EmbeddingsResponse) {
        if r.extra.is_empty() {
            return;
        }
        let Some(filter) = OutputFilter::new(Arc::clone(&self.policy), Arc::clone(&self.vault))
        else {
            return;
        };
        let mut records = Vec::new();
        let empty = self.vault.is_empty();
        let mut f = |s: &str, loc: &str| whole(&self.policy, &filter, !empty, s, loc, &mut records);
        fields::embeddings_response(r, &mut At::default(), &mut f);
        telemetry::policy_findings(self.policy.name(), &records);
        self.report.records.extend(records);
    }
}

/// The input stage of an embeddings request: the same entity rules and `user` rule; injection and
/// context limits do not apply to texts that are only embedded.
pub(crate) fn prepare_embeddings<'r>(
    policy: &Arc<Governed>,
    req: &'r EmbeddingsRequest,
) -> Result<PreparedEmbeddings<'r>, Box<Refusal>> {
    let mut prepared = PreparedEmbeddings {
        request: Cow::Borrowed(req),
        private: false,
        report: PolicyReport {
            policy: policy.name().to_owned(),
            ..PolicyReport::default()
        },
        policy: Arc::clone(&policy.policy),
        vault: Arc::new(Vault::new()),
        active: policy.scans_input() || policy.acts_on_user(),
    };
    if !prepared.active {
        return Ok(prepared);
    }
    let mut input = Input::new(policy, Tagged::inline(policy));
    let new = input.run(|at, f, user| fields::embeddings_request(req, at, f, user));
    prepared.report.ner = input.tagged.mode(policy);
    prepared.report.records = input.records;
    telemetry::policy_findings(policy.name(), &prepared.report.records);
    if !input.blocked.is_empty() {
        return Err(Refusal::new(
            violation(policy, &input.blocked),
            prepared.report,
        ));
    }
    if let Some(r) = new {
        prepared.request = Cow::Owned(r);
    }
    prepared.private = input.private;
    prepared.vault = Arc::new(input.vault);
    Ok(prepared)
}

/// Text fields a server streams in pieces beside `content` (reasoning, refusals, spoken
/// transcripts), as paths into a delta's extras. Each gets its own filter per choice, like
/// content, so a value split across chunks is still found.
const STREAMED: &[&[&str]] = &[
    &["reasoning_content"],
    &["reasoning"],
    &["refusal"],
    &["audio", "transcript"],
];

/// The string at `path` in a delta's extras, if there is one.
fn streamed_mut<'a>(extra: &'a mut Extra, path: &[&str]) -> Option<&'a mut String> {
    let (first, rest) = path.split_first()?;
    let mut v = extra.get_mut(*first)?;
    for key in rest {
        v = v.as_object_mut()?.get_mut(*key)?;
    }
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Appends `text` to the string at `path` in a delta's extras, creating it (and the objects on
/// the way) when absent.
fn append_streamed(extra: &mut Extra, path: &[&str], text: &str) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut m = extra;
    for key in parents {
        let v = m
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Extra::new()));
        if !v.is_object() {
            *v = Value::Object(Extra::new());
        }
        let Value::Object(o) = v else { return };
        m = o;
    }
    match m.get_mut(*last) {
        Some(Value::String(s)) => s.push_str(text),
        _ => {
            m.insert((*last).to_owned(), Value::String(text.to_owned()));
        }
    }
}

/// Whether a delta starts what follows a run of reasoning: the thinking block's signature, a
/// redacted block, the answer's text or a tool call (the extras `seam_types::chat` documents).
fn ends_reasoning(d: &Delta) -> bool {
    d.content.as_deref().is_some_and(|t| !t.is_empty())
        || d.tool_calls.is_some()
        || d.extra.contains_key("reasoning_signature")
        || d.extra.contains_key("reasoning_redacted")
}

/// One streamed channel of a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Channel {
    Content,
    /// A tool call's arguments, by the call's index.
    Arguments(u32),
    /// A [`STREAMED`] field, by its position there.
    Field(usize),
}

/// A stream with its answers restored and scanned: one filter per choice's content, per tool
/// call's arguments and per streamed text field; every other string of a chunk is restored and
/// scanned whole. Text a filter holds back is released by the chunk that finishes its choice, or,
/// if the stream ends or fails first, by one extra chunk before the end or the error.
struct Filtered {
    inner: ClientStream,
    filter: OutputFilter,
    /// The policy, for whole strings when there is nothing to restore.
    rules: Arc<Policy>,
    /// Whether the request has tokens to restore.
    restores: bool,
    /// A location buffer reused across chunks.
    at: At,
    /// (choice, channel) → its filter.
    channels: HashMap<(u32, Channel), StreamFilter>,
    /// The id, created and model of the last chunk, for a closing chunk of our own.
    last: Option<(String, u64, String)>,
    queue: std::collections::VecDeque<Result<ChatChunk, ApiError>>,
    records: Vec<Record>,
    policy: String,
    seen: OutputSeen,
    done: bool,
}

impl Filtered {
    fn channel(&mut self, key: (u32, Channel)) -> &mut StreamFilter {
        let filter = &self.filter;
        self.channels.entry(key).or_insert_with(|| match key.1 {
            Channel::Content => {
                filter.stream(format!("choices[{}].delta.content", key.0), Escape::None)
            }
            Channel::Arguments(k) => filter.stream(
                format!(
                    "choices[{}].delta.tool_calls[{k}].function.arguments",
                    key.0
                ),
                Escape::Json,
            ),
            Channel::Field(f) => filter.stream(
                format!("choices[{}].delta.{}", key.0, STREAMED[f].join(".")),
                Escape::None,
            ),
        })
    }

    fn process(&mut self, mut chunk: ChatChunk) -> ChatChunk {
        self.last = Some((chunk.id.clone(), chunk.created, chunk.model.clone()));
        let mut records = std::mem::take(&mut self.records);
        // The streamed fields are taken out first, so the whole-string pass below leaves them
        // to their channels.
        let mut pieces: Vec<(usize, usize, String)> = Vec::new();
        for (c, choice) in chunk.choices.iter_mut().enumerate() {
            if choice.delta.extra.is_empty() {
                continue;
            }
            for (k, path) in STREAMED.iter().enumerate() {
                if let Some(s) = streamed_mut(&mut choice.delta.extra, path) {
                    pieces.push((c, k, std::mem::take(s)));
                }
            }
        }
        {
            let (rules, filter, restores) = (&self.rules, &self.filter, self.restores);
            let mut f = |s: &str, loc: &str| whole(rules, filter, restores, s, loc, &mut records);
            fields::chunk(&mut chunk, &mut self.at, &mut f);
        }
        for (c, k, text) in pieces {
            let Some(choice) = chunk.choices.get_mut(c) else {
                continue;
            };
            let out = self
                .channel((choice.index, Channel::Field(k)))
                .push(&text, &mut records);
            if let Some(s) = streamed_mut(&mut choice.delta.extra, STREAMED[k]) {
                *s = out;
            }
        }
        for choice in &mut chunk.choices {
            let i = choice.index;
            // Reasoning ends where its signature, a redacted block, the answer's text or a tool
            // call begins: what its channels hold goes out in this delta, ahead of them, so a
            // client that keeps reasoning in blocks (Anthropic's thinking) gets it whole.
            if ends_reasoning(&choice.delta) {
                self.flush(
                    i,
                    |c| matches!(c, Channel::Field(_)),
                    &mut choice.delta,
                    &mut records,
                );
            }
            if let Some(t) = choice.delta.content.take() {
                choice.delta.content =
                    Some(self.channel((i, Channel::Content)).push(&t, &mut records));
            }
            for call in choice.delta.tool_calls.iter_mut().flatten() {
                if let Some(f) = &mut call.function
                    && let Some(a) = f.arguments.take()
                {
                    f.arguments = Some(
                        self.channel((i, Channel::Arguments(call.index)))
                            .push(&a, &mut records),
                    );
                }
            }
            if choice.finish_reason.is_some() {
                self.flush(i, |_| true, &mut choice.delta, &mut records);
            }
        }
        self.records = records;
        chunk
    }

    /// Releases everything choice `i` holds in the channels `which` picks into `delta`.
    fn flush(
        &mut self,
        i: u32,
        which: impl Fn(Channel) -> bool,
        delta: &mut Delta,
        records: &mut Vec<Record>,
    ) {
        let mut keys: Vec<_> = self
            .channels
            .keys()
            .filter(|k| k.0 == i && which(k.1))
            .copied()
            .collect();
        keys.sort();
        for key in keys {
            let Some(mut f) = self.channels.remove(&key) else {
                continue;
            };
            let rest = f.finish(records);
            if rest.is_empty() {
                continue;
            }
            match key.1 {
                Channel::Content => delta
                    .content
                    .get_or_insert_with(String::new)
                    .push_str(&rest),
                Channel::Field(f) => append_streamed(&mut delta.extra, STREAMED[f], &rest),
                Channel::Arguments(k) => {
                    let calls = delta.tool_calls.get_or_insert_with(Vec::new);
                    match calls.iter_mut().find(|c| c.index == k) {
                        Some(c) => {
                            let f = c.function.get_or_insert_with(FunctionCallDelta::default);
                            f.arguments.get_or_insert_with(String::new).push_str(&rest);
                        }
                        None => calls.push(ToolCallDelta {
                            index: k,
                            id: None,
                            kind: None,
                            function: Some(FunctionCallDelta {
                                name: None,
                                arguments: Some(rest),
                            }),
                        }),
                    }
                }
            }
        }
    }

    /// One chunk releasing what every unfinished choice still holds, if anything.
    fn flush_all(&mut self) -> Option<ChatChunk> {
        let (id, created, model) = self.last.clone()?;
        let mut choices: Vec<u32> = self.channels.keys().map(|k| k.0).collect();
        choices.sort_unstable();
        choices.dedup();
        let mut records = std::mem::take(&mut self.records);
        let mut chunk = ChatChunk::delta(&id, created, &model, Delta::default());
        chunk.choices.clear();
        for i in choices {
            let mut delta = Delta::default();
            self.flush(i, |_| true, &mut delta, &mut records);
            if delta.content.is_some() || delta.tool_calls.is_some() || !delta.extra.is_empty() {
                let mut c = ChatChunk::delta(&id, created, &model, delta);
                if let Some(mut choice) = c.choices.pop() {
                    choice.index = i;
                    chunk.choices.push(choice);
                }
            }
        }
        self.records = records;
        (!chunk.choices.is_empty()).then_some(chunk)
    }

    fn end(&mut self) {
        if !self.done {
            self.done = true;
            self.seen.note(&self.records);
            telemetry::policy_findings(&self.policy, &self.records);
        }
    }
}

impl Stream for Filtered {
    type Item = Result<ChatChunk, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(item) = this.queue.pop_front() {
            return Poll::Ready(Some(item));
        }
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(this.process(chunk)))),
            Poll::Ready(Some(Err(e))) => {
                let flushed = this.flush_all();
                this.end();
                match flushed {
                    Some(c) => {
                        this.queue.push_back(Err(e));
                        Poll::Ready(Some(Ok(c)))
                    }
                    None => Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(None) => {
                let flushed = this.flush_all();
                this.end();
                Poll::Ready(flushed.map(Ok))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_injection;
