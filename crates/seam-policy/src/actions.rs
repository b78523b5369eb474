//! What replaces a value: `redact`, `mask`, `hash` and `tokenize`. `allow`, `block` and
//! `route_private` leave the text alone and are decided by the engine.

use ring::hmac;

use crate::vault::Vault;

/// `<EMAIL_ADDRESS>`.
pub fn redact(entity: &str) -> String {
    format!("<{entity}>")
}

/// Every letter and digit but the last four becomes `*`; separators stay, so the shape of the
/// value stays readable (`**** **** **** 1111`).
pub fn mask(value: &str) -> String {
    let keep_from = value
        .char_indices()
        .filter(|(_, c)| c.is_alphanumeric())
        .map(|(i, _)| i)
        .rev()
        .nth(3)
        .unwrap_or(0);
    value
        .char_indices()
        .map(|(i, c)| {
            if i < keep_from && c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// A keyed digest of a value: the same value under the same key always gives the same output, so
/// joins and counts still work, and without the key nobody can test guesses against it.
#[derive(Clone)]
pub struct Hasher {
    key: hmac::Key,
}

impl Hasher {
    pub fn new(key: &[u8]) -> Self {
        Hasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// `<EMAIL_ADDRESS:1f2e3d4c5b6a7980>`: 64 bits of HMAC-SHA256 over the entity and the value.
    pub fn hash(&self, entity: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(entity.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        let tag = ctx.sign();
        let mut hex = String::with_capacity(16);
        for b in tag.as_ref().iter().take(8) {
            hex.push_str(&format!("{b:02x}"));
        }
        format!("<{entity}:{hex}>")
    }
}

/// `[EMAIL_ADDRESS_1]`, minted in the request's vault.
pub fn tokenize(vault: &mut Vault, entity: &'static str, value: &str) -> String {
    vault.token_for(entity, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_the_last_four_and_the_shape() {
        assert_eq!(mask("4111 1111 1111 1111"), "**** **** **** 1111");
        assert_eq!(mask("123-45-6789"), "***-**-6789");
        assert_eq!(mask("abc"), "abc");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn hash_is_stable_per_key_and_differs_across_keys() {
        let a = Hasher::new(b"key-one");
        let b = Hasher::new(b"key-two");
        let h = a.hash("EMAIL_ADDRESS", "ada@example.com");
        assert_eq!(h, a.hash("EMAIL_ADDRESS", "ada@example.com"));
        assert_ne!(h, b.hash("EMAIL_ADDRESS", "ada@example.com"));
        assert_ne!(h, a.hash("EMAIL_ADDRESS", "bob@example.com"));
        assert!(h.starts_with("<EMAIL_ADDRESS:") && h.len() == "<EMAIL_ADDRESS:>".len() + 16);
        assert!(!h.contains("ada"));
    }
}
