//! Scanning primitives the structured-PII detectors share. They run over every byte of every
//! prompt, so they are byte loops rather than regexes: a regex pass costs ~1.5 ns a byte and a
//! dozen of them would blow the throughput budget, while skipping to the next digit is nearly free.
//!
//! - [`runs`]: groups of digits joined by short separators (`(415) 555-2671`, `4111 1111 …`);
//!   detectors pick consecutive groups out of a run, so a match always starts and ends on a whole
//!   group and never inside a longer number.
//! - [`long_tokens`]: alphanumeric tokens of at least a given length, found by probing every
//!   `min`-th byte, so prose made of short words is skipped almost for free.
//! - [`Gate`]: where an entity's context words occur. Entities that only count with context are
//!   looked for only in the stretch after such a word that the scanner's context window covers,
//!   which keeps their weak patterns from flooding the overlap resolution with low scores.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use crate::{CONTEXT_WINDOW, Finding};

/// ASCII letters, digits and `_`: what `\b` treats as a word.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether the character just before byte `i` belongs to a word (any script's letters and digits).
#[inline]
pub(crate) fn word_before(text: &str, i: usize) -> bool {
    match text.as_bytes().get(i.wrapping_sub(1)) {
        None => false,
        Some(&b) if b < 0x80 => is_word(b),
        Some(_) => text
            .get(..i)
            .and_then(|s| s.chars().next_back())
            .is_some_and(char::is_alphanumeric),
    }
}

/// Whether the character starting at byte `i` belongs to a word.
#[inline]
pub(crate) fn word_at(text: &str, i: usize) -> bool {
    match text.as_bytes().get(i) {
        None => false,
        Some(&b) if b < 0x80 => is_word(b),
        Some(_) => text
            .get(i..)
            .and_then(|s| s.chars().next())
            .is_some_and(char::is_alphanumeric),
    }
}

pub(crate) fn finding(
    entity: &'static str,
    start: usize,
    end: usize,
    score: f32,
    detector: &'static str,
) -> Finding {
    Finding {
        entity,
        start,
        end,
        score,
        detector,
    }
}

/// Most groups one run holds; a longer run is cut (only machine output has them).
const MAX_GROUPS: usize = 24;
/// Longest separator between two groups: `) (` or ` - `.
const MAX_SEP: usize = 3;

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
}

/// Digits joined by separators of one to three characters from ` -./()`.
pub(crate) struct Run<'t> {
    text: &'t str,
    groups: [(usize, usize); MAX_GROUPS],
    len: usize,
    /// The first group touches a word character before it (`A1234`), the last one after it.
    lead_glued: bool,
    tail_glued: bool,
}

