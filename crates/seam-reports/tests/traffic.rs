//! The traffic scan over a store filled through `AuditLog::append` with traffic of known
//! totals, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

mod common;

use common::{DAY, DAY0, Kind, MIN, attempt, env, private_finding, req};
use seam_reports::traffic::{self, Period, spread};
use seam_store::{AuditRecord, RecordKind, UsageRecord};

/// 24 requests over three days (plus one before the period and a shadow copy):
/// day 0: 10 × openai/gpt-4o-mini, $0.25 each, key of team red;
/// day 1: 5 × anthropic/claude-sonnet-4, $1 each, team blue: 2 retried, 1 fell back, 2 private;
/// day 2: 3 cache hits, 2 upstream errors, 1 aggregated refusal of 4.
pub fn fill(e: &common::Env) {
    let red = e.key("app-red", "red");
    let blue = e.key("app-blue", "blue");
    let mut batch: Vec<AuditRecord> = Vec::new();
    let mut before = req(DAY0 - 1, "chat", "openai/gpt-4o-mini", (1, 0, 1), 100.0);
    before.key_id = Some(red.clone());
    batch.push(before);
    for i in 0..10 {
        let mut r = req(
            DAY0 + i * MIN,
            "chat",
            "openai/gpt-4o-mini",
            (1000, 200, 100),
            0.25,
        );
        r.key_id = Some(red.clone());
        r.latency_ms = 100.0 + 10.0 * i as f64;
        batch.push(r);
    }
    for i in 0..5 {
        let route = "anthropic/claude-sonnet-4";
        let mut r = req(DAY0 + DAY + i * MIN, "chat", route, (2000, 0, 500), 1.0);
        r.key_id = Some(blue.clone());
        match i {
            0 | 1 => r.attempts = vec![attempt(route, 503), attempt(route, 200)],
            2 => r.attempts = vec![attempt("openai/gpt-4o-mini", 503), attempt(route, 200)],
            _ => r.findings = vec![private_finding()],
        }
        batch.push(r);
    }
    let day2 = DAY0 + 2 * DAY;
    for i in 0..3 {
        let mut r = req(day2 + i, "chat", "openai/gpt-4o-mini", (0, 0, 0), 0.0);
        r.cache_hit = true;
        r.attempts.clear();
        batch.push(r);
    }
    for i in 0..2 {
        let mut r = req(day2 + 10 + i, "chat", "openai/gpt-4o-mini", (0, 0, 0), 0.0);
        r.route = None;
        r.usage = None;
        r.cost_usd = None;
        r.status = 502;
        r.error_code = Some("upstream_unavailable".to_owned());
        r.attempts = vec![attempt("openai/gpt-4o-mini", 502)];
        batch.push(r);
    }
    let mut refused = req(day2 + 20, "chat", "x/y", (0, 0, 0), 0.0);
    refused.route = None;
    refused.usage = None;
    refused.cost_usd = None;
    refused.status = 429;
    refused.error_code = Some("rate_limited".to_owned());
    refused.attempts.clear();
    refused.count = Some(4);
    refused.key_id = Some(blue);
    batch.push(refused);
    let shadow = AuditRecord {
        kind: RecordKind::Shadow,
        variant: Some("rollout:shadow".to_owned()),
        model: Some("chat".to_owned()),
        route: Some("openai/gpt-4o".to_owned()),
        usage: Some(UsageRecord {
            prompt_tokens: 1000,
            completion_tokens: 100,
            ..UsageRecord::default()
        }),
        cost_usd: Some(0.5),
        ..AuditRecord::event("shadow_1".to_owned(), RecordKind::Shadow, "chat", day2 + 30)
    };
    batch.push(shadow);
    e.log().append(&batch).unwrap();
}

