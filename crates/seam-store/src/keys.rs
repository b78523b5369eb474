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
use seam_config::Placement;
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
    /// Where its requests may go (`trust=private;region=eu`), laid over each alias's placement;
    /// `None`: wherever the alias allows.
    pub placement: Option<Placement>,
    /// Glob patterns of the MCP tools, prompts and resources it may use, by namespaced name
    /// (`crm__lookup_*`); empty allows none, as with `models`.
    pub tools: Vec<String>,
    /// May sign in to the web console, read-only (as a viewer).
    pub console: bool,
    /// Grant patterns of the document labels it may see (`public`, `team:*`, `*`).
    pub labels: Vec<String>,
    /// A request's subject adds `subject:<id>` to its grants.
    pub subject_grants: bool,
    /// Glob patterns of the collections it may search.
    pub collections: Vec<String>,
    /// Glob patterns of the collections it may add documents to and delete them from.
    pub ingest: Vec<String>,
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
        scope_allows(&self.scope.models, alias)
    }

    /// Whether any of the scope's tool patterns matches `name`, a namespaced MCP tool, prompt
    /// or resource name (`server__tool`).
    pub fn allows_tool(&self, name: &str) -> bool {
        scope_allows(&self.scope.tools, name)
    }
}

impl KeyRecord {
    /// `active`, `revoked` or `expired` at `now_ms`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if self.revoked_ms.is_some() {
            "revoked"
        } else if self.is_active(now_ms) {
            "active"
        } else {
            "expired"
        }
    }

    /// The record as `seam keys list --json` and `GET /admin/keys` show it: never the secret or
    /// its hash.
    pub fn to_json(&self, now_ms: i64) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name, "prefix": self.prefix,
            "state": self.state(now_ms),
            "created": crate::rfc3339(self.created_ms),
            "revoked": self.revoked_ms.map(crate::rfc3339),
            "expires": self.scope.expires_ms.map(crate::rfc3339),
            "scope": self.scope,
        })
    }
}

/// What a new key asks for, as `seam keys create` flags or `POST /admin/keys` JSON; both check it
/// with [`NewKey::scope`], so the CLI and the API accept exactly the same keys.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub direct: bool,
    pub policy: Option<String>,
    /// `full`, `redacted` or `metadata`.
    pub audit_class: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub budget_usd: Option<f64>,
    /// `day` or `month`.
    pub budget_period: Option<String>,
    pub team: Option<String>,
    /// When it stops working: what [`crate::parse_time`] reads (a JSON number is Unix ms).
    pub expires: Option<TimeArg>,
    /// Serve its repeated identical requests from the exact cache for this many seconds.
    pub cache_ttl_s: Option<u64>,
    /// `key`, `team` or `org`: who shares those cached answers (default `key`).
    pub cache_scope: Option<String>,
    /// Where its requests may go, as `x-seam-placement` takes it: `trust=private;region=eu`.
    pub placement: Option<String>,
    /// MCP tools, prompts and resources it may use, as globs over namespaced names
    /// (`crm__lookup_*`).
    #[serde(default)]
    pub tools: Vec<String>,
    /// May sign in to the web console as a viewer (read-only).
    #[serde(default)]
    pub console: bool,
    /// Grant patterns of the document labels it may see (`public`, `team:*`, `*`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// A request's subject adds `subject:<id>` to its grants.
    #[serde(default)]
    pub subject_grants: bool,
    /// Glob patterns of the collections it may search.
    #[serde(default)]
    pub collections: Vec<String>,
    /// Glob patterns of the collections it may add documents to and delete them from.
    #[serde(default)]
    pub ingest: Vec<String>,
}

/// A time as text or as a JSON number of Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TimeArg {
    Ms(i64),
    Text(String),
}

/// Why a [`NewKey`] was refused: the field (`param`) and a message fit for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidKey {
    pub param: &'static str,
    pub message: String,
}

impl std::fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidKey {}

/// The longest a key's cached answers live: 30 days (as `seam_config::cache::MAX_TTL_S`).
pub const MAX_CACHE_TTL_S: u64 = 30 * 24 * 60 * 60;

/// Names and teams are shown in listings and team names become metric labels: short, printable.
const MAX_LABEL: usize = 100;

/// The longest tool pattern (as `seam_config`'s `[keys.NAME] tools`): namespaced names are short.
pub const MAX_TOOL_PATTERN: usize = 200;

