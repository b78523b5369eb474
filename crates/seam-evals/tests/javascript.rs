//! Embedded JavaScript (issue 22): `javascript` assertions with promptfoo's verdicts, transforms
//! at every level changing what is graded, `storeOutputAs` feeding a later test, promptfoo's
//! `http` provider against a local server, and a sandbox that every escape attempt meets with a
//! clear error — never a hang or a crash.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use seam_evals::assertions::{grade, parse};
use seam_evals::js::{self, JsError, Limits};
use seam_evals::runner::{CaseResult, Options, run};
use seam_evals::suite::Suite;
use seam_evals::{Context, Grade, Output};
use seam_testkit::MockUpstream;
use serde_json::{Map, Value, json};

fn text(s: &str) -> Output {
    Output {
        text: s.to_owned(),
        ..Output::default()
    }
}

async fn check_vars(assertion: Value, out: &Output, vars: &Map<String, Value>) -> Grade {
    let a = parse(&assertion, "tests[0].assert[0]").unwrap_or_else(|e| panic!("{assertion}: {e}"));
    let ctx = Context {
        vars,
        prompt: "What is 2 + 2?",
        judge: None,
        test: None,
    };
    grade(&a, out, &ctx).await.unwrap()
}

async fn check(assertion: Value, out: &str) -> Grade {
    check_vars(assertion, &text(out), &Map::new()).await
}

#[tokio::test]
async fn inline_expressions_and_function_bodies_give_promptfoos_verdicts() {
    // (assertion, output, pass, score)
    let cases = [
        (
            json!({"type": "javascript", "value": "output.length < 10"}),
            "four",
            true,
            1.0,
        ),
        (
            json!({"type": "javascript", "value": "output.length < 2"}),
            "four",
            false,
            0.0,
        ),
        (
            json!({"type": "not-javascript", "value": "output.includes('5')"}),
            "four",
            true,
            1.0,
        ),
        (
            json!({"type": "not-javascript", "value": "output === 'four'"}),
            "four",
            false,
            0.0,
        ),
        // Declarations, then the expression returned.
        (
            json!({"type": "javascript", "value": "const n = JSON.parse(output).n; n > 3"}),
            r#"{"n": 4}"#,
            true,
            1.0,
        ),
        // A multi-line body returns for itself.
        (
            json!({"type": "javascript", "value": "const words = output.split(' ');\nif (words.length > 2) {\n  return false;\n}\nreturn true;\n"}),
            "two words",
            true,
            1.0,
        ),
        // A number is the score: above 0 passes without a threshold…
        (
            json!({"type": "javascript", "value": "output.length / 10"}),
            "four",
            true,
            0.4,
        ),
        // …and must reach the threshold with one; `not-` inverts the pass, not the score.
        (
            json!({"type": "javascript", "value": "output.length / 10", "threshold": 0.5}),
            "four",
            false,
            0.4,
        ),
        (
            json!({"type": "not-javascript", "value": "output.length / 10", "threshold": 0.5}),
            "four",
            true,
            0.4,
        ),
        (
            json!({"type": "javascript", "value": "0"}),
            "four",
            false,
            0.0,
        ),
        // A GradingResult is taken as it is.
        (
            json!({"type": "javascript", "value": "({pass: output.startsWith('f'), score: 0.7, reason: 'starts with f'})"}),
            "four",
            true,
            0.7,
        ),
        (
            json!({"type": "not-javascript", "value": "({pass: true, score: 0.7, reason: 'r'})"}),
            "four",
            false,
            0.7,
        ),
        // A returned promise is awaited.
        (
            json!({"type": "javascript", "value": "return Promise.resolve(output)\n  .then((v) => v === 'four');"}),
            "four",
            true,
            1.0,
        ),
    ];
    for (a, out, pass, score) in cases {
        let g = check(a.clone(), out).await;
        assert_eq!((g.pass, g.score), (pass, score), "{a}: {}", g.reason);
    }
    let g = check(
        json!({"type": "javascript", "value": "({pass: false, score: 0.2, reason: 'too short'})"}),
        "x",
    )
    .await;
    assert_eq!(g.reason, "too short");
    assert_eq!(g.assertion.unwrap().kind, "javascript");
}

