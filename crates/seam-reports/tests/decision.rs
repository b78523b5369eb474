//! The decision reports (issue 21): quality rows and intervals from a store's eval runs and
//! feedback records, matrix scores against hand-computed values, and the exit report's flags
//! from a config and recorded traffic — on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::{DAY, DAY0, Env, Kind, env, req};
use seam_config::{Config, Resolver};
use seam_reports::capabilities::Overrides;
use seam_reports::exit;
use seam_reports::matrix::{self, Facts};
use seam_reports::quality::{self, Collector, Source};
use seam_reports::setup::Setup;
use seam_reports::traffic::Period;
use seam_reports::weights::Weights;
use seam_store::{AuditRecord, EvalRun, EvalStore, RecordKind};
use serde_json::{Value, json};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn variant(provider: &str, prompt: &str, passed: u64, cases: u64, cost: f64) -> Value {
    json!({
        "provider": provider, "prompt": prompt,
        "totals": {"cases": cases, "passed": passed, "failed": cases - passed, "errors": 0,
                   "pass_rate": passed as f64 / cases as f64},
        "mean_score": passed as f64 / cases as f64, "cost_usd": cost,
        "latency_ms_p50": 120.0, "latency_ms_p95": 300.0,
    })
}

fn eval_report(started: u64, variants: Vec<Value>) -> Value {
    json!({"version": 1, "description": "support suite", "started_unix_ms": started,
           "duration_ms": 1.0, "totals": {}, "variants": variants, "comparisons": [],
           "margin": null, "seed": 1, "results": []})
}

fn upload(e: &Env, id: &str, kind: &str, at: i64, report: &Value) {
    let mut s = EvalStore::open(&e.cfg()).unwrap();
    let run = EvalRun {
        id: id.to_owned(),
        name: id.to_owned(),
        kind: kind.to_owned(),
        uploaded_ms: at,
        passed: 0,
        total: 0,
        uploaded_by: None,
    };
    s.put(&run, &report.to_string()).unwrap();
}

fn rating(at: i64, value: &str, pass: bool) -> AuditRecord {
    AuditRecord {
        model: Some("chat".into()),
        prompt: Some("faq@3f2a1b4c5d6e".into()),
        tags: vec![
            "request:r1".into(),
            "eval:tone".into(),
            format!("value={value}"),
            format!("pass={pass}"),
        ],
        ..AuditRecord::event(
            format!("ev_{at}_{value}_{pass}"),
            RecordKind::Feedback,
            "feedback",
            at,
        )
    }
}

