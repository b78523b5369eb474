//! The in-process BM25 index of one collection, held beside its vectors ([`crate::index`]), so
//! both lists of a hybrid search come from memory, on SQLite and PostgreSQL alike.
//!
//! Tokens are what the store's FTS5 table makes of a chunk (`porter unicode61
//! remove_diacritics 2`): runs of letters and digits, diacritics removed (canonical
//! decomposition, combining marks dropped), lower-cased, cut at 64 characters, and ASCII tokens
//! of 3 to 64 letters stemmed by Porter's algorithm ([`porter`], written here after Porter's
//! reference implementation, which FTS5's follows). A chunk's text is its heading and its text,
//! as the FTS5 row holds it.
//!
//! Scoring is Okapi BM25 with `k1 = 1.2`, `b = 0.75` and FTS5's IDF,
//! `ln((N − n + 0.5) / (n + 0.5))`, floored at 10⁻⁶ for a term in more than half the chunks
//! (Lucene's `ln(1 + …)` measured 0.003 lower in hybrid nDCG@10 on the quality set). `N`, `n` and the average length count every
//! chunk of the collection, as FTS5's statistics do; access applies inside the scoring: a
//! posting of a chunk the caller may not see is skipped before it is scored, so the `k` returned
//! are the best `k` visible chunks.
//!
//! Memory: a posting is 6 bytes (the chunk's slot as `u32`, its term frequency as `u16`), one
//! per distinct term of a chunk; each chunk's length is a `u32`; the term dictionary holds each
//! distinct term once.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// BM25's term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25's length normalisation.
pub const B: f32 = 0.75;
/// Query terms kept from a search text (as the store's full-text query keeps).
pub const MAX_QUERY_TERMS: usize = 32;
/// Longest term kept, in characters.
const MAX_TERM_CHARS: usize = 64;

/// Calls `f` with each token of `text`, in order: folded, lower-cased and stemmed.
pub fn tokens(text: &str, mut f: impl FnMut(&str)) {
    let mut buf = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        buf.clear();
        if word.is_ascii() {
            buf.extend(
                word.chars()
                    .take(MAX_TERM_CHARS)
                    .map(|c| c.to_ascii_lowercase()),
            );
        } else {
            for c in word
                .nfd()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase)
                .take(MAX_TERM_CHARS)
            {
                buf.push(c);
            }
            if buf.is_empty() {
                continue;
            }
        }
        if buf.bytes().all(|b| b.is_ascii_lowercase()) && (3..=64).contains(&buf.len()) {
            f(&stem(&buf));
        } else {
            f(&buf);
        }
    }
}

/// The terms of a search text, one per distinct word (as the store's full-text query takes
/// them, before stemming: two words with one stem weigh twice, as two FTS5 phrases do), in order,
/// at most [`MAX_QUERY_TERMS`].
pub fn query_terms(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || out.len() == MAX_QUERY_TERMS {
            continue;
        }
        let lower = word.to_lowercase();
        if words.contains(&lower) {
            continue;
        }
        words.push(lower);
        tokens(word, |t| out.push(t.to_owned()));
    }
    out
}

/// `word` (lower-case ASCII letters) stemmed by Porter's algorithm.
pub fn stem(word: &str) -> String {
    if !(3..=64).contains(&word.len()) || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_owned();
    }
    let mut s = Stemmer {
        b: word.as_bytes().to_vec(),
        k: word.len() - 1,
        j: 0,
    };
    s.run();
    s.b.truncate(s.k + 1);
    String::from_utf8(s.b).unwrap_or_else(|_| word.to_owned())
}

/// Porter's algorithm (1980) as in his reference C implementation, with its two departures
/// (`-bli` → `-ble`, `-logi` → `-log`). `b[..=k]` is the word; `j` marks a suffix's start.
struct Stemmer {
    b: Vec<u8>,
    k: usize,
    j: usize,
}

impl Stemmer {
    fn cons(&self, i: usize) -> bool {
        match self.b[i] {
            b'a' | b'e' | b'i' | b'o' | b'u' => false,
            b'y' => i == 0 || !self.cons(i - 1),
            _ => true,
        }
    }

