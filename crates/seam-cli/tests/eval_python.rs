//! `seam eval` with Python, end to end: a `call_api` provider and `python` assertions through the
//! binary, user prints kept out of the results, and runaway assertions (an infinite loop, a
//! memory bomb) stopped and reported as failures. python3 is required (SEAM_ALLOW_NO_PYTHON=1
//! skips).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::path::{Path, PathBuf};
use std::process::Command;

fn python_or_skip() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SEAM_ALLOW_NO_PYTHON").as_deref() == Ok("1"),
            "python3 is required for these tests (SEAM_ALLOW_NO_PYTHON=1 skips them)"
        );
    }
    ok
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-eval-py-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn eval(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    c.current_dir(cwd)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("SEAM_CONFIG")
        .arg("eval")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

const PROVIDER: &str = r#"
import asyncio, sys

async def call_api(prompt, options, context):
    print('{"ok": "a forged answer"}')
    print("provider noise", file=sys.stderr)
    await asyncio.sleep(0)
    return {
        "output": options["config"]["prefix"] + prompt.upper(),
        "tokenUsage": {"total": 7, "prompt": 3, "completion": 4},
        "cost": 0.002,
    }
"#;

#[test]
fn a_python_provider_and_assertions_run_through_seam_eval() {
    if !python_or_skip() {
        return;
    }
    let d = dir("provider");
    std::fs::write(d.join("provider.py"), PROVIDER).unwrap();
    std::fs::write(
        d.join("grade.py"),
        "def get_assert(output, context):\n    print('grader noise')\n    return {'pass': output.endswith('OWLS'), 'score': 1, 'reason': 'shouted'}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("suite.yaml"),
        r#"
description: python end to end
prompts: ["tell me about {{topic}}"]
providers:
  - id: file://provider.py
    label: py
    config: {prefix: "py: "}
tests:
  - vars: {topic: owls}
    assert:
      - type: python
        value: 'output == "py: TELL ME ABOUT OWLS"' 
      - type: python
        value: file://grade.py
      - type: cost
        threshold: 0.01
"#,
    )
    .unwrap();
    let out = eval(&d, &["suite.yaml", "--no-cache", "-o", "r.json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let case = &report["results"][0];
    assert_eq!(case["output"]["text"], "py: TELL ME ABOUT OWLS");
    assert_eq!(case["output"]["tokens"]["total"], 7);
    assert_eq!(case["pass"], true);
}

#[test]
fn runaway_assertions_are_stopped_and_fail() {
    if !python_or_skip() {
        return;
    }
    let d = dir("runaway");
    std::fs::write(
        d.join("provider.py"),
        "def call_api(prompt, options, context):\n    return {'output': prompt}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("suite.yaml"),
        r#"
prompts: ["hi"]
providers: [file://provider.py]
tests:
  - assert:
      - type: python
        value: |
          while True:
              pass
  - assert:
      - type: python
        value: |
          hog = bytearray(8 * 1024 * 1024 * 1024)
          return True
  - assert:
      - type: not-python
        value: |
          raise ValueError("broken grader")
"#,
    )
    .unwrap();
    let out = eval(
        &d,
        &["suite.yaml", "--no-cache", "-o", "r.json"],
        &[("SEAM_EVAL_PYTHON_TIMEOUT", "2")],
    );
    assert_eq!(
        out.status.code(),
        Some(100),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let reason = |i: usize| {
        report["results"][i]["grade"]["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason(0).contains("timed out after 2 s"), "{}", reason(0));
    assert!(reason(1).contains("MemoryError"), "{}", reason(1));
    // An error fails the assertion even when negated.
    assert!(
        reason(2).contains("ValueError: broken grader"),
        "{}",
        reason(2)
    );
    for i in 0..3 {
        assert_eq!(report["results"][i]["pass"], false);
    }
}
