//! Canned bodies: what the load generator sends and what the mock answers.
//!
//! They are fixed so every run moves the same bytes; sizes are close to a short real exchange
//! (a ~600-byte completion, 20 stream chunks). The policy scenario sends a ~1 KB prompt with
//! personal data in it instead of the short one ([`Prompt::Pii`]).
//!
//! Besides chat completions, the load generator speaks two more surfaces ([`Surface`]): a slot
//! named `messages:ALIAS` sends an Anthropic Messages request, `responses:ALIAS` an OpenAI
//! Responses request, with the same prompt texts. The mock answers Messages requests too, with
//! the same text ([`message`], [`anthropic_events`]).

use bytes::Bytes;

/// How many `chat.completion.chunk` events a canned stream carries before `[DONE]`.
pub const STREAM_CHUNKS: usize = 20;

/// The SSE line that ends every stream.
pub const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// The text of the canned non-stream answers (a macro, so `concat!` can build both bodies).
macro_rules! answer_text {
    () => {
        concat!(
            "Hello! This is a canned answer from the seam-bench mock ",
            "upstream. It is long enough to look like a short real reply, so the gateway has to parse, ",
            "carry and re-serialise a realistic amount of text on every request, which is what the ",
            "benchmark wants to measure: the cost the gateway adds per request."
        )
    };
}

/// The text of both canned non-stream answers.
pub const ANSWER_TEXT: &str = answer_text!();

const COMPLETION: &str = concat!(
    r#"{"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion","created":1700000000,"#,
    r#""model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,"message":"#,
    r#"{"role":"assistant","content":""#,
    answer_text!(),
    r#"","refusal":null},"#,
    r#""logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":64,"#,
    r#""total_tokens":80}}"#
);

