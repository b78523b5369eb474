//! The labelled retrieval set: a seeded generator of a synthetic support knowledge base with
//! queries, graded relevance judgements and access labels ([`generate`]), and the metrics that
//! score a ranking against it ([`recall_at`], [`ndcg_at`], [`score`]).
//!
//! The corpus is written from the domain (a fictional company's IT, finance, access, people,
//! API and facilities articles; see `domain.rs`), not tuned to any retriever. Each document
//! answers one *issue* (a battery that drains, a lost receipt) for one *entity* (a laptop model,
//! a cost centre), carries the entity's code and a reference number of its own, and is labelled
//! for access. Three kinds of query probe different strengths: keyword queries share rare exact
//! terms (reference number, entity code) with their answer, paraphrase queries share its meaning
//! but few of its words, mixed ones have an exact code and paraphrased words.
//!
//! Grades: a keyword query names one document (its reference number): that document is 2,
//! the other articles on the same issue and entity are 1. A paraphrase or mixed query asks about
//! an issue for an entity: every article on both is 2, every article on the issue for another
//! entity (the same procedure, another product or place) is 1. Everything else is 0.

mod domain;
mod generate;

pub use generate::generate;

use std::collections::{HashMap, HashSet};

/// A generated corpus: documents and queries judged against them.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// The documents, with unique ids.
    pub docs: Vec<GenDoc>,
    /// The queries, each with its judgements.
    pub queries: Vec<GenQuery>,
}

/// A generated document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenDoc {
    /// A unique id (`kb-00042`).
    pub id: String,
    /// The article's title.
    pub title: String,
    /// The article's text, Markdown with headings.
    pub text: String,
    /// Access labels: `team:<t>` always; sometimes `public`, `subject:p-<n>`, `consent:research`.
    pub labels: Vec<String>,
}

/// What a query tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// Shares rare exact terms (reference number, entity code) with its answer.
    Keyword,
    /// Shares meaning but few words with its answer.
    Paraphrase,
    /// An exact entity code with paraphrased words.
    Mixed,
}

impl QueryKind {
    /// Every kind, in a stable order.
    pub const ALL: [QueryKind; 3] = [QueryKind::Keyword, QueryKind::Paraphrase, QueryKind::Mixed];

    /// The kind's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Keyword => "keyword",
            QueryKind::Paraphrase => "paraphrase",
            QueryKind::Mixed => "mixed",
        }
    }
}

/// A generated query and its relevance judgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenQuery {
    /// The query text.
    pub text: String,
    /// What it tests.
    pub kind: QueryKind,
    /// (document id, grade 1 or 2) for every relevant document; unlisted documents are grade 0.
    pub judgements: Vec<(String, u8)>,
}

/// Mean metrics over a set of queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Mean [`recall_at`] 10.
    pub recall_at_10: f64,
    /// Mean [`ndcg_at`] 10.
    pub ndcg_at_10: f64,
    /// How many queries were scored.
    pub queries: usize,
}

/// The first `k` distinct document ids of a ranking (a ranking of chunks repeats documents).
fn top_distinct(k: usize, ranked: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    ranked
        .iter()
        .map(String::as_str)
        .filter(|id| seen.insert(*id))
        .take(k)
        .collect()
}

fn grades(q: &GenQuery) -> HashMap<&str, u8> {
    q.judgements
        .iter()
        .filter(|(_, g)| *g > 0)
        .map(|(id, g)| (id.as_str(), *g))
        .collect()
}

/// Recall at `k`: of the documents judged relevant (grade ≥ 1), the share found among the first
/// `k` distinct ids of `ranked`, out of as many as `k` places can hold (`min(k, relevant)`), so a
/// perfect ranking scores 1 even when more than `k` documents are relevant. 0 when none is.
pub fn recall_at(k: usize, ranked: &[String], q: &GenQuery) -> f64 {
    let relevant = grades(q);
    let possible = k.min(relevant.len());
    if possible == 0 {
        return 0.0;
    }
    let found = top_distinct(k, ranked)
        .iter()
        .filter(|id| relevant.contains_key(*id))
        .count();
    found as f64 / possible as f64
}

