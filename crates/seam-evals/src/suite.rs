//! A suite in promptfoo's config format (the common subset), loaded and expanded into the cases
//! to run: `description`, `prompts` (inline, `file://` text or chat-message JSON, `{id, label}`),
//! `providers` (`openai:chat:MODEL`, `openai:MODEL`, `seam:ALIAS`, with `config`), `tests`
//! (inline, or `file://` CSV with `__expected`/`__description` columns, JSON, JSONL, YAML),
//! `vars` (an array value runs the test once per element, as promptfoo does; `file://` values
//! are read), `defaultTest`, `scenarios` and `evaluateOptions.maxConcurrency`. Every key is
//! looked up in [`crate::coverage`]: a refused or unknown one is an error naming its path, so a
//! suite never half-runs.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::assertions;
use crate::coverage;
pub use crate::provider::{Aliases, Api, Provider, Surface};
use crate::{Assertion, EvalError};

/// A prompt: a template of text, or of chat messages (JSON) once rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub label: String,
    pub template: String,
    /// The template is a chat before rendering (JSON or YAML messages). A hint only: what is
    /// sent is decided after rendering ([`crate::template::chat_messages`]).
    pub chat: bool,
    /// `file://prompts.py:fn`: a Python prompt function makes the prompt (`template` unused).
    pub function: Option<crate::python::Script>,
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
    /// `options.transform` (or `postprocess`): JavaScript applied to the output before grading.
    pub transform: Option<String>,
    /// `options.storeOutputAs`: the var that later tests see this test's output in.
    pub store_output_as: Option<String>,
    /// Where the test is in the suite (`tests[2]`, `tests.csv:3`), for errors.
    pub path: String,
    /// Where each of `asserts` is (`tests[2].assert[0]`, `defaultTest.assert[1]`).
    pub assert_paths: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    pub description: Option<String>,
    pub prompts: Vec<Prompt>,
    pub providers: Vec<Provider>,
    pub tests: Vec<Test>,
    pub max_concurrency: Option<usize>,
    pub repeat: Option<u32>,
    /// `evaluateOptions.cache`: `Some(false)` asks the endpoints even when an answer is recorded.
    pub cache: Option<bool>,
    /// Where the suite file is: `file://` paths are relative to it.
    pub dir: PathBuf,
    /// `x-seam.providers`: ids replaced before they are parsed (targets and graders).
    pub aliases: Aliases,
}

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
        coverage::check_keys(top, "", "")?;
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
        let aliases = Aliases::parse(top.get("x-seam"))?;
        let mut providers = match (top.get("providers"), top.get("targets")) {
            (Some(p), _) => crate::provider::targets(p, "providers", &aliases)?,
            (None, Some(t)) => crate::provider::targets(t, "targets", &aliases)?,
            (None, None) => return Err(err("providers", "is required (e.g. [\"seam:chat\"])")),
        };
        crate::python::code::resolve_providers(&mut providers, dir)?;
        check_provider_prompts(&providers, &prompts)?;
        let default = match top.get("defaultTest") {
            Some(Value::String(s)) if s.starts_with("file://") => {
                let (_, text) = ctx.read(s, "defaultTest")?;
                let v: Value = serde_norway::from_str(&text)
                    .map_err(|e| err("defaultTest", yaml_error(&e)))?;
                ctx.test(&v, "defaultTest", "defaultTest")?
            }
            Some(d) => ctx.test(d, "defaultTest", "defaultTest")?,
            None => RawTest::default(),
        };
        let mut raw_tests = Vec::new();
        if let Some(t) = top.get("tests") {
            raw_tests.extend(ctx.tests(t, "tests", "tests")?);
        }
        if let Some(s) = top.get("scenarios") {
            raw_tests.extend(ctx.scenarios(s)?);
        }
        if raw_tests.is_empty() {
            raw_tests.push(RawTest::default());
        }
        let mut tests = Vec::new();
        for t in raw_tests {
            let mut merged = default.clone().under(t);
            if merged.path.is_empty() {
                merged.path = "defaultTest".into();
            }
            let vars = ctx.glob_vars(&merged.vars, &merged.path)?;
            let combinations = if merged.disable_expansion == Some(true) {
                vec![vars]
            } else {
                expand(&vars)
            };
            let mut asserts = merged.asserts.clone();
            if let Some(rubric) = &merged.rubric_prompt {
                for a in &mut asserts {
                    default_rubric(a, rubric);
                }
            }
            for vars in combinations {
                tests.push(Test {
                    description: merged.description.clone(),
                    vars: ctx.load_vars(vars, &merged.path)?,
                    asserts: asserts.clone(),
                    threshold: merged.threshold,
                    judge: merged.judge.clone(),
                    transform: merged.transform.clone(),
                    store_output_as: merged.store_output_as.clone(),
                    path: merged.path.clone(),
                    assert_paths: merged.assert_paths.clone(),
                });
            }
        }
        crate::provider::check_graders(&tests, &aliases)?;
        let opts = top.get("evaluateOptions");
        if let Some(o) = opts {
            let Some(o) = o.as_object() else {
                return Err(err("evaluateOptions", "must be a mapping"));
            };
            coverage::check_keys(o, "evaluateOptions", "evaluateOptions")?;
        }
        let cache = opts
            .and_then(|o| o.get("cache"))
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| err("evaluateOptions.cache", "must be true or false"))
            })
            .transpose()?;
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
            cache,
            dir: dir.to_path_buf(),
            aliases,
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
    assert_paths: Vec<String>,
    threshold: Option<f64>,
    judge: Option<Value>,
    transform: Option<String>,
    store_output_as: Option<String>,
    /// `options.rubricPrompt`: for model-graded assertions without their own.
    rubric_prompt: Option<Value>,
    /// `options.disableVarExpansion`: array vars are passed whole.
    disable_expansion: Option<bool>,
    /// `options.disableDefaultAsserts`: `defaultTest`'s assertions are not added.
    disable_default_asserts: Option<bool>,
    path: String,
}

