//! Prints the quality report of the scanner on the names corpus (`PERSON`, `LOCATION`,
//! `STREET_ADDRESS`): `cargo run -p seam-policy --example names_quality [--release] --
//! [THRESHOLD] [--misses] [--seed N] [--dump]`. `--misses` lists every false negative and false
//! positive with its sample; `--dump` prints the corpus itself, one labelled sample per line.
//! The corpus is synthetic, so printing its values is safe.

use seam_policy::Scanner;
use seam_policy::corpus::{self, NameSample};

fn main() {
    let mut threshold = 0.5;
    let mut seed = corpus::NAMES_SEED;
    let mut show_misses = false;
    let mut dump = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--misses" => show_misses = true,
            "--dump" => dump = true,
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            _ => threshold = a.parse().unwrap_or(threshold),
        }
    }
    let samples = corpus::generate_names(seed);
    if dump {
        for (i, s) in samples.iter().enumerate() {
            println!("{i} {} {} {}", s.lang, s.form, marked(s));
        }
        return;
    }
    let scanner = Scanner::all();
    let started = std::time::Instant::now();
    let report = corpus::evaluate_names(&samples, &mut |t| scanner.scan(t), threshold);
    let elapsed = started.elapsed();
    println!("{} samples in {elapsed:.2?}", samples.len());
    println!("{report}");
    if show_misses {
        for m in &report.misses {
            let s = &samples[m.sample];
            let what = if m.false_positive { "FP" } else { "FN" };
            println!(
                "{what} {:<14} {} {:<10} {:?} in {:?}",
                m.entity,
                s.lang,
                s.form,
                &s.text[m.start..m.end],
                s.text
            );
        }
    }
}

/// The sample's text with each label written `[ENTITY: value]`, on one line.
fn marked(s: &NameSample) -> String {
    let mut out = String::new();
    let mut at = 0;
    for l in &s.labels {
        out.push_str(&s.text[at..l.start]);
        out.push_str(&format!("[{}: {}]", l.entity, &s.text[l.start..l.end]));
        at = l.end;
    }
    out.push_str(&s.text[at..]);
    out.replace('\n', "⏎")
}
