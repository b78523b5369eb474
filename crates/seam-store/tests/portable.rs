//! The exit drill (issue 21): a store filled through its real APIs is exported, imported into
//! a fresh PostgreSQL database, exported again, imported into a fresh SQLite file and exported
//! a third time. The three exports' tables are byte-identical, every imported chain verifies,
//! and the imported stores serve the same keys, prompts, collections and payloads. PostgreSQL
//! runs when reachable (required with `SEAM_REQUIRE_POSTGRES=1`); without it, the middle hop
//! is SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[allow(unused_macros)]
mod common;

use std::path::{Path, PathBuf};

use common::{Env, KEY, Kind, cfg};
use seam_rollouts::Delta;
use seam_rollouts::tally::{BucketRow, MomentRow};
use seam_store::portable::{self, Extra};
use seam_store::*;
use serde_json::json;

const T0: i64 = 1_714_564_800_000;

fn rec(i: usize, subject: Option<&str>) -> AuditRecord {
    AuditRecord {
        id: format!("req-{i:04}"),
        time_ms: T0 + i as i64 * 60_000,
        key_id: Some("key_test".to_owned()),
        subject: subject.map(str::to_owned),
        tags: vec!["exit".to_owned()],
        endpoint: "chat".to_owned(),
        model: Some("chat".to_owned()),
        route: Some("openai/gpt-4o-mini".to_owned()),
        status: if i % 5 == 0 { 502 } else { 200 },
        error_code: (i % 5 == 0).then(|| "upstream_error".to_owned()),
        attempts: vec![AttemptRecord {
            target: "openai/gpt-4o-mini".to_owned(),
            status: 200,
            latency_ms: 12.5,
            error: None,
        }],
        findings: if i % 4 == 0 {
            vec![FindingRecord::counted("input", "EMAIL", "redact", 1)]
        } else {
            Vec::new()
        },
        usage: Some(UsageRecord {
            prompt_tokens: 10,
            completion_tokens: i as u64,
            ..UsageRecord::default()
        }),
        // Floats that do not print short: the chain hashes them, so they must read back exactly.
        cost_usd: Some(0.1 + 0.2 * i as f64 / 3.0),
        latency_ms: 100.0 / 3.0 + i as f64,
        ttft_ms: (i % 2 == 1).then_some(1.0 / 7.0),
        cache_hit: i % 7 == 0,
        placement: None,
        kind: RecordKind::Request,
        count: None,
        prompt: Some("greet@v2".to_owned()),
        variant: None,
        trace_id: None,
        citations: Vec::new(),
        features: if i % 3 == 0 {
            vec!["streaming".to_owned(), "tools".to_owned()]
        } else {
            Vec::new()
        },
        class: RetentionClass::Full,
        payload: Payload {
            client_request: Some(
                json!({"messages": [{"role": "user", "content": format!("hello {i}")}]}),
            ),
            upstream_request: None,
            response: Some(json!({"choices": [{"message": {"content": format!("ok {i} ✓")}}]})),
        },
    }
}

fn chunk(ord: u32, text: &str, vector: Vec<f32>) -> NewChunk {
    NewChunk {
        ord,
        heading: (ord == 0).then(|| "Intro".to_owned()),
        text: text.to_owned(),
        tokens: 5,
        vector,
    }
}

fn doc(id: &str, labels: &[&str], chunks: Vec<NewChunk>) -> NewDocument {
    NewDocument {
        collection: "kb".to_owned(),
        id: id.to_owned(),
        title: Some(format!("Title of {id}")),
        source: Some(format!("docs/{id}.md")),
        content_hash: format!("hash-{id}"),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        metadata: json!({"team": "search", "n": 1.5})
            .as_object()
            .unwrap()
            .clone(),
        chunks,
    }
}

