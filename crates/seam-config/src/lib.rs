//! Seam's configuration: TOML text in, a validated [`Config`] out.
//!
//! Parsing happens in two steps. `raw` mirrors the file with every field optional; [`validate`]
//! checks it all at once and returns every problem with its TOML path (`providers.openai.kind`),
//! or a `Config` in which nothing is left unset. Unknown keys are errors, found by walking the whole
//! document, so a typo anywhere is reported together with the rest. Secrets named as `env:NAME` or
//! `file:PATH` are resolved here, once, and live in [`Secret`], whose `Debug` never prints them.

pub mod audit;
pub mod cache;
pub mod evals;
pub mod evaluators;
pub mod keys;
pub mod limits;
pub mod mcp;
pub mod ner;
pub mod placement;
pub mod policy;
pub mod pricing;
mod raw;
pub mod responses;
pub mod retrieval;
pub mod rollouts;
mod routing;
mod server;
pub mod telemetry;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use audit::{AuditClass, AuditConfig, Durability, MasterKey, RetentionRule};
pub use cache::{CacheConfig, CacheRule, CacheScope, SemanticRule};
pub use evals::EvalsConfig;
pub use evaluators::{Evaluated, EvaluatorConfig};
pub use keys::{AdminConfig, BudgetPeriod, KeyConfig};
pub use limits::{LimitRule, LimitsConfig};
pub use mcp::{McpConfig, McpServerConfig, McpToolConfig, McpTransport};
pub use ner::NerConfig;
pub use placement::Placement;
pub use policy::{
    Action, ClassRule, DEFAULT_POLICY, Entities, EntityRule, InjectionAction, InjectionRule,
    InputConfig, Overflow, PolicyConfig, StageConfig, UserField,
};
pub use pricing::Price;
pub use raw::RawConfig;
pub use responses::ResponsesConfig;
pub use retrieval::{
    CollectionConfig, ModelRetrieval, RetrievalConfig, RetrievalScope, SearchMode,
};
pub use rollouts::{Candidate, Rollout, RolloutSubject, Sticky};
pub use routing::{
    BreakerSettings, MODEL_PLACEHOLDER, ModelConfig, RoutingConfig, Strategy, TargetConfig,
    glob_matches, glob_rank, is_glob,
};
pub use server::ServerConfig;
pub use telemetry::TelemetryConfig;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
pub const DEFAULT_STORAGE_URL: &str = "sqlite://seam-data/seam.db";
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

#[derive(Clone, Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    /// Retry and deadline defaults for every alias and for direct addressing.
    pub routing: RoutingConfig,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub models: BTreeMap<String, ModelConfig>,
    /// Every policy by name; `default` is always present (empty unless declared).
    pub policies: BTreeMap<String, PolicyConfig>,
    pub audit: AuditConfig,
    pub admin: AdminConfig,
    /// Keys declared in the config (by hash); more live in the store.
    pub keys: Vec<KeyConfig>,
    /// Price overrides by target, `provider/model` (the bundled catalog covers the rest).
    pub pricing: BTreeMap<String, Price>,
    /// `[limits]`: org, team and subject limits (a key's are on the key).
    pub limits: LimitsConfig,
    /// How reported usage is checked before it is priced.
    pub usage: pricing::UsageConfig,
    /// `[cache]`: bounds of the exact response cache (rules are per alias and per key).
    pub cache: CacheConfig,
    /// `[responses]`: conversation state for the Responses API.
    pub responses: ResponsesConfig,
    /// `[mcp]`: the tool servers exposed on `/mcp`.
    pub mcp: McpConfig,
    /// `[ner]`: the named-entity model (names, places, addresses).
    pub ner: NerConfig,
    /// Where the prompt files are: `prompts/` beside the config file (the current folder's
    /// for the embedded default).
    pub prompts_dir: PathBuf,
    /// `[rollouts.NAME]`: canary, ab and shadow rollouts, by name.
    pub rollouts: BTreeMap<String, Rollout>,
    /// `[evaluators.NAME]`: assertions graded on a sample of live answers, by name.
    pub evaluators: BTreeMap<String, EvaluatorConfig>,
    /// `[telemetry]`: OpenTelemetry traces over OTLP/HTTP.
    pub telemetry: TelemetryConfig,
    /// `[retrieval]`: document collections and the local embedding model.
    pub retrieval: RetrievalConfig,
    /// `[evals]`: `seam eval`'s default grader.
    pub evals: EvalsConfig,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite {
        path: PathBuf,
        redis_url: Option<String>,
    },
    Postgres {
        url: Secret,
        redis_url: Option<String>,
    },
}

