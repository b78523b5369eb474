//! Prompts per second on one core for the injection assessment: the heuristics alone, the
//! classifier alone, and both (what a policy runs), on ~200-byte prompts and on ~1 KB ones, each
//! the fastest of ten passes (the machine is often shared). Prompts are the repository's own
//! corpus (benign and injection, English), cut or joined to size, so the numbers do not depend
//! on the public data being present.
//!
//! `cargo run --release -p seam-policy --example injection_throughput`

#![allow(clippy::print_stdout, reason = "a command-line tool")]

use std::hint::black_box;
use std::time::Instant;

use seam_policy::corpus::{self, Kind};
use seam_policy::injection::{self, classifier};

const ROUNDS: usize = 10;

fn best_per_s(n: usize, mut pass: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        pass();
        best = best.min(start.elapsed().as_secs_f64());
    }
    n as f64 / best
}

/// Texts of about `size` bytes: corpus prompts joined until they reach it, cut at a char boundary.
fn sized(texts: &[String], size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for t in texts.iter().cycle().take(texts.len() * (size / 64 + 1)) {
        cur.push_str(t);
        cur.push(' ');
        if cur.len() >= size {
            let mut end = size;
            while !cur.is_char_boundary(end) {
                end -= 1;
            }
            cur.truncate(end);
            out.push(std::mem::take(&mut cur));
            if out.len() == 2_000 {
                break;
            }
        }
    }
    out
}

fn main() {
    let texts: Vec<String> = corpus::generate()
        .into_iter()
        .filter(|s| match std::env::args().nth(1).as_deref() {
            Some("--benign") => s.kind == Kind::Benign,
            _ => matches!(s.kind, Kind::Benign | Kind::Injection),
        })
        .map(|s| s.text)
        .collect();
    let model = classifier::shipped().map_or(0, |m| m.weights.len());
    println!(
        "model: {} weights of one byte each ({} KiB resident)\n",
        model,
        model / 1024
    );
    println!("| prompts | heuristics/s | classifier/s | both/s | both, µs per prompt |");
    println!("|---|---:|---:|---:|---:|");
    for size in [200, 1024] {
        let prompts = sized(&texts, size);
        let n = prompts.len();
        let h = best_per_s(n, || {
            for p in &prompts {
                black_box(injection::heuristics(p));
            }
        });
        let c = best_per_s(n, || {
            for p in &prompts {
                black_box(classifier::score(p));
            }
        });
        let b = best_per_s(n, || {
            for p in &prompts {
                black_box(injection::assess(p));
            }
        });
        println!(
            "| {n} × ~{size} B | {h:.0} | {c:.0} | {b:.0} | {:.1} |",
            1e6 / b
        );
    }
}
