//! `seam-bench retrieval`: what retrieval costs on the embedded store, on one thread.
//!
//! - **Search**: a temporary SQLite store filled with `--chunks` chunks (384-dimensional random
//!   unit vectors; 60 to 160 words drawn Zipf-like from a 5,000-word vocabulary; ten chunks per
//!   document, each document labelled with one of 10 teams, a tenth also `public`), its full-text
//!   index merged as a bulk ingest leaves it, then `--queries` top-10 searches per case, one at a
//!   time: hybrid, BM25 only and vectors only, with every label granted and with 3 of the 11
//!   labels. p50 and p99 of the wall time and of the process's CPU time (which other load on the
//!   machine inflates less). The query vector is a seeded random one, so the model's cost is left
//!   out (it is the ingestion row's business). Uniform random vectors are the approximate
//!   index's worst case and unlike real embeddings, so a second collection of as many chunks
//!   holds *clustered* ones (a mixture of Gaussians around 300 centres, unit-normalised; its
//!   queries are drawn the same way) for the `clustered:` rows.
//! - **Vector index**: per collection, its load time, how long the IVF index took to build after
//!   it (off the search path), memory per chunk (vectors, BM25 postings, IVF), and the recall@10
//!   of the approximate vector list against the exact one (the same searches with the IVF index
//!   off), with the CPU p50 of each.
//! - **Ingestion**: `--ingest` chunks of the labelled set's articles (`quality::generate`, two
//!   articles a chunk, ~200 model tokens), embedded by the local model (all-MiniLM-L6-v2) and
//!   stored through `Retrieval::ingest`, 16 chunks a document, on a current-thread runtime: the
//!   model runs on one blocking thread at a time. Chunks per second, wall and CPU.
//! - **Semantic cache**: `seam_server::cache::semantic::Index::best` (the in-process lookup a
//!   semantic-cache request adds once its text is embedded) over one partition of `--entries`
//!   384-dimensional entries, and over one of the server's default partition size
//!   ([`PER_PARTITION`]), for queries that miss (random vectors) and that hit (a stored vector).
//!
//! Run it pinned to one core (`taskset -c 1`) so "one core" is what it measures.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use seam_ner::fetch::WHEEL_MINILM;
use seam_retrieval::local::LocalEmbed;
use seam_retrieval::service::{ChunkText, IngestDocument, Mode, Retrieval, SearchQuery};
use seam_retrieval::{Embed, EmbedFuture};
use seam_server::cache::semantic::{Index, PER_PARTITION};
use seam_server::cache::{Answer, Stored};
use seam_store::{
    BackendConfig, Grants, MetaFilter, NewChunk, NewDocument, RetrievalStore, StoreConfig,
};

/// The targets: hybrid top-10 p99 over 100,000 chunks, and the semantic-cache lookup's
/// p50 (both ms).
pub const HYBRID_P99_MS: f64 = 10.0;
pub const CACHE_P50_MS: f64 = 0.5;

const DIMS: usize = 384;
const VOCAB: usize = 5_000;
const CHUNKS_PER_DOC: usize = 10;
/// Chunks per ingested document (so the embedder sees batches, as a file's chunks are).
const INGEST_PER_DOC: usize = 16;

