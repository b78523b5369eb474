//! Time `Embedder::embed` on one thread over chunk-sized texts (the ingestion path): 64 texts
//! of about 200 tokens, 64 of about 30, and one short query.
//! `cargo run --release -p seam-ner --example embed_speed [MODEL_DIR]`; compare with
//! `scripts/minilm-speed-st.py MODEL_DIR` (sentence-transformers, one torch thread, same texts).

use std::time::Instant;

use seam_ner::embed::Embedder;

const SENTENCE: &str = "The quarterly report describes revenue, costs and the outlook for the coming year, and the appendix lists every office with its address and head count.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .or_else(|| seam_ner::fetch::WHEEL_MINILM.default_dir())
        .ok_or("no model directory")?;
    let t = Instant::now();
    let model = Embedder::load(&dir)?;
    println!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let long: Vec<String> = (0..64)
        .map(|i| format!("Section {i}. {}", format!("{SENTENCE} ").repeat(7)))
        .collect();
    let short: Vec<String> = (0..64).map(|i| format!("Item {i}: {SENTENCE}")).collect();
    let query = vec!["how many people work in the Berlin office?".to_string()];
    for (name, texts, iters) in [
        ("64 chunks", &long, 3),
        ("64 sentences", &short, 5),
        ("1 query", &query, 50),
    ] {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = refs
            .iter()
            .map(|t| model.count_tokens(t).min(model.max_tokens() - 2) + 2)
            .sum();
        let _ = model.embed(&refs);
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(model.embed(std::hint::black_box(&refs)));
        }
        let s = t.elapsed().as_secs_f64() / f64::from(iters);
        println!(
            "{name} ({} tokens each): {:.1} ms per call, {:.2} ms per text, {:.0} tokens/s",
            tokens / refs.len(),
            s * 1e3,
            s * 1e3 / refs.len() as f64,
            tokens as f64 / s
        );
    }
    Ok(())
}
