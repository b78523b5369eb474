//! The hash chain: which columns are chained and how they are encoded, and the verifier.

use std::fmt;

use ring::digest;

use crate::StoreError;
use crate::crypto::{Keys, hex, sha256_hex};
use crate::db::{Conn, RowRead, Val};
use crate::schema::GENESIS;

/// Every stored column of `audit_log` except `payload` and `hash`, in chain order.
pub(crate) const CHAIN_COLUMNS: [&str; 29] = [
    "seq",
    "id",
    "kind",
    "time_ms",
    "key_id",
    "subject_hash",
    "tags",
    "endpoint",
    "model",
    "route",
    "status",
    "error_code",
    "attempts",
    "findings",
    "usage",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "cache_hit",
    "class",
    "payload_digest",
    "prev_hash",
    "placement",
    "count",
    "prompt",
    "variant",
    "trace_id",
    "citations",
    "features",
];

/// The chained columns of one row, exactly as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Columns {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub time_ms: i64,
    pub key_id: Option<String>,
    pub subject_hash: Option<String>,
    pub tags: String,
    pub endpoint: String,
    pub model: Option<String>,
    pub route: Option<String>,
    pub status: i64,
    pub error_code: Option<String>,
    pub attempts: String,
    pub findings: String,
    pub usage: Option<String>,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub cache_hit: i64,
    pub class: String,
    pub payload_digest: Option<String>,
    pub prev_hash: String,
    /// Added by migration 4: `None` on every row written before it.
    pub placement: Option<String>,
    /// Added by migration 5: set only on records that aggregate refusals.
    pub count: Option<i64>,
    /// Added by migration 8: the prompt a request rendered, `name@version`.
    pub prompt: Option<String>,
    /// Added by migration 8: the rollout variant that answered, `rollout:variant`.
    pub variant: Option<String>,
    /// Added by migration 10: the request's W3C trace id.
    pub trace_id: Option<String>,
    /// Added by migration 14: the retrieved passages the request was given, JSON.
    pub citations: Option<String>,
    /// Added by migration 15: the API features the request used (`tools`, `json_schema`, …),
    /// JSON.
    pub features: Option<String>,
}

