//! The what-if replay against hand-computed cases, and scenario errors with their TOML paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::collections::BTreeMap;

use seam_reports::scenario::{self, PathKind};
use seam_reports::traffic::{Period, Traffic};
use seam_reports::whatif::{Hybrid, MONTH_HOURS, Whatif};
use seam_store::{RequestFacts, UsageRecord};

const T0: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z
const MIN: i64 = 60_000;

/// 10,000 input and 1,000 output tokens: 20 GPU-seconds at 1,000 / 100 tokens/s.
fn request(minute: i64, nth: i64, private: bool) -> RequestFacts {
    RequestFacts {
        time_ms: T0 + minute * MIN + nth,
        endpoint: "chat".into(),
        alias: Some("chat".into()),
        route: Some("openai/gpt-4o-mini".into()),
        status: 200,
        usage: UsageRecord {
            prompt_tokens: 10_000,
            completion_tokens: 1_000,
            ..UsageRecord::default()
        },
        cost_usd: Some(0.01),
        latency_ms: 50.0,
        attempts: 1,
        route_private: private,
        count: 1,
        ..RequestFacts::default()
    }
}

/// Minute 0: 2 requests; minute 1: 4; minute 2: 1 ordinary, then 4 the policy forces private.
fn arrivals() -> Vec<RequestFacts> {
    let mut v = Vec::new();
    for i in 0..2 {
        v.push(request(0, i, false));
    }
    for i in 0..4 {
        v.push(request(1, i, false));
    }
    v.push(request(2, 0, false));
    for i in 1..5 {
        v.push(request(2, i, true));
    }
    v
}

const FILE: &str = r#"
price_change_pct = 10

[[paths]]
name = "vendor"
kind = "vendor"
model = "acme/model"
input_per_mtok = 1.0
output_per_mtok = 2.0
engineering_hours_per_month = 10
engineering_usd_per_hour = 100
setup_usd = 500

[[paths]]
name = "self"
kind = "self_hosted"
gpu_usd_per_hour = 2.0
prefill_tokens_per_s = 1000
decode_tokens_per_s = 100
utilisation = 0.5

[[paths]]
name = "hybrid"
kind = "hybrid"
gpus = 2
gpu_usd_per_hour = 2.0
prefill_tokens_per_s = 1000
decode_tokens_per_s = 100
utilisation = 0.5
model = "acme/model"
input_per_mtok = 1.0
output_per_mtok = 2.0
"#;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn hybrid_burst_matches_the_hand_computed_case() {
    // 2 GPUs × 60 s × 0.5 = 60 GPU-seconds a minute: three 20-second requests.
    // Minute 0: both private. Minute 1: three private, one overflows. Minute 2: the four forced
    // requests go first (80 s: the fourth does not fit), the ordinary one overflows.
    let s = scenario::parse(FILE, &BTreeMap::new()).unwrap();
    let PathKind::Hybrid {
        gpu,
        gpus,
        overflow,
    } = s.paths[2].kind.clone()
    else {
        panic!("not hybrid")
    };
    let mut h = Hybrid::new(gpu, gpus, overflow);
    for f in arrivals() {
        h.add(&f);
    }
    let r = h.finish();
    assert_eq!(r.private_requests, 2 + 3 + 4);
    assert_eq!(r.overflow_requests, 2);
    // Each overflow: 10,000 × $1/M + 1,000 × $2/M = $0.012.
    assert!(close(r.overflow_cost_usd, 0.024), "{}", r.overflow_cost_usd);
    assert_eq!((r.forced_private_requests, r.forced_unfit_requests), (4, 1));
    assert_eq!(r.unfit_minutes, 1);
    assert_eq!(r.unfit_minute_list, vec!["2026-11-02T00:02:00.000Z"]);
}

#[test]
fn paths_are_priced_sized_and_compared() {
    let s = scenario::parse(FILE, &BTreeMap::new()).unwrap();
    let period = Period {
        since_ms: T0,
        until_ms: T0 + 86_400_000,
    };
    let mut t = Traffic::new(period);
    let mut w = Whatif::new(s);
    for f in arrivals() {
        t.add(&f);
        w.add(&f);
    }
    let d = w.data(&t);
    assert!(close(d.month_factor, 30.4375));
    // Vendor: 11 requests × $0.012 a day, × 30.4375; fixed 10 h × $100.
    let v = &d.paths[0];
    assert!(
        close(v.variable_usd_per_month, 0.132 * 30.4375),
        "{}",
        v.variable_usd_per_month
    );
    assert!(close(v.fixed_usd_per_month, 1000.0));
    assert!(close(
        v.tco_12_months_usd,
        500.0 + 12.0 * (1000.0 + 0.132 * 30.4375)
    ));
    assert!(close(
        v.tco_24_months_usd,
        500.0 + 24.0 * (1000.0 + 0.132 * 30.4375)
    ));
    // Self-hosted: the busiest minute needs 100 GPU-seconds over 30 per GPU: 4 GPUs.
    let sh = &d.paths[1];
    assert_eq!(sh.gpus_peak_minute, Some(4));
    assert_eq!(sh.gpus_p99_minute, Some(4));
    assert_eq!(sh.gpus, Some(4));
    assert!(close(sh.usd_per_month, 4.0 * 2.0 * MONTH_HOURS));
    // Hybrid: 2 GPUs all month and the replayed overflow scaled to a month.
    let hy = &d.paths[2];
    assert!(close(
        hy.usd_per_month,
        2.0 * 2.0 * MONTH_HOURS + 0.024 * 30.4375
    ));
    assert_eq!(hy.hybrid.as_ref().unwrap().overflow_requests, 2);
    // Sensitivity: vendor prices ±10 % move the vendor's variable part only.
    let sv = &d.sensitivity[0];
    assert!(close(sv.prices_up, 1000.0 + 1.1 * 0.132 * 30.4375));
    assert!(close(sv.traffic_half, 1000.0 + 0.5 * 0.132 * 30.4375));
    // Hybrid at traffic ×1.5, per minute as a fluid: demands 60, 120, 150 GPU-seconds over a
    // capacity of 60 overflow half of minute 1 ($0.048 × 1.5 × 0.5) and 60 % of minute 2
    // ($0.06 × 1.5 × 0.6): $0.09 a day.
    let sh = &d.sensitivity[2];
    assert!(
        close(
            sh.traffic_one_and_half,
            2.0 * 2.0 * MONTH_HOURS + 0.09 * 30.4375
        ),
        "{}",
        sh.traffic_one_and_half
    );
    // The vendor path stays cheaper than 4 GPUs at every volume searched.
    let be = &d.break_even[0];
    assert_eq!((be.a.as_str(), be.b.as_str()), ("vendor", "self"));
    assert_eq!(be.mtok_per_month, None);
}

