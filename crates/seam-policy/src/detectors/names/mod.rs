//! Names, places and street addresses: `PERSON`, `LOCATION`, `STREET_ADDRESS`.
//!
//! Two sources meet here. Rules (titles and salutations, greetings, signature blocks, "Last,
//! First", lower-case names after verbs of address, gazetteers, street-address grammars) run on
//! every text. A named-entity model's tags ([`Tag`]), when the scanner has them, are mapped to the
//! same entities and fused with the rules: the rules add what models miss and veto what fools them
//! (imperatives at the start of a prompt, weekdays, product and drug names, code, acronyms).
//!
//! Spans follow one convention: a person is the name words only (particles included, titles and a
//! possessive `'s` left out; "Lovelace, Ada" is one span); a place is a city, region or country as
//! written; a street address is the street line (number, street, unit) and a postal code right
//! after it, the city after that being a place of its own.
//!
//! Scores: strong evidence (a title, a greeting, a signature, a gazetteer-confirmed full name, an
//! address grammar) 0.85–0.95; a model's tag alone its probability mapped into 0.5–0.9; a single
//! weak signal (a capitalised given name at the start of a sentence, a place that is also a name)
//! under 0.5. Where rules and model agree, the two combine as independent evidence.
//!
//! The gazetteers (data/names/) come from Faker (MIT licence); `scripts/gazetteer.py` rebuilds them.

mod address;
mod lexicon;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use lexicon::{COMMON, GIVEN, GREET, LEX, PLACE, PRODUCT, STOP, SURNAME, TIME, TITLE};
use rules::{Ctx, Kind};

use crate::{Detector, Finding, Tag};

pub const PERSON: &str = "PERSON";
pub const LOCATION: &str = "LOCATION";
pub const STREET_ADDRESS: &str = "STREET_ADDRESS";

/// The entities of this family.
pub const ENTITIES: &[&str] = &[PERSON, LOCATION, STREET_ADDRESS];

const NAME: &str = "names";
/// The most a fused score reaches: names have no checksum.
const MAX_SCORE: f32 = 0.98;

/// A candidate span, from the rules or the model, in byte offsets of the scanned text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cand {
    pub entity: &'static str,
    pub s: usize,
    pub e: usize,
    pub score: f32,
}

/// The names detector: rules, and the fusion of a model's tags with them.
pub struct Names {}

impl Names {
    pub fn new() -> Self {
        // Build the lexicon now rather than on the first request.
        let _ = LEX.words.len();
        Names {}
    }

    /// Findings in `text` (normalised, as every detector sees it) from the rules and, when given,
    /// the model's `tags` for the same text (offsets into `text`).
    pub fn detect_with(&self, text: &str, tags: Option<&[Tag]>, out: &mut Vec<Finding>) {
        if text.is_empty() {
            return;
        }
        let mut ctx = Ctx::new(text);
        let mut found = Vec::new();
        rules::people_and_places(&mut ctx, &mut found);
        address::addresses(&mut ctx, &mut found);
        chain_places(text, &mut found);
        let fused = match tags {
            Some(tags) => fuse(found, model(&ctx, tags)),
            None => found,
        };
        let fused = resolve(fused);
        out.extend(fused.into_iter().map(|c| Finding {
            entity: c.entity,
            start: c.s,
            end: c.e,
            score: c.score,
            detector: NAME,
        }));
    }
}

/// A rule finding at least this strong settles the words it covers: the model would not change
/// what a policy does with them.
const SETTLED: f32 = 0.8;

impl Names {
    /// Whether the model could add anything to what the rules found in `text` (normalised); see
    /// [`Names::model_windows`].
    pub fn needs_model(&self, text: &str) -> bool {
        !self.model_windows(text).is_empty()
    }

