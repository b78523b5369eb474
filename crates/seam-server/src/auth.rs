//! Who is calling: API keys for `/v1/*`, the admin key for `/admin/*`.
//!
//! Keys come from the config (`[keys.NAME]`, by hash) and from the store (`seam keys create`);
//! the server holds every active key in memory by the hash of its secret, so authenticating is one
//! SHA-256 and one map lookup, and refreshes the store's keys every few seconds so keys created or
//! revoked by another process (or replica) take effect without a restart. Once any key exists,
//! every `/v1` request needs one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use seam_config::{AuditClass, Config, KeyConfig};
use seam_types::{ApiError, ErrorCode};

use crate::SharedState;
use crate::error::error_response;

/// How often keys in the store are read again.
const REFRESH: Duration = Duration::from_secs(5);

/// An authenticated caller: what its key allows.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
    /// Glob patterns of the aliases it may use.
    pub models: Vec<String>,
    /// May use `PROVIDER/MODEL` addressing.
    pub direct: bool,
    pub team: Option<String>,
    pub audit_class: Option<AuditClass>,
    /// A policy the key adds to its routes' (it can tighten, never loosen).
    pub policy: Option<String>,
    /// The key's own limits and budget.
    pub limits: seam_limits::Rule,
    /// The key's exact-cache rule, for every alias it calls.
    pub cache: Option<seam_config::CacheRule>,
    /// Where its requests may go, laid over each alias's; a request's header narrows it further.
    pub placement: seam_config::Placement,
    /// Glob patterns of the MCP tools, prompts and resources it may use (namespaced names,
    /// `crm__lookup_*`); empty allows none.
    pub tools: Vec<String>,
    /// May sign in to the web console as a viewer.
    pub console: bool,
    /// Which documents of which collections it may see and change.
    pub retrieval: seam_config::RetrievalScope,
}

impl Caller {
    pub fn allows_alias(&self, alias: &str) -> bool {
        seam_store::scope_allows(&self.models, alias)
    }

    /// Whether the key may use the MCP tool, prompt or resource `namespaced` (`server__name`).
    pub fn allows_tool(&self, namespaced: &str) -> bool {
        seam_store::scope_allows(&self.tools, namespaced)
    }

    /// Whether the key may send `model`, given the aliases the gateway serves.
    pub fn check_model(&self, model: &str, is_alias: bool) -> Result<(), ApiError> {
        let ok = if is_alias {
            self.allows_alias(model)
        } else {
            self.direct
        };
        if ok {
            return Ok(());
        }
        // Not an alias and not in the PROVIDER/MODEL form: there is no such model, whatever the
        // key may use.
        if !is_alias && !model.contains('/') {
            return Err(ApiError::new(
                ErrorCode::ModelNotFound,
                format!(
                    "The model `{}` does not exist; GET /v1/models lists what this key may use",
                    model.chars().take(200).collect::<String>()
                ),
            )
            .with_param("model"));
        }
        let why = if is_alias {
            "is not among the models this key may use"
        } else {
            "is direct addressing (PROVIDER/MODEL), which this key may not use"
        };
        Err(ApiError::new(
            ErrorCode::ModelNotAllowed,
            format!(
                "`{}` {why}; GET /v1/models lists what it may use",
                model.chars().take(200).collect::<String>()
            ),
        )
        .with_param("model"))
    }
}

/// The keys a server accepts, by `sha256:` hash of the secret.
#[derive(Default)]
pub struct Keys {
    by_hash: HashMap<String, Arc<Caller>>,
    /// Whether any key exists (config or store, any state): then every request needs one.
    required: bool,
}

fn from_config(k: &KeyConfig) -> Caller {
    Caller {
        key_id: k.name.clone(),
        name: k.name.clone(),
        models: k.models.clone(),
        direct: k.direct,
        team: k.team.clone(),
        audit_class: k.audit_class,
        policy: k.policy.clone(),
        limits: key_rule(
            k.rpm,
            k.tpm,
            k.max_concurrency,
            k.budget_usd.zip(k.budget_period),
        ),
        cache: k.cache.clone(),
        placement: k.placement.clone(),
        tools: k.tools.clone(),
        console: k.console,
        retrieval: k.retrieval.clone(),
    }
}

fn key_rule(
    rpm: Option<u32>,
    tpm: Option<u64>,
    concurrency: Option<u32>,
    budget: Option<(f64, seam_config::BudgetPeriod)>,
) -> seam_limits::Rule {
    crate::limits::rule(&seam_config::LimitRule {
        rpm,
        tpm,
        max_concurrency: concurrency,
        budget,
    })
}

