//! Providers: promptfoo's provider ids and `{id, label, config}` specs, parsed into where and how
//! to ask ([`Provider`]), and resolved to an endpoint ([`Resolver`]) from the suite's config, the
//! run's options and the environment.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::client::Endpoint;
use crate::coverage;
use crate::runner::Options;
use crate::suite::{Prompt, Suite, Test};
use crate::{Assertion, EvalError};

fn err(path: impl Into<String>, m: impl Into<String>) -> EvalError {
    EvalError::suite(path, m)
}

fn str_at<'a>(v: &'a Value, path: &str) -> Result<&'a str, EvalError> {
    v.as_str().ok_or_else(|| err(path, "must be a string"))
}

/// Where a provider's requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Api {
    /// `openai:…`: any OpenAI-compatible endpoint (`OPENAI_BASE_URL`, else OpenAI).
    OpenAi,
    /// `seam:ALIAS` and every vendor id (`anthropic:…`, `google:…`, …): a Seam gateway
    /// (`SEAM_BASE_URL`, else `http://127.0.0.1:8700/v1`), never the vendor directly.
    Seam,
    /// promptfoo's `http` provider (`http`, `https://…`, `http:…`): any HTTP API, described by
    /// its `config` ([`crate::http_target`]).
    Http(Box<crate::http_target::HttpTarget>),
    /// `file://provider.py[:fn]` / `python:provider.py`: the user's `call_api`.
    Python(crate::python::Script),
    /// promptfoo's `echo`: the rendered prompt is the output (no request, no cost), for
    /// checking prompts and assertions offline.
    Echo,
}

/// The API a provider's requests speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// `POST {base}/chat/completions`.
    Chat,
    /// Anthropic's Messages API: `POST {base}/messages`.
    Messages,
    /// OpenAI's Responses API: `POST {base}/responses`.
    Responses,
    /// `POST {base}/embeddings`: only a grader's embedding model (`similar`).
    Embeddings,
}

impl Surface {
    /// The path under the endpoint's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Surface::Chat => "chat/completions",
            Surface::Messages => "messages",
            Surface::Responses => "responses",
            Surface::Embeddings => "embeddings",
        }
    }
}

/// Where and how to ask.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    /// As written (`openai:chat:gpt-4o-mini`).
    pub id: String,
    /// `label`, else `id`.
    pub label: String,
    pub api: Api,
    pub surface: Surface,
    /// The model as sent: `gpt-4o-mini`, a Seam alias, or `anthropic/claude-…` for a vendor id.
    pub model: String,
    /// `config.apiBaseUrl` (or, for `openai:`, `apiHost`).
    pub base_url: Option<String>,
    /// `config.apiKey`, or the variable named by `config.apiKeyEnvar` (for a vendor id, only
    /// with `config.apiBaseUrl`: the vendor's own key never goes to the gateway).
    pub api_key: Option<String>,
    /// `config.headers`.
    pub headers: Vec<(String, String)>,
    /// Every other `config` key, in the request body's terms (`temperature`, `max_tokens`, …).
    pub params: Map<String, Value>,
    /// `transform`: JavaScript applied to every output of this provider, before the test's.
    pub transform: Option<String>,
    /// `prompts`: the labels of the only prompts this provider runs (promptfoo's rule: a label
    /// equal to one, or starting with one followed by `:`); `None` runs every prompt.
    pub prompts: Option<Vec<String>>,
}

impl Provider {
    /// Whether this provider runs `prompt` (its `prompts` list, see [`Provider::prompts`]).
    pub fn runs(&self, prompt: &Prompt) -> bool {
        self.prompts
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| label_matches(&prompt.label, a)))
    }
}

/// promptfoo's `isAllowedPrompt` for one entry; a Seam label `file://x.txt#1` (one of several
/// prompts in a file) is matched by `file://x.txt` as well.
pub(crate) fn label_matches(label: &str, allowed: &str) -> bool {
    label == allowed
        || label
            .strip_prefix(allowed)
            .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('#'))
}

/// The suite's `x-seam.providers`: promptfoo ids replaced by others (usually `seam:ALIAS`)
/// before they are parsed, for targets and graders alike.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aliases(BTreeMap<String, String>);

