//! Stored Responses API conversations, on both backends with the same test bodies: scoping by
//! key, expiry and retention, erasure with the subject, and nothing in clear at rest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, cfg};
use seam_store::*;
use serde_json::json;

const T0: i64 = 1_714_564_800; // Unix seconds
const CANARY: &str = "canary-7f3a9c-conversation-text";
const SUBJECT_CANARY: &str = "canary-subject-41b2@example.com";

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "responses.db") {
        body(&mut e);
    }
}

impl Env {
    fn responses(&self) -> ResponseStore {
        ResponseStore::open(&cfg(self.backend.clone(), Some(KEY))).unwrap()
    }

    fn audit(&self) -> AuditLog {
        AuditLog::open(&cfg(self.backend.clone(), Some(KEY))).unwrap()
    }
}

fn resp(id: &str, key: Option<&str>, subject: Option<&str>) -> StoredResponse {
    StoredResponse {
        id: id.to_owned(),
        key_id: key.map(str::to_owned),
        subject: subject.map(str::to_owned),
        created_at: T0,
        input_items: vec![json!({"id": "msg_1", "type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": format!("my secret is {CANARY}")}]})],
        response: json!({"id": id, "object": "response",
                         "output": [{"type": "message", "content": [{"type": "output_text", "text": CANARY}]}]}),
    }
}

fn round_trip_and_scoping(e: &mut Env) {
    let mut s = e.responses();
    let a = resp("resp_a", Some("key-1"), Some("alice"));
    s.put(&a, T0 + 100).unwrap();
    assert_eq!(s.get("resp_a", Some("key-1"), T0).unwrap(), Some(a));
    // Another key, no key, and an unknown id all look the same.
    assert_eq!(s.get("resp_a", Some("key-2"), T0).unwrap(), None);
    assert_eq!(s.get("resp_a", None, T0).unwrap(), None);
    assert_eq!(s.get("resp_nope", Some("key-1"), T0).unwrap(), None);
    assert!(!s.delete("resp_a", Some("key-2")).unwrap());
    assert!(!s.delete("resp_a", None).unwrap());
    assert!(s.get("resp_a", Some("key-1"), T0).unwrap().is_some());
    assert!(s.delete("resp_a", Some("key-1")).unwrap());
    assert_eq!(s.get("resp_a", Some("key-1"), T0).unwrap(), None);
    assert!(!s.delete("resp_a", Some("key-1")).unwrap());

    // Without keys (and without a subject): only keyless lookups find it.
    let b = resp("resp_b", None, None);
    s.put(&b, T0 + 100).unwrap();
    assert_eq!(s.get("resp_b", None, T0).unwrap(), Some(b));
    assert_eq!(s.get("resp_b", Some("key-1"), T0).unwrap(), None);
    assert!(!s.delete("resp_b", Some("key-1")).unwrap());
    assert!(s.delete("resp_b", None).unwrap());

    // An id is stored once.
    s.put(&resp("resp_c", None, None), T0 + 100).unwrap();
    assert!(s.put(&resp("resp_c", None, None), T0 + 100).is_err());

    // A second handle (another replica) reads what the first stored.
    s.put(&resp("resp_d", Some("key-1"), Some("bob")), T0 + 100)
        .unwrap();
    let got = e
        .responses()
        .get("resp_d", Some("key-1"), T0)
        .unwrap()
        .unwrap();
    assert_eq!(got.subject.as_deref(), Some("bob"));
}

fn expiry_and_retention(e: &mut Env) {
    let mut s = e.responses();
    s.put(&resp("resp_old", Some("k"), Some("alice")), T0 + 10)
        .unwrap();
    s.put(&resp("resp_new", Some("k"), None), T0 + 1000)
        .unwrap();
    assert!(s.get("resp_old", Some("k"), T0 + 9).unwrap().is_some());
    // Past its expiry it is gone for readers, before any purge.
    assert_eq!(s.get("resp_old", Some("k"), T0 + 10).unwrap(), None);
    assert_eq!(e.count("SELECT COUNT(*) FROM responses"), 2);
    // The audit log's periodic purge drops it (purge takes milliseconds).
    let report = e.audit().purge((T0 + 10) * 1000).unwrap();
    assert_eq!(report.responses_deleted, 1);
    assert_eq!(e.count("SELECT COUNT(*) FROM responses"), 1);
    assert!(s.get("resp_new", Some("k"), T0 + 10).unwrap().is_some());
    // And so does the store's own.
    assert_eq!(s.purge(T0 + 999).unwrap(), 0);
    assert_eq!(s.purge(T0 + 1000).unwrap(), 1);
    assert_eq!(e.count("SELECT COUNT(*) FROM responses"), 0);
}

