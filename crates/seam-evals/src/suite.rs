//! A suite in promptfoo's config format (the common subset), loaded and expanded into the cases
//! to run: `description`, `prompts` (inline, `file://` text or chat-message JSON, `{id, label}`),
//! `providers` (`openai:chat:MODEL`, `openai:MODEL`, `seam:ALIAS`, with `config`), `tests`
//! (inline, or `file://` CSV with `__expected`/`__description` columns, JSON, JSONL, YAML),
//! `vars` (an array value runs the test once per element, as promptfoo does; `file://` values
//! are read), `defaultTest`, `scenarios` and `evaluateOptions.maxConcurrency`. Anything else is
//! an error naming its path: a suite never half-runs.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::assertions;
use crate::{Assertion, EvalError};

/// A prompt: a template of text, or of chat messages (JSON) once rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub label: String,
    pub template: String,
    /// The template renders to a JSON array of chat messages.
    pub chat: bool,
    /// `file://prompts.py:fn`: a Python prompt function makes the prompt (`template` unused).
    pub function: Option<crate::python::Script>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Api {
    /// `openai:chat:MODEL` / `openai:MODEL`: any OpenAI-compatible endpoint.
    OpenAi,
    /// `seam:ALIAS`: a Seam gateway.
    Seam,
    /// `file://provider.py[:fn]` / `python:provider.py`: the user's `call_api`.
    Python(crate::python::Script),
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

/// One test after `defaultTest`, scenarios and var arrays are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub description: Option<String>,
    pub vars: Map<String, Value>,
    pub asserts: Vec<Assertion>,
    /// The test's `threshold`: pass iff the weighted score reaches it.
    pub threshold: Option<f64>,
    /// `options.provider`: the judge for this test's model-graded assertions.
    pub judge: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    pub description: Option<String>,
    pub prompts: Vec<Prompt>,
    pub providers: Vec<Provider>,
    pub tests: Vec<Test>,
    pub max_concurrency: Option<usize>,
    pub repeat: Option<u32>,
    /// Where the suite file is: `file://` paths are relative to it.
    pub dir: PathBuf,
}

/// Top-level keys this loader knows; others are errors (promptfoo keys it does not support are
/// named as such).
const KNOWN: &[&str] = &[
    "description",
    "prompts",
    "providers",
    "targets",
    "tests",
    "defaultTest",
    "scenarios",
    "evaluateOptions",
    "sharing",
    "outputPath",
    "writeLatestResults",
];

fn err(path: impl Into<String>, m: impl Into<String>) -> EvalError {
    EvalError::suite(path, m)
}

fn str_at<'a>(v: &'a Value, path: &str) -> Result<&'a str, EvalError> {
    v.as_str().ok_or_else(|| err(path, "must be a string"))
}

