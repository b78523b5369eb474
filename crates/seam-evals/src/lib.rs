//! Evaluations: run a team's own suites (promptfoo's format) against models and prompts through any
//! OpenAI-compatible endpoint — a Seam gateway first of all — grade the answers, compare variants
//! with paired statistics, and attack a route with the red-team probe library.
//!
//! - [`model`]: the shared types (outputs, assertions, grades, the judge).
//! - [`suite`]: promptfoo's config format, loaded and expanded; [`provider`]: provider ids;
//!   [`template`]: `{{vars}}`; [`coverage`]: what Seam does with every key of promptfoo's schema.
//! - [`runner`]: runs a suite through [`client`] with the record/replay [`cache`].
//! - [`assertions`]: every assertion type, deterministic and model-graded.
//! - [`js`]: embedded, sandboxed JavaScript for `javascript` assertions and transforms.
//! - [`python`]: python assertions, providers, prompt functions and vars (a subprocess).
//! - [`stats`]: Wilson intervals, McNemar's exact test, paired bootstrap, non-inferiority.
//! - [`redteam`]: the probe library and its deterministic detectors.

pub mod assertions;
pub mod cache;
pub mod client;
pub mod coverage;
mod glob;
pub mod http_target;
pub mod js;
pub mod model;
pub mod provider;
pub mod python;
pub mod redteam;
pub mod report;
pub mod runner;
pub mod stats;
pub mod suite;
mod surface;
pub mod template;

pub use model::{Assertion, AssertionSummary, Context, EvalError, Grade, Judge, Output, Tokens};