fn erased_with_the_subject(e: &mut Env) {
    let mut s = e.responses();
    s.put(&resp("resp_1", Some("k"), Some("alice")), T0 + 100)
        .unwrap();
    s.put(&resp("resp_2", Some("k"), Some("alice")), T0 + 100)
        .unwrap();
    s.put(&resp("resp_3", Some("k"), Some("bob")), T0 + 100)
        .unwrap();
    s.put(&resp("resp_4", Some("k"), None), T0 + 100).unwrap();
    let report = e.audit().erase_subject("alice").unwrap();
    assert_eq!(report.responses, 2);
    assert!(report.key_destroyed);
    assert_eq!(report.scrub, None);
    assert_eq!(s.get("resp_1", Some("k"), T0).unwrap(), None);
    assert_eq!(s.get("resp_2", Some("k"), T0).unwrap(), None);
    assert!(s.get("resp_3", Some("k"), T0).unwrap().is_some());
    assert!(s.get("resp_4", Some("k"), T0).unwrap().is_some());
    assert_eq!(e.count("SELECT COUNT(*) FROM responses"), 2);
    // Erasing again finds nothing more; a new conversation gets a new key.
    assert_eq!(e.audit().erase_subject("alice").unwrap().responses, 0);
    s.put(&resp("resp_5", Some("k"), Some("alice")), T0 + 100)
        .unwrap();
    assert!(s.get("resp_5", Some("k"), T0).unwrap().is_some());
}

/// A row whose `key_id` was rewritten to hand it to another key does not open for that key.
fn key_id_is_bound_to_the_ciphertext(e: &mut Env) {
    let mut s = e.responses();
    s.put(&resp("resp_t", Some("owner"), Some("alice")), T0 + 100)
        .unwrap();
    e.sql("UPDATE responses SET key_id = 'thief' WHERE id = 'resp_t'");
    let err = s.get("resp_t", Some("thief"), T0).unwrap_err();
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");
    assert!(!err.to_string().contains(CANARY));
}

fn nothing_in_clear_in_the_table(e: &mut Env) {
    let mut s = e.responses();
    s.put(&resp("resp_c", Some("k"), Some(SUBJECT_CANARY)), T0 + 100)
        .unwrap();
    let row: Vec<u8> = match &mut e.raw {
        common::Raw::Sqlite(c) => c
            .query_row(
                "SELECT CAST(id || COALESCE(key_id, '') || COALESCE(subject_hash, '') AS BLOB), sealed FROM responses",
                [],
                |r| Ok([r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?].concat()),
            )
            .unwrap(),
        common::Raw::Postgres(c) => {
            let r = c
                .query_one(
                    "SELECT id || COALESCE(key_id, '') || COALESCE(subject_hash, ''), sealed FROM responses",
                    &[],
                )
                .unwrap();
            [r.get::<_, String>(0).into_bytes(), r.get::<_, Vec<u8>>(1)].concat()
        }
    };
    for needle in [CANARY, SUBJECT_CANARY, "secret"] {
        assert!(!contains(&row, needle.as_bytes()), "{needle} in clear");
    }
}

fn keyless_store_refused(e: &mut Env) {
    let err = ResponseStore::open(&cfg(e.backend.clone(), None)).unwrap_err();
    assert!(err.to_string().contains("master key"), "{err}");
    drop(e.responses());
    let err = ResponseStore::open(&cfg(e.backend.clone(), Some([1; 32]))).unwrap_err();
    assert!(
        err.to_string().contains("master key does not match"),
        "{err}"
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

on_both_backends!(
    round_trip_and_scoping,
    expiry_and_retention,
    erased_with_the_subject,
    key_id_is_bound_to_the_ciphertext,
    nothing_in_clear_in_the_table,
    keyless_store_refused,
);

/// Every file SQLite writes (database, WAL, shared memory), read while the store is open and
/// after it closes: the conversation text and subject never appear in clear, and after an
/// erasure the sealed bytes are gone too.
#[test]
fn sqlite_files_hold_no_clear_text() {
    let e = common::env(Kind::Sqlite, "responses.db").unwrap();
    let files = || -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&e.dir).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
        }
        all
    };
    let mut s = e.responses();
    for i in 0..50 {
        s.put(
            &resp(&format!("resp_{i}"), Some("k"), Some(SUBJECT_CANARY)),
            T0 + 100,
        )
        .unwrap();
    }
    let sealed_sample: Vec<u8> = match &e.raw {
        common::Raw::Sqlite(c) => c
            .query_row("SELECT sealed FROM responses LIMIT 1", [], |r| r.get(0))
            .unwrap(),
        common::Raw::Postgres(_) => unreachable!(),
    };
    let bytes = files();
    assert!(
        contains(&bytes, &sealed_sample[..32]),
        "the files were read"
    );
    for needle in [CANARY, SUBJECT_CANARY] {
        assert!(!contains(&bytes, needle.as_bytes()), "{needle} on disk");
    }
    let report = e.audit().erase_subject(SUBJECT_CANARY).unwrap();
    assert_eq!((report.responses, report.scrub), (50, None));
    drop(s);
    let bytes = files();
    assert!(
        !contains(&bytes, &sealed_sample[..32]),
        "an erased response's ciphertext stays in the files"
    );
}
