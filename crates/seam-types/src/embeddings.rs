//! Embeddings, shaped like OpenAI's `/v1/embeddings`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chat::Extra;
use crate::lenient::{self, Indexed};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    /// `float` (the default) or `base64` (little-endian f32s); the `openai` SDK asks for base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl EmbeddingsRequest {
    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        if self.model.is_empty() {
            return Err(("model".into(), "must not be empty"));
        }
        if self.input.is_empty() {
            return Err(("input".into(), "must not be empty"));
        }
        if self.dimensions == Some(0) {
            return Err(("dimensions".into(), "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    Float,
    Base64,
}

/// A string, a list of strings, a list of token ids, or a list of token-id lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    pub fn is_empty(&self) -> bool {
        match self {
            EmbeddingInput::One(s) => s.is_empty(),
            EmbeddingInput::Many(v) => v.is_empty(),
            EmbeddingInput::Tokens(v) => v.is_empty(),
            EmbeddingInput::TokenLists(v) => v.is_empty(),
        }
    }

    /// Each input as text; token ids are rendered as space-separated numbers.
    pub fn texts(&self) -> Vec<String> {
        let tokens = |t: &[u32]| t.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        match self {
            EmbeddingInput::One(s) => vec![s.clone()],
            EmbeddingInput::Many(v) => v.clone(),
            EmbeddingInput::Tokens(t) => vec![tokens(t)],
            EmbeddingInput::TokenLists(v) => v.iter().map(|t| tokens(t)).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// An answer, read leniently: `object`, `model` and each item's `object` and `index` may be
/// absent (the provider adapter fills `model`; an index defaults to the item's position).
pub struct EmbeddingsResponse {
    #[serde(default = "list_object", deserialize_with = "lenient::or_default")]
    pub object: String,
    #[serde(deserialize_with = "lenient::by_position")]
    pub data: Vec<Embedding>,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<EmbeddingsUsage>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn list_object() -> String {
    "list".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    #[serde(default = "embedding_object", deserialize_with = "lenient::or_default")]
    pub object: String,
    #[serde(default = "lenient::unset", deserialize_with = "lenient::index")]
    pub index: u32,
    /// A float array, or a base64 string when `encoding_format` was `base64`.
    pub embedding: Value,
}

impl Indexed for Embedding {
    fn index_mut(&mut self) -> &mut u32 {
        &mut self.index
    }
}

fn embedding_object() -> String {
    "embedding".into()
}

impl Embedding {
    pub fn new(index: u32, embedding: Value) -> Self {
        Embedding {
            object: embedding_object(),
            index,
            embedding,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsUsage {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub total_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lax_answers_are_read() {
        let r: EmbeddingsResponse = serde_json::from_value(
            json!({"data": [{"embedding": [0.5]}, {"embedding": [1.0], "index": null}]}),
        )
        .unwrap();
        assert_eq!((r.object.as_str(), r.model.as_str()), ("list", ""));
        assert_eq!((r.data[0].index, r.data[1].index), (0, 1));
        assert_eq!(r.data[1].object, "embedding");
        assert!(serde_json::from_value::<EmbeddingsResponse>(json!({"object": "list"})).is_err());
    }

    #[test]
    fn input_forms() {
        let cases = [
            (json!("a b"), vec!["a b"]),
            (json!(["x", "y"]), vec!["x", "y"]),
            (json!([1, 2]), vec!["1 2"]),
            (json!([[1], [2, 3]]), vec!["1", "2 3"]),
        ];
        for (input, expect) in cases {
            let i: EmbeddingInput = serde_json::from_value(input).unwrap();
            assert_eq!(i.texts(), expect);
        }
    }
}
