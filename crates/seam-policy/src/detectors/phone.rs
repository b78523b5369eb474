//! PHONE_NUMBER: international numbers written with `+` and a country code; North American
//! numbers in their usual national layouts; and, only after a word such as "phone", bare NANP
//! numbers and European national numbers that start with a trunk `0`.
//!
//! International: the country code is read prefix-free from [`COUNTRIES`] and the national
//! number must have a length that country uses; a `(0)` trunk prefix after the code is skipped.
//! NANP (`+1` and national): [`validators::nanp`]. The fictional 555-01xx block is still
//! reported: it is phone-shaped, and redacting a fictional number costs nothing while missing a
//! real one does. Phones have no checksum, so scores stay in the well-formed band.

use super::scan::{Gate, Run, finding, runs, word_before};
use crate::validators;
use crate::{Detector, Finding};

const ENTITY: &str = "PHONE_NUMBER";
const NAME: &str = "phone";

/// `+CC` followed by a valid national length.
const INTERNATIONAL: f32 = 0.75;
/// `(415) 555-2671`: the parentheses are deliberate phone formatting.
const NANP_PARENS: f32 = 0.7;
/// `415-555-2671`, `415.555.2671`, `1-415-555-2671`.
const NANP_PUNCTUATED: f32 = 0.6;
/// `415 555 2671`: three plain numbers in a row are weak evidence on their own (UK NHS numbers and
/// many reference numbers are written `943 476 5919`), so they count only near a context word.
const NANP_SPACED: f32 = 0.45;
/// Bare NANP digits and European national numbers: only near a context word.
const NATIONAL: f32 = 0.4;

const CONTEXT: &[(&str, &[&str])] = &[(
    ENTITY,
    &[
        "phone",
        "telephone",
        "tel",
        "mobile",
        "cell",
        "cellphone",
        "call",
        "fax",
        "contact",
        "whatsapp",
        "telefon",
        "telefono",
        "teléfono",
        "téléphone",
        "tél",
        "portable",
        "handy",
    ],
)];

/// Country code → shortest and longest national significant number (ITU-T E.164 national
/// plans, as libphonenumber summarises them). Codes are prefix-free, as E.164 guarantees.
const COUNTRIES: &[(&str, u8, u8)] = &[
    ("1", 10, 10),
    ("7", 10, 10),
    ("20", 8, 10),
    ("27", 9, 9),
    ("30", 10, 10),
    ("31", 9, 9),
    ("32", 8, 9),
    ("33", 9, 9),
    ("34", 9, 9),
    ("36", 8, 9),
    ("39", 6, 11),
    ("40", 9, 9),
    ("41", 9, 9),
    ("43", 4, 13),
    ("44", 7, 10),
    ("45", 8, 8),
    ("46", 6, 10),
    ("47", 8, 8),
    ("48", 9, 9),
    ("49", 6, 13),
    ("51", 8, 9),
    ("52", 10, 10),
    ("54", 10, 11),
    ("55", 10, 11),
    ("56", 9, 9),
    ("57", 10, 10),
    ("58", 10, 10),
    ("60", 8, 10),
    ("61", 9, 9),
    ("62", 8, 12),
    ("63", 8, 10),
    ("64", 8, 10),
    ("65", 8, 8),
    ("66", 8, 9),
    ("81", 9, 10),
    ("82", 8, 10),
    ("84", 9, 10),
    ("86", 9, 11),
    ("90", 10, 10),
    ("91", 10, 10),
    ("92", 9, 10),
    ("94", 9, 9),
    ("95", 7, 10),
    ("98", 10, 10),
    ("212", 9, 9),
    ("213", 8, 9),
    ("216", 8, 8),
    ("233", 9, 9),
    ("234", 8, 10),
    ("254", 9, 9),
    ("255", 9, 9),
    ("256", 9, 9),
    ("351", 9, 9),
    ("352", 4, 11),
    ("353", 7, 9),
    ("354", 7, 7),
    ("356", 8, 8),
    ("357", 8, 8),
    ("358", 5, 12),
    ("359", 8, 9),
    ("370", 8, 8),
    ("371", 8, 8),
    ("372", 7, 8),
    ("380", 9, 9),
    ("385", 8, 9),
    ("386", 8, 8),
    ("420", 9, 9),
    ("421", 9, 9),
    ("852", 8, 8),
    ("853", 8, 8),
    ("880", 10, 10),
    ("886", 8, 9),
    ("962", 8, 9),
    ("965", 8, 8),
    ("966", 9, 9),
    ("971", 8, 9),
    ("972", 8, 9),
    ("974", 8, 8),
];

pub struct Phone {
    gate: Gate,
}

impl Phone {
    pub fn new() -> Self {
        Phone {
            gate: Gate::new(CONTEXT, &[ENTITY]),
        }
    }
}