/// Fills every kind of table through the store's own APIs; returns a key's secret.
fn fill(backend: &BackendConfig) -> String {
    let c = cfg(backend.clone(), Some(KEY));
    let mut log = AuditLog::open(&c).unwrap();
    let batch: Vec<AuditRecord> = (0..30)
        .map(|i| {
            let subject = match i % 3 {
                0 => Some("alice@example.com"),
                1 => Some("bob@example.com"),
                _ => None,
            };
            rec(i, subject)
        })
        .collect();
    log.append(&batch).unwrap();
    log.erase_subject("alice@example.com").unwrap();
    log.checkpoint().unwrap();
    log.append(&[rec(100, Some("bob@example.com"))]).unwrap();

    let mut keys = KeyStore::open(&c).unwrap();
    let scope = KeyScope {
        models: vec!["*".to_owned()],
        team: Some("search".to_owned()),
        ..KeyScope::default()
    };
    let (_, secret) = keys.create("ci", &scope, T0).unwrap();
    let (old, _) = keys.create("old", &KeyScope::default(), T0 + 1).unwrap();
    assert!(keys.revoke(&old.id, T0 + 2).unwrap());

    let mut prompts = PromptStore::open(&c).unwrap();
    prompts.put("greet", "v1", "Hello {{ name }}").unwrap();
    prompts
        .put("greet", "v2", "Hello, {{ name }}! \"quoted\"\n")
        .unwrap();
    prompts.set_tag("greet", "prod", "v2").unwrap();

    let mut rollouts = RolloutStore::open(&c).unwrap();
    let row = rollouts.start("canary", false, "exit drill").unwrap();
    rollouts
        .add(
            "canary",
            row.run,
            0,
            "candidate",
            &Delta {
                moments: vec![MomentRow {
                    metric: "latency_ms".to_owned(),
                    n: 3,
                    sum: 0.1 + 0.2,
                    sum_sq: 1.0 / 3.0,
                }],
                buckets: vec![BucketRow {
                    metric: "latency_ms".to_owned(),
                    bucket: 4,
                    count: 3,
                }],
            },
        )
        .unwrap();

    let mut evals = EvalStore::open(&c).unwrap();
    evals
        .put(
            &EvalRun {
                id: "run-1".to_owned(),
                name: "smoke".to_owned(),
                kind: "eval".to_owned(),
                uploaded_ms: T0,
                passed: 9,
                total: 10,
                uploaded_by: Some("ops".to_owned()),
            },
            r#"{"results": [1, 2, 3]}"#,
        )
        .unwrap();

    Ledger::open(&c)
        .unwrap()
        .add(&[Charge {
            scope: "key:key_test".to_owned(),
            period: "2024-05".to_owned(),
            microusd: 1_234_567,
        }])
        .unwrap();

    ResponseStore::open(&c)
        .unwrap()
        .put(
            &StoredResponse {
                id: "resp_1".to_owned(),
                key_id: None,
                subject: Some("bob@example.com".to_owned()),
                created_at: 1_900_000_000,
                input_items: vec![json!({"role": "user", "content": "hi"})],
                response: json!({"id": "resp_1", "output_text": "hello"}),
            },
            4_000_000_000,
        )
        .unwrap();

    let mut retrieval = RetrievalStore::open(&c).unwrap();
    retrieval
        .upsert(&doc(
            "handbook",
            &["public"],
            vec![
                chunk(0, "alpha bravo charlie", vec![0.6, 0.8, 0.0]),
                chunk(1, "delta echo foxtrot", vec![0.1, 0.2, 0.974_679_4]),
            ],
        ))
        .unwrap();
    retrieval
        .upsert(&doc(
            "secret-plan",
            &["team:oncology", "consent:yes"],
            vec![chunk(
                0,
                "alpha golf hotel",
                vec![1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0],
            )],
        ))
        .unwrap();
    retrieval.delete("kb", "nothing-here").unwrap();
    secret
}

