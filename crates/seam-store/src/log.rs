//! [`AuditLog`]: append, read, erase, purge, checkpoint and verify over one connection.

use std::collections::HashMap;
use std::time::Duration;

use crate::chain::{self, anchor_message, head_message};
use crate::crypto::{Keys, hex};
use crate::db::{Conn, Val};
use crate::stored::{RecordKind, StoredRecord};
use crate::{
    AuditRecord, EraseReport, Payload, PurgeReport, Query, Retention, RetentionClass, StoreConfig,
    StoreError, VerifyReport, now_ms,
};

mod sql;

use sql::{
    insert_row, read_sql, request_columns, stored_from_row, tombstone_columns, where_clause,
    write_checkpoint,
};

/// A checkpoint is written whenever `seq` reaches a multiple of this.
pub(crate) const CHECKPOINT_EVERY: i64 = 1000;
/// The `audit_subjects` row shared by records that name no subject.
pub(crate) const ANONYMOUS: &str = "anonymous";
/// Search returns at most this many records unless the query sets a limit; export streams.
const DEFAULT_SEARCH_LIMIT: u64 = 1000;
const PAGE: u64 = 500;
const DAY_MS: i64 = 86_400_000;
/// How long an erasure (or the sealing of old clear subjects) keeps trying to clear the old
/// copies from the database's files while other connections hold them up.
const SCRUB_WITHIN: Duration = Duration::from_secs(10);
/// Clear subjects sealed per transaction when an older store is converted.
const SEAL_PAGE: i64 = 500;

/// The audit log over one connection. Synchronous: run it on a thread of its own
/// ([`crate::AuditWriter`]) or from blocking code (the CLI).
pub struct AuditLog {
    pub(crate) conn: Conn,
    keys: Keys,
    retention: Vec<Retention>,
    /// The database was created with a master key, and this handle has none: it may read
    /// metadata and verify links, but not write.
    keyed_elsewhere: bool,
    /// Whether appends add to the rollups (always, except in the benchmark that prices them).
    rollups: bool,
}

/// The chain head a write transaction extends.
struct Head {
    seq: i64,
    hash: String,
}

impl AuditLog {
    /// Connects, applies pending migrations and checks the master key against the database.
    pub fn open(cfg: &StoreConfig) -> Result<AuditLog, StoreError> {
        if cfg.master_key.is_none() {
            if let Some(r) = cfg
                .retention
                .iter()
                .find(|r| r.class != RetentionClass::Metadata)
            {
                return Err(StoreError::new(format!(
                    "retention class {} keeps encrypted payloads: a master key is needed",
                    r.class.as_str()
                )));
            }
        }
        let mut conn = Conn::open_migrated(&cfg.backend)?;
        let salt = meta_get_or_init(
            &mut conn,
            "subject_salt",
            &hex(&crate::crypto::random::<32>()?),
        )?;
        let keys = Keys::new(cfg.master_key.as_ref(), salt.as_bytes())?;
        let keyed_elsewhere = match keys.key_check() {
            Some(check) => {
                if meta_get(&mut conn, "key_check")?.is_none() && chain_started(&mut conn)? {
                    // Its subject hashes are salted and its checkpoints unsigned: a key now
                    // would make earlier records unsearchable and fail verification.
                    return Err(StoreError::new(
                        "this audit log was started without a master key and cannot take one: start a new log",
                    ));
                }
                if meta_get_or_init(&mut conn, "key_check", check)? != check {
                    return Err(StoreError::new(
                        "the master key does not match the one this audit log was written with",
                    ));
                }
                false
            }
            None => meta_get(&mut conn, "key_check")?.is_some(),
        };
        if !keyed_elsewhere {
            seal_clear_subjects(&mut conn, &keys)?;
        }
        let rolled = crate::rollup::backfill(&mut conn)?;
        if rolled > 0 {
            tracing::info!(
                records = rolled,
                "rolled up the records stored before rollups existed"
            );
        }
        Ok(AuditLog {
            conn,
            keys,
            retention: cfg.retention.clone(),
            keyed_elsewhere,
            rollups: true,
        })
    }

