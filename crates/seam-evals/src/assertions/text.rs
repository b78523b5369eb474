//! String checks on the output's text, and checks on the response's metadata.

use serde_json::Value;

use super::{Outcome, bad, cache, quote, value_list, value_text};
use crate::model::{Assertion, EvalError, Output};

/// `levenshtein`'s threshold when none is given.
pub(super) const LEVENSHTEIN_DEFAULT: f64 = 5.0;
/// Above this many cells (output length × value length), a failing `levenshtein` reports "more
/// than the threshold" instead of computing the exact distance.
const EXACT_CELLS: usize = 1_000_000;

/// String equality; a mapping or list `value` is compared as JSON with the output parsed as JSON.
pub(super) fn equals(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    match &a.value {
        Some(expected @ (Value::Object(_) | Value::Array(_))) => {
            Ok(match serde_json::from_str::<Value>(out.text.trim()) {
                Ok(actual) if actual == *expected => {
                    Outcome::check(true, "output equals the expected JSON")
                }
                Ok(_) => Outcome::check(
                    false,
                    format!(
                        "output JSON {} differs from the expected {}",
                        quote(out.text.trim()),
                        quote(&expected.to_string())
                    ),
                ),
                Err(e) => Outcome::check(
                    false,
                    format!(
                        "output is not JSON ({e}), expected {}",
                        quote(&expected.to_string())
                    ),
                ),
            })
        }
        _ => {
            let expected = value_text(a)?;
            Ok(if out.text == *expected {
                Outcome::check(true, format!("output equals {}", quote(&expected)))
            } else {
                Outcome::check(
                    false,
                    format!(
                        "output {} does not equal {}",
                        quote(&out.text),
                        quote(&expected)
                    ),
                )
            })
        }
    }
}

/// `contains`, `icontains`.
pub(super) fn contains(a: &Assertion, out: &Output, fold: bool) -> Result<Outcome, EvalError> {
    let needle = value_text(a)?;
    let found = if fold {
        out.text.to_lowercase().contains(&needle.to_lowercase())
    } else {
        out.text.contains(needle.as_ref())
    };
    let verb = if found {
        "contains"
    } else {
        "does not contain"
    };
    Ok(Outcome::check(
        found,
        format!("output {verb} {}{}", quote(&needle), case_note(fold)),
    ))
}

/// `contains-any`, `icontains-any`.
pub(super) fn contains_any(a: &Assertion, out: &Output, fold: bool) -> Result<Outcome, EvalError> {
    let (found, missing) = partition(a, out, fold)?;
    Ok(match found.first() {
        Some(first) => Outcome::check(true, format!("output contains {first}{}", case_note(fold))),
        None => Outcome::check(
            false,
            format!(
                "output contains none of {}{}",
                missing.join(", "),
                case_note(fold)
            ),
        ),
    })
}

/// `contains-all`, `icontains-all`.
pub(super) fn contains_all(a: &Assertion, out: &Output, fold: bool) -> Result<Outcome, EvalError> {
    let (found, missing) = partition(a, out, fold)?;
    Ok(if missing.is_empty() {
        Outcome::check(
            true,
            format!(
                "output contains all of {}{}",
                found.join(", "),
                case_note(fold)
            ),
        )
    } else {
        Outcome::check(
            false,
            format!(
                "output is missing {}{}",
                missing.join(", "),
                case_note(fold)
            ),
        )
    })
}

/// The listed values the output contains, and those it doesn't (each quoted).
fn partition(
    a: &Assertion,
    out: &Output,
    fold: bool,
) -> Result<(Vec<String>, Vec<String>), EvalError> {
    let needles = value_list(a)?;
    let folded = fold.then(|| out.text.to_lowercase());
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for needle in &needles {
        let hit = match &folded {
            Some(text) => text.contains(&needle.to_lowercase()),
            None => out.text.contains(needle.as_ref()),
        };
        if hit { &mut found } else { &mut missing }.push(quote(needle));
    }
    Ok((found, missing))
}

fn case_note(fold: bool) -> &'static str {
    if fold { " (ignoring case)" } else { "" }
}

pub(super) fn starts_with(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let prefix = value_text(a)?;
    let pass = out.text.starts_with(prefix.as_ref());
    let verb = if pass { "starts" } else { "does not start" };
    Ok(Outcome::check(
        pass,
        format!("output {verb} with {}", quote(&prefix)),
    ))
}

/// Rust `regex` syntax; the pattern may match anywhere (anchor it with `^…$` for a full match).
pub(super) fn regex(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let re = compiled_regex(a)?;
    let pass = re.is_match(&out.text);
    let verb = if pass { "matches" } else { "does not match" };
    Ok(Outcome::check(
        pass,
        format!("output {verb} /{}/", re.as_str()),
    ))
}