#[derive(clap::Args)]
pub struct RetrievalArgs {
    /// Chunks in the searched collection.
    #[arg(long, default_value_t = 100_000)]
    pub chunks: usize,
    /// Searches timed per case.
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// Chunks embedded and stored for the ingestion rate (0: skip it).
    #[arg(long, default_value_t = 1_000)]
    pub ingest: usize,
    /// Entries in the semantic cache's partition.
    #[arg(long, default_value_t = 10_000)]
    pub entries: usize,
    /// The local model's directory (default: where `seam models fetch minilm` puts it).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Where the stores go (default: a fresh folder under the system's temporary directory,
    /// removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

fn unit(rng: &mut fastrand::Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIMS).map(|_| rng.f32() * 2.0 - 1.0).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// Centres of the clustered vectors: a mixture of Gaussians, as embeddings cluster by topic.
const CENTRES: usize = 300;
/// Per-dimension standard deviation around a centre: a member's cosine with its centre is about
/// 1/√(1 + 384σ²) ≈ 0.71.
const SIGMA: f32 = 0.05;

fn centres() -> Vec<Vec<f32>> {
    let mut rng = fastrand::Rng::with_seed(99);
    (0..CENTRES).map(|_| unit(&mut rng)).collect()
}

fn gaussian(rng: &mut fastrand::Rng) -> f32 {
    // Box–Muller.
    let u = rng.f32().max(f32::MIN_POSITIVE);
    let v = rng.f32();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// A unit vector around a random one of `centres`.
fn clustered(centres: &[Vec<f32>], rng: &mut fastrand::Rng) -> Vec<f32> {
    let c = &centres[rng.usize(..centres.len())];
    let v: Vec<f32> = c.iter().map(|x| x + SIGMA * gaussian(rng)).collect();
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

/// Pronounceable, distinct, and never an English stop word.
fn word(i: usize) -> String {
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

/// The query "embedder" of the search rows: a random unit vector seeded by the text (uniform,
/// or around one of the clustered collection's centres).
struct Seeded;

struct SeededClustered(Vec<Vec<f32>>);

impl Embed for SeededClustered {
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
                    clustered(&self.0, &mut fastrand::Rng::with_seed(seed))
                })
                .collect())
        })
    }
}

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
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn sqlite(path: PathBuf) -> StoreConfig {
    StoreConfig {
        backend: BackendConfig::Sqlite { path },
        master_key: None,
        retention: Vec::new(),
    }
}

