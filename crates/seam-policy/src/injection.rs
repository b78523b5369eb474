//! Prompt-injection heuristics: how much a text looks like an attempt to take over the model.
//!
//! [`assess`] collects [`Signal`]s of four families and combines them into one score:
//!
//! - **phrasing** — instruction overrides ("ignore all previous instructions", in several
//!   languages), prompt probing, a new identity without rules, "new instructions:", "developer
//!   mode", "jailbreak" ([`phrases`]);
//! - **role markers** — chat-template delimiters (`<|im_start|>system`, `[INST]`, `<</SYS>>`) and
//!   turns written into the text: a system or developer header opening a line and giving an order
//!   (`### System: you are…`, `[SYSTEM]`, `<system>…</system>`, "SYSTEM OVERRIDE"), a JSON role
//!   message (`{"role": "system", …}`), a fake end of the user's part (`=== END OF USER INPUT
//!   ===`), `User:`/`Assistant:` turns and a fake assistant that complies. Markers in pasted code
//!   (a ``` fence, inline backticks, after `messages =` or `prompt =`) count as mere tokens;
//! - **smuggling** — Unicode tag characters (invisible ASCII, U+E0000–E007F), bidi overrides,
//!   runs of zero-width characters;
//! - **encodings** — base64 and hex runs that decode to text, and the ROT13 of the whole text, are
//!   assessed again; a hidden instruction scores higher than the same words in the clear.
//!
//! The score is a noisy-OR over signal kinds, each counted once at its [`WEIGHTS`] value:
//! `score = 1 − Π (1 − w_kind)`. Weights are set so that one unambiguous signal (an override
//! phrase, hidden tag text) crosses [`THRESHOLD`] alone while weak ones ("developer mode", a lone
//! `[INST]`, "you are now") need company. Pure and bounded: no IO, decoding limited in depth and
//! bytes, every offset a byte offset into the text given.

pub mod classifier;
pub(crate) mod decode;
mod phrases;

use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};

use crate::normalize::Normalized;

/// The score at and above which a text counts as an injection attempt.
pub const THRESHOLD: f32 = 0.5;

/// Each signal kind and its weight: roughly, how likely a text with this signal alone is an attack.
pub const WEIGHTS: &[(&str, f32)] = &[
    ("instruction_override", 0.85),
    ("role_reassignment", 0.6),
    // A system or developer turn opened inside the text crosses a policy's default 0.8 alone.
    ("fake_system_turn", 0.85),
    ("json_system_role", 0.85),
    ("system_token", 0.55),
    ("fake_boundary", 0.55),
    ("prompt_leak", 0.5),
    ("new_instructions", 0.4),
    ("restriction_removal", 0.4),
    ("role_token", 0.3),
    ("jailbreak", 0.3),
    ("fake_compliance", 0.35),
    // A transcript (both turns: 0.36) stays below THRESHOLD without other evidence.
    ("user_turn", 0.2),
    ("assistant_turn", 0.2),
    ("persona", 0.25),
    ("mode_switch", 0.25),
    ("unicode_tags", 0.8),
    ("bidi_override", 0.35),
    ("zero_width", 0.2),
    // encoded_*: the decoded text's own score plus ENCODING_BONUS, at most 0.95.
    ("encoded_base64", 0.0),
    ("encoded_hex", 0.0),
    ("encoded_rot13", 0.0),
];
/// What hiding a text behind an encoding adds to the decoded text's score.
const ENCODING_BONUS: f32 = 0.25;
/// Decoded texts are assessed again at most this deep (base64 inside base64 inside the prompt).
const MAX_DEPTH: u8 = 2;
/// The most bytes of one run that are decoded, and of all runs together per call.
const MAX_RUN: usize = 8 * 1024;
const MAX_DECODED: usize = 32 * 1024;
/// Signals kept in an [`Assessment`]; the score counts each kind once, so more add nothing.
pub const MAX_SIGNALS: usize = 64;
/// Zero-width characters below this count are typography, not smuggling.
const ZERO_WIDTH_MIN: usize = 3;
/// How far before a role marker [`in_code`] looks for the code it may be part of.
const CODE_LOOKBACK: usize = 400;
/// How far before an override phrase [`described`] looks for the model it is said of.
const DESCRIBED_LOOKBACK: usize = 60;
/// Role markers that a text pasted as code holds innocently; there they count as `role_token`.
const DISCOUNTED_IN_CODE: &[&str] = &[
    "fake_system_turn",
    "json_system_role",
    "system_token",
    "fake_boundary",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// 0..=1: the higher of [`Assessment::heuristic`] and [`Assessment::classifier`]; compare
    /// with a policy's threshold.
    pub score: f32,
    /// The heuristics' noisy-OR over [`Signal`]s.
    pub heuristic: f32,
    /// The learned classifier's calibrated score ([`classifier`]); 0 from [`heuristics`].
    pub classifier: f32,
    /// The heuristics' evidence, sorted by start; the first [`MAX_SIGNALS`].
    pub signals: Vec<Signal>,
}

