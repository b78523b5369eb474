//! UK_NHS and UK_NINO.
//!
//! NHS numbers are ten digits with a mod-11 check ([`validators::nhs`]), printed `943 476 5919`.
//! One random ten-digit string in eleven passes the check, so the printed 3-3-4 layout is what
//! makes a candidate count on its own: spaced always; dashed only when it is not also a valid
//! North American phone number, which `415-555-2671` usually is. Bare digits, and dashed numbers
//! that could be phones, count only after a context word.
//!
//! National Insurance numbers are two prefix letters, six digits and a suffix A–D (`AB123456C`,
//! `AB 12 34 56 C`); [`validators::uk_nino`] holds the prefix rules. No checksum exists, so a
//! prefix or suffix never issued only says nobody holds the number: after a NINO context word it
//! is still reported, at [`UNISSUED`], and without one it is not.

use super::UNISSUED;
use super::scan::{Gate, Run, finding, runs, word_at, word_before};
use crate::validators::{self, Verdict};
use crate::{Detector, Finding};

const NHS: &str = "UK_NHS";
const NINO: &str = "UK_NINO";
const NAME: &str = "uk";

const NHS_PRINTED: f32 = 0.9;
const NHS_WITH_CONTEXT: f32 = 0.45;
/// Prefix rules and the A–D suffix rule out most look-alikes, but there is no checksum.
const NINO_SCORE: f32 = 0.7;

const CONTEXT: &[(&str, &[&str])] = &[
    (NHS, &["nhs", "health service", "health and care number"]),
    (
        NINO,
        // Mixed case as usually written, which the gate looks for besides lower, upper and
        // capitalised forms.
        &["national insurance", "nino", "NI number", "NI no", "nin"],
    ),
];

pub struct Uk {
    gate: Gate,
    /// NINO's words, looked for only behind a NINO that was never issued: in `gate` they would
    /// end NHS stretches, though a NINO never competes with NHS digits.
    nino_words: Gate,
}

impl Uk {
    pub fn new() -> Self {
        Uk {
            gate: Gate::new(CONTEXT, &[NHS]),
            nino_words: Gate::new(CONTEXT, &[NINO]),
        }
    }
}

impl Detector for Uk {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[NHS, NINO]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        runs(text, 0, text.len(), 6, |run| {
            for i in 0..run.len() {
                if let Some(j) = nhs_printed(run, i) {
                    out.push(finding(
                        NHS,
                        run.group(i).0,
                        run.group(j).1,
                        NHS_PRINTED,
                        NAME,
                    ));
                }
                let score = match nino(text, run, i) {
                    Some((s, e, Verdict::Valid)) => Some((s, e, NINO_SCORE)),
                    Some((s, e, Verdict::Unissued)) if self.nino_words.near(text, s, NINO) => {
                        Some((s, e, UNISSUED))
                    }
                    _ => None,
                };
                if let Some((s, e, score)) = score {
                    out.push(finding(NINO, s, e, score, NAME));
                }
            }
        });
        self.gate.windows(text, |_, from, to| {
            runs(text, from, to, 10, |run| {
                for i in 0..run.len() {
                    if let Some(j) = nhs_any(run, i).filter(|&j| checks(run, i, j)) {
                        out.push(finding(
                            NHS,
                            run.group(i).0,
                            run.group(j).1,
                            NHS_WITH_CONTEXT,
                            NAME,
                        ));
                    }
                }
            });
        });
    }
}

/// `943 476 5919` at group `i` with one kind of separator, as the last group index.
fn three_three_four<'t>(run: &Run<'t>, i: usize) -> Option<(usize, &'t str)> {
    let sep = run.sep(i);
    let shaped = i + 2 < run.len()
        && (run.width(i), run.width(i + 1), run.width(i + 2)) == (3, 3, 4)
        && matches!(sep, " " | "-")
        && run.sep(i + 1) == sep
        && !run.extends(i, i + 2, sep);
    shaped.then_some((i + 2, sep))
}

fn checks(run: &Run<'_>, i: usize, j: usize) -> bool {
    run.clean(i, j) && run.digits(i, j).is_some_and(|d| validators::nhs(&d))
}