/// Normalised discounted cumulative gain at `k`, with gain `2^grade - 1` and discount
/// `log2(rank + 1)` (rank from 1), over the first `k` distinct ids of `ranked`, divided by the
/// gain of the ideal ranking of the judgements. 0 when nothing is relevant.
pub fn ndcg_at(k: usize, ranked: &[String], q: &GenQuery) -> f64 {
    let relevant = grades(q);
    let gain = |g: u8| f64::from((1u32 << g.min(30)) - 1);
    let discount = |i: usize| (i as f64 + 2.0).log2();
    let dcg: f64 = top_distinct(k, ranked)
        .iter()
        .enumerate()
        .map(|(i, id)| relevant.get(id).map_or(0.0, |g| gain(*g) / discount(i)))
        .sum();
    let mut ideal: Vec<u8> = relevant.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / discount(i))
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Mean recall@10 and nDCG@10 over runs of (query, ranked document ids). Zero runs score 0.
pub fn score(runs: &[(GenQuery, Vec<String>)]) -> Scores {
    let n = runs.len();
    if n == 0 {
        return Scores {
            recall_at_10: 0.0,
            ndcg_at_10: 0.0,
            queries: 0,
        };
    }
    let (r, g) = runs.iter().fold((0.0, 0.0), |(r, g), (q, ranked)| {
        (r + recall_at(10, ranked, q), g + ndcg_at(10, ranked, q))
    });
    Scores {
        recall_at_10: r / n as f64,
        ndcg_at_10: g / n as f64,
        queries: n,
    }
}

/// [`score`] per query kind, in [`QueryKind::ALL`] order (kinds with no runs left out).
pub fn score_by_kind(runs: &[(GenQuery, Vec<String>)]) -> Vec<(QueryKind, Scores)> {
    QueryKind::ALL
        .iter()
        .filter_map(|&kind| {
            let of_kind: Vec<(GenQuery, Vec<String>)> = runs
                .iter()
                .filter(|(q, _)| q.kind == kind)
                .cloned()
                .collect();
            (!of_kind.is_empty()).then(|| (kind, score(&of_kind)))
        })
        .collect()
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

    fn query(judgements: &[(&str, u8)]) -> GenQuery {
        GenQuery {
            text: "q".to_owned(),
            kind: QueryKind::Keyword,
            judgements: judgements
                .iter()
                .map(|(id, g)| ((*id).to_owned(), *g))
                .collect(),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn recall_counts_distinct_relevant_ids_capped_at_k() {
        let q = query(&[("a", 2), ("b", 1), ("c", 1), ("z", 0)]);
        close(recall_at(10, &ids(&["a", "x", "c"]), &q), 2.0 / 3.0);
        // Repeated ids (several chunks of one document) count once; grade 0 is not relevant.
        close(recall_at(2, &ids(&["a", "a", "z", "b"]), &q), 0.5);
        close(recall_at(2, &ids(&["a", "a", "b"]), &q), 1.0);
        close(recall_at(10, &[], &q), 0.0);
        close(recall_at(10, &ids(&["a"]), &query(&[])), 0.0);
        // More relevant documents than places: the denominator is k.
        let many = query(&[("a", 1), ("b", 1), ("c", 1)]);
        close(recall_at(2, &ids(&["a", "b"]), &many), 1.0);
    }

    #[test]
    fn ndcg_matches_hand_computed_values() {
        let q = query(&[("a", 2), ("b", 1), ("c", 1)]);
        // Ideal: 3/log2(2) + 1/log2(3) + 1/log2(4) = 3 + 0.6309297535714575 + 0.5.
        let idcg = 3.0 + 1.0 / 3f64.log2() + 0.5;
        close(ndcg_at(10, &ids(&["a", "b", "c"]), &q), 1.0);
        // b, x, a: 1/1 + 0 + 3/log2(4) = 2.5.
        close(ndcg_at(10, &ids(&["b", "x", "a"]), &q), 2.5 / idcg);
        // Duplicates are skipped before ranks are given: b, b, a → b at 1, a at 2.
        close(
            ndcg_at(10, &ids(&["b", "b", "a"]), &q),
            (1.0 + 3.0 / 3f64.log2()) / idcg,
        );
        // k = 1 cuts the ideal too: 1/3.
        close(ndcg_at(1, &ids(&["b", "a"]), &q), 1.0 / 3.0);
        close(ndcg_at(10, &ids(&["x"]), &q), 0.0);
        close(ndcg_at(10, &ids(&["a"]), &query(&[])), 0.0);
    }

    #[test]
    fn scores_are_means_over_queries_and_kinds() {
        let mut p = query(&[("a", 2)]);
        p.kind = QueryKind::Paraphrase;
        let runs = vec![(query(&[("a", 2)]), ids(&["a"])), (p, ids(&["x"]))];
        let s = score(&runs);
        assert_eq!(s.queries, 2);
        close(s.recall_at_10, 0.5);
        close(s.ndcg_at_10, 0.5);
        let by = score_by_kind(&runs);
        assert_eq!(by.len(), 2);
        assert_eq!(by[0].0, QueryKind::Keyword);
        close(by[0].1.ndcg_at_10, 1.0);
        close(by[1].1.recall_at_10, 0.0);
        assert_eq!(score(&[]).queries, 0);
    }
}
