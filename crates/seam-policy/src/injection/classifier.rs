//! The learned injection classifier (skeleton; the model lands in the next commit).

/// The classifier's calibrated score for `text`, 0..=1.
pub fn score(_text: &str) -> f32 {
    0.0
}
