//! Hard negatives: text shaped like an entity that is not one. Numbers that could pass another
//! entity's check digit by chance are redrawn, so every sample here is unambiguous.

use super::checksum as ck;
use super::rng::{Rng, digits_to_string as ds};
use super::values::{hex, luhn_number};
use super::{Kind, Sample, fill};

/// Samples per generated family.
const PER_FAMILY: usize = 12;

type Gen = fn(&mut Rng) -> String;

/// (template, filler): each `§` takes a fresh filler.
const FAMILIES: &[(&str, Gen)] = &[
    ("Order reference § has shipped.", luhn_invalid_16),
    ("Tracking number: §", luhn_invalid_16),
    ("Invoice no. § is overdue", luhn_invalid_16),
    ("request id §", uuid),
    ("trace_id=§ span_id=§", uuid),
    ("Order #§ was refunded.", order_number),
    ("Upgrade to § fixed the crash.", version),
    ("Running on Windows §", windows_build),
    ("[§] INFO server started", timestamp),
    ("created_at: § by the cron job", timestamp),
    ("The laptop costs § including VAT.", price),
    ("fixed in commit §", git_sha),
    ("cherry-pick § onto main", short_sha),
    ("let id: u64 = §;", code_number),
    ("assert_eq!(checksum(&buf), §);", code_number),
    ("SELECT * FROM orders WHERE id = §;", code_number),
    ("const MAX_ITEMS = §; // upper bound", code_number),
    ("Meeting moved to § at 10:00.", meeting_date),
    ("card number § (declined, invalid)", card_invalid),
    ("IBAN: § (rejected by the bank)", iban_invalid),
    ("NHS number: § was not found", nhs_invalid),
    ("Aadhaar § failed verification", aadhaar_invalid),
];

const FIXED: &[&str] = &[
    "Set the timeout to 3600000 ms and retry 5 times.",
    "const INT_MAX: i32 = 2147483647;",
    "mask = 0x7fffffff & flags",
    "Number.MAX_SAFE_INTEGER is 9007199254740991",
    "Listen on port 8080, metrics on 9090.",
    "Edit src/main.rs and README.md, then run setup.py and deploy.sh.",
    "ping @channel about the outage",
    "user@localhost cannot log in",
    "The ratio was 12:30:45 across the three groups.",
    "Python 3.11.4, numpy 1.26.4, pandas 2.2.1",
    "Firmware 4.2.19045.3803 is installed.",
    "It scored 99.95% on 1,234,567 requests.",
    "Call the function with (415, 823, 4567) as arguments.",
    "Step 1.2.3 of the guide covers installation.",
    "Room 101, floor 3, building 7.",
    "ISBN 978-3-16-148410-0",
    "Coordinates 48.8566, 2.3522",
    "Resolution 1920x1080 at 144 Hz",
    "The meeting ID is 845 2291 0034 (no passcode).",
    "He ran the marathon in 3:04:27.",
];

pub(super) fn samples(rng: &mut Rng, out: &mut Vec<Sample>) {
    for (template, make) in FAMILIES {
        for _ in 0..PER_FAMILY {
            let parts: Vec<String> = template.matches('§').map(|_| make(rng)).collect();
            let refs: Vec<(&'static str, &str)> = parts.iter().map(|p| ("", p.as_str())).collect();
            out.push(fill(Kind::HardNegative, template, &refs));
        }
    }
    for t in FIXED {
        out.push(fill(Kind::HardNegative, t, &[]));
    }
}

/// Whether digits could be read as a valid value of some numeric entity of the same length.
fn passes_any_check(d: &[u8]) -> bool {
    match d.len() {
        9 => ck::luhn_valid(d) || ck::tfn_valid(d),
        10 => ck::nhs_valid(d),
        11 => ck::iso7064_11_10(&d[..10]) == d[10],
        12 => ck::verhoeff_valid(d),
        13..=19 => ck::luhn_valid(d),
        _ => false,
    }
}

/// Digits of length `n` (no leading zero) that pass no check digit.
fn plain_digits(rng: &mut Rng, n: usize) -> Vec<u8> {
    loop {
        let mut d = rng.digits(n);
        d[0] = rng.range(1, 9) as u8;
        if !passes_any_check(&d) {
            return d;
        }
    }
}

fn luhn_invalid_16(rng: &mut Rng) -> String {
    let d = plain_digits(rng, 16);
    if rng.chance(50) {
        ds(&d)
    } else {
        d.chunks(4).map(ds).collect::<Vec<_>>().join(" ")
    }
}

fn card_invalid(rng: &mut Rng) -> String {
    let mut d = luhn_number(rng, &[4], 16);
    d[15] = (d[15] + 1 + rng.below(9) as u8) % 10;
    d.chunks(4).map(ds).collect::<Vec<_>>().join(" ")
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        rng.pick(&['8', '9', 'a', 'b']),
        hex(rng, 3),
        hex(rng, 12)
    )
}

