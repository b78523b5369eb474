//! The harness the store's tests share: a fresh SQLite file or PostgreSQL database per test (the
//! latter at `SEAM_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`,
//! dropped afterwards; an unreachable server skips the test unless `SEAM_REQUIRE_POSTGRES=1`), a
//! raw connection beside the store's for inspecting and tampering, and `on_both_backends!`, which
//! runs each test body on both.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use seam_store::{BackendConfig, StoreConfig};

pub const KEY: [u8; 32] = [42; 32];

pub enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

pub struct Env {
    pub backend: BackendConfig,
    pub raw: Raw,
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

#[derive(Clone, Copy)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub fn unique() -> String {
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

/// A fresh, empty database (`file` names the SQLite file); `None` when PostgreSQL is skipped.
pub fn env(kind: Kind, file: &str) -> Option<Env> {
    let dir = std::env::temp_dir().join(format!("seam-store-test-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    match kind {
        Kind::Sqlite => {
            let path = dir.join(file);
            let raw = rusqlite::Connection::open(&path).unwrap();
            Some(Env {
                backend: BackendConfig::Sqlite { path },
                raw: Raw::Sqlite(raw),
                dir,
                drop_db: None,
            })
        }
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
            let raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            Some(Env {
                backend: BackendConfig::Postgres { url },
                raw: Raw::Postgres(Box::new(raw)),
                dir,
                drop_db: Some((admin, name)),
            })
        }
    }
}

pub fn cfg(backend: BackendConfig, key: Option<[u8; 32]>) -> StoreConfig {
    StoreConfig {
        backend,
        master_key: key,
        retention: Vec::new(),
    }
}

impl Env {
    pub fn sql(&mut self, stmt: &str) {
        match &mut self.raw {
            Raw::Sqlite(c) => c.execute_batch(stmt).unwrap(),
            Raw::Postgres(c) => c.batch_execute(stmt).unwrap(),
        }
    }

    pub fn count(&mut self, sql: &str) -> i64 {
        match &mut self.raw {
            Raw::Sqlite(c) => c.query_row(sql, [], |r| r.get(0)).unwrap(),
            Raw::Postgres(c) => c.query_one(sql, &[]).unwrap().get(0),
        }
    }
}

/// `on_both_backends!(a, b)`: tests `sqlite::a`, `pg::a`, … calling the file's `run(kind, body)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::run(super::Kind::Sqlite, super::$name) } )*
        }
        mod pg {
            $( #[test] fn $name() { super::run(super::Kind::Postgres, super::$name) } )*
        }
    };
}
