use std::path::PathBuf;

use futures_util::StreamExt;
use seam_config::{Resolver, Trust};
use seam_router::Placement;
use seam_types::ErrorCode;
use seam_types::chat::ChatRequest;
use serde_json::json;

use super::*;

fn gateway(toml: &str) -> Gateway {
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap();
    Gateway::new(&cfg, &Arc::new(Registry::new())).unwrap()
}

fn chat(model: &str, stream: bool) -> ChatRequest {
    serde_json::from_value(json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]
    }))
    .unwrap()
}

fn anywhere() -> Placement {
    Placement::default()
}

const TWO_ECHOES: &str = r#"
[providers.small]
kind = "echo"
max_concurrency = 1
queue_timeout_ms = 50
[providers.big]
kind = "echo"
trust = "vendor"
[models.chat]
targets = [{ provider = "small", model = "a" }, { provider = "big", model = "b" }]
[models.only-small]
targets = [{ provider = "small", model = "a" }]
"#;

#[tokio::test]
async fn resolves_aliases_and_direct_addressing() {
    let g = gateway(TWO_ECHOES);
    assert_eq!(g.aliases(), ["chat", "only-small"]);
    let out = g
        .chat(&chat("chat", false), &anywhere(), None)
        .await
        .unwrap();
    assert_eq!(out.route, "small/a");
    assert_eq!(out.attempts.len(), 1);
    assert_eq!(out.reason, "fallback: primary");
    let out = g
        .chat(&chat("big/some/nested-model", false), &anywhere(), None)
        .await
        .unwrap();
    assert_eq!(out.route, "big/some/nested-model");
    assert_eq!(out.value.model, "some/nested-model");
}

#[tokio::test]
async fn unknown_models_are_404_naming_the_param() {
    let g = gateway(TWO_ECHOES);
    for model in ["nope", "nope/x", "big/", "/x"] {
        let f = g
            .chat(&chat(model, false), &anywhere(), None)
            .await
            .err()
            .unwrap();
        assert!(f.error.is(ErrorCode::ModelNotFound), "{model}");
        assert_eq!(f.error.param.as_deref(), Some("model"));
        assert!(f.attempts.is_empty());
    }
}

#[tokio::test]
async fn a_target_at_capacity_is_skipped_then_queued_for_then_shed() {
    let g = gateway(TWO_ECHOES);
    // An open stream holds small's only slot until it is dropped.
    let held = g
        .chat_stream(&chat("chat", true), &anywhere(), None)
        .await
        .unwrap();
    assert_eq!(held.route, "small/a");
    let out = g
        .chat(&chat("chat", false), &anywhere(), None)
        .await
        .unwrap();
    assert_eq!(out.route, "big/b");
    assert_eq!(
        out.attempts.len(),
        1,
        "a skipped target is not an upstream attempt"
    );
    assert_eq!(out.reason, "fallback: small/a at capacity (1/1)");

    let f = g
        .chat(&chat("only-small", false), &anywhere(), None)
        .await
        .err()
        .unwrap();
    assert!(f.error.is(ErrorCode::Overloaded));
    assert_eq!(f.error.status, 503);
    assert_eq!(f.error.retry_after, Some(1));

    drop(held);
    assert_eq!(
        g.chat(&chat("chat", false), &anywhere(), None)
            .await
            .unwrap()
            .route,
        "small/a"
    );
}

#[tokio::test]
async fn request_placement_is_applied_on_top_of_the_alias() {
    let g = gateway(TWO_ECHOES);
    let private_only = Placement {
        trust: Some(vec![Trust::Private]),
        regions: None,
    };
    let out = g
        .chat(&chat("chat", false), &private_only, None)
        .await
        .unwrap();
    assert_eq!(out.route, "small/a");
    let vendor_only = Placement {
        trust: Some(vec![Trust::Vendor]),
        regions: None,
    };
    let f = g
        .chat(&chat("only-small", false), &vendor_only, None)
        .await
        .err()
        .unwrap();
    assert!(f.error.is(ErrorCode::NoEligibleTarget));
    assert!(f.attempts.is_empty());
}