/// What every imported store must do: verify, authenticate the key, serve prompts, documents,
/// full-text search, payloads and stored responses, and keep working.
fn check_store(backend: &BackendConfig, secret: &str) {
    let c = cfg(backend.clone(), Some(KEY));
    let mut log = AuditLog::open(&c).unwrap();
    let report = log.verify(&mut |_| {}).unwrap();
    assert!(report.ok(), "{:?}", report.problem);
    assert!(report.signed);
    assert_eq!(report.records, 32, "30 records, a tombstone and one more");
    assert!(report.checkpoints >= 1);
    let bob = log.get("req-0001").unwrap().unwrap();
    assert!(
        matches!(&bob.payload, PayloadState::Kept(p) if p.response.is_some()),
        "{:?}",
        bob.payload
    );
    let alice = log.get("req-0000").unwrap().unwrap();
    assert_eq!(alice.payload, PayloadState::Erased);

    let mut keys = KeyStore::open(&c).unwrap();
    let active = keys.active(T0 + 10).unwrap();
    assert_eq!(active.len(), 1, "the revoked key stays revoked");
    assert_eq!(
        active[0].0,
        hash_secret(secret),
        "the same secret authenticates"
    );
    assert_eq!(active[0].1.name, "ci");

    let mut prompts = PromptStore::open(&c).unwrap();
    assert_eq!(prompts.tag("greet", "prod").unwrap().as_deref(), Some("v2"));
    assert_eq!(
        prompts.get("greet", "v2").unwrap().unwrap().source,
        "Hello, {{ name }}! \"quoted\"\n"
    );

    let mut retrieval = RetrievalStore::open(&c).unwrap();
    let stats = retrieval.stats("kb").unwrap();
    assert_eq!((stats.documents, stats.chunks), (2, 3));
    let hits = retrieval
        .text_search("kb", "alpha", &Grants::all(), &MetaFilter::default(), 10)
        .unwrap();
    assert_eq!(hits.len(), 2, "the full-text index answers after an import");
    let views = retrieval.chunks(&[hits[0].0]).unwrap();
    assert_eq!(views.len(), 1);

    let mut responses = ResponseStore::open(&c).unwrap();
    let got = responses
        .get("resp_1", None, 1_900_000_001)
        .unwrap()
        .unwrap();
    assert_eq!(got.response["output_text"], "hello");

    assert_eq!(
        Ledger::open(&c)
            .unwrap()
            .spent("key:key_test", "2024-05")
            .unwrap(),
        1_234_567
    );
}

/// After its export: the imported store takes new writes (sequences and the head carried over).
fn keeps_working(backend: &BackendConfig) {
    let c = cfg(backend.clone(), Some(KEY));
    let mut log = AuditLog::open(&c).unwrap();
    log.append(&[rec(200, None)]).unwrap();
    assert!(log.verify(&mut |_| {}).unwrap().ok());
    let mut retrieval = RetrievalStore::open(&c).unwrap();
    retrieval
        .upsert(&doc(
            "new",
            &["public"],
            vec![chunk(0, "alpha kilo", vec![0.0, 1.0, 0.0])],
        ))
        .unwrap();
    assert_eq!(retrieval.stats("kb").unwrap().chunks, 4);
}

fn export(backend: &BackendConfig, dir: &Path, extras: &[Extra]) -> portable::Manifest {
    portable::export(
        &cfg(backend.clone(), Some(KEY)),
        dir,
        extras,
        false,
        &mut |_, _| {},
    )
    .unwrap()
}

fn import(backend: &BackendConfig, dir: &Path) -> Result<portable::ImportReport, StoreError> {
    portable::import(&cfg(backend.clone(), Some(KEY)), dir, &mut |_, _| {})
}

