//! Scoring a scanner against the corpus.
//!
//! A finding (at or above the threshold) matches a label when the entity is the same and the spans
//! overlap. Each label counts once: matched, a true positive; unmatched, a false negative. Each
//! finding that matches no label is a false positive, in whatever sample it occurs (benign and
//! injection prompts included). The same threshold decides whether an injection score flags.

use std::fmt;

use super::{Kind, Sample};
use crate::detectors::names;
use crate::{Scanner, injection};

/// Counts for one entity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntityStats {
    pub entity: &'static str,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl EntityStats {
    /// 1.0 when nothing was reported: no finding was wrong.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// 1.0 when nothing was labelled: nothing was missed.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        harmonic(self.precision(), self.recall())
    }
}

/// F1: the harmonic mean of precision and recall (0 when both are 0).
pub(super) fn harmonic(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// One error, for inspection: which sample, what, where.
#[derive(Clone, Debug, PartialEq)]
pub struct Miss {
    pub sample: usize,
    pub entity: &'static str,
    pub start: usize,
    pub end: usize,
    /// A finding with no label (true) or a label with no finding (false).
    pub false_positive: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub threshold: f32,
    /// Every entity labelled or reported, sorted by name.
    pub entities: Vec<EntityStats>,
    pub hard_negatives: usize,
    /// Hard-negative samples with at least one finding.
    pub hard_negative_hits: usize,
    pub benign: usize,
    /// Benign prompts the injection heuristics flagged.
    pub benign_flagged: usize,
    pub injections: usize,
    pub injections_detected: usize,
    pub misses: Vec<Miss>,
}

impl Report {
    /// The counts for `entity` (zeros when it never occurred).
    pub fn entity(&self, entity: &'static str) -> EntityStats {
        self.entities
            .iter()
            .find(|s| s.entity == entity)
            .cloned()
            .unwrap_or(EntityStats {
                entity,
                ..EntityStats::default()
            })
    }

    /// Counts summed over `entities` (micro-average).
    pub fn micro(&self, entities: &[&'static str]) -> EntityStats {
        let mut sum = EntityStats {
            entity: "micro",
            ..EntityStats::default()
        };
        for e in entities {
            let s = self.entity(e);
            sum.tp += s.tp;
            sum.fp += s.fp;
            sum.fn_ += s.fn_;
        }
        sum
    }

    pub fn hard_negative_fp_rate(&self) -> f64 {
        rate(self.hard_negative_hits, self.hard_negatives)
    }

    pub fn injection_fp_rate(&self) -> f64 {
        rate(self.benign_flagged, self.benign)
    }

    pub fn injection_detection_rate(&self) -> f64 {
        rate(self.injections_detected, self.injections)
    }
}

fn rate(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Scans every sample with `scanner`, assesses benign and injection prompts, and counts.
pub fn evaluate(scanner: &Scanner, samples: &[Sample], threshold: f32) -> Report {
    let mut report = Report {
        threshold,
        ..Report::default()
    };
    let mut stats: Vec<EntityStats> = Vec::new();
    let mut bump = |entity: &'static str, f: &dyn Fn(&mut EntityStats)| match stats
        .iter_mut()
        .find(|s| s.entity == entity)
    {
        Some(s) => f(s),
        None => {
            let mut s = EntityStats {
                entity,
                ..EntityStats::default()
            };
            f(&mut s);
            stats.push(s);
        }
    };
    for (i, sample) in samples.iter().enumerate() {
        // Names, places and addresses have their own corpus (`names`); here they count only
        // through what they do to the structured entities (an overlap they win is a miss).
        let found: Vec<_> = scanner
            .scan(&sample.text)
            .into_iter()
            .filter(|f| f.score >= threshold && !names::ENTITIES.contains(&f.entity))
            .collect();
        for l in &sample.labels {
            let hit = found
                .iter()
                .any(|f| f.entity == l.entity && f.start < l.end && l.start < f.end);
            if hit {
                bump(l.entity, &|s| s.tp += 1);
            } else {
                bump(l.entity, &|s| s.fn_ += 1);
                report.misses.push(Miss {
                    sample: i,
                    entity: l.entity,
                    start: l.start,
                    end: l.end,
                    false_positive: false,
                });
            }
        }
        for f in &found {
            let labelled = sample
                .labels
                .iter()
                .any(|l| f.entity == l.entity && f.start < l.end && l.start < f.end);
            if !labelled {
                bump(f.entity, &|s| s.fp += 1);
                report.misses.push(Miss {
                    sample: i,
                    entity: f.entity,
                    start: f.start,
                    end: f.end,
                    false_positive: true,
                });
            }
        }
        match sample.kind {
            Kind::HardNegative => {
                report.hard_negatives += 1;
                report.hard_negative_hits += usize::from(!found.is_empty());
            }
            Kind::Benign => {
                report.benign += 1;
                let flagged = injection::heuristics(&sample.text).score >= threshold;
                report.benign_flagged += usize::from(flagged);
            }
            Kind::Injection => {
                report.injections += 1;
                let detected = injection::heuristics(&sample.text).score >= threshold;
                report.injections_detected += usize::from(detected);
            }
            Kind::Entity => {}
        }
    }
    stats.sort_by_key(|s| s.entity);
    report.entities = stats;
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "threshold {:.2}", self.threshold)?;
        writeln!(
            f,
            "{:<26} {:>5} {:>5} {:>5} {:>9} {:>7} {:>6}",
            "entity", "tp", "fp", "fn", "precision", "recall", "f1"
        )?;
        for s in &self.entities {
            writeln!(
                f,
                "{:<26} {:>5} {:>5} {:>5} {:>9.4} {:>7.4} {:>6.4}",
                s.entity,
                s.tp,
                s.fp,
                s.fn_,
                s.precision(),
                s.recall(),
                s.f1()
            )?;
        }
        writeln!(
            f,
            "hard negatives: {} of {} flagged ({:.2}%)",
            self.hard_negative_hits,
            self.hard_negatives,
            100.0 * self.hard_negative_fp_rate()
        )?;
        writeln!(
            f,
            "injection: {} of {} benign prompts flagged ({:.2}%), {} of {} attacks detected ({:.1}%)",
            self.benign_flagged,
            self.benign,
            100.0 * self.injection_fp_rate(),
            self.injections_detected,
            self.injections,
            100.0 * self.injection_detection_rate()
        )
    }
}
