//! Virtual API keys, run against both backends with the same test bodies (the harness is
//! tests/common). PostgreSQL tests use `SEAM_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), each in a fresh database dropped afterwards;
//! an unreachable server skips them unless `SEAM_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, Raw, cfg};
use proptest::prelude::*;
use seam_store::*;

const T0: i64 = 1_714_564_800_000;

/// A fresh, empty database: each test chooses which store migrates first.
fn env(kind: Kind) -> Option<Env> {
    common::env(kind, "keys.db")
}

impl Env {
    fn keys(&self) -> KeyStore {
        KeyStore::open(&cfg(self.backend.clone(), None)).unwrap()
    }

    fn audit(&self) -> AuditLog {
        AuditLog::open(&cfg(self.backend.clone(), Some(KEY))).unwrap()
    }

    /// Every stored column of every key, as text, for checking what is (not) stored.
    fn raw_rows(&mut self) -> Vec<Vec<String>> {
        let sql = "SELECT id, name, prefix, hash, CAST(created_ms AS TEXT),
                   COALESCE(CAST(revoked_ms AS TEXT), ''), scope FROM api_keys ORDER BY id";
        match &mut self.raw {
            Raw::Sqlite(c) => {
                let mut st = c.prepare(sql).unwrap();
                st.query_map([], |r| (0..7).map(|i| r.get(i)).collect())
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Raw::Postgres(c) => c
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| (0..7).map(|i| r.get(i)).collect())
                .collect(),
        }
    }
}

fn scope(models: &[&str]) -> KeyScope {
    KeyScope {
        models: models.iter().map(|m| (*m).to_owned()).collect(),
        direct: true,
        policy: Some("strict".to_owned()),
        audit_class: Some(RetentionClass::Redacted),
        rpm: Some(60),
        tpm: Some(100_000),
        max_concurrency: Some(4),
        budget_usd: Some(12.5),
        budget_period: Some(BudgetPeriod::Month),
        team: Some("search".to_owned()),
        expires_ms: None,
        cache_ttl_s: Some(600),
        cache_scope: Some(CacheScope::Team),
        placement: Some(seam_config::Placement::parse("trust=private;region=eu,ch").unwrap()),
        tools: vec!["crm__lookup_*".to_owned(), "files__read".to_owned()],
        console: false,
        labels: vec!["team:oncology".to_owned(), "consent:*".to_owned()],
        subject_grants: true,
        collections: vec!["handbook".to_owned()],
        ingest: Vec::new(),
    }
}

fn secret_stored_only_as_hash(e: &mut Env) {
    let mut ks = e.keys();
    let (rec, secret) = ks.create("ci", &scope(&["gpt-*"]), T0).unwrap();
    let b64 = secret.strip_prefix("sk-seam-").unwrap();
    assert_eq!(b64.len(), 43);
    assert!(
        b64.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "not base64url"
    );
    assert_eq!(rec.prefix, &secret[..12]);
    assert!(
        rec.id.starts_with("key_") && rec.id.len() == 20,
        "{}",
        rec.id
    );
    assert!(rec.id[4..].bytes().all(|b| b.is_ascii_hexdigit()));

    let rows = e.raw_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][3], hash_secret(&secret));
    for col in &rows[0] {
        assert!(!col.contains(b64), "the secret is stored in clear");
    }
    // Nothing a caller can print carries it either.
    assert!(!format!("{rec:?} {ks:?}").contains(b64));

    let (_, other) = ks.create("ci", &KeyScope::default(), T0).unwrap();
    assert_ne!(secret, other, "names need not be unique; secrets are");
}

