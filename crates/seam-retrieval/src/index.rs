//! The in-process index of one collection: its vectors, for an exact search (every visible
//! chunk is scored) over a contiguous row-major `f32` matrix, one row per chunk, and its text, for
//! BM25 ([`crate::text`]). Vectors are L2-normalised, so a dot product is the cosine. It mirrors
//! the store: before a search, [`VectorIndex::sync`] compares the collection's generation with the
//! one it loaded; when only appends happened since, it loads the rows after its last chunk id,
//! otherwise (deletions, replacements) it reloads everything.
//!
//! Access is applied inside both searches: a chunk whose document the caller may not see is
//! skipped before it is scored, so the top `k` are always the best `k` visible chunks, and nothing
//! about the others reaches the caller. Labels are interned; a search turns the caller's grants
//! into a per-document bitmap once (distinct labels × grants, then one pass over the documents).
//!
//! A vector scan over a large collection runs in two passes, still exact: the first scores every
//! visible chunk against an int8 copy of the matrix (one byte a dimension, with a scale per row:
//! a quarter of the `f32` bytes to stream from memory, which bounds the scan; the query is
//! quantised to `i16`, so the first pass is integer multiply-adds). Its error for a chunk is at
//! most `r_x · |q| + |x̂| · r_q` (`r_x = |x − x̂|` kept per chunk, `r_q` the query's own rounding)
//! plus a rounding margin; every chunk whose upper bound reaches the k-th best lower bound is then
//! scored on the `f32` row, and those exact scores are what is ranked and returned.
//!
//! Memory: `5 × dims + 24` bytes per chunk for the vectors (the `f32` row, its int8 copy, its
//! scale, `r_x`, `|x̂|`, id and document slot: 1,944 B at 384 dimensions, so 100,000 chunks take
//! 194 MB), plus the text's postings ([`crate::text`]; [`VectorIndex::memory_bytes`] counts both)
//! and, per document, its key and label ids.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use seam_store::{Generation, Grants, IndexSink, RetrievalStore, StoreError};

use crate::ivf::{Approximate, Ivf};
use crate::text::TextIndex;

/// The dot product of two equal-length slices, in 16 independent lanes so that LLVM
/// vectorises it (SSE2 on the baseline target; wider where the build allows).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += x * y;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// The dot product of an int8 row with an `i16` query, exact, in 16 lanes.
pub fn dot_i8(a: &[i8], b: &[i16]) -> i32 {
    const L: usize = 16;
    let mut acc = [0i32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += i32::from(*x) * i32::from(*y);
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += i32::from(*x) * i32::from(*y);
    }
    s
}

/// How a row was quantised: `x ≈ scale · code`; `residual ≥ |x − x̂|` and `norm ≥ |x̂|`, both
/// rounded up so the bounds they give are never too small.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowCode {
    pub scale: f32,
    pub residual: f32,
    pub norm: f32,
}

/// Appends `x` (finite) to `codes` as int8, scaled per row so its largest magnitude is 127.
pub fn quantise_row(x: &[f32], codes: &mut Vec<i8>) -> RowCode {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let (mut residual, mut norm) = (0f64, 0f64);
    for v in x {
        let c = (v / scale).round().clamp(-127.0, 127.0);
        let back = f64::from(c) * f64::from(scale);
        residual += (f64::from(*v) - back).powi(2);
        norm += back * back;
        codes.push(c as i8);
    }
    RowCode {
        scale,
        residual: (residual.sqrt() * (1.0 + 1e-6)) as f32 + f32::EPSILON,
        norm: (norm.sqrt() * (1.0 + 1e-6)) as f32 + f32::EPSILON,
    }
}

/// A query quantised to `i16` for [`dot_i8`]: `q ≈ scale · codes`, `residual ≥ |q − q̂|`,
/// `norm = |q|`.
#[derive(Clone, Debug)]
pub struct QueryCode {
    pub codes: Vec<i16>,
    pub scale: f64,
    pub residual: f64,
    pub norm: f64,
}