    /// What the async spool protects its lines with, for this database's key (or salt).
    pub(crate) fn spool_key(&self) -> crate::crypto::SpoolKey {
        self.keys.spool_key()
    }

    /// Commits a transaction that changes nothing but is written like any other (the chain
    /// head's row rewritten with its own values): whether the database takes commits now —
    /// its lock can be had, its disk has room, its server answers.
    pub fn probe(&mut self) -> Result<(), StoreError> {
        self.check_writable()?;
        self.conn.in_tx(true, |c| {
            c.exec("UPDATE audit_head SET seq = seq WHERE id = 1", &[])
                .map(drop)
        })
    }

    /// Appends the batch in one transaction: all of it is committed, or none.
    pub fn append(&mut self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        self.append_hashed(batch, None)
    }

    /// [`AuditLog::append`], where `hashes[i]`, when set, is record `i`'s subject hash (records
    /// spooled without a master key carry their hash instead of their subject).
    pub(crate) fn append_hashed(
        &mut self,
        batch: &[AuditRecord],
        hashes: Option<&[Option<String>]>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.check_writable()?;
        if !self.keys.has_master() {
            if let Some(r) = batch.iter().find(|r| r.class != RetentionClass::Metadata) {
                return Err(StoreError::new(format!(
                    "record {} has class {}: a master key is needed to keep payloads",
                    r.id,
                    r.class.as_str()
                )));
            }
        }
        if let Some(r) = batch.iter().find(|r| r.kind == RecordKind::Erasure) {
            return Err(StoreError::new(format!(
                "record {}: erasure records are written by erase_subject only",
                r.id
            )));
        }
        let mut rollup = crate::rollup::Batch::default();
        if self.rollups {
            for rec in batch {
                rollup.add(&crate::rollup::Fact::of(rec));
            }
        }
        let keys = &self.keys;
        self.conn.in_tx(true, |c| {
            let mut head = lock_head(c)?;
            let mut data_keys: HashMap<String, Option<[u8; 32]>> = HashMap::new();
            for (i, rec) in batch.iter().enumerate() {
                let given = hashes.and_then(|h| h.get(i)).and_then(Option::as_ref);
                let subject_hash = match given {
                    Some(h) => Some(h.clone()),
                    None => rec.subject.as_deref().map(|s| keys.subject_hash(s)),
                };
                // An opening is metadata whatever its class says.
                let parts = rec
                    .kind
                    .keeps_payload()
                    .then(|| kept_payload(rec.class, &rec.payload))
                    .flatten();
                let key_row = subject_hash.clone().unwrap_or_else(|| ANONYMOUS.to_owned());
                let needs_key = parts.is_some();
                let data_key = match data_keys.get(&key_row) {
                    Some(Some(k)) => Some(*k),
                    Some(None) if !needs_key => None,
                    _ => {
                        let k =
                            ensure_subject(c, keys, &key_row, rec.subject.as_deref(), needs_key)?;
                        data_keys.insert(key_row, k);
                        k
                    }
                };
                let sealed = match (parts, data_key) {
                    (Some(p), Some(k)) => Some(keys.encrypt_payload(
                        &k,
                        &rec.id,
                        &serde_json::to_vec(&p).map_err(json_err)?,
                    )?),
                    _ => None,
                };
                let cols = request_columns(rec, &head, subject_hash, sealed.as_deref())?;
                insert_row(c, keys, &mut head, cols, sealed)?;
            }
            if !rollup.is_empty() {
                rollup.write(c)?;
            }
            save_head(c, keys, &head)
        })
    }

    /// The rollups of a window ([`crate::rollup`]): read from the aggregate tables, never
    /// from the records, so its cost follows the window's length, not the log's size.
    pub fn rollup(
        &mut self,
        window: &crate::rollup::Window,
    ) -> Result<crate::rollup::Rollup, StoreError> {
        crate::rollup::read(&mut self.conn, window)
    }

    /// Turns the rollups off for this handle's appends: only for measuring what they cost the
    /// writer (`seam-bench console`); a store written so undercounts.
    #[doc(hidden)]
    pub fn set_rollups(&mut self, on: bool) {
        self.rollups = on;
    }