impl Suite {
    /// Reads and expands a suite file.
    pub fn load(file: &Path) -> Result<Suite, EvalError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| EvalError::Io(format!("{}: {e}", file.display())))?;
        let dir = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Suite::parse(&text, &dir)
    }

    /// Parses suite text (YAML, or JSON, which is YAML) with `file://` paths relative to `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Suite, EvalError> {
        let root: Value = serde_norway::from_str(text).map_err(|e| err("suite", yaml_error(&e)))?;
        let Some(top) = root.as_object() else {
            return Err(err(
                "suite",
                "must be a mapping (description, prompts, providers, tests)",
            ));
        };
        for k in top.keys() {
            if !KNOWN.contains(&k.as_str()) {
                return Err(err(
                    k,
                    "is not supported by seam eval (see docs/evals.md for the supported subset)",
                ));
            }
        }
        let ctx = Loader {
            dir: dir.to_path_buf(),
        };
        let prompts = match top.get("prompts") {
            Some(p) => ctx.prompts(p)?,
            None => vec![Prompt {
                label: "{{prompt}}".into(),
                template: "{{prompt}}".into(),
                chat: false,
                function: None,
            }],
        };
        let mut providers = match top.get("providers").or_else(|| top.get("targets")) {
            Some(p) => providers(p)?,
            None => return Err(err("providers", "is required (e.g. [\"seam:chat\"])")),
        };
        crate::python::code::resolve_providers(&mut providers, dir)?;
        let default = match top.get("defaultTest") {
            Some(d) => ctx.test(d, "defaultTest")?,
            None => RawTest::default(),
        };
        let mut raw_tests = Vec::new();
        if let Some(t) = top.get("tests") {
            raw_tests.extend(ctx.tests(t, "tests")?);
        }
        if let Some(s) = top.get("scenarios") {
            raw_tests.extend(ctx.scenarios(s)?);
        }
        if raw_tests.is_empty() {
            raw_tests.push(RawTest::default());
        }
        let mut tests = Vec::new();
        for t in raw_tests {
            let merged = default.clone().under(t);
            for vars in expand(&merged.vars) {
                tests.push(Test {
                    description: merged.description.clone(),
                    vars: ctx.load_vars(vars)?,
                    asserts: merged.asserts.clone(),
                    threshold: merged.threshold,
                    judge: merged.judge.clone(),
                });
            }
        }
        let opts = top.get("evaluateOptions");
        let max_concurrency = opts
            .and_then(|o| o.get("maxConcurrency"))
            .map(|v| {
                v.as_u64()
                    .filter(|n| *n > 0)
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                    .ok_or_else(|| {
                        err(
                            "evaluateOptions.maxConcurrency",
                            "must be a positive integer",
                        )
                    })
            })
            .transpose()?;
        let repeat = opts
            .and_then(|o| o.get("repeat"))
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("evaluateOptions.repeat", "must be a positive integer"))
            })
            .transpose()?;
        Ok(Suite {
            description: top
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            prompts,
            providers,
            tests,
            max_concurrency,
            repeat,
            dir: dir.to_path_buf(),
        })
    }
}

fn yaml_error(e: &serde_norway::Error) -> String {
    match e.location() {
        Some(l) => format!("not valid YAML at line {}, column {}", l.line(), l.column()),
        None => "not valid YAML".into(),
    }
}

/// A test before merging and expansion.
#[derive(Clone, Debug, Default)]
struct RawTest {
    description: Option<String>,
    vars: Map<String, Value>,
    asserts: Vec<Assertion>,
    threshold: Option<f64>,
    judge: Option<Value>,
}

impl RawTest {
    /// `self` (defaults) with `t` on top: vars overridden, assertions appended after `t`'s.
    fn under(self, t: RawTest) -> RawTest {
        let mut vars = self.vars;
        vars.extend(t.vars);
        let mut asserts = t.asserts;
        asserts.extend(self.asserts);
        RawTest {
            description: t.description.or(self.description),
            vars,
            asserts,
            threshold: t.threshold.or(self.threshold),
            judge: t.judge.or(self.judge),
        }
    }
}

/// Every combination of the array-valued vars (promptfoo runs a test once per combination).
fn expand(vars: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let mut out = vec![Map::new()];
    for (k, v) in vars {
        match v {
            Value::Array(items) if !items.is_empty() => {
                let mut next = Vec::with_capacity(out.len() * items.len());
                for base in &out {
                    for item in items {
                        let mut m = base.clone();
                        m.insert(k.clone(), item.clone());
                        next.push(m);
                    }
                }
                out = next;
            }
            other => {
                for m in &mut out {
                    m.insert(k.clone(), other.clone());
                }
            }
        }
    }
    out
}

struct Loader {
    dir: PathBuf,
}

