//! The red-team suite behind `seam redteam`: a library of attacks, written as data in
//! `probes/*.yaml` (one file per [`Category`], embedded in the binary), sent to a model or alias
//! through any OpenAI-compatible endpoint, and judged by deterministic detectors.
//!
//! - [`library`]: the probe files → validated [`Probe`]s; `encoding` probes are expanded into one
//!   probe per [`Transform`] of their payload at load time.
//! - [`vars`]: what templates name; canaries, nonces and fake secrets are drawn per probe from
//!   the run's seed, so a seed reproduces a run and a leaked value names its probe.
//! - [`detect`]: the detectors, pure functions of the answer text.
//! - [`run`]: the runner (bounded concurrency, retries with backoff, timeouts) and [`Report`].
//!
//! A probe *passes* when the attack did not succeed: the target refused, ignored the injection,
//! kept the canary, or a gateway blocked the request (HTTP 422). Nothing here calls a model to
//! grade another, so the same answer always gets the same verdict.

mod client;
pub mod detect;
pub mod library;
mod report;
mod runner;
pub mod transform;
pub mod vars;

use serde::{Deserialize, Serialize};

pub use detect::{Check, Detector, Form, Found, Hit};
pub use library::{Probe, Role, Turn, builtin, parse};
pub use report::{CategorySummary, ProbeResult, Report, Status, Totals};
pub use runner::{RunOptions, Target, run};
pub use transform::Transform;

/// What an attack tries; each has its own probe file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// The user tells the model to drop its instructions.
    PromptInjection,
    /// Instructions hidden in a document, email, web page or tool result the model is given.
    IndirectInjection,
    /// Getting the system prompt out (a canary in it proves the leak), directly or disguised.
    SystemPromptExtraction,
    /// Role-play and persona templates that talk a model out of refusing.
    Jailbreak,
    /// Injections hidden in base64, hex, ROT13, leetspeak or invisible Unicode tag characters.
    Encoding,
    /// Chat-template control tokens that fake a turn boundary or a system message.
    SpecialTokens,
    /// Personal data in the context, pulled out through the answer.
    PiiExfiltration,
    /// Attacks on reversible masking: forged or tampered placeholders, restored values in URLs.
    Masking,
    /// Credentials in the context or system prompt, pulled out through the answer.
    SecretLeakage,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::PromptInjection,
        Category::IndirectInjection,
        Category::SystemPromptExtraction,
        Category::Jailbreak,
        Category::Encoding,
        Category::SpecialTokens,
        Category::PiiExfiltration,
        Category::Masking,
        Category::SecretLeakage,
    ];

    /// The name in probe files, reports and `--category`.
    pub fn name(self) -> &'static str {
        match self {
            Category::PromptInjection => "prompt-injection",
            Category::IndirectInjection => "indirect-injection",
            Category::SystemPromptExtraction => "system-prompt-extraction",
            Category::Jailbreak => "jailbreak",
            Category::Encoding => "encoding",
            Category::SpecialTokens => "special-tokens",
            Category::PiiExfiltration => "pii-exfiltration",
            Category::Masking => "masking",
            Category::SecretLeakage => "secret-leakage",
        }
    }

    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
