//! Prompt versions and tags on both backends (harness: tests/common).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, KEY, Kind, cfg};
use seam_store::*;

impl Env {
    fn prompts(&self) -> PromptStore {
        PromptStore::open(&cfg(self.backend.clone(), None)).unwrap()
    }
}

fn versions_are_kept_once_and_survive_edits(e: &mut Env) {
    let mut s = e.prompts();
    assert!(s.put("support", "aaaaaaaaaaaa", "v1 source").unwrap());
    // The same version again changes nothing, not even its first time.
    let first = s.get("support", "aaaaaaaaaaaa").unwrap().unwrap();
    assert!(!s.put("support", "aaaaaaaaaaaa", "v1 source").unwrap());
    assert_eq!(s.get("support", "aaaaaaaaaaaa").unwrap().unwrap(), first);
    assert!(s.put("support", "bbbbbbbbbbbb", "v2 source").unwrap());
    assert_eq!(first.source, "v1 source");
    let versions: Vec<String> = s
        .versions("support")
        .unwrap()
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(versions, ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
    assert!(s.get("support", "cccccccccccc").unwrap().is_none());
    assert!(s.get("other", "aaaaaaaaaaaa").unwrap().is_none());
    // A second connection (another replica) sees them.
    assert_eq!(
        e.prompts()
            .get("support", "bbbbbbbbbbbb")
            .unwrap()
            .unwrap()
            .source,
        "v2 source"
    );
}

fn tags_point_at_stored_versions(e: &mut Env) {
    let mut s = e.prompts();
    s.put("support", "aaaaaaaaaaaa", "v1").unwrap();
    s.put("support", "bbbbbbbbbbbb", "v2").unwrap();
    let err = s.set_tag("support", "prod", "cccccccccccc").unwrap_err();
    assert!(err.to_string().contains("no stored version"), "{err}");
    assert_eq!(s.set_tag("support", "prod", "aaaaaaaaaaaa").unwrap(), None);
    assert_eq!(
        s.set_tag("support", "prod", "bbbbbbbbbbbb")
            .unwrap()
            .as_deref(),
        Some("aaaaaaaaaaaa")
    );
    s.set_tag("support", "canary", "aaaaaaaaaaaa").unwrap();
    assert_eq!(
        e.prompts().tag("support", "prod").unwrap().as_deref(),
        Some("bbbbbbbbbbbb")
    );
    let tags: Vec<(String, String)> = s
        .tags()
        .unwrap()
        .into_iter()
        .map(|t| (t.tag, t.version))
        .collect();
    assert_eq!(
        tags,
        [
            ("canary".to_owned(), "aaaaaaaaaaaa".to_owned()),
            ("prod".to_owned(), "bbbbbbbbbbbb".to_owned())
        ]
    );
    assert!(s.delete_tag("support", "canary").unwrap());
    assert!(!s.delete_tag("support", "canary").unwrap());
    assert!(s.tag("support", "canary").unwrap().is_none());
}

/// A record's prompt, variant and trace id are chained (a changed one fails verification) and searchable
/// by name or by `name@version`.
fn records_carry_prompt_and_variant(e: &mut Env) {
    let mut log = AuditLog::open(&cfg(e.backend.clone(), Some(KEY))).unwrap();
    for (id, prompt) in [
        ("r1", Some("support@aaaaaaaaaaaa")),
        ("r2", Some("support@bbbbbbbbbbbb")),
        ("r3", Some("supportive@aaaaaaaaaaaa")),
        ("r4", None),
    ] {
        let mut rec = record(id);
        rec.prompt = prompt.map(str::to_owned);
        rec.variant = prompt.map(|_| "v4:candidate".to_owned());
        rec.trace_id = prompt.map(|_| "4bf92f3577b34da6a3ce929d0e0e4736".to_owned());
        log.append(&[rec]).unwrap();
    }
    let ids = |q: Query, log: &mut AuditLog| -> Vec<String> {
        log.search(&q).unwrap().into_iter().map(|r| r.id).collect()
    };
    let by = |p: &str| Query {
        prompt: Some(p.to_owned()),
        ..Query::default()
    };
    assert_eq!(ids(by("support"), &mut log), ["r1", "r2"]);
    assert_eq!(ids(by("support@bbbbbbbbbbbb"), &mut log), ["r2"]);
    let r1 = log.search(&by("support@aaaaaaaaaaaa")).unwrap();
    assert_eq!(r1[0].variant.as_deref(), Some("v4:candidate"));
    assert_eq!(r1[0].to_json()["prompt"], "support@aaaaaaaaaaaa");
    assert!(log.verify(&mut |_| {}).unwrap().problem.is_none());
    e.sql("UPDATE audit_log SET prompt = 'support@cccccccccccc' WHERE id = 'r1'");
    let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
    assert_eq!(
        (p.id.as_deref(), p.kind),
        (Some("r1"), ProblemKind::HashMismatch)
    );
    e.sql("UPDATE audit_log SET prompt = 'support@aaaaaaaaaaaa', variant = NULL WHERE id = 'r1'");
    let p = log.verify(&mut |_| {}).unwrap().problem.unwrap();
    assert_eq!(
        (p.id.as_deref(), p.kind),
        (Some("r1"), ProblemKind::HashMismatch)
    );
}

fn record(id: &str) -> AuditRecord {
    AuditRecord {
        model: Some("prompt:support".to_owned()),
        route: Some("echo/echo".to_owned()),
        latency_ms: 1.0,
        ..AuditRecord::event(
            id.to_owned(),
            RecordKind::Request,
            "chat",
            1_714_564_800_000,
        )
    }
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "prompts.db") {
        body(&mut e);
    }
}

on_both_backends!(
    versions_are_kept_once_and_survive_edits,
    tags_point_at_stored_versions,
    records_carry_prompt_and_variant,
);
