//! The audit log's SQL mapping: a record's `audit_log` row (its chained columns, written by
//! [`insert_row`]), the tombstone an erasure appends, checkpoints, and the SELECT and filters
//! that read rows back into [`StoredRecord`]s. [`super::AuditLog`] decides what to write; this
//! module decides how it is spelled in SQL.

use super::{ANONYMOUS, CHECKPOINT_EVERY, Head, json_err};
use crate::chain::{CHAIN_COLUMNS, Columns, checkpoint_message, select_list};
use crate::crypto::{Keys, hex, sha256_hex};
use crate::db::{Conn, RowRead, Val};
use crate::stored::{PayloadState, RecordKind, StoredRecord};
use crate::{AuditRecord, Query, RetentionClass, StoreError, now_ms};

pub(super) fn request_columns(
    rec: &AuditRecord,
    head: &Head,
    subject_hash: Option<String>,
    sealed: Option<&[u8]>,
) -> Result<Columns, StoreError> {
    Ok(Columns {
        seq: head.seq + 1,
        id: rec.id.clone(),
        kind: rec.kind.as_str().to_owned(),
        time_ms: rec.time_ms,
        key_id: rec.key_id.clone(),
        subject_hash,
        tags: js(&rec.tags)?,
        endpoint: rec.endpoint.clone(),
        model: rec.model.clone(),
        route: rec.route.clone(),
        status: i64::from(rec.status),
        error_code: rec.error_code.clone(),
        attempts: js(&rec.attempts)?,
        findings: js(&rec.findings)?,
        usage: rec.usage.as_ref().map(js).transpose()?,
        cost_usd: rec.cost_usd,
        latency_ms: Some(rec.latency_ms),
        ttft_ms: rec.ttft_ms,
        cache_hit: i64::from(rec.cache_hit),
        class: rec.class.as_str().to_owned(),
        payload_digest: sealed.map(sha256_hex),
        prev_hash: head.hash.clone(),
        placement: rec.placement.clone(),
        count: rec.count.map(i64::from),
        prompt: rec.prompt.clone(),
        variant: rec.variant.clone(),
        trace_id: rec.trace_id.clone(),
        citations: if rec.citations.is_empty() {
            None
        } else {
            Some(js(&rec.citations)?)
        },
        features: if rec.features.is_empty() {
            None
        } else {
            Some(js(&rec.features)?)
        },
    }
    .normalized())
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(json_err)
}

/// Compact JSON of a column value (serde_json writes struct fields in declaration order, so
/// the text is stable and the finding filter can match it).
fn js<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(json_err)
}

pub(super) fn tombstone_columns(
    keys: &Keys,
    head: &Head,
    subject_hash: String,
) -> Result<Columns, StoreError> {
    Ok(Columns {
        seq: head.seq + 1,
        id: format!("erasure-{}", hex(&keys.random::<16>()?)),
        kind: RecordKind::Erasure.as_str().to_owned(),
        time_ms: now_ms(),
        key_id: None,
        subject_hash: Some(subject_hash),
        tags: "[]".to_owned(),
        endpoint: "erasure".to_owned(),
        model: None,
        route: None,
        status: 0,
        error_code: None,
        attempts: "[]".to_owned(),
        findings: "[]".to_owned(),
        usage: None,
        cost_usd: None,
        latency_ms: None,
        ttft_ms: None,
        cache_hit: 0,
        class: RetentionClass::Metadata.as_str().to_owned(),
        payload_digest: None,
        prev_hash: head.hash.clone(),
        placement: None,
        count: None,
        prompt: None,
        variant: None,
        trace_id: None,
        citations: None,
        features: None,
    })
}

impl Columns {
    /// Floats as the database will give them back (see [`Val::opt_real`]).
    fn normalized(mut self) -> Columns {
        let norm = |v: Option<f64>| match Val::opt_real(v) {
            Val::Real(x) => Some(x),
            _ => None,
        };
        self.cost_usd = norm(self.cost_usd);
        self.latency_ms = norm(self.latency_ms);
        self.ttft_ms = norm(self.ttft_ms);
        self
    }
}

