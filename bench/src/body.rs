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

use std::borrow::Cow;

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
    /// ~120 bytes of support-ticket text with a person's name, a city and a street address
    /// ([`names_short`]); numbered, so every request of a run sends a different text.
    NamesShort,
    /// ~1 KB of support-ticket text with two people's names, a city and a street address
    /// ([`names_long`]); numbered, so every request of a run sends a different text.
    NamesLong,
    /// [`Prompt::NamesLong`]'s first text on every request: what a repeated prompt costs once
    /// seam's model cache has it.
    NamesLongSame,
    /// The prompts scenario's ~1 KB support prompt ([`crate::prompts`]): a chat slot whose model
    /// is `prompt:NAME` sends only its variables (`seam.vars`), any other chat slot the system
    /// and user messages they render to.
    Ticket,
    /// ~200 bytes of text with an email address and a phone number ([`CONTACT_PROMPT`]): with
    /// the chat envelope, the ~330-byte request of the full-pipeline scenario ([`crate::full`]).
    Contact,
}

/// The user turn of [`Prompt::Contact`] (a reserved domain, a UK drama number).
pub const CONTACT_PROMPT: &str = concat!(
    "Please move my delivery to Friday and confirm by email to maria.keller@example.com or call ",
    "me on +44 20 7946 0958 before noon. Summarise the change in one short sentence for the ",
    "ticket, please."
);

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
    /// The user turn; for a numbered prompt, its first text (number 0).
    pub fn text(self) -> Cow<'static, str> {
        self.numbered(0)
    }

    /// The user turn of the `n`-th request of a run: a different text for every `n` where
    /// [`Prompt::varies`], else the same text.
    pub fn numbered(self, n: u64) -> Cow<'static, str> {
        match self {
            Prompt::Short => Cow::Borrowed("Say hello in one short sentence."),
            Prompt::Pii => Cow::Borrowed(PII_PROMPT),
            Prompt::NamesShort => Cow::Owned(names_short(n)),
            Prompt::NamesLong => Cow::Owned(names_long(n)),
            Prompt::NamesLongSame => Cow::Owned(names_long(0)),
            Prompt::Ticket => Cow::Owned(crate::prompts::rendered().user),
            Prompt::Contact => Cow::Borrowed(CONTACT_PROMPT),
        }
    }

    /// Whether the text changes from request to request ([`Prompt::numbered`]).
    pub fn varies(self) -> bool {
        matches!(self, Prompt::NamesShort | Prompt::NamesLong)
    }

    /// The name the load generator's `--prompt` takes.
    pub fn arg(self) -> &'static str {
        match self {
            Prompt::Short => "short",
            Prompt::Pii => "pii",
            Prompt::NamesShort => "names-short",
            Prompt::NamesLong => "names-long",
            Prompt::NamesLongSame => "names-long-same",
            Prompt::Ticket => "ticket",
            Prompt::Contact => "contact",
        }
    }
}

/// Given names and surnames of the names prompts, from several naming cultures: 24 × 24 = 576
/// people, so a run sends many different names as well as different ticket numbers.
const GIVEN: [&str; 24] = [
    "Maria",
    "James",
    "Aisha",
    "Lukas",
    "Sofia",
    "Daniel",
    "Priya",
    "Tomasz",
    "Emma",
    "Kenji",
    "Olivia",
    "Mateo",
    "Fatima",
    "Henrik",
    "Chloe",
    "Samuel",
    "Ingrid",
    "Rafael",
    "Hannah",
    "Oluwaseun",
    "Claire",
    "Andrei",
    "Mei",
    "Patrick",
];
const SURNAME: [&str; 24] = [
    "Keller",
    "Thompson",
    "Okafor",
    "Brennan",
    "Rossi",
    "Fischer",
    "Sharma",
    "Nowak",
    "Dubois",
    "Tanaka",
    "Walsh",
    "Herrera",
    "Haddad",
    "Lindqvist",
    "Moreau",
    "Adeyemi",
    "Johansson",
    "Silva",
    "Becker",
    "Murphy",
    "Novak",
    "Popescu",
    "Chen",
    "Gallagher",
];
/// Cities and streets of the names prompts (English-style street lines, a number first).
const CITY: [&str; 12] = [
    "Manchester",
    "Leeds",
    "Bristol",
    "Glasgow",
    "Dublin",
    "Boston",
    "Denver",
    "Portland",
    "Toronto",
    "Melbourne",
    "Edinburgh",
    "Seattle",
];
const STREET: [&str; 12] = [
    "Maple Avenue",
    "Baker Street",
    "Elm Road",
    "Church Lane",
    "Victoria Street",
    "Oak Drive",
    "Queen Street",
    "Park Avenue",
    "Mill Lane",
    "High Street",
    "Station Road",
    "Cedar Court",
];

/// The people, place and street line of the `n`-th names prompt: the ticket number is `n`'s own,
/// the rest cycle through the lists at different strides.
struct Ticket {
    number: u64,
    given: &'static str,
    surname: &'static str,
    /// A second person (the long prompt's neighbour).
    given2: &'static str,
    surname2: &'static str,
    city: &'static str,
    house: u64,
    street: &'static str,
}