pub(super) fn compiled_regex(a: &Assertion) -> Result<regex::Regex, EvalError> {
    let pattern = value_text(a)?;
    cache::regex(&pattern).map_err(|e| bad("value", format!("invalid regular expression: {e}")))
}

/// Words are runs of non-whitespace. `value`: a number (exact), or `{min, max}` (inclusive,
/// either may be left out).
pub(super) fn word_count(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let (min, max) = word_bounds(a)?;
    let n = out.text.split_whitespace().count() as u64;
    let pass = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
    let wanted = match (min, max) {
        (Some(lo), Some(hi)) if lo == hi => format!("exactly {lo}"),
        (Some(lo), Some(hi)) => format!("between {lo} and {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => "any number of".to_owned(),
    };
    let verdict = if pass { "wanted" } else { "but wanted" };
    Ok(Outcome::check(
        pass,
        format!("output has {n} words, {verdict} {wanted}"),
    ))
}

pub(super) fn word_bounds(a: &Assertion) -> Result<(Option<u64>, Option<u64>), EvalError> {
    let count = |v: &Value, field: &str| {
        v.as_u64()
            .ok_or_else(|| bad(field, "a word count must be a whole number (0 or more)"))
    };
    match &a.value {
        Some(v @ Value::Number(_)) => count(v, "value").map(|n| (Some(n), Some(n))),
        Some(Value::Object(bounds)) => {
            if let Some(key) = bounds.keys().find(|k| *k != "min" && *k != "max") {
                return Err(bad(
                    &format!("value.{key}"),
                    "word-count's value takes only `min` and `max`",
                ));
            }
            let min = bounds
                .get("min")
                .map(|v| count(v, "value.min"))
                .transpose()?;
            let max = bounds
                .get("max")
                .map(|v| count(v, "value.max"))
                .transpose()?;
            match (min, max) {
                (None, None) => Err(bad("value", "word-count needs `min`, `max` or both")),
                (Some(lo), Some(hi)) if lo > hi => Err(bad(
                    "value",
                    format!("word-count's min ({lo}) is above its max ({hi})"),
                )),
                bounds => Ok(bounds),
            }
        }
        _ => Err(bad(
            "value",
            "word-count needs a number or `{min, max}` as its value",
        )),
    }
}

/// Edit distance (insertions, deletions, substitutions of characters) to `value` is at most
/// `threshold` (default 5). The score is 1 or 0, as in promptfoo.
pub(super) fn levenshtein(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let expected = value_text(a)?;
    let threshold = a.threshold.unwrap_or(LEVENSHTEIN_DEFAULT);
    // A fractional threshold allows the whole distances below it.
    let limit = threshold.floor().max(0.0) as usize;
    let a_chars: Vec<char> = out.text.chars().collect();
    let b_chars: Vec<char> = expected.chars().collect();
    Ok(match distance_within(&a_chars, &b_chars, limit) {
        Some(d) => Outcome::check(
            true,
            format!("Levenshtein distance {d} <= threshold {threshold}"),
        ),
        None => {
            // The exact distance is worth reporting when computing it is cheap.
            let longest = a_chars.len().max(b_chars.len());
            let exact = (a_chars.len().saturating_mul(b_chars.len()) <= EXACT_CELLS)
                .then(|| distance_within(&a_chars, &b_chars, longest))
                .flatten();
            let reason = match exact {
                Some(d) => format!("Levenshtein distance {d} > threshold {threshold}"),
                None => format!("Levenshtein distance is more than threshold {threshold}"),
            };
            Outcome::check(false, reason)
        }
    })
}

/// The Levenshtein distance between `a` and `b` if it is at most `limit`, else `None`. Only the
/// diagonal band of width `2 * limit + 1` is computed: O(limit × length), not O(length²).
pub(super) fn distance_within(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    // Common prefixes and suffixes don't change the distance.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let over = limit + 1;
    // prev[j]: distance between a[..i-1] and b[..j]; values above `limit` are capped at `over`.
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j.min(over)).collect();
    let mut cur = vec![over; b.len() + 1];
    for i in 1..=a.len() {
        let lo = i.saturating_sub(limit).max(1);
        let hi = (i + limit).min(b.len());
        cur.fill(over);
        cur[0] = i.min(over);
        let mut row_min = cur[0];
        for j in lo..=hi {
            let substitution = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let d = substitution.min(prev[j] + 1).min(cur[j - 1] + 1).min(over);
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

/// The finish reason equals `value`, ignoring case (`stop`, `length`, `tool_calls`, …).
pub(super) fn finish_reason(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let expected = value_text(a)?;
    Ok(match &out.finish_reason {
        None => Outcome::undecided("the endpoint did not report a finish reason"),
        Some(actual) if actual.eq_ignore_ascii_case(expected.trim()) => {
            Outcome::check(true, format!("finish reason is {actual:?}"))
        }
        Some(actual) => Outcome::check(
            false,
            format!("finish reason is {actual:?}, not {:?}", expected.trim()),
        ),
    })
}

/// The request took at most `threshold` milliseconds. A replayed (cached) answer's latency is not
/// this run's, so it cannot be checked: the assertion fails, negated or not.
pub(super) fn latency(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let limit = required_threshold(a)?;
    if out.cached {
        return Ok(Outcome::undecided(
            "latency is not known for a cached response",
        ));
    }
    let ms = out.latency_ms;
    Ok(if ms <= limit {
        Outcome::check(true, format!("latency {ms:.0} ms <= threshold {limit} ms"))
    } else {
        Outcome::check(false, format!("latency {ms:.0} ms > threshold {limit} ms"))
    })
}

/// The answer cost at most `threshold` USD; an unknown cost (no Seam gateway to report it) fails,
/// negated or not.
pub(super) fn cost(a: &Assertion, out: &Output) -> Result<Outcome, EvalError> {
    let limit = required_threshold(a)?;
    Ok(match out.cost_usd {
        None => Outcome::undecided(
            "cost is not known: the endpoint did not report one (x-seam-cost-usd)",
        ),
        Some(usd) if usd <= limit => {
            Outcome::check(true, format!("cost ${usd} <= threshold ${limit}"))
        }
        Some(usd) => Outcome::check(false, format!("cost ${usd} > threshold ${limit}")),
    })
}

pub(super) fn required_threshold(a: &Assertion) -> Result<f64, EvalError> {
    match a.threshold {
        Some(t) if t >= 0.0 => Ok(t),
        Some(_) => Err(bad(
            "threshold",
            format!("`{}` needs a threshold of 0 or more", a.kind),
        )),
        None => Err(bad(
            "threshold",
            format!("`{}` needs a `threshold`", a.kind),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str, limit: usize) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        distance_within(&a, &b, limit)
    }

    #[test]
    fn levenshtein_distances() {
        let cases = [
            ("kitten", "sitting", 3),
            ("sitting", "kitten", 3),
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("flaw", "lawn", 2),
            ("gumbo", "gambol", 2),
            ("book", "back", 2),
            ("héllo", "hello", 1),
            ("日本語", "日本", 1),
            ("same", "same", 0),
            ("abcdef", "azcdxf", 2),
        ];
        for (a, b, want) in cases {
            assert_eq!(dist(a, b, 10), Some(want), "{a} / {b}");
            assert_eq!(dist(a, b, want), Some(want), "{a} / {b} at its limit");
            if want > 0 {
                assert_eq!(dist(a, b, want - 1), None, "{a} / {b} under its limit");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn banded_distance_agrees_with_the_full_table(a in "[abé日]{0,12}", b in "[abé日]{0,12}", limit in 0usize..14) {
            let (xs, ys): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            let full = distance_within(&xs, &ys, xs.len().max(ys.len()));
            let d = full.unwrap_or(usize::MAX);
            proptest::prop_assert_eq!(distance_within(&xs, &ys, limit), (d <= limit).then_some(d));
        }
    }

    #[test]
    fn banded_distance_matches_full_dynamic_programming() {
        fn full(a: &[char], b: &[char]) -> usize {
            let mut prev: Vec<usize> = (0..=b.len()).collect();
            for i in 1..=a.len() {
                let mut cur = vec![i; b.len() + 1];
                for j in 1..=b.len() {
                    cur[j] = (prev[j - 1] + usize::from(a[i - 1] != b[j - 1]))
                        .min(prev[j] + 1)
                        .min(cur[j - 1] + 1);
                }
                prev = cur;
            }
            prev[b.len()]
        }
        let words = [
            "", "a", "ab", "ba", "abc", "acb", "kitten", "sitting", "mitten", "bitter", "abcabc",
            "cbacba",
        ];
        for x in words {
            for y in words {
                let (xs, ys): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
                let want = full(&xs, &ys);
                for limit in 0..8 {
                    let got = distance_within(&xs, &ys, limit);
                    assert_eq!(
                        got,
                        (want <= limit).then_some(want),
                        "{x:?} {y:?} limit {limit}"
                    );
                }
            }
        }
    }
}