/// Which part of the assessment gave the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Heuristic,
    Classifier,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Heuristic => "heuristic",
            Part::Classifier => "classifier",
        }
    }
}

impl Assessment {
    /// The part whose score is [`Assessment::score`]; the heuristics on a tie.
    pub fn by(&self) -> Part {
        if self.classifier > self.heuristic {
            Part::Classifier
        } else {
            Part::Heuristic
        }
    }
}

/// One piece of evidence: its kind (a key of [`WEIGHTS`]) and byte span in the assessed text.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

struct Rules {
    /// Every phrase at once: which of them occur in a text.
    set: RegexSet,
    /// Each phrase on its own, for the spans of the ones the set found.
    phrases: Vec<Phrase>,
    tokens: AhoCorasick,
    base64: Regex,
    hex: Regex,
    /// [`phrases::ROT13_WORDS`], rotated.
    rot13_words: AhoCorasick,
    /// Text just before a role marker that makes it pasted code ([`CODE_LOOKBACK`]).
    code: Regex,
    /// A JSON user or assistant message ([`discount_code`]).
    json_chat_role: Regex,
    /// A request for work on a prompt the text quotes: "can you improve this prompt?".
    prompt_work: Regex,
    /// Text just before an override phrase that makes it a description of what a model does
    /// ("why does the model ignore the system prompt?"), not an order ([`DESCRIBED_LOOKBACK`]).
    described: Regex,
}

static RULES: LazyLock<Option<Rules>> = LazyLock::new(Rules::new);

/// A phrase's own regex, compiled the first time the set finds the phrase in a text. Most texts
/// hold none, and compiled up front the 48 of them took about 2.4 MB besides the set (and each a
/// search cache on every thread that ran it); the set has proved each pattern compiles.
struct Phrase {
    kind: &'static str,
    pattern: String,
    re: OnceLock<Option<Regex>>,
}

impl Phrase {
    fn regex(&self) -> Option<&Regex> {
        self.re
            .get_or_init(|| Regex::new(&self.pattern).ok())
            .as_ref()
    }
}