fn list_get_revoke_round_trip(e: &mut Env) {
    let mut ks = e.keys();
    assert_eq!(ks.list().unwrap(), vec![]);
    let (b, _) = ks.create("b", &scope(&["*"]), T0 + 1).unwrap();
    let (a, _) = ks.create("a", &KeyScope::default(), T0).unwrap();
    assert_eq!(ks.list().unwrap(), vec![a.clone(), b.clone()], "by created");
    assert_eq!(ks.get(&b.id).unwrap().as_ref(), Some(&b));
    assert_eq!(ks.get("key_nope").unwrap(), None);

    assert!(ks.revoke(&b.id, T0 + 10).unwrap());
    assert!(!ks.revoke(&b.id, T0 + 20).unwrap(), "already revoked");
    assert!(!ks.revoke("key_nope", T0).unwrap(), "unknown");
    let revoked = ks.get(&b.id).unwrap().unwrap();
    assert_eq!(revoked.revoked_ms, Some(T0 + 10));
    assert_eq!(revoked.scope, b.scope);
    assert_eq!(ks.list().unwrap().len(), 2, "revoked keys are still listed");
}

fn active_excludes_revoked_and_expired(e: &mut Env) {
    let mut ks = e.keys();
    let (live, live_secret) = ks.create("live", &scope(&["*"]), T0).unwrap();
    let (gone, _) = ks.create("gone", &scope(&["*"]), T0 + 1).unwrap();
    let expiring = KeyScope {
        expires_ms: Some(T0 + 100),
        ..scope(&["*"])
    };
    let (exp, exp_secret) = ks.create("expiring", &expiring, T0 + 2).unwrap();
    ks.revoke(&gone.id, T0 + 5).unwrap();

    let at = |ks: &mut KeyStore, now| -> Vec<(String, String)> {
        ks.active(now)
            .unwrap()
            .into_iter()
            .map(|(h, k)| (h, k.id))
            .collect()
    };
    assert_eq!(
        at(&mut ks, T0 + 99),
        vec![
            (hash_secret(&live_secret), live.id.clone()),
            (hash_secret(&exp_secret), exp.id.clone()),
        ]
    );
    assert_eq!(
        at(&mut ks, T0 + 100),
        vec![(hash_secret(&live_secret), live.id.clone())],
        "expiry is exclusive"
    );
    assert!(live.is_active(T0 + 100));
    assert!(!exp.is_active(T0 + 100) && exp.is_active(T0 + 99));
    assert!(!ks.get(&gone.id).unwrap().unwrap().is_active(T0));
}

fn count_includes_every_state(e: &mut Env) {
    let mut ks = e.keys();
    assert_eq!(ks.count().unwrap(), 0);
    let (a, _) = ks.create("a", &KeyScope::default(), T0).unwrap();
    let expired = KeyScope {
        expires_ms: Some(T0),
        ..KeyScope::default()
    };
    ks.create("b", &expired, T0).unwrap();
    ks.revoke(&a.id, T0).unwrap();
    assert_eq!(ks.count().unwrap(), 2);
    assert_eq!(ks.active(T0 + 1).unwrap().len(), 0);
}

fn replicas_see_each_others_keys(e: &mut Env) {
    let mut one = e.keys();
    let mut two = e.keys();
    let (a, a_secret) = one.create("a", &scope(&["gpt-*"]), T0).unwrap();
    assert_eq!(two.get(&a.id).unwrap(), Some(a.clone()));
    let (b, _) = two.create("b", &KeyScope::default(), T0 + 1).unwrap();
    assert_eq!(one.list().unwrap(), vec![a.clone(), b.clone()]);
    assert!(two.revoke(&a.id, T0 + 2).unwrap());
    assert!(!one.revoke(&a.id, T0 + 3).unwrap());
    let active = one.active(T0 + 4).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].1.id, b.id);
    assert!(active.iter().all(|(h, _)| *h != hash_secret(&a_secret)));
}

