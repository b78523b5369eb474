//! What `seam eval` does with every key of promptfoo's config schema: [`Support::Implemented`]
//! with promptfoo's semantics, [`Support::Ignored`] where the key has no effect a run could show
//! (the reason says why that is faithful), or [`Support::Refused`] up front with the reason and
//! what to do instead. A key the table does not know is refused too. The loader consults
//! [`check_keys`] at every mapping it reads, so a suite never half-runs and never silently
//! differs from promptfoo; `tests/promptfoo_schema.rs` walks promptfoo's published JSON schema
//! and fails on any key path this table neither implements nor refuses.
//!
//! Paths: `a.b` is key `b` of mapping `a`; `[]` is any item of a list (`tests[].assert[].value`);
//! `*` is any key of a mapping whose keys are free-form (`providers[].*`, promptfoo's
//! `{id: options}` form). An entry marked as a tree (free-form maps such as `vars`, a provider's
//! `config`, `metadata`, or a whole refused section such as `redteam`) covers every path under it.
//!
//! To change what is supported, edit the group the key belongs to below (a test's keys are one
//! group, mounted at `tests[]`, `defaultTest`, `scenarios[].config[]` and `scenarios[].tests[]`),
//! then regenerate the "What is supported" section of docs/evals.md (see [`markdown`]).

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::EvalError;

/// What Seam does with one promptfoo key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Read and honoured with promptfoo's semantics.
    Implemented,
    /// Accepted and without effect: it only changes what promptfoo shows or stores elsewhere
    /// (its viewer, its database), never a case, a verdict or a report. The reason says so.
    Ignored(&'static str),
    /// Refused before anything runs: why, and what to do instead.
    Refused(&'static str),
}

/// One key of a group: its name, what Seam does with it, whether it covers everything beneath
/// it (a free-form map or a wholly refused section), and whether promptfoo's schema lacks it (a
/// Seam-only extension, exempt from the schema test's converse check).
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub name: &'static str,
    pub support: Support,
    pub tree: bool,
    pub seam_only: bool,
}

const fn key(name: &'static str, support: Support) -> Key {
    Key {
        name,
        support,
        tree: false,
        seam_only: false,
    }
}

const fn tree(name: &'static str, support: Support) -> Key {
    Key {
        name,
        support,
        tree: true,
        seam_only: false,
    }
}

const fn seam_only(name: &'static str, support: Support) -> Key {
    Key {
        name,
        support,
        tree: false,
        seam_only: true,
    }
}

use Support::{Ignored, Implemented, Refused};

const CODE: &str = "runs code in a form seam eval does not support (JavaScript and Python run as inline code or file:// scripts: see docs/evals.md)";

/// The top level of a suite.
pub const TOP: &[Key] = &[
    key("description", Implemented),
    key("prompts", Implemented),
    key("providers", Implemented),
    key("targets", Implemented),
    key("tests", Implemented),
    key("scenarios", Implemented),
    key("defaultTest", Implemented),
    key("evaluateOptions", Implemented),
    // Seam's own: promptfoo ids mapped to others (`x-seam: {providers: {ID: ID}}`).
    Key {
        name: "x-seam",
        support: Implemented,
        tree: true,
        seam_only: true,
    },
    key(
        "outputPath",
        Refused(
            "seam eval writes its own report formats: pass -o FILE (.json, .junit.xml, .html, .md) instead",
        ),
    ),
    tree(
        "sharing",
        Ignored("uploads results to promptfoo's cloud; seam eval never uploads anything"),
    ),
    key(
        "writeLatestResults",
        Ignored("stores results in promptfoo's local database; seam eval writes only -o reports"),
    ),
    tree(
        "tags",
        Ignored("labels the eval in promptfoo's viewer and database"),
    ),
    tree(
        "metadata",
        Ignored("labels the eval in promptfoo's viewer and database"),
    ),
    tree(
        "nunjucksFilters",
        Refused("custom Nunjucks filters are JavaScript files; seam eval has no custom filters"),
    ),
    tree(
        "env",
        Refused("set these variables in the environment seam eval runs in instead"),
    ),
    tree(
        "derivedMetrics",
        Refused("compute derived metrics from the JSON report's named_scores instead"),
    ),
    tree(
        "extensions",
        Refused("extension hooks run JavaScript or Python, which seam eval does not"),
    ),
    tree(
        "redteam",
        Refused(
            "red-team generation is not part of seam eval: use `seam redteam` (docs/redteam.md)",
        ),
    ),
    tree(
        "tracing",
        Refused("seam eval collects no OpenTelemetry traces"),
    ),
    tree(
        "commandLineOptions",
        Refused("pass the options as seam eval flags instead (seam eval --help)"),
    ),
];

