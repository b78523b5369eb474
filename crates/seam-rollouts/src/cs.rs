//! Anytime-valid confidence bounds computed from additive tallies alone.
//!
//! For values in 0..=1 with mean μ and any `c`, the product over observations of
//! `(p/c)^x ((1−p)/(1−c))^(1−x)` is a nonnegative supermartingale when μ ≤ c and p > c (it is
//! the Bernoulli likelihood ratio, and `a^x b^(1−x)` is convex in `x`, so values in between do no
//! better than 0s and 1s with the same mean). An average of such products over a fixed set of
//! alternatives p is one too, and depends on the data only through `n` and `sum`. By Ville's
//! inequality it ever reaches `1/α` with probability at most α, however often it is looked at:
//! the values of `c` it has reached form a one-sided confidence sequence, [`lower`]. [`upper`] is
//! the mirror image. The alternatives are log-odds shifts of `c` by `SHIFTS`, so one set suits
//! rates near 1 % and near 80 % alike.
//!
//! Quantiles reuse the same bounds on indicators `x < q` ([`quantile_above`]).

/// Log-odds shifts of the alternatives, equally weighted: 0.025 × 1.6^j, from a 2.5 % to a
/// 16-fold change in the odds. The small ones matter for non-inferiority margins of a point or two
/// (thousands of samples); the large ones for a rate that jumps from 0.5 % to 5 % (hundreds).
const SHIFTS: [f64; 11] = [
    0.025,
    0.04,
    0.064,
    0.1024,
    0.163_84,
    0.262_144,
    0.419_430_4,
    0.671_088_64,
    1.073_741_824,
    1.717_986_918_4,
    2.748_779_069_44,
];

/// The widest log-odds searched: rates below 4e-18 are 0.
const EDGE: f64 = 40.0;

/// `e^δ − 1` for each shift.
fn growth() -> [f64; SHIFTS.len()] {
    SHIFTS.map(f64::exp_m1)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn log_mean_exp(terms: &[f64; SHIFTS.len()]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = terms.iter().map(|t| (t - max).exp()).sum();
    max + (sum / SHIFTS.len() as f64).ln()
}

/// The log of the mixture against means above `c = σ(l)` after `n` values summing to `s`, and its
/// derivative in `l`. With `p` the odds of `c` times `e^δ`, `s ln(p/c) + (n − s) ln((1−p)/(1−c))`
/// is `s δ − n ln(1 + c (e^δ − 1))`.
fn log_mixture(n: f64, s: f64, l: f64) -> (f64, f64) {
    let c = sigmoid(l);
    let g = growth();
    let mut terms = [0.0; SHIFTS.len()];
    for ((t, d), g) in terms.iter_mut().zip(SHIFTS).zip(g) {
        *t = s * d - n * (c * g).ln_1p();
    }
    let value = log_mean_exp(&terms);
    // d/dl of a term is n (c − p), p = c e^δ / (1 + c (e^δ − 1)): the alternative moves with c.
    let slope: f64 = terms
        .iter()
        .zip(g)
        .map(|(t, g)| {
            (t - value).exp() / SHIFTS.len() as f64 * n * (c - c * (1.0 + g) / (1.0 + c * g))
        })
        .sum();
    (value, slope)
}

/// An anytime-valid lower bound on the mean of `n` values in 0..=1 that sum to `s`, wrong with
/// probability at most `alpha` over the whole sequence.
pub fn lower(n: u64, s: f64, alpha: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, s) = (n as f64, s.clamp(0.0, n as f64));
    let threshold = (1.0 / alpha).ln();
    let f = |l: f64| {
        let (v, d) = log_mixture(n, s, l);
        (v - threshold, d)
    };
    // f falls as l grows; the bound is where it crosses 0. At the mean f < 0 (no alternative
    // beats the maximum likelihood), so the root lies below it.
    let mut hi = logit(s / n).clamp(-EDGE, EDGE);
    let mut lo = -EDGE;
    if f(lo).0 < 0.0 {
        return 0.0;
    }
    // Start near the answer: a normal-approximation width with the threshold a little raised.
    let mean = s / n;
    let width = ((mean * (1.0 - mean) + 1.0 / n) * 2.0 * (threshold + 2.0) / n).sqrt();
    let mut x = logit((mean - width).max(1e-12)).clamp(lo, hi);
    for _ in 0..60 {
        let (v, d) = f(x);
        if v >= 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        // Newton inside the bracket, bisection when it would leave it. Newton usually closes
        // in from one side, so its own step (not only the bracket) ends the search.
        let next = x - v / d;
        let newton = d < 0.0 && next > lo && next < hi;
        if hi - lo < 1e-7 || (newton && (next - x).abs() < 1e-7) {
            break;
        }
        x = if newton { next } else { 0.5 * (lo + hi) };
    }
    // The last point is within 1e-7 of the root on either side; a step below it never overstates.
    sigmoid(lo.max(x - 1e-7))
}

