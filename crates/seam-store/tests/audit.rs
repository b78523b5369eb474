//! The audit log's behaviour, run against both backends with the same test bodies. PostgreSQL
//! tests use `SEAM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! each in a fresh database dropped afterwards; an unreachable server skips them unless
//! `SEAM_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, Raw, cfg};
use seam_store::*;
use serde_json::json;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_714_564_800_000;

/// A fresh database with the audit log's tables.
fn env(kind: Kind) -> Option<Env> {
    let e = common::env(kind, "audit.db")?;
    drop(AuditLog::open(&cfg(e.backend.clone(), Some(KEY))).unwrap());
    Some(e)
}

impl Env {
    fn open(&self) -> AuditLog {
        AuditLog::open(&cfg(self.backend.clone(), Some(KEY))).unwrap()
    }

    fn open_with(
        &self,
        key: Option<[u8; 32]>,
        retention: Vec<Retention>,
    ) -> Result<AuditLog, StoreError> {
        AuditLog::open(&StoreConfig {
            backend: self.backend.clone(),
            master_key: key,
            retention,
        })
    }

    fn payload(&mut self, seq: i64) -> Vec<u8> {
        let sql = "SELECT payload FROM audit_log WHERE seq = ";
        match &mut self.raw {
            Raw::Sqlite(c) => c
                .query_row(&format!("{sql}{seq}"), [], |r| r.get(0))
                .unwrap(),
            Raw::Postgres(c) => c.query_one(&format!("{sql}{seq}"), &[]).unwrap().get(0),
        }
    }

    fn set_payload(&mut self, seq: i64, bytes: Vec<u8>) {
        match &mut self.raw {
            Raw::Sqlite(c) => {
                c.execute(
                    "UPDATE audit_log SET payload = ?1 WHERE seq = ?2",
                    rusqlite::params![bytes, seq],
                )
                .unwrap();
            }
            Raw::Postgres(c) => {
                c.execute(
                    "UPDATE audit_log SET payload = $1 WHERE seq = $2",
                    &[&bytes as &(dyn ::postgres::types::ToSql + Sync), &seq],
                )
                .unwrap();
            }
        }
    }
}

fn rec(i: usize, subject: Option<&str>, class: RetentionClass) -> AuditRecord {
    AuditRecord {
        id: format!("req-{i:06}"),
        time_ms: T0 + i as i64 * 1000,
        key_id: Some(if i % 2 == 0 { "key-even" } else { "key-odd" }.to_owned()),
        subject: subject.map(str::to_owned),
        tags: vec!["t1".to_owned(), format!("n{}", i % 3)],
        endpoint: "chat".to_owned(),
        model: Some(if i % 3 == 0 { "gpt" } else { "claude" }.to_owned()),
        route: Some("openai/gpt-4o-mini".to_owned()),
        status: if i % 5 == 0 { 502 } else { 200 },
        error_code: (i % 5 == 0).then(|| "upstream_error".to_owned()),
        attempts: vec![AttemptRecord {
            target: "openai/gpt".to_owned(),
            status: 200,
            latency_ms: 12.5,
            error: None,
        }],
        findings: if i % 4 == 0 {
            vec![FindingRecord::counted("input", "EMAIL", "redact", 2)]
        } else {
            Vec::new()
        },
        usage: Some(UsageRecord {
            prompt_tokens: 10,
            completion_tokens: i as u64,
            ..UsageRecord::default()
        }),
        cost_usd: Some(0.001 * i as f64),
        latency_ms: 100.25,
        ttft_ms: (i % 2 == 1).then_some(20.0),
        cache_hit: i % 7 == 0,
        placement: (i % 3 == 1).then(|| "trust=private;region=eu".to_owned()),
        kind: RecordKind::Request,
        count: None,
        prompt: None,
        variant: None,
        trace_id: None,
        citations: Vec::new(),
        features: Vec::new(),
        class,
        payload: Payload {
            client_request: Some(
                json!({"messages": [{"role": "user", "content": format!("my email is a{i}@x.com")}]}),
            ),
            upstream_request: Some(
                json!({"messages": [{"role": "user", "content": "my email is [EMAIL]"}]}),
            ),
            response: Some(json!({"choices": [{"message": {"content": format!("ok {i}")}}]})),
        },
    }
}

fn records(
    range: std::ops::Range<usize>,
    subject: Option<&str>,
    class: RetentionClass,
) -> Vec<AuditRecord> {
    range.map(|i| rec(i, subject, class)).collect()
}

fn verify(log: &mut AuditLog) -> VerifyReport {
    log.verify(&mut |_| {}).unwrap()
}

fn assert_problem(log: &mut AuditLog, seq: i64, id: Option<&str>, kind: ProblemKind) {
    let report = verify(log);
    let p = report
        .problem
        .unwrap_or_else(|| panic!("verify found nothing; expected {kind:?} at seq {seq}"));
    assert_eq!((p.seq, p.id.as_deref(), p.kind), (seq, id, kind), "{p}");
}

// ---- tests (each body runs on both backends) ----

fn round_trip_per_class(e: &mut Env) {
    let mut log = e.open();
    let batch = vec![
        rec(1, Some("alice"), RetentionClass::Full),
        rec(2, Some("alice"), RetentionClass::Redacted),
        rec(3, None, RetentionClass::Metadata),
        rec(4, None, RetentionClass::Full),
    ];
    log.append(&batch).unwrap();
    let full = log.get("req-000001").unwrap().unwrap();
    assert_eq!(full.seq, 1);
    assert_eq!(full.subject.as_deref(), Some("alice"));
    assert_eq!(full.payload, PayloadState::Kept(batch[0].payload.clone()));
    let same = |s: &StoredRecord, r: &AuditRecord| {
        assert_eq!(
            (
                &s.id,
                s.time_ms,
                &s.key_id,
                &s.tags,
                &s.endpoint,
                &s.model,
                &s.route,
                s.status,
                &s.error_code
            ),
            (
                &r.id,
                r.time_ms,
                &r.key_id,
                &r.tags,
                &r.endpoint,
                &r.model,
                &r.route,
                r.status,
                &r.error_code
            )
        );
        assert_eq!(
            (&s.attempts, &s.findings, s.usage, s.cost_usd),
            (&r.attempts, &r.findings, r.usage, r.cost_usd)
        );
        assert_eq!(
            (s.latency_ms, s.ttft_ms, s.cache_hit, s.class),
            (r.latency_ms, r.ttft_ms, r.cache_hit, r.class)
        );
        assert_eq!(s.placement, r.placement);
    };
    same(&full, &batch[0]);
    assert_eq!(
        full.to_json()["placement"],
        "trust=private;region=eu",
        "the export shows the placement"
    );
    let redacted = log.get("req-000002").unwrap().unwrap();
    same(&redacted, &batch[1]);
    let want = Payload {
        client_request: None,
        ..batch[1].payload.clone()
    };
    assert_eq!(redacted.payload, PayloadState::Kept(want));
    let meta = log.get("req-000003").unwrap().unwrap();
    same(&meta, &batch[2]);
    assert_eq!((meta.payload, meta.subject), (PayloadState::NotKept, None));
    let anon = log.get("req-000004").unwrap().unwrap();
    assert_eq!(anon.payload, PayloadState::Kept(batch[3].payload.clone()));
    assert!(log.get("nope").unwrap().is_none());
    // The subject never appears in the records table.
    assert_eq!(
        e.count(
            "SELECT COUNT(*) FROM audit_log WHERE subject_hash = 'alice' OR tags LIKE '%alice%'"
        ),
        0
    );
    // A second handle (another process, the CLI) reads the same; without the key a payload is
    // locked, and the subject, sealed under the master key too, is not shown.
    let mut other = e.open_with(None, Vec::new()).unwrap();
    let locked = other.get("req-000001").unwrap().unwrap();
    assert_eq!(
        (locked.payload, locked.subject.as_deref()),
        (PayloadState::Locked, None)
    );
    assert_eq!(locked.subject_hash, full.subject_hash);
    assert!(
        other
            .append(&[rec(9, None, RetentionClass::Metadata)])
            .is_err(),
        "keyed log refuses keyless writes"
    );
    assert!(verify(&mut log).ok());
}

