//! The detectors. Each file holds one family and the same shape: a unit struct implementing
//! [`Detector`](crate::Detector), its patterns compiled once, validators called on each candidate,
//! and a table test of positives and hard negatives.
//!
//! Scores: a candidate confirmed by a checksum scores 0.9–1.0; a well-formed candidate without a
//! checksum 0.5–0.8; a weak pattern that needs context words to count scores 0.3–0.45 (context adds
//! 0.35; the default threshold is 0.5).

mod email;

use crate::Detector;

/// Every detector, in the order they run.
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![Box::new(email::Email::new())]
}