impl StorageConfig {
    /// `storage.redis_url`: shared counters and caches across replicas.
    pub fn redis_url(&self) -> Option<&str> {
        match self {
            StorageConfig::Sqlite { redis_url, .. } | StorageConfig::Postgres { redis_url, .. } => {
                redis_url.as_deref()
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenAI-compatible server: OpenAI, vLLM, Ollama, llama.cpp, TGI, LiteLLM…
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Built in, no network: deterministic answers for demos and tests.
    Echo,
    /// Google's Gemini API (`generateContent`, `streamGenerateContent`).
    Gemini,
    /// Azure OpenAI: deployment URLs, `api-version`, `api-key` header.
    Azure,
    /// Amazon Bedrock's Converse API, SigV4-signed.
    Bedrock,
    /// Built in, no network: embeddings from the in-process all-MiniLM-L6-v2 model
    /// (`seam models fetch minilm`); no chat.
    Local,
}

impl ProviderKind {
    pub const NAMES: &'static str = "openai, anthropic, gemini, azure, bedrock, echo, local";

    fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            "echo" => Some(ProviderKind::Echo),
            "gemini" => Some(ProviderKind::Gemini),
            "azure" => Some(ProviderKind::Azure),
            "bedrock" => Some(ProviderKind::Bedrock),
            "local" => Some(ProviderKind::Local),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Echo => "echo",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Azure => "azure",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Local => "local",
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::Bedrock => None,
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
            ProviderKind::Echo => Some("builtin:echo"),
            ProviderKind::Local => Some("builtin:local"),
        }
    }

    /// The version header or parameter a kind sends when `api_version` is not set.
    fn default_api_version(self) -> &'static str {
        match self {
            ProviderKind::Azure => DEFAULT_AZURE_API_VERSION,
            _ => DEFAULT_ANTHROPIC_VERSION,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// A third party sees the data.
    Vendor,
    /// Self-hosted or air-gapped: the data stays with the team.
    Private,
}

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash. For `openai` it includes `/v1`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub trust: Trust,
    pub region: Option<String>,
    pub timeout: Duration,
    pub first_token_timeout: Duration,
    pub connect_timeout: Duration,
    /// The longest gap allowed between two chunks of a stream.
    pub stream_idle_timeout: Duration,
    pub max_concurrency: u32,
    /// Requests that may wait for a free slot when all `max_concurrency` are taken.
    pub max_queue: u32,
    /// How long a request may wait in that queue.
    pub queue_timeout: Duration,
    pub breaker: BreakerSettings,
    /// `anthropic`: the `anthropic-version` header; `azure`: the `api-version` query parameter.
    pub api_version: String,
    pub headers: Vec<(String, Secret)>,
    /// `bedrock` only: SigV4 credentials (absent when `api_key`, a Bedrock API key, is used).
    pub aws: Option<AwsCredentials>,
    /// `openai` only: the server has OpenAI's Responses API (`{base_url}/responses`), so a
    /// Responses request goes to it as the client wrote it rather than as chat completions.
    /// Defaults to true for `api.openai.com`, false for every other server.
    pub responses_api: bool,
    /// `local` only: the embedding model's folder; `None`: where `seam models fetch minilm`
    /// installs it (`$SEAM_MODELS_DIR/all-minilm-l6-v2`, else the user's data folder).
    pub model_dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// A resolved secret. `Debug` and `Display` print `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One problem in a config file, with the TOML path it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Where `env:` and `file:` references are resolved. Tests pass their own; the binary reads the
/// process environment and the filesystem relative to the config file.
pub struct Resolver<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub base_dir: PathBuf,
}

impl Resolver<'_> {
    pub fn process(base_dir: PathBuf) -> Resolver<'static> {
        Resolver {
            env: &|name| std::env::var(name).ok(),
            base_dir,
        }
    }

    pub(crate) fn secret(&self, path: &str, value: &str) -> Result<Secret, ConfigError> {
        if let Some(name) = value.strip_prefix("env:") {
            return match (self.env)(name) {
                Some(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(ConfigError::new(
                    path,
                    format!("environment variable {name} is not set"),
                )),
            };
        }
        if let Some(file) = value.strip_prefix("file:") {
            let p = self.base_dir.join(file);
            return match std::fs::read_to_string(&p) {
                Ok(s) if !s.trim().is_empty() => Ok(Secret(s.trim().to_owned())),
                Ok(_) => Err(ConfigError::new(path, format!("{} is empty", p.display()))),
                Err(e) => Err(ConfigError::new(
                    path,
                    format!("cannot read {}: {e}", p.display()),
                )),
            };
        }
        Err(ConfigError::new(
            path,
            "must be \"env:NAME\" or \"file:PATH\" so the secret stays out of the config file",
        ))
    }
}

