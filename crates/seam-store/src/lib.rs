//! Durable storage for Seam: the tamper-evident, encrypted audit log and the virtual API keys,
//! on SQLite (the embedded default) or PostgreSQL (shared by replicas). Synchronous by design:
//! one [`AuditLog`] or [`KeyStore`] owns one connection, and [`AuditWriter`] runs the log on a
//! dedicated OS thread so the async request path only enqueues.
//!
//! # Tables
//!
//! The same logical schema on both backends (`src/schema.rs`, versioned migrations recorded in
//! `schema_migrations`):
//!
//! - `audit_log` — one row per request (and per MCP tool call, `kind` `tool_call`), plus
//!   `erasure` tombstones. `seq` is assigned by the store, contiguous from 1. The subject is
//!   held only as `subject_hash`; payloads as ciphertext (`payload`, NULL when not kept or
//!   purged) with `payload_digest`, the SHA-256 of the ciphertext as first written (kept after
//!   a purge). `prev_hash` and `hash` chain the rows.
//! - `audit_subjects` — per subject hash: the subject sealed under a key derived from the master
//!   key (`subject_sealed`, migration 6; without a master key none is kept) and its data key,
//!   wrapped by the master key. Erasure deletes the row. Records with no subject share the row
//!   `anonymous`. `subject`, the clear value stores before migration 6 held, is sealed (or,
//!   without a master key, cleared) when the store is opened, and stays NULL.
//! - `audit_checkpoints` — `(seq, hash)` signed every 1,000 records and on [`AuditLog::checkpoint`].
//! - `audit_anchor` — where the chain starts once old records are purged: the first remaining
//!   `seq` and its `prev_hash`, signed.
//! - `audit_head` — the last `(seq, hash)`; appends lock it, so replicas sharing a PostgreSQL
//!   database still build one chain, and `verify` notices records deleted from the end.
//! - `audit_meta` — the per-database subject salt and a check value for the master key.
//! - `api_keys` — virtual API keys ([`KeyStore`], migration 2): `id`, `name`, `prefix` (the
//!   secret's first 12 characters), `hash` ([`hash_secret`] of the secret, unique; the secret
//!   itself is never stored), `created_ms`, `revoked_ms` and `scope` ([`KeyScope`] as JSON).
//! - `spend_ledger` — spend per limit scope and calendar period in millionths of a USD
//!   ([`Ledger`], migration 3): the durable side of budgets, added to by commutative upserts.
//! - `responses` — Responses API conversation state ([`ResponseStore`], migration 7): per
//!   response its id, key id, subject hash, creation and expiry (Unix seconds), and the rest
//!   sealed under the subject's data key, as payloads are. Erasing the subject deletes its rows;
//!   a purge deletes expired ones.
//! - `rollup_*` — the console's aggregates per hour and per day ([`rollup`], migration 11): sums,
//!   latency histograms, findings and routing reasons of request and tool-call records, added to
//!   in the append's transaction; no subject, no payload.
//! - `retrieval_*` — retrieval's documents, labels, chunks with their vectors, full-text index
//!   and per-collection generations ([`retrieval`], migration 13).
//!
//! # The chain
//!
//! `hash_n = SHA-256(prev_hash_n || canonical(columns of n))`, where the canonical bytes cover
//! every stored column except `hash` and `payload`, which is represented by `payload_digest`.
//! Purging a payload or shredding a subject's key therefore leaves every hash valid.
//! [`AuditLog::verify`] walks from the anchor (or genesis) in `seq` order, streaming pages, and
//! reports the first problem: a changed column, a missing `seq`, a `prev_hash` that does not link
//! (an inserted or reordered row), a payload that no longer matches its digest, a checkpoint or
//! anchor whose hash or signature is wrong, or a head that is ahead of the last row.
//!
//! # Keys and encryption
//!
//! HKDF-SHA256 derives from the 32-byte master key: the subject-hash HMAC key, the key-wrapping
//! key and the Ed25519 signing seed (see `src/crypto.rs`). Each subject gets a random 256-bit data
//! key; a payload (the parts its class keeps: `full` all three, `redacted` the upstream request and
//! the response, `metadata` none) is JSON, sealed with AES-256-GCM under that key with a random
//! nonce and the record id as associated data, and stored as `nonce || ciphertext || tag`.
//!
//! Without a master key only the `metadata` class can be written, checkpoints are unsigned
//! ([`VerifyReport::signed`] says so), and subject hashes are SHA-256 of a per-database random
//! salt and the subject: weaker, since anyone holding the database can test guessed subjects.
//! A database that has seen a master key refuses a different one, and refuses writes without one.
//!
//! # Erasure and retention
//!
//! [`AuditLog::erase_subject`] is crypto-shredding: it deletes the subject's row (its sealed value
//! and wrapped key) and appends a tombstone to the chain — one delete, one count by the indexed
//! hash, one insert, whatever the number of records. Afterwards the subject's payloads read as
//! [`PayloadState::Erased`] everywhere, backups included. The deleted bytes then leave the
//! database's files: SQLite connections run with `secure_delete` (freed bytes are zeroed), and
//! the erasure checkpoints the WAL and truncates it; on PostgreSQL it waits for older
//! transactions to end and rewrites `audit_subjects` with `VACUUM FULL`. When another
//! connection holds that up past a bound, [`EraseReport::scrub`] says so. [`AuditLog::purge`] applies
//! [`Retention`] rules: payloads older than `payload_days` are set to NULL; records older than
//! `record_days` are deleted only as a contiguous prefix of the chain, and the anchor moves to
//! the first remaining record. Both reach `responses` too: an erasure deletes the subject's
//! stored responses in its transaction ([`EraseReport::responses`]); a purge deletes those past
//! their expiry ([`PurgeReport::responses_deleted`]).