#[tokio::test]
async fn scripts_see_vars_prompt_and_json_outputs() {
    let mut vars = Map::new();
    vars.insert("answer".into(), json!("4"));
    let g = check_vars(
        json!({"type": "javascript", "value": "output.includes(context.vars.answer) && context.prompt.startsWith('What')"}),
        &text("It is 4."),
        &vars,
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    // An assertion's own transform changes what it grades: here the output becomes an object.
    let g = check_vars(
        json!({"type": "javascript", "value": "output.n === 4 && typeof output === 'object'", "transform": "JSON.parse(output)"}),
        &text(r#"{"n": 4}"#),
        &vars,
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    let g = check_vars(
        json!({"type": "equals", "value": "IT IS 4.", "transform": "output.toUpperCase()"}),
        &text("It is 4."),
        &vars,
    )
    .await;
    assert!(g.pass, "{}", g.reason);
}

#[tokio::test]
async fn scripts_that_throw_or_return_nonsense_fail_even_when_negated() {
    for ty in ["javascript", "not-javascript"] {
        let g = check(json!({"type": ty, "value": "output.nope.deeper"}), "x").await;
        assert!(!g.pass, "{ty}");
        assert!(
            g.reason
                .starts_with("Custom function threw error: TypeError"),
            "{}",
            g.reason
        );
        let g = check(json!({"type": ty, "value": "'a string'"}), "x").await;
        assert!(!g.pass, "{ty}");
        assert!(
            g.reason
                .contains("must return a boolean, a finite number, or a GradingResult"),
            "{}",
            g.reason
        );
        let g = check(json!({"type": ty, "value": "({pass: true})"}), "x").await;
        assert!(!g.pass, "{ty}: a GradingResult needs score and reason");
    }
    let g = check(json!({"type": "javascript", "value": "output ==="}), "x").await;
    assert!(g.reason.contains("SyntaxError"), "{}", g.reason);
}

#[test]
fn sandbox_escapes_are_refused_at_load_time_with_the_suite_path() {
    for code in [
        "require('fs').readFileSync('/etc/passwd', 'utf8').length > 0",
        "process.exit(1)",
        "fetch('http://127.0.0.1:1/').then(() => true)",
        "import('fs')",
        "file://assert.js",
    ] {
        let yaml = format!(
            "providers: [openai:chat:x]\ntests:\n  - assert:\n      - type: javascript\n        value: {}\n",
            serde_json::to_string(code).unwrap()
        );
        let e = Suite::parse(&yaml, std::path::Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("tests[0].assert[0].value: ")
                && e.contains("module files and require() are not supported"),
            "{code}: {e}"
        );
    }
}

fn short() -> Limits {
    Limits {
        time: Duration::from_millis(300),
        ..Limits::default()
    }
}

fn run_js(body: &str, limits: &Limits) -> Result<js::JsValue, JsError> {
    js::call(
        &["output", "context"],
        body,
        &[&json!("x"), &json!({})],
        limits,
    )
}

#[test]
fn the_sandbox_has_no_filesystem_network_process_or_modules() {
    // Reached for at run time (past the load-time check): a clear, marked refusal.
    for (body, what) in [
        ("return globalThis['req' + 'uire']('fs')", "require"),
        ("return globalThis['proc' + 'ess'].exit(1)", "process"),
        (
            "return globalThis['fet' + 'ch']('http://127.0.0.1:1/')",
            "fetch",
        ),
        ("return typeof module", "module"),
    ] {
        let e = run_js(body, &Limits::default()).unwrap_err();
        assert_eq!(e, JsError::Sandbox(what.into()), "{body}");
        assert!(
            e.to_string()
                .contains("module files and require() are not supported")
        );
    }
    // QuickJS's own std/os modules are never loaded.
    for body in [
        "return typeof std",
        "return typeof os",
        "return typeof XMLHttpRequest === 'undefined' ? 'undefined' : 'x'",
    ] {
        let r = run_js(body, &Limits::default());
        assert!(
            matches!(&r, Ok(v) if v.value == Some(json!("undefined")))
                || matches!(r, Err(JsError::Sandbox(_))),
            "{body}: {r:?}"
        );
    }
    let e = run_js("return import('fs')", &Limits::default()).unwrap_err();
    assert!(
        matches!(e, JsError::Thrown(_) | JsError::Syntax(_)),
        "{e:?}"
    );
}

#[test]
fn infinite_loops_are_stopped_by_the_time_limit() {
    for body in [
        "while (true) {}",
        "for (;;) { try { while (true) {} } catch (e) {} }",
        "return new Promise(() => { while (true) {} })",
        // Catastrophic backtracking inside one regex call.
        "return /(a+)+$/.test('a'.repeat(40) + 'b')",
    ] {
        let started = Instant::now();
        let e = run_js(body, &short()).unwrap_err();
        assert_eq!(
            e,
            JsError::Limit("stopped: it ran past the 300 ms time limit".into()),
            "{body}"
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{body}");
    }
}

#[test]
fn memory_bombs_and_deep_recursion_are_stopped() {
    for body in [
        "return 'x'.repeat(1e9).length",
        "const a = []; while (true) { a.push(new Array(1e5).fill(1)); }",
        "let s = 'x'; while (true) { s = s + s; }",
    ] {
        let e = run_js(body, &Limits::default()).unwrap_err();
        assert!(
            matches!(&e, JsError::Limit(m) if m.contains("64 MiB memory limit")),
            "{body}: {e:?}"
        );
    }
    let e = run_js(
        "function f(n) { return f(n + 1) + 1; }\nreturn f(0);",
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        JsError::Limit("stopped: it recursed past the stack limit".into())
    );
    // The limits are per call: the next script runs normally.
    assert_eq!(
        run_js("return output + '!'", &Limits::default())
            .unwrap()
            .value,
        Some(json!("x!"))
    );
}

#[tokio::test]
async fn a_stopped_script_fails_its_assertion_with_the_reason() {
    let g = check(json!({"type": "javascript", "value": "const a = [];\nwhile (true) { a.push('x'.repeat(1e6)); }"}), "x").await;
    assert!(!g.pass);
    assert!(g.reason.contains("memory limit"), "{}", g.reason);
}

fn by_test(results: &[CaseResult], test: usize) -> &CaseResult {
    results.iter().find(|c| c.test == test).unwrap()
}

#[tokio::test]
async fn transforms_at_every_level_change_what_is_graded() {
    let mock = MockUpstream::start().await.unwrap();
    // The mock answers "mock: <prompt>".
    let yaml = format!(
        r#"
prompts: ["say {{{{word}}}}"]
providers:
  - id: openai:chat:gpt-mock
    config: {{apiBaseUrl: {base}, apiKey: sk-mock}}
    transform: "output.replace('mock: ', '')"
defaultTest:
  options:
    transform: output.toUpperCase()
tests:
  - vars: {{word: hello}}
    assert:
      - {{type: equals, value: SAY HELLO}}
  - vars: {{word: bye}}
    options:
      transform: "({{words: output.split(' '), vars: context.vars}})"
    assert:
      - {{type: javascript, value: "output.words[1] === 'bye' && output.vars.word === 'bye'"}}
      - {{type: contains-json}}
      - type: equals
        value: bye
        transform: output.words[1]
  - vars: {{word: oops}}
    options:
      transform: output.nope.deeper
    assert:
      - {{type: contains, value: oops}}
"#,
        base = mock.openai_base_url()
    );
    let s = Suite::parse(&yaml, std::path::Path::new(".")).unwrap();
    let r = run(&s, &Options::default(), &|_, _| {}).await.unwrap();
    let first = by_test(&r.results, 0);
    assert!(first.pass, "{first:?}");
    assert_eq!(first.output.as_ref().unwrap().text, "SAY HELLO");
    let second = by_test(&r.results, 1);
    assert!(second.pass, "{second:?}");
    assert_eq!(
        second.output.as_ref().unwrap().value,
        Some(json!({"words": ["say", "bye"], "vars": {"word": "bye"}}))
    );
    // A transform that throws is the case's error, not a pass.
    let third = by_test(&r.results, 2);
    assert!(!third.pass);
    let error = third.error.as_deref().unwrap();
    assert!(
        error.starts_with("options.transform failed: TypeError"),
        "{error}"
    );
}

#[tokio::test]
async fn store_output_as_feeds_later_tests_in_order() {
    let mock = MockUpstream::start().await.unwrap();
    let yaml = format!(
        r#"
prompts: ["{{{{msg}}}}{{{{earlier}}}}"]
providers:
  - id: openai:chat:gpt-mock
    config: {{apiBaseUrl: {base}, apiKey: sk-mock}}
evaluateOptions: {{maxConcurrency: 8}}
tests:
  - vars: {{msg: first}}
    options:
      storeOutputAs: earlier
      transform: output.toUpperCase()
  - vars: {{msg: "after:"}}
    assert:
      - {{type: equals, value: "mock: after:MOCK: FIRST"}}
      - {{type: javascript, value: "context.vars.earlier === 'MOCK: FIRST'"}}
"#,
        base = mock.openai_base_url()
    );
    let s = Suite::parse(&yaml, std::path::Path::new(".")).unwrap();
    let r = run(&s, &Options::default(), &|_, _| {}).await.unwrap();
    let second = by_test(&r.results, 1);
    assert!(second.pass, "{second:?}");
    assert_eq!(second.vars.get("earlier"), Some(&json!("MOCK: FIRST")));
}

mod http {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, Uri};
    use axum::routing::post;

    use super::*;

    type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

    async fn answer(
        State(seen): State<Seen>,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> axum::Json<Value> {
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        seen.lock().unwrap().push((
            uri.to_string(),
            headers
                .get("x-api-key")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
            v.clone(),
        ));
        let q = v["query"].as_str().unwrap_or("").to_owned();
        axum::Json(
            json!({"result": {"message": format!("you asked: {q}")}, "usage": {"n": q.len()}}),
        )
    }

    async fn server() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route("/api/chat", post(answer))
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), seen)
    }

    #[tokio::test]
    async fn the_http_provider_renders_the_request_and_transforms_the_response() {
        let (base, seen) = server().await;
        let yaml = format!(
            r#"
prompts: ["What is {{{{topic}}}}?"]
providers:
  - id: https
    label: api
    config:
      url: {base}/api/chat
      method: POST
      headers: {{x-api-key: "k-{{{{team}}}}"}}
      queryParams: {{v: "2"}}
      body:
        query: "{{{{prompt}}}}"
        meta: {{team: "{{{{team}}}}", n: 3}}
      transformResponse: json.result.message
  - id: "{base}/api/chat"
    label: raw
    config:
      body: {{query: "{{{{prompt}}}}"}}
      transformRequest: prompt.toUpperCase()
      transformResponse: "(json, text) => ({{output: json.usage}})"
tests:
  - vars: {{topic: owls, team: blue}}
    assert:
      - type: javascript
        value: "typeof output === 'string' ? output === 'you asked: What is owls?' : output.n === 13"
"#
        );
        let s = Suite::parse(&yaml, std::path::Path::new(".")).unwrap();
        let r = run(&s, &Options::default(), &|_, _| {}).await.unwrap();
        for c in &r.results {
            assert!(c.pass, "{c:?}");
        }
        let api = r.results.iter().find(|c| c.provider == "api").unwrap();
        assert_eq!(
            api.output.as_ref().unwrap().text,
            "you asked: What is owls?"
        );
        let raw = r.results.iter().find(|c| c.provider == "raw").unwrap();
        assert_eq!(raw.output.as_ref().unwrap().value, Some(json!({"n": 13})));
        let seen = seen.lock().unwrap().clone();
        let first = seen.iter().find(|(_, key, _)| key.is_some()).unwrap();
        assert_eq!(first.0, "/api/chat?v=2");
        assert_eq!(first.1.as_deref(), Some("k-blue"));
        assert_eq!(
            first.2,
            json!({"query": "What is owls?", "meta": {"team": "blue", "n": 3}})
        );
        let second = seen.iter().find(|(_, key, _)| key.is_none()).unwrap();
        assert_eq!(second.2, json!({"query": "WHAT IS OWLS?"}));
    }

    #[tokio::test]
    async fn a_failing_http_target_is_the_cases_error() {
        let (base, _) = server().await;
        let yaml = format!(
            r#"
providers:
  - id: https
    config: {{url: "{base}/missing", body: {{q: "{{{{prompt}}}}"}}}}
  - id: https
    label: bad-transform
    config: {{url: "{base}/api/chat", body: {{query: x}}, transformResponse: json.nope.deeper}}
prompts: [hi]
"#
        );
        let s = Suite::parse(&yaml, std::path::Path::new(".")).unwrap();
        let r = run(&s, &Options::default(), &|_, _| {}).await.unwrap();
        let missing = &r.results[0];
        assert!(!missing.pass);
        assert!(
            missing.error.as_deref().unwrap().contains("HTTP 404"),
            "{missing:?}"
        );
        let bad = &r.results[1];
        assert!(
            bad.error
                .as_deref()
                .unwrap()
                .starts_with("transformResponse failed: TypeError"),
            "{bad:?}"
        );
    }
}

#[test]
fn csv_shorthands_and_transform_options_load_or_are_refused_at_their_path() {
    let dir = std::env::temp_dir().join(format!("seam-eval-js-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cases.csv"),
        "q,__expected1,__expected2,__expected3\nhi,fn:output.length > 1,javascript:output !== 'x',eval:true\n",
    )
    .unwrap();
    let s = Suite::parse(
        "providers: [openai:chat:x]\ntests: file://cases.csv\n",
        &dir,
    )
    .unwrap();
    let asserts: Vec<(String, Option<Value>)> = s.tests[0]
        .asserts
        .iter()
        .map(|a| (a.kind.clone(), a.value.clone()))
        .collect();
    assert_eq!(
        asserts,
        [
            ("javascript".into(), Some(json!("output.length > 1"))),
            ("javascript".into(), Some(json!("output !== 'x'"))),
            ("javascript".into(), Some(json!("true"))),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);

    let s = Suite::parse(
        "providers: [openai:chat:x]\ndefaultTest: {options: {postprocess: output.trim()}}\ntests: [{vars: {a: 1}}, {options: {transform: output + '!', storeOutputAs: out}}]\n",
        std::path::Path::new("."),
    )
    .unwrap();
    assert_eq!(s.tests[0].transform.as_deref(), Some("output.trim()"));
    assert_eq!(s.tests[1].transform.as_deref(), Some("output + '!'"));
    assert_eq!(s.tests[1].store_output_as.as_deref(), Some("out"));

    for (yaml, want) in [
        (
            "providers: [{id: 'openai:chat:x', transform: \"require('fs')\"}]\n",
            "providers[0].transform: uses require()",
        ),
        (
            "providers: [openai:chat:x]\ntests: [{options: {transform: 'process.env.KEY'}}]\n",
            "tests[0].options.transform: uses process",
        ),
        (
            "providers: [openai:chat:x]\ndefaultTest: {options: {transformVars: '({a: 1})'}}\n",
            "defaultTest.options.transformVars: is not supported",
        ),
        (
            "providers: [openai:chat:x]\ntests: [{options: {storeOutputAs: 3}}]\n",
            "tests[0].options.storeOutputAs: must be the name of a var",
        ),
        (
            "providers: [openai:chat:x]\ntests: [{assert: [{type: contains, value: x, transform: 'file://t.js'}]}]\n",
            "tests[0].assert[0].transform: JavaScript files (file://…) are modules",
        ),
    ] {
        let e = Suite::parse(yaml, std::path::Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{yaml}: {e}");
    }
}

#[tokio::test]
async fn an_http_target_cannot_be_a_judge() {
    let mock = MockUpstream::start().await.unwrap();
    let yaml = format!(
        r#"
providers:
  - id: openai:chat:gpt-mock
    config: {{apiBaseUrl: {base}, apiKey: sk-mock}}
prompts: [hi]
defaultTest:
  options:
    provider: {{id: https, config: {{url: "{base}/judge", body: {{q: "{{{{prompt}}}}"}}}}}}
tests:
  - assert: [{{type: llm-rubric, value: polite}}]
"#,
        base = mock.openai_base_url()
    );
    // Refused when the suite is loaded, before any request.
    let e = Suite::parse(&yaml, std::path::Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("a judge must be a chat model"), "{e}");
    assert!(mock.requests().is_empty());
}
