//! `seam eval` as CI runs it: a suite against a live `seam serve` (the echo provider), the exit
//! codes, every report format, the baseline gate, and record/replay (a second run answers from
//! the cache with the gateway gone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-eval-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn seam(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    c.current_dir(cwd)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("SEAM_CONFIG");
    c
}

/// A `seam serve` killed when dropped, also when a test fails.
struct Server(Child);

impl Server {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `seam serve` on the embedded default (echo), and its base URL.
fn serve(cwd: &Path) -> (Server, String) {
    serve_with(cwd, &[])
}

/// `seam serve` with extra arguments (`--config FILE`), and its base URL.
fn serve_with(cwd: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = seam(cwd)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("SEAM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("seam exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Server(child), format!("http://{addr}/v1"))
}

const SUITE: &str = r#"
description: echo suite
prompts:
  - "Say {{word}}"
providers:
  - seam:chat
tests:
  - vars: {word: [alpha, beta, gamma]}
    assert:
      - type: contains
        value: "{{word}}"
  - description: the echo prefix
    vars: {word: delta}
    assert:
      - type: equals
        value: "echo: Say delta"
"#;

fn eval(cwd: &Path, args: &[&str]) -> std::process::Output {
    seam(cwd).arg("eval").args(args).output().unwrap()
}

#[test]
fn a_passing_suite_exits_0_writes_every_report_and_replays_without_the_gateway() {
    let d = dir("pass");
    std::fs::write(d.join("suite.yaml"), SUITE).unwrap();
    let (mut server, url) = serve(&d);
    let out = eval(
        &d,
        &[
            "suite.yaml",
            "--base-url",
            &url,
            "-o",
            "r.json",
            "-o",
            "r.junit.xml",
            "-o",
            "r.html",
            "-o",
            "r.md",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4/4 passed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["totals"]["cases"], 4);
    assert_eq!(report["totals"]["passed"], 4);
    let first = &report["results"][0];
    assert_eq!(first["output"]["text"], "echo: Say alpha");
    assert!(first["output"]["tokens"]["total"].as_u64().unwrap() > 0);
    let junit = std::fs::read_to_string(d.join("r.junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuites name=\"echo suite\" tests=\"4\" failures=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase name=\"the echo prefix\""),
        "{junit}"
    );
    let html = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(
        html.starts_with("<!doctype html>")
            && html.contains("<svg")
            && !html.contains("<script src")
    );
    assert!(
        std::fs::read_to_string(d.join("r.md"))
            .unwrap()
            .contains("| seam:chat")
    );
    // The gateway is gone: the same suite replays its recorded answers and still passes.
    server.stop();
    let again = eval(&d, &["suite.yaml", "--base-url", &url, "-o", "again.json"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let replay: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("again.json")).unwrap()).unwrap();
    assert!(
        replay["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["output"]["cached"] == true)
    );
    // --no-cache asks the (dead) gateway: every case is an error, exit 100, one line per error in
    // the report, and nothing crashes.
    let fresh = eval(
        &d,
        &[
            "suite.yaml",
            "--base-url",
            &url,
            "--no-cache",
            "-o",
            "dead.json",
        ],
    );
    assert_eq!(fresh.status.code(), Some(100));
    let dead: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("dead.json")).unwrap()).unwrap();
    assert_eq!(dead["totals"]["errors"], 4);
    assert!(
        dead["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
}

#[test]
fn failures_exit_100_unless_the_pass_threshold_allows_them() {
    let d = dir("fail");
    std::fs::write(
        d.join("suite.yaml"),
        SUITE.replace("value: \"echo: Say delta\"", "value: \"something else\""),
    )
    .unwrap();
    let (mut server, url) = serve(&d);
    let out = eval(&d, &["suite.yaml", "--base-url", &url]);
    assert_eq!(out.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3/4 passed"));
    let ok = eval(
        &d,
        &["suite.yaml", "--base-url", &url, "--pass-threshold", "0.75"],
    );
    assert_eq!(ok.status.code(), Some(0));
    let strict = eval(
        &d,
        &["suite.yaml", "--base-url", &url, "--pass-threshold", "0.9"],
    );
    assert_eq!(strict.status.code(), Some(100));
    server.stop();
}

#[test]
fn a_baseline_gate_passes_an_equal_candidate_and_fails_a_worse_one() {
    let d = dir("gate");
    let many = r#"
prompts: ["Say {{word}}"]
providers: [seam:chat]
tests:
  - vars:
      word: [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
             b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20]
    assert:
      - type: contains
        value: "CHECK"
"#;
    std::fs::write(d.join("base.yaml"), many.replace("CHECK", "Say")).unwrap();
    let (mut server, url) = serve(&d);
    let base = eval(&d, &["base.yaml", "--base-url", &url, "-o", "base.json"]);
    assert_eq!(
        base.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&base.stderr)
    );
    // The same answers: non-inferior at a 5-point margin.
    let same = eval(
        &d,
        &[
            "base.yaml",
            "--base-url",
            &url,
            "--baseline",
            "base.json",
            "--margin",
            "0.05",
            "-o",
            "same.json",
        ],
    );
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let same: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("same.json")).unwrap()).unwrap();
    assert_eq!(same["comparisons"][0]["verdict"], "PASS");
    // A candidate failing every b-word (half the cases): FAIL, exit 100.
    std::fs::write(d.join("worse.yaml"), many.replace("CHECK", "Say a")).unwrap();
    let worse = eval(
        &d,
        &[
            "worse.yaml",
            "--base-url",
            &url,
            "--baseline",
            "base.json",
            "--margin",
            "0.05",
            "-o",
            "worse.json",
        ],
    );
    assert_eq!(worse.status.code(), Some(100));
    let worse: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("worse.json")).unwrap()).unwrap();
    let c = &worse["comparisons"][0];
    assert_eq!(c["verdict"], "FAIL");
    assert_eq!(c["pairs"], 40);
    assert_eq!(c["mcnemar"]["b"], 20);
    assert_eq!(c["mcnemar"]["c"], 0);
    server.stop();
}

