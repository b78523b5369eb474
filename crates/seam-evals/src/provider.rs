//! Providers: promptfoo's provider ids and `{id, label, config}` specs, parsed into where and how
//! to ask ([`Provider`]), and resolved to an endpoint ([`Resolver`]) from the suite's config, the
//! run's options and the environment.

use serde_json::{Map, Value};

use crate::EvalError;
use crate::client::Endpoint;
use crate::runner::Options;

fn err(path: impl Into<String>, m: impl Into<String>) -> EvalError {
    EvalError::suite(path, m)
}

fn str_at<'a>(v: &'a Value, path: &str) -> Result<&'a str, EvalError> {
    v.as_str().ok_or_else(|| err(path, "must be a string"))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Api {
    /// `openai:chat:MODEL` / `openai:MODEL`: any OpenAI-compatible endpoint.
    OpenAi,
    /// `seam:ALIAS`: a Seam gateway.
    Seam,
}

/// Where and how to ask.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    /// As written (`openai:chat:gpt-4o-mini`).
    pub id: String,
    /// `label`, else `id`.
    pub label: String,
    pub api: Api,
    pub model: String,
    /// `config.apiBaseUrl` / `apiHost`.
    pub base_url: Option<String>,
    /// `config.apiKey`, or the variable named by `config.apiKeyEnvar`.
    pub api_key: Option<String>,
    /// `config.headers`.
    pub headers: Vec<(String, String)>,
    /// Every other `config` key, sent in the request body (`temperature`, `max_tokens`, `tools`…).
    pub params: Map<String, Value>,
}

/// One provider spec (a judge's): an id or `{id, label, config}`.
pub(crate) fn provider(v: &Value, path: &str) -> Result<Provider, EvalError> {
    providers(v)
        .map_err(|e| match e {
            EvalError::Suite { message, .. } => EvalError::suite(path, message),
            other => other,
        })?
        .into_iter()
        .next()
        .ok_or_else(|| err(path, "names no provider"))
}

pub(crate) fn providers(v: &Value) -> Result<Vec<Provider>, EvalError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for (i, p) in items.into_iter().enumerate() {
        let path = format!("providers[{i}]");
        let (id, label, config) = match p {
            Value::String(s) => (s.clone(), None, Map::new()),
            Value::Object(o) => {
                let id = str_at(
                    o.get("id")
                        .ok_or_else(|| err(path.as_str(), "needs `id`"))?,
                    &format!("{path}.id"),
                )?
                .to_owned();
                let config = match o.get("config") {
                    None => Map::new(),
                    Some(Value::Object(c)) => c.clone(),
                    Some(_) => return Err(err(format!("{path}.config"), "must be a mapping")),
                };
                (
                    id,
                    o.get("label").and_then(Value::as_str).map(str::to_owned),
                    config,
                )
            }
            _ => {
                return Err(err(
                    path.as_str(),
                    "must be a provider id or {id, label, config}",
                ));
            }
        };
        let (api, model) = if let Some(m) = id.strip_prefix("openai:chat:") {
            (Api::OpenAi, m)
        } else if let Some(m) = id.strip_prefix("seam:") {
            (Api::Seam, m)
        } else if let Some(m) = id.strip_prefix("openai:") {
            if m.starts_with("completion:")
                || m.starts_with("embedding:")
                || m.starts_with("assistant:")
            {
                return Err(err(
                    path.as_str(),
                    format!(
                        "`{id}`: only chat models are supported (openai:chat:MODEL, openai:MODEL, seam:ALIAS)"
                    ),
                ));
            }
            (Api::OpenAi, m)
        } else {
            return Err(err(
                path.as_str(),
                format!(
                    "`{id}` is not supported: use openai:chat:MODEL, openai:MODEL or seam:ALIAS (any OpenAI-compatible endpoint via config.apiBaseUrl)"
                ),
            ));
        };
        if model.is_empty() {
            return Err(err(path.as_str(), format!("`{id}` names no model")));
        }
        let mut params = config;
        let base_url = params
            .remove("apiBaseUrl")
            .or_else(|| {
                params
                    .remove("apiHost")
                    .map(|h| Value::String(format!("https://{}/v1", h.as_str().unwrap_or(""))))
            })
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
        out.push(Provider {
            label: label.unwrap_or_else(|| id.clone()),
            model: model.to_owned(),
            id,
            api,
            base_url,
            api_key,
            headers,
            params,
        });
    }
    if out.is_empty() {
        return Err(err("providers", "is empty"));
    }
    Ok(out)
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
                Api::OpenAi => std::env::var("OPENAI_BASE_URL").ok(),
                Api::Seam => std::env::var("SEAM_BASE_URL").ok(),
            })
            .unwrap_or_else(|| match p.api {
                Api::OpenAi => "https://api.openai.com/v1".into(),
                Api::Seam => "http://127.0.0.1:8700/v1".into(),
            });
        let api_key = p
            .api_key
            .clone()
            .or_else(|| self.opts.api_key.clone())
            .or_else(|| match p.api {
                Api::OpenAi => std::env::var("OPENAI_API_KEY").ok(),
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
