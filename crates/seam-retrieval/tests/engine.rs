//! The engine end to end on SQLite and PostgreSQL (a fresh database per test at
//! `SEAM_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`; skipped when
//! unreachable unless `SEAM_REQUIRE_POSTGRES=1`), with a deterministic embedder: a hashed bag of
//! words. The access property: for random grants and queries over a seeded corpus with random
//! labels, no search returns a chunk the grants do not admit, the vector list equals a brute-force
//! top-k over the visible chunks only, and top_k is filled whenever enough chunks are visible.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use seam_retrieval::grants::parse_grants;
use seam_retrieval::index::dot;
use seam_retrieval::service::{
    ChunkText, IngestDocument, Mode, Retrieval, RetrievalError, SearchQuery,
};
use seam_retrieval::{Embed, EmbedError, EmbedFuture};
use seam_store::{
    BackendConfig, Grants, IndexSink, MetaFilter, RetrievalStore, StoreConfig, StoreError, Upserted,
};
use serde_json::{Map, json};

const DIMS: usize = 64;

/// A hashed bag of words: each word adds ±1 at a hashed position. Texts sharing words are close.
struct BagOfWords {
    calls: AtomicUsize,
    fail: bool,
    dims: usize,
}

impl BagOfWords {
    fn new() -> BagOfWords {
        BagOfWords {
            calls: AtomicUsize::new(0),
            fail: false,
            dims: DIMS,
        }
    }

    fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in w.to_lowercase().bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[(h % self.dims as u64) as usize] += sign;
        }
        if v.iter().all(|x| *x == 0.0) {
            v[0] = 1.0;
        }
        v
    }
}

impl Embed for BagOfWords {
    fn name(&self) -> &str {
        "bag-of-words"
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.fail {
                return Err(EmbedError("the test embedder is down".into()));
            }
            Ok(texts.iter().map(|t| self.vector(t)).collect())
        })
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    for x in &mut v {
        *x = (f64::from(*x) / n) as f32;
    }
    v
}

// ---- the harness: a fresh SQLite file or PostgreSQL database per test ----

struct Env {
    cfg: StoreConfig,
    dir: std::path::PathBuf,
    drop_db: Option<(String, String)>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = &self.drop_db {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Sqlite,
    Postgres,
}

fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn env(kind: Kind) -> Option<Env> {
    let dir = std::env::temp_dir().join(format!("seam-retrieval-test-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = |backend| StoreConfig {
        backend,
        master_key: None,
        retention: Vec::new(),
    };
    match kind {
        Kind::Sqlite => Some(Env {
            cfg: cfg(BackendConfig::Sqlite {
                path: dir.join("seam.db"),
            }),
            dir,
            drop_db: None,
        }),
        Kind::Postgres => {
            let admin = std::env::var("SEAM_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let mut c = match postgres::Client::connect(&admin, postgres::NoTls) {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("SEAM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                        panic!("PostgreSQL is required but unreachable: {e}");
                    }
                    eprintln!("skipping: PostgreSQL unreachable at the test URL ({e})");
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                }
            };
            let name = format!("seam_test_{}", unique());
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let base = admin.split('?').next().unwrap();
            let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
            Some(Env {
                cfg: cfg(BackendConfig::Postgres { url }),
                dir,
                drop_db: Some((admin, name)),
            })
        }
    }
}

/// Runs an async test body on a fresh runtime; the database is made and dropped outside it
/// (the PostgreSQL client runs its own).
fn run<F: std::future::Future<Output = ()>>(kind: Kind, body: impl FnOnce(StoreConfig, Kind) -> F) {
    let Some(e) = env(kind) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(body(e.cfg.clone(), kind));
    drop(rt);
    drop(e);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::run(super::Kind::Sqlite, super::$name) } )*
        }
        mod pg {
            $( #[test] fn $name() { super::run(super::Kind::Postgres, super::$name) } )*
        }
    };
}

on_both_backends!(
    ingest_skips_unchanged_and_replaces_changed,
    searches_cite_and_fuse,
    the_index_follows_the_store,
    erasure_removes_documents_from_search,
    bad_requests_are_typed_errors,
    access_property,
);

