//! `seam prompts test NAME[@REF]`: a prompt's `tests:` (promptfoo-style cases) run through
//! `seam eval`'s runner and reports, against the gateway.
//!
//! The suite is built in memory: the cases are parsed by seam-evals as a suite's `tests:` would be
//! (var arrays expanded, `file://` paths relative to the prompts folder), then each case is
//! rendered here with [`Prompt::render`], the function the gateway serves `prompt:NAME` with, so
//! what is tested is what is served. The rendered messages reach the runner as a hidden variable
//! that a one-message chat template passes through, and leave the results before any report. A
//! case whose variables do not render is a failed case naming the variable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use seam_evals::cache::Cache;
use seam_evals::report;
use seam_evals::runner::{self, CaseResult, Options, Run};
use seam_evals::suite::{self, Suite};
use seam_prompts::Prompt;
use serde_json::{Value, json};

/// The variable carrying a case's rendered messages through the runner.
const MESSAGES: &str = "__seam_prompt_messages";

#[derive(clap::Args)]
pub struct Args {
    /// The prompt: NAME, NAME@VERSION or NAME@TAG.
    pub prompt: String,
    /// The gateway (default: SEAM_BASE_URL, else http://127.0.0.1:8700/v1).
    #[arg(long)]
    base_url: Option<String>,
    /// The API key (default: SEAM_API_KEY).
    #[arg(long, env = "SEAM_EVAL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Write a report: .json, .junit.xml (or .xml), .html or .md, by extension. Repeatable.
    #[arg(short = 'o', long = "output")]
    outputs: Vec<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
}

/// The suite of `p`'s cases, on `seam:MODEL` with `p`'s params, an `is-json` check of its
/// `output_schema` on every case.
fn suite(p: &Prompt, label: &str, dir: &Path) -> anyhow::Result<Suite> {
    let tests = match &p.tests {
        Some(Value::Array(t)) if t.is_empty() => None,
        Some(Value::Null) | None => None,
        Some(t) => Some(t),
    };
    let Some(tests) = tests else {
        bail!("prompt `{}` has no tests", p.name);
    };
    let Some(model) = &p.model else {
        bail!("prompt `{}` names no `model` to test it on", p.name);
    };
    let mut spec = json!({
        "description": format!("prompt {label}"),
        "providers": [{"id": format!("seam:{model}"), "config": p.params}],
        "tests": tests,
    });
    if let Some(schema) = &p.output_schema {
        spec["defaultTest"] = json!({"assert": [{"type": "is-json", "value": schema}]});
    }
    let mut suite =
        Suite::parse(&spec.to_string(), dir).map_err(|e| anyhow!("prompt `{}`: {e}", p.name))?;
    suite.prompts = vec![suite::Prompt {
        label: label.to_owned(),
        template: format!("{{{{ {MESSAGES} }}}}"),
        chat: true,
        function: None,
    }];
    Ok(suite)
}

pub fn run(p: &Prompt, label: &str, dir: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    crate::eval::check_outputs(&args.outputs)?;
    let mut suite = suite(p, label, dir)?;
    // Render every case; the ones that fail are results of their own, kept out of the run.
    let mut unrendered = Vec::new();
    let mut index = Vec::new();
    for (i, t) in std::mem::take(&mut suite.tests).into_iter().enumerate() {
        match p.render(&Value::Object(t.vars.clone())) {
            Ok(r) => {
                let mut t = t;
                let msgs = Value::Array(super::messages(r)).to_string();
                t.vars.insert(MESSAGES.to_owned(), Value::String(msgs));
                index.push(i);
                suite.tests.push(t);
            }
            Err(e) => unrendered.push(CaseResult {
                test: i,
                repeat: 0,
                description: t.description,
                vars: t.vars,
                prompt: label.to_owned(),
                provider: suite.providers[0].label.clone(),
                output: None,
                error: Some(e.to_string()),
                pass: false,
                score: 0.0,
                grade: None,
            }),
        }
    }
    let opts = Options {
        base_url: args.base_url.clone(),
        api_key: args.api_key.clone(),
        cache: Cache::off(),
        timeout: std::time::Duration::from_secs(args.timeout_s.max(1)),
        ..Options::default()
    };
    let mut run = if suite.tests.is_empty() {
        Run {
            description: suite.description.clone(),
            started_unix_ms: 0,
            duration_ms: 0.0,
            results: Vec::new(),
        }
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(runner::run(&suite, &opts, &|_, _| {}))
            .map_err(|e| anyhow!("{e}"))?
    };
    for r in &mut run.results {
        r.test = index[r.test];
        r.vars.remove(MESSAGES);
    }
    run.results.extend(unrendered);
    run.results.sort_by_key(CaseResult::pair_key);
    let report = report::build(run, None, None, 42);
    for o in &args.outputs {
        crate::eval::write_report(&report, o)?;
    }
    print!("{}", report.to_markdown());
    if report.totals.failed > 0 {
        return Ok(ExitCode::from(100));
    }
    Ok(ExitCode::SUCCESS)
}
