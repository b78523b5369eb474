//! Time `Model::tag` on one thread: a 30-token text, a 250-token text, a batch of 8 × 30.
//! `cargo run --release -p seam-ner --example speed [MODEL_DIR]`; compare with
//! `scripts/ner-speed-ort.py MODEL_DIR` (onnxruntime, one thread, the same texts).

use std::time::Instant;

use seam_ner::Model;

/// 30 tokens without [CLS]/[SEP] (printed with each timing).
const SHORT: &str = "Hi, I am Maria Garcia and I moved to 350 Fifth Avenue, New York last year with my husband, our two children and the old dog.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .or_else(seam_ner::default_dir)
        .ok_or("no model directory")?;
    let t = Instant::now();
    let model = Model::load(&dir)?;
    println!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let long = long_text(&model, 250);
    let short_n = model.tokenizer().tokenize(SHORT).len();
    let long_n = model.tokenizer().tokenize(&long).len();
    let batch = [SHORT; 8];
    for (name, texts, n) in [
        (format!("1 x {short_n} tokens"), vec![SHORT], 1),
        (format!("1 x {long_n} tokens"), vec![long.as_str()], 1),
        (format!("8 x {short_n} tokens"), batch.to_vec(), 8),
    ] {
        let _ = model.tag(&texts);
        let iters = 30;
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(model.tag(std::hint::black_box(&texts)));
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(iters);
        println!(
            "{name}: {ms:.2} ms per call, {:.2} ms per text",
            ms / f64::from(n)
        );
    }
    Ok(())
}

/// The short text repeated, cut to `n` tokens at a word boundary.
fn long_text(model: &Model, n: usize) -> String {
    let text = format!("{SHORT} ").repeat(n / 20 + 2);
    let toks = model.tokenizer().tokenize(&text);
    text[..toks[n - 1].range.end].to_string()
}