fn audit_class(c: seam_store::RetentionClass) -> AuditClass {
    match c {
        seam_store::RetentionClass::Full => AuditClass::Full,
        seam_store::RetentionClass::Redacted => AuditClass::Redacted,
        seam_store::RetentionClass::Metadata => AuditClass::Metadata,
    }
}

impl Keys {
    /// The team of an active key, by id (`Some(None)`: a key with no team; `None`: no such
    /// active key). A scan: keys are few and this is asked rarely (feedback).
    pub fn team_of(&self, key_id: &str) -> Option<Option<&str>> {
        self.by_hash
            .values()
            .find(|c| c.key_id == key_id)
            .map(|c| c.team.as_deref())
    }

    fn build(
        config: &[KeyConfig],
        stored: &[(String, seam_store::keys::KeyRecord)],
        any_stored: bool,
    ) -> Keys {
        let mut by_hash = HashMap::new();
        for k in config {
            by_hash.insert(k.hash.clone(), Arc::new(from_config(k)));
        }
        for (hash, r) in stored {
            by_hash.insert(
                hash.clone(),
                Arc::new(Caller {
                    key_id: r.id.clone(),
                    name: r.name.clone(),
                    models: r.scope.models.clone(),
                    direct: r.scope.direct,
                    team: r.scope.team.clone(),
                    audit_class: r.scope.audit_class.map(audit_class),
                    policy: r.scope.policy.clone(),
                    limits: key_rule(
                        r.scope.rpm,
                        r.scope.tpm,
                        r.scope.max_concurrency,
                        r.scope
                            .budget_usd
                            .zip(r.scope.budget_period.map(|p| match p {
                                seam_store::BudgetPeriod::Day => seam_config::BudgetPeriod::Day,
                                seam_store::BudgetPeriod::Month => seam_config::BudgetPeriod::Month,
                            })),
                    ),
                    cache: crate::cache::stored_rule(&r.scope),
                    placement: r.scope.placement.clone().unwrap_or_default(),
                    tools: r.scope.tools.clone(),
                    console: r.scope.console,
                    retrieval: seam_config::RetrievalScope {
                        labels: r.scope.labels.clone(),
                        subject_grants: r.scope.subject_grants,
                        collections: r.scope.collections.clone(),
                        ingest: r.scope.ingest.clone(),
                    },
                }),
            );
        }
        Keys {
            by_hash,
            required: !config.is_empty() || any_stored,
        }
    }

    pub fn required(&self) -> bool {
        self.required
    }

    /// Every active key (the console's names, teams and budgets).
    pub(crate) fn callers(&self) -> impl Iterator<Item = &Caller> {
        self.by_hash.values().map(|c| &**c)
    }

    fn lookup(&self, secret: &str) -> Option<Arc<Caller>> {
        self.by_hash_of(&seam_store::keys::hash_secret(secret))
    }

    /// The active key whose secret has this `sha256:` hash.
    pub(crate) fn by_hash_of(&self, hash: &str) -> Option<Arc<Caller>> {
        self.by_hash.get(hash).cloned()
    }
}

/// The live key table and, when a store holds keys, the thread that refreshes it.
pub struct Keyring {
    table: Arc<RwLock<Arc<Keys>>>,
    config: Arc<RwLock<Vec<KeyConfig>>>,
    /// Wakes the refresh thread at once; dropped with the keyring, which ends the thread.
    nudge: std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    /// Why the last read of the store's keys failed; `None` once one succeeds.
    failing: Arc<std::sync::Mutex<Option<String>>>,
}

impl Keyring {
    /// Loads config keys and the store's, and starts refreshing the store's.
    pub fn open(cfg: &Config) -> Result<Keyring, String> {
        let store = crate::audit::store_config(cfg);
        let config = Arc::new(RwLock::new(cfg.keys.clone()));
        let first = load(&store, &cfg.keys)?;
        let table = Arc::new(RwLock::new(Arc::new(first)));
        let weak_table = Arc::downgrade(&table);
        let weak_config = Arc::downgrade(&config);
        let (nudge, nudged) = std::sync::mpsc::channel();
        let failing = Arc::new(std::sync::Mutex::new(None));
        let failed = Arc::clone(&failing);
        std::thread::Builder::new()
            .name("seam-keys".into())
            .spawn(move || refresh(&store, &weak_table, &weak_config, &nudged, &failed))
            .map_err(|e| format!("keys: cannot start the refresh thread: {e}"))?;
        Ok(Keyring {
            table,
            config,
            nudge,
            failing,
        })
    }

    /// Reads the store's keys again now (a key was created or revoked here); the receiver
    /// resolves once the table has been read (or the attempt failed and was logged).
    pub fn refresh_now(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let _ = self.nudge.send(done);
        rx
    }

