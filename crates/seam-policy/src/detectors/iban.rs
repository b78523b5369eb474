//! IBAN_CODE: a country code, two check digits and the BBAN, compact or in groups split by
//! spaces or dashes, exactly as long as the country's IBAN ([`LENGTHS`]), passing mod-97.
//!
//! Candidates are found from their check digits: two letters right before two digits, at the
//! start of a word. The length is known from the country, so the scan takes exactly that many
//! characters and demands that the value ends there, which keeps a following word out.

use super::scan::{finding, next_digit, word_at, word_before};
use crate::validators;
use crate::{Detector, Finding};

const ENTITY: &str = "IBAN_CODE";
const NAME: &str = "iban";
/// Mod-97 fails a random candidate 96 times in 97, and the length must match the country.
const SCORE: f32 = 0.95;

const CONTEXT: &[(&str, &[&str])] = &[(ENTITY, &["iban", "bank account", "account number", "bic"])];

/// IBAN length per country: SEPA members and the other countries that use IBANs widely
/// (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// The longest IBAN in [`LENGTHS`].
const MAX_LEN: usize = 32;

pub struct Iban;

impl Iban {
    pub fn new() -> Self {
        Iban
    }
}

impl Detector for Iban {
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
        let b = text.as_bytes();
        let mut i = 2;
        // Candidates are anchored on their check digits: two letters, then two digits.
        while let Some(p) = next_digit(b, i, b.len()) {
            let start = p - 2;
            if b[start].is_ascii_alphabetic()
                && b[p - 1].is_ascii_alphabetic()
                && b.get(p + 1).is_some_and(u8::is_ascii_digit)
                && !word_before(text, start)
            {
                if let Some(end) = iban_at(text, start) {
                    out.push(finding(ENTITY, start, end, SCORE, NAME));
                    i = end.max(p + 1);
                    continue;
                }
            }
            i = p + 1 + b[p + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        }
    }
}

/// The end of a valid IBAN starting at `start`, if there is one.
fn iban_at(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let country = [
        b[start].to_ascii_uppercase(),
        b[start + 1].to_ascii_uppercase(),
    ];
    let len = LENGTHS.iter().find(|(c, _)| **c == country)?.1;
    let mut buf = [0u8; MAX_LEN];
    let (mut n, mut pos) = (0, start);
    while n < len {
        match b.get(pos) {
            Some(&c) if c.is_ascii_alphanumeric() => {
                buf[n] = c;
                n += 1;
                pos += 1;
            }
            // One space or dash between groups, never doubled or trailing.
            Some(b' ' | b'-')
                if n >= 4 && b.get(pos + 1).is_some_and(u8::is_ascii_alphanumeric) =>
            {
                pos += 1
            }
            _ => return None,
        }
    }
    (!word_at(text, pos) && validators::iban_mod97(&buf[..len])).then_some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let d = Iban::new();
        let cases: &[(&str, &[&str])] = &[
            ("IBAN GB82WEST12345698765432.", &["GB82WEST12345698765432"]),
            (
                "pay to GB82 WEST 1234 5698 7654 32 today",
                &["GB82 WEST 1234 5698 7654 32"],
            ),
            (
                "DE89 3704 0044 0532 0130 00",
                &["DE89 3704 0044 0532 0130 00"],
            ),
            (
                "DE89-3704-0044-0532-0130-00",
                &["DE89-3704-0044-0532-0130-00"],
            ),
            (
                "fr1420041010050500013m02606",
                &["fr1420041010050500013m02606"],
            ),
            (
                "NL91ABNA0417164300 and BE68539007547034",
                &["NL91ABNA0417164300", "BE68539007547034"],
            ),
            ("NO9386011117947", &["NO9386011117947"]),
            // Bad check digits, wrong length, unknown country, glued, double spaces.
            ("GB82WEST12345698765433", &[]),
            ("GB82WEST1234569876543", &[]),
            ("GB82WEST123456987654321", &[]),
            ("QQ82WEST12345698765432", &[]),
            ("XGB82WEST12345698765432", &[]),
            ("GB82  WEST 1234 5698 7654 32", &[]),
            ("SHA AB12CD34EF56 and v2 and ES12 ok", &[]),
        ];
        for (text, expect) in cases {
            let mut out = Vec::new();
            d.detect(text, &mut out);
            let got: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }

    #[test]
    fn lengths_fit_the_buffer() {
        assert!(LENGTHS.iter().all(|&(_, n)| (15..=MAX_LEN).contains(&n)));
    }
}
