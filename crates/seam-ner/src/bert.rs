//! The encoder: BERT embeddings, N post-LayerNorm transformer layers and a token classifier,
//! weights dequantised to f32 at load, every linear layer one `sgemm` on one thread.

use crate::onnx::{Graph, Tensor};

/// Why the ONNX graph is not the model this encoder runs.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// A tensor the encoder needs is absent.
    #[error("model: tensor {0:?} is missing")]
    Missing(String),
    /// A tensor has the wrong type or shape.
    #[error("model: tensor {0:?} has an unexpected type or shape")]
    Shape(String),
    /// A linear layer the encoder needs has no `MatMulNBits` node.
    #[error("model: no MatMulNBits node for {0}")]
    NoNode(String),
}

/// Architecture numbers.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// Hidden size.
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward inner size.
    pub intermediate: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Output classes.
    pub labels: usize,
    /// Position embeddings (longest sequence).
    pub max_positions: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
}

/// A dense layer: `y = x · W + b`, `W` stored `[in, out]` row-major.
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    k: usize,
    n: usize,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value fused: one GEMM produces `[q | k | v]` per token.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
}

/// The loaded encoder.
pub struct Bert {
    dims: Dims,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    classifier: Linear,
}

fn tensor<'g>(g: &'g Graph<'_>, name: &str) -> Result<&'g Tensor<'g>, WeightsError> {
    g.initializers
        .get(name)
        .ok_or_else(|| WeightsError::Missing(name.to_string()))
}

fn f32s(g: &Graph<'_>, name: &str, len: usize) -> Result<Vec<f32>, WeightsError> {
    let v = tensor(g, name)?
        .to_f32()
        .ok_or_else(|| WeightsError::Shape(name.to_string()))?;
    if v.len() != len {
        return Err(WeightsError::Shape(name.to_string()));
    }
    Ok(v)
}

/// `(q - zero_point) * scale` for an embedding table quantised per tensor.
fn embedding(
    g: &Graph<'_>,
    stem: &str,
    rows: usize,
    cols: usize,
) -> Result<Vec<f32>, WeightsError> {
    let qname = format!("{stem}_quantized");
    let q = tensor(g, &qname)?
        .to_u8()
        .ok_or_else(|| WeightsError::Shape(qname.clone()))?;
    if q.len() != rows * cols {
        return Err(WeightsError::Shape(qname));
    }
    let sname = format!("{stem}_scale");
    let scale = *f32s(g, &sname, 1)?
        .first()
        .ok_or(WeightsError::Shape(sname))?;
    let zname = format!("{stem}_zero_point");
    let zp = *tensor(g, &zname)?
        .to_u8()
        .filter(|z| z.len() == 1)
        .ok_or_else(|| WeightsError::Shape(zname.clone()))?
        .first()
        .ok_or(WeightsError::Shape(zname))?;
    let zp = f32::from(zp);
    Ok(q.iter().map(|&x| (f32::from(x) - zp) * scale).collect())
}

/// Dequantises the `MatMulNBits` node called `node` into a `[K, N]` matrix plus its bias.
fn linear(
    g: &Graph<'_>,
    node: &str,
    bias: &str,
    k: usize,
    n: usize,
) -> Result<Linear, WeightsError> {
    let nd = g
        .nodes
        .iter()
        .find(|x| x.name == node && x.op_type == "MatMulNBits")
        .ok_or_else(|| WeightsError::NoNode(node.to_string()))?;
    let bad = || WeightsError::Shape(node.to_string());
    let attr = |a: &str| nd.ints.get(a).copied();
    if attr("K") != Some(k as i64) || attr("N") != Some(n as i64) || attr("bits") != Some(4) {
        return Err(bad());
    }
    let block = usize::try_from(attr("block_size").unwrap_or(32)).map_err(|_| bad())?;
    // Zero points other than the default 8 would be a fourth input; this model has none.
    if block == 0 || block % 2 != 0 || nd.inputs.len() != 3 {
        return Err(bad());
    }
    let blocks = k.div_ceil(block);
    let qname = nd.inputs.get(1).ok_or_else(bad)?;
    let sname = nd.inputs.get(2).ok_or_else(bad)?;
    let q = tensor(g, qname)?.to_u8().ok_or_else(bad)?;
    let scales = f32s(g, sname, n * blocks)?;
    if q.len() != n * blocks * block / 2 {
        return Err(bad());
    }
    let mut w = vec![0f32; k * n];
    for row in 0..n {
        for kk in 0..k {
            let (b, i) = (kk / block, kk % block);
            let byte = q[(row * blocks + b) * (block / 2) + i / 2];
            // Two 4-bit values per byte, the low nibble first.
            let nib = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            w[kk * n + row] = (f32::from(nib) - 8.0) * scales[row * blocks + b];
        }
    }
    Ok(Linear {
        w,
        b: f32s(g, bias, n)?,
        k,
        n,
    })
}

