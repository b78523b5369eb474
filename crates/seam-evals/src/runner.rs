//! Runs a suite: every test × prompt × provider (× `repeat`), a bounded number at once, each
//! answer from the record/replay cache or the endpoint, then graded. A provider error is a failed
//! case with its error recorded, not an aborted run. Before the first request, [`preflight`]
//! checks everything that can be checked without one (every prompt renders for every test,
//! every grader resolves); a run that still stops midway keeps the cases it finished
//! ([`run_partial`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cache::{self, Cache};
use crate::client::Client;
use crate::provider::{Aliases, Api, Provider, Resolver, Surface};
use crate::suite::{Prompt, Suite, Test};
use crate::{
    Assertion, AssertionSummary, Context, EvalError, Grade, Judge, Output, Tokens, assertions,
    http_target, js, python, surface, template,
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

/// The grader behind model-graded assertions and `similar`: a provider spec (`seam:judge`,
/// `openai:chat:gpt-4o`, `{id, config}`, or promptfoo's `{text: …, embedding: …}`), answers
/// recorded and replayed like the suite's.
struct SuiteJudge {
    client: Client,
    cache: Cache,
    default: Option<Value>,
    opts: Options,
    aliases: Aliases,
}

/// What a model-graded assertion without a grader says: where promptfoo's default grader comes
/// from in Seam.
pub const NO_JUDGE: &str = "a model-graded assertion names no grader: set defaultTest.options.provider or the assertion's provider, or give Seam's default grader with --judge, SEAM_EVAL_JUDGE or `[evals] judge` in Seam's config";

impl SuiteJudge {
    fn pick(&self, provider: Option<&Value>, purpose: &str) -> Result<Provider, EvalError> {
        let spec = provider
            .or(self.default.as_ref())
            .ok_or_else(|| EvalError::suite("judge", NO_JUDGE))?;
        let spec = match spec.get(purpose) {
            Some(v) => v,
            None => spec,
        };
        let p = crate::provider::provider(spec, "judge", &self.aliases)?;
        if matches!(p.api, Api::Python(_)) {
            return Err(EvalError::suite(
                "judge",
                "a Python provider cannot grade (call_embedding_api and call_classification_api are not supported); use a chat model",
            ));
        }
        // A judge is asked through a model's API; an HTTP target or a transform would be ignored.
        if matches!(p.api, Api::Http(_) | Api::Echo) || p.transform.is_some() {
            return Err(EvalError::suite(
                "judge",
                format!(
                    "`{}`: a judge must be a chat model (openai:chat:MODEL, seam:ALIAS, a vendor id) without a transform",
                    p.id
                ),
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
            if p.surface == Surface::Embeddings {
                return Err(EvalError::suite(
                    "judge",
                    format!(
                        "`{}` is an embedding model; a model-graded assertion needs a chat model (an embedding model grades `similar` as options.provider.embedding)",
                        p.id
                    ),
                ));
            }
            let ep = Resolver { opts: &self.opts }.endpoint(&p);
            let mut body = surface::request(&p, messages);
            // promptfoo grades at temperature 0 (Messages requests already default to it).
            if let Some(o) = body.as_object_mut()
                && p.surface != Surface::Messages
            {
                o.entry("temperature").or_insert(json!(0));
            }
            let key = cache::key(&surface::cache_url(&ep, p.surface), &body);
            if let Some(out) = self.cache.get(&key) {
                return Ok((out.text, out.tokens));
            }
            let out = surface::complete(&self.client, &ep, p.surface, &body).await?;
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
            if p.surface == Surface::Messages {
                return Err(EvalError::suite(
                    "judge",
                    format!(
                        "`{}` has no embeddings; `similar` needs an embedding model (options.provider.embedding, e.g. openai:embedding:MODEL)",
                        p.id
                    ),
                ));
            }
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

/// The chat messages of a rendered prompt, decided after rendering
/// ([`template::chat_messages`]): a chat, or one user message.
fn messages(rendered: &str, path: &str) -> Result<Vec<Value>, EvalError> {
    Ok(template::chat_messages(rendered, path)?
        .unwrap_or_else(|| vec![json!({"role": "user", "content": rendered})]))
}

/// A prompt rendered for a test, and its messages.
fn prepare(prompt: &Prompt, test: &Test) -> Result<(String, Vec<Value>), EvalError> {
    let at = format!("prompt {}", prompt.label);
    let rendered = template::render_prompt(&prompt.template, &test.vars, &at)?;
    let msgs = messages(&rendered, &at)?;
    Ok((rendered, msgs))
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

/// The providers `--filter-providers` keeps.
fn selected<'a>(suite: &'a Suite, opts: &Options) -> Result<Vec<&'a Provider>, EvalError> {
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
    Ok(providers)
}

/// What a suite would run, found without a request: the number of cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub tests: usize,
    pub prompts: usize,
    pub providers: usize,
    pub cases: usize,
}

/// Every check that needs no request, so a suite that cannot finish fails before it spends any:
/// the selected providers; each prompt renders for each test (template syntax, chat JSON); each
/// assertion's `{{vars}}` render; each model-graded assertion (and `similar`) has a grader — its
/// own `provider`, the test's `options.provider`, `defaultTest`'s, or `--judge` — that names a
/// provider Seam can call.
///
/// # Errors
/// The first problem, as [`EvalError::Suite`] naming where it is.
pub fn preflight(suite: &Suite, opts: &Options) -> Result<Plan, EvalError> {
    let providers = selected(suite, opts)?;
    for (i, p) in suite.prompts.iter().enumerate() {
        let at = format!("prompts[{i}] ({})", p.label);
        template::check(&p.template, &at)?;
        if template::reads_env(&p.template)
            && suite.tests.iter().any(|t| !t.vars.contains_key("env"))
        {
            return Err(EvalError::suite(
                at,
                "reads `env`, which promptfoo fills with environment variables and seam eval does not (secrets never reach a prompt): pass the value as a var",
            ));
        }
        if template::reads_conversation(&p.template)
            && suite
                .tests
                .iter()
                .any(|t| !t.vars.contains_key("_conversation"))
        {
            return Err(EvalError::suite(
                at,
                "reads `_conversation`, promptfoo's earlier turns of a multi-turn run, which seam eval does not keep: list the turns as a var instead",
            ));
        }
    }
    for test in &suite.tests {
        for p in &suite.prompts {
            prepare(p, test)?;
        }
        for (a, at) in test.asserts.iter().zip(&test.assert_paths) {
            render_assertion(a, &test.vars, at)?;
            check_grader(
                a,
                test.judge.as_ref().or(opts.judge.as_ref()),
                at,
                &suite.aliases,
            )?;
        }
    }
    let repeat = opts.repeat.or(suite.repeat).unwrap_or(1).max(1) as usize;
    let pairs = suite
        .prompts
        .iter()
        .map(|q| providers.iter().filter(|p| p.runs(q)).count())
        .sum::<usize>();
    Ok(Plan {
        tests: suite.tests.len(),
        prompts: suite.prompts.len(),
        providers: providers.len(),
        cases: suite.tests.len() * repeat * pairs,
    })
}

/// A model-graded assertion (or `similar`, or an assert-set member) has a grader that resolves.
fn check_grader(
    a: &Assertion,
    default: Option<&Value>,
    at: &str,
    aliases: &Aliases,
) -> Result<(), EvalError> {
    for (i, m) in a.assert.iter().enumerate() {
        check_grader(m, default, &format!("{at}.assert[{i}]"), aliases)?;
    }
    if a.kind == "assert-set" || !assertions::uses_judge(a) {
        return Ok(());
    }
    let purpose = if a.kind == "similar" {
        "embedding"
    } else {
        "text"
    };
    let Some(spec) = a.provider.as_ref().or(default) else {
        return Err(EvalError::suite(
            at,
            format!("`{}` needs a grader and {NO_JUDGE}", a.type_name()),
        ));
    };
    let spec = spec.get(purpose).unwrap_or(spec);
    crate::provider::provider(spec, &format!("{at} (its grader)"), aliases).map(drop)
}

/// Runs `suite`; `progress(done, total)` is called as cases finish.
///
/// # Errors
/// What [`preflight`] finds, before any request; what stops the run midway (the cases done so
/// far are lost: [`run_partial`] keeps them).
pub async fn run(
    suite: &Suite,
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Run, EvalError> {
    let (run, stopped) = run_partial(suite, opts, progress).await?;
    match stopped {
        Some(e) => Err(e),
        None => Ok(run),
    }
}

/// Runs `suite` like [`run`], but a run that stops midway (a case that cannot be graded, a
/// suite error only the answers reveal) returns the cases finished before it stopped, in suite
/// order, with why it stopped; cases still in flight are dropped.
///
/// # Errors
/// What [`preflight`] finds, before any request, and a client that cannot be built.
pub async fn run_partial(
    suite: &Suite,
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Run, Option<EvalError>), EvalError> {
    let started = Instant::now();
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    preflight(suite, opts)?;
    let client = Client::new(opts.timeout)?;
    let providers = selected(suite, opts)?;
    let repeat = opts.repeat.or(suite.repeat).unwrap_or(1).max(1);
    let mut cases = Vec::new();
    for (test_index, test) in suite.tests.iter().enumerate() {
        for r in 0..repeat {
            for prompt in &suite.prompts {
                for provider in providers.iter().filter(|p| p.runs(prompt)) {
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
        aliases: suite.aliases.clone(),
    });
    let total = cases.len();
    // `storeOutputAs` feeds later tests, so (as promptfoo does) cases then run one at a time, in
    // order.
    let registers = suite
        .tests
        .iter()
        .any(|t| t.store_output_as.is_some())
        .then(|| Mutex::new(Map::new()));
    let concurrency = if registers.is_some() {
        1
    } else {
        opts.max_concurrency
            .or(suite.max_concurrency)
            .unwrap_or(4)
            .max(1)
    };
    let resolver = Resolver { opts };
    let mut done = 0;
    let mut results = Vec::with_capacity(total);
    let mut stopped = None;
    let mut stream = futures_util::stream::iter(cases.iter().enumerate())
        .map(|(i, c)| {
            let client = &client;
            let judge = Arc::clone(&judge);
            let resolver = &resolver;
            let registers = registers.as_ref();
            async move {
                (
                    i,
                    one(c, client, resolver, &opts.cache, judge.as_ref(), registers).await,
                )
            }
        })
        .buffer_unordered(concurrency);
    while let Some((i, r)) = stream.next().await {
        match r {
            Ok(r) => results.push((i, r)),
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
        done += 1;
        progress(done, total);
    }
    drop(stream);
    results.sort_by_key(|(i, _)| *i);
    let run = Run {
        description: suite.description.clone(),
        started_unix_ms,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        results: results.into_iter().map(|(_, r)| r).collect(),
    };
    Ok((run, stopped))
}

async fn one(
    c: &Case<'_>,
    client: &Client,
    resolver: &Resolver<'_>,
    cache: &Cache,
    judge: &SuiteJudge,
    registers: Option<&Mutex<Map<String, Value>>>,
) -> Result<CaseResult, EvalError> {
    let path = c.test.path.clone();
    let timeout = resolver.opts.timeout;
    // Outputs stored by earlier tests (`storeOutputAs`) are vars here, over the test's own.
    let mut vars = c.test.vars.clone();
    if let Some(stored) = registers.and_then(|r| r.lock().ok()) {
        vars.extend(stored.clone());
    }
    // The suite's Python (vars, prompt functions) failing is this case's error, as a provider's
    // failure is: the run goes on.
    let vars = &match python::code::resolve_vars(&vars, &c.prompt.template, timeout, &path).await {
        Ok(v) => v,
        Err(e) => return Ok(errored(c, &vars, e)),
    };
    let at = format!("prompt {}", c.prompt.label);
    let rendered = match &c.prompt.function {
        Some(f) => {
            match python::code::prompt(f, vars, c.provider, timeout, &c.prompt.label).await {
                // A function's chat comes back as JSON text: decided after rendering like any prompt.
                Ok((made, _chat)) => made,
                Err(e) => return Ok(errored(c, vars, e)),
            }
        }
        None => template::render_prompt(&c.prompt.template, vars, &at)?,
    };
    let answer = match &c.provider.api {
        Api::Http(t) => match http_target::prepare(t, &rendered, vars, &c.provider.label).await {
            Err(e @ EvalError::Suite { .. }) => return Err(e),
            Err(e) => Err(e),
            Ok(req) => {
                let key = cache::key(
                    &req.url,
                    &json!({"request": req.cache_body(t), "repeat": c.repeat}),
                );
                match cache.get(&key) {
                    Some(out) => Ok(out),
                    None => http_target::send(t, client.http(), &req, resolver.opts.timeout)
                        .await
                        .inspect(|out| cache.put(&key, out)),
                }
            }
        },
        // promptfoo's echo: the prompt as sent is the answer; nothing to record.
        Api::Echo => Ok(Output {
            text: rendered.clone(),
            cost_usd: Some(0.0),
            tokens: Some(Tokens::default()),
            ..Output::default()
        }),
        Api::Python(script) => {
            let key = cache::key(
                &script.reference(),
                &json!({"prompt": rendered, "vars": vars, "config": c.provider.params, "repeat": c.repeat}),
            );
            match cache.get(&key) {
                Some(out) => Ok(out),
                // The prompt as text, as promptfoo hands it to call_api (chat prompts as JSON).
                None => {
                    python::provider::call_api(script, &c.provider.params, &rendered, vars, timeout)
                        .await
                        .inspect(|out| cache.put(&key, out))
                }
            }
        }
        Api::OpenAi | Api::Seam => {
            let msgs = messages(&rendered, &at)?;
            let body = surface::request(c.provider, msgs);
            let ep = resolver.endpoint(c.provider);
            // Repeats are separate samples: each has its own cache entry.
            let key = cache::key(
                &surface::cache_url(&ep, c.provider.surface),
                &json!({"body": body, "repeat": c.repeat}),
            );
            match cache.get(&key) {
                Some(out) => Ok(out),
                None => surface::complete(client, &ep, c.provider.surface, &body)
                    .await
                    .inspect(|out| cache.put(&key, out)),
            }
        }
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
    let out = match transformed(c, out.clone(), vars).await {
        Ok(o) => o,
        Err(e) => {
            result.error = Some(e);
            result.output = Some(out);
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
    let test_json = json!({
        "description": c.test.description,
        "vars": vars,
        "assert": asserts.iter().map(AssertionSummary::from).collect::<Vec<_>>(),
    });
    let ctx = Context {
        vars,
        prompt: &rendered,
        judge: Some(&test_judge),
        test: Some(&test_json),
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
    if let (Some(name), Some(registers)) = (&c.test.store_output_as, registers) {
        // promptfoo stores only an output that is there (not empty).
        let value = assertions::output_value(&out);
        let empty = matches!(&value, Value::String(s) if s.is_empty()) || value.is_null();
        if !empty && let Ok(mut r) = registers.lock() {
            r.insert(name.clone(), value);
        }
    }
    result.output = Some(out);
    Ok(result)
}

/// The provider's `transform`, then the test's `options.transform`, as promptfoo applies them
/// before grading; an error names which one failed.
async fn transformed(
    c: &Case<'_>,
    out: Output,
    vars: &Map<String, Value>,
) -> Result<Output, String> {
    let prompt = json!({"raw": c.prompt.template, "label": c.prompt.label});
    let mut out = out;
    for (code, which) in [
        (&c.provider.transform, "the provider's transform"),
        (&c.test.transform, "options.transform"),
    ] {
        if let Some(code) = code {
            let context = json!({"vars": vars, "prompt": prompt});
            let v = js::transform(code, assertions::output_value(&out), context)
                .await
                .map_err(|e| format!("{which} failed: {e}"))?;
            out = assertions::with_value(&out, v);
        }
    }
    Ok(out)
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