    /// Where in `text` (normalised) the model should read: around each word the rules have not
    /// settled — a capitalised word that is not a stop word, a weekday, a title or code, or a
    /// lower-case known given name, that no strong rule finding covers — [`WINDOW`] words either
    /// side, overlapping windows merged; the whole text when they cover most of it, or when it is
    /// typed all in lower case (chat hides names from every rule but the gazetteer's). Empty:
    /// the rules settled the text and the model is not worth a run ("the model runs only where
    /// it pays"). Offsets are on word boundaries.
    pub fn model_windows(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        if text.trim().is_empty() {
            return Vec::new();
        }
        let mut ctx = Ctx::new(text);
        let mut found = Vec::new();
        rules::people_and_places(&mut ctx, &mut found);
        address::addresses(&mut ctx, &mut found);
        chain_places(text, &mut found);
        let cased = ctx
            .toks
            .iter()
            .any(|t| matches!(t.kind, Kind::Title | Kind::Upper | Kind::Mixed));
        let worded = ctx.toks.iter().filter(|t| t.kind == Kind::Lower).count() >= 2;
        if !cased && worded {
            return std::iter::once(0..text.len()).collect();
        }
        let n = ctx.toks.len();
        let mut windows: Vec<std::ops::Range<usize>> = Vec::new();
        for i in 0..n {
            let t = ctx.toks[i];
            let open = (ctx.namey(i, true) || ctx.lower_given(i))
                && !found
                    .iter()
                    .any(|c| c.score >= SETTLED && c.s <= t.s && t.e <= c.e);
            if !open {
                continue;
            }
            let s = ctx.toks[i.saturating_sub(WINDOW)].s;
            let e = ctx.toks[(i + WINDOW).min(n - 1)].e;
            match windows.last_mut() {
                Some(w) if s <= w.end => w.end = w.end.max(e),
                _ => windows.push(s..e),
            }
        }
        let covered: usize = windows.iter().map(|w| w.len()).sum();
        if !windows.is_empty() && covered * 10 >= text.len() * 7 {
            return std::iter::once(0..text.len()).collect();
        }
        windows
    }
}

/// How many tokens (words and punctuation) either side of an unsettled word the model reads: a
/// sentence's worth of context.
const WINDOW: usize = 16;

impl Default for Names {
    fn default() -> Self {
        Self::new()
    }
}

/// Words that make a weak candidate (a lone given name at the start of a sentence, a place that
/// is also a name) count: "Name: Priya", "city: Paris", "Adresse: …".
#[rustfmt::skip]
const CONTEXT: &[(&str, &[&str])] = &[
    (PERSON, &[
        "name", "named", "called", "patient", "contact", "customer", "employee", "author",
        "signed", "recipient", "sender", "vorname", "nachname", "prénom", "nombre", "apellido",
        "cognome", "achternaam", "voornaam", "sobrenome",
    ]),
    // Matched as substrings, like every context word: no "city" (capacity), "ort" (report),
    // "land" (England).
    (LOCATION, &[
        "born in", "located in", "lives in", "living in", "based in", "country", "stadt",
        "ville", "pays", "ciudad", "país", "città", "paese", "cidade",
    ]),
    (STREET_ADDRESS, &[
        "address", "adresse", "anschrift", "dirección", "domicilio", "indirizzo", "adres",
        "morada", "endereço", "ship to", "deliver to",
    ]),
];

impl Detector for Names {
    fn name(&self) -> &'static str {
        NAME
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn entities(&self) -> &'static [&'static str] {
        ENTITIES
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        self.detect_with(text, None, out);
    }
}

/// One finding per byte, the strongest first (as the scanner does), so a place inside an address
/// ("Via Roma 12") or a lone given name inside a full name leaves no second finding.
fn resolve(mut found: Vec<Cand>) -> Vec<Cand> {
    found.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.e - b.s).cmp(&(a.e - a.s)))
            .then(a.s.cmp(&b.s))
    });
    // Kept spans are disjoint, so only the last one starting before a candidate's end can
    // overlap it.
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut kept: Vec<Cand> = Vec::with_capacity(found.len());
    for f in found {
        let overlaps = taken
            .range(..f.e)
            .next_back()
            .is_some_and(|(_, &end)| end > f.s);
        if f.s < f.e && !overlaps {
            taken.insert(f.s, f.e);
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.s);
    kept
}

