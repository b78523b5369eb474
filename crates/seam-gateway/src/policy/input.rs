//! The input stage: a request's texts through the policy before any target sees it — injection
//! first, then entities and the `user` rule field by field, then the context window — with the
//! model's tags read in one batch beforehand and placement narrowed for `route_private`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use seam_config::Trust;
use seam_policy::context::{self, Counter, Fit, Unit};
use seam_policy::{Policy, Record, Scanner, Tag, Tagger, Tagging, Vault};
use seam_router::Placement;
use seam_types::chat::{ChatRequest, Message, Native, Role};
use seam_types::embeddings::EmbeddingsRequest;
use seam_types::{ApiError, ErrorCode};
use serde_json::Value;

use super::walk::{self, At};
use super::{
    Governed, OutputSeen, PolicyReport, Prepared, PreparedEmbeddings, Refusal, fields, injection,
};
use crate::telemetry;

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

/// [`prepare`] with the model's tags for the request's texts (from [`tag_chat`]). The stages
/// in order, each refusing with the report as it stands: injection, entities, context window.
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
    let staged = injection_stage(policy, req, &mut prepared.report)
        .and_then(|()| entity_stage(policy, req, tagged, &mut prepared))
        .and_then(|()| context_stage(policy, model, &mut prepared));
    match staged {
        Ok(()) => Ok(prepared),
        Err(error) => Err(Refusal::new(error, prepared.report)),
    }
}

/// Every text an injection can come in by: what the user wrote, what tools returned, and the
/// arguments of tool calls that come back into the conversation. The highest score decides.
fn injection_stage(
    policy: &Governed,
    req: &ChatRequest,
    report: &mut PolicyReport,
) -> Result<(), ApiError> {
    let Some(rule) = policy.injection() else {
        return Ok(());
    };
    let mut scorer = injection::Scorer::default();
    for m in &req.messages {
        match m.role {
            Role::User => scorer.text(injection::Source::UserMessage, &m.text()),
            Role::Tool | Role::Function => {
                scorer.text(injection::Source::ToolResult, &m.text());
            }
            Role::Assistant => {
                for call in m.tool_calls.iter().flatten() {
                    scorer.arguments(injection::Source::ToolArguments, &call.function.arguments);
                }
            }
            Role::System | Role::Developer => {}
        }
    }
    let found = scorer.best(injection::Source::UserMessage);
    injection::decide(policy.name(), rule, found, report, "this request")
}

/// Entities and the `user` rule, field by field, in the chat form and in the client's own body
/// when a target may take it as it is. A blocked entity refuses; otherwise the request, its
/// vault and its placement are the governed ones.
fn entity_stage(
    policy: &Governed,
    req: &ChatRequest,
    tagged: Tagged,
    prepared: &mut Prepared<'_>,
) -> Result<(), ApiError> {
    if !(policy.scans_input() || policy.acts_on_user()) {
        return Ok(());
    }
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
        return Err(violation(policy, &input.blocked));
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
    Ok(())
}

/// The context window, counted with the tokenizer of `model` when it has one: older turns
/// dropped or the request refused, as the policy says.
fn context_stage(
    policy: &Governed,
    model: &str,
    prepared: &mut Prepared<'_>,
) -> Result<(), ApiError> {
    let Some(limit) = policy.max_input_tokens() else {
        return Ok(());
    };
    let counter = Counter::for_model(model);
    let units = units(&prepared.request.messages, counter);
    match context::fit(&units, limit, policy.on_overflow()) {
        Fit::Fits => Ok(()),
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
                return Err(ApiError::new(
                    ErrorCode::ContextLengthExceeded,
                    format!(
                        "The messages are longer than the policy `{}` allows ({limit} tokens), and they cannot be trimmed: {why}",
                        policy.name()
                    ),
                )
                .with_param("messages"));
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
            Ok(())
        }
        Fit::TooLong { estimated, limit } => {
            telemetry::policy_refusal(policy.name(), "context");
            Err(ApiError::new(
                ErrorCode::ContextLengthExceeded,
                format!(
                    "The messages come to {}{estimated} tokens ({}), more than the {limit} the policy `{}` allows",
                    if matches!(counter, Counter::Estimate) { "about " } else { "" },
                    counter.name(),
                    policy.name()
                ),
            )
            .with_param("messages"))
        }
    }
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
