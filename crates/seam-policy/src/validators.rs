//! Checksums and structural rules that turn a well-formed candidate into a confirmed one.
//!
//! Pure functions over ASCII bytes with separators already removed; each returns `false` (or
//! [`Verdict::Invalid`]) for anything malformed (wrong length, a non-digit) rather than panicking,
//! so detectors can call them on raw candidates.
//!
//! National ids with issuance rules return a [`Verdict`] rather than a `bool`, because the two
//! kinds of rule mean different things: a failed checksum says the value is not that entity, while
//! a range that was never assigned only says nobody holds it. Typos, test data and made-up numbers
//! fall in such ranges, and next to the word "SSN" they are still what a policy has to stop.

use ring::digest;

fn all_digits(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(u8::is_ascii_digit)
}

/// One digit repeated (`000000000`, `111111111`): a placeholder, never anyone's number.
fn placeholder(d: &[u8]) -> bool {
    d.iter().all(|&b| b == d[0])
}

/// What a validator makes of a candidate that already has the entity's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Passes every rule.
    Valid,
    /// Passes the checksum, where the entity has one, but breaks an issuance rule: a range,
    /// prefix or letter never assigned. Detectors report it only after one of the entity's
    /// context words, at a score that only the context word lifts over the default threshold.
    Unissued,
    /// Not this entity: malformed, a failed checksum, or a published sample or placeholder that
    /// stands for no one even next to a context word.
    Invalid,
}

impl Verdict {
    /// `Valid` when every issuance rule holds, else `Unissued`; for a value already known to be
    /// well-formed and checksum-valid.
    fn issued(rules_hold: bool) -> Self {
        if rules_hold {
            Verdict::Valid
        } else {
            Verdict::Unissued
        }
    }
}

fn val(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// Luhn (ISO/IEC 7812-1): payment cards, Canadian SINs.
pub fn luhn(d: &[u8]) -> bool {
    if !all_digits(d) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| match (i % 2, val(b) * 2) {
            (0, _) => val(b),
            (_, v) if v > 9 => v - 9,
            (_, v) => v,
        })
        .sum();
    sum % 10 == 0
}

