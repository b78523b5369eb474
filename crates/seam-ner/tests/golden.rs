#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The encoder against onnxruntime: `scripts/ner-golden.py` wrote the token ids, logits and
//! argmax labels of fixed sentences; the Rust tokenizer and encoder must reproduce them.

use std::path::PathBuf;

use seam_ner::Model;

fn model_dir() -> Option<PathBuf> {
    let dir = seam_ner::default_dir().filter(|d| d.join("model_q4.onnx").is_file());
    if dir.is_none() {
        assert!(
            std::env::var("SEAM_REQUIRE_MODELS").as_deref() != Ok("1"),
            "SEAM_REQUIRE_MODELS=1 but no model in {:?}",
            seam_ner::default_dir()
        );
        eprintln!("skipped: no model installed; run `seam models fetch` (or set SEAM_MODELS_DIR)");
    }
    dir
}

fn model() -> Option<Model> {
    let dir = model_dir()?;
    Some(Model::load(&dir).unwrap())
}

#[derive(serde::Deserialize)]
struct Golden {
    sentences: Vec<Sentence>,
}

#[derive(serde::Deserialize)]
struct Sentence {
    text: String,
    ids: Vec<u32>,
    logits: Vec<Vec<f32>>,
    labels: Vec<String>,
}

const ALL_LABELS: [&str; 35] = [
    "O",
    "B-GIVEN_NAME",
    "I-GIVEN_NAME",
    "B-SURNAME",
    "I-SURNAME",
    "B-EMAIL",
    "I-EMAIL",
    "B-PHONE",
    "I-PHONE",
    "B-URL",
    "I-URL",
    "B-TAX_ID",
    "I-TAX_ID",
    "B-BANK_ACCOUNT",
    "I-BANK_ACCOUNT",
    "B-ROUTING_NUMBER",
    "I-ROUTING_NUMBER",
    "B-GOVERNMENT_ID",
    "I-GOVERNMENT_ID",
    "B-PASSPORT",
    "I-PASSPORT",
    "B-DRIVERS_LICENSE",
    "I-DRIVERS_LICENSE",
    "B-BUILDING_NUMBER",
    "I-BUILDING_NUMBER",
    "B-STREET_NAME",
    "I-STREET_NAME",
    "B-SECONDARY_ADDRESS",
    "I-SECONDARY_ADDRESS",
    "B-CITY",
    "I-CITY",
    "B-STATE",
    "I-STATE",
    "B-ZIP_CODE",
    "I-ZIP_CODE",
];

#[test]
fn tokens_and_logits_match_onnxruntime() {
    let Some(model) = model() else { return };
    let golden: Golden =
        serde_json::from_str(include_str!("golden.json")).expect("golden.json parses");
    let mut overall = 0f32;
    for s in &golden.sentences {
        let toks = model.tokenizer().tokenize(&s.text);
        let ids: Vec<u32> = toks.iter().map(|t| t.id).collect();
        assert_eq!(ids, s.ids[1..s.ids.len() - 1], "token ids of {:?}", s.text);
        let logits = model.logits(&ids);
        assert_eq!(logits.len(), s.logits.len(), "{:?}", s.text);
        let mut worst = 0f32;
        for (pos, (got, want)) in logits.iter().zip(&s.logits).enumerate() {
            for (g, w) in got.iter().zip(want) {
                worst = worst.max((g - w).abs());
            }
            let arg = got
                .iter()
                .enumerate()
                .fold(0, |b, (i, v)| if *v > got[b] { i } else { b });
            assert_eq!(
                ALL_LABELS[arg], s.labels[pos],
                "label at {pos} of {:?}",
                s.text
            );
        }
        assert!(worst < 2e-3, "logits of {:?} differ by {worst}", s.text);
        overall = overall.max(worst);
    }
    eprintln!("largest logit difference from onnxruntime: {overall:.2e}");
}

#[test]
fn tags_name_the_words_of_each_entity() {
    let Some(model) = model() else { return };
    let texts = [
        "My name is John Smith and I live at 12 Baker Street, London.",
        "Herr Jürgen Müller wohnt in der Hauptstraße 5, 10115 Berlin.",
        "Nothing personal here: the weather is nice today.",
    ];
    let tags = model.tag(&texts);
    let show = |i: usize| -> Vec<(&str, &str)> {
        tags[i]
            .iter()
            .map(|t| (t.label, &texts[i][t.start..t.end]))
            .collect()
    };
    assert_eq!(
        show(0),
        vec![
            ("GIVEN_NAME", "John"),
            ("SURNAME", "Smith"),
            ("BUILDING_NUMBER", "12"),
            ("STREET_NAME", "Baker Street"),
            ("CITY", "London"),
        ]
    );
    assert_eq!(
        show(1),
        vec![
            ("GIVEN_NAME", "Jürgen"),
            ("SURNAME", "Müller"),
            ("STREET_NAME", "Hauptstraße"),
            ("BUILDING_NUMBER", "5"),
            ("ZIP_CODE", "10115"),
            ("CITY", "Berlin"),
        ]
    );
    assert!(tags[2].is_empty(), "{:?}", tags[2]);
    for t in tags.iter().flatten() {
        assert!(t.score > 0.5 && t.score <= 1.0001, "{t:?}");
    }
    assert!(model.labels().contains(&"STREET_NAME"));
}

#[test]
fn long_texts_are_windowed_and_match_short_ones() {
    let Some(model) = model() else { return };
    let filler = "The committee reviewed the quarterly figures and agreed on the next steps. ";
    let sentence = "My name is John Smith and I live at 12 Baker Street, London.";
    // Over 1,000 tokens: the sentence sits in a late window, far past position 512.
    let long = format!("{}{sentence} {}", filler.repeat(60), filler.repeat(20));
    assert!(model.tokenizer().tokenize(&long).len() > 1000);
    let at = filler.len() * 60;
    let short: Vec<(&str, usize, usize)> = model.tag(&[sentence])[0]
        .iter()
        .map(|t| (t.label, t.start + at, t.end + at))
        .collect();
    let tags = model.tag(&[&long, sentence]);
    let got: Vec<(&str, usize, usize)> =
        tags[0].iter().map(|t| (t.label, t.start, t.end)).collect();
    assert_eq!(got, short);
    assert_eq!(&long[got[3].1..got[3].2], "Baker Street");
}
