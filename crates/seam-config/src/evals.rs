//! `[evals]`: defaults for `seam eval`. `judge` is the alias promptfoo's default grader resolves
//! to when a suite's model-graded assertion names no grader (after `--judge` and
//! `SEAM_EVAL_JUDGE`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{ConfigError, ModelConfig};

/// A validated `[evals]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvalsConfig {
    /// An alias of `[models]`: the grader for model-graded assertions that name none.
    pub judge: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawEvals {
    pub judge: Option<String>,
}

pub(crate) fn evals(
    raw: RawEvals,
    models: &BTreeMap<String, ModelConfig>,
    errors: &mut Vec<ConfigError>,
) -> EvalsConfig {
    if let Some(j) = &raw.judge
        && (!models.contains_key(j) || crate::routing::is_glob(j))
    {
        errors.push(ConfigError::new(
            "evals.judge",
            format!("no alias named \"{j}\" in [models]"),
        ));
        return EvalsConfig::default();
    }
    EvalsConfig { judge: raw.judge }
}
