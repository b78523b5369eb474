//! Public labelled prompt-injection sets, as `scripts/injection-data.py` writes them
//! (`target/injection-data/injection.jsonl`), and the binary measures the classifier is judged by.
//!
//! The sets and their licences are listed in the script and in docs/policy.md. Their authors'
//! train / validation / test splits are kept; the two sources without one are split here:
//! Django's translations 80/20 into train and validation ([`PublicSample::role`]), the
//! multilingual injections 50/50 into train and test (by the script).

use serde::Deserialize;

/// One labelled text.
#[derive(Clone, Debug, Deserialize)]
pub struct PublicSample {
    pub text: String,
    /// 1 for an injection.
    pub label: u8,
    pub source: String,
    pub lang: String,
    pub split: String,
    /// The source's own attack family, where it has one.
    #[serde(default)]
    pub category: Option<String>,
}

/// What a sample is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Train,
    /// Calibration: the operating point is chosen here, never on test.
    Validation,
    Test,
}

impl PublicSample {
    pub fn injection(&self) -> bool {
        self.label == 1
    }

    pub fn role(&self) -> Role {
        match self.split.as_str() {
            "test" => Role::Test,
            "validation" => Role::Validation,
            _ if self.source == "django" && fnv(&self.text) % 5 == 0 => Role::Validation,
            _ => Role::Train,
        }
    }
}

/// FNV-1a: a stable hash for splitting samples, the same on every machine.
pub(super) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Parses the JSON Lines file; the first bad line is an error naming it.
pub fn parse_public(jsonl: &str) -> Result<Vec<PublicSample>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// A confusion matrix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Binary {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

impl Binary {
    /// Counts `samples` as flagged when `score(text) >= threshold`.
    pub fn measure<'a>(
        samples: impl IntoIterator<Item = &'a PublicSample>,
        score: impl Fn(&str) -> f32,
        threshold: f32,
    ) -> Binary {
        let mut b = Binary::default();
        for s in samples {
            b.add(s.injection(), score(&s.text) >= threshold);
        }
        b
    }

    pub fn add(&mut self, truth: bool, flagged: bool) {
        match (truth, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn positives(&self) -> usize {
        self.tp + self.fn_
    }

    pub fn negatives(&self) -> usize {
        self.fp + self.tn
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        super::eval::harmonic(self.precision(), self.recall())
    }

    /// False-positive rate: flagged benign texts over benign texts.
    pub fn fpr(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
