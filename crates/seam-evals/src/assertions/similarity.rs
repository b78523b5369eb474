//! Overlap with a reference text (`rouge-n`, `bleu`) and embedding similarity (`similar`).
//!
//! Both overlap metrics lowercase the text and split it into words: runs of letters, digits and
//! inner apostrophes, so punctuation neither matches nor counts.

use std::borrow::Cow;
use std::collections::HashMap;

use futures_util::future::try_join_all;
use serde_json::Value;

use super::{Outcome, bad, graded, scalar_text};
use crate::model::{Assertion, Context, EvalError, Output};

pub(super) const ROUGE_DEFAULT: f64 = 0.75;
pub(super) const BLEU_DEFAULT: f64 = 0.5;
pub(super) const SIMILAR_DEFAULT: f64 = 0.75;

/// ROUGE-1 recall: the share of the reference's words (counted with multiplicity) that the output
/// also has. Default threshold 0.75. A list `value` scores against its best reference.
pub(super) fn rouge_n(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let references = references(a)?;
    let candidate = words(&out.text);
    let score = references
        .iter()
        .map(|r| rouge_recall(&candidate, &words(r), 1))
        .fold(0.0, f64::max);
    Ok(Outcome::measured(
        score,
        a.threshold.unwrap_or(ROUGE_DEFAULT),
        "ROUGE-1 recall",
    ))
}

/// BLEU-4 against one or more references. Default threshold 0.5.
pub(super) fn bleu(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let references: Vec<Vec<String>> = references(a)?.iter().map(|r| words(r)).collect();
    let score = bleu_score(&words(&out.text), &references);
    Ok(Outcome::measured(
        score,
        a.threshold.unwrap_or(BLEU_DEFAULT),
        "BLEU",
    ))
}

/// `value`: one reference string or a list of them.
pub(super) fn references(a: &Assertion) -> Result<Vec<Cow<'_, str>>, EvalError> {
    let refs: Option<Vec<Cow<'_, str>>> = match &a.value {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().map(scalar_text).collect(),
        Some(v) => scalar_text(v).map(|s| vec![s]),
        None => None,
    };
    refs.filter(|r| r.iter().any(|s| !s.trim().is_empty()))
        .ok_or_else(|| {
            bad(
                "value",
                format!(
                    "`{}` needs a reference text (or a list of them) as its value",
                    a.kind
                ),
            )
        })
}

