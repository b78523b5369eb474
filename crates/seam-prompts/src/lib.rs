//! The prompt registry: prompts as files in the config's folder, reviewed in Git like code.
//!
//! A prompt is `prompts/NAME.prompt`: YAML front matter between `---` lines, then a template
//! (minijinja, the engine `seam eval` uses):
//!
//! ```text
//! ---
//! description: Answers a support ticket.
//! model: support                 # the alias it runs on by default
//! params: { temperature: 0.2 }   # request parameters it sets by default
//! system: You are {{ company }}'s support agent. Answer in {{ language }}.
//! vars:                          # a JSON Schema for its variables
//!   type: object
//!   required: [company, ticket]
//!   properties:
//!     company: { type: string }
//!     ticket: { type: string, maxLength: 4000 }
//!     language: { type: string, default: English }
//! output_schema: { … }           # optional: a data contract on the answer
//! tests: [ … ]                   # optional: promptfoo-style cases
//! ---
//! Ticket: {{ ticket }}
//! ```
//!
//! A version is the first 12 hex digits of the SHA-256 of the file's bytes: any edit is a new
//! version, and the same bytes are the same version on every machine. Rendering validates the
//! variables against the schema (defaults applied) and refuses an undefined one by name, so a
//! missing variable is never rendered as an empty string.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The file extension of a prompt.
pub const EXTENSION: &str = "prompt";

/// One prompt file, parsed and checked.
#[derive(Debug)]
pub struct Prompt {
    pub name: String,
    /// 12 hex digits of the file's SHA-256.
    pub version: String,
    pub description: Option<String>,
    /// The alias it runs on unless a request says otherwise.
    pub model: Option<String>,
    /// Request parameters it sets by default (`temperature`, `max_tokens`…).
    pub params: Map<String, Value>,
    /// The JSON Schema of its variables.
    pub vars: Option<Value>,
    pub output_schema: Option<Value>,
    /// Its promptfoo-style cases, as written.
    pub tests: Option<Value>,
    pub system: Option<String>,
    pub template: String,
    /// The whole file, as the version hashes it.
    pub source: String,
    validator: Option<jsonschema::Validator>,
    /// The variables its templates use, sorted (found once, at parse).
    variables: Vec<String>,
    /// Its templates, compiled once at parse: a render only evaluates them.
    env: Environment<'static>,
}

/// A prompt rendered with its variables: the messages it opens a conversation with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub system: Option<String>,
    pub user: String,
}

/// Why variables could not be rendered: the variable (`""` for the whole object) and the reason,
/// never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarError {
    pub var: String,
    pub reason: String,
}

impl std::fmt::Display for VarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.var.is_empty() {
            write!(f, "variables: {}", self.reason)
        } else {
            write!(f, "variable `{}`: {}", self.var, self.reason)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    description: Option<String>,
    model: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    vars: Option<Value>,
    output_schema: Option<Value>,
    tests: Option<Value>,
    system: Option<String>,
}

/// A prompt's name: lower-case letters, digits, `-` and `_`, starting with a letter or digit,
/// at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

/// What follows `@` in a prompt reference: a version, or a tag that points at one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    /// 12 lower-case hex digits: a content hash.
    Version(String),
    /// A mutable pointer kept in the store (`prod`, `canary`, …).
    Tag(String),
}

impl Ref {
    /// A version when `s` is 12 lower-case hex digits, else a tag: `[a-z0-9][a-z0-9._-]*`, at
    /// most 64 characters. A tag is never 12 hex digits, so the two cannot be confused.
    pub fn parse(s: &str) -> Result<Ref, String> {
        if is_version(s) {
            return Ok(Ref::Version(s.to_owned()));
        }
        let tag_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
        let starts_well = s
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if starts_well && s.len() <= 64 && s.bytes().all(tag_char) {
            return Ok(Ref::Tag(s.to_owned()));
        }
        Err(format!(
            "`{s}` is neither a version (12 lower-case hex digits) nor a tag \
             (lower-case letters, digits, `.`, `_` and `-`, at most 64)"
        ))
    }

    /// The version or the tag, as written.
    pub fn as_str(&self) -> &str {
        match self {
            Ref::Version(s) | Ref::Tag(s) => s,
        }
    }
}

