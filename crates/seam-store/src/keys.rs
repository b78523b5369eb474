//! Virtual API keys: what a client presents instead of a provider's key, and what it may do.
//!
//! A secret is `sk-seam-` and 43 characters of base64url (256 random bits). It is shown once, by
//! [`KeyStore::create`], and stored only as [`hash_secret`]: an unkeyed SHA-256 suffices because
//! the secret is uniformly random, so the hash cannot be reversed by guessing. A server loads
//! [`KeyStore::active`] into memory and authenticates by hashing what the client sent.
//! Replicas sharing a PostgreSQL database see each other's keys on their next load.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::crypto::{hex, random};
use crate::db::{Conn, RowRead, Val};
use crate::{RetentionClass, StoreConfig, StoreError};

const SECRET_PREFIX: &str = "sk-seam-";
/// How much of the secret is kept in clear, to tell keys apart in listings and logs.
const PREFIX_LEN: usize = 12;
const COLUMNS: &str = "id, name, prefix, created_ms, revoked_ms, scope";

/// The window a budget is counted over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Month,
}

/// Who may be served a cached answer (`seam_config::CacheScope`, as stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    Key,
    Team,
    Org,
}

/// What a key may do. Stored as JSON; fields missing from a stored scope take their defaults,
/// so a field can be added without a migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyScope {
    /// Glob patterns ([`glob_match`]) of the model aliases the key may use; empty allows none.
    pub models: Vec<String>,
    /// Whether the key may address `PROVIDER/MODEL` directly, bypassing aliases.
    pub direct: bool,
    pub policy: Option<String>,
    pub audit_class: Option<RetentionClass>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<BudgetPeriod>,
    pub team: Option<String>,
    /// Unix milliseconds from which the key no longer authenticates.
    pub expires_ms: Option<i64>,
    /// Serve repeated identical requests of this key from the exact cache for this long.
    pub cache_ttl_s: Option<u64>,
    /// Who shares those entries; `None`: the key alone.
    pub cache_scope: Option<CacheScope>,
}

/// A stored key, without its secret or hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    /// The secret's first 12 characters (`sk-seam-` and 4 more).
    pub prefix: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    pub scope: KeyScope,
}

impl KeyRecord {
    /// Not revoked, and not expired at `now_ms` (expiry is exclusive: a key expiring at `t`
    /// is refused at `t`).
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.scope.expires_ms.is_none_or(|t| now_ms < t)
    }

    /// Whether any of the scope's model patterns matches `alias`.
    pub fn allows_model(&self, alias: &str) -> bool {
        self.scope.models.iter().any(|p| glob_match(p, alias))
    }
}

/// `sha256:` and the lowercase hex SHA-256 of the secret: the only form a secret is stored in.
pub fn hash_secret(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    format!("sha256:{}", hex(d.as_ref()))
}

/// Whole-string glob match: `*` matches any run of characters (including none), `?` exactly
/// one; every other character matches itself. Linear backtracking to the last `*`, so the cost
/// is at most `pattern × s` characters.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` was, and where in `s` its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Keys over one connection. Synchronous, like [`crate::AuditLog`]: call it from blocking code.
pub struct KeyStore {
    conn: Conn,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = if self.conn.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        };
        f.debug_struct("KeyStore")
            .field("backend", &backend)
            .finish()
    }
}

impl KeyStore {
    /// Connects and applies pending migrations (the same ones [`crate::AuditLog::open`] runs).
    /// Only `cfg.backend` is used: keys are not encrypted.
    pub fn open(cfg: &StoreConfig) -> Result<KeyStore, StoreError> {
        Ok(KeyStore {
            conn: Conn::open_migrated(&cfg.backend)?,
        })
    }

