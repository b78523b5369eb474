//! Calendar periods in UTC, from Unix milliseconds, without a date library.

/// A budget's period: the calendar day or month, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Month,
}

const DAY_MS: u64 = 86_400_000;

use seam_types::civil::{civil_from_days as civil, days_from_civil as days};

impl Period {
    /// The period containing `now_ms`: `d:2026-11-29` or `m:2026-11`.
    pub fn label(self, now_ms: u64) -> String {
        let (y, m, d) = civil((now_ms / DAY_MS) as i64);
        match self {
            Period::Day => format!("d:{y:04}-{m:02}-{d:02}"),
            Period::Month => format!("m:{y:04}-{m:02}"),
        }
    }

    /// When the period containing `now_ms` ends (the next one's first millisecond).
    pub fn end_ms(self, now_ms: u64) -> u64 {
        let today = (now_ms / DAY_MS) as i64;
        let next = match self {
            Period::Day => today + 1,
            Period::Month => {
                let (y, m, _) = civil(today);
                if m == 12 {
                    days(y + 1, 1, 1)
                } else {
                    days(y, m + 1, 1)
                }
            }
        };
        u64::try_from(next).unwrap_or(0) * DAY_MS
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_and_ends() {
        // 2026-11-29T12:15:18Z
        let t = 1_795_954_518_000;
        assert_eq!(Period::Day.label(t), "d:2026-11-29");
        assert_eq!(Period::Month.label(t), "m:2026-11");
        assert_eq!(Period::Day.end_ms(t), 1_795_996_800_000); // 2026-11-30T00:00Z
        assert_eq!(Period::Month.end_ms(t), 1_796_083_200_000); // 2026-12-01T00:00Z
        // December rolls into the next year; February of a leap year has 29 days.
        let dec = 1_798_675_200_000; // 2026-12-31T00:00Z
        assert_eq!(Period::Month.label(dec), "m:2026-12");
        assert_eq!(Period::Month.end_ms(dec), 1_798_761_600_000); // 2027-01-01
        let feb = 1_709_164_800_000; // 2024-02-29T00:00Z
        assert_eq!(Period::Day.label(feb), "d:2024-02-29");
        assert_eq!(Period::Month.end_ms(feb), 1_709_251_200_000); // 2024-03-01
    }

    proptest::proptest! {
        #[test]
        fn days_round_trip(d in -1_000_000i64..1_000_000) {
            let (y, m, dd) = civil(d);
            proptest::prop_assert_eq!(days(y, m, dd), d);
        }

        #[test]
        fn the_end_is_in_the_next_period(t in 0u64..4_102_444_800_000) {
            for p in [Period::Day, Period::Month] {
                let end = p.end_ms(t);
                proptest::prop_assert!(end > t);
                proptest::prop_assert_eq!(p.label(end - 1), p.label(t));
                proptest::prop_assert_ne!(p.label(end), p.label(t));
            }
        }
    }
}
