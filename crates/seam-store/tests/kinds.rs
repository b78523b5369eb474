//! Record kinds and counts (issue 13): a stream's `opening`, refusals aggregated with a `count`
//! (migration 5), and an MCP `tool_call` (issue 15). All are chained, shown by get, search and
//! export, and checked by verify; run against both backends like `audit.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, cfg};
use seam_store::*;
use serde_json::json;

fn env(kind: Kind) -> Option<Env> {
    common::env(kind, "kinds.db")
}

fn open(e: &Env) -> AuditLog {
    AuditLog::open(&cfg(e.backend.clone(), Some(KEY))).unwrap()
}

fn rec(id: &str, kind: RecordKind, count: Option<u32>, class: RetentionClass) -> AuditRecord {
    AuditRecord {
        id: id.to_owned(),
        time_ms: 1_714_564_800_000,
        key_id: Some("key-1".to_owned()),
        subject: Some("s-1".to_owned()),
        tags: Vec::new(),
        endpoint: "chat".to_owned(),
        model: Some("gpt".to_owned()),
        route: Some("mock/gpt-mock".to_owned()),
        status: 200,
        error_code: None,
        attempts: Vec::new(),
        findings: Vec::new(),
        usage: None,
        cost_usd: None,
        latency_ms: 5.0,
        ttft_ms: None,
        cache_hit: false,
        placement: None,
        kind,
        count,
        prompt: None,
        variant: None,
        trace_id: None,
        citations: Vec::new(),
        features: Vec::new(),
        class,
        payload: Payload {
            client_request: Some(json!({"secret": "kept only in requests"})),
            upstream_request: None,
            response: None,
        },
    }
}

fn seeded(e: &Env) -> AuditLog {
    let mut log = open(e);
    log.append(&[
        rec("r-1", RecordKind::Request, None, RetentionClass::Full),
        // An opening never keeps a payload, whatever its class says.
        rec("r-2:open", RecordKind::Opening, None, RetentionClass::Full),
        rec("r-2", RecordKind::Request, None, RetentionClass::Full),
        AuditRecord {
            status: 429,
            error_code: Some("rate_limited".to_owned()),
            ..rec(
                "r-3:refusals",
                RecordKind::Request,
                Some(41),
                RetentionClass::Metadata,
            )
        },
    ])
    .unwrap();
    log
}

fn kinds_and_counts_round_trip(e: &mut Env) {
    let mut log = seeded(e);
    let opening = log.get("r-2:open").unwrap().unwrap();
    assert_eq!(opening.kind, RecordKind::Opening);
    assert_eq!(opening.payload, PayloadState::NotKept);
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_log WHERE payload IS NOT NULL"),
        2,
        "the opening's payload is not stored"
    );
    let j = opening.to_json();
    assert_eq!(
        (j["kind"].clone(), j["count"].clone()),
        (json!("opening"), json!(null))
    );
    let agg = log.get("r-3:refusals").unwrap().unwrap();
    assert_eq!((agg.kind, agg.count), (RecordKind::Request, Some(41)));
    assert_eq!(agg.to_json()["count"], 41);
    let request = log.get("r-2").unwrap().unwrap();
    assert!(matches!(request.payload, PayloadState::Kept(_)));
    let found = log.search(&Query::default()).unwrap();
    let kinds: Vec<_> = found
        .iter()
        .map(|r| (r.id.as_str(), r.kind, r.count))
        .collect();
    assert_eq!(
        kinds,
        [
            ("r-1", RecordKind::Request, None),
            ("r-2:open", RecordKind::Opening, None),
            ("r-2", RecordKind::Request, None),
            ("r-3:refusals", RecordKind::Request, Some(41)),
        ]
    );
    let mut exported = 0;
    log.export(&Query::default(), &mut |_| {
        exported += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(exported, 4);
    assert!(log.verify(&mut |_| {}).unwrap().ok());
}

/// `count` came after the chain: chained all the same when set, and a row that had none cannot
/// be given one.
fn count_is_chained(e: &mut Env) {
    let mut log = seeded(e);
    for (forge, undo, seq) in [
        (
            "UPDATE audit_log SET count = 1 WHERE seq = 4",
            "UPDATE audit_log SET count = 41 WHERE seq = 4",
            4,
        ),
        (
            "UPDATE audit_log SET count = 5 WHERE seq = 1",
            "UPDATE audit_log SET count = NULL WHERE seq = 1",
            1,
        ),
        (
            "UPDATE audit_log SET kind = 'request' WHERE seq = 2",
            "UPDATE audit_log SET kind = 'opening' WHERE seq = 2",
            2,
        ),
    ] {
        e.sql(forge);
        let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
        assert_eq!((p.seq, p.kind), (seq, ProblemKind::HashMismatch), "{forge}");
        e.sql(undo);
        assert!(log.verify(&mut |_| {}).unwrap().ok(), "{forge}");
    }
}

fn erasure_records_are_the_stores_own(e: &mut Env) {
    let mut log = open(e);
    let err = log
        .append(&[rec(
            "x",
            RecordKind::Erasure,
            None,
            RetentionClass::Metadata,
        )])
        .unwrap_err();
    assert!(err.to_string().contains("erase"), "{err}");
    assert_eq!(e.count("SELECT COUNT(*) FROM audit_log"), 0);
}

/// A tool call is a record like a request: its payload sealed, its kind chained, found by kind
/// (as every kind is), exported, and erased with its subject.
fn tool_calls_are_records_like_requests(e: &mut Env) {
    let mut log = seeded(e);
    let call = AuditRecord {
        endpoint: "mcp".to_owned(),
        model: Some("crm__lookup_customer".to_owned()),
        route: Some("crm".to_owned()),
        payload: Payload {
            client_request: Some(json!({"email": "ada@example.com"})),
            upstream_request: Some(json!({"email": "[EMAIL]"})),
            response: Some(json!({"content": [{"type": "text", "text": "found"}]})),
        },
        ..rec("t-1", RecordKind::ToolCall, None, RetentionClass::Full)
    };
    log.append(std::slice::from_ref(&call)).unwrap();
    let got = log.get("t-1").unwrap().unwrap();
    assert_eq!(got.kind, RecordKind::ToolCall);
    assert_eq!(got.payload, PayloadState::Kept(call.payload.clone()));
    assert_eq!(got.to_json()["kind"], "tool_call");
    assert!(log.verify(&mut |_| {}).unwrap().ok());

    let ids = |log: &mut AuditLog, kind: RecordKind| -> Vec<String> {
        let q = Query {
            kind: Some(kind),
            ..Query::default()
        };
        log.search(&q).unwrap().into_iter().map(|r| r.id).collect()
    };
    assert_eq!(ids(&mut log, RecordKind::ToolCall), ["t-1"]);
    assert_eq!(ids(&mut log, RecordKind::Opening), ["r-2:open"]);
    assert_eq!(
        ids(&mut log, RecordKind::Request),
        ["r-1", "r-2", "r-3:refusals"]
    );
    let mut exported = Vec::new();
    let q = Query {
        kind: Some(RecordKind::ToolCall),
        subject: Some("s-1".to_owned()),
        ..Query::default()
    };
    let n = log
        .export(&q, &mut |r| {
            exported.push(r.to_json());
            Ok(())
        })
        .unwrap();
    assert_eq!((n, exported[0]["id"].clone()), (1, json!("t-1")));
    assert_eq!(
        exported[0]["payload"]["response"],
        call.payload.response.unwrap()
    );

    e.sql("UPDATE audit_log SET kind = 'request' WHERE id = 't-1'");
    let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (5, ProblemKind::HashMismatch));
    e.sql("UPDATE audit_log SET kind = 'tool_call' WHERE id = 't-1'");
    assert!(log.verify(&mut |_| {}).unwrap().ok());

    let erased = log.erase_subject("s-1").unwrap();
    assert_eq!(erased.records, 4, "three requests and the tool call");
    assert_eq!(
        log.get("t-1").unwrap().unwrap().payload,
        PayloadState::Erased
    );
    assert_eq!(ids(&mut log, RecordKind::Erasure).len(), 1);
    assert!(log.verify(&mut |_| {}).unwrap().ok());
}

