//! US_SSN, US_ITIN, US_PASSPORT and US_DRIVER_LICENSE: nine-digit-ish US identifiers with no
//! checksum.
//!
//! An SSN written `123-45-6789` is distinctive enough to report anywhere once its structure is
//! valid ([`validators::us_ssn`]). Every other form here is a plain digit string that order
//! numbers and ids share, so it is looked for only after one of its entity's context words: SSNs
//! spaced, dotted or bare; ITINs ([`validators::us_itin`]); passports (nine digits, or a letter
//! and eight digits for next-generation books); driver's licences (the common state layouts).
//!
//! An SSN or ITIN in a range never issued (area 000, 666 or 9xx, group 00, serial 0000; an ITIN
//! group outside its ranges) is a typo, test data or a made-up number; after the entity's context
//! word it is still reported, in any layout, at [`UNISSUED`], and without one it is not.

use regex::Regex;

use super::UNISSUED;
use super::scan::{Gate, Run, finding, matches_in, runs, word_at};
use crate::validators::{self, Verdict};
use crate::{Detector, Finding};

const SSN: &str = "US_SSN";
const ITIN: &str = "US_ITIN";
const PASSPORT: &str = "US_PASSPORT";
const LICENSE: &str = "US_DRIVER_LICENSE";
const NAME: &str = "us";

/// `123-45-6789` with valid area, group and serial.
const SSN_DASHED: f32 = 0.65;
/// Forms that only count after a context word.
const WITH_CONTEXT: f32 = 0.4;
/// Licence layouts vary by state and overlap with any id; the context word carries them.
const LICENSE_SCORE: f32 = 0.35;
/// Longest passport or licence looked for after a context word.
const MAX_LEN: usize = 20;

const CONTEXT: &[(&str, &[&str])] = &[
    (SSN, &["ssn", "social security"]),
    (ITIN, &["itin", "taxpayer"]),
    (PASSPORT, &["passport"]),
    (
        LICENSE,
        &[
            "driver",
            "drivers",
            "driving",
            "dl",
            "dln",
            "lic",
            "license number",
            "licence number",
            "license no",
            "licence no",
        ],
    ),
];

/// Separators after a context word; `""` is the bare nine-digit group. A valid dashed SSN is
/// also found without context, by the first pass.
const SEPS: &[&str] = &["", "-", " ", "."];

type Check = fn(&[u8]) -> Verdict;

pub struct Us {
    passport: Option<Regex>,
    license: Option<Regex>,
    gate: Gate,
}

impl Us {
    pub fn new() -> Self {
        let passport = Regex::new(r"(?-u:\b)(?:[A-Z][0-9]{8}|[0-9]{9})(?-u:\b)").ok();
        // One or two letters and digits (most states), 7–13 digits, and the dashed layouts of
        // Florida (`D123-456-78-901-0`) and Illinois (`D123-4567-8901`).
        let license = Regex::new(
            r"(?i)(?-u:\b)(?:[a-z]{1,2}[0-9]{4,14}|[0-9]{7,13}|[a-z][0-9]{3}-[0-9]{3}-[0-9]{2}-[0-9]{3}-[0-9]|[a-z][0-9]{3}-[0-9]{4}-[0-9]{4})(?-u:\b)",
        )
        .ok();
        Us {
            passport,
            license,
            gate: Gate::new(CONTEXT, &[SSN, ITIN, PASSPORT, LICENSE]),
        }
    }
}

impl Detector for Us {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[SSN, ITIN, PASSPORT, LICENSE]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        runs(text, 0, text.len(), 9, |run| {
            for i in 0..run.len() {
                if let Some(j) = nine(run, i, &["-"])
                    .filter(|&j| verdict(run, i, j, validators::us_ssn) == Verdict::Valid)
                {
                    out.push(finding(
                        SSN,
                        run.group(i).0,
                        run.group(j).1,
                        SSN_DASHED,
                        NAME,
                    ));
                }
            }
        });
        self.gate.windows(text, |entity, from, to| match entity {
            SSN | ITIN => runs(text, from, to, 9, |run| {
                let check = match entity {
                    SSN => validators::us_ssn as Check,
                    _ => validators::us_itin as Check,
                };
                for i in 0..run.len() {
                    let Some(j) = nine(run, i, SEPS) else {
                        continue;
                    };
                    let score = match verdict(run, i, j, check) {
                        // The first pass has it already.
                        Verdict::Valid if entity == SSN && j > i && run.sep(i) == "-" => continue,
                        Verdict::Valid => WITH_CONTEXT,
                        Verdict::Unissued => UNISSUED,
                        Verdict::Invalid => continue,
                    };
                    out.push(finding(entity, run.group(i).0, run.group(j).1, score, NAME));
                }
            }),
            PASSPORT | LICENSE => {
                let (re, score) = match entity {
                    PASSPORT => (&self.passport, WITH_CONTEXT),
                    _ => (&self.license, LICENSE_SCORE),
                };
                let Some(re) = re else {
                    return;
                };
                matches_in(re, text, from, to, MAX_LEN, |s, e| {
                    if !word_at(text, e) && text.as_bytes().get(e) != Some(&b'-') {
                        out.push(finding(entity, s, e, score, NAME));
                    }
                });
            }
            _ => {}
        });
    }
}

