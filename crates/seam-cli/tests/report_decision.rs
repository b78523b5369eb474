//! `seam report quality|matrix|exit` (issue 21) as a user runs them: a config, a store with
//! recorded traffic, eval reports on disk, and the reports in Markdown, HTML and JSON; errors
//! are one line on stderr with a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::path::PathBuf;
use std::process::{Command, Output};

use seam_store::{AuditLog, AuditRecord, BackendConfig, RecordKind, StoreConfig};
use serde_json::{Value, json};

/// 2026-11-02T00:00:00Z.
const DAY0: i64 = 1_793_577_600_000;

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!(
            "seam-report-decision-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("seam.toml"),
            "[storage]\nurl = \"sqlite://seam.db\"\n\
             [providers.openai]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             [providers.anthropic]\nkind = \"anthropic\"\n\
             [models.chat]\ntargets = [{ provider = \"openai\", model = \"gpt-4o-mini\" }, \
             { provider = \"anthropic\", model = \"claude-sonnet-4-5\" }]\n\
             [models.solo]\ntargets = [{ provider = \"openai\", model = \"gpt-4o\" }]\n",
        )
        .unwrap();
        Env { dir }
    }

    fn fill(&self) {
        let mut log = AuditLog::open(&StoreConfig {
            backend: BackendConfig::Sqlite {
                path: self.dir.join("seam.db"),
            },
            master_key: None,
            retention: Vec::new(),
        })
        .unwrap();
        let rec = |i: i64, alias: &str, route: &str, features: &[&str], cost: f64| AuditRecord {
            model: Some(alias.to_owned()),
            route: Some(route.to_owned()),
            cost_usd: Some(cost),
            latency_ms: 200.0 + i as f64,
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            prompt: (alias == "chat").then(|| "refunds@9c1d2e3f4a5b".to_owned()),
            ..AuditRecord::event(
                format!("r{i}"),
                RecordKind::Request,
                "chat",
                DAY0 + i * 3_600_000,
            )
        };
        log.append(&[
            rec(
                0,
                "chat",
                "openai/gpt-4o-mini",
                &["tools", "json_schema"],
                0.01,
            ),
            rec(1, "chat", "openai/gpt-4o-mini", &["json_schema"], 0.02),
            rec(30, "solo", "openai/gpt-4o", &["streaming"], 0.03),
        ])
        .unwrap();
    }

    fn seam(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_seam"))
            .current_dir(&self.dir)
            .env_remove("SEAM_CONFIG")
            .args(["report"])
            .args(args)
            .args([
                "--config",
                "seam.toml",
                "--since",
                "2026-11-01",
                "--until",
                "2026-12-01",
            ])
            .output()
            .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn exit_report_names_the_single_vendor_alias_and_the_missing_feature() {
    let e = Env::new("exit");
    e.fill();
    let json: Value = serde_json::from_str(&ok(&e.seam(&["exit", "--format", "json"]))).unwrap();
    let data = &json["data"];
    assert_eq!(data["single_provider"], json!(["solo"]));
    assert_eq!(data["prompts_without_suite"], json!([["refunds", 2]]));
    let chat = &data["rows"][0];
    assert_eq!(chat["alias"], "chat");
    assert_eq!(chat["features"], json!({"json_schema": 2, "tools": 1}));
    assert_eq!(
        chat["alternatives"][0]["target"],
        "anthropic/claude-sonnet-4-5"
    );
    assert_eq!(chat["alternatives"][0]["lacks"], json!(["json_schema"]));
    assert_eq!(chat["status"], "blocked");
    let out = e.seam(&["exit", "-o", "exit.html"]);
    ok(&out);
    let html = std::fs::read_to_string(e.dir.join("exit.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("json_schema (2)"));
}

#[test]
fn matrix_scores_paths_from_a_weights_file_and_refuses_a_bad_one() {
    let e = Env::new("matrix");
    e.fill();
    std::fs::write(
        e.dir.join("weights.toml"),
        "[weights]\ntco_predictability = 3\n[paths.buy]\n[paths.hybrid]\n\
         judgements = { talent_operations = 2 }\n",
    )
    .unwrap();
    let md = ok(&e.seam(&["matrix", "--weights", "weights.toml"]));
    assert!(md.contains("| Vendor dependence and exit |"), "{md}");
    assert!(md.contains("judged (weights file)"), "{md}");
    let json: Value = serde_json::from_str(&ok(&e.seam(&[
        "matrix",
        "--weights",
        "weights.toml",
        "--format",
        "json",
    ])))
    .unwrap();
    let paths: Vec<&str> = json["data"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["buy", "hybrid"]);
    // Both requests of chat and the one of solo went to openai: one vendor carries it all.
    assert_eq!(json["data"]["facts"]["v"], 1.0);
    assert_eq!(json["data"]["facts"]["requests"], 3);
    std::fs::write(
        e.dir.join("bad.toml"),
        "[paths.build]\njudgements = { skills = 2 }\n",
    )
    .unwrap();
    let err = one_line_error(&e.seam(&["matrix", "--weights", "bad.toml"]));
    assert!(
        err.contains("bad.toml: paths.build.judgements.skills: unknown criterion"),
        "{err}"
    );
}

#[test]
fn quality_reads_result_files_and_says_when_there_is_nothing() {
    let e = Env::new("quality");
    let err = one_line_error(&e.seam(&["quality"]));
    assert!(err.contains("no --results"), "{err}");
    std::fs::write(
        e.dir.join("eval.json"),
        json!({"version": 1, "description": "ci", "started_unix_ms": 5, "duration_ms": 1.0,
               "totals": {}, "comparisons": [], "margin": null, "seed": 1, "results": [],
               "variants": [{"provider": "seam:chat", "prompt": "refunds",
                             "totals": {"cases": 10, "passed": 9}, "mean_score": 0.9}]})
        .to_string(),
    )
    .unwrap();
    let md = ok(&e.seam(&["quality", "--results", "eval.json"]));
    assert!(md.contains("| refunds | chat | 9/10 | 90.0 %"), "{md}");
    assert!(md.contains("59.6–98.2 %"), "{md}");
}
