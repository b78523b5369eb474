//! Python in suites, run for real with `python3` (required: a missing python3 fails these tests
//! unless SEAM_ALLOW_NO_PYTHON=1): `python` assertions with promptfoo's verdicts, a `call_api`
//! provider, a prompt function, a `get_var` var, user prints kept out of the answers, the
//! sandbox refusing writes and sockets, and a syntax error reported with its suite path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use seam_evals::runner::{CaseResult, Options, run};
use seam_evals::suite::Suite;

/// python3 is on this machine and in CI; its absence is a failure, not a skip.
fn python_or_skip() -> bool {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SEAM_ALLOW_NO_PYTHON").as_deref() == Ok("1"),
            "python3 is required for these tests (SEAM_ALLOW_NO_PYTHON=1 skips them)"
        );
        eprintln!("python3 missing: skipped (SEAM_ALLOW_NO_PYTHON=1)");
    }
    ok
}

fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-py-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (file, text) in files {
        std::fs::write(d.join(file), text).unwrap();
    }
    d
}

/// A provider that prints (to stdout and stderr) before answering with the prompt.
const ECHO: &str = r#"
import sys
def call_api(prompt, options, context):
    print("provider noise on stdout")
    print("provider noise on stderr", file=sys.stderr)
    return {"output": "echo: " + prompt, "tokenUsage": {"total": 3, "prompt": 1, "completion": 2}, "cost": 0.5}
"#;

