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