impl Rules {
    fn new() -> Option<Self> {
        let patterns: Vec<String> = phrases::PHRASES
            .iter()
            .map(|(_, p)| phrases::pattern(p))
            .collect();
        let set = RegexSet::new(&patterns).ok()?;
        let phrases = phrases::PHRASES
            .iter()
            .zip(patterns)
            .map(|((kind, _), pattern)| Phrase {
                kind,
                pattern,
                re: OnceLock::new(),
            })
            .collect();
        Some(Rules {
            set,
            phrases,
            tokens: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(phrases::TOKENS.iter().map(|(_, t)| t))
                .ok()?,
            // 16+ characters: shorter runs are words and identifiers far more often than payloads.
            base64: Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}").ok()?,
            hex: Regex::new(r"(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[ :,-]?){12,}").ok()?,
            rot13_words: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(phrases::ROT13_WORDS.iter().map(|w| decode::rot13(w)))
                .ok()?,
            code: Regex::new(
                r#"(?i)(?-u:\b)(?:messages|prompts?|template|system_prompt|history|conversation|chat)(?-u:\b)["']?\s*(?:=|\+=|:\s*[\[\(]|\()|\.(?:create|append|push|extend|invoke|generate|complete)\s*\(|(?-u:\b)def\s+\w+\s*\(|(?-u:\b)(?:const|let|var)\s+\w+\s*=|(?m:^)\s*(?:import|from)\s+[\w.]+|(?-u:\b)(?:logs?|payload|request|body|dump|trace|curl)(?-u:\b)[^\n]{0,12}[:=]"#,
            )
            .ok()?,
            json_chat_role: Regex::new(r#"["']role["'][\t ]*:[\t ]*["'](?:user|assistant)["']"#)
                .ok()?,
            prompt_work: Regex::new(
                r"(?i)(?-u:\b)(?:improve|review|rewrite|critique|debug|fix|optimi[sz]e|evaluate|explain|shorten|tweak|refine|test)\s+(?:this|my|our|the\s+(?:following|above))\s+(?:(?:system|chat|role-?play)\s+)?(?:prompt|template)s?(?-u:\b)",
            )
            .ok()?,
            described: Regex::new(
                r"(?i)(?:(?-u:\b)(?:does|do|did|would|could|might|will|can|to)(?:n'?t|\s+not)?\s+(?:(?:the|my|our|this|that|their|its|a|an)\s+)?(?:[\w.-]+\s+){0,2}?(?:models?|assistants?|bots?|llms?|ai|agents?|chatbots?|gpt[\w.-]*|chatgpt|claude|gemini|llama|mistral|api|it|they)|(?-u:\b)(?:models|llms|assistants|bots|agents|chatbots|they)(?:\s+(?:often|sometimes|always|usually|may|might|can|will))?|(?-u:\b)(?:seems?|seemed|tends?|tended|appears?|appeared|likely|keeps?|kept)\s+to)\s+$",
            )
            .ok()?,
        })
    }
}

/// How much `text` looks like a prompt injection, and why: the heuristics and the classifier,
/// the higher score winning.
pub fn assess(text: &str) -> Assessment {
    let mut a = heuristics(text);
    a.classifier = classifier::score(text);
    a.score = a.heuristic.max(a.classifier);
    a
}

/// The heuristics alone: [`assess`] without the classifier.
pub fn heuristics(text: &str) -> Assessment {
    let mut budget = MAX_DECODED;
    let mut weighted = collect(text, 0, &mut budget);
    weighted.sort_by_key(|(s, _)| (s.start, s.end));
    let score = score(&weighted);
    weighted.truncate(MAX_SIGNALS);
    Assessment {
        score,
        heuristic: score,
        classifier: 0.0,
        signals: weighted.into_iter().map(|(s, _)| s).collect(),
    }
}

fn weight(kind: &str) -> f32 {
    WEIGHTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(0.0, |(_, w)| *w)
}

fn fixed(kind: &'static str, start: usize, end: usize) -> (Signal, f32) {
    (Signal { kind, start, end }, weight(kind))
}

/// Noisy-OR over kinds, each kind counted once at its strongest signal.
fn score(signals: &[(Signal, f32)]) -> f32 {
    let mut best: Vec<(&str, f32)> = Vec::new();
    for (s, w) in signals {
        match best.iter_mut().find(|(k, _)| *k == s.kind) {
            Some(b) => b.1 = b.1.max(*w),
            None => best.push((s.kind, *w)),
        }
    }
    let miss: f32 = best.iter().map(|(_, w)| 1.0 - w).product();
    (1.0 - miss).clamp(0.0, 1.0)
}

/// Signals with their weights; spans are byte offsets into `text`.
fn collect(text: &str, depth: u8, budget: &mut usize) -> Vec<(Signal, f32)> {
    let Some(rules) = RULES.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    smuggling(text, depth, budget, &mut out);
    // Everything else looks at the normalised text, where invisible characters cannot split a
    // phrase, and maps back.
    let norm = Normalized::new(text);
    let t = norm.text();
    let mut found = Vec::new();
    phrases_in(rules, t, &mut found);
    if let Ok(tokens) = rules.tokens.try_find_overlapping_iter(t) {
        for m in tokens {
            found.push(fixed(
                phrases::TOKENS[m.pattern().as_usize()].0,
                m.start(),
                m.end(),
            ));
        }
    }
    discount_code(rules, t, &mut found);
    found.retain(|(s, _)| s.kind != "instruction_override" || !described(rules, t, s.start));
    if depth < MAX_DEPTH {
        encodings_in(rules, t, depth, budget, &mut found);
    }
    for (s, _) in &mut found {
        (s.start, s.end) = norm.to_original(s.start, s.end);
    }
    out.extend(found);
    out
}

