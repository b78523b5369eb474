//! The named-entity model behind `PERSON`, `LOCATION` and `STREET_ADDRESS`: loaded once per
//! process (a reload that names the same folder reuses it) and shared by every policy.
//!
//! Without the model's files the three entities are found by rules alone, and [`Ner::status`]
//! says so for the start-up line; with `[ner] required = true` Seam refuses to start instead.
//! Files that are there but do not load are an error either way: a broken install must not pass
//! for a working one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use seam_config::NerConfig;
use seam_policy::{Tag, Tagger};

/// The loaded model as the policy engine sees it, with a cache of what it said: a conversation
/// sends its history again on every turn, and a system prompt on every request, so most texts
/// the model is asked about it has read before.
struct Model {
    model: seam_ner::Model,
    cache: Mutex<Cache>,
}

/// The most texts whose tags are remembered (twice this, across two generations). Keys are
/// SHA-256 digests of the texts; no text is kept.
const CACHED: usize = 8192;

/// A two-generation cache: a hit in the older generation moves up; when the newer one is full it
/// becomes the older one and the oldest generation goes. Bounded, O(1), close to LRU.
#[derive(Default)]
struct Cache {
    new: HashMap<[u8; 32], Vec<Tag>>,
    old: HashMap<[u8; 32], Vec<Tag>>,
}

impl Cache {
    fn get(&mut self, key: &[u8; 32]) -> Option<Vec<Tag>> {
        if let Some(v) = self.new.get(key) {
            return Some(v.clone());
        }
        let v = self.old.remove(key)?;
        self.put(*key, v.clone());
        Some(v)
    }

    fn put(&mut self, key: [u8; 32], tags: Vec<Tag>) {
        if self.new.len() >= CACHED {
            self.old = std::mem::take(&mut self.new);
        }
        self.new.insert(key, tags);
    }
}

fn digest(text: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Tagger for Model {
    fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>> {
        let keys: Vec<[u8; 32]> = texts.iter().map(|t| digest(t)).collect();
        let mut out: Vec<Option<Vec<Tag>>> = match self.cache.lock() {
            Ok(mut c) => keys.iter().map(|k| c.get(k)).collect(),
            Err(_) => vec![None; texts.len()],
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let tagged = self.model.tag(&batch);
            let mut cache = self.cache.lock().ok();
            for (&i, tags) in missing.iter().zip(tagged) {
                let tags: Vec<Tag> = tags
                    .into_iter()
                    .map(|t| Tag {
                        label: t.label,
                        start: t.start,
                        end: t.end,
                        score: t.score,
                    })
                    .collect();
                if let Some(c) = cache.as_mut() {
                    c.put(keys[i], tags.clone());
                }
                out[i] = Some(tags);
            }
        }
        out.into_iter().map(Option::unwrap_or_default).collect()
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
    let tagger: Arc<dyn Tagger> = Arc::new(Model {
        model,
        cache: Mutex::new(Cache::default()),
    });
    *slot = Some((dir.clone(), Arc::clone(&tagger)));
    Ok(Ner::Model { dir, tagger })
}

/// Whether `dir` holds a model (its weights file); what is there is checked by loading it.
fn installed(dir: &Path) -> bool {
    dir.join("model_q4.onnx").is_file()
}
