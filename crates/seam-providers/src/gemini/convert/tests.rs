use std::collections::VecDeque;

use base64::Engine as _;
use seam_types::chat::ChatChunk;
use seam_types::embeddings::EmbeddingsRequest;

use super::*;
use crate::http::StreamDecoder;
use crate::sse::SseEvent;

fn req(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

/// The Gemini body for an OpenAI body, as JSON.
fn body(openai: Value) -> Value {
    serde_json::from_slice(&request_body(&req(openai)).unwrap()).unwrap()
}

fn refused(openai: Value) -> String {
    match request_body(&req(openai)) {
        Err(ProviderError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

fn user(content: Value) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": content}]})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn paths() {
    let cases = [
        (
            "gemini-2.0-flash",
            Method::Generate,
            "/v1beta/models/gemini-2.0-flash:generateContent",
        ),
        (
            "gemini-2.0-flash",
            Method::StreamGenerate,
            "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        ),
        (
            "text-embedding-004",
            Method::BatchEmbed,
            "/v1beta/models/text-embedding-004:batchEmbedContents",
        ),
        (
            "tunedModels/my-model",
            Method::Generate,
            "/v1beta/tunedModels/my-model:generateContent",
        ),
        (
            "odd name:x",
            Method::Generate,
            "/v1beta/models/odd%20name%3Ax:generateContent",
        ),
    ];
    for (model, method, expect) in cases {
        assert_eq!(path(model, method), expect, "{model}");
    }
}

#[test]
fn minimal_request() {
    assert_eq!(
        body(user(json!("hi"))),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );
}

#[test]
fn system_messages_roles_and_merging() {
    let b = body(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "one"},
        {"role": "user", "content": ""},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "three"}
    ]}));
    assert_eq!(
        b["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]})
    );
    assert_eq!(
        b["contents"],
        json!([
            {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
            {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]},
            {"role": "user", "parts": [{"text": "three"}]}
        ])
    );
}

#[test]
fn tool_history_becomes_function_calls_and_named_responses() {
    let b = body(json!({"model": "m", "messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"time\": \"noon\"}"},
        {"role": "user", "content": "Thanks"}
    ]}));
    assert_eq!(
        b["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "now", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
                {"functionResponse": {"name": "now", "response": {"time": "noon"}}},
                {"text": "Thanks"}
            ]}
        ])
    );
}

#[test]
fn tool_responses_are_always_objects() {
    let cases = [
        ("sunny", json!({"result": "sunny"})),
        ("", json!({"result": ""})),
        ("42", json!({"result": 42})),
        ("[1, 2]", json!({"result": [1, 2]})),
        ("{\"a\": 1}", json!({"a": 1})),
    ];
    for (text, expect) in cases {
        assert_eq!(tool_response(text), expect, "{text:?}");
    }
}

#[test]
fn a_tool_result_without_a_matching_call_is_refused() {
    let m = refused(json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "nope", "content": "r"}
    ]}));
    assert!(m.starts_with("messages[1]: tool_call_id"), "{m}");
    // The message's own `name` is enough.
    let b = body(json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "nope", "name": "lookup", "content": "r"}
    ]}));
    assert_eq!(
        b["contents"][0]["parts"][0]["functionResponse"]["name"],
        "lookup"
    );
}

#[test]
fn tool_arguments_that_are_not_an_object_are_refused() {
    let m = refused(json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "[1]"}}]}
    ]}));
    assert_eq!(
        m,
        "messages[1].tool_calls[0] (lookup): arguments must be a JSON object for Gemini"
    );
}

#[test]
fn images_and_audio_are_inline_data() {
    let b = body(user(json!([
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    ])));
    assert_eq!(
        b["contents"][0]["parts"],
        json!([
            {"text": "what is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
        ])
    );
    for url in ["https://example.com/cat.jpg", "data:image/png,raw"] {
        let m = refused(user(
            json!([{"type": "image_url", "image_url": {"url": url}}]),
        ));
        assert!(m.starts_with("messages[0].content[0]: "), "{m}");
    }
    assert!(refused(user(json!([{"type": "file", "file": {}}]))).contains("\"file\""));
    assert!(
        refused(
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]})
        )
        .contains("function")
    );
}

#[test]
fn tools_are_declarations_with_schemas_gemini_accepts() {
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
            "parameters": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "city": {"type": "string", "format": "hostname", "minLength": 1},
                    "when": {"type": ["string", "null"], "format": "date-time"},
                    "unit": {"oneOf": [{"const": "c"}, {"const": "f"}]},
                    "tags": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}}
                },
                "required": ["city"]
            }}},
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "ping"}}
    ]);
    let b = body(with(user(json!("x")), json!({"tools": tools})));
    assert_eq!(
        b["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather by city", "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 1},
                    "when": {"type": "string", "nullable": true, "format": "date-time"},
                    "unit": {"anyOf": [{"enum": ["c"]}, {"enum": ["f"]}]},
                    "tags": {"type": "array", "items": {"type": "object"}}
                },
                "required": ["city"]
            }},
            {"name": "now"},
            {"name": "ping"}
        ]}])
    );
    assert!(b.get("toolConfig").is_none());
    assert!(
        refused(with(
            user(json!("x")),
            json!({"tools": [{"type": "retrieval", "function": {"name": "r"}}]})
        ))
        .starts_with("tools[0]")
    );
}