fn label(param: &'static str, v: &str) -> Result<(), InvalidKey> {
    let bad = |why: &str| InvalidKey {
        param,
        message: format!("`{param}` {why}"),
    };
    if v.trim().is_empty() {
        return Err(bad("must not be empty"));
    }
    if v.chars().count() > MAX_LABEL {
        return Err(bad(&format!("must be at most {MAX_LABEL} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    Ok(())
}

impl NewKey {
    /// Checks the request and returns the scope to store. `known_policy` says whether the config
    /// has a policy of that name; `sealed_payloads` whether `[audit] master_key` is set (classes
    /// that keep payloads need it).
    pub fn scope(
        &self,
        known_policy: impl Fn(&str) -> bool,
        sealed_payloads: bool,
        now_ms: i64,
    ) -> Result<KeyScope, InvalidKey> {
        let err = |param: &'static str, message: String| Err(InvalidKey { param, message });
        label("name", &self.name)?;
        // A key for the MCP gateway, the console or collections alone needs no model.
        if self.models.is_empty()
            && !self.direct
            && self.tools.is_empty()
            && !self.console
            && self.collections.is_empty()
            && self.ingest.is_empty()
        {
            return err(
                "models",
                "the key could use no model: give `models` (aliases or globs like \"gpt-*\"), `direct`, `tools`, `console`, `collections` or `ingest`"
                    .into(),
            );
        }
        if let Some(bad) = self
            .labels
            .iter()
            .find(|l| !seam_config::retrieval::valid_grant(l))
        {
            return err(
                "labels",
                format!(
                    "`{bad}` is not a label grant: a label, a prefix ending in * (`team:*`), or *"
                ),
            );
        }
        for (param, list) in [("collections", &self.collections), ("ingest", &self.ingest)] {
            if list.iter().any(|p| p.trim().is_empty() || p.len() > 64) {
                return err(
                    param,
                    format!("`{param}` patterns must be 1 to 64 characters"),
                );
            }
        }
        if self.models.iter().any(|m| m.trim().is_empty()) {
            return err(
                "models",
                "`models` must not contain an empty pattern".into(),
            );
        }
        if self.tools.iter().any(|t| t.trim().is_empty()) {
            return err("tools", "`tools` must not contain an empty pattern".into());
        }
        if self
            .tools
            .iter()
            .any(|t| t.chars().count() > MAX_TOOL_PATTERN)
        {
            return err(
                "tools",
                format!("`tools` patterns must be at most {MAX_TOOL_PATTERN} characters"),
            );
        }
        if let Some(p) = &self.policy
            && !known_policy(p)
        {
            return err("policy", format!("no policy named `{p}` in the config"));
        }
        let audit_class = match self.audit_class.as_deref() {
            None => None,
            Some(c) => {
                let Some(class) = RetentionClass::parse(c) else {
                    return err(
                        "audit_class",
                        format!(
                            "unknown audit class `{c}`; expected one of {}",
                            RetentionClass::NAMES
                        ),
                    );
                };
                if class != RetentionClass::Metadata && !sealed_payloads {
                    return err(
                        "audit_class",
                        format!("audit class `{c}` keeps payloads, which need [audit] master_key"),
                    );
                }
                Some(class)
            }
        };
        for (param, zero) in [
            ("rpm", self.rpm == Some(0)),
            ("tpm", self.tpm == Some(0)),
            ("max_concurrency", self.max_concurrency == Some(0)),
        ] {
            if zero {
                return err(param, format!("`{param}` must be at least 1"));
            }
        }
        let budget_period = match self.budget_period.as_deref() {
            None => None,
            Some("day") => Some(BudgetPeriod::Day),
            Some("month") => Some(BudgetPeriod::Month),
            Some(other) => {
                return err(
                    "budget_period",
                    format!("unknown budget period `{other}`; expected day or month"),
                );
            }
        };
        if self.budget_usd.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
            return err(
                "budget_usd",
                "`budget_usd` must be a positive amount".into(),
            );
        }
        if self.budget_usd.is_some() != budget_period.is_some() {
            let param = if self.budget_usd.is_some() {
                "budget_period"
            } else {
                "budget_usd"
            };
            return err(param, "`budget_usd` and `budget_period` go together".into());
        }
        if let Some(t) = &self.team {
            label("team", t)?;
        }
        let expires_ms = match &self.expires {
            None => None,
            Some(t) => {
                let (ms, shown) = match t {
                    TimeArg::Ms(ms) => (*ms, ms.to_string()),
                    TimeArg::Text(s) => (
                        crate::parse_time(s).map_err(|message| InvalidKey {
                            param: "expires",
                            message,
                        })?,
                        s.clone(),
                    ),
                };
                if ms <= now_ms {
                    return err("expires", format!("`expires` {shown} is in the past"));
                }
                Some(ms)
            }
        };
        if self
            .cache_ttl_s
            .is_some_and(|t| !(1..=MAX_CACHE_TTL_S).contains(&t))
        {
            return err(
                "cache_ttl_s",
                format!("`cache_ttl_s` must be between 1 and {MAX_CACHE_TTL_S} seconds (30 days)"),
            );
        }
        let cache_scope = match self.cache_scope.as_deref() {
            None => None,
            Some(_) if self.cache_ttl_s.is_none() => {
                return err("cache_scope", "`cache_scope` needs `cache_ttl_s`".into());
            }
            Some("key") => Some(CacheScope::Key),
            Some("team") => Some(CacheScope::Team),
            Some("org") => Some(CacheScope::Org),
            Some(other) => {
                return err(
                    "cache_scope",
                    format!("unknown cache scope `{other}`; expected key, team or org"),
                );
            }
        };
        let placement = match self.placement.as_deref() {
            None => None,
            Some(text) => Some(Placement::parse(text).map_err(|e| InvalidKey {
                param: "placement",
                message: format!("`placement` {e}"),
            })?),
        };
        Ok(KeyScope {
            models: self.models.clone(),
            direct: self.direct,
            policy: self.policy.clone(),
            audit_class,
            rpm: self.rpm,
            tpm: self.tpm,
            max_concurrency: self.max_concurrency,
            budget_usd: self.budget_usd,
            budget_period,
            team: self.team.clone(),
            expires_ms,
            cache_ttl_s: self.cache_ttl_s,
            cache_scope,
            placement,
            tools: self.tools.clone(),
            console: self.console,
            labels: self.labels.clone(),
            subject_grants: self.subject_grants,
            collections: self.collections.clone(),
            ingest: self.ingest.clone(),
        })
    }
}

/// `sha256:` and the lowercase hex SHA-256 of the secret: the only form a secret is stored in.
pub fn hash_secret(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    format!("sha256:{}", hex(d.as_ref()))
}

/// Whether any of a key's scope patterns (models, tools, collections) matches `name`; an empty
/// list allows nothing. The one scope check: stored keys, config keys (through the server's
/// `Caller`) and retrieval grants all ask it.
pub fn scope_allows(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob_match(p, name))
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

    fn new_key(edit: impl FnOnce(&mut NewKey)) -> NewKey {
        let mut k = NewKey {
            name: "app".into(),
            models: vec!["chat".into()],
            ..NewKey::default()
        };
        edit(&mut k);
        k
    }

    #[test]
    fn new_keys_are_checked_field_by_field() {
        const NOW: i64 = 1_795_946_400_000;
        let check = |k: NewKey, sealed: bool| k.scope(|p| p == "default", sealed, NOW);
        for (k, sealed, param) in [
            (new_key(|k| k.name = " ".into()), false, "name"),
            (new_key(|k| k.name = "x".repeat(101)), false, "name"),
            (new_key(|k| k.models.clear()), false, "models"),
            (new_key(|k| k.models.push(String::new())), false, "models"),
            (new_key(|k| k.tools.push(" ".into())), false, "tools"),
            (new_key(|k| k.tools.push("t".repeat(201))), false, "tools"),
            (new_key(|k| k.policy = Some("nope".into())), false, "policy"),
            (
                new_key(|k| k.audit_class = Some("all".into())),
                true,
                "audit_class",
            ),
            (
                new_key(|k| k.audit_class = Some("full".into())),
                false,
                "audit_class",
            ),
            (new_key(|k| k.rpm = Some(0)), false, "rpm"),
            (new_key(|k| k.tpm = Some(0)), false, "tpm"),
            (
                new_key(|k| k.max_concurrency = Some(0)),
                false,
                "max_concurrency",
            ),
            (
                new_key(|k| k.budget_period = Some("week".into())),
                false,
                "budget_period",
            ),
            (
                new_key(|k| k.budget_usd = Some(5.0)),
                false,
                "budget_period",
            ),
            (
                new_key(|k| k.budget_period = Some("day".into())),
                false,
                "budget_usd",
            ),
            (
                new_key(|k| {
                    k.budget_usd = Some(-1.0);
                    k.budget_period = Some("day".into());
                }),
                false,
                "budget_usd",
            ),
            (new_key(|k| k.team = Some("a\nb".into())), false, "team"),
            (
                new_key(|k| k.expires = Some(TimeArg::Ms(NOW))),
                false,
                "expires",
            ),
            (
                new_key(|k| k.expires = Some(TimeArg::Text("soon".into()))),
                false,
                "expires",
            ),
            (
                new_key(|k| k.expires = Some(TimeArg::Text("2020-01-01".into()))),
                false,
                "expires",
            ),
            (new_key(|k| k.cache_ttl_s = Some(0)), false, "cache_ttl_s"),
            (
                new_key(|k| k.cache_ttl_s = Some(MAX_CACHE_TTL_S + 1)),
                false,
                "cache_ttl_s",
            ),
            (
                new_key(|k| k.cache_scope = Some("team".into())),
                false,
                "cache_scope",
            ),
            (
                new_key(|k| {
                    k.cache_ttl_s = Some(60);
                    k.cache_scope = Some("world".into());
                }),
                false,
                "cache_scope",
            ),
            (
                new_key(|k| k.placement = Some("trust=public".into())),
                false,
                "placement",
            ),
            (
                new_key(|k| k.placement = Some("zone=eu".into())),
                false,
                "placement",
            ),
            (
                new_key(|k| k.placement = Some(String::new())),
                false,
                "placement",
            ),
        ] {
            let got = check(k.clone(), sealed);
            assert_eq!(got.map_err(|e| e.param), Err(param), "{k:?}");
        }
        let ok = check(
            new_key(|k| {
                k.models.clear();
                k.direct = true;
                k.policy = Some("default".into());
                k.audit_class = Some("redacted".into());
                k.budget_usd = Some(2.5);
                k.budget_period = Some("month".into());
                k.team = Some("payments".into());
                k.expires = Some(TimeArg::Text("2026-12-01T00:00:00Z".into()));
                k.cache_ttl_s = Some(3600);
                k.cache_scope = Some("org".into());
                k.placement = Some("region=eu,ch; trust=private".into());
            }),
            true,
        )
        .unwrap();
        assert_eq!(
            ok.placement.as_ref().map(ToString::to_string).as_deref(),
            Some("trust=private;region=ch,eu")
        );
        assert_eq!(
            (ok.cache_ttl_s, ok.cache_scope),
            (Some(3600), Some(CacheScope::Org))
        );
        assert_eq!(ok.audit_class, Some(RetentionClass::Redacted));
        assert_eq!(ok.budget_period, Some(BudgetPeriod::Month));
        assert_eq!(ok.expires_ms, Some(1_796_083_200_000));
        assert!(ok.tools.is_empty(), "no tools unless given");
        let tools_only = check(
            new_key(|k| {
                k.models.clear();
                k.tools = vec!["crm__lookup_*".into(), "t".repeat(200)];
            }),
            false,
        )
        .unwrap();
        assert_eq!(
            tools_only.tools,
            ["crm__lookup_*".to_owned(), "t".repeat(200)]
        );
    }

    #[test]
    fn scope_allows_any_pattern_and_nothing_when_empty() {
        let p = |v: &[&str]| v.iter().map(|&s| s.to_owned()).collect::<Vec<_>>();
        for (patterns, name, expect) in [
            (p(&[]), "gpt-4o", false),
            (p(&["*"]), "gpt-4o", true),
            (p(&["claude-*", "gpt-4?"]), "gpt-4o", true),
            (p(&["claude-*", "gpt-4?"]), "gpt-4o-mini", false),
            (p(&["docs"]), "docs-eu", false),
            (p(&["docs*"]), "docs-eu", true),
        ] {
            assert_eq!(scope_allows(&patterns, name), expect, "{patterns:?} {name}");
        }
    }

    #[test]
    fn tools_are_allowed_by_glob_and_none_by_default() {
        let record = |tools: &[&str]| KeyRecord {
            id: "key_1".into(),
            name: "app".into(),
            prefix: "sk-seam-abcd".into(),
            created_ms: 0,
            revoked_ms: None,
            scope: KeyScope {
                tools: tools.iter().map(|&t| t.to_owned()).collect(),
                ..KeyScope::default()
            },
        };
        let k = record(&["crm__lookup_*", "files__read"]);
        for (name, allowed) in [
            ("crm__lookup_customer", true),
            ("crm__lookup_", true),
            ("crm__delete_customer", false),
            ("files__read", true),
            ("files__read_all", false),
            ("other__files__read", false),
        ] {
            assert_eq!(k.allows_tool(name), allowed, "{name}");
        }
        assert!(!record(&[]).allows_tool("crm__lookup_customer"));
        assert!(record(&["*"]).allows_tool("anything__at_all"));
    }

    #[test]
    fn new_keys_refuse_unknown_fields() {
        let e = serde_json::from_str::<NewKey>(r#"{"name": "a", "modles": ["x"]}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `modles`"), "{e}");
        let k: NewKey = serde_json::from_str(r#"{"name": "a", "expires": 5}"#).unwrap();
        assert_eq!(k.expires, Some(TimeArg::Ms(5)));
    }

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
        assert_eq!(scope.placement, None, "keys without one are unconstrained");
        assert!(
            scope.tools.is_empty(),
            "keys stored before tools may use none"
        );
    }

    #[test]
    fn a_placement_is_stored_as_its_text_and_read_back() {
        let scope = KeyScope {
            models: vec!["chat".into()],
            placement: Some(Placement::parse("trust=private;region=eu").unwrap()),
            ..KeyScope::default()
        };
        let json = serde_json::to_value(&scope).unwrap();
        assert_eq!(json["placement"], "trust=private;region=eu");
        let back: KeyScope = serde_json::from_value(json).unwrap();
        assert_eq!(back, scope);
    }
}
