//! Trains the injection classifier on the public sets' training splits and writes the model the
//! binary ships. Deterministic: the same data and flags give the same bytes.
//!
//! ```text
//! scripts/injection-data.py                       # target/injection-data/injection.jsonl
//! cargo run --release -p seam-policy --example injection_train
//! cargo run --release -p seam-policy --example injection_quality
//! ```
//!
//! Logistic regression with AdaGrad, L2 on the weights touched, classes weighted to balance.
//! The operating point is chosen on the prompt sets' validation splits (the best F1 whose
//! false-positive rate is at most `--max-fpr`) and mapped to 0.8, the policy default threshold.
//!
//! Flags: `--data FILE`, `--out FILE`, `--bits N` (18), `--window N` (32), `--epochs N` (12),
//! `--lr X` (0.3), `--l2 X` (1e-6), `--max-fpr X` (0.02), `--without SOURCE` (leave a source out
//! of training), `--without-injections-in LANG` (train on no injection in that language, to
//! measure one the model never saw attacked in), `--no-own` (leave out Seam's own
//! generated prompts, which are otherwise added from a seed the reports do not use), `--own-weight X`
//! (4: how much one of those counts against one public sample; they are few, and they are the hard
//! negatives developers write).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

use std::process::ExitCode;

use seam_policy::corpus::{self, Binary, Kind, PublicSample, Role, parse_public};
use seam_policy::injection::classifier::{Features, Model, features, sigmoid};

/// The seed of the own corpus used for training; reports use [`corpus::SEED`].
const OWN_SEED: u64 = 0x5EA3_7EA1_2026_0017;