fn migrations_idempotent_with_audit_log(e: &mut Env) {
    drop(e.audit());
    let mut ks = e.keys();
    let (a, _) = ks.create("a", &KeyScope::default(), T0).unwrap();
    drop(ks);
    let mut log = e.audit();
    assert!(log.verify(&mut |_| {}).unwrap().ok());
    drop(log);
    let applied = e.count("SELECT COUNT(*) FROM schema_migrations");
    // Every step once (numbers may skip: branches take numbers before they land).
    let distinct = e.count("SELECT COUNT(DISTINCT version) FROM schema_migrations");
    assert_eq!(applied, distinct);
    assert!(applied >= 2);
    // Keys first on a database is just as good.
    assert_eq!(e.keys().list().unwrap(), vec![a]);
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = env(kind) {
        body(&mut e);
    }
}

on_both_backends!(
    secret_stored_only_as_hash,
    list_get_revoke_round_trip,
    active_excludes_revoked_and_expired,
    count_includes_every_state,
    replicas_see_each_others_keys,
    migrations_idempotent_with_audit_log,
);

#[test]
fn glob_match_table() {
    for (pattern, s, want) in [
        ("", "", true),
        ("", "a", false),
        ("*", "", true),
        ("*", "gpt-4o", true),
        ("gpt-*", "gpt-4o", true),
        ("gpt-*", "gpt-", true),
        ("gpt-*", "gpt", false),
        ("gpt-*", "xgpt-4o", false),
        ("*-mini", "gpt-4o-mini", true),
        ("*-mini", "gpt-4o-mini-2", false),
        ("claude-*-sonnet", "claude-3-5-sonnet", true),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("?", "", false),
        ("?", "é", true),
        ("gpt-4?", "gpt-4o", true),
        ("gpt-4?", "gpt-4", false),
        ("**", "x", true),
        ("*?", "", false),
        ("exact", "exact", true),
        ("exact", "Exact", false),
    ] {
        assert_eq!(glob_match(pattern, s), want, "{pattern:?} vs {s:?}");
    }
}

/// The obvious exponential recursion, as a reference.
fn reference(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
        Some((&c, rest)) => {
            s.first().is_some_and(|&f| c == '?' || c == f) && reference(rest, &s[1..])
        }
    }
}

proptest! {
    #[test]
    fn glob_match_agrees_with_reference(p in "[ab*?]{0,8}", s in "[abc]{0,10}") {
        let pc: Vec<char> = p.chars().collect();
        let sc: Vec<char> = s.chars().collect();
        prop_assert_eq!(glob_match(&p, &s), reference(&pc, &sc));
    }
}

#[test]
fn allows_model_matches_any_pattern() {
    let rec = |models: &[&str]| KeyRecord {
        id: "key_0".to_owned(),
        name: "n".to_owned(),
        prefix: "sk-seam-abcd".to_owned(),
        created_ms: T0,
        revoked_ms: None,
        scope: scope(models),
    };
    assert!(!rec(&[]).allows_model("gpt-4o"), "empty allows none");
    assert!(rec(&["*"]).allows_model("anything"));
    let r = rec(&["gpt-*", "claude-3-?-sonnet", "local"]);
    for (alias, want) in [
        ("gpt-4o", true),
        ("claude-3-5-sonnet", true),
        ("claude-3-10-sonnet", false),
        ("local", true),
        ("local-2", false),
        ("mistral", false),
    ] {
        assert_eq!(r.allows_model(alias), want, "{alias}");
    }
}

#[test]
fn scope_json_is_stable() {
    let json = serde_json::to_value(scope(&["gpt-*"])).unwrap();
    assert_eq!(json["budget_period"], "month");
    assert_eq!(json["audit_class"], "redacted");
    assert_eq!(
        json["tools"],
        serde_json::json!(["crm__lookup_*", "files__read"])
    );
    // A scope stored before a field existed still reads, with that field's default.
    let old: KeyScope = serde_json::from_str(r#"{"models":["x"]}"#).unwrap();
    assert_eq!(
        old,
        KeyScope {
            models: vec!["x".to_owned()],
            ..KeyScope::default()
        }
    );
}
