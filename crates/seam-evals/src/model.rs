//! The types every part of an evaluation shares: what a provider answered ([`Output`]), what an
//! assertion asks ([`Assertion`]) and what it concluded ([`Grade`]), and the [`Judge`] that
//! model-graded assertions and `similar` call.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts as the endpoint reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
}

/// One answer from a provider, with what it cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The first choice's text (`""` when it only called tools).
    pub text: String,
    /// The first choice's `tool_calls`, as the endpoint sent them (OpenAI's shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<Value>,
    pub finish_reason: Option<String>,
    /// Wall time of the request, milliseconds (0 for a replayed answer, whose recorded latency is
    /// in `recorded_latency_ms`).
    pub latency_ms: f64,
    /// USD: `x-seam-cost-usd` when a Seam gateway answered, else `None`.
    pub cost_usd: Option<f64>,
    pub tokens: Option<Tokens>,
    /// Served from the eval cache (record/replay), not the endpoint.
    #[serde(default)]
    pub cached: bool,
    /// The output as JSON when a transform (or an HTTP target's `transformResponse`) made it
    /// something other than a string: JavaScript sees this value, other assertions grade
    /// `text`, which then holds its JSON (promptfoo stringifies the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// One assertion of a test, as written in the suite (promptfoo's fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Assertion {
    /// The type without its `not-` prefix: `contains`, `llm-rubric`, `assert-set`, …
    pub kind: String,
    /// `not-` was given: the result is inverted.
    pub negate: bool,
    /// `value`, with `{{vars}}` already rendered in strings.
    pub value: Option<Value>,
    pub threshold: Option<f64>,
    /// `weight` as written; [`Assertion::score_weight`] is what the score uses. Kept unset so
    /// that reports show only what the suite set (promptfoo's shape).
    pub weight: Option<f64>,
    /// `metric`: a named score to report this assertion's score under.
    pub metric: Option<String>,
    /// `provider` for model-graded assertions (overrides the suite's judge).
    pub provider: Option<Value>,
    /// `rubricPrompt`: a custom grading prompt.
    pub rubric_prompt: Option<Value>,
    /// `assert-set`'s members.
    pub assert: Vec<Assertion>,
    /// `transform`: JavaScript that turns the output into what this assertion grades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
}

impl Assertion {
    /// The weight in the test's score: `weight`, else 1.
    pub fn score_weight(&self) -> f64 {
        self.weight.unwrap_or(1.0)
    }

    /// The type as the suite wrote it, `not-` included.
    pub fn type_name(&self) -> String {
        if self.negate {
            format!("not-{}", self.kind)
        } else {
            self.kind.clone()
        }
    }
}

/// Which assertion a grade is for, as reports name it: promptfoo's
/// `componentResults[].assertion`, with only the fields the suite set. Provider and grading
/// prompt are left out: they are configuration (an endpoint, perhaps a key), not the check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssertionSummary {
    /// The type as written: `contains`, `not-icontains`, `llm-rubric`, `assert-set`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `value` with the test's `{{vars}}` rendered (the rubric, for model-graded types); absent
    /// when the type took none (`is-json` without a schema, `assert-set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

impl From<&Assertion> for AssertionSummary {
    fn from(a: &Assertion) -> Self {
        AssertionSummary {
            kind: a.type_name(),
            value: a.value.clone(),
            threshold: a.threshold,
            weight: a.weight,
            metric: a.metric.clone(),
        }
    }
}

/// The outcome of one assertion (or a whole test: its assertions combined).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    pub pass: bool,
    /// 0..=1.
    pub score: f64,
    /// Why, in words; never empty on failure. It does not name the assertion's type:
    /// [`Grade::labelled_reason`] does, where the reason is shown apart from its assertion.
    pub reason: String,
    /// The assertion graded; `None` for a whole test's combined grade (and in reports written
    /// before assertions were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion: Option<AssertionSummary>,
    /// Scores by `metric` name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub named_scores: BTreeMap<String, f64>,
    /// Per-assertion results, for tests and `assert-set`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Grade>,
    /// Tokens the judge used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_tokens: Option<Tokens>,
}

impl Grade {
    pub fn pass(reason: impl Into<String>) -> Grade {
        Grade::scored(true, 1.0, reason)
    }

    pub fn fail(reason: impl Into<String>) -> Grade {
        Grade::scored(false, 0.0, reason)
    }

    pub fn scored(pass: bool, score: f64, reason: impl Into<String>) -> Grade {
        Grade {
            pass,
            score,
            reason: reason.into(),
            assertion: None,
            named_scores: BTreeMap::new(),
            components: Vec::new(),
            judge_tokens: None,
        }
    }

    /// The reason prefixed with the assertion's type (`contains: output does not contain
    /// "Paris"`), for lists of reasons where the assertion is not beside it.
    pub fn labelled_reason(&self) -> String {
        match &self.assertion {
            Some(a) => format!("{}: {}", a.kind, self.reason),
            None => self.reason.clone(),
        }
    }
}

/// What an assertion sees besides the output.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The test's variables.
    pub vars: &'a serde_json::Map<String, Value>,
    /// The rendered prompt, as text (chat prompts: the messages as JSON).
    pub prompt: &'a str,
    /// For model-graded assertions and `similar`; `None` when the suite has no judge.
    pub judge: Option<&'a dyn Judge>,
    /// The test as JavaScript's `context.test` sees it (`vars`, `assert`, `description`).
    pub test: Option<&'a Value>,
}

/// A model that grades: chat completions (and embeddings for `similar`) through an
/// OpenAI-compatible endpoint. `provider` is an assertion's own `provider` override, if any.
pub trait Judge: Send + Sync {
    /// The first choice's text for `messages` (OpenAI chat messages), with its token usage.
    fn complete<'a>(
        &'a self,
        provider: Option<&'a Value>,
        messages: Vec<Value>,
    ) -> BoxFuture<'a, Result<(String, Option<Tokens>), EvalError>>;

    /// An embedding of `text`.
    fn embed<'a>(
        &'a self,
        provider: Option<&'a Value>,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EvalError>>;
}

/// Anything that stops an evaluation (as opposed to a failing assertion, which is a result).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EvalError {
    /// The suite is wrong: a path into it and what is wrong there.
    #[error("{path}: {message}")]
    Suite { path: String, message: String },
    /// A provider or judge call failed after retries.
    #[error("{0}")]
    Provider(String),
    #[error("{0}")]
    Io(String),
}

impl EvalError {
    pub fn suite(path: impl Into<String>, message: impl Into<String>) -> EvalError {
        EvalError::Suite {
            path: path.into(),
            message: message.into(),
        }
    }
}
