//! Valid values of every structured PII entity, in the formats people write them (grouped,
//! compact, with the separators each locale uses). Check digits come from [`super::checksum`].

use super::checksum as ck;
use super::rng::{HEX, Rng, UPPER, digits_to_string as ds};

const FIRST: &[&str] = &[
    "anna", "john", "maria", "li.wei", "sofia", "ahmed", "lukas", "chloe", "raj", "emma", "mateo",
    "yuki", "olga", "noah", "fatima", "pierre",
];
const LAST: &[&str] = &[
    "smith", "garcia", "mueller", "rossi", "dubois", "kumar", "tanaka", "nowak", "silva", "brown",
    "jensen", "okafor",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.de",
    "acme-corp.co.uk",
    "mailbox.org",
    "uni-heidelberg.de",
    "orange.fr",
    "company.io",
    "studio.es",
    "fastmail.com",
    "libero.it",
];

pub(super) fn email(rng: &mut Rng) -> String {
    let (f, l, d) = (rng.pick(FIRST), rng.pick(LAST), rng.pick(DOMAINS));
    match rng.below(4) {
        0 => format!("{f}.{l}@{d}"),
        1 => format!("{f}{}@{d}", rng.range(1, 99)),
        2 => format!("{}{l}+news@{d}", &f[..1]),
        _ => format!("{f}_{l}@{d}"),
    }
}

pub(super) fn groups(d: &[u8], sizes: &[usize], sep: &str) -> String {
    let mut parts = Vec::new();
    let mut at = 0;
    for &n in sizes {
        parts.push(ds(&d[at..(at + n).min(d.len())]));
        at += n;
    }
    parts.join(sep)
}

pub(super) fn phone(rng: &mut Rng) -> String {
    let n = |rng: &mut Rng, k: usize| ds(&rng.digits(k));
    match rng.below(9) {
        0 | 1 => {
            let area = rng.pick(&["212", "310", "415", "512", "617", "646", "702", "917"]);
            let exch = rng.range(201, 989);
            // 555 is mostly fictional; N11 codes (211…911) are service codes, never exchanges.
            let exch = if exch == 555 || exch % 100 == 11 {
                exch + 1
            } else {
                exch
            };
            let line = n(rng, 4);
            match rng.below(4) {
                0 => format!("+1 ({area}) {exch}-{line}"),
                1 => format!("({area}) {exch}-{line}"),
                2 => format!("{area}-{exch}-{line}"),
                _ => format!("+1 {area} {exch} {line}"),
            }
        }
        2 => format!("+44 20 7946 0{}", n(rng, 3)),
        3 => format!("+44 7700 900{}", n(rng, 3)),
        4 => format!("+49 30 {}", n(rng, 8)),
        5 => format!(
            "+33 6 {} {} {} {}",
            n(rng, 2),
            n(rng, 2),
            n(rng, 2),
            n(rng, 2)
        ),
        6 => format!("+34 6{} {} {}", n(rng, 2), n(rng, 3), n(rng, 3)),
        7 => format!("+91 9{} {}", n(rng, 4), n(rng, 5)),
        _ => format!("+61 4{} {} {}", n(rng, 2), n(rng, 3), n(rng, 3)),
    }
}

/// A Luhn-valid number with `prefix`, `len` digits long.
pub(super) fn luhn_number(rng: &mut Rng, prefix: &[u8], len: usize) -> Vec<u8> {
    let mut d = prefix.to_vec();
    while d.len() < len - 1 {
        d.push(rng.digit());
    }
    d.push(ck::luhn_digit(&d));
    d
}

pub(super) fn card(rng: &mut Rng) -> String {
    let (prefix, len): (&[u8], usize) = *rng.pick(&[
        (&[4][..], 16),
        (&[5, 1], 16),
        (&[5, 4], 16),
        (&[2, 2, 2, 3], 16),
        (&[3, 4], 15),
        (&[3, 7], 15),
        (&[6, 0, 1, 1], 16),
    ]);
    let d = luhn_number(rng, prefix, len);
    let sep = *rng.pick(&[" ", "-", ""]);
    if len == 15 {
        groups(&d, &[4, 6, 5], sep)
    } else {
        groups(&d, &[4, 4, 4, 4], sep)
    }
}

