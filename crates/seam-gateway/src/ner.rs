//! The named-entity model behind `PERSON`, `LOCATION` and `STREET_ADDRESS`: loaded once per
//! process (a reload that names the same folder reuses it) and shared by every policy.
//!
//! Without the model's files the three entities are found by rules alone, and [`Ner::status`]
//! says so for the start-up line; with `[ner] required = true` Seam refuses to start instead.
//! Files that are there but do not load are an error either way: a broken install must not pass
//! for a working one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use seam_config::NerConfig;
use seam_policy::{Tag, Tagger};

/// The loaded model as the policy engine sees it.
struct Model(seam_ner::Model);

impl Tagger for Model {
    fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>> {
        self.0
            .tag(texts)
            .into_iter()
            .map(|tags| {
                tags.into_iter()
                    .map(|t| Tag {
                        label: t.label,
                        start: t.start,
                        end: t.end,
                        score: t.score,
                    })
                    .collect()
            })
            .collect()
    }
}

/// What the names detector has to work with.
#[derive(Clone)]
pub enum Ner {
    /// The model, from this folder.
    Model {
        dir: PathBuf,
        tagger: Arc<dyn Tagger>,
    },
    /// No model installed here: rules alone.
    Missing { dir: Option<PathBuf> },
    /// Every policy that covers the entities says `ner = false`: rules alone, model not loaded.
    Off,
}

impl Ner {
    pub fn tagger(&self) -> Option<Arc<dyn Tagger>> {
        match self {
            Ner::Model { tagger, .. } => Some(Arc::clone(tagger)),
            Ner::Missing { .. } | Ner::Off => None,
        }
    }

    /// One line for the start-up log.
    pub fn status(&self) -> String {
        match self {
            Ner::Model { dir, .. } => format!(
                "names, places and addresses: rules and the Rampart model (CC-BY-4.0) from {}",
                dir.display()
            ),
            Ner::Missing { dir: Some(dir) } => format!(
                "names, places and addresses: rules only; no model in {} (install it with `seam models fetch`)",
                dir.display()
            ),
            Ner::Off => "names, places and addresses: rules only (`ner = false` in the policies that cover them)".to_owned(),
            Ner::Missing { dir: None } => "names, places and addresses: rules only; no model folder (set [ner] model_dir or SEAM_MODELS_DIR, then `seam models fetch`)".to_owned(),
        }
    }
}

static LOADED: Mutex<Option<(PathBuf, Arc<dyn Tagger>)>> = Mutex::new(None);

/// The model `cfg` names (or the default folder), loaded or reused.
pub fn load(cfg: &NerConfig) -> Result<Ner, String> {
    let dir = cfg.model_dir.clone().or_else(seam_ner::default_dir);
    let Some(dir) = dir.filter(|d| installed(d)) else {
        if cfg.required {
            return Err(format!(
                "[ner] required = true, but no model is installed{} (install it with `seam models fetch`)",
                cfg.model_dir
                    .as_ref()
                    .map(|d| format!(" in {}", d.display()))
                    .unwrap_or_default()
            ));
        }
        return Ok(Ner::Missing {
            dir: cfg.model_dir.clone().or_else(seam_ner::default_dir),
        });
    };
    let mut slot = LOADED.lock().map_err(|_| "the model cache is poisoned")?;
    if let Some((d, t)) = slot.as_ref()
        && *d == dir
    {
        return Ok(Ner::Model {
            dir,
            tagger: Arc::clone(t),
        });
    }
    let model = seam_ner::Model::load(&dir).map_err(|e| {
        format!(
            "the named-entity model in {} does not load: {e}",
            dir.display()
        )
    })?;
    let tagger: Arc<dyn Tagger> = Arc::new(Model(model));
    *slot = Some((dir.clone(), Arc::clone(&tagger)));
    Ok(Ner::Model { dir, tagger })
}

/// Whether `dir` holds a model (its weights file); what is there is checked by loading it.
fn installed(dir: &Path) -> bool {
    dir.join("model_q4.onnx").is_file()
}
