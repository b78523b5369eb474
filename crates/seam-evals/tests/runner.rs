//! The runner against the testkit mock over real HTTP: parameters reach the upstream, tool calls
//! are graded, transient failures are retried and then recorded as errors (not a crashed run),
//! a model-graded assertion goes through its judge, and a second run replays everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seam_evals::cache::Cache;
use seam_evals::report::{self, Report};
use seam_evals::runner::{Options, run};
use seam_evals::suite::Suite;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};

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

/// Issue 12: a failing case's reports say which assertion failed, not only why.
fn failing_suite(mock: &MockUpstream) -> Suite {
    let yaml = format!(
        r#"
prompts: ["Capital of {{{{country}}}}?"]
providers:
  - id: openai:chat:gpt-mock
    label: mock
    config: {{apiBaseUrl: {base}}}
tests:
  - description: capital
    vars: {{country: France, city: Paris}}
    assert:
      - type: contains
        value: "{{{{city}}}}"
        threshold: 0.8
        weight: 2
        metric: accuracy
      - type: is-json
  - description: tone
    vars: {{country: Spain}}
    assert:
      - type: not-icontains
        value: CAPITAL
  - description: markup
    vars: {{country: Peru}}
    assert:
      - type: assert-set
        assert:
          - type: contains
            value: '<b>"&`x`'
          - type: contains
            value: Peru
"#,
        base = mock.openai_base_url()
    );
    Suite::parse(&yaml, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn failing_cases_name_their_assertions_in_every_report() {
    let mock = MockUpstream::start().await.unwrap();
    let run = run(&failing_suite(&mock), &Options::default(), &|_, _| {})
        .await
        .unwrap();
    assert!(run.results.iter().all(|c| !c.pass), "{run:?}");
    let report = report::build(run, None, None, 42);

    // JSON: every component carries its assertion, with exactly the fields the suite set and
    // `value` rendered; assert-set members carry their own under the set's.
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    let components = |description: &str| {
        json["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["description"] == description)
            .unwrap()["grade"]["components"]
            .clone()
    };
    let capital = components("capital");
    let cases = [
        (
            &capital[0]["assertion"],
            json!({"type": "contains", "value": "Paris", "threshold": 0.8, "weight": 2.0, "metric": "accuracy"}),
        ),
        (&capital[1]["assertion"], json!({"type": "is-json"})),
        (
            &components("tone")[0]["assertion"],
            json!({"type": "not-icontains", "value": "CAPITAL"}),
        ),
        (
            &components("markup")[0]["assertion"],
            json!({"type": "assert-set"}),
        ),
        (
            &components("markup")[0]["components"][0]["assertion"],
            json!({"type": "contains", "value": "<b>\"&`x`"}),
        ),
    ];
    for (got, want) in cases {
        assert_eq!(*got, want);
    }
    assert_eq!(capital[0]["reason"], "output does not contain \"Paris\"");
    assert!(json["results"][0]["grade"].get("assertion").is_none());

    // JUnit: the failure message begins with the failing assertion's type; the body lists each
    // failing assertion with its value. Markup in values is escaped.
    let junit = report.to_junit();
    let cases = [
        "<failure message=\"contains: output does not contain &quot;Paris&quot;; is-json: output is not valid JSON",
        "contains (&quot;Paris&quot;): output does not contain &quot;Paris&quot;\n",
        "<failure message=\"not-icontains: output contains &quot;CAPITAL&quot; (ignoring case)\">",
        "<failure message=\"assert-set › contains: output does not contain &quot;&lt;b&gt;",
    ];
    for want in cases {
        assert!(junit.contains(want), "{want}\n{junit}");
    }
    assert!(!junit.contains("<b>"), "{junit}");

    // HTML and Markdown: each failing assertion as type, value and reason, escaped.
    let html = report.to_html();
    let md = report.to_markdown();
    let cases = [
        (
            &html,
            "<div><code>contains</code> <code>&quot;Paris&quot;</code>: output does not contain &quot;Paris&quot;</div>",
        ),
        (&html, "<div><code>is-json</code>: output is not valid JSON"),
        (
            &html,
            "<code>assert-set › contains</code> <code>&quot;&lt;b&gt;\\&quot;&amp;`x`&quot;</code>",
        ),
        (
            &md,
            "\n  - `contains` `\"Paris\"`: output does not contain \"Paris\"\n",
        ),
        (
            &md,
            "\n  - `not-icontains` `\"CAPITAL\"`: output contains \"CAPITAL\" (ignoring case)\n",
        ),
        (&md, "\n  - `assert-set › contains` ``\"<b>\\\"&`x`\"``: "),
    ];
    for (text, want) in cases {
        assert!(text.contains(want), "{want}\n{text}");
    }
    assert!(!html.contains("<b>\\\""), "{html}");
}

#[tokio::test]
async fn a_results_file_without_assertions_still_loads_as_a_baseline() {
    let mock = MockUpstream::start().await.unwrap();
    let suite = failing_suite(&mock);
    let first = report::build(
        run(&suite, &Options::default(), &|_, _| {}).await.unwrap(),
        None,
        None,
        42,
    );
    // A results file from before assertions were recorded: the same, without `assertion`.
    let mut old: Value = serde_json::from_str(&first.to_json()).unwrap();
    strip(&mut old, "assertion");
    assert!(!old.to_string().contains("\"assertion\""));
    let baseline: Report = serde_json::from_value(old).unwrap();
    let again = run(&suite, &Options::default(), &|_, _| {}).await.unwrap();
    let report = report::build(again, Some(&baseline), None, 42);
    assert_eq!(report.comparisons.len(), 1);
    assert_eq!(report.comparisons[0].pairs, 3);
    // Its failures still show in the reports, under a generic name.
    let junit = Report {
        results: baseline.results,
        ..report
    }
    .to_junit();
    assert!(
        junit.contains("<failure message=\"assertion: output does not contain &quot;Paris&quot;"),
        "{junit}"
    );
}

fn strip(v: &mut Value, key: &str) {
    match v {
        Value::Object(o) => {
            o.remove(key);
            o.values_mut().for_each(|x| strip(x, key));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, key)),
        _ => {}
    }
}

/// Vendor ids go to the gateway (`--base-url`), each on its surface: `anthropic:` through
/// `/v1/messages` as `anthropic/MODEL`, `openai:responses:` through `/v1/responses`, and an
/// embedding grader through `/v1/embeddings`; a second run replays all of them.
#[tokio::test]
async fn vendor_ids_reach_their_surfaces_and_replay() {
    let mock = MockUpstream::start().await.unwrap();
    let base = mock.openai_base_url();
    let yaml = format!(
        r#"
prompts:
  - '[{{"role": "system", "content": "Be brief."}}, {{"role": "user", "content": "Tell me about {{{{topic}}}}"}}]'
providers:
  - anthropic:messages:claude-x
  - id: openai:responses:gpt-r
    config: {{apiBaseUrl: {base}, max_output_tokens: 20}}
  - google:gemini-pro
x-seam:
  providers:
    "google:gemini-pro": seam:gemini
defaultTest:
  options:
    provider:
      embedding:
        id: openai:embedding:text-embedding-3-small
        config: {{apiBaseUrl: {base}}}
tests:
  - vars: {{topic: owls}}
    assert:
      - type: similar
        value: "mock: Tell me about owls"
        threshold: 0.99
      - type: llm-rubric
        value: about owls
        provider: anthropic:messages:judge-x
        rubricPrompt: '{{"pass": true, "score": 1, "reason": "graded"}}'
"#
    );
    let s = Suite::parse(&yaml, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("seam-eval-vendors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options {
        base_url: Some(base.clone()),
        api_key: Some("seam-key".into()),
        cache: Cache::new(Some(dir.clone()), true),
        ..Options::default()
    };
    let r = run(&s, &opts, &|_, _| {}).await.unwrap();
    for c in &r.results {
        assert!(c.pass, "{c:?}");
        assert_eq!(c.output.as_ref().unwrap().text, "mock: Tell me about owls");
    }
    let labels: Vec<&str> = r.results.iter().map(|c| c.provider.as_str()).collect();
    assert_eq!(
        labels,
        [
            "anthropic:messages:claude-x",
            "openai:responses:gpt-r",
            "google:gemini-pro"
        ]
    );
    let sent = mock.requests();
    let at = |path: &str| {
        sent.iter()
            .filter(|q| q.path == path)
            .map(|q| q.body.clone())
            .collect::<Vec<Value>>()
    };
    let messages = at("/v1/messages");
    // The target, and the grader (one per case) on the same surface.
    assert_eq!(messages.len(), 4);
    let graders = messages
        .iter()
        .filter(|b| b["model"] == "anthropic/judge-x")
        .count();
    assert_eq!(graders, 3);
    let messages: Vec<&Value> = messages
        .iter()
        .filter(|b| b["model"] != "anthropic/judge-x")
        .collect();
    assert_eq!(messages[0]["model"], "anthropic/claude-x");
    assert_eq!(messages[0]["system"], "Be brief.");
    assert_eq!(messages[0]["max_tokens"], 1024);
    assert_eq!(messages[0]["temperature"], 0);
    assert_eq!(messages[0]["messages"].as_array().unwrap().len(), 1);
    let responses = at("/v1/responses");
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["model"], "gpt-r");
    assert_eq!(responses[0]["max_output_tokens"], 20);
    assert_eq!(at("/v1/chat/completions")[0]["model"], "gemini");
    let embeddings = at("/v1/embeddings");
    assert!(!embeddings.is_empty());
    assert!(
        embeddings
            .iter()
            .all(|b| b["model"] == "text-embedding-3-small")
    );
    let anthropic = sent.iter().find(|q| q.path == "/v1/messages").unwrap();
    assert_eq!(anthropic.header("x-api-key"), Some("seam-key"));
    let responses = sent.iter().find(|q| q.path == "/v1/responses").unwrap();
    assert_eq!(responses.header("authorization"), Some("Bearer seam-key"));
    // Replayed: nothing reaches the upstream the second time.
    mock.clear();
    let again = run(&s, &opts, &|_, _| {}).await.unwrap();
    assert!(
        again
            .results
            .iter()
            .all(|c| c.pass && c.output.as_ref().unwrap().cached)
    );
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    let _ = std::fs::remove_dir_all(dir);
}

/// A model-graded assertion with no grader fails up front with every place one may come from.
#[tokio::test]
async fn a_suite_needing_the_default_grader_says_so() {
    let s = Suite::parse(
        "providers: [seam:chat]\ntests: [{assert: [{type: llm-rubric, value: polite}]}]\n",
        std::path::Path::new("."),
    )
    .unwrap();
    assert!(seam_evals::provider::needs_default_grader(&s));
    let graded = Suite::parse(
        "providers: [seam:chat]\ntests: [{assert: [{type: llm-rubric, value: polite, provider: seam:judge}]}]\n",
        std::path::Path::new("."),
    )
    .unwrap();
    assert!(!seam_evals::provider::needs_default_grader(&graded));
    let e = Suite::parse(
        "providers: [seam:chat]\ntests: [{assert: [{type: similar, value: x, provider: anthropic:claude-x}]}]\n",
        std::path::Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("tests[0].assert[0].provider: `anthropic:claude-x` has no embeddings"),
        "{e}"
    );
    for source in ["--judge", "SEAM_EVAL_JUDGE", "[evals] judge"] {
        assert!(seam_evals::runner::NO_JUDGE.contains(source));
    }
}

#[tokio::test]
async fn the_echo_provider_answers_with_the_prompt_offline() {
    // promptfoo's `echo`: no endpoint, no key, no cache; the rendered prompt is the output.
    let s = Suite::parse(
        "prompts: ['Say {{x}} to {{who}}']\nproviders: [echo]\n\
         tests:\n  - vars: {x: hi, who: Ada}\n    assert:\n      - {type: equals, value: Say hi to Ada}\n      - {type: cost, threshold: 0}\n",
        std::path::Path::new("."),
    )
    .unwrap();
    let opts = Options {
        base_url: Some("http://127.0.0.1:9/v1".into()),
        cache: Cache::new(None, false),
        ..Options::default()
    };
    let r = run(&s, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(r.results.len(), 1);
    let c = &r.results[0];
    assert!(c.pass, "{c:?}");
    assert_eq!(c.output.as_ref().unwrap().text, "Say hi to Ada");
    // It answers; it cannot grade.
    let e = Suite::parse(
        "prompts: [hi]\nproviders: [echo]\ndefaultTest: {options: {provider: echo}}\n\
         tests: [{assert: [{type: llm-rubric, value: polite}]}]\n",
        std::path::Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("a judge must be a chat model"), "{e}");
}