pub(super) fn iban(rng: &mut Rng) -> String {
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let (country, bban) = match rng.below(6) {
        0 => ("DE", ds(&rng.digits(18))),
        1 => (
            "GB",
            format!("{}{}", rng.string(4, UPPER), ds(&rng.digits(14))),
        ),
        2 => (
            "FR",
            format!(
                "{}{}{}",
                ds(&rng.digits(10)),
                rng.string(11, alnum),
                ds(&rng.digits(2))
            ),
        ),
        3 => ("ES", ds(&rng.digits(20))),
        4 => (
            "IT",
            format!(
                "{}{}{}",
                rng.string(1, UPPER),
                ds(&rng.digits(10)),
                rng.string(12, alnum)
            ),
        ),
        _ => (
            "NL",
            format!("{}{}", rng.string(4, UPPER), ds(&rng.digits(10))),
        ),
    };
    let compact = format!("{country}{:02}{bban}", ck::iban_check(country, &bban));
    if rng.chance(50) {
        return compact;
    }
    let chars: Vec<char> = compact.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn ssn(rng: &mut Rng) -> String {
    let area = loop {
        let a = rng.range(1, 899);
        if a != 666 {
            break a;
        }
    };
    let (group, serial) = (rng.range(1, 99), rng.range(1, 9999));
    let sep = *rng.pick(&["-", "-", " "]);
    format!("{area:03}{sep}{group:02}{sep}{serial:04}")
}

pub(super) fn ip(rng: &mut Rng) -> String {
    if rng.chance(70) {
        let first = *rng.pick(&[8u32, 23, 45, 52, 81, 93, 104, 151, 172, 185, 192, 203, 10]);
        return format!(
            "{first}.{}.{}.{}",
            rng.range(0, 255),
            rng.range(0, 255),
            rng.range(1, 254)
        );
    }
    let g: Vec<String> = (0..8)
        .map(|_| format!("{:x}", rng.range(1, 0xffff)))
        .collect();
    if rng.chance(50) {
        g.join(":")
    } else {
        format!("2a02:{}:{}::{}", g[1], g[2], g[7])
    }
}

pub(super) fn mac(rng: &mut Rng) -> String {
    let b = rng.bytes(6);
    let upper = rng.chance(50);
    let hex = |x: &u8| {
        if upper {
            format!("{x:02X}")
        } else {
            format!("{x:02x}")
        }
    };
    match rng.below(3) {
        0 => b.iter().map(hex).collect::<Vec<_>>().join(":"),
        1 => b.iter().map(hex).collect::<Vec<_>>().join("-"),
        _ => b
            .chunks(2)
            .map(|p| format!("{}{}", hex(&p[0]), hex(&p[1])))
            .collect::<Vec<_>>()
            .join("."),
    }
}

pub(super) fn url(rng: &mut Rng) -> String {
    let host = rng.pick(&[
        "www.example-shop.com",
        "docs.rust-lang.org",
        "blog.acme-corp.co.uk",
        "portal.stadtwerke-berlin.de",
        "github.com",
        "news.ycombinator.com",
        "intranet.company.io",
    ]);
    let path = rng.pick(&[
        "",
        "/",
        "/docs/install",
        "/en/orders/8841",
        "/search?q=refund&lang=en",
        "/a/b/c.html",
    ]);
    let scheme = rng.pick(&["https://", "https://", "http://"]);
    format!("{scheme}{host}{path}")
}

pub(super) fn bitcoin(rng: &mut Rng) -> String {
    let payload = rng.bytes(20);
    match rng.below(3) {
        0 => ck::base58check(0x00, &payload),
        1 => ck::base58check(0x05, &payload),
        _ => ck::segwit_v0("bc", &payload),
    }
}

pub(super) fn date(rng: &mut Rng) -> String {
    let (y, m, d) = (rng.range(1940, 2006), rng.range(1, 12), rng.range(1, 28));
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let name = MONTHS[(m - 1) as usize];
    match rng.below(6) {
        0 => format!("{y}-{m:02}-{d:02}"),
        1 => format!("{d:02}/{m:02}/{y}"),
        2 => format!("{m:02}/{d:02}/{y}"),
        3 => format!("{name} {d}, {y}"),
        4 => format!("{d} {name} {y}"),
        _ => format!("{d:02}.{m:02}.{y}"),
    }
}

pub(super) fn passport(rng: &mut Rng) -> String {
    if rng.chance(50) {
        format!("{}{}", rng.string(1, UPPER), ds(&rng.digits(8)))
    } else {
        format!("{}{}", rng.range(1, 9), ds(&rng.digits(8)))
    }
}

pub(super) fn driver_license(rng: &mut Rng) -> String {
    let letter = rng.string(1, UPPER);
    match rng.below(3) {
        0 => format!("{letter}{}", ds(&rng.digits(7))),
        1 => format!("{letter}{}", ds(&rng.digits(12))),
        _ => format!(
            "{letter}{}-{}-{}",
            ds(&rng.digits(3)),
            ds(&rng.digits(4)),
            ds(&rng.digits(4))
        ),
    }
}

pub(super) fn itin(rng: &mut Rng) -> String {
    let group = *rng.pick(&[70u32, 75, 78, 80, 83, 88, 90, 92, 94, 97, 99]);
    format!("9{:02}-{group}-{:04}", rng.range(0, 99), rng.range(1, 9999))
}

pub(super) fn nhs(rng: &mut Rng) -> String {
    loop {
        let mut d = rng.digits(9);
        d[0] = rng.range(4, 6) as u8;
        if let Some(c) = ck::nhs_digit(&d) {
            d.push(c);
            let sep = *rng.pick(&[" ", "-", ""]);
            return groups(&d, &[3, 3, 4], sep);
        }
    }
}

pub(super) fn nino(rng: &mut Rng) -> String {
    const FIRST: &str = "ABCEGHJKLMNOPRSTWXYZ";
    const SECOND: &str = "ABCEGHJKLMNPRSTWXYZ";
    let prefix = loop {
        let p = format!("{}{}", rng.string(1, FIRST), rng.string(1, SECOND));
        if !["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"].contains(&p.as_str()) {
            break p;
        }
    };
    let d = rng.digits(6);
    let suffix = rng.string(1, "ABCD");
    if rng.chance(50) {
        format!("{prefix} {} {suffix}", groups(&d, &[2, 2, 2], " "))
    } else {
        format!("{prefix}{}{suffix}", ds(&d))
    }
}

pub(super) fn nif(rng: &mut Rng) -> String {
    if rng.chance(70) {
        let n = rng.range(1_000_000, 99_999_999);
        let sep = *rng.pick(&["", "", "-"]);
        format!("{n:08}{sep}{}", ck::nif_letter(n))
    } else {
        let (p, k) = *rng.pick(&[('X', 0u32), ('Y', 1), ('Z', 2)]);
        let n = rng.range(0, 9_999_999);
        format!("{p}{n:07}{}", ck::nif_letter(k * 10_000_000 + n))
    }
}

pub(super) fn fiscal_code(rng: &mut Rng) -> String {
    const CONSONANTS: &str = "BCDFGHJKLMNPRSTVZ";
    const MONTHS: &str = "ABCDEHLMPRST";
    let day = rng.range(1, 28) + if rng.chance(50) { 40 } else { 0 };
    let first15 = format!(
        "{}{:02}{}{day:02}{}{:03}",
        rng.string(6, CONSONANTS),
        rng.range(40, 99),
        rng.string(1, MONTHS),
        rng.string(1, "ABCDEFGHILM"),
        rng.range(1, 999)
    );
    format!("{first15}{}", ck::fiscal_code_char(&first15))
}

pub(super) fn de_tax_id(rng: &mut Rng) -> String {
    // Ten digits where exactly one digit appears twice and one not at all; never a leading zero.
    let d = loop {
        let mut pool: Vec<u8> = (0..10).collect();
        let missing = rng.below(10);
        let doubled = pool[(missing + 1 + rng.below(9)) % 10];
        pool[missing] = doubled;
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.below(i + 1));
        }
        if pool[0] != 0 {
            break pool;
        }
    };
    let mut d = d;
    d.push(ck::iso7064_11_10(&d));
    if rng.chance(60) {
        ds(&d)
    } else {
        groups(&d, &[2, 3, 3, 3], " ")
    }
}

