//! MCP upstreams for Seam's `/mcp` endpoint: JSON-RPC 2.0 messages ([`jsonrpc`]), the two client
//! transports (streamable HTTP, stdio child processes, supervised and restarted with backoff), and
//! the [`Hub`] that aggregates every configured server's tools, prompts and resources under
//! namespaced names (`server__tool`) and forwards calls with a timeout, a concurrency cap and a
//! circuit breaker per server.
//!
//! The crate knows nothing of keys, policies or audit: the server crate decides who may see and
//! call what, governs arguments and results, and records each call. It never logs arguments or
//! results.

pub mod hub;
pub mod jsonrpc;
mod upstream;

pub use hub::{CallError, Changed, Entry, Hub, Kind};

/// The protocol revisions Seam speaks on the handshake (`initialize`) transport, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The revision Seam asks for and offers by default.
pub const LATEST_PROTOCOL_VERSION: &str = PROTOCOL_VERSIONS[0];

/// Splits a namespaced name at its first separator: `crm__lookup_customer` → `("crm",
/// "lookup_customer")`. Server names cannot contain the separator; tool names may.
pub fn split_name(namespaced: &str) -> Option<(&str, &str)> {
    namespaced
        .split_once(seam_config::mcp::SEPARATOR)
        .filter(|(s, t)| !s.is_empty() && !t.is_empty())
}

/// `server__name`.
pub fn join_name(server: &str, name: &str) -> String {
    format!("{server}{}{name}", seam_config::mcp::SEPARATOR)
}
