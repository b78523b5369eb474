//! `canary-fields…` on OpenAI routes: an answer that puts the last user text (as the mock received
//! it) in every string field an OpenAI-compatible server may send — content, `refusal`,
//! `reasoning_content`, `reasoning`, annotations, the audio transcript, `logprobs` and unknown
//! fields at every level — and a stream that splits each streamed text field across two chunks
//! and repeats the unknown fields whole in each. Tests plant a value in a request and check that
//! no field of the answer gives it back unscanned.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::faults::{Sse, data_event};
use crate::openai::CREATED;

/// The text fields a stream splits, as paths into the delta.
const STREAMED: &[&[&str]] = &[
    &["content"],
    &["reasoning_content"],
    &["reasoning"],
    &["refusal"],
    &["audio", "transcript"],
];

/// The reply for a `canary-fields…` model, with `v` the last user text.
pub(crate) fn reply(v: &str, model: &str, seq: usize, stream: bool) -> crate::faults::Reply {
    let id = format!("chatcmpl-mock-{seq}");
    if !stream {
        return crate::faults::Reply::Json(json!({
            "id": id, "object": "chat.completion", "created": CREATED, "model": model,
            "x_top": v,
            "choices": [{
                "index": 0, "finish_reason": "stop", "x_choice": v,
                "logprobs": {"content": [{"token": v, "logprob": -0.1, "bytes": null, "top_logprobs": []}]},
                "message": {
                    "role": "assistant", "content": v, "refusal": v,
                    "reasoning_content": v, "reasoning": v, "x_message": v,
                    "annotations": [{"type": "url_citation", "url_citation": {
                        "title": v, "url": "https://example.org/cite", "start_index": 0, "end_index": 1}}],
                    "audio": {"id": "audio_mock", "data": "", "expires_at": 0, "transcript": v}
                }
            }],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "x_usage": v}
        }));
    }
    let event = |choice: Value| {
        data_event(&json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "x_chunk": v, "choices": [choice]
        }))
    };
    let choice = |delta: Value| json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null, "x_choice": v});
    let cut = (0..=v.len() / 2)
        .rev()
        .find(|i| v.is_char_boundary(*i))
        .unwrap_or(0);
    let mut content = Vec::new();
    for path in STREAMED {
        for piece in [&v[..cut], &v[cut..]] {
            let mut delta = json!({"x_delta": v});
            match path {
                [field] => delta[*field] = json!(piece),
                [outer, inner] => delta[*outer] = json!({ *inner: piece }),
                _ => {}
            }
            content.push(event(choice(delta)));
        }
    }
    crate::faults::Reply::Stream(Sse {
        prelude: vec![event(choice(
            json!({"role": "assistant", "content": "", "x_delta": v}),
        ))],
        content,
        epilogue: vec![
            event(json!({"index": 0, "delta": {}, "finish_reason": "stop", "x_choice": v})),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ],
        error: data_event(
            &json!({"error": {"message": "mock overloaded", "type": "server_error"}}),
        ),
    })
}
