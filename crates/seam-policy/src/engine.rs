//! A compiled policy: each entity's action and threshold per stage, allow-lists, the injection
//! rule and the context limit, applied to one text at a time.
//!
//! The engine knows texts, not requests: the gateway walks a request's messages and calls
//! [`Policy::input_text`] on each, with one [`Vault`] for the whole request, and
//! [`Policy::output_text`] (or an [`OutputFilter`](crate::output::OutputFilter)) on the answer.
//! Every decision is a [`Record`]: entity, action, offsets, score, detector — never the value.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use regex::RegexSet;
use seam_config::{
    Action, ConfigError, Entities, InjectionRule, Overflow, PolicyConfig, StageConfig,
};

use crate::actions::{self, Hasher};
use crate::detectors::names;
use crate::vault::Vault;
use crate::{Finding, Scanner, Tagger, Tagging, is_secret};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    Input,
    Output,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// One finding and what was done about it. Safe to log, audit and count: it holds no value.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub stage: Stage,
    pub entity: &'static str,
    pub action: Action,
    /// Where in the request or answer, e.g. `messages[2].content`.
    pub location: String,
    /// Byte offsets into the text at `location` as it was before the action.
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub detector: &'static str,
}

/// What one input text came to.
#[derive(Debug, Default, PartialEq)]
pub struct TextOutcome {
    /// The text after the actions; `None` when nothing changed.
    pub text: Option<String>,
    /// Entities whose action is `block`, found in this text.
    pub blocked: Vec<&'static str>,
    /// Whether a `route_private` entity was found.
    pub private: bool,
}

/// One stage's rules, resolved per entity.
#[derive(Clone, Default)]
struct Rules {
    by_entity: HashMap<&'static str, (Action, f32)>,
    allow: HashSet<String>,
    allow_patterns: Option<RegexSet>,
    /// Rules laid on top (an API key's policy): for each finding the stricter decision wins.
    tighter: Option<Box<Rules>>,
}

/// How much of a value an action lets through, least strict first. A finding with no rule
/// (`None`) is below `allow`, which is recorded.
fn strictness(a: Option<Action>) -> u8 {
    match a {
        None => 0,
        Some(Action::Allow) => 1,
        Some(Action::RoutePrivate) => 2,
        Some(Action::Mask) => 3,
        Some(Action::Tokenize) => 4,
        Some(Action::Hash) => 5,
        Some(Action::Redact) => 6,
        Some(Action::Block) => 7,
    }
}

impl Rules {
    fn is_empty(&self) -> bool {
        self.by_entity.is_empty() && self.tighter.as_ref().is_none_or(|t| t.is_empty())
    }

    /// These rules with `other` on top.
    fn tightened_by(&self, other: &Rules) -> Rules {
        let mut out = self.clone();
        let mut slot = &mut out.tighter;
        while let Some(next) = slot {
            slot = &mut next.tighter;
        }
        *slot = Some(Box::new(other.clone()));
        out
    }

    /// Whether these rules (or any laid on top) decide anything about `entity`.
    fn covers(&self, entity: &str) -> bool {
        self.by_entity.contains_key(entity)
            || self.tighter.as_ref().is_some_and(|t| t.covers(entity))
    }

    fn allowed(&self, value: &str) -> bool {
        let v = value.trim();
        self.allow.contains(v) || self.allow_patterns.as_ref().is_some_and(|s| s.is_match(v))
    }

    /// The action for a finding, or `None` when it does not count (no rule, below threshold,
    /// allow-listed).
    fn decide(&self, f: &Finding, value: &str) -> Option<Action> {
        let own = self.decide_own(f, value);
        match &self.tighter {
            None => own,
            Some(t) => {
                let theirs = t.decide(f, value);
                if strictness(theirs) > strictness(own) {
                    theirs
                } else {
                    own
                }
            }
        }
    }

    fn decide_own(&self, f: &Finding, value: &str) -> Option<Action> {
        let &(action, min) = self.by_entity.get(f.entity)?;
        if f.score < min {
            return None;
        }
        if self.allowed(value) {
            return Some(Action::Allow);
        }
        Some(action)
    }
}

