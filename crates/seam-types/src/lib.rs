//! The OpenAI-shaped data model Seam speaks to clients, and the one table of error codes.
//!
//! This crate does no IO and knows no runtime: providers convert their wire formats into these
//! types at their edge, and `seam-server` turns them into the public JSON. Structs keep fields
//! they do not interpret in an `extra` map so pass-through stays faithful.
//!
//! It also holds the few plain values sibling crates share without depending on each other:
//! UTC calendar dates (`civil`) and the spend ledger's [`Charge`] (`spend`).

pub mod chat;
pub mod civil;
pub mod embeddings;
pub mod error;
mod lenient;
pub mod spend;

pub use error::{ApiError, ErrorCode};
pub use spend::Charge;
