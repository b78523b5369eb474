//! The hub: every configured server, aggregated. SKELETON — the signatures are the contract the
//! server crate codes against; the bodies are being written.

use std::sync::Arc;
use std::time::Duration;

use seam_config::{McpConfig, McpServerConfig};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::jsonrpc::ErrorObject;

/// Which list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
    ResourceTemplates,
}

impl Kind {
    /// The upstream method that lists it (`tools/list`, …).
    pub fn method(self) -> &'static str {
        match self {
            Kind::Tools => "tools/list",
            Kind::Prompts => "prompts/list",
            Kind::Resources => "resources/list",
            Kind::ResourceTemplates => "resources/templates/list",
        }
    }

    /// The field of the list result that holds the items (`tools`, …).
    pub fn field(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources => "resources",
            Kind::ResourceTemplates => "resourceTemplates",
        }
    }
}

/// One aggregated item, as a client is shown it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The server it comes from.
    pub server: Arc<str>,
    /// Its namespaced name, `server__name` (tools, prompts; for resources and templates the
    /// namespaced `name`, which is what key scopes match; the `uri` is left as the server gave it).
    pub name: String,
    /// The item: the server's JSON with `name` replaced by the namespaced name.
    pub item: Value,
}

/// A list changed (a server said so, or a reload added or removed servers): sessions tell their
/// clients with `notifications/…/list_changed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    Tools,
    Prompts,
    Resources,
}

/// Why a call to a server failed. Messages never carry arguments or results.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("no MCP server `{0}` is configured")]
    UnknownServer(String),
    /// Not connected, starting, restarting, or its breaker is open.
    #[error("the MCP server `{server}` is unavailable: {reason}")]
    Unavailable { server: String, reason: String },
    /// Its concurrency cap is reached.
    #[error("the MCP server `{0}` is at its concurrency limit")]
    Overloaded(String),
    #[error("the MCP server `{server}` did not answer within {ms} ms")]
    Timeout { server: String, ms: u64 },
    #[error("the MCP server `{server}` sent more than {limit} bytes")]
    TooLarge { server: String, limit: u64 },
    /// The server answered with a JSON-RPC error: passed to the client as it is.
    #[error("the MCP server answered with error {}", .0.code)]
    Remote(ErrorObject),
    /// The server broke the protocol (an unreadable answer, a closed stream).
    #[error("the MCP server `{server}` broke the protocol: {reason}")]
    Protocol { server: String, reason: String },
}

/// Every configured server.
pub struct Hub {
    cfg: McpConfig,
    changed: broadcast::Sender<Changed>,
}

impl Hub {
    /// Starts (or, from `previous`, keeps) a connection per server. Servers whose config is
    /// unchanged keep their connection, process and breaker; removed ones are shut down once the
    /// previous hub is dropped. Needs a tokio runtime.
    pub fn new(cfg: &McpConfig, previous: Option<&Hub>) -> Arc<Hub> {
        let _ = previous;
        let (changed, _) = broadcast::channel(64);
        Arc::new(Hub {
            cfg: cfg.clone(),
            changed,
        })
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        self.cfg.servers.is_empty()
    }

    pub fn config(&self) -> &McpConfig {
        &self.cfg
    }

    pub fn server(&self, name: &str) -> Option<&McpServerConfig> {
        self.cfg.servers.get(name)
    }

    /// Every server's items of `kind`, in config order, with the servers skipped (down, timed
    /// out, failing) and why — a server that is down never fails the list.
    pub async fn list(&self, kind: Kind) -> (Vec<Entry>, Vec<(String, String)>) {
        let _ = kind;
        (Vec::new(), Vec::new())
    }

    /// Sends `method` with `params` to `server` and returns its `result`. `params` names are the
    /// server's own (the caller strips the namespace). Progress notifications the server sends
    /// for this call arrive on `notify` with the caller's own `progressToken`. Dropping the
    /// future cancels the call upstream (`notifications/cancelled`).
    pub async fn call(
        &self,
        server: &str,
        method: &str,
        params: Value,
        timeout: Duration,
        notify: Option<mpsc::Sender<Value>>,
    ) -> Result<Value, CallError> {
        let _ = (method, params, timeout, notify);
        Err(CallError::UnknownServer(server.to_owned()))
    }

    /// The server a resource URI belongs to: from the latest `resources/list`, else the first
    /// server whose resource template's literal prefix matches.
    pub fn resource_server(&self, uri: &str) -> Option<Arc<str>> {
        let _ = uri;
        None
    }

    /// List changes, for sessions' server streams.
    pub fn subscribe(&self) -> broadcast::Receiver<Changed> {
        self.changed.subscribe()
    }

    /// Servers, their transport, state (`up`, `starting`, `down`, breaker), restarts, last
    /// error, and their tools' namespaced names — for `GET /admin/mcp`. Never headers or env.
    pub async fn report(&self) -> Value {
        serde_json::json!({ "servers": [] })
    }
}