pub struct Policy {
    name: String,
    scanner: Arc<Scanner>,
    input: Rules,
    output: Rules,
    injection: Option<InjectionRule>,
    max_input_tokens: Option<u32>,
    on_overflow: Overflow,
    hasher: Hasher,
    /// Whether the named-entity model may read this policy's texts.
    ner: bool,
    /// The most bytes of a request (or of one text scanned alone) the model reads.
    ner_max_bytes: usize,
    /// Whether the input (output) rules cover names, places or addresses.
    input_names: bool,
    output_names: bool,
}

impl Policy {
    /// Resolves a policy's config against the scanner's entities. `fallback_key` keys `hash` when
    /// the policy names no `hash_key`. Errors carry the TOML path.
    pub fn compile(
        cfg: &PolicyConfig,
        scanner: Arc<Scanner>,
        fallback_key: &[u8],
    ) -> Result<Policy, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let known = scanner.entities();
        let path = format!("policies.{}", cfg.name);
        let input = rules(
            &format!("{path}.input"),
            &cfg.input.rules,
            &known,
            &mut errors,
        );
        let output = rules(&format!("{path}.output"), &cfg.output, &known, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let key = cfg
            .hash_key
            .as_ref()
            .map_or(fallback_key, |k| k.expose().as_bytes());
        let (input_names, output_names) = (covers_names(&input), covers_names(&output));
        Ok(Policy {
            name: cfg.name.clone(),
            scanner,
            input,
            output,
            injection: cfg.input.injection,
            max_input_tokens: cfg.input.max_input_tokens,
            on_overflow: cfg.input.on_overflow.unwrap_or(Overflow::Reject),
            hasher: Hasher::new(key),
            ner: cfg.ner,
            ner_max_bytes: cfg.ner_max_bytes,
            input_names,
            output_names,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The detectors this policy runs.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// This policy (a route's) tightened by `key`'s (an API key's): each finding gets the
    /// stricter of the two decisions (each with its own thresholds and allow-lists), injection
    /// blocks if either blocks, and the smaller context limit applies. Nothing the route's policy
    /// stops can pass; the route's `hash` key stays.
    pub fn tightened_by(&self, key: &Policy) -> Policy {
        let injection = match (self.injection, key.injection) {
            (Some(a), Some(b)) => Some(match (a.action, b.action) {
                (x, y) if x == y => InjectionRule {
                    action: x,
                    threshold: a.threshold.min(b.threshold),
                },
                (seam_config::InjectionAction::Block, _) => a,
                _ => b,
            }),
            (a, b) => a.or(b),
        };
        let (max_input_tokens, on_overflow) = match (self.max_input_tokens, key.max_input_tokens) {
            (Some(a), Some(b)) if b < a => (Some(b), key.on_overflow),
            (None, Some(b)) => (Some(b), key.on_overflow),
            (a, _) => (a, self.on_overflow),
        };
        Policy {
            name: format!("{}+{}", self.name, key.name),
            scanner: Arc::clone(&self.scanner),
            input: self.input.tightened_by(&key.input),
            output: self.output.tightened_by(&key.output),
            injection,
            max_input_tokens,
            on_overflow,
            hasher: self.hasher.clone(),
            ner: self.ner || key.ner,
            ner_max_bytes: self.ner_max_bytes.max(key.ner_max_bytes),
            input_names: self.input_names || key.input_names,
            output_names: self.output_names || key.output_names,
        }
    }

    /// The model and the byte budget for this policy's input texts, when the model is installed,
    /// the policy lets it read, and an input rule covers names, places or addresses.
    pub fn input_model(&self) -> Option<(&std::sync::Arc<dyn Tagger>, usize)> {
        self.model_for(&self.input)
    }

    /// How the names detector runs on an answer: the model inline when the output rules cover
    /// its entities, else rules alone.
    fn output_tagging(&self) -> Tagging<'static> {
        match self.model_for(&self.output) {
            Some((_, max)) => Tagging::Inline(max),
            None if self.output_names => Tagging::Off,
            None => Tagging::Skip,
        }
    }

    /// Whether answers are read by the model (streams then release text in larger steps, so the
    /// model runs once per step rather than once per chunk).
    pub(crate) fn output_model_on(&self) -> bool {
        matches!(self.output_tagging(), Tagging::Inline(_))
    }

    fn model_for(&self, rules: &Rules) -> Option<(&std::sync::Arc<dyn Tagger>, usize)> {
        if !self.ner || !names::ENTITIES.iter().any(|e| rules.covers(e)) {
            return None;
        }
        self.scanner.tagger().map(|t| (t, self.ner_max_bytes))
    }

    /// Whether this policy's rules cover names, places or addresses at either stage; with no
    /// model to read them, they are found by rules alone.
    pub fn wants_names(&self) -> bool {
        names::ENTITIES
            .iter()
            .any(|e| self.input.covers(e) || self.output.covers(e))
    }

    /// Whether input texts need scanning at all.
    pub fn scans_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Whether answers need scanning for new personal data.
    pub fn scans_output(&self) -> bool {
        !self.output.is_empty()
    }

    pub fn injection(&self) -> Option<InjectionRule> {
        self.injection
    }

    pub fn max_input_tokens(&self) -> Option<u32> {
        self.max_input_tokens
    }

    pub fn on_overflow(&self) -> Overflow {
        self.on_overflow
    }

    /// Whether the policy does anything at all; an inert policy costs nothing per request.
    pub fn is_inert(&self) -> bool {
        !self.scans_input()
            && !self.scans_output()
            && self.injection.is_none()
            && self.max_input_tokens.is_none()
    }

    /// Applies the input rules to one text: findings are recorded, values replaced per action,
    /// tokens minted in `vault`.
    /// The model, when the policy uses it, reads the text here (up to `ner_max_bytes`); a caller
    /// that tagged the request's texts beforehand uses [`Policy::input_text_tagged`].
    pub fn input_text(
        &self,
        text: &str,
        location: &str,
        vault: &mut Vault,
        records: &mut Vec<Record>,
    ) -> TextOutcome {
        let tagging = match self.input_model() {
            Some((_, max)) => Tagging::Inline(max),
            None => Tagging::Off,
        };
        self.input_text_tagged(text, location, vault, records, tagging)
    }

    /// [`Policy::input_text`] with the model's part decided by the caller.
    pub fn input_text_tagged(
        &self,
        text: &str,
        location: &str,
        vault: &mut Vault,
        records: &mut Vec<Record>,
        tagging: Tagging<'_>,
    ) -> TextOutcome {
        let mut out = TextOutcome::default();
        if !self.scans_input() || text.is_empty() {
            return out;
        }
        // A policy that does not cover names does not pay for looking for them.
        let tagging = if self.input_names {
            tagging
        } else {
            Tagging::Skip
        };
        let mut rewritten = String::new();
        let mut last = 0;
        for f in self.scanner.scan_tagged(text, tagging) {
            let value = &text[f.start..f.end];
            let Some(action) = self.input.decide(&f, value) else {
                continue;
            };
            records.push(record(Stage::Input, &f, action, location));
            let replacement = match action {
                Action::Allow => continue,
                Action::Block => {
                    if !out.blocked.contains(&f.entity) {
                        out.blocked.push(f.entity);
                    }
                    continue;
                }
                Action::RoutePrivate => {
                    out.private = true;
                    continue;
                }
                Action::Redact => actions::redact(f.entity),
                Action::Mask => actions::mask(value),
                Action::Hash => self.hasher.hash(f.entity, value),
                Action::Tokenize => actions::tokenize(vault, f.entity, value),
            };
            rewritten.push_str(&text[last..f.start]);
            rewritten.push_str(&replacement);
            last = f.end;
        }
        if last > 0 {
            rewritten.push_str(&text[last..]);
            out.text = Some(rewritten);
        }
        out
    }

    /// Applies the output rules to an answer's text, leaving the spans in `exempt` (the caller's
    /// own restored values) alone. `None` when nothing changed.
    pub fn output_text(
        &self,
        text: &str,
        exempt: &[Range<usize>],
        location: &str,
        records: &mut Vec<Record>,
    ) -> Option<String> {
        let findings = self.output_findings(text, exempt);
        self.apply_output(text, &findings, location, records)
    }

    /// The output findings in `text` that count, with their actions.
    pub(crate) fn output_findings(
        &self,
        text: &str,
        exempt: &[Range<usize>],
    ) -> Vec<(Finding, Action)> {
        if !self.scans_output() || text.is_empty() {
            return Vec::new();
        }
        self.scanner
            .scan_tagged(text, self.output_tagging())
            .into_iter()
            .filter(|f| !exempt.iter().any(|r| f.start < r.end && r.start < f.end))
            .filter_map(|f| {
                let a = self.output.decide(&f, &text[f.start..f.end])?;
                Some((f, a))
            })
            .collect()
    }

    /// Rewrites `text` with output actions for `findings` (sorted, non-overlapping).
    pub(crate) fn apply_output(
        &self,
        text: &str,
        findings: &[(Finding, Action)],
        location: &str,
        records: &mut Vec<Record>,
    ) -> Option<String> {
        let mut rewritten = String::new();
        let mut last = 0;
        let mut changed = false;
        for (f, action) in findings {
            records.push(record(Stage::Output, f, *action, location));
            let value = &text[f.start..f.end];
            let replacement = match action {
                Action::Redact => actions::redact(f.entity),
                Action::Mask => actions::mask(value),
                Action::Hash => self.hasher.hash(f.entity, value),
                // Output stages allow only the four actions above (checked by the config).
                _ => continue,
            };
            rewritten.push_str(&text[last..f.start]);
            rewritten.push_str(&replacement);
            last = f.end;
            changed = true;
        }
        if !changed {
            return None;
        }
        rewritten.push_str(&text[last..]);
        Some(rewritten)
    }
}

fn covers_names(rules: &Rules) -> bool {
    names::ENTITIES.iter().any(|e| rules.covers(e))
}

fn record(stage: Stage, f: &Finding, action: Action, location: &str) -> Record {
    Record {
        stage,
        entity: f.entity,
        action,
        location: location.to_owned(),
        start: f.start,
        end: f.end,
        score: f.score,
        detector: f.detector,
    }
}

/// Per-entity rules: an explicit entry wins, then the class rule (`secrets` for `SECRET_*`,
/// `pii` for the rest) when it covers the entity.
fn rules(
    path: &str,
    cfg: &StageConfig,
    known: &[&'static str],
    errors: &mut Vec<ConfigError>,
) -> Rules {
    let find = |name: &str| known.iter().copied().find(|k| *k == name);
    let mut by_entity = HashMap::new();
    for (class, rule) in [("pii", &cfg.pii), ("secrets", &cfg.secrets)] {
        let Some(rule) = rule else { continue };
        let members: Vec<&'static str> = match &rule.entities {
            Entities::All => known
                .iter()
                .copied()
                .filter(|e| is_secret(e) == (class == "secrets"))
                .collect(),
            Entities::Only(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, name)| {
                    let p = format!("{path}.{class}.entities[{i}]");
                    match find(name) {
                        Some(e) if is_secret(e) == (class == "secrets") => Some(e),
                        Some(_) => {
                            errors.push(ConfigError::new(
                                p,
                                format!(
                                    "{name} belongs in {}",
                                    if class == "pii" { "secrets" } else { "pii" }
                                ),
                            ));
                            None
                        }
                        None => {
                            errors.push(unknown_entity(&p, name));
                            None
                        }
                    }
                })
                .collect(),
        };
        for e in members {
            by_entity.insert(e, (rule.action, rule.min_score));
        }
    }
    for (name, rule) in &cfg.entities {
        let Some(e) = find(name) else {
            errors.push(unknown_entity(&format!("{path}.entities.{name}"), name));
            continue;
        };
        let class_min = if is_secret(e) {
            cfg.secrets.as_ref()
        } else {
            cfg.pii.as_ref()
        }
        .map_or(seam_config::policy::DEFAULT_MIN_SCORE, |r| r.min_score);
        by_entity.insert(e, (rule.action, rule.min_score.unwrap_or(class_min)));
    }
    let allow_patterns = if cfg.allow_patterns.is_empty() {
        None
    } else {
        let anchored: Vec<String> = cfg
            .allow_patterns
            .iter()
            .map(|p| format!("^(?:{p})$"))
            .collect();
        match RegexSet::new(&anchored) {
            Ok(s) => Some(s),
            Err(_) => {
                errors.push(ConfigError::new(
                    format!("{path}.allow_patterns"),
                    "not valid regexes",
                ));
                None
            }
        }
    };
    Rules {
        by_entity,
        allow: cfg.allow.iter().cloned().collect(),
        allow_patterns,
        tighter: None,
    }
}

fn unknown_entity(path: &str, name: &str) -> ConfigError {
    ConfigError::new(
        path,
        format!("unknown entity \"{name}\" (`seam redact --entities` lists them)"),
    )
}

/// Counts per (stage, entity, action), for headers and metrics.
pub fn summarize(records: &[Record]) -> BTreeMap<(Stage, &'static str, &'static str), usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry((r.stage, r.entity, r.action.as_str())).or_insert(0) += 1;
    }
    m
}
