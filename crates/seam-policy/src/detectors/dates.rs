//! DATE_OF_BIRTH: a date that exists (day within its month, leap years counted) in a plausible
//! birth year, right after a word such as "born" or "DOB". Dates are everywhere in text; only the
//! context word makes one a birth date, so dates are looked for only in the stretch after such a
//! word that the scanner's context window covers.
//!
//! Formats: `1985-03-12`, `12/03/1985`, `03.12.85` (day-month or month-day, either reading is
//! enough), `12 March 1985`, `12th of Mar. 1985`, `12-Mar-1985`, `March 12, 1985`. Month names
//! are English.

use regex::Regex;

use super::scan::{Gate, finding, matches_in};
use crate::{Detector, Finding};

const ENTITY: &str = "DATE_OF_BIRTH";
const NAME: &str = "dates";
const SCORE: f32 = 0.45;

/// The crate has no clock, so "in the past" is approximated by a fixed latest year: a birth date
/// a year or two ahead of it is missed, and a future date in this year still counts.
const LATEST_YEAR: u32 = 2026;
const EARLIEST_YEAR: u32 = 1900;
/// Longest date the pattern can match (`12th of September, 1985` and spacing).
const MAX_LEN: usize = 40;

const CONTEXT: &[(&str, &[&str])] = &[(
    ENTITY,
    &[
        "born",
        "dob",
        "d.o.b",
        "birth",
        "birthdate",
        "birthday",
        "geboren",
        "geburtsdatum",
        "naissance",
        "né le",
        "née le",
        "nacimiento",
        "nascita",
    ],
)];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

pub struct Dates {
    re: Option<Regex>,
    gate: Gate,
}

impl Dates {
    pub fn new() -> Self {
        let month = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
        let re = Regex::new(&format!(
            r"(?i)(?-u:\b)(?:(?P<y1>[0-9]{{4}})(?P<s1>[-/.])(?P<m1>[0-9]{{1,2}})(?P<t1>[-/.])(?P<d1>[0-9]{{1,2}})|(?P<a2>[0-9]{{1,2}})(?P<s2>[-/.])(?P<b2>[0-9]{{1,2}})(?P<t2>[-/.])(?P<y2>[0-9]{{4}}|[0-9]{{2}})|(?P<d3>[0-9]{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?[\s-]+(?P<m3>{month})\.?,?[\s-]+(?P<y3>[0-9]{{4}})|(?P<m4>{month})\.?\s+(?P<d4>[0-9]{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y4>[0-9]{{4}}))(?-u:\b)"
        ))
        .ok();
        Dates {
            re,
            gate: Gate::new(CONTEXT, &[ENTITY]),
        }
    }
}

impl Detector for Dates {
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
        let Some(re) = &self.re else {
            return;
        };
        self.gate.windows(text, |_, from, to| {
            matches_in(re, text, from, to, MAX_LEN, |s, e| {
                if real_date(re, &text[s..e]) {
                    out.push(finding(ENTITY, s, e, SCORE, NAME));
                }
            });
        });
    }
}

/// Whether the date matched in `m` exists and falls in a plausible birth year.
fn real_date(re: &Regex, m: &str) -> bool {
    let Some(c) = re.captures(m) else {
        return false;
    };
    let num = |name: &str| c.name(name).and_then(|v| v.as_str().parse::<u32>().ok());
    let same = |a: &str, b: &str| c.name(a).map(|v| v.as_str()) == c.name(b).map(|v| v.as_str());
    let month = |name: &str| {
        let v = c.name(name)?.as_str().to_ascii_lowercase();
        MONTHS
            .iter()
            .position(|m| v.starts_with(m))
            .map(|i| i as u32 + 1)
    };
    if let (Some(y), Some(m), Some(d)) = (num("y1"), num("m1"), num("d1")) {
        return same("s1", "t1") && valid(y, m, d);
    }
    if let (Some(a), Some(b), Some(y)) = (num("a2"), num("b2"), c.name("y2")) {
        let y = full_year(y.as_str());
        return same("s2", "t2") && (valid(y, b, a) || valid(y, a, b));
    }
    if let (Some(d), Some(m), Some(y)) = (num("d3"), month("m3"), num("y3")) {
        return valid(y, m, d);
    }
    if let (Some(m), Some(d), Some(y)) = (month("m4"), num("d4"), num("y4")) {
        return valid(y, m, d);
    }
    false
}

/// Two-digit years are the latest century that keeps them in the past.
fn full_year(y: &str) -> u32 {
    let n = y.parse::<u32>().unwrap_or(0);
    match y.len() {
        2 if 2000 + n <= LATEST_YEAR => 2000 + n,
        2 => 1900 + n,
        _ => n,
    }
}

fn valid(y: u32, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (EARLIEST_YEAR..=LATEST_YEAR).contains(&y) && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner;
    use crate::detectors::scan::GATE_PATTERNS;

    #[test]
    fn table() {
        let s = Scanner::new(vec![Box::new(Dates::new())]);
        let cases: &[(&str, &[&str])] = &[
            ("born 1985-03-12 in Leeds", &["1985-03-12"]),
            ("DOB: 12/03/1985.", &["12/03/1985"]),
            ("date of birth 03.12.85", &["03.12.85"]),
            ("D.O.B. 29/02/2000", &["29/02/2000"]),
            ("birthday: 12 March 1985", &["12 March 1985"]),
            (
                "she was born on the 1st of Sept. 1990",
                &["1st of Sept. 1990"],
            ),
            ("Born: 12-Mar-1985", &["12-Mar-1985"]),
            ("birth date March 12, 1985", &["March 12, 1985"]),
            ("US style DOB 12/31/1985", &["12/31/1985"]),
            ("Date de naissance : 12/03/1985", &["12/03/1985"]),
            ("Data di nascita: 1985-03-12", &["1985-03-12"]),
            // No such day, future, too old, mixed separators, no context, context too far.
            ("born 1985-02-30 and 29/02/1999", &[]),
            ("born 2091-01-01", &[]),
            ("born 1850-01-01", &[]),
            ("born 1985-03/12", &[]),
            ("released 1985-03-12", &[]),
            ("stubborn 1985-03-12", &[]),
            (
                "born in a small town by the sea, long before the war, and then on 1985-03-12",
                &[],
            ),
            ("born 1985-03-12T10:00:00", &[]),
        ];
        for (text, expect) in cases {
            let got: Vec<&str> = s
                .scan(text)
                .iter()
                .filter(|f| f.score >= 0.5)
                .map(|f| &text[f.start..f.end])
                .collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }

    #[test]
    fn pattern_compiles() {
        let d = Dates::new();
        assert!(d.re.is_some() && d.gate.compiled() && d.gate.patterns() <= GATE_PATTERNS);
    }

    #[test]
    fn calendar() {
        assert!(valid(2000, 2, 29) && !valid(1900, 2, 29) && !valid(1999, 2, 29));
        assert!(valid(1999, 12, 31) && !valid(1999, 13, 1) && !valid(1999, 4, 31));
        assert_eq!(
            (full_year("85"), full_year("05"), full_year("1985")),
            (1985, 2005, 1985)
        );
    }
}