pub(super) fn aadhaar(rng: &mut Rng) -> String {
    let mut d = rng.digits(11);
    d[0] = rng.range(2, 9) as u8;
    d.push(ck::verhoeff_digit(&d));
    let sep = *rng.pick(&[" ", " ", "", "-"]);
    groups(&d, &[4, 4, 4], sep)
}

pub(super) fn pan(rng: &mut Rng) -> String {
    format!(
        "{}{}{}{}{}",
        rng.string(3, UPPER),
        rng.string(1, "ABCFGHLJPT"),
        rng.string(1, UPPER),
        ds(&rng.digits(4)),
        rng.string(1, UPPER)
    )
}

pub(super) fn tfn(rng: &mut Rng) -> String {
    loop {
        let mut d = rng.digits(8);
        d[0] = rng.range(1, 9) as u8;
        let s: u32 = d
            .iter()
            .zip(ck::TFN_WEIGHTS)
            .map(|(&x, w)| u32::from(x) * w)
            .sum();
        // The last weight is 10 ≡ −1 (mod 11), so the check digit is the sum mod 11 when below 10.
        if s % 11 < 10 {
            d.push((s % 11) as u8);
            let sep = *rng.pick(&[" ", "", " "]);
            return groups(&d, &[3, 3, 3], sep);
        }
    }
}

pub(super) fn nric(rng: &mut Rng) -> String {
    let prefix = *rng.pick(&['S', 'T', 'F', 'G']);
    let d = rng.digits(7);
    format!("{prefix}{}{}", ds(&d), ck::nric_letter(prefix, &d))
}

pub(super) fn sin(rng: &mut Rng) -> String {
    let first = *rng.pick(&[1u8, 2, 3, 4, 5, 6, 7, 9]);
    let d = luhn_number(rng, &[first], 9);
    let sep = *rng.pick(&[" ", "-", ""]);
    groups(&d, &[3, 3, 3], sep)
}

/// Hex helper shared with the negatives.
pub(super) fn hex(rng: &mut Rng, n: usize) -> String {
    rng.string(n, HEX)
}
