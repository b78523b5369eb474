//! ES_NIF, IT_FISCAL_CODE and DE_TAX_ID: European personal numbers with check characters.
//!
//! - ES_NIF: a DNI (`12345678Z`) or NIE (`X1234567L`), optionally with a dash before the
//!   letter; the letter is a mod-23 check ([`validators::es_nif`]).
//! - IT_FISCAL_CODE: 16 characters in the codice fiscale layout (letters for name and month,
//!   digits — or their omocodia letters — for year, day and place) with its check letter.
//! - DE_TAX_ID: the Steuer-IdNr, eleven digits bare or in groups, with the digit-repetition rule
//!   and an ISO 7064 MOD 11,10 check digit ([`validators::de_tax_id`]). One that passes the check
//!   but breaks the repetition rule or starts with 0 was never issued: it is reported only after
//!   a DE_TAX_ID context word, at [`UNISSUED`].

use super::UNISSUED;
use super::scan::{Gate, Run, finding, long_tokens, runs, word_at, word_before};
use crate::validators::{self, Verdict};
use crate::{Detector, Finding};

const NIF: &str = "ES_NIF";
const FISCAL: &str = "IT_FISCAL_CODE";
const DE_TAX: &str = "DE_TAX_ID";
const NAME: &str = "europe";

const SCORE: f32 = 0.95;
/// The check digit is one in ten; the repetition rule makes the rest of the evidence.
const DE_TAX_SCORE: f32 = 0.9;

const CONTEXT: &[(&str, &[&str])] = &[
    (NIF, &["nif", "nie", "dni", "documento nacional"]),
    (FISCAL, &["codice fiscale", "fiscal code", "c.f."]),
    (
        DE_TAX,
        // Mixed case as usually written, which the gate looks for besides lower, upper and
        // capitalised forms.
        &[
            "Steuer-ID",
            "steuerid",
            "Steuer-IdNr",
            "steueridentifikationsnummer",
            "identifikationsnummer",
            "IdNr",
            "tax ID",
            "steuernummer",
        ],
    ),
];

pub struct Europe {
    /// DE_TAX_ID's words, looked for only behind a Steuer-IdNr that was never issued.
    tax_words: Gate,
}

impl Europe {
    pub fn new() -> Self {
        Europe {
            tax_words: Gate::new(CONTEXT, &[DE_TAX]),
        }
    }
}

impl Detector for Europe {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[NIF, FISCAL, DE_TAX]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        runs(text, 0, text.len(), 7, |run| {
            for i in 0..run.len() {
                if let Some((s, e)) = nif(text, run, i) {
                    out.push(finding(NIF, s, e, SCORE, NAME));
                }
                let start = run.group(i).0;
                let (j, score) = match de_tax(text, run, i) {
                    Some((j, Verdict::Valid)) => (j, DE_TAX_SCORE),
                    Some((j, Verdict::Unissued)) if self.tax_words.near(text, start, DE_TAX) => {
                        (j, UNISSUED)
                    }
                    _ => continue,
                };
                out.push(finding(DE_TAX, start, run.group(j).1, score, NAME));
            }
        });
        long_tokens(text, 16, |s, e| {
            if e - s == 16 && fiscal_code(&text.as_bytes()[s..e]) {
                out.push(finding(FISCAL, s, e, SCORE, NAME));
            }
        });
    }
}

/// A DNI or NIE whose digits are group `i`.
fn nif(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (s, e) = run.group(i);
    let start = match run.width(i) {
        8 if run.starts_clean(i) => s,
        7 => {
            // NIE: X, Y or Z right before the digits, or before a dash.
            let p = if b.get(s.wrapping_sub(1)) == Some(&b'-') {
                s.checked_sub(2)?
            } else {
                s.checked_sub(1)?
            };
            (matches!(b[p], b'X' | b'Y' | b'Z') && !word_before(text, p)).then_some(p)?
        }
        _ => return None,
    };
    let letter_at = if b.get(e) == Some(&b'-') { e + 1 } else { e };
    let letter = *b.get(letter_at)?;
    if !letter.is_ascii_uppercase() || word_at(text, letter_at + 1) {
        return None;
    }
    let mut value = [0u8; 9];
    let digits = &b[s..e];
    let lead = usize::from(start < s);
    if lead == 1 {
        value[0] = b[start];
    }
    value[lead..lead + digits.len()].copy_from_slice(digits);
    value[8] = letter;
    validators::es_nif(&value).then_some((start, letter_at + 1))
}

