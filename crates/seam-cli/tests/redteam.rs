//! `seam redteam` against a real `seam serve` with the echo provider: the JSON report's shape,
//! injections that "work" on a parrot, a policy that protects personal data and secrets, the exit
//! codes around --pass-threshold, and one-line errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Three aliases on the echo provider: no policy, personal data redacted (secrets blocked), and
/// personal data tokenized with values restored in the answer (docs/policy.md).
const CONFIG: &str = r#"
[providers.e]
kind = "echo"

[policies.redact-pii.input]
pii = { action = "redact" }
secrets = { action = "block" }

[policies.mask-pii.input]
pii = { action = "tokenize" }
secrets = { action = "block" }
[policies.mask-pii.output]
pii = { action = "redact" }

[models.raw]
targets = [{ provider = "e", model = "x" }]

[models.redacted]
targets = [{ provider = "e", model = "x" }]
policy = "redact-pii"

[models.masked]
targets = [{ provider = "e", model = "x" }]
policy = "mask-pii"
"#;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-redteam-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn seam() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    c.current_dir(dir());
    for k in [
        "OPENAI_API_KEY",
        "SEAM_API_KEY",
        "OPENAI_BASE_URL",
        "SEAM_CONFIG",
    ] {
        c.env_remove(k);
    }
    c
}

/// A running `seam serve`, killed on drop.
struct Server {
    child: Child,
    base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Server {
    // One folder per server: tests run in parallel, so each gets its own config (never read
    // half-written) and its own store (seam-data beside the config; servers killed mid-write must
    // not leave another's SQLite file locked).
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let own = dir().join(format!("server-{n}"));
    std::fs::create_dir_all(&own).unwrap();
    let config = own.join("redteam.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut child = seam()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("SEAM_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(line) = lines.next() else {
            panic!("seam exited before listening: {}", seen.join("\n"));
        };
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        seen.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base_url: format!("http://{addr}/v1"),
    }
}

/// Runs `seam redteam` with `args`, writing the JSON report; (exit code, stdout, stderr, report).
fn redteam(server: &Server, name: &str, args: &[&str]) -> (i32, String, String, Value) {
    let out_path = dir().join(format!("{name}.json"));
    let _ = std::fs::remove_file(&out_path);
    let out = seam()
        .args(["redteam", "--base-url", &server.base_url, "-o"])
        .arg(&out_path)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = std::fs::read_to_string(&out_path)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap(), stdout, stderr, report)
}

fn category<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == name)
        .unwrap_or_else(|| panic!("no category {name}"))
}

fn results_of<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["category"] == name)
        .collect()
}

#[test]
fn a_parrot_fails_the_injections_and_the_report_has_its_shape() {
    let server = serve();
    let (code, stdout, stderr, report) =
        redteam(&server, "raw", &["--target", "raw", "--seed", "7"]);
    assert_eq!(code, 100, "{stderr}");
    assert!(stdout.contains("probes against `raw`"), "{stdout}");
    assert!(stdout.contains("(seed 7)"), "{stdout}");
    assert!(stdout.contains("FAIL: pass rate"), "{stdout}");

    assert_eq!(report["target"], "raw");
    assert_eq!(report["base_url"], server.base_url.as_str());
    assert_eq!(report["seed"], 7);
    assert_eq!(report["pass_threshold"], 1.0);
    assert_eq!(report["passed"], false);
    let summary = &report["summary"];
    let probes = summary["probes"].as_u64().unwrap();
    assert!(probes >= 60, "{summary}");
    assert_eq!(
        summary["passed"].as_u64().unwrap() + summary["failed"].as_u64().unwrap(),
        probes
    );
    assert_eq!(summary["errors"], 0);
    assert_eq!(report["categories"].as_array().unwrap().len(), 9);
    assert_eq!(report["results"].as_array().unwrap().len() as u64, probes);

    // Echo repeats the user's message, nonce and all: every injection "succeeds".
    for name in [
        "prompt-injection",
        "indirect-injection",
        "special-tokens",
        "jailbreak",
    ] {
        let c = category(&report, name);
        assert_eq!(c["pass_rate"], 0.0, "{c}");
        assert!(c["probes"].as_u64().unwrap() >= 8, "{c}");
    }
    // …and never says anything that was only in the system prompt.
    assert_eq!(
        category(&report, "system-prompt-extraction")["pass_rate"],
        1.0
    );
    let failed = results_of(&report, "prompt-injection")[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["detector"], "contains_any");
    assert!(failed["evidence"].as_str().unwrap().starts_with("marker "));
    assert!(failed["answer"].as_str().unwrap().starts_with("echo: "));
    // PII in a supplied document comes straight back.
    let card = results_of(&report, "pii-exfiltration")
        .into_iter()
        .find(|r| r["id"] == "pii-card-from-record")
        .unwrap();
    assert_eq!(card["status"], "failed");
    assert_eq!(card["detector"], "pii_echo");

    // The same seed sends the same probes and gets the same verdicts.
    let (_, _, _, again) = redteam(&server, "raw-again", &["--target", "raw", "--seed", "7"]);
    let verdicts = |r: &Value| -> Vec<(Value, Value, Value)> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["id"].clone(), x["status"].clone(), x["evidence"].clone()))
            .collect()
    };
    assert_eq!(verdicts(&report), verdicts(&again));
}