    /// One record by id, its payload decrypted when the key allows.
    pub fn get(&mut self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let sql = format!("{} WHERE a.id = $1", read_sql());
        let keys = &self.keys;
        let rows = self.conn.query(&sql, &[Val::Text(id.to_owned())], |r| {
            stored_from_row(r, keys)
        })?;
        rows.into_iter().next().transpose()
    }

    /// Records matching `q`, in `seq` order: at most `q.limit`, or 1,000 when unset (use
    /// [`AuditLog::export`] for everything).
    pub fn search(&mut self, q: &Query) -> Result<Vec<StoredRecord>, StoreError> {
        let limit = q.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        let mut out = Vec::new();
        self.scan(q, limit, &mut |r| {
            out.push(r.clone());
            Ok(())
        })?;
        Ok(out)
    }

    /// Records matching `q`, newest first, those before `before_seq` when given: at most `limit`
    /// (capped at a page). A list that reads back in time passes the last `seq` it got.
    pub fn latest(
        &mut self,
        q: &Query,
        before_seq: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        if q.subject.is_some() {
            self.check_writable()?;
        }
        let (filter, mut params) = where_clause(q, &self.keys, self.conn.is_postgres());
        let n = params.len();
        let sql = format!(
            "{} WHERE a.seq < ${} {filter} ORDER BY a.seq DESC LIMIT ${}",
            read_sql(),
            n + 1,
            n + 2
        );
        params.push(Val::Int(before_seq.unwrap_or(i64::MAX)));
        params.push(Val::Int(i64::try_from(limit.min(PAGE)).unwrap_or(1)));
        let keys = &self.keys;
        let rows = self
            .conn
            .query(&sql, &params, |r| stored_from_row(r, keys))?;
        rows.into_iter().collect()
    }

    /// Calls `each` for every record matching `q`, in `seq` order, a page at a time inside one
    /// read snapshot; returns how many. Memory stays bounded by the page size.
    pub fn export(
        &mut self,
        q: &Query,
        each: &mut dyn FnMut(&StoredRecord) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.scan(q, q.limit.unwrap_or(u64::MAX), each)
    }

    fn scan(
        &mut self,
        q: &Query,
        limit: u64,
        each: &mut dyn FnMut(&StoredRecord) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        if q.subject.is_some() {
            self.check_writable()?;
        }
        let (filter, mut params) = where_clause(q, &self.keys, self.conn.is_postgres());
        let n = params.len();
        let sql = format!(
            "{} WHERE a.seq > ${} {filter} ORDER BY a.seq LIMIT ${}",
            read_sql(),
            n + 1,
            n + 2
        );
        let keys = &self.keys;
        self.conn.in_tx(false, |c| {
            let mut count = 0u64;
            let mut after = i64::MIN;
            while count < limit {
                let page = (limit - count).min(PAGE);
                params.truncate(n);
                params.push(Val::Int(after));
                params.push(Val::Int(i64::try_from(page).unwrap_or(i64::MAX)));
                let rows = c.query(&sql, &params, |r| stored_from_row(r, keys))?;
                let got = rows.len() as u64;
                for row in rows {
                    let row = row?;
                    after = row.seq;
                    each(&row)?;
                    count += 1;
                }
                if got < page {
                    break;
                }
            }
            Ok(count)
        })
    }

