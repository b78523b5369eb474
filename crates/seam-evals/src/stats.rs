//! Statistics (the stats branch replaces this stub).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

pub fn wilson(successes: u64, n: u64, _confidence: f64) -> Interval {
    let p = if n == 0 {
        0.0
    } else {
        successes as f64 / n as f64
    };
    Interval { low: p, high: p }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    pub b: u64,
    pub c: u64,
    pub p_value: f64,
}

pub fn mcnemar(a_pass: &[bool], b_pass: &[bool]) -> McNemar {
    let b = a_pass
        .iter()
        .zip(b_pass)
        .filter(|(a, b)| **a && !**b)
        .count() as u64;
    let c = a_pass
        .iter()
        .zip(b_pass)
        .filter(|(a, b)| !**a && **b)
        .count() as u64;
    McNemar { b, c, p_value: 1.0 }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedDiff {
    pub mean: f64,
    pub interval: Interval,
    pub n: usize,
    pub resamples: u32,
    pub seed: u64,
}

pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    _confidence: f64,
    resamples: u32,
    seed: u64,
) -> PairedDiff {
    let n = a.len().min(b.len());
    let mean = if n == 0 {
        0.0
    } else {
        a.iter().zip(b).map(|(x, y)| y - x).sum::<f64>() / n as f64
    };
    PairedDiff {
        mean,
        interval: Interval {
            low: mean,
            high: mean,
        },
        n,
        resamples,
        seed,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

pub fn non_inferiority(diff: &Interval, margin: f64) -> Verdict {
    if diff.low > -margin {
        Verdict::Pass
    } else if diff.high < -margin {
        Verdict::Fail
    } else {
        Verdict::Inconclusive
    }
}
