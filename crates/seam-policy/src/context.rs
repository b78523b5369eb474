//! Scoped context windows: `max_input_tokens` with `on_overflow = "reject" | "truncate"`.
//!
//! Token counts are an estimate, documented as such: one token per four bytes of UTF-8 (OpenAI's
//! rule of thumb for English; code and non-Latin scripts run denser, so the estimate errs towards
//! counting more) plus [`PER_MESSAGE`] for each message's framing. A limit is a guard rail set
//! well under a model's real window, so an estimate that is a few percent off does not matter,
//! while a real tokenizer per vendor would cost memory and start-up time on every replica.

use seam_config::Overflow;

/// Tokens of framing per message (role, separators), as OpenAI counts them.
pub const PER_MESSAGE: u32 = 4;

/// Estimated tokens in `text`.
pub fn estimate(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

/// Messages that are dropped or kept together: an assistant turn that calls tools and the tool
/// results that answer it form one unit, since one without the other is an invalid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Message indices, contiguous.
    pub messages: std::ops::Range<usize>,
    /// System messages and the last turn are never dropped.
    pub pinned: bool,
    pub tokens: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// Drop these message indices (the oldest unpinned units) and it fits.
    Drop(Vec<usize>),
    /// It does not fit, and the policy rejects (or even truncation cannot make it fit).
    TooLong {
        estimated: u64,
        limit: u32,
    },
}

pub fn fit(units: &[Unit], limit: u32, overflow: Overflow) -> Fit {
    let total: u64 = units.iter().map(|u| u64::from(u.tokens)).sum();
    if total <= u64::from(limit) {
        return Fit::Fits;
    }
    if overflow == Overflow::Reject {
        return Fit::TooLong {
            estimated: total,
            limit,
        };
    }
    let mut left = total;
    let mut drop = Vec::new();
    for u in units.iter().filter(|u| !u.pinned) {
        if left <= u64::from(limit) {
            break;
        }
        left -= u64::from(u.tokens);
        drop.extend(u.messages.clone());
    }
    if left > u64::from(limit) {
        return Fit::TooLong {
            estimated: left,
            limit,
        };
    }
    Fit::Drop(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(from: usize, to: usize, pinned: bool, tokens: u32) -> Unit {
        Unit {
            messages: from..to,
            pinned,
            tokens,
        }
    }

    #[test]
    fn truncation_drops_the_oldest_unpinned_units_first() {
        let units = [
            u(0, 1, true, 10),
            u(1, 2, false, 50),
            u(2, 4, false, 50),
            u(4, 5, false, 20),
            u(5, 6, true, 10),
        ];
        assert_eq!(fit(&units, 200, Overflow::Truncate), Fit::Fits);
        assert_eq!(fit(&units, 100, Overflow::Truncate), Fit::Drop(vec![1]));
        assert_eq!(
            fit(&units, 40, Overflow::Truncate),
            Fit::Drop(vec![1, 2, 3])
        );
        assert_eq!(
            fit(&units, 100, Overflow::Reject),
            Fit::TooLong {
                estimated: 140,
                limit: 100
            }
        );
        assert_eq!(
            fit(&units, 15, Overflow::Truncate),
            Fit::TooLong {
                estimated: 20,
                limit: 15
            }
        );
    }

    #[test]
    fn estimate_rounds_up() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("abcde"), 2);
    }
}