mod chain;
mod crypto;
mod db;
pub mod evals;
pub mod facts;
pub mod keys;
pub mod ledger;
mod log;
pub mod portable;
pub mod prompts;
pub mod record;
pub mod responses;
pub mod retrieval;
pub mod rollouts;
pub mod rollup;
mod schema;
mod stored;
mod writer;

use std::path::PathBuf;

pub use chain::{Problem, ProblemKind, VerifyReport};
pub use evals::{EvalRun, EvalStore};
pub use facts::RequestFacts;
pub use keys::{
    BudgetPeriod, CacheScope, KeyRecord, KeyScope, KeyStore, glob_match, hash_secret, scope_allows,
};
pub use ledger::{Charge, Ledger};
pub use log::AuditLog;
pub use prompts::{PromptStore, PromptTag, PromptVersion};
pub use record::*;
pub use responses::{ResponseStore, StoredResponse};
pub use retrieval::{
    ChunkView, DocumentInfo, Erased, Generation, Grants, IndexSink, MetaFilter, NewChunk,
    NewDocument, RetrievalStore, Stats, Upserted,
};
pub use rollouts::{RolloutRow, RolloutStore};
pub use rollup::{Rollup, Window};
pub use stored::{PayloadState, RecordKind, StoredRecord};
pub use writer::{AuditWriter, Commit, Durability, PROBE_EVERY, SPOOL_FAILURE_HOLD, WriterStats};

/// Where the log lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendConfig {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

/// How long a class's payloads and records are kept; `None` keeps them forever. A class no rule
/// names is kept forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub class: RetentionClass,
    pub payload_days: Option<u32>,
    pub record_days: Option<u32>,
}

#[derive(Clone)]
pub struct StoreConfig {
    pub backend: BackendConfig,
    pub master_key: Option<[u8; 32]>,
    pub retention: Vec<Retention>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            BackendConfig::Sqlite { path } => format!("sqlite:{}", path.display()),
            BackendConfig::Postgres { .. } => "postgres:***".to_owned(),
        };
        f.debug_struct("StoreConfig")
            .field("backend", &backend)
            .field("master_key", &self.master_key.map(|_| "***"))
            .field("retention", &self.retention)
            .finish()
    }
}

/// Which records a search or export selects. Every filter set must match; `since_ms` is
/// inclusive and `until_ms` exclusive; `finding` is an entity type (`EMAIL`, …); `kind` one
/// record kind (`tool_call`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// One record by its id.
    pub id: Option<String>,
    pub subject: Option<String>,
    pub key_id: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub model: Option<String>,
    /// `name` (every version) or `name@version`.
    pub prompt: Option<String>,
    pub status: Option<u16>,
    pub finding: Option<String>,
    pub kind: Option<RecordKind>,
    pub limit: Option<u64>,
}

/// What [`AuditLog::erase_subject`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraseReport {
    /// Request and tool-call records of the subject, whose payloads are now unreadable.
    pub records: u64,
    /// Stored responses (Responses API conversation state) of the subject, deleted.
    pub responses: u64,
    /// Whether a data key existed and was deleted.
    pub key_destroyed: bool,
    /// The tombstone's place in the chain.
    pub tombstone_seq: i64,
    /// `None` when the old copies of the deleted key and subject are gone from the database's
    /// files too (SQLite: the WAL checkpointed and truncated, freed bytes zeroed; PostgreSQL:
    /// `audit_subjects` rewritten by `VACUUM FULL`). Otherwise why not — another connection
    /// held the store throughout (the erasure itself is committed; erasing again retries).
    pub scrub: Option<String>,
}

