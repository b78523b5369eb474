//! `[rollouts.NAME]`: a candidate (new targets, a new prompt version) compared with what an alias
//! or a prompt serves today, advanced through traffic steps or rolled back by the evidence of
//! its guards and goals. The statistics live in `seam_rollouts`; this is their config.

use std::collections::BTreeMap;

use seam_rollouts::{Check, Mode, Spec};
use serde::Deserialize;

use crate::raw::RawTarget;
use crate::{ConfigError, ModelConfig, TargetConfig};

/// What a rollout changes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RolloutSubject {
    /// Requests for this alias (`[models.ALIAS]`).
    Alias(String),
    /// Requests rendering this prompt (`prompts/NAME.prompt`).
    Prompt(String),
}

/// What the candidate variant serves instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Targets in place of the alias's, tried in order; empty: the alias's own.
    pub targets: Vec<TargetConfig>,
    /// A prompt reference (`NAME`, `NAME@VERSION` or `NAME@TAG`) in place of the subject's.
    pub prompt: Option<String>,
}

/// What keeps a caller on one variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sticky {
    /// The request's subject (its `user`): one person, one variant.
    Subject,
    /// The API key.
    Key,
    /// Nothing: each request is assigned afresh.
    Request,
}

impl Sticky {
    pub const NAMES: &'static str = "subject, key, request";

    fn parse(s: &str) -> Option<Sticky> {
        match s {
            "subject" => Some(Sticky::Subject),
            "key" => Some(Sticky::Key),
            "request" => Some(Sticky::Request),
            _ => None,
        }
    }
}

/// One validated `[rollouts.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// Also the seed of its assignment: renaming a rollout reshuffles its callers.
    pub name: String,
    pub subject: RolloutSubject,
    pub candidate: Candidate,
    /// Mode, steps, samples per step, guards, goals and α, as the decision reads them.
    pub spec: Spec,
    pub sticky: Sticky,
    /// Shadow only: the share of requests also sent to the candidate (1.0 otherwise).
    pub sample: f64,
}

