//! Canned bodies: what the load generator sends and what the mock answers.
//!
//! They are fixed so every run moves the same bytes; sizes are close to a short real exchange
//! (a ~600-byte completion, 20 stream chunks).

use bytes::Bytes;

/// How many `chat.completion.chunk` events a canned stream carries before `[DONE]`.
pub const STREAM_CHUNKS: usize = 20;

/// The SSE line that ends every stream.
pub const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

const COMPLETION: &str = concat!(
    r#"{"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion","created":1700000000,"#,
    r#""model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,"message":"#,
    r#"{"role":"assistant","content":"Hello! This is a canned answer from the seam-bench mock "#,
    r#"upstream. It is long enough to look like a short real reply, so the gateway has to parse, "#,
    r#"carry and re-serialise a realistic amount of text on every request, which is what the "#,
    r#"benchmark wants to measure: the cost the gateway adds per request.","refusal":null},"#,
    r#""logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":64,"#,
    r#""total_tokens":80}}"#
);

/// The non-stream answer (`chat.completion`, ~600 bytes).
pub fn completion() -> Bytes {
    Bytes::from_static(COMPLETION.as_bytes())
}

/// The `i`-th SSE event of the canned stream (`0..STREAM_CHUNKS`), `data: {…}\n\n`.
///
/// The first chunk carries the role, the middle ones a token each, the last the finish reason
/// and usage, as OpenAI streams do.
pub fn stream_event(i: usize) -> Bytes {
    let delta = if i == 0 {
        r#"{"role":"assistant","content":""}"#.to_owned()
    } else if i + 1 == STREAM_CHUNKS {
        "{}".to_owned()
    } else {
        format!(r#"{{"content":"tok{i} "}}"#)
    };
    let finish = if i + 1 == STREAM_CHUNKS {
        r#""stop""#
    } else {
        "null"
    };
    Bytes::from(format!(
        concat!(
            r#"data: {{"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion.chunk","#,
            r#""created":1700000000,"model":"bench-model","system_fingerprint":"fp_bench","#,
            r#""choices":[{{"index":0,"delta":{},"logprobs":null,"finish_reason":{}}}]}}"#,
            "\n\n"
        ),
        delta, finish
    ))
}

/// Every event of the canned stream, `[DONE]` included, built once at start.
pub fn stream_events() -> Vec<Bytes> {
    let mut events: Vec<Bytes> = (0..STREAM_CHUNKS).map(stream_event).collect();
    events.push(Bytes::from_static(DONE_EVENT));
    events
}

/// The request the load generator sends: a short chat turn, streamed or not.
pub fn request(model: &str, stream: bool) -> Bytes {
    let body = serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Say hello in one short sentence."}
        ],
        "max_tokens": 64,
        "stream": stream,
    });
    Bytes::from(body.to_string())
}

/// Whether a request body asks for a stream (`"stream": true`).
pub fn wants_stream(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_is_json_of_about_600_bytes() {
        let body = completion();
        assert!((550..=650).contains(&body.len()), "{} bytes", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn stream_is_20_json_chunks_then_done() {
        let events = stream_events();
        assert_eq!(events.len(), STREAM_CHUNKS + 1);
        for (i, event) in events[..STREAM_CHUNKS].iter().enumerate() {
            let text = std::str::from_utf8(event).unwrap();
            let json = text
                .strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk", "chunk {i}");
        }
        assert_eq!(events[STREAM_CHUNKS].as_ref(), DONE_EVENT);
    }

    #[test]
    fn stream_flag_is_read_from_the_body() {
        assert!(wants_stream(&request("bench", true)));
        assert!(!wants_stream(&request("bench", false)));
        assert!(!wants_stream(br#"{"model":"x"}"#));
        assert!(!wants_stream(b"not json"));
    }
}