impl QueryCode {
    /// Small enough codes that [`dot_i8`]'s 16 `i32` lanes cannot overflow at `q.len()`.
    pub fn new(q: &[f32]) -> QueryCode {
        let per_lane = q.len().div_ceil(16).max(1) as f64;
        let top = (f64::from(i32::MAX) / 127.0 / per_lane)
            .clamp(1.0, 8191.0)
            .floor();
        let max = q.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { f64::from(max) / top } else { 1.0 };
        let (mut residual, mut norm) = (0f64, 0f64);
        let codes = q
            .iter()
            .map(|v| {
                let v = f64::from(*v);
                let c = (v / scale).round().clamp(-top, top);
                residual += (v - c * scale).powi(2);
                norm += v * v;
                c as i16
            })
            .collect();
        QueryCode {
            codes,
            scale,
            residual: residual.sqrt() * (1.0 + 1e-6) + 1e-12,
            norm: norm.sqrt(),
        }
    }

    /// `(approximate x·q, its error bound)` for a row coded as `row` with `code`.
    pub fn score(&self, row: &[i8], code: RowCode) -> (f64, f64) {
        let a = f64::from(dot_i8(row, &self.codes)) * f64::from(code.scale) * self.scale;
        let err = f64::from(code.residual) * self.norm + f64::from(code.norm) * self.residual;
        (a, err)
    }
}

/// Below this many chunks a scan is one exact pass.
const TWO_PASS_FROM: usize = 4_096;
/// Covers the `f32` rounding of both dot products (at most about `2 · dims · 2⁻²⁴` for unit
/// vectors: 4.6e-5 at 384 dimensions; 1e-3 stays safe to 8,000 dimensions).
const ROUNDING_MARGIN: f64 = 1e-3;

/// A scored chunk ordered best first: higher score, then lower chunk id.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Hit {
    score: f32,
    id: i64,
}

impl Eq for Hit {}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        // "Greater" is better: a higher score, or the same score and a lower id.
        self.score
            .total_cmp(&other.score)
            .then(other.id.cmp(&self.id))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One collection's vectors, labels and the generation they were loaded at.
#[derive(Debug, Default)]
pub struct VectorIndex {
    dims: usize,
    matrix: Vec<f32>,
    /// The matrix in int8, for the first pass of large scans.
    coarse: Vec<i8>,
    /// Per chunk, how its row was quantised.
    codes: Vec<RowCode>,
    /// The chunks' text, for BM25.
    text: TextIndex,
    chunk_ids: Vec<i64>,
    /// Per chunk, its document's slot.
    chunk_doc: Vec<u32>,
    /// Per document slot: its store key and its labels' ids.
    doc_keys: Vec<i64>,
    doc_labels: Vec<Vec<u32>>,
    doc_slots: HashMap<i64, u32>,
    labels: Vec<String>,
    label_ids: HashMap<String, u32>,
    synced: Option<Generation>,
    last_doc: i64,
    last_chunk: i64,
    approx: Approximate,
    /// The IVF index once built: its builder thread fills this slot off the search path; a
    /// reload replaces the slot, so a builder of an older state fills one nobody reads.
    ivf: Arc<Mutex<Option<Arc<Ivf>>>>,
    building: bool,
}

impl VectorIndex {
    pub fn new() -> VectorIndex {
        VectorIndex::default()
    }

    /// Chunks held.
    pub fn len(&self) -> usize {
        self.chunk_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunk_ids.is_empty()
    }

    /// The vectors' length (0 while empty).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The generation last loaded, if any.
    pub fn generation(&self) -> Option<Generation> {
        self.synced
    }

    /// Bytes held by the matrix and the per-chunk arrays of the vectors.
    pub fn vector_bytes(&self) -> usize {
        self.matrix.capacity() * 4
            + self.coarse.capacity()
            + self.codes.capacity() * std::mem::size_of::<RowCode>()
            + self.chunk_ids.capacity() * 8
            + self.chunk_doc.capacity() * 4
    }

    /// Bytes held by the text's postings, lengths and term dictionary.
    pub fn text_bytes(&self) -> usize {
        self.text.memory_bytes()
    }

    /// Bytes held by the vectors and the text ([`VectorIndex::vector_bytes`] +
    /// [`VectorIndex::text_bytes`]).
    pub fn memory_bytes(&self) -> usize {
        self.vector_bytes() + self.text_bytes()
    }