fn is_version(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits a prompt reference, `NAME`, `NAME@VERSION` or `NAME@TAG`, into the name and the
/// [`Ref`] (none: the file's current version).
pub fn parse_ref(s: &str) -> Result<(String, Option<Ref>), String> {
    let (name, reference) = match s.split_once('@') {
        Some((name, r)) => (name, Some(r)),
        None => (s, None),
    };
    if !valid_name(name) {
        return Err(format!(
            "`{name}` is not a prompt name (lower-case letters, digits, - and _)"
        ));
    }
    let reference = reference.map(Ref::parse).transpose()?;
    Ok((name.to_owned(), reference))
}

/// The version of a prompt file's bytes.
pub fn version_of(source: &str) -> String {
    let digest = Sha256::digest(source.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl Prompt {
    /// Parses and checks a prompt file: its front matter, its schemas and its templates.
    pub fn parse(name: &str, source: &str) -> Result<Prompt, String> {
        if !valid_name(name) {
            return Err(format!(
                "`{name}` is not a prompt name (lower-case letters, digits, - and _)"
            ));
        }
        let (front, template) = split(source)?;
        let front: Front = match front {
            Some(yaml) => serde_norway::from_str(yaml).map_err(|e| format!("front matter: {e}"))?,
            None => Front {
                description: None,
                model: None,
                params: None,
                vars: None,
                output_schema: None,
                tests: None,
                system: None,
            },
        };
        let params = match front.params {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err("front matter: `params` must be a mapping".into()),
        };
        for key in ["model", "messages", "stream"] {
            if params.contains_key(key) {
                return Err(format!(
                    "front matter: `params.{key}` is not a parameter a prompt sets"
                ));
            }
        }
        let validator = match &front.vars {
            Some(schema) => Some(
                jsonschema::validator_for(schema)
                    .map_err(|e| format!("vars: not a valid JSON Schema: {}", e.masked()))?,
            ),
            None => None,
        };
        if let Some(schema) = &front.output_schema {
            jsonschema::validator_for(schema)
                .map_err(|e| format!("output_schema: not a valid JSON Schema: {}", e.masked()))?;
        }
        let env = environment(template, front.system.as_deref())?;
        let mut prompt = Prompt {
            name: name.to_owned(),
            version: version_of(source),
            description: front.description,
            model: front.model,
            params,
            vars: front.vars,
            output_schema: front.output_schema,
            tests: front.tests,
            system: front.system,
            template: template.to_owned(),
            source: source.to_owned(),
            validator,
            variables: Vec::new(),
            env,
        };
        let mut variables: Vec<String> = ["user", "system"]
            .iter()
            .filter_map(|t| prompt.env.get_template(t).ok())
            .flat_map(|t| t.undeclared_variables(false))
            .collect();
        variables.sort();
        variables.dedup();
        prompt.variables = variables;
        Ok(prompt)
    }

    /// The variables its templates use, sorted.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Renders the prompt with `vars` (a JSON object; `null` for none): checked against the
    /// schema, its defaults filled in, every variable the templates use defined.
    pub fn render(&self, vars: &Value) -> Result<Rendered, VarError> {
        let mut vars = match vars {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Err(VarError {
                    var: String::new(),
                    reason: "must be a JSON object".into(),
                });
            }
        };
        if let Some(Value::Object(props)) = self.vars.as_ref().and_then(|s| s.get("properties")) {
            for (name, schema) in props {
                if let Some(default) = schema.get("default")
                    && !vars.contains_key(name)
                {
                    vars.insert(name.clone(), default.clone());
                }
            }
        }
        let value = Value::Object(vars);
        if let Some(validator) = &self.validator
            && let Some(e) = validator.iter_errors(&value).next()
        {
            let var = match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    property.as_str().unwrap_or_default().to_owned()
                }
                _ => e
                    .instance_path()
                    .as_str()
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            let reason = match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { .. } => "is required".to_owned(),
                _ => e.masked().to_string(),
            };
            return Err(VarError { var, reason });
        }
        let Value::Object(vars) = &value else {
            return Err(VarError {
                var: String::new(),
                reason: "must be a JSON object".into(),
            });
        };
        for name in &self.variables {
            if !vars.contains_key(name) {
                return Err(VarError {
                    var: name.clone(),
                    reason: "is required by the template and was not given".into(),
                });
            }
        }
        let render = |name: &str| -> Result<String, VarError> {
            let t = self.env.get_template(name).map_err(|e| VarError {
                var: String::new(),
                reason: e.to_string(),
            })?;
            t.render(minijinja::Value::from(minijinja::value::Serde(&value)))
                .map_err(|e| VarError {
                    var: String::new(),
                    reason: format!("rendering failed: {}", e.kind()),
                })
        };
        Ok(Rendered {
            system: match self.system {
                Some(_) => Some(render("system")?),
                None => None,
            },
            user: render("user")?,
        })
    }
}

/// The templates of a prompt, compiled: strict about undefined variables, so nothing renders as an
/// empty string.
fn environment(template: &str, system: Option<&str>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template_owned("user", template.to_owned())
        .map_err(|e| format!("template: {e}"))?;
    if let Some(system) = system {
        env.add_template_owned("system", system.to_owned())
            .map_err(|e| format!("system: {e}"))?;
    }
    Ok(env)
}

/// Splits a file into its front matter (without the `---` lines) and its template.
fn split(source: &str) -> Result<(Option<&str>, &str), String> {
    let Some(rest) = source
        .strip_prefix("---\n")
        .or_else(|| source.strip_prefix("---\r\n"))
    else {
        return Ok((None, source));
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Ok((Some(&rest[..offset]), &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err("front matter: no closing `---` line".into())
}

/// Every prompt in a folder (`*.prompt`), by name.
#[derive(Debug, Default)]
pub struct Registry {
    prompts: BTreeMap<String, Prompt>,
}

impl Registry {
    /// Loads `dir`; a folder that does not exist is an empty registry. Every bad file is an
    /// error naming it.
    pub fn load(dir: &Path) -> Result<Registry, Vec<String>> {
        let mut registry = Registry::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(registry),
            Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
        };
        let mut errors = Vec::new();
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let loaded = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|source| Prompt::parse(&name, &source));
            match loaded {
                Ok(p) => {
                    registry.prompts.insert(name, p);
                }
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Prompt> {
        self.prompts.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Prompt> {
        self.prompts.values()
    }

    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

#[cfg(test)]
mod tests;