#[test]
fn a_break_even_is_found_where_costs_cross() {
    // Vendor at $1,000/M tokens vs one GPU for $1/hour: they cross where the vendor's monthly
    // token bill reaches 730.5 $.
    let file = r#"
[[paths]]
name = "v"
kind = "vendor"
model = "acme/m"
input_per_mtok = 1000.0
output_per_mtok = 1000.0

[[paths]]
name = "g"
kind = "self_hosted"
gpu_usd_per_hour = 1.0
prefill_tokens_per_s = 1000000
decode_tokens_per_s = 1000000
"#;
    let s = scenario::parse(file, &BTreeMap::new()).unwrap();
    let mut t = Traffic::new(Period {
        since_ms: T0,
        until_ms: T0 + 86_400_000,
    });
    let w = Whatif::new(s);
    for f in arrivals() {
        t.add(&f);
    }
    let d = w.data(&t);
    let be = &d.break_even[0];
    let mtok = be.mtok_per_month.unwrap();
    assert!((mtok - MONTH_HOURS / 1000.0).abs() < 1e-3, "{mtok}");
    assert_eq!(be.cheaper_below.as_deref(), Some("v"));
}

#[test]
fn scenario_errors_name_their_toml_path() {
    let check = |text: &str, want: &str| {
        let errors = scenario::parse(text, &BTreeMap::new()).unwrap_err();
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want} not in {errors:?}"
        );
    };
    let ok_vendor = "[[paths]]\nkind = \"vendor\"\nmodel = \"openai/gpt-4o-mini\"\n";
    let ok_self = "[[paths]]\nkind = \"self_hosted\"\ngpu_usd_per_hour = 1.0\nprefill_tokens_per_s = 10.0\ndecode_tokens_per_s = 10.0\n";
    check(
        &format!(
            "{ok_vendor}{ok_vendor}[[paths]]\nkind = \"self_hosted\"\ngpu_usd_per_hour = 0\nprefill_tokens_per_s = 10.0\ndecode_tokens_per_s = 10.0\n"
        ),
        "paths[2].gpu_usd_per_hour: must be > 0",
    );
    check(
        &format!("{ok_self}[[paths]]\nkind = \"vendor\"\nmodel = \"x/y\"\ngpu_per_hour = 1\n"),
        "paths[1].gpu_per_hour: unknown field `gpu_per_hour`",
    );
    check("surprise = 1\n", "surprise: unknown field `surprise`");
    check(
        "[[paths]]\nkind = \"mainframe\"\n",
        "paths[0].kind: unknown kind `mainframe`",
    );
    check(
        "[[paths]]\nkind = \"vendor\"\nmodel = \"acme/unknown-model\"\n",
        "paths[0].model: `acme/unknown-model` has no price",
    );
    check(
        &format!("{ok_self}utilisation = 1.5\n"),
        "paths[0].utilisation: must be in (0, 1]",
    );
    check(
        "[[paths]]\nkind = \"hybrid\"\nmodel = \"openai/gpt-4o-mini\"\ngpu_usd_per_hour = 1.0\nprefill_tokens_per_s = 10.0\ndecode_tokens_per_s = 10.0\n",
        "paths[0].gpus: required for a hybrid path",
    );
    check("paths = []\n", "paths: at least one [[paths]] is needed");
    check(
        &format!(
            "{ok_vendor}[[paths]]\nkind = \"vendor\"\nmodel = \"openai/gpt-4o-mini\"\nsetup_usd = -1\n"
        ),
        "paths[1].setup_usd: must be ≥ 0",
    );
    check(
        "price_change_pct = \"ten\"\n",
        "price_change_pct: invalid type",
    );
}

#[test]
fn the_worked_example_file_parses() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/scenarios.toml"
    ))
    .unwrap();
    let s = scenario::parse(&text, &BTreeMap::new()).unwrap();
    assert_eq!(s.paths.len(), 4);
}
