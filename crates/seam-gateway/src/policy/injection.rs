//! The injection rule: every text through which an injection can enter — a user message, a tool
//! result, the arguments of a tool call coming back into the conversation, an MCP call's arguments
//! and its result — is assessed ([`seam_policy::injection::assess`]); the highest score decides,
//! with which part gave it (heuristics or classifier) and where it was. Over the policy's
//! threshold, `flag` records it and `block` refuses. Nothing here keeps or repeats a text: the
//! report, the error, the metrics and the audit record carry the score, the part, the place and
//! a heuristic family name only.

use seam_config::{InjectionAction, InjectionRule};
use seam_policy::injection::{Assessment, Part, WEIGHTS};
use seam_types::{ApiError, ErrorCode};
use serde_json::Value;

use super::PolicyReport;
use crate::telemetry;

/// Where an assessed text entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A chat request's user message.
    UserMessage,
    /// A chat request's tool (or legacy function) message: what a tool returned.
    ToolResult,
    /// The arguments of a tool call in an earlier assistant turn of a chat request.
    ToolArguments,
    /// The arguments of a call through `/mcp` (`tools/call`, `prompts/get`, a resource's URI).
    McpArguments,
    /// What an upstream MCP server answered (a tool result, a prompt, a resource).
    McpResult,
}

impl Source {
    /// The name in the report, the audit record and the metric label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::UserMessage => "user_message",
            Source::ToolResult => "tool_result",
            Source::ToolArguments => "tool_arguments",
            Source::McpArguments => "mcp_arguments",
            Source::McpResult => "mcp_result",
        }
    }

    /// The text's place and verb, as a refusal names them.
    fn phrase(self) -> &'static str {
        match self {
            Source::UserMessage => "a user message looks",
            Source::ToolResult => "a tool result looks",
            Source::ToolArguments => "the arguments of an earlier tool call look",
            Source::McpArguments => "its arguments look",
            Source::McpResult => "it looks",
        }
    }
}

/// The highest-scoring text so far: its score, the part that gave it, where it entered and, when
/// the heuristics decided, the strongest signal's kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Found {
    pub(crate) score: f32,
    pub(crate) by: Part,
    pub(crate) source: Source,
    pub(crate) family: Option<&'static str>,
}

/// Assesses texts one at a time and keeps the highest score.
#[derive(Debug, Default)]
pub(crate) struct Scorer {
    best: Option<Found>,
}

impl Scorer {
    pub(crate) fn text(&mut self, source: Source, text: &str) {
        if text.is_empty() {
            return;
        }
        let a = seam_policy::injection::assess(text);
        let by = a.by();
        self.keep(Found {
            score: a.score,
            by,
            source,
            family: (by == Part::Heuristic).then(|| family(&a)).flatten(),
        });
    }

    /// Every text string of a JSON value, as one text (tool arguments: the keys that read as
    /// names, `type`, `mimeType` and binary payloads left out).
    pub(crate) fn json(&mut self, source: Source, v: &Value) {
        let mut text = String::new();
        crate::tools::strings(v, &mut |s| {
            text.push_str(s);
            text.push('\n');
        });
        self.text(source, &text);
    }

    /// A tool call's `arguments`, JSON-encoded by the model: its strings, or the whole text when
    /// it is not JSON.
    pub(crate) fn arguments(&mut self, source: Source, arguments: &str) {
        match serde_json::from_str::<Value>(arguments) {
            Ok(v) => self.json(source, &v),
            Err(_) => self.text(source, arguments),
        }
    }

    fn keep(&mut self, f: Found) {
        if self.best.is_none_or(|b| f.score > b.score) {
            self.best = Some(f);
        }
    }

    /// The highest score; a zero from `source` when no text was assessed (the header still
    /// says the rule ran).
    pub(crate) fn best(&self, source: Source) -> Found {
        self.best.unwrap_or(Found {
            score: 0.0,
            by: Part::Heuristic,
            source,
            family: None,
        })
    }
}

/// The kind of the strongest heuristic signal: an encoded payload first (its weight is the
/// decoded text's score, not a fixed one), then by [`WEIGHTS`].
pub(super) fn family(a: &Assessment) -> Option<&'static str> {
    let strength = |kind: &str| {
        if kind.starts_with("encoded_") {
            1.0
        } else {
            WEIGHTS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0.0, |(_, w)| *w)
        }
    };
    let mut best: Option<(&'static str, f32)> = None;
    for s in &a.signals {
        let w = strength(s.kind);
        if best.is_none_or(|(_, b)| w > b) {
            best = Some((s.kind, w));
        }
    }
    best.map(|(k, _)| k)
}

/// What the rule does with `found` (the highest score of a request, or of one side of a tool
/// call): records it in `report` when it is the highest there, counts a decision over the
/// threshold, and returns the refusal when the rule blocks. `what`: what is refused, as the
/// message names it ("this request", "this tool call").
pub(crate) fn decide(
    policy: &str,
    rule: InjectionRule,
    found: Found,
    report: &mut PolicyReport,
    what: &str,
) -> Result<(), ApiError> {
    // A block ends the request, so the score it decided on is always the highest.
    if report.injection.is_none_or(|s| found.score > s) {
        report.injection = Some(found.score);
        report.injection_by = Some(found.by.as_str());
        report.injection_in = Some(found.source.as_str());
    }
    if found.score < rule.threshold {
        return Ok(());
    }
    match rule.action {
        InjectionAction::Flag => {
            telemetry::policy_injection(policy, found.by.as_str(), "flag", found.source.as_str());
            report.injection_flagged = true;
            Ok(())
        }
        InjectionAction::Block => {
            telemetry::policy_injection(policy, found.by.as_str(), "block", found.source.as_str());
            telemetry::policy_refusal(policy, "injection");
            report.injection_blocked = true;
            Err(refusal(policy, rule, &found, what))
        }
    }
}

/// 422 `policy_violation`: the category, where, the deciding part (and the heuristic family),
/// the score and the threshold — never the text.
fn refusal(policy: &str, rule: InjectionRule, found: &Found, what: &str) -> ApiError {
    let by = match (found.by, found.family) {
        (Part::Classifier, _) => "the classifier".to_owned(),
        (Part::Heuristic, Some(f)) => format!("the heuristics, {f}"),
        (Part::Heuristic, None) => "the heuristics".to_owned(),
    };
    ApiError::new(
        ErrorCode::PolicyViolation,
        format!(
            "The policy `{policy}` blocks {what}: {} like a prompt injection (decided by {by}; score {:.2}, threshold {:.2})",
            found.source.phrase(),
            found.score,
            rule.threshold
        ),
    )
}