/// Inserts the row at `head.seq + 1`, advances `head`, and checkpoints on the boundary.
pub(super) fn insert_row(
    c: &mut Conn,
    keys: &Keys,
    head: &mut Head,
    cols: Columns,
    payload: Option<Vec<u8>>,
) -> Result<(), StoreError> {
    let hash = cols.hash();
    let mut params = cols.vals();
    params.push(payload.map_or(Val::Null, Val::Blob));
    params.push(Val::Text(hash.clone()));
    let placeholders: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO audit_log ({}, payload, hash) VALUES ({})",
        CHAIN_COLUMNS.join(", "),
        placeholders.join(", ")
    );
    c.exec(&sql, &params)?;
    head.seq = cols.seq;
    head.hash = hash;
    if head.seq % CHECKPOINT_EVERY == 0 {
        write_checkpoint(c, keys, head)?;
    }
    Ok(())
}

pub(super) fn write_checkpoint(c: &mut Conn, keys: &Keys, head: &Head) -> Result<(), StoreError> {
    let sig = keys.sign(&checkpoint_message(head.seq, &head.hash));
    c.exec(
        "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature) VALUES ($1, $2, $3, $4)
         ON CONFLICT (seq) DO NOTHING",
        &[
            Val::Int(head.seq),
            Val::Text(head.hash.clone()),
            Val::Int(now_ms()),
            Val::opt_text(sig.as_deref()),
        ],
    )?;
    Ok(())
}

/// The SELECT behind get, search and export: the chained columns, payload, hash, and the
/// subject's row (absent once erased).
pub(super) fn read_sql() -> String {
    format!(
        "SELECT {}, a.payload, a.hash, s.subject_sealed, s.wrapped_key, s.created_ms, s.subject
         FROM audit_log a LEFT JOIN audit_subjects s
           ON s.subject_hash = COALESCE(a.subject_hash, '{ANONYMOUS}')",
        select_list("a.")
    )
}

pub(super) fn where_clause(q: &Query, keys: &Keys, postgres: bool) -> (String, Vec<Val>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    let mut add = |cond: &str, v: Val| {
        params.push(v);
        sql.push_str(&format!(
            " AND {}",
            cond.replace('?', &format!("${}", params.len()))
        ));
    };
    if let Some(id) = &q.id {
        add("a.id = ?", Val::Text(id.clone()));
    }
    if let Some(s) = &q.subject {
        add("a.subject_hash = ?", Val::Text(keys.subject_hash(s)));
    }
    if let Some(k) = &q.key_id {
        add("a.key_id = ?", Val::Text(k.clone()));
    }
    if let Some(t) = q.since_ms {
        add("a.time_ms >= ?", Val::Int(t));
    }
    if let Some(t) = q.until_ms {
        add("a.time_ms < ?", Val::Int(t));
    }
    if let Some(m) = &q.model {
        add("a.model = ?", Val::Text(m.clone()));
    }
    if let Some(p) = &q.prompt {
        // `name` matches every version of the prompt; `name@version` that one.
        if p.contains('@') {
            add("a.prompt = ?", Val::Text(p.clone()));
        } else {
            // Versions are hex, so every `name@version` sorts between `name@` and `name@~`.
            add("a.prompt >= ?", Val::Text(format!("{p}@")));
            add("a.prompt < ?", Val::Text(format!("{p}@~")));
        }
    }
    if let Some(s) = q.status {
        add("a.status = ?", Val::Int(i64::from(s)));
    }
    if let Some(k) = q.kind {
        add("a.kind = ?", Val::Text(k.as_str().to_owned()));
    }
    if let Some(entity) = &q.finding {
        // Findings are stored as serde_json's compact form, so an entity appears exactly so.
        let needle = format!("\"entity\":{}", serde_json::Value::String(entity.clone()));
        let cond = if postgres {
            "strpos(a.findings, ?) > 0"
        } else {
            "instr(a.findings, ?) > 0"
        };
        add(cond, Val::Text(needle));
    }
    (sql, params)
}

