//! `seam eval --check` (every check, no request) and a run that stops midway: its reports are
//! written with the cases it finished and why it stopped, and it exits 1 with that reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-eval-check-{name}-{}", std::process::id()));
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

/// A `seam serve` killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(cwd: &Path) -> (Server, String) {
    let mut child = seam(cwd)
        .args(["serve", "--listen", "127.0.0.1:0"])
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
    std::thread::spawn(move || for _ in lines {});
    (Server(child), format!("http://{addr}/v1"))
}

fn eval(cwd: &Path, suite: &str, args: &[&str]) -> (Option<i32>, String, String) {
    std::fs::write(cwd.join("suite.yaml"), suite).unwrap();
    let out = seam(cwd)
        .args(["eval", "suite.yaml"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_validates_without_a_request() {
    let d = dir("check");
    // Nothing listens on this port: --check never asks.
    let ok = "prompts: ['Say {{w}}']\nproviders: [{id: seam:chat, config: {apiBaseUrl: 'http://127.0.0.1:9/v1'}}]\n\
              tests: [{vars: {w: [a, b]}, assert: [{type: contains, value: '{{w}}'}]}]\n";
    let (code, stdout, stderr) = eval(&d, ok, &["--check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "suite.yaml: ok: 2 tests × 1 prompts × 1 providers, 2 cases"
    );
    let graded = ok.replace(
        "type: contains, value: '{{w}}'",
        "type: llm-rubric, value: polite",
    );
    let (code, _, stderr) = eval(&d, &graded, &["--check"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("suite.yaml: a model-graded assertion names no grader")
            && stderr.contains("--judge, SEAM_EVAL_JUDGE or `[evals] judge`"),
        "{stderr}"
    );
    let (code, _, stderr) = eval(&d, &graded, &["--check", "--judge", "seam:judge"]);
    assert_eq!(code, Some(0), "{stderr}");
    let refused = ok.replace("tests: [{vars:", "tests: [{options: {prefix: 'Q: '}, vars:");
    let (code, _, stderr) = eval(&d, &refused, &["--check"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "suite.yaml: tests[0].options.prefix: is not supported: put the text in the prompt instead"
        ),
        "{stderr}"
    );
}

#[test]
fn a_run_that_stops_writes_what_it_has_and_exits_1_saying_why() {
    let d = dir("stops");
    let (_server, url) = serve(&d);
    let suite = "description: stops\nprompts: ['Say {{x}}']\nproviders: [seam:chat]\n\
                 evaluateOptions: {maxConcurrency: 1}\ntests:\n\
                 \x20 - vars: {x: a, pat: a}\n    assert: [{type: regex, value: '{{pat}}'}]\n\
                 \x20 - vars: {x: b, pat: '('}\n    assert: [{type: regex, value: '{{pat}}'}]\n\
                 \x20 - vars: {x: c, pat: c}\n    assert: [{type: regex, value: '{{pat}}'}]\n";
    let (code, stdout, stderr) = eval(
        &d,
        suite,
        &[
            "--base-url",
            &url,
            "--no-cache",
            "-o",
            "r.json",
            "-o",
            "r.md",
            "-o",
            "r.junit.xml",
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("suite.yaml: the run stopped after 1 cases (the reports hold them):"),
        "{stderr}"
    );
    assert!(stdout.contains("1/1 passed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["totals"]["cases"], 1);
    assert_eq!(report["results"][0]["output"]["text"], "echo: Say a");
    assert!(
        report["error"].as_str().unwrap().contains("regex"),
        "{report}"
    );
    let md = std::fs::read_to_string(d.join("r.md")).unwrap();
    assert!(md.contains("The run stopped before it finished"), "{md}");
    let junit = std::fs::read_to_string(d.join("r.junit.xml")).unwrap();
    assert!(junit.contains("<property name=\"stopped\""), "{junit}");
}