impl Detector for Phone {
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
        runs(text, 0, text.len(), 5, |run| {
            let mut i = 0;
            while i < run.len() {
                let found = match i {
                    0 => international(text, run).or_else(|| nanp(text, run, 0)),
                    _ => nanp(text, run, i),
                };
                match found {
                    Some((j, f)) => {
                        out.push(f);
                        i = j + 1;
                    }
                    None => i += 1,
                }
            }
        });
        self.gate.windows(text, |_, from, to| {
            runs(text, from, to, 9, |run| {
                (0..run.len()).for_each(|i| national(text, run, i, out));
            });
        });
    }
}

/// Separators phone numbers are written with: spaces, dashes, dots and parentheses.
fn phone_sep(s: &str) -> bool {
    matches!(
        s,
        " " | "-" | "." | "(" | ")" | " (" | ") " | ")-" | "-(" | " - " | ") -"
    )
}

/// An extension written straight after the number: `x123`, `ext. 12`.
fn extension(text: &str, at: usize) -> bool {
    let rest = text.as_bytes().get(at..).unwrap_or_default();
    match rest {
        [b'x' | b'X', d, ..] => d.is_ascii_digit(),
        _ => rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"ext"),
    }
}

/// Whether a number ending at group `j` ends cleanly (or runs into an extension).
fn ends_clean(text: &str, run: &Run<'_>, j: usize) -> bool {
    run.ends_clean(j) || extension(text, run.group(j).1)
}

fn country(digits: &[u8]) -> Option<(usize, usize, usize)> {
    COUNTRIES.iter().find_map(|&(code, min, max)| {
        digits.starts_with(code.as_bytes()).then_some((
            code.len(),
            usize::from(min),
            usize::from(max),
        ))
    })
}

/// `+CC …` at the start of the run: the longest run of groups whose national part has a length
/// the country uses.
fn international(text: &str, run: &Run<'_>) -> Option<(usize, Finding)> {
    let (s0, e0) = run.group(0);
    let b = text.as_bytes();
    if s0 == 0 || b[s0 - 1] != b'+' || word_before(text, s0 - 1) {
        return None;
    }
    let (cc, min, max) = country(&b[s0..e0])?;
    let mut national = [0u8; 16];
    let mut len = 0;
    let mut best = None;
    for j in 0..run.len() {
        let (s, e) = run.group(j);
        let (sep_before, sep_after) = (if j > 0 { run.sep(j - 1) } else { "" }, run.sep(j));
        if j > 0 && !phone_sep(sep_before) {
            break;
        }
        // `+44 (0)20 …`: the trunk prefix in parentheses is not dialled from abroad.
        if j > 0 && &b[s..e] == b"0" && sep_before.ends_with('(') && sep_after.starts_with(')') {
            continue;
        }
        let digits = if j == 0 { &b[s + cc..e] } else { &b[s..e] };
        if len + digits.len() > max {
            break;
        }
        national[len..len + digits.len()].copy_from_slice(digits);
        len += digits.len();
        if len >= min && (cc != 1 || validators::nanp(&national[..len])) {
            best = Some(j);
        }
    }
    let j = best.filter(|&j| ends_clean(text, run, j))?;
    Some((
        j,
        finding(ENTITY, s0 - 1, run.group(j).1, INTERNATIONAL, NAME),
    ))
}

/// North American layouts starting at group `i`: `(415) 555-2671`, `415-555-2671`,
/// `415.555.2671`, `415 555 2671`, each optionally after a `1` and a separator.
fn nanp(text: &str, run: &Run<'_>, i: usize) -> Option<(usize, Finding)> {
    let b = text.as_bytes();
    let leading_one = run.width(i) == 1 && b[run.group(i).0] == b'1' && phone_sep(run.sep(i));
    let k = i + usize::from(leading_one);
    if k + 2 >= run.len() || (run.width(k), run.width(k + 1), run.width(k + 2)) != (3, 3, 4) {
        return None;
    }
    let (sep_a, sep_b) = (run.sep(k), run.sep(k + 1));
    let area_start = run.group(k).0;
    let paren = run.byte_before(k) == Some(b'(');
    let score = if paren && matches!(sep_a, ")" | ") " | ")-") && matches!(sep_b, "-" | " " | ".") {
        NANP_PARENS
    } else if sep_a == sep_b && matches!(sep_a, "-" | ".") {
        NANP_PUNCTUATED
    } else if sep_a == " " && sep_b == " " {
        NANP_SPACED
    } else {
        return None;
    };
    // Part of a longer sequence written the same way (`12-415-555-2671`, `415-555-2671-99`).
    if (i > 0 && run.sep(i - 1) == sep_b) || (k + 3 < run.len() && run.sep(k + 2) == sep_b) {
        return None;
    }
    let digits = run.digits(k, k + 2)?;
    let clean = run.starts_clean(i) && ends_clean(text, run, k + 2);
    if !clean || !validators::nanp(&digits) {
        return None;
    }
    let start = if leading_one || !paren {
        run.group(i).0
    } else {
        area_start - 1
    };
    Some((
        k + 2,
        finding(ENTITY, start, run.group(k + 2).1, score, NAME),
    ))
}

