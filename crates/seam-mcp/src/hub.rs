//! The hub: every configured server, aggregated under namespaced names. A reload builds a new
//! hub from the previous one: servers whose config is unchanged keep their connection, process,
//! breaker and cached lists, and the change channel is shared so sessions' subscriptions outlive
//! reloads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use seam_config::{McpConfig, McpServerConfig};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::jsonrpc::ErrorObject;
use crate::upstream::Upstream;

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
    /// By name, so in config order.
    upstreams: BTreeMap<String, Arc<Upstream>>,
}

impl Hub {
    /// Starts (or, from `previous`, keeps) a connection per server. Servers whose config is
    /// unchanged keep their connection, process and breaker (a change to only their policies,
    /// tool settings or trust keeps them too); removed ones are shut down once the previous hub
    /// is dropped. A reload that starts or removes a server tells subscribers that every list
    /// changed; the change channel is the previous hub's, so subscriptions outlive reloads.
    /// Needs a tokio runtime.
    pub fn new(cfg: &McpConfig, previous: Option<&Hub>) -> Arc<Hub> {
        let changed = previous.map_or_else(|| broadcast::channel(64).0, |p| p.changed.clone());
        let mut replaced = false;
        let mut upstreams = BTreeMap::new();
        for (name, server) in &cfg.servers {
            let kept = previous
                .and_then(|p| p.upstreams.get(name))
                .filter(|u| u.reusable_for(server, cfg.max_result_bytes));
            let upstream = match kept {
                Some(u) => Arc::clone(u),
                None => {
                    replaced = true;
                    Upstream::start(server, cfg.max_result_bytes, changed.clone())
                }
            };
            upstreams.insert(name.clone(), upstream);
        }
        if let Some(p) = previous {
            let removed = p.upstreams.keys().any(|n| !cfg.servers.contains_key(n));
            if replaced || removed {
                for c in [Changed::Tools, Changed::Prompts, Changed::Resources] {
                    let _ = changed.send(c);
                }
            }
        }
        Arc::new(Hub {
            cfg: cfg.clone(),
            changed,
            upstreams,
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
        let ttl = Duration::from_millis(self.cfg.list_ttl_ms);
        let lists = self.upstreams.values().map(|u| async move {
            let timeout = Duration::from_millis(u.cfg.timeout_ms);
            let listed = tokio::time::timeout(timeout, u.list(kind, ttl))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())));
            (u, listed)
        });
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (u, listed) in futures_util::future::join_all(lists).await {
            match listed {
                Ok(items) => {
                    entries.extend(items.iter().filter_map(|i| namespaced(&u.shared.name, i)))
                }
                Err(reason) => skipped.push((u.cfg.name.clone(), reason)),
            }
        }
        (entries, skipped)
    }

    /// Whether `server` lists an item of `kind` named `own` (its own name, not namespaced): one
    /// server's cached list, nothing copied — what a call checks before it goes out. `None` when
    /// the list cannot be read (the server is down or restarting): the call then goes ahead and
    /// fails as unavailable, not as an unknown tool.
    pub async fn has(&self, kind: Kind, server: &str, own: &str) -> Option<bool> {
        let u = self.upstreams.get(server)?;
        let ttl = Duration::from_millis(self.cfg.list_ttl_ms);
        let timeout = Duration::from_millis(u.cfg.timeout_ms);
        match tokio::time::timeout(timeout, u.list(kind, ttl)).await {
            Ok(Ok(items)) => Some(
                items
                    .iter()
                    .any(|i| i.get("name").and_then(Value::as_str) == Some(own)),
            ),
            _ => None,
        }
    }

    /// Sends `method` with `params` to `server` and returns its `result`. `params` names are the
    /// server's own (the caller strips the namespace). Progress notifications the server sends
    /// for this call arrive on `notify` with the caller's own `progressToken`, each as a whole
    /// JSON-RPC notification (`{"jsonrpc","method":"notifications/progress","params"}`), ready to
    /// forward; they are dropped when `notify` is full. Dropping the future cancels the call
    /// upstream (`notifications/cancelled`).
    pub async fn call(
        &self,
        server: &str,
        method: &str,
        params: Value,
        timeout: Duration,
        notify: Option<mpsc::Sender<Value>>,
    ) -> Result<Value, CallError> {
        let u = self
            .upstreams
            .get(server)
            .ok_or_else(|| CallError::UnknownServer(server.to_owned()))?;
        u.call(method, params, timeout, notify, true).await
    }

    /// The server a resource URI belongs to: from the latest `resources/list`, else the first
    /// server whose resource template's literal prefix matches.
    pub fn resource_server(&self, uri: &str) -> Option<Arc<str>> {
        let has = |items: &[Value], field: &str, hit: &dyn Fn(&str) -> bool| {
            items
                .iter()
                .filter_map(|i| i.get(field).and_then(Value::as_str))
                .any(hit)
        };
        let listed = |u: &&Arc<Upstream>| {
            u.last_list(Kind::Resources)
                .is_some_and(|l| has(&l, "uri", &|u| u == uri))
        };
        let templated = |u: &&Arc<Upstream>| {
            u.last_list(Kind::ResourceTemplates).is_some_and(|l| {
                has(&l, "uriTemplate", &|t| {
                    let prefix = t.split('{').next().unwrap_or_default();
                    !prefix.is_empty() && uri.starts_with(prefix)
                })
            })
        };
        let u = self
            .upstreams
            .values()
            .find(listed)
            .or_else(|| self.upstreams.values().find(templated))?;
        Some(Arc::clone(&u.shared.name))
    }

    /// [`Hub::resource_server`], reading the resource lists first when no list read so far
    /// knows `uri` (a client may read a resource it learned of elsewhere, or before any list).
    pub async fn locate_resource(&self, uri: &str) -> Option<Arc<str>> {
        if let Some(s) = self.resource_server(uri) {
            return Some(s);
        }
        let _ = self.list(Kind::Resources).await;
        if let Some(s) = self.resource_server(uri) {
            return Some(s);
        }
        let _ = self.list(Kind::ResourceTemplates).await;
        self.resource_server(uri)
    }

    /// List changes, for sessions' server streams.
    pub fn subscribe(&self) -> broadcast::Receiver<Changed> {
        self.changed.subscribe()
    }

    /// Servers, their transport, state (`up`, `starting`, `down`, breaker), restarts, last
    /// error, and their tools' namespaced names — for `GET /admin/mcp`. Never headers or env.
    pub async fn report(&self) -> Value {
        let servers: Vec<Value> = self
            .cfg
            .servers
            .iter()
            .filter_map(|(name, c)| Some(self.upstreams.get(name)?.report(c.trust)))
            .collect();
        serde_json::json!({ "servers": servers })
    }
}

/// An item as a client sees it: `name` namespaced (a `uri` or `uriTemplate` is left as it is).
fn namespaced(server: &Arc<str>, item: &Value) -> Option<Entry> {
    let own = item.get("name").and_then(Value::as_str)?;
    let name = crate::join_name(server, own);
    let mut item = item.clone();
    item["name"] = Value::String(name.clone());
    Some(Entry {
        server: Arc::clone(server),
        name,
        item,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>(_: &T) {}

    /// The server crate awaits these in axum handlers and spawned tasks, which need `Send`.
    #[test]
    fn futures_are_send() {
        let hub = Hub {
            cfg: McpConfig::default(),
            changed: broadcast::channel(1).0,
            upstreams: BTreeMap::new(),
        };
        send(&hub.list(Kind::Tools));
        send(&hub.call("s", "m", Value::Null, Duration::ZERO, None));
        send(&hub.report());
        send(&hub.locate_resource("x"));
    }
}