    /// The number of vowel-consonant sequences in `b[..=j]`.
    fn m(&self) -> usize {
        let j = self.j;
        let mut n = 0;
        let mut i = 0;
        loop {
            if i > j {
                return n;
            }
            if !self.cons(i) {
                break;
            }
            i += 1;
        }
        i += 1;
        loop {
            loop {
                if i > j {
                    return n;
                }
                if self.cons(i) {
                    break;
                }
                i += 1;
            }
            i += 1;
            n += 1;
            loop {
                if i > j {
                    return n;
                }
                if !self.cons(i) {
                    break;
                }
                i += 1;
            }
            i += 1;
        }
    }

    fn vowel_in_stem(&self) -> bool {
        (0..=self.j).any(|i| !self.cons(i))
    }

    fn double_c(&self, j: usize) -> bool {
        j >= 1 && self.b[j] == self.b[j - 1] && self.cons(j)
    }

    fn cvc(&self, i: usize) -> bool {
        if i < 2 || !self.cons(i) || self.cons(i - 1) || !self.cons(i - 2) {
            return false;
        }
        !matches!(self.b[i], b'w' | b'x' | b'y')
    }

    /// Whether `b[..=k]` ends with `s` (and not only of it: something precedes); sets `j`.
    fn ends(&mut self, s: &str) -> bool {
        let s = s.as_bytes();
        let len = s.len();
        if len > self.k + 1 || &self.b[self.k + 1 - len..=self.k] != s {
            return false;
        }
        // `j` is the last index before the suffix; a suffix that is the whole word leaves none.
        if len == self.k + 1 {
            return false;
        }
        self.j = self.k - len;
        true
    }

    fn set_to(&mut self, s: &str) {
        self.b.truncate(self.j + 1);
        self.b.extend_from_slice(s.as_bytes());
        self.k = self.j + s.len();
    }

    fn r(&mut self, s: &str) {
        if self.m() > 0 {
            self.set_to(s);
        }
    }

    fn run(&mut self) {
        if self.k <= 1 {
            return;
        }
        self.step1ab();
        if self.k > 0 {
            self.step1c();
            self.step2();
            self.step3();
            self.step4();
            self.step5();
        }
        self.b.truncate(self.k + 1);
    }

    fn step1ab(&mut self) {
        if self.b[self.k] == b's' {
            if self.ends("sses") {
                self.k -= 2;
            } else if self.ends("ies") {
                self.set_to("i");
            } else if self.k >= 1 && self.b[self.k - 1] != b's' {
                self.k -= 1;
            }
        }
        if self.ends("eed") {
            if self.m() > 0 {
                self.k -= 1;
            }
        } else if (self.ends("ed") || self.ends("ing")) && self.vowel_in_stem() {
            self.k = self.j;
            if self.ends("at") {
                self.set_to("ate");
            } else if self.ends("bl") {
                self.set_to("ble");
            } else if self.ends("iz") {
                self.set_to("ize");
            } else if self.double_c(self.k) {
                self.k -= 1;
                if matches!(self.b[self.k], b'l' | b's' | b'z') {
                    self.k += 1;
                }
            } else {
                self.j = self.k;
                if self.m() == 1 && self.cvc(self.k) {
                    self.set_to("e");
                }
            }
        }
    }

    fn step1c(&mut self) {
        if self.ends("y") && self.vowel_in_stem() {
            self.b[self.k] = b'i';
        }
    }

    /// The first of `rules` the word ends with is replaced (when `m() > 0`); the rest are not
    /// tried.
    fn first(&mut self, rules: &[(&str, &str)]) {
        for (suffix, by) in rules {
            if self.ends(suffix) {
                self.r(by);
                return;
            }
        }
    }