/// What [`AuditLog::purge`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub payloads_purged: u64,
    pub records_deleted: u64,
    /// Stored responses past their expiry, deleted.
    pub responses_deleted: u64,
    /// The chain's new starting `seq`, when records were deleted.
    pub anchor_seq: Option<i64>,
}

/// A storage failure. Its message is one line and never carries a subject, a payload or a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct StoreError {
    msg: String,
    /// SQLite said the database is busy or locked: another connection holds it.
    busy: bool,
}

impl StoreError {
    /// For callers' own failures inside [`AuditLog::export`]'s callback; keep it one line and
    /// free of personal data.
    pub fn new(msg: impl Into<String>) -> StoreError {
        let msg: String = msg.into();
        StoreError {
            msg: msg.replace(['\n', '\r'], " "),
            busy: false,
        }
    }

    /// Whether another connection held the database (worth waiting out, not a broken store).
    pub fn is_busy(&self) -> bool {
        self.busy
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        // rusqlite's messages name constraints and columns, never bound values.
        StoreError {
            busy,
            ..StoreError::new(format!("sqlite: {e}"))
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The server's DETAIL line can quote row values; keep only the message and SQLSTATE.
        match e.as_db_error() {
            Some(db) => {
                StoreError::new(format!("postgres: {} ({})", db.message(), db.code().code()))
            }
            None => StoreError::new(format!("postgres: {e}")),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds → RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.000Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = seam_types::civil::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-29` (midnight UTC), RFC 3339 (`2026-11-29T10:00:00Z`, `2026-11-29T10:00:00.5+02:00`)
/// or Unix milliseconds → Unix milliseconds. What `seam audit --since`, `seam keys create
/// --expires` and `POST /admin/keys` accept.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let unreadable = || {
        format!(
            "cannot read the time \"{s}\": use 2026-11-29, 2026-11-29T10:00:00Z or Unix milliseconds"
        )
    };
    let (date, time) = s.split_once(['T', 't', ' ']).unwrap_or((s, "00:00:00Z"));
    // The offset: `Z`, or `+HH:MM` / `-HH:MM` after the seconds.
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = time.rfind(['+', '-']).ok_or_else(unreadable)?;
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':').ok_or_else(unreadable)?;
        let (h, m) = (
            number(h).ok_or_else(unreadable)?,
            number(m).ok_or_else(unreadable)?,
        );
        if h > 23 || m > 59 {
            return Err(format!("cannot read the time \"{s}\": out of range"));
        }
        (c, sign * (h * 60 + m))
    };
    let d: Option<Vec<i64>> = date.split('-').map(number).collect();
    // Fractions of a second are dropped.
    let clock = clock.split('.').next().unwrap_or(clock);
    let t: Option<Vec<i64>> = clock.split(':').map(number).collect();
    let (Some(&[y, m, day]), Some(&[hh, mm, ss])) = (d.as_deref(), t.as_deref()) else {
        return Err(unreadable());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(format!("cannot read the time \"{s}\": out of range"));
    }
    // `m` and `day` were checked to be 1–12 and 1–31 above.
    let days = seam_types::civil::days_from_civil(y, m as u32, day as u32);
    Ok((((days * 24 + hh) * 60 + mm - offset_min) * 60 + ss) * 1000)
}

/// Digits only (no sign, no spaces), as the fields of a date are written.
fn number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        for (text, want) in [
            ("1970-01-01", Some(0)),
            ("2026-11-29T10:00:00Z", Some(1_795_946_400_000)),
            ("2026-11-29T10:00:00.250Z", Some(1_795_946_400_000)),
            ("2026-11-29T12:30:00+02:30", Some(1_795_946_400_000)),
            ("2026-11-29T08:00:00-02:00", Some(1_795_946_400_000)),
            ("1795946400000", Some(1_795_946_400_000)),
            ("yesterday", None),
            ("2026-13-01", None),
            ("2026-11-29T10:00", None),
            ("2026-11-29T10:00:00+2", None),
            ("2026-11-29T10:00:00+24:00", None),
        ] {
            assert_eq!(parse_time(text).ok(), want, "{text}");
        }
        for ms in [0, 1_714_564_800_000, 951_782_400_000] {
            assert_eq!(parse_time(&rfc3339(ms)).ok(), Some(ms));
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_714_564_800_123, "2024-05-01T12:00:00.123Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(rfc3339(ms), want);
        }
    }

    #[test]
    fn errors_are_one_line() {
        assert_eq!(StoreError::new("a\nb").to_string(), "a b");
    }
}
