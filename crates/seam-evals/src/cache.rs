//! Record/replay: every answer (and every judge's grading answer) is stored under the SHA-256 of
//! the endpoint and the exact request body, so a second run of the same suite asks nobody and
//! grades the same texts — deterministic and free in CI. One small JSON file per entry, written
//! atomically (temporary file, then rename), so concurrent runs never read half an entry.

use std::path::PathBuf;

use serde_json::Value;

use crate::Output;

#[derive(Clone, Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
    /// `--no-cache`: ask the endpoint even when an entry exists (and record the new answer).
    read: bool,
}

/// The entry name for a request: hex SHA-256 of the endpoint and the canonical body.
pub fn key(base_url: &str, body: &Value) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(base_url.trim_end_matches('/').as_bytes());
    ctx.update(&[0]);
    // serde_json's maps are ordered by key here, so equal bodies serialise equally.
    ctx.update(body.to_string().as_bytes());
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Cache {
    /// A cache in `dir`; `read = false` only records.
    pub fn new(dir: Option<PathBuf>, read: bool) -> Cache {
        Cache { dir, read }
    }

    pub fn off() -> Cache {
        Cache {
            dir: None,
            read: false,
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(
            dir.join(&key[..2.min(key.len())])
                .join(format!("{key}.json")),
        )
    }

    pub fn get(&self, key: &str) -> Option<Output> {
        if !self.read {
            return None;
        }
        let text = std::fs::read_to_string(self.path(key)?).ok()?;
        let mut out: Output = serde_json::from_str(&text).ok()?;
        out.cached = true;
        Some(out)
    }

    /// Best effort: a cache that cannot be written only costs the next run a request.
    pub fn put(&self, key: &str, out: &Output) {
        let Some(path) = self.path(key) else {
            return;
        };
        let Some(parent) = path.parent() else {
            return;
        };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let Ok(text) = serde_json::to_string(out) else {
            return;
        };
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_then_replays_and_keys_ignore_field_order() {
        let dir = std::env::temp_dir().join(format!("seam-eval-cache-{}", std::process::id()));
        let c = Cache::new(Some(dir.clone()), true);
        let a: Value =
            serde_json::from_str(r#"{"model":"m","messages":[],"temperature":0}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"temperature":0,"messages":[],"model":"m"}"#).unwrap();
        assert_eq!(key("http://x/v1/", &a), key("http://x/v1", &b));
        assert_ne!(key("http://x/v1", &a), key("http://y/v1", &a));
        let k = key("http://x/v1", &a);
        assert!(c.get(&k).is_none());
        let out = Output {
            text: "hi".into(),
            latency_ms: 12.0,
            ..Output::default()
        };
        c.put(&k, &out);
        let back = c.get(&k).unwrap();
        assert!(back.cached);
        assert_eq!(back.text, "hi");
        // --no-cache: not read (but still recorded).
        assert!(Cache::new(Some(dir.clone()), false).get(&k).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
