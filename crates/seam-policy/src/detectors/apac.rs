//! IN_AADHAAR, IN_PAN, AU_TFN and SG_NRIC.
//!
//! - IN_AADHAAR: twelve digits not starting with 0 or 1, Verhoeff check. One random number in
//!   ten passes Verhoeff, so the printed `2341 2341 2346` layout counts on its own; bare digits
//!   count only after a context word.
//! - IN_PAN: `AAAPA1234A`, the fourth letter a holder type ([`validators::in_pan`]). No checksum.
//! - AU_TFN: nine (or eight) digits with a weighted mod-11 check; one random number in eleven
//!   passes, so printed `123 456 782` stays in the well-formed band and bare digits need context.
//! - SG_NRIC: S/T/F/G/M, seven digits and a check letter ([`validators::sg_nric`]).
//!
//! An Aadhaar starting with 0 or 1 (Verhoeff still right) or a PAN with no holder type was never
//! issued: it is reported only after its entity's context word, at [`UNISSUED`].

use super::UNISSUED;
use super::scan::{Gate, Run, finding, runs, word_at, word_before};
use crate::validators::{self, Verdict};
use crate::{Detector, Finding};

const AADHAAR: &str = "IN_AADHAAR";
const PAN: &str = "IN_PAN";
const TFN: &str = "AU_TFN";
const NRIC: &str = "SG_NRIC";
const NAME: &str = "apac";

const AADHAAR_PRINTED: f32 = 0.9;
const PAN_SCORE: f32 = 0.75;
const TFN_PRINTED: f32 = 0.6;
const NRIC_SCORE: f32 = 0.95;
/// Bare digits that pass a weak check: the context word does the rest.
const WITH_CONTEXT: f32 = 0.45;

const CONTEXT: &[(&str, &[&str])] = &[
    (AADHAAR, &["aadhaar", "aadhar", "uidai"]),
    (
        PAN,
        &["pan", "pan card", "permanent account number", "income tax"],
    ),
    (TFN, &["tfn", "tax file number", "tax file"]),
    (NRIC, &["nric", "nric/fin", "fin no", "fin number"]),
];

pub struct Apac {
    gate: Gate,
    /// PAN's words, looked for only behind a PAN that was never issued: in `gate` they would end
    /// Aadhaar and TFN stretches, though a PAN never competes with their digits.
    pan_words: Gate,
}

impl Apac {
    pub fn new() -> Self {
        Apac {
            gate: Gate::new(CONTEXT, &[AADHAAR, TFN]),
            pan_words: Gate::new(CONTEXT, &[PAN]),
        }
    }
}

impl Detector for Apac {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[AADHAAR, PAN, TFN, NRIC]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        runs(text, 0, text.len(), 4, |run| {
            for i in 0..run.len() {
                let span = |j: usize| (run.group(i).0, run.group(j).1);
                if let Some(j) =
                    grouped(run, i, &[4, 4, 4]).filter(|&j| aadhaar(run, i, j) == Verdict::Valid)
                {
                    let (s, e) = span(j);
                    out.push(finding(AADHAAR, s, e, AADHAAR_PRINTED, NAME));
                }
                let tfn_groups =
                    grouped(run, i, &[3, 3, 3]).or_else(|| grouped(run, i, &[3, 3, 2]));
                if let Some(j) = tfn_groups.filter(|&j| tfn(run, i, j)) {
                    let (s, e) = span(j);
                    out.push(finding(TFN, s, e, TFN_PRINTED, NAME));
                }
                let score = match lettered(text, run, i) {
                    Some((s, e, PAN, Verdict::Valid)) => Some((s, e, PAN, PAN_SCORE)),
                    Some((s, e, NRIC, Verdict::Valid)) => Some((s, e, NRIC, NRIC_SCORE)),
                    Some((s, e, PAN, Verdict::Unissued)) if self.pan_words.near(text, s, PAN) => {
                        Some((s, e, PAN, UNISSUED))
                    }
                    _ => None,
                };
                if let Some((s, e, entity, score)) = score {
                    out.push(finding(entity, s, e, score, NAME));
                }
            }
        });
        self.gate.windows(text, |entity, from, to| {
            runs(text, from, to, 8, |run| {
                for i in 0..run.len() {
                    let j = match (entity, run.width(i)) {
                        (AADHAAR, 12) => Some(i),
                        (AADHAAR, _) => grouped(run, i, &[4, 4, 4]),
                        (_, 8 | 9) => Some(i),
                        _ => grouped(run, i, &[3, 3, 3]).or_else(|| grouped(run, i, &[3, 3, 2])),
                    };
                    let Some(j) = j else {
                        continue;
                    };
                    let verdict = match entity {
                        AADHAAR => aadhaar(run, i, j),
                        _ if tfn(run, i, j) => Verdict::Valid,
                        _ => Verdict::Invalid,
                    };
                    let score = match verdict {
                        Verdict::Valid => WITH_CONTEXT,
                        Verdict::Unissued => UNISSUED,
                        Verdict::Invalid => continue,
                    };
                    out.push(finding(entity, run.group(i).0, run.group(j).1, score, NAME));
                }
            });
        });
    }
}