fn search_filters(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(0..40, Some("bob"), RetentionClass::Metadata))
        .unwrap();
    log.append(&records(40..60, Some("carol"), RetentionClass::Redacted))
        .unwrap();
    let ids = |log: &mut AuditLog, q: Query| -> Vec<String> {
        log.search(&q).unwrap().into_iter().map(|r| r.id).collect()
    };
    let n = |log: &mut AuditLog, q: Query| ids(log, q).len();
    assert_eq!(n(&mut log, Query::default()), 60);
    assert_eq!(
        n(
            &mut log,
            Query {
                subject: Some("carol".into()),
                ..Default::default()
            }
        ),
        20
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                subject: Some("dave".into()),
                ..Default::default()
            }
        ),
        0
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                key_id: Some("key-odd".into()),
                ..Default::default()
            }
        ),
        30
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                model: Some("gpt".into()),
                ..Default::default()
            }
        ),
        20
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                status: Some(502),
                ..Default::default()
            }
        ),
        12
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                finding: Some("EMAIL".into()),
                ..Default::default()
            }
        ),
        15
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                finding: Some("PHONE".into()),
                ..Default::default()
            }
        ),
        0
    );
    let window = Query {
        since_ms: Some(T0 + 10_000),
        until_ms: Some(T0 + 20_000),
        ..Default::default()
    };
    assert_eq!(
        ids(&mut log, window).first().map(String::as_str),
        Some("req-000010")
    );
    let q = Query {
        since_ms: Some(T0 + 10_000),
        until_ms: Some(T0 + 20_000),
        ..Default::default()
    };
    assert_eq!(n(&mut log, q), 10);
    let combined = Query {
        subject: Some("bob".into()),
        status: Some(502),
        model: Some("gpt".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&mut log, combined),
        ["req-000000", "req-000015", "req-000030"]
    );
    assert_eq!(
        n(
            &mut log,
            Query {
                limit: Some(7),
                ..Default::default()
            }
        ),
        7
    );
}

