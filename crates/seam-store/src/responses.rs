//! Conversation state for the Responses API (`previous_response_id`): one row per stored
//! response in `responses` (migration 7), sealed per subject exactly as audit payloads are.
//!
//! A row keeps in clear only what lookups and retention need: `id`, `key_id` (the API key that
//! stored it; lookups by any other key find nothing), `subject_hash`, `created_s` and
//! `expires_s` (Unix seconds). The subject, the input items and the response object are JSON,
//! sealed with AES-256-GCM under the subject's data key from `audit_subjects` (the shared
//! `anonymous` row without a subject), with the id and key id as associated data, so a row
//! whose `key_id` was rewritten no longer opens. Erasing the subject
//! ([`crate::AuditLog::erase_subject`]) deletes its rows and its data key; retention
//! ([`crate::AuditLog::purge`], [`ResponseStore::purge`]) deletes rows past `expires_s`, and a
//! row past it is never returned. Without a master key nothing is kept on disk: the store
//! refuses to open.

use crate::crypto::Keys;
use crate::db::{Conn, RowRead, Val};
use crate::log::{ANONYMOUS, ensure_subject};
use crate::{AuditLog, StoreConfig, StoreError};

/// One stored turn of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    /// `resp_…`.
    pub id: String,
    /// The key that stored it; `None` when Seam runs without keys.
    pub key_id: Option<String>,
    /// The data subject, for erasure.
    pub subject: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The conversation the model saw this turn (items with ids).
    pub input_items: Vec<serde_json::Value>,
    /// The Response object as the client got it.
    pub response: serde_json::Value,
}

/// What is sealed: everything that may carry personal data.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    subject: Option<String>,
    input_items: Vec<serde_json::Value>,
    response: serde_json::Value,
}

/// Stored responses over one connection. Synchronous: run it on a thread of its own.
pub struct ResponseStore {
    conn: Conn,
    keys: Keys,
}

impl std::fmt::Debug for ResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStore")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

impl ResponseStore {
    /// Connects, applies pending migrations and checks the master key against the database, as
    /// [`AuditLog::open`] does. Refuses without a master key: conversation text is never
    /// written in clear.
    pub fn open(cfg: &StoreConfig) -> Result<ResponseStore, StoreError> {
        if cfg.master_key.is_none() {
            return Err(StoreError::new(
                "stored responses are kept on disk only sealed: a master key is needed",
            ));
        }
        let (conn, keys) = AuditLog::open(cfg)?.into_parts();
        Ok(ResponseStore { conn, keys })
    }