/// A policy that keeps data private narrows the caller's placement; it never replaces it, so a
/// caller that ruled private targets out gets no target rather than one it refused.
#[tokio::test]
async fn a_private_policy_narrows_the_request_placement_and_never_widens_it() {
    let g = gateway(&format!(
        r#"{TWO_ECHOES}
[policies.sovereign.input]
pii = {{ action = "route_private" }}
[models.sovereign]
policy = "sovereign"
targets = [{{ provider = "big", model = "b" }}, {{ provider = "small", model = "a" }}]
"#
    ));
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "sovereign",
        "messages": [{"role": "user", "content": "mail ann@example.com"}]
    }))
    .unwrap();
    let out = g.chat(&req, &anywhere(), None).await.unwrap();
    assert_eq!(out.route, "small/a");
    assert!(
        out.reason.ends_with("; placement trust=private"),
        "{}",
        out.reason
    );
    let vendor_only = Placement {
        trust: Some(vec![Trust::Vendor]),
        regions: None,
    };
    let f = g.chat(&req, &vendor_only, None).await.err().unwrap();
    assert!(f.error.is(ErrorCode::NoEligibleTarget), "{:?}", f.error);
    assert!(f.attempts.is_empty());
}

#[tokio::test]
async fn a_stream_yields_every_chunk_then_ends() {
    let g = gateway(TWO_ECHOES);
    let out = g
        .chat_stream(&chat("chat", true), &anywhere(), None)
        .await
        .unwrap();
    let chunks: Vec<_> = out.value.collect().await;
    assert!(chunks.iter().all(Result::is_ok));
    let text: String = chunks
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect();
    assert_eq!(text, "echo: hello");
}

#[tokio::test]
async fn embeddings_go_through_the_same_routing() {
    let g = gateway(TWO_ECHOES);
    let req = serde_json::from_value(json!({"model": "chat", "input": ["a", "b"]})).unwrap();
    let out = g.embeddings(&req, &anywhere(), None).await.unwrap();
    assert_eq!(out.value.data.len(), 2);
    assert_eq!(out.route, "small/a");
}

#[tokio::test]
async fn the_admin_report_lists_targets_with_their_state() {
    let g = gateway(TWO_ECHOES);
    g.chat(&chat("chat", false), &anywhere(), None)
        .await
        .unwrap();
    let report = g.targets();
    let small = report.iter().find(|t| t.label == "small/a").unwrap();
    assert_eq!(small.state, "closed");
    assert_eq!((small.capacity, small.succeeded, small.failed), (1, 1, 0));
    assert!(small.latency_ms.is_some());
}

/// A large body goes through both policies on the path that leaves the worker, with the same
/// effect as the inline one.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_large_body_is_scanned_off_the_worker_with_the_same_result() {
    let g = gateway(
        r#"
[providers.e]
kind = "echo"
[policies.scan.input]
pii = { action = "redact" }
[policies.scan.output]
pii = { action = "redact" }
[models.m]
policy = "scan"
targets = [{ provider = "e", model = "a" }]
"#,
    );
    let text = "Write to ann@example.com about the invoice. ".repeat(4_000);
    assert!(request_bytes(&chat_with(&text)) > 2 * OFFLOAD_BYTES);
    let out = g.chat(&chat_with(&text), &anywhere(), None).await.unwrap();
    let answer = out.value.choices[0].message.text();
    assert!(!answer.contains("ann@example.com") && answer.contains("invoice"));
    assert!(completion_bytes(&out.value) > OFFLOAD_BYTES);
}

fn chat_with(text: &str) -> ChatRequest {
    serde_json::from_value(json!({
        "model": "m",
        "messages": [{"role": "user", "content": text}]
    }))
    .unwrap()
}

/// Past `OFFLOAD_BYTES`, a scan leaves its worker: on a one-worker runtime another task keeps
/// running while it works; a small scan runs in place, and that task waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_large_scan_does_not_stall_the_other_tasks() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};
    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (ticks, stop) = (Arc::clone(&ticks), Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // On the runtime's one worker (the test's own body runs beside it): the small scan first,
    // since once a scan has left a worker the task may go on from another thread.
    let counted = Arc::clone(&ticks);
    let (inline, offloaded) = tokio::spawn(async move {
        // 60 ms of CPU work, as a scan is.
        let work = || {
            let t0 = Instant::now();
            let mut n = 0u64;
            while t0.elapsed() < Duration::from_millis(60) {
                n = std::hint::black_box(n.wrapping_add(1));
            }
            counted.load(Ordering::Relaxed)
        };
        let before = counted.load(Ordering::Relaxed);
        let inline = scan(OFFLOAD_BYTES - 1, work) - before;
        let before = counted.load(Ordering::Relaxed);
        let offloaded = scan(OFFLOAD_BYTES, work) - before;
        (inline, offloaded)
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();
    assert!(offloaded >= 10, "{offloaded} ticks while a large scan ran");
    assert!(inline <= 1, "{inline} ticks while a small scan ran");
}
