//! Online evaluators (`[evaluators.NAME]`): seam-evals assertions graded on a sampled share of
//! live answers, off the request path. Each score is the task metric `eval:NAME`, handed to the
//! [`ScoreSink`] against the request's id.
//!
//! On the request path an evaluator costs one map lookup by alias and one by prompt name
//! ([`Evaluators::pick`]), a hash of the request id for the sample, and — for a sampled answer —
//! a copy of it put on a bounded queue with `try_send` ([`Picked::offer`]): a full queue drops
//! the answer and counts it, so a slow judge never slows or backs up a client. Workers grade on
//! blocking threads (some assertions are CPU work); model-graded assertions ask the judge alias
//! through the in-process gateway, held to the request's own placement and key policy, so a
//! judge never sees what the request could not have sent there itself. Nothing about a request's
//! or an answer's text reaches a log line or a metric label.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use metrics::{counter, describe_counter, describe_histogram, histogram};
use seam_config::{Config, Evaluated, EvaluatorConfig};
use seam_evals::{Assertion, Context, EvalError, Judge, Output, Tokens, assertions};
use seam_gateway::{Gateway, Placement, Remask};
use seam_types::chat::{ChatCompletion, ChatRequest};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Gradings by evaluator and verdict (`pass`, `fail`, `error`: the judge or an assertion failed).
pub const GRADED: &str = "seam_eval_online_total";
/// Answers sampled but not graded, by evaluator and reason (`queue_full`, `closed`).
pub const DROPPED: &str = "seam_eval_online_dropped_total";
/// Scores (0..=1) by evaluator.
pub const SCORES: &str = "seam_eval_online_score";
/// Buckets of [`SCORES`].
pub const SCORE_BUCKETS: &[f64] = &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

pub fn describe() {
    describe_counter!(
        GRADED,
        "Live answers graded by an online evaluator, by evaluator and verdict (pass, fail, \
         error: the judge or an assertion could not decide)."
    );
    describe_counter!(
        DROPPED,
        "Sampled answers an online evaluator did not grade, by evaluator and reason (queue_full: \
         its queue was at evaluators.NAME.queue)."
    );
    describe_histogram!(SCORES, "Online evaluators' scores (0 to 1), by evaluator.");
}

/// One evaluator's verdict on one answer: the task metric `name` (`eval:NAME`) of the request.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub request_id: String,
    /// `eval:NAME`.
    pub name: String,
    /// 0..=1: the assertions' weighted mean score.
    pub value: f64,
    pub pass: bool,
    /// The alias that served the request, if any.
    pub alias: Option<String>,
    /// The prompt it rendered, `NAME@VERSION`, if any.
    pub prompt: Option<String>,
    /// The rollout variant that served it (`ROLLOUT:VARIANT`), if any.
    pub variant: Option<String>,
    /// The request's data subject, so its scores are erased with it.
    pub subject: Option<String>,
}

/// Where scores go (the store keeps them against the request). Called from a grading worker:
/// it must not block for long.
pub trait ScoreSink: Send + Sync + 'static {
    fn score(&self, s: Score);
}

/// The default sink: a debug log line (ids, name and value; never text).
pub struct LogSink;

impl ScoreSink for LogSink {
    fn score(&self, s: Score) {
        tracing::debug!(
            request_id = %s.request_id,
            metric = %s.name,
            value = s.value,
            pass = s.pass,
            "online evaluation"
        );
    }
}

/// Every evaluator of one config, by what it grades. Rebuilt on reload; workers of the old set
/// finish what is queued and stop once it is dropped.
#[derive(Default)]
pub struct Evaluators {
    by_alias: HashMap<String, Vec<Arc<Evaluator>>>,
    by_prompt: HashMap<String, Vec<Arc<Evaluator>>>,
}

/// One `[evaluators.NAME]`: its sample rate and queue; what its workers share is the [`Grader`].
struct Evaluator {
    grader: Arc<Grader>,
    sample: f64,
    concurrency: usize,
    tx: mpsc::Sender<Arc<Answer>>,
    /// Taken by the first offer, which starts the workers (a config is built outside a runtime).
    rx: Mutex<Option<mpsc::Receiver<Arc<Answer>>>>,
    started: Once,
}