async fn run_suite(d: &Path, yaml: &str) -> Vec<CaseResult> {
    std::fs::write(d.join("suite.yaml"), yaml).unwrap();
    let suite = Suite::load(&d.join("suite.yaml")).unwrap_or_else(|e| panic!("{e}"));
    run(&suite, &Options::default(), &|_, _| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .results
}

#[tokio::test]
async fn python_assertions_give_promptfoos_verdicts() {
    if !python_or_skip() {
        return;
    }
    let check = r#"
def get_assert(output, context):
    print("assertion noise")
    return {"pass_": "owls" in output, "score": 0.7, "reason": "about owls", "named_scores": {"owlness": 0.7}}

def strict(output, context):
    return False

async def later(output, context):
    return 0.25
"#;
    let d = dir("verdicts", &[("echo.py", ECHO), ("check.py", check)]);
    let yaml = r#"
prompts: ["Tell me about {{topic}}"]
providers: [file://echo.py]
tests:
  - vars: {topic: owls}
    assert:
      - type: python
        value: "'owls' in output"
      - type: python
        value: |
          print("noise from inline code")
          words = output.split()
          return len(words) == 5 and context['vars']['topic'] == 'owls'
      - type: not-python
        value: "'cats' in output"
      - type: python
        value: "0.4"
        threshold: 0.5
      - type: python
        value: file://check.py
      - type: python
        value: file://check.py:strict
      - type: not-python
        value: file://check.py:later
      - type: python
        value: "'{\"pass\": true, \"score\": 0.9, \"reason\": \"from json\"}'"
      - type: python
        value: "context['providerResponse']['tokenUsage']['total'] == 3 and context['prompt'] == 'Tell me about owls'"
"#;
    let results = run_suite(&d, yaml).await;
    assert_eq!(results.len(), 1);
    let case = &results[0];
    assert!(case.error.is_none(), "{case:?}");
    assert_eq!(
        case.output.as_ref().unwrap().text,
        "echo: Tell me about owls"
    );
    let parts = &case.grade.as_ref().unwrap().components;
    let verdicts: Vec<(bool, f64)> = parts.iter().map(|g| (g.pass, g.score)).collect();
    assert_eq!(
        verdicts,
        [
            (true, 1.0),
            (true, 1.0),
            (true, 1.0),
            // A number below its threshold fails, keeping its score.
            (false, 0.4),
            (true, 0.7),
            (false, 0.0),
            // not-python on 0.25 (> 0 passes): fails, and the score is not inverted.
            (false, 0.25),
            (true, 0.9),
            (true, 1.0),
        ],
        "{parts:#?}"
    );
    assert_eq!(parts[4].reason, "about owls");
    assert_eq!(parts[4].named_scores.get("owlness"), Some(&0.7));
    assert!(
        parts[5].reason.starts_with("Python code returned false"),
        "{}",
        parts[5].reason
    );
    assert_eq!(parts[7].reason, "from json");
    assert!(!case.pass);
}

#[tokio::test]
async fn a_prompt_function_and_a_python_var() {
    if !python_or_skip() {
        return;
    }
    let prompts = r#"
def chat(context):
    return [
        {"role": "system", "content": "You answer for " + context["provider"]["label"]},
        {"role": "user", "content": "Describe " + context["vars"]["topic"]},
    ]
"#;
    let var = r#"
def get_var(var_name, prompt, other_vars):
    print("var noise")
    return {"output": var_name + " made from " + other_vars["animal"]}
"#;
    let d = dir(
        "prompt-fn",
        &[
            ("echo.py", ECHO),
            ("prompts.py", prompts),
            ("topic.py", var),
        ],
    );
    let yaml = r#"
prompts: [file://prompts.py:chat]
providers:
  - id: python:echo.py
    label: echo-bot
tests:
  - vars:
      animal: owls
      topic: file://topic.py
    assert:
      - type: contains
        value: "Describe topic made from owls"
"#;
    let results = run_suite(&d, yaml).await;
    let case = &results[0];
    assert!(case.pass, "{case:#?}");
    let text = &case.output.as_ref().unwrap().text;
    let messages: serde_json::Value =
        serde_json::from_str(text.strip_prefix("echo: ").unwrap()).unwrap();
    assert_eq!(messages[0]["content"], "You answer for echo-bot");
    assert_eq!(case.vars["topic"], "topic made from owls");
}

#[tokio::test]
async fn a_failing_python_var_is_that_cases_error_and_the_run_goes_on() {
    if !python_or_skip() {
        return;
    }
    let var =
        "def get_var(var_name, prompt, other_vars):\n    raise RuntimeError('no data today')\n";
    let d = dir("var-error", &[("echo.py", ECHO), ("broken.py", var)]);
    let yaml = "prompts: [\"about {{topic}}\"]\nproviders: [file://echo.py]\ntests:\n  - vars: {topic: file://broken.py}\n  - vars: {topic: owls}\n";
    let results = run_suite(&d, yaml).await;
    let error = results[0].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("tests[0].vars.topic: get_var failed: RuntimeError: no data today"),
        "{error}"
    );
    assert!(results[1].pass, "{:?}", results[1]);
}

#[tokio::test]
async fn the_sandbox_refuses_writes_and_sockets() {
    if !python_or_skip() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let d = dir("sandbox", &[("echo.py", ECHO)]);
    let target = d.join("written.txt");
    let yaml = format!(
        r#"
prompts: ["hi"]
providers: [file://echo.py]
tests:
  - assert:
      - type: python
        value: |
          open({target:?}, "w").write("escaped")
          return True
      - type: python
        value: |
          import socket
          socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"escaped")
          return True
      - type: python
        value: |
          import _socket
          s = _socket.socket()
          s.connect(("127.0.0.1", {port}))
          return True
      - type: python
        value: |
          import subprocess
          subprocess.run(["sh", "-c", "echo escaped > {target}"])
          return True
      - type: python
        value: |
          import os
          return "OPENAI_API_KEY" not in os.environ
"#,
        target = target.display().to_string(),
    );
    std::fs::write(d.join("suite.yaml"), yaml).unwrap();
    let suite = Suite::load(&d.join("suite.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let results = run(&suite, &Options::default(), &|_, _| {})
        .await
        .unwrap()
        .results;
    let parts = &results[0].grade.as_ref().unwrap().components;
    for (i, g) in parts.iter().take(4).enumerate() {
        assert!(!g.pass, "escape {i} passed: {g:?}");
        assert!(
            g.reason.starts_with("Python code execution failed:"),
            "escape {i}: {}",
            g.reason
        );
    }
    assert!(
        parts[0].reason.contains("PermissionError"),
        "{}",
        parts[0].reason
    );
    assert!(parts[4].pass, "{:?}", parts[4]);
    assert!(!target.exists(), "a sandboxed assertion wrote a file");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a sandboxed assertion reached a local socket"
    );
}

#[tokio::test]
async fn csv_expected_python_runs_as_a_python_assertion() {
    if !python_or_skip() {
        return;
    }
    let csv =
        "topic,__expected\nowls,python: 'owls' in output\ncats,python: output.endswith('dogs')\n";
    let d = dir("csv", &[("echo.py", ECHO), ("cases.csv", csv)]);
    let yaml =
        "prompts: [\"about {{topic}}\"]\nproviders: [file://echo.py]\ntests: file://cases.csv\n";
    let results = run_suite(&d, yaml).await;
    let verdicts: Vec<bool> = results.iter().map(|c| c.pass).collect();
    assert_eq!(verdicts, [true, false]);
}

#[test]
fn a_syntax_error_is_reported_with_its_suite_path() {
    if !python_or_skip() {
        return;
    }
    let d = dir(
        "syntax",
        &[
            ("echo.py", ECHO),
            (
                "bad.py",
                "def get_assert(output, context)\n    return True\n",
            ),
        ],
    );
    let inline = "prompts: [hi]\nproviders: [file://echo.py]\ntests:\n  - assert:\n      - type: contains\n        value: x\n      - type: python\n        value: |\n          x = (\n          return x\n";
    std::fs::write(d.join("suite.yaml"), inline).unwrap();
    let e = Suite::load(&d.join("suite.yaml")).unwrap_err().to_string();
    assert!(
        e.starts_with("tests[0].assert[1].value: SyntaxError"),
        "{e}"
    );
    assert!(e.contains("line 1"), "{e}");
    let file = "prompts: [hi]\nproviders: [file://echo.py]\ntests:\n  - assert:\n      - type: python\n        value: file://bad.py\n";
    std::fs::write(d.join("suite.yaml"), file).unwrap();
    let e = Suite::load(&d.join("suite.yaml")).unwrap_err().to_string();
    assert!(e.starts_with("tests[0].assert[0].value: "), "{e}");
    assert!(
        e.contains("bad.py: SyntaxError") && e.contains("line 1"),
        "{e}"
    );
    let provider = "prompts: [hi]\nproviders: [file://missing.py]\n";
    std::fs::write(d.join("suite.yaml"), provider).unwrap();
    let e = Suite::load(&d.join("suite.yaml")).unwrap_err().to_string();
    assert!(e.starts_with("providers[0]: cannot read"), "{e}");
}