/// ISO 13616 (IBAN): the first four characters moved to the end, letters read as 10–35, the
/// whole number mod 97 must be 1. Letters may be either case.
pub fn iban_mod97(s: &[u8]) -> bool {
    if s.len() < 5 {
        return false;
    }
    let mut rem = 0u32;
    for &b in s[4..].iter().chain(&s[..4]) {
        rem = match b {
            b'0'..=b'9' => (rem * 10 + val(b)) % 97,
            b'A'..=b'Z' | b'a'..=b'z' => {
                (rem * 100 + u32::from(b.to_ascii_uppercase() - b'A') + 10) % 97
            }
            _ => return false,
        };
    }
    rem == 1
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff (dihedral group D5), check digit last: Aadhaar.
pub fn verhoeff(d: &[u8]) -> bool {
    if !all_digits(d) {
        return false;
    }
    let mut c = 0usize;
    for (i, &b) in d.iter().rev().enumerate() {
        c = usize::from(VERHOEFF_D[c][usize::from(VERHOEFF_P[i % 8][(b - b'0') as usize])]);
    }
    c == 0
}

/// Weighted sum of digits; the caller checks it against its modulus.
fn weighted(d: &[u8], weights: &[u32]) -> u32 {
    d.iter().zip(weights).map(|(&b, w)| val(b) * w).sum()
}

/// NHS number: weights 10..2 over the first nine digits, check = 11 − sum mod 11 (11 → 0; 10 is
/// never issued).
pub fn nhs(d: &[u8]) -> bool {
    if d.len() != 10 || !all_digits(d) {
        return false;
    }
    let check = match 11 - weighted(d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == val(d[9])
}

/// Australian tax file number: weighted sum divisible by 11 (8- or 9-digit forms).
pub fn tfn(d: &[u8]) -> bool {
    let weights: &[u32] = match d.len() {
        9 => &[1, 4, 3, 7, 5, 8, 6, 9, 10],
        8 => &[10, 7, 8, 4, 6, 3, 5, 1],
        _ => return false,
    };
    all_digits(d) && weighted(d, weights) % 11 == 0
}

/// German Steuer-IdNr: eleven digits, the last an ISO 7064 MOD 11,10 check digit (`Invalid`
/// when it fails). Numbers are issued with a first digit other than 0 and, in the first ten
/// digits, exactly one digit appearing two or three times (never three in a row) and the rest at
/// most once; a number breaking that is `Unissued`.
pub fn de_tax_id(d: &[u8]) -> Verdict {
    if d.len() != 11 || !all_digits(d) || placeholder(d) {
        return Verdict::Invalid;
    }
    let mut product = 10;
    for &b in &d[..10] {
        let sum = match (val(b) + product) % 10 {
            0 => 10,
            s => s,
        };
        product = (sum * 2) % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    if check != val(d[10]) {
        return Verdict::Invalid;
    }
    let mut counts = [0u8; 10];
    for &b in &d[..10] {
        counts[(b - b'0') as usize] += 1;
    }
    let repeated: Vec<usize> = (0..10).filter(|&i| counts[i] > 1).collect();
    let one_repeat = match repeated[..] {
        [r] => {
            counts[r] == 2
                || (counts[r] == 3 && !d[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]))
        }
        _ => false,
    };
    Verdict::issued(d[0] != b'0' && one_repeat)
}

/// Spanish DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): the letter is the number
/// mod 23 in a fixed table, with X/Y/Z read as 0/1/2. Uppercase only.
pub fn es_nif(s: &[u8]) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let (lead, digits, letter) = match s {
        [p @ (b'X' | b'Y' | b'Z'), digits @ .., letter] if digits.len() == 7 => {
            (u32::from(p - b'X'), digits, letter)
        }
        [digits @ .., letter] if digits.len() == 8 => (0, digits, letter),
        _ => return false,
    };
    if !all_digits(digits) {
        return false;
    }
    let n = digits.iter().fold(lead, |n, &b| n * 10 + val(b));
    LETTERS[(n % 23) as usize] == *letter
}

/// Italian codice fiscale: 16 characters, the last a check letter over the first 15 (odd
/// positions through a fixed table, even ones by value). Either case.
pub fn it_fiscal_code(s: &[u8]) -> bool {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    if s.len() != 16 || !s.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let index = |b: u8| match b.to_ascii_uppercase() {
        c @ b'0'..=b'9' => (c - b'0') as usize,
        c => (c - b'A') as usize,
    };
    let sum: u32 = s[..15]
        .iter()
        .enumerate()
        .map(|(i, &b)| match i % 2 {
            0 => ODD[index(b)],
            _ => index(b) as u32,
        })
        .sum();
    s[15].to_ascii_uppercase() == b'A' + (sum % 26) as u8
}

/// Singapore NRIC/FIN: prefix S/T/F/G/M, seven digits weighted 2,7,6,5,4,3,2, a check letter
/// from the prefix's table. Uppercase only.
pub fn sg_nric(s: &[u8]) -> bool {
    let [prefix, digits @ .., letter] = s else {
        return false;
    };
    if digits.len() != 7 || !all_digits(digits) {
        return false;
    }
    let (offset, table): (u32, &[u8; 11]) = match prefix {
        b'S' => (0, b"JZIHGFEDCBA"),
        b'T' => (4, b"JZIHGFEDCBA"),
        b'F' => (0, b"XWUTRQPNMLK"),
        b'G' => (4, b"XWUTRQPNMLK"),
        b'M' => (3, b"XWUTRQPNJLK"),
        _ => return false,
    };
    let sum = weighted(digits, &[2, 7, 6, 5, 4, 3, 2]) + offset;
    table[(sum % 11) as usize] == *letter
}

/// US SSN (no checksum exists). The numbers published in advertising or as examples, and one
/// digit repeated, are `Invalid` whatever surrounds them. Area 000, 666 or 9xx, group 00 and
/// serial 0000 were never issued: `Unissued`.
pub fn us_ssn(d: &[u8]) -> Verdict {
    const PUBLISHED: [&[u8]; 4] = [b"078051120", b"219099999", b"457555462", b"123456789"];
    if d.len() != 9 || !all_digits(d) || PUBLISHED.contains(&d) || placeholder(d) {
        return Verdict::Invalid;
    }
    let area = &d[..3];
    Verdict::issued(
        area != b"000"
            && area != b"666"
            && area[0] != b'9'
            && &d[3..5] != b"00"
            && &d[5..] != b"0000",
    )
}

/// US ITIN (no checksum exists). Area 9xx is what makes a nine-digit number an ITIN rather than
/// an SSN, so any other area is `Invalid` here and left to [`us_ssn`]; so is one digit repeated.
/// Groups outside 50–65, 70–88, 90–92 and 94–99 were never issued: `Unissued`.
pub fn us_itin(d: &[u8]) -> Verdict {
    if d.len() != 9 || !all_digits(d) || d[0] != b'9' || placeholder(d) {
        return Verdict::Invalid;
    }
    Verdict::issued(matches!(
        val(d[3]) * 10 + val(d[4]),
        50..=65 | 70..=88 | 90..=92 | 94..=99
    ))
}

/// Aadhaar: twelve digits with a Verhoeff check digit (`Invalid` when it fails, or for one digit
/// repeated). UIDAI never issues numbers starting with 0 or 1: `Unissued`.
pub fn aadhaar(d: &[u8]) -> Verdict {
    if d.len() != 12 || !verhoeff(d) || placeholder(d) {
        return Verdict::Invalid;
    }
    Verdict::issued(d[0] >= b'2')
}

/// Canadian SIN: nine digits with Luhn (`Invalid` when it fails, for one digit repeated, and for
/// `046 454 286`, the specimen number printed in Service Canada's examples). First digits 0 and
/// 8 are not assigned to people: `Unissued`.
pub fn ca_sin(d: &[u8]) -> Verdict {
    const SPECIMEN: &[u8] = b"046454286";
    if d.len() != 9 || !luhn(d) || placeholder(d) || d == SPECIMEN {
        return Verdict::Invalid;
    }
    Verdict::issued(!matches!(d[0], b'0' | b'8'))
}

/// North American numbering plan, 10 digits: area code and exchange start with 2–9 and are not
/// N11 service codes; an area code's middle digit is never 9 (reserved for expansion).
pub fn nanp(d: &[u8]) -> bool {
    let n11 = |x: &[u8]| x[1] == b'1' && x[2] == b'1';
    d.len() == 10
        && all_digits(d)
        && d[0] >= b'2'
        && d[1] != b'9'
        && !n11(&d[..3])
        && d[3] >= b'2'
        && !n11(&d[3..6])
}

/// UK National Insurance number, from its prefix letters and suffix (no checksum exists). The
/// prefix QQ is HMRC's for examples (`QQ 12 34 56 C`): `Invalid`, as is anything but letters.
/// Issued numbers have a first letter other than D, F, I, Q, U, V, a second other than D, F, I,
/// O, Q, U, V, not an administrative pair (BG, GB, KN, NK, NT, TN, ZZ), and a suffix A–D; a
/// number breaking that is `Unissued`.
pub fn uk_nino(prefix: [u8; 2], suffix: u8) -> Verdict {
    let [a, b] = prefix.map(|c| c.to_ascii_uppercase());
    let suffix = suffix.to_ascii_uppercase();
    if ![a, b, suffix].iter().all(u8::is_ascii_uppercase) || [a, b] == *b"QQ" {
        return Verdict::Invalid;
    }
    let first_ok = !b"DFIQUV".contains(&a);
    let second_ok = !b"DFIOQUV".contains(&b);
    let banned = [*b"BG", *b"GB", *b"KN", *b"NK", *b"NT", *b"TN", *b"ZZ"].contains(&[a, b]);
    Verdict::issued(first_ok && second_ok && !banned && matches!(suffix, b'A'..=b'D'))
}

/// Indian PAN: five uppercase letters, four digits, an uppercase letter (anything else is
/// `Invalid`; no checksum exists). The fourth letter is the holder type (person, company, HUF,
/// firm, AOP, trust, BOI, local authority, juridical person, government); any other was never
/// issued: `Unissued`.
pub fn in_pan(s: &[u8]) -> Verdict {
    let shaped = s.len() == 10
        && s[..5].iter().all(u8::is_ascii_uppercase)
        && all_digits(&s[5..9])
        && s[9].is_ascii_uppercase();
    if !shaped {
        return Verdict::Invalid;
    }
    Verdict::issued(b"PCHFATBLJG".contains(&s[3]))
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn sha256d(data: &[u8]) -> [u8; 4] {
    let once = digest::digest(&digest::SHA256, data);
    let twice = digest::digest(&digest::SHA256, once.as_ref());
    let mut out = [0u8; 4];
    out.copy_from_slice(&twice.as_ref()[..4]);
    out
}

/// Bitcoin legacy (P2PKH, version 0x00) and P2SH (0x05) addresses: base58 decoding to exactly 25
/// bytes, checksum = first four bytes of double SHA-256 over the first 21.
pub fn btc_base58check(s: &[u8]) -> bool {
    if !(26..=35).contains(&s.len()) {
        return false;
    }
    let mut buf = [0u8; 25];
    for &c in s {
        let Some(mut carry) = BASE58.iter().position(|&a| a == c).map(|v| v as u32) else {
            return false;
        };
        for byte in buf.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    // Base58 writes each leading zero byte as one '1'; anything else is a different encoding.
    let ones = s.iter().take_while(|&&c| c == b'1').count();
    let zeros = buf.iter().take_while(|&&b| b == 0).count();
    ones == zeros && matches!(buf[0], 0x00 | 0x05) && sha256d(&buf[..21]) == buf[21..]
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    values.fold(1u32, |chk, v| {
        let top = chk >> 25;
        let chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        (0..5).fold(chk, |c, i| if (top >> i) & 1 == 1 { c ^ GEN[i] } else { c })
    })
}

/// SegWit addresses (BIP-173 bech32 for version 0, BIP-350 bech32m for 1–16) on Bitcoin mainnet
/// (`bc`) or testnet (`tb`): one case throughout, a valid checksum, and a witness program of the
/// length its version allows.
pub fn btc_segwit(s: &[u8]) -> bool {
    if !(14..=90).contains(&s.len())
        || (s.iter().any(u8::is_ascii_lowercase) && s.iter().any(u8::is_ascii_uppercase))
    {
        return false;
    }
    let lower: Vec<u8> = s.iter().map(u8::to_ascii_lowercase).collect();
    let Some(sep) = lower.iter().rposition(|&c| c == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if !matches!(hrp, b"bc" | b"tb") || data.len() < 7 {
        return false;
    }
    let mut values = Vec::with_capacity(data.len());
    for &c in data {
        let Some(v) = BECH32.iter().position(|&a| a == c) else {
            return false;
        };
        values.push(v as u8);
    }
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.iter().map(|c| c & 31));
    let constant = bech32_polymod(expanded.chain(values.iter().copied()));
    let version = values[0];
    let wanted = if version == 0 { 1 } else { 0x2bc8_30a3 };
    if version > 16 || constant != wanted {
        return false;
    }
    // Regroup the 5-bit program into bytes; leftover bits must be fewer than 5 and all zero.
    let (mut acc, mut bits, mut len) = (0u32, 0u32, 0usize);
    for &v in &values[1..values.len() - 6] {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            len += 1;
        }
    }
    let padding_ok = bits < 5 && acc & ((1 << bits) - 1) == 0;
    padding_ok && (2..=40).contains(&len) && (version != 0 || len == 20 || len == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&[u8]) -> bool, valid: &[&str], invalid: &[&str]) {
        for v in valid {
            assert!(f(v.as_bytes()), "{v} should be valid");
        }
        for v in invalid {
            assert!(!f(v.as_bytes()), "{v} should be invalid");
        }
    }

    use Verdict::{Invalid, Unissued, Valid};

    fn verdicts(f: fn(&[u8]) -> Verdict, cases: &[(&str, Verdict)]) {
        for (v, want) in cases {
            assert_eq!(f(v.as_bytes()), *want, "{v}");
        }
    }

    #[test]
    fn luhn_table() {
        check(
            luhn,
            &["4111111111111111", "378282246310005", "046454286", "0"],
            &["4111111111111112", "1234567812345678", "", "4111-1111"],
        );
    }

    #[test]
    fn iban_table() {
        check(
            iban_mod97,
            &[
                "GB82WEST12345698765432",
                "DE89370400440532013000",
                "gb82west12345698765432",
            ],
            &[
                "GB82WEST12345698765433",
                "DE89370400440532013001",
                "GB8",
                "GB82 WEST",
            ],
        );
    }

    #[test]
    fn verhoeff_table() {
        check(
            verhoeff,
            &["2363", "234123412346", "0"],
            &["2364", "234123412347", "12a4"],
        );
    }

    #[test]
    fn nhs_table() {
        check(
            nhs,
            &["9434765919", "4010232137"],
            &["9434765918", "943476591", "1234567890", "94347659190"],
        );
    }

    #[test]
    fn tfn_table() {
        check(
            tfn,
            &["123456782", "876543210"],
            &["123456789", "12345678", "1234567820"],
        );
    }

    #[test]
    fn de_tax_id_table() {
        verdicts(
            de_tax_id,
            &[
                ("86095742719", Valid),
                ("47036892816", Valid),
                ("65929970489", Valid),
                ("57549285017", Valid),
                ("25768131411", Valid),
                // Check digit right, issuance rules broken: no repeated digit, a digit three
                // times in a row, four times, ten times, a leading zero.
                ("12345678903", Unissued),
                ("11123456786", Unissued),
                ("11112345678", Unissued),
                ("11111111119", Unissued),
                ("06095742715", Unissued),
                // Check digit wrong; one digit throughout; malformed.
                ("86095742718", Invalid),
                ("11123456785", Invalid),
                ("06095742719", Invalid),
                ("00000000000", Invalid),
                ("8609574271", Invalid),
                ("8609574271a", Invalid),
            ],
        );
    }

    #[test]
    fn es_nif_table() {
        check(
            es_nif,
            &[
                "12345678Z",
                "00000000T",
                "X1234567L",
                "Y1234567X",
                "Z1234567R",
            ],
            &[
                "12345678A",
                "X1234567A",
                "1234567Z",
                "W1234567L",
                "12345678z",
            ],
        );
    }

    #[test]
    fn it_fiscal_code_table() {
        check(
            it_fiscal_code,
            &["RSSMRA85T10A562S", "MRTMTT91D08F205J", "rssmra85t10a562s"],
            &["RSSMRA85T10A562T", "RSSMRA85T10A562", "RSSMRA85T10A56-S"],
        );
    }

    #[test]
    fn sg_nric_table() {
        check(
            sg_nric,
            &[
                "S1234567D",
                "T1234567J",
                "F1234567N",
                "G1234567X",
                "M1234567K",
            ],
            &["S1234567A", "A1234567D", "S123456D", "s1234567d"],
        );
    }

    #[test]
    fn us_ssn_table() {
        verdicts(
            us_ssn,
            &[
                ("536906789", Valid),
                ("001010001", Valid),
                ("899999999", Valid),
                // Never issued: area 000, 666, 9xx; group 00; serial 0000.
                ("000123456", Unissued),
                ("666123456", Unissued),
                ("912345678", Unissued),
                ("914276083", Unissued),
                ("536006789", Unissued),
                ("536900000", Unissued),
                // Published examples and placeholders, whatever the context; malformed.
                ("078051120", Invalid),
                ("219099999", Invalid),
                ("457555462", Invalid),
                ("123456789", Invalid),
                ("111111111", Invalid),
                ("000000000", Invalid),
                ("53690678", Invalid),
                ("53690678x", Invalid),
            ],
        );
    }

    #[test]
    fn us_itin_table() {
        verdicts(
            us_itin,
            &[
                ("912501234", Valid),
                ("999991234", Valid),
                ("970881234", Valid),
                // Groups never issued.
                ("912931234", Unissued),
                ("912491234", Unissued),
                ("912345678", Unissued),
                // Not area 9xx (an SSN's business), a placeholder, malformed.
                ("812701234", Invalid),
                ("999999999", Invalid),
                ("91270123", Invalid),
            ],
        );
    }

    #[test]
    fn aadhaar_table() {
        verdicts(
            aadhaar,
            &[
                ("234123412346", Valid),
                // Verhoeff right, never issued: starts with 1 or 0.
                ("123412341234", Unissued),
                ("012345678906", Unissued),
                ("234123412347", Invalid),
                ("000000000000", Invalid),
                ("23412341234", Invalid),
            ],
        );
    }

    #[test]
    fn ca_sin_table() {
        verdicts(
            ca_sin,
            &[
                ("130692544", Valid),
                ("999999998", Valid),
                // Luhn right, first digit not assigned to people.
                ("012345674", Unissued),
                ("812345676", Unissued),
                // Service Canada's specimen, a bad check digit, a placeholder, malformed.
                ("046454286", Invalid),
                ("130692545", Invalid),
                ("000000000", Invalid),
                ("13069254", Invalid),
            ],
        );
    }

    #[test]
    fn nanp_table() {
        check(
            nanp,
            &["4155552671", "2125550123", "8005551234"],
            &[
                "1155552671",
                "4115552671",
                "4951234567",
                "4151552671",
                "4155112671",
                "415555267",
            ],
        );
    }

    #[test]
    fn uk_nino_table() {
        let cases: &[([u8; 2], u8, Verdict)] = &[
            (*b"AB", b'C', Valid),
            (*b"ce", b'd', Valid),
            // Letters never used in a prefix, administrative pairs, suffixes past D.
            (*b"DA", b'A', Unissued),
            (*b"AO", b'A', Unissued),
            (*b"GB", b'A', Unissued),
            (*b"AB", b'E', Unissued),
            // HMRC's example prefix; not letters.
            (*b"QQ", b'C', Invalid),
            (*b"qq", b'c', Invalid),
            (*b"A1", b'C', Invalid),
            (*b"AB", b'1', Invalid),
        ];
        for &(prefix, suffix, want) in cases {
            assert_eq!(uk_nino(prefix, suffix), want, "{prefix:?} {suffix}");
        }
    }

    #[test]
    fn in_pan_table() {
        verdicts(
            in_pan,
            &[
                ("ABCPE1234F", Valid),
                ("AAACB1234C", Valid),
                // The fourth letter is no holder type.
                ("ABCDE1234F", Unissued),
                ("ABCPE12345", Invalid),
                ("abcpe1234f", Invalid),
                ("ABCP1234F", Invalid),
            ],
        );
    }

    #[test]
    fn btc_base58check_table() {
        check(
            btc_base58check,
            &[
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
                "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            ],
            &[
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
                "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf0a",
                "11111111111111111111111111",
            ],
        );
    }

    #[test]
    fn btc_segwit_table() {
        check(
            btc_segwit,
            &[
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
                "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            ],
            &[
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7KV8F3T4",
                "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
                "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
                "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            ],
        );
    }
}