    fn step2(&mut self) {
        if self.k < 1 {
            return;
        }
        match self.b[self.k - 1] {
            b'a' => self.first(&[("ational", "ate"), ("tional", "tion")]),
            b'c' => self.first(&[("enci", "ence"), ("anci", "ance")]),
            b'e' => self.first(&[("izer", "ize")]),
            b'l' => self.first(&[
                ("bli", "ble"),
                ("alli", "al"),
                ("entli", "ent"),
                ("eli", "e"),
                ("ousli", "ous"),
            ]),
            b'o' => self.first(&[("ization", "ize"), ("ation", "ate"), ("ator", "ate")]),
            b's' => self.first(&[
                ("alism", "al"),
                ("iveness", "ive"),
                ("fulness", "ful"),
                ("ousness", "ous"),
            ]),
            b't' => self.first(&[("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")]),
            b'g' => self.first(&[("logi", "log")]),
            _ => {}
        }
    }

    fn step3(&mut self) {
        match self.b[self.k] {
            b'e' => self.first(&[("icate", "ic"), ("ative", ""), ("alize", "al")]),
            b'i' => self.first(&[("iciti", "ic")]),
            b'l' => self.first(&[("ical", "ic"), ("ful", "")]),
            b's' => self.first(&[("ness", "")]),
            _ => {}
        }
    }

    fn step4(&mut self) {
        if self.k < 1 {
            return;
        }
        let found = match self.b[self.k - 1] {
            b'a' => self.ends("al"),
            b'c' => self.ends("ance") || self.ends("ence"),
            b'e' => self.ends("er"),
            b'i' => self.ends("ic"),
            b'l' => self.ends("able") || self.ends("ible"),
            b'n' => self.ends("ant") || self.ends("ement") || self.ends("ment") || self.ends("ent"),
            b'o' => (self.ends("ion") && matches!(self.b[self.j], b's' | b't')) || self.ends("ou"),
            b's' => self.ends("ism"),
            b't' => self.ends("ate") || self.ends("iti"),
            b'u' => self.ends("ous"),
            b'v' => self.ends("ive"),
            b'z' => self.ends("ize"),
            _ => false,
        };
        if found && self.m() > 1 {
            self.k = self.j;
        }
    }

    fn step5(&mut self) {
        self.j = self.k;
        if self.b[self.k] == b'e' && self.k >= 1 {
            let a = self.m();
            if a > 1 || (a == 1 && !self.cvc(self.k - 1)) {
                self.k -= 1;
            }
        }
        if self.b[self.k] == b'l' && self.double_c(self.k) && self.m() > 1 {
            self.k -= 1;
        }
    }
}

/// One chunk's occurrences of a term: the chunk's slot and how often the term occurs there.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed)]
struct Posting {
    slot: u32,
    tf: u16,
}

/// The postings of one collection's chunks, by interned term, in slot order.
#[derive(Debug, Default)]
pub struct TextIndex {
    term_ids: HashMap<Box<str>, u32>,
    postings: Vec<Vec<Posting>>,
    /// Per chunk slot, its length in tokens.
    lengths: Vec<u32>,
    total: u64,
}

impl TextIndex {
    /// Chunks held.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Distinct terms held.
    pub fn terms(&self) -> usize {
        self.postings.len()
    }

    /// Bytes held: postings, lengths and the term dictionary (its strings and table).
    pub fn memory_bytes(&self) -> usize {
        let postings: usize = self
            .postings
            .iter()
            .map(|p| p.capacity() * std::mem::size_of::<Posting>() + 24)
            .sum();
        let dictionary: usize = self.term_ids.keys().map(|k| k.len() + 16 + 4 + 8).sum();
        postings + dictionary + self.lengths.capacity() * 4
    }

    /// Room for `n` more chunks' lengths.
    pub fn reserve(&mut self, n: usize) {
        self.lengths.reserve_exact(n);
    }

    /// Gives back the postings' spare capacity (after a full load).
    pub fn shrink(&mut self) {
        for p in &mut self.postings {
            p.shrink_to_fit();
        }
    }

