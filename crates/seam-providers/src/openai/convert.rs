//! OpenAI's wire format is Seam's own, so conversion is mostly identity: replace `model`, and read
//! stream events, which end with `data: [DONE]` and may carry an `{"error": …}` mid-stream.
//!
//! Servers that call themselves OpenAI-compatible often leave fields out (`seam-types` reads them
//! leniently); [`complete`], [`complete_embeddings`] and [`Lax`] fill what is missing — a fresh
//! id, `created` = now, the upstream model, `role: assistant`, a finish reason — so what Seam
//! sends its clients is always strictly OpenAI-shaped.

use seam_types::chat::{ChatChunk, ChatCompletion, ChatRequest, Role, StreamOptions};
use seam_types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};

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

/// Fills what a lax upstream left out of an answer; `model` is the upstream model Seam asked for.
pub fn complete(c: &mut ChatCompletion, model: &str) {
    if c.id.is_empty() {
        c.id = crate::fresh_id("chatcmpl-seam-");
    }
    if c.object.is_empty() {
        c.object = "chat.completion".into();
    }
    if c.created == 0 {
        c.created = crate::unix_now();
    }
    if c.model.is_empty() {
        model.clone_into(&mut c.model);
    }
    for choice in &mut c.choices {
        let message = &mut choice.message;
        if message.tool_calls.as_ref().is_some_and(Vec::is_empty) {
            message.tool_calls = None;
        }
        for call in message.tool_calls.iter_mut().flatten() {
            if call.id.is_empty() {
                call.id = crate::fresh_id("call_seam_");
            }
        }
        if choice.finish_reason.is_none() {
            let reason = match message.tool_calls {
                Some(_) => "tool_calls",
                None => "stop",
            };
            choice.finish_reason = Some(reason.into());
        }
    }
}

/// Fills what a lax upstream left out of an embeddings answer.
pub fn complete_embeddings(r: &mut EmbeddingsResponse, model: &str) {
    if r.object.is_empty() {
        r.object = "list".into();
    }
    if r.model.is_empty() {
        model.clone_into(&mut r.model);
    }
    for e in &mut r.data {
        if e.object.is_empty() {
            e.object = "embedding".into();
        }
    }
}

/// How many choices of one stream [`Lax`] tracks for roles and finishes; `n` above this is
/// passed through as sent.
const TRACKED_CHOICES: usize = 64;

/// Stream state for lax upstreams: a chunk without an id gets the stream's (the first one the
/// upstream sent, else a fresh one), one without `created` or a model the stream's; the first delta of each choice gets
/// `role: assistant`, and tool calls that start without an id get one. It also knows whether
/// every choice has finished, which is how a stream that ends without `[DONE]` is told from a
/// cut one.
pub struct Lax {
    id: Option<String>,
    created: u64,
    model: String,
    /// Per choice index: (seen, finished).
    choices: Vec<(bool, bool)>,
}

impl Lax {
    pub fn new(model: &str) -> Self {
        Lax {
            id: None,
            created: 0,
            model: model.to_owned(),
            choices: Vec::new(),
        }
    }

    pub fn fill(&mut self, c: &mut ChatChunk) {
        if c.id.is_empty() {
            let id = self
                .id
                .get_or_insert_with(|| crate::fresh_id("chatcmpl-seam-"));
            c.id.clone_from(id);
        } else if self.id.is_none() {
            self.id = Some(c.id.clone());
        }
        if c.object.is_empty() {
            c.object = "chat.completion.chunk".into();
        }
        if self.created == 0 {
            self.created = if c.created == 0 {
                crate::unix_now()
            } else {
                c.created
            };
        }
        if c.created == 0 {
            c.created = self.created;
        }
        if c.model.is_empty() {
            c.model.clone_from(&self.model);
        }
        for choice in &mut c.choices {
            for call in choice.delta.tool_calls.iter_mut().flatten() {
                let starts = call.function.as_ref().is_some_and(|f| f.name.is_some());
                if call.id.is_none() && starts {
                    call.id = Some(crate::fresh_id("call_seam_"));
                }
                if call.kind.is_none() && starts {
                    call.kind = Some("function".into());
                }
            }
            let Some(state) = usize::try_from(choice.index)
                .ok()
                .filter(|&i| i < TRACKED_CHOICES)
                .map(|i| {
                    if self.choices.len() <= i {
                        self.choices.resize(i + 1, (false, false));
                    }
                    &mut self.choices[i]
                })
            else {
                continue;
            };
            if !state.0 && choice.delta.role.is_none() {
                choice.delta.role = Some(Role::Assistant);
            }
            state.0 = true;
            state.1 |= choice.finish_reason.is_some();
        }
    }

