//! A fresh store per test, SQLite or PostgreSQL (at `SEAM_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, a database of its own dropped afterwards; an
//! unreachable server skips the test unless `SEAM_REQUIRE_POSTGRES=1`), as seam-store's tests
//! do; and generated traffic of known totals.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use seam_store::{
    AttemptRecord, AuditLog, AuditRecord, BackendConfig, FindingRecord, KeyScope, KeyStore,
    RecordKind, StoreConfig, UsageRecord,
};

pub struct Env {
    pub backend: BackendConfig,
    pub dir: PathBuf,
    drop_db: Option<(String, String)>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = &self.drop_db {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Sqlite,
    Postgres,
}

fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn env(kind: Kind) -> Option<Env> {
    let dir = std::env::temp_dir().join(format!("seam-reports-test-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    match kind {
        Kind::Sqlite => Some(Env {
            backend: BackendConfig::Sqlite {
                path: dir.join("seam.db"),
            },
            dir,
            drop_db: None,
        }),
        Kind::Postgres => {
            let admin = std::env::var("SEAM_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let mut c = match postgres::Client::connect(&admin, postgres::NoTls) {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("SEAM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                        panic!("PostgreSQL is required but unreachable: {e}");
                    }
                    eprintln!("skipping: PostgreSQL unreachable at the test URL ({e})");
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                }
            };
            let name = format!("seam_test_{}", unique());
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let base = admin.split('?').next().unwrap();
            let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
            Some(Env {
                backend: BackendConfig::Postgres { url },
                dir,
                drop_db: Some((admin, name)),
            })
        }
    }
}

impl Env {
    pub fn cfg(&self) -> StoreConfig {
        StoreConfig {
            backend: self.backend.clone(),
            master_key: None,
            retention: Vec::new(),
        }
    }

    pub fn log(&self) -> AuditLog {
        AuditLog::open(&self.cfg()).unwrap()
    }

    /// Creates a key of `team`; returns its id.
    pub fn key(&self, name: &str, team: &str) -> String {
        let mut keys = KeyStore::open(&self.cfg()).unwrap();
        let scope = KeyScope {
            team: Some(team.to_owned()),
            ..KeyScope::default()
        };
        keys.create(name, &scope, 0).unwrap().0.id
    }
}

/// 2026-11-02T00:00:00Z.
pub const DAY0: i64 = 1_793_577_600_000;
pub const DAY: i64 = 86_400_000;
pub const MIN: i64 = 60_000;

static ID: AtomicU32 = AtomicU32::new(0);

/// A successful chat request.
pub fn req(
    time_ms: i64,
    alias: &str,
    route: &str,
    tokens: (u64, u64, u64),
    cost: f64,
) -> AuditRecord {
    let id = format!("req_{}_{}", unique(), ID.fetch_add(1, Ordering::Relaxed));
    AuditRecord {
        model: Some(alias.to_owned()),
        route: Some(route.to_owned()),
        attempts: vec![attempt(route, 200)],
        usage: Some(UsageRecord {
            prompt_tokens: tokens.0,
            cached_tokens: tokens.1,
            completion_tokens: tokens.2,
            ..UsageRecord::default()
        }),
        cost_usd: Some(cost),
        latency_ms: 100.0,
        ..AuditRecord::event(id, RecordKind::Request, "chat", time_ms)
    }
}

pub fn attempt(target: &str, status: u16) -> AttemptRecord {
    AttemptRecord {
        target: target.to_owned(),
        status,
        latency_ms: 10.0,
        error: (status >= 400).then(|| "upstream_error".to_owned()),
    }
}

pub fn private_finding() -> FindingRecord {
    FindingRecord::counted("input", "PERSON", "route_private", 1)
}
