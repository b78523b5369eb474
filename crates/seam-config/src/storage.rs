//! `[storage]`: where Seam keeps its data (SQLite or PostgreSQL) and the optional Redis shared by
//! replicas.

use std::path::PathBuf;

use serde::Deserialize;

use crate::{ConfigError, DEFAULT_STORAGE_URL, Resolver, Secret};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite {
        path: PathBuf,
        redis_url: Option<String>,
    },
    Postgres {
        url: Secret,
        redis_url: Option<String>,
    },
}

impl StorageConfig {
    /// `storage.redis_url`: shared counters and caches across replicas.
    pub fn redis_url(&self) -> Option<&str> {
        match self {
            StorageConfig::Sqlite { redis_url, .. } | StorageConfig::Postgres { redis_url, .. } => {
                redis_url.as_deref()
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStorage {
    pub url: Option<String>,
    pub redis_url: Option<String>,
}

pub(crate) fn storage(
    raw: RawStorage,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> StorageConfig {
    let url = raw.url.unwrap_or_else(|| DEFAULT_STORAGE_URL.into());
    let redis_url = match raw.redis_url {
        Some(u) if !u.starts_with("redis://") && !u.starts_with("rediss://") => {
            errors.push(ConfigError::new(
                "storage.redis_url",
                "must start with redis:// or rediss://",
            ));
            None
        }
        other => other,
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            errors.push(ConfigError::new("storage.url", "sqlite:// needs a path"));
        }
        return StorageConfig::Sqlite {
            path: r.base_dir.join(path),
            redis_url,
        };
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return StorageConfig::Postgres {
            url: Secret::new(url),
            redis_url,
        };
    }
    if url.starts_with("env:") || url.starts_with("file:") {
        return match r.secret("storage.url", &url) {
            Ok(s) if s.expose().starts_with("postgres") => {
                StorageConfig::Postgres { url: s, redis_url }
            }
            Ok(_) => {
                errors.push(ConfigError::new(
                    "storage.url",
                    "a secret storage url must be postgres://",
                ));
                StorageConfig::Sqlite {
                    path: PathBuf::new(),
                    redis_url,
                }
            }
            Err(e) => {
                errors.push(e);
                StorageConfig::Sqlite {
                    path: PathBuf::new(),
                    redis_url,
                }
            }
        };
    }
    errors.push(ConfigError::new(
        "storage.url",
        "must start with sqlite:// or postgres://",
    ));
    StorageConfig::Sqlite {
        path: PathBuf::new(),
        redis_url,
    }
}