fn chunk(text: &str) -> ChunkText {
    ChunkText {
        heading: None,
        text: text.to_owned(),
        tokens: text.split_whitespace().count() as u32,
    }
}

fn document(id: &str, labels: &[&str], texts: &[&str]) -> IngestDocument {
    IngestDocument {
        id: id.to_owned(),
        title: Some(format!("About {id}")),
        source: Some(format!("{id}.md")),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        metadata: Map::new(),
        content_hash: format!("{:016x}", fnv(&texts.join("\u{0}"))),
        chunks: texts.iter().map(|t| chunk(t)).collect(),
    }
}

fn query(text: &str, grants: Grants, top_k: u32, mode: Mode) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        grants,
        filter: MetaFilter::default(),
        top_k,
        mode,
        candidates: None,
    }
}

fn pats(p: &[&str]) -> Grants {
    parse_grants(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
}

async fn ingest_skips_unchanged_and_replaces_changed(cfg: StoreConfig, _: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    let emb = BagOfWords::new();
    // 70 chunks: three embedder calls of at most 32.
    let texts: Vec<String> = (0..70)
        .map(|i| format!("paragraph number {i} of the handbook"))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = document("handbook.md", &["public"], &texts);
    assert_eq!(
        r.ingest("kb", &emb, d.clone()).await.unwrap(),
        Upserted::Inserted { chunks: 70 }
    );
    assert_eq!(emb.calls.load(Ordering::Relaxed), 3);
    assert_eq!(
        r.ingest("kb", &emb, d.clone()).await.unwrap(),
        Upserted::Unchanged
    );
    assert_eq!(
        emb.calls.load(Ordering::Relaxed),
        3,
        "an unchanged document is not embedded"
    );
    let mut relabelled = d.clone();
    relabelled.labels.push("team:hr".into());
    assert_eq!(
        r.ingest("kb", &emb, relabelled).await.unwrap(),
        Upserted::Replaced { chunks: 70 }
    );
    let changed = document("handbook.md", &["public"], &["a shorter handbook"]);
    assert_eq!(
        r.ingest("kb", &emb, changed).await.unwrap(),
        Upserted::Replaced { chunks: 1 }
    );
    let info = r.get("kb", "handbook.md").await.unwrap();
    assert_eq!(
        (info.chunks, info.labels.clone()),
        (1, vec!["public".to_owned()])
    );
    let st = r.stats("kb").await.unwrap();
    assert_eq!((st.documents, st.chunks), (1, 1));
    assert_eq!(r.collections().await.unwrap(), ["kb"]);
    assert_eq!(r.list("kb", None, 10).await.unwrap().len(), 1);
    r.delete("kb", "handbook.md").await.unwrap();
    assert!(matches!(
        r.delete("kb", "handbook.md").await,
        Err(RetrievalError::NotFound(_))
    ));
    assert!(matches!(
        r.get("kb", "handbook.md").await,
        Err(RetrievalError::NotFound(_))
    ));
}

async fn searches_cite_and_fuse(cfg: StoreConfig, _: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    let emb = BagOfWords::new();
    let mut dose = document(
        "dosage.md",
        &["public"],
        &[
            "Adults take two tablets twice a day with water",
            "Children take one tablet",
        ],
    );
    dose.chunks[0].heading = Some("Dosage".into());
    dose.metadata = json!({"lang": "en"}).as_object().unwrap().clone();
    r.ingest("kb", &emb, dose).await.unwrap();
    r.ingest(
        "kb",
        &emb,
        document(
            "storage.md",
            &["public"],
            &["Store tablets below 25 degrees"],
        ),
    )
    .await
    .unwrap();
    r.ingest(
        "kb",
        &emb,
        document(
            "secret.md",
            &["team:x"],
            &["tablets tablets tablets twice a day"],
        ),
    )
    .await
    .unwrap();
    let found = r
        .search(
            "kb",
            &emb,
            &query(
                "how many tablets twice a day",
                pats(&["public"]),
                3,
                Mode::Hybrid,
            ),
        )
        .await
        .unwrap();
    assert_eq!(found[0].document, "dosage.md");
    assert_eq!(found[0].chunk, 0);
    assert_eq!(found[0].heading.as_deref(), Some("Dosage"));
    assert_eq!(found[0].title.as_deref(), Some("About dosage.md"));
    assert_eq!(found[0].metadata["lang"], json!("en"));
    assert_eq!(
        (found[0].bm25_rank, found[0].vector_rank),
        (Some(1), Some(1))
    );
    assert!((found[0].score - 2.0 / 61.0).abs() < 1e-12);
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|f| f.document != "secret.md"));
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    // Single modes carry their own scores and one rank.
    let bm25 = r
        .search("kb", &emb, &query("tablets", pats(&["*"]), 5, Mode::Bm25))
        .await
        .unwrap();
    assert_eq!(bm25[0].document, "secret.md");
    // BM25 from the in-process index, the same on both stores: more occurrences first, then
    // shorter chunks; "tablet" matches "tablets" (Porter stems), the heading counts.
    assert_eq!(
        bm25.iter()
            .map(|f| (f.document.as_str(), f.chunk))
            .collect::<Vec<_>>(),
        [
            ("secret.md", 0),
            ("dosage.md", 1),
            ("storage.md", 0),
            ("dosage.md", 0)
        ]
    );
    assert!(
        bm25.iter()
            .all(|f| f.vector_rank.is_none() && f.bm25_rank.is_some() && f.score > 0.0)
    );
    let vector = r
        .search(
            "kb",
            &emb,
            &query(
                "store tablets below degrees",
                pats(&["public"]),
                1,
                Mode::Vector,
            ),
        )
        .await
        .unwrap();
    assert_eq!(vector[0].document, "storage.md");
    assert!(vector[0].score > 0.5 && vector[0].score <= 1.0001);
    // A metadata filter reaches both lists.
    let mut q = query("tablets", pats(&["*"]), 5, Mode::Hybrid);
    q.filter = MetaFilter::from_json(json!({"lang": "en"}).as_object().unwrap()).unwrap();
    let got = r.search("kb", &emb, &q).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|f| f.document == "dosage.md"));
    // Nothing granted: nothing found, no error.
    let none = r
        .search("kb", &emb, &query("tablets", pats(&[]), 5, Mode::Hybrid))
        .await
        .unwrap();
    assert!(none.is_empty());
    // An empty collection answers empty.
    assert!(
        r.search(
            "empty",
            &emb,
            &query("tablets", pats(&["*"]), 5, Mode::Hybrid)
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn the_index_follows_the_store(cfg: StoreConfig, _: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    // Another process writing the same store.
    let other = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || Retrieval::open_with(&cfg, 1))
            .await
            .unwrap()
            .unwrap()
    };
    let emb = BagOfWords::new();
    let vq = |t: &str| query(t, pats(&["*"]), 5, Mode::Vector);
    r.ingest(
        "kb",
        &emb,
        document("a", &["public"], &["apples and pears"]),
    )
    .await
    .unwrap();
    assert_eq!(
        r.search("kb", &emb, &vq("apples pears")).await.unwrap()[0].document,
        "a"
    );
    other
        .ingest(
            "kb",
            &emb,
            document("b", &["public"], &["bananas and kiwis"]),
        )
        .await
        .unwrap();
    assert_eq!(
        r.search("kb", &emb, &vq("bananas kiwis")).await.unwrap()[0].document,
        "b"
    );
    other.delete("kb", "b").await.unwrap();
    let got = r.search("kb", &emb, &vq("bananas kiwis")).await.unwrap();
    assert!(got.iter().all(|f| f.document != "b"));
    // A relabel (a replacement) changes visibility at once.
    other
        .ingest(
            "kb",
            &emb,
            document("a", &["team:x"], &["apples and pears"]),
        )
        .await
        .unwrap();
    let got = r
        .search(
            "kb",
            &emb,
            &query("apples", pats(&["public"]), 5, Mode::Vector),
        )
        .await
        .unwrap();
    assert!(got.is_empty());
    let got = r
        .search(
            "kb",
            &emb,
            &query("apples", pats(&["team:*"]), 5, Mode::Vector),
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
}

async fn erasure_removes_documents_from_search(cfg: StoreConfig, _: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    let emb = BagOfWords::new();
    r.ingest(
        "kb",
        &emb,
        document("p1", &["subject:p-1", "public"], &["patient one history"]),
    )
    .await
    .unwrap();
    r.ingest(
        "notes",
        &emb,
        document("p1n", &["subject:p-1"], &["patient one notes"]),
    )
    .await
    .unwrap();
    r.ingest(
        "kb",
        &emb,
        document("p2", &["subject:p-2", "public"], &["patient two history"]),
    )
    .await
    .unwrap();
    let q = query("patient history", pats(&["*"]), 10, Mode::Hybrid);
    assert_eq!(r.search("kb", &emb, &q).await.unwrap().len(), 2);
    let erased = r.erase_labelled("subject:p-1").await.unwrap();
    assert_eq!(
        (erased.documents, erased.chunks, erased.scrub),
        (2, 2, None)
    );
    let left = r.search("kb", &emb, &q).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].document, "p2");
    assert!(r.search("notes", &emb, &q).await.unwrap().is_empty());
    assert!(matches!(
        r.erase_labelled("bad label").await,
        Err(RetrievalError::Invalid(_))
    ));
}