/// Up to 32 digits copied out of a run, separators dropped.
pub(crate) struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<'t> Run<'t> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Byte range of group `i`.
    pub fn group(&self, i: usize) -> (usize, usize) {
        self.groups[i]
    }

    /// Number of digits in group `i`.
    pub fn width(&self, i: usize) -> usize {
        self.groups[i].1 - self.groups[i].0
    }

    /// The separator after group `i` (empty after the last).
    pub fn sep(&self, i: usize) -> &'t str {
        match self.groups.get(i + 1) {
            Some(next) if i + 1 < self.len => &self.text[self.groups[i].1..next.0],
            _ => "",
        }
    }

    /// Whether groups `i..=j` can stand alone: not glued to a word on either side.
    pub fn clean(&self, i: usize, j: usize) -> bool {
        self.starts_clean(i) && self.ends_clean(j)
    }

    /// Whether group `i` is not glued to a word before it.
    pub fn starts_clean(&self, i: usize) -> bool {
        !(i == 0 && self.lead_glued)
    }

    /// Whether group `j` is not glued to a word after it.
    pub fn ends_clean(&self, j: usize) -> bool {
        !(j + 1 == self.len && self.tail_glued)
    }

    /// The byte just before group `i`, if any.
    pub fn byte_before(&self, i: usize) -> Option<u8> {
        let s = self.groups[i].0;
        s.checked_sub(1)
            .and_then(|p| self.text.as_bytes().get(p))
            .copied()
    }

    /// Whether every separator inside `i..=j` is `sep`.
    pub fn seps_are(&self, i: usize, j: usize, sep: &str) -> bool {
        (i..j).all(|k| self.sep(k) == sep)
    }

    /// Whether the run continues past `i..=j` on either side with separator `sep`: the groups are
    /// then part of a longer number written the same way.
    pub fn extends(&self, i: usize, j: usize, sep: &str) -> bool {
        (i > 0 && self.sep(i - 1) == sep) || (j + 1 < self.len && self.sep(j) == sep)
    }

    /// The digits of groups `i..=j`, or `None` past 32.
    pub fn digits(&self, i: usize, j: usize) -> Option<Digits> {
        let mut d = Digits {
            buf: [0; 32],
            len: 0,
        };
        for k in i..=j {
            let (s, e) = self.groups[k];
            let src = self.text.as_bytes().get(s..e)?;
            d.buf
                .get_mut(d.len..d.len + src.len())?
                .copy_from_slice(src);
            d.len += src.len();
        }
        Some(d)
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

fn word8(b: &[u8], i: usize) -> u64 {
    let mut chunk = [0u8; 8];
    chunk.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(chunk)
}

/// The first ASCII digit in `b[i..to]`, eight bytes at a time: prompts are mostly letters, and
/// this loop runs once per digit-based detector over every byte.
pub(crate) fn next_digit(b: &[u8], mut i: usize, to: usize) -> Option<usize> {
    while i + 8 <= to {
        let y = word8(b, i) ^ (LO * u64::from(b'0'));
        // A byte is a digit when y < 10: its low seven bits plus 118 stay below 128 and its own
        // high bit is clear. Masking first keeps carries inside each byte.
        let not_digit = ((y & !HI).wrapping_add(LO * 118) | y) & HI;
        let digits = !not_digit & HI;
        if digits != 0 {
            return Some(i + (digits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..to)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| i + p)
}

/// The first of the bytes `set` in `b[i..]`, eight bytes at a time.
pub(crate) fn next_of(b: &[u8], mut i: usize, set: [u8; 3]) -> Option<usize> {
    // Flags zero bytes; a false flag can only sit above a true one, so the lowest is exact.
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    while i + 8 <= b.len() {
        let x = word8(b, i);
        let hits = set
            .iter()
            .fold(0, |m, &c| m | zero(x ^ (LO * u64::from(c))));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|c| set.contains(c))
        .map(|p| i + p)
}

/// Calls `f` with each run whose first group starts in `from..to` and that holds at least
/// `min_digits` digits (shorter runs are the bulk of numbers in text and interest no caller).
pub(crate) fn runs(
    text: &str,
    from: usize,
    to: usize,
    min_digits: usize,
    mut f: impl FnMut(&Run<'_>),
) {
    let b = text.as_bytes();
    let to = to.min(b.len());
    let mut run = Run {
        text,
        groups: [(0, 0); MAX_GROUPS],
        len: 0,
        lead_glued: false,
        tail_glued: false,
    };
    let mut i = from;
    while let Some(mut g) = next_digit(b, i, to) {
        run.len = 0;
        let mut total = 0;
        loop {
            let end = g + b[g..].iter().take_while(|c| c.is_ascii_digit()).count();
            run.groups[run.len] = (g, end);
            run.len += 1;
            total += end - g;
            let k = end
                + b[end..]
                    .iter()
                    .take(MAX_SEP)
                    .take_while(|&&c| is_sep(c))
                    .count();
            if k > end && run.len < MAX_GROUPS && b.get(k).is_some_and(u8::is_ascii_digit) {
                g = k;
            } else {
                i = end;
                break;
            }
        }
        if total >= min_digits {
            run.lead_glued = word_before(text, run.groups[0].0);
            run.tail_glued = word_at(text, i);
            f(&run);
        }
    }
}

/// Calls `f(start, end)` for each token of word characters at least `min` bytes long that is not
/// glued to a non-ASCII letter.
pub(crate) fn long_tokens(text: &str, min: usize, mut f: impl FnMut(usize, usize)) {
    let b = text.as_bytes();
    let min = min.max(1);
    // Invariant: no wanted token starts before `i`, and `i` is not inside a word.
    let mut i = 0;
    while i + min <= b.len() {
        // Any token of `min` bytes starting in i..=probe covers `probe`.
        let probe = i + min - 1;
        if !is_word(b[probe]) {
            i = probe + 1;
            continue;
        }
        let end = probe + b[probe..].iter().take_while(|&&c| is_word(c)).count();
        if end - i < min {
            // The token starts at or after `i`, so it is too short: no need to find its start.
            i = end;
            continue;
        }
        let start = i + b[i..probe]
            .iter()
            .rposition(|&c| !is_word(c))
            .map_or(0, |p| p + 1);
        if end - start >= min && !word_before(text, start) && !word_at(text, end) {
            f(start, end);
        }
        i = end;
    }
}

/// Calls `f(start, end)` for each match of `re` that starts in `from..=to`, searching no further
/// than `max_len` bytes past `to`. Matches see the real text before them (for `\b`); callers
/// check the boundary after a match against the whole text.
pub(crate) fn matches_in(
    re: &Regex,
    text: &str,
    from: usize,
    to: usize,
    max_len: usize,
    mut f: impl FnMut(usize, usize),
) {
    let mut end = (to + max_len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let hay = &text[..end];
    let mut at = from;
    while at <= to && at < end {
        let Some(m) = re.find_at(hay, at) else {
            return;
        };
        if m.start() > to || m.is_empty() {
            return;
        }
        f(m.start(), m.end());
        at = m.end();
    }
}

#[cfg(test)]
/// Most patterns a gate holds and still gets aho-corasick's SIMD (Teddy) prefilter, which makes
/// it ~6x faster than a case-insensitive automaton over prose.
pub(crate) const GATE_PATTERNS: usize = 64;

/// Context words per entity, matched as whole words in the ways text writes them: as listed
/// (`NI number`, `tax ID`), lowercase, UPPERCASE, Capitalised and Title Case (not aNy CaSe,
/// which would cost the fast prefilter).
pub(crate) struct Gate {
    ac: Option<AhoCorasick>,
    /// For each pattern: the entity it supports.
    entity: Vec<&'static str>,
}

/// `word` as listed, lowercase, UPPERCASE, Capitalised and Title Case, without repeats.
fn spellings(word: &str) -> Vec<String> {
    let capitalise = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    let title = word
        .split(' ')
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ");
    let mut v = vec![
        word.to_string(),
        word.to_lowercase(),
        word.to_uppercase(),
        capitalise(word),
        title,
    ];
    v.sort();
    v.dedup();
    v
}

impl Gate {
    /// A gate over the context lists of `entities`, taken from a detector's `context()` table.
    pub fn new(table: &[(&'static str, &'static [&'static str])], entities: &[&str]) -> Self {
        let mut words = Vec::new();
        let mut entity = Vec::new();
        for (e, list) in table.iter().filter(|(e, _)| entities.contains(e)) {
            for w in list.iter().flat_map(|w| spellings(w)) {
                words.push(w);
                entity.push(*e);
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .ok();
        Gate { ac, entity }
    }

    /// How many patterns the gate searches for.
    #[cfg(test)]
    pub fn patterns(&self) -> usize {
        self.entity.len()
    }

    #[cfg(test)]
    pub fn compiled(&self) -> bool {
        self.ac.is_some()
    }

    /// Whether one of `entity`'s words lies within the scanner's context window before `start`.
    /// For rare candidates (a value that breaks only an issuance rule, found by a pass that runs
    /// anyway) a look back from each is cheaper than a pass over the whole text.
    pub fn near(&self, text: &str, start: usize, entity: &str) -> bool {
        let Some(ac) = &self.ac else {
            return false;
        };
        let from = crate::floor_char(text, start.saturating_sub(CONTEXT_WINDOW));
        let Some(window) = text.get(from..start) else {
            return false;
        };
        ac.find_iter(window).any(|m| {
            self.entity[m.pattern().as_usize()] == entity
                && whole_word(text, from + m.start(), from + m.end())
        })
    }

    /// Calls `f(entity, from, to)` for each stretch where a candidate starting in `from..=to`
    /// has one of `entity`'s words within the scanner's context window before it.
    pub fn windows(&self, text: &str, mut f: impl FnMut(&'static str, usize, usize)) {
        let Some(ac) = &self.ac else {
            return;
        };
        let mut open: Option<(&'static str, usize, usize)> = None;
        for m in ac.find_iter(text) {
            if !whole_word(text, m.start(), m.end()) {
                continue;
            }
            let entity = self.entity[m.pattern().as_usize()];
            // The scanner sees a word only if it lies entirely in the window before the start.
            let (from, to) = (m.end(), m.start() + CONTEXT_WINDOW);
            match &mut open {
                Some((e, _, end)) if *e == entity && from <= *end => *end = to,
                _ => {
                    if let Some((e, a, b)) = open.take() {
                        // The nearest word decides: another entity's word ends this one's stretch
                        // (`SSN …, passport 123456789` is a passport).
                        let b = if e == entity { b } else { b.min(m.start()) };
                        f(e, a, b);
                    }
                    open = Some((entity, from, to));
                }
            }
        }
        if let Some((e, a, b)) = open {
            f(e, a, b);
        }
    }
}

/// A context word counts only on its own: `dob` in `adobe` or `born` in `stubborn` does not.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let first = b.get(start).is_some_and(|&c| is_word(c));
    let last = end > 0 && b.get(end - 1).is_some_and(|&c| is_word(c));
    let glued_before = first && word_before(text, start);
    let glued_after = last && word_at(text, end);
    !glued_before && !glued_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_runs(text: &str) -> Vec<(Vec<&str>, bool, bool)> {
        let mut out = Vec::new();
        runs(text, 0, text.len(), 1, |r| {
            let groups = (0..r.len())
                .map(|i| &text[r.group(i).0..r.group(i).1])
                .collect();
            out.push((groups, r.lead_glued, r.tail_glued));
        });
        out
    }

    #[test]
    fn runs_split_on_words_and_keep_short_separators() {
        let got = all_runs("call (415) 555-2671, card 4111 1111 x A12 34b 5 -- 6");
        let want: Vec<(Vec<&str>, bool, bool)> = vec![
            (vec!["415", "555", "2671"], false, false),
            (vec!["4111", "1111"], false, false),
            (vec!["12", "34"], true, true),
            (vec!["5"], false, false),
            (vec!["6"], false, false),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn run_helpers() {
        let text = "4111-1111-1111-1111 2024";
        runs(text, 0, text.len(), 16, |r| {
            assert_eq!(r.len(), 5);
            assert!(r.seps_are(0, 3, "-"));
            assert!(!r.extends(0, 3, "-"));
            assert!(r.extends(1, 3, "-"));
            assert_eq!(r.digits(0, 3).as_deref(), Some(&b"4111111111111111"[..]));
            assert!(r.clean(0, 4));
        });
    }

    #[test]
    fn byte_search_matches_a_plain_loop() {
        let text = "abc \u{e9}\u{ff}x:y-z.9 1234567890 \u{7f}\u{80}\u{fe}0 pad pad pad 5";
        let b = text.as_bytes();
        for i in 0..b.len() {
            let digit = b[i..].iter().position(u8::is_ascii_digit).map(|p| i + p);
            assert_eq!(next_digit(b, i, b.len()), digit, "from {i}");
            assert_eq!(next_digit(b, i + 1, i), None);
            let sep = b[i..]
                .iter()
                .position(|c| b":-.".contains(c))
                .map(|p| i + p);
            assert_eq!(next_of(b, i, *b":-."), sep, "from {i}");
        }
    }

    #[test]
    fn long_tokens_find_only_long_words() {
        let text = "a bb 0123456789 xy_z 0123456789abc, é0123456789 0123456789";
        let mut got = Vec::new();
        long_tokens(text, 10, |s, e| got.push(&text[s..e]));
        assert_eq!(got, ["0123456789", "0123456789abc", "0123456789"]);
    }

    #[test]
    fn gate_windows_follow_whole_words() {
        let table: &[(&str, &[&str])] = &[("A", &["dob", "date of birth"]), ("B", &["ssn"])];
        let gate = Gate::new(table, &["A"]);
        assert!(gate.compiled());
        assert_eq!(
            spellings("date of birth"),
            [
                "DATE OF BIRTH",
                "Date Of Birth",
                "Date of birth",
                "date of birth"
            ]
        );
        assert_eq!(
            spellings("NI number"),
            ["NI NUMBER", "NI Number", "NI number", "ni number"]
        );
        let text = "adobe 1; DOB: 1 and Date Of Birth 2; ssn 3";
        let mut got = Vec::new();
        gate.windows(text, |e, from, to| got.push((e, from, to)));
        assert_eq!(got, [("A", 12, 20 + CONTEXT_WINDOW)]);
        // Another entity's word closes the stretch where it starts.
        let both = Gate::new(table, &["A", "B"]);
        let mut got = Vec::new();
        both.windows(text, |e, from, to| got.push((e, from, to)));
        assert_eq!(got, [("A", 12, 37), ("B", 40, 37 + CONTEXT_WINDOW)]);
        // A look back from one candidate sees the same whole words, any of them.
        assert!(both.near(text, 20, "A") && both.near(text, 41, "A") && both.near(text, 41, "B"));
        assert!(!both.near(text, 9, "A") && !both.near(text, 37, "B") && !both.near(text, 41, "C"));
        let far = format!("ssn{}3", " ".repeat(CONTEXT_WINDOW));
        assert!(both.near(&far, CONTEXT_WINDOW, "B") && !both.near(&far, CONTEXT_WINDOW + 1, "B"));
    }
}