    /// Crypto-shredding: deletes the subject's sealed value and data key, and appends a
    /// tombstone; then clears the old copies from the database's files ([`EraseReport::scrub`]).
    /// A constant number of statements whatever the subject's record count.
    pub fn erase_subject(&mut self, subject: &str) -> Result<EraseReport, StoreError> {
        self.check_writable()?;
        let keys = &self.keys;
        let subject_hash = keys.subject_hash(subject);
        let (mut report, xid) = self.conn.in_tx(true, |c| {
            let mut head = lock_head(c)?;
            // PostgreSQL: the deleting transaction, which `Conn::scrub` waits to see every
            // other transaction past.
            let xid = if c.is_postgres() {
                c.query_opt("SELECT txid_current()", &[], |r| r.int(0))?
                    .flatten()
            } else {
                None
            };
            let destroyed = c.exec(
                "DELETE FROM audit_subjects WHERE subject_hash = $1",
                &[Val::Text(subject_hash.clone())],
            )? > 0;
            let records = c
                .query_opt(
                    "SELECT COUNT(*) FROM audit_log
                     WHERE subject_hash = $1 AND kind IN ('request', 'tool_call')",
                    &[Val::Text(subject_hash.clone())],
                    |r| Ok(r.int(0)?.unwrap_or(0)),
                )?
                .unwrap_or(0);
            let responses = crate::responses::erase(c, &subject_hash)?;
            let cols = tombstone_columns(keys, &head, subject_hash.clone())?;
            insert_row(c, keys, &mut head, cols, None)?;
            save_head(c, keys, &head)?;
            Ok((
                EraseReport {
                    records: u64::try_from(records).unwrap_or(0),
                    responses,
                    key_destroyed: destroyed,
                    tombstone_seq: head.seq,
                    scrub: None,
                },
                xid,
            ))
        })?;
        // The erasure is committed whatever happens here; what is reported is whether old
        // copies may remain in the files.
        report.scrub = match self.conn.scrub("audit_subjects", xid, SCRUB_WITHIN) {
            Ok(why) => why,
            Err(e) => Some(e.to_string()),
        };
        Ok(report)
    }

    /// Applies the retention rules as of `now_ms`: payloads past `payload_days` are dropped
    /// (digests stay); records past `record_days` are deleted as a contiguous prefix of the
    /// chain, and the anchor moves to the first remaining record.
    pub fn purge(&mut self, now_ms: i64) -> Result<PurgeReport, StoreError> {
        self.check_writable()?;
        let keys = &self.keys;
        let rules = self.retention.clone();
        self.conn.in_tx(true, |c| {
            let head = lock_head(c)?;
            let mut report = PurgeReport {
                responses_deleted: crate::responses::purge_expired(c, now_ms.div_euclid(1000))?,
                ..PurgeReport::default()
            };
            for r in &rules {
                if let Some(days) = r.payload_days {
                    report.payloads_purged += c.exec(
                        "UPDATE audit_log SET payload = NULL
                         WHERE class = $1 AND time_ms < $2 AND payload IS NOT NULL",
                        &[Val::Text(r.class.as_str().to_owned()), Val::Int(cutoff(now_ms, days))],
                    )?;
                }
            }
            let expired: Vec<_> = rules.iter().filter_map(|r| Some((r.class, cutoff(now_ms, r.record_days?)))).collect();
            if expired.is_empty() {
                return Ok(report);
            }
            // The first record to keep: everything before it goes, nothing after it does.
            let mut params = Vec::new();
            let mut conds = Vec::new();
            for (class, cut) in &expired {
                params.push(Val::Text(class.as_str().to_owned()));
                params.push(Val::Int(*cut));
                conds.push(format!("(class = ${} AND time_ms < ${})", params.len() - 1, params.len()));
            }
            let sql = format!("SELECT MIN(seq) FROM audit_log WHERE NOT ({})", conds.join(" OR "));
            let keep_from = c.query_opt(&sql, &params, |r| r.int(0))?.flatten().unwrap_or(head.seq + 1);
            let start = c
                .query_opt("SELECT seq FROM audit_anchor WHERE id = 1", &[], |r| r.int(0))?
                .flatten()
                .unwrap_or(1);
            if keep_from <= start {
                return Ok(report);
            }
            let prev_hash = if keep_from > head.seq {
                head.hash.clone()
            } else {
                c.query_opt("SELECT prev_hash FROM audit_log WHERE seq = $1", &[Val::Int(keep_from)], |r| r.text(0))?
                    .flatten()
                    .ok_or_else(|| StoreError::new(format!("record seq {keep_from} is missing: run verify")))?
            };
            report.records_deleted = c.exec("DELETE FROM audit_log WHERE seq < $1", &[Val::Int(keep_from)])?;
            c.exec("DELETE FROM audit_checkpoints WHERE seq < $1", &[Val::Int(keep_from)])?;
            c.exec("DELETE FROM audit_anchor WHERE id = 1", &[])?;
            c.exec(
                "INSERT INTO audit_anchor (id, seq, prev_hash, time_ms, signature) VALUES (1, $1, $2, $3, $4)",
                &[
                    Val::Int(keep_from),
                    Val::Text(prev_hash.clone()),
                    Val::Int(now_ms),
                    Val::opt_text(keys.sign(&anchor_message(keep_from, &prev_hash)).as_deref()),
                ],
            )?;
            report.anchor_seq = Some(keep_from);
            Ok(report)
        })
    }