/// An injection finding keeps its score, deciding part and source through the `findings` column
/// (no schema change): read back, searched, exported and verified; other findings are written as
/// before, without the new keys.
fn injection_finding_detail(e: &mut Env) {
    let mut log = e.open();
    let mut flagged = rec(1, None, RetentionClass::Metadata);
    let mut finding = FindingRecord::counted("input", "PROMPT_INJECTION", "flag", 1);
    finding.score = Some(0.93);
    finding.by = Some("classifier".to_owned());
    finding.source = Some("tool_result".to_owned());
    flagged.findings = vec![finding.clone()];
    log.append(&[rec(0, None, RetentionClass::Metadata), flagged])
        .unwrap();
    let got = log.get("req-000001").unwrap().unwrap();
    assert_eq!(got.findings, vec![finding]);
    let json = got.to_json();
    assert_eq!(json["findings"][0]["score"], json!(0.93));
    assert_eq!(json["findings"][0]["by"], "classifier");
    assert_eq!(json["findings"][0]["source"], "tool_result");
    let found = log
        .search(&Query {
            finding: Some("PROMPT_INJECTION".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    let plain = log.get("req-000000").unwrap().unwrap();
    assert_eq!(plain.findings[0].score, None);
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_log WHERE findings LIKE '%\"score\"%'"),
        1
    );
    assert!(verify(&mut log).ok());
}

fn export_count_and_shape(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(0..1234, Some("erin"), RetentionClass::Full))
        .unwrap();
    let mut seen = Vec::new();
    let n = log
        .export(&Query::default(), &mut |r| {
            seen.push(r.seq);
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 1234);
    assert_eq!(
        seen,
        (1..=1234).collect::<Vec<i64>>(),
        "every record once, in seq order"
    );
    let limited = log
        .export(
            &Query {
                limit: Some(600),
                ..Default::default()
            },
            &mut |_| Ok(()),
        )
        .unwrap();
    assert_eq!(limited, 600);
    let mut first = None;
    log.export(
        &Query {
            limit: Some(1),
            ..Default::default()
        },
        &mut |r| {
            first = Some(r.to_json());
            Ok(())
        },
    )
    .unwrap();
    let v = first.unwrap();
    for key in [
        "id",
        "time",
        "subject",
        "key_id",
        "model",
        "route",
        "status",
        "attempts",
        "findings",
        "usage",
        "cost_usd",
        "latency_ms",
        "ttft_ms",
        "tags",
        "class",
        "payload",
    ] {
        assert!(v.get(key).is_some(), "export lacks {key}: {v}");
    }
    assert_eq!(v["time"], "2024-05-01T12:00:00.000Z");
    assert_eq!(v["subject"], "erin");
    assert_eq!(v["class"], "full");
    assert_eq!(
        v["payload"]["response"]["choices"][0]["message"]["content"],
        "ok 0"
    );
    assert_eq!(v["findings"][0]["entity"], "EMAIL");
    // The callback's error stops the export and comes back.
    let err = log
        .export(&Query::default(), &mut |_| Err(StoreError::new("stop")))
        .unwrap_err();
    assert_eq!(err.to_string(), "stop");
}

/// 1,100 records: one checkpoint at 1,000; seq 3 keeps a payload.
fn seeded(e: &Env) -> AuditLog {
    let mut log = e.open();
    log.append(&records(1..3, None, RetentionClass::Metadata))
        .unwrap();
    log.append(&[rec(3, Some("frank"), RetentionClass::Full)])
        .unwrap();
    log.append(&records(4..1101, None, RetentionClass::Metadata))
        .unwrap();
    let r = verify(&mut log);
    assert!(r.ok(), "{:?}", r.problem);
    assert_eq!(
        (r.records, r.checkpoints, r.signed, r.unsigned_tail),
        (1100, 1, true, 100)
    );
    log
}

fn tamper_column(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("UPDATE audit_log SET model = 'forged' WHERE seq = 7");
    assert_problem(&mut log, 7, Some("req-000007"), ProblemKind::HashMismatch);
}

/// The placement column came later than the chain: it is chained all the same, whether a forger
/// widens a recorded placement, erases it, or adds one to a row that had none.
fn tamper_placement(e: &mut Env) {
    let mut log = seeded(e);
    let kept = "UPDATE audit_log SET placement = 'trust=private;region=eu' WHERE seq = 4";
    for (forge, undo, seq) in [
        (
            "UPDATE audit_log SET placement = 'trust=private,vendor;region=eu' WHERE seq = 4",
            kept,
            4,
        ),
        (
            "UPDATE audit_log SET placement = NULL WHERE seq = 4",
            kept,
            4,
        ),
        (
            "UPDATE audit_log SET placement = 'trust=private' WHERE seq = 5",
            "UPDATE audit_log SET placement = NULL WHERE seq = 5",
            5,
        ),
    ] {
        e.sql(forge);
        assert_problem(
            &mut log,
            seq,
            Some(&format!("req-{seq:06}")),
            ProblemKind::HashMismatch,
        );
        e.sql(undo);
        assert!(verify(&mut log).ok(), "{forge}");
    }
}

fn tamper_payload_byte(e: &mut Env) {
    let mut log = seeded(e);
    let mut p = e.payload(3);
    p[20] ^= 1;
    e.set_payload(3, p);
    assert_problem(&mut log, 3, Some("req-000003"), ProblemKind::PayloadDigest);
    assert!(
        log.get("req-000003").is_err(),
        "a tampered payload does not decrypt"
    );
}

fn tamper_delete(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("DELETE FROM audit_log WHERE seq = 10");
    assert_problem(&mut log, 11, Some("req-000011"), ProblemKind::SeqGap);
}

fn tamper_delete_tail(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("DELETE FROM audit_log WHERE seq = 1100");
    assert_problem(&mut log, 1100, None, ProblemKind::HeadMismatch);
    e.sql("DELETE FROM audit_log WHERE seq >= 1000; UPDATE audit_head SET seq = 999, hash = (SELECT hash FROM audit_log WHERE seq = 999)");
    assert_problem(&mut log, 1000, None, ProblemKind::CheckpointWithoutRecord);
}

/// Records after the last checkpoint, deleted with the head moved back to match: only the head's
/// signature shows it.
fn tamper_truncate_tail_and_head(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("DELETE FROM audit_log WHERE seq > 1050; UPDATE audit_head SET seq = 1050, hash = (SELECT hash FROM audit_log WHERE seq = 1050)");
    assert_problem(&mut log, 1050, None, ProblemKind::HeadSignature);
}

/// Checkpoints deleted: the record where one belongs names it.
fn tamper_delete_checkpoints(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("DELETE FROM audit_checkpoints");
    assert_problem(
        &mut log,
        1000,
        Some("req-001000"),
        ProblemKind::CheckpointMissing,
    );
}

const COPY: &str = "INSERT INTO audit_log (seq, id, kind, time_ms, key_id, subject_hash, tags, endpoint, model, route, status, error_code, attempts, findings, usage, cost_usd, latency_ms, ttft_ms, cache_hit, class, payload_digest, prev_hash, payload, hash)
    SELECT {seq}, 'forged', kind, time_ms, key_id, subject_hash, tags, endpoint, model, route, status, error_code, attempts, findings, usage, cost_usd, latency_ms, ttft_ms, cache_hit, class, payload_digest, prev_hash, payload, hash FROM audit_log WHERE seq = {from}";

fn tamper_insert(e: &mut Env) {
    let mut log = seeded(e);
    // In the middle: a copy of record 4 put in the place of record 5.
    e.sql("DELETE FROM audit_log WHERE seq = 5");
    e.sql(&COPY.replace("{seq}", "5").replace("{from}", "4"));
    assert_problem(&mut log, 5, Some("forged"), ProblemKind::PrevHashMismatch);
}

fn tamper_append_forged(e: &mut Env) {
    let mut log = seeded(e);
    e.sql(&COPY.replace("{seq}", "1101").replace("{from}", "1100"));
    e.sql("UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE seq = 1100) WHERE seq = 1101");
    assert_problem(&mut log, 1101, Some("forged"), ProblemKind::HashMismatch);
}

fn tamper_swap(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("UPDATE audit_log SET seq = -1 WHERE seq = 20");
    e.sql("UPDATE audit_log SET seq = 20 WHERE seq = 21");
    e.sql("UPDATE audit_log SET seq = 21 WHERE seq = -1");
    assert_problem(
        &mut log,
        20,
        Some("req-000021"),
        ProblemKind::PrevHashMismatch,
    );
}

fn tamper_checkpoint(e: &mut Env) {
    let mut log = seeded(e);
    e.sql("UPDATE audit_checkpoints SET signature = hash || hash WHERE seq = 1000");
    assert_problem(
        &mut log,
        1000,
        Some("req-001000"),
        ProblemKind::CheckpointSignature,
    );
    e.sql("UPDATE audit_checkpoints SET signature = NULL WHERE seq = 1000");
    assert_problem(
        &mut log,
        1000,
        Some("req-001000"),
        ProblemKind::CheckpointSignature,
    );
    e.sql("UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_log WHERE seq = 999) WHERE seq = 1000");
    assert_problem(
        &mut log,
        1000,
        Some("req-001000"),
        ProblemKind::CheckpointHash,
    );
}

fn tamper_anchor(e: &mut Env) {
    drop(seeded(e));
    let rules = [RetentionClass::Metadata, RetentionClass::Full]
        .map(|class| Retention {
            class,
            payload_days: None,
            record_days: Some(1),
        })
        .to_vec();
    let mut log = e.open_with(Some(KEY), rules).unwrap();
    // Records 1..=100 are older than a day at this `now`; 101 onwards are not.
    let report = log.purge(T0 + 100_500 + DAY).unwrap();
    assert_eq!(
        (report.records_deleted, report.anchor_seq),
        (100, Some(101))
    );
    assert!(verify(&mut log).ok());
    e.sql("UPDATE audit_anchor SET seq = 102, prev_hash = (SELECT hash FROM audit_log WHERE seq = 101)");
    e.sql("DELETE FROM audit_log WHERE seq = 101");
    assert_problem(&mut log, 102, None, ProblemKind::AnchorSignature);
}

fn erase_subject(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(0..5, Some("grace"), RetentionClass::Full))
        .unwrap();
    log.append(&records(5..8, Some("heidi"), RetentionClass::Full))
        .unwrap();
    log.append(&records(8..9, Some("grace"), RetentionClass::Metadata))
        .unwrap();
    let report = log.erase_subject("grace").unwrap();
    assert_eq!(
        report,
        EraseReport {
            records: 6,
            responses: 0,
            key_destroyed: true,
            tombstone_seq: 10,
            scrub: None,
        }
    );
    for id in ["req-000000", "req-000004"] {
        let r = log.get(id).unwrap().unwrap();
        assert_eq!((r.payload, r.subject), (PayloadState::Erased, None));
    }
    let kept = log.get("req-000005").unwrap().unwrap();
    assert!(matches!(kept.payload, PayloadState::Kept(_)));
    assert_eq!(kept.subject.as_deref(), Some("heidi"));
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_subjects WHERE subject = 'grace'"),
        0
    );
    let found = log
        .search(&Query {
            subject: Some("grace".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 7);
    let tomb = found.last().unwrap();
    assert_eq!(
        (tomb.kind, tomb.seq, tomb.subject.as_deref()),
        (RecordKind::Erasure, 10, None)
    );
    assert_eq!(tomb.to_json()["kind"], "erasure");
    assert!(verify(&mut log).ok());
    // Erasing again: nothing left to destroy, but the request is recorded.
    let again = log.erase_subject("grace").unwrap();
    assert_eq!(
        (again.records, again.key_destroyed, again.tombstone_seq),
        (6, false, 11)
    );
    // New records for the subject get a new key and read normally.
    log.append(&[rec(20, Some("grace"), RetentionClass::Full)])
        .unwrap();
    assert!(matches!(
        log.get("req-000020").unwrap().unwrap().payload,
        PayloadState::Kept(_)
    ));
    assert!(verify(&mut log).ok());
}

fn erase_is_constant_statements(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(0..10, Some("small"), RetentionClass::Metadata))
        .unwrap();
    for chunk in 0..10 {
        log.append(&records(
            1000 + chunk * 1000..2000 + chunk * 1000,
            Some("big"),
            RetentionClass::Metadata,
        ))
        .unwrap();
    }
    log.append(&records(20_000..22_000, None, RetentionClass::Metadata))
        .unwrap();
    let before = log.statements_executed();
    assert_eq!(log.erase_subject("small").unwrap().records, 10);
    let small = log.statements_executed() - before;
    let before = log.statements_executed();
    assert_eq!(log.erase_subject("big").unwrap().records, 10_000);
    let big = log.statements_executed() - before;
    assert_eq!(
        small, big,
        "erasure runs the same statements whatever the record count"
    );
    assert!(big <= 10, "{big} statements");
}

/// Every file that holds the store's data, as a forensic reader would get it: SQLite's
/// database, WAL and shared-memory files; PostgreSQL's heap, TOAST and index files of Seam's
/// tables, after a `CHECKPOINT` has written the shared buffers out.
fn store_files(e: &mut Env) -> Vec<(String, Vec<u8>)> {
    match (&mut e.raw, &e.backend) {
        (Raw::Sqlite(_), BackendConfig::Sqlite { path }) => ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let p = format!("{}{suffix}", path.display());
                std::fs::read(&p).ok().map(|b| (p, b))
            })
            .collect(),
        (Raw::Postgres(c), _) => {
            c.batch_execute("CHECKPOINT").unwrap();
            let rows = c
                .query(
                    "SELECT c.relname, pg_read_binary_file(pg_relation_filepath(c.oid))
                     FROM pg_class c
                     WHERE c.relkind IN ('r', 'i', 't')
                       AND (c.relnamespace = 'public'::regnamespace
                            OR c.oid IN (SELECT reltoastrelid FROM pg_class
                                         WHERE relnamespace = 'public'::regnamespace))",
                    &[],
                )
                .unwrap();
            assert!(rows.len() > 10, "{} relations", rows.len());
            rows.iter().map(|r| (r.get(0), r.get(1))).collect()
        }
        _ => unreachable!(),
    }
}

