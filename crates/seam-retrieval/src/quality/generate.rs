//! The seeded generator: the same seed, sizes and code give the same corpus on every machine.

use std::collections::{BTreeMap, HashSet};

use super::domain::{Issue, TOPICS, Topic};
use super::{Corpus, GenDoc, GenQuery, QueryKind};

/// SplitMix64: a tiny, well-mixed generator whose sequence is fixed by its seed, independent of
/// any crate's version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// What a document answers: the topic, issue and entity indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Unit {
    topic: usize,
    issue: usize,
    entity: usize,
}

/// Generates `docs` documents and `queries` queries from `seed` (no queries without documents).
/// Query kinds rotate keyword, paraphrase, mixed; each query is drawn from a random document.
pub fn generate(seed: u64, docs: usize, queries: usize) -> Corpus {
    let mut rng = Rng(seed);
    let codes = entity_codes(&mut rng);
    let mut refs: HashSet<u64> = HashSet::new();
    // The smallest number of the reference range: 5 digits, or more for large corpora.
    let mut low: u64 = 10_000;
    while low * 9 < docs as u64 * 10 {
        low *= 10;
    }
    let mut out_docs = Vec::with_capacity(docs);
    // Each document's unit and reference number, and the documents of each unit.
    let mut meta: Vec<(Unit, String)> = Vec::with_capacity(docs);
    let mut by_unit: BTreeMap<Unit, Vec<usize>> = BTreeMap::new();
    for i in 0..docs {
        let topic = rng.below(TOPICS.len());
        let t = &TOPICS[topic];
        let unit = Unit {
            topic,
            issue: rng.below(t.issues.len()),
            entity: rng.below(t.entities.len()),
        };
        // Reference numbers are unique: drawn from a range ten times the corpus or more.
        let reference = loop {
            let n = low + rng.next() % (low * 9);
            if refs.insert(n) {
                break format!("E{n}");
            }
        };
        let code = &codes[topic][unit.entity];
        out_docs.push(document(&mut rng, i, unit, code, &reference));
        by_unit.entry(unit).or_default().push(i);
        meta.push((unit, reference));
    }
    let mut out_queries = Vec::with_capacity(if docs == 0 { 0 } else { queries });
    for q in 0..queries {
        if docs == 0 {
            break;
        }
        let d = rng.below(docs);
        let (unit, reference) = &meta[d];
        let kind = QueryKind::ALL[q % QueryKind::ALL.len()];
        let t = &TOPICS[unit.topic];
        let issue = &t.issues[unit.issue];
        let entity = t.entities[unit.entity];
        let code = &codes[unit.topic][unit.entity];
        let text = match kind {
            QueryKind::Keyword => {
                let forms = ["{r} {c}", "error {r} on {c}", "{c} {r} fix", "{r}"];
                rng.pick(&forms)
                    .copied()
                    .unwrap_or("{r}")
                    .replace("{r}", reference)
                    .replace("{c}", code)
            }
            QueryKind::Paraphrase => asked(&mut rng, issue, entity),
            QueryKind::Mixed => asked(&mut rng, issue, code),
        };
        let judgements = judge(&by_unit, &out_docs, *unit, kind, d);
        out_queries.push(GenQuery {
            text,
            kind,
            judgements,
        });
    }
    Corpus {
        docs: out_docs,
        queries: out_queries,
    }
}

/// The judgements of a query about `unit` drawn from document `d` (see the module doc).
fn judge(
    by_unit: &BTreeMap<Unit, Vec<usize>>,
    docs: &[GenDoc],
    unit: Unit,
    kind: QueryKind,
    d: usize,
) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    let issue = Unit { entity: 0, ..unit }..=Unit {
        entity: usize::MAX,
        ..unit
    };
    for (other, ids) in by_unit.range(issue) {
        let same_entity = other.entity == unit.entity;
        for &i in ids {
            let grade = match kind {
                // A keyword query names one document; the unit's others are related.
                QueryKind::Keyword if i == d => 2,
                QueryKind::Keyword if same_entity => 1,
                QueryKind::Keyword => 0,
                // A paraphrase or mixed query asks about an issue for an entity: every article
                // on both answers it, one on the issue for another entity is related.
                _ if same_entity => 2,
                _ => 1,
            };
            if grade > 0 {
                out.push((docs[i].id.clone(), grade));
            }
        }
    }
    out
}

