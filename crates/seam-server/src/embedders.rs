//! Embedders by the name config gives them (`embedder = …` on a semantic cache rule):
//! `local-minilm`, the built-in model handed over at start-up, or an alias in `[models]`, asked
//! through this process's gateway under the asking request's placement and key policy, so the
//! alias's own policy and routing apply and the text goes nowhere the request could not.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use seam_config::Placement;
use seam_gateway::Gateway;
use seam_retrieval::{Embed, EmbedError, EmbedFuture};
use seam_types::embeddings::{EmbeddingInput, EmbeddingsRequest, EncodingFormat};
use serde_json::Value;

/// Resolves an embedder's name for one request. Kept across reloads: aliases are looked up in
/// the gateway the request runs with; the built-in model is loaded once, on first use.
pub struct Embedders {
    /// The built-in model, or why it could not be loaded (kept: a missing model is not looked
    /// for again on every request; installing it takes a restart).
    local: tokio::sync::OnceCell<Result<Arc<dyn Embed>, String>>,
    /// Where the built-in model is (`[retrieval] model_dir`); `None`: where `seam models fetch
    /// minilm` puts it.
    model_dir: Option<PathBuf>,
    /// Whether the missing local model was reported (once per process).
    warned: AtomicBool,
}

impl Embedders {
    /// With the built-in model given (tests), or known to be missing (`None`).
    pub fn new(local: Option<Arc<dyn Embed>>) -> Self {
        let local = local.ok_or_else(|| {
            "the local embedding model is not installed (seam models fetch minilm)".to_owned()
        });
        Embedders {
            local: tokio::sync::OnceCell::new_with(Some(local)),
            model_dir: None,
            warned: AtomicBool::new(false),
        }
    }

    /// Loading the built-in model from `model_dir` (or its default place) when first asked for.
    pub fn lazy(model_dir: Option<PathBuf>) -> Self {
        Embedders {
            local: tokio::sync::OnceCell::new(),
            model_dir,
            warned: AtomicBool::new(false),
        }
    }

    /// The built-in model, loaded (on a blocking thread) the first time; or why it cannot be.
    pub async fn local(&self) -> Result<Arc<dyn Embed>, String> {
        let dir = self.model_dir.clone();
        let loaded = self
            .local
            .get_or_init(|| async move {
                let dir = dir.or_else(|| seam_ner::fetch::WHEEL_MINILM.default_dir()).ok_or_else(
                    || "no models directory: set SEAM_MODELS_DIR or [retrieval] model_dir".to_owned(),
                )?;
                if !seam_ner::fetch::WHEEL_MINILM.is_installed(&dir) {
                    return Err(format!(
                        "the local embedding model is not installed in {} (seam models fetch minilm)",
                        dir.display()
                    ));
                }
                tokio::task::spawn_blocking(move || {
                    seam_retrieval::local::LocalEmbed::load(&dir)
                        .map(|e| Arc::new(e) as Arc<dyn Embed>)
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("loading the local embedding model failed: {e}")))
            })
            .await;
        loaded.clone()
    }

    /// The embedder `name` stands for, for a request held to `placement` under `key_policy`;
    /// or why there is none (the built-in model is not installed).
    pub async fn resolve(
        &self,
        name: &str,
        gateway: &Arc<Gateway>,
        placement: &Placement,
        key_policy: Option<&str>,
    ) -> Result<Arc<dyn Embed>, String> {
        if name != seam_config::retrieval::LOCAL_EMBEDDER {
            return Ok(Arc::new(ViaGateway {
                gateway: Arc::clone(gateway),
                alias: name.to_owned(),
                placement: placement.clone(),
                key_policy: key_policy.map(str::to_owned),
            }));
        }
        let local = self.local().await;
        if let Err(why) = &local
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(embedder = name, reason = %why, "the built-in embedder is unavailable; semantic lookups skip it and collections on it answer 503");
        }
        local
    }
}

/// An embeddings alias, asked through the gateway.
pub struct ViaGateway {
    gateway: Arc<Gateway>,
    alias: String,
    placement: Placement,
    key_policy: Option<String>,
}

impl Embed for ViaGateway {
    fn name(&self) -> &str {
        &self.alias
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move {
            let req = EmbeddingsRequest {
                model: self.alias.clone(),
                input: EmbeddingInput::Many(texts.to_vec()),
                encoding_format: Some(EncodingFormat::Float),
                dimensions: None,
                user: None,
                extra: Default::default(),
            };
            let out = self
                .gateway
                .embeddings(&req, &self.placement, self.key_policy.as_deref())
                .await
                .map_err(|f| {
                    EmbedError(format!("the embeddings alias failed: {}", f.error.code))
                })?;
            let mut data = out.value.data;
            data.sort_by_key(|d| d.index);
            if data.len() != texts.len() {
                return Err(EmbedError(format!(
                    "the embeddings alias answered {} vectors for {} texts",
                    data.len(),
                    texts.len()
                )));
            }
            data.iter()
                .map(|d| {
                    vector(&d.embedding)
                        .ok_or_else(|| EmbedError("the embeddings alias sent no vector".into()))
                })
                .collect()
        })
    }
}

/// A vector as an embeddings answer carries it: a float array, or base64 of little-endian f32s.
fn vector(v: &Value) -> Option<Vec<f32>> {
    match v {
        Value::Array(xs) => xs.iter().map(|x| x.as_f64().map(|f| f as f32)).collect(),
        Value::String(s) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
            if bytes.len() % 4 != 0 {
                return None;
            }
            Some(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    #[test]
    fn vectors_are_read_as_floats_or_base64() {
        assert_eq!(vector(&json!([0.5, -1])), Some(vec![0.5, -1.0]));
        let b64 = base64::engine::general_purpose::STANDARD.encode(
            [0.25f32, 2.0]
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        assert_eq!(vector(&json!(b64)), Some(vec![0.25, 2.0]));
        assert_eq!(vector(&json!("AAA")), None);
        assert_eq!(vector(&json!(["x"])), None);
        assert_eq!(vector(&json!(null)), None);
    }
}
