//! The red-team probe library (in progress).
