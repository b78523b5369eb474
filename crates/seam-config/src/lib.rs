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
mod providers;
mod raw;
pub mod responses;
pub mod retrieval;
pub mod rollouts;
mod routing;
mod secrets;
mod server;
mod storage;
pub mod telemetry;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
pub use providers::{AwsCredentials, ProviderConfig, ProviderKind, Trust};
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
pub use secrets::{Resolver, Secret};
pub use server::ServerConfig;
pub use storage::StorageConfig;
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

    let storage = storage::storage(raw.storage, resolver, &mut errors);

    // Targets naming a declared-but-invalid provider are not reported again.
    let declared: Vec<String> = raw.providers.keys().cloned().collect();
    let mut providers = BTreeMap::new();
    for (name, p) in raw.providers {
        if let Some(cfg) = providers::provider(&name, p, resolver, &mut errors) {
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