    /// The `k` best visible chunks for `query` by BM25 ([`crate::text`]), best first, as
    /// `(chunk_id, score)`; `visible` as for [`VectorIndex::search`].
    pub fn text_search(&self, query: &str, visible: Option<&[bool]>, k: usize) -> Vec<(i64, f32)> {
        self.text
            .search(
                query,
                |slot| {
                    visible.is_none_or(|vis| {
                        vis.get(self.chunk_doc[slot] as usize)
                            .copied()
                            .unwrap_or(false)
                    })
                },
                k,
            )
            .into_iter()
            .map(|(slot, s)| (self.chunk_ids[slot], s))
            .collect()
    }

    fn clear(&mut self) {
        *self = VectorIndex {
            approx: self.approx,
            ..VectorIndex::default()
        };
    }

    /// When the vector list comes from the approximate (IVF) index ([`crate::ivf`]).
    pub fn set_approximate(&mut self, approx: Approximate) {
        self.approx = approx;
        if self.synced.is_some() {
            self.start_build();
        }
    }

    fn built(&self) -> Option<Arc<Ivf>> {
        self.ivf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the approximate index is built (it answers vector searches while the collection
    /// holds at least [`Approximate::from`] chunks).
    pub fn approximate_ready(&self) -> bool {
        self.built().is_some()
    }

    /// Bytes held by the approximate index (0 until built).
    pub fn approximate_bytes(&self) -> usize {
        self.built().map_or(0, |i| i.memory_bytes())
    }

    /// Builds the approximate index now, on this thread (tests; a server builds it off the
    /// search path after a load).
    pub fn build_approximate(&mut self) {
        if self.dims == 0 || self.is_empty() {
            return;
        }
        let ivf = Ivf::build(self.dims, &self.coarse, &self.codes);
        *self.ivf.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(ivf));
        self.building = true;
    }

    /// Starts building the approximate index on a thread of its own when the collection is
    /// large enough and none is built or building; searches stay exact until it is in.
    fn start_build(&mut self) {
        if self.building
            || self.dims == 0
            || self.len() < self.approx.from
            || self.approximate_ready()
        {
            return;
        }
        // The builder reads a copy of the int8 rows (a byte a dimension, for the build only).
        let (dims, coarse, codes) = (self.dims, self.coarse.clone(), self.codes.clone());
        let slot = self.ivf.clone();
        let spawned = std::thread::Builder::new()
            .name("seam-ivf-build".into())
            .spawn(move || {
                let ivf = Ivf::build(dims, &coarse, &codes);
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(ivf));
            });
        self.building = spawned.is_ok();
    }

    /// Room for the chunks `g` counts, so a full load does not leave its arrays up to twice as
    /// large as they need to be (a `Vec` grows by doubling).
    fn reserve(&mut self, g: &Generation) {
        let (n, dims) = (g.chunks as usize, g.dims as usize);
        self.matrix.reserve_exact(n * dims);
        self.coarse.reserve_exact(n * dims);
        self.codes.reserve_exact(n);
        self.chunk_ids.reserve_exact(n);
        self.chunk_doc.reserve_exact(n);
        self.text.reserve(n);
    }

    /// Whether the store's generation `g` is the one loaded.
    pub fn is_current(&self, g: &Generation) -> bool {
        self.synced.is_some_and(|s| s.generation == g.generation)
    }

    /// Brings the index up to the store's state of `collection`: nothing when current, the
    /// new rows after appends, a full reload after anything else.
    pub fn sync(&mut self, store: &mut RetrievalStore, collection: &str) -> Result<(), StoreError> {
        let g = store.generation(collection)?;
        if self.is_current(&g) {
            return Ok(());
        }
        let mut before = self.synced.map(|s| s.generation);
        if before.is_none_or(|b| g.rebuilt > b) {
            self.clear();
            before = None;
        }
        if before.is_none() {
            self.reserve(&g);
        }
        let (after_doc, after_chunk) = (self.last_doc, self.last_chunk);
        let snap = store.index_load(collection, after_doc, after_chunk, self)?;
        if before.is_none() {
            self.text.shrink();
        }
        // A full load is whole by itself; an incremental one only if nothing was rewritten
        // since the generation it extends.
        let whole = before.is_none_or(|b| snap.rebuilt <= b);
        if !whole || self.len() as u64 != snap.chunks {
            // A rewrite landed between the two reads, or rows were missed: start over.
            self.clear();
            self.reserve(&g);
            let snap = store.index_load(collection, 0, 0, self)?;
            self.text.shrink();
            if self.len() as u64 != snap.chunks {
                return Err(StoreError::new(format!(
                    "the vector index loaded {} chunks but the store counts {}",
                    self.len(),
                    snap.chunks
                )));
            }
            self.synced = Some(snap);
        } else {
            self.synced = Some(snap);
        }
        self.start_build();
        Ok(())
    }

