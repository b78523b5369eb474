//! `[server]`: the listen address and what a client connection may hold.

use std::net::SocketAddr;
use std::time::Duration;

use crate::raw::RawServer;
use crate::{ConfigError, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES};

pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Below hyper's own read buffer (about 408 KiB), so Seam, not hyper, answers an oversized head.
pub const MAX_MAX_HEADER_BYTES: usize = 256 * 1024;
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    /// The request line and headers together (HTTP/1.1), or the header list (HTTP/2).
    pub max_header_bytes: usize,
    /// A request head must arrive whole within this long of its first byte (of the connection's
    /// opening, for its first request).
    pub header_timeout: Duration,
    /// A request body must arrive whole within this long of its head.
    pub body_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Open client connections at most; `None`: derived from the process's file-descriptor
    /// limit when the listener starts.
    pub max_connections: Option<usize>,
}

pub(crate) fn server(raw: RawServer, errors: &mut Vec<ConfigError>) -> ServerConfig {
    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        errors.push(ConfigError::new(
            "server.listen",
            format!("\"{listen_text}\" is not an address like 127.0.0.1:8700"),
        ));
        SocketAddr::from(([127, 0, 0, 1], 8700))
    });
    let max_body_bytes = match raw.max_body_bytes {
        None => DEFAULT_MAX_BODY_BYTES,
        Some(n) if n < 1024 => {
            errors.push(ConfigError::new(
                "server.max_body_bytes",
                "must be at least 1024",
            ));
            DEFAULT_MAX_BODY_BYTES
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let max_header_bytes = match raw.max_header_bytes {
        None => DEFAULT_MAX_HEADER_BYTES,
        Some(n) if !(1024..=MAX_MAX_HEADER_BYTES as u64).contains(&n) => {
            errors.push(ConfigError::new(
                "server.max_header_bytes",
                format!("must be between 1024 and {MAX_MAX_HEADER_BYTES}"),
            ));
            DEFAULT_MAX_HEADER_BYTES
        }
        Some(n) => usize::try_from(n).unwrap_or(DEFAULT_MAX_HEADER_BYTES),
    };
    let max_connections = match raw.max_connections {
        Some(0) => {
            errors.push(ConfigError::new(
                "server.max_connections",
                "must be at least 1 (leave it out to derive it from the file-descriptor limit)",
            ));
            None
        }
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        None => None,
    };
    ServerConfig {
        listen,
        max_body_bytes,
        max_header_bytes,
        header_timeout: positive_ms(
            "server.header_timeout_ms",
            raw.header_timeout_ms,
            DEFAULT_HEADER_TIMEOUT,
            errors,
        ),
        body_timeout: positive_ms(
            "server.body_timeout_ms",
            raw.body_timeout_ms,
            DEFAULT_BODY_TIMEOUT,
            errors,
        ),
        idle_timeout: positive_ms(
            "server.idle_timeout_ms",
            raw.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT,
            errors,
        ),
        max_connections,
    }
}

fn positive_ms(
    path: &str,
    v: Option<u64>,
    default: Duration,
    errors: &mut Vec<ConfigError>,
) -> Duration {
    match v {
        Some(0) => {
            errors.push(ConfigError::new(path, "must be greater than 0"));
            default
        }
        Some(n) => Duration::from_millis(n),
        None => default,
    }
}
