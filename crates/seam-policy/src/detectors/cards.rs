//! CREDIT_CARD and CA_SIN: the two Luhn-checked numbers.
//!
//! A card is 13–19 digits, bare or in groups separated by spaces or dashes, that passes Luhn and
//! starts with a known issuer range of the right length ([`issuer`]). That is strong evidence
//! anywhere, so cards need no context. A Canadian SIN is nine digits with Luhn too, but one
//! random nine-digit number in ten passes, so SINs are only looked for after a context word; one
//! that passes Luhn but starts with a digit not assigned to people (0, 8) scores [`UNISSUED`].

use super::UNISSUED;
use super::scan::{Gate, Run, finding, runs};
use crate::validators::{self, Verdict};
use crate::{Detector, Finding};

const CARD: &str = "CREDIT_CARD";
const SIN: &str = "CA_SIN";
const NAME: &str = "cards";

/// Luhn plus an issuer range and length.
const CARD_SCORE: f32 = 0.95;
/// Luhn alone is one in ten: the context word does the rest.
const SIN_SCORE: f32 = 0.4;

const CONTEXT: &[(&str, &[&str])] = &[
    (
        CARD,
        &[
            "credit card",
            "card number",
            "card",
            "visa",
            "mastercard",
            "amex",
            "american express",
            "discover",
            "jcb",
            "diners",
            "maestro",
            "unionpay",
            "cc#",
            "ccn",
            "debit",
        ],
    ),
    (
        SIN,
        &["sin", "social insurance", "assurance sociale", "nas"],
    ),
];

pub struct Cards {
    gate: Gate,
}

impl Cards {
    pub fn new() -> Self {
        Cards {
            gate: Gate::new(CONTEXT, &[SIN]),
        }
    }
}

impl Detector for Cards {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[CARD, SIN]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        runs(text, 0, text.len(), 13, |run| {
            let mut i = 0;
            while i < run.len() {
                match card_at(run, i) {
                    Some(j) => {
                        out.push(finding(
                            CARD,
                            run.group(i).0,
                            run.group(j).1,
                            CARD_SCORE,
                            NAME,
                        ));
                        i = j + 1;
                    }
                    None => i += 1,
                }
            }
        });
        self.gate.windows(text, |_, from, to| {
            runs(text, from, to, 9, |run| {
                for i in 0..run.len() {
                    let (j, score) = match sin_at(run, i) {
                        Some((j, Verdict::Valid)) => (j, SIN_SCORE),
                        Some((j, Verdict::Unissued)) => (j, UNISSUED),
                        _ => continue,
                    };
                    out.push(finding(SIN, run.group(i).0, run.group(j).1, score, NAME));
                }
            });
        });
    }
}

/// Spaces and dashes, the way cards are printed and typed.
fn card_sep(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b == b'-')
}

/// The longest card starting at group `i`, as the index of its last group.
fn card_at(run: &Run<'_>, i: usize) -> Option<usize> {
    if !run.starts_clean(i) {
        return None;
    }
    let mut ends = [0usize; 8];
    let mut n = 0;
    let mut total = 0;
    for j in i..run.len().min(i + 8) {
        // One card is written with one separator: `7654 32  4111` joins two numbers.
        if j > i && !(card_sep(run.sep(j - 1)) && run.sep(j - 1) == run.sep(i)) {
            break;
        }
        total += run.width(j);
        if total > 19 {
            break;
        }
        if total >= 13 {
            ends[n] = j;
            n += 1;
        }
    }
    ends[..n].iter().rev().copied().find(|&j| {
        let grouping = i == j || (run.width(i) >= 4 && (i + 1..j).all(|k| run.width(k) >= 2));
        // Four-digit groups that carry on the same way (same separator) belong to a longer
        // number; two cards a double space apart are two cards.
        let all_fours = (i..=j).all(|k| run.width(k) == 4);
        let same = |k: usize| run.sep(k) == run.sep(i);
        let carries_on = all_fours
            && ((i > 0 && run.width(i - 1) == 4 && same(i - 1))
                || (j + 1 < run.len() && run.width(j + 1) == 4 && same(j)));
        grouping
            && !carries_on
            && run.ends_clean(j)
            && run
                .digits(i, j)
                .is_some_and(|d| validators::luhn(&d) && issuer(&d))
    })
}

/// Whether `d` starts with a known issuer range and has a length that issuer uses: Visa,
/// Mastercard, American Express, Discover, JCB, Diners Club, UnionPay, Maestro, Mir.
pub(crate) fn issuer(d: &[u8]) -> bool {
    if d.len() < 12 {
        return false;
    }
    let prefix = |k: usize| {
        d[..k]
            .iter()
            .fold(0u32, |a, &b| a * 10 + u32::from(b.wrapping_sub(b'0')))
    };
    let (p2, p3, p4, p6) = (prefix(2), prefix(3), prefix(4), prefix(6));
    let n = d.len();
    let visa = d[0] == b'4' && matches!(n, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let amex = (p2 == 34 || p2 == 37) && n == 15;
    let long = (16..=19).contains(&n);
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && long;
    let jcb = (3528..=3589).contains(&p4) && long;
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39))
        && (14..=19).contains(&n);
    let unionpay = p2 == 62 && long;
    let maestro = (matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763)
        || p2 == 50
        || (56..=69).contains(&p2))
        && (13..=19).contains(&n);
    let mir = (2200..=2204).contains(&p4) && long;
    visa || mastercard || amex || discover || jcb || diners || unionpay || maestro || mir
}