/// Groups of exactly `widths` from `i`, joined by one space or one dash throughout and not part
/// of a longer sequence written the same way.
fn grouped(run: &Run<'_>, i: usize, widths: &[usize]) -> Option<usize> {
    let j = i + widths.len() - 1;
    let sep = run.sep(i);
    let shaped = j < run.len()
        && widths
            .iter()
            .enumerate()
            .all(|(k, &w)| run.width(i + k) == w)
        && matches!(sep, " " | "-")
        && run.seps_are(i, j, sep)
        && !run.extends(i, j, sep);
    shaped.then_some(j)
}

fn aadhaar(run: &Run<'_>, i: usize, j: usize) -> Verdict {
    match run.digits(i, j) {
        Some(d) if run.clean(i, j) => validators::aadhaar(&d),
        _ => Verdict::Invalid,
    }
}

fn tfn(run: &Run<'_>, i: usize, j: usize) -> bool {
    run.clean(i, j) && run.digits(i, j).is_some_and(|d| validators::tfn(&d))
}

/// PAN (`ABCPE1234F`) and NRIC (`S1234567D`), digits glued to letters on both sides: the span,
/// the entity and what its validator makes of it.
fn lettered(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, usize, &'static str, Verdict)> {
    let b = text.as_bytes();
    let (s, e) = run.group(i);
    let (prefix, entity) = match run.width(i) {
        4 => (5, PAN),
        7 => (1, NRIC),
        _ => return None,
    };
    let start = s.checked_sub(prefix)?;
    if !b.get(e).is_some_and(u8::is_ascii_alphabetic)
        || word_at(text, e + 1)
        || word_before(text, start)
    {
        return None;
    }
    let value = &b[start..=e];
    let verdict = match entity {
        PAN => validators::in_pan(value),
        _ => {
            let mut upper = [0u8; 9];
            upper.copy_from_slice(value);
            upper.make_ascii_uppercase();
            if validators::sg_nric(&upper) {
                Verdict::Valid
            } else {
                Verdict::Invalid
            }
        }
    };
    Some((start, e + 1, entity, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::scan::GATE_PATTERNS;

    fn found(text: &str) -> Vec<(&'static str, &str)> {
        crate::detectors::found_by(Box::new(Apac::new()), text)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("uid 2341 2341 2346.", &[(AADHAAR, "2341 2341 2346")]),
            ("2341-2341-2346", &[(AADHAAR, "2341-2341-2346")]),
            ("Aadhaar: 234123412346", &[(AADHAAR, "234123412346")]),
            ("PAN ABCPE1234F", &[(PAN, "ABCPE1234F")]),
            ("TFN 123 456 782", &[(TFN, "123 456 782")]),
            ("ref 876 543 210", &[(TFN, "876 543 210")]),
            ("tax file number 123456782", &[(TFN, "123456782")]),
            (
                "NRIC S1234567D, fin g1234567x",
                &[(NRIC, "S1234567D"), (NRIC, "g1234567x")],
            ),
            // Bad checks, starting with 0/1, bare without context, glued, wrong holder type.
            ("2341 2341 2347 and 1341 2341 2346", &[]),
            ("234123412346 alone", &[]),
            ("2341 2341 2346 1234", &[]),
            ("ABCDE1234F and XABCPE1234F and ABCPE1234FG", &[]),
            ("123 456 789 and 123456782", &[]),
            ("S1234567A and XS1234567D and A1234567D", &[]),
            // Never issued (Aadhaar from 0 or 1, PAN without a holder type): found after the
            // entity's word only, the Aadhaar in any layout.
            ("Aadhaar 1234 1234 1234", &[(AADHAAR, "1234 1234 1234")]),
            ("aadhaar no: 012345678906", &[(AADHAAR, "012345678906")]),
            ("PAN ABCDE1234F", &[(PAN, "ABCDE1234F")]),
            (
                "My PAN and Aadhaar are ABCDE1234F and 1234-1234-1234.",
                &[(PAN, "ABCDE1234F"), (AADHAAR, "1234-1234-1234")],
            ),
            ("ref 1234 1234 1234 and ABCDE1234F", &[]),
            ("Aadhaar 0000 0000 0000 and 1234 1234 1235", &[]),
            ("PAN abcde1234f", &[]),
        ];
        for (text, expect) in cases {
            assert_eq!(&found(text), expect, "text {text:?}");
        }
        let d = Apac::new();
        assert!(d.gate.compiled() && d.gate.patterns() <= GATE_PATTERNS);
        assert!(d.pan_words.compiled() && d.pan_words.patterns() <= GATE_PATTERNS);
    }
}
