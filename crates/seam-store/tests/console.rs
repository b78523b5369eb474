//! What the console reads from the store, on both backends (harness: tests/common): uploaded
//! eval runs, and the audit trail newest first, a page at a time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, cfg};
use seam_store::*;

impl Env {
    fn evals(&self) -> EvalStore {
        EvalStore::open(&cfg(self.backend.clone(), None)).unwrap()
    }
}

fn run_named(id: &str, at: i64, passed: u64, total: u64) -> EvalRun {
    EvalRun {
        id: id.to_owned(),
        name: format!("suite {id}"),
        kind: "eval".to_owned(),
        uploaded_ms: at,
        passed,
        total,
        uploaded_by: Some("admin".to_owned()),
    }
}

fn runs_are_kept_listed_newest_first_and_read_back(e: &mut Env) {
    let mut s = e.evals();
    assert!(s.list(10).unwrap().is_empty());
    s.put(&run_named("a", 1_000, 3, 4), r#"{"totals":{"cases":4}}"#)
        .unwrap();
    let mut red = run_named("b", 2_000, 9, 10);
    red.kind = "redteam".to_owned();
    red.uploaded_by = None;
    s.put(&red, r#"{"summary":{"probes":10}}"#).unwrap();
    // Another connection (another replica) sees them, newest first.
    let listed = e.evals().list(10).unwrap();
    assert_eq!(listed, [red.clone(), run_named("a", 1_000, 3, 4)]);
    assert_eq!(e.evals().list(1).unwrap(), [red.clone()]);
    let (got, report) = s.get("b").unwrap().unwrap();
    assert_eq!(got, red);
    assert_eq!(report, r#"{"summary":{"probes":10}}"#);
    assert!(s.get("c").unwrap().is_none());
    // An id is stored once.
    assert!(s.put(&run_named("a", 3_000, 0, 1), "{}").is_err());
}

fn the_oldest_runs_go_past_the_cap(e: &mut Env) {
    let mut s = e.evals();
    let extra = 3;
    for i in 0..evals::MAX_RUNS + extra {
        s.put(&run_named(&format!("r{i:05}"), i, 1, 1), "{}")
            .unwrap();
    }
    assert_eq!(e.count("SELECT COUNT(*) FROM eval_runs"), evals::MAX_RUNS);
    for i in 0..extra {
        assert!(s.get(&format!("r{i:05}")).unwrap().is_none(), "r{i}");
    }
    assert!(s.get(&format!("r{extra:05}")).unwrap().is_some());
}

fn record(id: &str, time_ms: i64, status: u16) -> AuditRecord {
    AuditRecord {
        model: Some("chat".to_owned()),
        status,
        ..AuditRecord::event(id.to_owned(), RecordKind::Request, "chat", time_ms)
    }
}

/// `latest` reads back in time: newest first, each page starting before the last one's end,
/// with the search's filters.
fn the_trail_reads_newest_first_a_page_at_a_time(e: &mut Env) {
    let mut log = AuditLog::open(&cfg(e.backend.clone(), Some(KEY))).unwrap();
    let recs: Vec<AuditRecord> = (0..7)
        .map(|i| {
            record(
                &format!("r{i}"),
                1_000 + i,
                if i % 2 == 0 { 200 } else { 500 },
            )
        })
        .collect();
    log.append(&recs).unwrap();
    let ids = |rs: &[StoredRecord]| rs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let all = Query::default();
    let first = log.latest(&all, None, 3).unwrap();
    assert_eq!(ids(&first), ["r6", "r5", "r4"]);
    let second = log.latest(&all, Some(first[2].seq), 3).unwrap();
    assert_eq!(ids(&second), ["r3", "r2", "r1"]);
    let last = log.latest(&all, Some(second[2].seq), 3).unwrap();
    assert_eq!(ids(&last), ["r0"]);
    let failed = Query {
        status: Some(500),
        ..Query::default()
    };
    assert_eq!(
        ids(&log.latest(&failed, None, 10).unwrap()),
        ["r5", "r3", "r1"]
    );
    let window = Query {
        since_ms: Some(1_002),
        until_ms: Some(1_005),
        ..Query::default()
    };
    assert_eq!(
        ids(&log.latest(&window, None, 10).unwrap()),
        ["r4", "r3", "r2"]
    );
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "console.db") {
        body(&mut e);
    }
}

on_both_backends!(
    runs_are_kept_listed_newest_first_and_read_back,
    the_oldest_runs_go_past_the_cap,
    the_trail_reads_newest_first_a_page_at_a_time,
);
