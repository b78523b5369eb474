//! The corpus's own check-digit arithmetic, written from the published algorithms and pinned by
//! published examples, so that generated values are valid without trusting the detectors'
//! validators (a bug shared by both would otherwise pass unnoticed).

/// Luhn check digit for `digits` (the payload, without the check digit).
pub(crate) fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((&check, payload)) => luhn_digit(payload) == check,
        None => false,
    }
}

/// IBAN check digits (ISO 13616, mod 97-10) for a country code and BBAN.
pub(crate) fn iban_check(country: &str, bban: &str) -> u32 {
    98 - mod97(&format!("{bban}{country}00"))
}

#[cfg(test)]
pub(crate) fn iban_valid(iban: &str) -> bool {
    iban.len() > 4 && mod97(&format!("{}{}", &iban[4..], &iban[..4])) == 1
}

/// The remainder mod 97 of the number that letters-as-digits (A=10 … Z=35) spell.
fn mod97(s: &str) -> u32 {
    s.chars().fold(0u32, |acc, c| {
        let v = c.to_digit(36).unwrap_or(0);
        if v >= 10 {
            (acc * 100 + v) % 97
        } else {
            (acc * 10 + v) % 97
        }
    })
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
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Verhoeff check digit (Aadhaar).
pub(crate) fn verhoeff_digit(digits: &[u8]) -> u8 {
    let c = digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        VERHOEFF_D[c as usize][VERHOEFF_P[(i + 1) % 8][d as usize] as usize]
    });
    VERHOEFF_INV[c as usize]
}

pub(crate) fn verhoeff_valid(digits: &[u8]) -> bool {
    digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][d as usize] as usize]
    }) == 0
}

/// NHS number check digit (mod 11, weights 10..2); `None` when the remainder makes 10, which no
/// NHS number may use.
pub(crate) fn nhs_digit(first9: &[u8]) -> Option<u8> {
    let sum: u32 = first9
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

pub(crate) fn nhs_valid(d: &[u8]) -> bool {
    d.len() == 10 && nhs_digit(&d[..9]) == Some(d[9])
}

/// ISO 7064 MOD 11,10 check digit (German tax id).
pub(crate) fn iso7064_11_10(digits: &[u8]) -> u8 {
    let mut product = 10u32;
    for &d in digits {
        let mut sum = (u32::from(d) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let c = 11 - product;
    if c == 10 { 0 } else { c as u8 }
}

/// Australian TFN: weighted sum divisible by 11.
pub(crate) const TFN_WEIGHTS: [u32; 9] = [1, 4, 3, 7, 5, 8, 6, 9, 10];

pub(crate) fn tfn_valid(d: &[u8]) -> bool {
    d.len() == 9
        && d.iter()
            .zip(TFN_WEIGHTS)
            .map(|(&x, w)| u32::from(x) * w)
            .sum::<u32>()
            % 11
            == 0
}

/// Spanish DNI/NIE control letter for the numeric value.
pub(crate) fn nif_letter(n: u32) -> char {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    LETTERS[(n % 23) as usize] as char
}

/// Singapore NRIC/FIN check letter for prefix S, T, F or G and seven digits.
pub(crate) fn nric_letter(prefix: char, digits: &[u8]) -> char {
    const W: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = digits.iter().zip(W).map(|(&d, w)| u32::from(d) * w).sum();
    let offset = if matches!(prefix, 'T' | 'G') { 4 } else { 0 };
    let table: &[u8] = if matches!(prefix, 'S' | 'T') {
        b"JZIHGFEDCBA"
    } else {
        b"XWUTRQPNMLK"
    };
    table[((sum + offset) % 11) as usize] as char
}

/// Italian codice fiscale control character over the first 15 characters.
pub(crate) fn fiscal_code_char(first15: &str) -> char {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let sum: u32 = first15
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b.to_ascii_uppercase().saturating_sub(b'A')).min(25)
            };
            // Positions are counted from 1, so index 0 is an odd position.
            if i % 2 == 0 { ODD[v as usize] } else { v }
        })
        .sum();
    char::from(b'A' + (sum % 26) as u8)
}

/// SHA-256 (FIPS 180-4), for base58check.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Base58check (Bitcoin): version byte, payload, first four bytes of double SHA-256.
pub(crate) fn base58check(version: u8, payload: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut data = vec![version];
    data.extend_from_slice(payload);
    let check = sha256(&sha256(&data));
    data.extend_from_slice(&check[..4]);
    // Repeated division of the big-endian number by 58.
    let mut digits: Vec<u8> = Vec::new();
    for &byte in &data {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut s: String = std::iter::repeat_n('1', zeros).collect();
    s.extend(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char));
    s
}

/// A segwit v0 address (BIP-173 bech32) for `program` under `hrp` ("bc").
pub(crate) fn segwit_v0(hrp: &str, program: &[u8]) -> String {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut data = vec![0u8];
    // Regroup 8-bit bytes into 5-bit groups, padding the last.
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in program {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    values.extend(&data);
    values.extend([0u8; 6]);
    let polymod = bech32_polymod(&values) ^ 1;
    let mut s = format!("{hrp}1");
    s.extend(data.iter().map(|&d| CHARSET[d as usize] as char));
    s.extend((0..6).map(|i| CHARSET[((polymod >> (5 * (5 - i))) & 31) as usize] as char));
    s
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk = 1u32;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn published_examples() {
        assert!(luhn_valid(&d("4111 1111 1111 1111")));
        assert!(luhn_valid(&d("046 454 286")));
        assert!(!luhn_valid(&d("4111 1111 1111 1112")));
        assert_eq!(iban_check("DE", "370400440532013000"), 89);
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(!iban_valid("GB83WEST12345698765432"));
        assert_eq!(verhoeff_digit(&d("236")), 3);
        assert!(verhoeff_valid(&d("2363")));
        assert!(nhs_valid(&d("943 476 5919")));
        assert_eq!(iso7064_11_10(&d("8609574271")), 9);
        assert_eq!(iso7064_11_10(&d("6592997048")), 9);
        assert!(tfn_valid(&d("123 456 782")));
        assert_eq!(nif_letter(12_345_678), 'Z');
        assert_eq!(nric_letter('S', &d("1234567")), 'D');
        assert_eq!(fiscal_code_char("RSSMRA85T10A562"), 'S');
        assert_eq!(fiscal_code_char("MRTMTT91D08F205"), 'J');
    }

    #[test]
    fn sha256_vectors() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn bitcoin_encodings() {
        assert_eq!(base58check(0, &[0; 20]), "1111111111111111111114oLvT2");
        let program: Vec<u8> = (0..20)
            .map(|i| {
                u8::from_str_radix(
                    &"751e76e8199196d454941c45d1b3a323f1433bd6"[2 * i..2 * i + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            segwit_v0("bc", &program),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
    }
}
