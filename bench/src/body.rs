//! Canned bodies: what the load generator sends and what the mock answers.
//!
//! They are fixed so every run moves the same bytes; sizes are close to a short real exchange
//! (a ~600-byte completion, 20 stream chunks). The policy scenario sends a ~1 KB prompt with
//! personal data in it instead of the short one ([`Prompt::Pii`]).

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

/// What the user turn of a request says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prompt {
    /// "Say hello in one short sentence."
    #[default]
    Short,
    /// ~1 KB of support-ticket text (prose, a log excerpt, amounts, a ticket number) with one
    /// email address, phone number, card number and IBAN in it.
    Pii,
}

/// The user turn of [`Prompt::Pii`]. Its personal data are well-known test values: a Luhn-valid
/// Visa test number, the IBAN from the ISO 13616 examples, a reserved domain.
pub const PII_PROMPT: &str = concat!(
    "Hi team, I'm following up on ticket 48213 about a duplicate charge on my account. Last ",
    "Tuesday I ordered two replacement filters and the checkout page timed out twice, so I tried ",
    "again from my phone. This morning my bank statement shows three charges of 59.90 EUR instead ",
    "of one. The card I used is 4539 1488 0343 6467 and the refund should go back to it or, if ",
    "that is easier for your finance people, to my current account DE89 3704 0044 0532 0130 00. ",
    "You can reach me at maria.keller@example.com or on +44 20 7946 0958 during office hours; ",
    "please don't call after 6 pm. For your engineers, the browser console showed this when it ",
    "failed:\n\n",
    "    POST /api/checkout 504 (Gateway Timeout) after 30012 ms\n",
    "    retrying in 2s (attempt 2 of 3)\n\n",
    "The confirmation email also quoted a delivery window of 5-7 working days, while the product ",
    "page promised 2-3. Could you please (1) cancel the two extra orders, (2) refund the extra ",
    "charges, and (3) confirm which delivery estimate is right? Summarise the situation in three ",
    "bullet points and draft the short, polite reply I should expect from support."
);

/// The personal data in [`PII_PROMPT`], by the entity name seam's detectors give them.
pub const PII_ENTITIES: [&str; 4] = ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "PHONE_NUMBER"];

/// The request the load generator sends: a chat turn, streamed or not.
pub fn request(model: &str, stream: bool, prompt: Prompt) -> Bytes {
    let user = match prompt {
        Prompt::Short => "Say hello in one short sentence.",
        Prompt::Pii => PII_PROMPT,
    };
    let body = serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": user}
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
        assert!(wants_stream(&request("bench", true, Prompt::Short)));
        assert!(!wants_stream(&request("bench", false, Prompt::Pii)));
        assert!(!wants_stream(br#"{"model":"x"}"#));
        assert!(!wants_stream(b"not json"));
    }

    #[test]
    fn the_pii_prompt_is_about_1_kb_and_holds_exactly_its_four_entities() {
        let len = PII_PROMPT.len();
        assert!((950..=1150).contains(&len), "{len} bytes");
        let mut found: Vec<&str> = seam_policy::Scanner::all()
            .scan(PII_PROMPT)
            .iter()
            .filter(|f| f.score >= seam_config::policy::DEFAULT_MIN_SCORE)
            .map(|f| f.entity)
            .collect();
        found.sort_unstable();
        assert_eq!(found, PII_ENTITIES);
    }
}