pub fn period() -> Period {
    Period {
        since_ms: DAY0,
        until_ms: DAY0 + 3 * DAY,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn check(kind: Kind) {
    let Some(e) = env(kind) else { return };
    fill(&e);
    let mut log = e.log();
    let mut seen = 0;
    let t = traffic::scan_with(&mut log, period(), &mut |_| seen += 1).unwrap();
    assert_eq!(seen, 22, "{kind:?}: 21 request records and a shadow");
    let s = &t.totals;
    assert_eq!(s.requests, 24, "{kind:?}");
    assert_eq!(s.errors, 6);
    assert_eq!(
        (s.input_tokens, s.cached_tokens, s.output_tokens),
        (20_000, 2_000, 3_500)
    );
    assert!(close(s.cost_usd, 7.5), "{}", s.cost_usd);
    assert_eq!(s.cache_hits, 3);
    assert_eq!((s.retried, s.fell_back, s.route_private), (2, 1, 2));
    assert!(close(s.retried_cost_usd, 2.0) && close(s.fell_back_cost_usd, 1.0));
    assert_eq!(t.shadow.requests, 1);
    assert!(close(t.shadow.cost_usd, 0.5));

    assert!(close(t.by_team["red"].cost_usd, 2.5));
    assert_eq!(t.by_team["blue"].requests, 9);
    assert!(close(t.by_route["anthropic/claude-sonnet-4"].cost_usd, 5.0));
    assert_eq!(t.by_provider["openai"].requests, 13);
    assert_eq!(t.errors["rate_limited"], 4);
    assert_eq!(t.errors["upstream_unavailable"], 2);

    let (rows, saved) = t.cache_savings();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].hits, 3);
    assert!(close(saved, 0.75), "{saved}");

    let daily: Vec<f64> = t.daily().iter().map(|(_, d)| d.cost_usd).collect();
    assert_eq!(daily, vec![2.5, 5.0, 0.0]);
    let sp = spread(&daily);
    assert!(close(sp.mean, 2.5));
    assert!((sp.cv - 0.816_496_580_927_726).abs() < 1e-9, "{}", sp.cv);
    assert!(close(sp.p95, 5.0) && close(sp.min, 0.0));

    // 15 answered requests: six at 100 ms, then 110 … 190 ms.
    let p = t.latency.percentiles();
    assert_eq!(p.count, 15);
    assert!((p.p50_ms - 120.0).abs() < 0.2, "{}", p.p50_ms);
    assert!((p.max_ms - 190.0).abs() < 0.2, "{}", p.max_ms);
    assert_eq!(t.minutes.len(), 10 + 5 + 1);
}

#[test]
fn sqlite_traffic_has_the_known_totals() {
    check(Kind::Sqlite);
}

#[test]
fn postgres_traffic_has_the_known_totals() {
    check(Kind::Postgres);
}

#[test]
fn period_defaults_to_thirty_days_and_refuses_a_reversed_one() {
    let p = Period::parse(None, None, 100 * DAY).unwrap();
    assert_eq!((p.since_ms, p.until_ms), (70 * DAY, 100 * DAY));
    assert!(close(p.month_factor(), 30.4375 / 30.0));
    let e = Period::parse(Some("2026-11-05"), Some("2026-11-01"), 0).unwrap_err();
    assert_eq!(e, "--since must be before --until");
    let e = Period::parse(Some("yesterday"), None, 0).unwrap_err();
    assert!(e.starts_with("--since: cannot read the time"), "{e}");
}

#[test]
fn the_cost_report_shows_the_known_totals_in_every_format() {
    let Some(e) = env(Kind::Sqlite) else { return };
    fill(&e);
    let t = traffic::scan(&mut e.log(), period()).unwrap();
    let r = seam_reports::cost::report(&t, "2026-11-05T00:00:00.000Z");
    let json: serde_json::Value =
        serde_json::from_str(&seam_reports::render(&r, seam_reports::Format::Json)).unwrap();
    let d = &json["data"];
    assert_eq!(json["kind"], "cost");
    assert_eq!(d["totals"]["requests"], 24);
    assert!(close(d["totals"]["cost_usd"].as_f64().unwrap(), 7.5));
    assert!(close(d["cache"]["saved_usd"].as_f64().unwrap(), 0.75));
    assert_eq!(d["by_team"][0]["name"], "blue");
    assert_eq!(d["daily"].as_array().unwrap().len(), 3);
    assert_eq!(d["variability"]["max_day"], "2026-11-03");
    assert_eq!(d["errors"][0]["code"], "rate_limited");
    let md = seam_reports::render(&r, seam_reports::Format::Markdown);
    for want in [
        "$7.50",
        "$0.7500",
        "| blue |",
        "20,000",
        "rate\\_limited",
        "0.816",
    ] {
        assert!(md.contains(want), "{want} not in\n{md}");
    }
    let html = seam_reports::render(&r, seam_reports::Format::Html);
    assert!(html.contains("<svg") && html.contains("$7.50"));
}