/// Reads and validates a config file; `env:`/`file:` resolve against the process and the file's folder.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError::new(
            "",
            format!("cannot read {}: {e}", path.display()),
        )]
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    from_toml(&text, &Resolver::process(base))
}

/// Parses and validates TOML text.
pub fn from_toml(text: &str, resolver: &Resolver<'_>) -> Result<Config, Vec<ConfigError>> {
    let raw = parse(text)?;
    validate(raw, resolver)
}

/// TOML → [`RawConfig`], reporting every unknown key and the first type error with its path.
pub fn parse(text: &str) -> Result<RawConfig, Vec<ConfigError>> {
    let de = toml::Deserializer::parse(text).map_err(|e| vec![toml_error("", &e, text)])?;
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| {
        unknown.push(ConfigError::new(
            toml_path(&path.to_string()),
            "unknown key",
        ));
    };
    let de = serde_ignored::Deserializer::new(de, &mut on_unknown);
    let result: Result<RawConfig, _> = serde_path_to_error::deserialize(de);
    match result {
        Ok(raw) if unknown.is_empty() => Ok(raw),
        Ok(_) => Err(unknown),
        Err(e) => {
            let path = toml_path(&e.path().to_string());
            unknown.push(toml_error(&path, e.inner(), text));
            Err(unknown)
        }
    }
}

/// `a.targets.0.b` → `a.targets[0].b`, the way the rest of Seam's messages write array items.
/// `serde_ignored` marks a step through an `Option` as `?`, which is no part of a TOML path;
/// `serde_path_to_error`'s root (`.`) is the empty path. Other TOML files Seam reads (report
/// scenarios) name their errors' paths with it too.
pub fn toml_path(dotted: &str) -> String {
    if dotted == "." {
        return String::new();
    }
    let mut out = String::with_capacity(dotted.len() + 2);
    for seg in dotted.split('.').filter(|s| *s != "?") {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// A TOML parse or type error on one line, with the line of `text` it points at.
pub fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().trim_end().replace('\n', " ");
    match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    }
}

fn toml_error(path: &str, e: &toml::de::Error, text: &str) -> ConfigError {
    ConfigError::new(path, toml_message(e, text))
}