/// What a grading needs besides the answer. It holds no sender, so workers holding it stop once
/// their evaluator is dropped.
struct Grader {
    name: String,
    /// `eval:NAME`.
    metric: String,
    asserts: Vec<Assertion>,
    /// The judge alias, when an assertion is model-graded.
    judge: Option<String>,
    gateway: Arc<Gateway>,
}

/// A sampled answer, shared by the queues of every evaluator that picked it.
struct Answer {
    request_id: String,
    alias: Option<String>,
    prompt: Option<String>,
    variant: Option<String>,
    subject: Option<String>,
    placement: Placement,
    key_policy: Option<String>,
    /// The request as sent upstream, its messages as JSON (what model-graded prompts quote);
    /// empty when no evaluator asks a judge.
    sent: String,
    output: Output,
    sink: Arc<dyn ScoreSink>,
}

/// What a request is, for picking its evaluators: known once its alias, prompt and placement are.
pub struct Asked<'a> {
    pub request_id: &'a str,
    pub alias: Option<&'a str>,
    /// `NAME@VERSION` of the prompt the request rendered.
    pub prompt: Option<&'a str>,
    /// `ROLLOUT:VARIANT` of the rollout side that served it.
    pub variant: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub placement: &'a Placement,
    pub key_policy: Option<&'a str>,
    pub start: Instant,
    pub sink: &'a Arc<dyn ScoreSink>,
}

/// The evaluators that sampled a request, waiting for its answer.
#[derive(Clone)]
pub struct Picked {
    evaluators: Vec<Arc<Evaluator>>,
    request_id: String,
    alias: Option<String>,
    prompt: Option<String>,
    variant: Option<String>,
    subject: Option<String>,
    placement: Placement,
    key_policy: Option<String>,
    start: Instant,
    sink: Arc<dyn ScoreSink>,
}

impl Evaluators {
    /// The evaluators of `cfg`, their assertions parsed. Errors are config errors, one a line,
    /// at `evaluators.NAME.…`.
    pub fn new(cfg: &Config, gateway: &Arc<Gateway>) -> Result<Evaluators, String> {
        let mut out = Evaluators::default();
        let mut errors = Vec::new();
        for e in cfg.evaluators.values() {
            let Some(evaluator) = evaluator(e, gateway, &mut errors) else {
                continue;
            };
            let evaluator = Arc::new(evaluator);
            let map = match &e.subject {
                Evaluated::Alias(a) => out.by_alias.entry(a.clone()),
                Evaluated::Prompt(p) => out.by_prompt.entry(p.clone()),
            };
            map.or_default().push(evaluator);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors.join("\n"))
        }
    }

    /// The evaluators that grade this request's answer: those of its alias and of its prompt
    /// (any version) whose sample takes its id. `None`, without allocating, when there are none.
    pub fn pick(&self, a: Asked<'_>) -> Option<Picked> {
        if self.by_alias.is_empty() && self.by_prompt.is_empty() {
            return None;
        }
        let by_alias = a.alias.and_then(|x| self.by_alias.get(x));
        let name = a.prompt.map(|p| p.split_once('@').map_or(p, |(n, _)| n));
        let by_prompt = name.and_then(|n| self.by_prompt.get(n));
        if by_alias.is_none() && by_prompt.is_none() {
            return None;
        }
        let at = fraction(a.request_id);
        let evaluators: Vec<Arc<Evaluator>> = by_alias
            .into_iter()
            .chain(by_prompt)
            .flatten()
            .filter(|e| at < e.sample)
            .cloned()
            .collect();
        if evaluators.is_empty() {
            return None;
        }
        Some(Picked {
            evaluators,
            request_id: a.request_id.to_owned(),
            alias: a.alias.map(str::to_owned),
            prompt: a.prompt.map(str::to_owned),
            variant: a.variant.map(str::to_owned),
            subject: a.subject.map(str::to_owned),
            placement: a.placement.clone(),
            key_policy: a.key_policy.map(str::to_owned),
            start: a.start,
            sink: Arc::clone(a.sink),
        })
    }
}

