//! Runs probes against a target, a bounded number at a time, and judges each answer.

use std::time::Duration;

use futures_util::StreamExt;

use super::client::{CallError, Endpoint, Reply};
use super::detect::{self, mask_planted};
use super::library::Probe;
use super::report::{ProbeResult, Report, Status};
use super::vars::Vars;
use crate::EvalError;

/// The longest answer a result keeps, in characters.
const MAX_ANSWER: usize = 2000;

/// What to attack and how hard to push.
#[derive(Clone, Debug)]
pub struct Target {
    /// `http://127.0.0.1:8700/v1`: `/chat/completions` is appended.
    pub base_url: String,
    /// The model or alias, sent as `model`.
    pub model: String,
    pub api_key: Option<String>,
    /// Probes in flight at once (at least 1).
    pub max_concurrency: usize,
    /// Per request, connecting included.
    pub timeout: Duration,
    pub max_tokens: u32,
    /// Retries after the first attempt, for 429, 5xx and timeouts.
    pub retries: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Draws every canary, nonce and secret: the same seed sends the same requests.
    pub seed: u64,
    /// The pass rate the run must reach (0..=1).
    pub pass_threshold: f64,
}

/// Sends every probe and judges it. `on_done` is called once per finished probe (for a progress
/// bar). An unreachable endpoint, a rejected key or an unknown model stops the run with an error;
/// a probe that fails after its retries is a result with status `error`.
pub async fn run(
    target: &Target,
    probes: &[Probe],
    options: RunOptions,
    on_done: &(dyn Fn() + Sync),
) -> Result<Report, EvalError> {
    let endpoint = Endpoint::new(target)?;
    let endpoint = &endpoint;
    let mut pending = futures_util::stream::iter(probes.iter().enumerate())
        .map(|(i, p)| async move { (i, attack(endpoint, p, options.seed).await) })
        .buffer_unordered(target.max_concurrency.max(1));
    let mut results: Vec<Option<ProbeResult>> = vec![None; probes.len()];
    while let Some((i, r)) = pending.next().await {
        let result = r?;
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(result);
        }
        on_done();
    }
    let results: Vec<ProbeResult> = results.into_iter().flatten().collect();
    Ok(Report::new(target, options, results))
}

/// One probe: its setup requests, the attack, the verdict.
async fn attack(endpoint: &Endpoint, probe: &Probe, seed: u64) -> Result<ProbeResult, EvalError> {
    let vars = Vars::new(seed, &probe.id);
    let attack = probe
        .render(&vars)
        .map_err(|m| EvalError::suite(format!("probe {}", probe.id), m))?;
    let mut result = ProbeResult {
        id: probe.id.clone(),
        category: probe.category,
        description: probe.description.clone(),
        status: Status::Error,
        detector: None,
        evidence: None,
        blocked_by: None,
        answer: None,
        error: None,
        attempts: 0,
        latency_ms: 0.0,
    };
    let fail = |e: CallError, mut result: ProbeResult| match e {
        CallError::Fatal(m) => Err(EvalError::Provider(m)),
        CallError::Failed(m) => {
            result.error = Some(m);
            Ok(result)
        }
    };
    for messages in &attack.setup {
        if let Err(e) = endpoint.chat(messages).await {
            return fail(e, result);
        }
    }
    let called = match endpoint.chat(&attack.messages).await {
        Ok(c) => c,
        Err(e) => return fail(e, result),
    };
    result.attempts = called.attempts;
    result.latency_ms = called.latency_ms;
    match called.reply {
        Reply::Blocked { status, code } => {
            result.status = Status::Passed;
            result.blocked_by = Some(format!("{status} {code}").trim().to_owned());
        }
        Reply::Answer(text) => {
            let hit = detect::run(&attack.checks, &text);
            result.status = if hit.is_some() {
                Status::Failed
            } else {
                Status::Passed
            };
            if let Some(hit) = hit {
                result.detector = Some(hit.detector.to_owned());
                result.evidence = Some(mask_planted(&hit.evidence, &attack.secrets));
            }
            // Masked before it is cut, so no piece of a planted secret survives at the cut.
            let masked = mask_planted(&text, &attack.secrets);
            result.answer = Some(masked.chars().take(MAX_ANSWER).collect());
        }
    }
    Ok(result)
}
