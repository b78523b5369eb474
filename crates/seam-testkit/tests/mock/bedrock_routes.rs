//! `/model/{id}/converse` and `/converse-stream` as an AWS client sees them: SigV4 verified
//! against the test credentials, binary event-stream answers.

use seam_testkit::{BEDROCK_TEST_SESSION_TOKEN, MockUpstream, sign_bedrock_request};
use serde_json::{Value, json};

use crate::{Got, client, post, start};

const DATE: &str = "20250301T120000Z";

/// POSTs to `/model/{id}/{op}` signed with the test credentials; `id` as it goes on the wire.
async fn bedrock(mock: &MockUpstream, id: &str, op: &str, body: &Value) -> Got {
    let path = format!("/model/{id}/{op}");
    let bytes = body.to_string();
    let host = mock.addr().to_string();
    let signed = sign_bedrock_request("POST", &host, &path, bytes.as_bytes(), DATE, None);
    let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    post(format!("{}{path}", mock.base_url()), &headers, body).await
}

fn ask(text: &str) -> Value {
    json!({"system": [{"text": "be brief"}], "inferenceConfig": {"maxTokens": 64},
           "messages": [{"role": "user", "content": [{"text": text}]}]})
}

/// Each message of an event stream as (string headers, payload JSON). Lengths are trusted; the
/// CRCs are Seam's decoder's business and are checked there.
fn frames(mut bytes: &[u8]) -> Vec<(Vec<(String, String)>, Value)> {
    let mut out = Vec::new();
    while bytes.len() >= 16 {
        let word = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap()) as usize;
        let (total, headers_len) = (word(&bytes[0..4]), word(&bytes[4..8]));
        let mut h = &bytes[12..12 + headers_len];
        let mut headers = Vec::new();
        while !h.is_empty() {
            let n = h[0] as usize;
            let name = String::from_utf8(h[1..1 + n].to_vec()).unwrap();
            assert_eq!(h[1 + n], 7, "string headers only");
            let len = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            let value = String::from_utf8(h[4 + n..4 + n + len].to_vec()).unwrap();
            headers.push((name, value));
            h = &h[4 + n + len..];
        }
        let payload = &bytes[12 + headers_len..total - 4];
        let payload = serde_json::from_slice(payload).unwrap_or(Value::Null);
        out.push((headers, payload));
        bytes = &bytes[total..];
    }
    assert!(bytes.is_empty(), "a partial frame at the end");
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn stream_bytes(
    mock: &MockUpstream,
    id: &str,
    body: &Value,
) -> (u16, Option<String>, Vec<u8>) {
    let path = format!("/model/{id}/converse-stream");
    let bytes = body.to_string();
    let host = mock.addr().to_string();
    let mut req = client()
        .post(format!("{}{path}", mock.base_url()))
        .header("content-type", "application/json")
        .body(bytes.clone());
    for (n, v) in sign_bedrock_request("POST", &host, &path, bytes.as_bytes(), DATE, None) {
        req = req.header(n, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn signatures_are_verified() {
    let mock = start().await;
    let url = format!("{}/model/m/converse", mock.base_url());
    let got = post(url.clone(), &[], &ask("hi")).await;
    assert_eq!(got.status, 403);
    assert_eq!(
        got.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(
        got.json(),
        json!({"message": "Missing Authentication Token"})
    );

    // Signed for another body.
    let signed = sign_bedrock_request(
        "POST",
        &mock.addr().to_string(),
        "/model/m/converse",
        b"{}",
        DATE,
        None,
    );
    let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let got = post(url.clone(), &headers, &ask("hi")).await;
    assert_eq!(got.status, 403);
    assert_eq!(
        got.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );

    let body = ask("hi").to_string();
    let signed = sign_bedrock_request(
        "POST",
        &mock.addr().to_string(),
        "/model/m/converse",
        body.as_bytes(),
        DATE,
        Some(BEDROCK_TEST_SESSION_TOKEN),
    );
    let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(post(url.clone(), &headers, &ask("hi")).await.status, 200);

    let got = post(
        url,
        &[("authorization", "Bearer bedrock-api-key")],
        &ask("hi"),
    )
    .await;
    assert_eq!(got.status, 200);
    assert!(
        got.header("x-amzn-requestid")
            .unwrap()
            .starts_with("mock-request-")
    );
}

#[tokio::test]
async fn converse_has_the_converse_shape_and_decodes_the_model_id() {
    let mock = start().await;
    let got = bedrock(
        &mock,
        "anthropic.claude-v2%3A1",
        "converse",
        &ask("hello world"),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text);
    let expect = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "mock: hello world"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 4, "outputTokens": 3, "totalTokens": 7},
        "metrics": {"latencyMs": 1},
    });
    assert_eq!(got.json(), expect);
    assert_eq!(mock.hits("anthropic.claude-v2:1"), 1);
}

#[tokio::test]
async fn converse_stream_sends_binary_events() {
    let mock = start().await;
    let (status, content_type, bytes) = stream_bytes(&mock, "m", &ask("one two")).await;
    assert_eq!(status, 200);
    assert_eq!(
        content_type.as_deref(),
        Some("application/vnd.amazon.eventstream")
    );
    let frames = frames(&bytes);
    let kinds: Vec<&str> = frames
        .iter()
        .map(|(h, _)| header(h, ":event-type"))
        .collect();
    let delta = "contentBlockDelta";
    assert_eq!(
        kinds,
        [
            "messageStart",
            delta,
            delta,
            delta,
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    let text: String = frames
        .iter()
        .filter_map(|(_, p)| p["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "mock: one two");
    assert_eq!(frames[5].1, json!({"stopReason": "end_turn"}));
    assert_eq!(frames[6].1["usage"]["outputTokens"], 3);
    assert!(
        frames
            .iter()
            .all(|(h, _)| header(h, ":message-type") == "event")
    );
}

#[tokio::test]
async fn converse_uses_a_tool_then_echoes_its_result() {
    let mock = start().await;
    let tools = json!({"tools": [{"toolSpec": {"name": "search", "inputSchema": {"json": {"type": "object"}}}}]});
    let mut body = ask("find cats");
    body["toolConfig"] = tools.clone();
    let reply = bedrock(&mock, "m", "converse", &body).await.json();
    assert_eq!(reply["stopReason"], "tool_use");
    let block = reply["output"]["message"]["content"][0].clone();
    assert_eq!(block["toolUse"]["input"], json!({"q": "find cats"}));

    let (_, _, bytes) = stream_bytes(&mock, "m", &body).await;
    let frames = frames(&bytes);
    assert_eq!(frames[1].1["start"]["toolUse"]["name"], "search");
    let args: String = frames
        .iter()
        .filter_map(|(_, p)| p["delta"]["toolUse"]["input"].as_str())
        .collect();
    assert_eq!(args, r#"{"q":"find cats"}"#);

    let id = block["toolUse"]["toolUseId"].clone();
    let body = json!({"toolConfig": tools, "messages": [
        {"role": "user", "content": [{"text": "find cats"}]},
        {"role": "assistant", "content": [block]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": id, "content": [{"text": "3 cats"}]}}]},
    ]});
    let reply = bedrock(&mock, "m", "converse", &body).await.json();
    assert_eq!(
        reply["output"]["message"]["content"][0]["text"],
        "mock: 3 cats"
    );
}

#[tokio::test]
async fn bedrock_faults() {
    let mock = start().await;
    for (model, status, kind) in [
        ("fault-429", 429, "ThrottlingException"),
        ("fault-500", 500, "InternalServerException"),
        ("fault-400", 400, "ValidationException"),
    ] {
        let got = bedrock(&mock, model, "converse", &ask("x")).await;
        assert_eq!(got.status, status, "{model}");
        assert_eq!(got.header("x-amzn-errortype"), Some(kind), "{model}");
        assert!(got.json()["message"].is_string());
    }
    let invalid = bedrock(&mock, "m", "converse", &json!({"messages": []})).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.header("x-amzn-errortype"),
        Some("ValidationException")
    );

    let (_, _, bytes) = stream_bytes(&mock, "fault-cut-stream-1", &ask("a b c")).await;
    let kinds: Vec<String> = frames(&bytes)
        .iter()
        .map(|(h, _)| header(h, ":event-type").to_owned())
        .collect();
    assert_eq!(kinds, ["messageStart", "contentBlockDelta"]);

    let (_, _, bytes) = stream_bytes(&mock, "fault-stream-error", &ask("a b c")).await;
    let frames_ = frames(&bytes);
    let (headers, payload) = frames_.last().unwrap();
    assert_eq!(header(headers, ":message-type"), "exception");
    assert_eq!(
        header(headers, ":exception-type"),
        "modelStreamErrorException"
    );
    assert_eq!(payload["message"], "mock overloaded");

    let (_, _, bytes) = stream_bytes(&mock, "fault-truncated-json", &ask("a b c")).await;
    let frames_ = frames(&bytes);
    assert_eq!(frames_.len(), 2);
    assert_eq!(frames_[1].1, Value::Null, "the payload is cut JSON");
}
