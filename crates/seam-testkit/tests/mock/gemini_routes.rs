//! `/v1beta/models/{model}:…` as a Gemini client sees it.

use serde_json::{Value, json};

use crate::{Got, post, sse, start};

const KEY: [(&str, &str); 1] = [("x-goog-api-key", "AIza-test")];

async fn gemini(mock: &seam_testkit::MockUpstream, target: &str, body: &Value) -> Got {
    post(
        format!("{}/v1beta/models/{target}", mock.base_url()),
        &KEY,
        body,
    )
    .await
}

fn ask(text: &str) -> Value {
    json!({"systemInstruction": {"parts": [{"text": "be brief"}]},
           "contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// The `data` of each event, as JSON (Gemini ends lines with CRLF; `sse` splits on LF).
fn events(text: &str) -> Vec<Value> {
    sse(&text.replace("\r\n", "\n"))
        .into_iter()
        .map(|(_, d)| serde_json::from_str(&d).unwrap())
        .collect()
}

fn text_of(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect()
}

#[tokio::test]
async fn gemini_requires_its_key_header() {
    let mock = start().await;
    let url = format!("{}/v1beta/models/g:generateContent", mock.base_url());
    let got = post(url, &[], &ask("hi")).await;
    assert_eq!(got.status, 403);
    assert_eq!(got.json()["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(got.json()["error"]["code"], 403);
}

#[tokio::test]
async fn generate_content_has_the_gemini_shape() {
    let mock = start().await;
    let got = gemini(&mock, "gemini-x:generateContent", &ask("hello world")).await;
    assert_eq!(got.status, 200);
    let expect = json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "mock: hello world"}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7},
        "modelVersion": "gemini-x",
        "responseId": "gemini_mock_0",
    });
    assert_eq!(got.json(), expect);
    assert_eq!(mock.hits("gemini-x"), 1);
    assert_eq!(mock.requests()[0].path_model.as_deref(), Some("gemini-x"));

    let mut two = ask("x");
    two["generationConfig"] = json!({"candidateCount": 2});
    let body = gemini(&mock, "g:generateContent", &two).await.json();
    assert_eq!(body["candidates"][1]["index"], 1);
}

#[tokio::test]
async fn stream_needs_alt_sse_and_ends_with_finish_and_usage() {
    let mock = start().await;
    let got = gemini(&mock, "g:streamGenerateContent", &ask("a b")).await;
    assert_eq!(got.status, 400);

    let got = gemini(
        &mock,
        "g:streamGenerateContent?alt=sse",
        &ask("one two three"),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("text/event-stream"));
    assert!(got.text.contains("\r\n\r\n"));
    let events = events(&got.text);
    assert_eq!(text_of(&events), "mock: one two three");
    let (last, pieces) = events.split_last().unwrap();
    assert!(
        pieces
            .iter()
            .all(|e| e["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 4);
}

#[tokio::test]
async fn gemini_calls_a_function_then_echoes_its_response() {
    let mock = start().await;
    let tools = json!([{"functionDeclarations": [
        {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        {"name": "lookup"}]}]);
    let mut body = ask("find cats");
    body["tools"] = tools.clone();
    let reply = gemini(&mock, "g:generateContent", &body).await.json();
    let part = &reply["candidates"][0]["content"]["parts"][0];
    assert_eq!(
        part,
        &json!({"functionCall": {"name": "search", "args": {"q": "find cats"}}})
    );
    assert_eq!(reply["candidates"][0]["finishReason"], "STOP");

    body["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}});
    let text = gemini(&mock, "g:streamGenerateContent?alt=sse", &body)
        .await
        .text;
    let events = events(&text);
    assert_eq!(
        events[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "lookup"
    );
    body["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
    let reply = gemini(&mock, "g:generateContent", &body).await.json();
    assert_eq!(
        reply["candidates"][0]["content"]["parts"][0]["text"],
        "mock: find cats"
    );

    let body = json!({"tools": tools, "contents": [
        {"role": "user", "parts": [{"text": "find cats"}]},
        {"role": "model", "parts": [part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "search", "response": {"result": "3 cats"}}}]},
    ]});
    let reply = gemini(&mock, "g:generateContent", &body).await.json();
    assert_eq!(
        reply["candidates"][0]["content"]["parts"][0]["text"],
        "mock: 3 cats"
    );
}

#[tokio::test]
async fn gemini_rejects_what_gemini_rejects() {
    let mock = start().await;
    let with = |patch: Value| {
        let mut b = ask("x");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        json!({"model": "g"}),
        json!({"contents": []}),
        json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
        json!({"contents": [{"role": "user", "parts": []}]}),
        json!({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "text"}}]}]}),
        json!({"generationConfig": {"max_tokens": 3}}),
        json!({"generationConfig": {"responseSchema": {"type": "object", "additionalProperties": false}}}),
        json!({"tools": [{"functionDeclarations": [{"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "string", "$schema": "x"}}}}]}]}),
    ];
    for patch in cases {
        let got = gemini(&mock, "g:generateContent", &with(patch.clone())).await;
        assert_eq!(got.status, 400, "{patch}");
        assert_eq!(got.json()["error"]["status"], "INVALID_ARGUMENT", "{patch}");
    }
}

#[tokio::test]
async fn batch_embed_contents() {
    let mock = start().await;
    let req = |model: &str, text: &str| json!({"model": model, "content": {"parts": [{"text": text}]}, "outputDimensionality": 4});
    let body = json!({"requests": [req("models/emb", "a b"), req("models/emb", "c")]});
    let got = gemini(&mock, "emb:batchEmbedContents", &body).await.json();
    let vectors = got["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0]["values"].as_array().unwrap().len(), 4);
    assert_ne!(vectors[0], vectors[1]);
    let again = gemini(&mock, "emb:batchEmbedContents", &body).await.json();
    assert_eq!(got, again);

    let wrong = json!({"requests": [req("models/other", "a")]});
    let got = gemini(&mock, "emb:batchEmbedContents", &wrong).await;
    assert_eq!(got.status, 400);
}

#[tokio::test]
async fn gemini_faults_come_from_the_model_in_the_url() {
    let mock = start().await;
    let got = gemini(&mock, "fault-429:generateContent", &ask("x")).await;
    assert_eq!(got.status, 429);
    assert_eq!(got.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(mock.hits("fault-429"), 1);

    let text = gemini(
        &mock,
        "fault-cut-stream-2:streamGenerateContent?alt=sse",
        &ask("a b c d"),
    )
    .await
    .text;
    assert_eq!(text_of(&events(&text)), "mock: a");
    assert!(!text.contains("finishReason"));

    let text = gemini(
        &mock,
        "fault-stream-error:streamGenerateContent?alt=sse",
        &ask("a b c d"),
    )
    .await
    .text;
    let events = events(&text);
    assert_eq!(events.last().unwrap()["error"]["status"], "UNAVAILABLE");

    let missing = gemini(&mock, "g:countTokens", &ask("x")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["status"], "NOT_FOUND");
}