/// A prompt given as a mapping (`prompts[]`).
pub const PROMPT: &[Key] = &[
    key("id", Implemented),
    key("raw", Implemented),
    key("label", Implemented),
    key(
        "template",
        Refused("give the prompt's text as `raw` (or `id: file://…`)"),
    ),
    key("display", Refused("name the prompt with `label` instead")),
    tree("function", Refused(CODE)),
    tree(
        "config",
        Refused("put the settings in the provider's config instead"),
    ),
];

/// A provider given as a mapping (`providers[]`, `targets[]`).
pub const PROVIDER: &[Key] = &[
    key("id", Implemented),
    key("label", Implemented),
    tree("config", Implemented),
    key("prompts", Implemented),
    key("transform", Implemented),
    key(
        "delay",
        Refused("seam eval has no per-provider delay: lower --max-concurrency instead"),
    ),
    tree(
        "env",
        Refused("set these variables in the environment seam eval runs in instead"),
    ),
    tree(
        "inputs",
        Refused("provider inputs describe red-team targets, which seam eval does not generate"),
    ),
    tree(
        "*",
        Refused("write {id: ID, config: …} instead of the {ID: options} form"),
    ),
];

/// A scenario (`scenarios[]`).
pub const SCENARIO: &[Key] = &[
    key("config", Implemented),
    key("tests", Implemented),
    key(
        "description",
        Ignored("names the scenario in promptfoo's viewer only"),
    ),
];

/// A test (and `defaultTest`, a scenario's `config` entries and `tests`).
pub const TEST: &[Key] = &[
    key("description", Implemented),
    tree("vars", Implemented),
    key("assert", Implemented),
    key("threshold", Implemented),
    key("options", Implemented),
    tree(
        "metadata",
        Ignored("labels the test in promptfoo's viewer and filters (--filter-metadata)"),
    ),
    tree(
        "provider",
        Refused("list the provider under `providers` instead (a grader goes in options.provider)"),
    ),
    key(
        "providers",
        Refused(
            "seam eval has no per-test provider filter: split the suite or use --filter-providers",
        ),
    ),
    key(
        "prompts",
        Refused(
            "seam eval has no per-test prompt filter: split the suite, or use a provider's `prompts`",
        ),
    ),
    tree(
        "providerOutput",
        Refused("seam eval always asks the provider; it takes no fixed output"),
    ),
    key("assertScoringFunction", Refused(CODE)),
];

/// Keys of promptfoo's test generators (`tests: {path, config}`), only where the schema has them.
pub const TEST_GENERATOR: &[Key] = &[
    key(
        "path",
        Refused(
            "seam eval runs no test generators: list the tests inline or in a file:// CSV, JSON, JSONL or YAML",
        ),
    ),
    tree(
        "config",
        Refused(
            "seam eval runs no test generators: list the tests inline or in a file:// CSV, JSON, JSONL or YAML",
        ),
    ),
];

