//! Runs a suite: every test × prompt × provider (× `repeat`), a bounded number at once, each
//! answer from the record/replay cache or the endpoint, then graded. A provider error is a failed
//! case with its error recorded, not an aborted run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cache::{self, Cache};
use crate::client::{Client, Endpoint};
use crate::suite::{Api, Prompt, Provider, Suite, Test};
use crate::{
    Assertion, Context, EvalError, Grade, Judge, Output, Tokens, assertions, python, template,
};

/// How to run a suite (the CLI's flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases in flight at once (else the suite's `evaluateOptions.maxConcurrency`, else 4).
    pub max_concurrency: Option<usize>,
    /// Runs of each case (else `evaluateOptions.repeat`, else 1).
    pub repeat: Option<u32>,
    /// `--base-url`: for every provider without its own `config.apiBaseUrl`.
    pub base_url: Option<String>,
    /// `--api-key`: for every provider without its own `config.apiKey`.
    pub api_key: Option<String>,
    /// `--filter-providers`: only providers whose id or label matches.
    pub filter_providers: Option<regex::Regex>,
    pub cache: Cache,
    /// `--judge`: the grader for model-graded assertions when the suite names none.
    pub judge: Option<Value>,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_concurrency: None,
            repeat: None,
            base_url: None,
            api_key: None,
            filter_providers: None,
            cache: Cache::off(),
            judge: None,
            timeout: Duration::from_secs(120),
        }
    }
}

/// One case's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Index of the test in the expanded suite.
    pub test: usize,
    pub repeat: u32,
    pub description: Option<String>,
    pub vars: Map<String, Value>,
    pub prompt: String,
    pub provider: String,
    pub output: Option<Output>,
    /// Why there is no output (the endpoint failed after retries).
    pub error: Option<String>,
    pub pass: bool,
    pub score: f64,
    pub grade: Option<Grade>,
}

impl CaseResult {
    /// Pairs cases across variants: the same test and repeat.
    pub fn pair_key(&self) -> (usize, u32) {
        (self.test, self.repeat)
    }
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub description: Option<String>,
    pub started_unix_ms: u64,
    pub duration_ms: f64,
    pub results: Vec<CaseResult>,
}

/// Providers and judges resolved to endpoints.
struct Resolver<'a> {
    opts: &'a Options,
}

impl Resolver<'_> {
    fn endpoint(&self, p: &Provider) -> Endpoint {
        let base_url = p
            .base_url
            .clone()
            .or_else(|| self.opts.base_url.clone())
            .or_else(|| match p.api {
                Api::OpenAi | Api::Python(_) => std::env::var("OPENAI_BASE_URL").ok(),
                Api::Seam => std::env::var("SEAM_BASE_URL").ok(),
            })
            .unwrap_or_else(|| match p.api {
                Api::OpenAi | Api::Python(_) => "https://api.openai.com/v1".into(),
                Api::Seam => "http://127.0.0.1:8700/v1".into(),
            });
        let api_key = p
            .api_key
            .clone()
            .or_else(|| self.opts.api_key.clone())
            .or_else(|| match p.api {
                Api::OpenAi | Api::Python(_) => std::env::var("OPENAI_API_KEY").ok(),
                Api::Seam => std::env::var("SEAM_API_KEY")
                    .or_else(|_| std::env::var("OPENAI_API_KEY"))
                    .ok(),
            });
        Endpoint {
            base_url,
            api_key,
            headers: p.headers.clone(),
        }
    }
}

/// The grader behind model-graded assertions and `similar`: a provider spec (`seam:judge`,
/// `openai:chat:gpt-4o`, `{id, config}`, or promptfoo's `{text: …, embedding: …}`), answers
/// recorded and replayed like the suite's.
struct SuiteJudge {
    client: Client,
    cache: Cache,
    default: Option<Value>,
    opts: Options,
}

impl SuiteJudge {
    fn pick(&self, provider: Option<&Value>, purpose: &str) -> Result<Provider, EvalError> {
        let spec = provider.or(self.default.as_ref()).ok_or_else(|| {
            EvalError::suite(
                "judge",
                "a model-graded assertion needs a judge: set defaultTest.options.provider, the assertion's provider, or --judge",
            )
        })?;
        let spec = match spec.get(purpose) {
            Some(v) => v,
            None => spec,
        };
        let p = crate::suite::provider(spec, "judge")?;
        if matches!(p.api, Api::Python(_)) {
            return Err(EvalError::suite(
                "judge",
                "a Python provider cannot grade (call_embedding_api and call_classification_api are not supported); use a chat model",
            ));
        }
        Ok(p)
    }
}