fn norm(g: &Graph<'_>, stem: &str, n: usize) -> Result<Norm, WeightsError> {
    Ok(Norm {
        gamma: f32s(g, &format!("{stem}.weight"), n)?,
        beta: f32s(g, &format!("{stem}.bias"), n)?,
    })
}

/// Concatenates layers that read the same input into one whose outputs sit side by side.
fn fuse(parts: [Linear; 3]) -> Linear {
    let k = parts[0].k;
    let n: usize = parts.iter().map(|p| p.n).sum();
    let mut w = Vec::with_capacity(k * n);
    for row in 0..k {
        for p in &parts {
            w.extend_from_slice(&p.w[row * p.n..(row + 1) * p.n]);
        }
    }
    let b = parts.iter().flat_map(|p| p.b.iter().copied()).collect();
    Linear { w, b, k, n }
}

impl Bert {
    /// Builds the encoder from the graph's initializers and `MatMulNBits` nodes.
    pub fn from_graph(g: &Graph<'_>, dims: Dims, vocab: usize) -> Result<Self, WeightsError> {
        let h = dims.hidden;
        let mut layers = Vec::with_capacity(dims.layers);
        for l in 0..dims.layers {
            let node = |p: &str| format!("/bert/encoder/layer.{l}/{p}/MatMul_Q4");
            let p = |s: &str| format!("bert.encoder.layer.{l}.{s}");
            let lin = |n: &str, b: &str, k, nn| linear(g, &node(n), &p(b), k, nn);
            layers.push(Layer {
                qkv: fuse([
                    lin("attention/self/query", "attention.self.query.bias", h, h)?,
                    lin("attention/self/key", "attention.self.key.bias", h, h)?,
                    lin("attention/self/value", "attention.self.value.bias", h, h)?,
                ]),
                attn_out: lin(
                    "attention/output/dense",
                    "attention.output.dense.bias",
                    h,
                    h,
                )?,
                attn_norm: norm(g, &p("attention.output.LayerNorm"), h)?,
                inter: lin(
                    "intermediate/dense",
                    "intermediate.dense.bias",
                    h,
                    dims.intermediate,
                )?,
                out: lin("output/dense", "output.dense.bias", dims.intermediate, h)?,
                out_norm: norm(g, &p("output.LayerNorm"), h)?,
            });
        }
        Ok(Bert {
            dims,
            word: embedding(g, "bert.embeddings.word_embeddings.weight", vocab, h)?,
            position: embedding(
                g,
                "bert.embeddings.position_embeddings.weight",
                dims.max_positions,
                h,
            )?,
            token_type: embedding(g, "bert.embeddings.token_type_embeddings.weight", 2, h)?,
            emb_norm: norm(g, "bert.embeddings.LayerNorm", h)?,
            layers,
            classifier: linear(
                g,
                "/classifier/MatMul_Q4",
                "classifier.bias",
                h,
                dims.labels,
            )?,
        })
    }

    /// Architecture numbers.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Number of vocabulary rows.
    pub fn vocab(&self) -> usize {
        self.word.len() / self.dims.hidden
    }

