use std::time::Duration;

use proptest::prelude::{any, prop_assert, prop_assert_eq, prop_assume, proptest};
use seam_config::Trust;

use super::*;
use crate::testing::target;

fn seeded(seed: u64) -> impl FnMut() -> f64 {
    let mut rng = fastrand::Rng::with_seed(seed);
    move || rng.f64()
}

fn labels(targets: &[Target], order: &[usize]) -> Vec<String> {
    order.iter().map(|&i| targets[i].label.clone()).collect()
}

#[test]
fn fallback_and_cost_orders() {
    let ts = vec![
        target("a/1", Trust::Vendor, 1, 3, 4),
        target("b/1", Trust::Vendor, 1, 1, 4),
        target("c/1", Trust::Vendor, 1, 1, 4),
    ];
    let mut u = seeded(1);
    let (o, why) = order(Strategy::Fallback, &ts, &[0, 1, 2], false, &mut u);
    assert_eq!(labels(&ts, &o), ["a/1", "b/1", "c/1"]);
    assert_eq!(why, "fallback: primary");
    let (o, why) = order(Strategy::Fallback, &ts, &[1, 2], false, &mut u);
    assert_eq!(labels(&ts, &o), ["b/1", "c/1"]);
    assert_eq!(why, "fallback: first eligible target");
    let (o, why) = order(Strategy::Cost, &ts, &[0, 1, 2], false, &mut u);
    assert_eq!(
        labels(&ts, &o),
        ["b/1", "c/1", "a/1"],
        "ties keep config order"
    );
    assert_eq!(why, "cost: cheapest is b/1 (cost_rank 1)");
}

#[test]
fn least_latency_prefers_the_faster_and_explores_the_unknown() {
    let ts = vec![
        target("slow/m", Trust::Vendor, 1, 0, 4),
        target("fast/m", Trust::Vendor, 1, 0, 4),
    ];
    ts[0].health.latency.observe(Duration::from_millis(50));
    ts[1].health.latency.observe(Duration::from_millis(10));
    let mut u = seeded(7);
    for _ in 0..20 {
        let (o, why) = order(Strategy::LeastLatency, &ts, &[0, 1], false, &mut u);
        assert_eq!(labels(&ts, &o), ["fast/m", "slow/m"]);
        assert_eq!(why, "least_latency: fast/m 10.0 ms vs slow/m 50.0 ms");
    }
    // Streams rank by time to first token, falling back to latency when there is none.
    ts[0].health.ttft.observe(Duration::from_millis(1));
    let (o, _) = order(Strategy::LeastLatency, &ts, &[0, 1], true, &mut u);
    assert_eq!(labels(&ts, &o), ["slow/m", "fast/m"]);
    let fresh = vec![
        target("new/m", Trust::Vendor, 1, 0, 4),
        target("fast/m", Trust::Vendor, 1, 0, 4),
    ];
    fresh[1].health.latency.observe(Duration::from_millis(10));
    let (o, why) = order(Strategy::LeastLatency, &fresh, &[0, 1], false, &mut u);
    assert_eq!(labels(&fresh, &o), ["new/m", "fast/m"]);
    assert!(why.contains("no samples yet"), "{why}");
}

#[test]
fn burst_fills_private_then_spills_to_vendors() {
    let ts = vec![
        target("vendor/m", Trust::Vendor, 1, 0, 100),
        target("local/m", Trust::Private, 1, 0, 2),
    ];
    let mut u = seeded(3);
    let (o, why) = order(Strategy::Burst, &ts, &[0, 1], false, &mut u);
    assert_eq!(labels(&ts, &o), ["local/m", "vendor/m"]);
    assert_eq!(why, "burst: local/m has capacity (0/2 in flight)");
    let _a = ts[1].limiter.try_acquire().unwrap();
    let _b = ts[1].limiter.try_acquire().unwrap();
    let (o, why) = order(Strategy::Burst, &ts, &[0, 1], false, &mut u);
    assert_eq!(labels(&ts, &o), ["vendor/m", "local/m"]);
    assert_eq!(why, "burst: local/m at capacity (2/2)");
}

proptest! {
    // The first pick follows the weights: over many draws each target leads in proportion to its
    // weight (within 2 percentage points), weight-0 targets never lead, and every order is a
    // permutation of the eligible targets.
    #[test]
    fn weighted_first_pick_follows_the_weights(weights in proptest::collection::vec(0u32..10, 1..5), seed in any::<u64>()) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let ts: Vec<Target> = weights.iter().enumerate()
            .map(|(i, &w)| target(&format!("p{i}/m"), Trust::Vendor, w, 0, 4))
            .collect();
        let eligible: Vec<usize> = (0..ts.len()).collect();
        let mut u = seeded(seed);
        let draws = 20_000;
        let mut first = vec![0u32; ts.len()];
        for _ in 0..draws {
            let (o, _) = order(Strategy::Weighted, &ts, &eligible, false, &mut u);
            let mut sorted = o.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &eligible);
            first[o[0]] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let expect = f64::from(w) / f64::from(total);
            let got = f64::from(first[i]) / f64::from(draws);
            prop_assert!((got - expect).abs() < 0.02, "target {} weight {}: {} vs {}", i, w, got, expect);
            if w == 0 {
                prop_assert_eq!(first[i], 0);
            }
        }
    }
}