impl Loader {
    fn read(&self, reference: &str, path: &str) -> Result<(PathBuf, String), EvalError> {
        let rel = reference.trim_start_matches("file://");
        let p = self.dir.join(rel);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| err(path, format!("cannot read {}: {e}", p.display())))?;
        Ok((p, text))
    }

    fn prompts(&self, v: &Value) -> Result<Vec<Prompt>, EvalError> {
        let items: Vec<(String, &Value)> = match v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("prompts[{i}]"), x))
                .collect(),
            Value::String(_) | Value::Object(_) => vec![("prompts".to_owned(), v)],
            _ => return Err(err("prompts", "must be a list of prompts")),
        };
        let mut out = Vec::new();
        for (path, item) in items {
            let (reference, label) = match item {
                Value::String(s) => (s.clone(), None),
                Value::Object(o) => {
                    let id = o.get("id").or_else(|| o.get("raw")).ok_or_else(|| {
                        err(
                            path.as_str(),
                            "needs `id` (a file:// path) or `raw` (the prompt)",
                        )
                    })?;
                    (
                        str_at(id, &format!("{path}.id"))?.to_owned(),
                        o.get("label").and_then(Value::as_str).map(str::to_owned),
                    )
                }
                _ => return Err(err(path.as_str(), "must be a string or {id, label}")),
            };
            if let Some(function) = crate::python::code::load_prompt(&reference, &self.dir, &path)?
            {
                out.push(Prompt {
                    label: label.clone().unwrap_or_else(|| reference.clone()),
                    template: String::new(),
                    chat: false,
                    function: Some(function),
                });
            } else if reference.starts_with("file://") {
                let (file, text) = self.read(&reference, &path)?;
                let json = file
                    .extension()
                    .is_some_and(|e| e == "json" || e == "jsonl");
                if json {
                    let parsed: Value = serde_json::from_str(&text).map_err(|e| {
                        err(path.as_str(), format!("{}: not JSON ({e})", file.display()))
                    })?;
                    check_chat(&parsed, &path)?;
                    out.push(Prompt {
                        label: label.clone().unwrap_or_else(|| reference.clone()),
                        template: text,
                        chat: true,
                        function: None,
                    });
                } else {
                    // promptfoo: prompts in one text file are separated by lines of `---`.
                    let parts: Vec<&str> = text.split("\n---\n").collect();
                    let many = parts.len() > 1;
                    for (i, part) in parts.into_iter().enumerate() {
                        let part = part.trim_end_matches('\n');
                        out.push(Prompt {
                            label: match (&label, many) {
                                (Some(l), false) => l.clone(),
                                (Some(l), true) => format!("{l}#{i}"),
                                (None, false) => reference.clone(),
                                (None, true) => format!("{reference}#{i}"),
                            },
                            template: part.to_owned(),
                            chat: looks_like_chat(part),
                            function: None,
                        });
                    }
                }
            } else {
                out.push(Prompt {
                    label: label.unwrap_or_else(|| reference.clone()),
                    chat: looks_like_chat(&reference),
                    template: reference,
                    function: None,
                });
            }
        }
        if out.is_empty() {
            return Err(err("prompts", "is empty"));
        }
        Ok(out)
    }

    fn tests(&self, v: &Value, path: &str) -> Result<Vec<RawTest>, EvalError> {
        match v {
            Value::String(s) if s.starts_with("file://") => self.test_file(s, path),
            Value::Array(a) => {
                let mut out = Vec::new();
                for (i, t) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match t {
                        Value::String(s) if s.starts_with("file://") => {
                            out.extend(self.test_file(s, &p)?)
                        }
                        _ => out.push(self.test(t, &p)?),
                    }
                }
                Ok(out)
            }
            _ => Err(err(path, "must be a list of tests or a file:// path")),
        }
    }

    fn test_file(&self, reference: &str, path: &str) -> Result<Vec<RawTest>, EvalError> {
        let (file, text) = self.read(reference, path)?;
        let ext = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = file.display().to_string();
        match ext.as_str() {
            "csv" => {
                let mut tests = csv_tests(&text, &name)?;
                for t in &mut tests {
                    crate::python::code::prepare_assertions(&mut t.asserts, &self.dir, &name)?;
                }
                Ok(tests)
            }
            "json" => {
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| err(name.as_str(), format!("not JSON ({e})")))?;
                self.tests(&v, &name)
            }
            "jsonl" => text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    let p = format!("{name}:{}", i + 1);
                    let v: Value = serde_json::from_str(l)
                        .map_err(|e| err(p.as_str(), format!("not JSON ({e})")))?;
                    self.test(&v, &p)
                })
                .collect(),
            "yaml" | "yml" => {
                let v: Value = serde_norway::from_str(&text)
                    .map_err(|e| err(name.as_str(), yaml_error(&e)))?;
                self.tests(&v, &name)
            }
            other => Err(err(
                path,
                format!("tests from a .{other} file are not supported (csv, json, jsonl, yaml)"),
            )),
        }
    }

    fn test(&self, v: &Value, path: &str) -> Result<RawTest, EvalError> {
        let Some(o) = v.as_object() else {
            return Err(err(path, "must be a mapping (vars, assert, description)"));
        };
        for k in o.keys() {
            if ![
                "vars",
                "assert",
                "description",
                "threshold",
                "options",
                "metadata",
            ]
            .contains(&k.as_str())
            {
                return Err(err(format!("{path}.{k}"), "is not supported by seam eval"));
            }
        }
        let vars = match o.get("vars") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(Value::String(s)) if s.starts_with("file://") => {
                let (_, text) = self.read(s, &format!("{path}.vars"))?;
                let v: Value = serde_norway::from_str(&text)
                    .map_err(|e| err(format!("{path}.vars"), yaml_error(&e)))?;
                v.as_object()
                    .cloned()
                    .ok_or_else(|| err(format!("{path}.vars"), "the file must hold a mapping"))?
            }
            Some(_) => return Err(err(format!("{path}.vars"), "must be a mapping")),
        };
        let mut asserts = match o.get("assert") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, x)| assertions::parse(x, &format!("{path}.assert[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(err(format!("{path}.assert"), "must be a list")),
        };
        crate::python::code::prepare_assertions(&mut asserts, &self.dir, path)?;
        let threshold = o
            .get("threshold")
            .map(|t| {
                t.as_f64()
                    .ok_or_else(|| err(format!("{path}.threshold"), "must be a number"))
            })
            .transpose()?;
        let judge = o.get("options").and_then(|x| x.get("provider")).cloned();
        Ok(RawTest {
            description: o
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            vars,
            asserts,
            threshold,
            judge,
        })
    }

    fn scenarios(&self, v: &Value) -> Result<Vec<RawTest>, EvalError> {
        let Some(list) = v.as_array() else {
            return Err(err("scenarios", "must be a list"));
        };
        let mut out = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let p = format!("scenarios[{i}]");
            let configs = match s.get("config") {
                Some(Value::Array(c)) => c
                    .iter()
                    .enumerate()
                    .map(|(j, c)| self.test(c, &format!("{p}.config[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(err(format!("{p}.config"), "must be a list of {vars}")),
            };
            let tests = match s.get("tests") {
                Some(t) => self.tests(t, &format!("{p}.tests"))?,
                None => return Err(err(format!("{p}.tests"), "is required")),
            };
            for c in &configs {
                for t in &tests {
                    out.push(c.clone().under(t.clone()));
                }
            }
        }
        Ok(out)
    }

    /// `file://` var values are replaced by the file's text.
    fn load_vars(&self, mut vars: Map<String, Value>) -> Result<Map<String, Value>, EvalError> {
        for (k, v) in &mut vars {
            if let Value::String(s) = v
                && s.starts_with("file://")
            {
                // A Python file is run per case (`get_var`), not read as text.
                *v = match crate::python::code::load_var(s, &self.dir, &format!("vars.{k}"))? {
                    Some(reference) => reference,
                    None => Value::String(self.read(s, &format!("vars.{k}"))?.1),
                };
            }
        }
        Ok(vars)
    }
}

fn looks_like_chat(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('[') && t.contains("\"role\"")
}

fn check_chat(v: &Value, path: &str) -> Result<(), EvalError> {
    let ok = v.as_array().is_some_and(|a| {
        a.iter()
            .all(|m| m.get("role").and_then(Value::as_str).is_some())
    });
    if ok {
        Ok(())
    } else {
        Err(err(
            path,
            "a JSON prompt must be a list of chat messages with `role` and `content`",
        ))
    }
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

fn providers(v: &Value) -> Result<Vec<Provider>, EvalError> {
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
        let python = (id.starts_with("file://") || id.starts_with("python:"))
            .then(|| crate::python::Script::parse(&id, "call_api", Path::new("")))
            .flatten();
        let (api, model) = if let Some(script) = python {
            (Api::Python(script), "python")
        } else if let Some(m) = id.strip_prefix("openai:chat:") {
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

/// promptfoo's `__expected` shorthand: `contains: x`, `not-icontains: x`, `similar(0.8): x`,
/// `grade: rubric` (llm-rubric), `regex: …`, or a bare value (equals).
fn expected(cell: &str, path: &str) -> Result<Assertion, EvalError> {
    let (head, rest) = match cell.split_once(':') {
        Some((h, r)) if !h.contains(' ') && !h.is_empty() => (h.trim(), r.trim_start()),
        _ => return assertions::parse(&serde_json::json!({"type": "equals", "value": cell}), path),
    };
    let (kind, threshold) = match head.split_once('(') {
        Some((k, t)) => (k, t.trim_end_matches(')').parse::<f64>().ok()),
        None => (head, None),
    };
    let kind = match kind {
        "grade" | "llm-rubric" => "llm-rubric".to_owned(),
        "python" => "python".to_owned(),
        "fn" | "javascript" | "eval" => {
            return Err(err(
                path,
                format!("`{kind}:` assertions run code, which seam eval does not"),
            ));
        }
        k => k.to_owned(),
    };
    let known = kind.strip_prefix("not-").unwrap_or(&kind);
    if !assertions::SUPPORTED.contains(&known) {
        return assertions::parse(&serde_json::json!({"type": "equals", "value": cell}), path);
    }
    let mut a = serde_json::json!({"type": kind, "value": rest});
    if let Some(t) = threshold {
        a["threshold"] = serde_json::json!(t);
    }
    assertions::parse(&a, path)
}

fn csv_tests(text: &str, name: &str) -> Result<Vec<RawTest>, EvalError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| err(name, format!("not CSV ({e})")))?
        .clone();
    let mut out = Vec::new();
    for (i, row) in r.records().enumerate() {
        let p = format!("{name}:{}", i + 2);
        let row = row.map_err(|e| err(p.as_str(), format!("not CSV ({e})")))?;
        let mut t = RawTest::default();
        for (h, cell) in headers.iter().zip(row.iter()) {
            if h.starts_with("__expected") {
                if !cell.trim().is_empty() {
                    t.asserts.push(expected(cell, &format!("{p}.{h}"))?);
                }
            } else if h == "__description" {
                t.description = Some(cell.to_owned());
            } else if h == "__threshold" {
                t.threshold = Some(
                    cell.trim()
                        .parse()
                        .map_err(|_| err(format!("{p}.{h}"), "must be a number"))?,
                );
            } else if h.starts_with("__") {
                return Err(err(
                    format!("{p}.{h}"),
                    "is not a supported special column (__expected…, __description, __threshold)",
                ));
            } else {
                t.vars.insert(h.to_owned(), Value::String(cell.to_owned()));
            }
        }
        out.push(t);
    }
    Ok(out)
}
