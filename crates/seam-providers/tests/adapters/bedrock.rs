//! `kind = "bedrock"` against the mock's Converse routes, which verify every SigV4 signature.

use seam_providers::{Provider, ProviderError};
use seam_testkit::{
    BEDROCK_TEST_ACCESS_KEY_ID, BEDROCK_TEST_REGION, BEDROCK_TEST_SECRET_ACCESS_KEY,
    BEDROCK_TEST_SESSION_TOKEN,
};
use serde_json::json;

use crate::{
    ask, check_stream_matches, collect, embed, finishes, provider, start, streamed_call, streaming,
    text_of, tool_result, with_tools,
};

/// A model id with the `:` that must be encoded in the path and again in the signature.
const MODEL: &str = "anthropic.claude-mock-v1:0";

fn bedrock_with(mock: &seam_testkit::MockUpstream, secret: &str, token: Option<&str>) -> Provider {
    let mut table = format!(
        "kind = \"bedrock\"\nbase_url = \"{}\"\nregion = \"{BEDROCK_TEST_REGION}\"\n\
         aws_access_key_id = \"env:AWS_ID\"\naws_secret_access_key = \"env:AWS_SECRET\"",
        mock.base_url()
    );
    if token.is_some() {
        table.push_str("\naws_session_token = \"env:AWS_TOKEN\"");
    }
    provider(
        &table,
        &[
            ("AWS_ID", BEDROCK_TEST_ACCESS_KEY_ID),
            ("AWS_SECRET", secret),
            ("AWS_TOKEN", token.unwrap_or("")),
        ],
    )
}

fn bedrock(mock: &seam_testkit::MockUpstream) -> Provider {
    bedrock_with(mock, BEDROCK_TEST_SECRET_ACCESS_KEY, None)
}

#[tokio::test]
async fn signed_requests_pass_verification() {
    let mock = start().await;
    let c = bedrock(&mock)
        .chat(MODEL, &ask("hello world"))
        .await
        .unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hello world");
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.id, "chatcmpl-mock-request-0");
    assert_eq!(c.model, MODEL);
    let seen = &mock.requests()[0];
    assert_eq!(seen.path, "/model/anthropic.claude-mock-v1%3A0/converse");
    assert_eq!(mock.hits(MODEL), 1);
    assert!(
        seen.header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=")
    );
    assert!(seen.header("x-amz-security-token").is_none());

    // Temporary credentials sign their session token too.
    let p = bedrock_with(
        &mock,
        BEDROCK_TEST_SECRET_ACCESS_KEY,
        Some(BEDROCK_TEST_SESSION_TOKEN),
    );
    p.chat(MODEL, &ask("x")).await.unwrap();
    assert_eq!(
        mock.requests()[1].header("x-amz-security-token"),
        Some(BEDROCK_TEST_SESSION_TOKEN)
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_awss_error() {
    let mock = start().await;
    let p = bedrock_with(&mock, "not-the-secret", None);
    match p.chat(MODEL, &ask("x")).await {
        Err(ProviderError::Status {
            status: 403,
            kind,
            message,
            ..
        }) => {
            assert_eq!(kind.as_deref(), Some("InvalidSignatureException"));
            assert!(message.contains("signature"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_bedrock_api_key_is_a_bearer_token() {
    let mock = start().await;
    let p = crate::provider(
        &format!(
            "kind = \"bedrock\"\nbase_url = \"{}\"\nregion = \"us-west-2\"\napi_key = \"env:KEY\"",
            mock.base_url()
        ),
        &[],
    );
    p.chat(MODEL, &ask("x")).await.unwrap();
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some(format!("Bearer {}", crate::KEY).as_str())
    );
}

#[tokio::test]
async fn stream_matches_the_completion() {
    let mock = start().await;
    check_stream_matches(&bedrock(&mock), MODEL).await;
}

#[tokio::test]
async fn tool_calls_and_results_round_trip() {
    let mock = start().await;
    let p = bedrock(&mock);
    let c = p.chat(MODEL, &with_tools(ask("Paris"))).await.unwrap();
    let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, r#"{"q":"Paris"}"#);
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("tool_calls"));

    let (chunks, err) = collect(&p, MODEL, &with_tools(streaming("Paris"))).await;
    assert!(err.is_none(), "{err:?}");
    let (id, name, args) = streamed_call(&chunks);
    assert!(id.starts_with("tooluse_"), "{id}");
    assert_eq!(
        (name.as_str(), args.as_str()),
        ("get_weather", r#"{"q":"Paris"}"#)
    );
    assert_eq!(finishes(&chunks), ["tool_calls"]);

    let answer = p
        .chat(
            MODEL,
            &tool_result(&call.id, &call.function.arguments, "sunny"),
        )
        .await
        .unwrap();
    assert_eq!(answer.choices[0].message.text(), "mock: sunny");
}

#[tokio::test]
async fn upstream_errors_and_broken_streams() {
    let mock = start().await;
    let p = bedrock(&mock);
    match p.chat("fault-429", &ask("x")).await {
        Err(ProviderError::Status {
            status: 429,
            kind,
            message,
            ..
        }) => {
            assert_eq!(kind.as_deref(), Some("ThrottlingException"));
            assert_eq!(message, "mock: rate limit reached");
        }
        other => panic!("{other:?}"),
    }
    let (chunks, err) = collect(&p, "fault-cut-stream-3", &streaming("a b c d e")).await;
    assert_eq!(text_of(&chunks), "mock: a b");
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");
    match collect(&p, "fault-stream-error", &streaming("a b c d"))
        .await
        .1
    {
        Some(ProviderError::StreamCut(m)) => {
            assert!(m.contains("modelStreamErrorException"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let (_, err) = collect(&p, "fault-truncated-json", &streaming("a b")).await;
    assert!(
        matches!(err, Some(ProviderError::InvalidResponse(_))),
        "{err:?}"
    );
    assert!(matches!(
        p.embeddings(MODEL, &embed(json!({"model": "e", "input": "x"})))
            .await,
        Err(ProviderError::Unsupported(_))
    ));
}
