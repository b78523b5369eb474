//! Evaluations: run a team's own suites (promptfoo's format) against models and prompts through any
//! OpenAI-compatible endpoint — a Seam gateway first of all — grade the answers, compare variants
//! with paired statistics, and attack a route with the red-team probe library.
//!
//! - [`model`]: the shared types (outputs, assertions, grades, the judge).
//! - [`suite`]: promptfoo's config format, loaded and expanded; [`template`]: `{{vars}}`.
//! - [`runner`]: runs a suite through [`client`] with the record/replay [`cache`].
//! - [`assertions`]: every assertion type, deterministic and model-graded.
//! - [`python`]: python assertions, providers, prompt functions and vars (a subprocess).
//! - [`stats`]: Wilson intervals, McNemar's exact test, paired bootstrap, non-inferiority.
//! - [`redteam`]: the probe library and its deterministic detectors.

pub mod assertions;
pub mod cache;
pub mod client;
pub mod model;
pub mod python;
pub mod redteam;
pub mod report;
pub mod runner;
pub mod stats;
pub mod suite;
pub mod template;

pub use model::{Assertion, AssertionSummary, Context, EvalError, Grade, Judge, Output, Tokens};
