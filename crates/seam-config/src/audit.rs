//! `[audit]`: the audit trail's keys, durability and retention. Where records live is `[storage]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{ConfigError, Resolver, Secret};

/// What a record keeps of a request's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditClass {
    /// The request as sent, as sent upstream, and the response; encrypted.
    Full,
    /// The post-policy texts only; encrypted.
    Redacted,
    /// No texts.
    Metadata,
}

impl AuditClass {
    pub const NAMES: &'static str = "full, redacted, metadata";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "full" => AuditClass::Full,
            "redacted" => AuditClass::Redacted,
            "metadata" => AuditClass::Metadata,
            _ => return None,
        })
    }

    pub fn keeps_payloads(self) -> bool {
        self != AuditClass::Metadata
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// A response completes only once its record is committed (grouped across requests).
    Sync,
    /// Records go through a bounded queue with a disk spool; a response does not wait.
    Async,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    pub class: AuditClass,
    /// Payloads older than this are dropped (the record stays).
    pub payload_days: Option<u32>,
    /// Records older than this are deleted.
    pub record_days: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct AuditConfig {
    pub enabled: bool,
    /// 32 bytes: encrypts payloads (through per-subject keys), keys subject hashes, signs
    /// checkpoints. Without it only `metadata` records can be kept.
    pub master_key: Option<MasterKey>,
    pub durability: Durability,
    pub default_class: AuditClass,
    pub retention: Vec<RetentionRule>,
    /// Async: records queued in memory before they spill to the spool.
    pub queue: usize,
    /// Async: where records spill when the queue is full.
    pub spool_dir: PathBuf,
    /// How often `seam serve` applies retention.
    pub purge_interval: Duration,
    /// Refusals before any upstream call recorded one by one per second; past it, they are
    /// counted per (key, endpoint, status, error code) and written as one record per second.
    pub refusals_per_second: u32,
}

/// The master key's 32 bytes; `Debug` never prints them.
#[derive(Clone)]
pub struct MasterKey(pub [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawAudit {
    pub enabled: Option<bool>,
    pub master_key: Option<String>,
    pub durability: Option<String>,
    pub default_class: Option<String>,
    #[serde(default)]
    pub retention: Vec<RawRetention>,
    pub queue: Option<u64>,
    pub spool_dir: Option<String>,
    pub purge_interval_s: Option<u64>,
    pub refusals_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRetention {
    pub class: Option<String>,
    pub payload_days: Option<u32>,
    pub record_days: Option<u32>,
}

pub(crate) fn class(path: &str, s: &str, errors: &mut Vec<ConfigError>) -> Option<AuditClass> {
    let c = AuditClass::parse(s);
    if c.is_none() {
        errors.push(ConfigError::new(
            path,
            format!(
                "unknown class \"{s}\"; expected one of {}",
                AuditClass::NAMES
            ),
        ));
    }
    c
}

fn master_key(v: &str, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> Option<MasterKey> {
    let path = "audit.master_key";
    if !(v.starts_with("env:") || v.starts_with("file:")) {
        errors.push(ConfigError::new(
            path,
            "must be a reference (env:NAME or file:PATH), not the key itself",
        ));
        return None;
    }
    let secret: Secret = r.secret(path, v).map_err(|e| errors.push(e)).ok()?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret.expose().trim())
        .ok()
        .filter(|b| b.len() == 32);
    match bytes {
        Some(b) => {
            let mut k = [0u8; 32];
            k.copy_from_slice(&b);
            Some(MasterKey(k))
        }
        None => {
            errors.push(ConfigError::new(
                path,
                "must be 32 random bytes in base64 (openssl rand -base64 32)",
            ));
            None
        }
    }
}

pub(crate) fn audit(raw: RawAudit, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> AuditConfig {
    let master_key = raw
        .master_key
        .as_deref()
        .and_then(|v| master_key(v, r, errors));
    let durability = match raw.durability.as_deref() {
        None | Some("sync") => Durability::Sync,
        Some("async") => Durability::Async,
        Some(other) => {
            errors.push(ConfigError::new(
                "audit.durability",
                format!("unknown value \"{other}\"; expected sync or async"),
            ));
            Durability::Sync
        }
    };
    let fallback = if master_key.is_some() {
        AuditClass::Redacted
    } else {
        AuditClass::Metadata
    };
    let default_class = raw
        .default_class
        .as_deref()
        .and_then(|c| class("audit.default_class", c, errors))
        .unwrap_or(fallback);
    if default_class.keeps_payloads() && master_key.is_none() {
        errors.push(ConfigError::new(
            "audit.default_class",
            "keeps payloads, which are encrypted: set audit.master_key, or use \"metadata\"",
        ));
    }
    let mut retention = Vec::new();
    for (i, rr) in raw.retention.into_iter().enumerate() {
        let p = format!("audit.retention[{i}]");
        let Some(c) = rr.class.as_deref() else {
            errors.push(ConfigError::new(format!("{p}.class"), "is required"));
            continue;
        };
        let Some(c) = class(&format!("{p}.class"), c, errors) else {
            continue;
        };
        if retention.iter().any(|r: &RetentionRule| r.class == c) {
            errors.push(ConfigError::new(
                format!("{p}.class"),
                "a class may have one retention rule",
            ));
        }
        if let (Some(pd), Some(rd)) = (rr.payload_days, rr.record_days)
            && pd > rd
        {
            errors.push(ConfigError::new(
                format!("{p}.payload_days"),
                "must not exceed record_days (a payload cannot outlive its record)",
            ));
        }
        for (field, v) in [
            ("payload_days", rr.payload_days),
            ("record_days", rr.record_days),
        ] {
            if v == Some(0) {
                errors.push(ConfigError::new(
                    format!("{p}.{field}"),
                    "must be at least 1",
                ));
            }
        }
        retention.push(RetentionRule {
            class: c,
            payload_days: rr.payload_days,
            record_days: rr.record_days,
        });
    }
    let queue = match raw.queue {
        Some(0) => {
            errors.push(ConfigError::new("audit.queue", "must be at least 1"));
            10_000
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => 10_000,
    };
    let purge_interval = match raw.purge_interval_s {
        Some(0) => {
            errors.push(ConfigError::new(
                "audit.purge_interval_s",
                "must be at least 1",
            ));
            Duration::from_secs(3600)
        }
        Some(n) => Duration::from_secs(n),
        None => Duration::from_secs(3600),
    };
    AuditConfig {
        enabled: raw.enabled.unwrap_or(true),
        master_key,
        durability,
        default_class,
        retention,
        queue,
        spool_dir: r
            .base_dir
            .join(raw.spool_dir.as_deref().unwrap_or("seam-data/audit-spool")),
        purge_interval,
        refusals_per_second: raw
            .refusals_per_second
            .unwrap_or(DEFAULT_REFUSALS_PER_SECOND),
    }
}

/// Enough for every honest client's mistakes; a flood past it costs one record per second per
/// (key, endpoint, status, error code).
pub const DEFAULT_REFUSALS_PER_SECOND: u32 = 50;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code

    fn refusals_per_second(toml: &str) -> u32 {
        let r = crate::Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        let cfg = crate::from_toml(&format!("[audit]\n{toml}\n"), &r).unwrap();
        cfg.audit.refusals_per_second
    }

    #[test]
    fn refusals_per_second_has_a_default_and_may_be_zero() {
        assert_eq!(refusals_per_second(""), super::DEFAULT_REFUSALS_PER_SECOND);
        assert_eq!(refusals_per_second("refusals_per_second = 0"), 0);
        assert_eq!(refusals_per_second("refusals_per_second = 500"), 500);
    }
}