    /// Logits `[seq.len() × max_len × labels]` for a batch of id sequences, padded to the
    /// longest; rows past a sequence's end are padding. Ids must be below `vocab()` and no
    /// sequence longer than `max_positions` (the caller windows longer texts).
    pub fn forward(&self, seqs: &[Vec<u32>]) -> (usize, Vec<f32>) {
        let d = self.dims;
        let h = d.hidden;
        let len = seqs
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .min(d.max_positions);
        let batch = seqs.len();
        let rows = batch * len;
        if rows == 0 {
            return (len, Vec::new());
        }
        let mut x = vec![0f32; rows * h];
        for (b, s) in seqs.iter().enumerate() {
            for p in 0..len {
                let id = s.get(p).copied().unwrap_or(0) as usize;
                let id = if id < self.vocab() { id } else { 0 };
                let dst = &mut x[(b * len + p) * h..(b * len + p + 1) * h];
                let (wr, pr, tr) = (
                    &self.word[id * h..(id + 1) * h],
                    &self.position[p * h..(p + 1) * h],
                    &self.token_type[..h],
                );
                for i in 0..h {
                    dst[i] = wr[i] + pr[i] + tr[i];
                }
            }
        }
        layer_norm(&mut x, &self.emb_norm, h, d.eps);

        let mut qkv = vec![0f32; rows * 3 * h];
        let mut ctx = vec![0f32; rows * h];
        let mut tmp = vec![0f32; rows * h];
        let mut inter = vec![0f32; rows * d.intermediate];
        let mut scores = vec![0f32; len * len];
        let head = h / d.heads;
        let scale = 1.0 / (head as f32).sqrt();
        for layer in &self.layers {
            dense(&x, rows, &layer.qkv, &mut qkv);
            for (b, s) in seqs.iter().enumerate() {
                let valid = s.len().min(len);
                let base = b * len * 3 * h;
                for hd in 0..d.heads {
                    let q = &qkv[base + hd * head..];
                    let k = &qkv[base + h + hd * head..];
                    // scores[len × valid] = Q_h · K_hᵀ over the sequence's real tokens only:
                    // padding keys are masked out, so they need no scores at all.
                    sgemm(
                        len,
                        head,
                        valid,
                        scale,
                        (q, 3 * h, 1),
                        (k, 1, 3 * h),
                        0.0,
                        (&mut scores, valid, 1),
                    );
                    for r in 0..len {
                        softmax(&mut scores[r * valid..(r + 1) * valid]);
                    }
                    let v = &qkv[base + 2 * h + hd * head..];
                    sgemm(
                        len,
                        valid,
                        head,
                        1.0,
                        (&scores, valid, 1),
                        (v, 3 * h, 1),
                        0.0,
                        (&mut ctx[b * len * h + hd * head..], h, 1),
                    );
                }
            }
            dense(&ctx, rows, &layer.attn_out, &mut tmp);
            add_norm(&mut x, &tmp, &layer.attn_norm, h, d.eps);
            dense(&x, rows, &layer.inter, &mut inter);
            inter.iter_mut().for_each(|v| *v = gelu(*v));
            dense(&inter, rows, &layer.out, &mut tmp);
            add_norm(&mut x, &tmp, &layer.out_norm, h, d.eps);
        }
        let mut logits = vec![0f32; rows * d.labels];
        dense(&x, rows, &self.classifier, &mut logits);
        (len, logits)
    }
}

use crate::gemm::sgemm;

fn dense(x: &[f32], rows: usize, l: &Linear, out: &mut [f32]) {
    for r in 0..rows {
        out[r * l.n..(r + 1) * l.n].copy_from_slice(&l.b);
    }
    sgemm(
        rows,
        l.k,
        l.n,
        1.0,
        (x, l.k, 1),
        (&l.w, l.n, 1),
        1.0,
        (out, l.n, 1),
    );
}

fn layer_norm(x: &mut [f32], n: &Norm, h: usize, eps: f32) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (i, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * n.gamma[i] + n.beta[i];
        }
    }
}

fn add_norm(x: &mut [f32], y: &[f32], n: &Norm, h: usize, eps: f32) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
    layer_norm(x, n, h, eps);
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// The exact GELU, `x/2 · (1 + erf(x/√2))`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf to within about 1.2e-7 (Numerical Recipes' `erfc` Chebyshev fit), in f64.
fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let e = 1.0 - r;
    (if x >= 0.0 { e } else { -e }) as f32
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
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x})");
        }
    }

    #[test]
    fn sgemm_multiplies_strided_views() {
        // [1 2; 3 4] · [5 6; 7 8]ᵀ (B read transposed through its strides).
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        sgemm(2, 2, 2, 1.0, (&a, 2, 1), (&b, 1, 2), 0.0, (&mut c, 2, 1));
        assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
    }
}
