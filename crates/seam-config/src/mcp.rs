//! `[mcp]` and `[mcp.servers.NAME]`: the tool servers Seam exposes to agents on `/mcp`.
//!
//! A server is reached over MCP's streamable HTTP transport (`url`) or started and supervised as a
//! child process speaking stdio (`command`). Its tools, prompts and resources are shown to clients
//! under namespaced names, `NAME__tool`, so a server's name may not contain `__`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::{ConfigError, Resolver, Secret, Trust};

/// Between a server's name and its tool's, prompt's or resource's name: `crm__lookup_customer`.
pub const SEPARATOR: &str = "__";

pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;
pub const DEFAULT_MAX_RESULT_BYTES: u64 = 4 * 1024 * 1024;
pub const DEFAULT_SESSION_IDLE_S: u64 = 3600;
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
pub const DEFAULT_LIST_TTL_MS: u64 = 30_000;

/// A validated `[mcp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct McpConfig {
    /// Upstream servers by name (the namespace of their tools).
    pub servers: BTreeMap<String, McpServerConfig>,
    /// The largest result (or list) read from an upstream server; past it the call fails.
    pub max_result_bytes: u64,
    /// A client session unused this long is forgotten (its next request gets a 404).
    pub session_idle_s: u64,
    /// Client sessions held at once; past it the least recently used is dropped.
    pub max_sessions: usize,
    /// How long a server's tool, prompt and resource lists are reused before they are read again
    /// (a server's `list_changed` notification refreshes them sooner).
    pub list_ttl_ms: u64,
    /// Browser origins (`https://console.example.com`) allowed to call `/mcp` besides loopback
    /// ones; a request with any other `Origin` is refused (DNS rebinding).
    pub allowed_origins: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            servers: BTreeMap::new(),
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            session_idle_s: DEFAULT_SESSION_IDLE_S,
            max_sessions: DEFAULT_MAX_SESSIONS,
            list_ttl_ms: DEFAULT_LIST_TTL_MS,
            allowed_origins: Vec::new(),
        }
    }
}

/// How Seam reaches a server.
#[derive(Clone, Debug, PartialEq)]
pub enum McpTransport {
    /// MCP streamable HTTP: POST JSON-RPC to `url`.
    Http {
        url: String,
        /// Sent with every request (`Authorization`, …); values from `env:`/`file:` are secrets.
        headers: Vec<(String, HeaderValue)>,
    },
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout; restarted with
    /// backoff when it dies.
    Stdio {
        command: String,
        args: Vec<String>,
        /// Added to an environment that is otherwise cleared but for `PATH`, `HOME`, `LANG` and
        /// `TMPDIR`: a tool server does not inherit Seam's secrets.
        env: Vec<(String, HeaderValue)>,
        cwd: Option<PathBuf>,
    },
}

/// A header or environment value: plain text, or a secret read from `env:`/`file:`.
#[derive(Clone, Debug, PartialEq)]
pub enum HeaderValue {
    Plain(String),
    Secret(Secret),
}

impl HeaderValue {
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(s) => s,
            HeaderValue::Secret(s) => s.expose(),
        }
    }
}

/// A validated `[mcp.servers.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct McpServerConfig {
    pub name: String,
    pub transport: McpTransport,
    /// `private` or `vendor` (the default): a key whose placement allows only `private` sees
    /// only private servers.
    pub trust: Trust,
    /// The policy run on every call's arguments (input stage) and result (output stage);
    /// `None`: the default policy.
    pub policy: Option<String>,
    /// A call (or list) that takes longer fails with a timeout; the session goes on.
    pub timeout_ms: u64,
    /// Calls in flight to this server at once; past it a call is refused as overloaded.
    pub max_concurrency: u32,
    /// `breaker = { … }`, as for providers: a server that keeps failing is skipped for a while.
    pub breaker: crate::BreakerSettings,
    /// Per-tool settings, by the tool's own (not namespaced) name.
    pub tools: BTreeMap<String, McpToolConfig>,
}

