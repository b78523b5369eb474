//! National ids that break only an issuance rule: a range, prefix or letter never assigned, with
//! any check digit still right. Typos, test data and made-up numbers look like this. Next to the
//! entity's context word they are labelled as that entity, since a policy is there to stop them
//! (issue 12: `SSN 914-27-6083` reached the vendor); without one they are hard negatives, as are
//! published samples and placeholders even next to the word.

use super::checksum as ck;
use super::rng::{Rng, UPPER, digits_to_string as ds};
use super::values::{groups, luhn_number};
use super::{Disguise, Kind, Sample, fill};

/// Samples per entity and per negative family.
const PER_FAMILY: usize = 12;

type Gen = fn(&mut Rng) -> String;

/// (entity, value, templates with the entity's context words).
const POSITIVES: &[(&str, Gen, &[&str])] = &[
    (
        "US_SSN",
        ssn,
        &[
            "My SSN is §.",
            "SSN: §",
            "Social Security Number § (from the intake form)",
            "ssn=§",
        ],
    ),
    ("US_ITIN", itin, &["My ITIN is §.", "ITIN: §"]),
    (
        "IN_AADHAAR",
        aadhaar,
        &["Aadhaar: §", "My Aadhaar number is §."],
    ),
    (
        "DE_TAX_ID",
        de_tax_id,
        &["Steuer-ID: §", "My German tax ID is §."],
    ),
    ("CA_SIN", sin, &["SIN: §", "My SIN is §."]),
    (
        "UK_NINO",
        nino,
        &["NI number: §", "National Insurance number §"],
    ),
    ("IN_PAN", pan, &["PAN: §", "My PAN card number is §."]),
];

/// (template, value): the same values without a context word, and placeholders with one.
const NEGATIVES: &[(&str, Gen)] = &[
    ("Claim § was reopened.", ssn_dashed),
    ("Batch § was imported.", aadhaar_printed),
    ("Ticket § was merged.", de_tax_id),
    ("Ref § was archived.", nino),
    ("Part § is back in stock.", pan),
    ("SSN §", ssn_placeholder),
    ("NI number § (the example on the form)", nino_example),
];

pub(super) fn samples(rng: &mut Rng, out: &mut Vec<Sample>) {
    for (entity, make, templates) in POSITIVES {
        for i in 0..PER_FAMILY {
            let v = make(rng);
            let v = Disguise::for_index(i).apply(rng, &v);
            let template = templates[i % templates.len()];
            out.push(fill(Kind::Entity, template, &[(*entity, v.as_str())]));
        }
    }
    for (template, make) in NEGATIVES {
        for _ in 0..PER_FAMILY {
            let v = make(rng);
            out.push(fill(Kind::HardNegative, template, &[("", v.as_str())]));
        }
    }
}

/// Nine digits in SSN layout with `sep`.
fn ssn_layout(d: &[u8], sep: &str) -> String {
    groups(d, &[3, 2, 4], sep)
}

fn one_digit(d: &[u8]) -> bool {
    d.iter().all(|&x| x == d[0])
}

/// Area 000, 666 or 9xx, group 00 or serial 0000 (the SSA never issued them).
fn ssn_digits(rng: &mut Rng) -> Vec<u8> {
    loop {
        let mut d = rng.digits(9);
        match rng.below(5) {
            0 => d[..3].fill(0),
            1 => d[..3].fill(6),
            2 => d[0] = 9,
            3 => d[3..5].fill(0),
            _ => d[5..].fill(0),
        }
        if !one_digit(&d) {
            return d;
        }
    }
}

fn ssn(rng: &mut Rng) -> String {
    let d = ssn_digits(rng);
    let sep = *rng.pick(&["-", "-", " ", ""]);
    ssn_layout(&d, sep)
}

fn ssn_dashed(rng: &mut Rng) -> String {
    ssn_layout(&ssn_digits(rng), "-")
}

/// Published in advertising or as examples, or one digit repeated: no one's number.
fn ssn_placeholder(rng: &mut Rng) -> String {
    const PUBLISHED: [&str; 4] = ["078-05-1120", "219-09-9999", "457-55-5462", "123-45-6789"];
    if rng.chance(50) {
        rng.pick(&PUBLISHED).to_string()
    } else {
        let x = char::from(b'0' + rng.digit());
        let run = |n: usize| x.to_string().repeat(n);
        format!("{}-{}-{}", run(3), run(2), run(4))
    }
}