/// An anytime-valid upper bound on the mean (the mirror image of [`lower`]).
pub fn upper(n: u64, s: f64, alpha: f64) -> f64 {
    1.0 - lower(n, n as f64 - s, alpha)
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The fewest of `n` indicators that must be 1 for [`lower`] to exceed `p`; `None` when even
/// `n` would not.
fn ones_to_exceed(n: u64, p: f64, alpha: f64) -> Option<u64> {
    let threshold = (1.0 / alpha).ln();
    let nf = n as f64;
    let k = growth().map(|g| nf * (p * g).ln_1p());
    let rejects = |ones: u64| {
        let mut terms = [0.0; SHIFTS.len()];
        for ((t, d), k) in terms.iter_mut().zip(SHIFTS).zip(k) {
            *t = ones as f64 * d - k;
        }
        log_mean_exp(&terms) >= threshold
    };
    if !rejects(n) {
        return None;
    }
    // The mixture grows with the count of ones: the least count that rejects, by bisection.
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if rejects(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// Anytime-valid bounds on the `p`-quantile of the values a histogram counts, each wrong with
/// probability at most `alpha`. `buckets` are `(bucket, count)` in bucket order.
///
/// Above: the true quantile q has P(x < q) ≤ p, so once the lower bound on the share of values
/// below a bucket's upper edge exceeds p, q lies under that edge. Below: P(x ≤ q) ≥ p, so once
/// the upper bound on the share of values up to a bucket's lower edge falls under p, q lies
/// above it. Bucketing only makes both looser, never wrong.
pub fn quantile_above(buckets: &[(u32, u64)], p: f64, alpha: f64) -> f64 {
    let n: u64 = buckets.iter().map(|&(_, c)| c).sum();
    ones_to_exceed(n, p, alpha).map_or(f64::INFINITY, |need| {
        first_reaching(buckets, need).map_or(f64::INFINITY, crate::tally::bucket_upper)
    })
}

/// The lower counterpart of [`quantile_above`].
pub fn quantile_below(buckets: &[(u32, u64)], p: f64, alpha: f64) -> f64 {
    let n: u64 = buckets.iter().map(|&(_, c)| c).sum();
    // Values ≤ a lower edge may number at most `n − ones_to_exceed(1 − p)` for the bound to hold.
    ones_to_exceed(n, 1.0 - p, alpha).map_or(0.0, |need| {
        first_reaching(buckets, n - need + 1).map_or(0.0, crate::tally::bucket_lower)
    })
}

/// The first bucket at which the running count reaches `count`.
fn first_reaching(buckets: &[(u32, u64)], count: u64) -> Option<u32> {
    let mut cum = 0;
    buckets.iter().find_map(|&(b, c)| {
        cum += c;
        (cum >= count).then_some(b)
    })
}

/// The histogram's own estimate of the `p`-quantile: the middle (geometric) of its bucket.
pub fn quantile_estimate(buckets: &[(u32, u64)], p: f64) -> f64 {
    let n: u64 = buckets.iter().map(|&(_, c)| c).sum();
    let rank = ((p * n as f64).ceil() as u64).max(1);
    first_reaching(buckets, rank).map_or(0.0, |b| {
        let (lo, hi) = (crate::tally::bucket_lower(b), crate::tally::bucket_upper(b));
        if lo == 0.0 || hi.is_infinite() {
            lo
        } else {
            (lo * hi).sqrt()
        }
    })
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
    fn bounds_bracket_the_mean_and_narrow_with_data() {
        let mut last = 1.0;
        for n in [10u64, 100, 1_000, 10_000, 100_000] {
            let s = 0.8 * n as f64;
            let (lo, hi) = (lower(n, s, 0.01), upper(n, s, 0.01));
            assert!(lo < 0.8 && 0.8 < hi, "{n}: [{lo}, {hi}]");
            assert!(hi - lo < last, "{n}: narrows");
            last = hi - lo;
        }
        assert!(last < 0.02, "{last}");
        assert_eq!(lower(0, 0.0, 0.05), 0.0);
        assert_eq!(upper(0, 0.0, 0.05), 1.0);
    }

    #[test]
    fn no_errors_gives_a_zero_lower_bound_and_a_small_upper_one() {
        assert_eq!(lower(5_000, 0.0, 0.01), 0.0);
        let hi = upper(5_000, 0.0, 0.01);
        assert!(hi > 0.0 && hi < 0.003, "{hi}");
    }

    #[test]
    fn the_bound_is_where_the_mixture_crosses() {
        let (n, s, alpha) = (200u64, 10.0, 0.01);
        let lo = lower(n, s, alpha);
        let thr = (1.0 / alpha).ln();
        assert!((log_mixture(n as f64, s, logit(lo)).0 - thr).abs() < 1e-6);
        assert!(lo > 0.01 && lo < 0.05, "{lo}");
    }

    /// Coverage: over 400 seeded Bernoulli(0.01) and Bernoulli(0.8) paths of 5 000 values,
    /// checked every 25 values, the lower bound at α = 0.05 is ever above the truth in far fewer
    /// than 5 % of paths.
    #[test]
    fn lower_bound_is_rarely_wrong_even_looking_every_time() {
        for p in [0.01, 0.8] {
            let mut wrong = 0;
            for seed in 0..400 {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut s = 0.0;
                for n in 1..=5_000u64 {
                    s += f64::from(u8::from(rng.f64() < p));
                    if n % 25 == 0 && lower(n, s, 0.05) > p {
                        wrong += 1;
                        break;
                    }
                }
            }
            println!("p {p}: lower bound ever wrong in {wrong} of 400 paths");
            assert!(wrong <= 20, "p {p}: {wrong} of 400 paths");
        }
    }

    /// Coverage of the quantile bounds: 300 seeded lognormal paths (median 800 ms, σ 0.5) of
    /// 3 000 values, checked every 50: at α = 0.05 a side, either bound ever misses the true
    /// 95th percentile in at most 10 % of paths (in fact far fewer).
    #[test]
    fn quantile_bounds_rarely_miss_even_looking_often() {
        let truth = 800.0 * (0.5 * 1.644_853_6f64).exp();
        let mut missed = 0;
        for seed in 0..300 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut t = crate::Tally::default();
            for n in 1..=3_000 {
                let z = (-2.0 * (1.0 - rng.f64()).ln()).sqrt()
                    * (std::f64::consts::TAU * rng.f64()).cos();
                t.observe(&crate::Observation {
                    latency_ms: 800.0 * (0.5 * z).exp(),
                    ..crate::Observation::default()
                });
                if n % 50 == 0 {
                    let b: Vec<(u32, u64)> = t.histogram("latency_ms").collect();
                    let (lo, hi) = (
                        quantile_below(&b, 0.95, 0.05),
                        quantile_above(&b, 0.95, 0.05),
                    );
                    if truth < lo || truth > hi {
                        missed += 1;
                        break;
                    }
                }
            }
        }
        println!("quantile bounds missed in {missed} of 300 paths");
        assert!(missed <= 30, "{missed} of 300");
    }

    #[test]
    fn quantile_bounds_hold_the_quantile() {
        // 10 000 values spread evenly over buckets 400..500: the 95th percentile is bucket 495.
        let buckets: Vec<(u32, u64)> = (400..500).map(|b| (b, 100)).collect();
        let (below, above) = (
            quantile_below(&buckets, 0.95, 0.01),
            quantile_above(&buckets, 0.95, 0.01),
        );
        let q = crate::tally::bucket_lower(495);
        assert!(below <= q && q <= above, "{below} {q} {above}");
        assert!(above / below < 1.05f64.powi(6), "{below} {above}");
        let est = quantile_estimate(&buckets, 0.95);
        assert!(est > q / 1.05 && est < q * 1.05 * 1.05, "{est}");
        assert_eq!(quantile_below(&[], 0.95, 0.01), 0.0);
        assert_eq!(quantile_above(&[], 0.95, 0.01), f64::INFINITY);
        // Two values say little about a 99th percentile.
        assert_eq!(quantile_above(&[(400, 2)], 0.99, 0.01), f64::INFINITY);
    }
}