fn evaluator(
    e: &EvaluatorConfig,
    gateway: &Arc<Gateway>,
    errors: &mut Vec<String>,
) -> Option<Evaluator> {
    let before = errors.len();
    let mut asserts = Vec::with_capacity(e.assert.len());
    // The first model-graded assertion, by its place in the config.
    let mut judged = None;
    for (i, v) in e.assert.iter().enumerate() {
        let path = format!("evaluators.{}.assert[{i}]", e.name);
        match assertions::parse(v, &path) {
            Ok(a) if seam_evals::python::runs_python(&a) => errors.push(format!(
                "{path}: python assertions run only in seam eval, not in online evaluators"
            )),
            Ok(a) if names_provider(&a) => errors.push(format!(
                "{path}: an online evaluator's judge is evaluators.{}.judge; assertions take no provider",
                e.name
            )),
            Ok(a) => {
                if judged.is_none() && assertions::uses_judge(&a) {
                    judged = Some((i, a.type_name()));
                }
                asserts.push(a);
            }
            Err(err) => errors.push(err.to_string()),
        }
    }
    if let (None, Some((i, kind))) = (&e.judge, judged) {
        errors.push(format!(
            "evaluators.{}.judge: is required: assert[{i}] ({kind}) is graded by a model",
            e.name
        ));
    }
    if errors.len() > before {
        return None;
    }
    let (tx, rx) = mpsc::channel(e.queue);
    Some(Evaluator {
        grader: Arc::new(Grader {
            name: e.name.clone(),
            metric: format!("eval:{}", e.name),
            asserts,
            judge: e.judge.clone(),
            gateway: Arc::clone(gateway),
        }),
        sample: e.sample,
        concurrency: e.concurrency,
        tx,
        rx: Mutex::new(Some(rx)),
        started: Once::new(),
    })
}

/// An assertion's own judge (`provider`), itself or in an `assert-set`.
fn names_provider(a: &Assertion) -> bool {
    a.provider.is_some() || a.assert.iter().any(names_provider)
}

/// Where a request id falls in [0, 1): the first 8 bytes of its SHA-256. The same id falls in
/// the same place on every replica, and an evaluator sampling more takes every id one sampling
/// less takes.
fn fraction(request_id: &str) -> f64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, request_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    // The top 53 bits: exactly representable, uniform in [0, 1).
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

impl Picked {
    /// Queues the answer for every evaluator that picked it; never waits. Call once the
    /// answer's record is finished. `sent`: the request as sent upstream; `remask`: the policy's
    /// tokens, when it tokenized the request (the answer is graded as the vendor sent it, so a
    /// judge never gets a value the policy kept from vendors); `cost_usd`: as priced.
    pub fn offer(
        &self,
        sent: &ChatRequest,
        answer: &ChatCompletion,
        remask: Option<&Remask>,
        cost_usd: Option<f64>,
    ) {
        let judged = self.evaluators.iter().any(|e| e.grader.judge.is_some());
        let answer = Arc::new(Answer {
            request_id: self.request_id.clone(),
            alias: self.alias.clone(),
            prompt: self.prompt.clone(),
            variant: self.variant.clone(),
            subject: self.subject.clone(),
            placement: self.placement.clone(),
            key_policy: self.key_policy.clone(),
            sent: if judged {
                serde_json::to_string(&sent.messages).unwrap_or_default()
            } else {
                String::new()
            },
            output: output(answer, remask, self.start, cost_usd),
            sink: Arc::clone(&self.sink),
        });
        for e in &self.evaluators {
            e.enqueue(Arc::clone(&answer));
        }
    }
}