impl Judge for SuiteJudge {
    fn complete<'a>(
        &'a self,
        provider: Option<&'a Value>,
        messages: Vec<Value>,
    ) -> BoxFuture<'a, Result<(String, Option<Tokens>), EvalError>> {
        Box::pin(async move {
            let p = self.pick(provider, "text")?;
            let ep = Resolver { opts: &self.opts }.endpoint(&p);
            let mut body = json!({"model": p.model, "messages": messages});
            if let Some(o) = body.as_object_mut() {
                o.entry("temperature").or_insert(json!(0));
                for (k, v) in &p.params {
                    o.insert(k.clone(), v.clone());
                }
            }
            let key = cache::key(&ep.base_url, &body);
            if let Some(out) = self.cache.get(&key) {
                return Ok((out.text, out.tokens));
            }
            let out = self.client.chat(&ep, &body).await?;
            self.cache.put(&key, &out);
            Ok((out.text, out.tokens))
        })
    }

    fn embed<'a>(
        &'a self,
        provider: Option<&'a Value>,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EvalError>> {
        Box::pin(async move {
            let p = self.pick(provider, "embedding")?;
            let ep = Resolver { opts: &self.opts }.endpoint(&p);
            let body = json!({"model": p.model, "input": text, "embedding": true});
            let key = cache::key(&ep.base_url, &body);
            if let Some(out) = self.cache.get(&key)
                && let Ok(v) = serde_json::from_str::<Vec<f32>>(&out.text)
            {
                return Ok(v);
            }
            let v = self.client.embed(&ep, &p.model, text).await?;
            if let Ok(text) = serde_json::to_string(&v) {
                self.cache.put(
                    &key,
                    &Output {
                        text,
                        ..Output::default()
                    },
                );
            }
            Ok(v)
        })
    }
}

/// The chat messages of a rendered prompt.
fn messages(chat: bool, rendered: &str, path: &str) -> Result<Vec<Value>, EvalError> {
    if chat {
        let v: Value = serde_json::from_str(rendered).map_err(|e| {
            EvalError::suite(path, format!("the rendered chat prompt is not JSON ({e})"))
        })?;
        return v.as_array().cloned().ok_or_else(|| {
            EvalError::suite(path, "a chat prompt must render to a list of messages")
        });
    }
    Ok(vec![json!({"role": "user", "content": rendered})])
}

/// An assertion with `{{vars}}` rendered in its values (`value`, nested assertions).
fn render_assertion(
    a: &Assertion,
    vars: &Map<String, Value>,
    path: &str,
) -> Result<Assertion, EvalError> {
    let mut a = a.clone();
    if let Some(v) = &a.value {
        a.value = Some(template::render_value(v, vars, path)?);
    }
    // `rubricPrompt` is left alone: its `{{output}}` and `{{rubric}}` are the grader's to fill
    // (with the test's vars too); rendering it here would blank them.
    a.assert = a
        .assert
        .iter()
        .map(|x| render_assertion(x, vars, path))
        .collect::<Result<_, _>>()?;
    Ok(a)
}

struct Case<'a> {
    test_index: usize,
    test: &'a Test,
    prompt: &'a Prompt,
    provider: &'a Provider,
    repeat: u32,
}

