//! What Seam knows about a request's tokens without asking the upstream: a cheap size estimate
//! that reported usage is checked against ([`Expected`]), and a tokenizer count for the rare
//! stream that reports no usage at all ([`estimate_stream`]).
//!
//! [`Expected`] runs on every answered request, so it only measures bytes (one token per four
//! bytes, [`seam_policy::context::estimate`]'s rule, plus framing per message): no tokenizer
//! tables are loaded on the request path. Byte-level BPE tokenizers never produce more tokens
//! than bytes, which is what makes "4 × the estimate" a safe ceiling for text.

use seam_policy::context::{Counter, PER_MESSAGE};
use seam_types::chat::{ChatRequest, Content, Message, Usage};
use seam_types::embeddings::{EmbeddingInput, EmbeddingsRequest};

/// What a request lets Seam expect of the usage an upstream reports for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Prompt tokens, estimated from the request's text (see the module docs).
    pub prompt_estimate: u64,
    /// Parts the estimate cannot see (images, audio, files) were sent: their tokens are unknown.
    pub non_text: bool,
    /// Tools were offered: providers add prompt tokens of their own for them (Anthropic's tool-use
    /// system prompt is some hundreds).
    pub tools: bool,
    /// The inputs may be truncated by the upstream (embeddings), so fewer prompt tokens than the
    /// text would need are no sign of trouble.
    pub may_truncate: bool,
    /// The most completion tokens the request allows: `max_completion_tokens` (or `max_tokens`)
    /// × `n`, when the client set a limit.
    pub max_completion: Option<u64>,
}

impl Expected {
    /// For a chat request as sent upstream (after the policy rewrote it, if it did).
    pub fn chat(req: &ChatRequest) -> Expected {
        let mut bytes = 0usize;
        let mut non_text = false;
        for m in &req.messages {
            let (b, other) = message_bytes(m);
            bytes += b;
            non_text |= other;
        }
        let mut prompt_estimate =
            (bytes as u64).div_ceil(4) + u64::from(PER_MESSAGE) * req.messages.len() as u64;
        let tools = req.tools.as_ref().is_some_and(|t| !t.is_empty());
        // Tool definitions and a response schema are sent as JSON and counted as text.
        for schema in [
            req.tools.as_ref().and_then(|t| serde_json::to_vec(t).ok()),
            req.response_format
                .as_ref()
                .and_then(|f| serde_json::to_vec(f).ok()),
        ]
        .into_iter()
        .flatten()
        {
            prompt_estimate += (schema.len() as u64).div_ceil(4);
        }
        let limit = match (req.max_completion_tokens, req.max_tokens) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // Predicted outputs bill rejected prediction tokens as completion tokens, beyond the limit.
        let max_completion = limit
            .filter(|_| !req.extra.contains_key("prediction"))
            .map(|l| u64::from(l) * u64::from(req.n.unwrap_or(1).max(1)));
        Expected {
            prompt_estimate,
            non_text,
            tools,
            may_truncate: false,
            max_completion,
        }
    }

    pub fn embeddings(req: &EmbeddingsRequest) -> Expected {
        let prompt_estimate = match &req.input {
            EmbeddingInput::One(s) => (s.len() as u64).div_ceil(4),
            EmbeddingInput::Many(v) => v.iter().map(|s| (s.len() as u64).div_ceil(4)).sum(),
            EmbeddingInput::Tokens(t) => t.len() as u64,
            EmbeddingInput::TokenLists(v) => v.iter().map(|t| t.len() as u64).sum(),
        };
        Expected {
            prompt_estimate,
            may_truncate: true,
            max_completion: Some(0),
            ..Expected::default()
        }
    }
}

