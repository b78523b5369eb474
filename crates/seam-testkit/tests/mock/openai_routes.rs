//! `/v1/chat/completions`, `/v1/embeddings` and `/v1/models` as an OpenAI client sees them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::{CHAT, chat, chat_stream, chunks, client, content_of, openai, post, start};

#[tokio::test]
async fn chat_echoes_the_last_user_text_and_the_model() {
    let mock = start().await;
    let got = openai(&mock, CHAT, chat("gpt-x", "hello there world")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    let body = got.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-x");
    assert_eq!(body["id"], "chatcmpl-mock-0");
    let message = json!({"role": "assistant", "content": "mock: hello there world"});
    assert_eq!(body["choices"][0]["message"], message);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = json!({"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9});
    assert_eq!(body["usage"], usage);
}

#[tokio::test]
async fn chat_stream_pieces_join_to_the_non_stream_text_and_end_with_usage() {
    let mock = start().await;
    let got = openai(&mock, CHAT, chat_stream("gpt-x", "one two three")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("text/event-stream"));
    assert!(got.text.ends_with("data: [DONE]\n\n"), "{}", got.text);
    let chunks = chunks(&got.text);
    let role = json!({"role": "assistant", "content": ""});
    assert_eq!(chunks[0]["choices"][0]["delta"], role);
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(pieces, ["mock:", " one", " two", " three"]);
    let [.., finish, usage] = chunks.as_slice() else {
        panic!("{chunks:?}")
    };
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    let shared = |c: &Value| c["object"] == "chat.completion.chunk" && c["model"] == "gpt-x";
    assert!(chunks.iter().all(shared));
}

#[tokio::test]
async fn chat_stream_without_include_usage_has_no_usage_chunk() {
    let mock = start().await;
    let mut body = chat("m", "hi");
    body["stream"] = json!(true);
    let chunks = chunks(&openai(&mock, CHAT, body).await.text);
    let one_choice = |c: &Value| c.get("usage").is_none() && c["choices"][0].is_object();
    assert!(chunks.iter().all(one_choice));
    assert_eq!(content_of(&chunks), "mock: hi");
}

#[tokio::test]
async fn chat_calls_a_tool_then_echoes_its_result() {
    let mock = start().await;
    let tools = json!([
        {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "lookup"}},
    ]);
    let mut body = chat("m", "find cats");
    body["tools"] = tools.clone();
    let reply = openai(&mock, CHAT, body.clone()).await.json();
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "search");
    assert_eq!(call["function"]["arguments"], r#"{"q":"find cats"}"#);

    // Streamed: the id and name first, then the arguments in two or three pieces.
    body["stream"] = json!(true);
    body["tool_choice"] = json!({"type": "function", "function": {"name": "lookup"}});
    let chunks = chunks(&openai(&mock, CHAT, body).await.text);
    let head = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(head["function"]["name"], "lookup");
    assert!(head["id"].as_str().unwrap().starts_with("call_"));
    let pieces: Vec<&str> = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert!((2..=3).contains(&pieces.len()), "{pieces:?}");
    assert_eq!(pieces.concat(), r#"{"q":"find cats"}"#);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");

    // The tool's answer comes back: the mock echoes it.
    let body = json!({"model": "m", "tools": tools, "messages": [
        {"role": "user", "content": "find cats"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "3 cats"},
    ]});
    let reply = openai(&mock, CHAT, body).await.json();
    assert_eq!(reply["choices"][0]["message"]["content"], "mock: 3 cats");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn openai_authorization_must_be_bearer_when_present() {
    let mock = start().await;
    let url = || format!("{}{CHAT}", mock.openai_base_url());
    assert_eq!(post(url(), &[], &chat("m", "x")).await.status, 200);
    let basic = post(url(), &[("authorization", "Basic abc")], &chat("m", "x")).await;
    assert_eq!(basic.status, 401);
    assert!(basic.json()["error"]["message"].is_string());
    let seen: Vec<Option<String>> = mock
        .requests()
        .iter()
        .map(|r| r.header("Authorization").map(str::to_owned))
        .collect();
    assert_eq!(seen, [None, Some("Basic abc".to_owned())]);
}

#[tokio::test]
async fn embeddings_are_deterministic_and_base64_matches_floats() {
    let mock = start().await;
    let body = json!({"model": "e", "input": ["a b", "c"], "dimensions": 4});
    let float = openai(&mock, "/embeddings", body).await.json();
    assert_eq!(float["object"], "list");
    assert_eq!(float["model"], "e");
    assert_eq!(
        float["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    assert_eq!(float["data"][1]["index"], 1);
    let floats: Vec<f32> = float["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(floats.len(), 4);

    let body = json!({"model": "e", "input": "a b", "dimensions": 4, "encoding_format": "base64"});
    let b64 = openai(&mock, "/embeddings", body).await.json();
    let bytes = STANDARD
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, floats);

    let default = openai(&mock, "/embeddings", json!({"model": "e", "input": "a b"})).await;
    assert_eq!(
        default.json()["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let empty = openai(&mock, "/embeddings", json!({"model": "e", "input": []})).await;
    assert_eq!(empty.status, 400);
}

#[tokio::test]
async fn models_are_listed_and_unknown_routes_are_404() {
    let mock = start().await;
    let url = format!("{}/models", mock.openai_base_url());
    let models: Value = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");
    let missing = openai(&mock, "/nope", json!({})).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn chat_in_json_mode_answers_the_text_alone() {
    let mock = start().await;
    let mut body = chat("m", r#"{"name": "Ada"}"#);
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "x"}});
    let got = openai(&mock, CHAT, body.clone()).await.json();
    assert_eq!(
        got["choices"][0]["message"]["content"],
        r#"{"name": "Ada"}"#
    );
    body["stream"] = json!(true);
    let streamed = content_of(&chunks(&openai(&mock, CHAT, body).await.text));
    assert_eq!(streamed, r#"{"name": "Ada"}"#);
}
