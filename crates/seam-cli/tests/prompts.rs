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
    c.env_remove("SEAM_CONFIG")
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
