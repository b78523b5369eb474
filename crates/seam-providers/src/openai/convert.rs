//! OpenAI's wire format is Seam's own, so conversion is mostly identity: replace `model`, and read
//! stream events, which end with `data: [DONE]` and may carry an `{"error": …}` mid-stream.

use seam_types::chat::{ChatChunk, ChatRequest, StreamOptions};
use seam_types::embeddings::EmbeddingsRequest;

use crate::ProviderError;
use crate::http::{json_error, parse_error_body};
use crate::sse::SseEvent;

/// The request body for `model`: the client's body with only `model` replaced and, for a stream,
/// `stream: true` and `stream_options.include_usage: true` set, so every stream reports what it
/// cost (the edge forwards the usage chunk only to clients that asked for it).
pub fn chat_body(model: &str, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ProviderError> {
    let mut req = req.clone();
    model.clone_into(&mut req.model);
    if stream {
        req.stream = Some(true);
        req.stream_options
            .get_or_insert_with(|| StreamOptions {
                include_usage: None,
                extra: Default::default(),
            })
            .include_usage = Some(true);
    }
    serde_json::to_vec(&req).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

pub fn embeddings_body(model: &str, req: &EmbeddingsRequest) -> Result<Vec<u8>, ProviderError> {
    let mut req = req.clone();
    model.clone_into(&mut req.model);
    serde_json::to_vec(&req).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

/// One event: `Ok(Some(chunk))`, `Ok(None)` for `[DONE]`, or the upstream's in-stream error.
pub fn stream_event(ev: &SseEvent) -> Result<Option<ChatChunk>, ProviderError> {
    let data = ev.data.trim();
    if data == "[DONE]" {
        return Ok(None);
    }
    if ev.event.as_deref() == Some("error") || data.starts_with("{\"error\"") {
        // Some servers (vLLM, LiteLLM) report failures in-band with a 200 status.
        return Err(match parse_error_body(502, None, data.as_bytes()) {
            ProviderError::Status { message, .. } => {
                ProviderError::StreamCut(format!("upstream error event: {message}"))
            }
            other => other,
        });
    }
    serde_json::from_str::<ChatChunk>(data)
        .map(Some)
        .map_err(|e| ProviderError::InvalidResponse(json_error(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }

    #[test]
    fn body_replaces_only_model() {
        let client = json!({
            "model": "chat",
            "messages": [{"role": "user", "content": "hi"}],
            "seed": 1,
            "response_format": {"type": "json_object"},
            "vendor_extension": {"nested": [1, 2]}
        });
        let req: ChatRequest = serde_json::from_value(client.clone()).unwrap();
        let sent: Value =
            serde_json::from_slice(&chat_body("gpt-4o-mini", &req, false).unwrap()).unwrap();
        let mut expect = client;
        expect["model"] = json!("gpt-4o-mini");
        assert_eq!(sent, expect);
    }

    #[test]
    fn streams_always_ask_for_usage_and_keep_other_stream_options() {
        for (client, want) in [
            (json!(null), json!({"include_usage": true})),
            (
                json!({"include_usage": false}),
                json!({"include_usage": true}),
            ),
            (
                json!({"include_usage": true, "future_flag": 1}),
                json!({"include_usage": true, "future_flag": 1}),
            ),
            (
                json!({"future_flag": 1}),
                json!({"include_usage": true, "future_flag": 1}),
            ),
        ] {
            let mut body =
                json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
            if !client.is_null() {
                body["stream_options"] = client.clone();
            }
            let req: ChatRequest = serde_json::from_value(body).unwrap();
            let sent: Value = serde_json::from_slice(&chat_body("m", &req, true).unwrap()).unwrap();
            assert_eq!(sent["stream_options"], want);
            assert_eq!(sent["stream"], true);
            let unary: Value =
                serde_json::from_slice(&chat_body("m", &req, false).unwrap()).unwrap();
            // A unary request goes as the client sent it.
            assert_eq!(
                unary.get("stream_options"),
                (!client.is_null()).then_some(&client)
            );
        }
    }

    #[test]
    fn stream_events() {
        assert_eq!(stream_event(&ev("[DONE]")).unwrap(), None);
        let chunk = stream_event(&ev(
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("x"));
        assert!(matches!(
            stream_event(&ev(r#"{"error":{"message":"overloaded"}}"#)),
            Err(ProviderError::StreamCut(m)) if m.contains("overloaded")
        ));
        assert!(matches!(
            stream_event(&ev("{\"id\":")),
            Err(ProviderError::InvalidResponse(_))
        ));
    }
}