impl Aliases {
    /// Reads the suite's `x-seam` mapping.
    pub fn parse(x_seam: Option<&Value>) -> Result<Aliases, EvalError> {
        let Some(v) = x_seam else {
            return Ok(Aliases::default());
        };
        let Some(o) = v.as_object() else {
            return Err(err("x-seam", "must be a mapping ({providers: {ID: ID}})"));
        };
        let mut out = BTreeMap::new();
        for (k, v) in o {
            if k != "providers" {
                return Err(err(
                    format!("x-seam.{k}"),
                    "is not a Seam extension key (x-seam has `providers`)",
                ));
            }
            let Some(map) = v.as_object() else {
                return Err(err(
                    "x-seam.providers",
                    "must map provider ids to provider ids (\"anthropic:messages:claude-x\": seam:claude)",
                ));
            };
            for (from, to) in map {
                let path = format!("x-seam.providers.{from}");
                let to = str_at(to, &path)?;
                parse_id(to).map_err(|m| err(path.as_str(), m))?;
                out.insert(from.clone(), to.to_owned());
            }
        }
        Ok(Aliases(out))
    }

    /// The id to parse for `id`.
    pub fn resolve<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.get(id).map_or(id, String::as_str)
    }
}

/// How a family's `config` keys become request parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// OpenAI-shaped parameters, sent as written.
    OpenAi,
    Anthropic,
    Google,
    Bedrock,
    Ollama,
}

/// Vendor prefixes served through the gateway: (prefix, the gateway provider name in the model
/// `NAME/MODEL`, how its config reads).
const VENDORS: &[(&str, &str, Family)] = &[
    ("anthropic", "anthropic", Family::Anthropic),
    ("google", "google", Family::Google),
    ("vertex", "vertex", Family::Google),
    ("bedrock", "bedrock", Family::Bedrock),
    ("azure", "azure", Family::OpenAi),
    ("azureopenai", "azure", Family::OpenAi),
    ("mistral", "mistral", Family::OpenAi),
    ("ollama", "ollama", Family::Ollama),
    ("openrouter", "openrouter", Family::OpenAi),
    ("groq", "groq", Family::OpenAi),
    ("deepseek", "deepseek", Family::OpenAi),
    ("xai", "xai", Family::OpenAi),
    ("perplexity", "perplexity", Family::OpenAi),
    ("togetherai", "togetherai", Family::OpenAi),
    ("fireworks", "fireworks", Family::OpenAi),
    ("cerebras", "cerebras", Family::OpenAi),
];

/// The second segment of an id that names an API rather than a model (`openai:chat:…`). Model
/// names may hold colons too (`ollama:llama3:8b`, `bedrock:…-v2:0`), so only these are read so.
const KINDS: &[&str] = &[
    "chat",
    "messages",
    "responses",
    "embedding",
    "embeddings",
    "converse",
    "completion",
    "assistant",
    "image",
    "realtime",
    "moderation",
    "transcription",
    "audio",
    "video",
    "live",
    "agents",
    "agent",
    "kb",
    "tts",
    "speech",
    "chatkit",
    "foundry-agent",
    "nova-sonic",
    "luma-ray",
    "agentcore",
];

/// A parsed id: where, which surface, the model as sent, and how its config reads.
struct Parsed {
    api: Api,
    surface: Surface,
    model: String,
    family: Family,
    vendor: bool,
}