/// The files among `files` that hold `needle`.
fn holding(files: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(name, _)| name.clone())
        .collect()
}

fn subject_row(e: &mut Env, hash: &str) -> (Vec<u8>, Vec<u8>) {
    let sql = "SELECT wrapped_key, subject_sealed FROM audit_subjects WHERE subject_hash = ";
    let sql = format!("{sql}'{hash}'");
    match &mut e.raw {
        Raw::Sqlite(c) => c
            .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap(),
        Raw::Postgres(c) => {
            let r = c.query_one(&sql, &[]).unwrap();
            (r.get(0), r.get(1))
        }
    }
}

/// Issue 13: after an erasure, neither the subject's wrapped data key nor its subject (clear
/// or sealed) is left anywhere in the store's files — not in freed space, not in the WAL — so
/// a copy of the files cannot bring the payloads back.
fn erase_leaves_nothing_in_the_files(e: &mut Env) {
    let subject = "forensic.target@example.com";
    let mut log = e.open();
    log.append(&records(0..5, Some(subject), RetentionClass::Full))
        .unwrap();
    // Neighbours on the same pages, written before and after, one commit each.
    for i in 0..150 {
        let who = format!("neighbour-{i}@example.com");
        log.append(&[rec(100 + i, Some(&who), RetentionClass::Full)])
            .unwrap();
    }
    let hash = log
        .get("req-000000")
        .unwrap()
        .unwrap()
        .subject_hash
        .unwrap();
    let (wrapped, sealed) = subject_row(e, &hash);
    let before = store_files(e);
    assert!(
        !holding(&before, &wrapped).is_empty(),
        "the wrapped key is in the files before the erasure (else this test proves nothing)"
    );

    let mut report = log.erase_subject(subject).unwrap();
    // On PostgreSQL any transaction older than the erasure, in any database of the server (other
    // tests run beside this one), keeps the deleted row; erasing again retries.
    let started = std::time::Instant::now();
    while report.scrub.is_some() && started.elapsed() < std::time::Duration::from_secs(90) {
        report = log.erase_subject(subject).unwrap();
    }
    assert_eq!((report.records, report.scrub), (5, None));
    let after = store_files(e);
    for (what, needle) in [
        ("wrapped key", &wrapped[..]),
        ("sealed subject", &sealed[..]),
        ("clear subject", subject.as_bytes()),
    ] {
        let found = holding(&after, needle);
        assert!(found.is_empty(), "the erased {what} is still in {found:?}");
    }
    if let BackendConfig::Sqlite { path } = &e.backend {
        let wal = std::fs::metadata(format!("{}-wal", path.display())).unwrap();
        assert_eq!(wal.len(), 0, "the WAL is truncated after an erasure");
    }
    // Nothing left to restore from: the payloads stay erased, on this handle and a new one.
    drop(log);
    let mut log = e.open();
    let r = log.get("req-000003").unwrap().unwrap();
    assert_eq!((r.payload, r.subject), (PayloadState::Erased, None));
    let neighbour = log.get("req-000100").unwrap().unwrap();
    assert!(matches!(neighbour.payload, PayloadState::Kept(_)));
    assert_eq!(
        neighbour.subject.as_deref(),
        Some("neighbour-0@example.com")
    );
    assert!(verify(&mut log).ok());
}

