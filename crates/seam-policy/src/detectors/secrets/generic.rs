//! SECRET_GENERIC: a token after a key word ("api_key", "token", "bearer"…) that is random enough
//! to be a credential: long, of mixed character classes, with high Shannon entropy.

use super::is_placeholder;
use crate::Finding;

/// Words after which a high-entropy token is taken for a credential.
pub(super) const KEY_WORDS: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "api key",
    "access_key",
    "access key",
    "accesskey",
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "bearer",
    "authorization",
    "credential",
    "private_key",
];
/// The most bytes between a key word and its value ("api_key": "…", "token for prod is …").
const KEY_GAP: usize = 40;
const GENERIC_MIN_LEN: usize = 20;
const GENERIC_MAX_LEN: usize = 512;
/// Bits per character. Random base62 of length 20 sits near 4.0 (under 3.3 once in 10^4); words
/// and repeated placeholders stay under it.
const GENERIC_MIN_ENTROPY: f32 = 3.3;
/// Hex has 16 symbols: random hex of length 32 sits near 3.7, under 3.0 once in 10^4.
const HEX_MIN_ENTROPY: f32 = 3.0;
/// Letters only: 32 random letters sit near 4.5 bits, identifiers like `getAccessTokenFromCache`
/// near 3.9.
const LETTERS_MIN_ENTROPY: f32 = 4.3;
const GENERIC_SCORE: f32 = 0.7;

/// Finding spans sorted by start, each end raised to the furthest end so far, so "does anything
/// overlap s..e" is one binary search.
pub(super) fn reach_sorted(found: &[Finding]) -> Vec<(usize, usize)> {
    let mut taken: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
    taken.sort_unstable();
    let mut reach = 0;
    for t in &mut taken {
        reach = reach.max(t.1);
        t.1 = reach;
    }
    taken
}

/// High-entropy tokens after key words, where no specific rule already found something.
pub(super) fn generic(
    text: &str,
    key_words: &[usize],
    taken: &[(usize, usize)],
    out: &mut Vec<Finding>,
) {
    let mut last_end = 0;
    for &end in key_words {
        let Some((s, e)) = generic_after(text, end) else {
            continue;
        };
        let i = taken.partition_point(|&(ts, _)| ts < e);
        let clear = i == 0 || taken[i - 1].1 <= s;
        // Two key words before one token ("api_key token: …") report it once.
        if clear && s >= last_end {
            last_end = e;
            out.push(Finding {
                entity: "SECRET_GENERIC",
                start: s,
                end: e,
                score: GENERIC_SCORE,
                detector: "secrets",
            });
        }
    }
}

/// A high-entropy token within `KEY_GAP` bytes after a key word, on the same line.
fn generic_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() && i - from <= KEY_GAP {
        let b = bytes[i];
        if b == b'\n' {
            return None;
        }
        if !is_token_byte(b) {
            i += 1;
            continue;
        }
        let start = i;
        // A run longer than any credential is data, not a key; stopping there keeps many key
        // words inside one long run from rescanning it.
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
            if i - start > GENERIC_MAX_LEN {
                return None;
            }
        }
        while i < bytes.len() && bytes[i] == b'=' {
            i += 1;
        }
        let mut end = i;
        while end > start && bytes[end - 1] == b'.' {
            end -= 1;
        }
        if end - start >= GENERIC_MIN_LEN {
            return is_high_entropy(&text[start..end]).then_some((start, end));
        }
    }
    None
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'.' | b'~')
}

/// Mixed character classes and enough Shannon entropy: upper, lower and digits together, or one
/// case with a real share of digits (hex keys), or both cases over a long run with the entropy of
/// random letters rather than of a camelCase identifier; never a placeholder.
fn is_high_entropy(v: &str) -> bool {
    let b = v.as_bytes();
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let e = entropy(b);
    let ok = if digits > 0 {
        (upper && lower) || ((upper || lower) && digits * 100 >= b.len() * 15)
    } else {
        upper && lower && b.len() >= 32 && e >= LETTERS_MIN_ENTROPY
    };
    let floor = if b.iter().all(u8::is_ascii_hexdigit) {
        HEX_MIN_ENTROPY
    } else {
        GENERIC_MIN_ENTROPY
    };
    ok && !is_placeholder(v) && e >= floor
}

/// Shannon entropy in bits per byte.
pub(super) fn entropy(b: &[u8]) -> f32 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f32;
    counts
        .iter()
        .filter(|&&k| k > 0)
        .map(|&k| {
            let p = k as f32 / n;
            -p * p.log2()
        })
        .sum()
}
