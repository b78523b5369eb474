//! The detectors. Each file holds one family and the same shape: a unit struct implementing
//! [`Detector`](crate::Detector), its patterns compiled once, validators called on each candidate,
//! and a table test of positives and hard negatives.
//!
//! Scores: a candidate confirmed by a checksum scores 0.9–1.0; a well-formed candidate without a
//! checksum 0.5–0.8; a weak pattern that needs context words to count scores 0.3–0.45 (context adds
//! 0.35; the default threshold is 0.5). A national id that breaks only an issuance rule
//! ([`Verdict::Unissued`](crate::validators::Verdict::Unissued)) is reported only after one of
//! its entity's context words, at [`UNISSUED`].

mod apac;
mod cards;
mod crypto;
mod dates;
mod email;
mod europe;
mod iban;
pub mod names;
mod network;
mod phone;
pub(crate) mod scan;
pub mod secrets;
mod uk;
mod us;

use crate::Detector;

/// The score of a value that breaks only an issuance rule: under the default threshold on its
/// own, over it once its context word adds the boost. Detectors emit such values only after a
/// context word, so text without one sees no new finding, and a valid reading of the same span
/// (scored higher) wins the overlap.
pub(crate) const UNISSUED: f32 = 0.3;

const _: () = assert!(
    UNISSUED < seam_config::policy::DEFAULT_MIN_SCORE
        && UNISSUED + crate::CONTEXT_BOOST >= seam_config::policy::DEFAULT_MIN_SCORE
);

/// Every detector, in the order they run.
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(email::Email::new()),
        Box::new(cards::Cards::new()),
        Box::new(iban::Iban::new()),
        Box::new(phone::Phone::new()),
        Box::new(network::Network::new()),
        Box::new(crypto::Crypto::new()),
        Box::new(dates::Dates::new()),
        Box::new(us::Us::new()),
        Box::new(uk::Uk::new()),
        Box::new(europe::Europe::new()),
        Box::new(apac::Apac::new()),
        Box::new(secrets::Secrets::new()),
    ]
}

/// For detector tests: what one detector reports in `text` at the default threshold, as
/// (entity, matched text), after normalisation, context and overlap resolution.
#[cfg(test)]
pub(crate) fn found_by(detector: Box<dyn Detector>, text: &str) -> Vec<(&'static str, &str)> {
    crate::Scanner::new(vec![detector])
        .scan(text)
        .iter()
        .filter(|f| f.score >= 0.5)
        .map(|f| (f.entity, &text[f.start..f.end]))
        .collect()
}