/// The answer as seam-evals grades it: the first choice (its restored values tokenized again
/// when `remask` is given), its latency and cost.
fn output(
    answer: &ChatCompletion,
    remask: Option<&Remask>,
    start: Instant,
    cost_usd: Option<f64>,
) -> Output {
    let first = answer.choices.first();
    let tool_calls = first
        .and_then(|c| c.message.tool_calls.as_ref())
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .map(|mut v| {
                    if let Some(r) = remask {
                        r.json(&mut v);
                    }
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    let text = first.map(|c| c.message.text()).unwrap_or_default();
    Output {
        text: match remask {
            Some(r) => r.text(&text),
            None => text,
        },
        tool_calls,
        finish_reason: first.and_then(|c| c.finish_reason.clone()),
        latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        cost_usd,
        tokens: answer.usage.as_ref().map(|u| Tokens {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            total: u.total_tokens,
        }),
        cached: false,
        value: None,
    }
}

impl Evaluator {
    /// Whether the answer was queued; if not, it is counted as dropped.
    fn enqueue(&self, answer: Arc<Answer>) -> bool {
        self.started.call_once(|| self.start_workers());
        let reason = match self.tx.try_send(answer) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(_)) => "queue_full",
            Err(mpsc::error::TrySendError::Closed(_)) => "closed",
        };
        counter!(DROPPED, "evaluator" => self.grader.name.clone(), "reason" => reason).increment(1);
        false
    }

    /// `concurrency` workers sharing the queue. Called from the first offer, inside the runtime.
    fn start_workers(&self) {
        let rx = match self.rx.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(rx) = rx else { return };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.concurrency {
            tokio::spawn(work(Arc::clone(&self.grader), Arc::clone(&rx)));
        }
    }
}

/// Grades answers until the queue is closed (its evaluator dropped) and empty.
async fn work(grader: Arc<Grader>, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Arc<Answer>>>>) {
    loop {
        let next = rx.lock().await.recv().await;
        let Some(answer) = next else { return };
        let (g, rt) = (Arc::clone(&grader), tokio::runtime::Handle::current());
        // Assertions such as levenshtein and bleu are CPU work: a blocking thread, not the
        // runtime's, runs the grading (and awaits the judge).
        let graded = tokio::task::spawn_blocking(move || rt.block_on(g.grade(&answer))).await;
        if graded.is_err() {
            counter!(GRADED, "evaluator" => grader.name.clone(), "verdict" => "error").increment(1);
        }
    }
}

impl Grader {
    async fn grade(&self, a: &Answer) {
        let judge = self.judge.as_deref().map(|alias| GatewayJudge {
            gateway: &self.gateway,
            alias,
            placement: &a.placement,
            key_policy: a.key_policy.as_deref(),
        });
        let vars = serde_json::Map::new();
        let ctx = Context {
            vars: &vars,
            prompt: &a.sent,
            judge: judge.as_ref().map(|j| j as &dyn Judge),
            test: None,
        };
        let grade = assertions::grade_all(&self.asserts, None, &a.output, &ctx).await;
        let name = self.name.clone();
        let g = match grade {
            Ok(g) => g,
            Err(e) => {
                counter!(GRADED, "evaluator" => name, "verdict" => "error").increment(1);
                // The kind only: an assertion's message may quote the answer.
                tracing::warn!(
                    evaluator = %self.name,
                    request_id = %a.request_id,
                    error = error_kind(&e),
                    "an online evaluation could not be graded"
                );
                return;
            }
        };
        let verdict = if g.pass { "pass" } else { "fail" };
        counter!(GRADED, "evaluator" => name.clone(), "verdict" => verdict).increment(1);
        histogram!(SCORES, "evaluator" => name).record(g.score);
        a.sink.score(Score {
            request_id: a.request_id.clone(),
            name: self.metric.clone(),
            value: g.score.clamp(0.0, 1.0),
            pass: g.pass,
            alias: a.alias.clone(),
            prompt: a.prompt.clone(),
            variant: a.variant.clone(),
            subject: a.subject.clone(),
        });
    }
}

fn error_kind(e: &EvalError) -> &'static str {
    match e {
        EvalError::Provider(_) => "judge",
        EvalError::Suite { .. } => "assertion",
        EvalError::Io(_) => "io",
    }
}

