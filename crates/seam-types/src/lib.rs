//! The OpenAI-shaped data model Seam speaks to clients, and the one table of error codes.
//!
//! This crate does no IO and knows no runtime: providers convert their wire formats into these
//! types at their edge, and `seam-server` turns them into the public JSON. Structs keep fields
//! they do not interpret in an `extra` map so pass-through stays faithful.

pub mod chat;
pub mod civil;
pub mod embeddings;
pub mod error;
mod lenient;

pub use error::{ApiError, ErrorCode};