/// Nine digits at group `i`: `AAA-GG-SSSS` with one of `seps` (an empty separator meaning the
/// bare nine-digit group), not part of a longer sequence.
fn nine(run: &Run<'_>, i: usize, seps: &[&str]) -> Option<usize> {
    if run.width(i) == 9 && seps.contains(&"") {
        return Some(i);
    }
    let sep = run.sep(i);
    let shaped = i + 2 < run.len()
        && (run.width(i), run.width(i + 1), run.width(i + 2)) == (3, 2, 4)
        && !sep.is_empty()
        && seps.contains(&sep)
        && run.sep(i + 1) == sep
        && !run.extends(i, i + 2, sep);
    shaped.then_some(i + 2)
}

/// What `check` makes of groups `i..=j`; `Invalid` when they are glued to a word.
fn verdict(run: &Run<'_>, i: usize, j: usize, check: Check) -> Verdict {
    match run.digits(i, j) {
        Some(d) if run.clean(i, j) => check(&d),
        _ => Verdict::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::scan::GATE_PATTERNS;

    fn found(text: &str) -> Vec<(&'static str, &str)> {
        crate::detectors::found_by(Box::new(Us::new()), text)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("id 536-90-6789.", &[(SSN, "536-90-6789")]),
            ("SSN: 536 90 6789", &[(SSN, "536 90 6789")]),
            ("ssn 536906789", &[(SSN, "536906789")]),
            (
                "social security number 536.90.6789",
                &[(SSN, "536.90.6789")],
            ),
            ("ITIN 912-70-1234", &[(ITIN, "912-70-1234")]),
            ("itin: 912701234", &[(ITIN, "912701234")]),
            ("passport number 123456789", &[(PASSPORT, "123456789")]),
            // The nearest context word decides what a bare nine-digit number is.
            (
                "SSN 536-90-6789, passport 123456789.",
                &[(SSN, "536-90-6789"), (PASSPORT, "123456789")],
            ),
            (
                "passport 123456789, SSN 536906789",
                &[(PASSPORT, "123456789"), (SSN, "536906789")],
            ),
            ("Passport: A12345678", &[(PASSPORT, "A12345678")]),
            ("driver's license D1234567", &[(LICENSE, "D1234567")]),
            ("DL# 123456789012", &[(LICENSE, "123456789012")]),
            (
                "driving licence D123-456-78-901-0",
                &[(LICENSE, "D123-456-78-901-0")],
            ),
            // Never issued, with no context word: nothing.
            (
                "000-12-3456 666-12-3456 936-12-3456 536-00-6789 536-90-0000",
                &[],
            ),
            ("914-27-6083", &[]),
            ("order 914-27-6083", &[]),
            ("912-93-1234 and 912934321", &[]),
            // Never issued, after the entity's context word: found, in every layout.
            ("SSN 914-27-6083", &[(SSN, "914-27-6083")]),
            ("My SSN is 914-27-6083.", &[(SSN, "914-27-6083")]),
            ("SSN: 914276083", &[(SSN, "914276083")]),
            ("ssn 914 27 6083", &[(SSN, "914 27 6083")]),
            ("ssn: 000-12-3456", &[(SSN, "000-12-3456")]),
            (
                "social security number 000-12-3456",
                &[(SSN, "000-12-3456")],
            ),
            (
                "SSN 666-12-3456, 536-00-6789, 536.90.0000",
                &[
                    (SSN, "666-12-3456"),
                    (SSN, "536-00-6789"),
                    (SSN, "536.90.0000"),
                ],
            ),
            // An ITIN typed after "SSN" is an SSN in a range never issued to SSNs.
            ("SSN 912-70-1234", &[(SSN, "912-70-1234")]),
            ("ITIN 912-93-1234", &[(ITIN, "912-93-1234")]),
            ("ITIN 912-34-5678", &[(ITIN, "912-34-5678")]),
            ("taxpayer id 912 49 1234", &[(ITIN, "912 49 1234")]),
            // Only 9xx is an ITIN; a valid dashed SSN after "ITIN" stays an SSN, an unissued
            // one is nothing.
            ("ITIN 536-90-6789", &[(SSN, "536-90-6789")]),
            ("ITIN 000-12-3456 and 666123456", &[]),
            // Published examples and placeholders: nothing, even after the word.
            ("078-05-1120 and 123-45-6789", &[]),
            (
                "SSN 078-05-1120, 219-09-9999, 457-55-5462, 123-45-6789",
                &[],
            ),
            ("SSN 111-11-1111 or 000000000 or 999 99 9999", &[]),
            ("ITIN 999-99-9999", &[]),
            // No context, longer sequences.
            ("536906789 and 536 90 6789 with no context", &[]),
            ("536-90-6789-12 and 1-536-90-6789", &[]),
            ("SSN 914-27-6083-12 and 1-914-27-6083", &[]),
            ("order A536-90-6789", &[]),
            ("passport office, room 12", &[]),
            ("MIT license, version 2004", &[]),
        ];
        for (text, expect) in cases {
            assert_eq!(&found(text), expect, "text {text:?}");
        }
    }

    #[test]
    fn patterns_compile() {
        let d = Us::new();
        assert!(
            d.passport.is_some()
                && d.license.is_some()
                && d.gate.compiled()
                && d.gate.patterns() <= GATE_PATTERNS
        );
    }
}