/// The judge alias through the in-process gateway: its own policy and routes, held to the
/// graded request's placement and its key's policy (either can only narrow what it may see).
struct GatewayJudge<'a> {
    gateway: &'a Gateway,
    alias: &'a str,
    placement: &'a Placement,
    key_policy: Option<&'a str>,
}

impl Judge for GatewayJudge<'_> {
    fn complete<'a>(
        &'a self,
        _provider: Option<&'a Value>,
        messages: Vec<Value>,
    ) -> BoxFuture<'a, Result<(String, Option<Tokens>), EvalError>> {
        async move {
            let req: ChatRequest =
                serde_json::from_value(json!({"model": self.alias, "messages": messages}))
                    .map_err(|_| judge_error("its request could not be built"))?;
            let out = self
                .gateway
                .chat(&req, self.placement, self.key_policy)
                .await
                .map_err(|f| judge_error(&f.error.code))?;
            let text = out
                .value
                .choices
                .first()
                .map(|c| c.message.text())
                .unwrap_or_default();
            let tokens = out.value.usage.map(|u| Tokens {
                prompt: u.prompt_tokens,
                completion: u.completion_tokens,
                total: u.total_tokens,
            });
            Ok((text, tokens))
        }
        .boxed()
    }

    fn embed<'a>(
        &'a self,
        _provider: Option<&'a Value>,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EvalError>> {
        async move {
            let req = serde_json::from_value(json!({"model": self.alias, "input": text}))
                .map_err(|_| judge_error("its request could not be built"))?;
            let out = self
                .gateway
                .embeddings(&req, self.placement, self.key_policy)
                .await
                .map_err(|f| judge_error(&f.error.code))?;
            let vector = out.value.data.first().and_then(|d| d.embedding.as_array());
            let Some(vector) = vector else {
                return Err(judge_error("no embedding"));
            };
            // JSON numbers as f32, as embeddings are sent.
            #[allow(clippy::cast_possible_truncation)]
            let floats = vector.iter().filter_map(Value::as_f64).map(|x| x as f32);
            Ok(floats.collect())
        }
        .boxed()
    }
}