/// A test's `options`.
pub const TEST_OPTIONS: &[Key] = &[
    tree("provider", Implemented),
    tree("rubricPrompt", Implemented),
    key("disableVarExpansion", Implemented),
    key("disableDefaultAsserts", Implemented),
    key(
        "disableConversationVar",
        Ignored(
            "seam eval never sets the `_conversation` variable, which this option turns off (a prompt that reads it is refused)",
        ),
    ),
    key("transform", Implemented),
    key("postprocess", Implemented),
    key(
        "transformVars",
        Refused(
            "seam eval does not transform vars before rendering: compute them in the suite or a file:// var instead",
        ),
    ),
    key("storeOutputAs", Implemented),
    key("prefix", Refused("put the text in the prompt instead")),
    key("suffix", Refused("put the text in the prompt instead")),
    tree(
        "factuality",
        Refused("seam eval's factuality scores 1 or 0; custom category scores are not read"),
    ),
    key(
        "runSerially",
        Refused("run the suite with --max-concurrency 1 instead"),
    ),
];

/// An assertion (`assert[]`); an `assert-set`'s members take the same keys but `assert`.
pub const ASSERTION: &[Key] = &[
    key("type", Implemented),
    tree("value", Implemented),
    key("threshold", Implemented),
    key("weight", Implemented),
    key("metric", Implemented),
    tree("provider", Implemented),
    tree("rubricPrompt", Implemented),
    key("assert", Implemented),
    seam_only(
        "description",
        Ignored("a note for readers of the suite; reports name the assertion by type and value"),
    ),
    key("transform", Implemented),
    key("contextTransform", Refused(CODE)),
    tree(
        "config",
        Refused("seam eval reads no assertion-level config"),
    ),
];

/// `evaluateOptions`.
pub const EVALUATE_OPTIONS: &[Key] = &[
    key("maxConcurrency", Implemented),
    key("repeat", Implemented),
    key("cache", Implemented),
    key(
        "showProgressBar",
        Ignored("seam eval shows a progress bar whenever stderr is a terminal"),
    ),
    key("silent", Ignored("only changes promptfoo's console output")),
    key(
        "delay",
        Refused("seam eval has no delay between requests: lower --max-concurrency instead"),
    ),
    key(
        "timeoutMs",
        Refused("use --timeout-s (per request) instead"),
    ),
    key(
        "maxEvalTimeMs",
        Refused("use your CI's job timeout instead"),
    ),
    key(
        "generateSuggestions",
        Refused("seam eval generates no prompt suggestions"),
    ),
    key(
        "suggestionsCount",
        Refused("seam eval generates no prompt suggestions"),
    ),
    key(
        "interactiveProviders",
        Refused("seam eval runs without interaction"),
    ),
    tree(
        "progressCallback",
        Refused("a JavaScript callback; only promptfoo's Node API takes it"),
    ),
    key(
        "isRedteam",
        Refused("red-team runs are `seam redteam`'s (docs/redteam.md)"),
    ),
    key(
        "filterRange",
        Refused("split the tests or use --filter-providers instead"),
    ),
];

/// Where each test-shaped group is mounted.
pub const TEST_MOUNTS: &[&str] = &[
    "tests[]",
    "defaultTest",
    "scenarios[].config[]",
    "scenarios[].tests[]",
];

/// One key path of the table.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: String,
    pub support: Support,
    pub tree: bool,
    pub seam_only: bool,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn mount(out: &mut Vec<Entry>, prefix: &str, keys: &[Key], except: &[&str]) {
    for k in keys.iter().filter(|k| !except.contains(&k.name)) {
        out.push(Entry {
            path: join(prefix, k.name),
            support: k.support,
            tree: k.tree,
            seam_only: k.seam_only,
        });
    }
}

