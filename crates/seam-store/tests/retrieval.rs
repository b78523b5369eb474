//! Retrieval's storage on both backends (harness: tests/common): upserts, the full-text search
//! with its access and metadata conditions, the generations in-process indexes follow, and
//! erasure by label.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

#[macro_use]
mod common;

use common::{Env, Kind, cfg};
use seam_store::retrieval::{Generation, IndexSink};
use seam_store::*;
use serde_json::{Map, Value, json};

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "seam.db") {
        body(&mut e);
    }
}

on_both_backends!(
    upsert_is_idempotent_and_replaces,
    text_search_ranks_and_resists_syntax,
    invisible_chunks_never_come_back,
    metadata_filters_apply_in_the_query,
    erasure_by_label_leaves_nothing,
    generations_tell_appends_from_rewrites,
    listing_pages_and_stats_count,
    common_terms_are_dropped_in_large_collections,
);

impl Env {
    fn store(&self) -> RetrievalStore {
        RetrievalStore::open(&cfg(self.backend.clone(), None)).unwrap()
    }
}

fn unit(seed: u32, dims: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dims)
        .map(|i| ((seed as f32 + 1.0) * (i as f32 + 0.5)).sin())
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn doc(collection: &str, id: &str, labels: &[&str], texts: &[&str]) -> NewDocument {
    NewDocument {
        collection: collection.to_owned(),
        id: id.to_owned(),
        title: Some(format!("Title of {id}")),
        source: Some(format!("{id}.md")),
        content_hash: format!("h-{}", texts.join("|")),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        metadata: Map::new(),
        chunks: texts
            .iter()
            .enumerate()
            .map(|(i, t)| NewChunk {
                ord: i as u32,
                heading: None,
                text: (*t).to_owned(),
                tokens: t.split_whitespace().count() as u32,
                vector: unit(i as u32 + id.len() as u32, 8),
            })
            .collect(),
    }
}