/// An erasure while another connection holds a read snapshot open: the key is out of the
/// tables, and the report says the files could not be cleared rather than claiming they were.
fn erase_says_when_the_files_could_not_be_cleared(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(
        0..3,
        Some("held@example.com"),
        RetentionClass::Full,
    ))
    .unwrap();
    match &mut e.raw {
        // A reader mid-transaction pins the WAL: it cannot be reset under it.
        Raw::Sqlite(c) => {
            c.execute_batch("BEGIN; SELECT COUNT(*) FROM audit_subjects;")
                .unwrap();
        }
        // A transaction that has read the table holds a lock VACUUM FULL must wait out.
        Raw::Postgres(c) => {
            c.batch_execute("BEGIN; SELECT COUNT(*) FROM audit_subjects;")
                .unwrap();
        }
    }
    let started = std::time::Instant::now();
    let report = log.erase_subject("held@example.com").unwrap();
    assert!(report.key_destroyed);
    let why = report.scrub.expect("the scrub cannot have completed");
    assert!(!why.contains("held@example.com"), "{why}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    e.sql("COMMIT");
    // Once the reader is gone, erasing again finishes the job.
    let mut again = log.erase_subject("held@example.com").unwrap();
    // (On PostgreSQL, other tests' transactions on the same server can hold it a while longer.)
    let started = std::time::Instant::now();
    while again.scrub.is_some() && started.elapsed() < std::time::Duration::from_secs(90) {
        again = log.erase_subject("held@example.com").unwrap();
    }
    assert_eq!(again.scrub, None);
    assert_eq!(
        log.get("req-000001").unwrap().unwrap().payload,
        PayloadState::Erased
    );
}

/// Issue 13: subjects, prompt values and answers sent during a run are nowhere in clear in the
/// store's files; an operator with the master key still reads them back.
fn nothing_personal_in_clear_at_rest(e: &mut Env) {
    let mut log = e.open();
    let subjects: Vec<String> = (0..6)
        .map(|i| format!("person{i}.name@example.org"))
        .collect();
    let mut batch = Vec::new();
    for i in 0..30 {
        let mut r = rec(i, Some(&subjects[i % subjects.len()]), RetentionClass::Full);
        r.tags = vec!["team-a".to_owned()];
        batch.push(r);
    }
    batch.push(rec(
        30,
        Some("metadata.only@example.org"),
        RetentionClass::Metadata,
    ));
    log.append(&batch).unwrap();
    let files = store_files(e);
    let mut secrets: Vec<String> = subjects.clone();
    secrets.push("metadata.only@example.org".to_owned());
    for i in 0..30 {
        secrets.push(format!("my email is a{i}@x.com"));
        secrets.push(format!("ok {i}\""));
    }
    for s in &secrets {
        let found = holding(&files, s.as_bytes());
        assert!(found.is_empty(), "{s:?} is in clear in {found:?}");
    }
    // The operator with the master key sees them all.
    let r = log.get("req-000007").unwrap().unwrap();
    assert_eq!(r.subject.as_deref(), Some(subjects[1].as_str()));
    assert_eq!(r.to_json()["subject"], subjects[1]);
    let meta = log.get("req-000030").unwrap().unwrap();
    assert_eq!(meta.subject.as_deref(), Some("metadata.only@example.org"));
    let found = log
        .search(&Query {
            subject: Some(subjects[2].clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 5);
    assert!(
        found
            .iter()
            .all(|r| r.subject.as_deref() == Some(subjects[2].as_str()))
    );
    // A sealed subject moved to another subject's row does not open.
    e.sql(&format!(
        "UPDATE audit_subjects SET subject_sealed = (SELECT subject_sealed FROM audit_subjects WHERE subject_hash = '{}') WHERE subject_hash = '{}'",
        found[0].subject_hash.as_deref().unwrap(),
        r.subject_hash.as_deref().unwrap(),
    ));
    let err = log.get("req-000007").unwrap_err();
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");
}

/// Issue 13: a store written before subjects were sealed (migration 6) has them sealed when it
/// is opened with the master key, and their clear bytes leave the files.
fn clear_subjects_are_sealed_on_open(e: &mut Env) {
    let mut log = e.open();
    log.append(&records(
        0..4,
        Some("legacy.one@example.com"),
        RetentionClass::Full,
    ))
    .unwrap();
    log.append(&records(
        4..6,
        Some("legacy.two@example.com"),
        RetentionClass::Metadata,
    ))
    .unwrap();
    let one = log
        .get("req-000000")
        .unwrap()
        .unwrap()
        .subject_hash
        .unwrap();
    let two = log
        .get("req-000004")
        .unwrap()
        .unwrap()
        .subject_hash
        .unwrap();
    drop(log);
    // What the previous schema held: the subject in clear, nothing sealed.
    for (hash, subject) in [
        (&one, "legacy.one@example.com"),
        (&two, "legacy.two@example.com"),
    ] {
        e.sql(&format!(
            "UPDATE audit_subjects SET subject = '{subject}', subject_sealed = NULL WHERE subject_hash = '{hash}'"
        ));
    }
    // A handle without the key reads the old rows as they are, and changes nothing.
    let mut keyless = e.open_with(None, Vec::new()).unwrap();
    assert_eq!(
        keyless
            .get("req-000000")
            .unwrap()
            .unwrap()
            .subject
            .as_deref(),
        Some("legacy.one@example.com")
    );
    drop(keyless);
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_subjects WHERE subject IS NOT NULL"),
        2
    );

    let mut log = e.open();
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_subjects WHERE subject IS NOT NULL"),
        0
    );
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_subjects WHERE subject_sealed IS NOT NULL"),
        2
    );
    // On PostgreSQL the rewrite is best effort at open (a transaction elsewhere on the server
    // can hold the old row versions); `erase_leaves_nothing_in_the_files` covers it there.
    if matches!(e.raw, Raw::Sqlite(_)) {
        let files = store_files(e);
        for s in ["legacy.one@example.com", "legacy.two@example.com"] {
            let found = holding(&files, s.as_bytes());
            assert!(found.is_empty(), "{s} is still in clear in {found:?}");
        }
    }
    let r = log.get("req-000001").unwrap().unwrap();
    assert_eq!(r.subject.as_deref(), Some("legacy.one@example.com"));
    assert!(matches!(r.payload, PayloadState::Kept(_)));
    assert_eq!(
        log.get("req-000005").unwrap().unwrap().subject.as_deref(),
        Some("legacy.two@example.com")
    );
    assert!(verify(&mut log).ok());
}

