//! Calendar dates in UTC without a date library: the one copy of Howard Hinnant's
//! `days_from_civil` / `civil_from_days` (proleptic Gregorian calendar), used for RFC 3339 times
//! (seam-store), budget periods (seam-limits) and SigV4 dates (seam-providers).

/// (year, month 1–12, day 1–31) of the day `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in range by construction (day 1–31, month 1–12), so the casts cannot truncate.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days from 1970-01-01 to (year, month 1–12, day); a day past the month's end counts on into
/// the next month, as the algorithm does.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (10_957, (2000, 1, 1)),
            (11_016, (2000, 2, 29)), // 2000 is a leap year (divisible by 400)
            (11_017, (2000, 3, 1)),
            (19_782, (2024, 2, 29)),
            (20_786, (2026, 11, 29)),
            (-25_508, (1900, 3, 1)), // 1900 is not (divisible by 100): Feb 28 comes before
            (-25_509, (1900, 2, 28)),
            (47_482, (2100, 1, 1)),
            (-719_468, (0, 3, 1)),
        ] {
            assert_eq!(civil_from_days(days), date, "day {days}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
        }
    }

    #[test]
    fn leap_years_have_a_29th_of_february() {
        for (y, leap) in [
            (1900, false),
            (2000, true),
            (2023, false),
            (2024, true),
            (2100, false),
        ] {
            let (_, m, d) = civil_from_days(days_from_civil(y, 2, 29));
            assert_eq!((m, d) == (2, 29), leap, "{y}");
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trip(days in -100_000_000i64..100_000_000) {
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
            // The next day is the next date.
            let (y2, m2, d2) = civil_from_days(days + 1);
            proptest::prop_assert!((y2, m2, d2) > (y, m, d));
        }
    }
}
