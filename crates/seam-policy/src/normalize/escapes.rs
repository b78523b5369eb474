//! Escapes that something downstream will decode: percent-encoding (`%40`, and `+` between two
//! digits, a space in a form-encoded query), HTML character references (`&#64;`, `&#x40;`,
//! `&commat;`) and the backslash escapes of JSON and JavaScript (`\u0040`, surrogate pairs,
//! `\u{40}`, `\x40`, `\n`, `\\`). Each decoded character maps back to its whole escape, so a
//! finding over `ada%40example.com` covers exactly those bytes and an action replaces the value
//! in every form it was written in.
//!
//! One level of nesting is decoded (`%2540` → `%40` → `@`, `&amp;#64;` → `&#64;` → `@`): double
//! encoding is what a URL inside a query parameter, or HTML escaped twice, looks like. Deeper
//! nesting is not: nothing decodes a value three times by accident.
//!
//! Only what decodes to text counts: a percent-encoded byte must be printable ASCII or part of a
//! valid UTF-8 sequence, a code point must not be a control character (tab, line feed and
//! carriage return excepted) or a lone surrogate. Anything else stays as written.

use memchr::{memchr, memchr3};

/// For each byte of a decoded text: the original start and end of what it came from.
pub(super) type Map = Vec<(u32, u32)>;

/// Whether `b` may hold an escape: the test that keeps plain ASCII on the zero-copy path.
pub(super) fn may_hold_escapes(b: &[u8]) -> bool {
    memchr3(b'%', b'&', b'\\', b).is_some() || digit_plus(b, 0).is_some()
}

/// `s` with its escapes decoded, one level of nesting included, and for each byte of the result
/// the original start and end of the escape (or character) it came from. `None` when `s` holds
/// no escape.
pub(super) fn decode(s: &str) -> Option<(String, Map)> {
    let (text, map, nested) = pass(s, None, true)?;
    if nested && let Some((t2, m2, _)) = pass(&text, Some(&map), false) {
        return Some((t2, m2));
    }
    Some((text, map))
}

/// The original span of `s[a..b]`: through `prior` when `s` is itself decoded text.
fn span(prior: Option<&[(u32, u32)]>, a: usize, b: usize) -> (u32, u32) {
    match prior {
        None => (a as u32, b as u32),
        Some(m) => (m[a].0, m[b - 1].1),
    }
}

/// Copies `s[from..to]` unchanged, each byte mapped to the whole character it belongs to.
fn copy(
    s: &str,
    from: usize,
    to: usize,
    prior: Option<&[(u32, u32)]>,
    text: &mut String,
    map: &mut Vec<(u32, u32)>,
) {
    let part = &s[from..to];
    text.push_str(part);
    if prior.is_none() && part.is_ascii() {
        map.extend((from..to).map(|k| (k as u32, k as u32 + 1)));
        return;
    }
    for (off, c) in part.char_indices() {
        let a = from + off;
        let m = span(prior, a, a + c.len_utf8());
        map.extend(std::iter::repeat_n(m, c.len_utf8()));
    }
}

