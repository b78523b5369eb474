//! The encodings an attack hides its payload in, and their inverses where a detector needs them.
//! The same functions build the `encoding` probes and look for a leaked value in an answer, so a
//! detector always recognises exactly the encodings the library attacks with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// How an `encoding` probe disguises its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    Base64,
    Hex,
    Rot13,
    Leetspeak,
    /// Each ASCII character moved to the invisible Unicode tag block (U+E0000 + c).
    UnicodeTags,
}

impl Transform {
    pub const ALL: [Transform; 5] = [
        Transform::Base64,
        Transform::Hex,
        Transform::Rot13,
        Transform::Leetspeak,
        Transform::UnicodeTags,
    ];

    /// The name in probe files and generated probe ids (`unicode-tags`).
    pub fn name(self) -> &'static str {
        match self {
            Transform::Base64 => "base64",
            Transform::Hex => "hex",
            Transform::Rot13 => "rot13",
            Transform::Leetspeak => "leetspeak",
            Transform::UnicodeTags => "unicode-tags",
        }
    }

    pub fn apply(self, text: &str) -> String {
        match self {
            Transform::Base64 => STANDARD.encode(text),
            Transform::Hex => hex(text.as_bytes()),
            Transform::Rot13 => rot13(text),
            Transform::Leetspeak => leetspeak(text),
            Transform::UnicodeTags => to_tags(text),
        }
    }
}

/// Lower-case hex of every byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// ROT13 of ASCII letters; everything else unchanged.
pub fn rot13(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='m' | 'A'..='M' => char::from(c as u8 + 13),
            'n'..='z' | 'N'..='Z' => char::from(c as u8 - 13),
            _ => c,
        })
        .collect()
}

/// The common substitutions: a→4, e→3, i→1, o→0, s→5, t→7 (either case).
pub fn leetspeak(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_ascii_lowercase() {
            'a' => '4',
            'e' => '3',
            'i' => '1',
            'o' => '0',
            's' => '5',
            't' => '7',
            _ => c,
        })
        .collect()
}

/// Printable ASCII moved into the tag block; other characters are dropped, as tag characters
/// only mirror ASCII.
pub fn to_tags(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .filter_map(|c| char::from_u32(0xE0000 + u32::from(c)))
        .collect()
}

/// The visible character a tag or fullwidth form stands for, so a value spelled in either is
/// compared as ASCII; other characters are returned as they are.
pub fn fold_char(c: char) -> char {
    let u = u32::from(c);
    let folded = match u {
        0xE0020..=0xE007E => char::from_u32(u - 0xE0000),
        0xFF01..=0xFF5E => char::from_u32(u - 0xFEE0),
        _ => None,
    };
    folded.unwrap_or(c)
}

/// Whether `c` is in the Unicode tag block.
pub fn is_tag(c: char) -> bool {
    matches!(u32::from(c), 0xE0000..=0xE007F)
}

/// The base64 text that `value` produces wherever it sits in a longer encoded string: one core
/// per alignment (the characters that encode only `value`'s bits), so a value base64-encoded
/// inside a sentence is still found without decoding every run of the answer.
pub fn base64_cores(value: &[u8]) -> Vec<String> {
    let mut cores = Vec::with_capacity(3);
    for k in 0..3usize {
        let mut bytes = vec![0u8; k];
        bytes.extend_from_slice(value);
        let encoded = STANDARD.encode(&bytes);
        let start = (8 * k).div_ceil(6);
        let end = 8 * (k + value.len()) / 6;
        if let Some(core) = encoded.get(start..end)
            && core.len() >= 4
        {
            cores.push(core.to_owned());
        }
    }
    cores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        assert_eq!(Transform::Base64.apply("hi"), "aGk=");
        assert_eq!(Transform::Hex.apply("Hi"), "4869");
        assert_eq!(Transform::Rot13.apply("Hello, World!"), "Uryyb, Jbeyq!");
        assert_eq!(rot13(&rot13("abcXYZ 123")), "abcXYZ 123");
        assert_eq!(
            Transform::Leetspeak.apply("Ignore this test"),
            "1gn0r3 7h15 7357"
        );
        let tags = Transform::UnicodeTags.apply("Hi!\n");
        assert_eq!(tags.chars().count(), 3);
        assert!(tags.chars().all(is_tag));
        assert_eq!(tags.chars().map(fold_char).collect::<String>(), "Hi!");
        assert_eq!('４'.to_string(), "４");
        assert_eq!(fold_char('４'), '4');
    }

    #[test]
    fn base64_cores_are_found_at_every_alignment() {
        let value = b"SECRET-VALUE-123";
        let cores = base64_cores(value);
        assert_eq!(cores.len(), 3);
        for prefix in ["", "a", "ab", "abc", "The value is: "] {
            let mut text = prefix.as_bytes().to_vec();
            text.extend_from_slice(value);
            text.extend_from_slice(b" and more");
            let encoded = STANDARD.encode(&text);
            assert!(
                cores.iter().any(|c| encoded.contains(c.as_str())),
                "{prefix:?}: {encoded} {cores:?}"
            );
        }
    }
}