/// `a.seq, a.id, …` for a SELECT; read back with [`Columns::read`].
pub(crate) fn select_list(prefix: &str) -> String {
    CHAIN_COLUMNS
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Columns {
    /// Parameters for an INSERT in [`CHAIN_COLUMNS`] order.
    pub(crate) fn vals(&self) -> Vec<Val> {
        let t = |s: &str| Val::Text(s.to_owned());
        vec![
            Val::Int(self.seq),
            t(&self.id),
            t(&self.kind),
            Val::Int(self.time_ms),
            Val::opt_text(self.key_id.as_deref()),
            Val::opt_text(self.subject_hash.as_deref()),
            t(&self.tags),
            t(&self.endpoint),
            Val::opt_text(self.model.as_deref()),
            Val::opt_text(self.route.as_deref()),
            Val::Int(self.status),
            Val::opt_text(self.error_code.as_deref()),
            t(&self.attempts),
            t(&self.findings),
            Val::opt_text(self.usage.as_deref()),
            Val::opt_real(self.cost_usd),
            Val::opt_real(self.latency_ms),
            Val::opt_real(self.ttft_ms),
            Val::Int(self.cache_hit),
            t(&self.class),
            Val::opt_text(self.payload_digest.as_deref()),
            t(&self.prev_hash),
            Val::opt_text(self.placement.as_deref()),
            self.count.map_or(Val::Null, Val::Int),
            Val::opt_text(self.prompt.as_deref()),
            Val::opt_text(self.variant.as_deref()),
            Val::opt_text(self.trace_id.as_deref()),
            Val::opt_text(self.citations.as_deref()),
            Val::opt_text(self.features.as_deref()),
        ]
    }

    /// Reads the columns selected by [`select_list`], starting at column `at`.
    pub(crate) fn read(row: &dyn RowRead, at: usize) -> Result<Columns, StoreError> {
        let req_text = |i: usize| -> Result<String, StoreError> {
            row.text(at + i)?
                .ok_or_else(|| StoreError::new(format!("audit_log.{} is NULL", CHAIN_COLUMNS[i])))
        };
        let req_int = |i: usize| -> Result<i64, StoreError> {
            row.int(at + i)?
                .ok_or_else(|| StoreError::new(format!("audit_log.{} is NULL", CHAIN_COLUMNS[i])))
        };
        Ok(Columns {
            seq: req_int(0)?,
            id: req_text(1)?,
            kind: req_text(2)?,
            time_ms: req_int(3)?,
            key_id: row.text(at + 4)?,
            subject_hash: row.text(at + 5)?,
            tags: req_text(6)?,
            endpoint: req_text(7)?,
            model: row.text(at + 8)?,
            route: row.text(at + 9)?,
            status: req_int(10)?,
            error_code: row.text(at + 11)?,
            attempts: req_text(12)?,
            findings: req_text(13)?,
            usage: row.text(at + 14)?,
            cost_usd: row.real(at + 15)?,
            latency_ms: row.real(at + 16)?,
            ttft_ms: row.real(at + 17)?,
            cache_hit: req_int(18)?,
            class: req_text(19)?,
            payload_digest: row.text(at + 20)?,
            prev_hash: req_text(21)?,
            placement: row.text(at + 22)?,
            count: row.int(at + 23)?,
            prompt: row.text(at + 24)?,
            variant: row.text(at + 25)?,
            trace_id: row.text(at + 26)?,
            citations: row.text(at + 27)?,
            features: row.text(at + 28)?,
        })
    }

    /// `SHA-256(prev_hash || canonical bytes)`. Each value is tagged with its type and, for
    /// text, its length, so no two different rows encode alike.
    pub(crate) fn hash(&self) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(self.prev_hash.as_bytes());
        ctx.update(b"seam audit v1");
        let int = |ctx: &mut digest::Context, v: Option<i64>| match v {
            None => ctx.update(&[0]),
            Some(v) => {
                ctx.update(&[1]);
                ctx.update(&v.to_be_bytes());
            }
        };
        let real = |ctx: &mut digest::Context, v: Option<f64>| match v {
            None => ctx.update(&[0]),
            Some(v) => {
                ctx.update(&[2]);
                ctx.update(&v.to_bits().to_be_bytes());
            }
        };
        let text = |ctx: &mut digest::Context, v: Option<&str>| match v {
            None => ctx.update(&[0]),
            Some(v) => {
                ctx.update(&[3]);
                ctx.update(&(v.len() as u64).to_be_bytes());
                ctx.update(v.as_bytes());
            }
        };
        int(&mut ctx, Some(self.seq));
        text(&mut ctx, Some(&self.id));
        text(&mut ctx, Some(&self.kind));
        int(&mut ctx, Some(self.time_ms));
        text(&mut ctx, self.key_id.as_deref());
        text(&mut ctx, self.subject_hash.as_deref());
        text(&mut ctx, Some(&self.tags));
        text(&mut ctx, Some(&self.endpoint));
        text(&mut ctx, self.model.as_deref());
        text(&mut ctx, self.route.as_deref());
        int(&mut ctx, Some(self.status));
        text(&mut ctx, self.error_code.as_deref());
        text(&mut ctx, Some(&self.attempts));
        text(&mut ctx, Some(&self.findings));
        text(&mut ctx, self.usage.as_deref());
        real(&mut ctx, self.cost_usd);
        real(&mut ctx, self.latency_ms);
        real(&mut ctx, self.ttft_ms);
        int(&mut ctx, Some(self.cache_hit));
        text(&mut ctx, Some(&self.class));
        text(&mut ctx, self.payload_digest.as_deref());
        text(&mut ctx, Some(&self.prev_hash));
        // A column added later is hashed only when set, so rows from before it (and rows that
        // leave it unset) hash as they always did; its tag makes a set value unambiguous.
        if let Some(p) = &self.placement {
            text(&mut ctx, Some(p));
        }
        if let Some(n) = self.count {
            int(&mut ctx, Some(n));
        }
        // Two columns, each with a domain byte of its own, so a prompt is never read as a
        // variant (both are text).
        if let Some(p) = &self.prompt {
            ctx.update(b"p");
            text(&mut ctx, Some(p));
        }
        if let Some(v) = &self.variant {
            ctx.update(b"v");
            text(&mut ctx, Some(v));
        }
        if let Some(t) = &self.trace_id {
            ctx.update(b"t");
            text(&mut ctx, Some(t));
        }
        if let Some(c) = &self.citations {
            ctx.update(b"c");
            text(&mut ctx, Some(c));
        }
        if let Some(f) = &self.features {
            ctx.update(b"f");
            text(&mut ctx, Some(f));
        }
        hex(ctx.finish().as_ref())
    }
}

pub(crate) fn checkpoint_message(seq: i64, hash: &str) -> Vec<u8> {
    signed_message(b"seam checkpoint v1", seq, hash)
}

pub(crate) fn head_message(seq: i64, hash: &str) -> Vec<u8> {
    signed_message(b"seam head v1", seq, hash)
}

pub(crate) fn anchor_message(seq: i64, prev_hash: &str) -> Vec<u8> {
    signed_message(b"seam anchor v1", seq, prev_hash)
}