/// An id (`openai:responses:gpt-4.1`, `anthropic:messages:claude-x`, `seam:chat`) → where it
/// goes, or why Seam cannot serve it.
fn parse_id(id: &str) -> Result<Parsed, String> {
    let Some((prefix, rest)) = id.split_once(':') else {
        return Err(unsupported(id));
    };
    let (api, gateway, family) = match prefix {
        "openai" => (Api::OpenAi, None, Family::OpenAi),
        "seam" => (Api::Seam, None, Family::OpenAi),
        p => match VENDORS.iter().find(|(v, _, _)| *v == p) {
            Some((_, g, f)) => (Api::Seam, Some(*g), *f),
            None => return Err(unsupported(id)),
        },
    };
    let (kind, model) = match rest.split_once(':') {
        Some((k, m)) if KINDS.contains(&k) => (Some(k), m),
        _ if matches!(rest, "claude-agent-sdk" | "claude-code") => (Some(rest), ""),
        _ => (None, rest),
    };
    let anthropic = family == Family::Anthropic;
    let surface = match kind {
        None if anthropic => Surface::Messages,
        None => Surface::Chat,
        Some("messages") if anthropic || prefix == "seam" => Surface::Messages,
        Some("chat") if !anthropic => Surface::Chat,
        Some("converse") if prefix == "bedrock" => Surface::Chat,
        // Ollama's generate API applies the model's template to the prompt: a user turn.
        Some("completion") if prefix == "ollama" => Surface::Chat,
        Some("responses") if matches!(prefix, "openai" | "azure" | "seam") => Surface::Responses,
        Some("embedding" | "embeddings") if !anthropic => Surface::Embeddings,
        Some("completion") => {
            return Err(format!(
                "`{id}` is a legacy text-completion API, which seam eval does not serve (use a chat model: {prefix}:chat:MODEL or {prefix}:MODEL)"
            ));
        }
        Some(k) => {
            return Err(format!(
                "`{id}`: promptfoo's `{prefix}:{k}:` provider is not an API seam eval serves (chat, Messages, Responses and embeddings only); map the id to one with x-seam.providers"
            ));
        }
    };
    if model.is_empty() {
        return Err(format!("`{id}` names no model"));
    }
    Ok(Parsed {
        api,
        surface,
        model: gateway.map_or_else(|| model.to_owned(), |g| format!("{g}/{model}")),
        family,
        vendor: gateway.is_some(),
    })
}

fn unsupported(id: &str) -> String {
    format!(
        "`{id}` is not supported: use openai:chat:MODEL, openai:responses:MODEL, seam:ALIAS or a vendor id sent through the Seam gateway ({}:…); or map it to one with x-seam.providers",
        VENDORS
            .iter()
            .map(|(v, _, _)| *v)
            .collect::<Vec<_>>()
            .join(":…, ")
    )
}

/// One provider spec (a judge's): an id or `{id, label, config}`.
pub(crate) fn provider(v: &Value, path: &str, aliases: &Aliases) -> Result<Provider, EvalError> {
    providers(v, "providers", aliases)
        .map_err(|e| match e {
            // `providers[0].config.x` → `{path}.config.x`.
            EvalError::Suite { path: at, message } => EvalError::suite(
                format!("{path}{}", at.strip_prefix("providers[0]").unwrap_or("")),
                message,
            ),
            other => other,
        })?
        .into_iter()
        .next()
        .ok_or_else(|| err(path, "names no provider"))
}