async fn bad_requests_are_typed_errors(cfg: StoreConfig, _: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    let emb = BagOfWords::new();
    let ok = document("a", &["public"], &["text"]);
    let invalid =
        |res: Result<Upserted, RetrievalError>| matches!(res, Err(RetrievalError::Invalid(_)));
    assert!(invalid(r.ingest("Bad Name", &emb, ok.clone()).await));
    assert!(invalid(
        r.ingest("kb", &emb, document("a b", &[], &["x"])).await
    ));
    assert!(invalid(
        r.ingest("kb", &emb, document("a", &["bad label"], &["x"]))
            .await
    ));
    assert!(invalid(
        r.ingest("kb", &emb, document("a", &[], &["  "])).await
    ));
    let mut no_hash = ok.clone();
    no_hash.content_hash.clear();
    assert!(invalid(r.ingest("kb", &emb, no_hash).await));
    for bad in [0, 51] {
        let res = r
            .search("kb", &emb, &query("x", pats(&["*"]), bad, Mode::Hybrid))
            .await;
        assert!(matches!(res, Err(RetrievalError::Invalid(_))), "{bad}");
    }
    let res = r
        .search("kb", &emb, &query("  ", pats(&["*"]), 5, Mode::Hybrid))
        .await;
    assert!(matches!(res, Err(RetrievalError::Invalid(_))));
    let down = BagOfWords {
        fail: true,
        ..BagOfWords::new()
    };
    let res = r.ingest("kb", &down, ok.clone()).await;
    let Err(RetrievalError::Embed(err)) = res else {
        panic!("{res:?}")
    };
    assert!(
        !err.to_string().contains("text"),
        "no document text in errors"
    );
    r.ingest("kb", &emb, ok).await.unwrap();
    // Another embedder's dimensions, for documents and for queries.
    let wide = BagOfWords {
        dims: 32,
        ..BagOfWords::new()
    };
    let res = r
        .ingest("kb", &wide, document("b", &["public"], &["other text"]))
        .await;
    assert!(matches!(res, Err(RetrievalError::Embed(_))), "{res:?}");
    let res = r
        .search("kb", &wide, &query("text", pats(&["*"]), 5, Mode::Vector))
        .await;
    assert!(matches!(res, Err(RetrievalError::Embed(_))), "{res:?}");
    assert!(matches!(
        r.list("kb", None, 0).await,
        Err(RetrievalError::Invalid(_))
    ));
}