fn signed_message(domain: &[u8], seq: i64, hash: &str) -> Vec<u8> {
    let mut m = domain.to_vec();
    m.push(0);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash.as_bytes());
    m
}

/// What [`crate::AuditLog::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Where the walk started: the anchor's `seq`, or 1.
    pub first_seq: i64,
    /// The last record checked.
    pub last_seq: Option<i64>,
    /// Whether signatures were checked. `false` without a master key: checkpoints and the
    /// anchor then prove nothing, and only the hash links are checked.
    pub signed: bool,
    /// Records after the last checkpoint: linked, but not yet covered by a signature.
    pub unsigned_tail: u64,
    /// The first problem, in chain order; `None` when the log is intact.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// The first thing wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub seq: i64,
    /// The record's id, when there is a record at `seq`.
    pub id: Option<String>,
    pub kind: ProblemKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// A column of the record was changed: its hash does not match.
    HashMismatch,
    /// Records are missing before this one: `seq` jumps.
    SeqGap,
    /// `prev_hash` is not the previous record's hash: a record was inserted or reordered.
    PrevHashMismatch,
    /// The payload's ciphertext does not match its digest.
    PayloadDigest,
    /// A checkpoint's hash is not its record's hash.
    CheckpointHash,
    /// A checkpoint's signature is missing or wrong.
    CheckpointSignature,
    /// A checkpoint names a record that no longer exists (records deleted from the end).
    CheckpointWithoutRecord,
    /// The anchor's signature is missing or wrong.
    AnchorSignature,
    /// The chain head is ahead of the last record (records deleted from the end).
    HeadMismatch,
    /// The chain head's signature is missing or wrong (the head was moved by hand).
    HeadSignature,
    /// A record where a checkpoint belongs has none (checkpoints were deleted).
    CheckpointMissing,
}

impl ProblemKind {
    pub fn describe(self) -> &'static str {
        match self {
            ProblemKind::HashMismatch => "hash mismatch: a column of this record was changed",
            ProblemKind::SeqGap => "seq gap: records before this one were deleted",
            ProblemKind::PrevHashMismatch => {
                "prev_hash does not link to the previous record: a record was inserted or reordered"
            }
            ProblemKind::PayloadDigest => "the payload does not match its digest",
            ProblemKind::CheckpointHash => "the checkpoint's hash is not the record's hash",
            ProblemKind::CheckpointSignature => "the checkpoint's signature is missing or wrong",
            ProblemKind::CheckpointWithoutRecord => {
                "a checkpoint names a record that is missing: records were deleted from the end"
            }
            ProblemKind::AnchorSignature => "the anchor's signature is missing or wrong",
            ProblemKind::HeadMismatch => {
                "the chain head is past the last record: records were deleted from the end"
            }
            ProblemKind::HeadSignature => {
                "the chain head's signature is missing or wrong: the head was moved (records deleted from the end?)"
            }
            ProblemKind::CheckpointMissing => {
                "the checkpoint for this record is missing: checkpoints were deleted"
            }
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "seq {} (id {id}): {}", self.seq, self.kind.describe()),
            None => write!(f, "seq {}: {}", self.seq, self.kind.describe()),
        }
    }
}

struct Checkpoint {
    seq: i64,
    hash: String,
    signature: Option<String>,
}

const PAGE: i64 = 1000;

/// Walks the chain inside one read snapshot; see [`crate::AuditLog::verify`].
pub(crate) fn verify(
    conn: &mut Conn,
    keys: &Keys,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    conn.in_tx(false, |c| verify_in(c, keys, progress))
}