struct Args {
    data: String,
    out: String,
    bits: u32,
    window: u32,
    epochs: usize,
    lr: f32,
    l2: f32,
    max_fpr: f64,
    without: Vec<String>,
    without_lang: Vec<String>,
    own: bool,
    own_weight: f32,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        data: "target/injection-data/injection.jsonl".into(),
        out: "crates/seam-policy/data/injection/model.bin".into(),
        bits: 18,
        window: 32,
        epochs: 12,
        lr: 0.3,
        l2: 1e-6,
        max_fpr: 0.02,
        without: Vec::new(),
        without_lang: Vec::new(),
        own: true,
        own_weight: 4.0,
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(flag) = it.next() {
        if flag == "--no-own" {
            a.own = false;
            continue;
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--data" => a.data = value()?,
            "--out" => a.out = value()?,
            "--bits" => a.bits = value()?.parse().map_err(|e| bad(&e))?,
            "--window" => a.window = value()?.parse().map_err(|e| bad(&e))?,
            "--epochs" => a.epochs = value()?.parse().map_err(|e| bad(&e))?,
            "--lr" => a.lr = value()?.parse().map_err(|e| bad(&e))?,
            "--l2" => a.l2 = value()?.parse().map_err(|e| bad(&e))?,
            "--max-fpr" => a.max_fpr = value()?.parse().map_err(|e| bad(&e))?,
            "--without" => a.without.push(value()?),
            "--without-injections-in" => a.without_lang.push(value()?),
            "--own-weight" => a.own_weight = value()?.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("injection_train: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let a = args()?;
    let text = std::fs::read_to_string(&a.data)
        .map_err(|e| format!("{}: {e} (run scripts/injection-data.py first)", a.data))?;
    let samples = parse_public(&text)?;
    let used = |s: &&PublicSample| {
        let left_out = a.without.contains(&s.source);
        let unseen_language = s.injection() && a.without_lang.contains(&s.lang);
        !left_out && !unseen_language
    };
    let train: Vec<&PublicSample> = samples
        .iter()
        .filter(|s| s.role() == Role::Train)
        .filter(used)
        .collect();
    // Calibration on the prompt sets' validation splits: the false-positive budget is about
    // benign prompts, which UI strings (Django's held-out fifth) would make look easy.
    let valid: Vec<&PublicSample> = samples
        .iter()
        .filter(|s| s.role() == Role::Validation && s.source != "django")
        .collect();
    let mut feats: Vec<(Features, bool, f32)> = train
        .iter()
        .map(|s| (features(&s.text, a.bits), s.injection(), 1.0))
        .collect();
    if a.own {
        // Seam's own prompts from another seed than the one reports use: the hard negatives
        // people write ("ignore the typos", "act as a reviewer") and the attack forms it knows.
        // Texts the reports' corpus holds too (its fixed lists: paraphrases, role spoofs, hard
        // negatives written out) stay out, so the own-corpus report measures them unseen.
        let reported: std::collections::HashSet<String> =
            corpus::generate().into_iter().map(|s| s.text).collect();
        let multilingual = corpus::multilingual_prompts(0).into_iter().map(|(_, s)| s);
        for s in corpus::generate_with_seed(OWN_SEED)
            .into_iter()
            .chain(multilingual)
        {
            if reported.contains(&s.text) {
                continue;
            }
            match s.kind {
                Kind::Benign => feats.push((features(&s.text, a.bits), false, a.own_weight)),
                Kind::Injection => feats.push((features(&s.text, a.bits), true, a.own_weight)),
                _ => {}
            }
        }
    }
    let pos = feats.iter().filter(|(_, y, _)| *y).count();
    let neg = feats.len() - pos;
    println!(
        "training on {} texts ({pos} injections, {neg} benign), {} bits",
        feats.len(),
        a.bits
    );
    let class_weight = |y: bool| {
        let n = feats.len() as f32;
        if y {
            n / (2.0 * pos.max(1) as f32)
        } else {
            n / (2.0 * neg.max(1) as f32)
        }
    };
    let size = 1usize << a.bits;
    let mut w = vec![0f32; size];
    let mut g2 = vec![1e-8f32; size];
    let mut bias = 0f32;
    let mut bias_g2 = 1e-8f32;
    let mut order: Vec<usize> = (0..feats.len()).collect();
    let mut rng = 0x5EA3_1A7E_C7ED_0001u64;
    for epoch in 0..a.epochs {
        shuffle(&mut order, &mut rng);
        let mut loss = 0f64;
        for &i in &order {
            let (f, y, weight) = &feats[i];
            let z = logit(&w, bias, f);
            let p = sigmoid(z);
            let target = if *y { 1.0 } else { 0.0 };
            let cw = class_weight(*y) * weight;
            loss -= f64::from(
                cw * if *y {
                    p.max(1e-7).ln()
                } else {
                    (1.0 - p).max(1e-7).ln()
                },
            );
            let g = cw * (p - target);
            for (ids, norm) in groups(f) {
                for &id in ids {
                    let id = id as usize;
                    let grad = g * norm + a.l2 * w[id];
                    g2[id] += grad * grad;
                    w[id] -= a.lr * grad / g2[id].sqrt();
                }
            }
            bias_g2 += g * g;
            bias -= a.lr * g / bias_g2.sqrt();
        }
        println!(
            "epoch {:>2}: mean loss {:.4}",
            epoch + 1,
            loss / feats.len() as f64
        );
    }
    // Calibrate on validation with the quantised weights, which are what ships.
    let draft = Model::quantise(a.bits, a.window, bias, 0.0, &w);
    let mut scored: Vec<(f32, bool)> = valid
        .iter()
        .map(|s| {
            let p = draft.score(&s.text).clamp(1e-7, 1.0 - 1e-7);
            ((p / (1.0 - p)).ln(), s.injection())
        })
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
    let (vpos, vneg) = (
        scored.iter().filter(|(_, y)| *y).count(),
        scored.iter().filter(|(_, y)| !*y).count(),
    );
    let mut best: Option<(f64, f32, Binary)> = None;
    let mut b = Binary {
        fn_: vpos,
        tn: vneg,
        ..Binary::default()
    };
    for (k, &(z, y)) in scored.iter().enumerate() {
        if y {
            b.tp += 1;
            b.fn_ -= 1;
        } else {
            b.fp += 1;
            b.tn -= 1;
        }
        let next = scored.get(k + 1).map_or(f32::NEG_INFINITY, |n| n.0);
        if next == z || b.fpr() > a.max_fpr {
            continue;
        }
        if best.as_ref().is_none_or(|(f1, _, _)| b.f1() > *f1) {
            // The cut halfway to the next score, so validation texts sit off the boundary.
            let cut = if next.is_finite() {
                (z + next) / 2.0
            } else {
                z - 1.0
            };
            best = Some((b.f1(), cut, b));
        }
    }
    let (f1, cut, vb) = best.ok_or("no operating point meets --max-fpr on validation")?;
    println!(
        "validation: {} texts; at the operating point precision {:.4} recall {:.4} f1 {f1:.4} fpr {:.4}",
        valid.len(),
        vb.precision(),
        vb.recall(),
        vb.fpr()
    );
    // score = sigmoid(z − offset); the cut maps to 0.8, whose logit is ln 4.
    let offset = cut - 4f32.ln();
    let model = Model::quantise(a.bits, a.window, bias, offset, &w);
    std::fs::write(&a.out, model.to_bytes()).map_err(|e| format!("{}: {e}", a.out))?;
    let nonzero = model.weights.iter().filter(|q| **q != 0).count();
    println!(
        "wrote {} ({} bytes; {nonzero} of {size} weights non-zero; bias {:.3}, offset {:.3})",
        a.out,
        model.to_bytes().len(),
        model.bias,
        model.offset
    );
    Ok(())
}

fn groups(f: &Features) -> [(&[u32], f32); 2] {
    let norm = |n: usize| if n == 0 { 0.0 } else { 1.0 / (n as f32).sqrt() };
    [
        (&f.words, norm(f.words.len())),
        (&f.chars, norm(f.chars.len())),
    ]
}

fn logit(w: &[f32], bias: f32, f: &Features) -> f32 {
    bias + groups(f)
        .iter()
        .map(|(ids, norm)| ids.iter().map(|&i| w[i as usize]).sum::<f32>() * norm)
        .sum::<f32>()
}

/// Fisher–Yates with xorshift64*: the same order on every machine.
fn shuffle(v: &mut [usize], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}
