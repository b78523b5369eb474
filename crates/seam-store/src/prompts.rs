//! The prompt registry's durable half (migration 8): every prompt version Seam has served, and
//! the tags that point at versions.
//!
//! A version is the content hash of a prompt file (`seam_prompts::version_of`), so a row is
//! immutable: storing a version again changes nothing, and the first time it was stored stays.
//! The files in the config folder are what Git reviews; these rows are what lets any audit
//! record's `prompt` (`name@version`) be shown years later, however the file changed since, and
//! what `prompt:NAME@VERSION` serves once the file has moved on. Prompt sources are templates
//! from a repository, not request data: they are kept in clear.
//!
//! Tags (`prod`, `canary`, …) are mutable pointers, shared by every replica on the store;
//! setting one is an upsert, and a tag may only point at a version the store holds.

use crate::db::{Conn, Val};
use crate::{StoreConfig, StoreError, now_ms};

/// One stored version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptVersion {
    pub name: String,
    pub version: String,
    /// The whole file: front matter and template.
    pub source: String,
    /// When Seam first stored it (Unix milliseconds).
    pub first_ms: i64,
}

/// One tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptTag {
    pub name: String,
    pub tag: String,
    pub version: String,
    pub updated_ms: i64,
}

/// Prompt versions and tags over one connection. Synchronous: call it from blocking code.
pub struct PromptStore {
    conn: Conn,
}

impl std::fmt::Debug for PromptStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptStore")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

impl PromptStore {
    /// Connects and applies pending migrations (the same ones [`crate::AuditLog::open`] runs).
    /// Only `cfg.backend` is used: nothing here is sealed.
    pub fn open(cfg: &StoreConfig) -> Result<PromptStore, StoreError> {
        Ok(PromptStore {
            conn: Conn::open_migrated(&cfg.backend)?,
        })
    }

    /// Keeps `source` as `name@version`; true when it was not stored before. The caller
    /// computed `version` from `source`; a second store of the same version changes nothing.
    pub fn put(&mut self, name: &str, version: &str, source: &str) -> Result<bool, StoreError> {
        let n = self.conn.exec(
            "INSERT INTO prompt_versions (name, version, source, first_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name, version) DO NOTHING",
            &[
                Val::Text(name.to_owned()),
                Val::Text(version.to_owned()),
                Val::Text(source.to_owned()),
                Val::Int(now_ms()),
            ],
        )?;
        Ok(n == 1)
    }

    /// The stored version, if any.
    pub fn get(&mut self, name: &str, version: &str) -> Result<Option<PromptVersion>, StoreError> {
        self.conn.query_opt(
            "SELECT name, version, source, first_ms FROM prompt_versions
             WHERE name = $1 AND version = $2",
            &[Val::Text(name.to_owned()), Val::Text(version.to_owned())],
            |r| {
                Ok(PromptVersion {
                    name: r.text(0)?.unwrap_or_default(),
                    version: r.text(1)?.unwrap_or_default(),
                    source: r.text(2)?.unwrap_or_default(),
                    first_ms: r.int(3)?.unwrap_or_default(),
                })
            },
        )
    }

    /// Every stored version of `name` (without sources), oldest first: `(version, first_ms)`.
    pub fn versions(&mut self, name: &str) -> Result<Vec<(String, i64)>, StoreError> {
        self.conn.query(
            "SELECT version, first_ms FROM prompt_versions WHERE name = $1
             ORDER BY first_ms, version",
            &[Val::Text(name.to_owned())],
            |r| {
                Ok((
                    r.text(0)?.unwrap_or_default(),
                    r.int(1)?.unwrap_or_default(),
                ))
            },
        )
    }

    /// Points `name@tag` at `version`, which must be stored. Returns the version it pointed at
    /// before, if any.
    pub fn set_tag(
        &mut self,
        name: &str,
        tag: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        if self.get(name, version)?.is_none() {
            return Err(StoreError::new(format!(
                "prompt {name} has no stored version {version}"
            )));
        }
        let before = self.tag(name, tag)?;
        self.conn.exec(
            "INSERT INTO prompt_tags (name, tag, version, updated_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name, tag) DO UPDATE SET version = excluded.version,
             updated_ms = excluded.updated_ms",
            &[
                Val::Text(name.to_owned()),
                Val::Text(tag.to_owned()),
                Val::Text(version.to_owned()),
                Val::Int(now_ms()),
            ],
        )?;
        Ok(before)
    }

    /// Removes a tag; false when there was none.
    pub fn delete_tag(&mut self, name: &str, tag: &str) -> Result<bool, StoreError> {
        let n = self.conn.exec(
            "DELETE FROM prompt_tags WHERE name = $1 AND tag = $2",
            &[Val::Text(name.to_owned()), Val::Text(tag.to_owned())],
        )?;
        Ok(n == 1)
    }

    /// The version `name@tag` points at.
    pub fn tag(&mut self, name: &str, tag: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_opt(
                "SELECT version FROM prompt_tags WHERE name = $1 AND tag = $2",
                &[Val::Text(name.to_owned()), Val::Text(tag.to_owned())],
                |r| r.text(0),
            )?
            .flatten())
    }

    /// Every tag of every prompt, by name then tag.
    pub fn tags(&mut self) -> Result<Vec<PromptTag>, StoreError> {
        self.conn.query(
            "SELECT name, tag, version, updated_ms FROM prompt_tags ORDER BY name, tag",
            &[],
            |r| {
                Ok(PromptTag {
                    name: r.text(0)?.unwrap_or_default(),
                    tag: r.text(1)?.unwrap_or_default(),
                    version: r.text(2)?.unwrap_or_default(),
                    updated_ms: r.int(3)?.unwrap_or_default(),
                })
            },
        )
    }
}
