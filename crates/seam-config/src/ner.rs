//! `[ner]`: the named-entity model behind `PERSON`, `LOCATION` and `STREET_ADDRESS`.
//!
//! The model's files are installed by `seam models fetch` (never downloaded at run time); without
//! them the three entities are found by rules alone, and Seam says so when it starts. Whether a
//! policy runs the model, and on how many bytes per request, is the policy's (`ner`,
//! `ner_max_bytes`).

use std::path::PathBuf;

use serde::Deserialize;

use crate::{ConfigError, Resolver};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NerConfig {
    /// The model's folder; `None`: `$SEAM_MODELS_DIR/rampart`, else the user's data folder.
    pub model_dir: Option<PathBuf>,
    /// Refuse to start without the model instead of falling back to rules.
    pub required: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawNer {
    pub model_dir: Option<String>,
    pub required: Option<bool>,
}

pub(crate) fn ner(raw: RawNer, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> NerConfig {
    let model_dir = raw.model_dir.and_then(|d| {
        if d.trim().is_empty() {
            errors.push(ConfigError::new("ner.model_dir", "must not be empty"));
            return None;
        }
        Some(r.base_dir.join(d))
    });
    NerConfig {
        model_dir,
        required: raw.required.unwrap_or(false),
    }
}
