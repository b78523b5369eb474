//! The per-request token vault of `tokenize`: value ↔ `[ENTITY_N]`.
//!
//! One vault lives exactly as long as one request. The same value gets the same token wherever it
//! appears in the request, so the model sees consistent references; numbering is per entity and
//! starts at 1. Only tokens minted here are ever restored, so a token the model invents or alters
//! stays as written.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Vault {
    /// Token text → value.
    by_token: HashMap<String, String>,
    /// (entity, value) → token text.
    by_value: HashMap<(&'static str, String), String>,
    /// The last number used per entity.
    counters: HashMap<&'static str, u32>,
    /// The longest token minted, in bytes: how much a streaming restorer must hold back.
    longest: usize,
}

impl Vault {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token for `value`, minting one the first time the value is seen.
    pub fn token_for(&mut self, entity: &'static str, value: &str) -> String {
        if let Some(t) = self.by_value.get(&(entity, value.to_owned())) {
            return t.clone();
        }
        let n = self.counters.entry(entity).or_insert(0);
        *n += 1;
        let token = format!("[{entity}_{n}]");
        self.longest = self.longest.max(token.len());
        self.by_token.insert(token.clone(), value.to_owned());
        self.by_value
            .insert((entity, value.to_owned()), token.clone());
        token
    }

    /// The value a token stands for, if this vault minted it.
    pub fn value_of(&self, token: &str) -> Option<&str> {
        self.by_token.get(token).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// The length of the longest token, in bytes (0 when empty).
    pub fn longest_token(&self) -> usize {
        self.longest
    }

    /// Every (token, value) pair minted.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_token.iter().map(|(t, v)| (t.as_str(), v.as_str()))
    }

    /// `text` with each minted value replaced by its token again (longest values first), so a
    /// restored answer can be kept in the form the vendor saw.
    pub fn remask(&self, text: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = self.pairs().collect();
        pairs.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let mut out = text.to_owned();
        for (token, value) in pairs {
            if !value.is_empty() && out.contains(value) {
                out = out.replace(value, token);
            }
        }
        out
    }

    /// The original values, so an output scan can tell the caller's own data from new data.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.by_token.values().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_token_numbered_per_entity() {
        let mut v = Vault::new();
        let a = v.token_for("EMAIL_ADDRESS", "a@example.com");
        let b = v.token_for("EMAIL_ADDRESS", "b@example.com");
        let c = v.token_for("CREDIT_CARD", "4111111111111111");
        assert_eq!(a, "[EMAIL_ADDRESS_1]");
        assert_eq!(b, "[EMAIL_ADDRESS_2]");
        assert_eq!(c, "[CREDIT_CARD_1]");
        assert_eq!(v.token_for("EMAIL_ADDRESS", "a@example.com"), a);
        assert_eq!(v.value_of("[EMAIL_ADDRESS_2]"), Some("b@example.com"));
        assert_eq!(v.value_of("[EMAIL_ADDRESS_3]"), None);
        assert_eq!(v.len(), 3);
        assert_eq!(v.longest_token(), "[EMAIL_ADDRESS_1]".len());
        assert_eq!(
            v.remask("to a@example.com, b@example.com; card 4111111111111111"),
            "to [EMAIL_ADDRESS_1], [EMAIL_ADDRESS_2]; card [CREDIT_CARD_1]"
        );
    }
}