/// `providers` (or `targets`, named by `key`).
pub(crate) fn providers(
    v: &Value,
    key: &str,
    aliases: &Aliases,
) -> Result<Vec<Provider>, EvalError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for (i, p) in items.into_iter().enumerate() {
        let path = format!("{key}[{i}]");
        let (id, label, config, prompts) = match p {
            Value::String(s) => (s.clone(), None, Map::new(), None),
            Value::Object(o) => {
                // promptfoo's `{ID: options}` form: one key that is not a provider field.
                if let (false, Some(k), 1) = (o.contains_key("id"), o.keys().next(), o.len())
                    && coverage::support(&format!("{key}[].{k}")).is_none()
                    && let Some(coverage::Support::Refused(reason)) =
                        coverage::support(&format!("{key}[].*"))
                {
                    return Err(err(
                        format!("{path}.{k}"),
                        format!("is not supported: {reason}"),
                    ));
                }
                coverage::check_keys(o, &format!("{key}[]"), &path)?;
                let prompts = match o.get("prompts") {
                    None => None,
                    Some(Value::Array(list)) => Some(
                        list.iter()
                            .enumerate()
                            .map(|(j, x)| {
                                str_at(x, &format!("{path}.prompts[{j}]")).map(str::to_owned)
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(_) => {
                        return Err(err(
                            format!("{path}.prompts"),
                            "must be a list of prompt labels",
                        ));
                    }
                };
                let id = str_at(
                    o.get("id")
                        .ok_or_else(|| err(path.as_str(), "needs `id`"))?,
                    &format!("{path}.id"),
                )?
                .to_owned();
                let config = match o.get("config") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(c)) => c.clone(),
                    Some(_) => return Err(err(format!("{path}.config"), "must be a mapping")),
                };
                (
                    id,
                    o.get("label").and_then(Value::as_str).map(str::to_owned),
                    config,
                    prompts,
                )
            }
            _ => {
                return Err(err(
                    path.as_str(),
                    "must be a provider id or {id, label, config}",
                ));
            }
        };
        let transform = match p.get("transform") {
            None | Some(Value::Null) => None,
            Some(Value::String(code)) => {
                crate::js::check_code(code, &format!("{path}.transform"))?;
                Some(code.clone())
            }
            Some(_) => {
                return Err(err(
                    format!("{path}.transform"),
                    "must be JavaScript code (a string)",
                ));
            }
        };
        let resolved = aliases.resolve(&id).to_owned();
        if crate::http_target::is_http(&resolved) {
            let target = crate::http_target::HttpTarget::parse(&resolved, &config, &path)?;
            out.push(Provider {
                label: label.unwrap_or_else(|| id.clone()),
                model: String::new(),
                id,
                api: Api::Http(Box::new(target)),
                surface: Surface::Chat,
                base_url: None,
                api_key: None,
                headers: Vec::new(),
                params: Map::new(),
                transform,
                prompts,
            });
            continue;
        }
        if resolved == "echo" {
            out.push(Provider {
                label: label.unwrap_or_else(|| id.clone()),
                model: "echo".to_owned(),
                id,
                api: Api::Echo,
                surface: Surface::Chat,
                base_url: None,
                api_key: None,
                headers: Vec::new(),
                params: Map::new(),
                transform,
                prompts,
            });
            continue;
        }
        if let Some(script) = (resolved.starts_with("file://") || resolved.starts_with("python:"))
            .then(|| crate::python::Script::parse(&resolved, "call_api", std::path::Path::new("")))
            .flatten()
        {
            // The config is call_api's `options.config`, as promptfoo passes it.
            out.push(Provider {
                label: label.unwrap_or_else(|| id.clone()),
                model: "python".to_owned(),
                id,
                api: Api::Python(script),
                surface: Surface::Chat,
                base_url: None,
                api_key: None,
                headers: Vec::new(),
                params: config,
                transform,
                prompts,
            });
            continue;
        }
        let parsed = parse_id(&resolved).map_err(|m| err(path.as_str(), m))?;
        let mut params = config;
        let base_url = params.remove("apiBaseUrl");
        let base_url = match (base_url, parsed.vendor) {
            (Some(v), _) => Some(v),
            // For a vendor, apiHost is the vendor's (Azure's resource): the gateway decides.
            (None, false) => params
                .remove("apiHost")
                .map(|h| Value::String(format!("https://{}/v1", h.as_str().unwrap_or("")))),
            (None, true) => None,
        }
        .and_then(|v| v.as_str().map(str::to_owned));
        let mut api_key = params
            .remove("apiKey")
            .and_then(|v| v.as_str().map(str::to_owned));
        if let Some(var) = params
            .remove("apiKeyEnvar")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            api_key = api_key.or_else(|| std::env::var(var).ok());
        }
        if parsed.vendor && base_url.is_none() {
            api_key = None;
        }
        params.remove("organization");
        let headers = match params.remove("headers") {
            None => Vec::new(),
            Some(Value::Object(h)) => h
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        k,
                        v.as_str()
                            .ok_or_else(|| {
                                err(format!("{path}.config.headers"), "values must be strings")
                            })?
                            .to_owned(),
                    ))
                })
                .collect::<Result<_, EvalError>>()?,
            Some(_) => return Err(err(format!("{path}.config.headers"), "must be a mapping")),
        };
        let params = if parsed.vendor {
            vendor_params(parsed.family, params, &format!("{path}.config"))?
        } else {
            params
        };
        out.push(Provider {
            label: label.unwrap_or_else(|| id.clone()),
            model: parsed.model,
            id,
            api: parsed.api,
            surface: parsed.surface,
            base_url,
            api_key,
            headers,
            params,
            transform,
            prompts,
        });
    }
    if out.is_empty() {
        return Err(err(key, "is empty"));
    }
    Ok(out)
}

/// The suite's `providers`: what answers the prompts, so not an embedding model.
pub(crate) fn targets(v: &Value, key: &str, aliases: &Aliases) -> Result<Vec<Provider>, EvalError> {
    let out = providers(v, key, aliases)?;
    if let Some((i, p)) = out
        .iter()
        .enumerate()
        .find(|(_, p)| p.surface == Surface::Embeddings)
    {
        return Err(err(
            format!("{key}[{i}]"),
            format!(
                "`{}` is an embedding model, which cannot answer a prompt; use it as a grader's embedding model (defaultTest.options.provider.embedding) for `similar`",
                p.id
            ),
        ));
    }
    Ok(out)
}