impl RawTest {
    /// `self` (defaults) with `t` on top: vars and options overridden, assertions appended after
    /// `t`'s (unless `t` disables them).
    fn under(self, t: RawTest) -> RawTest {
        let mut vars = self.vars;
        vars.extend(t.vars);
        let disable_default_asserts = t.disable_default_asserts.or(self.disable_default_asserts);
        let mut asserts = t.asserts;
        let mut assert_paths = t.assert_paths;
        if disable_default_asserts != Some(true) {
            asserts.extend(self.asserts);
            assert_paths.extend(self.assert_paths);
        }
        RawTest {
            description: t.description.or(self.description),
            vars,
            asserts,
            assert_paths,
            threshold: t.threshold.or(self.threshold),
            judge: t.judge.or(self.judge),
            transform: t.transform.or(self.transform),
            store_output_as: t.store_output_as.or(self.store_output_as),
            rubric_prompt: t.rubric_prompt.or(self.rubric_prompt),
            disable_expansion: t.disable_expansion.or(self.disable_expansion),
            disable_default_asserts,
            path: if t.path.is_empty() { self.path } else { t.path },
        }
    }
}

/// A test's `options.rubricPrompt` for each model-graded assertion (and assert-set member)
/// without its own, as promptfoo's grading options are merged.
fn default_rubric(a: &mut Assertion, rubric: &Value) {
    if a.rubric_prompt.is_none() && assertions::is_model_graded(&a.kind) {
        a.rubric_prompt = Some(rubric.clone());
    }
    for m in &mut a.assert {
        default_rubric(m, rubric);
    }
}

