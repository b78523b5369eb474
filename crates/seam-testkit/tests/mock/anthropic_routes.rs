//! `/v1/messages` as an Anthropic client sees it.

use serde_json::{Value, json};

use crate::{ANTHROPIC_HEADERS, anthropic, event_names, messages, post, sse, start, text_deltas};

#[tokio::test]
async fn anthropic_requires_its_key_and_version_headers() {
    let mock = start().await;
    let [key, version] = ANTHROPIC_HEADERS;
    let cases: [(&[(&str, &str)], u16); 4] = [
        (&[], 401),
        (&[key], 401),
        (&[version], 401),
        (&[key, version], 200),
    ];
    for (headers, status) in cases {
        let url = format!("{}/v1/messages", mock.base_url());
        let got = post(url, headers, &messages("claude-x", "hi", false)).await;
        assert_eq!(got.status, status, "{headers:?}");
        if status == 401 {
            let body = got.json();
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], "authentication_error");
        }
    }
}

#[tokio::test]
async fn anthropic_requires_max_tokens_and_messages() {
    let mock = start().await;
    let cases = [
        json!({"model": "c", "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "c", "max_tokens": 10, "messages": []}),
        json!({"model": "c", "max_tokens": 10}),
    ];
    for body in cases {
        let got = anthropic(&mock, body.clone()).await;
        assert_eq!(got.status, 400, "{body}");
        assert_eq!(
            got.json()["error"]["type"],
            "invalid_request_error",
            "{body}"
        );
    }
}

#[tokio::test]
async fn anthropic_message_has_the_messages_api_shape() {
    let mock = start().await;
    let body = anthropic(&mock, messages("claude-x", "hello world", false))
        .await
        .json();
    let expect = json!({
        "id": "msg_mock_0", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "text", "text": "mock: hello world"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 4, "output_tokens": 3},
    });
    assert_eq!(body, expect);
}

#[tokio::test]
async fn anthropic_stream_sends_the_real_event_sequence() {
    let mock = start().await;
    let got = anthropic(&mock, messages("claude-x", "hello world", true)).await;
    assert_eq!(got.header("content-type"), Some("text/event-stream"));
    let delta = "content_block_delta";
    let expect = [
        "message_start",
        "content_block_start",
        "ping",
        delta,
        delta,
        delta,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ];
    assert_eq!(event_names(&got.text), expect);
    let events = sse(&got.text);
    let data: Vec<Value> = events
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    for ((name, _), data) in events.iter().zip(&data) {
        assert_eq!(Some(data["type"].as_str().unwrap()), name.as_deref());
    }
    assert_eq!(text_deltas(&got.text), "mock: hello world");
    assert_eq!(data[0]["message"]["usage"]["input_tokens"], 4);
    assert_eq!(data[7]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[7]["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn anthropic_uses_a_tool_then_echoes_its_result() {
    let mock = start().await;
    let tools = json!([{"name": "search", "input_schema": {"type": "object"}}]);
    let mut body = messages("c", "find cats", false);
    body["tools"] = tools.clone();
    let reply = anthropic(&mock, body.clone()).await.json();
    assert_eq!(reply["stop_reason"], "tool_use");
    let block = &reply["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "search");
    assert_eq!(block["input"], json!({"q": "find cats"}));

    body["stream"] = json!(true);
    let text = anthropic(&mock, body).await.text;
    let data: Vec<Value> = sse(&text)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(data[1]["content_block"]["type"], "tool_use");
    assert_eq!(data[1]["content_block"]["input"], json!({}));
    let pieces: Vec<&str> = data
        .iter()
        .filter(|v| v["delta"]["type"] == "input_json_delta")
        .map(|v| v["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert!((2..=3).contains(&pieces.len()), "{pieces:?}");
    assert_eq!(pieces.concat(), r#"{"q":"find cats"}"#);
    assert!(text.contains(r#""stop_reason":"tool_use""#));

    let result = json!({"type": "tool_result", "tool_use_id": block["id"], "content": "3 cats"});
    let body = json!({"model": "c", "max_tokens": 10, "tools": tools, "messages": [
        {"role": "user", "content": "find cats"},
        {"role": "assistant", "content": [block]},
        {"role": "user", "content": [result]},
    ]});
    let reply = anthropic(&mock, body).await.json();
    assert_eq!(reply["content"][0]["text"], "mock: 3 cats");
    assert_eq!(reply["stop_reason"], "end_turn");
}