    /// Creates a key and returns it with its secret, which is not stored and cannot be shown
    /// again.
    pub fn create(
        &mut self,
        name: &str,
        scope: &KeyScope,
        now_ms: i64,
    ) -> Result<(KeyRecord, String), StoreError> {
        let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()?));
        let record = KeyRecord {
            id: format!("key_{}", hex(&random::<8>()?)),
            name: name.to_owned(),
            prefix: secret.chars().take(PREFIX_LEN).collect(),
            created_ms: now_ms,
            revoked_ms: None,
            scope: scope.clone(),
        };
        let scope_json = serde_json::to_string(&record.scope)
            .map_err(|e| StoreError::new(format!("cannot encode a key scope: {e}")))?;
        self.conn.exec(
            "INSERT INTO api_keys (id, name, prefix, hash, created_ms, revoked_ms, scope)
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
            &[
                Val::Text(record.id.clone()),
                Val::Text(record.name.clone()),
                Val::Text(record.prefix.clone()),
                Val::Text(hash_secret(&secret)),
                Val::Int(now_ms),
                Val::Text(scope_json),
            ],
        )?;
        Ok((record, secret))
    }

    /// Every key, revoked and expired included, oldest first.
    pub fn list(&mut self) -> Result<Vec<KeyRecord>, StoreError> {
        self.conn.query(
            &format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_ms, id"),
            &[],
            read_record,
        )
    }

    pub fn get(&mut self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.conn.query_opt(
            &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"),
            &[Val::Text(id.to_owned())],
            read_record,
        )
    }

    /// Marks the key revoked at `now_ms`; false if no such key or it was already revoked.
    pub fn revoke(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let n = self.conn.exec(
            "UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL",
            &[Val::Int(now_ms), Val::Text(id.to_owned())],
        )?;
        Ok(n == 1)
    }

    /// The keys that authenticate at `now_ms`, each with its secret's hash, oldest first.
    pub fn active(&mut self, now_ms: i64) -> Result<Vec<(String, KeyRecord)>, StoreError> {
        let rows = self.conn.query(
            &format!(
                "SELECT {COLUMNS}, hash FROM api_keys WHERE revoked_ms IS NULL
                 ORDER BY created_ms, id"
            ),
            &[],
            |r| Ok((required(r.text(6)?, "hash")?, read_record(r)?)),
        )?;
        Ok(rows
            .into_iter()
            .filter(|(_, k)| k.is_active(now_ms))
            .collect())
    }

    /// How many keys exist in any state. Once one does, every `/v1` request needs a key.
    pub fn count(&mut self) -> Result<u64, StoreError> {
        let n = self
            .conn
            .query_opt("SELECT COUNT(*) FROM api_keys", &[], |r| r.int(0))?
            .flatten()
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn read_record(r: &dyn RowRead) -> Result<KeyRecord, StoreError> {
    let id = required(r.text(0)?, "id")?;
    let scope_json = required(r.text(5)?, "scope")?;
    // serde_json's message can quote the offending value; the position is enough.
    let scope = serde_json::from_str(&scope_json).map_err(|e| {
        StoreError::new(format!(
            "api key {id}: unreadable scope at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    Ok(KeyRecord {
        name: required(r.text(1)?, "name")?,
        prefix: required(r.text(2)?, "prefix")?,
        created_ms: required(r.int(3)?, "created_ms")?,
        revoked_ms: r.int(4)?,
        scope,
        id,
    })
}

fn required<T>(v: Option<T>, column: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::new(format!("api_keys.{column} is NULL")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_prefixed_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scopes_stored_before_the_cache_fields_still_load() {
        let old = r#"{"models":["chat"],"direct":false,"rpm":5,"team":"t"}"#;
        let scope: KeyScope = serde_json::from_str(old).unwrap_or_default();
        assert_eq!(scope.models, ["chat"]);
        assert_eq!((scope.cache_ttl_s, scope.cache_scope), (None, None));
        let new: KeyScope =
            serde_json::from_str(r#"{"cache_ttl_s":60,"cache_scope":"team"}"#).unwrap_or_default();
        assert_eq!(
            (new.cache_ttl_s, new.cache_scope),
            (Some(60), Some(CacheScope::Team))
        );
    }
}
