//! `kind = "openai"` against the mock's lax shapes: what self-hosted servers and proxies that call
//! themselves OpenAI-compatible send. Every answer must come back complete and OpenAI-shaped.

use seam_providers::{Provider, ProviderError};
use seam_types::chat::Role;
use serde_json::json;

use crate::{ask, streaming};
use crate::{collect, embed, finishes, provider, start, streamed_call, text_of, with_tools};

fn openai(mock: &seam_testkit::MockUpstream) -> Provider {
    provider(
        &format!(
            "kind = \"openai\"\nbase_url = \"{}\"",
            mock.openai_base_url()
        ),
        &[],
    )
}

#[tokio::test]
async fn lax_unary_answers_are_completed() {
    let mock = start().await;
    let p = openai(&mock);
    for model in ["lax-minimal", "lax-no-id"] {
        let c = p.chat(model, &ask("hello")).await.unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert!(
            v["id"].as_str().unwrap().starts_with("chatcmpl-"),
            "{model}: {v}"
        );
        assert_eq!(v["object"], "chat.completion", "{model}");
        assert!(v["created"].as_u64().unwrap() > 0, "{model}");
        assert_eq!(v["model"], model);
        assert_eq!(v["choices"][0]["index"], 0, "{model}");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant", "{model}");
        assert_eq!(
            v["choices"][0]["message"]["content"], "mock: hello",
            "{model}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{model}");

        let c = p.chat(model, &with_tools(ask("Paris"))).await.unwrap();
        let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
        assert!(!call.id.is_empty(), "{model}");
        assert_eq!(call.kind, "function");
        assert_eq!(call.function.arguments, r#"{"q":"Paris"}"#);
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    }
}

#[tokio::test]
async fn lax_streams_are_completed() {
    let mock = start().await;
    let p = openai(&mock);
    for model in ["lax-minimal", "lax-no-id", "lax-no-done"] {
        let (chunks, err) = collect(&p, model, &streaming("one two three")).await;
        assert!(err.is_none(), "{model}: {err:?}");
        assert_eq!(text_of(&chunks), "mock: one two three", "{model}");
        assert_eq!(finishes(&chunks), ["stop"], "{model}");
        let first = chunks[0].choices[0].delta.role;
        assert_eq!(first, Some(Role::Assistant), "{model}");
        let id = &chunks[0].id;
        assert!(id.starts_with("chatcmpl-"), "{model}: {id}");
        for c in &chunks {
            assert_eq!(&c.id, id, "{model}");
            assert_eq!(c.object, "chat.completion.chunk");
            assert_eq!(c.model, model);
            assert!(c.created > 0);
            assert!(c.choices.iter().all(|ch| ch.index == 0));
        }

        let (chunks, err) = collect(&p, model, &with_tools(streaming("Paris"))).await;
        assert!(err.is_none(), "{model}: {err:?}");
        let (id, name, arguments) = streamed_call(&chunks);
        assert!(!id.is_empty(), "{model}");
        assert_eq!(
            (name.as_str(), arguments.as_str()),
            ("get_weather", r#"{"q":"Paris"}"#)
        );
        assert_eq!(finishes(&chunks), ["tool_calls"], "{model}");
    }
}

#[tokio::test]
async fn what_is_not_a_completion_is_still_refused() {
    let mock = start().await;
    let p = openai(&mock);
    // A body cut mid-document, and a stream cut before any choice finished (no `[DONE]`).
    let e = p.chat("fault-truncated-json", &ask("x")).await.unwrap_err();
    assert!(matches!(e, ProviderError::InvalidResponse(_)), "{e:?}");
    let (_, err) = collect(&p, "fault-cut-stream-2", &streaming("a b c d")).await;
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");
    // JSON without `choices` is not an answer, however lax the reader; the error names the field.
    let e = p.chat("lax-no-choices", &ask("x")).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::InvalidResponse(m) if m.contains("missing field `choices`")),
        "{e:?}"
    );
    let (chunks, err) = collect(&p, "lax-no-choices", &streaming("x")).await;
    assert!(chunks.is_empty());
    assert!(
        matches!(err, Some(ProviderError::InvalidResponse(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn lax_embeddings_are_completed() {
    let mock = start().await;
    let p = openai(&mock);
    let e = p
        .embeddings(
            "lax-minimal",
            &embed(json!({"model": "x", "input": ["a", "b"]})),
        )
        .await
        .unwrap();
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "lax-minimal");
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][1]["object"], "embedding");
}

/// A request that came in as Responses: its translation, and the client's body beside it.
fn responses_request(body: serde_json::Value, stream: bool) -> seam_types::chat::ChatRequest {
    let mut r = if stream {
        streaming("translated")
    } else {
        ask("translated")
    };
    let serde_json::Value::Object(body) = body else {
        panic!("not an object")
    };
    r.native = Some(seam_types::chat::Native {
        wire: seam_types::chat::Wire::OpenAiResponses,
        body: std::sync::Arc::new(body),
        headers: Vec::new(),
        requires: None,
    });
    r
}

/// The same, with what its surface said only the Responses API can do.
fn requiring(body: serde_json::Value, stream: bool, why: &str) -> seam_types::chat::ChatRequest {
    let mut r = responses_request(body, stream);
    if let Some(n) = &mut r.native {
        n.requires = Some(why.to_owned());
    }
    r
}

fn responses_target(mock: &seam_testkit::MockUpstream, on: bool) -> Provider {
    provider(
        &format!(
            "kind = \"openai\"\nbase_url = \"{}\"\napi_key = \"env:KEY\"\nresponses_api = {on}",
            mock.openai_base_url()
        ),
        &[],
    )
}

#[tokio::test]
async fn a_native_responses_body_goes_to_responses_and_comes_back_as_chat() {
    let mock = start().await;
    let p = responses_target(&mock, true);
    let body = json!({"model": "alias", "input": [{"role": "user", "content": "hello"}],
        "reasoning": {"effort": "low", "summary": "auto"}, "tools": [{"type": "web_search"}],
        "store": false, "include": ["reasoning.encrypted_content"]});
    let c = p
        .chat(
            "gpt-resp",
            &requiring(body.clone(), false, "only the Responses API"),
        )
        .await
        .unwrap();
    let sent = mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/responses");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer provider-test-key")
    );
    let mut expect = body.clone();
    expect["model"] = json!("gpt-resp");
    assert_eq!(
        sent.body, expect,
        "sent as the client wrote it, with the target's model"
    );
    let m = &c.choices[0].message;
    assert_eq!(m.text(), "mock: hello");
    assert_eq!(m.extra["reasoning_content"], "mock reasoning");
    let kept = m.extra["responses_output"].as_array().unwrap();
    assert_eq!(kept[1]["type"], "web_search_call");
    assert_eq!(kept[2]["annotations"][0]["type"], "url_citation");
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.usage.as_ref().unwrap().prompt_tokens, 1);

    // A function call, streamed: the same call as chat tool-call deltas, then usage.
    let body = json!({"model": "alias", "input": "Paris", "stream": false,
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]});
    let (chunks, err) = collect(&p, "gpt-resp", &responses_request(body, true)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(mock.requests().pop().unwrap().body["stream"], true);
    let (id, name, arguments) = streamed_call(&chunks);
    assert_eq!(id, "call_mock_1");
    assert_eq!(
        (name.as_str(), arguments.as_str()),
        ("get_weather", r#"{"q":"Paris"}"#)
    );
    assert_eq!(finishes(&chunks), ["tool_calls"]);
    assert!(chunks.last().unwrap().usage.is_some());

    // Text, streamed, and cut: the cut is visible.
    let body = json!({"model": "alias", "input": "one two three"});
    let (chunks, err) = collect(&p, "gpt-resp", &responses_request(body.clone(), true)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&chunks), "mock: one two three");
    let (_, err) = collect(&p, "fault-cut-stream-2", &responses_request(body, true)).await;
    assert!(matches!(err, Some(ProviderError::StreamCut(_))), "{err:?}");
}

