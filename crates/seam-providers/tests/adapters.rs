//! The gemini, azure, bedrock and (lax) openai adapters against `seam-testkit`'s mock upstream, over real
//! sockets: the request each adapter sends must pass the mock's checks of the wire format (and,
//! for Bedrock, its SigV4 verification), and each answer must come back as OpenAI's shapes. The
//! shared transport (connection reuse, certificate checks) is tested in `transport`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] fns fail the test the same way; clippy exempts only the fns"
)]

// One test binary (one link), split by provider; the files live in `adapters/`.
#[path = "adapters/azure.rs"]
mod azure;
#[path = "adapters/bedrock.rs"]
mod bedrock;
#[path = "adapters/gemini.rs"]
mod gemini;
#[path = "adapters/local.rs"]
mod local;
#[path = "adapters/openai.rs"]
mod openai;
#[path = "adapters/transport.rs"]
mod transport;

use futures_util::StreamExt as _;
use seam_config::Resolver;
use seam_providers::{Provider, ProviderError};
use seam_testkit::MockUpstream;
use seam_types::chat::{ChatChunk, ChatRequest};
use seam_types::embeddings::EmbeddingsRequest;
use serde_json::{Value, json};

const KEY: &str = "provider-test-key";

async fn start() -> MockUpstream {
    MockUpstream::start().await.unwrap()
}

/// A provider from one `[providers.p]` table (`{base}` and `env:KEY` filled in), through the
/// real config validator.
fn provider(table: &str, env: &[(&str, &str)]) -> Provider {
    Provider::new(&config(table, env)).unwrap()
}

/// The validated config of one `[providers.p]` table, as [`provider`] reads it.
fn config(table: &str, env: &[(&str, &str)]) -> seam_config::ProviderConfig {
    let toml = format!("[providers.p]\n{table}\n");
    let lookup = |k: &str| {
        env.iter()
            .chain(&[("KEY", KEY)])
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let resolver = Resolver {
        env: &lookup,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(&toml, &resolver)
        .unwrap_or_else(|e| panic!("config: {e:?}\n{toml}"));
    cfg.providers["p"].clone()
}

fn chat(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn ask(text: &str) -> ChatRequest {
    chat(json!({"model": "alias", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text}
    ]}))
}

fn streaming(text: &str) -> ChatRequest {
    let mut r = ask(text);
    r.stream = Some(true);
    r.stream_options = serde_json::from_value(json!({"include_usage": true})).unwrap();
    r
}

const WEATHER: &str = r#"[{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "additionalProperties": false, "$schema": "x",
                   "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]"#;

fn with_tools(mut r: ChatRequest) -> ChatRequest {
    r.tools = Some(serde_json::from_str(WEATHER).unwrap());
    r
}

/// The second turn of a tool round trip: the call `id` answered with `result`.
fn tool_result(id: &str, arguments: &str, result: &str) -> ChatRequest {
    let mut r = chat(json!({"model": "alias", "messages": [
        {"role": "user", "content": "Paris"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": id, "content": result}
    ]}));
    r.tools = Some(serde_json::from_str(WEATHER).unwrap());
    r
}

/// Every item of a stream: the chunks, then the error that ended it, if any.
async fn collect(
    p: &Provider,
    model: &str,
    req: &ChatRequest,
) -> (Vec<ChatChunk>, Option<ProviderError>) {
    let mut stream = p.chat_stream(model, req).await.unwrap();
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(c) => chunks.push(c),
            Err(e) => return (chunks, Some(e)),
        }
    }
    (chunks, None)
}

fn text_of(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| c.choices.first()?.delta.content.clone())
        .collect()
}

/// The streamed tool call, reassembled: (id, name, arguments).
fn streamed_call(chunks: &[ChatChunk]) -> (String, String, String) {
    let mut call = (String::new(), String::new(), String::new());
    for d in chunks
        .iter()
        .filter_map(|c| c.choices.first()?.delta.tool_calls.clone())
        .flatten()
    {
        assert_eq!(d.index, 0);
        call.0 += d.id.as_deref().unwrap_or_default();
        let f = d.function.unwrap_or_default();
        call.1 += f.name.as_deref().unwrap_or_default();
        call.2 += f.arguments.as_deref().unwrap_or_default();
    }
    call
}

fn finishes(chunks: &[ChatChunk]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c.choices.first()?.finish_reason.clone())
        .collect()
}

/// Checks a whole stream against the non-stream answer: role chunk first, same text, one
/// `stop`, and a final usage-only chunk.
async fn check_stream_matches(p: &Provider, model: &str) {
    let whole = p.chat(model, &ask("one two three")).await.unwrap();
    let (chunks, err) = collect(p, model, &streaming("one two three")).await;
    assert!(err.is_none(), "{err:?}");
    let first = &chunks[0].choices[0].delta;
    assert_eq!(first.role, Some(seam_types::chat::Role::Assistant));
    assert_eq!(text_of(&chunks), whole.choices[0].message.text());
    assert!(
        chunks
            .iter()
            .filter(|c| c.choices.first().is_some_and(|ch| ch
                .delta
                .content
                .as_deref()
                .is_some_and(|t| !t.is_empty())))
            .count()
            > 2
    );
    assert_eq!(finishes(&chunks), ["stop"]);
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let usage = last.usage.as_ref().unwrap();
    assert_eq!(usage, whole.usage.as_ref().unwrap());
}

fn embed(v: Value) -> EmbeddingsRequest {
    serde_json::from_value(v).unwrap()
}