/// Issue 13: records spooled to disk in async mode hold neither subjects nor payload values
/// in clear, and replay to the same records.
fn spool_keeps_nothing_in_clear(e: &mut Env) {
    let spool_dir = e.dir.join("spool");
    let writer = AuditWriter::spawn(
        e.open(),
        Durability::Async {
            queue: 1,
            spool_dir: spool_dir.clone(),
        },
    );
    match &mut e.raw {
        Raw::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE").unwrap(),
        Raw::Postgres(c) => c
            .batch_execute("BEGIN; SELECT seq FROM audit_head FOR UPDATE")
            .unwrap(),
    }
    let sent: Vec<AuditRecord> = (0..20)
        .map(|i| {
            rec(
                i,
                Some(&format!("spooled{i}@example.net")),
                RetentionClass::Full,
            )
        })
        .collect();
    rt().block_on(async {
        for r in &sent {
            writer.submit(r.clone()).await.unwrap();
        }
    });
    assert!(writer.stats().spooled > 0);
    let mut text = String::new();
    for f in std::fs::read_dir(&spool_dir).unwrap() {
        text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    assert!(!text.is_empty());
    for i in 0..20 {
        for s in [
            format!("spooled{i}@example.net"),
            format!("my email is a{i}@x.com"),
        ] {
            assert!(!text.contains(&s), "{s:?} is in clear in the spool");
        }
    }
    e.sql("COMMIT");
    rt().block_on(writer.flush()).unwrap();
    assert_eq!(writer.stats().committed, 20);
    drop(writer);
    let mut log = e.open();
    for r in &sent {
        let got = log.get(&r.id).unwrap().unwrap();
        assert_eq!(got.subject, r.subject);
        assert_eq!(got.payload, PayloadState::Kept(r.payload.clone()));
    }
}

/// Without a master key a spooled record keeps no payload and only its subject's salted hash,
/// and is still found by its subject once replayed; clear subjects an older keyless store
/// holds are dropped on open.
fn keyless_spool_and_subjects(e: &mut Env) {
    e.sql("DELETE FROM audit_meta WHERE name = 'key_check'");
    let mut log = e.open_with(None, Vec::new()).unwrap();
    log.append(&[rec(
        900,
        Some("old.keyless@example.com"),
        RetentionClass::Metadata,
    )])
    .unwrap();
    let hash = log
        .get("req-000900")
        .unwrap()
        .unwrap()
        .subject_hash
        .unwrap();
    drop(log);
    e.sql(&format!(
        "UPDATE audit_subjects SET subject = 'old.keyless@example.com' WHERE subject_hash = '{hash}'"
    ));
    let log = e.open_with(None, Vec::new()).unwrap();
    assert_eq!(
        e.count("SELECT COUNT(*) FROM audit_subjects WHERE subject IS NOT NULL"),
        0
    );

    let spool_dir = e.dir.join("spool");
    let writer = AuditWriter::spawn(
        log,
        Durability::Async {
            queue: 1,
            spool_dir: spool_dir.clone(),
        },
    );
    match &mut e.raw {
        Raw::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE").unwrap(),
        Raw::Postgres(c) => c
            .batch_execute("BEGIN; SELECT seq FROM audit_head FOR UPDATE")
            .unwrap(),
    }
    rt().block_on(async {
        for i in 0..10 {
            writer
                .submit(rec(
                    i,
                    Some("keyless.person@example.com"),
                    RetentionClass::Metadata,
                ))
                .await
                .unwrap();
        }
    });
    assert!(writer.stats().spooled > 0);
    for f in std::fs::read_dir(&spool_dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains("keyless.person"), "{text}");
        assert!(!text.contains("my email is"), "{text}");
    }
    e.sql("COMMIT");
    rt().block_on(writer.flush()).unwrap();
    drop(writer);
    let mut log = e.open_with(None, Vec::new()).unwrap();
    let found = log
        .search(&Query {
            subject: Some("keyless.person@example.com".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 10);
    let files = store_files(e);
    assert!(holding(&files, b"keyless.person@example.com").is_empty());
    if matches!(e.raw, Raw::Sqlite(_)) {
        assert!(holding(&files, b"old.keyless@example.com").is_empty());
    }
}

fn purge_keeps_chain_valid(e: &mut Env) {
    let rules = vec![
        Retention {
            class: RetentionClass::Full,
            payload_days: Some(30),
            record_days: Some(90),
        },
        Retention {
            class: RetentionClass::Metadata,
            payload_days: None,
            record_days: Some(10),
        },
    ];
    let mut log = e.open_with(Some(KEY), rules).unwrap();
    let at = |i: usize, days: i64, class| AuditRecord {
        time_ms: T0 + days * DAY,
        ..rec(i, Some("ivan"), class)
    };
    log.append(&[
        at(1, 0, RetentionClass::Full), // 100 days old at `now`: record deleted
        at(2, 1, RetentionClass::Metadata), // 99 days: deleted
        at(3, 50, RetentionClass::Full), // 50 days: payload purged, record kept
        at(4, 51, RetentionClass::Metadata), // 49 days: deletable, but after a kept record
        at(5, 51, RetentionClass::Redacted), // no rule: kept forever
        at(6, 95, RetentionClass::Full), // 5 days: kept whole
    ])
    .unwrap();
    log.checkpoint().unwrap();
    let now = T0 + 100 * DAY;
    let report = log.purge(now).unwrap();
    assert_eq!(
        report,
        PurgeReport {
            payloads_purged: 2,
            records_deleted: 2,
            responses_deleted: 0,
            anchor_seq: Some(3)
        }
    );
    assert!(log.get("req-000001").unwrap().is_none());
    assert_eq!(
        log.get("req-000003").unwrap().unwrap().payload,
        PayloadState::Purged
    );
    assert!(log.get("req-000004").unwrap().is_some());
    assert!(matches!(
        log.get("req-000005").unwrap().unwrap().payload,
        PayloadState::Kept(_)
    ));
    assert!(matches!(
        log.get("req-000006").unwrap().unwrap().payload,
        PayloadState::Kept(_)
    ));
    let r = verify(&mut log);
    assert!(r.ok(), "{:?}", r.problem);
    assert_eq!((r.first_seq, r.records, r.checkpoints), (3, 4, 1));
    // Purging again changes nothing; appending and erasing after a purge still verify.
    assert_eq!(log.purge(now).unwrap(), PurgeReport::default());
    log.append(&[at(7, 99, RetentionClass::Full)]).unwrap();
    log.erase_subject("ivan").unwrap();
    assert!(verify(&mut log).ok());
    // Everything expired: the anchor moves past the last record and the chain goes on from it.
    drop(log);
    let every = [
        RetentionClass::Full,
        RetentionClass::Redacted,
        RetentionClass::Metadata,
    ]
    .map(|class| Retention {
        class,
        payload_days: None,
        record_days: Some(1),
    })
    .to_vec();
    let mut log = e.open_with(Some(KEY), every).unwrap();
    let far = T0 + 10_000 * DAY;
    let all = log.purge(far).unwrap();
    assert_eq!((all.records_deleted, all.anchor_seq), (6, Some(9)));
    let r = verify(&mut log);
    assert!(r.ok(), "{:?}", r.problem);
    assert_eq!((r.first_seq, r.records), (9, 0));
    log.append(&[at(8, 10_000, RetentionClass::Full)]).unwrap();
    assert!(verify(&mut log).ok());
}

fn keyless_log(e: &mut Env) {
    // A fresh database of this backend, never given a key.
    e.sql("DELETE FROM audit_meta WHERE name = 'key_check'");
    let full = vec![Retention {
        class: RetentionClass::Full,
        payload_days: Some(1),
        record_days: None,
    }];
    let err = e.open_with(None, full).err().unwrap();
    assert!(err.to_string().contains("master key"), "{err}");
    let mut log = e.open_with(None, Vec::new()).unwrap();
    assert!(
        log.append(&[rec(1, Some("judy"), RetentionClass::Full)])
            .is_err()
    );
    log.append(&records(1..1001, Some("judy"), RetentionClass::Metadata))
        .unwrap();
    let r = log.get("req-000001").unwrap().unwrap();
    // Without a master key no clear subject is kept: only its salted hash, which search uses.
    assert_eq!((r.subject, r.payload), (None, PayloadState::NotKept));
    assert!(r.subject_hash.is_some());
    assert_eq!(
        log.search(&Query {
            subject: Some("judy".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1000
    );
    let v = verify(&mut log);
    assert!(v.ok() && !v.signed && v.checkpoints == 1, "{v:?}");
    assert_eq!(log.erase_subject("judy").unwrap().records, 1000);
    assert!(verify(&mut log).ok());
    drop(log);
    let late = e.open_with(Some(KEY), Vec::new()).err().unwrap();
    assert!(late.to_string().contains("without a master key"), "{late}");
}

fn wrong_key_refused(e: &mut Env) {
    let err = e.open_with(Some([1; 32]), Vec::new()).err().unwrap();
    assert!(err.to_string().contains("master key"), "{err}");
}

fn migrations_idempotent(e: &mut Env) {
    drop(e.open());
    let steps = e.count("SELECT COUNT(*) FROM schema_migrations");
    assert!(steps >= 10, "{steps} steps");
    for _ in 0..3 {
        drop(e.open());
    }
    assert_eq!(e.count("SELECT COUNT(*) FROM schema_migrations"), steps);
    let mut a = e.open();
    let mut b = e.open();
    a.append(&records(0..3, None, RetentionClass::Metadata))
        .unwrap();
    b.append(&records(3..6, None, RetentionClass::Metadata))
        .unwrap();
    a.append(&records(6..9, None, RetentionClass::Metadata))
        .unwrap();
    let r = verify(&mut b);
    assert!(r.ok() && r.records == 9, "{r:?}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn writer_group_commit(e: &mut Env) {
    let writer = AuditWriter::spawn(e.open(), Durability::Sync);
    rt().block_on(async {
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(
                    async move { w.submit(rec(i, Some("kate"), RetentionClass::Full)).await },
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        writer.flush().await.unwrap();
        // A duplicate id fails its own commit, not its batch's neighbours.
        let dup = writer.submit(rec(5, None, RetentionClass::Metadata));
        let fine = writer.submit(rec(1000, None, RetentionClass::Metadata));
        assert!(dup.await.is_err());
        fine.await.unwrap();
    });
    let s = writer.stats();
    assert_eq!(
        (s.committed, s.queued, s.spooled, s.dropped),
        (301, 0, 0, 0)
    );
    assert!(s.batches < 300, "batched: {s:?}");
    drop(writer);
    let mut log = e.open();
    let r = verify(&mut log);
    assert!(r.ok() && r.records == 301, "{r:?}");
}

/// Records submitted one after another (a quiet server's, each answered before the next is
/// asked) share async commits instead of taking one each.
fn writer_async_commits_in_groups(e: &mut Env) {
    let writer = AuditWriter::spawn(
        e.open(),
        Durability::Async {
            queue: 1000,
            spool_dir: e.dir.join("spool"),
        },
    );
    rt().block_on(async {
        for i in 0..40 {
            writer
                .submit(rec(i, Some("kate"), RetentionClass::Full))
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        writer.flush().await.unwrap();
    });
    let s = writer.stats();
    assert_eq!((s.committed, s.spooled, s.dropped), (40, 0, 0));
    // 40 records over ~45 ms: about one commit per 10 ms, not one per record.
    assert!(s.batches <= 12, "{s:?}");
    drop(writer);
    let r = verify(&mut e.open());
    assert!(r.ok() && r.records == 40, "{r:?}");
}

fn writer_async_spools_when_full(e: &mut Env) {
    let spool_dir = e.dir.join("spool");
    let writer = AuditWriter::spawn(
        e.open(),
        Durability::Async {
            queue: 4,
            spool_dir: spool_dir.clone(),
        },
    );
    // Hold the chain's lock so the writer stalls and its queue fills.
    match &mut e.raw {
        Raw::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE").unwrap(),
        Raw::Postgres(c) => c
            .batch_execute("BEGIN; SELECT seq FROM audit_head FOR UPDATE")
            .unwrap(),
    }
    rt().block_on(async {
        for i in 0..100 {
            writer
                .submit(rec(i, None, RetentionClass::Metadata))
                .await
                .unwrap();
        }
    });
    let s = writer.stats();
    assert!(s.spooled > 0, "{s:?}");
    assert!(std::fs::read_dir(&spool_dir).unwrap().count() > 0);
    e.sql("COMMIT");
    rt().block_on(writer.flush()).unwrap();
    let s = writer.stats();
    assert_eq!((s.committed, s.dropped), (100, 0), "{s:?}");
    assert_eq!(
        std::fs::read_dir(&spool_dir).unwrap().count(),
        0,
        "replayed spool files are removed"
    );
    drop(writer);
    let mut log = e.open();
    assert!(verify(&mut log).ok());
    assert_eq!(e.count("SELECT COUNT(*) FROM audit_log"), 100);
}

fn writer_replays_spool_at_start(e: &mut Env) {
    let spool_dir = e.dir.join("spool");
    std::fs::create_dir_all(&spool_dir).unwrap();
    let mut log = e.open();
    log.append(&[rec(1, None, RetentionClass::Metadata)])
        .unwrap();
    // Left by a run that stopped before replaying: one record already stored, one torn line.
    let mut text = String::new();
    for i in 0..5 {
        text.push_str(
            &serde_json::to_string(&rec(i, Some("leo"), RetentionClass::Metadata)).unwrap(),
        );
        text.push('\n');
    }
    text.push_str("{\"id\": \"torn");
    std::fs::write(spool_dir.join("spool-1-1-1.jsonl"), text).unwrap();
    let writer = AuditWriter::spawn(
        log,
        Durability::Async {
            queue: 100,
            spool_dir: spool_dir.clone(),
        },
    );
    rt().block_on(writer.flush()).unwrap();
    let s = writer.stats();
    assert_eq!((s.committed, s.dropped), (4, 1), "{s:?}");
    assert_eq!(std::fs::read_dir(&spool_dir).unwrap().count(), 0);
    drop(writer);
    assert_eq!(e.count("SELECT COUNT(*) FROM audit_log"), 5);
    assert!(verify(&mut e.open()).ok());
}

/// Makes every commit fail as a full disk or a dead server would: the chain head cannot move.
fn break_commits(e: &mut Env) {
    match e.raw {
        Raw::Sqlite(_) => e.sql(
            "CREATE TRIGGER seam_fail BEFORE UPDATE ON audit_head \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        ),
        Raw::Postgres(_) => e.sql(
            "CREATE FUNCTION seam_fail() RETURNS trigger AS $$ \
               BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER seam_fail BEFORE UPDATE ON audit_head \
               FOR EACH ROW EXECUTE FUNCTION seam_fail();",
        ),
    }
}

fn mend_commits(e: &mut Env) {
    match e.raw {
        Raw::Sqlite(_) => e.sql("DROP TRIGGER seam_fail"),
        Raw::Postgres(_) => {
            e.sql("DROP TRIGGER seam_fail ON audit_head; DROP FUNCTION seam_fail();")
        }
    }
}

fn writer_reports_failing_commits_and_recovers_without_traffic(e: &mut Env) {
    let writer = AuditWriter::spawn(e.open(), Durability::Sync);
    assert_eq!(writer.problems(), Vec::<String>::new());
    break_commits(e);
    let failed = rt().block_on(writer.submit(rec(1, None, RetentionClass::Metadata)));
    assert!(failed.is_err());
    let problems = writer.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("audit records cannot be committed:"),
        "{problems:?}"
    );
    assert!(problems[0].contains("injected failure"), "{problems:?}");
    // Still failing a probe later: no traffic, no change.
    let pause = |d| rt().block_on(async move { tokio::time::sleep(d).await });
    pause(seam_store::PROBE_EVERY * 2);
    assert_eq!(writer.problems().len(), 1);

    mend_commits(e);
    let deadline = std::time::Instant::now() + seam_store::PROBE_EVERY * 5;
    while !writer.problems().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "never recovered: {:?}",
            writer.problems()
        );
        pause(std::time::Duration::from_millis(50));
    }
    rt().block_on(writer.submit(rec(2, None, RetentionClass::Metadata)))
        .unwrap();
    drop(writer);
    assert!(verify(&mut e.open()).ok());
}

fn writer_reports_a_failing_spool(e: &mut Env) {
    // The spool's folder cannot be made: its parent is a file.
    std::fs::write(e.dir.join("file"), "x").unwrap();
    let writer = AuditWriter::spawn(
        e.open(),
        Durability::Async {
            queue: 1,
            spool_dir: e.dir.join("file").join("spool"),
        },
    );
    match &mut e.raw {
        Raw::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE").unwrap(),
        Raw::Postgres(c) => c
            .batch_execute("BEGIN; SELECT seq FROM audit_head FOR UPDATE")
            .unwrap(),
    }
    let lost = rt().block_on(async {
        let mut lost = 0;
        for i in 0..20 {
            lost += usize::from(
                writer
                    .submit(rec(i, None, RetentionClass::Metadata))
                    .await
                    .is_err(),
            );
        }
        lost
    });
    assert!(lost > 0);
    let problems = writer.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("audit spool: records cannot be spooled")),
        "{problems:?}"
    );
    e.sql("COMMIT");
    rt().block_on(writer.flush()).unwrap();
    // The loss stays reported for a while after the overflow is over.
    assert!(!writer.problems().is_empty());
    assert_eq!(writer.stats().dropped, lost as u64);
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = env(kind) {
        body(&mut e);
    }
}

on_both_backends!(
    round_trip_per_class,
    injection_finding_detail,
    search_filters,
    export_count_and_shape,
    tamper_column,
    tamper_placement,
    tamper_payload_byte,
    tamper_delete,
    tamper_delete_tail,
    tamper_truncate_tail_and_head,
    tamper_delete_checkpoints,
    tamper_insert,
    tamper_append_forged,
    tamper_swap,
    tamper_checkpoint,
    tamper_anchor,
    erase_subject,
    erase_is_constant_statements,
    erase_leaves_nothing_in_the_files,
    erase_says_when_the_files_could_not_be_cleared,
    nothing_personal_in_clear_at_rest,
    clear_subjects_are_sealed_on_open,
    spool_keeps_nothing_in_clear,
    keyless_spool_and_subjects,
    purge_keeps_chain_valid,
    keyless_log,
    wrong_key_refused,
    migrations_idempotent,
    writer_group_commit,
    writer_async_commits_in_groups,
    writer_async_spools_when_full,
    writer_replays_spool_at_start,
    writer_reports_failing_commits_and_recovers_without_traffic,
    writer_reports_a_failing_spool,
);

/// Not a gate (timed tests flake): `cargo test -p seam-store --release -- --ignored --nocapture`
/// prints verify's and erasure's speed on SQLite.
#[test]
#[ignore]
fn sqlite_speed_report() {
    let e = env(Kind::Sqlite).unwrap();
    let mut log = e.open();
    let n = 200_000;
    for start in (0..n).step_by(1000) {
        let subject = if start < 10_000 { Some("big") } else { None };
        log.append(&records(
            start..start + 1000,
            subject,
            RetentionClass::Metadata,
        ))
        .unwrap();
    }
    let t = std::time::Instant::now();
    let r = verify(&mut log);
    let secs = t.elapsed().as_secs_f64();
    assert!(r.ok());
    eprintln!(
        "verify: {} records in {secs:.2} s = {:.0} records/min",
        r.records,
        r.records as f64 / secs * 60.0
    );
    let t = std::time::Instant::now();
    assert_eq!(log.erase_subject("big").unwrap().records, 10_000);
    eprintln!(
        "erase of 10,000 among {n}: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
}