    /// Why the store's keys cannot be read now (for `/readyz`): keys created or revoked
    /// elsewhere are not seen while it lasts.
    pub fn problem(&self) -> Option<String> {
        match self.failing.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn keys(&self) -> Arc<Keys> {
        match self.table.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// After a reload: the config's keys change at once; the store's stay.
    pub fn set_config(&self, keys: &[KeyConfig]) {
        if let Ok(mut c) = self.config.write() {
            *c = keys.to_vec();
        }
    }
}

/// Reads the store's active keys on a thread of its own (the PostgreSQL client runs its own
/// runtime, so it must not run on the async runtime's threads).
fn load(store: &seam_store::StoreConfig, config: &[KeyConfig]) -> Result<Keys, String> {
    let store = store.clone();
    let config = config.to_vec();
    std::thread::spawn(move || read(&mut None, &store, &config))
        .join()
        .map_err(|_| "keys: loading panicked".to_owned())?
}

/// The keys now: the config's, and the store's when there is one (the connection is opened on
/// first use and kept).
fn read(
    conn: &mut Option<seam_store::keys::KeyStore>,
    store: &seam_store::StoreConfig,
    config: &[KeyConfig],
) -> Result<Keys, String> {
    if conn.is_none() {
        if let seam_store::BackendConfig::Sqlite { path } = &store.backend
            && !path.exists()
        {
            // No store yet: only config keys.
            return Ok(Keys::build(config, &[], false));
        }
        *conn = Some(seam_store::keys::KeyStore::open(store).map_err(|e| format!("keys: {e}"))?);
    }
    let Some(ks) = conn.as_mut() else {
        return Ok(Keys::build(config, &[], false));
    };
    let result = ks
        .active(crate::audit::now_ms())
        .and_then(|active| Ok((active, ks.count()? > 0)));
    match result {
        Ok((active, any)) => Ok(Keys::build(config, &active, any)),
        Err(e) => {
            // Reconnect next time.
            *conn = None;
            Err(format!("keys: {e}"))
        }
    }
}

fn refresh(
    store: &seam_store::StoreConfig,
    table: &Weak<RwLock<Arc<Keys>>>,
    config: &Weak<RwLock<Vec<KeyConfig>>>,
    nudged: &std::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
    failing: &std::sync::Mutex<Option<String>>,
) {
    let mut conn = None;
    // Wakes every REFRESH or when nudged, and ends as soon as the keyring is dropped.
    loop {
        let done = match nudged.recv_timeout(REFRESH) {
            Ok(done) => Some(done),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let (Some(table), Some(config)) = (table.upgrade(), config.upgrade()) else {
            return;
        };
        let declared = match config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let outcome = match read(&mut conn, store, &declared) {
            Ok(k) => {
                if let Ok(mut t) = table.write() {
                    *t = Arc::new(k);
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "keys not refreshed; the previous ones stay");
                Some(format!("the key store cannot be read: {e}"))
            }
        };
        match failing.lock() {
            Ok(mut f) => *f = outcome,
            Err(p) => *p.into_inner() = outcome,
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

/// The credentials of `Authorization: Bearer …`; the scheme is case-insensitive (RFC 9110
/// §11.1), so `bearer` and `BEARER` are the same scheme.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The key a request presents: `Authorization: Bearer`, or on `/v1/messages*` Anthropic's
/// `x-api-key` as well (what the `anthropic` SDK and Claude Code send).
fn credential(req: &Request) -> Option<&str> {
    bearer(req).or_else(|| {
        if crate::error::Shape::of_path(req.uri().path()) != crate::error::Shape::Anthropic {
            return None;
        }
        let v = req.headers().get("x-api-key")?.to_str().ok()?.trim();
        (!v.is_empty()).then_some(v)
    })
}

/// `/v1/*`: once keys exist, a valid one is required; the caller rides along as an extension.
/// Requests without a body (`GET /v1/models`) are counted against limits here; the others in
/// their handler, once the body says what they ask for.
pub async fn require_key(State(st): State<SharedState>, mut req: Request, next: Next) -> Response {
    let keys = st.keyring.keys();
    let caller = if keys.required() {
        match credential(&req).and_then(|s| keys.lookup(s)) {
            Some(c) => Some(c),
            None => {
                let why = if credential(&req).is_some() {
                    "The API key is not valid (unknown, revoked or expired)"
                } else {
                    "An API key is required: send Authorization: Bearer <key>"
                };
                let e = ApiError::new(ErrorCode::InvalidApiKey, why);
                let draft = rejection_draft(&st, &req, None);
                let shape = crate::error::Shape::of_path(req.uri().path());
                drop(req);
                return reject(draft, &e, shape).await;
            }
        }
    } else {
        None
    };
    if req.method() == axum::http::Method::GET {
        let subject = req
            .headers()
            .get(crate::audit::SUBJECT)
            .and_then(|v| v.to_str().ok());
        let scopes = st.limits.scopes(caller.as_deref(), subject);
        let id = req
            .extensions()
            .get::<crate::RequestId>()
            .and_then(|r| r.0.to_str().ok())
            .unwrap_or("unknown")
            .to_owned();
        let live = st.live();
        let labels = crate::limits::Labels::new(&live, caller.as_deref(), None);
        let ticket = match st.limits.admit(&id, &scopes, labels, || (0, 0)).await {
            Ok(t) => t,
            Err(e) => {
                let draft = rejection_draft(&st, &req, caller.as_deref());
                return reject(draft, &e, crate::error::Shape::of_path(req.uri().path())).await;
            }
        };
        if let Some(c) = caller {
            req.extensions_mut().insert(c);
        }
        let resp = next.run(req).await;
        crate::limits::settle(ticket, 0, None);
        return resp;
    }
    if let Some(c) = caller {
        req.extensions_mut().insert(c);
    }
    next.run(req).await
}

/// A request refused here still leaves its audit record (status, code, key if known), and then
/// gets its error.
async fn reject(
    draft: Option<crate::audit::Draft>,
    e: &ApiError,
    shape: crate::error::Shape,
) -> Response {
    match draft {
        Some(draft) => crate::pipeline::refused(draft, e, &|e| shape.response(e)).await,
        None => shape.response(e),
    }
}

fn rejection_draft(
    st: &SharedState,
    req: &Request,
    caller: Option<&Caller>,
) -> Option<crate::audit::Draft> {
    let endpoint = match req.uri().path() {
        "/v1/chat/completions" => "chat",
        "/v1/embeddings" => "embeddings",
        "/v1/messages" => "messages",
        "/v1/messages/count_tokens" => "count_tokens",
        "/v1/responses" => "responses",
        p if p.starts_with("/v1/responses/") => "responses",
        "/mcp" => "mcp",
        _ => "models",
    };
    let ext = req.extensions();
    let id = ext.get::<crate::RequestId>()?;
    let start = ext.get::<crate::RequestStart>()?;
    Some(st.draft(&st.live(), id, *start, req.headers(), endpoint, caller))
}

/// `/admin/*`: the admin key when one is configured; refused when API keys exist without one
/// (the server may then listen beyond loopback).
pub async fn require_admin(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    match &st.admin_key_hash {
        Some(hash) => {
            // Comparing hashes: how long a comparison takes says nothing about the key.
            let ok = bearer(&req).is_some_and(|b| seam_store::keys::hash_secret(b) == *hash);
            if ok {
                next.run(req).await
            } else {
                error_response(&ApiError::new(
                    ErrorCode::InvalidApiKey,
                    "The admin API needs Authorization: Bearer <[admin] key>",
                ))
            }
        }
        None if st.keyring.keys().required() => error_response(&ApiError::new(
            ErrorCode::AdminForbidden,
            "API keys exist, so the admin API needs [admin] key = \"env:…\" in the config",
        )),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;

    /// Config keys and stored keys both carry their tool globs to the caller; none means none.
    #[test]
    fn callers_get_their_keys_tool_globs() {
        let toml = format!(
            "[keys.agent]\nhash = \"sha256:{}\"\ntools = [\"crm__lookup_*\"]\n",
            "a".repeat(64)
        );
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: std::path::PathBuf::from("."),
        };
        let cfg = seam_config::from_toml(&toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
        let stored = |tools: &[&str]| seam_store::keys::KeyRecord {
            id: "key_1".into(),
            name: "stored".into(),
            prefix: "sk-seam-abcd".into(),
            created_ms: 0,
            revoked_ms: None,
            scope: seam_store::KeyScope {
                models: vec!["*".into()],
                tools: tools.iter().map(|&t| t.to_owned()).collect(),
                ..seam_store::KeyScope::default()
            },
        };
        let keys = Keys::build(
            &cfg.keys,
            &[
                ("sha256:b".into(), stored(&["files__read"])),
                ("sha256:c".into(), stored(&[])),
            ],
            true,
        );
        let caller = |hash: &str| keys.by_hash.get(hash).unwrap().clone();
        let config = caller(&cfg.keys[0].hash);
        assert!(config.allows_tool("crm__lookup_customer"));
        assert!(!config.allows_tool("crm__delete_customer"));
        let store = caller("sha256:b");
        assert!(store.allows_tool("files__read"));
        assert!(!store.allows_tool("files__write"));
        assert!(!caller("sha256:c").allows_tool("files__read"));
    }
}