/// Spooled records from before this version have neither field: they read as one request.
fn older_spooled_records_read_as_requests(_e: &mut Env) {
    let mut v =
        serde_json::to_value(rec("r", RecordKind::Opening, Some(3), RetentionClass::Full)).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("kind");
    o.remove("count");
    let back: AuditRecord = serde_json::from_value(v).unwrap();
    assert_eq!((back.kind, back.count), (RecordKind::Request, None));
}

/// A request's citations (issue 20: the passages retrieval gave it) are kept, shown and chained.
fn citations_are_kept_and_chained(e: &mut Env) {
    let mut log = open(e);
    let cited = AuditRecord {
        citations: vec![CitationRecord {
            collection: "handbook".to_owned(),
            document: "leave.md".to_owned(),
            chunk: 2,
            score: 0.0312,
        }],
        ..rec("c-1", RecordKind::Request, None, RetentionClass::Metadata)
    };
    log.append(&[
        cited.clone(),
        rec("c-2", RecordKind::Request, None, RetentionClass::Metadata),
    ])
    .unwrap();
    let got = log.get("c-1").unwrap().unwrap();
    assert_eq!(got.citations, cited.citations);
    assert_eq!(got.to_json()["citations"][0]["document"], "leave.md");
    assert!(log.get("c-2").unwrap().unwrap().citations.is_empty());
    assert!(log.verify(&mut |_| {}).unwrap().ok());
    e.sql("UPDATE audit_log SET citations = NULL WHERE id = 'c-1'");
    let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
    assert_eq!(p.kind, ProblemKind::HashMismatch);
}

/// The API features a request used (issue 21: `seam report exit`) are kept, shown, exported and
/// chained; a record without them hashes as records did before the column (migration 15).
fn features_are_kept_and_chained(e: &mut Env) {
    let mut log = open(e);
    let used = AuditRecord {
        features: vec!["tools".to_owned(), "json_schema".to_owned()],
        ..rec("f-1", RecordKind::Request, None, RetentionClass::Metadata)
    };
    log.append(&[
        rec("f-0", RecordKind::Request, None, RetentionClass::Metadata),
        used.clone(),
        rec("f-2", RecordKind::Request, None, RetentionClass::Metadata),
    ])
    .unwrap();
    let got = log.get("f-1").unwrap().unwrap();
    assert_eq!(got.features, used.features);
    assert_eq!(got.to_json()["features"][1], "json_schema");
    assert!(log.get("f-2").unwrap().unwrap().features.is_empty());
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_log WHERE features IS NULL"),
        2
    );
    assert!(log.verify(&mut |_| {}).unwrap().ok());
    e.sql("UPDATE audit_log SET features = '[\"tools\"]' WHERE id = 'f-1'");
    let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
    assert_eq!(p.kind, ProblemKind::HashMismatch);
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = env(kind) {
        body(&mut e);
    }
}

on_both_backends!(
    features_are_kept_and_chained,
    kinds_and_counts_round_trip,
    count_is_chained,
    erasure_records_are_the_stores_own,
    tool_calls_are_records_like_requests,
    older_spooled_records_read_as_requests,
    citations_are_kept_and_chained,
);