/// Near a context word: bare NANP digits, and European national numbers (`030 12345678`,
/// `020 7946 0958`, `01 23 45 67 89`, `089/1234567`) with a trunk `0`.
fn national(text: &str, run: &Run<'_>, i: usize, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let (s, e) = run.group(i);
    let bare_nanp = match e - s {
        10 => validators::nanp(&b[s..e]),
        11 => b[s] == b'1' && validators::nanp(&b[s + 1..e]),
        _ => false,
    };
    if bare_nanp && run.clean(i, i) {
        out.push(finding(ENTITY, s, e, NATIONAL, NAME));
        return;
    }
    if b[s] != b'0' || b.get(s + 1).is_none_or(|&c| c == b'0') || (i > 0 && run.sep(i - 1) != " ") {
        return;
    }
    let mut total = 0;
    let mut best = None;
    for j in i..run.len() {
        let w = run.width(j);
        let grouped = j > i || j + 1 < run.len();
        if (j > i && !matches!(run.sep(j - 1), " " | "-" | "/" | "."))
            || (grouped && !(2..=8).contains(&w))
        {
            break;
        }
        total += w;
        if total > 12 {
            break;
        }
        if total >= 9 && run.clean(i, j) {
            best = Some(j);
        }
    }
    if let Some(j) = best {
        out.push(finding(ENTITY, s, run.group(j).1, NATIONAL, NAME));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner;
    use crate::detectors::scan::GATE_PATTERNS;

    fn detect(text: &str) -> Vec<(&str, f32)> {
        let mut out = Vec::new();
        Phone::new().detect(text, &mut out);
        out.iter()
            .map(|f| (&text[f.start..f.end], f.score))
            .collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, f32)])] = &[
            ("call +1 415 555 2671 now", &[("+1 415 555 2671", 0.75)]),
            ("+14155552671.", &[("+14155552671", 0.75)]),
            ("+44 20 7946 0958", &[("+44 20 7946 0958", 0.75)]),
            ("+44 (0)20 7946 0958", &[("+44 (0)20 7946 0958", 0.75)]),
            ("+49 30 1234567", &[("+49 30 1234567", 0.75)]),
            ("+33 1 23 45 67 89", &[("+33 1 23 45 67 89", 0.75)]),
            ("+91 98765 43210", &[("+91 98765 43210", 0.75)]),
            ("+86 138 0013 8000", &[("+86 138 0013 8000", 0.75)]),
            ("+1-415-555-2671x123", &[("+1-415-555-2671", 0.75)]),
            ("(415) 555-2671", &[("(415) 555-2671", 0.7)]),
            ("(415)555-2671", &[("(415)555-2671", 0.7)]),
            ("415-555-2671", &[("415-555-2671", 0.6)]),
            ("415.555.2671", &[("415.555.2671", 0.6)]),
            ("1-800-555-0199", &[("1-800-555-0199", 0.6)]),
            ("415 555 2671", &[("415 555 2671", 0.45)]),
            // Invalid country length, NANP rules, longer sequences, code, versions, dates.
            ("+44 20 79", &[]),
            ("+1 115 555 2671", &[]),
            ("+999 1234 5678", &[]),
            ("115-555-2671 and 415-155-2671", &[]),
            ("415-555-2671-99 and 12-415-555-2671", &[]),
            ("x = 4155552671; y=1+4155552671", &[]),
            ("v415-555-2671", &[]),
            ("version 1.2.3, 2024-01-15, 10:30, $1,234.56", &[]),
            ("4155552671 with no context", &[]),
        ];
        for (text, expect) in cases {
            assert_eq!(&detect(text), expect, "text {text:?}");
        }
    }

    #[test]
    fn national_numbers_need_context() {
        let cases: &[(&str, &[&str])] = &[
            ("phone: 4155552671", &["4155552671"]),
            ("call me on 415 555 2671", &["415 555 2671"]),
            ("NHS number: 943 476 5918 was not found", &[]),
            ("Tel. 030 12345678", &["030 12345678"]),
            ("mobile 07700 900123", &["07700 900123"]),
            ("téléphone 01 23 45 67 89", &["01 23 45 67 89"]),
            ("call 089/1234567", &["089/1234567"]),
            ("030 12345678 without a word", &[]),
            ("phone: 0012345678", &[]),
            ("hotel 4155552671", &[]),
        ];
        let s = Scanner::new(vec![Box::new(Phone::new())]);
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
    fn country_codes_are_prefix_free() {
        assert!(Phone::new().gate.compiled() && Phone::new().gate.patterns() <= GATE_PATTERNS);
        for (a, ..) in COUNTRIES {
            for (b, ..) in COUNTRIES {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }
}