/// Removes the folder it names when dropped (when the bench made it).
struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub async fn main(args: RetrievalArgs) -> anyhow::Result<()> {
    let (dir, _scratch) = match &args.dir {
        Some(d) => (d.clone(), Scratch(None)),
        None => {
            let d =
                std::env::temp_dir().join(format!("seam-bench-retrieval-{}", std::process::id()));
            (d.clone(), Scratch(Some(d)))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!(
        "## Retrieval ({} chunks searched, {} queries a case, one thread)\n",
        args.chunks, args.queries
    );
    search(&args, &dir).await?;
    if args.ingest > 0 {
        ingest(&args, &dir).await?;
    }
    semantic_cache(&args);
    Ok(())
}

/// Fills the search store (blocking, one connection) unless `path` already holds the chunks.
fn fill(
    cfg: &StoreConfig,
    collection: &str,
    chunks: usize,
    centres: Option<&[Vec<f32>]>,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<()> {
    let zipf = Zipf::new(VOCAB);
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let started = Instant::now();
    let mut store = RetrievalStore::open(cfg)?;
    if store.stats(collection)?.chunks as usize == chunks {
        println!("(reusing the {chunks} chunks of {collection} already stored)\n");
        return Ok(());
    }
    for d in 0..chunks.div_ceil(CHUNKS_PER_DOC) {
        let mut labels = vec![format!("team:t{}", d % 10)];
        if d % 10 == 3 {
            labels.push("public".to_owned());
        }
        let n_chunks = CHUNKS_PER_DOC.min(chunks - d * CHUNKS_PER_DOC);
        let doc = NewDocument {
            collection: collection.to_owned(),
            id: format!("doc-{d:06}"),
            title: Some(format!("Document {d}")),
            source: None,
            content_hash: format!("{d}"),
            labels,
            metadata: serde_json::Map::new(),
            chunks: (0..n_chunks)
                .map(|i| {
                    let n = rng.usize(60..=160);
                    let text: Vec<&str> =
                        (0..n).map(|_| words[zipf.sample(rng)].as_str()).collect();
                    NewChunk {
                        ord: i as u32,
                        heading: None,
                        text: text.join(" "),
                        tokens: n as u32,
                        vector: match centres {
                            Some(c) => clustered(c, rng),
                            None => unit(rng),
                        },
                    }
                })
                .collect(),
        };
        store.upsert(&doc)?;
    }
    let filled = started.elapsed();
    let t = Instant::now();
    store.optimize()?;
    println!(
        "Filled {collection} ({chunks} chunks) in {:.1} s; full-text index merged in {:.1} s.\n",
        filled.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn search(args: &RetrievalArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let cfg = sqlite(dir.join("search.db"));
    let mut rng = fastrand::Rng::with_seed(42);
    {
        let cfg = cfg.clone();
        let chunks = args.chunks;
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            fill(&cfg, "bench", chunks, None, &mut rng)?;
            let c = centres();
            fill(&cfg, "clustered", chunks, Some(&c), &mut rng)
        })
        .await??;
    }
    let mut rng = fastrand::Rng::with_seed(43);
    let retrieval = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || Retrieval::open_with(&cfg, 1)).await??
    };
    let zipf = Zipf::new(VOCAB);
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let teams = Grants {
        all: false,
        exact: vec![
            "public".to_owned(),
            "team:t1".to_owned(),
            "team:t2".to_owned(),
        ],
        prefixes: Vec::new(),
    };
    // Three terms a query: rare-to-middling ones (ranks 100..5,000), and Zipf-drawn ones (common
    // words included, as people type them).
    let uniform: Vec<String> = (0..args.queries)
        .map(|_| {
            (0..3)
                .map(|_| words[rng.usize(100..VOCAB)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let zipfian: Vec<String> = (0..args.queries)
        .map(|_| {
            (0..3)
                .map(|_| words[zipf.sample(&mut rng)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let clustered_embed = SeededClustered(centres());
    for (collection, embed) in [
        ("bench", &Seeded as &dyn Embed),
        ("clustered", &clustered_embed as &dyn Embed),
    ] {
        let load = Instant::now();
        retrieval
            .search(
                collection,
                embed,
                &SearchQuery {
                    text: "warm".into(),
                    grants: Grants::all(),
                    filter: MetaFilter::default(),
                    top_k: 10,
                    mode: Mode::Vector,
                    candidates: None,
                },
            )
            .await?;
        let loaded = load.elapsed();
        while !retrieval.index_stats(collection).approximate_ready
            && args.chunks >= seam_retrieval::ivf::DEFAULT.from
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = retrieval.index_stats(collection);
        let per = |b: usize| b as f64 / st.chunks.max(1) as f64;
        println!(
            "{collection}: index loaded in {:.2} s, IVF built {:.2} s later (off the search path). \
             Memory per chunk: vectors {:.0} B, BM25 {:.0} B, IVF {:.1} B; total {:.0} B ({:.0} MB).\n",
            loaded.as_secs_f64(),
            (load.elapsed() - loaded).as_secs_f64(),
            per(st.vector_bytes),
            per(st.text_bytes),
            per(st.approximate_bytes),
            per(st.vector_bytes + st.text_bytes + st.approximate_bytes),
            (st.vector_bytes + st.text_bytes + st.approximate_bytes) as f64 / 1e6,
        );
    }
    recall(&retrieval, &clustered_embed, &uniform).await?;
    println!("| search (top 10) | wall p50 | wall p99 | CPU p50 | CPU p99 | results | target |");
    println!("| --- | --: | --: | --: | --: | --: | --- |");
    let all = Grants::all;
    let cases: [(&str, Mode, Grants, &[String]); 11] = [
        (
            "hybrid, all granted, rare terms",
            Mode::Hybrid,
            all(),
            &uniform,
        ),
        (
            "hybrid, 3 of 11 labels, rare terms",
            Mode::Hybrid,
            teams.clone(),
            &uniform,
        ),
        (
            "hybrid, all granted, Zipf terms",
            Mode::Hybrid,
            all(),
            &zipfian,
        ),
        (
            "hybrid, 3 of 11 labels, Zipf terms",
            Mode::Hybrid,
            teams.clone(),
            &zipfian,
        ),
        (
            "BM25 only, all granted, rare terms",
            Mode::Bm25,
            all(),
            &uniform,
        ),
        (
            "BM25 only, all granted, Zipf terms",
            Mode::Bm25,
            all(),
            &zipfian,
        ),
        ("vectors only, all granted", Mode::Vector, all(), &uniform),
        (
            "vectors only, 3 of 11 labels",
            Mode::Vector,
            teams.clone(),
            &uniform,
        ),
        (
            "clustered: hybrid, all granted, rare terms",
            Mode::Hybrid,
            all(),
            &uniform,
        ),
        (
            "clustered: hybrid, 3 of 11 labels, Zipf terms",
            Mode::Hybrid,
            teams.clone(),
            &zipfian,
        ),
        (
            "clustered: vectors only, all granted",
            Mode::Vector,
            all(),
            &uniform,
        ),
    ];
    for (name, mode, grants, texts) in cases {
        let (collection, embed) = if name.starts_with("clustered") {
            ("clustered", &clustered_embed as &dyn Embed)
        } else {
            ("bench", &Seeded as &dyn Embed)
        };
        let mut wall: Vec<Duration> = Vec::with_capacity(texts.len());
        let mut cpu: Vec<Duration> = Vec::with_capacity(texts.len());
        let mut results = 0usize;
        for text in texts {
            let q = SearchQuery {
                text: text.clone(),
                grants: grants.clone(),
                filter: MetaFilter::default(),
                top_k: 10,
                mode,
                candidates: None,
            };
            let (t, c) = (Instant::now(), cpu_time());
            let found = retrieval.search(collection, embed, &q).await?;
            wall.push(t.elapsed());
            cpu.push(cpu_time().saturating_sub(c));
            results += found.len();
        }
        wall.sort();
        cpu.sort();
        let p99 = ms(percentile(&wall, 0.99));
        let target = if mode == Mode::Hybrid {
            format!(
                "p99 ≤ {HYBRID_P99_MS} ms: {}",
                if p99 <= HYBRID_P99_MS {
                    "met"
                } else {
                    "not met"
                }
            )
        } else {
            String::new()
        };
        println!(
            "| {name} | {:.2} ms | {p99:.2} ms | {:.2} ms | {:.2} ms | {:.1} | {target} |",
            ms(percentile(&wall, 0.5)),
            ms(percentile(&cpu, 0.5)),
            ms(percentile(&cpu, 0.99)),
            results as f64 / texts.len().max(1) as f64,
        );
    }
    println!();
    Ok(())
}

/// recall@10 of the approximate vector list against the exact one (the same searches with the
/// IVF index switched off), on the uniform and the clustered collection, all granted and with
/// 3 of 11 labels.
async fn recall(
    retrieval: &Retrieval,
    clustered_embed: &SeededClustered,
    texts: &[String],
) -> anyhow::Result<()> {
    use seam_retrieval::ivf::{Approximate, DEFAULT};
    let teams = Grants {
        all: false,
        exact: vec!["public".into(), "team:t1".into(), "team:t2".into()],
        prefixes: Vec::new(),
    };
    println!(
        "| vector list, approximate vs exact (top 10) | queries | recall@10 | exact: CPU p50 | approximate: CPU p50 |"
    );
    println!("| --- | --: | --: | --: | --: |");
    let texts = &texts[..texts.len().min(300)];
    for (collection, embed, vectors) in [
        ("bench", &Seeded as &dyn Embed, "uniform random vectors"),
        (
            "clustered",
            clustered_embed as &dyn Embed,
            "clustered vectors",
        ),
    ] {
        for (grants, who) in [
            (Grants::all(), "all granted"),
            (teams.clone(), "3 of 11 labels"),
        ] {
            let mut lists: Vec<Vec<Vec<i64>>> = Vec::new();
            let mut cpu_p50 = Vec::new();
            for approx in [
                Approximate {
                    from: usize::MAX,
                    ..DEFAULT
                },
                DEFAULT,
            ] {
                retrieval.set_approximate(approx);
                let mut cpu = Vec::with_capacity(texts.len());
                let mut got = Vec::with_capacity(texts.len());
                for text in texts {
                    let q = SearchQuery {
                        text: text.clone(),
                        grants: grants.clone(),
                        filter: MetaFilter::default(),
                        top_k: 10,
                        mode: Mode::Vector,
                        candidates: None,
                    };
                    let c = cpu_time();
                    let found = retrieval.search(collection, embed, &q).await?;
                    cpu.push(cpu_time().saturating_sub(c));
                    got.push(found.iter().map(|f| f.chunk_id).collect::<Vec<_>>());
                }
                cpu.sort();
                cpu_p50.push(ms(percentile(&cpu, 0.5)));
                lists.push(got);
            }
            let (mut hit, mut total) = (0usize, 0usize);
            for (exact, approx) in lists[0].iter().zip(&lists[1]) {
                hit += exact.iter().filter(|id| approx.contains(id)).count();
                total += exact.len();
            }
            println!(
                "| {vectors}, {who} | {} | {:.3} | {:.2} ms | {:.2} ms |",
                texts.len(),
                hit as f64 / total.max(1) as f64,
                cpu_p50[0],
                cpu_p50[1],
            );
        }
    }
    retrieval.set_approximate(DEFAULT);
    println!();
    Ok(())
}

async fn ingest(args: &RetrievalArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let model_dir = args
        .model_dir
        .clone()
        .or_else(|| WHEEL_MINILM.default_dir())
        .context("no model directory: pass --model-dir or set SEAM_MODELS_DIR")?;
    let model = tokio::task::spawn_blocking(move || LocalEmbed::load(&model_dir)).await??;
    let cfg = sqlite(dir.join("ingest.db"));
    let _ = std::fs::remove_file(dir.join("ingest.db"));
    let retrieval = tokio::task::spawn_blocking(move || Retrieval::open_with(&cfg, 1)).await??;
    // The labelled set's articles, two a chunk (an article is ~100 model tokens), so chunks are
    // real prose of ~200 tokens.
    let corpus = seam_retrieval::quality::generate(7, args.ingest * 2, 0);
    let chunks: Vec<ChunkText> = corpus
        .docs
        .chunks(2)
        .map(|pair| {
            let text = pair
                .iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            ChunkText {
                heading: pair.first().map(|d| d.title.clone()),
                tokens: u32::try_from(model.count_tokens(&text)).unwrap_or(u32::MAX),
                text,
            }
        })
        .collect();
    let tokens: u64 = chunks.iter().map(|c| u64::from(c.tokens)).sum();
    // One warm-up embedding, so the first batch does not pay for page faults in the weights.
    model.embed(&["warm up".to_owned()]).await?;
    let (t, c) = (Instant::now(), cpu_time());
    for (i, batch) in chunks.chunks(INGEST_PER_DOC).enumerate() {
        let doc = IngestDocument {
            id: format!("doc-{i:05}"),
            title: None,
            source: None,
            labels: vec!["public".to_owned()],
            metadata: serde_json::Map::new(),
            content_hash: format!("{i}"),
            chunks: batch.to_vec(),
        };
        retrieval.ingest("ingest", &model, doc).await?;
    }
    let (wall, cpu) = (t.elapsed(), cpu_time().saturating_sub(c));
    let n = chunks.len() as f64;
    println!(
        "| ingestion (local-minilm, SQLite) | chunks | tokens/chunk | chunks/s (wall) | chunks/s (CPU) | ms/chunk (CPU) |"
    );
    println!("| --- | --: | --: | --: | --: | --: |");
    println!(
        "| embedded and stored, {INGEST_PER_DOC} chunks a document | {} | {:.0} | {:.1} | {:.1} | {:.2} |\n",
        chunks.len(),
        tokens as f64 / n.max(1.0),
        n / wall.as_secs_f64().max(1e-9),
        n / cpu.as_secs_f64().max(1e-9),
        ms(cpu) / n.max(1.0),
    );
    Ok(())
}

fn semantic_cache(args: &RetrievalArgs) {
    println!("| semantic-cache lookup (embedding excluded) | entries | p50 | p99 | target |");
    println!("| --- | --: | --: | --: | --- |");
    let mut rng = fastrand::Rng::with_seed(44);
    let far = Instant::now() + Duration::from_secs(3_600);
    for entries in [args.entries, PER_PARTITION] {
        let index = Index::new(usize::MAX / 2, entries);
        let partition = [7u8; 32];
        let stored: Vec<Vec<f32>> = (0..entries).map(|_| unit(&mut rng)).collect();
        for (i, v) in stored.iter().enumerate() {
            let answer = Stored {
                route: "mock/bench-model".into(),
                answer: Answer::Unary(Bytes::from(format!("answer {i}"))),
            };
            index.insert(partition, v, answer, 1_000, far);
        }
        for hit in [false, true] {
            let lookups = 10_000;
            let mut times = Vec::with_capacity(lookups);
            let mut found = 0usize;
            for _ in 0..lookups {
                let q = if hit {
                    stored[rng.usize(..stored.len())].clone()
                } else {
                    unit(&mut rng)
                };
                let now = Instant::now();
                let t = Instant::now();
                let r = black_box(index.best(&partition, &q, 0.95, now));
                times.push(t.elapsed());
                found += usize::from(r.is_some());
            }
            times.sort();
            let p50 = ms(percentile(&times, 0.5));
            println!(
                "| {} ({found} of {lookups} found) | {entries} | {p50:.3} ms | {:.3} ms | p50 ≤ {CACHE_P50_MS} ms: {} |",
                if hit { "hit" } else { "miss" },
                ms(percentile(&times, 0.99)),
                if p50 <= CACHE_P50_MS {
                    "met"
                } else {
                    "not met"
                }
            );
        }
    }
    println!();
}
