//! Reciprocal-rank fusion: each list gives its item at rank `r` (from 1) the score
//! `1 / (K + r)`; an item's fused score is the sum over the lists that hold it. It needs no
//! calibration between BM25 scores and cosines, which live on unrelated scales.

/// The usual constant (Cormack et al., 2009): it damps the weight of the very first ranks.
pub const K: f64 = 60.0;

/// One fused item: its id, fused score and 1-based rank in each list that holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub id: i64,
    pub score: f64,
    pub ranks: Vec<Option<u32>>,
}

/// What one list gives the item at 1-based `rank`.
pub fn reciprocal(rank: u32) -> f64 {
    1.0 / (K + f64::from(rank))
}

/// Fuses ranked lists of ids (best first; an id repeated within a list counts at its first
/// place) into one, best first; equal scores go to the lower id, so the order is deterministic.
pub fn rrf(lists: &[&[i64]]) -> Vec<Fused> {
    let mut out: Vec<Fused> = Vec::new();
    let mut at: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for (l, list) in lists.iter().enumerate() {
        for (r, id) in list.iter().enumerate() {
            let rank = u32::try_from(r + 1).unwrap_or(u32::MAX);
            let i = *at.entry(*id).or_insert_with(|| {
                out.push(Fused {
                    id: *id,
                    score: 0.0,
                    ranks: vec![None; lists.len()],
                });
                out.len() - 1
            });
            let f = &mut out[i];
            if f.ranks[l].is_none() {
                f.ranks[l] = Some(rank);
                f.score += reciprocal(rank);
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out
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

    #[test]
    fn items_in_both_lists_rise() {
        let f = rrf(&[&[1, 2, 3], &[3, 4, 1]]);
        let ids: Vec<i64> = f.iter().map(|x| x.id).collect();
        // 1: 1/61 + 1/63; 3: 1/63 + 1/61 (a tie: lower id first); 2: 1/62; 4: 1/62.
        assert_eq!(ids, [1, 3, 2, 4]);
        assert_eq!(f[0].ranks, [Some(1), Some(3)]);
        assert_eq!(f[2].ranks, [Some(2), None]);
        assert!((f[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
    }

    #[test]
    fn one_list_keeps_its_order_and_repeats_count_once() {
        let f = rrf(&[&[9, 4, 9, 7]]);
        assert_eq!(f.iter().map(|x| x.id).collect::<Vec<_>>(), [9, 4, 7]);
        assert!(rrf(&[]).is_empty());
        assert!(rrf(&[&[], &[]]).is_empty());
    }
}
