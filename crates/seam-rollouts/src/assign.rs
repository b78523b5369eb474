//! Sticky assignment: which variant serves a request, the same on every replica and release.
//!
//! A request's sticky value (its subject, its API key, or its request id) is hashed with the
//! rollout's name into one of [`BUCKETS`] buckets; the candidate serves buckets below its share in
//! basis points. Raising the share only adds buckets, so a subject on the candidate at 5 % stays on
//! it at 25 % (assignment is monotone), and the rollout's name in the hash makes rollouts
//! independent of each other.
//!
//! **The hash must never change**: replicas of different releases share one rollout, and a
//! change would move subjects between variants mid-rollout. `golden_buckets` pins it.

use serde::{Deserialize, Serialize};

/// Buckets per rollout: one per basis point of traffic.
pub const BUCKETS: u32 = 10_000;

/// Which side of a rollout serves a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Control,
    Candidate,
}

impl Variant {
    /// The variant of `bucket` when the candidate has `share_bp` basis points of traffic.
    #[inline]
    pub fn assign(bucket: u32, share_bp: u32) -> Variant {
        if bucket < share_bp {
            Variant::Candidate
        } else {
            Variant::Control
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Control => "control",
            Variant::Candidate => "candidate",
        }
    }
}

/// A traffic share in percent as basis points (1 % → 100), clamped to 0..=10 000.
pub fn basis_points(percent: f64) -> u32 {
    if percent.is_nan() {
        return 0;
    }
    (percent * 100.0).round().clamp(0.0, f64::from(BUCKETS)) as u32
}

/// The bucket (0..10 000) of a sticky value in a rollout: FNV-1a 64 over the rollout's name,
/// a 0xff separator (never in UTF-8, so `("ab", "c")` and `("a", "bc")` differ) and the value,
/// then splitmix64's finaliser so every bit of the key moves the low bits the modulo keeps.
#[inline]
pub fn bucket(rollout: &str, sticky: &[u8]) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for &b in rollout.as_bytes().iter().chain(&[0xff]).chain(sticky) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    (splitmix64(h) % u64::from(BUCKETS)) as u32
}

#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

    /// Pins the hash (values checked against an independent implementation): if this fails,
    /// the assignment of every live rollout would move.
    #[test]
    fn golden_buckets() {
        let table = [
            ("support-v4", "user-1", 8252),
            ("support-v4", "user-2", 24),
            ("support-v4", "", 447),
            ("", "user-1", 8096),
            ("checkout", "user-1", 2260),
            ("support-v4", "sk-live-…", 3380),
        ];
        for (rollout, sticky, want) in table {
            assert_eq!(
                bucket(rollout, sticky.as_bytes()),
                want,
                "{rollout} {sticky}"
            );
        }
    }

    #[test]
    fn separator_keeps_name_and_value_apart() {
        assert_ne!(bucket("ab", b"c"), bucket("a", b"bc"));
    }

    #[test]
    fn assignment_is_monotone_in_the_share() {
        for i in 0..2_000 {
            let b = bucket("r", format!("s{i}").as_bytes());
            let mut was_candidate = false;
            for pct in [0.0, 1.0, 5.0, 25.0, 50.0, 100.0] {
                let v = Variant::assign(b, basis_points(pct));
                if was_candidate {
                    assert_eq!(v, Variant::Candidate, "bucket {b} left at {pct}%");
                }
                was_candidate = v == Variant::Candidate;
            }
            assert_eq!(Variant::assign(b, basis_points(0.0)), Variant::Control);
            assert_eq!(Variant::assign(b, basis_points(100.0)), Variant::Candidate);
        }
    }

    #[test]
    fn shares_are_basis_points() {
        assert_eq!(basis_points(1.0), 100);
        assert_eq!(basis_points(0.5), 50);
        assert_eq!(basis_points(100.0), 10_000);
        assert_eq!(basis_points(250.0), 10_000);
        assert_eq!(basis_points(-1.0), 0);
        assert_eq!(Variant::assign(99, 100), Variant::Candidate);
        assert_eq!(Variant::assign(100, 100), Variant::Control);
        assert_eq!(Variant::Candidate.as_str(), "candidate");
        assert_eq!(Variant::Control.as_str(), "control");
    }

    /// 200 000 subjects over 100 groups of 100 buckets pass a chi-square test, and a 1 % share
    /// gets 1 % ± 0.1 % of them.
    #[test]
    fn buckets_are_uniform() {
        let n = 200_000;
        let mut groups = [0u32; 100];
        let mut one_percent = 0;
        for i in 0..n {
            let b = bucket("support-v4", format!("subject-{i}").as_bytes());
            assert!(b < BUCKETS);
            groups[(b / 100) as usize] += 1;
            one_percent += u32::from(Variant::assign(b, 100) == Variant::Candidate);
        }
        let mean = f64::from(n) / 100.0;
        let chi2: f64 = groups
            .iter()
            .map(|&c| (f64::from(c) - mean).powi(2) / mean)
            .sum();
        // 99 degrees of freedom: the 99.9th percentile is 148.
        assert!(chi2 < 148.0, "chi2 {chi2}");
        let share = f64::from(one_percent) / f64::from(n);
        assert!((share - 0.01).abs() < 0.001, "{share}");
    }
}
