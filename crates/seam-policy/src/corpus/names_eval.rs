//! Scoring a scanner against the names corpus.
//!
//! Only findings of [`NAME_ENTITIES`] at or above the threshold count. A label is found when a
//! finding of its entity overlaps it (a true positive), else missed (a false negative); a finding
//! that overlaps no label of its entity is a false positive, wherever it occurs. Masking is judged
//! more leniently: a labelled byte counts as masked when any finding of the three entities covers
//! it, since a name masked as a place is still masked.

use std::fmt;

use super::eval::{EntityStats, Miss};
use super::names::{NAME_ENTITIES, NAME_FORMS, NEGATIVE_FORM, NameSample};
use crate::Finding;

/// Counts for one language.
#[derive(Clone, Debug, PartialEq)]
pub struct LangStats {
    pub lang: &'static str,
    pub samples: usize,
    /// One per entity of [`NAME_ENTITIES`], in that order.
    pub entities: Vec<EntityStats>,
}

impl LangStats {
    /// The counts summed over the three entities.
    pub fn micro(&self) -> EntityStats {
        sum("micro", &self.entities)
    }
}

/// Counts for one form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormStats {
    pub form: &'static str,
    pub samples: usize,
    pub labels: usize,
    /// Labels found by a finding of their entity.
    pub found: usize,
    /// Findings that overlap no label of their entity.
    pub false_positives: usize,
}

impl FormStats {
    /// 1.0 when nothing was labelled.
    pub fn recall(&self) -> f64 {
        if self.labels == 0 {
            1.0
        } else {
            self.found as f64 / self.labels as f64
        }
    }
}

/// The result of [`evaluate_names`].
#[derive(Clone, Debug, Default)]
pub struct NamesReport {
    pub threshold: f32,
    /// One per entity of [`NAME_ENTITIES`], in that order.
    pub entities: Vec<EntityStats>,
    /// One per language, in the order the corpus first uses it.
    pub languages: Vec<LangStats>,
    /// One per form of [`NAME_FORMS`] that occurs, then [`NEGATIVE_FORM`] if it does.
    pub forms: Vec<FormStats>,
    pub labelled_bytes: usize,
    /// Labelled bytes covered by any finding of the three entities.
    pub masked_bytes: usize,
    pub negatives: usize,
    /// Negative samples with at least one finding.
    pub negatives_flagged: usize,
    pub misses: Vec<Miss>,
}

impl NamesReport {
    /// The counts summed over the three entities.
    pub fn micro(&self) -> EntityStats {
        sum("micro", &self.entities)
    }

    /// The counts summed over the three entities and every language but English.
    pub fn non_english(&self) -> EntityStats {
        let all: Vec<EntityStats> = self
            .languages
            .iter()
            .filter(|l| l.lang != "en")
            .map(LangStats::micro)
            .collect();
        sum("non-English", &all)
    }

    /// The counts for `entity` (zeros when it is not one of the three).
    pub fn entity(&self, entity: &str) -> EntityStats {
        self.entities
            .iter()
            .find(|s| s.entity == entity)
            .cloned()
            .unwrap_or_default()
    }

    pub fn language(&self, lang: &str) -> Option<&LangStats> {
        self.languages.iter().find(|l| l.lang == lang)
    }

    pub fn form(&self, form: &str) -> Option<&FormStats> {
        self.forms.iter().find(|f| f.form == form)
    }

    /// Share of labelled bytes masked by some finding; 1.0 when nothing was labelled.
    pub fn masked_share(&self) -> f64 {
        if self.labelled_bytes == 0 {
            1.0
        } else {
            self.masked_bytes as f64 / self.labelled_bytes as f64
        }
    }

    /// Share of hard negatives with any finding; 0.0 when there were none.
    pub fn negatives_flagged_share(&self) -> f64 {
        if self.negatives == 0 {
            0.0
        } else {
            self.negatives_flagged as f64 / self.negatives as f64
        }
    }
}

fn sum(name: &'static str, stats: &[EntityStats]) -> EntityStats {
    let mut s = EntityStats {
        entity: name,
        ..EntityStats::default()
    };
    for e in stats {
        s.tp += e.tp;
        s.fp += e.fp;
        s.fn_ += e.fn_;
    }
    s
}