/// "Austin, Texas", "Lyon, France": two places joined by a comma support each other.
fn chain_places(text: &str, found: &mut [Cand]) {
    let mut locs: Vec<usize> = (0..found.len())
        .filter(|&i| found[i].entity == LOCATION)
        .collect();
    locs.sort_by_key(|&i| found[i].s);
    for w in locs.windows(2) {
        let (a, b) = (w[0], w[1]);
        if found[a].e <= found[b].s
            && text.get(found[a].e..found[b].s) == Some(", ")
            && found[a].score.max(found[b].score) >= 0.5
        {
            found[a].score = found[a].score.max(0.85);
            found[b].score = found[b].score.max(0.85);
        }
    }
}

/// A model probability mapped into the band of a model-only finding: 0.5–0.9 for confident tags,
/// under the threshold for unsure ones.
fn model_score(p: f32) -> f32 {
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if p >= 0.5 {
        0.5 + (p - 0.5) * 0.8
    } else {
        p * 0.98
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Person,
    Place,
    Address,
}

fn family(label: &str) -> Option<Family> {
    match label {
        "GIVEN_NAME" | "SURNAME" | "MIDDLE_NAME" | "FIRST_NAME" | "LAST_NAME" | "FIRSTNAME"
        | "LASTNAME" | "PERSON" | "PER" | "NAME" => Some(Family::Person),
        "CITY" | "STATE" | "COUNTRY" | "LOC" | "LOCATION" | "GPE" => Some(Family::Place),
        "BUILDING_NUMBER" | "STREET_NAME" | "STREET" | "SECONDARY_ADDRESS" | "ZIP_CODE"
        | "ZIPCODE" | "STREET_ADDRESS" => Some(Family::Address),
        _ => None,
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Widens `s..e` to whole words (a sub-word tag covers its word) and drops a possessive `'s`.
fn whole_words(text: &str, s: usize, e: usize) -> (usize, usize) {
    let joins = |c: char| c.is_alphanumeric();
    let mut s = floor_char(text, s);
    let mut e = ceil_char(text, e);
    while let Some(c) = text[..s].chars().next_back() {
        let inner = matches!(c, '-' | '\'' | '\u{2019}')
            && text[..s - c.len_utf8()]
                .chars()
                .next_back()
                .is_some_and(joins);
        if joins(c) || inner {
            s -= c.len_utf8();
        } else {
            break;
        }
    }
    while let Some(c) = text[e..].chars().next() {
        let inner = matches!(c, '-' | '\'' | '\u{2019}')
            && text[e + c.len_utf8()..].chars().next().is_some_and(joins);
        if joins(c) || inner {
            e += c.len_utf8();
        } else {
            break;
        }
    }
    for poss in ["'s", "\u{2019}s"] {
        if e - s > poss.len() && text[s..e].ends_with(poss) {
            e -= poss.len();
        }
    }
    (s, e)
}

/// Whether the gap between two tags of one family keeps them one entity.
fn joins(ctx: &Ctx<'_>, fam: Family, prev_label: &str, label: &str, gap: &str, prev: &str) -> bool {
    if gap.contains('\n') {
        return false;
    }
    if gap.trim().is_empty() {
        return gap.len() <= 2;
    }
    match fam {
        Family::Person => {
            let g = gap.trim();
            if g == "-" {
                return true;
            }
            // "Lovelace, Ada"
            if g == "," && prev_label == "SURNAME" && label == "GIVEN_NAME" {
                return true;
            }
            // "J. Smith"
            if g == "." && prev.chars().count() == 1 {
                return true;
            }
            // "van der", "de la"
            let mut buf = String::new();
            g.split_whitespace().all(|w| {
                lexicon::lower_into(w, &mut buf);
                LEX.words
                    .get(buf.as_str())
                    .is_some_and(|f| f & lexicon::PARTICLE != 0)
            }) && gap.len() <= 12
                && !ctx.text.is_empty()
        }
        Family::Place => false,
        Family::Address => {
            gap.len() <= 6
                && gap
                    .chars()
                    .all(|c| c.is_whitespace() || ",.#º°/-nNoO".contains(c))
        }
    }
}

/// A model's tags as candidates: mapped to entities, widened to whole words, merged, titles and
/// vetoed words trimmed from the ends; a span the lexicon vetoes entirely is marked so (score < 0).
fn model(ctx: &Ctx<'_>, tags: &[Tag]) -> Vec<Cand> {
    let text = ctx.text;
    let mut ts: Vec<(Family, &str, usize, usize, f32)> = tags
        .iter()
        .filter_map(|t| {
            let fam = family(t.label)?;
            let (s, e) = whole_words(text, t.start.min(t.end), t.end.max(t.start));
            (s < e).then_some((fam, t.label, s, e, t.score))
        })
        .collect();
    ts.sort_by_key(|t| (t.2, t.3));
    let mut out = Vec::new();
    let mut i = 0;
    while i < ts.len() {
        let (fam, mut label, s, mut e, score) = ts[i];
        let mut scores = vec![score];
        let mut labels = vec![label];
        let mut j = i + 1;
        while j < ts.len() && ts[j].0 == fam {
            let (_, l2, s2, e2, p2) = ts[j];
            let ok = s2 <= e
                || joins(
                    ctx,
                    fam,
                    label,
                    l2,
                    &text[e..s2],
                    text[s..e].rsplit(' ').next().unwrap_or(""),
                ) && (fam != Family::Place || l2 == label);
            if !ok {
                break;
            }
            e = e.max(e2);
            label = l2;
            scores.push(p2);
            labels.push(l2);
            j += 1;
        }
        i = j;
        let mean = scores.iter().sum::<f32>() / scores.len() as f32;
        let mut score = model_score(mean);
        let entity = match fam {
            Family::Person => PERSON,
            Family::Place => LOCATION,
            Family::Address => {
                let street = labels
                    .iter()
                    .any(|l| matches!(*l, "STREET_NAME" | "STREET" | "STREET_ADDRESS"));
                let number = labels
                    .iter()
                    .any(|l| matches!(*l, "BUILDING_NUMBER" | "SECONDARY_ADDRESS"));
                if !street {
                    continue; // a lone number or postal code
                }
                if !number && !labels.contains(&"STREET_ADDRESS") {
                    score = score.min(0.45);
                }
                STREET_ADDRESS
            }
        };
        if fam == Family::Address {
            out.push(Cand {
                entity,
                s,
                e,
                score,
            });
            continue;
        }
        if let Some(c) = trim(ctx, entity, s, e, score) {
            out.push(c);
        }
    }
    out
}

/// Drops titles and greeting words from the start of a model's person span and vetoed words from
/// both ends; marks the span vetoed (negative score) when nothing but vetoed words is left.
fn trim(ctx: &Ctx<'_>, entity: &'static str, s: usize, e: usize, score: f32) -> Option<Cand> {
    let from = ctx.toks.partition_point(|t| t.s < s);
    let words: Vec<usize> = (from..ctx.toks.len())
        .take_while(|&k| ctx.toks[k].s < e)
        .filter(|&k| ctx.toks[k].e <= e && ctx.toks[k].word())
        .collect();
    let drop_head = |k: usize| {
        let t = &ctx.toks[k];
        t.is(TITLE | STOP) || (t.is(GREET) && !t.is(GIVEN | SURNAME))
    };
    let mut a = 0;
    while a < words.len() && (entity == PERSON && drop_head(words[a])) {
        a += 1;
    }
    let mut b = words.len();
    while b > a && entity == PERSON && ctx.toks[words[b - 1]].is(STOP) {
        b -= 1;
    }
    if a >= b {
        return None;
    }
    let s2 = if a > 0 { ctx.toks[words[a]].s } else { s };
    let e2 = if b < words.len() {
        ctx.toks[words[b - 1]].e
    } else {
        e
    };
    let span = &words[a..b];
    // Case alone vetoes only what an acronym or a stray lower-case word looks like: a run of two
    // or more capitalised words the model calls a name ("HÙNG PHẠM") is a name written in
    // capitals, and a lower-case word it is sure of in lower-case chat ("tell jördis") a name
    // typed in a hurry.
    // In text that uses capitals, a lower-case word is not a name, however sure the model is.
    let sure = score >= model_score(SURE)
        && !ctx
            .toks
            .iter()
            .any(|t| matches!(t.kind, Kind::Title | Kind::Upper | Kind::Mixed));
    let vetoed = span
        .iter()
        .all(|&k| vetoable(ctx, k, entity, span.len() > 1, sure));
    Some(Cand {
        entity,
        s: s2,
        e: e2,
        score: if vetoed { -score } else { score },
    })
}

/// A word a model often mistakes for a name or place: an imperative or sentence-start word, a
/// weekday or month, a product or drug, a common word that is also a name ("Will", "Grace"),
/// code, an acronym.
fn vetoable(ctx: &Ctx<'_>, k: usize, entity: &str, run: bool, sure: bool) -> bool {
    let t = &ctx.toks[k];
    let known = if entity == PERSON {
        GIVEN | SURNAME
    } else {
        PLACE
    };
    t.is(STOP | TIME | PRODUCT | COMMON | TITLE)
        || ctx.code(k)
        || slug(ctx, k, known)
        || (t.kind == Kind::Upper && !t.is(known) && !(run && entity == PERSON))
        || (t.kind == Kind::Lower && !t.is(known) && !(sure && entity == PERSON))
}

/// A lower-case word hyphenated to a lower-case word that is not a name: an identifier
/// (`agent-ada`, `user-john`), not a person ("jean-pierre" joins two names and stays). The
/// tokenizer keeps a hyphenated word whole, so the parts are looked up here.
fn slug(ctx: &Ctx<'_>, k: usize, known: u32) -> bool {
    let Some(t) = ctx.tok(k) else { return false };
    let word = &ctx.text[t.s..t.e];
    if t.kind != Kind::Lower || !word.contains('-') {
        return false;
    }
    word.split('-').any(|part| {
        let flags = LEX.words.get(&part.to_lowercase()).unwrap_or(0);
        flags & known == 0
    })
}

/// The model's probability above which a lower-case word it calls a name counts without a
/// gazetteer's support.
const SURE: f32 = 0.9;

/// Rules and model together: where both found an entity the spans merge (the rule's span when the
/// rule is sure, since rules know the span conventions) and the scores combine; a model span that
/// only vetoed words make up stays out unless a rule found it too.
fn fuse(rules: Vec<Cand>, model: Vec<Cand>) -> Vec<Cand> {
    let mut used = vec![false; rules.len()];
    let mut out = Vec::with_capacity(rules.len() + model.len());
    for m in model {
        let vetoed = m.score < 0.0;
        let p = m.score.abs();
        let mut best: Option<usize> = None;
        for (k, r) in rules.iter().enumerate() {
            if r.entity == m.entity && r.s < m.e && m.s < r.e {
                used[k] = true;
                if best.is_none_or(|b| rules[b].score < r.score) {
                    best = Some(k);
                }
            }
        }
        match best {
            Some(k) => {
                let r = &rules[k];
                let (s, e) = if r.score >= 0.8 {
                    (r.s, r.e)
                } else {
                    (r.s.min(m.s), r.e.max(m.e))
                };
                let score = (r.score + p - r.score * p).min(MAX_SCORE);
                out.push(Cand {
                    entity: m.entity,
                    s,
                    e,
                    score,
                });
            }
            None if vetoed => {}
            None => out.push(Cand { score: p, ..m }),
        }
    }
    for (k, r) in rules.into_iter().enumerate() {
        if !used[k] {
            out.push(r);
        }
    }
    out
}
