//! Azure OpenAI: OpenAI's chat completions and embeddings at
//! `/openai/deployments/{deployment}/…?api-version=…`. The deployment in the URL decides the model;
//! a `model` in the body is ignored, as Azure ignores it.

use serde_json::{Value, json};

use crate::faults::{ApiError, Reply};
use crate::openai;

pub(crate) fn chat(body: &Value, deployment: &str, seq: usize) -> Result<Reply, ApiError> {
    openai::chat(&with_model(body, deployment), seq)
}

pub(crate) fn embeddings(body: &Value, deployment: &str) -> Result<Reply, ApiError> {
    openai::embeddings(&with_model(body, deployment))
}

fn with_model(body: &Value, deployment: &str) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("model".into(), json!(deployment));
    }
    body
}
