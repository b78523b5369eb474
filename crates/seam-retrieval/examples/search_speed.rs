//! Search latency on the embedded store: fills a temporary SQLite store with 100,000 chunks
//! (384-dimensional random unit vectors; text of 60 to 160 words drawn Zipf-like from a
//! 5,000-word vocabulary; each document labelled with one of 10 teams, a tenth also `public`),
//! then times 1,000 top-10 searches per case, one at a time, and prints p50 and p99 of the wall
//! time and of the process's CPU time (which other load on the machine inflates less). The
//! query embedding is a seeded random vector, so its cost (a model's) is left out.
//!
//! `cargo run --release -p seam-retrieval --example search_speed [CHUNKS [DB]]`: with `DB`, the
//! store is kept there and filled only when it does not hold the chunks yet (for re-runs).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring tool")]

use std::time::{Duration, Instant};

use seam_retrieval::service::{Mode, Retrieval, SearchQuery};
use seam_retrieval::{Embed, EmbedFuture};
use seam_store::{
    BackendConfig, Grants, MetaFilter, NewChunk, NewDocument, RetrievalStore, StoreConfig,
};

const DIMS: usize = 384;
const VOCAB: usize = 5_000;
const CHUNKS_PER_DOC: usize = 10;
const QUERIES: usize = 1_000;

fn unit(rng: &mut fastrand::Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIMS).map(|_| rng.f32() * 2.0 - 1.0).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// Word ranks with probability ∝ 1/(rank+1): a few words are everywhere, most are rare.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                acc += 1.0 / (r as f64 + 1.0);
                acc
            })
            .collect();
        Zipf { cumulative }
    }
    fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.f64() * total;
        self.cumulative.partition_point(|c| *c < x)
    }
}

fn word(i: usize) -> String {
    // Pronounceable, distinct, and never an English stop word.
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze", "bo", "da", "fe", "gi", "ju",
        "ko", "la", "mo", "nu", "pe",
    ];
    format!(
        "{}{}{}x",
        SYL[i % 20],
        SYL[(i / 20) % 20],
        SYL[(i / 400) % 20]
    )
}

/// The query "embedder": a random unit vector seeded by the text, costing microseconds.
struct Seeded;

impl Embed for Seeded {
    fn name(&self) -> &str {
        "seeded"
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move {
            Ok(texts
                .iter()
                .map(|t| {
                    let seed = t
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                    unit(&mut fastrand::Rng::with_seed(seed))
                })
                .collect())
        })
    }
}

fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let chunks: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let kept = std::env::args().nth(2).map(std::path::PathBuf::from);
    let dir = std::env::temp_dir().join(format!("seam-search-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = kept.clone().unwrap_or_else(|| dir.join("seam.db"));
    let cfg = StoreConfig {
        backend: BackendConfig::Sqlite { path },
        master_key: None,
        retention: Vec::new(),
    };
    let mut rng = fastrand::Rng::with_seed(42);
    let zipf = Zipf::new(VOCAB);
    let words: Vec<String> = (0..VOCAB).map(word).collect();

    let started = Instant::now();
    let mut store = RetrievalStore::open(&cfg).unwrap();
    let filled = store.stats("bench").unwrap().chunks as usize == chunks;
    for d in 0..chunks.div_ceil(CHUNKS_PER_DOC) {
        if filled {
            // Draw the same random numbers, so the queries below are the same too.
            for _ in 0..CHUNKS_PER_DOC.min(chunks - d * CHUNKS_PER_DOC) {
                for _ in 0..rng.usize(60..=160) {
                    zipf.sample(&mut rng);
                }
                unit(&mut rng);
            }
            continue;
        }
        let mut labels = vec![format!("team:t{}", d % 10)];
        if d % 10 == 3 {
            labels.push("public".to_owned());
        }
        let doc = NewDocument {
            collection: "bench".to_owned(),
            id: format!("doc-{d:06}"),
            title: Some(format!("Document {d}")),
            source: None,
            content_hash: format!("{d}"),
            labels,
            metadata: serde_json::Map::new(),
            chunks: (0..CHUNKS_PER_DOC.min(chunks - d * CHUNKS_PER_DOC))
                .map(|i| {
                    let n = rng.usize(60..=160);
                    let text: Vec<&str> = (0..n)
                        .map(|_| words[zipf.sample(&mut rng)].as_str())
                        .collect();
                    NewChunk {
                        ord: i as u32,
                        heading: None,
                        text: text.join(" "),
                        tokens: n as u32,
                        vector: unit(&mut rng),
                    }
                })
                .collect(),
        };
        store.upsert(&doc).unwrap();
    }
    println!(
        "filled {chunks} chunks ({DIMS} dims) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // `OPTIMIZE=1`: merge the full-text segments first, as a bulk ingest would at its end.
    if std::env::var("OPTIMIZE").is_ok_and(|v| v == "1") {
        let t = Instant::now();
        store.optimize().unwrap();
        println!(
            "full-text index optimised in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    drop(store);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let retrieval = Retrieval::open_with(&cfg, 1).unwrap();
    let teams = Grants {
        all: false,
        exact: vec![
            "public".to_owned(),
            "team:t1".to_owned(),
            "team:t2".to_owned(),
        ],
        prefixes: Vec::new(),
    };
    // Rare-to-middling terms (ranks 100..5,000) and Zipf-drawn ones (common words included).
    let uniform: Vec<String> = (0..QUERIES)
        .map(|_| {
            (0..3)
                .map(|_| words[rng.usize(100..VOCAB)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let zipfian: Vec<String> = (0..QUERIES)
        .map(|_| {
            (0..3)
                .map(|_| words[zipf.sample(&mut rng)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let load = Instant::now();
    rt.block_on(retrieval.search(
        "bench",
        &Seeded,
        &SearchQuery {
            text: "warm".into(),
            grants: Grants::all(),
            filter: MetaFilter::default(),
            top_k: 10,
            mode: Mode::Vector,
            candidates: None,
        },
    ))
    .unwrap();
    println!("index loaded in {:.2} s", load.elapsed().as_secs_f64());
    for (name, mode, grants, texts) in [
        (
            "hybrid, all granted, uniform terms",
            Mode::Hybrid,
            Grants::all(),
            &uniform,
        ),
        (
            "hybrid, 3 of 11 labels, uniform terms",
            Mode::Hybrid,
            teams.clone(),
            &uniform,
        ),
        (
            "hybrid, all granted, zipf terms",
            Mode::Hybrid,
            Grants::all(),
            &zipfian,
        ),
        (
            "hybrid, 3 of 11 labels, zipf terms",
            Mode::Hybrid,
            teams.clone(),
            &zipfian,
        ),
        (
            "bm25 only, all granted, uniform terms",
            Mode::Bm25,
            Grants::all(),
            &uniform,
        ),
        (
            "bm25 only, all granted, zipf terms",
            Mode::Bm25,
            Grants::all(),
            &zipfian,
        ),
        (
            "vector only, all granted",
            Mode::Vector,
            Grants::all(),
            &uniform,
        ),
        (
            "vector only, 3 of 11 labels",
            Mode::Vector,
            teams.clone(),
            &uniform,
        ),
    ] {
        // `CASES=bm25` runs only the cases whose name contains it.
        if std::env::var("CASES").is_ok_and(|c| !name.contains(c.as_str())) {
            continue;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(QUERIES);
        let mut cpu: Vec<Duration> = Vec::with_capacity(QUERIES);
        let mut results = 0usize;
        for text in texts.iter() {
            let q = SearchQuery {
                text: text.clone(),
                grants: grants.clone(),
                filter: MetaFilter::default(),
                top_k: 10,
                mode,
                candidates: None,
            };
            let (t, c) = (Instant::now(), cpu_time());
            let found = rt.block_on(retrieval.search("bench", &Seeded, &q)).unwrap();
            times.push(t.elapsed());
            cpu.push(cpu_time().saturating_sub(c));
            results += found.len();
        }
        times.sort();
        cpu.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<40} wall p50 {:>6.2} p99 {:>6.2} ms | cpu p50 {:>6.2} p99 {:>6.2} ms ({:.1} results/query)",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(percentile(&cpu, 0.5)),
            ms(percentile(&cpu, 0.99)),
            results as f64 / QUERIES as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