pub(super) fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn ngram_counts(words: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if n > 0 {
        for gram in words.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// Matches (each n-gram counted at most as often as in the other text) and the candidate's
/// n-gram total.
fn clipped_matches(candidate: &[String], reference: &[String], n: usize) -> (usize, usize) {
    let reference = ngram_counts(reference, n);
    let candidate = ngram_counts(candidate, n);
    let matches = candidate
        .iter()
        .map(|(gram, count)| (*count).min(reference.get(gram).copied().unwrap_or(0)))
        .sum();
    (matches, candidate.values().sum())
}

pub(super) fn rouge_recall(candidate: &[String], reference: &[String], n: usize) -> f64 {
    if n == 0 || reference.len() < n {
        return 0.0;
    }
    let total = reference.len() + 1 - n;
    let (matches, _) = clipped_matches(candidate, reference, n);
    matches as f64 / total as f64
}

/// BLEU with up to 4-gram precisions, uniformly weighted, the brevity penalty against the
/// reference closest in length, and clipping against the best reference per order. Choices where
/// promptfoo's arithmetic misleads: outputs shorter than 4 words use the orders they have (so an
/// output identical to a 2-word reference scores 1, not ~0), an order with no match counts as
/// 0.1 matches (NLTK's smoothing method 1), and no word in common at all scores exactly 0.
pub(super) fn bleu_score(candidate: &[String], references: &[Vec<String>]) -> f64 {
    let Some(closest) = references
        .iter()
        .map(Vec::len)
        .filter(|len| *len > 0)
        .min_by_key(|len| (len.abs_diff(candidate.len()), *len))
    else {
        return 0.0;
    };
    let orders = candidate.len().min(4);
    let mut log_sum = 0.0;
    for n in 1..=orders {
        let total = candidate.len() + 1 - n;
        let matches = references
            .iter()
            .map(|r| clipped_matches(candidate, r, n).0)
            .max()
            .unwrap_or(0);
        if matches == 0 && n == 1 {
            return 0.0;
        }
        let precision = if matches == 0 {
            0.1 / total as f64
        } else {
            matches as f64 / total as f64
        };
        log_sum += precision.ln();
    }
    if orders == 0 {
        return 0.0;
    }
    let brevity = if candidate.len() >= closest {
        1.0
    } else {
        (1.0 - closest as f64 / candidate.len() as f64).exp()
    };
    brevity * (log_sum / orders as f64).exp()
}

/// Cosine similarity between the embeddings of the output and `value` (a list: the most similar
/// one) is at least `threshold` (default 0.75). Embeddings come from the judge.
pub(super) async fn similar(
    a: &Assertion,
    out: &Output,
    ctx: &Context<'_>,
) -> Result<Outcome, EvalError> {
    let judge = graded::judge(a, ctx)?;
    let expected = references(a)?;
    let provider = a.provider.as_ref();
    let output = judge.embed(provider, &out.text).await?;
    let embeddings = try_join_all(expected.iter().map(|e| judge.embed(provider, e))).await?;
    let mut best = 0.0_f64;
    for e in &embeddings {
        best = best.max(cosine(&output, e)?);
    }
    Ok(Outcome::measured(
        best.clamp(0.0, 1.0),
        a.threshold.unwrap_or(SIMILAR_DEFAULT),
        "similarity",
    ))
}

/// Cosine similarity; 0 when either vector is all zeros.
pub(super) fn cosine(a: &[f32], b: &[f32]) -> Result<f64, EvalError> {
    if a.len() != b.len() {
        return Err(EvalError::Provider(format!(
            "the judge returned embeddings of different lengths ({} and {})",
            a.len(),
            b.len()
        )));
    }
    let (mut dot, mut na, mut nb) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return Ok(0.0);
    }
    Ok(dot / (na.sqrt() * nb.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn tokenizes_words() {
        assert_eq!(
            w("Hello, World! It's 'quoted' — ünïcode"),
            ["hello", "world", "it's", "quoted", "ünïcode"]
        );
    }

    #[test]
    fn rouge_on_known_pairs() {
        let cases = [
            ("the cat sat on the mat", "the cat sat on the mat", 1.0),
            ("The Cat, sat on the mat!", "the cat sat on the mat", 1.0),
            ("dogs bark loudly", "the cat sat on the mat", 0.0),
            // Reference words: the×2, cat, sat, on, mat; the candidate has the×1, cat, on.
            ("the cat is on", "the cat sat on the mat", 0.5),
            // Extra candidate words don't lower recall.
            (
                "the cat sat on the mat and purred loudly",
                "the cat sat on the mat",
                1.0,
            ),
            ("", "the cat", 0.0),
        ];
        for (cand, reference, want) in cases {
            let got = rouge_recall(&w(cand), &w(reference), 1);
            assert!(
                (got - want).abs() < 1e-9,
                "{cand:?}: got {got}, want {want}"
            );
        }
        assert!(
            (rouge_recall(&w("the cat sat"), &w("the cat sat on"), 2) - 2.0 / 3.0).abs() < 1e-9
        );
    }

    #[test]
    fn bleu_on_known_pairs() {
        let same = w("the quick brown fox jumps over the lazy dog");
        assert!((bleu_score(&same, std::slice::from_ref(&same)) - 1.0).abs() < 1e-9);
        assert!((bleu_score(&w("hello world"), &[w("Hello, world")]) - 1.0).abs() < 1e-9);
        assert_eq!(
            bleu_score(
                &w("completely different words"),
                std::slice::from_ref(&same)
            ),
            0.0
        );
        assert_eq!(bleu_score(&[], std::slice::from_ref(&same)), 0.0);

        // the cat sat on the mat / the cat is on the mat: p1 5/6, p2 3/5, p3 1/4, p4 0 → 0.1/3.
        let got = bleu_score(&w("the cat sat on the mat"), &[w("the cat is on the mat")]);
        let want =
            ((5.0_f64 / 6.0).ln() + 0.6_f64.ln() + 0.25_f64.ln() + (0.1_f64 / 3.0).ln()) / 4.0;
        assert!(
            (got - want.exp()).abs() < 1e-9,
            "got {got}, want {}",
            want.exp()
        );

        // A short output is penalized: brevity penalty exp(1 - 6/3).
        let short = bleu_score(&w("the cat sat"), &[w("the cat sat on the mat")]);
        assert!((short - (1.0_f64 - 2.0).exp()).abs() < 1e-9, "got {short}");

        // The best of several references counts.
        let multi = bleu_score(&w("the cat sat"), &[w("a dog ran"), w("the cat sat")]);
        assert!((multi - 1.0).abs() < 1e-9);
    }

    #[test]
    fn cosine_similarity() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]).unwrap() - 1.0).abs() < 1e-9);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap().abs() < 1e-9);
        assert!(
            (cosine(&[1.0, 1.0], &[1.0, 0.0]).unwrap() - std::f64::consts::FRAC_1_SQRT_2).abs()
                < 1e-6
        );
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]).unwrap(), 0.0);
        assert!(cosine(&[1.0], &[1.0, 0.0]).is_err());
    }
}