/// Checks a raw config as a whole and returns every problem found, or the validated `Config`.
pub fn validate(raw: RawConfig, resolver: &Resolver<'_>) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Vec::new();

    let server = server::server(raw.server, &mut errors);

    let storage = storage(raw.storage, resolver, &mut errors);

    // Targets naming a declared-but-invalid provider are not reported again.
    let declared: Vec<String> = raw.providers.keys().cloned().collect();
    let mut providers = BTreeMap::new();
    for (name, p) in raw.providers {
        if let Some(cfg) = provider(&name, p, resolver, &mut errors) {
            providers.insert(name, cfg);
        }
    }

    let mut policies = BTreeMap::new();
    for (name, p) in raw.policies {
        let cfg = policy::policy(&name, p, resolver, &mut errors);
        policies.insert(name, cfg);
    }
    policies
        .entry(DEFAULT_POLICY.to_owned())
        .or_insert_with(|| PolicyConfig::empty(DEFAULT_POLICY));

    let audit = audit::audit(raw.audit, resolver, &mut errors);
    let admin = keys::admin(raw.admin, resolver, &mut errors);
    let pricing = pricing::pricing(raw.pricing, &mut errors);
    let limits = limits::limits(raw.limits, &mut errors);
    let usage = pricing::usage(raw.usage, &mut errors);
    let cache = cache::cache(raw.cache, &mut errors);
    let responses = responses::responses(raw.responses, &mut errors);
    let mcp = mcp::mcp(raw.mcp, &policies, resolver, &mut errors);
    let ner = ner::ner(raw.ner, resolver, &mut errors);
    let telemetry = telemetry::telemetry(raw.telemetry, resolver, &mut errors);
    let retrieval = retrieval::retrieval(raw.retrieval, &policies, &mut errors);
    let mut declared_keys = Vec::new();
    let mut hashes = std::collections::HashSet::new();
    for (name, k) in raw.keys {
        if let Some(k) = keys::key(&name, k, &policies, &audit, &mut errors) {
            if !hashes.insert(k.hash.clone()) {
                errors.push(ConfigError::new(
                    format!("keys.{name}.hash"),
                    "is the hash of another key",
                ));
            }
            declared_keys.push(k);
        }
    }
    let routing = routing::defaults(raw.routing, &mut errors);
    let mut models = BTreeMap::new();
    for (alias, m) in raw.models {
        let cx = routing::ModelContext {
            declared: &declared,
            providers: &providers,
            policies: &policies,
            routing: &routing,
            audit: &audit,
        };
        let model = routing::model(&alias, m, &cx, &mut errors);
        models.insert(alias, model);
    }
    cache::embedders(&models, &declared_keys, &mut errors);
    let rollouts = rollouts::rollouts(
        raw.rollouts,
        &rollouts::RolloutContext {
            declared: &declared,
            models: &models,
        },
        &mut errors,
    );
    let evaluators = evaluators::evaluators(raw.evaluators, &models, &mut errors);
    let evals = evals::evals(raw.evals, &models, &mut errors);
    retrieval::check_embedders(&retrieval, &models, &mut errors);
    retrieval::check_models(&retrieval, &models, &mut errors);

    if errors.is_empty() {
        Ok(Config {
            server,
            storage,
            routing,
            providers,
            models,
            policies,
            audit,
            admin,
            keys: declared_keys,
            pricing,
            limits,
            usage,
            cache,
            responses,
            mcp,
            ner,
            prompts_dir: resolver.base_dir.join("prompts"),
            rollouts,
            evaluators,
            telemetry,
            retrieval,
            evals,
        })
    } else {
        Err(errors)
    }
}

fn storage(raw: raw::RawStorage, r: &Resolver<'_>, errors: &mut Vec<ConfigError>) -> StorageConfig {
    let url = raw.url.unwrap_or_else(|| DEFAULT_STORAGE_URL.into());
    let redis_url = match raw.redis_url {
        Some(u) if !u.starts_with("redis://") && !u.starts_with("rediss://") => {
            errors.push(ConfigError::new(
                "storage.redis_url",
                "must start with redis:// or rediss://",
            ));
            None
        }
        other => other,
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            errors.push(ConfigError::new("storage.url", "sqlite:// needs a path"));
        }
        return StorageConfig::Sqlite {
            path: r.base_dir.join(path),
            redis_url,
        };
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return StorageConfig::Postgres {
            url: Secret(url),
            redis_url,
        };
    }
    if url.starts_with("env:") || url.starts_with("file:") {
        return match r.secret("storage.url", &url) {
            Ok(s) if s.0.starts_with("postgres") => StorageConfig::Postgres { url: s, redis_url },
            Ok(_) => {
                errors.push(ConfigError::new(
                    "storage.url",
                    "a secret storage url must be postgres://",
                ));
                StorageConfig::Sqlite {
                    path: PathBuf::new(),
                    redis_url,
                }
            }
            Err(e) => {
                errors.push(e);
                StorageConfig::Sqlite {
                    path: PathBuf::new(),
                    redis_url,
                }
            }
        };
    }
    errors.push(ConfigError::new(
        "storage.url",
        "must start with sqlite:// or postgres://",
    ));
    StorageConfig::Sqlite {
        path: PathBuf::new(),
        redis_url,
    }
}