/// A judge failure, named by Seam's error code: never the request's or the answer's text.
fn judge_error(why: &str) -> EvalError {
    EvalError::Provider(format!("the judge alias failed: {why}"))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn the_sample_is_the_configured_share_and_the_same_for_an_id() {
        for rate in [0.01, 0.1, 0.5, 0.9] {
            let ids: Vec<String> = (0..10_000)
                .map(|i| uuid::Uuid::now_v7().simple().to_string() + &i.to_string())
                .collect();
            let taken = ids.iter().filter(|id| fraction(id) < rate).count();
            // Binomial: four standard deviations either side.
            let sd = (10_000.0 * rate * (1.0 - rate)).sqrt();
            let want = 10_000.0 * rate;
            assert!(
                (taken as f64 - want).abs() < 4.0 * sd,
                "rate {rate}: {taken} of 10000"
            );
            for id in ids.iter().take(100) {
                assert_eq!(fraction(id), fraction(id));
            }
        }
        assert_eq!(fraction("r-1"), fraction(&String::from("r-1")));
        assert!((0.0..1.0).contains(&fraction("")));
    }

    fn evaluators(extra: &str) -> Evaluators {
        let toml = format!(
            "[audit]\nenabled = false\n[providers.echo]\nkind = \"echo\"\n\
             [models.chat]\ntargets = [{{ provider = \"echo\", model = \"m\" }}]\n{extra}"
        );
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        let cfg = seam_config::from_toml(&toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
        let registry = Arc::new(seam_gateway::Registry::new());
        let gateway = Arc::new(Gateway::new(&cfg, &registry).unwrap());
        Evaluators::new(&cfg, &gateway).unwrap_or_else(|e| panic!("{e}"))
    }

    fn asked<'a>(id: &'a str, sink: &'a Arc<dyn ScoreSink>, placement: &'a Placement) -> Asked<'a> {
        Asked {
            request_id: id,
            alias: Some("chat"),
            prompt: None,
            variant: None,
            subject: None,
            placement,
            key_policy: None,
            start: Instant::now(),
            sink,
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        let handle = crate::metrics::install().unwrap();
        let set = evaluators(
            "[evaluators.full-queue]\nalias = \"chat\"\nqueue = 2\n\
             assert = [{ type = \"contains\", value = \"x\" }]\n",
        );
        let sink: Arc<dyn ScoreSink> = Arc::new(LogSink);
        let placement = Placement::default();
        let picked = set.pick(asked("r-1", &sink, &placement)).unwrap();
        let e = &picked.evaluators[0];
        // No workers: nothing leaves the queue.
        e.started.call_once(|| ());
        let answer = || {
            Arc::new(Answer {
                request_id: "r-1".into(),
                alias: None,
                prompt: None,
                variant: None,
                subject: None,
                placement: Placement::default(),
                key_policy: None,
                sent: String::new(),
                output: Output::default(),
                sink: Arc::clone(&sink),
            })
        };
        let queued: Vec<bool> = (0..4).map(|_| e.enqueue(answer())).collect();
        assert_eq!(queued, [true, true, false, false]);
        let text = handle.render();
        assert!(
            text.contains(
                "seam_eval_online_dropped_total{evaluator=\"full-queue\",reason=\"queue_full\"} 2"
            ),
            "{text}"
        );
    }

    #[test]
    fn evaluators_are_picked_by_alias_and_prompt_name() {
        let set = evaluators(
            "[evaluators.by-alias]\nalias = \"chat\"\nassert = [{ type = \"contains\", value = \"x\" }]\n\
             [evaluators.by-prompt]\nprompt = \"support\"\nassert = [{ type = \"contains\", value = \"x\" }]\n",
        );
        let sink: Arc<dyn ScoreSink> = Arc::new(LogSink);
        let placement = Placement::default();
        let names = |alias, prompt| {
            let a = Asked {
                alias,
                prompt,
                ..asked("r-2", &sink, &placement)
            };
            set.pick(a).map_or_else(Vec::new, |p| {
                p.evaluators.iter().map(|e| e.grader.name.clone()).collect()
            })
        };
        assert_eq!(names(Some("chat"), None), ["by-alias"]);
        assert_eq!(names(None, Some("support@3")), ["by-prompt"]);
        assert_eq!(
            names(Some("chat"), Some("support@3")),
            ["by-alias", "by-prompt"]
        );
        assert!(names(Some("other"), Some("supported@1")).is_empty());
        assert!(
            evaluators("")
                .pick(asked("r-3", &sink, &placement))
                .is_none()
        );
    }

    #[test]
    fn bad_assertions_and_a_missing_judge_are_config_errors() {
        let toml = "[providers.echo]\nkind = \"echo\"\n\
             [models.chat]\ntargets = [{ provider = \"echo\", model = \"m\" }]\n\
             [evaluators.e]\nalias = \"chat\"\nassert = [\n\
             { type = \"contians\", value = \"x\" },\n\
             { type = \"llm-rubric\", value = \"polite\" },\n\
             { type = \"llm-rubric\", value = \"kind\", provider = \"openai:gpt-4o\" },\n\
             { type = \"python\", value = \"True\" },\n\
             ]\n";
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        let cfg = seam_config::from_toml(toml, &r).unwrap();
        let gateway =
            Arc::new(Gateway::new(&cfg, &Arc::new(seam_gateway::Registry::new())).unwrap());
        let Err(e) = Evaluators::new(&cfg, &gateway) else {
            panic!("expected errors")
        };
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(
            lines[0].starts_with("evaluators.e.assert[0].type: unknown assertion type `contians`"),
            "{e}"
        );
        assert_eq!(
            lines[1],
            "evaluators.e.assert[2]: an online evaluator's judge is evaluators.e.judge; assertions take no provider"
        );
        assert_eq!(
            lines[2],
            "evaluators.e.assert[3]: python assertions run only in seam eval, not in online evaluators"
        );
        assert_eq!(
            lines[3],
            "evaluators.e.judge: is required: assert[1] (llm-rubric) is graded by a model"
        );
    }
}