    fn label_id(&mut self, label: String) -> u32 {
        if let Some(id) = self.label_ids.get(&label) {
            return *id;
        }
        let id = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(label.clone());
        self.label_ids.insert(label, id);
        id
    }

    /// Per document slot, whether `grants` admit it; `None` when they admit everything.
    pub fn visible_by_grants(&self, grants: &Grants) -> Option<Vec<bool>> {
        if grants.all {
            return None;
        }
        let label_ok: Vec<bool> = self.labels.iter().map(|l| grants.permits(l)).collect();
        Some(
            self.doc_labels
                .iter()
                .map(|ls| ls.iter().any(|l| label_ok[*l as usize]))
                .collect(),
        )
    }

    /// Per document slot, whether its key is among `keys` (the store's filtered documents).
    pub fn visible_docs(&self, keys: &[i64]) -> Vec<bool> {
        let mut v = vec![false; self.doc_keys.len()];
        for k in keys {
            if let Some(slot) = self.doc_slots.get(k) {
                v[*slot as usize] = true;
            }
        }
        v
    }

    /// The `k` best visible chunks for `query` (a vector of [`VectorIndex::dims`]), best
    /// first, as `(chunk_id, cosine)`; equal scores go to the lower chunk id. `visible` is per
    /// document slot ([`VectorIndex::visible_by_grants`], [`VectorIndex::visible_docs`]);
    /// `None` scores every chunk.
    pub fn search(&self, query: &[f32], visible: Option<&[bool]>, k: usize) -> Vec<(i64, f32)> {
        if k == 0 || self.dims == 0 || query.len() != self.dims {
            return Vec::new();
        }
        let is_visible = |i: usize| {
            visible.is_none_or(|vis| {
                vis.get(self.chunk_doc[i] as usize)
                    .copied()
                    .unwrap_or(false)
            })
        };
        let ivf = if self.len() >= self.approx.from {
            self.built()
        } else {
            None
        };
        let Some(ivf) = ivf else {
            if self.len() < TWO_PASS_FROM {
                let mut top = TopK::new(k);
                for (i, row) in self.matrix.chunks_exact(self.dims).enumerate() {
                    if is_visible(i) {
                        top.offer(dot(row, query), self.chunk_ids[i]);
                    }
                }
                return top.into_sorted();
            }
            let expect = if visible.is_none() { self.len() } else { 0 };
            return self.two_pass(query, (0..self.len()).filter(|i| is_visible(*i)), expect, k);
        };
        // Approximate: the rows added since the build, then the nearest lists, on until `k`
        // visible chunks are in hand (or every list was probed).
        let mut slots: Vec<usize> = (ivf.covers().min(self.len())..self.len())
            .filter(|i| is_visible(*i))
            .collect();
        let probes = ivf.probes(self.approx);
        for (p, c) in ivf.order(query).into_iter().enumerate() {
            if p >= probes && slots.len() >= k {
                break;
            }
            slots.extend(
                ivf.list(c)
                    .iter()
                    .map(|s| *s as usize)
                    .filter(|s| *s < self.len() && is_visible(*s)),
            );
        }
        let n = slots.len();
        self.two_pass(query, slots.into_iter(), n, k)
    }