fn tables(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("tables"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn scratch(e: &Env, name: &str) -> PathBuf {
    e.dir.join(name)
}

fn sqlite_env() -> Env {
    common::env(Kind::Sqlite, "seam.db").unwrap()
}

#[test]
fn round_trip_sqlite_postgres_sqlite() {
    let source = sqlite_env();
    let secret = fill(&source.backend);
    let config = source.dir.join("seam.toml");
    std::fs::write(&config, "[storage]\nurl = \"sqlite://seam.db\"\n").unwrap();
    let extras = [Extra {
        path: "config.toml".to_owned(),
        source: config.clone(),
    }];

    let a = scratch(&source, "export-a");
    let manifest = export(&source.backend, &a, &extras);
    assert_eq!(manifest.format_version, portable::FORMAT_VERSION);
    assert_eq!(manifest.source_backend, "sqlite");
    let audit = manifest
        .files
        .iter()
        .find(|f| f.table.as_deref() == Some("audit_log"))
        .unwrap();
    assert_eq!(audit.rows, Some(32));
    assert_eq!(
        std::fs::read(a.join("config.toml")).unwrap(),
        std::fs::read(&config).unwrap(),
        "the config is copied verbatim"
    );
    let sums = std::fs::read_to_string(a.join(portable::SUMS)).unwrap();
    assert!(sums.contains("  tables/audit_log.jsonl\n") && sums.contains("  manifest.json\n"));

    // What the files say: no secret, no clear subject or payload; vectors as floats.
    let keys_file = std::fs::read_to_string(a.join("tables/api_keys.jsonl")).unwrap();
    assert!(
        !keys_file.contains(&secret[12..]),
        "a key's secret was exported"
    );
    assert!(keys_file.contains(&hash_secret(&secret)));
    let log_file = std::fs::read_to_string(a.join("tables/audit_log.jsonl")).unwrap();
    assert!(!log_file.contains("hello 1") && !log_file.contains("bob@example.com"));
    let chunks = std::fs::read_to_string(a.join("tables/retrieval_chunks.jsonl")).unwrap();
    assert!(chunks.contains("\"vector\":[0.6,0.8,0.0]"), "{chunks}");

    let pg = common::env(Kind::Postgres, "unused.db");
    let middle = match &pg {
        Some(e) => e.backend.clone(),
        None => BackendConfig::Sqlite {
            path: source.dir.join("middle.db"),
        },
    };
    let report = import(&middle, &a).unwrap();
    assert_eq!(
        report.rows as usize,
        tables(&a)
            .iter()
            .map(|(_, b)| b.iter().filter(|c| **c == b'\n').count())
            .sum::<usize>()
    );
    assert_eq!(report.extras, vec!["config.toml".to_owned()]);
    check_store(&middle, &secret);
    let b = scratch(&source, "export-b");
    let manifest_b = export(&middle, &b, &extras);
    if pg.is_some() {
        assert_eq!(manifest_b.source_backend, "postgres");
    }
    keeps_working(&middle);

    let last = sqlite_env();
    import(&last.backend, &b).unwrap();
    check_store(&last.backend, &secret);
    let c = scratch(&source, "export-c");
    export(&last.backend, &c, &extras);
    keeps_working(&last.backend);

    let (ta, tb, tc) = (tables(&a), tables(&b), tables(&c));
    assert_eq!(ta.len(), portable::table_names().count());
    for ((x, y), z) in ta.iter().zip(&tb).zip(&tc) {
        assert_eq!(x.0, y.0);
        assert!(
            x.1 == y.1,
            "{} differs between the first and second export",
            x.0
        );
        assert!(
            y.1 == z.1,
            "{} differs between the second and third export",
            y.0
        );
    }
}

#[test]
fn a_tampered_file_is_refused_by_name() {
    let source = sqlite_env();
    fill(&source.backend);
    let dir = scratch(&source, "export");
    export(&source.backend, &dir, &[]);
    let target = sqlite_env();

    let file = dir.join("tables/api_keys.jsonl");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.iter().position(|b| *b == b'"').unwrap();
    bytes.insert(at, b' ');
    std::fs::write(&file, bytes).unwrap();
    let err = import(&target.backend, &dir).unwrap_err().to_string();
    assert!(
        err.contains("tables/api_keys.jsonl") && err.contains("checksum"),
        "{err}"
    );
    assert_eq!(
        KeyStore::open(&cfg(target.backend.clone(), None))
            .unwrap()
            .count()
            .unwrap(),
        0,
        "nothing was imported"
    );
}

#[test]
fn a_store_that_holds_anything_is_refused() {
    let source = sqlite_env();
    fill(&source.backend);
    let dir = scratch(&source, "export");
    export(&source.backend, &dir, &[]);

    let err = import(&source.backend, &dir).unwrap_err().to_string();
    assert!(err.contains("not empty"), "{err}");

    // One key is enough to refuse, and the refusal changes nothing.
    let target = sqlite_env();
    let c = cfg(target.backend.clone(), None);
    KeyStore::open(&c)
        .unwrap()
        .create("x", &KeyScope::default(), T0)
        .unwrap();
    let err = import(&target.backend, &dir).unwrap_err().to_string();
    assert!(err.contains("api_keys"), "{err}");
    assert_eq!(KeyStore::open(&c).unwrap().count().unwrap(), 1);
}

#[test]
fn another_format_version_is_refused() {
    let source = sqlite_env();
    fill(&source.backend);
    let dir = scratch(&source, "export");
    export(&source.backend, &dir, &[]);
    // A consistent folder of another version: the manifest rewritten and its sum updated.
    let manifest_path = dir.join(portable::MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).unwrap().replace(
        &format!("\"format_version\": {}", portable::FORMAT_VERSION),
        "\"format_version\": 99",
    );
    std::fs::write(&manifest_path, &text).unwrap();
    let sum = {
        use std::fmt::Write;
        let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        d.as_ref().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let sums_path = dir.join(portable::SUMS);
    let sums: String = std::fs::read_to_string(&sums_path)
        .unwrap()
        .lines()
        .map(|l| {
            if l.ends_with("  manifest.json") {
                format!("{sum}  manifest.json\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&sums_path, sums).unwrap();

    let target = sqlite_env();
    let err = import(&target.backend, &dir).unwrap_err().to_string();
    assert!(err.contains("format 99"), "{err}");
}

#[test]
fn export_refuses_a_folder_that_holds_anything() {
    let source = sqlite_env();
    fill(&source.backend);
    let dir = scratch(&source, "export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let c = cfg(source.backend.clone(), Some(KEY));
    let err = portable::export(&c, &dir, &[], false, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert!(!dir.join(portable::MANIFEST).exists());
    // --force writes beside what is there.
    portable::export(&c, &dir, &[], true, &mut |_, _| {}).unwrap();
    assert!(portable::check(&dir).is_ok());
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_subject_in_clear_never_leaves() {
    let mut source = sqlite_env();
    fill(&source.backend);
    // What a store from before migration 6 holds until it is opened with its key.
    source.sql(
        "UPDATE audit_subjects SET subject = 'bob@example.com' WHERE subject_hash <> 'anonymous'",
    );
    let dir = scratch(&source, "export");
    let c = cfg(source.backend.clone(), Some(KEY));
    let err = portable::export(&c, &dir, &[], false, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("in clear") && !err.contains("bob"), "{err}");
    // Opening the log with its key seals it; then the export goes ahead.
    drop(AuditLog::open(&c).unwrap());
    portable::export(&c, &dir, &[], true, &mut |_, _| {}).unwrap();
    let subjects = std::fs::read_to_string(dir.join("tables/audit_subjects.jsonl")).unwrap();
    assert!(!subjects.contains("bob@example.com"));
}

#[test]
fn another_master_key_is_refused_before_anything_is_loaded() {
    let source = sqlite_env();
    fill(&source.backend);
    let dir = scratch(&source, "export");
    export(&source.backend, &dir, &[]);
    let target = sqlite_env();
    for (key, words) in [(Some([7u8; 32]), "not the one"), (None, "must name it")] {
        let err = portable::import(&cfg(target.backend.clone(), key), &dir, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(words), "{err}");
    }
    // Nothing stayed behind: the right key imports.
    import(&target.backend, &dir).unwrap();
}
