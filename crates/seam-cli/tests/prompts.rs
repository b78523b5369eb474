//! `seam prompts`: the registry beside a config, as a user drives it from a shell.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::process::Command;

const PROMPT: &str = "---
description: Answers a support ticket.
model: support
vars:
  type: object
  required: [ticket]
  properties:
    ticket: { type: string }
    company: { type: string, default: Acme }
system: You answer for {{ company }}.
---
Ticket: {{ ticket }}
";

fn setup(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("seam-prompts-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("prompts")).unwrap();
    std::fs::write(d.join("seam.toml"), "").unwrap();
    std::fs::write(d.join("prompts/support-answer.prompt"), PROMPT).unwrap();
    d
}

fn seam(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    c.current_dir(dir)
        .env_remove("SEAM_CONFIG")
        .arg("prompts")
        .arg("--config")
        .arg(dir.join("seam.toml"));
    c
}

#[test]
fn list_show_and_render_a_prompt_beside_the_config() {
    let d = setup("ok");
    let out = seam(&d).arg("list").output().unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    let version = seam_prompts::version_of(PROMPT);
    assert!(
        list.starts_with(&format!("support-answer\t{version}\tsupport\t")),
        "{list}"
    );

    let out = seam(&d).args(["show", "support-answer"]).output().unwrap();
    let show = String::from_utf8(out.stdout).unwrap();
    assert!(show.contains("variables: company, ticket"), "{show}");

    let out = seam(&d)
        .args([
            "render",
            "support-answer",
            "--vars",
            r#"{"ticket": "My order is late"}"#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], version);
    assert_eq!(v["messages"][0]["content"], "You answer for Acme.");
    assert_eq!(v["messages"][1]["content"], "Ticket: My order is late");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_missing_variable_or_prompt_is_one_line_on_stderr_and_a_failure() {
    let d = setup("bad");
    let out = seam(&d)
        .args(["render", "support-answer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("variable `ticket`"), "{err}");

    let out = seam(&d).args(["show", "nope"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("no prompt `nope`")
    );

    std::fs::write(d.join("prompts/broken.prompt"), "---\nmodle: x\n---\nhi").unwrap();
    let out = seam(&d).arg("list").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("broken.prompt") && err.contains("unknown field"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// A folder with `seam.toml` whose `[storage]` is a SQLite file beside it, and the prompt.
fn setup_store(name: &str) -> std::path::PathBuf {
    let d = setup(name);
    std::fs::write(
        d.join("seam.toml"),
        "[storage]\nurl = \"sqlite://data/seam.db\"\n",
    )
    .unwrap();
    d
}

/// `seam prompts ARGS`: exit code, stdout, stderr.
fn prompts(d: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = seam(d).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn versions_tags_and_diffs_live_in_the_store_and_old_versions_still_show_and_render() {
    let d = setup_store("store");
    let v1 = seam_prompts::version_of(PROMPT);
    // Reads open no store: nothing is created behind a mistyped path.
    let (code, out, _) = prompts(&d, &["versions", "support-answer"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("{v1}\tnot stored yet\t-\tfile\n"));
    assert!(!d.join("data").exists());
    let (code, _, err) = prompts(&d, &["diff", "support-answer"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no `prod` tag") && err.contains("one of: file"),
        "{err}"
    );

    // Tagging the file's version stores it first.
    let (code, out, err) = prompts(&d, &["tag", "support-answer", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("prod: (none) → {v1}\n"));
    for (args, want) in [
        (
            &["tag", "support-answer", "3f2a1b4c5d6e"][..],
            "is a version, not a tag",
        ),
        (
            &["tag", "support-answer", "canary", "000000000000"][..],
            "has no version 000000000000",
        ),
        (
            &["tag", "support-answer", "canary", "nope"][..],
            "no tag `nope`",
        ),
        (
            &["untag", "support-answer", "canary"][..],
            "no tag `canary`",
        ),
        (&["show", "support-answer@Prod"][..], "neither a version"),
        (&["versions", "support-answer@prod"][..], "without `@`"),
    ] {
        let (code, _, err) = prompts(&d, args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }

    // The file moves on; the old version is still there by version and by tag.
    let edited = PROMPT.replace("Ticket: {{ ticket }}", "Ticket: {{ ticket }}\nBe brief.");
    std::fs::write(d.join("prompts/support-answer.prompt"), &edited).unwrap();
    let v2 = seam_prompts::version_of(&edited);
    let (_, show, _) = prompts(&d, &["show", &format!("support-answer@{v1}")]);
    assert!(show.contains(&format!("version: {v1}\n")), "{show}");
    assert!(
        show.contains("from: the store (first served 20") && show.contains(&v2),
        "{show}"
    );
    assert!(!show.contains("Be brief"), "{show}");
    let (_, show, _) = prompts(&d, &["show", "support-answer"]);
    assert!(
        show.contains("from: the file") && show.contains("Be brief"),
        "{show}"
    );
    let (code, out, err) = prompts(
        &d,
        &[
            "render",
            "support-answer@prod",
            "--vars",
            r#"{"ticket": "late"}"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], v1.as_str());
    assert_eq!(v["messages"][1]["content"], "Ticket: late");

    // prod → file, exactly.
    let (code, out, _) = prompts(&d, &["diff", "support-answer"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "--- support-answer@{v1}\n+++ support-answer@{v2}\n\
             @@ -10,3 +10,4 @@\n \
             system: You answer for {{{{ company }}}}.\n ---\n Ticket: {{{{ ticket }}}}\n+Be brief.\n"
        )
    );

    let (_, out, _) = prompts(&d, &["tag", "support-answer", "prod"]);
    assert_eq!(out, format!("prod: {v1} → {v2}\n"));
    let (_, out, _) = prompts(&d, &["tag", "support-answer", "canary", &v1]);
    assert_eq!(out, format!("canary: (none) → {v1}\n"));
    let (_, out, _) = prompts(&d, &["versions", "support-answer"]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(
        (rows[0][0], rows[0][2], rows[0].len()),
        (v1.as_str(), "canary", 3)
    );
    assert_eq!(
        (rows[1][0], rows[1][2], rows[1][3]),
        (v2.as_str(), "prod", "file")
    );
    assert!(
        rows[0][1].ends_with('Z') && rows[0][1].contains('T'),
        "{out}"
    );

    // Identical sides: nothing on stdout, a note on stderr, success.
    let (code, out, err) = prompts(&d, &["diff", "support-answer", "prod", "file"]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("the same"), "{err}");
    let (code, out, _) = prompts(&d, &["diff", "support-answer", "prod", "canary"]);
    assert_eq!(code, 0);
    assert!(out.contains("-Be brief.\n"), "{out}");

    let (_, out, _) = prompts(&d, &["untag", "support-answer", "canary"]);
    assert_eq!(out, format!("canary: {v1} → (none)\n"));
    let (code, _, _) = prompts(&d, &["untag", "support-answer", "canary"]);
    assert_eq!(code, 1);
    std::fs::remove_dir_all(&d).unwrap();
}

/// A `seam serve` on the embedded default (the echo provider behind `chat`), killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(cwd: &std::path::Path) -> (Server, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam"))
        .current_dir(cwd)
        .env_remove("SEAM_CONFIG")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SEAM_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("seam exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Server(child), format!("http://{addr}/v1"))
}

const TESTED: &str = r#"---
model: chat
params: { temperature: 0 }
system: You answer for {{ company }}.
vars:
  type: object
  required: [ticket]
  properties:
    ticket: { type: string }
    company: { type: string, default: Acme }
tests:
  - description: echoes the ticket
    vars: { ticket: My order is late }
    assert:
      - type: contains
        value: "{{ ticket }}"
  - vars: { ticket: [one, two] }
    assert:
      - type: equals
        value: "echo: Ticket: {{ ticket }}"
---
Ticket: {{ ticket }}
"#;

#[test]
fn test_runs_the_cases_through_the_gateway_rendered_as_served() {
    let d = setup("test");
    let (_server, url) = serve(&d);
    let file = d.join("prompts/tested.prompt");
    std::fs::write(&file, TESTED).unwrap();
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["test", name, "--base-url", &url];
        args.extend(extra);
        prompts(&d, &args)
    };
    let (code, out, err) = run("tested", &["-o", "pass.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3/3 passed"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pass.json")).unwrap()).unwrap();
    let first = &report["results"][0];
    assert_eq!(first["output"]["text"], "echo: Ticket: My order is late");
    assert_eq!(
        first["vars"],
        serde_json::json!({"ticket": "My order is late"})
    );
    assert_eq!(first["provider"], "seam:chat");

    // A wrong answer and a case whose variables do not render: both fail, the run goes on.
    let failing = TESTED.replace(
        "---\nTicket",
        "  - vars: { ticket: x }\n    assert: [{ type: equals, value: nope }]\n  \
         - description: no ticket\n    vars: { company: Initech }\n---\nTicket",
    );
    std::fs::write(&file, &failing).unwrap();
    let (code, out, err) = run("tested", &["-o", "fail.json"]);
    assert_eq!(code, 100, "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("fail.json")).unwrap()).unwrap();
    assert_eq!(report["totals"]["cases"], 5);
    assert_eq!(report["totals"]["passed"], 3);
    let unrendered = &report["results"][4];
    assert_eq!(unrendered["description"], "no ticket");
    assert!(
        unrendered["error"]
            .as_str()
            .unwrap()
            .contains("variable `ticket`"),
        "{unrendered}"
    );

    // An output schema is checked on every case; the echo is not JSON.
    let schema = TESTED.replace("tests:", "output_schema: { type: object }\ntests:");
    std::fs::write(&file, &schema).unwrap();
    let (code, out, _) = run("tested", &[]);
    assert_eq!(code, 100, "{out}");
    assert!(
        out.contains("0/3 passed") && out.contains("is-json"),
        "{out}"
    );

    // An old version by its version, and a prompt without tests.
    let old = seam_prompts::version_of(TESTED);
    let (code, _, err) = run(&format!("tested@{old}"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("no version {old}")), "{err}");
    let (code, _, err) = run("support-answer", &[]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("prompt `support-answer` has no tests"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
