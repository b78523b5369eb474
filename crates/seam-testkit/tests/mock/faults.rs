//! Every fault, selected by `model`, in both wire formats.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{
    CHAT, anthropic, chat, chat_stream, chunks, client, content_of, event_names, messages, openai,
    sse, start, text_deltas,
};

#[tokio::test]
async fn status_faults_answer_in_the_route_format() {
    let mock = start().await;
    let cases = [
        ("fault-500", 500, "server_error", "api_error"),
        ("fault-503", 503, "server_error", "overloaded_error"),
        ("fault-429", 429, "requests", "rate_limit_error"),
        (
            "fault-400",
            400,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            "fault-401",
            401,
            "invalid_request_error",
            "authentication_error",
        ),
        ("fault-529", 529, "server_error", "overloaded_error"),
    ];
    for (model, status, openai_type, anthropic_type) in cases {
        let retry_after = (status == 429).then_some("1");
        let got = openai(&mock, CHAT, chat(model, "x")).await;
        assert_eq!(got.status, status, "{model}");
        assert_eq!(got.header("retry-after"), retry_after, "{model}");
        let error = &got.json()["error"];
        assert_eq!(error["type"], openai_type, "{model}");
        assert!(error.get("param").is_some() && error.get("code").is_some());

        let got = anthropic(&mock, messages(model, "x", true)).await;
        assert_eq!(got.status, status, "{model}");
        assert_eq!(got.header("retry-after"), retry_after, "{model}");
        assert_eq!(got.json()["type"], "error");
        assert_eq!(got.json()["error"]["type"], anthropic_type, "{model}");

        let got = openai(&mock, "/embeddings", json!({"model": model, "input": "x"})).await;
        assert_eq!(got.status, status, "{model}");
    }
}

#[tokio::test]
async fn fault_400_has_the_documented_body() {
    let mock = start().await;
    let body = openai(&mock, CHAT, chat("fault-400", "x")).await.json();
    let expect = json!({"error": {"message": "mock rejected the request",
        "type": "invalid_request_error", "code": "mock_bad_request", "param": null}});
    assert_eq!(body, expect);
}

#[tokio::test]
async fn fault_reset_closes_the_connection_without_a_response() {
    let mock = start().await;
    let err = client()
        .post(format!("{}{CHAT}", mock.openai_base_url()))
        .body(chat("fault-reset", "x").to_string())
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");

    // On a raw socket: not one byte comes back, and the close is a reset.
    for route in ["/v1/chat/completions", "/v1/messages"] {
        let body = messages("fault-reset", "x", false).to_string();
        let mut stream = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
        let request = format!(
            "POST {route} HTTP/1.1\r\nhost: mock\r\nx-api-key: k\r\nanthropic-version: 1\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        let read = stream.read_to_end(&mut received);
        let read = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .unwrap();
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
        assert_eq!(
            read.unwrap_err().kind(),
            std::io::ErrorKind::ConnectionReset
        );
    }

    // Other connections are unaffected.
    assert_eq!(openai(&mock, CHAT, chat("m", "x")).await.status, 200);
    assert_eq!(mock.hits("fault-reset"), 3);
}

#[tokio::test]
async fn slow_first_byte_delays_the_headers_then_answers() {
    let mock = start().await;
    let started = Instant::now();
    let body = openai(&mock, CHAT, chat("fault-slow-first-byte-300", "x"))
        .await
        .json();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["choices"][0]["message"]["content"], "mock: x");
    assert_eq!(body["model"], "fault-slow-first-byte-300");
}

#[tokio::test]
async fn truncated_json_stops_mid_document() {
    let mock = start().await;
    let model = "fault-truncated-json";
    for got in [
        openai(&mock, CHAT, chat(model, "hello")).await,
        anthropic(&mock, messages(model, "hello", false)).await,
        openai(&mock, "/embeddings", json!({"model": model, "input": "x"})).await,
    ] {
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert!(
            got.text.starts_with('{') && got.text.len() > 10,
            "{}",
            got.text
        );
        assert!(
            serde_json::from_str::<Value>(&got.text).is_err(),
            "{}",
            got.text
        );
    }
    // A stream: one event whose JSON is cut, then the end.
    let text = openai(&mock, CHAT, chat_stream(model, "hello")).await.text;
    let (_, last) = sse(&text).pop().unwrap();
    assert!(serde_json::from_str::<Value>(&last).is_err(), "{text}");
    assert!(!text.contains("[DONE]"));
}

#[tokio::test]
async fn cut_stream_ends_after_n_content_chunks() {
    let mock = start().await;
    let text = openai(&mock, CHAT, chat_stream("fault-cut-stream-2", "a b c d"))
        .await
        .text;
    let chunks = chunks(&text);
    assert_eq!(content_of(&chunks), "mock: a");
    assert!(!text.contains("[DONE]"));
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );

    let text = anthropic(&mock, messages("fault-cut-stream-3", "a b c d", true))
        .await
        .text;
    assert_eq!(text_deltas(&text), "mock: a b");
    assert_eq!(event_names(&text).last().unwrap(), "content_block_delta");

    // Stream faults leave non-stream requests alone.
    let body = openai(&mock, CHAT, chat("fault-cut-stream-2", "a b"))
        .await
        .json();
    assert_eq!(body["choices"][0]["message"]["content"], "mock: a b");
}

#[tokio::test]
async fn abort_stream_fails_the_body_mid_transfer() {
    let mock = start().await;
    let resp = client()
        .post(format!("{}{CHAT}", mock.openai_base_url()))
        .body(chat_stream("fault-abort-stream-1", "a b c").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(item) = body.next().await {
        match item {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => failed = true,
        }
    }
    let received = String::from_utf8_lossy(&received);
    assert!(failed, "the body ended cleanly: {received}");
    assert_eq!(content_of(&chunks(&received)), "mock:");
}

#[tokio::test]
async fn stream_error_sends_an_in_band_error_event() {
    let mock = start().await;
    let text = openai(&mock, CHAT, chat_stream("fault-stream-error", "a b c d"))
        .await
        .text;
    let chunks = chunks(&text);
    assert_eq!(content_of(&chunks), "mock: a");
    let error = json!({"error": {"message": "mock overloaded", "type": "server_error"}});
    assert_eq!(chunks.last(), Some(&error));
    assert!(!text.contains("[DONE]"));

    let text = anthropic(&mock, messages("fault-stream-error", "a b c d", true))
        .await
        .text;
    let (name, data) = sse(&text).pop().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "mock overloaded"}});
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap(), error);
    assert_eq!(text_deltas(&text), "mock: a");
}

#[tokio::test]
async fn slow_stream_paces_every_event() {
    let mock = start().await;
    let started = Instant::now();
    let text = openai(&mock, CHAT, chat_stream("fault-slow-stream-40", "a b"))
        .await
        .text;
    // Role chunk, three pieces, finish, usage, [DONE]: six gaps.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(6 * 40), "{elapsed:?}");
    assert_eq!(content_of(&chunks(&text)), "mock: a b");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn unknown_faults_are_rejected_loudly() {
    let mock = start().await;
    let got = openai(&mock, CHAT, chat("fault-typo", "x")).await;
    assert_eq!(got.status, 400);
    let message = got.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("fault-typo"), "{message}");
}