fn build() -> Vec<Entry> {
    let mut out = Vec::new();
    mount(&mut out, "", TOP, &[]);
    mount(&mut out, "prompts[]", PROMPT, &[]);
    for p in ["providers[]", "targets[]"] {
        mount(&mut out, p, PROVIDER, &[]);
    }
    mount(&mut out, "evaluateOptions", EVALUATE_OPTIONS, &[]);
    mount(&mut out, "scenarios[]", SCENARIO, &[]);
    mount(&mut out, "tests", TEST_GENERATOR, &[]);
    mount(&mut out, "tests[]", TEST_GENERATOR, &[]);
    for m in TEST_MOUNTS {
        // promptfoo's defaultTest has no description.
        let except: &[&str] = if *m == "defaultTest" {
            &["description"]
        } else {
            &[]
        };
        mount(&mut out, m, TEST, except);
        mount(&mut out, &format!("{m}.options"), TEST_OPTIONS, &[]);
        mount(&mut out, &format!("{m}.assert[]"), ASSERTION, &[]);
        mount(
            &mut out,
            &format!("{m}.assert[].assert[]"),
            ASSERTION,
            &["assert"],
        );
    }
    out
}

/// Every key path the table knows.
pub fn entries() -> &'static [Entry] {
    static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// What Seam does with the key at `path` (schema syntax, see the module doc): its own entry, or
/// the tree entry above it; `None` when the table does not know it.
pub fn support(path: &str) -> Option<Support> {
    let table = entries();
    if let Some(e) = table.iter().find(|e| e.path == path) {
        return Some(e.support);
    }
    table
        .iter()
        .filter(|e| e.tree && under(path, &e.path))
        .max_by_key(|e| e.path.len())
        .map(|e| e.support)
}

/// `path` is strictly beneath `root`.
fn under(path: &str, root: &str) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
}

/// Checks every key of `obj`, a mapping at `path` in the suite (as the user would find it:
/// `tests[2].options`) whose place in promptfoo's schema is `schema` (`tests[].options`).
///
/// # Errors
/// [`EvalError::Suite`] at the first key that is refused (with the reason) or unknown.
pub fn check_keys(obj: &Map<String, Value>, schema: &str, path: &str) -> Result<(), EvalError> {
    for k in obj.keys() {
        check_key(k, schema, path)?;
    }
    Ok(())
}

/// Checks one key (see [`check_keys`]).
///
/// # Errors
/// As [`check_keys`].
pub fn check_key(k: &str, schema: &str, path: &str) -> Result<(), EvalError> {
    let at = join(path, k);
    match support(&join(schema, k)) {
        Some(Implemented | Ignored(_)) => Ok(()),
        Some(Refused(reason)) => Err(EvalError::suite(at, format!("is not supported: {reason}"))),
        None => Err(EvalError::suite(
            at,
            "is not a key promptfoo's config schema has here (a typo?); see \"What is supported\" in docs/evals.md",
        )),
    }
}