fn order_number(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "A-2024{:02}{:02}-{}",
            rng.range(1, 12),
            rng.range(1, 28),
            ds(&rng.digits(4))
        ),
        1 => format!("PO-{}-{}", ds(&rng.digits(4)), ds(&rng.digits(4))),
        _ => format!("ORD-{}-{:06}", rng.range(2019, 2025), rng.range(1, 999_999)),
    }
}

fn version(rng: &mut Rng) -> String {
    let (a, b, c) = (rng.range(0, 30), rng.range(0, 40), rng.range(0, 99));
    match rng.below(3) {
        0 => format!("v{a}.{b}.{c}"),
        1 => format!("{a}.{b}.{c}-beta.{}", rng.range(1, 9)),
        _ => format!("release {a}.{b}.{c}"),
    }
}

fn windows_build(rng: &mut Rng) -> String {
    format!("10.0.{}.{}", rng.range(19041, 22631), rng.range(1000, 4000))
}

fn timestamp(rng: &mut Rng) -> String {
    let (y, m, d) = (rng.range(2019, 2025), rng.range(1, 12), rng.range(1, 28));
    let (h, mi, s) = (rng.range(0, 23), rng.range(0, 59), rng.range(0, 59));
    match rng.below(3) {
        0 => format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        1 => format!(
            "{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:03}",
            rng.range(0, 999)
        ),
        _ => format!("{}", 1_600_000_000 + rng.range(0, 130_000_000)),
    }
}

fn price(rng: &mut Rng) -> String {
    let (a, c) = (rng.range(1, 9), rng.range(0, 99));
    let b = rng.range(0, 999);
    match rng.below(4) {
        0 => format!("${a},{b:03}.{c:02}"),
        1 => format!("€{a}.{b:03},{c:02}"),
        2 => format!("£{a}{b:03}.{c:02}"),
        _ => format!("USD {a},{b:03},{:03}", rng.range(0, 999)),
    }
}

fn git_sha(rng: &mut Rng) -> String {
    hex(rng, 40)
}

fn short_sha(rng: &mut Rng) -> String {
    hex(rng, 7)
}

fn code_number(rng: &mut Rng) -> String {
    let n = rng.range(9, 12) as usize;
    ds(&plain_digits(rng, n))
}

fn meeting_date(rng: &mut Rng) -> String {
    format!(
        "{}-{:02}-{:02}",
        rng.range(2024, 2026),
        rng.range(1, 12),
        rng.range(1, 28)
    )
}

fn iban_invalid(rng: &mut Rng) -> String {
    let bban = ds(&rng.digits(18));
    let good = ck::iban_check("DE", &bban);
    let bad = (good + 1 + rng.below(90) as u32) % 97;
    let bad = if bad < 2 { bad + 2 } else { bad };
    format!("DE{bad:02}{bban}")
}

fn nhs_invalid(rng: &mut Rng) -> String {
    loop {
        let d = rng.digits(10);
        if !ck::nhs_valid(&d) {
            return format!("{} {} {}", ds(&d[..3]), ds(&d[3..6]), ds(&d[6..]));
        }
    }
}

fn aadhaar_invalid(rng: &mut Rng) -> String {
    loop {
        let mut d = rng.digits(12);
        d[0] = rng.range(2, 9) as u8;
        if !ck::verhoeff_valid(&d) {
            return format!("{} {} {}", ds(&d[..4]), ds(&d[4..8]), ds(&d[8..]));
        }
    }
}
