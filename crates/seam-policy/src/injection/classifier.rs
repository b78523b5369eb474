//! The learned injection classifier: a logistic regression over hashed word and character
//! n-grams, trained on public labelled sets (see `examples/injection_train.rs` and
//! `scripts/injection-data.py`) and shipped inside the binary.
//!
//! A text is normalised (as detectors see it: NFKC, escapes decoded, invisible characters gone)
//! and lower-cased, then split into tokens: runs of letters and digits (words) and runs of other
//! visible characters (punctuation such as `###` or `{"`). Two feature groups are hashed into one
//! table of `2^bits` weights:
//!
//! - **words**: every token and every pair of adjacent tokens;
//! - **characters**: the 3-, 4- and 5-grams of each word framed as `<word>` (the first
//!   [`MAX_WORD_CHARS`] characters), which carry meaning across inflections and languages
//!   ("ignoriere", "ignorez", "ignora" share `<ign`, `igno`).
//!
//! Each group counts a feature once and is L2-normalised on its own, so the logit is
//! `bias + Σ w(words)/√|words| + Σ w(chars)/√|chars|`; the score is `sigmoid(logit − offset)`,
//! where the offset puts the operating point chosen on the validation splits at 0.8, the policy
//! default threshold. Texts longer than [`Model::window`] tokens are scored in windows of that many
//! tokens (half overlapping) and the highest window counts, so one injected paragraph in a long
//! document is not diluted by the rest. Texts of fewer than [`MIN_WORDS`] words score 0.
//!
//! Weights are stored as `i8` with one scale (256 KiB at 18 bits) and stay quantised in memory.
//! Pure and bounded: time is linear in the text, no IO, no allocation per feature.

use std::sync::LazyLock;

use crate::normalize::Normalized;

/// The shipped model, trained by `cargo run --release -p seam-policy --example injection_train`.
const SHIPPED: &[u8] = include_bytes!("../../data/injection/model.bin");

/// The file format's first eight bytes.
pub const MAGIC: &[u8; 8] = b"SEAMINJ1";
/// Characters of a word that give character n-grams; longer words are mostly identifiers and
/// payloads, whose first characters say enough.
pub const MAX_WORD_CHARS: usize = 24;
/// Texts with fewer words get no score: one or two words ("hi", "5", "continue") carry too
/// little for word statistics, and the heuristics still see their tokens.
pub const MIN_WORDS: usize = 3;
/// The character n-gram lengths.
const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 3..=5;
/// Feature kinds, mixed into the hash so a word and a character n-gram never share a key.
const UNIGRAM: u8 = 1;
const BIGRAM: u8 = 2;
const CHARS: u8 = 3;
const LENGTH: u8 = 4;

thread_local! {
    /// [`Model::score`]'s bitset of features seen in a window; all zeros between calls.
    static SEEN: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

static MODEL: LazyLock<Option<Model>> = LazyLock::new(|| Model::parse(SHIPPED).ok());

/// The shipped classifier's calibrated score for `text`, 0..=1 (0 when the model failed to load,
/// which a test rules out).
pub fn score(text: &str) -> f32 {
    MODEL.as_ref().map_or(0.0, |m| m.score(text))
}

/// The shipped model, for tests, the trainer and reports.
pub fn shipped() -> Option<&'static Model> {
    MODEL.as_ref()
}

/// A trained classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The table has `2^bits` weights.
    pub bits: u32,
    /// Tokens per scoring window.
    pub window: u32,
    pub bias: f32,
    /// Subtracted from the logit before the sigmoid: the calibration.
    pub offset: f32,
    /// A weight is `scale × q`.
    pub scale: f32,
    pub weights: Vec<i8>,
}

/// A text's hashed features: bucket indices, each group sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub words: Vec<u32>,
    pub chars: Vec<u32>,
}

impl Model {
    /// Quantises trained weights (`weights.len()` must be `2^bits`).
    pub fn quantise(bits: u32, window: u32, bias: f32, offset: f32, weights: &[f32]) -> Model {
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        Model {
            bits,
            window,
            bias,
            offset,
            scale,
            weights: weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28 + self.weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.window.to_le_bytes());
        for f in [self.bias, self.offset, self.scale] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend(self.weights.iter().map(|q| q.to_le_bytes()[0]));
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Model, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not an injection model (bad magic)")?;
        let word = |i: usize| -> Result<[u8; 4], String> {
            rest.get(i * 4..i * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "truncated header".to_owned())
        };
        let bits = u32::from_le_bytes(word(0)?);
        let window = u32::from_le_bytes(word(1)?);
        let [bias, offset, scale] = [2, 3, 4].map(|i| word(i).map(f32::from_le_bytes));
        let (bias, offset, scale) = (bias?, offset?, scale?);
        if !(8..=24).contains(&bits) || window == 0 {
            return Err(format!("unsupported model: {bits} bits, window {window}"));
        }
        let weights: Vec<i8> = rest[20..].iter().map(|b| i8::from_le_bytes([*b])).collect();
        if weights.len() != 1 << bits {
            return Err(format!(
                "{} weights, expected {}",
                weights.len(),
                1u32 << bits
            ));
        }
        if ![bias, offset, scale].iter().all(|f| f.is_finite()) {
            return Err("non-finite header value".to_owned());
        }
        Ok(Model {
            bits,
            window,
            bias,
            offset,
            scale,
            weights,
        })
    }

