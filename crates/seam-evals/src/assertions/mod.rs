//! Assertions (in progress).