// ---- the access property ----

const LABELS: &[&str] = &[
    "public",
    "team:oncology",
    "team:cardiology",
    "team:hr",
    "subject:p-1",
    "subject:p-2",
    "subject:p-3",
    "consent:research",
];

const PATTERNS: &[&str] = &[
    "public",
    "team:oncology",
    "team:*",
    "team:c*",
    "subject:p-1",
    "subject:*",
    "consent:research",
    "nothing:here",
];

/// What the test reads back from the store to compute the expected answers itself.
#[derive(Default)]
struct Truth {
    labels: HashMap<i64, Vec<String>>,
    chunks: Vec<(i64, i64, Vec<f32>)>,
}

impl IndexSink for Truth {
    fn document(&mut self, doc_key: i64, labels: Vec<String>) {
        self.labels.insert(doc_key, labels);
    }
    fn chunk(&mut self, chunk_id: i64, doc_key: i64, vector: &[u8]) -> Result<(), StoreError> {
        let v = vector
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        self.chunks.push((chunk_id, doc_key, v));
        Ok(())
    }
}

async fn access_property(cfg: StoreConfig, kind: Kind) {
    let r = Retrieval::connect(cfg.clone()).await.unwrap();
    let emb = BagOfWords::new();
    let mut rng = fastrand::Rng::with_seed(20);
    let vocab: Vec<String> = (0..120).map(|i| format!("w{i}")).collect();
    let mut doc_labels: HashMap<String, Vec<String>> = HashMap::new();
    for d in 0..80 {
        let n_labels = rng.usize(0..=3);
        let labels: Vec<&str> = (0..n_labels)
            .map(|_| LABELS[rng.usize(..LABELS.len())])
            .collect();
        let texts: Vec<String> = (0..rng.usize(1..=4))
            .map(|_| {
                (0..rng.usize(3..12))
                    .map(|_| vocab[rng.usize(..vocab.len())].clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let id = format!("doc-{d}");
        let mut sorted: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        sorted.sort();
        sorted.dedup();
        doc_labels.insert(id.clone(), sorted);
        r.ingest("kb", &emb, document(&id, &labels, &texts))
            .await
            .unwrap();
    }
    let truth = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let mut truth = Truth::default();
            let mut store = RetrievalStore::open(&cfg).unwrap();
            store.index_load("kb", 0, 0, &mut truth).unwrap();
            truth
        })
        .await
        .unwrap()
    };
    let triples = if kind == Kind::Sqlite { 10_000 } else { 1_200 };
    let modes = [Mode::Vector, Mode::Hybrid, Mode::Bm25];
    for t in 0..triples {
        let mode = modes[t % 3];
        let patterns: Vec<String> = if rng.u8(..20) == 0 {
            vec!["*".to_owned()]
        } else {
            (0..rng.usize(0..=3))
                .map(|_| PATTERNS[rng.usize(..PATTERNS.len())].to_owned())
                .collect()
        };
        let grants = parse_grants(&patterns).unwrap();
        let text: String = (0..rng.usize(1..=4))
            .map(|_| vocab[rng.usize(..vocab.len())].clone())
            .collect::<Vec<_>>()
            .join(" ");
        let top_k = rng.u32(1..=12);
        let found = r
            .search("kb", &emb, &query(&text, grants.clone(), top_k, mode))
            .await
            .unwrap();
        for f in &found {
            assert!(
                grants.permits_any(&doc_labels[&f.document]),
                "{patterns:?} saw {} ({:?})",
                f.document,
                doc_labels[&f.document]
            );
        }
        let visible: Vec<&(i64, i64, Vec<f32>)> = truth
            .chunks
            .iter()
            .filter(|(_, doc, _)| grants.permits_any(&truth.labels[doc]))
            .collect();
        match mode {
            Mode::Vector => {
                let q = normalise(emb.vector(&text));
                let mut want: Vec<(i64, f32)> =
                    visible.iter().map(|(id, _, v)| (*id, dot(v, &q))).collect();
                want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                want.truncate(top_k as usize);
                let got: Vec<i64> = found.iter().map(|f| f.chunk_id).collect();
                let want: Vec<i64> = want.iter().map(|w| w.0).collect();
                assert_eq!(got, want, "{patterns:?} {text}");
            }
            Mode::Hybrid => {
                // The vector list holds every visible chunk up to its candidates, so top_k fills.
                assert_eq!(
                    found.len(),
                    visible.len().min(top_k as usize),
                    "{patterns:?} {text}"
                );
            }
            Mode::Bm25 => assert!(found.len() <= top_k as usize),
        }
    }
}
