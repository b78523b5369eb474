//! Normalisation before detection, with a map back to the original text.
//!
//! Detectors see text where escapes something downstream will decode are decoded
//! ([`escapes`]: `ada%40example.com`, `&#52;111…`, `\u0040`), compatibility forms are folded
//! (NFKC: fullwidth digits and letters, ligatures, superscripts…) and invisible characters are
//! gone (zero-width spaces and joiners, word joiner, BOM, soft hyphen, bidi controls, Unicode tag
//! characters), so `４１１１ １１１１…` and `jo\u{200b}hn@example.com` are found. Every finding is
//! mapped back to byte offsets in the original text, which is what actions rewrite and what
//! reports point into; a decoded character maps to its whole escape.
//!
//! Plain ASCII without `%`, `&`, `\` or a `+` between digits — most prompts — takes a fast path:
//! nothing is copied and offsets are the identity.

mod escapes;

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Characters removed before detection: they render as nothing and are used to split values.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // arabic letter mark
        | '\u{115F}' | '\u{1160}'   // hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'   // mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space, joiners, lrm/rlm
        | '\u{202A}'..='\u{202E}'   // bidi embedding and override
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'   // bidi isolates, deprecated format characters
        | '\u{3164}' | '\u{FFA0}'   // hangul fillers
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // byte order mark / zero-width no-break space
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// Text as detectors see it, and the way back to the original.
#[derive(Debug)]
pub struct Normalized<'a> {
    original: &'a str,
    text: Cow<'a, str>,
    /// For each byte of `text`: the original start and end of the character it came from.
    /// Empty when `text` is the original (the identity map).
    map: Vec<(u32, u32)>,
}

impl<'a> Normalized<'a> {
    pub fn new(original: &'a str) -> Self {
        let escapes = escapes::may_hold_escapes(original.as_bytes());
        let decoded = if escapes {
            escapes::decode(original)
        } else {
            None
        };
        let (text, map) = match decoded {
            None if original.is_ascii() => (Cow::Borrowed(original), Vec::new()),
            None => {
                let (t, m) = fold(original, None);
                (Cow::Owned(t), m)
            }
            Some((t, m)) if t.is_ascii() => (Cow::Owned(t), m),
            Some((t, m)) => {
                let (t, m) = fold(&t, Some(&m));
                (Cow::Owned(t), m)
            }
        };
        Normalized {
            original,
            text,
            map,
        }
    }

    /// The normalised text detectors scan.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn original(&self) -> &'a str {
        self.original
    }

    /// Maps a byte range of the normalised text to the original text, widened to whole
    /// original characters.
    pub fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() {
            return (start, end);
        }
        if start >= end || end > self.map.len() {
            let at = self
                .map
                .get(start)
                .map_or(self.original.len(), |m| m.0 as usize);
            return (at, at);
        }
        (self.map[start].0 as usize, self.map[end - 1].1 as usize)
    }

    /// Where the character at byte `at` of the normalised text starts in the original (the
    /// original's length at or past the end): a cut there never splits an escape.
    pub fn original_offset(&self, at: usize) -> usize {
        if self.map.is_empty() {
            return at.min(self.original.len());
        }
        self.map
            .get(at)
            .map_or(self.original.len(), |m| m.0 as usize)
    }
}