/// promptfoo's assertion types that Seam refuses, each with why (every other type in
/// promptfoo's schema is one of [`crate::assertions::SUPPORTED`]).
pub const REFUSED_ASSERTIONS: &[(&str, &str)] = &[
    ("ruby", CODE),
    (
        "webhook",
        "sends outputs to a webhook to grade, which seam eval does not",
    ),
    (
        "classifier",
        "needs a HuggingFace classifier, which seam eval does not call",
    ),
    (
        "moderation",
        "needs a moderation API, which seam eval does not call",
    ),
    (
        "pi",
        "needs Pi Labs' scoring API, which seam eval does not call",
    ),
    (
        "guardrails",
        "reads provider guardrail results, which seam eval does not receive",
    ),
    (
        "is-refusal",
        "use llm-rubric (\"refuses the request\") instead",
    ),
    ("contains-html", "not implemented yet: use regex"),
    ("is-html", "not implemented yet: use regex"),
    (
        "contains-sql",
        "not implemented yet: use regex or llm-rubric",
    ),
    ("is-sql", "not implemented yet: use regex or llm-rubric"),
    ("contains-xml", "not implemented yet: use regex"),
    ("is-xml", "not implemented yet: use regex"),
    (
        "is-valid-function-call",
        "legacy function calls: use is-valid-openai-tools-call instead",
    ),
    (
        "is-valid-openai-function-call",
        "legacy function calls: use is-valid-openai-tools-call instead",
    ),
    (
        "model-graded-factuality",
        "write `factuality` (the same assertion)",
    ),
    ("similar:cosine", "write `similar` (cosine similarity)"),
    ("similar:dot", "use similar (cosine) instead"),
    ("similar:euclidean", "use similar (cosine) instead"),
    (
        "context-recall",
        "not implemented yet: use context-faithfulness or llm-rubric",
    ),
    ("context-relevance", "not implemented yet: use llm-rubric"),
    (
        "conversation-relevance",
        "not implemented yet: use llm-rubric",
    ),
    ("g-eval", "not implemented yet: use llm-rubric"),
    (
        "search-rubric",
        "needs a web-search grader, which seam eval does not have",
    ),
    ("gleu", "not implemented yet: use bleu or rouge-n"),
    ("meteor", "not implemented yet: use bleu or rouge-n"),
    (
        "perplexity",
        "needs token log-probabilities, which seam eval does not read",
    ),
    (
        "perplexity-score",
        "needs token log-probabilities, which seam eval does not read",
    ),
    (
        "tool-call-f1",
        "not implemented yet: use is-valid-openai-tools-call or contains-json",
    ),
    ("skill-used", "seam eval reads no agent traces"),
    (
        "trajectory:goal-success",
        "seam eval reads no agent trajectories",
    ),
    (
        "trajectory:tool-args-match",
        "seam eval reads no agent trajectories",
    ),
    (
        "trajectory:step-count",
        "seam eval reads no agent trajectories",
    ),
    (
        "trajectory:tool-sequence",
        "seam eval reads no agent trajectories",
    ),
    (
        "trajectory:tool-used",
        "seam eval reads no agent trajectories",
    ),
    ("trace-error-spans", "traces are not collected during evals"),
    ("trace-span-count", "traces are not collected during evals"),
    (
        "trace-span-duration",
        "traces are not collected during evals",
    ),
    (
        "select-best",
        "seam eval does not grade outputs against each other",
    ),
    (
        "max-score",
        "seam eval does not grade outputs against each other",
    ),
    ("human", "seam eval has no human grading"),
];

/// Checks an assertion's keys and type before [`crate::assertions::parse`] reads it, and an
/// `assert-set`'s members likewise: `schema` is the assertion's schema path
/// (`tests[].assert[]`), `path` where it is.
///
/// # Errors
/// [`EvalError::Suite`] for a refused or unknown key or a refused type.
pub fn check_assertion(v: &Value, schema: &str, path: &str) -> Result<(), EvalError> {
    let Some(o) = v.as_object() else {
        return Ok(()); // parse reports the shape
    };
    check_keys(o, schema, path)?;
    if let Some(Value::String(ty)) = o.get("type") {
        let bare = ty.strip_prefix("not-").unwrap_or(ty);
        if let Some((_, reason)) = REFUSED_ASSERTIONS.iter().find(|(t, _)| *t == bare) {
            return Err(EvalError::suite(
                format!("{path}.type"),
                format!("`{ty}` is not supported: {reason}"),
            ));
        }
    }
    if let Some(Value::Array(members)) = o.get("assert") {
        for (i, m) in members.iter().enumerate() {
            check_assertion(
                m,
                &format!("{schema}.assert[]"),
                &format!("{path}.assert[{i}]"),
            )?;
        }
    }
    Ok(())
}

