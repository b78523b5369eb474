//! CRYPTO: Bitcoin addresses (legacy and P2SH by base58check, SegWit by bech32/bech32m, both
//! checksummed) and Ethereum addresses (`0x` + 40 hex digits, well-formed only: EIP-55's
//! mixed-case checksum needs Keccak, which this crate does not carry).
//!
//! Every address is at least 26 characters, so candidates come from [`long_tokens`], which
//! skips prose of short words without looking at most of its bytes.

use super::scan::{finding, long_tokens};
use crate::validators;
use crate::{Detector, Finding};

const ENTITY: &str = "CRYPTO";
const NAME: &str = "crypto";

const CHECKSUM_SCORE: f32 = 0.95;
/// `0x` and exactly 40 hex digits is the address shape, but a hash can take it too.
const ETH_SCORE: f32 = 0.75;
/// Shortest address looked for (a legacy address with leading zero bytes).
const MIN_LEN: usize = 26;

const CONTEXT: &[(&str, &[&str])] = &[(
    ENTITY,
    &[
        "bitcoin",
        "btc",
        "wallet",
        "ethereum",
        "ether address",
        "crypto",
    ],
)];

pub struct Crypto;

impl Crypto {
    pub fn new() -> Self {
        Crypto
    }
}

impl Detector for Crypto {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[ENTITY]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        long_tokens(text, MIN_LEN, |s, e| {
            if let Some(score) = score(&text.as_bytes()[s..e]) {
                out.push(finding(ENTITY, s, e, score, NAME));
            }
        });
    }
}

fn score(t: &[u8]) -> Option<f32> {
    match t {
        [b'0', b'x' | b'X', hex @ ..]
            if hex.len() == 40 && hex.iter().all(u8::is_ascii_hexdigit) =>
        {
            Some(ETH_SCORE)
        }
        [b'1' | b'3', ..] if validators::btc_base58check(t) => Some(CHECKSUM_SCORE),
        [b'b' | b'B', b'c' | b'C', b'1', ..] | [b't' | b'T', b'b' | b'B', b'1', ..]
            if validators::btc_segwit(t) =>
        {
            Some(CHECKSUM_SCORE)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let d = Crypto::new();
        let cases: &[(&str, &[&str])] = &[
            (
                "send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.",
                &["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"],
            ),
            (
                "p2sh 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
                &["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"],
            ),
            (
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                &["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"],
            ),
            (
                "taproot: bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
                &["bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"],
            ),
            (
                "eth 0x52908400098527886E0F7030069857D2E4169EE7",
                &["0x52908400098527886E0F7030069857D2E4169EE7"],
            ),
            // Bad checksums, wrong lengths, glued, hashes and ids of similar length.
            ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", &[]),
            ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", &[]),
            ("0x52908400098527886E0F7030069857D2E4169EE", &[]),
            ("x1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", &[]),
            ("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", &[]),
            (
                "12345678901234567890123456789 and 33333333333333333333333333",
                &[],
            ),
            ("0x52908400098527886E0F7030069857D2E4169EE7_suffix", &[]),
        ];
        for (text, expect) in cases {
            let mut out = Vec::new();
            d.detect(text, &mut out);
            let got: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }
}
