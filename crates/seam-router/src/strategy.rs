//! Ordering a route's eligible targets for one request, and saying why the first comes first.

use crate::Target;

pub use seam_config::Strategy;

/// `eligible` (indices into `targets`) in the order they should be tried, and the reason the
/// first one leads. `uniform` yields numbers in `[0, 1)`; tests pass a seeded one.
pub fn order(
    strategy: Strategy,
    targets: &[Target],
    eligible: &[usize],
    stream: bool,
    uniform: &mut dyn FnMut() -> f64,
) -> (Vec<usize>, String) {
    let name = strategy.as_str();
    let Some(&first) = eligible.first() else {
        return (Vec::new(), format!("{name}: no eligible target"));
    };
    match strategy {
        Strategy::Fallback => {
            let why = if first == 0 {
                "primary"
            } else {
                "first eligible target"
            };
            (eligible.to_vec(), format!("fallback: {why}"))
        }
        Strategy::Cost => {
            let mut v = eligible.to_vec();
            v.sort_by_key(|&i| targets[i].cost_rank); // stable: ties keep config order
            let t = &targets[v[0]];
            let why = format!("cost: cheapest is {} (cost_rank {})", t.label, t.cost_rank);
            (v, why)
        }
        Strategy::Weighted => weighted(targets, eligible, uniform),
        Strategy::LeastLatency => least_latency(targets, eligible, stream, uniform),
        Strategy::Burst => burst(targets, eligible),
    }
}

/// Weighted random order without replacement (Efraimidis–Spirakis): each target draws
/// `u^(1/weight)` and the largest goes first, so the first pick follows the weights exactly and the
/// rest stay in a sensible fallback order. Weight 0 targets only ever serve as fallbacks.
fn weighted(
    targets: &[Target],
    eligible: &[usize],
    uniform: &mut dyn FnMut() -> f64,
) -> (Vec<usize>, String) {
    let mut keyed: Vec<(f64, usize)> = eligible
        .iter()
        .map(|&i| {
            let w = targets[i].weight;
            let key = if w == 0 {
                -1.0
            } else {
                (1.0 - uniform()).powf(1.0 / f64::from(w))
            };
            (key, i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let v: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    let total: u32 = eligible.iter().map(|&i| targets[i].weight).sum();
    let t = &targets[v[0]];
    (
        v,
        format!("weighted: {} (weight {} of {total})", t.label, t.weight),
    )
}

/// Power of two choices: two random candidates, the faster first; then the rest by their average.
/// A target with no samples yet counts as fastest, so new targets get explored.
fn least_latency(
    targets: &[Target],
    eligible: &[usize],
    stream: bool,
    uniform: &mut dyn FnMut() -> f64,
) -> (Vec<usize>, String) {
    let score = |i: usize| targets[i].health.score(stream);
    let ms = |s: Option<f64>| {
        s.map_or_else(
            || "no samples yet".to_owned(),
            |v| format!("{:.1} ms", v * 1000.0),
        )
    };
    let pick = |u: f64, n: usize| ((u * n as f64) as usize).min(n - 1);
    let mut v = eligible.to_vec();
    if v.len() == 1 {
        let why = format!("least_latency: only {}", targets[v[0]].label);
        return (v, why);
    }
    let a = pick(uniform(), v.len());
    let mut b = pick(uniform(), v.len() - 1);
    if b >= a {
        b += 1;
    }
    let (ia, ib) = (v[a], v[b]);
    let key = |i: usize| score(i).unwrap_or(0.0);
    let (winner, loser) = if key(ib) < key(ia) {
        (ib, ia)
    } else {
        (ia, ib)
    };
    v.retain(|&i| i != winner);
    v.sort_by(|&x, &y| key(x).total_cmp(&key(y)));
    v.insert(0, winner);
    let why = format!(
        "least_latency: {} {} vs {} {}",
        targets[winner].label,
        ms(score(winner)),
        targets[loser].label,
        ms(score(loser))
    );
    (v, why)
}

/// Private targets with a free slot, then vendor targets, then full private targets (which can
/// still take the request by queueing if every vendor fails).
fn burst(targets: &[Target], eligible: &[usize]) -> (Vec<usize>, String) {
    use seam_config::Trust;
    let private = |i: &&usize| targets[**i].trust == Trust::Private;
    let (mut free, mut full) = (Vec::new(), Vec::new());
    for i in eligible.iter().filter(private) {
        if targets[*i].limiter.has_capacity() {
            free.push(*i);
        } else {
            full.push(*i);
        }
    }
    let vendors: Vec<usize> = eligible.iter().filter(|i| !private(i)).copied().collect();
    let why = match (free.first(), full.first()) {
        (Some(&i), _) => {
            let l = &targets[i].limiter;
            format!(
                "burst: {} has capacity ({}/{} in flight)",
                targets[i].label,
                l.in_flight(),
                l.capacity()
            )
        }
        (None, Some(&i)) => {
            let l = &targets[i].limiter;
            format!(
                "burst: {} at capacity ({}/{})",
                targets[i].label,
                l.in_flight(),
                l.capacity()
            )
        }
        (None, None) => "burst: no private target".to_owned(),
    };
    let mut v = free;
    v.extend(vendors);
    v.extend(full);
    (v, why)
}

#[cfg(test)]
mod tests;
