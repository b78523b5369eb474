//! An inverted-file (IVF) index over a collection's vectors, for the approximate vector list of
//! large collections ([`crate::index`] uses it from [`Approximate::from`] chunks on).
//!
//! Spherical k-means over a sample of the rows (their int8 copies) gives `nlist ≈ √n` unit
//! centroids; every row goes to the list of its nearest centroid. A search scores the centroids,
//! then probes the lists of the nearest ones, skipping the chunks the caller may not see, and
//! goes on probing until enough visible chunks were found (or every list was); the candidates are
//! then scored as the exact scan scores them. Rows appended after the build go to their nearest
//! list without a rebuild; a deletion or replacement reloads the collection, which builds again.
//!
//! IVF rather than HNSW: its memory is 4 bytes a chunk plus the centroids (HNSW's graph is 100 B
//! or more a chunk at the usual degree), it is built in seconds by one thread off the search
//! path, an access filter only skips postings (HNSW's graph walk degrades when most nodes are
//! invisible), and probing on until `k` visible chunks are found is simple.

use crate::index::{QueryCode, RowCode, dot};

/// When and how the approximate list is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Approximate {
    /// From this many chunks on, a collection builds an IVF index and its vector list comes
    /// from it (below, the scan stays exact).
    pub from: usize,
    /// Lists probed at least, as a share of all lists: `nlist / probe_share`, at least
    /// [`MIN_PROBES`].
    pub probe_share: usize,
}

/// The default: from 50,000 chunks on; a tenth of the lists probed.
pub const DEFAULT: Approximate = Approximate {
    from: 50_000,
    probe_share: 10,
};

/// Lists probed at least (or all of them, when fewer).
pub const MIN_PROBES: usize = 8;
/// Rows of the k-means sample per list.
const SAMPLE_PER_LIST: usize = 32;
/// Rounds of k-means.
const ROUNDS: usize = 8;

impl Default for Approximate {
    fn default() -> Self {
        DEFAULT
    }
}

/// The centroids and, per centroid, the slots of the rows nearest to it.
#[derive(Clone, Debug)]
pub struct Ivf {
    dims: usize,
    centroids: Vec<f32>,
    lists: Vec<Vec<u32>>,
    /// Slots below this are in the lists.
    covers: usize,
}

/// A tiny xorshift generator: the sample and the seeds only need to be spread, not secret.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn unit(v: &mut [f32]) {
    let n = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if n > 0.0 {
        for x in v {
            *x = (f64::from(*x) / n) as f32;
        }
    }
}

/// The index of the best-scoring of `centroids` (coded as queries) for an int8 row.
fn nearest_coded(row: &[i8], code: RowCode, centroids: &[QueryCode]) -> usize {
    let mut best = (f64::NEG_INFINITY, 0);
    for (c, q) in centroids.iter().enumerate() {
        let (s, _) = q.score(row, code);
        if s > best.0 {
            best = (s, c);
        }
    }
    best.1
}

impl Ivf {
    /// Builds the index over the `n` rows of `coarse` (int8, `dims` each) coded by `codes`.
    pub fn build(dims: usize, coarse: &[i8], codes: &[RowCode]) -> Ivf {
        let n = codes.len();
        let nlist = ((n as f64).sqrt().round() as usize)
            .clamp(1, 4_096)
            .min(n.max(1));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let row = |i: usize| &coarse[i * dims..(i + 1) * dims];
        let decode = |i: usize| -> Vec<f32> {
            row(i)
                .iter()
                .map(|c| f32::from(*c) * codes[i].scale)
                .collect()
        };
        let sample: Vec<usize> = if n <= nlist * SAMPLE_PER_LIST {
            (0..n).collect()
        } else {
            (0..nlist * SAMPLE_PER_LIST).map(|_| rng.below(n)).collect()
        };
        let mut centroids: Vec<f32> = Vec::with_capacity(nlist * dims);
        for _ in 0..nlist {
            let mut c = decode(sample[rng.below(sample.len())]);
            unit(&mut c);
            centroids.extend(c);
        }
        for _ in 0..ROUNDS {
            let coded: Vec<QueryCode> = centroids.chunks_exact(dims).map(QueryCode::new).collect();
            let mut sums = vec![0f32; nlist * dims];
            let mut counts = vec![0usize; nlist];
            for &i in &sample {
                let c = nearest_coded(row(i), codes[i], &coded);
                counts[c] += 1;
                let scale = codes[i].scale;
                for (s, x) in sums[c * dims..(c + 1) * dims].iter_mut().zip(row(i)) {
                    *s += f32::from(*x) * scale;
                }
            }
            for c in 0..nlist {
                let target = &mut centroids[c * dims..(c + 1) * dims];
                if counts[c] == 0 {
                    // An empty list starts again from a random row of the sample.
                    target.copy_from_slice(&decode(sample[rng.below(sample.len())]));
                } else {
                    target.copy_from_slice(&sums[c * dims..(c + 1) * dims]);
                }
                unit(target);
            }
        }
        let coded: Vec<QueryCode> = centroids.chunks_exact(dims).map(QueryCode::new).collect();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); nlist];
        for i in 0..n {
            lists[nearest_coded(row(i), codes[i], &coded)]
                .push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        for l in &mut lists {
            l.shrink_to_fit();
        }
        Ivf {
            dims,
            centroids,
            lists,
            covers: n,
        }
    }

    /// Slots below this are in the lists; the rest are scanned.
    pub fn covers(&self) -> usize {
        self.covers
    }

    /// Lists held.
    pub fn nlist(&self) -> usize {
        self.lists.len()
    }

    /// Bytes held: centroids and lists.
    pub fn memory_bytes(&self) -> usize {
        self.centroids.capacity() * 4
            + self
                .lists
                .iter()
                .map(|l| l.capacity() * 4 + 24)
                .sum::<usize>()
    }

    /// Adds the row of slot [`Ivf::covers`] (`f32`, `dims` long) to its nearest list.
    pub fn push(&mut self, row: &[f32]) {
        let mut best = (f32::NEG_INFINITY, 0);
        for (c, centroid) in self.centroids.chunks_exact(self.dims).enumerate() {
            let s = dot(centroid, row);
            if s > best.0 {
                best = (s, c);
            }
        }
        if let Some(list) = self.lists.get_mut(best.1) {
            list.push(u32::try_from(self.covers).unwrap_or(u32::MAX));
        }
        self.covers += 1;
    }

    /// The lists by their centroid's score for `query`, best first.
    pub fn order(&self, query: &[f32]) -> Vec<usize> {
        let mut scored: Vec<(f32, usize)> = self
            .centroids
            .chunks_exact(self.dims)
            .map(|c| dot(c, query))
            .zip(0..)
            .collect();
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, c)| c).collect()
    }

    /// The slots of list `c`.
    pub fn list(&self, c: usize) -> &[u32] {
        self.lists.get(c).map_or(&[], Vec::as_slice)
    }

    /// Lists probed at least under `approx`.
    pub fn probes(&self, approx: Approximate) -> usize {
        (self.lists.len() / approx.probe_share.max(1))
            .max(MIN_PROBES)
            .min(self.lists.len())
    }
}
