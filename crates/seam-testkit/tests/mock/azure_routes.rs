//! `/openai/deployments/{deployment}/…` as an Azure OpenAI client sees it.

use serde_json::{Value, json};

use crate::{Got, chat, chat_stream, chunks, content_of, post, start};

async fn azure(mock: &seam_testkit::MockUpstream, route: &str, body: &Value) -> Got {
    let url = format!("{}/openai/deployments/{route}", mock.base_url());
    post(url, &[("api-key", "azure-key")], body).await
}

#[tokio::test]
async fn azure_requires_api_key_and_api_version() {
    let mock = start().await;
    let url = format!(
        "{}/openai/deployments/prod/chat/completions?api-version=2024-10-21",
        mock.base_url()
    );
    let got = post(url.clone(), &[], &chat("x", "hi")).await;
    assert_eq!(got.status, 401);
    assert!(got.json()["error"]["message"].is_string());
    let bearer = post(url, &[("authorization", "Bearer k")], &chat("x", "hi")).await;
    assert_eq!(bearer.status, 401);
    let got = azure(&mock, "prod/chat/completions", &chat("x", "hi")).await;
    assert_eq!(got.status, 400);
    assert_eq!(got.json()["error"]["param"], "api-version");
}

#[tokio::test]
async fn the_deployment_is_the_model() {
    let mock = start().await;
    let route = "prod-4o/chat/completions?api-version=2024-10-21";
    let body = azure(&mock, route, &chat("ignored", "hello")).await.json();
    assert_eq!(body["model"], "prod-4o");
    assert_eq!(body["choices"][0]["message"]["content"], "mock: hello");
    assert_eq!(mock.hits("prod-4o"), 1);
    let seen = &mock.requests()[0];
    assert_eq!(seen.path, "/openai/deployments/prod-4o/chat/completions");
    assert_eq!(seen.header("api-key"), Some("azure-key"));

    let text = azure(&mock, route, &chat_stream("ignored", "a b"))
        .await
        .text;
    assert_eq!(content_of(&chunks(&text)), "mock: a b");
    assert!(text.ends_with("data: [DONE]\n\n"));

    let route = "emb/embeddings?api-version=2024-10-21";
    let body = azure(&mock, route, &json!({"input": ["a", "b"]}))
        .await
        .json();
    assert_eq!(body["model"], "emb");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn azure_faults_come_from_the_deployment() {
    let mock = start().await;
    let route = "fault-429/chat/completions?api-version=1";
    let got = azure(&mock, route, &chat("gpt", "x")).await;
    assert_eq!(got.status, 429);
    assert_eq!(got.header("retry-after"), Some("1"));
    assert_eq!(got.json()["error"]["type"], "requests");
    let route = "fault-cut-stream-1/chat/completions?api-version=1";
    let text = azure(&mock, route, &chat_stream("gpt", "a b c")).await.text;
    assert_eq!(content_of(&chunks(&text)), "mock:");
    assert!(!text.contains("[DONE]"));
    let missing = azure(&mock, "d/completions?api-version=1", &chat("m", "x")).await;
    assert_eq!(missing.status, 404);
}