pub(super) fn stored_from_row(
    r: &dyn RowRead,
    keys: &Keys,
) -> Result<Result<StoredRecord, StoreError>, StoreError> {
    let cols = Columns::read(r, 0)?;
    let n = CHAIN_COLUMNS.len();
    let payload = r.blob(n)?;
    let hash = r.text(n + 1)?.unwrap_or_default();
    let sealed_subject = r.blob(n + 2)?;
    let wrapped = r.blob(n + 3)?;
    let subject_row = r.int(n + 4)?.is_some();
    let subject = match (&cols.subject_hash, sealed_subject) {
        (Some(h), Some(sealed)) => match keys.open_subject(h, &sealed) {
            Some(Some(s)) => Some(s),
            Some(None) => {
                return Ok(Err(StoreError::new(format!(
                    "the subject of record {} cannot be decrypted: its audit_subjects row was altered",
                    cols.id
                ))));
            }
            None => None,
        },
        // A row from before migration 6 that no handle with the master key has sealed yet.
        (Some(_), None) => r.text(n + 5)?,
        (None, _) => None,
    };
    Ok(to_stored(
        cols,
        payload,
        hash,
        subject,
        wrapped,
        subject_row,
        keys,
    ))
}

fn to_stored(
    cols: Columns,
    payload: Option<Vec<u8>>,
    hash: String,
    subject: Option<String>,
    wrapped: Option<Vec<u8>>,
    subject_row: bool,
    keys: &Keys,
) -> Result<StoredRecord, StoreError> {
    let class = RetentionClass::parse(&cols.class)
        .ok_or_else(|| StoreError::new(format!("record {} has an unknown class", cols.id)))?;
    let kind = RecordKind::parse(&cols.kind)
        .ok_or_else(|| StoreError::new(format!("record {} has an unknown kind", cols.id)))?;
    let state = if class == RetentionClass::Metadata || !kind.keeps_payload() {
        PayloadState::NotKept
    } else if !subject_row {
        PayloadState::Erased
    } else if let Some(sealed) = payload {
        match wrapped {
            Some(w) if keys.has_master() => {
                let key_row = cols.subject_hash.as_deref().unwrap_or(ANONYMOUS);
                let dk = keys.unwrap_data_key(key_row, &w)?;
                let plain = keys
                    .decrypt_payload(&dk, &cols.id, &sealed)
                    .ok_or_else(|| {
                        StoreError::new(format!(
                            "the payload of record {} cannot be decrypted: run verify",
                            cols.id
                        ))
                    })?;
                PayloadState::Kept(serde_json::from_slice(&plain).map_err(json_err)?)
            }
            _ => PayloadState::Locked,
        }
    } else {
        PayloadState::Purged
    };
    Ok(StoredRecord {
        seq: cols.seq,
        id: cols.id.clone(),
        kind,
        time_ms: cols.time_ms,
        key_id: cols.key_id.clone(),
        subject,
        subject_hash: cols.subject_hash.clone(),
        tags: parse(&cols.tags)?,
        endpoint: cols.endpoint.clone(),
        model: cols.model.clone(),
        route: cols.route.clone(),
        status: u16::try_from(cols.status).unwrap_or(0),
        error_code: cols.error_code.clone(),
        attempts: parse(&cols.attempts)?,
        findings: parse(&cols.findings)?,
        usage: cols.usage.as_deref().map(parse).transpose()?,
        cost_usd: cols.cost_usd,
        latency_ms: cols.latency_ms.unwrap_or(0.0),
        ttft_ms: cols.ttft_ms,
        cache_hit: cols.cache_hit != 0,
        placement: cols.placement.clone(),
        count: cols.count.and_then(|n| u32::try_from(n).ok()),
        prompt: cols.prompt.clone(),
        variant: cols.variant.clone(),
        trace_id: cols.trace_id.clone(),
        citations: cols
            .citations
            .as_deref()
            .map(parse)
            .transpose()?
            .unwrap_or_default(),
        features: cols
            .features
            .as_deref()
            .map(parse)
            .transpose()?
            .unwrap_or_default(),
        class,
        payload: state,
        hash,
    })
}