impl Rollout {
    pub fn mode(&self) -> Mode {
        self.spec.mode
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRollout {
    pub alias: Option<String>,
    pub prompt: Option<String>,
    pub mode: Option<String>,
    pub candidate: Option<RawCandidate>,
    pub steps: Option<Vec<f64>>,
    pub min_samples_per_step: Option<u64>,
    pub sticky: Option<String>,
    pub guard: Option<Vec<String>>,
    pub goal: Option<Vec<String>>,
    pub alpha: Option<f64>,
    pub sample: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCandidate {
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    pub prompt: Option<String>,
}

pub const DEFAULT_CANARY_STEPS: [f64; 5] = [1.0, 5.0, 25.0, 50.0, 100.0];
pub const DEFAULT_AB_SHARE: f64 = 50.0;
pub const DEFAULT_MIN_SAMPLES: u64 = 200;
/// Without `guard`, a rollout still rolls back a candidate shown to fail more.
pub const DEFAULT_GUARD: &str = "error_rate";

/// What rollouts are checked against: the rest of the config, already validated.
pub(crate) struct RolloutContext<'a> {
    /// Every provider name declared, valid or not (as for alias targets).
    pub declared: &'a [String],
    pub models: &'a BTreeMap<String, ModelConfig>,
}

pub(crate) fn rollouts(
    raw: BTreeMap<String, RawRollout>,
    cx: &RolloutContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, Rollout> {
    let mut out = BTreeMap::new();
    // Which rollout already holds each subject: two at once would split the same traffic twice.
    let mut holders: BTreeMap<RolloutSubject, String> = BTreeMap::new();
    for (name, r) in raw {
        let Some(rollout) = rollout(&name, r, cx, errors) else {
            continue;
        };
        if let Some(other) = holders.get(&rollout.subject) {
            let (field, what) = match &rollout.subject {
                RolloutSubject::Alias(a) => ("alias", a),
                RolloutSubject::Prompt(p) => ("prompt", p),
            };
            errors.push(ConfigError::new(
                format!("rollouts.{name}.{field}"),
                format!("\"{what}\" is already rolled out by rollouts.{other}"),
            ));
            continue;
        }
        holders.insert(rollout.subject.clone(), name.clone());
        out.insert(name, rollout);
    }
    out
}

fn rollout(
    name: &str,
    r: RawRollout,
    cx: &RolloutContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Rollout> {
    let path = format!("rollouts.{name}");
    let before = errors.len();
    if !valid_name(name) {
        errors.push(ConfigError::new(
            path.clone(),
            "rollout names are 1-64 letters, digits, '-' or '_'",
        ));
    }
    let subject = subject(&path, r.alias, r.prompt, cx, errors);
    let mode = match r.mode.as_deref() {
        None => {
            errors.push(ConfigError::new(
                format!("{path}.mode"),
                format!("is required (one of {})", Mode::NAMES),
            ));
            None
        }
        Some(m) => Mode::parse(m).or_else(|| {
            errors.push(ConfigError::new(
                format!("{path}.mode"),
                format!("unknown mode \"{m}\"; expected one of {}", Mode::NAMES),
            ));
            None
        }),
    };
    let candidate = candidate(&path, r.candidate, subject.as_ref(), cx, errors);
    // A shadow copy is the primary's request as it went upstream, already rendered: only other
    // targets can answer it differently.
    if mode == Some(Mode::Shadow) {
        if matches!(subject, Some(RolloutSubject::Prompt(_))) {
            errors.push(ConfigError::new(
                format!("{path}.prompt"),
                "a shadow rollout is on an alias: its copy is the request as rendered and sent, so only other targets can answer it differently",
            ));
        } else if candidate
            .as_ref()
            .is_some_and(|c: &Candidate| c.targets.is_empty())
        {
            errors.push(ConfigError::new(
                format!("{path}.candidate.targets"),
                "a shadow rollout needs the candidate's targets",
            ));
        }
    }
    let steps = mode.map(|m| steps(&path, m, r.steps, errors));
    let min_samples_per_step = match r.min_samples_per_step {
        Some(0) => {
            errors.push(ConfigError::new(
                format!("{path}.min_samples_per_step"),
                "must be at least 1",
            ));
            DEFAULT_MIN_SAMPLES
        }
        Some(n) => n,
        None => DEFAULT_MIN_SAMPLES,
    };
    let sticky = match r.sticky.as_deref() {
        None => Sticky::Subject,
        Some(s) => Sticky::parse(s).unwrap_or_else(|| {
            errors.push(ConfigError::new(
                format!("{path}.sticky"),
                format!("unknown sticky \"{s}\"; expected one of {}", Sticky::NAMES),
            ));
            Sticky::Subject
        }),
    };
    let guard = r.guard.unwrap_or_else(|| vec![DEFAULT_GUARD.to_owned()]);
    let guards = checks(&format!("{path}.guard"), &guard, errors);
    let goals = checks(&format!("{path}.goal"), &r.goal.unwrap_or_default(), errors);
    let alpha = match r.alpha {
        Some(a) if !(a > 0.0 && a <= 0.5) => {
            errors.push(ConfigError::new(
                format!("{path}.alpha"),
                "must be in (0, 0.5]",
            ));
            Spec::DEFAULT_ALPHA
        }
        Some(a) => a,
        None => Spec::DEFAULT_ALPHA,
    };
    let sample = match (mode, r.sample) {
        (_, None) => 1.0,
        (Some(Mode::Shadow), Some(s)) if s > 0.0 && s <= 1.0 => s,
        (Some(Mode::Shadow), Some(_)) => {
            errors.push(ConfigError::new(
                format!("{path}.sample"),
                "must be in (0, 1]",
            ));
            1.0
        }
        (_, Some(_)) => {
            errors.push(ConfigError::new(
                format!("{path}.sample"),
                "is only for mode = \"shadow\" (the share of requests also sent to the candidate)",
            ));
            1.0
        }
    };
    if errors.len() > before {
        return None;
    }
    Some(Rollout {
        name: name.to_owned(),
        subject: subject?,
        candidate: candidate?,
        spec: Spec {
            mode: mode?,
            steps: steps?,
            min_samples_per_step,
            guards,
            goals,
            alpha,
        },
        sticky,
        sample,
    })
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A prompt's name as the prompt registry has it: lower-case letters, digits, `-` and `_`,
/// starting with a letter or digit, at most 64 characters.
pub(crate) fn prompt_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `NAME`, or `NAME@VERSION` / `NAME@TAG` (1-64 letters, digits, `.`, `-`, `_`).
fn prompt_ref(s: &str) -> bool {
    match s.split_once('@') {
        None => prompt_name(s),
        Some((name, at)) => {
            prompt_name(name)
                && !at.is_empty()
                && at.len() <= 64
                && at
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        }
    }
}

fn subject(
    path: &str,
    alias: Option<String>,
    prompt: Option<String>,
    cx: &RolloutContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<RolloutSubject> {
    match (alias, prompt) {
        (Some(a), None) => {
            if cx.models.contains_key(&a) {
                Some(RolloutSubject::Alias(a))
            } else {
                errors.push(ConfigError::new(
                    format!("{path}.alias"),
                    format!("no alias named \"{a}\" in [models]"),
                ));
                None
            }
        }
        (None, Some(p)) => {
            if prompt_name(&p) {
                Some(RolloutSubject::Prompt(p))
            } else {
                errors.push(ConfigError::new(
                    format!("{path}.prompt"),
                    "must be a prompt's name (lower-case letters, digits, '-', '_'), without @",
                ));
                None
            }
        }
        _ => {
            errors.push(ConfigError::new(
                path.to_owned(),
                "needs exactly one of alias or prompt (what is rolled out)",
            ));
            None
        }
    }
}

fn candidate(
    path: &str,
    raw: Option<RawCandidate>,
    subject: Option<&RolloutSubject>,
    cx: &RolloutContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Candidate> {
    let path = format!("{path}.candidate");
    let Some(raw) = raw else {
        errors.push(ConfigError::new(
            path,
            "is required: { targets = [{ provider, model }, …] } and/or { prompt = \"NAME@VERSION\" }",
        ));
        return None;
    };
    let before = errors.len();
    let mut targets = Vec::new();
    for (i, t) in raw.targets.into_iter().enumerate() {
        let tpath = format!("{path}.targets[{i}]");
        let (Some(provider), Some(model)) = (t.provider, t.model) else {
            errors.push(ConfigError::new(tpath, "needs both provider and model"));
            continue;
        };
        if !cx.declared.contains(&provider) {
            errors.push(ConfigError::new(
                format!("{tpath}.provider"),
                format!("no provider named \"{provider}\" in [providers]"),
            ));
        }
        targets.push(TargetConfig {
            provider,
            model,
            weight: t.weight.unwrap_or(1),
            cost_rank: t.cost_rank.unwrap_or(0),
        });
    }
    if let Some(p) = &raw.prompt {
        if !prompt_ref(p) {
            errors.push(ConfigError::new(
                format!("{path}.prompt"),
                "must be a prompt reference: NAME, NAME@VERSION or NAME@TAG",
            ));
        }
    }
    let prompt_rollout = matches!(subject, Some(RolloutSubject::Prompt(_)));
    if prompt_rollout && raw.prompt.is_none() {
        errors.push(ConfigError::new(
            format!("{path}.prompt"),
            "is required when a prompt is rolled out (the version to try, e.g. \"NAME@v4\")",
        ));
    } else if targets.is_empty() && raw.prompt.is_none() && errors.len() == before {
        errors.push(ConfigError::new(
            path,
            "needs targets, a prompt, or both (what the candidate serves instead)",
        ));
    }
    (errors.len() == before).then_some(Candidate {
        targets,
        prompt: raw.prompt,
    })
}

fn steps(path: &str, mode: Mode, raw: Option<Vec<f64>>, errors: &mut Vec<ConfigError>) -> Vec<f64> {
    let path = format!("{path}.steps");
    let mut err = |msg: &str| errors.push(ConfigError::new(path.clone(), msg));
    match mode {
        Mode::Shadow => {
            if raw.is_some() {
                err("shadow splits no traffic, so it has no steps (use sample)");
            }
            Vec::new()
        }
        Mode::Ab => match raw.as_deref() {
            None => vec![DEFAULT_AB_SHARE],
            Some(&[s]) if s > 0.0 && s < 100.0 => vec![s],
            Some(_) => {
                err(
                    "ab takes exactly one step: the candidate's share in percent, above 0 and below 100",
                );
                Vec::new()
            }
        },
        Mode::Canary => {
            let steps = raw.unwrap_or_else(|| DEFAULT_CANARY_STEPS.to_vec());
            if steps.iter().any(|s| !(*s > 0.0 && *s <= 100.0)) {
                err("every step is a percent of traffic above 0 and at most 100");
            } else if steps.windows(2).any(|w| w[0] >= w[1]) {
                err("steps must increase strictly");
            } else if steps.last() != Some(&100.0) {
                err("a canary's last step is 100 (reaching it is the promotion)");
            } else if steps.len() < 2 {
                err("a canary needs at least one step below 100");
            }
            steps
        }
    }
}

fn checks(path: &str, raw: &[String], errors: &mut Vec<ConfigError>) -> Vec<Check> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, text)| {
            Check::parse(text)
                .map_err(|e| errors.push(ConfigError::new(format!("{path}[{i}]"), e)))
                .ok()
        })
        .collect()
}