/// Every grader a test names (its `options.provider`, each assertion's `provider`), parsed up
/// front so that an id Seam cannot serve is refused before the first request.
pub(crate) fn check_graders(tests: &[Test], aliases: &Aliases) -> Result<(), EvalError> {
    for (i, t) in tests.iter().enumerate() {
        if let Some(spec) = &t.judge {
            check_grader(spec, &format!("tests[{i}].options.provider"), None, aliases)?;
        }
        for (j, a) in t.asserts.iter().enumerate() {
            check_assertion(a, &format!("tests[{i}].assert[{j}]"), aliases)?;
        }
    }
    Ok(())
}

fn check_assertion(a: &Assertion, path: &str, aliases: &Aliases) -> Result<(), EvalError> {
    if let Some(spec) = &a.provider {
        let purpose = if a.kind == "similar" {
            "embedding"
        } else {
            "text"
        };
        check_grader(spec, &format!("{path}.provider"), Some(purpose), aliases)?;
    }
    for (k, m) in a.assert.iter().enumerate() {
        check_assertion(m, &format!("{path}.assert[{k}]"), aliases)?;
    }
    Ok(())
}

/// A grader spec: an id, `{id, config}`, or promptfoo's `{text: …, embedding: …}`; `purpose`
/// when only one of them is used.
fn check_grader(
    spec: &Value,
    path: &str,
    purpose: Option<&str>,
    aliases: &Aliases,
) -> Result<(), EvalError> {
    let split =
        spec.get("id").is_none() && (spec.get("text").is_some() || spec.get("embedding").is_some());
    for part in ["text", "embedding"] {
        let (spec, path) = match spec.get(part) {
            Some(s) if split => (s, format!("{path}.{part}")),
            _ if split => continue,
            _ => (spec, path.to_owned()),
        };
        if purpose.is_some_and(|p| p != part) && !split {
            continue;
        }
        let p = provider(spec, &path, aliases)?;
        if matches!(p.api, Api::Http(_) | Api::Echo) || p.transform.is_some() {
            return Err(err(
                path,
                format!(
                    "`{}`: a judge must be a chat model (openai:chat:MODEL, seam:ALIAS, a vendor id) without a transform",
                    p.id
                ),
            ));
        }
        let wrong = match part {
            "text" => (purpose == Some("text") || split) && p.surface == Surface::Embeddings,
            _ => (purpose == Some("embedding") || split) && p.surface == Surface::Messages,
        };
        if wrong {
            return Err(err(
                path,
                if part == "text" {
                    format!(
                        "`{}` is an embedding model; a model-graded assertion needs a chat model",
                        p.id
                    )
                } else {
                    format!(
                        "`{}` has no embeddings; `similar` needs an embedding model (e.g. openai:embedding:MODEL)",
                        p.id
                    )
                },
            ));
        }
        if !split {
            break;
        }
    }
    Ok(())
}

/// Whether a run needs Seam's default grader: some model-graded assertion (or `similar`) names
/// no grader of its own and its test sets no `options.provider`. Checked before the first
/// request, so a run never spends requests and then stops at grading.
pub fn needs_default_grader(suite: &Suite) -> bool {
    fn ungraded(a: &Assertion) -> bool {
        if a.kind == "assert-set" {
            a.assert.iter().any(ungraded)
        } else {
            a.provider.is_none() && crate::assertions::uses_judge(a)
        }
    }
    suite
        .tests
        .iter()
        .any(|t| t.judge.is_none() && t.asserts.iter().any(ungraded))
}

/// Seam's default grader (`--judge`, `SEAM_EVAL_JUDGE`, `[evals] judge`), checked before the
/// first request; `source` names where it came from.
pub fn check_default_grader(id: &str, source: &str, aliases: &Aliases) -> Result<(), EvalError> {
    check_grader(&Value::String(id.to_owned()), source, None, aliases)
}

/// Config keys that say where and as whom the vendor is called: the gateway's provider config
/// decides those, so they are read and not sent.
const GATEWAY_SIDE: &[&str] = &[
    "apiHost",
    "apiVersion",
    "region",
    "profile",
    "accessKeyId",
    "secretAccessKey",
    "sessionToken",
    "projectId",
    "location",
    "credentials",
    "keyFilename",
    "azureClientId",
    "azureClientSecret",
    "azureTenantId",
    "azureAuthorityHost",
    "azureTokenScope",
    "apiKeyRequired",
    "cost",
];

