//! Compiled regexes and JSON Schemas, keyed by their source, so that grading the same assertion
//! over many outputs compiles each once.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use jsonschema::Validator;
use regex::Regex;

/// Entries kept per cache; a full cache is emptied (suites rarely hold this many distinct values).
const CAPACITY: usize = 512;

static REGEXES: LazyLock<Bounded<Regex>> = LazyLock::new(Bounded::default);
static SCHEMAS: LazyLock<Bounded<Arc<Validator>>> = LazyLock::new(Bounded::default);

/// `pattern` compiled (Rust `regex` syntax: no look-around or backreferences).
pub(super) fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    REGEXES.get_or_try_insert(pattern, || Regex::new(pattern))
}

/// `schema` compiled; `key` is its serialized form.
pub(super) fn schema(key: &str, schema: &serde_json::Value) -> Result<Arc<Validator>, String> {
    SCHEMAS.get_or_try_insert(key, || {
        jsonschema::validator_for(schema)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
}

struct Bounded<V> {
    map: Mutex<HashMap<String, V>>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Bounded<V> {
    fn get_or_try_insert<E>(&self, key: &str, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.lock().get(key) {
            return Ok(v.clone());
        }
        // Compiled outside the lock: two threads may both compile a new key, which is harmless.
        let v = make()?;
        let mut map = self.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    /// A panic elsewhere while holding the lock leaves a map that is still valid.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, V>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