/// Runs `suite`; `progress(done, total)` is called as cases finish.
pub async fn run(
    suite: &Suite,
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Run, EvalError> {
    let started = Instant::now();
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let client = Client::new(opts.timeout)?;
    let providers: Vec<&Provider> = suite
        .providers
        .iter()
        .filter(|p| {
            opts.filter_providers
                .as_ref()
                .is_none_or(|r| r.is_match(&p.id) || r.is_match(&p.label))
        })
        .collect();
    if providers.is_empty() {
        return Err(EvalError::suite(
            "providers",
            "--filter-providers matches none of them",
        ));
    }
    let repeat = opts.repeat.or(suite.repeat).unwrap_or(1).max(1);
    let mut cases = Vec::new();
    for (test_index, test) in suite.tests.iter().enumerate() {
        for r in 0..repeat {
            for prompt in &suite.prompts {
                for provider in &providers {
                    cases.push(Case {
                        test_index,
                        test,
                        prompt,
                        provider,
                        repeat: r,
                    });
                }
            }
        }
    }
    let judge = Arc::new(SuiteJudge {
        client: client.clone(),
        cache: opts.cache.clone(),
        default: opts.judge.clone(),
        opts: opts.clone(),
    });
    let total = cases.len();
    let concurrency = opts
        .max_concurrency
        .or(suite.max_concurrency)
        .unwrap_or(4)
        .max(1);
    let resolver = Resolver { opts };
    let mut done = 0;
    let mut results = Vec::with_capacity(total);
    let mut stream = futures_util::stream::iter(cases.iter().enumerate())
        .map(|(i, c)| {
            let client = &client;
            let judge = Arc::clone(&judge);
            let resolver = &resolver;
            async move {
                (
                    i,
                    one(c, client, resolver, &opts.cache, judge.as_ref()).await,
                )
            }
        })
        .buffer_unordered(concurrency);
    while let Some((i, r)) = stream.next().await {
        results.push((i, r?));
        done += 1;
        progress(done, total);
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(Run {
        description: suite.description.clone(),
        started_unix_ms,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        results: results.into_iter().map(|(_, r)| r).collect(),
    })
}

async fn one(
    c: &Case<'_>,
    client: &Client,
    resolver: &Resolver<'_>,
    cache: &Cache,
    judge: &SuiteJudge,
) -> Result<CaseResult, EvalError> {
    let path = format!("tests[{}]", c.test_index);
    let timeout = resolver.opts.timeout;
    // The suite's Python (vars, prompt functions) failing is this case's error, as a provider's
    // failure is: the run goes on.
    let vars =
        &match python::code::resolve_vars(&c.test.vars, &c.prompt.template, timeout, &path).await {
            Ok(v) => v,
            Err(e) => return Ok(errored(c, &c.test.vars, e)),
        };
    let (rendered, chat) = match &c.prompt.function {
        Some(f) => {
            match python::code::prompt(f, vars, c.provider, timeout, &c.prompt.label).await {
                Ok(made) => made,
                Err(e) => return Ok(errored(c, vars, e)),
            }
        }
        None => (
            template::render(
                &c.prompt.template,
                vars,
                &format!("prompt {}", c.prompt.label),
            )?,
            c.prompt.chat,
        ),
    };
    let msgs = messages(chat, &rendered, &format!("prompt {}", c.prompt.label))?;
    let mut body = json!({"model": c.provider.model, "messages": msgs});
    if let Some(o) = body.as_object_mut() {
        for (k, v) in &c.provider.params {
            o.insert(k.clone(), v.clone());
        }
    }
    let ep = resolver.endpoint(c.provider);
    // Repeats are separate samples: each has its own cache entry.
    let key = match &c.provider.api {
        Api::Python(s) => cache::key(
            &s.reference(),
            &json!({"prompt": rendered, "vars": vars, "config": c.provider.params, "repeat": c.repeat}),
        ),
        _ => cache::key(&ep.base_url, &json!({"body": body, "repeat": c.repeat})),
    };
    let answer = match (&c.provider.api, cache.get(&key)) {
        (_, Some(out)) => Ok(out),
        (Api::Python(script), None) => {
            // The prompt as text, as promptfoo hands it to call_api (chat prompts as JSON).
            python::provider::call_api(script, &c.provider.params, &rendered, vars, timeout)
                .await
                .inspect(|out| cache.put(&key, out))
        }
        (_, None) => client
            .chat(&ep, &body)
            .await
            .inspect(|out| cache.put(&key, out)),
    };
    let mut result = CaseResult {
        test: c.test_index,
        repeat: c.repeat,
        description: c.test.description.clone(),
        vars: vars.clone(),
        prompt: c.prompt.label.clone(),
        provider: c.provider.label.clone(),
        output: None,
        error: None,
        pass: false,
        score: 0.0,
        grade: None,
    };
    let out = match answer {
        Ok(o) => o,
        Err(e) => {
            result.error = Some(e.to_string());
            return Ok(result);
        }
    };
    let asserts = c
        .test
        .asserts
        .iter()
        .map(|a| render_assertion(a, vars, &path))
        .collect::<Result<Vec<_>, _>>()?;
    let test_judge = TestJudge {
        inner: judge,
        default: c.test.judge.as_ref(),
    };
    let ctx = Context {
        vars,
        prompt: &rendered,
        judge: Some(&test_judge),
    };
    match assertions::grade_all(&asserts, c.test.threshold, &out, &ctx).await {
        Ok(g) => {
            result.pass = g.pass;
            result.score = g.score;
            result.grade = Some(g);
        }
        // A judge that could not be reached fails the case; a wrong suite stops the run.
        Err(EvalError::Provider(e)) => result.error = Some(format!("judge: {e}")),
        Err(e) => return Err(e),
    }
    result.output = Some(out);
    Ok(result)
}

/// A case that failed before it had an answer.
fn errored(c: &Case<'_>, vars: &Map<String, Value>, e: EvalError) -> CaseResult {
    CaseResult {
        test: c.test_index,
        repeat: c.repeat,
        description: c.test.description.clone(),
        vars: vars.clone(),
        prompt: c.prompt.label.clone(),
        provider: c.provider.label.clone(),
        output: None,
        error: Some(e.to_string()),
        pass: false,
        score: 0.0,
        grade: None,
    }
}

/// The suite's judge with a test's own `options.provider` as its default.
struct TestJudge<'a> {
    inner: &'a SuiteJudge,
    default: Option<&'a Value>,
}

impl Judge for TestJudge<'_> {
    fn complete<'a>(
        &'a self,
        provider: Option<&'a Value>,
        messages: Vec<Value>,
    ) -> BoxFuture<'a, Result<(String, Option<Tokens>), EvalError>> {
        self.inner.complete(provider.or(self.default), messages)
    }

    fn embed<'a>(
        &'a self,
        provider: Option<&'a Value>,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EvalError>> {
        self.inner.embed(provider.or(self.default), text)
    }
}