/// The bytes of text in a message (content, name, tool calls), and whether it has other parts.
pub(crate) fn message_bytes(m: &Message) -> (usize, bool) {
    let mut bytes = m.name.as_ref().map_or(0, String::len);
    let mut non_text = false;
    match &m.content {
        None => {}
        Some(Content::Text(t)) => bytes += t.len(),
        Some(Content::Parts(parts)) => {
            for p in parts {
                match &p.text {
                    Some(t) => bytes += t.len(),
                    None => non_text = true,
                }
            }
        }
    }
    for call in m.tool_calls.iter().flatten() {
        bytes += call.function.name.len() + call.function.arguments.len();
    }
    (bytes, non_text)
}

/// Usage for a stream whose upstream reported none: the prompt counted with the tokenizer of
/// `model` (OpenAI's own for its models, else the byte estimate), the completion from the text
/// that was streamed. Loads tokenizer tables on first use: call it off the async runtime.
pub fn estimate_stream(req: &ChatRequest, model: &str, completion: &str) -> Usage {
    let counter = Counter::for_model(model);
    let prompt: u64 = req
        .messages
        .iter()
        .map(|m| {
            let mut tokens = PER_MESSAGE + counter.count(&m.text());
            for call in m.tool_calls.iter().flatten() {
                tokens +=
                    counter.count(&call.function.name) + counter.count(&call.function.arguments);
            }
            u64::from(tokens)
        })
        .sum::<u64>()
        + req
            .tools
            .as_ref()
            .and_then(|t| serde_json::to_string(t).ok())
            .map_or(0, |t| u64::from(counter.count(&t)));
    let completion = u64::from(counter.count(completion));
    Usage::new(prompt, completion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(v: serde_json::Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn chat_expectations() {
        let plain = chat(json!({"model": "m", "messages": [
            {"role": "system", "content": "12345678"},
            {"role": "user", "content": [{"type": "text", "text": "1234"}]}
        ]}));
        assert_eq!(
            Expected::chat(&plain),
            Expected {
                prompt_estimate: 2 + 1 + 2 * 4,
                ..Expected::default()
            }
        );
        let limited = chat(json!({"model": "m", "max_tokens": 100, "n": 3,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}],
            "tools": [{"type": "function", "function": {"name": "f"}}]}));
        let e = Expected::chat(&limited);
        assert_eq!(e.max_completion, Some(300));
        assert!(e.non_text && e.tools && !e.may_truncate);
        // The image's bytes are not text: only "look", framing and the tool's JSON count.
        assert!(e.prompt_estimate < 30, "{e:?}");
        let both = chat(
            json!({"model": "m", "max_tokens": 10, "max_completion_tokens": 50,
            "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(Expected::chat(&both).max_completion, Some(50));
        let predicted = chat(json!({"model": "m", "max_tokens": 10,
            "prediction": {"type": "content", "content": "x"},
            "messages": [{"role": "user", "content": "x"}]}));
        assert_eq!(Expected::chat(&predicted).max_completion, None);
    }

    #[test]
    fn embeddings_count_text_by_bytes_and_token_ids_exactly() {
        let e = |v| Expected::embeddings(&serde_json::from_value(v).unwrap());
        assert_eq!(
            e(json!({"model": "m", "input": ["12345678", "1"]})).prompt_estimate,
            3
        );
        let ids = e(json!({"model": "m", "input": [[1, 2, 3], [4]]}));
        assert_eq!(ids.prompt_estimate, 4);
        assert!(ids.may_truncate);
        assert_eq!(ids.max_completion, Some(0));
    }

    #[test]
    fn stream_estimates_use_openais_tokenizer_for_its_models() {
        let req = chat(json!({"model": "m", "messages": [
            {"role": "user", "content": "Hello there, how are you today?"}
        ]}));
        let real = estimate_stream(&req, "gpt-4o-mini", "I am fine, thank you.");
        // o200k_base: 8 tokens of prompt text and 7 of answer.
        assert_eq!((real.prompt_tokens, real.completion_tokens), (8 + 4, 7));
        let rough = estimate_stream(&req, "some-local-model", "I am fine, thank you.");
        assert_eq!((rough.prompt_tokens, rough.completion_tokens), (8 + 4, 6));
    }
}