    /// Adds the next chunk (its slot is [`TextIndex::len`]) with its heading and text.
    pub fn push(&mut self, heading: Option<&str>, text: &str) {
        let slot = u32::try_from(self.lengths.len()).unwrap_or(u32::MAX);
        let mut counts: HashMap<u32, u16> = HashMap::new();
        let mut length = 0u32;
        let mut add = |t: &str| {
            length = length.saturating_add(1);
            let id = match self.term_ids.get(t) {
                Some(id) => *id,
                None => {
                    let id = u32::try_from(self.postings.len()).unwrap_or(u32::MAX);
                    self.term_ids.insert(t.into(), id);
                    self.postings.push(Vec::new());
                    id
                }
            };
            let c = counts.entry(id).or_insert(0);
            *c = c.saturating_add(1);
        };
        if let Some(h) = heading {
            tokens(h, &mut add);
        }
        tokens(text, &mut add);
        let mut counts: Vec<(u32, u16)> = counts.into_iter().collect();
        counts.sort_unstable();
        for (id, tf) in counts {
            self.postings[id as usize].push(Posting { slot, tf });
        }
        self.lengths.push(length);
        self.total += u64::from(length);
    }

    /// The `k` best chunk slots for `query` by BM25, best first, as `(slot, score)`; equal
    /// scores go to the lower slot. `visible(slot)` says whether a chunk may be scored.
    pub fn search(
        &self,
        query: &str,
        visible: impl Fn(usize) -> bool,
        k: usize,
    ) -> Vec<(usize, f32)> {
        let n = self.lengths.len();
        if k == 0 || n == 0 {
            return Vec::new();
        }
        let avg = self.total as f32 / n as f32;
        let avg = if avg > 0.0 { avg } else { 1.0 };
        let mut acc: Vec<f32> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for term in query_terms(query) {
            let Some(id) = self.term_ids.get(term.as_str()) else {
                continue;
            };
            let list = &self.postings[*id as usize];
            let idf = idf(n, list.len());
            if acc.is_empty() {
                acc = vec![0.0; n];
            }
            for p in list {
                let slot = p.slot as usize;
                if !visible(slot) {
                    continue;
                }
                let tf = f32::from(p.tf);
                let norm = K1 * (1.0 - B + B * self.lengths[slot] as f32 / avg);
                let add = idf * tf * (K1 + 1.0) / (tf + norm);
                if acc[slot] == 0.0 {
                    touched.push(p.slot);
                }
                acc[slot] += add;
            }
        }
        let mut hits: Vec<(usize, f32)> = touched
            .into_iter()
            .map(|s| (s as usize, acc[s as usize]))
            .collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if hits.len() > k {
            hits.select_nth_unstable_by(k - 1, order);
            hits.truncate(k);
        }
        hits.sort_unstable_by(order);
        hits
    }
}

/// The IDF of a term in more than half the chunks, where the formula would go negative (FTS5's
/// floor).
pub const MIN_IDF: f32 = 1e-6;