#[test]
fn tool_choice_is_function_calling_config() {
    let tools = json!([{"type": "function", "function": {"name": "now"}}]);
    let cases = [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("required"), json!({"mode": "ANY"})),
        (json!("none"), json!({"mode": "NONE"})),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["now"]}),
        ),
    ];
    for (choice, expect) in cases {
        let b = body(with(
            user(json!("x")),
            json!({"tools": tools, "tool_choice": choice}),
        ));
        assert_eq!(
            b["toolConfig"],
            json!({"functionCallingConfig": expect}),
            "{choice}"
        );
    }
    // Without tools there is nothing to configure.
    let b = body(with(user(json!("x")), json!({"tool_choice": "none"})));
    assert!(b.get("toolConfig").is_none());
}

#[test]
fn generation_config() {
    let b = body(with(
        user(json!("x")),
        json!({
            "max_tokens": 10, "max_completion_tokens": 20, "temperature": 1.5, "top_p": 0.9,
            "stop": "END", "n": 2, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": null,
            "user": "someone", "logit_bias": {"1": 2}
        }),
    ));
    assert_eq!(
        b["generationConfig"],
        json!({"maxOutputTokens": 20, "temperature": 1.5, "topP": 0.9, "stopSequences": ["END"],
               "candidateCount": 2, "seed": 7, "presencePenalty": 0.5})
    );
    assert_eq!(b.as_object().unwrap().len(), 2, "{b}");
}

#[test]
fn response_formats() {
    let schema = json!({"type": "object", "additionalProperties": false,
        "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let cases = [
        (json!({"type": "text"}), None),
        (
            json!({"type": "json_object"}),
            Some(json!({"responseMimeType": "application/json"})),
        ),
        (
            json!({"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": schema}}),
            Some(
                json!({"responseMimeType": "application/json", "responseSchema": {
                "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}),
            ),
        ),
    ];
    for (format, expect) in cases {
        let b = body(with(user(json!("x")), json!({"response_format": format})));
        assert_eq!(b.get("generationConfig"), expect.as_ref(), "{format}");
    }
    let m = refused(with(
        user(json!("x")),
        json!({"response_format": {"type": "grammar"}}),
    ));
    assert!(m.contains("grammar"), "{m}");
}

fn answer(v: Value) -> GenerateResponse {
    serde_json::from_value(v).unwrap()
}

#[test]
fn text_answer() {
    let c = completion(
        &answer(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me think", "thought": true}, {"text": "Hello"}, {"text": " there"}]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 3, "totalTokenCount": 10},
            "modelVersion": "gemini-2.5-flash", "responseId": "abc"
        })),
        "gemini-x",
    );
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["id"], "chatcmpl-abc");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(
        v["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                "finish_reason": "stop", "logprobs": null}])
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
    );
}

#[test]
fn function_calls_become_tool_calls() {
    let c = completion(
        &answer(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "now"}}]},
                "finishReason": "STOP"}]
        })),
        "gemini-x",
    );
    let v = serde_json::to_value(&c).unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["model"], "gemini-x");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
        ]})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn finish_reasons() {
    let cases = [
        ("STOP", false, "stop"),
        ("STOP", true, "tool_calls"),
        ("MAX_TOKENS", false, "length"),
        ("SAFETY", false, "content_filter"),
        ("RECITATION", false, "content_filter"),
        ("BLOCKLIST", false, "content_filter"),
        ("PROHIBITED_CONTENT", false, "content_filter"),
        ("SPII", false, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", false, "malformed_function_call"),
    ];
    for (reason, called, expect) in cases {
        assert_eq!(finish_reason(reason, called), expect, "{reason}");
    }
}

#[test]
fn several_candidates_and_a_blocked_prompt() {
    let c = completion(
        &answer(json!({"candidates": [
            {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
            {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1}
        ]})),
        "m",
    );
    let got: Vec<_> = c
        .choices
        .iter()
        .map(|ch| {
            (
                ch.index,
                ch.message.text(),
                ch.finish_reason.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "a".into(), "stop".into()),
            (1, "b".into(), "length".into())
        ]
    );

    let c = completion(
        &answer(json!({"promptFeedback": {"blockReason": "SAFETY"},
                       "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}})),
        "m",
    );
    assert_eq!(c.choices.len(), 1);
    assert_eq!(
        c.choices[0].finish_reason.as_deref(),
        Some("content_filter")
    );
    assert_eq!(c.usage.unwrap().prompt_tokens, 4);
}

/// Runs events through a decoder the way `decode_frames` does; `None` for the end's verdict means
/// the stream was cut.
fn stream(events: &[Value]) -> (Vec<Value>, Result<bool, ProviderError>) {
    let mut d = Decoder::new("gemini-x");
    let mut out = VecDeque::new();
    for e in events {
        let ev = SseEvent {
            event: None,
            data: e.to_string(),
        };
        if let Err(e) = d.event(ev, &mut out) {
            return (chunks(out), Err(e));
        }
    }
    let end = d.end(&mut out);
    (chunks(out), end)
}

fn chunks(out: VecDeque<ChatChunk>) -> Vec<Value> {
    out.into_iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

fn piece(text: &str) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
           "responseId": "r1", "modelVersion": "gemini-2.0-flash"})
}

#[test]
fn stream_text_with_usage() {
    let last = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]},
                        "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}});
    let (chunks, end) = stream(&[piece("Hello"), piece(" world"), last]);
    assert!(end.unwrap());
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[0], &json!({"role": "assistant", "content": ""}));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello world!");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    );
    assert!(
        chunks
            .iter()
            .all(|c| c["id"] == "chatcmpl-r1" && c["model"] == "gemini-2.0-flash")
    );
}