/// NFKC-folds `s` and drops invisible characters; each byte of the result maps to the original
/// span of the character it came from (through `prior` when `s` is itself decoded text).
fn fold(s: &str, prior: Option<&[(u32, u32)]>) -> (String, Vec<(u32, u32)>) {
    let mut text = String::with_capacity(s.len());
    let mut map = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for (start, c) in s.char_indices() {
        let end = start + c.len_utf8();
        let span = match prior {
            None => (start as u32, end as u32),
            Some(m) => (m[start].0, m[end - 1].1),
        };
        if c.is_ascii() {
            text.push(c);
            map.push(span);
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        for folded in c.encode_utf8(&mut buf).nfkc() {
            if is_invisible(folded) {
                continue;
            }
            text.push(folded);
            map.extend(std::iter::repeat_n(span, folded.len_utf8()));
        }
    }
    (text, map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, normalized: &str) {
        let n = Normalized::new(input);
        assert_eq!(n.text(), normalized, "input {input:?}");
    }

    #[test]
    fn table() {
        check("plain ascii", "plain ascii");
        check("４１１１ １１１１", "4111 1111");
        check("jo\u{200b}hn@exa\u{00ad}mple.com", "john@example.com");
        check("ｅｍａｉｌ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email@example.com");
        check("\u{feff}bom and \u{2063}separators", "bom and separators");
        check("tags\u{e0041}\u{e0042}", "tags");
        check("ﬁle ①", "file 1");
        check("café", "café");
    }

    /// Escapes decode to what a downstream decoder would read; NFKC and invisible characters
    /// apply to what they decode to.
    #[test]
    fn escapes_table() {
        check("ada%40example.com", "ada@example.com");
        check("ada%40example%2Ecom", "ada@example.com");
        check("4111%201111%201111%201111", "4111 1111 1111 1111");
        check("4111+1111+1111+1111", "4111 1111 1111 1111");
        check("&#52;111 1111 1111 1111", "4111 1111 1111 1111");
        check("ada&commat;example&period;com", "ada@example.com");
        check("\\u0034111 1111 1111 1111", "4111 1111 1111 1111");
        check(
            "\\uD83D\\uDE00 ada\\x40example.com",
            "\u{1F600} ada@example.com",
        );
        check("%2B44%2020%207946%200958", "+44 20 7946 0958");
        check("536&#45;90&#x2D;6789", "536-90-6789");
        check("%EF%BC%94%E2%80%8B1", "41");
        check("\\uFF14\\u200b1", "41");
        check("caf%C3%A9 caf\u{e9}", "caf\u{e9} caf\u{e9}");
        check("%2540 &amp;#64; %252540", "@ @ %40");
        check("AT&T 100% a\\d", "AT&T 100% a\\d");
    }

    #[test]
    fn plain_ascii_is_borrowed_with_the_identity_map() {
        for text in ["plain ascii, no escapes: 4111 1111", "c++ +44 20 a+b", ""] {
            let n = Normalized::new(text);
            assert!(
                matches!(n.text, Cow::Borrowed(_)) && n.map.is_empty(),
                "{text:?}"
            );
        }
        // A `%`, `&` or `\` that starts no escape costs a search, not a copy.
        for text in ["100% sure & fast", "C:\\dir", "1+"] {
            assert!(
                matches!(Normalized::new(text).text, Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_decoded_character_maps_to_its_whole_escape() {
        let cases = [
            (
                "to ada%40example.com!",
                "ada@example.com",
                "ada%40example.com",
            ),
            ("x %61%64%61 y", "ada", "%61%64%61"),
            ("n &#52;111 end", "4111", "&#52;111"),
            ("j \"\\uD83D\\uDE00\" k", "\u{1F600}", "\\uD83D\\uDE00"),
            ("q %2540 r", "@", "%2540"),
            ("z %EF%BC%A0 w", "@", "%EF%BC%A0"),
        ];
        for (input, value, original) in cases {
            let n = Normalized::new(input);
            let start = n.text().find(value).unwrap();
            let (s, e) = n.to_original(start, start + value.len());
            assert_eq!(&input[s..e], original, "{input:?}");
            assert_eq!(n.original_offset(start), s);
        }
    }

    #[test]
    fn offsets_point_into_the_original() {
        let input = "card: ４\u{200b}１１１ end";
        let n = Normalized::new(input);
        let start = n.text().find('4').unwrap();
        let end = n.text().find(" end").unwrap();
        let (s, e) = n.to_original(start, end);
        assert_eq!(&input[s..e], "４\u{200b}１１１");
    }

    proptest! {
        // Any range of the normalised text maps to a valid, ordered range of the original.
        #[test]
        fn mapping_is_always_a_valid_range(s in "\\PC{0,40}", a in 0usize..60, b in 0usize..60) {
            let n = Normalized::new(&s);
            let len = n.text().len();
            let (start, end) = (a.min(b).min(len), a.max(b).min(len));
            let (os, oe) = n.to_original(start, end);
            prop_assert!(os <= oe && oe <= s.len());
            prop_assert!(s.is_char_boundary(os) && s.is_char_boundary(oe));
        }

        /// The same over text full of escapes and parts of them.
        #[test]
        fn mapping_through_escapes_is_always_a_valid_range(
            s in "([%&#;\\+ux{}]|[0-9a-fA-F]{1,3}|é|\u{200b}|%2[05]|&amp;|\\u00e9){0,30}",
            a in 0usize..60,
            b in 0usize..60,
        ) {
            let n = Normalized::new(&s);
            let len = n.text().len();
            let (start, end) = (a.min(b).min(len), a.max(b).min(len));
            let (os, oe) = n.to_original(start, end);
            prop_assert!(os <= oe && oe <= s.len());
            prop_assert!(s.is_char_boundary(os) && s.is_char_boundary(oe));
            let at = n.original_offset(start);
            prop_assert!(at <= s.len() && s.is_char_boundary(at));
        }
    }
}