const MESSAGE: &str = concat!(
    r#"{"id":"msg_bench0000000000000000000000","type":"message","role":"assistant","#,
    r#""model":"bench-model","content":[{"type":"text","text":""#,
    answer_text!(),
    r#""}],"stop_reason":"end_turn","stop_sequence":null,"#,
    r#""usage":{"input_tokens":16,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"#,
    r#""output_tokens":64,"service_tier":"standard"}}"#
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

/// The Anthropic Messages answer (`"type": "message"`, the same text as [`completion`], usage
/// with the fields Anthropic sends; ~620 bytes).
pub fn message() -> Bytes {
    Bytes::from_static(MESSAGE.as_bytes())
}

/// The `i`-th text piece of the canned Anthropic stream (`0..STREAM_CHUNKS`): `tok{i} `, as the
/// chat stream's middle chunks carry.
pub fn stream_piece(i: usize) -> String {
    format!("tok{i} ")
}

/// One named SSE event, `event: NAME\ndata: {…}\n\n`.
fn named_event(name: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The canned Anthropic stream: `message_start`, `content_block_start`, [`STREAM_CHUNKS`]
/// `content_block_delta` text deltas ([`stream_piece`]), `content_block_stop`, `message_delta`
/// (stop reason and usage), `message_stop`. Built once at start.
pub fn anthropic_events() -> Vec<Bytes> {
    use serde_json::json;
    let start = json!({"type": "message_start", "message": {
        "id": "msg_bench0000000000000000000000", "type": "message", "role": "assistant",
        "model": "bench-model", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 16, "output_tokens": 1},
    }});
    let block = json!({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}});
    let mut events = vec![
        named_event("message_start", &start),
        named_event("content_block_start", &block),
    ];
    events.extend((0..STREAM_CHUNKS).map(|i| {
        let delta = json!({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": stream_piece(i)}});
        named_event("content_block_delta", &delta)
    }));
    let delta = json!({"type": "message_delta",
                       "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                       "usage": {"output_tokens": STREAM_CHUNKS}});
    events.extend([
        named_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        named_event("message_delta", &delta),
        named_event("message_stop", &json!({"type": "message_stop"})),
    ]);
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

/// The system turn of every request.
const SYSTEM: &str = "You are a terse assistant.";

impl Prompt {
    /// The user turn.
    pub fn text(self) -> &'static str {
        match self {
            Prompt::Short => "Say hello in one short sentence.",
            Prompt::Pii => PII_PROMPT,
        }
    }
}

/// The request the load generator sends: a chat turn, streamed or not.
pub fn request(model: &str, stream: bool, prompt: Prompt) -> Bytes {
    Surface::Chat.request(model, stream, prompt)
}

/// The API a load slot speaks, named by a prefix of its `--model`: `messages:ALIAS`,
/// `responses:ALIAS`, `mcp:TOOL`, or a bare alias for chat completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// OpenAI chat completions, `POST /v1/chat/completions`; a stream ends with `data: [DONE]`.
    Chat,
    /// Anthropic Messages, `POST /v1/messages`; a stream ends with `event: message_stop`.
    Messages,
    /// OpenAI Responses, `POST /v1/responses`; a stream ends with `event: response.completed`.
    Responses,
    /// MCP, `POST /mcp`: a `tools/call` of the slot's tool on a session opened before the load
    /// ([`crate::mcp`]); never streamed.
    Mcp,
}

impl Surface {
    /// The surface a slot names and the alias it asks for: `messages:bench` → (Messages, `bench`).
    pub fn split(slot: &str) -> (Surface, &str) {
        if let Some(model) = slot.strip_prefix("messages:") {
            (Surface::Messages, model)
        } else if let Some(model) = slot.strip_prefix("responses:") {
            (Surface::Responses, model)
        } else if let Some(tool) = slot.strip_prefix("mcp:") {
            (Surface::Mcp, tool)
        } else {
            (Surface::Chat, slot)
        }
    }

    /// The URL path of the surface's endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Surface::Chat => "/v1/chat/completions",
            Surface::Messages => "/v1/messages",
            Surface::Responses => "/v1/responses",
            Surface::Mcp => crate::mcp::PATH,
        }
    }

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Chat => "chat",
            Surface::Messages => "messages",
            Surface::Responses => "responses",
            Surface::Mcp => "mcp",
        }
    }

    /// The SSE event that ends a complete stream of a named-event surface; `None` for chat,
    /// whose streams end with `data: [DONE]` instead.
    pub fn final_event(self) -> Option<&'static str> {
        match self {
            Surface::Chat | Surface::Mcp => None,
            Surface::Messages => Some("message_stop"),
            Surface::Responses => Some("response.completed"),
        }
    }

    /// The request body, with the same system and user texts on every surface: Messages gets
    /// `model`, `max_tokens`, `system`, one user message and `stream`; Responses `model`,
    /// `instructions`, `input` (the user text), `max_output_tokens`, `store: false` and `stream`;
    /// MCP a `tools/call` of the tool `model` with id 0 (the load generator numbers its calls).
    pub fn request(self, model: &str, stream: bool, prompt: Prompt) -> Bytes {
        let user = prompt.text();
        let body = match self {
            Surface::Mcp => return crate::mcp::call_body(model, 0),
            Surface::Chat => serde_json::json!({
                "model": model,
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": user}
                ],
                "max_tokens": 64,
                "stream": stream,
            }),
            Surface::Messages => serde_json::json!({
                "model": model,
                "max_tokens": 64,
                "system": SYSTEM,
                "messages": [{"role": "user", "content": user}],
                "stream": stream,
            }),
            Surface::Responses => serde_json::json!({
                "model": model,
                "instructions": SYSTEM,
                "input": user,
                "max_output_tokens": 64,
                "store": false,
                "stream": stream,
            }),
        };
        Bytes::from(body.to_string())
    }
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
    fn the_messages_answer_carries_the_completion_text_in_about_the_same_size() {
        let (chat, message) = (completion(), message());
        assert!(
            chat.len().abs_diff(message.len()) <= 100,
            "{} vs {}",
            chat.len(),
            message.len()
        );
        let chat: serde_json::Value = serde_json::from_slice(&chat).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&message).unwrap();
        assert_eq!(chat["choices"][0]["message"]["content"], ANSWER_TEXT);
        assert_eq!(v["type"], "message");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["content"][0]["type"], "text");
        assert_eq!(v["content"][0]["text"], ANSWER_TEXT);
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(v["usage"]["output_tokens"], 64);
    }

    /// Each event as (name, data).
    fn named(events: &[Bytes]) -> Vec<(String, serde_json::Value)> {
        events
            .iter()
            .map(|event| {
                let text = std::str::from_utf8(event).unwrap();
                let rest = text.strip_prefix("event: ").unwrap();
                let (name, rest) = rest.split_once('\n').unwrap();
                let data = rest.strip_prefix("data: ").unwrap();
                let data = data.strip_suffix("\n\n").unwrap();
                assert!(!data.contains('\n'), "{text}");
                (name.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    #[test]
    fn the_anthropic_stream_is_20_text_deltas_between_start_and_stop_events() {
        let events = named(&anthropic_events());
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let mut expected = vec!["message_start", "content_block_start"];
        expected.extend(["content_block_delta"; STREAM_CHUNKS]);
        expected.extend(["content_block_stop", "message_delta", "message_stop"]);
        assert_eq!(names, expected);
        for (name, data) in &events {
            assert_eq!(
                data["type"],
                name.as_str(),
                "the data's type names its event"
            );
        }
        let text: String = events[2..2 + STREAM_CHUNKS]
            .iter()
            .map(|(_, d)| {
                assert_eq!(d["delta"]["type"], "text_delta");
                d["delta"]["text"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            text,
            (0..STREAM_CHUNKS).map(stream_piece).collect::<String>()
        );
        assert!(text.starts_with("tok0 tok1 ") && text.ends_with("tok19 "));
        let delta = &events[STREAM_CHUNKS + 3].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["output_tokens"], STREAM_CHUNKS);
        assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 16);
    }

    #[test]
    fn a_slot_prefix_names_its_surface_and_its_alias() {
        assert_eq!(Surface::split("bench"), (Surface::Chat, "bench"));
        assert_eq!(
            Surface::split("messages:bench-anth"),
            (Surface::Messages, "bench-anth")
        );
        assert_eq!(
            Surface::split("responses:bench"),
            (Surface::Responses, "bench")
        );
        assert_eq!(Surface::Messages.path(), "/v1/messages");
        assert_eq!(Surface::Responses.path(), "/v1/responses");
        assert_eq!(Surface::Chat.final_event(), None);
        assert_eq!(
            Surface::split("mcp:bench__echo"),
            (Surface::Mcp, "bench__echo")
        );
        assert_eq!(Surface::Mcp.path(), "/mcp");
        assert_eq!(Surface::Mcp.final_event(), None);
    }

    #[test]
    fn every_surface_sends_the_same_texts_in_its_own_shape() {
        let json = |s: Surface, stream| -> serde_json::Value {
            serde_json::from_slice(&s.request("bench", stream, Prompt::Pii)).unwrap()
        };
        let chat = json(Surface::Chat, true);
        assert_eq!(chat["messages"][0]["content"], SYSTEM);
        assert_eq!(chat["messages"][1]["content"], PII_PROMPT);
        let messages = json(Surface::Messages, true);
        assert_eq!(messages["model"], "bench");
        assert_eq!(messages["max_tokens"], 64);
        assert_eq!(messages["system"], SYSTEM);
        let turns = serde_json::json!([{"role": "user", "content": PII_PROMPT}]);
        assert_eq!(messages["messages"], turns);
        assert_eq!(messages["stream"], true);
        let responses = json(Surface::Responses, false);
        assert_eq!(responses["model"], "bench");
        assert_eq!(responses["instructions"], SYSTEM);
        assert_eq!(responses["input"], PII_PROMPT);
        assert_eq!(responses["max_output_tokens"], 64);
        assert_eq!(responses["store"], false);
        assert_eq!(responses["stream"], false);
        for surface in [Surface::Chat, Surface::Messages, Surface::Responses] {
            assert!(wants_stream(&surface.request("m", true, Prompt::Short)));
            assert!(!wants_stream(&surface.request("m", false, Prompt::Short)));
        }
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