/// The printed layout that counts without context.
fn nhs_printed(run: &Run<'_>, i: usize) -> Option<usize> {
    let (j, sep) = three_three_four(run, i)?;
    let digits = run.digits(i, j)?;
    let phone_like = sep == "-" && validators::nanp(&digits);
    (!phone_like && checks(run, i, j)).then_some(j)
}

/// Any layout, for use after a context word.
fn nhs_any(run: &Run<'_>, i: usize) -> Option<usize> {
    match run.width(i) {
        10 => Some(i),
        _ => three_three_four(run, i).map(|(j, _)| j),
    }
}

/// A NINO whose digits start at group `i` (`AB123456C`, `AB 123456 C` or `AB 12 34 56 C`) and
/// what [`validators::uk_nino`] makes of its letters.
fn nino(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, usize, Verdict)> {
    let b = text.as_bytes();
    let j = match run.width(i) {
        6 => i,
        2 if i + 2 < run.len()
            && run.width(i + 1) == 2
            && run.width(i + 2) == 2
            && run.seps_are(i, i + 2, " ") =>
        {
            i + 2
        }
        _ => return None,
    };
    let (ds, de) = (run.group(i).0, run.group(j).1);
    // Prefix letters right before the digits, or one space before them.
    let p = if b.get(ds.wrapping_sub(1)) == Some(&b' ') {
        ds.checked_sub(3)?
    } else {
        ds.checked_sub(2)?
    };
    let prefix = [b[p], b[p + 1]];
    if !prefix.iter().all(u8::is_ascii_alphabetic) || word_before(text, p) {
        return None;
    }
    let s = if b.get(de) == Some(&b' ') { de + 1 } else { de };
    let suffix = *b.get(s)?;
    if !suffix.is_ascii_alphabetic() || word_at(text, s + 1) {
        return None;
    }
    Some((p, s + 1, validators::uk_nino(prefix, suffix)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::scan::GATE_PATTERNS;

    fn found(text: &str) -> Vec<(&'static str, &str)> {
        crate::detectors::found_by(Box::new(Uk::new()), text)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("patient 943 476 5919.", &[(NHS, "943 476 5919")]),
            ("ref 401-023-2137", &[(NHS, "401-023-2137")]),
            ("NHS number 9434765919", &[(NHS, "9434765919")]),
            ("nhs no: 943-476-5919", &[(NHS, "943-476-5919")]),
            ("NI AB123456C", &[(NINO, "AB123456C")]),
            ("nino: ab 12 34 56 c.", &[(NINO, "ab 12 34 56 c")]),
            ("national insurance JG 123456 A", &[(NINO, "JG 123456 A")]),
            // Bad check, phone-shaped without context, bare without context, bad prefixes.
            ("943 476 5918", &[]),
            ("call 943-476-5919", &[]),
            ("9434765919 alone", &[]),
            ("DA123456C GB123456A AB123456E XAB123456C AB123456CD", &[]),
            ("AB1234567C and AB12345C", &[]),
            // Never issued (prefix letters, administrative pairs, suffix past D): found after a
            // NINO word only; HMRC's example prefix QQ never.
            ("NI number DA123456C", &[(NINO, "DA123456C")]),
            ("My NI number is AB123456E.", &[(NINO, "AB123456E")]),
            (
                "national insurance: gb 12 34 56 a",
                &[(NINO, "gb 12 34 56 a")],
            ),
            ("NINO QQ123456C and QQ 12 34 56 C", &[]),
            (
                "NHS number 943 476 5919, NINO TN123456A",
                &[(NHS, "943 476 5919"), (NINO, "TN123456A")],
            ),
        ];
        for (text, expect) in cases {
            assert_eq!(&found(text), expect, "text {text:?}");
        }
        let d = Uk::new();
        assert!(d.gate.compiled() && d.gate.patterns() <= GATE_PATTERNS);
        assert!(d.nino_words.compiled() && d.nino_words.patterns() <= GATE_PATTERNS);
    }
}
