//! Scoped context windows: `max_input_tokens` with `on_overflow = "reject" | "truncate"`.
//!
//! Tokens are counted with OpenAI's own tokenizer (`o200k_base` for GPT-4o, o-series and later,
//! `cl100k_base` for GPT-4 and GPT-3.5) when the route's model is one of theirs, and otherwise
//! estimated, documented as such: one token per four bytes of UTF-8 (OpenAI's rule of thumb for
//! English; code and non-Latin scripts run denser, so the estimate errs towards counting more).
//! Each message adds [`PER_MESSAGE`] for its framing. A tokenizer's tables load on first use
//! (about 0.2 s and some tens of MB), so only policies with a limit on OpenAI models pay for them.

use seam_config::Overflow;
use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::Tokenizer;

/// How tokens are counted for one model.
#[derive(Clone, Copy)]
pub enum Counter {
    /// A real tokenizer and its name.
    Bpe(&'static CoreBPE, &'static str),
    /// One token per four bytes.
    Estimate,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Counter {
    /// The tokenizer of an OpenAI model (`gpt-4o-mini`, `o3`, `ft:gpt-4o:…`), else the estimate.
    /// The model's tables load here on first use.
    pub fn for_model(model: &str) -> Counter {
        match tiktoken_rs::tokenizer::get_tokenizer(model) {
            Some(Tokenizer::O200kBase) => {
                Counter::Bpe(tiktoken_rs::o200k_base_singleton(), "o200k_base")
            }
            Some(Tokenizer::Cl100kBase) => {
                Counter::Bpe(tiktoken_rs::cl100k_base_singleton(), "cl100k_base")
            }
            _ => Counter::Estimate,
        }
    }

    /// Whether `model` has a real tokenizer here (without loading it).
    pub fn has_tokenizer(model: &str) -> bool {
        matches!(
            tiktoken_rs::tokenizer::get_tokenizer(model),
            Some(Tokenizer::O200kBase | Tokenizer::Cl100kBase)
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Counter::Bpe(_, name) => name,
            Counter::Estimate => "estimate",
        }
    }

    /// Tokens in `text`.
    pub fn count(&self, text: &str) -> u32 {
        match self {
            Counter::Bpe(bpe, _) => u32::try_from(bpe.count_ordinary(text)).unwrap_or(u32::MAX),
            Counter::Estimate => estimate(text),
        }
    }
}

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
    fn openai_models_are_counted_with_their_tokenizer() {
        let c = Counter::for_model("gpt-4o-mini");
        assert_eq!(c.name(), "o200k_base");
        assert_eq!(c.count("hello world"), 2);
        assert_eq!(Counter::for_model("gpt-4-0613").name(), "cl100k_base");
        assert_eq!(Counter::for_model("claude-3-5-haiku").name(), "estimate");
        assert_eq!(Counter::for_model("qwen2.5-7b").count("abcdefgh"), 2);
        assert!(Counter::has_tokenizer("o3-mini") && !Counter::has_tokenizer("llama3"));
    }

    #[test]
    fn estimate_rounds_up() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("abcde"), 2);
    }
}
