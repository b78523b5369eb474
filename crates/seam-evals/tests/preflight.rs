//! Everything checked before the first request, against a counting mock upstream over real HTTP:
//! a missing grader, a template that does not compile and a chat that is not JSON once rendered
//! all fail with nothing sent; what reaches the endpoint is what promptfoo would send (nested
//! vars resolved, YAML and render-then-parse chats as messages, a provider's own prompts only);
//! a run that stops midway keeps the cases it finished.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use seam_evals::runner::{Options, preflight, run, run_partial};
use seam_evals::suite::Suite;
use seam_testkit::MockUpstream;
use serde_json::Value;

fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-preflight-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (f, text) in files {
        std::fs::write(d.join(f), text).unwrap();
    }
    d
}

/// `yaml` with `BASE` replaced by the mock's URL.
fn suite(mock: &MockUpstream, yaml: &str, d: &Path) -> Suite {
    Suite::parse(&yaml.replace("BASE", &mock.openai_base_url()), d)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn messages(mock: &MockUpstream) -> Vec<Value> {
    mock.requests()
        .iter()
        .map(|r| r.body["messages"].clone())
        .collect()
}

#[tokio::test]
async fn a_model_graded_assertion_without_a_grader_fails_before_any_request() {
    let mock = MockUpstream::start().await.unwrap();
    let s = suite(
        &mock,
        r#"
prompts: ["Say {{x}}"]
providers: [{id: openai:chat:m, config: {apiBaseUrl: BASE}}]
tests:
  - vars: {x: a}
    assert: [{type: contains, value: a}]
  - vars: {x: b}
    assert:
      - type: assert-set
        assert: [{type: llm-rubric, value: polite}]
"#,
        Path::new("."),
    );
    let e = run(&s, &Options::default(), &|_, _| {}).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tests[1].assert[0].assert[0]: `llm-rubric` needs a grader"),
        "{e}"
    );
    assert!(mock.requests().is_empty());
    // --judge supplies it; a grader that names no provider Seam can call is caught too.
    let judged = Options {
        judge: Some(Value::String("seam:judge".into())),
        ..Options::default()
    };
    assert_eq!(preflight(&s, &judged).unwrap().cases, 2);
    let bad = Options {
        judge: Some(Value::String("nonsense:judge".into())),
        ..Options::default()
    };
    let e = preflight(&s, &bad).unwrap_err().to_string();
    assert!(
        e.starts_with("tests[1].assert[0].assert[0] (its grader):"),
        "{e}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn templates_and_chats_that_cannot_render_fail_before_any_request() {
    let mock = MockUpstream::start().await.unwrap();
    for (prompt, expected) in [
        (
            r#""Say {% if x %}{{x}}""#,
            "prompts[0] (Say {% if x %}{{x}}): template:",
        ),
        (
            r#"'[{"role": "user", "content": {{x}}}]'"#,
            "prompt [{\"role\": \"user\", \"content\": {{x}}}]: the rendered chat prompt is not valid JSON",
        ),
        (
            r#""Key: {{ env.API_KEY }}""#,
            "prompts[0] (Key: {{ env.API_KEY }}): reads `env`",
        ),
    ] {
        let s = suite(
            &mock,
            &format!(
                "prompts: [{prompt}]\nproviders: [{{id: openai:chat:m, config: {{apiBaseUrl: BASE}}}}]\ntests: [{{vars: {{x: hello there}}}}]\n"
            ),
            Path::new("."),
        );
        let e = run(&s, &Options::default(), &|_, _| {}).await.unwrap_err();
        assert!(e.to_string().starts_with(expected), "{e}");
    }
    assert!(mock.requests().is_empty());
    // A missing file is found when the suite loads.
    let e = Suite::parse(
        "providers: [seam:chat]\ntests: [{vars: {ctx: file://missing.txt}}]\n",
        Path::new("."),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("tests[0].vars.ctx: cannot read"),
        "{e}"
    );
}

#[tokio::test]
async fn what_reaches_the_endpoint_is_what_promptfoo_sends() {
    let mock = MockUpstream::start().await.unwrap();
    let d = dir(
        "sends",
        &[(
            "chat.yaml",
            "- role: system\n  content: \"Answer about {{topic}}.\"\n- role: user\n  content: \"{{q}}\"\n",
        )],
    );
    let s = suite(
        &mock,
        r#"
prompts:
  - {raw: "Tell me about {{topic}}", label: plain}
  - {id: file://chat.yaml, label: yaml}
  - raw: '[{% for t in turns %}{"role": "user", "content": "{{t}}"}{% if not loop.last %},{% endif %}{% endfor %}]'
    label: turns
providers:
  - {id: openai:chat:all, config: {apiBaseUrl: BASE}}
  - {id: openai:chat:only-plain, config: {apiBaseUrl: BASE}, prompts: [plain]}
tests:
  - vars:
      subject: owls
      topic: "{{subject}} at night"
      q: 'say "hoot"'
      turns: [one, two]
    options: {disableVarExpansion: true}
"#,
        &d,
    );
    let r = run(&s, &Options::default(), &|_, _| {}).await.unwrap();
    assert_eq!(r.results.len(), 4, "{:?}", r.results);
    let sent = messages(&mock);
    let to = |model: &str| -> Vec<Value> {
        mock.requests()
            .iter()
            .filter(|q| q.body["model"] == model)
            .map(|q| q.body["messages"].clone())
            .collect()
    };
    assert_eq!(sent.len(), 4);
    // The provider's own prompts: only `plain` ran on it.
    assert_eq!(to("only-plain").len(), 1);
    let all = to("all");
    // Nested vars resolved before rendering.
    assert!(all.contains(
        &serde_json::json!([{"role": "user", "content": "Tell me about owls at night"}])
    ));
    // The YAML prompt is a chat, quotes kept intact.
    assert!(all.contains(&serde_json::json!([
        {"role": "system", "content": "Answer about owls at night."},
        {"role": "user", "content": "say \"hoot\""}
    ])));
    // Only JSON once rendered: still a chat.
    assert!(all.contains(&serde_json::json!([
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"}
    ])));
}

#[tokio::test]
async fn a_run_that_stops_keeps_the_cases_it_finished() {
    let mock = MockUpstream::start().await.unwrap();
    let s = suite(
        &mock,
        r#"
prompts: ["Say {{x}}"]
providers: [{id: openai:chat:m, config: {apiBaseUrl: BASE}}]
evaluateOptions: {maxConcurrency: 1}
tests:
  - vars: {x: a, pat: "a"}
    assert: [{type: regex, value: "{{pat}}"}]
  - vars: {x: b, pat: "("}
    assert: [{type: regex, value: "{{pat}}"}]
  - vars: {x: c, pat: "c"}
    assert: [{type: regex, value: "{{pat}}"}]
"#,
        Path::new("."),
    );
    let (r, stopped) = run_partial(&s, &Options::default(), &|_, _| {})
        .await
        .unwrap();
    let stopped = stopped.expect("the second test's pattern does not compile");
    assert!(stopped.to_string().contains("regex"), "{stopped}");
    assert_eq!(r.results.len(), 1);
    assert!(r.results[0].pass);
    assert_eq!(r.results[0].vars["x"], "a");
}