    /// The exact top `k` of `slots` (all visible): int8 scores and their bounds first, then
    /// the `f32` rows of those that could be among the best.
    fn two_pass(
        &self,
        query: &[f32],
        slots: impl Iterator<Item = usize>,
        expect: usize,
        k: usize,
    ) -> Vec<(i64, f32)> {
        let mut top = TopK::new(k);
        // First pass: approximate scores of the visible chunks, and the k-th best lower bound.
        let qc = QueryCode::new(query);
        let mut approx: Vec<(f32, f32, u32)> = Vec::with_capacity(expect);
        let mut lower: Vec<f32> = Vec::with_capacity(expect);
        for i in slots {
            let row = &self.coarse[i * self.dims..(i + 1) * self.dims];
            let (a, err) = qc.score(row, self.codes[i]);
            approx.push((a as f32, err as f32, u32::try_from(i).unwrap_or(u32::MAX)));
            lower.push((a - err - ROUNDING_MARGIN) as f32);
        }
        let threshold = if lower.len() > k {
            let (_, kth, _) = lower.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            f64::from(*kth)
        } else {
            f64::NEG_INFINITY
        };
        // Second pass: exact scores for every chunk that could still be among the best k.
        for (a, err, i) in approx {
            let i = i as usize;
            // `a` and `err` went through f32: allow for that rounding too.
            let slack = f64::from(err) * (1.0 + 1e-6) + ROUNDING_MARGIN + f64::from(a.abs()) * 1e-6;
            if f64::from(a) + slack >= threshold {
                let row = &self.matrix[i * self.dims..(i + 1) * self.dims];
                top.offer(dot(row, query), self.chunk_ids[i]);
            }
        }
        top.into_sorted()
    }
}

/// The best `k` hits seen, in a bounded min-heap.
struct TopK {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Hit>>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, score: f32, id: i64) {
        let hit = Hit { score, id };
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(hit));
        } else if self.heap.peek().is_some_and(|w| hit > w.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(hit));
        }
    }

    fn into_sorted(self) -> Vec<(i64, f32)> {
        let mut out: Vec<Hit> = self.heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out.into_iter().map(|h| (h.id, h.score)).collect()
    }
}

impl IndexSink for VectorIndex {
    fn document(&mut self, doc_key: i64, labels: Vec<String>) {
        let ids: Vec<u32> = labels.into_iter().map(|l| self.label_id(l)).collect();
        match self.doc_slots.get(&doc_key) {
            Some(slot) => self.doc_labels[*slot as usize] = ids,
            None => {
                let slot = u32::try_from(self.doc_keys.len()).unwrap_or(u32::MAX);
                self.doc_keys.push(doc_key);
                self.doc_labels.push(ids);
                self.doc_slots.insert(doc_key, slot);
            }
        }
        self.last_doc = self.last_doc.max(doc_key);
    }

    fn chunk(&mut self, chunk_id: i64, doc_key: i64, vector: &[u8]) -> Result<(), StoreError> {
        self.chunk_text(chunk_id, doc_key, vector, None, "")
    }

    fn wants_text(&self) -> bool {
        true
    }

    fn chunk_text(
        &mut self,
        chunk_id: i64,
        doc_key: i64,
        vector: &[u8],
        heading: Option<&str>,
        text: &str,
    ) -> Result<(), StoreError> {
        self.add_vector(chunk_id, doc_key, vector)?;
        self.text.push(heading, text);
        Ok(())
    }
}

impl VectorIndex {
    /// Appends a chunk's vector (its slot is the next one).
    fn add_vector(&mut self, chunk_id: i64, doc_key: i64, vector: &[u8]) -> Result<(), StoreError> {
        if vector.len() % 4 != 0 || vector.is_empty() {
            return Err(StoreError::new(
                "a stored vector is not a whole number of f32s",
            ));
        }
        let dims = vector.len() / 4;
        if self.dims == 0 {
            self.dims = dims;
        } else if dims != self.dims {
            return Err(StoreError::new(format!(
                "a stored vector has {dims} dimensions where the collection's have {}",
                self.dims
            )));
        }
        let slot = *self
            .doc_slots
            .get(&doc_key)
            .ok_or_else(|| StoreError::new("a stored chunk's document was not loaded"))?;
        let start = self.matrix.len();
        self.matrix.extend(
            vector
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        if self.matrix[start..].iter().any(|x| !x.is_finite()) {
            self.matrix.truncate(start);
            return Err(StoreError::new("a stored vector is not finite"));
        }
        let code = quantise_row(&self.matrix[start..], &mut self.coarse);
        self.codes.push(code);
        self.chunk_ids.push(chunk_id);
        self.chunk_doc.push(slot);
        // A built IVF index takes the new row (and any added while it was being built) into
        // its nearest list.
        let mut guard = self.ivf.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ivf) = guard.as_mut() {
            let ivf = Arc::make_mut(ivf);
            while ivf.covers() < self.chunk_ids.len() {
                let at = ivf.covers() * self.dims;
                ivf.push(&self.matrix[at..at + self.dims]);
            }
        }
        drop(guard);
        self.last_chunk = self.last_chunk.max(chunk_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn index() -> VectorIndex {
        let mut ix = VectorIndex::new();
        ix.document(10, vec!["public".into()]);
        ix.document(11, vec!["team:a".into(), "subject:p".into()]);
        ix.document(12, vec![]);
        for (id, doc, v) in [
            (1, 10, [1.0, 0.0, 0.0]),
            (2, 11, [0.0, 1.0, 0.0]),
            (3, 12, [0.6, 0.8, 0.0]),
            (4, 11, [0.8, 0.6, 0.0]),
            (5, 10, [0.8, 0.6, 0.0]),
        ] {
            ix.chunk(id, doc, &bytes(&v)).unwrap();
        }
        ix
    }

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.01).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }

