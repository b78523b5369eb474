//! The local provider's answers in OpenAI's embeddings shape (pure functions).

use base64::Engine;
use seam_types::chat::Extra;
use seam_types::embeddings::{Embedding, EmbeddingsResponse, EmbeddingsUsage, EncodingFormat};
use serde_json::{Value, json};

use crate::ProviderError;

pub(super) const NO_CHAT: &str =
    "the local provider only serves embeddings (/v1/embeddings); route chat to another provider";

/// `dimensions` may only restate the model's own size: MiniLM's vectors cannot be shortened.
pub(super) fn check_dimensions(asked: Option<u32>, dims: usize) -> Result<(), ProviderError> {
    match asked {
        Some(d) if d as usize != dims => Err(ProviderError::Unsupported(format!(
            "dimensions: the local model's vectors have {dims} dimensions"
        ))),
        _ => Ok(()),
    }
}

/// `data[i].embedding` as floats, or as base64 of little-endian f32s when asked.
pub(super) fn response(
    model: &str,
    vectors: Vec<Vec<f32>>,
    prompt_tokens: u64,
    format: Option<EncodingFormat>,
) -> EmbeddingsResponse {
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let value = match format {
                Some(EncodingFormat::Base64) => {
                    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                _ => json!(v),
            };
            Embedding::new(u32::try_from(i).unwrap_or(u32::MAX), value)
        })
        .collect();
    EmbeddingsResponse {
        object: "list".into(),
        data,
        model: model.into(),
        usage: Some(EmbeddingsUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        }),
        extra: Extra::new(),
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

    #[test]
    fn answers_are_openai_shaped_as_floats_or_base64() {
        let r = response("minilm", vec![vec![0.5, -1.0], vec![0.0, 2.0]], 7, None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "minilm");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][1]["object"], "embedding");
        assert_eq!(v["data"][0]["embedding"], json!([0.5, -1.0]));
        assert_eq!(v["usage"]["prompt_tokens"], 7);
        assert_eq!(v["usage"]["total_tokens"], 7);

        let r = response("m", vec![vec![0.5, -1.0]], 1, Some(EncodingFormat::Base64));
        let b = base64::engine::general_purpose::STANDARD
            .decode(r.data[0].embedding.as_str().unwrap())
            .unwrap();
        let floats: Vec<f32> = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(floats, vec![0.5, -1.0]);
    }

    #[test]
    fn only_the_models_own_dimensions_are_accepted() {
        assert!(check_dimensions(None, 384).is_ok());
        assert!(check_dimensions(Some(384), 384).is_ok());
        let e = check_dimensions(Some(256), 384).unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    }
}