#[tokio::test]
async fn without_responses_api_the_translation_goes_and_built_in_tools_are_refused() {
    const WHY: &str = "the built-in tool `web_search` needs a provider with responses_api = true";
    let mock = start().await;
    let p = responses_target(&mock, false);
    let plain = json!({"model": "alias", "input": "hello", "reasoning": {"effort": "low"}});
    let c = p
        .chat("gpt-chat", &responses_request(plain, false))
        .await
        .unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: translated");
    assert_eq!(mock.requests().pop().unwrap().path, "/v1/chat/completions");

    let searching = json!({"model": "alias", "input": "hello", "tools": [{"type": "web_search"}]});
    let e = p
        .chat("gpt-chat", &requiring(searching.clone(), false, WHY))
        .await
        .unwrap_err();
    assert_eq!(e, ProviderError::Unsupported(WHY.into()));
    let Err(e) = p
        .chat_stream("gpt-chat", &requiring(searching.clone(), true, WHY))
        .await
    else {
        panic!("a stream with a built-in tool went out")
    };
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e:?}");
    // Every other kind refuses it the same way, before anything is sent.
    let echo = provider("kind = \"echo\"", &[]);
    let e = echo
        .chat("echo", &requiring(searching, false, WHY))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e:?}");
    assert_eq!(mock.requests().len(), 1);
}

/// An upstream that answers with a redirect gets no second request, here or elsewhere: the 3xx
/// is its answer, and the credential never travels to where it points.
#[tokio::test]
async fn redirects_are_not_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = elsewhere.local_addr().unwrap();
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", redirector.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = redirector.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/v1/chat/completions\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    let p = provider(
        &format!("kind = \"openai\"\nbase_url = \"{base}\"\napi_key = \"env:KEY\""),
        &[],
    );
    let err = p.chat("m", &ask("hello")).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 307, .. }),
        "{err:?}"
    );
    let reached = tokio::time::timeout(std::time::Duration::from_millis(200), elsewhere.accept());
    assert!(reached.await.is_err(), "the redirect was followed");
}
