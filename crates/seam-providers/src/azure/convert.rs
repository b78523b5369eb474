//! Azure OpenAI speaks OpenAI's wire format; what differs is addressing. The deployment (the
//! `model` Seam resolved) is a path segment, the API version a query parameter, and the key goes
//! in an `api-key` header. Bodies and answers are OpenAI's, so they reuse `openai::convert`.

use crate::http::encode_segment;

pub use crate::openai::convert::{chat_body, embeddings_body};

/// An operation under a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    ChatCompletions,
    Embeddings,
}

/// `/openai/deployments/{deployment}/{operation}`, the deployment encoded as one segment.
pub fn path(deployment: &str, op: Operation) -> String {
    let op = match op {
        Operation::ChatCompletions => "chat/completions",
        Operation::Embeddings => "embeddings",
    };
    format!("/openai/deployments/{}/{op}", encode_segment(deployment))
}

/// `api-version=…`, the query every Azure OpenAI request carries.
pub fn query(api_version: &str) -> String {
    format!("api-version={}", encode_segment(api_version))
}

/// Azure streams are OpenAI's: chunks, then `data: [DONE]`, decoded by OpenAI's decoder. Azure
/// may open with a chunk whose `choices` is empty (prompt filter results); it passes through
/// like any other.
pub fn decoder(deployment: &str) -> crate::openai::Decoder {
    crate::openai::Decoder(crate::openai::convert::Lax::new(deployment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use crate::http::StreamDecoder;
    use crate::sse::SseEvent;
    use seam_types::chat::ChatRequest;
    use serde_json::{Value, json};

    #[test]
    fn paths_and_query() {
        let cases = [
            (
                "gpt-4o-prod",
                Operation::ChatCompletions,
                "/openai/deployments/gpt-4o-prod/chat/completions",
            ),
            (
                "emb.small_v3",
                Operation::Embeddings,
                "/openai/deployments/emb.small_v3/embeddings",
            ),
            // A deployment is one segment, whatever the client managed to put in it.
            (
                "a/b?c",
                Operation::ChatCompletions,
                "/openai/deployments/a%2Fb%3Fc/chat/completions",
            ),
        ];
        for (deployment, op, expect) in cases {
            assert_eq!(path(deployment, op), expect, "{deployment}");
        }
        assert_eq!(query("2024-10-21"), "api-version=2024-10-21");
        assert_eq!(
            query("2025-01-01-preview"),
            "api-version=2025-01-01-preview"
        );
    }

    #[test]
    fn body_is_openai_with_the_deployment_as_model() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "chat", "messages": [{"role": "user", "content": "hi"}],
            "stream_options": {"include_usage": true}, "seed": 3
        }))
        .unwrap();
        let sent: Value = serde_json::from_slice(&chat_body("prod", &req, true).unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({
                "model": "prod", "messages": [{"role": "user", "content": "hi"}], "stream": true,
                "stream_options": {"include_usage": true}, "seed": 3
            })
        );
    }

    #[test]
    fn stream_ends_at_done_and_passes_filter_chunks() {
        let ev = |data: &str| SseEvent {
            event: None,
            data: data.into(),
        };
        let mut decoder = decoder("prod");
        let mut out = VecDeque::new();
        let filter = r#"{"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#;
        assert!(!decoder.event(ev(filter), &mut out).unwrap());
        assert_eq!(out.len(), 1);
        assert!(out[0].choices.is_empty());
        assert!(out[0].extra.contains_key("prompt_filter_results"));
        assert!(decoder.event(ev("[DONE]"), &mut out).unwrap());
    }
}
