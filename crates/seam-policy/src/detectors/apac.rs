//! IN_AADHAAR, IN_PAN, AU_TFN and SG_NRIC.
//!
//! - IN_AADHAAR: twelve digits not starting with 0 or 1, Verhoeff check. One random number in
//!   ten passes Verhoeff, so the printed `2341 2341 2346` layout counts on its own; bare digits
//!   count only after a context word.
//! - IN_PAN: `AAAPA1234A`, the fourth letter a holder type ([`validators::in_pan`]). No checksum.
//! - AU_TFN: nine (or eight) digits with a weighted mod-11 check; one random number in eleven
//!   passes, so printed `123 456 782` stays in the well-formed band and bare digits need context.
//! - SG_NRIC: S/T/F/G/M, seven digits and a check letter ([`validators::sg_nric`]).

use super::scan::{Gate, Run, finding, runs, word_at, word_before};
use crate::validators;
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
}

impl Apac {
    pub fn new() -> Self {
        Apac {
            gate: Gate::new(CONTEXT, &[AADHAAR, TFN]),
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
                if let Some(j) = grouped(run, i, &[4, 4, 4]).filter(|&j| aadhaar(run, i, j)) {
                    let (s, e) = span(j);
                    out.push(finding(AADHAAR, s, e, AADHAAR_PRINTED, NAME));
                }
                let tfn_groups =
                    grouped(run, i, &[3, 3, 3]).or_else(|| grouped(run, i, &[3, 3, 2]));
                if let Some(j) = tfn_groups.filter(|&j| tfn(run, i, j)) {
                    let (s, e) = span(j);
                    out.push(finding(TFN, s, e, TFN_PRINTED, NAME));
                }
                if let Some((s, e, entity, score)) = lettered(text, run, i) {
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
                    let ok = |j| match entity {
                        AADHAAR => aadhaar(run, i, j),
                        _ => tfn(run, i, j),
                    };
                    if let Some(j) = j.filter(|&j| ok(j)) {
                        out.push(finding(
                            entity,
                            run.group(i).0,
                            run.group(j).1,
                            WITH_CONTEXT,
                            NAME,
                        ));
                    }
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

fn aadhaar(run: &Run<'_>, i: usize, j: usize) -> bool {
    run.clean(i, j)
        && run
            .digits(i, j)
            .is_some_and(|d| d[0] >= b'2' && validators::verhoeff(&d))
}

fn tfn(run: &Run<'_>, i: usize, j: usize) -> bool {
    run.clean(i, j) && run.digits(i, j).is_some_and(|d| validators::tfn(&d))
}

/// PAN (`ABCPE1234F`) and NRIC (`S1234567D`): digits glued to letters on both sides.
fn lettered(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, usize, &'static str, f32)> {
    let b = text.as_bytes();
    let (s, e) = run.group(i);
    let (prefix, entity, score) = match run.width(i) {
        4 => (5, PAN, PAN_SCORE),
        7 => (1, NRIC, NRIC_SCORE),
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
    let valid = match entity {
        PAN => validators::in_pan(value),
        _ => {
            let mut upper = [0u8; 9];
            upper.copy_from_slice(value);
            upper.make_ascii_uppercase();
            validators::sg_nric(&upper)
        }
    };
    valid.then_some((start, e + 1, entity, score))
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
        ];
        for (text, expect) in cases {
            assert_eq!(&found(text), expect, "text {text:?}");
        }
        assert!(Apac::new().gate.compiled() && Apac::new().gate.patterns() <= GATE_PATTERNS);
    }
}
