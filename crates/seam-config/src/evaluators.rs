//! `[evaluators.NAME]`: seam-evals assertions run on a sampled share of an alias's or a prompt's
//! live answers, off the request path. Their scores are the task metric `eval:NAME`.
//!
//! The assertions stay JSON here: seam-evals, which parses them, depends on seam-providers and so
//! on this crate. The server parses them when it builds its evaluators, and reports a bad one as a
//! config error at `evaluators.NAME.assert[i]` through the same path as its other build errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{ConfigError, ModelConfig};

/// Whose answers an evaluator grades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evaluated {
    /// Answers of requests for this alias (`[models.ALIAS]`).
    Alias(String),
    /// Answers of requests rendering this prompt (`prompts/NAME.prompt`), any version.
    Prompt(String),
}

/// One validated `[evaluators.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluatorConfig {
    /// Also the metric: its scores are `eval:NAME`.
    pub name: String,
    pub subject: Evaluated,
    /// The share of answers graded, in (0, 1].
    pub sample: f64,
    /// The assertions as written (promptfoo's shape, read as JSON), in order; at least one.
    pub assert: Vec<serde_json::Value>,
    /// The alias model-graded assertions ask; the server requires it when one is model-graded.
    pub judge: Option<String>,
    /// Answers waiting to be graded; past it, an answer is dropped and counted.
    pub queue: usize,
    /// Gradings at once.
    pub concurrency: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawEvaluator {
    pub alias: Option<String>,
    pub prompt: Option<String>,
    pub sample: Option<f64>,
    pub assert: Option<Vec<toml::Value>>,
    pub judge: Option<String>,
    pub queue: Option<u64>,
    pub concurrency: Option<u64>,
}

pub const DEFAULT_SAMPLE: f64 = 1.0;
pub const DEFAULT_QUEUE: usize = 256;
pub const DEFAULT_CONCURRENCY: usize = 2;
pub const MAX_CONCURRENCY: u64 = 64;
/// A queue holds whole answers; this bounds the memory one evaluator can hold.
pub const MAX_QUEUE: u64 = 65_536;

pub(crate) fn evaluators(
    raw: BTreeMap<String, RawEvaluator>,
    models: &BTreeMap<String, ModelConfig>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, EvaluatorConfig> {
    raw.into_iter()
        .filter_map(|(name, r)| Some((name.clone(), evaluator(&name, r, models, errors)?)))
        .collect()
}

fn evaluator(
    name: &str,
    r: RawEvaluator,
    models: &BTreeMap<String, ModelConfig>,
    errors: &mut Vec<ConfigError>,
) -> Option<EvaluatorConfig> {
    let path = format!("evaluators.{name}");
    let before = errors.len();
    if !crate::rollouts::valid_name(name) {
        errors.push(ConfigError::new(
            path.clone(),
            "evaluator names are 1-64 letters, digits, '-' or '_' (the metric is eval:NAME)",
        ));
    }
    let subject = subject(&path, r.alias, r.prompt, models, errors);
    let sample = match r.sample {
        None => DEFAULT_SAMPLE,
        Some(s) if s > 0.0 && s <= 1.0 => s,
        Some(_) => {
            errors.push(ConfigError::new(
                format!("{path}.sample"),
                "must be in (0, 1] (the share of answers graded)",
            ));
            DEFAULT_SAMPLE
        }
    };
    let assert = assertions(&path, r.assert, errors);
    if let Some(j) = &r.judge
        && !models.contains_key(j)
    {
        errors.push(ConfigError::new(
            format!("{path}.judge"),
            format!("no alias named \"{j}\" in [models]"),
        ));
    }
    let queue = bounded(
        &format!("{path}.queue"),
        r.queue,
        DEFAULT_QUEUE,
        1,
        MAX_QUEUE,
        errors,
    );
    let concurrency = bounded(
        &format!("{path}.concurrency"),
        r.concurrency,
        DEFAULT_CONCURRENCY,
        1,
        MAX_CONCURRENCY,
        errors,
    );
    if errors.len() > before {
        return None;
    }
    Some(EvaluatorConfig {
        name: name.to_owned(),
        subject: subject?,
        sample,
        assert,
        judge: r.judge,
        queue,
        concurrency,
    })
}

fn subject(
    path: &str,
    alias: Option<String>,
    prompt: Option<String>,
    models: &BTreeMap<String, ModelConfig>,
    errors: &mut Vec<ConfigError>,
) -> Option<Evaluated> {
    match (alias, prompt) {
        (Some(a), None) if models.contains_key(&a) => Some(Evaluated::Alias(a)),
        (Some(a), None) => {
            errors.push(ConfigError::new(
                format!("{path}.alias"),
                format!("no alias named \"{a}\" in [models]"),
            ));
            None
        }
        (None, Some(p)) if crate::rollouts::prompt_name(&p) => Some(Evaluated::Prompt(p)),
        (None, Some(_)) => {
            errors.push(ConfigError::new(
                format!("{path}.prompt"),
                "must be a prompt's name (lower-case letters, digits, '-', '_'), without @: every version is graded",
            ));
            None
        }
        _ => {
            errors.push(ConfigError::new(
                path.to_owned(),
                "needs exactly one of alias or prompt (whose answers are graded)",
            ));
            None
        }
    }
}

/// The assertions as JSON, the shape seam-evals reads; their content is checked by the server.
fn assertions(
    path: &str,
    raw: Option<Vec<toml::Value>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<serde_json::Value> {
    let path = format!("{path}.assert");
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        errors.push(ConfigError::new(
            path.clone(),
            "needs at least one assertion, e.g. [{ type = \"not-contains\", value = \"As an AI\" }]",
        ));
    }
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, v)| {
            serde_json::to_value(v)
                .map_err(|e| errors.push(ConfigError::new(format!("{path}[{i}]"), e.to_string())))
                .ok()
        })
        .collect()
}

fn bounded(
    path: &str,
    raw: Option<u64>,
    default: usize,
    min: u64,
    max: u64,
    errors: &mut Vec<ConfigError>,
) -> usize {
    match raw {
        None => default,
        Some(n) if (min..=max).contains(&n) => usize::try_from(n).unwrap_or(default),
        Some(_) => {
            errors.push(ConfigError::new(
                path.to_owned(),
                format!("must be between {min} and {max}"),
            ));
            default
        }
    }
}