/// One decoding pass. `plus`: read `+` between two digits as a space (form encoding, done once).
/// The flag says whether a decoded character could start another escape.
fn pass(s: &str, prior: Option<&[(u32, u32)]>, plus: bool) -> Option<(String, Map, bool)> {
    let b = s.as_bytes();
    let mut out: Option<(String, Map)> = None;
    let mut nested = false;
    let (mut last, mut i) = (0, 0);
    // The next `%`, `&` or `\`, and the next `+` between digits, each at or after `i`.
    let mut other = memchr3(b'%', b'&', b'\\', b);
    let mut next_plus = if plus { digit_plus(b, 0) } else { None };
    loop {
        if other.is_some_and(|p| p < i) {
            other = memchr3(b'%', b'&', b'\\', &b[i..]).map(|p| p + i);
        }
        if next_plus.is_some_and(|p| p < i) {
            next_plus = digit_plus(b, i);
        }
        let p = match (other, next_plus) {
            (Some(a), Some(c)) => a.min(c),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        let Some((c, len)) = escape_at(b, p) else {
            i = p + 1;
            continue;
        };
        let (text, map) = out
            .get_or_insert_with(|| (String::with_capacity(s.len()), Vec::with_capacity(s.len())));
        copy(s, last, p, prior, text, map);
        text.push(c);
        map.extend(std::iter::repeat_n(span(prior, p, p + len), c.len_utf8()));
        nested |= matches!(c, '%' | '&' | '\\');
        last = p + len;
        i = last;
    }
    let (mut text, mut map) = out?;
    copy(s, last, s.len(), prior, &mut text, &mut map);
    Some((text, map, nested))
}

/// The first `+` at or after `from` with a digit on either side.
fn digit_plus(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(k) = b.get(from..).and_then(|rest| memchr(b'+', rest)) {
        let p = from + k;
        if p > 0 && b[p - 1].is_ascii_digit() && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// The escape starting at `b[p]`: what it decodes to and how many bytes it spans.
fn escape_at(b: &[u8], p: usize) -> Option<(char, usize)> {
    match b[p] {
        b'%' => percent(b, p),
        b'&' => html(b, p),
        b'\\' => backslash(b, p),
        b'+' => Some((' ', 1)),
        _ => None,
    }
}

/// Whether a decoded character is text: not a control, whitespace excepted.
fn is_text(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// The value of `n` hex digits at `b[at..]`.
fn hex(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = b.get(at..at + n)?;
    digits
        .iter()
        .try_fold(0u32, |v, &c| Some(v << 4 | hex_digit(c)?))
}

/// `%XX`, or two to four of them forming one UTF-8 character.
fn percent(b: &[u8], p: usize) -> Option<(char, usize)> {
    let first = hex(b, p + 1, 2)? as u8;
    let n = match first {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let mut bytes = [first, 0, 0, 0];
    for (k, slot) in bytes.iter_mut().enumerate().take(n).skip(1) {
        let at = p + 3 * k;
        if b.get(at) != Some(&b'%') {
            return None;
        }
        *slot = hex(b, at + 1, 2)? as u8;
    }
    let c = std::str::from_utf8(&bytes[..n]).ok()?.chars().next()?;
    is_text(c).then_some((c, 3 * n))
}

/// Named references that can spell an identifier or a separator in one: HTML's names for the
/// ASCII punctuation and spaces (digits and letters have none). The dashes read as `-`, the
/// separator they stand for in a number.
const NAMED: &[(&str, char)] = &[
    ("AMP", '&'),
    ("GT", '>'),
    ("LT", '<'),
    ("NewLine", '\n'),
    ("QUOT", '"'),
    ("Tab", '\t'),
    ("UnderBar", '_'),
    ("VerticalLine", '|'),
    ("amp", '&'),
    ("apos", '\''),
    ("ast", '*'),
    ("bsol", '\\'),
    ("colon", ':'),
    ("comma", ','),
    ("commat", '@'),
    ("dash", '-'),
    ("dollar", '$'),
    ("emsp", '\u{2003}'),
    ("ensp", '\u{2002}'),
    ("equals", '='),
    ("excl", '!'),
    ("grave", '`'),
    ("gt", '>'),
    ("hyphen", '-'),
    ("lbrace", '{'),
    ("lbrack", '['),
    ("lcub", '{'),
    ("lowbar", '_'),
    ("lpar", '('),
    ("lsqb", '['),
    ("lt", '<'),
    ("midast", '*'),
    ("minus", '-'),
    ("nbsp", '\u{a0}'),
    ("num", '#'),
    ("percnt", '%'),
    ("period", '.'),
    ("plus", '+'),
    ("quest", '?'),
    ("quot", '"'),
    ("rbrace", '}'),
    ("rbrack", ']'),
    ("rcub", '}'),
    ("rpar", ')'),
    ("rsqb", ']'),
    ("semi", ';'),
    ("sol", '/'),
    ("thinsp", '\u{2009}'),
    ("verbar", '|'),
    ("vert", '|'),
];

/// Longest name in [`NAMED`].
const LONGEST_NAME: usize = 12;

/// `&#64;`, `&#x40;` (the `;` optional, as browsers read them) or `&name;`.
fn html(b: &[u8], p: usize) -> Option<(char, usize)> {
    if b.get(p + 1) == Some(&b'#') {
        let (radix, from) = match b.get(p + 2) {
            Some(b'x' | b'X') => (16, p + 3),
            _ => (10, p + 2),
        };
        let digits = b
            .get(from..)?
            .iter()
            .take_while(|c| (**c as char).is_digit(radix))
            .count();
        // Leading zeros aside, no code point needs more than seven digits.
        if digits == 0 || digits > 8 {
            return None;
        }
        let v = b[from..from + digits]
            .iter()
            .try_fold(0u32, |v, &c| Some(v * radix + (c as char).to_digit(radix)?))?;
        let c = char::from_u32(v).filter(|&c| is_text(c))?;
        let end = from + digits;
        let len = end - p + usize::from(b.get(end) == Some(&b';'));
        return Some((c, len));
    }
    let name_len = b
        .get(p + 1..)?
        .iter()
        .take(LONGEST_NAME + 1)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if name_len == 0 || b.get(p + 1 + name_len) != Some(&b';') {
        return None;
    }
    let name = std::str::from_utf8(&b[p + 1..p + 1 + name_len]).ok()?;
    let i = NAMED.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
    Some((NAMED[i].1, name_len + 2))
}

/// `\uXXXX` (a surrogate pair as two), `\u{X…}`, `\xXX`, and the escapes of JSON's separators
/// and whitespace.
fn backslash(b: &[u8], p: usize) -> Option<(char, usize)> {
    let simple = match *b.get(p + 1)? {
        b'u' => return unicode(b, p),
        b'x' => {
            let c = char::from(hex(b, p + 2, 2)? as u8);
            return (c.is_ascii() && is_text(c)).then_some((c, 4));
        }
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'"' => '"',
        b'\'' => '\'',
        b'/' => '/',
        b'\\' => '\\',
        _ => return None,
    };
    Some((simple, 2))
}

fn unicode(b: &[u8], p: usize) -> Option<(char, usize)> {
    if b.get(p + 2) == Some(&b'{') {
        let n = b
            .get(p + 3..)?
            .iter()
            .take(7)
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if !(1..=6).contains(&n) || b.get(p + 3 + n) != Some(&b'}') {
            return None;
        }
        let c = char::from_u32(hex(b, p + 3, n)?).filter(|&c| is_text(c))?;
        return Some((c, n + 4));
    }
    let hi = hex(b, p + 2, 4)?;
    if (0xD800..0xDC00).contains(&hi) {
        if b.get(p + 6..p + 8) != Some(b"\\u") {
            return None;
        }
        let lo = hex(b, p + 8, 4)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?;
        return is_text(c).then_some((c, 12));
    }
    let c = char::from_u32(hi).filter(|&c| is_text(c))?;
    Some((c, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_fit_the_longest() {
        assert!(NAMED.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(NAMED.iter().map(|(n, _)| n.len()).max(), Some(LONGEST_NAME));
    }

    /// Each escape alone: what it decodes to and how many bytes it spans, or `None`.
    #[test]
    fn escapes_table() {
        let cases: &[(&str, Option<(char, usize)>)] = &[
            ("%40", Some(('@', 3))),
            ("%2e", Some(('.', 3))),
            ("%2E", Some(('.', 3))),
            ("%20", Some((' ', 3))),
            ("%0A", Some(('\n', 3))),
            ("%00", None),
            ("%7F", None),
            ("%4", None),
            ("%zz", None),
            ("%C3%A9", Some(('é', 6))),
            ("%EF%BC%A0", Some(('＠', 9))),
            ("%F0%9F%98%80", Some(('😀', 12))),
            ("%C3", None),
            ("%C3%41", None),
            ("%E2%80%8B", Some(('\u{200b}', 9))),
            ("%FF", None),
            ("&#64;", Some(('@', 5))),
            ("&#64", Some(('@', 4))),
            ("&#x40;", Some(('@', 6))),
            ("&#X40;", Some(('@', 6))),
            ("&#0000064;", Some(('@', 10))),
            ("&#0;", None),
            ("&#xD800;", None),
            ("&#x110000;", None),
            ("&#;", None),
            ("&commat;", Some(('@', 8))),
            ("&period;", Some(('.', 8))),
            ("&amp;", Some(('&', 5))),
            ("&nbsp;", Some(('\u{a0}', 6))),
            ("&hyphen;", Some(('-', 8))),
            ("&commat", None),
            ("&Commat;", None),
            ("&unknown;", None),
            ("& amp;", None),
            ("\\u0040", Some(('@', 6))),
            ("\\u00E9", Some(('é', 6))),
            ("\\uD83D\\uDE00", Some(('😀', 12))),
            ("\\uD83D", None),
            ("\\uD83Dx", None),
            ("\\uDE00", None),
            ("\\u004", None),
            ("\\u0000", None),
            ("\\u{40}", Some(('@', 6))),
            ("\\u{1F600}", Some(('😀', 9))),
            ("\\u{}", None),
            ("\\u{1234567}", None),
            ("\\x40", Some(('@', 4))),
            ("\\xE9", None),
            ("\\x4", None),
            ("\\n", Some(('\n', 2))),
            ("\\/", Some(('/', 2))),
            ("\\\\", Some(('\\', 2))),
            ("\\d", None),
            ("\\", None),
        ];
        for (input, want) in cases {
            assert_eq!(escape_at(input.as_bytes(), 0), *want, "{input:?}");
        }
    }

    #[test]
    fn plus_is_a_space_only_between_digits() {
        let decoded = |s: &str| decode(s).map(|(t, _)| t);
        assert_eq!(decoded("4111+1111").as_deref(), Some("4111 1111"));
        assert_eq!(decoded("+44 20"), None);
        assert_eq!(decoded("ada+tag@x.org"), None);
        assert_eq!(decoded("c++ and 1+"), None);
        // `%2B` is a plus sign, never a space, even between digits.
        assert_eq!(decoded("1%2B1").as_deref(), Some("1+1"));
    }

    #[test]
    fn one_level_of_nesting() {
        let decoded = |s: &str| decode(s).map(|(t, _)| t);
        assert_eq!(decoded("%2540").as_deref(), Some("@"));
        assert_eq!(decoded("&amp;#64;").as_deref(), Some("@"));
        assert_eq!(decoded("\\\\u0040").as_deref(), Some("@"));
        assert_eq!(decoded("%25%34%30").as_deref(), Some("@"));
        assert_eq!(decoded("%252540").as_deref(), Some("%40"));
        assert_eq!(decoded("AT&amp;T").as_deref(), Some("AT&T"));
        let (text, map) = decode("a%2540b").unwrap();
        assert_eq!(text, "a@b");
        assert_eq!(map, [(0, 1), (1, 6), (6, 7)]);
    }
}