fn grants(exact: &[&str], prefixes: &[&str]) -> Grants {
    Grants {
        all: false,
        exact: exact.iter().map(|s| (*s).to_owned()).collect(),
        prefixes: prefixes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn docs_of(s: &mut RetrievalStore, hits: &[(i64, f64)]) -> Vec<String> {
    let ids: Vec<i64> = hits.iter().map(|(id, _)| *id).collect();
    s.chunks(&ids)
        .unwrap()
        .into_iter()
        .map(|c| c.document)
        .collect()
}

fn upsert_is_idempotent_and_replaces(e: &mut Env) {
    let mut s = e.store();
    let d = doc("kb", "a", &["public"], &["alpha beta", "gamma delta"]);
    assert_eq!(s.upsert(&d).unwrap(), Upserted::Inserted { chunks: 2 });
    let g1 = s.generation("kb").unwrap();
    assert_eq!((g1.chunks, g1.dims), (2, 8));
    assert_eq!(s.upsert(&d).unwrap(), Upserted::Unchanged);
    assert_eq!(
        s.generation("kb").unwrap(),
        g1,
        "an unchanged upsert writes nothing"
    );
    assert_eq!(
        s.content_hash("kb", "a").unwrap().as_deref(),
        Some(d.content_hash.as_str())
    );
    assert_eq!(s.content_hash("kb", "zzz").unwrap(), None);
    assert_eq!(s.content_hash("other", "a").unwrap(), None);

    // New labels alone are a change (visibility must follow them).
    let mut relabelled = d.clone();
    relabelled.labels = vec!["team:x".into()];
    assert_eq!(
        s.upsert(&relabelled).unwrap(),
        Upserted::Replaced { chunks: 2 }
    );
    assert_eq!(s.get("kb", "a").unwrap().unwrap().labels, ["team:x"]);

    let changed = doc("kb", "a", &["public", "public"], &["epsilon"]);
    assert_eq!(
        s.upsert(&changed).unwrap(),
        Upserted::Replaced { chunks: 1 }
    );
    let info = s.get("kb", "a").unwrap().unwrap();
    assert_eq!(info.labels, ["public"]);
    assert_eq!((info.chunks, info.tokens), (1, 1));
    assert!(info.updated_ms >= info.created_ms);
    let g2 = s.generation("kb").unwrap();
    assert_eq!(g2.chunks, 1);
    assert!(g2.rebuilt > g1.generation, "a replacement forces a rebuild");
    // The old chunks are gone from the full-text index too.
    let all = Grants::all();
    let none = MetaFilter::default();
    assert!(
        s.text_search("kb", "alpha gamma", &all, &none, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.text_search("kb", "epsilon", &all, &none, 10)
            .unwrap()
            .len(),
        1
    );

    // Vectors of another length than the collection's are refused.
    let mut wide = doc("kb", "b", &["public"], &["zeta"]);
    wide.chunks[0].vector = unit(1, 16);
    let err = s.upsert(&wide).unwrap_err().to_string();
    assert!(err.contains("16 dimensions"), "{err}");

    assert!(s.delete("kb", "a").unwrap());
    assert!(!s.delete("kb", "a").unwrap());
    assert!(s.get("kb", "a").unwrap().is_none());
    assert!(
        s.text_search("kb", "epsilon", &all, &none, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.generation("kb").unwrap().chunks, 0);
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_chunks"), 0);
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_labels"), 0);
}

fn text_search_ranks_and_resists_syntax(e: &mut Env) {
    let mut s = e.store();
    s.upsert(&doc(
        "kb",
        "cats",
        &["public"],
        &["cats purr and cats sleep all day long"],
    ))
    .unwrap();
    s.upsert(&doc(
        "kb",
        "dogs",
        &["public"],
        &["dogs bark at the mail carrier"],
    ))
    .unwrap();
    s.upsert(&doc(
        "kb",
        "mixed",
        &["public"],
        &["a cat and a dog share one house with a long garden"],
    ))
    .unwrap();
    s.upsert(&doc("other", "cats2", &["public"], &["cats cats cats"]))
        .unwrap();
    let all = Grants::all();
    let none = MetaFilter::default();
    // Merging the full-text segments changes no answer.
    s.optimize().unwrap();
    let hits = s.text_search("kb", "cats", &all, &none, 10).unwrap();
    // Stemming finds "cat" too; the document saying it twice ranks first; other collections
    // are never searched.
    assert_eq!(docs_of(&mut s, &hits), ["cats", "mixed"]);
    assert!(hits[0].1 > hits[1].1 && hits[1].1 > 0.0, "{hits:?}");
    let hits = s
        .text_search("kb", "Dogs barking", &all, &none, 10)
        .unwrap();
    assert_eq!(docs_of(&mut s, &hits)[0], "dogs");
    assert_eq!(
        s.text_search("kb", "cat dog", &all, &none, 1)
            .unwrap()
            .len(),
        1
    );
    // Query syntax in user text is only ever words.
    for q in [
        "\"",
        "cats\"",
        "*",
        "cat*",
        "NEAR(cats dogs)",
        "-cats",
        "body:cats",
        "acl:x",
        "cats OR",
        "AND",
        "'; DROP TABLE retrieval_chunks; --",
        "(",
        "^cats",
        "{body}: cats",
        "",
        "!!!",
    ] {
        let r = s.text_search("kb", q, &all, &none, 10);
        assert!(r.is_ok(), "{q:?}: {r:?}");
    }
    let hits = s.text_search("kb", "-cats*", &all, &none, 10).unwrap();
    assert_eq!(docs_of(&mut s, &hits)[0], "cats");
    assert!(s.text_search("kb", "", &all, &none, 10).unwrap().is_empty());
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_chunks"), 4);
}

fn invisible_chunks_never_come_back(e: &mut Env) {
    let mut s = e.store();
    // The best match for "oncology" is secret; several weaker ones are visible.
    s.upsert(&doc(
        "kb",
        "secret",
        &["subject:p-1"],
        &["oncology oncology oncology oncology report"],
    ))
    .unwrap();
    s.upsert(&doc("kb", "nolabels", &[], &["oncology oncology oncology"]))
        .unwrap();
    for i in 0..5 {
        s.upsert(&doc(
            "kb",
            &format!("team-{i}"),
            &["team:oncology", "other"],
            &["an oncology note among many other words in the ward today"],
        ))
        .unwrap();
    }
    s.upsert(&doc("kb", "public", &["public"], &["oncology basics"]))
        .unwrap();
    let none = MetaFilter::default();
    let check = |s: &mut RetrievalStore, g: &Grants, k: u32, want: &[&str]| {
        let hits = s.text_search("kb", "oncology", g, &none, k).unwrap();
        let mut got = docs_of(s, &hits);
        got.sort();
        let mut want: Vec<String> = want.iter().map(|w| (*w).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{g:?}");
        // The same answer from the vector side's document filter.
        let keys = s.filtered_docs("kb", g, &none).unwrap();
        assert!(keys.len() >= got.iter().collect::<std::collections::BTreeSet<_>>().len());
    };
    let teams: Vec<String> = (0..5).map(|i| format!("team-{i}")).collect();
    let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
    check(&mut s, &grants(&["public"], &[]), 3, &["public"]);
    // top_k is filled from visible chunks although better invisible ones exist.
    check(&mut s, &grants(&[], &["team:"]), 5, &teams);
    check(&mut s, &grants(&[], &["team:onc"]), 5, &teams);
    check(&mut s, &grants(&["team:oncolog"], &["teams:"]), 5, &[]);
    check(&mut s, &grants(&["subject:p-1"], &[]), 5, &["secret"]);
    check(&mut s, &grants(&[], &["subject:"]), 5, &["secret"]);
    check(&mut s, &grants(&[], &[]), 5, &[]);
    // With every label granted the two strongest matches come first.
    let hits = s
        .text_search("kb", "oncology", &Grants::all(), &none, 2)
        .unwrap();
    let mut best = docs_of(&mut s, &hits);
    best.sort();
    assert_eq!(best, ["nolabels", "secret"]);
    // Documents without labels are for `all` only.
    assert_eq!(
        s.filtered_docs("kb", &grants(&[], &["s"]), &none)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.filtered_docs("kb", &Grants::all(), &none).unwrap().len(),
        8
    );
    assert_eq!(
        s.filtered_docs("kb", &grants(&["public", "other"], &[]), &none)
            .unwrap()
            .len(),
        6
    );
}

fn metadata_filters_apply_in_the_query(e: &mut Env) {
    let mut s = e.store();
    for (id, meta) in [
        (
            "en-2023",
            json!({"lang": "en", "year": 2023, "draft": false}),
        ),
        (
            "en-2024",
            json!({"lang": "en", "year": 2024.0, "draft": true}),
        ),
        (
            "de-2024",
            json!({"lang": "de", "year": 2024, "draft": false}),
        ),
        ("str-year", json!({"lang": "en", "year": "2024"})),
    ] {
        let mut d = doc("kb", id, &["public"], &["the same words in every document"]);
        d.metadata = obj(meta);
        s.upsert(&d).unwrap();
    }
    let filter = |v: Value| MetaFilter::from_json(&obj(v)).unwrap();
    let all = Grants::all();
    for (f, want) in [
        (
            json!({"lang": "en"}),
            vec!["en-2023", "en-2024", "str-year"],
        ),
        (json!({"year": 2024}), vec!["de-2024", "en-2024"]),
        (json!({"year": [2023, "2024"]}), vec!["en-2023", "str-year"]),
        (json!({"lang": "en", "draft": false}), vec!["en-2023"]),
        (json!({"draft": true}), vec!["en-2024"]),
        (json!({"missing": 1}), vec![]),
    ] {
        let f = filter(f);
        let hits = s.text_search("kb", "words", &all, &f, 10).unwrap();
        let mut got = docs_of(&mut s, &hits);
        got.sort();
        assert_eq!(got, want, "{f:?}");
        let keys = s.filtered_docs("kb", &all, &f).unwrap();
        assert_eq!(keys.len(), want.len(), "{f:?}");
    }
    // Grants and a filter together.
    let f = filter(json!({"lang": "en"}));
    assert!(
        s.text_search("kb", "words", &grants(&["x"], &[]), &f, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.text_search("kb", "words", &grants(&["public"], &[]), &f, 10)
            .unwrap()
            .len(),
        3
    );
    let hits = s
        .text_search("kb", "words", &all, &filter(json!({"draft": true})), 1)
        .unwrap();
    let views = s.chunks(&[hits[0].0]).unwrap();
    assert_eq!(views[0].metadata["year"], json!(2024.0));
    assert_eq!(views[0].title.as_deref(), Some("Title of en-2024"));
}

fn erasure_by_label_leaves_nothing(e: &mut Env) {
    let mut s = e.store();
    s.upsert(&doc(
        "kb",
        "p1-a",
        &["subject:p-1", "public"],
        &["zanzibarquux notes", "more zanzibarquux"],
    ))
    .unwrap();
    s.upsert(&doc(
        "notes",
        "p1-b",
        &["subject:p-1"],
        &["zanzibarquux elsewhere"],
    ))
    .unwrap();
    s.upsert(&doc("kb", "p2", &["subject:p-2"], &["unrelated text"]))
        .unwrap();
    let g = s.generation("kb").unwrap();
    let erased = s.erase_labelled("subject:p-1").unwrap();
    assert_eq!((erased.documents, erased.chunks), (2, 3));
    assert_eq!(erased.scrub, None, "nothing else holds the store");
    assert_eq!(s.erase_labelled("subject:p-1").unwrap().documents, 0);
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_documents"), 1);
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_chunks"), 1);
    assert_eq!(e.count("SELECT COUNT(*) FROM retrieval_labels"), 1);
    assert_eq!(
        e.count("SELECT COUNT(*) FROM retrieval_labels WHERE label = 'subject:p-1'"),
        0
    );
    let all = Grants::all();
    let none = MetaFilter::default();
    for coll in ["kb", "notes"] {
        assert!(
            s.text_search(coll, "zanzibarquux", &all, &none, 10)
                .unwrap()
                .is_empty()
        );
    }
    let g2 = s.generation("kb").unwrap();
    assert!(g2.rebuilt > g.generation);
    assert_eq!(g2.chunks, 1);
    assert_eq!(s.generation("notes").unwrap().chunks, 0);
    if let common::Raw::Sqlite(c) = &e.raw {
        // No full-text row, no indexed term, and no byte of the text left in the files.
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM retrieval_fts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        c.execute_batch(
            "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'retrieval_fts', 'row')",
        )
        .unwrap();
        let terms: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM temp.vocab WHERE term LIKE 'zanzibar%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(terms, 0);
        let BackendConfig::Sqlite { path } = &e.backend else {
            unreachable!()
        };
        drop(s);
        for file in [path.clone(), path.with_extension("db-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes.windows(12).any(|w| w == b"zanzibarquux"),
                    "{} still holds erased text",
                    file.display()
                );
            }
        }
    }
}

/// Collects what `index_load` hands over.
#[derive(Default)]
struct Loaded {
    docs: Vec<(i64, Vec<String>)>,
    chunks: Vec<(i64, i64, usize)>,
}

impl IndexSink for Loaded {
    fn document(&mut self, doc_key: i64, labels: Vec<String>) {
        self.docs.push((doc_key, labels));
    }
    fn chunk(&mut self, chunk_id: i64, doc_key: i64, vector: &[u8]) -> Result<(), StoreError> {
        self.chunks.push((chunk_id, doc_key, vector.len()));
        Ok(())
    }
}

fn generations_tell_appends_from_rewrites(e: &mut Env) {
    let mut s = e.store();
    assert_eq!(s.generation("kb").unwrap(), Generation::default());
    s.upsert(&doc("kb", "a", &["b", "a"], &["one", "two"]))
        .unwrap();
    let mut all = Loaded::default();
    let g1 = s.index_load("kb", 0, 0, &mut all).unwrap();
    assert_eq!(all.docs.len(), 1);
    assert_eq!(all.docs[0].1, ["a", "b"]);
    assert_eq!(all.chunks.len(), 2);
    assert!(all.chunks.iter().all(|c| c.2 == 32 && c.1 == all.docs[0].0));
    assert!(all.chunks[0].0 < all.chunks[1].0);
    // An append: newer rows only, no rebuild.
    s.upsert(&doc("kb", "c", &[], &["three"])).unwrap();
    s.upsert(&doc("other", "x", &[], &["elsewhere"])).unwrap();
    let (last_doc, last_chunk) = (all.docs[0].0, all.chunks[1].0);
    let mut more = Loaded::default();
    let g2 = s.index_load("kb", last_doc, last_chunk, &mut more).unwrap();
    assert_eq!(g2.generation, g1.generation + 1);
    assert_eq!(g2.rebuilt, g1.rebuilt);
    assert_eq!(g2.chunks, 3);
    assert_eq!(more.docs.len(), 1);
    assert!(more.docs[0].1.is_empty());
    assert_eq!(more.chunks.len(), 1);
    // A delete: a rebuild.
    s.delete("kb", "a").unwrap();
    let g3 = s.generation("kb").unwrap();
    assert_eq!((g3.rebuilt, g3.chunks), (g3.generation, 1));
}

fn listing_pages_and_stats_count(e: &mut Env) {
    let mut s = e.store();
    for id in ["b", "a", "C", "d/e.md", "a.1"] {
        s.upsert(&doc("kb", id, &["public", id], &["x y z", "w"]))
            .unwrap();
    }
    s.upsert(&doc("zz", "q", &[], &["x"])).unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.list("kb", after.as_deref(), 2).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|d| d.id.clone());
        seen.extend(page.into_iter().map(|d| d.id));
    }
    // Bytewise order on both backends.
    assert_eq!(seen, ["C", "a", "a.1", "b", "d/e.md"]);
    let first = &s.list("kb", None, 1).unwrap()[0];
    assert_eq!(first.labels, ["C", "public"]);
    assert_eq!((first.chunks, first.tokens), (2, 4));
    let st = s.stats("kb").unwrap();
    assert_eq!(
        (st.documents, st.chunks, st.tokens, st.labels),
        (5, 10, 20, 6)
    );
    assert!(st.updated_ms.is_some());
    assert_eq!(s.stats("nothing").unwrap(), Stats::default());
    assert_eq!(s.collections().unwrap(), ["kb", "zz"]);
    assert!(s.chunks(&[]).unwrap().is_empty());
    assert!(s.chunks(&[999_999]).unwrap().is_empty());
}

fn common_terms_are_dropped_in_large_collections(e: &mut Env) {
    let mut s = e.store();
    for i in 0..40 {
        let text = if i == 7 {
            "everywhere needle"
        } else {
            "everywhere hay"
        };
        s.upsert(&doc("kb", &format!("d{i}"), &["public"], &[text]))
            .unwrap();
    }
    let all = Grants::all();
    let none = MetaFilter::default();
    // Below the threshold every term counts.
    assert_eq!(
        s.text_search("kb", "everywhere", &all, &none, 50)
            .unwrap()
            .len(),
        40
    );
    s.set_common_terms_from(10);
    let hits = s
        .text_search("kb", "everywhere needle", &all, &none, 50)
        .unwrap();
    if matches!(e.backend, BackendConfig::Sqlite { .. }) {
        // "everywhere" (in all 40 chunks, over 5 %) no longer matches on its own.
        assert_eq!(docs_of(&mut s, &hits), ["d7"]);
        assert!(
            s.text_search("kb", "everywhere", &all, &none, 50)
                .unwrap()
                .is_empty()
        );
    } else {
        // PostgreSQL evaluates every term (GIN, no per-row BM25).
        assert_eq!(hits.len(), 40);
        assert_eq!(docs_of(&mut s, &hits)[0], "d7");
    }
}
