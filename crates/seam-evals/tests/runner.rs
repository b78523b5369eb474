//! The runner against the testkit mock over real HTTP: parameters reach the upstream, tool calls
//! are graded, transient failures are retried and then recorded as errors (not a crashed run),
//! a model-graded assertion goes through its judge, and a second run replays everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seam_evals::cache::Cache;
use seam_evals::runner::{Options, run};
use seam_evals::suite::Suite;
use seam_testkit::MockUpstream;

fn suite(mock: &MockUpstream) -> Suite {
    let yaml = format!(
        r#"
prompts: ["Tell me about {{{{topic}}}}"]
providers:
  - id: openai:chat:gpt-mock
    label: mock
    config:
      apiBaseUrl: {base}
      apiKey: sk-mock
      temperature: 0.2
  - id: openai:chat:gpt-mock-tools
    label: tools
    config:
      apiBaseUrl: {base}
      tools: [{{type: function, function: {{name: lookup, parameters: {{type: object, properties: {{q: {{type: string}}}}, required: [q]}}}}}}]
  - id: openai:chat:fault-500
    label: broken
    config: {{apiBaseUrl: {base}}}
defaultTest:
  options:
    provider:
      id: openai:chat:judge-mock
      config:
        apiBaseUrl: {base}
        response_format: {{type: json_object}}
tests:
  - vars: {{topic: owls}}
    assert:
      - type: contains
        value: "{{{{topic}}}}"
      - type: llm-rubric
        value: mentions the topic
        # The mock in JSON mode answers with the prompt it was sent: a verdict, here.
        rubricPrompt: '{{"pass": true, "score": 0.9, "reason": "graded: {{{{output}}}}"}}'
        metric: quality
"#,
        base = mock.openai_base_url()
    );
    Suite::parse(&yaml, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_suite_against_the_mock_retries_grades_and_replays() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("seam-eval-runner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options {
        cache: Cache::new(Some(dir.clone()), true),
        ..Options::default()
    };
    let s = suite(&mock);
    let r = run(&s, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(r.results.len(), 3);
    let by = |label: &str| r.results.iter().find(|c| c.provider == label).unwrap();
    // The plain model: its answer graded by both assertions, the judge's verdict included.
    let plain = by("mock");
    assert!(plain.pass, "{plain:?}");
    let out = plain.output.as_ref().unwrap();
    assert_eq!(out.text, "mock: Tell me about owls");
    assert!(out.tokens.unwrap().total > 0);
    let grade = plain.grade.as_ref().unwrap();
    assert_eq!(grade.named_scores.get("quality"), Some(&0.9));
    assert!(
        grade.components[1]
            .reason
            .contains("graded: mock: Tell me about owls"),
        "{grade:?}"
    );
    // Parameters reach the upstream.
    let sent = mock.requests();
    let first = sent.iter().find(|q| q.body["model"] == "gpt-mock").unwrap();
    assert_eq!(first.body["temperature"], 0.2);
    assert_eq!(first.header("authorization"), Some("Bearer sk-mock"));
    // With tools offered the mock calls one; `contains` fails on an empty text, so the case fails,
    // but the tool call is there to grade.
    let tools = by("tools");
    assert_eq!(
        tools.output.as_ref().unwrap().tool_calls[0]["function"]["name"],
        "lookup"
    );
    // A 500 is retried (4 attempts), then recorded as the case's error.
    let broken = by("broken");
    assert!(!broken.pass && broken.output.is_none());
    assert!(
        broken.error.as_ref().unwrap().contains("HTTP 500"),
        "{broken:?}"
    );
    assert_eq!(mock.hits("fault-500"), 4);
    // The same suite again: every answer and the judge's from the cache, the upstream untouched.
    mock.clear();
    let again = run(&s, &opts, &|_, _| {}).await.unwrap();
    assert!(
        again
            .results
            .iter()
            .filter(|c| c.output.is_some())
            .all(|c| c.output.as_ref().unwrap().cached)
    );
    assert_eq!(again.results[0].grade, r.results[0].grade);
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|q| q.body["model"] != "fault-500")
            .count(),
        0
    );
    let _ = std::fs::remove_dir_all(dir);
}
