//! BERT's BasicTokenizer and WordPiece, as Hugging Face `tokenizers` runs them for a
//! `BertNormalizer` (clean text, CJK characters split, accents stripped, lower-cased) and a
//! `BertPreTokenizer` (split on whitespace and punctuation), keeping for every token the byte
//! range of the input it came from, so entity spans map back exactly.

use std::collections::HashMap;
use std::ops::Range;

use unicode_normalization::char::decompose_canonical;

use crate::unicode_tables::{NONSPACING_MARK, OTHER, PUNCTUATION};

/// Longest word WordPiece splits; a longer one is one `[UNK]`.
const MAX_CHARS_PER_WORD: usize = 100;

/// One token: its vocabulary id, the input bytes it covers, and the word it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Vocabulary id.
    pub id: u32,
    /// Byte range in the input text (char boundaries).
    pub range: Range<usize>,
    /// Index of the pre-tokenized word (whitespace/punctuation split) it is part of.
    pub word: usize,
}

/// A WordPiece vocabulary and the BERT pre-processing.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
}

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_whitespace(c: char) -> bool {
    c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && in_table(OTHER, c)
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || in_table(PUNCTUATION, c)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

impl WordPiece {
    /// Builds from `vocab.txt`'s contents: one token a line, its id the line number.
    pub fn from_vocab(text: &str) -> Result<Self, String> {
        let mut vocab = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let id = u32::try_from(i).map_err(|_| "vocab.txt: too many lines".to_string())?;
            vocab
                .entry(line.trim_end_matches('\r').to_string())
                .or_insert(id);
        }
        let unk = *vocab
            .get("[UNK]")
            .ok_or_else(|| "vocab.txt: no [UNK] token".to_string())?;
        Ok(WordPiece { vocab, unk })
    }

    /// The id of a special token such as `[CLS]`.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether the vocabulary is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Tokenizes `text` (no `[CLS]`/`[SEP]`).
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let mut tokens = Vec::new();
        // The current word: its normalized chars, each with the input bytes it came from.
        let mut word: Vec<(char, Range<usize>)> = Vec::new();
        let mut words = 0usize;
        let mut flush = |word: &mut Vec<(char, Range<usize>)>, tokens: &mut Vec<Token>| {
            if !word.is_empty() {
                self.word_pieces(word, words, tokens);
                words += 1;
                word.clear();
            }
        };
        for (start, c) in text.char_indices() {
            let range = start..start + c.len_utf8();
            if c == '\0' || c == '\u{FFFD}' || is_control(c) {
                continue;
            }
            if is_whitespace(c) {
                flush(&mut word, &mut tokens);
                continue;
            }
            if is_cjk(c) {
                flush(&mut word, &mut tokens);
                word.push((c, range));
                flush(&mut word, &mut tokens);
                continue;
            }
            let mut produced = false;
            let mut decomposed = Vec::with_capacity(2);
            decompose_canonical(c, |d| decomposed.push(d));
            for d in decomposed {
                if in_table(NONSPACING_MARK, d) {
                    continue;
                }
                for l in d.to_lowercase() {
                    produced = true;
                    let range = range.clone();
                    if is_punctuation(l) {
                        flush(&mut word, &mut tokens);
                        word.push((l, range));
                        flush(&mut word, &mut tokens);
                    } else {
                        word.push((l, range));
                    }
                }
            }
            // A lone combining mark vanishes; its bytes belong to the char before it.
            // A stripped mark belongs to the char before it, so a span covers the whole word.
            if !produced {
                if let Some(last) = word.last_mut() {
                    last.1.end = range.end;
                }
            }
        }
        flush(&mut word, &mut tokens);
        tokens
    }

    fn word_pieces(&self, word: &[(char, Range<usize>)], index: usize, out: &mut Vec<Token>) {
        let (Some(first), Some(last)) = (word.first(), word.last()) else {
            return;
        };
        let whole = first.1.start..last.1.end;
        if word.len() > MAX_CHARS_PER_WORD {
            out.push(Token {
                id: self.unk,
                range: whole,
                word: index,
            });
            return;
        }
        let chars: Vec<char> = word.iter().map(|(c, _)| *c).collect();
        let before = out.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.extend(&chars[start..end]);
                if let Some(&id) = self.vocab.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            let Some(id) = found else {
                out.truncate(before);
                out.push(Token {
                    id: self.unk,
                    range: whole,
                    word: index,
                });
                return;
            };
            // A piece runs to the start of the next piece, so pieces tile the word with
            // nothing left between them, and at least to its own last char's end (one input
            // char may decompose into several, e.g. a Hangul syllable into jamo).
            let own_end = word[end - 1].1.end;
            let end_byte = word
                .get(end)
                .map_or(whole.end, |(_, r)| r.start)
                .max(own_end);
            let start_byte = word[start].1.start;
            out.push(Token {
                id,
                range: start_byte..end_byte.max(start_byte),
                word: index,
            });
            start = end;
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
mod tests {
    use super::*;

    fn wp() -> WordPiece {
        let vocab = [
            "[PAD]",
            "[UNK]",
            "[CLS]",
            "[SEP]",
            "[MASK]",
            "hello",
            ",",
            "jose",
            "muller",
            "##s",
            "str",
            "##asse",
            "12",
            "baker",
            "street",
            "london",
            "東",
            "京",
            "e",
            "cafe",
            "!",
            "\u{1109}",
            "##\u{1165}",
        ];
        WordPiece::from_vocab(&vocab.join("\n")).unwrap()
    }

    fn pieces<'t>(w: &WordPiece, text: &'t str) -> Vec<(u32, &'t str)> {
        w.tokenize(text)
            .into_iter()
            .map(|t| (t.id, &text[t.range]))
            .collect()
    }

    #[test]
    fn offsets_cover_the_original_bytes() {
        let w = wp();
        assert_eq!(
            pieces(&w, "Hello, José!"),
            vec![(5, "Hello"), (6, ","), (7, "José"), (20, "!")]
        );
        assert_eq!(
            pieces(&w, "MÜLLERS Straße"),
            vec![(8, "MÜLLER"), (9, "S"), (1, "Straße")]
        );
        assert_eq!(
            pieces(&w, "12 Baker Street,\tLondon"),
            vec![
                (12, "12"),
                (13, "Baker"),
                (14, "Street"),
                (6, ","),
                (15, "London")
            ]
        );
        // CJK characters are words of their own; a decomposed accent stays with its letter.
        assert_eq!(pieces(&w, "東京"), vec![(16, "東"), (17, "京")]);
        assert_eq!(pieces(&w, "cafe\u{301}"), vec![(19, "cafe\u{301}")]);
        // Controls vanish; an over-long word is one [UNK] spanning all of it.
        assert_eq!(pieces(&w, "\u{200b}hello\u{0}"), vec![(5, "hello")]);
        let long = "e".repeat(101);
        assert_eq!(pieces(&w, &long), vec![(1, long.as_str())]);
        // One syllable decomposes into two jamo pieces: each covers the whole syllable.
        assert_eq!(pieces(&w, "서"), vec![(21, "서"), (22, "서")]);
        let toks = w.tokenize("hello hello");
        assert_eq!((toks[0].word, toks[1].word), (0, 1));
    }
}