    /// Stores `r` until `expires_s` (Unix seconds). An id already stored is an error.
    pub fn put(&mut self, r: &StoredResponse, expires_s: i64) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(&Sealed {
            subject: r.subject.clone(),
            input_items: r.input_items.clone(),
            response: r.response.clone(),
        })
        .map_err(json_err)?;
        let keys = &self.keys;
        let subject_hash = r.subject.as_deref().map(|s| keys.subject_hash(s));
        let key_row = subject_hash.clone().unwrap_or_else(|| ANONYMOUS.to_owned());
        self.conn.in_tx(true, |c| {
            if c.is_postgres() {
                // Audit appends create subject rows under this lock; taking it too keeps a
                // concurrent append from failing on the row this may insert, and an erasure
                // (which holds it) from running between reading the data key and using it.
                c.query_opt(
                    "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
                    &[],
                    |_| Ok(()),
                )?;
            }
            let data_key = ensure_subject(c, keys, &key_row, r.subject.as_deref(), true)?
                .ok_or_else(|| StoreError::new("no data key for a stored response"))?;
            let sealed =
                keys.encrypt_payload(&data_key, &aad(&r.id, r.key_id.as_deref()), &plain)?;
            c.exec(
                "INSERT INTO responses (id, key_id, subject_hash, created_s, expires_s, sealed)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Val::Text(r.id.clone()),
                    Val::opt_text(r.key_id.as_deref()),
                    Val::opt_text(subject_hash.as_deref()),
                    Val::Int(r.created_at),
                    Val::Int(expires_s),
                    Val::Blob(sealed),
                ],
            )?;
            Ok(())
        })
    }

    /// The response `id` as `key_id` stored it, unless it expired by `now_s` or its subject was
    /// erased. Another key's response is `None`, like an unknown one.
    pub fn get(
        &mut self,
        id: &str,
        key_id: Option<&str>,
        now_s: i64,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let row = self.conn.query_opt(
            &format!(
                "SELECT r.key_id, r.subject_hash, r.created_s, r.expires_s, r.sealed, s.wrapped_key
                 FROM responses r LEFT JOIN audit_subjects s
                   ON s.subject_hash = COALESCE(r.subject_hash, '{ANONYMOUS}')
                 WHERE r.id = $1"
            ),
            &[Val::Text(id.to_owned())],
            |r| Row::read(r),
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.key_id.as_deref() != key_id || row.expires_s <= now_s {
            return Ok(None);
        }
        // An erasure that raced a store leaves a row whose key is gone: unreadable, as erased.
        let Some(wrapped) = row.wrapped_key else {
            return Ok(None);
        };
        let key_row = row.subject_hash.as_deref().unwrap_or(ANONYMOUS);
        let data_key = self.keys.unwrap_data_key(key_row, &wrapped)?;
        let plain = self
            .keys
            .decrypt_payload(&data_key, &aad(id, key_id), &row.sealed)
            .ok_or_else(|| {
                StoreError::new(format!(
                    "stored response {id} cannot be decrypted: its row was altered"
                ))
            })?;
        let s: Sealed = serde_json::from_slice(&plain).map_err(json_err)?;
        Ok(Some(StoredResponse {
            id: id.to_owned(),
            key_id: row.key_id,
            subject: s.subject,
            created_at: row.created_s,
            input_items: s.input_items,
            response: s.response,
        }))
    }

    /// Deletes the response `id` if `key_id` stored it; whether one was deleted.
    pub fn delete(&mut self, id: &str, key_id: Option<&str>) -> Result<bool, StoreError> {
        // Key ids are never empty, so '' stands for "stored without a key".
        let n = self.conn.exec(
            "DELETE FROM responses WHERE id = $1 AND COALESCE(key_id, '') = $2",
            &[
                Val::Text(id.to_owned()),
                Val::Text(key_id.unwrap_or_default().to_owned()),
            ],
        )?;
        Ok(n > 0)
    }

    /// Deletes every response expired by `now_s`; how many.
    pub fn purge(&mut self, now_s: i64) -> Result<u64, StoreError> {
        purge_expired(&mut self.conn, now_s)
    }
}

/// What `get` reads of a row.
struct Row {
    key_id: Option<String>,
    subject_hash: Option<String>,
    created_s: i64,
    expires_s: i64,
    sealed: Vec<u8>,
    wrapped_key: Option<Vec<u8>>,
}

impl Row {
    fn read(r: &dyn RowRead) -> Result<Row, StoreError> {
        Ok(Row {
            key_id: r.text(0)?,
            subject_hash: r.text(1)?,
            created_s: r.int(2)?.unwrap_or(0),
            expires_s: r.int(3)?.unwrap_or(0),
            sealed: r.blob(4)?.unwrap_or_default(),
            wrapped_key: r.blob(5)?,
        })
    }
}

/// Deletes the rows past `expires_s` (also run by [`AuditLog::purge`]).
pub(crate) fn purge_expired(c: &mut Conn, now_s: i64) -> Result<u64, StoreError> {
    c.exec(
        "DELETE FROM responses WHERE expires_s <= $1",
        &[Val::Int(now_s)],
    )
}

/// Deletes a subject's rows (inside [`AuditLog::erase_subject`]'s transaction); how many.
pub(crate) fn erase(c: &mut Conn, subject_hash: &str) -> Result<u64, StoreError> {
    c.exec(
        "DELETE FROM responses WHERE subject_hash = $1",
        &[Val::Text(subject_hash.to_owned())],
    )
}

/// The associated data: the id and the key that may read it, apart from audit record ids.
fn aad(id: &str, key_id: Option<&str>) -> String {
    format!("seam response\0{id}\0{}", key_id.unwrap_or_default())
}

fn json_err(e: serde_json::Error) -> StoreError {
    // serde_json's messages give positions and expectations, never the data.
    StoreError::new(format!("json: {e}"))
}
