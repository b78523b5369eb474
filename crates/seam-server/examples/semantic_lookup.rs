//! The semantic cache's lookup, timed without the embedding: the best match among the entries of
//! one partition (384-dimensional unit vectors, as all-MiniLM-L6-v2 gives), at the production cap
//! of entries per partition and at 10,000. Run with
//! `cargo run --release -p seam-server --example semantic_lookup` (or, without a release build of
//! every dependency, the dev profile with this crate optimised: `--config
//! 'profile.dev.package.seam-server.opt-level=3'`; the loop is all in this crate and std).

use std::time::{Duration, Instant};

use bytes::Bytes;
use seam_server::cache::semantic::{Index, PER_PARTITION};
use seam_server::cache::{Answer, Stored};

const DIM: usize = 384;
const LOOKUPS: usize = 2_000;

/// A deterministic unit vector (splitmix64).
fn vector(seed: &mut u64) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM)
        .map(|_| {
            *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = *seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn run(entries: usize) {
    let idx = Index::new(usize::MAX, entries);
    let partition = [7u8; 32];
    let later = Instant::now() + Duration::from_secs(3600);
    let mut seed = 1u64;
    let mut stored = Vec::with_capacity(entries);
    for i in 0..entries {
        let v = vector(&mut seed);
        let answer = Stored {
            route: "mock/gpt-mock".into(),
            answer: Answer::Unary(Bytes::from(format!("{{\"answer\":{i}}}"))),
        };
        idx.insert(partition, &v, answer, 1_000, later);
        if i % (entries / 16).max(1) == 0 {
            stored.push(v);
        }
    }
    assert_eq!(idx.usage().1, entries);
    let mut times = Vec::with_capacity(LOOKUPS);
    let mut hits = 0;
    for i in 0..LOOKUPS {
        // Half are stored questions (hits), half new ones (misses: every entry is compared).
        let q = if i % 2 == 0 {
            stored[i / 2 % stored.len()].clone()
        } else {
            vector(&mut seed)
        };
        let t = Instant::now();
        let found = idx.best(&partition, &q, 0.95, Instant::now());
        times.push(t.elapsed());
        hits += usize::from(found.is_some());
    }
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "{entries:>6} entries × {DIM} dims: lookup p50 {:?}, p99 {:?} ({hits} hits of {LOOKUPS})",
        pct(50),
        pct(99)
    );
}

fn main() {
    run(PER_PARTITION);
    run(10_000);
}