/// The latest run per variant wins; pass rates carry their Wilson 95 % interval; a cheaper
/// variant whose interval reaches the best's is `comparable`; red-team and online metrics too.
fn quality_rows_and_intervals(kind: Kind) {
    let Some(e) = env(kind) else { return };
    upload(
        &e,
        "run_old",
        "eval",
        1_000,
        &eval_report(1_000, vec![variant("seam:chat", "faq", 6, 10, 0.10)]),
    );
    upload(
        &e,
        "run_new",
        "eval",
        2_000,
        &eval_report(
            2_000,
            vec![
                variant("seam:chat", "faq", 9, 10, 0.20),
                variant("openai:chat:gpt-4o-mini", "faq", 40, 50, 0.05),
            ],
        ),
    );
    upload(
        &e,
        "rt",
        "redteam",
        3_000,
        &json!({"target": "seam:chat", "base_url": "http://x", "seed": 1, "pass_threshold": 0.9,
                "passed": false, "summary": {"probes": 3, "passed": 2, "failed": 1, "errors": 0,
                "pass_rate": 0.6667}, "categories": [], "results": []}),
    );
    let mut log = e.log();
    log.append(&[
        rating(DAY0, "1.0000", true),
        rating(DAY0 + 1, "1.0000", true),
        rating(DAY0 + 2, "0.0000", false),
    ])
    .unwrap();
    let mut c = Collector::default();
    quality::from_store(&mut EvalStore::open(&e.cfg()).unwrap(), &mut c).unwrap();
    let online = quality::online(&mut log, Some(DAY0), Some(DAY0 + DAY)).unwrap();
    let q = c.finish(online);
    assert_eq!(q.read, 3);
    let rows: Vec<(&str, u64, u64, &str)> = q
        .evals
        .iter()
        .map(|r| {
            (
                r.subject.as_str(),
                r.passed,
                r.cases,
                r.versus_best.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("chat", 9, 10, "best"),
            ("gpt-4o-mini", 40, 50, "comparable")
        ]
    );
    close(q.evals[0].low, 0.595_849_973_204_761_5);
    close(q.evals[0].high, 0.982_123_786_904_927_1);
    close(q.evals[1].low, 0.669_628_940_677_745_9);
    close(q.evals[1].high, 0.887_562_499_842_239);
    // $0.001 a case against $0.02: 95 % cheaper.
    close(q.evals[1].cheaper_by.unwrap(), 0.95);
    assert_eq!(q.evals[0].run, "run_new");
    let rt = &q.redteam[0];
    assert_eq!(
        (rt.target.as_str(), rt.passed, rt.probes, rt.gate),
        ("seam:chat", 2, 3, Some(false))
    );
    close(rt.low, 0.207_659_600_802_047_65);
    let o = &q.online[0];
    assert_eq!(
        (o.model.as_str(), o.prompt.as_str(), o.metric.as_str()),
        ("chat", "faq", "eval:tone")
    );
    assert_eq!((o.n, o.graded, o.passed), (3, 3, Some(2)));
    close(o.mean.unwrap(), 2.0 / 3.0);
    close(o.high.unwrap(), 0.938_508_055_279_603_7);
    let md = seam_reports::render(
        &quality::report(&q, "now", None),
        seam_reports::Format::Markdown,
    );
    assert!(md.contains("comparable, 95 % cheaper"), "{md}");
}

#[test]
fn quality_rows_and_intervals_sqlite() {
    quality_rows_and_intervals(Kind::Sqlite);
}

#[test]
fn quality_rows_and_intervals_postgres() {
    quality_rows_and_intervals(Kind::Postgres);
}

/// Every score of a known fact set, computed by hand from the formulas in docs/reports.md.
#[test]
fn matrix_scores_match_hand_computed_values() {
    let facts = Facts {
        days: 30,
        cv: 0.4,
        p50_ms: 600.0,
        p95_ms: 1400.0,
        p99_ms: 2500.0,
        requests: 1000,
        top_vendor: Some("openai".into()),
        v: 0.75,
        private_share: 0.1,
        aliases: 4,
        m: 0.5,
        s: 0.25,
        ac: 0.5,
        prompts: 2,
        pc: 0.5,
        pol: 0.5,
        keys: 0,
        key_pol: 0.0,
        audit: "on, async".into(),
        aud: 0.75,
    };
    let w = Weights::parse(
        "[weights]\ntco_predictability = 3\nvendor_dependence_exit = 2\n\n\
         [paths.buy]\n[paths.build]\njudgements = { talent_operations = 1 }\n\
         [paths.burst]\nbased_on = \"hybrid\"\n",
    )
    .unwrap();
    let m = matrix::score(facts, &w);
    let scores = |p: &str| -> Vec<f64> {
        let p = m.paths.iter().find(|x| x.path == p).unwrap();
        seam_reports::weights::CRITERIA
            .iter()
            .map(|c| p.scores[*c].score)
            .collect()
    };
    assert_eq!(scores("buy"), [5.0, 3.0, 2.0, 3.0, 4.0, 2.88, 5.0, 2.08]);
    assert_eq!(scores("build"), [1.5, 4.0, 4.0, 3.0, 4.0, 3.88, 1.0, 5.0]);
    assert_eq!(scores("burst"), [4.0, 3.5, 3.5, 3.0, 4.0, 3.38, 3.0, 2.67]);
    let totals: Vec<(&str, f64)> = m.paths.iter().map(|p| (p.path.as_str(), p.total)).collect();
    assert_eq!(totals, [("buy", 3.19), ("build", 3.58), ("burst", 3.34)]);
    let build = m.paths.iter().find(|p| p.path == "build").unwrap();
    assert_eq!(
        build.scores["talent_operations"].how,
        "judged (weights file)"
    );
    let buy = m.paths.iter().find(|p| p.path == "buy").unwrap();
    assert_eq!(
        buy.scores["tco_predictability"].how,
        "5 × (1 − min(cv, 1)) = 5 × (1 − 0.40)"
    );
    let html = seam_reports::render(&matrix::report(&m, "now", None), seam_reports::Format::Html);
    assert!(html.contains("Vendor dependence and exit") && html.contains("judged (weights file)"));
}

#[test]
fn the_documented_example_weights_file_parses() {
    let text = include_str!("../../../docs/examples/weights.toml");
    let w = Weights::parse(text).unwrap();
    let names: Vec<&str> = w.paths.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["buy", "build", "hybrid", "burst"]);
    assert_eq!(w.weights["tco_predictability"], 3.0);
}

#[test]
fn weights_file_errors_name_their_toml_path() {
    let e = |t: &str| Weights::parse(t).unwrap_err().to_string();
    assert_eq!(
        e("[paths.burst]\nbased_on = \"hybrid\"\njudgements = { speed = 3 }\n"),
        "paths.burst.judgements.speed: unknown criterion (one of time_to_value, tco_predictability, \
         control_differentiation, interoperability, performance_scale, risk_compliance, \
         talent_operations, vendor_dependence_exit)"
    );
    assert_eq!(
        e("[weights]\nrisk_compliance = true\n"),
        "weights.risk_compliance: must be a number"
    );
    assert_eq!(
        e("[paths]\n"),
        "paths: names no path (leave it out for buy, build and hybrid)"
    );
}