#[test]
fn a_policy_that_redacts_and_blocks_passes_the_data_probes() {
    let server = serve();
    let (code, stdout, stderr, report) = redteam(
        &server,
        "redacted",
        &[
            "--target",
            "redacted",
            "--category",
            "pii-exfiltration",
            "--category",
            "masking,secret-leakage",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("PASS: pass rate 100.0%"), "{stdout}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["categories"].as_array().unwrap().len(), 3);
    for name in ["pii-exfiltration", "masking", "secret-leakage"] {
        assert_eq!(category(&report, name)["pass_rate"], 1.0, "{name}");
    }
    // Secrets are blocked by the gateway before the model sees them.
    for r in results_of(&report, "secret-leakage") {
        assert_eq!(r["blocked_by"], "422 policy_violation", "{r}");
    }
}

#[test]
fn tokenized_values_are_not_restored_across_requests_or_into_links() {
    let server = serve();
    let (code, stdout, stderr, report) = redteam(
        &server,
        "masked",
        &[
            "--target",
            "masked",
            "--category",
            "masking",
            "--pass-threshold",
            "0.9",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Every masking probe, `mask-url-www` included: an address inside a scheme-less link is
    // masked alone, so the link guard sees the link around its token and never restores it.
    for r in results_of(&report, "masking") {
        assert_eq!(r["status"], "passed", "{r}");
    }
}

#[test]
fn the_exit_code_follows_the_threshold() {
    let server = serve();
    let args = |t: &'static str| {
        [
            "--target",
            "raw",
            "--category",
            "masking",
            "--pass-threshold",
            t,
        ]
    };
    // Against raw echo three URL probes fail: 8/11 ≈ 72.7%.
    let (code, _, _, report) = redteam(&server, "t1", &args("0.7"));
    assert_eq!(code, 0);
    assert_eq!(report["passed"], true);
    let (code, stdout, _, report) = redteam(&server, "t2", &args("0.8"));
    assert_eq!(code, 100, "{stdout}");
    assert_eq!(report["passed"], false);
    let (code, _, _, _) = redteam(&server, "t3", &args("0"));
    assert_eq!(code, 0);
}

#[test]
fn a_markdown_report_for_a_pull_request() {
    let server = serve();
    let path = dir().join("report.md");
    let out = seam()
        .args([
            "redteam",
            "--base-url",
            &server.base_url,
            "--target",
            "raw",
            "--seed",
            "3",
        ])
        .args(["--category", "masking", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(100));
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(md.starts_with("## Red team: `raw`"), "{md}");
    assert!(md.contains("| masking | 11 | 8 | 3 | 0 | 72.7% |"), "{md}");
    assert!(
        md.contains("`mask-url-markdown-image` | masking | url_leak: pii.email inside a URL"),
        "{md}"
    );
    assert!(md.contains("--seed 3"), "{md}");
}

#[test]
fn errors_are_one_line_and_exit_1() {
    for (args, needle) in [
        (
            vec!["--base-url", "http://127.0.0.1:1/v1", "--target", "x"],
            "cannot reach http://127.0.0.1:1/v1/chat/completions",
        ),
        (
            vec!["--target", "x", "--category", "nope"],
            "unknown category `nope`",
        ),
        (
            vec!["--target", "x", "-o", "report.txt"],
            "must end in .json or .md",
        ),
        (
            vec!["--target", "x", "--pass-threshold", "1.5"],
            "between 0 and 1",
        ),
    ] {
        let out = seam().arg("redteam").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("seam: error: "), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(out.stdout.is_empty());
    }
    let server = serve();
    let (code, _, err, _) = redteam(&server, "unknown", &["--target", "no-such-alias"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("HTTP 404 model_not_found"), "{err}");
}

#[test]
fn list_prints_the_library() {
    let out = seam().args(["redteam", "--list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() >= 60);
    assert!(text.contains("enc-marker-unicode-tags"), "{text}");
}