fn phrases_in(rules: &Rules, t: &str, out: &mut Vec<(Signal, f32)>) {
    for i in rules.set.matches(t).iter() {
        let phrase = &rules.phrases[i];
        let Some(re) = phrase.regex() else { continue };
        for m in re.find_iter(t) {
            out.push(fixed(phrase.kind, m.start(), m.end()));
        }
    }
}

/// Role markers in pasted code become mere tokens: a developer asking about
/// `messages=[{"role": "system", …}]` or a chat template in a ``` fence is not faking a turn.
/// So do all of them in a text that asks for work on a prompt ("improve this prompt"), and a
/// JSON system message in a text that also holds JSON user or assistant messages: a whole
/// conversation serialised (a tool returning chat history) rather than one smuggled turn.
fn discount_code(rules: &Rules, t: &str, found: &mut [(Signal, f32)]) {
    let mut fences: Option<Vec<usize>> = None;
    let mut prompt_work: Option<bool> = None;
    let mut conversation: Option<bool> = None;
    for (s, w) in found.iter_mut() {
        if !DISCOUNTED_IN_CODE.contains(&s.kind) {
            continue;
        }
        let fences = fences.get_or_insert_with(|| t.match_indices("```").map(|(i, _)| i).collect());
        let prompt_work = *prompt_work.get_or_insert_with(|| rules.prompt_work.is_match(t));
        let serialised = s.kind == "json_system_role"
            && *conversation.get_or_insert_with(|| rules.json_chat_role.is_match(t));
        if prompt_work || serialised || in_code(rules, t, fences, s.start) {
            (*s, *w) = fixed("role_token", s.start, s.end);
        }
    }
}

/// Whether byte `at` of `t` is in code: inside a ``` fence (`fences`: where each one starts),
/// inside inline backticks on its line, or shortly after an assignment to `messages` or
/// `prompt`, a call like `.create(` or a declaration. Each check reads at most
/// [`CODE_LOOKBACK`] bytes, so many markers cost no more than linear time.
fn in_code(rules: &Rules, t: &str, fences: &[usize], at: usize) -> bool {
    if fences.partition_point(|&f| f < at) % 2 == 1 {
        return true;
    }
    let mut from = at.saturating_sub(CODE_LOOKBACK);
    while !t.is_char_boundary(from) {
        from += 1;
    }
    let before = &t[from..at];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    line.bytes().filter(|&b| b == b'`').count() % 2 == 1 || rules.code.is_match(before)
}

/// Whether the override phrase at `at` is said of a model rather than to it: "why does the model
/// ignore my system prompt", "LLMs often ignore prior instructions". "Why don't you ignore…" and
/// "I want you to ignore…" still count.
fn described(rules: &Rules, t: &str, at: usize) -> bool {
    let mut from = at.saturating_sub(DESCRIBED_LOOKBACK);
    while !t.is_char_boundary(from) {
        from += 1;
    }
    let before = &t[from..at];
    let sentence = &before[before.rfind(['.', '!', '?', '\n']).map_or(0, |i| i + 1)..];
    rules.described.is_match(sentence)
}

