//! `seam report cost` and `seam report whatif` as a user runs them: on a store of known
//! traffic, in Markdown, HTML and JSON, to stdout or a file; bad input is one line on stderr and
//! a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::path::PathBuf;
use std::process::{Command, Output};

use seam_store::{AuditLog, AuditRecord, BackendConfig, RecordKind, StoreConfig, UsageRecord};
use serde_json::Value;

/// 2026-11-02T00:00:00Z.
const T0: i64 = 1_793_577_600_000;
const PERIOD: [&str; 4] = ["--since", "2026-11-02", "--until", "2026-11-04"];

struct Env {
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    /// `seam.toml` over `audit.db`, holding 4 requests on day one ($0.25 each, 1,000 input
    /// tokens of which 200 cached, 100 output) and 2 on day two ($1 each).
    fn new(name: &str) -> Env {
        let dir =
            std::env::temp_dir().join(format!("seam-report-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("seam.toml"),
            "[storage]\nurl = \"sqlite://audit.db\"\n\
             [providers.e]\nkind = \"echo\"\n\
             [models.chat]\ntargets = [{ provider = \"e\", model = \"echo\" }]\n",
        )
        .unwrap();
        let mut log = AuditLog::open(&StoreConfig {
            backend: BackendConfig::Sqlite {
                path: dir.join("audit.db"),
            },
            master_key: None,
            retention: Vec::new(),
        })
        .unwrap();
        let rec = |i: i64, t: i64, cost: f64| AuditRecord {
            model: Some("chat".into()),
            route: Some("openai/gpt-4o-mini".into()),
            usage: Some(UsageRecord {
                prompt_tokens: 1000,
                cached_tokens: 200,
                completion_tokens: 100,
                ..UsageRecord::default()
            }),
            cost_usd: Some(cost),
            latency_ms: 120.0,
            ..AuditRecord::event(format!("r{i}"), RecordKind::Request, "chat", t)
        };
        let mut batch: Vec<AuditRecord> = (0..4).map(|i| rec(i, T0 + i * 60_000, 0.25)).collect();
        batch.extend((4..6).map(|i| rec(i, T0 + 86_400_000 + i, 1.0)));
        log.append(&batch).unwrap();
        Env { dir }
    }

    fn seam(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_seam"))
            .current_dir(&self.dir)
            .env_remove("SEAM_CONFIG")
            .args(["report"])
            .args(args)
            .args(["--config", "seam.toml"])
            .output()
            .unwrap()
    }
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// One line on stderr, starting `seam: error:`, and exit 1.
fn fails(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("seam: error: "), "{err}");
    err
}

#[test]
fn cost_report_in_markdown_json_and_html() {
    let e = Env::new("cost");
    let md = ok(&e.seam(&[&["cost"][..], &PERIOD[..]].concat()));
    assert!(md.starts_with("# Cost report"), "{md}");
    for want in ["$3.00", "6,000", "1,200", "| chat |"] {
        assert!(md.contains(want), "{want} not in\n{md}");
    }
    let json: Value = serde_json::from_str(&ok(
        &e.seam(&[&["cost", "--format", "json"][..], &PERIOD[..]].concat())
    ))
    .unwrap();
    assert_eq!(json["data"]["totals"]["requests"], 6);
    assert_eq!(json["data"]["totals"]["cached_tokens"], 1200);
    assert_eq!(json["data"]["daily"][1]["cost_usd"], 2.0);
    ok(&e.seam(&[&["cost", "-o", "cost.html"][..], &PERIOD[..]].concat()));
    let html = std::fs::read_to_string(e.dir.join("cost.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg") && html.contains("$3.00"));
    assert!(!html.contains("<script"));
}

#[test]
fn whatif_report_from_the_worked_example() {
    let e = Env::new("whatif");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/scenarios.toml"
    );
    let json: Value = serde_json::from_str(&ok(&e.seam(
        &[
            &["whatif", "--scenarios", example, "--format", "json"][..],
            &PERIOD[..],
        ]
        .concat(),
    )))
    .unwrap();
    let d = &json["data"];
    assert_eq!(json["kind"], "whatif");
    assert_eq!(d["paths"].as_array().unwrap().len(), 4);
    assert_eq!(d["month_factor"], 30.4375 / 2.0);
    assert_eq!(
        d["paths"][2]["gpus"], 2,
        "min_gpus holds the self-hosted path at 2"
    );
    let md = ok(&e.seam(&[&["whatif", "--scenarios", example][..], &PERIOD[..]].concat()));
    for want in [
        "# What-if report",
        "12-month TCO",
        "Break-even",
        "Sensitivity",
        "Hybrid: ",
    ] {
        assert!(md.contains(want), "{want} not in\n{md}");
    }
}