/// Every entry of a provider's `prompts` must name a prompt: a list that matches none would
/// silently run nothing on that provider.
fn check_provider_prompts(providers: &[Provider], prompts: &[Prompt]) -> Result<(), EvalError> {
    for (i, p) in providers.iter().enumerate() {
        for (j, allowed) in p.prompts.iter().flatten().enumerate() {
            if !prompts
                .iter()
                .any(|q| crate::provider::label_matches(&q.label, allowed))
            {
                let labels: Vec<&str> = prompts.iter().map(|q| q.label.as_str()).collect();
                return Err(err(
                    format!("providers[{i}].prompts[{j}]"),
                    format!(
                        "`{allowed}` is the label of no prompt (the prompts' labels: {})",
                        labels.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every combination of the vars holding lists of strings (promptfoo runs a test once per
/// combination; a list of anything else, such as chat turns, is one value).
fn expand(vars: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let mut out = vec![Map::new()];
    for (k, v) in vars {
        match v {
            Value::Array(items) if items.first().is_some_and(Value::is_string) => {
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

/// Prompt files that are code (promptfoo's prompt functions).
const CODE_EXTENSIONS: &[&str] = &["py", "js", "cjs", "mjs", "ts", "cts", "mts"];

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

impl Loader {
    fn read(&self, reference: &str, path: &str) -> Result<(PathBuf, String), EvalError> {
        let rel = reference.trim_start_matches("file://");
        let p = self.dir.join(rel);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| err(path, format!("cannot read {}: {e}", p.display())))?;
        Ok((p, text))
    }

    /// The files a `file://` reference names: itself, or every match of its wildcards (none is
    /// an error, as in promptfoo), each with the reference to it (`file://prompts/a.txt`).
    fn files(&self, reference: &str, path: &str) -> Result<Vec<String>, EvalError> {
        let rel = reference.trim_start_matches("file://");
        if !crate::glob::is_glob(rel) {
            return Ok(vec![reference.to_owned()]);
        }
        let found = crate::glob::expand(&self.dir, rel).map_err(|e| err(path, e))?;
        if found.is_empty() {
            return Err(err(path, format!("`{reference}` matches no file")));
        }
        Ok(found
            .iter()
            .map(|f| {
                let shown = f.strip_prefix(&self.dir).unwrap_or(f);
                format!("file://{}", shown.display())
            })
            .collect())
    }

    fn prompts(&self, v: &Value) -> Result<Vec<Prompt>, EvalError> {
        let items: Vec<(String, Value)> = match v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("prompts[{i}]"), x.clone()))
                .collect(),
            Value::String(_) => vec![("prompts".to_owned(), v.clone())],
            // promptfoo's map form: `{file://prompt.txt: label}`.
            Value::Object(m) => m
                .iter()
                .map(|(id, label)| {
                    let label = label.as_str().ok_or_else(|| {
                        err(format!("prompts.{id}"), "must be the prompt's label")
                    })?;
                    Ok((
                        format!("prompts.{id}"),
                        serde_json::json!({"id": id, "label": label}),
                    ))
                })
                .collect::<Result<_, EvalError>>()?,
            _ => return Err(err("prompts", "must be a list of prompts")),
        };
        let mut out = Vec::new();
        for (path, item) in items {
            let (reference, label) = match &item {
                Value::String(s) => (s.clone(), None),
                Value::Object(o) => {
                    coverage::check_keys(o, "prompts[]", &path)?;
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
                continue;
            }
            if !reference.starts_with("file://") {
                out.push(Prompt {
                    label: label.unwrap_or_else(|| reference.clone()),
                    chat: looks_like_chat(&reference),
                    template: reference,
                    function: None,
                });
                continue;
            }
            let files = self.files(&reference, &path)?;
            let many_files = files.len() > 1;
            for file_ref in files {
                // With a glob, each file is labelled by its own path (a label would repeat).
                let label = if many_files { None } else { label.clone() };
                out.extend(self.prompt_file(&file_ref, label, &path)?);
            }
        }
        if out.is_empty() {
            return Err(err("prompts", "is empty"));
        }
        Ok(out)
    }

    /// One prompt file: JSON (the template as written), YAML (promptfoo turns it into JSON, so a
    /// list of messages is a chat prompt), code (refused), or text (prompts separated by lines
    /// of `---`).
    fn prompt_file(
        &self,
        reference: &str,
        label: Option<String>,
        path: &str,
    ) -> Result<Vec<Prompt>, EvalError> {
        let file_part = reference
            .trim_start_matches("file://")
            .rsplit_once(':')
            .filter(|(f, _)| CODE_EXTENSIONS.contains(&extension(Path::new(f)).as_str()))
            .map_or(reference.trim_start_matches("file://"), |(f, _)| f);
        let ext = extension(Path::new(file_part));
        if CODE_EXTENSIONS.contains(&ext.as_str()) {
            return Err(err(
                path,
                format!(
                    "`{reference}` is a prompt function, which runs code: seam eval does not run prompt functions (yet)"
                ),
            ));
        }
        let (_, text) = self.read(reference, path)?;
        let label_or = |fallback: String| label.clone().unwrap_or(fallback);
        match ext.as_str() {
            "json" | "jsonl" => Ok(vec![Prompt {
                label: label_or(reference.to_owned()),
                chat: looks_like_chat(&text),
                template: text,
                function: None,
            }]),
            "yaml" | "yml" => {
                let template = serde_norway::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| serde_json::to_string(&v).ok())
                    .unwrap_or(text);
                Ok(vec![Prompt {
                    label: label_or(reference.to_owned()),
                    chat: looks_like_chat(&template),
                    template,
                    function: None,
                }])
            }
            _ => {
                // promptfoo: prompts in one text file are separated by lines of `---`.
                let parts: Vec<&str> = text.split("\n---\n").collect();
                let many = parts.len() > 1;
                Ok(parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, part)| {
                        let part = part.trim_end_matches('\n');
                        Prompt {
                            label: match (&label, many) {
                                (Some(l), false) => l.clone(),
                                (Some(l), true) => format!("{l}#{i}"),
                                (None, false) => reference.to_owned(),
                                (None, true) => format!("{reference}#{i}"),
                            },
                            template: part.to_owned(),
                            chat: looks_like_chat(part),
                            function: None,
                        }
                    })
                    .collect())
            }
        }
    }

    /// A list of tests at `path` whose place in the schema is `schema` (`tests`,
    /// `scenarios[].tests`); its items are at `{schema}[]`.
    fn tests(&self, v: &Value, path: &str, schema: &str) -> Result<Vec<RawTest>, EvalError> {
        let item_schema = format!("{schema}[]");
        match v {
            Value::String(s) if s.starts_with("file://") => {
                let mut out = Vec::new();
                for f in self.files(s, path)? {
                    out.extend(self.test_file(&f, path, &item_schema)?);
                }
                Ok(out)
            }
            Value::Array(a) => {
                let mut out = Vec::new();
                for (i, t) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match t {
                        Value::String(s) if s.starts_with("file://") => {
                            for f in self.files(s, &p)? {
                                out.extend(self.test_file(&f, &p, &item_schema)?);
                            }
                        }
                        Value::String(s) => {
                            return Err(err(
                                p.as_str(),
                                format!(
                                    "`{s}`: seam eval reads tests inline or from file:// CSV, JSON, JSONL and YAML files only (not datasets such as huggingface:// or URLs)"
                                ),
                            ));
                        }
                        _ => out.push(self.test(t, &p, &item_schema)?),
                    }
                }
                Ok(out)
            }
            Value::Object(o) => {
                coverage::check_keys(o, schema, path)?;
                Err(err(path, "must be a list of tests or a file:// path"))
            }
            _ => Err(err(path, "must be a list of tests or a file:// path")),
        }
    }

    fn test_file(
        &self,
        reference: &str,
        path: &str,
        schema: &str,
    ) -> Result<Vec<RawTest>, EvalError> {
        let code = reference
            .trim_start_matches("file://")
            .rsplit_once(':')
            .map_or(reference, |(f, _)| f);
        if CODE_EXTENSIONS.contains(&extension(Path::new(reference)).as_str())
            || CODE_EXTENSIONS.contains(&extension(Path::new(code)).as_str())
        {
            return Err(err(
                path,
                format!(
                    "`{reference}` generates tests with code: seam eval does not run test generators (yet)"
                ),
            ));
        }
        let (file, text) = self.read(reference, path)?;
        let ext = extension(&file);
        // Errors name the file as the suite does, relative to it.
        let name = file
            .strip_prefix(&self.dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        let list = schema.trim_end_matches("[]");
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
                self.tests(&v, &name, list)
            }
            "jsonl" => text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    let p = format!("{name}:{}", i + 1);
                    let v: Value = serde_json::from_str(l)
                        .map_err(|e| err(p.as_str(), format!("not JSON ({e})")))?;
                    self.test(&v, &p, schema)
                })
                .collect(),
            "yaml" | "yml" => {
                let v: Value = serde_norway::from_str(&text)
                    .map_err(|e| err(name.as_str(), yaml_error(&e)))?;
                self.tests(&v, &name, list)
            }
            other => Err(err(
                path,
                format!("tests from a .{other} file are not supported (csv, json, jsonl, yaml)"),
            )),
        }
    }

    /// One test at `path`, whose keys are checked against the schema's `schema`
    /// (`tests[]`, `defaultTest`, `scenarios[].config[]`, `scenarios[].tests[]`).
    fn test(&self, v: &Value, path: &str, schema: &str) -> Result<RawTest, EvalError> {
        let Some(o) = v.as_object() else {
            return Err(err(path, "must be a mapping (vars, assert, description)"));
        };
        coverage::check_keys(o, schema, path)?;
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
        let (mut asserts, assert_paths) = match o.get("assert") {
            None => (Vec::new(), Vec::new()),
            Some(Value::Array(a)) => {
                let mut asserts = Vec::with_capacity(a.len());
                let mut paths = Vec::with_capacity(a.len());
                for (i, x) in a.iter().enumerate() {
                    let at = format!("{path}.assert[{i}]");
                    coverage::check_assertion(x, &format!("{schema}.assert[]"), &at)?;
                    let x = self.assertion_files(x, &at)?;
                    asserts.push(assertions::parse(&x, &at)?);
                    paths.push(at);
                }
                (asserts, paths)
            }
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
        let (transform, store_output_as) = crate::js::test_options(o.get("options"), path)?;
        let mut t = RawTest {
            description: o
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            vars,
            asserts,
            assert_paths,
            threshold,
            transform,
            store_output_as,
            path: if schema == "defaultTest" {
                String::new()
            } else {
                path.to_owned()
            },
            ..RawTest::default()
        };
        if let Some(options) = o.get("options") {
            self.options(
                &mut t,
                options,
                &format!("{path}.options"),
                &format!("{schema}.options"),
            )?;
        }
        Ok(t)
    }

    /// An assertion with its `file://` values read as promptfoo reads them: `.json`, `.yaml`
    /// parsed, `.txt` trimmed text; a `rubricPrompt` file likewise. Code files stay for the
    /// assertion types that run code; any other file type is refused, as promptfoo does.
    fn assertion_files(&self, v: &Value, path: &str) -> Result<Value, EvalError> {
        let Some(o) = v.as_object() else {
            return Ok(v.clone());
        };
        let mut o = o.clone();
        let runs_code = o
            .get("type")
            .and_then(Value::as_str)
            .map(|t| t.trim_start_matches("not-"))
            .is_some_and(|t| matches!(t, "javascript" | "python" | "ruby"));
        for field in ["value", "rubricPrompt"] {
            let Some(Value::String(r)) = o.get(field) else {
                continue;
            };
            if !r.starts_with("file://") || (runs_code && field == "value") {
                continue;
            }
            let at = format!("{path}.{field}");
            let (file, text) = self.read(r, &at)?;
            let loaded = match extension(&file).as_str() {
                "json" | "yaml" | "yml" => serde_norway::from_str::<Value>(&text)
                    .map_err(|e| err(at.as_str(), yaml_error(&e)))?,
                "txt" => Value::String(text.trim().to_owned()),
                _ if field == "rubricPrompt" => Value::String(text),
                other => {
                    return Err(err(
                        at,
                        format!(
                            "`{r}`: a .{other} file is not a value promptfoo reads (.json, .yaml, .txt)"
                        ),
                    ));
                }
            };
            o.insert(field.to_owned(), loaded);
        }
        if let Some(Value::Array(members)) = o.get("assert") {
            let members = members
                .iter()
                .enumerate()
                .map(|(i, m)| self.assertion_files(m, &format!("{path}.assert[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            o.insert("assert".to_owned(), Value::Array(members));
        }
        Ok(Value::Object(o))
    }

    /// A test's `options`.
    fn options(
        &self,
        t: &mut RawTest,
        v: &Value,
        path: &str,
        schema: &str,
    ) -> Result<(), EvalError> {
        let Some(o) = v.as_object() else {
            return Err(err(path, "must be a mapping"));
        };
        coverage::check_keys(o, schema, path)?;
        let flag = |k: &str| -> Result<Option<bool>, EvalError> {
            o.get(k)
                .map(|v| {
                    v.as_bool()
                        .ok_or_else(|| err(format!("{path}.{k}"), "must be true or false"))
                })
                .transpose()
        };
        t.disable_expansion = flag("disableVarExpansion")?;
        t.disable_default_asserts = flag("disableDefaultAsserts")?;
        flag("disableConversationVar")?;
        t.judge = o.get("provider").cloned();
        if let Some(rubric) = o.get("rubricPrompt") {
            // Checked as an llm-rubric's would be, so a bad one is found now.
            let probe =
                serde_json::json!({"type": "llm-rubric", "value": "-", "rubricPrompt": rubric});
            assertions::parse(&probe, path).map_err(|e| match e {
                EvalError::Suite { message, .. } => err(format!("{path}.rubricPrompt"), message),
                other => other,
            })?;
            t.rubric_prompt = Some(rubric.clone());
        }
        Ok(())
    }

    fn scenarios(&self, v: &Value) -> Result<Vec<RawTest>, EvalError> {
        let Some(list) = v.as_array() else {
            return Err(err("scenarios", "must be a list"));
        };
        let mut out = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let p = format!("scenarios[{i}]");
            let loaded;
            let s = match s {
                Value::String(f) if f.starts_with("file://") => {
                    let (_, text) = self.read(f, &p)?;
                    loaded = serde_norway::from_str::<Value>(&text)
                        .map_err(|e| err(p.as_str(), yaml_error(&e)))?;
                    &loaded
                }
                other => other,
            };
            let Some(o) = s.as_object() else {
                return Err(err(p.as_str(), "must be a mapping (config, tests)"));
            };
            coverage::check_keys(o, "scenarios[]", &p)?;
            let configs = match o.get("config") {
                Some(Value::Array(c)) => c
                    .iter()
                    .enumerate()
                    .map(|(j, c)| self.test(c, &format!("{p}.config[{j}]"), "scenarios[].config[]"))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(err(format!("{p}.config"), "must be a list of {vars}")),
            };
            let tests = match o.get("tests") {
                Some(t) => self.tests(t, &format!("{p}.tests"), "scenarios[].tests")?,
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

    /// A `file://` var with wildcards becomes the list of the files it matches, so the test
    /// runs once per file (promptfoo's var expansion).
    fn glob_vars(
        &self,
        vars: &Map<String, Value>,
        path: &str,
    ) -> Result<Map<String, Value>, EvalError> {
        let mut out = vars.clone();
        for (k, v) in &mut out {
            if let Value::String(s) = v
                && s.starts_with("file://")
                && crate::glob::is_glob(s)
            {
                let files = self.files(s, &format!("{}vars.{k}", prefix(path)))?;
                *v = Value::Array(files.into_iter().map(Value::String).collect());
            }
        }
        Ok(out)
    }

    /// `file://` var values are replaced by the file, as promptfoo reads them: text trimmed,
    /// YAML as JSON; a Python file is run per case (`get_var`); other code (`.js`) and PDFs are refused.
    fn load_vars(
        &self,
        mut vars: Map<String, Value>,
        path: &str,
    ) -> Result<Map<String, Value>, EvalError> {
        for (k, v) in &mut vars {
            if let Value::String(s) = v
                && s.starts_with("file://")
            {
                let at = format!("{}vars.{k}", prefix(path));
                // A Python file is run per case (`get_var`), not read as text.
                if let Some(reference) = crate::python::code::load_var(s, &self.dir, &at)? {
                    *v = reference;
                    continue;
                }
                let ext = extension(Path::new(s.trim_start_matches("file://")));
                let code = s
                    .trim_start_matches("file://")
                    .rsplit_once(':')
                    .map_or(ext.clone(), |(f, _)| extension(Path::new(f)));
                if CODE_EXTENSIONS.contains(&ext.as_str())
                    || CODE_EXTENSIONS.contains(&code.as_str())
                {
                    return Err(err(
                        at,
                        format!(
                            "`{s}` is code that computes the var: seam eval does not run var scripts (yet)"
                        ),
                    ));
                }
                if ext == "pdf" {
                    return Err(err(
                        at,
                        format!("`{s}`: reading text from PDFs is not supported"),
                    ));
                }
                let (_, text) = self.read(s, &at)?;
                *v = Value::String(if ext == "yaml" || ext == "yml" {
                    let parsed: Value = serde_norway::from_str(&text)
                        .map_err(|e| err(at.as_str(), yaml_error(&e)))?;
                    parsed.to_string()
                } else {
                    text.trim().to_owned()
                });
            }
        }
        Ok(vars)
    }
}

/// `path` followed by a dot, or nothing for an empty path.
fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

/// A hint only: whether the chat-ness of a prompt shows before rendering. What is sent is
/// decided after rendering ([`crate::template::chat_messages`]).
fn looks_like_chat(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with('[') && t.contains("\"role\"")) || t.starts_with("- role:")
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
        "fn" | "javascript" | "eval" => "javascript".to_owned(),
        "python" => "python".to_owned(),
        "ruby" => {
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
        let mut t = RawTest {
            path: p.clone(),
            ..RawTest::default()
        };
        for (h, cell) in headers.iter().zip(row.iter()) {
            if h.starts_with("__expected") {
                if !cell.trim().is_empty() {
                    let at = format!("{p}.{h}");
                    t.asserts.push(expected(cell, &at)?);
                    t.assert_paths.push(at);
                }
            } else if h == "__metadata" || h.starts_with("__metadata:") {
                // promptfoo's test metadata: labels for its viewer, no effect on a run.
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