/// A Steuer-IdNr starting at group `i` (eleven digits bare, or in groups of two to five with one
/// kind of separator): its last group and what [`validators::de_tax_id`] makes of it.
fn de_tax(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, Verdict)> {
    if i == 0 && run.group(0).0 > 0 && text.as_bytes()[run.group(0).0 - 1] == b'+' {
        return None;
    }
    let j = if run.width(i) == 11 {
        i
    } else {
        let sep = run.sep(i);
        let mut total = 0;
        let mut end = None;
        for j in i..run.len() {
            if !(2..=5).contains(&run.width(j)) || (j > i && run.sep(j - 1) != sep) {
                break;
            }
            total += run.width(j);
            if total >= 11 {
                end = (total == 11).then_some(j);
                break;
            }
        }
        let j = end?;
        if !matches!(sep, " " | "-" | "/") || run.extends(i, j, sep) {
            return None;
        }
        j
    };
    let d = run.digits(i, j)?;
    run.clean(i, j).then(|| (j, validators::de_tax_id(&d)))
}

/// The codice fiscale layout: surname and name letters, year, month letter, day, place, check.
/// Omocodia replaces digits with L–V when two people would share a code.
fn fiscal_code(t: &[u8]) -> bool {
    let digitish = |c: &u8| c.is_ascii_digit() || b"LMNPQRSTUVlmnpqrstuv".contains(c);
    t.len() == 16
        && t[..6].iter().all(u8::is_ascii_alphabetic)
        && t[6..8].iter().all(digitish)
        && b"ABCDEHLMPRSTabcdehlmprst".contains(&t[8])
        && t[9..11].iter().all(digitish)
        && t[11].is_ascii_alphabetic()
        && t[12..15].iter().all(digitish)
        && t[15].is_ascii_alphabetic()
        && validators::it_fiscal_code(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::detectors::scan::GATE_PATTERNS;

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("DNI 12345678Z.", &[(NIF, "12345678Z")]),
            ("nif: 12345678-Z", &[(NIF, "12345678-Z")]),
            (
                "NIE X1234567L and Y-1234567-X",
                &[(NIF, "X1234567L"), (NIF, "Y-1234567-X")],
            ),
            ("CF RSSMRA85T10A562S", &[(FISCAL, "RSSMRA85T10A562S")]),
            ("cf mrtmtt91d08f205j;", &[(FISCAL, "mrtmtt91d08f205j")]),
            ("IdNr 86095742719", &[(DE_TAX, "86095742719")]),
            ("Steuer-ID 86 095 742 719", &[(DE_TAX, "86 095 742 719")]),
            // Bad check letters and digits, glued, longer tokens, phone-like.
            ("12345678A and X1234567A", &[]),
            ("A12345678Z 12345678ZZ 123456789Z", &[]),
            ("RSSMRA85T10A562T and RSSMRA85T10A562SX", &[]),
            ("86095742718 and 860957427190 and 11123456785", &[]),
            ("+86 095 742 719", &[]),
            // Check digit right, never issued (no repeated digit, three in a row, leading zero):
            // found after a DE_TAX_ID word only.
            ("Steuer-ID: 12345678903", &[(DE_TAX, "12345678903")]),
            (
                "My German tax ID is 11123456786.",
                &[(DE_TAX, "11123456786")],
            ),
            ("IdNr 06 095 742 715", &[(DE_TAX, "06 095 742 715")]),
            ("12345678903 and 11123456786 and 06095742715", &[]),
            ("Steuer-ID 12345678904 or 00000000000", &[]),
        ];
        for (text, expect) in cases {
            let got = crate::detectors::found_by(Box::new(Europe::new()), text);
            assert_eq!(&got, expect, "text {text:?}");
        }
        let d = Europe::new();
        assert!(d.tax_words.compiled() && d.tax_words.patterns() <= GATE_PATTERNS);
    }
}