    #[test]
    fn search_ranks_and_breaks_ties_by_id() {
        let ix = index();
        let got = ix.search(&[1.0, 0.0, 0.0], None, 3);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 4, 5]);
        assert_eq!(ix.search(&[1.0, 0.0, 0.0], None, 0), []);
        assert_eq!(ix.search(&[1.0, 0.0], None, 3), [], "wrong dimensions");
        assert_eq!(ix.search(&[1.0, 0.0, 0.0], None, 99).len(), 5);
    }

    #[test]
    fn invisible_documents_are_never_scored() {
        let ix = index();
        let g = Grants {
            exact: vec!["public".into()],
            ..Grants::default()
        };
        let vis = ix.visible_by_grants(&g).unwrap();
        assert_eq!(vis, [true, false, false]);
        let got = ix.search(&[0.0, 1.0, 0.0], Some(&vis), 3);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [5, 1]);
        let g = Grants {
            prefixes: vec!["team:".into()],
            ..Grants::default()
        };
        let vis = ix.visible_by_grants(&g).unwrap();
        assert_eq!(vis, [false, true, false]);
        assert!(ix.visible_by_grants(&Grants::all()).is_none());
        assert_eq!(ix.visible_docs(&[12, 99]), [false, false, true]);
        let got = ix.search(&[1.0, 0.0, 0.0], Some(&ix.visible_docs(&[12])), 3);
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn the_two_pass_scan_is_exact() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 20_000) as f32 / 10_000.0 - 1.0
        };
        let dims = 48;
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let mut ix = VectorIndex::new();
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for d in 0..100 {
            ix.document(d, vec![format!("l{}", d % 3)]);
        }
        for id in 0..(TWO_PASS_FROM as i64 + 500) {
            // Many near-duplicates, so bounds overlap and ties happen.
            let v = if id % 7 == 0 && id > 0 {
                rows[(id as usize) / 2 % rows.len()].clone()
            } else {
                unit((0..dims).map(|_| next()).collect())
            };
            ix.chunk(id + 1, id % 100, &bytes(&v)).unwrap();
            rows.push(v);
        }
        let g = Grants {
            exact: vec!["l1".into()],
            ..Grants::default()
        };
        let vis = ix.visible_by_grants(&g).unwrap();
        for _ in 0..20 {
            let q = unit((0..dims).map(|_| next()).collect());
            for (visible, k) in [(None, 10), (Some(vis.as_slice()), 25), (None, 1)] {
                let mut want: Vec<(i64, f32)> = rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| visible.is_none_or(|v| v[i % 100]))
                    .map(|(i, r)| (i as i64 + 1, dot(r, &q)))
                    .collect();
                want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                want.truncate(k);
                assert_eq!(ix.search(&q, visible, k), want);
            }
        }
    }

    /// `n` unit vectors drawn around `centres` random centres (a mixture of Gaussians, as
    /// embeddings cluster by topic), and the centres.
    fn clustered(n: usize, dims: usize, centres: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = seed | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 20_000) as f32 / 10_000.0 - 1.0
        };
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let cs: Vec<Vec<f32>> = (0..centres)
            .map(|_| unit((0..dims).map(|_| next()).collect()))
            .collect();
        (0..n)
            .map(|i| {
                let c = &cs[(i * 7919) % centres];
                unit(c.iter().map(|x| x + 0.08 * next()).collect())
            })
            .collect()
    }

    fn exact(
        rows: &[Vec<f32>],
        q: &[f32],
        visible: impl Fn(usize) -> bool,
        k: usize,
    ) -> Vec<(i64, f32)> {
        let mut want: Vec<(i64, f32)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| visible(*i))
            .map(|(i, r)| (i as i64 + 1, dot(r, q)))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(k);
        want
    }

    fn approximate_index(rows: &[Vec<f32>], docs: i64, from: usize) -> VectorIndex {
        let mut ix = VectorIndex::new();
        ix.set_approximate(Approximate {
            from,
            probe_share: 10,
        });
        for d in 0..docs {
            ix.document(d, vec![format!("l{}", d % 50)]);
        }
        for (i, v) in rows.iter().enumerate() {
            ix.chunk(i as i64 + 1, i as i64 % docs, &bytes(v)).unwrap();
        }
        ix
    }

    #[test]
    fn below_the_threshold_the_scan_stays_exact() {
        let rows = clustered(TWO_PASS_FROM + 1_000, 32, 40, 7);
        let mut ix = approximate_index(&rows, 100, rows.len() + 1);
        ix.build_approximate();
        assert!(ix.approximate_ready());
        for q in rows.iter().step_by(500) {
            assert_eq!(ix.search(q, None, 10), exact(&rows, q, |_| true, 10));
        }
    }

    #[test]
    fn the_approximate_list_recalls_the_exact_one_and_fills_top_k_under_a_filter() {
        let rows = clustered(20_000, 32, 100, 11);
        let mut ix = approximate_index(&rows, 1_000, 10_000);
        ix.build_approximate();
        let mut hits = 0;
        let mut total = 0;
        for q in clustered(50, 32, 100, 11) {
            let got: Vec<i64> = ix.search(&q, None, 10).iter().map(|h| h.0).collect();
            let want = exact(&rows, &q, |_| true, 10);
            hits += want.iter().filter(|w| got.contains(&w.0)).count();
            total += want.len();
        }
        let recall = hits as f64 / total as f64;
        assert!(recall >= 0.9, "recall@10 {recall}");
        // One label of fifty: 20 documents, 400 chunks. Every search still fills top_k, and only
        // with visible chunks.
        let g = Grants {
            exact: vec!["l7".into()],
            ..Grants::default()
        };
        let vis = ix.visible_by_grants(&g).unwrap();
        for q in rows.iter().step_by(1_000) {
            let got = ix.search(q, Some(&vis), 40);
            assert_eq!(got.len(), 40);
            assert!(got.iter().all(|h| vis[((h.0 - 1) % 1_000) as usize]));
        }
        // A label on 2 chunks only: both come back, whichever lists hold them.
        ix.document(5_000, vec!["rare".into()]);
        ix.chunk(30_001, 5_000, &bytes(&rows[3])).unwrap();
        ix.chunk(30_002, 5_000, &bytes(&rows[9_999])).unwrap();
        let vis = ix.visible_docs(&[5_000]);
        let got = ix.search(&rows[3], Some(&vis), 40);
        assert_eq!(
            got.iter().map(|h| h.0).collect::<Vec<_>>(),
            [30_001, 30_002]
        );
    }

    #[test]
    fn rows_added_after_the_build_join_their_nearest_list() {
        let rows = clustered(12_000, 32, 60, 5);
        let mut ix = approximate_index(&rows[..10_000], 100, 5_000);
        ix.build_approximate();
        for (i, v) in rows.iter().enumerate().skip(10_000) {
            ix.chunk(i as i64 + 1, i as i64 % 100, &bytes(v)).unwrap();
        }
        let ivf = ix.built().unwrap();
        assert_eq!(ivf.covers(), 12_000);
        for i in (10_000..12_000).step_by(97) {
            let got = ix.search(&rows[i], None, 1);
            assert_eq!(got[0].0, i as i64 + 1, "an added row is its own nearest");
        }
    }

    #[test]
    fn malformed_rows_are_errors() {
        let mut ix = index();
        assert!(ix.chunk(9, 10, &[0, 0, 0]).is_err());
        assert!(ix.chunk(9, 10, &bytes(&[1.0, 0.0])).is_err());
        assert!(ix.chunk(9, 99, &bytes(&[1.0, 0.0, 0.0])).is_err());
    }
}