const CONFIG: &str = r#"
[providers.openai]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[providers.anthropic]
kind = "anthropic"

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
trust = "private"

[models.chat]
targets = [
  { provider = "openai", model = "gpt-4o-mini" },
  { provider = "anthropic", model = "claude-sonnet-4-5" },
]

[models.solo]
targets = [{ provider = "openai", model = "gpt-4o" }]

[models.rag]
targets = [
  { provider = "local", model = "qwen2.5-7b-instruct" },
  { provider = "openai", model = "gpt-4o-mini" },
]
"#;

fn config() -> Config {
    seam_config::from_toml(CONFIG, &Resolver::process(std::env::temp_dir())).unwrap()
}

fn with(mut r: AuditRecord, features: &[&str], prompt: Option<&str>) -> AuditRecord {
    r.features = features.iter().map(|f| (*f).to_owned()).collect();
    r.prompt = prompt.map(str::to_owned);
    r
}

/// The exit report flags the single-provider alias, the prompt in traffic without a suite, and
/// the feature in use the alternative lacks, from the features column the traffic recorded.
fn exit_flags(kind: Kind) {
    let Some(e) = env(kind) else { return };
    let mut log = e.log();
    log.append(&[
        with(
            req(DAY0, "chat", "openai/gpt-4o-mini", (10, 0, 5), 0.01),
            &["tools", "json_schema"],
            Some("faq@3f2a1b4c5d6e"),
        ),
        with(
            req(DAY0 + 1, "chat", "openai/gpt-4o-mini", (10, 0, 5), 0.01),
            &["json_schema"],
            Some("refunds@9c1d2e3f4a5b"),
        ),
        with(
            req(DAY0 + 2, "solo", "openai/gpt-4o", (10, 0, 5), 0.01),
            &["streaming"],
            None,
        ),
        with(
            req(
                DAY0 + 3,
                "rag",
                "local/qwen2.5-7b-instruct",
                (10, 0, 5),
                0.0,
            ),
            &[],
            None,
        ),
    ])
    .unwrap();
    let setup = Setup::from_config(&config());
    let period = Period {
        since_ms: DAY0,
        until_ms: DAY0 + DAY,
    };
    let usage = exit::scan(&mut log, period, &setup).unwrap();
    assert_eq!(usage.by_alias["chat"].features["json_schema"], 2);
    assert_eq!(usage.by_alias["chat"].prompts["refunds"], 1);
    let mut c = Collector::default();
    c.add(Source {
        name: "ci".into(),
        at_ms: 1,
        report: eval_report(1, vec![variant("seam:chat", "faq", 9, 10, 0.2)]),
    });
    let q = c.finish(Vec::new());
    let x = exit::build(&setup, &usage, &q, &Overrides::default());
    assert_eq!(x.single_provider, ["solo"]);
    assert_eq!(x.prompts_without_suite, [("refunds".to_owned(), 1)]);
    let chat = x.rows.iter().find(|r| r.alias == "chat").unwrap();
    assert!(chat.alias_has_suite);
    assert_eq!(chat.alternatives.len(), 1);
    let alt = &chat.alternatives[0];
    assert_eq!(alt.target, "anthropic/claude-sonnet-4-5");
    assert_eq!(alt.lacks, ["json_schema"]);
    assert_eq!(chat.status, "blocked");
    let solo = x.rows.iter().find(|r| r.alias == "solo").unwrap();
    assert!(solo.single_provider);
    assert!(solo.alternatives.iter().all(|a| a.from_alias.is_some()));
    assert!(
        solo.alternatives
            .iter()
            .any(|a| a.target == "anthropic/claude-sonnet-4-5" && a.lacks.is_empty())
    );
    assert_eq!(solo.status, "untested");
    // An override that gives the alternative structured output unblocks the alias.
    let o = Overrides::parse("[targets.\"anthropic/claude-*\"]\njson_schema = true\n").unwrap();
    let x = exit::build(&setup, &usage, &q, &o);
    assert_eq!(
        x.rows.iter().find(|r| r.alias == "chat").unwrap().status,
        "untested"
    );
    let html = seam_reports::render(&exit::report(&x, "now", None), seam_reports::Format::Html);
    assert!(html.contains("json_schema (2)"), "features in use show up");
    // The matrix's coverage facts come from the same scan.
    let traffic = seam_reports::traffic::scan(&mut log, period).unwrap();
    let f = matrix::facts(&setup, &traffic, &usage, &q);
    assert_eq!((f.aliases, f.prompts), (3, 2));
    close(f.m, 2.0 / 3.0);
    close(f.pc, 0.5);
    close(f.v, 0.75);
    close(f.private_share, 0.25);
    assert_eq!(f.top_vendor.as_deref(), Some("openai"));
}

#[test]
fn exit_flags_sqlite() {
    exit_flags(Kind::Sqlite);
}

#[test]
fn exit_flags_postgres() {
    exit_flags(Kind::Postgres);
}
