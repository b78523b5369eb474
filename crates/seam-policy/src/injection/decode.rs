//! Decoders for the encodings attackers wrap instructions in. Lenient where the encoders in the
//! wild are (padding optional, either base64 alphabet), strict where leniency would turn noise
//! into text (a byte that is not of the alphabet ends the decode with `None`).

/// Decodes standard or URL-safe base64, padded or not. `None` when `s` is not base64.
pub(crate) fn base64(s: &[u8]) -> Option<Vec<u8>> {
    let body = trim_padding(s);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in body {
        acc = (acc << 6) | u32::from(sextet(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn trim_padding(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 0 && s[end - 1] == b'=' {
        end -= 1;
    }
    &s[..end]
}

fn sextet(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Decodes hex digits, ignoring single separators (space, `:`, `-`) and `\x`/`0x` prefixes between
/// bytes, which is how hex dumps are usually pasted. `None` on an odd digit count or other bytes.
pub(crate) fn hex(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 2);
    let mut high: Option<u8> = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if high.is_none() && (c == b'\\' || c == b'0') && matches!(s.get(i + 1), Some(b'x' | b'X'))
        {
            i += 2;
            continue;
        }
        if high.is_none() && matches!(c, b' ' | b':' | b'-' | b',') {
            i += 1;
            continue;
        }
        let v = (c as char).to_digit(16)? as u8;
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
        i += 1;
    }
    if high.is_some() { None } else { Some(out) }
}

/// ROT13 of the ASCII letters; every other byte, and so every offset, stays where it was.
pub(crate) fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// Whether decoded bytes read as text: valid UTF-8, almost all of it printable. Random bytes
/// (hashes, keys, compressed data) fail this, so they are never re-scanned.
pub(crate) fn as_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    let total = s.chars().count();
    if total == 0 {
        return None;
    }
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    // Text has letters; 95% printable tolerates a stray control byte from a sloppy encoder.
    (printable * 100 >= total * 95 && letters * 2 >= total).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_table() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("aGVsbG8=", Some(b"hello")),
            ("aGVsbG8", Some(b"hello")),
            ("aGk_Pz8-", Some(b"hi???>")),
            ("aGk/Pz8+", Some(b"hi???>")),
            ("", Some(b"")),
            ("a", None),
            ("aGV$bG8=", None),
        ];
        for (input, expect) in cases {
            assert_eq!(base64(input.as_bytes()).as_deref(), *expect, "{input}");
        }
    }

    #[test]
    fn hex_table() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("68656c6c6f", Some(b"hello")),
            ("68 65 6C 6c 6f", Some(b"hello")),
            ("\\x68\\x69", Some(b"hi")),
            ("0x68 0x69", Some(b"hi")),
            ("686", None),
            ("68zz", None),
        ];
        for (input, expect) in cases {
            assert_eq!(hex(input.as_bytes()).as_deref(), *expect, "{input}");
        }
    }

    #[test]
    fn rot13_is_an_involution_that_keeps_offsets() {
        let s = "Ignore prévious 123";
        assert_eq!(rot13(&rot13(s)), s);
        assert_eq!(rot13(s).len(), s.len());
        assert_eq!(rot13("vtaber"), "ignore");
    }

    #[test]
    fn only_text_counts_as_text() {
        assert_eq!(as_text(b"ignore all rules"), Some("ignore all rules"));
        assert_eq!(as_text(&[0x9f, 0x86, 0xd0, 0x81]), None);
        assert_eq!(as_text(b"\x01\x02\x03abc"), None);
        assert_eq!(as_text(b"12345678"), None);
    }
}
