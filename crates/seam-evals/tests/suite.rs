//! Loading suites in promptfoo's format: every supported form of prompts, providers and tests,
//! defaults, scenarios and var expansion, and errors that name their path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use seam_evals::suite::{Api, Suite};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn parse(yaml: &str) -> Suite {
    Suite::parse(yaml, fixtures()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(yaml: &str) -> String {
    Suite::parse(yaml, fixtures()).unwrap_err().to_string()
}

#[test]
fn prompts_inline_files_chat_and_labels() {
    let s = parse(
        r#"
prompts:
  - "Inline {{question}}"
  - file://prompts.txt
  - id: file://chat.json
    label: chatty
  - raw: "Raw {{question}}"
    label: raw one
providers: [seam:chat]
"#,
    );
    let labels: Vec<&str> = s.prompts.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Inline {{question}}",
            "file://prompts.txt#0",
            "file://prompts.txt#1",
            "chatty",
            "raw one"
        ]
    );
    assert_eq!(s.prompts[1].template, "First: {{question}}");
    assert_eq!(s.prompts[2].template, "Second: {{question}}");
    assert!(s.prompts[3].chat && !s.prompts[0].chat);
}

#[test]
fn providers_openai_and_seam_with_config() {
    let s = parse(
        r#"
providers:
  - openai:chat:gpt-4o-mini
  - openai:gpt-4o
  - id: seam:chat
    label: through seam
    config:
      apiBaseUrl: http://127.0.0.1:8700/v1
      apiKey: sk-test
      temperature: 0
      max_tokens: 64
      headers: {x-seam-tags: eval}
"#,
    );
    let p = &s.providers;
    assert_eq!(
        (p[0].api.clone(), p[0].model.as_str()),
        (Api::OpenAi, "gpt-4o-mini")
    );
    assert_eq!(
        (p[1].api.clone(), p[1].model.as_str()),
        (Api::OpenAi, "gpt-4o")
    );
    assert_eq!(p[2].label, "through seam");
    assert_eq!(p[2].api, Api::Seam);
    assert_eq!(p[2].base_url.as_deref(), Some("http://127.0.0.1:8700/v1"));
    assert_eq!(p[2].api_key.as_deref(), Some("sk-test"));
    assert_eq!(
        p[2].headers,
        [("x-seam-tags".to_owned(), "eval".to_owned())]
    );
    // Only request parameters are sent in the body.
    let keys: Vec<&str> = p[2].params.keys().map(String::as_str).collect();
    assert_eq!(keys, ["max_tokens", "temperature"]);
}

#[test]
fn tests_from_every_file_format_with_defaults() {
    let s = parse(
        r#"
prompts: ["{{question}}"]
providers: [seam:chat]
defaultTest:
  vars: {context: file://context.txt, lang: en}
  assert:
    - type: not-contains
      value: ERROR
  options:
    provider: seam:judge
tests:
  - file://tests.csv
  - file://tests.jsonl
  - file://tests.yaml
  - file://tests.json
  - vars: {question: inline, lang: fr}
    assert:
      - type: contains
        value: inline
"#,
    );
    let questions: Vec<&str> = s
        .tests
        .iter()
        .map(|t| t.vars["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        questions,
        [
            "What is 2+2?",
            "Capital of France?",
            "jsonl one",
            "jsonl two",
            "yaml one",
            "json one",
            "inline"
        ]
    );
    // CSV: __expected columns become assertions (bare value = equals), __description the name;
    // the default assertion comes after the test's own.
    let t0 = &s.tests[0];
    let kinds: Vec<(String, bool)> = t0
        .asserts
        .iter()
        .map(|a| (a.kind.clone(), a.negate))
        .collect();
    assert_eq!(
        kinds,
        [
            ("contains".into(), false),
            ("icontains".into(), true),
            ("contains".into(), true)
        ]
    );
    assert_eq!(t0.description.as_deref(), Some("sums"));
    assert_eq!(s.tests[1].asserts[0].kind, "equals");
    assert_eq!(s.tests[1].asserts[0].value.as_ref().unwrap(), "Paris");
    // Defaults: vars merged (tests override), file:// vars read, judge inherited, threshold kept.
    assert_eq!(s.tests[6].vars["lang"], "fr");
    assert_eq!(s.tests[0].vars["lang"], "en");
    // promptfoo trims a text file's var.
    assert_eq!(s.tests[0].vars["context"], "long context from a file");
    assert_eq!(s.tests[0].judge.as_ref().unwrap(), "seam:judge");
    assert_eq!(s.tests[5].threshold, Some(0.5));
    assert_eq!(s.tests[3].description.as_deref(), Some("second"));
}

#[test]
fn var_arrays_and_scenarios_expand() {
    let s = parse(
        r#"
providers: [seam:chat]
prompts: ["{{a}} {{b}}"]
tests:
  - vars: {a: ["1", "2"], b: [x, y, z]}
scenarios:
  - config:
      - vars: {lang: en}
      - vars: {lang: de}
    tests:
      - vars: {a: q}
        assert: [{type: contains, value: q}]
"#,
    );
    assert_eq!(s.tests.len(), 6 + 2);
    let pairs: Vec<String> = s.tests[..6]
        .iter()
        .map(|t| {
            format!(
                "{}{}",
                t.vars["a"].as_str().unwrap(),
                t.vars["b"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(pairs, ["1x", "1y", "1z", "2x", "2y", "2z"]);
    assert_eq!(s.tests[6].vars["lang"], "en");
    assert_eq!(s.tests[7].vars["lang"], "de");
    assert_eq!(s.tests[7].asserts.len(), 1);
}

#[test]
fn errors_name_their_path() {
    for (yaml, expected) in [
        (
            "providers: [seam:chat]\nredteam: {}\n",
            "redteam: is not supported",
        ),
        ("prompts: [x]\n", "providers: is required"),
        (
            "providers: [acme:claude]\n",
            "providers[0]: `acme:claude` is not supported",
        ),
        (
            "providers: [openai:completion:davinci]\n",
            "is a legacy text-completion API",
        ),
        (
            "providers: [seam:chat]\ntests: [{vars: {a: 1}, bogus: 1}]\n",
            "tests[0].bogus: is not a key promptfoo's config schema has here",
        ),
        (
            "providers: [seam:chat]\ntests: file://missing.csv\n",
            "tests: cannot read",
        ),
        (
            "providers: [seam:chat]\nevaluateOptions: {maxConcurrency: 0}\n",
            "evaluateOptions.maxConcurrency: must be a positive integer",
        ),
        ("providers: [seam:chat\n", "suite: not valid YAML at line"),
        (
            "providers: [seam:chat]\ntests: [{assert: [{type: javascript, value: \"require('fs')\"}]}]\n",
            "tests[0].assert[0].value: uses require(): module files and require() are not supported",
        ),
    ] {
        let e = error(yaml);
        assert!(e.contains(expected), "{yaml:?}: {e}");
    }
}