    /// Whether the stream said all it had to: at least one choice, and every choice finished.
    pub fn finished(&self) -> bool {
        let mut seen = self.choices.iter().filter(|c| c.0).peekable();
        seen.peek().is_some() && seen.all(|c| c.1)
    }
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
    fn lax_answers_are_completed() {
        let mut c: ChatCompletion = serde_json::from_value(json!({
            "choices": [
                {"message": {"content": "hi"}},
                {"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}},
                {"message": {"content": "x", "tool_calls": []}, "finish_reason": "length"}
            ]
        }))
        .unwrap();
        complete(&mut c, "llama-3");
        let v = serde_json::to_value(&c).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-seam-"));
        assert_eq!(v["object"], "chat.completion");
        assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(v["model"], "llama-3");
        let choices = v["choices"].as_array().unwrap();
        for (i, choice) in choices.iter().enumerate() {
            assert_eq!(choice["index"], i);
            assert_eq!(choice["message"]["role"], "assistant");
        }
        assert_eq!(choices[0]["finish_reason"], "stop");
        assert_eq!(choices[1]["finish_reason"], "tool_calls");
        let call = &choices[1]["message"]["tool_calls"][0];
        assert!(call["id"].as_str().unwrap().starts_with("call_seam_"));
        assert_eq!(call["type"], "function");
        // What was sent is kept; an empty tool-call list is dropped.
        assert_eq!(choices[2]["finish_reason"], "length");
        assert!(choices[2]["message"].get("tool_calls").is_none());

        let mut sent: ChatCompletion = serde_json::from_value(json!({
            "id": "up-1", "created": 5, "model": "up",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"}]
        }))
        .unwrap();
        let before = sent.clone();
        complete(&mut sent, "other");
        assert_eq!(sent, before);
    }

    #[test]
    fn lax_embeddings_are_completed() {
        let mut r: EmbeddingsResponse =
            serde_json::from_value(json!({"data": [{"embedding": [1.0]}, {"embedding": [0.0]}]}))
                .unwrap();
        complete_embeddings(&mut r, "nomic");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "nomic");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][1]["object"], "embedding");
    }

    #[test]
    fn lax_streams_are_filled_consistently() {
        let mut lax = Lax::new("llama-3");
        let mut chunks: Vec<ChatChunk> = [
            r#"{"choices":[{"delta":{"content":"h"}}]}"#,
            r#"{"choices":[{"delta":{"content":"i"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        ]
        .iter()
        .map(|d| stream_event(&ev(d)).unwrap().unwrap())
        .collect();
        assert!(!lax.finished());
        for c in &mut chunks {
            lax.fill(c);
        }
        assert!(lax.finished());
        let id = &chunks[0].id;
        assert!(id.starts_with("chatcmpl-seam-"));
        for c in &chunks {
            assert_eq!(&c.id, id);
            assert_eq!(c.created, chunks[0].created);
            assert_eq!(c.model, "llama-3");
            assert_eq!(c.object, "chat.completion.chunk");
            assert_eq!(c.choices[0].index, 0);
        }
        // Only the first delta of a choice is given the role.
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        assert_eq!(chunks[1].choices[0].delta.role, None);
        let call = &chunks[2].choices[0].delta.tool_calls.as_ref().unwrap()[0];
        assert!(call.id.as_deref().unwrap().starts_with("call_seam_"));

        // An upstream id is kept, and given to chunks that lack one.
        let mut lax = Lax::new("m");
        let mut a = stream_event(&ev(
            r#"{"id":"up","choices":[{"index":1,"delta":{"content":"x"}}]}"#,
        ))
        .unwrap()
        .unwrap();
        let mut b = stream_event(&ev(r#"{"choices":[{"index":1,"delta":{"content":"y"}}]}"#))
            .unwrap()
            .unwrap();
        lax.fill(&mut a);
        lax.fill(&mut b);
        assert_eq!((a.id.as_str(), b.id.as_str()), ("up", "up"));
        // Choice 1 never finished: a body ending here is cut.
        assert!(!lax.finished());
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
