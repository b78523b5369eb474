//! `[providers.NAME]`: the upstream servers Seam sends requests to, their kind, endpoint,
//! credentials, timeouts and concurrency.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{
    BreakerSettings, ConfigError, DEFAULT_ANTHROPIC_VERSION, DEFAULT_AZURE_API_VERSION, Resolver,
    Secret, routing,
};

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

#[derive(Debug, Default, Deserialize)]
pub struct RawProvider {
    pub kind: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub trust: Option<String>,
    pub region: Option<String>,
    pub timeout_ms: Option<u64>,
    pub first_token_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub stream_idle_timeout_ms: Option<u64>,
    pub max_queue: Option<u32>,
    pub queue_timeout_ms: Option<u64>,
    pub breaker: Option<crate::raw::RawBreaker>,
    /// Anthropic: the `anthropic-version` header; Azure: the `api-version` query parameter.
    pub api_version: Option<String>,
    /// Bedrock: SigV4 credentials, as `env:`/`file:` references.
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    /// Extra headers sent upstream, e.g. `OpenAI-Organization`. Values may be `env:`/`file:`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `openai` only: whether the server has `/responses` (default: only `api.openai.com`).
    pub responses_api: Option<bool>,
    /// `local` only: the embedding model's folder (default: where `seam models fetch` puts it).
    pub model_dir: Option<String>,
}

pub(crate) fn provider(
    name: &str,
    p: RawProvider,
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
            Some(Secret::new(v))
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
    p: &RawProvider,
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