#[test]
fn bad_input_is_one_line_and_a_failure() {
    let e = Env::new("errors");
    let err = fails(&e.seam(&["cost", "--since", "yesterday"]));
    assert!(err.contains("--since: cannot read the time"), "{err}");
    let err = fails(&e.seam(&["cost", "--since", "2026-11-05", "--until", "2026-11-01"]));
    assert!(err.contains("--since must be before --until"), "{err}");
    std::fs::write(
        e.dir.join("bad.toml"),
        "[[paths]]\nkind = \"self_hosted\"\ngpu_usd_per_hour = 0\nprefill_tokens_per_s = 1\ndecode_tokens_per_s = 1\n",
    )
    .unwrap();
    let err = fails(&e.seam(&["whatif", "--scenarios", "bad.toml"]));
    assert!(
        err.contains("bad.toml: paths[0].gpu_usd_per_hour: must be > 0"),
        "{err}"
    );
    let err = fails(&e.seam(&["whatif", "--scenarios", "missing.toml"]));
    assert!(err.contains("cannot read missing.toml"), "{err}");
    std::fs::remove_file(e.dir.join("audit.db")).unwrap();
    let err = fails(&e.seam(&["cost"]));
    assert!(err.contains("no audit log at"), "{err}");
}

#[test]
fn reports_need_no_vendor_keys_but_do_need_the_store() {
    let e = Env::new("secrets");
    // The gateway's own config, run where its vendor key is not set (a laptop, CI).
    std::fs::write(
        e.dir.join("gateway.toml"),
        "[storage]\nurl = \"sqlite://audit.db\"\n\
         [providers.openai]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key = \"env:SEAM_TEST_UNSET_VENDOR_KEY\"\n\
         [models.chat]\ntargets = [{ provider = \"openai\", model = \"gpt-4o-mini\" }]\n",
    )
    .unwrap();
    let run = |config: &str| {
        Command::new(env!("CARGO_BIN_EXE_seam"))
            .current_dir(&e.dir)
            .env_remove("SEAM_CONFIG")
            .env_remove("SEAM_TEST_UNSET_VENDOR_KEY")
            .env_remove("SEAM_TEST_UNSET_STORE_URL")
            .args(["report", "cost", "--format", "json", "--config", config])
            .args(["--since", "2026-11-01", "--until", "2026-11-05"])
            .output()
            .unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&ok(&run("gateway.toml"))).unwrap();
    assert_eq!(json["data"]["totals"]["requests"], 6);
    // The store's own secret is still required, and the message names it.
    std::fs::write(
        e.dir.join("nostore.toml"),
        "[storage]\nurl = \"env:SEAM_TEST_UNSET_STORE_URL\"\n\
         [providers.openai]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key = \"env:SEAM_TEST_UNSET_VENDOR_KEY\"\n\
         [models.chat]\ntargets = [{ provider = \"openai\", model = \"gpt-4o-mini\" }]\n",
    )
    .unwrap();
    let err = fails(&run("nostore.toml"));
    assert!(err.contains("SEAM_TEST_UNSET_STORE_URL"), "{err}");
}