    /// The raw logit of one window's features.
    pub fn logit(&self, f: &Features) -> f32 {
        let sum = |ids: &[u32]| -> f32 {
            if ids.is_empty() {
                return 0.0;
            }
            let s: i32 = ids
                .iter()
                .map(|&i| i32::from(self.weights.get(i as usize).copied().unwrap_or(0)))
                .sum();
            s as f32 * self.scale / (ids.len() as f32).sqrt()
        };
        self.bias + sum(&f.words) + sum(&f.chars)
    }

    /// The calibrated score of `text`: its highest window.
    pub fn score(&self, text: &str) -> f32 {
        let tokens = Tokens::new(text);
        if tokens.spans.iter().filter(|(_, _, word)| *word).count() < MIN_WORDS {
            return 0.0;
        }
        // Each token's features are hashed once; overlapping windows only gather them, and a
        // bitset (not a sort) keeps each feature once per window.
        let hashed = tokens.hashed(self.bits);
        let words = (self.weights.len() / 64).max(1);
        let mut best = f32::NEG_INFINITY;
        let mut f = Features::default();
        // The bitset is the thread's own (32 KiB for the shipped model): zeroing a fresh one
        // on every call cost more than the scoring.
        SEEN.with_borrow_mut(|seen| {
            if seen.len() < words {
                seen.resize(words, 0);
            }
            let seen = &mut seen[..words];
            for range in tokens.windows(self.window as usize) {
                hashed.window_raw(range, self.bits, &mut f);
                let z = self.bias + self.group(&f.words, seen) + self.group(&f.chars, seen);
                best = best.max(z);
            }
        });
        sigmoid(best - self.offset)
    }

    /// One group's part of the logit, each distinct id counted once: what [`Model::logit`] gives
    /// for the same ids sorted and deduplicated. `seen` is all zeros before and after.
    fn group(&self, ids: &[u32], seen: &mut [u64]) -> f32 {
        let (mut sum, mut n) = (0i32, 0usize);
        for &id in ids {
            let Some(slot) = seen.get_mut((id >> 6) as usize) else {
                continue;
            };
            let bit = 1u64 << (id & 63);
            if *slot & bit == 0 {
                *slot |= bit;
                sum += i32::from(self.weights.get(id as usize).copied().unwrap_or(0));
                n += 1;
            }
        }
        for &id in ids {
            if let Some(slot) = seen.get_mut((id >> 6) as usize) {
                *slot = 0;
            }
        }
        if n == 0 {
            return 0.0;
        }
        sum as f32 * self.scale / (n as f32).sqrt()
    }
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The features of a whole text, as the trainer sees it.
pub fn features(text: &str, bits: u32) -> Features {
    let tokens = Tokens::new(text);
    let mut f = Features::default();
    tokens.features_into(0..tokens.spans.len(), bits, &mut f);
    f
}

/// A normalised, lower-cased text and its tokens (byte ranges, and whether each is a word).
struct Tokens {
    text: String,
    spans: Vec<(usize, usize, bool)>,
}

impl Tokens {
    fn new(text: &str) -> Tokens {
        let lower = Normalized::new(text).text().to_lowercase();
        let mut spans = Vec::new();
        let mut start: Option<(usize, bool)> = None;
        for (i, c) in lower.char_indices() {
            let class = if c.is_alphanumeric() {
                Some(true)
            } else if c.is_whitespace() {
                None
            } else {
                Some(false)
            };
            match (start, class) {
                (Some((_, w)), Some(k)) if w == k => {}
                (Some((s, w)), _) => {
                    spans.push((s, i, w));
                    start = class.map(|k| (i, k));
                }
                (None, Some(k)) => start = Some((i, k)),
                (None, None) => {}
            }
        }
        if let Some((s, w)) = start {
            spans.push((s, lower.len(), w));
        }
        Tokens { text: lower, spans }
    }