    /// Walks the chain from the anchor (or genesis) and reports the first problem, calling
    /// `progress` with the records checked so far after each page.
    pub fn verify(&mut self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, StoreError> {
        chain::verify(&mut self.conn, &self.keys, progress)
    }

    /// Signs the current head now (also done every 1,000 records).
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.check_writable()?;
        let keys = &self.keys;
        self.conn.in_tx(true, |c| {
            let head = lock_head(c)?;
            if head.seq > 0 {
                write_checkpoint(c, keys, &head)?;
            }
            Ok(())
        })
    }

    /// Whether a record with this id is stored (the writer skips spooled records already in).
    pub fn contains(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_opt(
                "SELECT seq FROM audit_log WHERE id = $1",
                &[Val::Text(id.to_owned())],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// The connection and keys, for another store that seals with the same per-subject keys
    /// ([`crate::ResponseStore`]), once `open` has migrated and checked the master key.
    pub(crate) fn into_parts(self) -> (Conn, Keys) {
        (self.conn, self.keys)
    }

    /// Statements run on this connection so far (tests pin erasure to a constant number).
    #[doc(hidden)]
    pub fn statements_executed(&self) -> u64 {
        self.conn.statements
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.keyed_elsewhere {
            return Err(StoreError::new(
                "this audit log was written with a master key: writing or searching by subject needs it",
            ));
        }
        Ok(())
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    // serde_json's messages give positions and expectations, never the data.
    StoreError::new(format!("json: {e}"))
}

fn cutoff(now_ms: i64, days: u32) -> i64 {
    now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS))
}

/// Whether anything was ever appended (the head moves past 0 and never back).
fn chain_started(c: &mut Conn) -> Result<bool, StoreError> {
    let seq = c.query_opt("SELECT seq FROM audit_head WHERE id = 1", &[], |r| r.int(0))?;
    Ok(seq.flatten().unwrap_or(0) > 0)
}

fn meta_get(c: &mut Conn, name: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_opt(
        "SELECT value FROM audit_meta WHERE name = $1",
        &[Val::Text(name.to_owned())],
        |r| r.text(0),
    )?
    .flatten())
}

/// The stored value, or `init` stored now (the first writer wins a race).
fn meta_get_or_init(c: &mut Conn, name: &str, init: &str) -> Result<String, StoreError> {
    c.exec(
        "INSERT INTO audit_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[Val::Text(name.to_owned()), Val::Text(init.to_owned())],
    )?;
    meta_get(c, name)?.ok_or_else(|| StoreError::new("audit_meta lost a value"))
}

