//! `kind = "gemini"` against the mock's Gemini routes.

use seam_providers::{Provider, ProviderError};
use serde_json::json;

use crate::{
    KEY, ask, check_stream_matches, collect, embed, finishes, provider, start, streamed_call,
    streaming, text_of, tool_result, with_tools,
};

fn gemini(mock: &seam_testkit::MockUpstream) -> Provider {
    provider(
        &format!(
            "kind = \"gemini\"\nbase_url = \"{}\"\napi_key = \"env:KEY\"",
            mock.base_url()
        ),
        &[],
    )
}

#[tokio::test]
async fn chat_translates_both_ways_and_keeps_the_key_out_of_the_url() {
    let mock = start().await;
    let p = gemini(&mock);
    let c = p.chat("gemini-mock", &ask("hello world")).await.unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hello world");
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.id, "chatcmpl-gemini_mock_0");
    let usage = c.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (4, 3, 7)
    );
    let seen = &mock.requests()[0];
    assert_eq!(seen.path, "/v1beta/models/gemini-mock:generateContent");
    assert_eq!(seen.header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        seen.body["systemInstruction"],
        json!({"parts": [{"text": "be brief"}]})
    );
}

#[tokio::test]
async fn stream_matches_the_completion() {
    let mock = start().await;
    check_stream_matches(&gemini(&mock), "gemini-mock").await;
}

#[tokio::test]
async fn tool_calls_and_results_round_trip() {
    let mock = start().await;
    let p = gemini(&mock);
    let c = p.chat("g", &with_tools(ask("Paris"))).await.unwrap();
    let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "call_0");
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, r#"{"q":"Paris"}"#);
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    // The schema reached the mock without the keywords Gemini rejects.
    let declared = &mock.requests()[0].body["tools"][0]["functionDeclarations"][0];
    assert!(declared["parameters"].get("additionalProperties").is_none());

    let (chunks, err) = collect(&p, "g", &with_tools(streaming("Paris"))).await;
    assert!(err.is_none(), "{err:?}");
    let (id, name, args) = streamed_call(&chunks);
    assert_eq!(
        (id.as_str(), name.as_str(), args.as_str()),
        ("call_0", "get_weather", r#"{"q":"Paris"}"#)
    );
    assert_eq!(finishes(&chunks), ["tool_calls"]);

    let answer = p
        .chat(
            "g",
            &tool_result(&call.id, &call.function.arguments, "sunny"),
        )
        .await
        .unwrap();
    assert_eq!(answer.choices[0].message.text(), "mock: sunny");
}

#[tokio::test]
async fn upstream_errors_and_broken_streams() {
    let mock = start().await;
    let p = gemini(&mock);
    match p.chat("fault-429", &ask("x")).await {
        Err(ProviderError::Status {
            status: 429,
            retry_after: Some(1),
            code,
            ..
        }) => {
            assert_eq!(code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.chat("fault-500", &ask("x")).await,
        Err(ProviderError::Status { status: 500, .. })
    ));

    // A body that ends without a finishReason is cut, never complete.
    let (chunks, err) = collect(&p, "fault-cut-stream-3", &streaming("a b c d e")).await;
    assert_eq!(text_of(&chunks), "mock: a b");
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");

    let (_, err) = collect(&p, "fault-stream-error", &streaming("a b c d")).await;
    match err {
        Some(ProviderError::StreamCut(m)) => assert!(m.contains("UNAVAILABLE"), "{m}"),
        other => panic!("{other:?}"),
    }
    let (_, err) = collect(&p, "fault-truncated-json", &streaming("a b")).await;
    assert!(
        matches!(err, Some(ProviderError::InvalidResponse(_))),
        "{err:?}"
    );
    let (_, err) = collect(&p, "fault-abort-stream-1", &streaming("a b")).await;
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");
}

#[tokio::test]
async fn embeddings_in_both_encodings() {
    let mock = start().await;
    let p = gemini(&mock);
    let req = json!({"model": "e", "input": ["alpha", "beta"], "dimensions": 16});
    let floats = p
        .embeddings("text-embedding-004", &embed(req.clone()))
        .await
        .unwrap();
    assert_eq!(floats.data.len(), 2);
    assert_eq!(floats.data[0].embedding.as_array().unwrap().len(), 16);
    assert_eq!(
        mock.requests()[0].path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    let mut b64 = req;
    b64["encoding_format"] = json!("base64");
    let encoded = p
        .embeddings("text-embedding-004", &embed(b64))
        .await
        .unwrap();
    assert!(encoded.data[1].embedding.is_string());
}
