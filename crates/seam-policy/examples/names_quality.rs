//! Prints the quality report of the scanner on the names corpus (`PERSON`, `LOCATION`,
//! `STREET_ADDRESS`): `cargo run -p seam-policy --example names_quality [--release] --
//! [THRESHOLD] [--misses] [--seed N] [--dump]`. `--misses` lists every false negative and false
//! positive with its sample; `--dump` prints the corpus itself, one labelled sample per line.
//! The corpus is synthetic, so printing its values is safe.
//!
//! `--model rules|model|fused` (default `fused` when the named-entity model is installed, see
//! `seam models fetch`; `SEAM_MODELS_DIR`): rules alone, the model alone (its labels mapped to the
//! three entities, adjacent spans of one entity merged, nothing else), or both through the names
//! detector as a policy runs them. Prints texts per second, one thread.

use std::sync::Arc;

use seam_policy::corpus::{self, NameSample};
use seam_policy::{Finding, Scanner, Tag, Tagger};

struct Model(seam_ner::Model);

impl Tagger for Model {
    fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>> {
        self.0
            .tag(texts)
            .into_iter()
            .map(|v| {
                v.into_iter()
                    .map(|t| Tag {
                        label: t.label,
                        start: t.start,
                        end: t.end,
                        score: t.score,
                    })
                    .collect()
            })
            .collect()
    }
}

/// The model's tags as the three entities, with no rule: what the model alone would mask.
fn model_alone(model: &Model, text: &str) -> Vec<Finding> {
    let norm = Scanner::model_input(text);
    if norm != text {
        // The corpus is plain text; a normalised form would need the offset map.
        return Vec::new();
    }
    let mut out: Vec<Finding> = Vec::new();
    for t in model.tag(&[text]).pop().unwrap_or_default() {
        let entity = match t.label {
            "GIVEN_NAME" | "SURNAME" => "PERSON",
            "CITY" | "STATE" => "LOCATION",
            "BUILDING_NUMBER" | "STREET_NAME" | "SECONDARY_ADDRESS" => "STREET_ADDRESS",
            _ => continue,
        };
        if let Some(last) = out.last_mut()
            && last.entity == entity
            && text[last.end..t.start]
                .chars()
                .all(|c| c.is_whitespace() || c == ',')
        {
            last.end = t.end;
            last.score = last.score.max(t.score);
            continue;
        }
        out.push(Finding {
            entity,
            start: t.start,
            end: t.end,
            score: t.score,
            detector: "model",
        });
    }
    out
}

fn main() {
    let mut threshold = 0.5;
    let mut seed = corpus::NAMES_SEED;
    let mut show_misses = false;
    let mut dump = false;
    let mut mode = String::from("fused");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--misses" => show_misses = true,
            "--dump" => dump = true,
            "--model" => mode = args.next().unwrap_or(mode),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            _ => threshold = a.parse().unwrap_or(threshold),
        }
    }
    if std::env::args().any(|a| a == "--traffic") {
        traffic();
        return;
    }
    let samples = corpus::generate_names(seed);
    if dump {
        for (i, s) in samples.iter().enumerate() {
            println!("{i} {} {} {}", s.lang, s.form, marked(s));
        }
        return;
    }
    let model = seam_ner::default_dir()
        .filter(|d| d.join("model_q4.onnx").is_file())
        .and_then(|d| seam_ner::Model::load(&d).ok())
        .map(|m| Arc::new(Model(m)));
    let mode = match (&model, mode.as_str()) {
        (None, _) => "rules",
        (Some(_), "rules") => "rules",
        (Some(_), "model") => "model",
        _ => "fused",
    };
    let scanner = match (&model, mode) {
        (Some(m), "fused") => Scanner::all().with_tagger(Arc::clone(m) as Arc<dyn Tagger>),
        _ => Scanner::all(),
    };
    let tagging = if mode == "fused" {
        seam_policy::Tagging::Inline(usize::MAX)
    } else {
        seam_policy::Tagging::Off
    };
    let started = std::time::Instant::now();
    let report = corpus::evaluate_names(
        &samples,
        &mut |t| match (&model, mode) {
            (Some(m), "model") => model_alone(m, t),
            _ => scanner.scan_tagged(t, tagging),
        },
        threshold,
    );
    let elapsed = started.elapsed();
    if mode == "fused" {
        let ran = samples
            .iter()
            .filter(|s| scanner.needs_model(&Scanner::model_input(&s.text)))
            .count();
        println!(
            "the model ran on {ran} of {} texts (the rules settled the rest)",
            samples.len()
        );
    }
    let bytes: usize = samples.iter().map(|s| s.text.len()).sum();
    println!(
        "{mode}: {} samples ({} bytes, mean {:.0}) in {elapsed:.2?}: {:.0} texts/s, {:.2} MB/s",
        samples.len(),
        bytes,
        bytes as f64 / samples.len() as f64,
        samples.len() as f64 / elapsed.as_secs_f64(),
        bytes as f64 / elapsed.as_secs_f64() / 1e6
    );
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

/// `--traffic`: the structured corpus's 1,200 benign prompts (ordinary requests to an LLM, most
/// without a name) through rules and model as a policy runs them: how often the model runs, and
/// texts per second.
fn traffic() {
    let Some(model) = seam_ner::default_dir()
        .filter(|d| d.join("model_q4.onnx").is_file())
        .and_then(|d| seam_ner::Model::load(&d).ok())
    else {
        println!("no model installed");
        return;
    };
    let scanner = Scanner::all().with_tagger(Arc::new(Model(model)));
    let prompts: Vec<String> = corpus::generate()
        .into_iter()
        .filter(|s| s.kind == corpus::Kind::Benign)
        .map(|s| s.text)
        .collect();
    let ran = prompts
        .iter()
        .filter(|p| scanner.needs_model(&Scanner::model_input(p)))
        .count();
    let bytes: usize = prompts.iter().map(String::len).sum();
    let show = std::env::args().any(|a| a == "--misses");
    let started = std::time::Instant::now();
    let mut found = 0;
    for p in &prompts {
        for f in scanner
            .scan_tagged(p, seam_policy::Tagging::Inline(usize::MAX))
            .iter()
            .filter(|f| {
                f.score >= 0.5 && ["PERSON", "LOCATION", "STREET_ADDRESS"].contains(&f.entity)
            })
        {
            found += 1;
            if show {
                println!("{} {:?} in {p:?}", f.entity, &p[f.start..f.end]);
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "benign prompts: {} (mean {:.0} bytes); the model ran on {ran}; {found} names/places found; {:.0} texts/s",
        prompts.len(),
        bytes as f64 / prompts.len() as f64,
        prompts.len() as f64 / elapsed.as_secs_f64()
    );
}