/// `[mcp.servers.NAME.tools.TOOL]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct McpToolConfig {
    /// Overrides the server's policy for this tool.
    pub policy: Option<String>,
    /// Calls per minute of this tool, per key.
    pub rpm: Option<u32>,
    /// Overrides the server's timeout for this tool.
    pub timeout_ms: Option<u64>,
}

impl McpServerConfig {
    /// The policy a call of `tool` runs under: the tool's, else the server's, else `None`.
    pub fn policy_for(&self, tool: &str) -> Option<&str> {
        self.tools
            .get(tool)
            .and_then(|t| t.policy.as_deref())
            .or(self.policy.as_deref())
    }

    pub fn timeout_for(&self, tool: &str) -> u64 {
        self.tools
            .get(tool)
            .and_then(|t| t.timeout_ms)
            .unwrap_or(self.timeout_ms)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMcp {
    #[serde(default)]
    pub servers: BTreeMap<String, RawMcpServer>,
    pub max_result_bytes: Option<u64>,
    pub session_idle_s: Option<u64>,
    pub max_sessions: Option<u64>,
    pub list_ttl_ms: Option<u64>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMcpServer {
    pub url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub trust: Option<String>,
    pub policy: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub breaker: Option<crate::raw::RawBreaker>,
    #[serde(default)]
    pub tools: BTreeMap<String, RawMcpTool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMcpTool {
    pub policy: Option<String>,
    pub rpm: Option<u32>,
    pub timeout_ms: Option<u64>,
}

/// A server name: letters, digits, `-` and `_`, no `__` (the namespace separator), not starting
/// or ending with `_`.
fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.contains(SEPARATOR)
        && !name.starts_with('_')
        && !name.ends_with('_')
}

fn value(path: &str, v: &str, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> HeaderValue {
    if v.starts_with("env:") || v.starts_with("file:") {
        match r.secret(path, v) {
            Ok(s) => HeaderValue::Secret(s),
            Err(e) => {
                errors.push(e);
                HeaderValue::Plain(String::new())
            }
        }
    } else {
        HeaderValue::Plain(v.to_owned())
    }
}

fn check_policy(
    path: String,
    name: Option<String>,
    policies: &BTreeMap<String, crate::PolicyConfig>,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let name = name?;
    if !policies.contains_key(&name) {
        errors.push(ConfigError::new(
            path,
            format!("names the policy `{name}`, which is not declared in [policies]"),
        ));
    }
    Some(name)
}

fn timeout(path: String, v: Option<u64>, default: u64, errors: &mut Vec<ConfigError>) -> u64 {
    match v {
        None => default,
        Some(n) if (1..=3_600_000).contains(&n) => n,
        Some(_) => {
            errors.push(ConfigError::new(path, "must be 1 – 3600000"));
            default
        }
    }
}

pub(crate) fn mcp(
    raw: RawMcp,
    policies: &BTreeMap<String, crate::PolicyConfig>,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> McpConfig {
    let d = McpConfig::default();
    let positive = |path: &str, v: Option<u64>, default: u64, errors: &mut Vec<ConfigError>| match v
    {
        None => default,
        Some(0) => {
            errors.push(ConfigError::new(path, "must be at least 1"));
            default
        }
        Some(n) => n,
    };
    let max_result_bytes = positive(
        "mcp.max_result_bytes",
        raw.max_result_bytes,
        d.max_result_bytes,
        errors,
    );
    let session_idle_s = positive(
        "mcp.session_idle_s",
        raw.session_idle_s,
        d.session_idle_s,
        errors,
    );
    let max_sessions = positive(
        "mcp.max_sessions",
        raw.max_sessions,
        d.max_sessions as u64,
        errors,
    );
    let list_ttl_ms = raw.list_ttl_ms.unwrap_or(d.list_ttl_ms);
    let mut allowed_origins = Vec::new();
    for (i, o) in raw.allowed_origins.into_iter().enumerate() {
        let o = o.trim_end_matches('/').to_owned();
        let scheme_ok = o.starts_with("http://") || o.starts_with("https://");
        let host = o.split_once("://").map_or("", |(_, h)| h);
        if !scheme_ok || host.is_empty() || host.contains('/') {
            errors.push(ConfigError::new(
                format!("mcp.allowed_origins[{i}]"),
                "must be an origin: scheme and host, with an optional port (https://console.example.com)",
            ));
        } else {
            allowed_origins.push(o.to_ascii_lowercase());
        }
    }
    let mut servers = BTreeMap::new();
    for (name, s) in raw.servers {
        let path = format!("mcp.servers.{name}");
        if !valid_server_name(&name) {
            errors.push(ConfigError::new(
                &path,
                "a server name is 1 – 64 letters, digits, `-` or `_`, without `__` (it separates a server's name from its tools') and not starting or ending with `_`",
            ));
            continue;
        }
        let transport = match (s.url, s.command) {
            (Some(_), Some(_)) => {
                errors.push(ConfigError::new(
                    &path,
                    "has both `url` and `command`: a server is reached over HTTP or started as a process, not both",
                ));
                continue;
            }
            (None, None) => {
                errors.push(ConfigError::new(
                    &path,
                    "needs `url` (streamable HTTP) or `command` (a process speaking stdio)",
                ));
                continue;
            }
            (Some(url), None) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    errors.push(ConfigError::new(
                        format!("{path}.url"),
                        "must start with http:// or https://",
                    ));
                }
                for (key, field) in [
                    ("args", !s.args.is_empty()),
                    ("env", !s.env.is_empty()),
                    ("cwd", s.cwd.is_some()),
                ] {
                    if field {
                        errors.push(ConfigError::new(
                            format!("{path}.{key}"),
                            "applies only to a `command` server",
                        ));
                    }
                }
                let headers = s
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        let valid = !k.is_empty()
                            && k.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                        if !valid {
                            errors.push(ConfigError::new(
                                format!("{path}.headers.{k}"),
                                "is not a valid header name",
                            ));
                        }
                        (
                            k.clone(),
                            value(&format!("{path}.headers.{k}"), v, r, errors),
                        )
                    })
                    .collect();
                McpTransport::Http { url, headers }
            }
            (None, Some(command)) => {
                if command.trim().is_empty() {
                    errors.push(ConfigError::new(
                        format!("{path}.command"),
                        "must not be empty",
                    ));
                }
                if !s.headers.is_empty() {
                    errors.push(ConfigError::new(
                        format!("{path}.headers"),
                        "applies only to a `url` server",
                    ));
                }
                let env = s
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), value(&format!("{path}.env.{k}"), v, r, errors)))
                    .collect();
                McpTransport::Stdio {
                    command,
                    args: s.args,
                    env,
                    cwd: s.cwd.map(|c| r.base_dir.join(c)),
                }
            }
        };
        let trust = match s.trust.as_deref() {
            None => Trust::Vendor,
            Some(t) => Trust::parse(t).unwrap_or_else(|| {
                errors.push(ConfigError::new(
                    format!("{path}.trust"),
                    "must be \"private\" or \"vendor\"",
                ));
                Trust::Vendor
            }),
        };
        let policy = check_policy(format!("{path}.policy"), s.policy, policies, errors);
        let timeout_ms = timeout(
            format!("{path}.timeout_ms"),
            s.timeout_ms,
            DEFAULT_TIMEOUT_MS,
            errors,
        );
        let max_concurrency = match s.max_concurrency {
            None => DEFAULT_MAX_CONCURRENCY,
            Some(0) => {
                errors.push(ConfigError::new(
                    format!("{path}.max_concurrency"),
                    "must be at least 1",
                ));
                DEFAULT_MAX_CONCURRENCY
            }
            Some(n) => n,
        };
        let breaker = crate::routing::breaker(&path, s.breaker, errors);
        let tools = s
            .tools
            .into_iter()
            .map(|(tool, t)| {
                let tpath = format!("{path}.tools.{tool}");
                let cfg = McpToolConfig {
                    policy: check_policy(format!("{tpath}.policy"), t.policy, policies, errors),
                    rpm: match t.rpm {
                        Some(0) => {
                            errors.push(ConfigError::new(
                                format!("{tpath}.rpm"),
                                "must be at least 1",
                            ));
                            None
                        }
                        other => other,
                    },
                    timeout_ms: t
                        .timeout_ms
                        .map(|v| timeout(format!("{tpath}.timeout_ms"), Some(v), 0, errors)),
                };
                (tool, cfg)
            })
            .collect();
        servers.insert(
            name.clone(),
            McpServerConfig {
                name,
                transport,
                trust,
                policy,
                timeout_ms,
                max_concurrency,
                breaker,
                tools,
            },
        );
    }
    McpConfig {
        servers,
        max_result_bytes,
        session_idle_s,
        max_sessions: usize::try_from(max_sessions).unwrap_or(usize::MAX),
        list_ttl_ms,
        allowed_origins,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;

    fn check(text: &str) -> Result<McpConfig, Vec<String>> {
        let env = |n: &str| (n == "CRM_TOKEN").then(|| "tok-123".to_owned());
        let r = crate::Resolver {
            env: &env,
            base_dir: PathBuf::from("/etc/seam"),
        };
        crate::from_toml(text, &r)
            .map(|c| c.mcp)
            .map_err(|es| es.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn servers_are_parsed() {
        let c = check(
            r#"
[mcp.servers.crm]
url = "https://crm.internal/mcp"
headers = { Authorization = "env:CRM_TOKEN", X-Team = "search" }
trust = "private"
timeout_ms = 5000
breaker = { consecutive_failures = 2, open_ms = 500 }
[mcp.servers.crm.tools.lookup_customer]
rpm = 10

[mcp.servers.files]
command = "python3"
args = ["-m", "files_server"]
env = { LOG_LEVEL = "warning" }
cwd = "tools"
"#,
        )
        .unwrap();
        let crm = &c.servers["crm"];
        assert_eq!(crm.trust, Trust::Private);
        assert_eq!(crm.timeout_for("lookup_customer"), 5000);
        assert_eq!(crm.tools["lookup_customer"].rpm, Some(10));
        assert_eq!(crm.breaker.consecutive_failures, 2);
        assert_eq!(crm.breaker.open_for, std::time::Duration::from_millis(500));
        let McpTransport::Http { headers, .. } = &crm.transport else {
            panic!("http")
        };
        assert_eq!(headers[0].1.expose(), "tok-123");
        assert!(matches!(headers[0].1, HeaderValue::Secret(_)));
        assert_eq!(headers[1].1, HeaderValue::Plain("search".into()));
        let McpTransport::Stdio { cwd, args, .. } = &c.servers["files"].transport else {
            panic!("stdio")
        };
        assert_eq!(
            cwd.as_deref(),
            Some(std::path::Path::new("/etc/seam/tools"))
        );
        assert_eq!(args, &["-m", "files_server"]);
        assert_eq!(c.servers["files"].trust, Trust::Vendor);
        // No `breaker`: the same defaults as a provider's.
        assert_eq!(
            c.servers["files"].breaker,
            crate::BreakerSettings::default()
        );
    }

    #[test]
    fn bad_servers_are_reported_with_their_paths() {
        let errs = check(
            r#"
[mcp.servers.a__b]
url = "https://x"
[mcp.servers.both]
url = "https://x"
command = "x"
[mcp.servers.none]
trust = "private"
[mcp.servers.web]
url = "ftp://x"
args = ["x"]
policy = "nope"
trust = "public"
headers = { Authorization = "env:MISSING" }
[mcp.servers.web.tools.t]
rpm = 0
"#,
        )
        .unwrap_err();
        let joined = errs.join("\n");
        for path in [
            "mcp.servers.a__b:",
            "mcp.servers.both:",
            "mcp.servers.none:",
            "mcp.servers.web.url:",
            "mcp.servers.web.args:",
            "mcp.servers.web.policy:",
            "mcp.servers.web.trust:",
            "mcp.servers.web.headers.Authorization:",
            "mcp.servers.web.tools.t.rpm:",
        ] {
            assert!(joined.contains(path), "{path} missing from:\n{joined}");
        }
    }
}