/// The "What is supported" section of docs/evals.md, generated from the table: one list per
/// group of what is refused or ignored (everything else is implemented), then the refused
/// assertion types. A test keeps the document equal to it.
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str(
        "Every key of promptfoo's config schema is implemented, ignored (it only changes what promptfoo shows or stores elsewhere) or refused before anything runs, with the reason below. A key promptfoo does not know is refused too.\n",
    );
    let groups: &[(&str, &[Key])] = &[
        ("the suite (top level)", TOP),
        ("a prompt (`prompts[]`)", PROMPT),
        ("a provider (`providers[]`, `targets[]`)", PROVIDER),
        ("`evaluateOptions`", EVALUATE_OPTIONS),
        ("a scenario (`scenarios[]`)", SCENARIO),
        (
            "a test (`tests[]`, `defaultTest`, `scenarios[].config[]`, `scenarios[].tests[]`)",
            TEST,
        ),
        ("a test generator (`tests`, `tests[]`)", TEST_GENERATOR),
        ("a test's `options`", TEST_OPTIONS),
        (
            "an assertion (`assert[]`, an assert-set's `assert[]`)",
            ASSERTION,
        ),
    ];
    for (title, keys) in groups {
        s.push_str(&format!("\nIn {title}:\n\n"));
        for k in *keys {
            let name = if k.name == "*" {
                "`{ID: options}`".to_owned()
            } else {
                format!("`{}`", k.name)
            };
            match k.support {
                Implemented => s.push_str(&format!("- {name}: implemented\n")),
                Ignored(r) => s.push_str(&format!("- {name}: ignored — {r}\n")),
                Refused(r) => s.push_str(&format!("- {name}: **refused** — {r}\n")),
            }
        }
    }
    s.push_str("\nRefused assertion types:\n\n");
    for (t, r) in REFUSED_ASSERTIONS {
        s.push_str(&format!("- `{t}`: {r}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_resolve_to_their_entry_or_the_tree_above() {
        let cases: &[(&str, Option<Support>)] = &[
            ("prompts", Some(Implemented)),
            ("tests[].options.transform", Some(Implemented)),
            ("defaultTest.assert[].contextTransform", Some(Refused(CODE))),
            (
                "scenarios[].tests[].assert[].assert[].value",
                Some(Implemented),
            ),
            ("evaluateOptions.maxConcurrency", Some(Implemented)),
            // Beneath a free-form map or a refused section.
            ("tests[].vars.anything", Some(Implemented)),
            ("providers[].config.temperature", Some(Implemented)),
            ("redteam.plugins[].id", support("redteam")),
            ("providers[].*.config", support("providers[].*")),
            // Not a tree: nothing beneath it is known.
            ("tests[].threshold.x", None),
            ("defaultTest.description", None),
            ("tests[].assert[].assert[].assert", None),
            ("bogus", None),
        ];
        for (path, want) in cases {
            assert_eq!(support(path), *want, "{path}");
        }
    }

    #[test]
    fn every_path_is_in_the_table_once() {
        let mut seen = std::collections::BTreeSet::new();
        for e in entries() {
            assert!(seen.insert(e.path.as_str()), "{} twice", e.path);
            if let Refused(r) | Ignored(r) = e.support {
                assert!(!r.is_empty() && !r.ends_with('.'), "{}: {r}", e.path);
            }
        }
    }

    #[test]
    fn refused_and_unknown_keys_are_errors_naming_their_path() {
        let o = json!({"vars": {}, "options": {}})
            .as_object()
            .unwrap()
            .clone();
        assert!(check_keys(&o, "tests[]", "tests[0]").is_ok());
        let e = check_key("assertScoringFunction", "tests[]", "tests[3]").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("tests[3].assertScoringFunction: is not supported: {CODE}")
        );
        let e = check_key("varz", "tests[]", "tests[1]").unwrap_err();
        assert!(
            e.to_string().starts_with("tests[1].varz: is not a key"),
            "{e}"
        );
        let e = check_assertion(
            &json!({"type": "assert-set", "assert": [{"type": "not-ruby", "value": "x"}]}),
            "tests[].assert[]",
            "tests[0].assert[2]",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("tests[0].assert[2].assert[0].type: `not-ruby` is not supported"),
            "{e}"
        );
    }

    #[test]
    fn refused_types_are_not_supported_types() {
        for (t, _) in REFUSED_ASSERTIONS {
            assert!(!crate::assertions::SUPPORTED.contains(t), "{t}");
        }
    }
}
