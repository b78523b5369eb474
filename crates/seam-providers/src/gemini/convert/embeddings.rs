//! `batchEmbedContents` ⇄ OpenAI embeddings.

use base64::Engine as _;
use seam_types::chat::Extra;
use seam_types::embeddings::{
    Embedding, EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse, EncodingFormat,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{MAX_EMBED_BATCH, Part, resource};
use crate::ProviderError;

#[derive(Serialize)]
struct BatchEmbedRequest {
    requests: Vec<EmbedRequest>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest {
    model: String,
    content: EmbedContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct EmbedContent {
    parts: [Part; 1],
}

#[derive(Debug, Deserialize)]
pub struct BatchEmbedResponse {
    #[serde(default)]
    embeddings: Vec<WireEmbedding>,
}

#[derive(Debug, Deserialize)]
struct WireEmbedding {
    #[serde(default)]
    values: Vec<f64>,
}

/// The `batchEmbedContents` body: one request per input, each naming the model again (Gemini
/// requires it to match the URL's).
pub fn embeddings_body(model: &str, req: &EmbeddingsRequest) -> Result<Vec<u8>, ProviderError> {
    let texts = match &req.input {
        EmbeddingInput::One(s) => vec![s.clone()],
        EmbeddingInput::Many(v) => v.clone(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {
            return Err(ProviderError::Unsupported(
                "Gemini embeds text only; send input as strings, not token ids".into(),
            ));
        }
    };
    if texts.len() > MAX_EMBED_BATCH {
        return Err(ProviderError::Unsupported(format!(
            "Gemini embeds at most {MAX_EMBED_BATCH} inputs per request; got {}",
            texts.len()
        )));
    }
    let model = resource(model);
    let body = BatchEmbedRequest {
        requests: texts
            .into_iter()
            .map(|text| EmbedRequest {
                model: model.clone(),
                content: EmbedContent {
                    parts: [Part::Text(text)],
                },
                output_dimensionality: req.dimensions,
            })
            .collect(),
    };
    serde_json::to_vec(&body).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

/// OpenAI's embeddings list, in the encoding the client asked for. Gemini reports no token
/// counts for embeddings, so `usage` is absent.
pub fn embeddings(
    resp: BatchEmbedResponse,
    model: &str,
    req: &EmbeddingsRequest,
) -> Result<EmbeddingsResponse, ProviderError> {
    let expected = match &req.input {
        EmbeddingInput::One(_) => 1,
        EmbeddingInput::Many(v) => v.len(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => 0,
    };
    if resp.embeddings.len() != expected {
        return Err(ProviderError::InvalidResponse(format!(
            "{} embeddings for {expected} inputs",
            resp.embeddings.len()
        )));
    }
    let base64 = req.encoding_format == Some(EncodingFormat::Base64);
    let data = resp
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = e
                    .values
                    .iter()
                    .flat_map(|x| (*x as f32).to_le_bytes())
                    .collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::Array(e.values.into_iter().map(Value::from).collect())
            };
            Embedding::new(u32::try_from(i).unwrap_or(u32::MAX), embedding)
        })
        .collect();
    Ok(EmbeddingsResponse {
        object: "list".into(),
        data,
        model: model.into(),
        usage: None,
        extra: Extra::new(),
    })
}
