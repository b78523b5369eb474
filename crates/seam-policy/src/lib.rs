//! Seam's policy engine: find personal data, secrets and injection attempts in text, and decide
//! what happens to them. Pure: no IO, no clock, no async.
//!
//! Detection is layered. Text is first [`normalize`]d (compatibility forms folded, invisible
//! characters dropped) with a map back to the original. [`detectors`] then look for candidates
//! with patterns and confirm them with validators where the entity has one (Luhn, mod-97, Verhoeff,
//! base58check…), so a score reflects evidence, not a guess. Context words near a candidate raise
//! its score ([`Scanner`]); per-entity thresholds and allow-lists decide what counts. Overlapping
//! findings are resolved so each byte belongs to at most one finding, highest score first.
//!
//! Entity names follow Presidio's, so configs carry over.

pub mod actions;
pub mod context;
pub mod corpus;
pub mod detectors;
pub mod engine;
pub mod injection;
pub mod normalize;
pub mod output;
pub mod restore;
pub mod validators;
pub mod vault;

use aho_corasick::AhoCorasick;

pub use engine::{Policy, Record, Stage, TextOutcome};
pub use normalize::Normalized;
pub use output::{OutputFilter, StreamFilter};
pub use restore::Escape;
pub use vault::Vault;

/// Whether an entity is a secret (`SECRET_*`) rather than personal data; policies address the two
/// classes separately (`secrets = …`, `pii = …`).
pub fn is_secret(entity: &str) -> bool {
    entity.starts_with("SECRET_")
}

/// One thing found in a text. Offsets are bytes into the text that was scanned (the original, not
/// the normalised form). A finding never holds the value itself, so it is safe to log and audit.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Presidio-style entity name, e.g. `EMAIL_ADDRESS`, `CREDIT_CARD`, or a secret's name.
    pub entity: &'static str,
    pub start: usize,
    pub end: usize,
    /// 0..=1: how sure the detector is, after context.
    pub score: f32,
    /// Which detector found it.
    pub detector: &'static str,
}

/// One span a named-entity model tagged, in byte offsets of the text it was given. `label` is the
/// model's own label without its B-/I- prefix (`GIVEN_NAME`, `SURNAME`, `STREET_NAME`,
/// `BUILDING_NUMBER`, `SECONDARY_ADDRESS`, `CITY`, `STATE`, `ZIP_CODE`, …); the names detector
/// maps them to Seam's entities.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub label: &'static str,
    pub start: usize,
    pub end: usize,
    /// The model's mean probability for the label over the span's tokens.
    pub score: f32,
}

/// A named-entity model: tags a batch of texts at once. Implemented outside this crate (the
/// model's runtime does IO and heavy arithmetic; this crate stays pure).
pub trait Tagger: Send + Sync {
    /// One list of tags per text, offsets into that text.
    fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>>;
}

/// Whether, and how, a scan uses the named-entity model for names, places and addresses.
#[derive(Clone, Copy, Debug)]
pub enum Tagging<'a> {
    /// Rules alone.
    Off,
    /// Run the scanner's model on the text here, when the text is at most this many bytes
    /// (normalised); longer texts get rules alone.
    Inline(usize),
    /// The model already ran on this text's normalised form ([`Scanner::model_input`]).
    Given(&'a [Tag]),
    /// Names, places and addresses are not looked for at all (no rule covers them).
    Skip,
}

/// A family of entities found by one technique. Detectors work on normalised text and report
/// offsets into it; the scanner maps them back.
pub trait Detector: Send + Sync {
    fn name(&self) -> &'static str;
    /// The entities this detector can report.
    fn entities(&self) -> &'static [&'static str];
    /// Words that make a candidate more likely when they appear shortly before it, per entity.
    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[]
    }
    /// Appends findings for `text` to `out`.
    fn detect(&self, text: &str, out: &mut Vec<Finding>);
}

/// How far before a candidate context words are looked for, in bytes.
pub(crate) const CONTEXT_WINDOW: usize = 64;
/// How much a context word adds to a score.
const CONTEXT_BOOST: f32 = 0.35;

/// A set of detectors, compiled once and shared by every request.
pub struct Scanner {
    detectors: Vec<Box<dyn Detector>>,
    /// Names, places and addresses: rules, and a model's tags when there are any.
    names: Option<detectors::names::Names>,
    tagger: Option<std::sync::Arc<dyn Tagger>>,
    /// All context words of all detectors, matched case-insensitively in one pass.
    context: Option<AhoCorasick>,
    /// For each context pattern: the entity it supports.
    context_entity: Vec<&'static str>,
}