    /// Token ranges to score: the whole text when it fits one window, else windows of `window`
    /// tokens starting every `window / 2`.
    fn windows(&self, window: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let n = self.spans.len();
        let step = (window / 2).max(1);
        let count = if n <= window {
            1
        } else {
            (n - window).div_ceil(step) + 1
        };
        (0..count).map(move |k| {
            let start = (k * step).min(n.saturating_sub(window));
            start..(start + window).min(n)
        })
    }

    fn token(&self, i: usize) -> &str {
        let (s, e, _) = self.spans[i];
        &self.text[s..e]
    }

    fn features_into(&self, range: std::ops::Range<usize>, bits: u32, f: &mut Features) {
        self.hashed(bits).window_into(range, bits, f);
    }

    /// Every token's word features (itself, and the pair with the token before it) and character
    /// n-grams, hashed.
    fn hashed(&self, bits: u32) -> Hashed {
        let n = self.spans.len();
        let mut h = Hashed {
            unigram: Vec::with_capacity(n),
            bigram: Vec::with_capacity(n),
            chars: Vec::with_capacity(n * 12),
            char_ends: Vec::with_capacity(n),
        };
        for i in 0..n {
            let t = self.token(i);
            h.unigram.push(bucket(hash(UNIGRAM, t, ""), bits));
            let pair = if i > 0 {
                bucket(hash(BIGRAM, self.token(i - 1), t), bits)
            } else {
                0
            };
            h.bigram.push(pair);
            if self.spans[i].2 {
                char_ngrams(t, bits, &mut h.chars);
            }
            h.char_ends.push(h.chars.len());
        }
        h
    }
}

/// A text's features per token, hashed once for all its windows.
struct Hashed {
    unigram: Vec<u32>,
    /// Token `i` with token `i − 1`; unused for the first token of a window.
    bigram: Vec<u32>,
    chars: Vec<u32>,
    /// Where each token's character n-grams end in `chars`.
    char_ends: Vec<usize>,
}

impl Hashed {
    fn window_into(&self, range: std::ops::Range<usize>, bits: u32, f: &mut Features) {
        self.window_raw(range, bits, f);
        for v in [&mut f.words, &mut f.chars] {
            v.sort_unstable();
            v.dedup();
        }
    }

    /// A window's ids, repeats included.
    fn window_raw(&self, range: std::ops::Range<usize>, bits: u32, f: &mut Features) {
        f.words.clear();
        f.chars.clear();
        // How long the window is, in powers of two: short fragments and long prompts differ.
        let class = usize::BITS - range.len().leading_zeros();
        f.words
            .push(bucket(hash_bytes(LENGTH, &class.to_le_bytes(), b""), bits));
        let first = range.start;
        for i in range.clone() {
            f.words.push(self.unigram[i]);
            if i > first {
                f.words.push(self.bigram[i]);
            }
        }
        let from = if first == 0 {
            0
        } else {
            self.char_ends[first - 1]
        };
        let to = range
            .end
            .checked_sub(1)
            .map_or(from, |last| self.char_ends[last]);
        f.chars.extend_from_slice(&self.chars[from..to]);
    }
}

/// The 3- to 5-grams of `<word>`, over its first [`MAX_WORD_CHARS`] characters.
fn char_ngrams(word: &str, bits: u32, out: &mut Vec<u32>) {
    let mut framed = [0u8; 4 * MAX_WORD_CHARS + 2];
    let mut ends = [0usize; MAX_WORD_CHARS + 3];
    framed[0] = b'<';
    let mut len = 1;
    let mut chars = 1;
    ends[0] = 0;
    ends[1] = 1;
    for c in word.chars().take(MAX_WORD_CHARS) {
        len += c.encode_utf8(&mut framed[len..]).len();
        chars += 1;
        ends[chars] = len;
    }
    framed[len] = b'>';
    len += 1;
    chars += 1;
    ends[chars] = len;
    for n in CHAR_NGRAMS {
        for s in 0..=chars.saturating_sub(n) {
            if s + n > chars {
                break;
            }
            let gram = &framed[ends[s]..ends[s + n]];
            out.push(bucket(hash_bytes(CHARS, gram, b""), bits));
        }
    }
}

fn hash(kind: u8, a: &str, b: &str) -> u64 {
    hash_bytes(kind, a.as_bytes(), b.as_bytes())
}

/// FNV-1a over the kind and the parts (with a separator), finished with splitmix64's mixer:
/// stable across platforms and releases, which the shipped weights depend on.
fn hash_bytes(kind: u8, a: &[u8], b: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |byte: u8| {
        h ^= u64::from(byte);
        h = h.wrapping_mul(PRIME);
    };
    eat(kind);
    for &byte in a {
        eat(byte);
    }
    eat(0xFF);
    for &byte in b {
        eat(byte);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

fn bucket(h: u64, bits: u32) -> u32 {
    (h >> (64 - bits)) as u32
}

#[cfg(test)]
mod tests;