/// A distinct code per entity (`HW-4821`), per topic.
fn entity_codes(rng: &mut Rng) -> Vec<Vec<String>> {
    let mut used = HashSet::new();
    TOPICS
        .iter()
        .map(|t: &Topic| {
            t.entities
                .iter()
                .map(|_| {
                    loop {
                        let code = format!("{}-{}", t.code_prefix, 1000 + rng.below(9000));
                        if used.insert(code.clone()) {
                            break code;
                        }
                    }
                })
                .collect()
        })
        .collect()
}

fn asked(rng: &mut Rng, issue: &Issue, entity: &str) -> String {
    rng.pick(issue.asked)
        .copied()
        .unwrap_or(issue.title)
        .replace("{p}", entity)
}

/// One article: a Markdown page with a title, its symptom and resolution, a reference line and
/// some of the topic's general sentences, labelled for access.
fn document(rng: &mut Rng, i: usize, unit: Unit, code: &str, reference: &str) -> GenDoc {
    let t = &TOPICS[unit.topic];
    let issue = &t.issues[unit.issue];
    let entity = t.entities[unit.entity];
    let title = format!("{}: {}", issue.title, entity);
    let mut general: Vec<&str> = Vec::new();
    for _ in 0..2 {
        if let Some(s) = rng.pick(t.general) {
            if !general.contains(s) {
                general.push(s);
            }
        }
    }
    let about = format!(
        "{} article for the {entity} ({code}). Reference {reference}, maintained by the {} team.",
        t.section, t.team
    );
    let mut text = format!(
        "# {title}\n\n{about}\n\n## Symptoms\n\n{}\n\n## Resolution\n\n{}\n",
        issue.symptom.replace("{p}", entity),
        issue.resolution.replace("{p}", entity),
    );
    if !general.is_empty() {
        text.push_str(&format!("\n## Notes\n\n{}\n", general.join(" ")));
    }
    let mut labels = vec![format!("team:{}", t.team)];
    if rng.chance(0.35) {
        labels.push("public".to_owned());
    }
    if rng.chance(0.25) {
        labels.push(format!("subject:p-{}", 1 + rng.below(40)));
        if rng.chance(0.5) {
            labels.push("consent:research".to_owned());
        }
    }
    GenDoc {
        id: format!("kb-{i:05}"),
        title,
        text,
        labels,
    }
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
    fn the_same_seed_gives_the_same_corpus_and_another_seed_another() {
        let a = generate(7, 200, 60);
        assert_eq!(a, generate(7, 200, 60));
        assert_ne!(a, generate(8, 200, 60));
        assert_eq!(a.docs.len(), 200);
        assert_eq!(a.queries.len(), 60);
        assert!(generate(1, 0, 10).queries.is_empty());
    }

    #[test]
    fn reference_numbers_stay_unique_in_large_corpora() {
        let c = generate(5, 20_000, 0);
        let refs: HashSet<&str> = c
            .docs
            .iter()
            .map(|d| {
                d.text
                    .split("Reference ")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(refs.len(), 20_000);
        assert!(
            refs.iter().all(|r| r.len() == 7),
            "six digits past 9,000 documents"
        );
    }

    #[test]
    fn documents_are_unique_labelled_markdown_articles() {
        let c = generate(42, 500, 0);
        let ids: HashSet<&str> = c.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids.len(), 500);
        for d in &c.docs {
            assert!(
                d.text.starts_with(&format!("# {}\n", d.title)),
                "{}",
                d.text
            );
            assert!(d.text.contains("## Resolution"));
            assert!(d.labels[0].starts_with("team:"));
        }
        let count = |l: &str| {
            c.docs
                .iter()
                .filter(|d| d.labels.iter().any(|x| x.starts_with(l)))
                .count()
        };
        // Roughly the drawn shares: public 35 %, subject 25 %, consent half of those.
        assert!((120..230).contains(&count("public")), "{}", count("public"));
        assert!(
            (80..170).contains(&count("subject:p-")),
            "{}",
            count("subject:p-")
        );
        assert!(
            (30..100).contains(&count("consent:research")),
            "{}",
            count("consent:research")
        );
    }

    #[test]
    fn queries_are_judged_by_issue_and_entity() {
        let c = generate(3, 400, 90);
        let text_of = |id: &str| &c.docs.iter().find(|d| d.id == id).unwrap().text;
        for q in &c.queries {
            let answers: Vec<&str> = q
                .judgements
                .iter()
                .filter(|(_, g)| *g == 2)
                .map(|(id, _)| id.as_str())
                .collect();
            assert!(!answers.is_empty(), "{q:?}");
            match q.kind {
                QueryKind::Keyword => {
                    // Exactly one answer, which holds the query's reference number.
                    assert_eq!(answers.len(), 1);
                    let reference = q
                        .text
                        .split(' ')
                        .find(|w| {
                            w.starts_with('E')
                                && w.len() > 1
                                && w[1..].bytes().all(|b| b.is_ascii_digit())
                        })
                        .unwrap();
                    assert!(text_of(answers[0]).contains(reference));
                }
                QueryKind::Paraphrase | QueryKind::Mixed => {
                    // Every answer shares the query's issue and entity; the words mostly differ.
                    let first = text_of(answers[0]);
                    let title = first.lines().next().unwrap();
                    for a in &answers {
                        assert!(text_of(a).starts_with(title));
                    }
                }
            }
        }
        let kinds: HashSet<QueryKind> = c.queries.iter().map(|q| q.kind).collect();
        assert_eq!(kinds.len(), 3);
    }

    /// A plain BM25 (k1 1.2, b 0.75) over whole documents, to see the set behave as designed:
    /// exact-term queries are easy for it, paraphrases are not.
    fn bm25_runs(c: &Corpus) -> Vec<(GenQuery, Vec<String>)> {
        use std::collections::HashMap;
        fn terms(s: &str) -> Vec<String> {
            s.split(|ch: char| !(ch.is_alphanumeric() || ch == '-'))
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        let docs: Vec<Vec<String>> = c.docs.iter().map(|d| terms(&d.text)).collect();
        let avg = docs.iter().map(Vec::len).sum::<usize>() as f64 / docs.len() as f64;
        let mut df: HashMap<&str, usize> = HashMap::new();
        for d in &docs {
            let unique: HashSet<&str> = d.iter().map(String::as_str).collect();
            for t in unique {
                *df.entry(t).or_default() += 1;
            }
        }
        let n = docs.len() as f64;
        c.queries
            .iter()
            .map(|q| {
                let qt = terms(&q.text);
                let mut scored: Vec<(f64, &str)> = docs
                    .iter()
                    .zip(&c.docs)
                    .map(|(d, doc)| {
                        let score = qt
                            .iter()
                            .map(|t| {
                                let tf = d.iter().filter(|x| *x == t).count() as f64;
                                let df = *df.get(t.as_str()).unwrap_or(&0) as f64;
                                let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                                idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * d.len() as f64 / avg))
                            })
                            .sum::<f64>();
                        (score, doc.id.as_str())
                    })
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
                (
                    q.clone(),
                    scored
                        .iter()
                        .take(10)
                        .map(|(_, id)| (*id).to_owned())
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn bm25_finds_exact_terms_but_not_paraphrases() {
        let c = generate(20, 600, 150);
        let by_kind = crate::quality::score_by_kind(&bm25_runs(&c));
        for (kind, s) in &by_kind {
            eprintln!(
                "bm25 {:>10}: recall@10 {:.3} nDCG@10 {:.3} ({} queries)",
                kind.as_str(),
                s.recall_at_10,
                s.ndcg_at_10,
                s.queries
            );
        }
        let ndcg = |k: QueryKind| by_kind.iter().find(|(x, _)| *x == k).unwrap().1.ndcg_at_10;
        assert!(
            ndcg(QueryKind::Keyword) > 0.8,
            "{}",
            ndcg(QueryKind::Keyword)
        );
        assert!(ndcg(QueryKind::Paraphrase) < ndcg(QueryKind::Keyword) - 0.2);
    }
}