/// Area 9xx with a group outside the ranges the IRS issues (50–65, 70–88, 90–92, 94–99).
fn itin(rng: &mut Rng) -> String {
    let group = loop {
        let g = rng.range(0, 99);
        if !matches!(g, 50..=65 | 70..=88 | 90..=92 | 94..=99) {
            break g;
        }
    };
    let sep = *rng.pick(&["-", " ", ""]);
    format!(
        "9{:02}{sep}{group:02}{sep}{:04}",
        rng.range(0, 99),
        rng.range(1, 9999)
    )
}

/// Starting with 0 or 1 (UIDAI never issues them), Verhoeff check digit right.
fn aadhaar_digits(rng: &mut Rng) -> Vec<u8> {
    loop {
        let mut d = rng.digits(11);
        d[0] = rng.range(0, 1) as u8;
        d.push(ck::verhoeff_digit(&d));
        if !one_digit(&d) {
            return d;
        }
    }
}

fn aadhaar(rng: &mut Rng) -> String {
    let d = aadhaar_digits(rng);
    let sep = *rng.pick(&[" ", "", "-"]);
    groups(&d, &[4, 4, 4], sep)
}

fn aadhaar_printed(rng: &mut Rng) -> String {
    groups(&aadhaar_digits(rng), &[4, 4, 4], " ")
}

/// Ten digits all different, or a leading zero (never issued), with the MOD 11,10 check digit.
fn de_tax_id(rng: &mut Rng) -> String {
    let mut d: Vec<u8> = (0..10).collect();
    for i in (1..d.len()).rev() {
        d.swap(i, rng.below(i + 1));
    }
    if rng.chance(50) {
        // A leading zero; the digit it replaces now appears twice.
        d[0] = 0;
    } else if d[0] == 0 {
        d.swap(0, 1 + rng.below(9));
    }
    d.push(ck::iso7064_11_10(&d));
    if rng.chance(60) {
        ds(&d)
    } else {
        groups(&d, &[2, 3, 3, 3], " ")
    }
}

/// Luhn-valid, starting with 0 or 8 (not assigned to people); never Service Canada's specimen.
fn sin(rng: &mut Rng) -> String {
    let d = loop {
        let first = *rng.pick(&[0u8, 8]);
        let d = luhn_number(rng, &[first], 9);
        if !one_digit(&d) && ds(&d) != "046454286" {
            break d;
        }
    };
    let sep = *rng.pick(&[" ", "-", ""]);
    groups(&d, &[3, 3, 3], sep)
}

/// A prefix letter never used, an administrative pair, or a suffix past D; never HMRC's QQ.
fn nino(rng: &mut Rng) -> String {
    const FIRST: &str = "ABCEGHJKLMNOPRSTWXYZ";
    const SECOND: &str = "ABCEGHJKLMNPRSTWXYZ";
    let (mut prefix, mut suffix) = (
        format!("{}{}", rng.string(1, FIRST), rng.string(1, SECOND)),
        rng.string(1, "ABCD"),
    );
    match rng.below(4) {
        0 => prefix = format!("{}{}", rng.string(1, "DFIUV"), rng.string(1, SECOND)),
        1 => prefix = format!("{}{}", rng.string(1, FIRST), rng.string(1, "DFIOUV")),
        2 => {
            prefix = rng
                .pick(&["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"])
                .to_string()
        }
        _ => suffix = rng.string(1, "EFGHJKLMNPRSTWXYZ"),
    }
    let d = rng.digits(6);
    if rng.chance(50) {
        format!("{prefix} {} {suffix}", groups(&d, &[2, 2, 2], " "))
    } else {
        format!("{prefix}{}{suffix}", ds(&d))
    }
}

/// HMRC's example prefix.
fn nino_example(rng: &mut Rng) -> String {
    let d = rng.digits(6);
    format!("QQ{}{}", ds(&d), rng.string(1, "ABCD"))
}

/// A fourth letter that is no holder type.
fn pan(rng: &mut Rng) -> String {
    format!(
        "{}{}{}{}{}",
        rng.string(3, UPPER),
        rng.string(1, "DEIKMNOQRSUVWXYZ"),
        rng.string(1, UPPER),
        ds(&rng.digits(4)),
        rng.string(1, UPPER)
    )
}