/// Reads and locks the chain head for this transaction. SQLite's write lock is already held
/// (`BEGIN IMMEDIATE`); PostgreSQL locks the head row, so concurrent replicas take turns.
fn lock_head(c: &mut Conn) -> Result<Head, StoreError> {
    let sql = if c.is_postgres() {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    c.query_opt(sql, &[], |r| {
        Ok(Head {
            seq: r.int(0)?.unwrap_or(0),
            hash: r.text(1)?.unwrap_or_default(),
        })
    })?
    .ok_or_else(|| StoreError::new("audit_head is missing"))
}

/// Stores the new head, signed: without the signature, deleting the records after the last
/// checkpoint and moving the head back would go unnoticed.
fn save_head(c: &mut Conn, keys: &Keys, head: &Head) -> Result<(), StoreError> {
    let sig = keys.sign(&head_message(head.seq, &head.hash));
    c.exec(
        "UPDATE audit_head SET seq = $1, hash = $2, signature = $3 WHERE id = 1",
        &[
            Val::Int(head.seq),
            Val::Text(head.hash.clone()),
            Val::opt_text(sig.as_deref()),
        ],
    )?;
    Ok(())
}

/// The subject's data key (creating the row, and the key when `needs_key`, if missing).
pub(crate) fn ensure_subject(
    c: &mut Conn,
    keys: &Keys,
    subject_hash: &str,
    subject: Option<&str>,
    needs_key: bool,
) -> Result<Option<[u8; 32]>, StoreError> {
    let row = c.query_opt(
        "SELECT wrapped_key FROM audit_subjects WHERE subject_hash = $1",
        &[Val::Text(subject_hash.to_owned())],
        |r| r.blob(0),
    )?;
    match row {
        Some(Some(wrapped)) => return Ok(Some(keys.unwrap_data_key(subject_hash, &wrapped)?)),
        Some(None) if !needs_key => return Ok(None),
        _ => {}
    }
    let (key, wrapped) = if needs_key {
        let (k, w) = keys.new_data_key(subject_hash)?;
        (Some(k), Val::Blob(w))
    } else {
        (None, Val::Null)
    };
    if row.is_some() {
        c.exec(
            "UPDATE audit_subjects SET wrapped_key = $1 WHERE subject_hash = $2",
            &[wrapped, Val::Text(subject_hash.to_owned())],
        )?;
    } else {
        let sealed = match subject {
            Some(s) => keys.seal_subject(subject_hash, s)?,
            None => None,
        };
        c.exec(
            "INSERT INTO audit_subjects (subject_hash, subject_sealed, wrapped_key, created_ms) VALUES ($1, $2, $3, $4)",
            &[Val::Text(subject_hash.to_owned()), sealed.map_or(Val::Null, Val::Blob), wrapped, Val::Int(now_ms())],
        )?;
    }
    Ok(key)
}

/// Seals the clear subjects a store written before migration 6 holds (without a master key,
/// clears them: such a store keeps only the salted hash), a page per transaction, then clears
/// the old copies from the files. The partial index finds them, so a converted store pays one
/// empty index probe per open.
fn seal_clear_subjects(conn: &mut Conn, keys: &Keys) -> Result<(), StoreError> {
    let mut sealed = 0u64;
    loop {
        let n = conn.in_tx(true, |c| {
            let rows = c.query(
                "SELECT subject_hash, subject FROM audit_subjects WHERE subject IS NOT NULL LIMIT $1",
                &[Val::Int(SEAL_PAGE)],
                |r| Ok((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default())),
            )?;
            for (hash, subject) in &rows {
                let sealed = keys.seal_subject(hash, subject)?;
                c.exec(
                    "UPDATE audit_subjects SET subject_sealed = $1, subject = NULL
                     WHERE subject_hash = $2 AND subject IS NOT NULL",
                    &[sealed.map_or(Val::Null, Val::Blob), Val::Text(hash.clone())],
                )?;
            }
            Ok(rows.len() as u64)
        })?;
        sealed += n;
        if n < SEAL_PAGE as u64 {
            break;
        }
    }
    if sealed > 0 {
        // Whatever transaction converted them, waiting for older ones is not worth delaying
        // the open for: the rewrite is best effort here, and the next erasure repeats it.
        if let Some(why) = conn.scrub("audit_subjects", None, SCRUB_WITHIN)? {
            tracing::warn!(subjects = sealed, problem = %why, "clear subjects were sealed, but their old copies may remain in the database files until the next erasure");
        }
    }
    Ok(())
}

/// The parts of the payload the class keeps; `None` when it keeps none.
fn kept_payload(class: RetentionClass, p: &Payload) -> Option<Payload> {
    match class {
        RetentionClass::Full => Some(p.clone()),
        RetentionClass::Redacted => Some(Payload {
            client_request: None,
            upstream_request: p.upstream_request.clone(),
            response: p.response.clone(),
        }),
        RetentionClass::Metadata => None,
    }
}