/// A vendor's `config` in the terms of the surface it is sent on: each family's keys renamed to
/// the request's (`maxOutputTokens` → `max_tokens`); a key with no faithful counterpart is
/// refused, never dropped.
fn vendor_params(
    family: Family,
    mut config: Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, EvalError> {
    config.retain(|k, _| !GATEWAY_SIDE.contains(&k.as_str()));
    let renames: &[(&str, &str)] = match family {
        Family::OpenAi => return Ok(config),
        Family::Anthropic => &[
            ("max_tokens", "max_tokens"),
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("top_k", "top_k"),
            ("stop_sequences", "stop_sequences"),
            ("metadata", "metadata"),
            ("tools", "tools"),
            ("tool_choice", "tool_choice"),
        ],
        Family::Google => &[
            ("temperature", "temperature"),
            ("maxOutputTokens", "max_tokens"),
            ("topP", "top_p"),
            ("stopSequences", "stop"),
        ],
        Family::Bedrock => &[
            ("max_tokens", "max_tokens"),
            ("maxTokens", "max_tokens"),
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("topP", "top_p"),
            ("stop", "stop"),
            ("stop_sequences", "stop"),
            ("stopSequences", "stop"),
        ],
        Family::Ollama => &[
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("num_predict", "max_tokens"),
            ("stop", "stop"),
            ("seed", "seed"),
        ],
    };
    // Gemini's settings may sit in `generationConfig` too.
    if family == Family::Google
        && let Some(g) = config.remove("generationConfig")
    {
        let Value::Object(g) = g else {
            return Err(err(format!("{path}.generationConfig"), "must be a mapping"));
        };
        for (k, v) in g {
            if config.contains_key(&k) {
                return Err(err(
                    format!("{path}.generationConfig.{k}"),
                    "is also set outside generationConfig; keep one",
                ));
            }
            config.insert(k, v);
        }
    }
    let mut out = Map::new();
    for (k, v) in config {
        let Some((_, to)) = renames.iter().find(|(from, _)| *from == k) else {
            return Err(err(
                format!("{path}.{k}"),
                format!(
                    "is not supported for this vendor by seam eval (supported: {}; where and as whom the vendor is called is the Seam gateway's config)",
                    renames
                        .iter()
                        .map(|(f, _)| *f)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if family == Family::Anthropic && k == "tools" && openai_shaped(&v) {
            return Err(err(
                format!("{path}.tools"),
                "OpenAI-shaped tools ({type: function, function: …}) on an anthropic: provider are not converted by seam eval; write them in Anthropic's shape ({name, description, input_schema})",
            ));
        }
        out.insert((*to).to_owned(), v);
    }
    Ok(out)
}

fn openai_shaped(tools: &Value) -> bool {
    tools
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t.get("function").is_some()))
}

/// Providers and judges resolved to endpoints.
pub(crate) struct Resolver<'a> {
    pub(crate) opts: &'a Options,
}

impl Resolver<'_> {
    pub(crate) fn endpoint(&self, p: &Provider) -> Endpoint {
        let base_url = p
            .base_url
            .clone()
            .or_else(|| self.opts.base_url.clone())
            .or_else(|| match p.api {
                Api::OpenAi | Api::Http(_) | Api::Python(_) | Api::Echo => {
                    std::env::var("OPENAI_BASE_URL").ok()
                }
                Api::Seam => std::env::var("SEAM_BASE_URL").ok(),
            })
            .unwrap_or_else(|| match p.api {
                Api::OpenAi | Api::Http(_) | Api::Python(_) | Api::Echo => {
                    "https://api.openai.com/v1".into()
                }
                Api::Seam => "http://127.0.0.1:8700/v1".into(),
            });
        let api_key = p
            .api_key
            .clone()
            .or_else(|| self.opts.api_key.clone())
            .or_else(|| match p.api {
                Api::OpenAi | Api::Http(_) | Api::Python(_) | Api::Echo => {
                    std::env::var("OPENAI_API_KEY").ok()
                }
                Api::Seam => std::env::var("SEAM_API_KEY")
                    .or_else(|_| std::env::var("OPENAI_API_KEY"))
                    .ok(),
            });
        Endpoint {
            base_url,
            api_key,
            headers: p.headers.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn one(spec: Value) -> Result<Provider, String> {
        provider(&spec, "providers[0]", &Aliases::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn every_id_family_maps_to_a_surface_and_a_gateway_model() {
        use Surface::*;
        for (id, api, surface, model) in [
            ("openai:chat:gpt-4o", Api::OpenAi, Chat, "gpt-4o"),
            ("openai:gpt-4o", Api::OpenAi, Chat, "gpt-4o"),
            (
                "openai:ft:gpt-4o:org:x",
                Api::OpenAi,
                Chat,
                "ft:gpt-4o:org:x",
            ),
            (
                "openai:responses:gpt-4.1",
                Api::OpenAi,
                Responses,
                "gpt-4.1",
            ),
            (
                "openai:embedding:text-embedding-3-small",
                Api::OpenAi,
                Embeddings,
                "text-embedding-3-small",
            ),
            ("openai:embeddings:e", Api::OpenAi, Embeddings, "e"),
            ("seam:chat", Api::Seam, Chat, "chat"),
            ("seam:responses:chat", Api::Seam, Responses, "chat"),
            (
                "anthropic:messages:claude-x",
                Api::Seam,
                Messages,
                "anthropic/claude-x",
            ),
            (
                "anthropic:claude-x",
                Api::Seam,
                Messages,
                "anthropic/claude-x",
            ),
            (
                "google:gemini-2.0-flash",
                Api::Seam,
                Chat,
                "google/gemini-2.0-flash",
            ),
            (
                "google:embedding:text-embedding-004",
                Api::Seam,
                Embeddings,
                "google/text-embedding-004",
            ),
            ("vertex:gemini-pro", Api::Seam, Chat, "vertex/gemini-pro"),
            (
                "bedrock:us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                Api::Seam,
                Chat,
                "bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            ),
            (
                "bedrock:converse:amazon.nova-lite-v1:0",
                Api::Seam,
                Chat,
                "bedrock/amazon.nova-lite-v1:0",
            ),
            (
                "bedrock:embeddings:amazon.titan-embed-text-v2:0",
                Api::Seam,
                Embeddings,
                "bedrock/amazon.titan-embed-text-v2:0",
            ),
            (
                "azure:chat:my-deployment",
                Api::Seam,
                Chat,
                "azure/my-deployment",
            ),
            (
                "azureopenai:chat:my-deployment",
                Api::Seam,
                Chat,
                "azure/my-deployment",
            ),
            (
                "azure:responses:my-deployment",
                Api::Seam,
                Responses,
                "azure/my-deployment",
            ),
            ("azure:embedding:emb", Api::Seam, Embeddings, "azure/emb"),
            (
                "mistral:mistral-large-latest",
                Api::Seam,
                Chat,
                "mistral/mistral-large-latest",
            ),
            (
                "mistral:embedding:mistral-embed",
                Api::Seam,
                Embeddings,
                "mistral/mistral-embed",
            ),
            ("ollama:llama3:8b", Api::Seam, Chat, "ollama/llama3:8b"),
            (
                "ollama:chat:llama3.1:8b",
                Api::Seam,
                Chat,
                "ollama/llama3.1:8b",
            ),
            ("ollama:completion:llama3", Api::Seam, Chat, "ollama/llama3"),
            (
                "ollama:embeddings:nomic-embed-text",
                Api::Seam,
                Embeddings,
                "ollama/nomic-embed-text",
            ),
            (
                "openrouter:anthropic/claude-3.5-sonnet",
                Api::Seam,
                Chat,
                "openrouter/anthropic/claude-3.5-sonnet",
            ),
            (
                "groq:llama-3.3-70b-versatile",
                Api::Seam,
                Chat,
                "groq/llama-3.3-70b-versatile",
            ),
            (
                "deepseek:deepseek-chat",
                Api::Seam,
                Chat,
                "deepseek/deepseek-chat",
            ),
            ("xai:grok-3", Api::Seam, Chat, "xai/grok-3"),
        ] {
            let p = one(json!(id)).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(
                (p.api, p.surface, p.model.as_str()),
                (api, surface, model),
                "{id}"
            );
            assert_eq!(p.label, id);
        }
    }

    #[test]
    fn ids_seam_cannot_serve_are_refused_with_the_reason() {
        for (id, reason) in [
            (
                "openai:completion:davinci-002",
                "legacy text-completion API",
            ),
            (
                "anthropic:completion:claude-2",
                "legacy text-completion API",
            ),
            ("azure:completion:d", "legacy text-completion API"),
            (
                "openai:image:dall-e-3",
                "`openai:image:` provider is not an API seam eval serves",
            ),
            ("openai:realtime:gpt-4o-realtime", "`openai:realtime:`"),
            ("openai:assistant:asst_1", "`openai:assistant:`"),
            ("azure:assistant:asst_1", "`azure:assistant:`"),
            ("bedrock:agents:A1", "`bedrock:agents:`"),
            ("bedrock:kb:anthropic.claude", "`bedrock:kb:`"),
            ("google:live:gemini", "`google:live:`"),
            ("xai:image:grok-2-image", "`xai:image:`"),
            (
                "anthropic:claude-agent-sdk",
                "`anthropic:claude-agent-sdk:`",
            ),
            ("anthropic:embedding:x", "`anthropic:embedding:`"),
            ("mistral:responses:x", "`mistral:responses:`"),
            ("acme:model", "`acme:model` is not supported"),
            ("anthropic:messages:", "names no model"),
        ] {
            let e = one(json!(id)).map(|p| p.model).unwrap_err();
            assert!(e.starts_with("providers[0]: "), "{id}: {e}");
            assert!(e.contains(reason), "{id}: {e}");
        }
    }

    #[test]
    fn vendor_configs_are_translated_or_refused() {
        let p = one(json!({"id": "google:gemini-pro", "config": {
            "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50},
            "projectId": "p", "apiKey": "vendor-secret"
        }}))
        .unwrap();
        assert_eq!(
            p.params,
            json!({"temperature": 0.3, "max_tokens": 50})
                .as_object()
                .cloned()
                .unwrap()
        );
        // The vendor's own key never goes to the gateway.
        assert_eq!(p.api_key, None);
        let p = one(json!({"id": "anthropic:messages:claude-x", "config": {
            "apiBaseUrl": "http://gw/v1", "apiKey": "seam-key", "max_tokens": 10
        }}))
        .unwrap();
        assert_eq!(
            (p.base_url.as_deref(), p.api_key.as_deref()),
            (Some("http://gw/v1"), Some("seam-key"))
        );
        let p = one(json!({"id": "ollama:llama3", "config": {"num_predict": 5}})).unwrap();
        assert_eq!(p.params["max_tokens"], 5);
        // Azure's apiHost is the gateway's business, not a URL to call.
        let p = one(json!({"id": "azure:chat:d", "config": {"apiHost": "x.openai.azure.com", "temperature": 0}})).unwrap();
        assert_eq!((p.base_url, p.params.len()), (None, 1));
        for (spec, reason) in [
            (
                json!({"id": "anthropic:claude-x", "config": {"thinking": {"type": "enabled"}}}),
                "providers[0].config.thinking: is not supported for this vendor",
            ),
            (
                json!({"id": "google:gemini", "config": {"safetySettings": []}}),
                "providers[0].config.safetySettings",
            ),
            (
                json!({"id": "anthropic:claude-x", "config": {"tools": [{"type": "function", "function": {"name": "f"}}]}}),
                "OpenAI-shaped tools",
            ),
        ] {
            let e = one(spec).map(|p| p.model).unwrap_err();
            assert!(e.contains(reason), "{e}");
        }
    }

    #[test]
    fn aliases_replace_ids_before_they_are_parsed() {
        let a = Aliases::parse(Some(
            &json!({"providers": {"anthropic:messages:claude-3": "seam:claude"}}),
        ))
        .unwrap();
        let p = provider(&json!("anthropic:messages:claude-3"), "providers[0]", &a).unwrap();
        assert_eq!(
            (p.api, p.surface, p.model.as_str(), p.label.as_str()),
            (
                Api::Seam,
                Surface::Chat,
                "claude",
                "anthropic:messages:claude-3"
            )
        );
        for (v, reason) in [
            (
                json!({"vendors": {}}),
                "x-seam.vendors: is not a Seam extension key",
            ),
            (
                json!({"providers": {"a:b": "openai:image:x"}}),
                "x-seam.providers.a:b: `openai:image:x`",
            ),
            (
                json!({"providers": ["x"]}),
                "x-seam.providers: must map provider ids",
            ),
        ] {
            let e = Aliases::parse(Some(&v)).unwrap_err().to_string();
            assert!(e.contains(reason), "{e}");
        }
    }
}