fn verify_in(
    c: &mut Conn,
    keys: &Keys,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let anchor = c.query_opt(
        "SELECT seq, prev_hash, signature FROM audit_anchor WHERE id = 1",
        &[],
        |r| {
            Ok((
                r.int(0)?.unwrap_or(1),
                r.text(1)?.unwrap_or_default(),
                r.text(2)?,
            ))
        },
    )?;
    let head = c
        .query_opt(
            "SELECT seq, hash, signature FROM audit_head WHERE id = 1",
            &[],
            |r| {
                Ok((
                    r.int(0)?.unwrap_or(0),
                    r.text(1)?.unwrap_or_default(),
                    r.text(2)?,
                ))
            },
        )?
        .unwrap_or((0, GENESIS.to_owned(), None));
    let (first_seq, mut prev) = match &anchor {
        Some((seq, prev, _)) => (*seq, prev.clone()),
        None => (1, GENESIS.to_owned()),
    };
    let mut report = VerifyReport {
        records: 0,
        checkpoints: 0,
        first_seq,
        last_seq: None,
        signed: keys.has_master(),
        unsigned_tail: 0,
        problem: None,
    };
    let problem = |seq: i64, id: Option<&str>, kind: ProblemKind| Problem {
        seq,
        id: id.map(str::to_owned),
        kind,
    };
    if let Some((seq, prev_hash, sig)) = &anchor {
        let msg = anchor_message(*seq, prev_hash);
        if signature_bad(keys, &msg, sig.as_deref()) {
            report.problem = Some(problem(*seq, None, ProblemKind::AnchorSignature));
            return Ok(report);
        }
    }
    let checkpoints = c.query(
        "SELECT seq, hash, signature FROM audit_checkpoints WHERE seq >= $1 ORDER BY seq",
        &[Val::Int(first_seq)],
        |r| {
            Ok(Checkpoint {
                seq: r.int(0)?.unwrap_or(0),
                hash: r.text(1)?.unwrap_or_default(),
                signature: r.text(2)?,
            })
        },
    )?;
    let mut cps = checkpoints.iter().peekable();
    let mut expected = first_seq;
    let mut last_checkpointed = first_seq - 1;
    let sql = format!(
        "SELECT {}, payload, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT {PAGE}",
        select_list("")
    );
    loop {
        let page = c.query(&sql, &[Val::Int(expected)], |r| {
            Ok((
                Columns::read(r, 0)?,
                r.blob(CHAIN_COLUMNS.len())?,
                r.text(CHAIN_COLUMNS.len() + 1)?.unwrap_or_default(),
            ))
        })?;
        let Some(last) = page.last() else { break };
        let next = last.0.seq + 1;
        for (cols, payload, hash) in &page {
            let id = Some(cols.id.as_str());
            let kind = if cols.seq != expected {
                Some(ProblemKind::SeqGap)
            } else if cols.prev_hash != prev {
                Some(ProblemKind::PrevHashMismatch)
            } else if cols.hash() != *hash {
                Some(ProblemKind::HashMismatch)
            } else if payload
                .as_ref()
                .is_some_and(|p| cols.payload_digest.as_deref() != Some(&sha256_hex(p)))
            {
                Some(ProblemKind::PayloadDigest)
            } else {
                None
            };
            if let Some(kind) = kind {
                report.problem = Some(problem(cols.seq, id, kind));
                return Ok(report);
            }
            while let Some(cp) = cps.next_if(|cp| cp.seq <= cols.seq) {
                report.checkpoints += 1;
                let kind = if cp.seq != cols.seq {
                    Some(ProblemKind::CheckpointWithoutRecord)
                } else if cp.hash != *hash {
                    Some(ProblemKind::CheckpointHash)
                } else if signature_bad(
                    keys,
                    &checkpoint_message(cp.seq, &cp.hash),
                    cp.signature.as_deref(),
                ) {
                    Some(ProblemKind::CheckpointSignature)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    let id = (cp.seq == cols.seq).then_some(cols.id.as_str());
                    report.problem = Some(problem(cp.seq, id, kind));
                    return Ok(report);
                }
                last_checkpointed = cp.seq;
            }
            // Every CHECKPOINT_EVERY-th record gets one when it is written.
            if cols.seq % crate::log::CHECKPOINT_EVERY == 0 && last_checkpointed != cols.seq {
                report.problem = Some(problem(cols.seq, id, ProblemKind::CheckpointMissing));
                return Ok(report);
            }
            prev.clone_from(hash);
            expected += 1;
            report.records += 1;
            report.last_seq = Some(cols.seq);
        }
        progress(report.records);
        expected = expected.max(next);
    }
    if let Some(cp) = cps.next() {
        report.problem = Some(problem(cp.seq, None, ProblemKind::CheckpointWithoutRecord));
        return Ok(report);
    }
    let last_seq = report.last_seq.unwrap_or(first_seq - 1);
    if head.0 != last_seq || head.1 != prev {
        report.problem = Some(problem(last_seq + 1, None, ProblemKind::HeadMismatch));
        return Ok(report);
    }
    // The genesis head (no record yet) is written unsigned by the migration.
    if head.0 > 0 && signature_bad(keys, &head_message(head.0, &head.1), head.2.as_deref()) {
        report.problem = Some(problem(head.0, None, ProblemKind::HeadSignature));
        return Ok(report);
    }
    report.unsigned_tail = u64::try_from(last_seq - last_checkpointed).unwrap_or(0);
    Ok(report)
}

/// A signature is bad when a master key is present and it is missing or does not verify.
/// Without a master key nothing can be checked, and the report says `signed: false`.
fn signature_bad(keys: &Keys, msg: &[u8], sig: Option<&str>) -> bool {
    if !keys.has_master() {
        return false;
    }
    match sig {
        None => true,
        Some(s) => keys.check_signature(msg, s) != Some(true),
    }
}