/// Base64 and hex runs that decode to text, and the ROT13 of the whole text, assessed again.
fn encodings_in(
    rules: &Rules,
    t: &str,
    depth: u8,
    budget: &mut usize,
    out: &mut Vec<(Signal, f32)>,
) {
    let runs = [
        ("encoded_base64", &rules.base64),
        ("encoded_hex", &rules.hex),
    ];
    for (kind, re) in runs {
        for m in re.find_iter(t) {
            if *budget == 0 {
                return;
            }
            let run = m.as_str().trim_end_matches([' ', ':', ',', '-']).as_bytes();
            let run = &run[..run.len().min(MAX_RUN)];
            let decoded = match kind {
                "encoded_base64" => decode::base64(run),
                _ => decode::hex(run),
            };
            let Some(bytes) = decoded else {
                continue;
            };
            *budget = budget.saturating_sub(bytes.len());
            let Some(inner) = decode::as_text(&bytes) else {
                continue;
            };
            // What was hidden is assessed by both parts: an attack only the classifier knows
            // stays an attack when encoded.
            let inner = score(&collect(inner, depth + 1, budget)).max(hidden_classified(inner));
            if inner > 0.0 {
                out.push(encoded(kind, m.start(), m.end(), inner));
            }
        }
    }
    // ROT13 keeps every offset, so a phrase found in the rotated text points at its original.
    // Rotating and re-matching costs as much as the plain pass, so it runs only when a rotated
    // key word is present.
    if rules.rot13_words.is_match(t) {
        let rotated = decode::rot13(t);
        let mut found = Vec::new();
        phrases_in(rules, &rotated, &mut found);
        for (s, w) in found {
            out.push(encoded("encoded_rot13", s.start, s.end, w));
        }
    }
}

/// The classifier's score for a decoded or hidden text when it calls it likely an injection
/// (0.5 and up), else 0: below that the encoding alone is not evidence.
fn hidden_classified(text: &str) -> f32 {
    let c = classifier::score(text);
    if c >= 0.5 { c } else { 0.0 }
}

fn encoded(kind: &'static str, start: usize, end: usize, inner: f32) -> (Signal, f32) {
    (
        Signal { kind, start, end },
        (inner + ENCODING_BONUS).min(0.95),
    )
}

/// Tag characters, bidi overrides and zero-width runs, found in the original text (the
/// normalised one has them removed).
fn smuggling(text: &str, depth: u8, budget: &mut usize, out: &mut Vec<(Signal, f32)>) {
    if text.is_ascii() {
        return;
    }
    let mut zero_width: Vec<usize> = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut prev = '\0';
    while let Some((i, c)) = chars.next() {
        match c {
            '\u{E0000}'..='\u{E007F}' => {
                let mut end = i + c.len_utf8();
                let mut hidden = String::new();
                push_tag(&mut hidden, c);
                while let Some(&(j, d)) = chars.peek() {
                    if !('\u{E0000}'..='\u{E007F}').contains(&d) {
                        break;
                    }
                    push_tag(&mut hidden, d);
                    end = j + d.len_utf8();
                    chars.next();
                }
                if prev != '\u{1F3F4}' || !is_flag_tag(&hidden) {
                    let affordable = !hidden.is_empty() && hidden.len() <= *budget;
                    let inner = if depth < MAX_DEPTH && affordable {
                        *budget -= hidden.len();
                        score(&collect(&hidden, depth + 1, budget)).max(hidden_classified(&hidden))
                    } else {
                        0.0
                    };
                    let w = if inner > 0.0 {
                        0.95
                    } else {
                        weight("unicode_tags")
                    };
                    out.push((
                        Signal {
                            kind: "unicode_tags",
                            start: i,
                            end,
                        },
                        w,
                    ));
                }
                prev = '\u{E007F}';
                continue;
            }
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                out.push(fixed("bidi_override", i, i + c.len_utf8()));
            }
            '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{180E}' => zero_width.push(i),
            '\u{FEFF}' if i > 0 => zero_width.push(i),
            _ => {}
        }
        prev = c;
    }
    if zero_width.len() >= ZERO_WIDTH_MIN {
        let (first, last) = (zero_width[0], zero_width[zero_width.len() - 1]);
        out.push(fixed("zero_width", first, last + 3));
    }
}

/// Tag characters mirror ASCII 0x20–0x7E; the rest (language tag, cancel tag) carry no text.
fn push_tag(hidden: &mut String, c: char) {
    let v = c as u32 - 0xE0000;
    if (0x20..0x7F).contains(&v) {
        hidden.push(char::from(v as u8));
    }
}

/// Subdivision flags (🏴 + lowercase region code + cancel tag) are the one benign use of tags.
fn is_flag_tag(hidden: &str) -> bool {
    (2..=7).contains(&hidden.len())
        && hidden
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests;
