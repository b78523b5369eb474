//! The built-in `local` provider: embeddings from all-MiniLM-L6-v2 run in process
//! (`seam_ner::embed`), no network, no key. The model is installed by `seam models fetch minilm`
//! (or found at the provider's `model_dir`) and loaded once, on the first request, on a
//! blocking thread; until it is there, requests fail with a 503 that says how to install it.
//! Chat is refused: this provider only embeds.

mod convert;

use std::path::PathBuf;
use std::sync::Arc;

use seam_config::ProviderConfig;
use seam_ner::embed::Embedder;
use seam_types::chat::{ChatCompletion, ChatRequest};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use tokio::sync::{OnceCell, Semaphore};

use crate::{ChunkStream, ProviderError};

/// The error `code` of a model that is not installed or cannot be loaded; the client sees its
/// message (see `ProviderError::to_api_error`).
pub const UNAVAILABLE: &str = "seam_local_model_unavailable";

/// What a request gets while the model is not installed.
pub const NOT_INSTALLED: &str =
    "the local embedding model is not installed; run `seam models fetch minilm`";

pub struct Local {
    /// Where the model is: the provider's `model_dir`, else the default install directory.
    dir: Option<PathBuf>,
    /// Loaded on first use; a failed load is not kept, so installing the model later works
    /// without a restart.
    model: OnceCell<Arc<Embedder>>,
    /// Embedding calls running at once: each is one thread and holds up to ~125 MB of
    /// activations, so more than the cores gains nothing and costs memory.
    running: Semaphore,
}

/// Calls embedding at once: the cores, at most 4.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn unavailable(message: String) -> ProviderError {
    ProviderError::Status {
        status: 503,
        kind: Some("api_error".into()),
        code: Some(UNAVAILABLE.into()),
        message,
        retry_after: None,
    }
}

impl Local {
    pub fn new(cfg: &ProviderConfig) -> Self {
        Local {
            dir: cfg
                .model_dir
                .clone()
                .or_else(|| seam_ner::fetch::WHEEL_MINILM.default_dir()),
            model: OnceCell::new(),
            running: Semaphore::new(parallelism()),
        }
    }

    /// The model, loading it on first use (about 90 MB read, a fraction of a second).
    pub async fn model(&self) -> Result<Arc<Embedder>, ProviderError> {
        self.model
            .get_or_try_init(|| async {
                let Some(dir) = self.dir.clone() else {
                    tracing::warn!("local embeddings: no model directory (set SEAM_MODELS_DIR, HOME or model_dir)");
                    return Err(unavailable(NOT_INSTALLED.into()));
                };
                if !dir.join("model.safetensors").is_file() {
                    tracing::warn!(dir = %dir.display(), "local embeddings: the model is not installed");
                    return Err(unavailable(NOT_INSTALLED.into()));
                }
                let loaded = tokio::task::spawn_blocking(move || Embedder::load(&dir))
                    .await
                    .map_err(|_| unavailable("the local embedding model's loader failed".into()))?;
                match loaded {
                    Ok(m) => {
                        tracing::info!(dims = m.dims(), "local embeddings: model loaded");
                        Ok(Arc::new(m))
                    }
                    Err(e) => Err(unavailable(format!(
                        "the local embedding model could not be loaded ({e}); reinstall it with `seam models fetch minilm`"
                    ))),
                }
            })
            .await
            .cloned()
    }

    pub async fn chat(
        &self,
        _model: &str,
        _req: &ChatRequest,
    ) -> Result<ChatCompletion, ProviderError> {
        Err(ProviderError::Unsupported(convert::NO_CHAT.into()))
    }

    pub async fn chat_stream(
        &self,
        _model: &str,
        _req: &ChatRequest,
    ) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Unsupported(convert::NO_CHAT.into()))
    }

    pub async fn embeddings(
        &self,
        model: &str,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let m = self.model().await?;
        convert::check_dimensions(req.dimensions, m.dims())?;
        let texts = req.input.texts();
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|_| unavailable("the local embedding model is shutting down".into()))?;
        let (vectors, tokens) = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let tokens: u64 = refs
                .iter()
                .map(|t| m.count_tokens(t).min(m.max_tokens() - 2) as u64)
                .sum();
            (m.embed(&refs), tokens)
        })
        .await
        .map_err(|_| unavailable("the local embedding task failed".into()))?;
        Ok(convert::response(
            model,
            vectors,
            tokens,
            req.encoding_format,
        ))
    }
}