fn provider(
    name: &str,
    p: raw::RawProvider,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<ProviderConfig> {
    let path = format!("providers.{name}");
    let before = errors.len();
    if name.is_empty() || name.contains('/') {
        errors.push(ConfigError::new(
            path.clone(),
            "provider names must be non-empty and contain no '/'",
        ));
    }
    let kind = match p.kind.as_deref() {
        None => {
            errors.push(ConfigError::new(
                format!("{path}.kind"),
                format!("is required (one of {})", ProviderKind::NAMES),
            ));
            None
        }
        Some(k) => {
            let kind = ProviderKind::parse(k);
            if kind.is_none() {
                errors.push(ConfigError::new(
                    format!("{path}.kind"),
                    format!(
                        "unknown kind \"{k}\"; expected one of {}",
                        ProviderKind::NAMES
                    ),
                ));
            }
            kind
        }
    };
    let base_url = base_url(&path, kind, p.base_url.clone(), p.region.as_deref(), errors);
    let responses_api = responses_api(&path, kind, p.responses_api, &base_url, errors);
    let aws = aws_credentials(&path, kind, &p, p.api_key.is_some(), r, errors);
    let model_dir = model_dir(&path, kind, p.model_dir.as_deref(), r, errors);
    let api_key = p.api_key.and_then(|v| {
        r.secret(&format!("{path}.api_key"), &v)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let trust = match p.trust.as_deref() {
        None => match kind {
            Some(ProviderKind::Echo | ProviderKind::Local) => Trust::Private,
            _ => Trust::Vendor,
        },
        Some(name) => Trust::parse(name).unwrap_or_else(|| {
            errors.push(ConfigError::new(
                format!("{path}.trust"),
                format!("unknown trust \"{name}\"; expected vendor or private"),
            ));
            Trust::Vendor
        }),
    };
    let mut ms = |field: &str, v: Option<u64>, default: u64| -> Duration {
        match v {
            Some(0) => {
                errors.push(ConfigError::new(
                    format!("{path}.{field}"),
                    "must be greater than 0",
                ));
                Duration::from_millis(default)
            }
            Some(n) => Duration::from_millis(n),
            None => Duration::from_millis(default),
        }
    };
    let timeout = ms("timeout_ms", p.timeout_ms, 60_000);
    let first_token_timeout = ms("first_token_timeout_ms", p.first_token_timeout_ms, 10_000);
    let connect_timeout = ms("connect_timeout_ms", p.connect_timeout_ms, 5_000);
    let stream_idle_timeout = ms("stream_idle_timeout_ms", p.stream_idle_timeout_ms, 30_000);
    let queue_timeout = ms("queue_timeout_ms", p.queue_timeout_ms, 2_000);
    let max_concurrency = match p.max_concurrency {
        Some(0) => {
            errors.push(ConfigError::new(
                format!("{path}.max_concurrency"),
                "must be at least 1",
            ));
            1
        }
        Some(n) => n,
        None => 256,
    };
    let max_queue = p.max_queue.unwrap_or(max_concurrency);
    let breaker = routing::breaker(&path, p.breaker, errors);
    let mut headers = Vec::new();
    for (h, v) in p.headers {
        let hpath = format!("{path}.headers.{h}");
        let value = if v.starts_with("env:") || v.starts_with("file:") {
            r.secret(&hpath, &v).map_err(|e| errors.push(e)).ok()
        } else {
            Some(Secret(v))
        };
        if let Some(value) = value {
            headers.push((h, value));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(ProviderConfig {
        name: name.to_owned(),
        kind: kind?,
        base_url,
        api_key,
        trust,
        region: p.region,
        timeout,
        first_token_timeout,
        connect_timeout,
        stream_idle_timeout,
        max_concurrency,
        max_queue,
        queue_timeout,
        breaker,
        api_version: p.api_version.unwrap_or_else(|| {
            kind.map_or(DEFAULT_ANTHROPIC_VERSION, ProviderKind::default_api_version)
                .to_owned()
        }),
        headers,
        aws,
        responses_api,
        model_dir,
    })
}

/// `model_dir`: only for `local` providers, resolved against the config file's folder.
fn model_dir(
    path: &str,
    kind: Option<ProviderKind>,
    given: Option<&str>,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<PathBuf> {
    let d = given?;
    if kind != Some(ProviderKind::Local) {
        errors.push(ConfigError::new(
            format!("{path}.model_dir"),
            "is only for kind = \"local\"",
        ));
        return None;
    }
    if d.trim().is_empty() {
        errors.push(ConfigError::new(
            format!("{path}.model_dir"),
            "must not be empty",
        ));
        return None;
    }
    Some(r.base_dir.join(d))
}

/// `responses_api`: set only on `openai` providers (Azure's Responses API has its own paths and
/// versions, which Seam does not speak yet); when unset, true only for OpenAI's own API.
fn responses_api(
    path: &str,
    kind: Option<ProviderKind>,
    given: Option<bool>,
    base_url: &str,
    errors: &mut Vec<ConfigError>,
) -> bool {
    if kind != Some(ProviderKind::OpenAi) {
        if given.is_some() {
            errors.push(ConfigError::new(
                format!("{path}.responses_api"),
                "is only for kind = \"openai\" (other kinds get Responses requests as their own format)",
            ));
        }
        return false;
    }
    given.unwrap_or_else(|| {
        url_host(base_url).is_some_and(|h| h.eq_ignore_ascii_case("api.openai.com"))
    })
}

/// The host of an `http(s)://host[:port]/…` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.split(':').next().unwrap_or(host))
}

/// `base_url` as given (trimmed of a trailing `/`), or the kind's default; Bedrock's default is
/// its regional endpoint.
fn base_url(
    path: &str,
    kind: Option<ProviderKind>,
    given: Option<String>,
    region: Option<&str>,
    errors: &mut Vec<ConfigError>,
) -> String {
    if let Some(u) = given {
        let u = u.trim_end_matches('/').to_owned();
        let builtin = matches!(kind, Some(ProviderKind::Echo | ProviderKind::Local));
        if !(builtin || u.starts_with("http://") || u.starts_with("https://")) {
            errors.push(ConfigError::new(
                format!("{path}.base_url"),
                "must start with http:// or https://",
            ));
        }
        return u;
    }
    let missing = |errors: &mut Vec<ConfigError>, why: &str| {
        errors.push(ConfigError::new(format!("{path}.base_url"), why));
        String::new()
    };
    match kind {
        None => String::new(),
        Some(ProviderKind::Bedrock) => match region {
            Some(r) => format!("https://bedrock-runtime.{r}.amazonaws.com"),
            None => String::new(), // reported as a missing region
        },
        Some(ProviderKind::OpenAi) => missing(
            errors,
            "is required for openai-compatible providers (include /v1, e.g. https://api.openai.com/v1)",
        ),
        Some(ProviderKind::Azure) => missing(
            errors,
            "is required for azure (the resource endpoint, e.g. https://my-resource.openai.azure.com)",
        ),
        Some(k) => k.default_base_url().unwrap_or_default().to_owned(),
    }
}

/// Bedrock signs with SigV4 unless it has a Bedrock API key; it needs its region either way.
fn aws_credentials(
    path: &str,
    kind: Option<ProviderKind>,
    p: &raw::RawProvider,
    has_api_key: bool,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<AwsCredentials> {
    let fields = [
        ("aws_access_key_id", &p.aws_access_key_id),
        ("aws_secret_access_key", &p.aws_secret_access_key),
        ("aws_session_token", &p.aws_session_token),
    ];
    if kind != Some(ProviderKind::Bedrock) {
        for (field, value) in fields {
            if value.is_some() {
                errors.push(ConfigError::new(
                    format!("{path}.{field}"),
                    "is only for kind = \"bedrock\"",
                ));
            }
        }
        return None;
    }
    if p.region.is_none() {
        errors.push(ConfigError::new(
            format!("{path}.region"),
            "is required for bedrock (e.g. \"us-east-1\"); it picks the endpoint and signs requests",
        ));
    }
    let mut secret = |field: &str, value: &Option<String>| {
        value.as_ref().and_then(|v| {
            r.secret(&format!("{path}.{field}"), v)
                .map_err(|e| errors.push(e))
                .ok()
        })
    };
    let id = secret("aws_access_key_id", &p.aws_access_key_id);
    let key = secret("aws_secret_access_key", &p.aws_secret_access_key);
    let token = secret("aws_session_token", &p.aws_session_token);
    match (id, key) {
        (Some(access_key_id), Some(secret_access_key)) => Some(AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token: token,
        }),
        (None, None) if has_api_key => None,
        (None, None) if p.aws_access_key_id.is_none() && p.aws_secret_access_key.is_none() => {
            errors.push(ConfigError::new(
                path.to_owned(),
                "bedrock needs aws_access_key_id and aws_secret_access_key (env:/file:), or api_key (a Bedrock API key)",
            ));
            None
        }
        _ => {
            if p.aws_access_key_id.is_some() != p.aws_secret_access_key.is_some() {
                errors.push(ConfigError::new(
                    path.to_owned(),
                    "aws_access_key_id and aws_secret_access_key go together",
                ));
            }
            None
        }
    }
}

/// The embedded default as TOML text: the `echo` provider always; `openai` and `anthropic` when
/// their key is in the environment. Alias `chat` goes to the vendors that have a key, and to `echo`
/// only when none has one, so a vendor outage never turns into silent echo answers.
pub fn default_toml(env: &dyn Fn(&str) -> Option<String>) -> String {
    let has = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    let mut t = String::from(
        "# Seam's embedded default. Copy it to a file and pass --config to change it.\n\
         [server]\nlisten = \"127.0.0.1:8700\"\n\n\
         [storage]\nurl = \"sqlite://seam-data/seam.db\"\n\n\
         [providers.echo]\nkind = \"echo\"\n\n",
    );
    let mut chat = Vec::new();
    if has("OPENAI_API_KEY") {
        t.push_str(
            "[providers.openai]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\n\
             api_key = \"env:OPENAI_API_KEY\"\ntrust = \"vendor\"\n\n",
        );
        chat.push("{ provider = \"openai\", model = \"gpt-4o-mini\" }");
    }
    if has("ANTHROPIC_API_KEY") {
        t.push_str(
            "[providers.anthropic]\nkind = \"anthropic\"\nbase_url = \"https://api.anthropic.com\"\n\
             api_key = \"env:ANTHROPIC_API_KEY\"\ntrust = \"vendor\"\n\n",
        );
        chat.push("{ provider = \"anthropic\", model = \"claude-3-5-haiku-latest\" }");
    }
    if chat.is_empty() {
        chat.push("{ provider = \"echo\", model = \"echo\" }");
    }
    t.push_str(&format!(
        "[models.chat]\nstrategy = \"fallback\"\ntargets = [\n  {},\n]\n\n\
         [models.echo]\ntargets = [{{ provider = \"echo\", model = \"echo\" }}]\n",
        chat.join(",\n  ")
    ));
    t
}

/// The embedded default, validated.
pub fn embedded(resolver: &Resolver<'_>) -> Result<Config, Vec<ConfigError>> {
    from_toml(&default_toml(resolver.env), resolver)
}

#[cfg(test)]
mod tests;
