//! `kind = "azure"` against the mock's Azure OpenAI routes.

use seam_providers::{Provider, ProviderError};
use serde_json::json;

use crate::{
    KEY, ask, check_stream_matches, collect, embed, finishes, provider, start, streamed_call,
    streaming, text_of, tool_result, with_tools,
};

fn azure(mock: &seam_testkit::MockUpstream) -> Provider {
    provider(
        &format!(
            "kind = \"azure\"\nbase_url = \"{}\"\napi_key = \"env:KEY\"\napi_version = \"2024-10-21\"",
            mock.base_url()
        ),
        &[],
    )
}

#[tokio::test]
async fn chat_goes_to_the_deployment_with_api_key_and_version() {
    let mock = start().await;
    let p = azure(&mock);
    let c = p.chat("prod-4o", &ask("hello")).await.unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hello");
    assert_eq!(c.model, "prod-4o");
    let seen = &mock.requests()[0];
    assert_eq!(seen.path, "/openai/deployments/prod-4o/chat/completions");
    assert_eq!(seen.header("api-key"), Some(KEY));
    assert!(seen.header("authorization").is_none());
    assert_eq!(mock.hits("prod-4o"), 1);
}

#[tokio::test]
async fn stream_tools_and_embeddings() {
    let mock = start().await;
    let p = azure(&mock);
    check_stream_matches(&p, "prod").await;

    let c = p.chat("prod", &with_tools(ask("Paris"))).await.unwrap();
    let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.arguments, r#"{"q":"Paris"}"#);
    let (chunks, _) = collect(&p, "prod", &with_tools(streaming("Paris"))).await;
    assert_eq!(streamed_call(&chunks).2, r#"{"q":"Paris"}"#);
    assert_eq!(finishes(&chunks), ["tool_calls"]);
    let answer = p
        .chat(
            "prod",
            &tool_result(&call.id, &call.function.arguments, "sunny"),
        )
        .await
        .unwrap();
    assert_eq!(answer.choices[0].message.text(), "mock: sunny");

    let e = p
        .embeddings("emb", &embed(json!({"model": "x", "input": ["a", "b"]})))
        .await
        .unwrap();
    assert_eq!(e.data.len(), 2);
    assert_eq!(e.model, "emb");
}

#[tokio::test]
async fn faults() {
    let mock = start().await;
    let p = azure(&mock);
    assert!(matches!(
        p.chat("fault-429", &ask("x")).await,
        Err(ProviderError::Status {
            status: 429,
            retry_after: Some(1),
            ..
        })
    ));
    let (chunks, err) = collect(&p, "fault-cut-stream-2", &streaming("a b c d")).await;
    assert_eq!(text_of(&chunks), "mock: a");
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");
}
