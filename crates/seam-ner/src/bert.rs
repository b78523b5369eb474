//! The encoder: BERT embeddings, N post-LayerNorm transformer layers and, for NER, a token
//! classifier; weights dequantised to f32 at load (or taken as f32 from safetensors), every
//! linear layer one `sgemm` on one thread.

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
    /// Output classes (0 for an encoder without a classifier head).
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
    /// The token classifier; `None` for a plain encoder (sentence embeddings).
    classifier: Option<Linear>,
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

/// What [`Bert::from_tensors`] reads tensors through.
type Take<'a> = &'a mut dyn FnMut(&str, &[usize]) -> Result<Vec<f32>, WeightsError>;

/// A torch `Linear` (`{stem}.weight` `[out, in]`, `{stem}.bias`), transposed to `[in, out]`.
fn torch_linear(take: Take<'_>, stem: &str, k: usize, n: usize) -> Result<Linear, WeightsError> {
    let w = take(&format!("{stem}.weight"), &[n, k])?;
    let mut t = vec![0f32; k * n];
    for (o, row) in w.chunks_exact(k).enumerate() {
        for (i, v) in row.iter().enumerate() {
            t[i * n + o] = *v;
        }
    }
    let b = take(&format!("{stem}.bias"), &[n])?;
    Ok(Linear { w: t, b, k, n })
}

fn torch_norm(take: Take<'_>, stem: &str, n: usize) -> Result<Norm, WeightsError> {
    Ok(Norm {
        gamma: take(&format!("{stem}.weight"), &[n])?,
        beta: take(&format!("{stem}.bias"), &[n])?,
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
            classifier: Some(linear(
                g,
                "/classifier/MatMul_Q4",
                "classifier.bias",
                h,
                dims.labels,
            )?),
        })
    }

    /// Builds a plain encoder (no classifier head) from f32 tensors named as Hugging Face's
    /// `BertModel` names them (`embeddings.word_embeddings.weight`,
    /// `encoder.layer.{l}.attention.self.query.weight`, …). `take(name, shape)` returns the
    /// tensor's elements, row-major, and must check it has that shape; linear weights are in
    /// torch's `[out, in]` layout and transposed here.
    pub fn from_tensors(
        dims: Dims,
        vocab: usize,
        mut take: impl FnMut(&str, &[usize]) -> Result<Vec<f32>, WeightsError>,
    ) -> Result<Self, WeightsError> {
        let h = dims.hidden;
        let take: Take<'_> = &mut take;
        let mut layers = Vec::with_capacity(dims.layers);
        for l in 0..dims.layers {
            let p = |s: &str| format!("encoder.layer.{l}.{s}");
            layers.push(Layer {
                qkv: fuse([
                    torch_linear(take, &p("attention.self.query"), h, h)?,
                    torch_linear(take, &p("attention.self.key"), h, h)?,
                    torch_linear(take, &p("attention.self.value"), h, h)?,
                ]),
                attn_out: torch_linear(take, &p("attention.output.dense"), h, h)?,
                attn_norm: torch_norm(take, &p("attention.output.LayerNorm"), h)?,
                inter: torch_linear(take, &p("intermediate.dense"), h, dims.intermediate)?,
                out: torch_linear(take, &p("output.dense"), dims.intermediate, h)?,
                out_norm: torch_norm(take, &p("output.LayerNorm"), h)?,
            });
        }
        Ok(Bert {
            dims: Dims { labels: 0, ..dims },
            word: take("embeddings.word_embeddings.weight", &[vocab, h])?,
            position: take(
                "embeddings.position_embeddings.weight",
                &[dims.max_positions, h],
            )?,
            token_type: take("embeddings.token_type_embeddings.weight", &[2, h])?,
            emb_norm: torch_norm(take, "embeddings.LayerNorm", h)?,
            layers,
            classifier: None,
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
    /// sequence longer than `max_positions` (the caller windows longer texts). An encoder
    /// without a classifier head returns [`Bert::hidden`]'s states instead.
    pub fn forward(&self, seqs: &[Vec<u32>]) -> (usize, Vec<f32>) {
        let (len, x) = self.hidden(seqs);
        let Some(classifier) = &self.classifier else {
            return (len, x);
        };
        if x.is_empty() {
            return (len, x);
        }
        let rows = x.len() / self.dims.hidden;
        let mut logits = vec![0f32; rows * self.dims.labels];
        dense(&x, rows, classifier, &mut logits);
        (len, logits)
    }

    /// The last layer's hidden states `[seq.len() × max_len × hidden]`, padded as
    /// [`Bert::forward`] pads; the same preconditions.
    pub fn hidden(&self, seqs: &[Vec<u32>]) -> (usize, Vec<f32>) {
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
        (len, x)
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
    // Eight running lanes: a single accumulator is a serial chain LLVM may not reorder.
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            lanes[i] = if c[i] > lanes[i] { c[i] } else { lanes[i] };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    row.iter_mut().for_each(|v| *v = exp(*v - max));
    let mut sums = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            sums[i] += c[i];
        }
    }
    let sum: f32 = chunks.remainder().iter().sum::<f32>() + sums.iter().sum::<f32>();
    if sum > 0.0 {
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// `e^x` to about 2 ulp for x ≤ 0 (what softmax feeds it), branch-free so the loops calling
/// it vectorise: libm's `expf` is a call per element, and attention makes millions.
#[inline]
fn exp(x: f32) -> f32 {
    let input = x;
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5·2²³: `f32::round` is a libm call.
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    // Cody-Waite: r = x - n·ln2 in two parts keeps r exact to f32 precision.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_87 + r * (0.008_333_452 + r * 0.001_388_89)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    // Below -87 the result is under f32's normal range: flush to zero (a select, not a branch).
    if input < -87.0 { 0.0 } else { p * scale }
}

/// The exact GELU, `x/2 · (1 + erf(x/√2))`.
#[inline]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a rational polynomial on [-4, 4] (beyond which it is ±1 in f32), the fit Eigen
/// and XLA use: a few ulp, no branches, no `exp`, so the GELU loop vectorises.
#[inline]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10_f32;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 - 2.101_024e-6;
    let p = p * x2 - 5.692_506_4e-5;
    let p = p * x2 - 7.349_906_3e-4;
    let p = p * x2 - 2.954_6e-3;
    let p = p * x2 - 1.609_603_3e-2;
    let q = -1.456_607_2e-5_f32;
    let q = q * x2 - 2.133_740_6e-4;
    let q = q * x2 - 1.682_827e-3;
    let q = q * x2 - 7.373_329e-3;
    let q = q * x2 - 1.426_474e-2;
    x * p / q
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

    /// erf to 1e-7 in f64 (Numerical Recipes' erfc fit), the reference for the fast one.
    fn erf_ref(x: f64) -> f64 {
        let z = x.abs();
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
        if x >= 0.0 { 1.0 - r } else { r - 1.0 }
    }

    #[test]
    fn fast_erf_and_exp_are_accurate() {
        for i in -6000..=6000 {
            let x = i as f32 / 1000.0;
            let e = (f64::from(erf(x)) - erf_ref(f64::from(x))).abs();
            assert!(e < 5e-7, "erf({x}) off by {e}");
        }
        for i in -100_000..=0 {
            let x = i as f32 / 1000.0;
            let want = f64::from(x).exp();
            let got = f64::from(exp(x));
            assert!(
                (got - want).abs() <= 4.0 * f64::from(f32::EPSILON) * want + 2e-38,
                "exp({x})"
            );
        }
        assert_eq!(exp(-200.0), 0.0);
    }

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