/// A SIN at group `i`, nine bare digits or 3-3-3 with one kind of separator: its last group
/// and what [`validators::ca_sin`] makes of it.
fn sin_at(run: &Run<'_>, i: usize) -> Option<(usize, Verdict)> {
    let j = match run.width(i) {
        9 => i,
        3 if i + 2 < run.len()
            && run.width(i + 1) == 3
            && run.width(i + 2) == 3
            && matches!(run.sep(i), " " | "-")
            && run.seps_are(i, i + 2, run.sep(i))
            && !run.extends(i, i + 2, run.sep(i)) =>
        {
            i + 2
        }
        _ => return None,
    };
    let d = run.digits(i, j)?;
    run.clean(i, j).then(|| (j, validators::ca_sin(&d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner;
    use crate::detectors::scan::GATE_PATTERNS;

    fn detect(text: &str) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        Cards::new().detect(text, &mut out);
        out.iter()
            .map(|f| (f.entity, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn cards() {
        let cases: &[(&str, &[&str])] = &[
            ("pay 4111111111111111 now", &["4111111111111111"]),
            ("4111 1111 1111 1111", &["4111 1111 1111 1111"]),
            ("4111-1111-1111-1111.", &["4111-1111-1111-1111"]),
            ("4111 - 1111 - 1111 - 1111", &["4111 - 1111 - 1111 - 1111"]),
            ("amex 3782 822463 10005", &["3782 822463 10005"]),
            (
                "mc 5555 5555 5555 4444, mc2 2223003122003222",
                &["5555 5555 5555 4444", "2223003122003222"],
            ),
            (
                "discover 6011111111111117 jcb 3530111333300000",
                &["6011111111111117", "3530111333300000"],
            ),
            (
                "diners 3056 930902 5904, unionpay 6200000000000005",
                &["3056 930902 5904", "6200000000000005"],
            ),
            (
                "visa13 4222222222222 maestro 6759649826438453",
                &["4222222222222", "6759649826438453"],
            ),
            (
                "card 4111 1111 1111 1111 exp 12/25 cvv 123",
                &["4111 1111 1111 1111"],
            ),
            (
                "GB82 WEST 1234 5698 7654 32  4111 1111 1111 1111",
                &["4111 1111 1111 1111"],
            ),
            (
                "4111 1111 1111 1111  5555 5555 5555 4444",
                &["4111 1111 1111 1111", "5555 5555 5555 4444"],
            ),
            // Luhn-invalid, no issuer, too long, glued, inside longer grouped numbers.
            ("4111 1111 1111 1112", &[]),
            ("1234 5678 9012 3452", &[]),
            ("41111111111111110", &[]),
            ("x4111111111111111 4111111111111111a", &[]),
            ("1234 4111 1111 1111 1111 and 4111 1111 1111 1111 0000", &[]),
            ("id 550e8400-e29b-41d4-a716-446655440000", &[]),
            ("order 2024-000123456, ts 1700000000000", &[]),
        ];
        for (text, expect) in cases {
            let got: Vec<&str> = detect(text).into_iter().map(|(_, v)| v).collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }

    #[test]
    fn sin_needs_context() {
        let s = Scanner::new(vec![Box::new(Cards::new())]);
        let cases: &[(&str, &[&str])] = &[
            // Service Canada's specimen number.
            ("SIN: 046 454 286", &[]),
            ("my SIN is 130 692 544", &["130 692 544"]),
            // Luhn-valid, first digit not assigned to people: found after the word only.
            ("SIN 012 345 674", &["012 345 674"]),
            ("social insurance number 812345676", &["812345676"]),
            ("012 345 674 and 812345676 without the word", &[]),
            ("SIN 000 000 000", &[]),
            ("social insurance number 130-692-544", &["130-692-544"]),
            ("SIN 130692544.", &["130692544"]),
            ("SIN 130 692 545", &[]),
            ("130 692 544 without the word", &[]),
            ("using 130 692 544", &[]),
        ];
        for (text, expect) in cases {
            let got: Vec<&str> = s
                .scan(text)
                .iter()
                .filter(|f| f.entity == SIN && f.score >= 0.5)
                .map(|f| &text[f.start..f.end])
                .collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
        assert!(Cards::new().gate.compiled() && Cards::new().gate.patterns() <= GATE_PATTERNS);
    }

    #[test]
    fn issuer_table() {
        for d in [
            "4111111111111",
            "5105105105105100",
            "371449635398431",
            "3566002020360505",
            "2200123456789012",
        ] {
            assert!(issuer(d.as_bytes()), "{d}");
        }
        for d in [
            "1111111111111111",
            "9111111111111111",
            "371449635398",
            "5105105105105",
            "34144963539843",
        ] {
            assert!(!issuer(d.as_bytes()), "{d}");
        }
    }
}