fn zeroed() -> Vec<EntityStats> {
    NAME_ENTITIES
        .iter()
        .map(|&entity| EntityStats {
            entity,
            ..EntityStats::default()
        })
        .collect()
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Scans every sample with `scan` and counts, keeping findings of [`NAME_ENTITIES`] scored at
/// least `threshold`.
pub fn evaluate_names(
    samples: &[NameSample],
    scan: &mut dyn FnMut(&str) -> Vec<Finding>,
    threshold: f32,
) -> NamesReport {
    let mut report = NamesReport {
        threshold,
        entities: zeroed(),
        ..NamesReport::default()
    };
    let mut forms: Vec<FormStats> = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let found: Vec<Finding> = scan(&sample.text)
            .into_iter()
            .filter(|f| f.score >= threshold && NAME_ENTITIES.contains(&f.entity))
            .collect();
        let li = match report.languages.iter().position(|l| l.lang == sample.lang) {
            Some(li) => li,
            None => {
                report.languages.push(LangStats {
                    lang: sample.lang,
                    samples: 0,
                    entities: zeroed(),
                });
                report.languages.len() - 1
            }
        };
        report.languages[li].samples += 1;
        let fi = match forms.iter().position(|f| f.form == sample.form) {
            Some(fi) => fi,
            None => {
                forms.push(FormStats {
                    form: sample.form,
                    ..FormStats::default()
                });
                forms.len() - 1
            }
        };
        forms[fi].samples += 1;
        let mut bump = |entity: &str, f: &dyn Fn(&mut EntityStats)| {
            if let Some(e) = NAME_ENTITIES.iter().position(|&n| n == entity) {
                f(&mut report.entities[e]);
                f(&mut report.languages[li].entities[e]);
            }
        };
        for l in &sample.labels {
            forms[fi].labels += 1;
            let hit = found
                .iter()
                .any(|f| f.entity == l.entity && overlaps((f.start, f.end), (l.start, l.end)));
            if hit {
                forms[fi].found += 1;
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
                .any(|l| f.entity == l.entity && overlaps((f.start, f.end), (l.start, l.end)));
            if !labelled {
                forms[fi].false_positives += 1;
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
        for l in &sample.labels {
            report.labelled_bytes += l.end - l.start;
            report.masked_bytes += (l.start..l.end)
                .filter(|&b| found.iter().any(|f| f.start <= b && b < f.end))
                .count();
        }
        if sample.negative {
            report.negatives += 1;
            report.negatives_flagged += usize::from(!found.is_empty());
        }
    }
    // Forms in their documented order, whatever order the samples came in.
    let rank = |f: &FormStats| {
        NAME_FORMS
            .iter()
            .position(|&n| n == f.form)
            .unwrap_or(NAME_FORMS.len() + usize::from(f.form != NEGATIVE_FORM))
    };
    forms.sort_by_key(|f| rank(f));
    report.forms = forms;
    report
}

impl fmt::Display for NamesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micro = self.micro();
        let non_en = self.non_english();
        writeln!(f, "threshold {:.2}", self.threshold)?;
        writeln!(f)?;
        writeln!(f, "| headline | value |")?;
        writeln!(f, "|---|---:|")?;
        writeln!(f, "| micro F1 | {:.4} |", micro.f1())?;
        writeln!(f, "| micro F1, non-English | {:.4} |", non_en.f1())?;
        writeln!(
            f,
            "| labelled bytes masked | {:.2}% ({} of {}) |",
            100.0 * self.masked_share(),
            self.masked_bytes,
            self.labelled_bytes
        )?;
        writeln!(
            f,
            "| negatives flagged | {:.2}% ({} of {}) |",
            100.0 * self.negatives_flagged_share(),
            self.negatives_flagged,
            self.negatives
        )?;
        writeln!(f)?;
        writeln!(f, "| entity | tp | fp | fn | precision | recall | f1 |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|---:|")?;
        for s in self.entities.iter().chain(std::iter::once(&micro)) {
            writeln!(
                f,
                "| {} | {} | {} | {} | {:.4} | {:.4} | {:.4} |",
                s.entity,
                s.tp,
                s.fp,
                s.fn_,
                s.precision(),
                s.recall(),
                s.f1()
            )?;
        }
        writeln!(f)?;
        write!(f, "| language | samples | precision | recall | f1 |")?;
        for e in NAME_ENTITIES {
            write!(f, " f1 {e} |")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "|---|---:|---:|---:|---:{}",
            "|---:".repeat(NAME_ENTITIES.len()) + "|"
        )?;
        for l in &self.languages {
            let m = l.micro();
            write!(
                f,
                "| {} | {} | {:.4} | {:.4} | {:.4} |",
                l.lang,
                l.samples,
                m.precision(),
                m.recall(),
                m.f1()
            )?;
            for e in &l.entities {
                write!(f, " {:.4} |", e.f1())?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(f, "| form | samples | labels | found | recall | fp |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|")?;
        for s in &self.forms {
            // A form without labels (the negatives) has no recall to speak of.
            let recall = if s.labels == 0 {
                "–".to_string()
            } else {
                format!("{:.4}", s.recall())
            };
            writeln!(
                f,
                "| {} | {} | {} | {} | {recall} | {} |",
                s.form, s.samples, s.labels, s.found, s.false_positives
            )?;
        }
        Ok(())
    }
}