#[test]
fn bad_suites_and_flags_are_one_line_and_exit_1() {
    let d = dir("bad");
    std::fs::write(d.join("bad.yaml"), "providers: [openai:image:dall-e-3]\n").unwrap();
    for args in [
        vec!["bad.yaml"],
        vec!["missing.yaml"],
        vec!["bad.yaml", "-o", "report.pdf"],
        vec!["bad.yaml", "--pass-threshold", "2"],
    ] {
        let out = eval(&d, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("seam: error: "), "{err}");
    }
}

const GRADED: &str = r#"
prompts: ["Say {{word}}"]
providers: [seam:chat]
tests:
  - vars: {word: alpha}
    assert:
      - type: llm-rubric
        value: says alpha
"#;

/// promptfoo's default grader: `--judge`, then `SEAM_EVAL_JUDGE`, then `[evals] judge` in Seam's
/// config; with none, one line naming all three before anything is sent.
#[test]
fn the_default_grader_comes_from_the_flag_then_the_environment_then_the_config() {
    let d = dir("grader");
    std::fs::write(d.join("suite.yaml"), GRADED).unwrap();
    std::fs::write(
        d.join("seam.toml"),
        "[providers.echo]\nkind = \"echo\"\n\n[models.chat]\ntargets = [{ provider = \"echo\", model = \"echo\" }]\n\n[evals]\njudge = \"chat\"\n",
    )
    .unwrap();
    // No grader anywhere: refused up front (the unreachable base URL is never tried).
    let none = seam(&d)
        .args(["eval", "suite.yaml", "--base-url", "http://127.0.0.1:9/v1"])
        .env_remove("SEAM_EVAL_JUDGE")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for source in [
        "--judge",
        "SEAM_EVAL_JUDGE",
        "[evals] judge",
        "names no grader",
    ] {
        assert!(err.contains(source), "{err}");
    }
    assert!(!d.join(".seam-eval-cache").exists());
    // Each source is checked up front; a refused id shows which one won.
    let picked = |flag: bool, env: bool| {
        let mut c = seam(&d);
        c.args(["eval", "suite.yaml", "--base-url", "http://127.0.0.1:9/v1"])
            .args(["--config", "seam.toml"])
            .env_remove("SEAM_EVAL_JUDGE");
        if flag {
            c.args(["--judge", "openai:image:from-flag"]);
        }
        if env {
            c.env("SEAM_EVAL_JUDGE", "openai:image:from-env");
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = picked(true, true);
    assert_eq!(code, Some(1));
    assert!(err.contains("`openai:image:from-flag`"), "{err}");
    let (code, err) = picked(false, true);
    assert_eq!(code, Some(1));
    assert!(err.contains("`openai:image:from-env`"), "{err}");
    // The config's alias is asked through the gateway: the echo's answer is no verdict, so the
    // case fails (exit 100) with the judge's reply in the report, not a missing grader.
    let (mut server, url) = serve(&d);
    let out = seam(&d)
        .args([
            "eval",
            "suite.yaml",
            "--base-url",
            &url,
            "--config",
            "seam.toml",
        ])
        .args(["-o", "r.json"])
        .env_remove("SEAM_EVAL_JUDGE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(100), "{err}");
    let report = std::fs::read_to_string(d.join("r.json")).unwrap();
    assert!(
        report.contains("the judge's reply has no JSON verdict"),
        "{report}"
    );
    server.stop();
}

/// Vendor ids through a real gateway: `anthropic:` on Seam's `/v1/messages` as direct addressing
/// of the provider named `anthropic`, `openai:responses:` on `/v1/responses`.
#[test]
fn vendor_ids_run_through_the_gateways_surfaces() {
    let d = dir("vendors");
    std::fs::write(
        d.join("seam.toml"),
        "[storage]\nurl = \"sqlite://seam-data/seam.db\"\n\n[providers.echo]\nkind = \"echo\"\n\n[providers.anthropic]\nkind = \"echo\"\n\n[models.chat]\ntargets = [{ provider = \"echo\", model = \"echo\" }]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("suite.yaml"),
        "prompts: [\"Say {{word}}\"]\nproviders: [anthropic:messages:claude-x, openai:responses:chat, seam:chat]\ntests:\n  - vars: {word: alpha}\n    assert: [{type: contains, value: alpha}]\n",
    )
    .unwrap();
    let (mut server, url) = serve_with(&d, &["--config", "seam.toml"]);
    let out = eval(&d, &["suite.yaml", "--base-url", &url, "-o", "r.json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let text = report.to_string();
    for id in [
        "anthropic:messages:claude-x",
        "openai:responses:chat",
        "seam:chat",
    ] {
        assert!(text.contains(id), "{id}: {text}");
    }
    server.stop();
}
