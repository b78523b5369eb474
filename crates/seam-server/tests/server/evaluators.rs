//! Online evaluators: sampled answers graded off the request path, scores delivered to the sink
//! against the request id, a judge held to the request's placement.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use seam_config::Resolver;
use seam_server::evaluate::{Score, ScoreSink};
use seam_testkit::MockUpstream;
use serde_json::json;
use tokio::sync::mpsc;

use super::call;

/// Hands every score to the test.
struct Sink(mpsc::UnboundedSender<Score>);

impl ScoreSink for Sink {
    fn score(&self, s: Score) {
        let _ = self.0.send(s);
    }
}

fn build(mock: &MockUpstream, extra: &str) -> (axum::Router, mpsc::UnboundedReceiver<Score>) {
    let toml = format!(
        r#"
[audit]
enabled = false
[providers.mock]
kind = "openai"
base_url = "{url}"
[providers.slow]
kind = "openai"
base_url = "{url}"
timeout_ms = 10000
first_token_timeout_ms = 10000
[providers.own]
kind = "openai"
base_url = "{url}"
trust = "private"
[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
[models.judge]
targets = [{{ provider = "slow", model = "fault-slow-first-byte-2000" }}]
{extra}
"#,
        url = mock.openai_base_url()
    );
    let r = Resolver {
        env: &|_| None,
        base_dir: ".".into(),
    };
    let cfg = seam_config::from_toml(&toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let mut state =
        seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    state.scores = Arc::new(Sink(tx));
    (seam_server::app(Arc::new(state)), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Score>) -> Score {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a score within 10 s")
        .expect("the sink is open")
}

async fn ask(app: &axum::Router, model: &str, stream: bool, text: &str) -> String {
    let body =
        json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]});
    let (status, headers, body) = call(app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    headers["x-seam-request-id"].to_str().unwrap().to_owned()
}

/// Deterministic assertions on every answer (unary and streamed): a passing `contains` and a
/// failing `not-contains`, each a score for the request's id, named `eval:NAME`.
#[tokio::test]
async fn deterministic_assertions_score_every_sampled_answer() {
    let mock = MockUpstream::start().await.unwrap();
    let (app, mut rx) = build(
        &mock,
        r#"
[evaluators.says-mock]
alias = "gpt"
sample = 1.0
assert = [{ type = "contains", value = "mock:" }]
[evaluators.no-mock]
alias = "gpt"
assert = [{ type = "not-contains", value = "mock:" }]
"#,
    );
    for stream in [false, true] {
        let id = ask(&app, "gpt", stream, "hello there").await;
        let mut scores = vec![next(&mut rx).await, next(&mut rx).await];
        scores.sort_by(|a, b| a.name.cmp(&b.name));
        let want = |name: &str, pass: bool| Score {
            request_id: id.clone(),
            name: name.into(),
            value: if pass { 1.0 } else { 0.0 },
            pass,
            alias: Some("gpt".into()),
            prompt: None,
            variant: None,
            subject: None,
        };
        assert_eq!(
            scores,
            [want("eval:no-mock", false), want("eval:says-mock", true)],
            "stream: {stream}"
        );
    }
    // Another alias has no evaluator: nothing is graded.
    assert!(rx.try_recv().is_err());
}

/// A model-graded assertion asks the judge alias; the judge sleeps 2 s, and the client's answer
/// arrives before the score does.
#[tokio::test]
async fn a_model_graded_score_comes_after_the_answer() {
    let mock = MockUpstream::start().await.unwrap();
    let (app, mut rx) = build(
        &mock,
        r#"
[evaluators.polite]
alias = "gpt"
judge = "judge"
assert = [{ type = "llm-rubric", value = "The answer is polite" }]
"#,
    );
    // The mock echoes: the answer carries this verdict, and the judge, echoing the grading
    // prompt that quotes the answer, returns it.
    let verdict = r#"{"reason": "courteous", "pass": true, "score": 0.75}"#;
    let id = ask(&app, "gpt", false, verdict).await;
    assert!(
        rx.try_recv().is_err(),
        "the answer came back before the judge did"
    );
    let score = next(&mut rx).await;
    assert_eq!(
        (score.request_id.as_str(), score.name.as_str()),
        (id.as_str(), "eval:polite")
    );
    assert_eq!((score.value, score.pass), (0.75, true));
    assert_eq!(mock.hits("fault-slow-first-byte-2000"), 1);
}

/// A request held to private targets is judged only by private targets: with a vendor judge,
/// the judge is never called and the grading counts as an error; a private judge grades it.
#[tokio::test]
async fn the_judge_is_held_to_the_requests_placement() {
    let mock = MockUpstream::start().await.unwrap();
    let (app, mut rx) = build(
        &mock,
        r#"
[models.private]
placement = { trust = ["private"] }
targets = [{ provider = "own", model = "gpt-own" }]
[models.vendor-judge]
targets = [{ provider = "mock", model = "judge-vendor" }]
[models.own-judge]
targets = [{ provider = "own", model = "judge-own" }]
[evaluators.held]
alias = "private"
judge = "vendor-judge"
assert = [{ type = "llm-rubric", value = "The answer is polite" }]
[evaluators.held-ok]
alias = "private"
judge = "own-judge"
assert = [{ type = "llm-rubric", value = "The answer is polite" }]
"#,
    );
    let id = ask(&app, "private", false, r#"{"pass": false, "score": 0.25}"#).await;
    let score = next(&mut rx).await;
    assert_eq!(
        (score.request_id.as_str(), score.name.as_str()),
        (id.as_str(), "eval:held-ok")
    );
    assert_eq!((score.value, score.pass), (0.25, false));
    assert_eq!(mock.hits("judge-own"), 1);
    let metrics = seam_server::metrics::install().unwrap();
    let counted = "seam_eval_online_total{evaluator=\"held\",verdict=\"error\"} 1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !metrics.render().contains(counted) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.hits("judge-vendor"), 0);
    assert!(rx.try_recv().is_err(), "an error is no score");
    let errors = "seam_eval_online_total{evaluator=\"held-ok\",verdict=\"error\"}";
    assert!(!metrics.render().contains(errors));
}

/// When the policy tokenized the request, the answer is graded as the vendor sent it (tokens,
/// not the values restored for the client), so no judge gets a value kept from vendors.
#[tokio::test]
async fn a_tokenized_answer_is_graded_as_the_vendor_sent_it() {
    let mock = MockUpstream::start().await.unwrap();
    let (app, mut rx) = build(
        &mock,
        r#"
[policies.default.input]
pii = { action = "tokenize" }
[evaluators.no-email]
alias = "gpt"
assert = [{ type = "not-contains", value = "ada.lovelace@example.com" }, { type = "contains", value = "mock: write to" }]
"#,
    );
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "write to ada.lovelace@example.com"}]});
    let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("ada.lovelace@example.com"),
        "restored: {text}"
    );
    let score = next(&mut rx).await;
    assert_eq!((score.name.as_str(), score.pass), ("eval:no-email", true));
}