fn pick<const N: usize>(list: &[&'static str; N], i: u64) -> &'static str {
    list[(i % N as u64) as usize]
}

impl Ticket {
    fn new(n: u64) -> Self {
        let g = GIVEN.len() as u64;
        Ticket {
            number: 100_000 + n,
            given: pick(&GIVEN, n),
            surname: pick(&SURNAME, n / g),
            given2: pick(&GIVEN, n + 7),
            surname2: pick(&SURNAME, n / g + 11),
            city: pick(&CITY, n / 5),
            house: 1 + n % 97,
            street: pick(&STREET, n / 3),
        }
    }
}

/// The `n`-th short names prompt (~120 bytes): a name, a city and a street line in one sentence.
///
/// Both prompts name a product ("Kestrel"): a capitalised word the rules cannot settle, as real
/// tickets have, so the model reads the text (text the rules settle alone never reaches it).
pub fn names_short(n: u64) -> String {
    let t = Ticket::new(n);
    format!(
        "Ticket {}: {} {} from {} says the Kestrel desk sent to {} {} never arrived. Please draft a short reply.",
        t.number, t.given, t.surname, t.city, t.house, t.street
    )
}

/// The `n`-th long names prompt (~1 KB): a support ticket with the writer's name (twice), a
/// neighbour's name, a city and a street line in running text, and no other personal data.
pub fn names_long(n: u64) -> String {
    let t = Ticket::new(n);
    format!(
        "Hello support, this is {given} {surname} writing about ticket {number}. I ordered a Kestrel \
         standing desk three weeks ago and it still has not arrived. The tracking page says the \
         parcel was handed to a local courier in {city} on Monday, but nobody came to my flat at \
         {house} {street}. My neighbour, {given2} {surname2}, was at home all day and did not \
         see a van either. When I called last week, your colleague told me the driver could not \
         find the entrance, which is odd, because the building has a large sign and a buzzer \
         with my surname on it. I have since taken two days off work to wait for the delivery, \
         and I am running out of patience. Could you please check with the courier what \
         happened, tell me whether the parcel is still in the depot, and arrange a new delivery \
         slot on a weekday morning? If it is lost, I would prefer a refund to a replacement. \
         Summarise the situation in three bullet points and draft the short, polite reply I \
         should expect from support. Thanks, {given}",
        given = t.given,
        surname = t.surname,
        number = t.number,
        city = t.city,
        house = t.house,
        street = t.street,
        given2 = t.given2,
        surname2 = t.surname2,
    )
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
    /// [`Prompt::Ticket`] on chat: the prompt's own system text and user text, or its variables.
    pub fn request(self, model: &str, stream: bool, prompt: Prompt) -> Bytes {
        if prompt == Prompt::Ticket && self == Surface::Chat {
            return crate::prompts::chat_request(model, stream);
        }
        self.request_text(model, stream, &prompt.text())
    }

    /// [`Surface::request`] with the user text given.
    pub fn request_text(self, model: &str, stream: bool, user: &str) -> Bytes {
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

    /// The entities the rules find in `text` at the policies' default threshold, sorted, unique.
    fn entities(text: &str) -> Vec<&'static str> {
        let mut found: Vec<&str> = seam_policy::Scanner::all()
            .scan(text)
            .iter()
            .filter(|f| f.score >= seam_config::policy::DEFAULT_MIN_SCORE)
            .map(|f| f.entity)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn the_names_prompts_are_about_120_bytes_and_1_kb() {
        for n in 0..2000 {
            let (short, long) = (names_short(n), names_long(n));
            assert!(
                (100..=140).contains(&short.len()),
                "{} bytes: {short}",
                short.len()
            );
            assert!(
                (950..=1150).contains(&long.len()),
                "{} bytes: {long}",
                long.len()
            );
        }
    }

    #[test]
    fn every_numbered_names_prompt_differs_and_names_hundreds_of_people() {
        use std::collections::HashSet;
        for prompt in [Prompt::NamesShort, Prompt::NamesLong] {
            assert!(prompt.varies());
            let texts: HashSet<String> =
                (0..5000).map(|n| prompt.numbered(n).into_owned()).collect();
            assert_eq!(texts.len(), 5000, "{prompt:?}");
        }
        let people: HashSet<(&str, &str)> = (0..1000)
            .map(|n| {
                let t = Ticket::new(n);
                (t.given, t.surname)
            })
            .collect();
        assert!(people.len() >= 200, "{} people", people.len());
        // The cached case sends one text, the long prompt's first.
        assert!(!Prompt::NamesLongSame.varies());
        assert_eq!(Prompt::NamesLongSame.numbered(7), names_long(0));
    }

    #[test]
    fn the_names_prompts_hold_no_personal_data_but_names_places_and_addresses() {
        let allowed = ["LOCATION", "PERSON", "STREET_ADDRESS"];
        for n in [0, 1, 23, 24, 577, 4321] {
            for text in [names_short(n), names_long(n)] {
                let found = entities(&text);
                assert!(found.contains(&"PERSON"), "{found:?} in {text}");
                assert!(
                    found.iter().all(|e| allowed.contains(e)),
                    "{found:?} in {text}"
                );
            }
        }
    }

    #[test]
    fn the_model_reads_every_names_prompt() {
        // Text the rules settle alone never reaches the model; these must not be such text.
        let scanner = seam_policy::Scanner::all();
        for n in 0..200 {
            for text in [names_short(n), names_long(n)] {
                let input = seam_policy::Scanner::model_input(&text);
                assert!(scanner.needs_model(&input), "rules settle: {text}");
            }
        }
    }
}