/// BM25's IDF of a term in `df` of `n` chunks, as FTS5 computes it:
/// `ln((n − df + 0.5) / (df + 0.5))`, at least [`MIN_IDF`].
pub fn idf(n: usize, df: usize) -> f32 {
    let (n, df) = (n as f64, df as f64);
    let v = ((n - df + 0.5) / (df + 0.5)).ln();
    if v > 0.0 { v as f32 } else { MIN_IDF }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn porter_stems_as_the_reference_does() {
        // From Porter's paper and his reference vocabulary/output.
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "ti"),
            ("caress", "caress"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("bled", "bled"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("troubled", "troubl"),
            ("sized", "size"),
            ("hopping", "hop"),
            ("tanned", "tan"),
            ("falling", "fall"),
            ("hissing", "hiss"),
            ("fizzed", "fizz"),
            ("failing", "fail"),
            ("filing", "file"),
            ("happy", "happi"),
            ("sky", "sky"),
            ("relational", "relat"),
            ("conditional", "condit"),
            ("rational", "ration"),
            ("valenci", "valenc"),
            ("digitizer", "digit"),
            ("conformabli", "conform"),
            ("radicalli", "radic"),
            ("differentli", "differ"),
            ("vileli", "vile"),
            ("analogousli", "analog"),
            ("vietnamization", "vietnam"),
            ("predication", "predic"),
            ("operator", "oper"),
            ("feudalism", "feudal"),
            ("decisiveness", "decis"),
            ("hopefulness", "hope"),
            ("callousness", "callous"),
            ("formaliti", "formal"),
            ("sensitiviti", "sensit"),
            ("sensibiliti", "sensibl"),
            ("triplicate", "triplic"),
            ("formative", "form"),
            ("formalize", "formal"),
            ("electriciti", "electr"),
            ("electrical", "electr"),
            ("hopeful", "hope"),
            ("goodness", "good"),
            ("revival", "reviv"),
            ("allowance", "allow"),
            ("inference", "infer"),
            ("airliner", "airlin"),
            ("gyroscopic", "gyroscop"),
            ("adjustable", "adjust"),
            ("defensible", "defens"),
            ("irritant", "irrit"),
            ("replacement", "replac"),
            ("adjustment", "adjust"),
            ("dependent", "depend"),
            ("adoption", "adopt"),
            ("homologou", "homolog"),
            ("communism", "commun"),
            ("activate", "activ"),
            ("angulariti", "angular"),
            ("homologous", "homolog"),
            ("effective", "effect"),
            ("bowdlerize", "bowdler"),
            ("probate", "probat"),
            ("rate", "rate"),
            ("cease", "ceas"),
            ("controll", "control"),
            ("roll", "roll"),
            ("generalizations", "gener"),
            ("oscillators", "oscil"),
            ("running", "run"),
            ("dosage", "dosag"),
            ("is", "is"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }

    #[test]
    fn tokens_fold_case_diacritics_and_stems() {
        let mut got = Vec::new();
        tokens("Café RÉSUMÉS, naïve-running x2 東京", |t| {
            got.push(t.to_owned())
        });
        assert_eq!(got, ["cafe", "resum", "naiv", "run", "x2", "東京"]);
        assert_eq!(
            query_terms("running runs RUN Run ran"),
            ["run", "run", "run", "ran"]
        );
    }

    #[test]
    fn bm25_matches_hand_computed_scores() {
        // Five chunks of lengths 5 (heading counted: "cats" twice), 2, 3, 2 and 2; average 2.8.
        let mut ix = TextIndex::default();
        ix.push(Some("Cats"), "cats chase the mice");
        ix.push(None, "dogs bark");
        ix.push(None, "cats sleep often");
        ix.push(None, "birds sing");
        ix.push(None, "fish swim");
        assert_eq!((ix.len(), ix.terms()), (5, 12));
        let avg = 14.0f32 / 5.0;
        let bm25 =
            |idf: f32, tf: f32, len: f32| idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg));
        let idf_cat = (3.5f32 / 2.5).ln();
        let (s0, s2) = (bm25(idf_cat, 2.0, 5.0), bm25(idf_cat, 1.0, 3.0));
        let got = ix.search("cat", |_| true, 10);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 2]);
        assert!((got[0].1 - s0).abs() < 1e-5, "{} vs {s0}", got[0].1);
        assert!((got[1].1 - s2).abs() < 1e-5, "{} vs {s2}", got[1].1);
        // Two terms add; an unknown term adds nothing.
        let s1 = bm25(3.0f32.ln(), 1.0, 2.0);
        let got = ix.search("barking cats zebra", |_| true, 10);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0, 2]);
        assert!((got[0].1 - s1).abs() < 1e-5);
        // An invisible chunk is never scored, and k cuts.
        let got = ix.search("cat", |s| s != 0, 10);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 2);
        assert!((got[0].1 - s2).abs() < 1e-5);
        assert_eq!(ix.search("cat", |_| true, 1).len(), 1);
        assert!(ix.search("zebra", |_| true, 10).is_empty());
        assert!(ix.search("cat", |_| true, 0).is_empty());
        // A term in more than half the chunks weighs FTS5's floor.
        assert_eq!(idf(5, 3), MIN_IDF);
        assert!((idf(5, 2) - idf_cat).abs() < 1e-6);
    }

    #[test]
    fn equal_scores_go_to_the_lower_slot() {
        let mut ix = TextIndex::default();
        for _ in 0..5 {
            ix.push(None, "same words here");
        }
        let got = ix.search("words", |_| true, 3);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
