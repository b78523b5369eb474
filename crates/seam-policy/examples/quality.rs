//! Prints the quality report of every detector and the injection heuristics on the generated
//! corpus: `cargo run -p seam-policy --example quality [--release] -- [THRESHOLD] [--misses]
//! [--seed N]`. Another seed than the default shows whether the floors hold beyond the corpus they
//! were tuned on.
//! The corpus is synthetic, so printing its values is safe.

use seam_policy::Scanner;
use seam_policy::corpus::{self, Kind};

fn main() {
    let mut threshold = 0.5;
    let mut seed = corpus::SEED;
    let mut show_misses = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--misses" => show_misses = true,
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            _ => threshold = a.parse().unwrap_or(threshold),
        }
    }
    let samples = corpus::generate_with_seed(seed);
    let scanner = Scanner::all();
    let started = std::time::Instant::now();
    let report = corpus::evaluate(&scanner, &samples, threshold);
    let elapsed = started.elapsed();
    println!("{} samples in {elapsed:.2?}", samples.len());
    println!("{report}");
    if show_misses {
        for m in &report.misses {
            let s = &samples[m.sample];
            let what = if m.false_positive { "FP" } else { "FN" };
            println!(
                "{what} {:<26} {:?} in {:?}",
                m.entity,
                &s.text[m.start..m.end],
                s.text
            );
        }
        for s in &samples {
            let a = seam_policy::injection::heuristics(&s.text);
            let wrong = match s.kind {
                Kind::Benign => a.score >= threshold,
                Kind::Injection => a.score < threshold,
                _ => false,
            };
            if wrong {
                println!("INJ {:?} {:.2} {:?}", s.kind, a.score, s.text);
            }
        }
    }
}