#[test]
fn stream_function_call_is_one_delta() {
    let call = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"q": "Paris"}}}]},
        "finishReason": "STOP", "index": 0}]});
    let (chunks, end) = stream(&[call]);
    assert!(end.unwrap());
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "call_0", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"q\":\"Paris\"}"}}])
    );
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn a_stream_without_a_finish_reason_is_cut() {
    let (chunks, end) = stream(&[piece("Hello"), piece(" wor")]);
    assert_eq!(end, Ok(false));
    assert_eq!(chunks.len(), 3);
    let (chunks, end) = stream(&[]);
    assert_eq!(end, Ok(false));
    assert!(chunks.is_empty());
    // With two candidates, both must finish.
    let two = |finish: Option<&str>| {
        json!({"candidates": [
            {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
            {"content": {"parts": [{"text": "b"}]}, "finishReason": finish, "index": 1}]})
    };
    assert_eq!(stream(&[two(None)]).1, Ok(false));
    assert_eq!(stream(&[two(Some("STOP"))]).1, Ok(true));
}

#[test]
fn stream_error_events_and_bad_json() {
    let err = json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}});
    let (chunks, end) = stream(&[piece("Hi"), err]);
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        end,
        Err(ProviderError::StreamCut(
            "upstream error event (UNAVAILABLE): The model is overloaded.".into()
        ))
    );
    let mut d = Decoder::new("m");
    let ev = SseEvent {
        event: None,
        data: "{\"candidates\": [".into(),
    };
    assert!(matches!(
        d.event(ev, &mut VecDeque::new()),
        Err(ProviderError::InvalidResponse(_))
    ));
}

fn embed_req(v: Value) -> EmbeddingsRequest {
    serde_json::from_value(v).unwrap()
}

#[test]
fn embeddings_requests_and_answers() {
    let r = embed_req(
        json!({"model": "e", "input": ["a", "b"], "dimensions": 3, "encoding_format": "base64"}),
    );
    let sent: Value =
        serde_json::from_slice(&embeddings_body("text-embedding-004", &r).unwrap()).unwrap();
    assert_eq!(
        sent,
        json!({"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 3}
        ]})
    );
    let answer = || -> BatchEmbedResponse {
        serde_json::from_value(
            json!({"embeddings": [{"values": [0.5, -1.0, 0.25]}, {"values": [1.0, 0.0, 0.0]}]}),
        )
        .unwrap()
    };
    let got = embeddings(answer(), "text-embedding-004", &r).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(got.data[0].embedding.as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(floats, [0.5, -1.0, 0.25]);
    assert_eq!(got.data[1].index, 1);
    assert!(got.usage.is_none());

    let r = embed_req(json!({"model": "e", "input": ["a", "b"]}));
    let got = embeddings(answer(), "m", &r).unwrap();
    assert_eq!(got.data[0].embedding, json!([0.5, -1.0, 0.25]));

    let one = embed_req(json!({"model": "e", "input": "a"}));
    assert!(matches!(
        embeddings(answer(), "m", &one),
        Err(ProviderError::InvalidResponse(_))
    ));
    let tokens = embed_req(json!({"model": "e", "input": [1, 2]}));
    assert!(matches!(
        embeddings_body("m", &tokens),
        Err(ProviderError::Unsupported(_))
    ));
    let many = embed_req(json!({"model": "e", "input": vec!["x"; 101]}));
    assert!(matches!(
        embeddings_body("m", &many),
        Err(ProviderError::Unsupported(_))
    ));
}