impl Scanner {
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        let mut words = Vec::new();
        let mut context_entity = Vec::new();
        for d in &detectors {
            for (entity, list) in d.context() {
                for w in *list {
                    words.push(*w);
                    context_entity.push(*entity);
                }
            }
        }
        let context = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .ok();
        Scanner {
            detectors,
            names: None,
            tagger: None,
            context,
            context_entity,
        }
    }

    /// Every detector Seam has; names, places and addresses by rules alone until
    /// [`Scanner::with_tagger`] adds a model.
    pub fn all() -> Self {
        Self::structured().with_names()
    }

    /// The structured entities and secrets only: no names, places or addresses.
    pub fn structured() -> Self {
        Self::new(detectors::all())
    }

    /// This scanner with the names detector (rules).
    pub fn with_names(mut self) -> Self {
        let names = detectors::names::Names::new();
        let mut words = Vec::new();
        let mut context_entity = Vec::new();
        for d in self
            .detectors
            .iter()
            .map(|d| d.as_ref() as &dyn Detector)
            .chain(std::iter::once(&names as &dyn Detector))
        {
            for (entity, list) in d.context() {
                for w in *list {
                    words.push(*w);
                    context_entity.push(*entity);
                }
            }
        }
        self.context = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .ok();
        self.context_entity = context_entity;
        self.names = Some(names);
        self
    }

    /// This scanner with a named-entity model behind the names detector.
    pub fn with_tagger(mut self, tagger: std::sync::Arc<dyn Tagger>) -> Self {
        if self.names.is_none() {
            self = self.with_names();
        }
        self.tagger = Some(tagger);
        self
    }

    /// The model, when the scanner has one.
    pub fn tagger(&self) -> Option<&std::sync::Arc<dyn Tagger>> {
        self.tagger.as_ref()
    }

    /// The text a model must tag for [`Tagging::Given`]: `text` as the detectors read it.
    pub fn model_input(text: &str) -> String {
        Normalized::new(text).text().to_owned()
    }

    /// Whether the model could add anything the rules have not settled in `text` (as returned
    /// by [`Scanner::model_input`]); see [`detectors::names::Names::needs_model`].
    pub fn needs_model(&self, model_input: &str) -> bool {
        self.names
            .as_ref()
            .is_some_and(|n| n.needs_model(model_input))
    }

    /// Where the model should read `model_input`; empty when the rules settled it. See
    /// [`detectors::names::Names::model_windows`].
    pub fn model_windows(&self, model_input: &str) -> Vec<std::ops::Range<usize>> {
        self.names
            .as_ref()
            .map(|n| n.model_windows(model_input))
            .unwrap_or_default()
    }

    /// The entities this scanner can report, sorted.
    pub fn entities(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .detectors
            .iter()
            .flat_map(|d| d.entities().iter().copied())
            .chain(self.names.iter().flat_map(|n| n.entities().iter().copied()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Findings in `text`, mapped to its byte offsets, context applied, overlaps resolved, sorted
    /// by position. No threshold is applied here; that is the policy's job.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.scan_tagged(text, Tagging::Off)
    }

    /// [`Scanner::scan`], with the named-entity model used as `tagging` says.
    pub fn scan_tagged(&self, text: &str, tagging: Tagging<'_>) -> Vec<Finding> {
        let norm = Normalized::new(text);
        let t = norm.text();
        let mut found = Vec::new();
        for d in &self.detectors {
            d.detect(t, &mut found);
        }
        let structured = found.len();
        if let Some(names) = self
            .names
            .as_ref()
            .filter(|_| !matches!(tagging, Tagging::Skip))
        {
            match (tagging, &self.tagger) {
                (Tagging::Given(tags), _) => names.detect_with(t, Some(tags), &mut found),
                (Tagging::Inline(max), Some(m)) => {
                    let windows = names.model_windows(t);
                    let read: usize = windows.iter().map(|w| w.len()).sum();
                    if windows.is_empty() || read > max {
                        names.detect_with(t, None, &mut found);
                    } else {
                        let tags = tag_windows(m.as_ref(), t, &windows);
                        names.detect_with(t, Some(&tags), &mut found);
                    }
                }
                _ => names.detect_with(t, None, &mut found),
            }
        }
        self.apply_context(t, &mut found);
        if structured < found.len() {
            drop_names_inside_structured(&mut found, structured);
        }
        for f in &mut found {
            let (s, e) = norm.to_original(f.start, f.end);
            f.start = s;
            f.end = e;
        }
        resolve_overlaps(found)
    }

    fn apply_context(&self, text: &str, found: &mut [Finding]) {
        let Some(ac) = &self.context else {
            return;
        };
        if found.is_empty() {
            return;
        }
        for f in found.iter_mut() {
            let from = floor_char(text, f.start.saturating_sub(CONTEXT_WINDOW));
            let window = &text[from..f.start];
            // Overlapping, so that one entity's short word (`nas`) cannot hide another's longer
            // word around it (`nascita`).
            let supported = ac.try_find_overlapping_iter(window).is_ok_and(|mut it| {
                it.any(|m| self.context_entity[m.pattern().as_usize()] == f.entity)
            });
            if supported {
                f.score = (f.score + CONTEXT_BOOST).min(1.0);
            }
        }
    }
}

/// The model's tags for `windows` of `text` (one batch), in offsets of `text`.
pub fn tag_windows(
    tagger: &dyn Tagger,
    text: &str,
    windows: &[std::ops::Range<usize>],
) -> Vec<Tag> {
    let slices: Vec<&str> = windows.iter().filter_map(|w| text.get(w.clone())).collect();
    if slices.len() != windows.len() {
        return Vec::new();
    }
    place_tags(windows, tagger.tag(&slices))
}

/// Tags found in windows, moved to offsets of the whole text.
pub fn place_tags(windows: &[std::ops::Range<usize>], tags: Vec<Vec<Tag>>) -> Vec<Tag> {
    windows
        .iter()
        .zip(tags)
        .flat_map(|(w, tags)| {
            tags.into_iter().map(move |t| Tag {
                start: t.start + w.start,
                end: t.end + w.start,
                ..t
            })
        })
        .collect()
}

/// Drops the names findings (those from `structured` on) that overlap a structured finding which
/// counts: format evidence a name cannot outweigh — the words of `ada.lovelace@example.com` are an
/// email address, not a person.
fn drop_names_inside_structured(found: &mut Vec<Finding>, structured: usize) {
    let (head, tail) = found.split_at(structured);
    let keep: Vec<bool> = tail
        .iter()
        .map(|n| {
            !head.iter().any(|f| {
                f.score >= seam_config::policy::DEFAULT_MIN_SCORE
                    && f.start < n.end
                    && n.start < f.end
            })
        })
        .collect();
    let mut i = 0;
    found.retain(|_| {
        i += 1;
        i <= structured || keep.get(i - 1 - structured).copied().unwrap_or(true)
    });
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Keeps at most one finding per byte: a secret wins over anything else, then the higher score,
/// then the longer span, then the earlier start. Secrets come first because they sit inside other
/// entities (a password in a URL, a key in a query string) and a policy must treat them as secrets,
/// whatever context words raised the score of the entity around them.
fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    let secret = |f: &Finding| f.entity.starts_with("SECRET_");
    found.sort_by(|a, b| {
        secret(b)
            .cmp(&secret(a))
            .then(b.score.total_cmp(&a.score))
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        if f.start < f.end && kept.iter().all(|k| f.end <= k.start || f.start >= k.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(entity: &'static str, start: usize, end: usize, score: f32) -> Finding {
        Finding {
            entity,
            start,
            end,
            score,
            detector: "t",
        }
    }

    #[test]
    fn overlaps_keep_the_strongest_then_longest() {
        let kept = resolve_overlaps(vec![
            f("A", 0, 10, 0.5),
            f("B", 5, 8, 0.9),
            f("C", 12, 20, 0.6),
            f("D", 12, 22, 0.6),
        ]);
        let names: Vec<_> = kept.iter().map(|k| k.entity).collect();
        assert_eq!(names, ["B", "D"]);
    }

    #[test]
    fn scanning_finds_through_obfuscation_and_maps_back() {
        let s = Scanner::all();
        let text = "write to ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ please";
        let found = s.scan(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].entity, "EMAIL_ADDRESS");
        assert_eq!(
            &text[found[0].start..found[0].end],
            "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"
        );
    }
}
