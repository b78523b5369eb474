//! Normalisation before detection, with a map back to the original text.
//!
//! Detectors see text where compatibility forms are folded (NFKC: fullwidth digits and letters,
//! ligatures, superscripts…) and invisible characters are gone (zero-width spaces and joiners,
//! word joiner, BOM, soft hyphen, bidi controls, Unicode tag characters), so `４１１１ １１１１…` and
//! `jo\u{200b}hn@example.com` are found. Every finding is mapped back to byte offsets in the
//! original text, which is what actions rewrite and what reports point into.
//!
//! Plain ASCII — most prompts — takes a fast path: nothing is copied and offsets are the identity.

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
        if original.is_ascii() {
            return Normalized {
                original,
                text: Cow::Borrowed(original),
                map: Vec::new(),
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        let mut buf = [0u8; 4];
        for (start, c) in original.char_indices() {
            let end = (start + c.len_utf8()) as u32;
            let start = start as u32;
            if c.is_ascii() {
                text.push(c);
                map.push((start, end));
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
                for _ in 0..folded.len_utf8() {
                    map.push((start, end));
                }
            }
        }
        Normalized {
            original,
            text: Cow::Owned(text),
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
    }
}
