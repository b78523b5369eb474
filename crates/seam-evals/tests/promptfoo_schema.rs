//! promptfoo's published config schema, read as data (tests/data/promptfoo/config-schema.json,
//! see the README beside it): every key path it knows must be implemented, ignored or refused by
//! `seam_evals::coverage`, and every path the table names must be in the schema (else it is a
//! typo) unless it is marked as a Seam-only extension. The same for assertion types. Also keeps
//! the "What is supported" section of docs/evals.md equal to the table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use seam_evals::coverage;
use serde_json::Value;

/// Deeper than any real path; the schema is recursive in places (assert-set members, nested
/// tests), and a `$ref` already being walked is not entered again.
const MAX_DEPTH: usize = 40;

struct Walk<'a> {
    definitions: &'a serde_json::Map<String, Value>,
    paths: BTreeSet<String>,
    assertion_types: BTreeSet<String>,
}

impl Walk<'_> {
    fn node(&mut self, node: &Value, path: &str, refs: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Some(o) = node.as_object() else { return };
        if let Some(Value::String(r)) = o.get("$ref") {
            let name = r.rsplit('/').next().unwrap().to_owned();
            if !refs.contains(&name) {
                let target = self
                    .definitions
                    .get(&name)
                    .unwrap_or_else(|| panic!("unresolved $ref {r}"));
                refs.push(name);
                self.node(target, path, refs, depth + 1);
                refs.pop();
            }
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            for branch in o.get(k).and_then(Value::as_array).into_iter().flatten() {
                self.node(branch, path, refs, depth + 1);
            }
        }
        if let Some(items) = o.get("items") {
            self.node(items, &format!("{path}[]"), refs, depth + 1);
        }
        if let Some(Value::Object(props)) = o.get("properties") {
            for (k, v) in props {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                self.paths.insert(p.clone());
                self.node(v, &p, refs, depth + 1);
            }
        }
        if let Some(extra @ Value::Object(_)) = o.get("additionalProperties") {
            self.node(extra, &format!("{path}.*"), refs, depth + 1);
        }
        if path.ends_with("assert[].type") {
            let values = o
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for t in values.chain(o.get("const")).filter_map(Value::as_str) {
                self.assertion_types.insert(t.to_owned());
            }
        }
    }
}

fn schema() -> (BTreeSet<String>, BTreeSet<String>) {
    let text = include_str!("data/promptfoo/config-schema.json");
    let root: Value = serde_json::from_str(text).unwrap();
    let definitions = root["definitions"].as_object().unwrap();
    let mut w = Walk {
        definitions,
        paths: BTreeSet::new(),
        assertion_types: BTreeSet::new(),
    };
    w.node(
        &root["definitions"]["PromptfooConfigSchema"],
        "",
        &mut vec!["PromptfooConfigSchema".to_owned()],
        0,
    );
    (w.paths, w.assertion_types)
}

#[test]
fn every_key_of_promptfoos_schema_is_implemented_ignored_or_refused() {
    let (paths, _) = schema();
    assert!(
        paths.len() > 1000,
        "the walk found only {} paths",
        paths.len()
    );
    for p in [
        "tests[].options.transform",
        "providers[].delay",
        "evaluateOptions.maxConcurrency",
    ] {
        assert!(paths.contains(p), "{p} is not in the schema's paths");
    }
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| coverage::support(p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} schema paths are neither implemented nor refused in seam_evals::coverage:\n{}",
        missing.len(),
        missing
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_entry_of_the_table_is_in_promptfoos_schema() {
    let (paths, _) = schema();
    let typos: Vec<&str> = coverage::entries()
        .iter()
        .filter(|e| !e.seam_only && !paths.contains(&e.path))
        // `providers[].*` is promptfoo's {id: options} map, whose keys the walk names beneath it.
        .filter(|e| !paths.iter().any(|p| p.starts_with(&format!("{}.", e.path))))
        .map(|e| e.path.as_str())
        .collect();
    assert!(
        typos.is_empty(),
        "table entries that promptfoo's schema does not have (typos, or mark them seam_only):\n{}",
        typos.join("\n")
    );
}

#[test]
fn every_assertion_type_is_supported_or_refused_and_none_is_invented() {
    let (_, types) = schema();
    assert!(
        types.contains("llm-rubric") && types.contains("assert-set"),
        "{types:?}"
    );
    let refused: BTreeSet<&str> = coverage::REFUSED_ASSERTIONS
        .iter()
        .map(|(t, _)| *t)
        .collect();
    let neither: Vec<&String> = types
        .iter()
        .filter(|t| {
            !seam_evals::assertions::SUPPORTED.contains(&t.as_str())
                && !refused.contains(t.as_str())
        })
        .collect();
    assert!(
        neither.is_empty(),
        "types neither supported nor refused: {neither:?}"
    );
    let unknown: Vec<&&str> = refused.iter().filter(|t| !types.contains(**t)).collect();
    assert!(
        unknown.is_empty(),
        "refused types promptfoo does not have: {unknown:?}"
    );
}

#[test]
fn the_docs_list_what_the_table_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/evals.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (start, end) = ("<!-- coverage:start -->\n", "<!-- coverage:end -->");
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        panic!("docs/evals.md has no {start:?} … {end:?} block");
    };
    let want = coverage::markdown();
    if doc[a + start.len()..b] != want {
        if std::env::var_os("SEAM_BLESS").is_some() {
            let fixed = format!("{}{start}{want}{}", &doc[..a], &doc[b..]);
            std::fs::write(path, fixed).unwrap();
            return;
        }
        panic!(
            "docs/evals.md's \"What is supported\" differs from seam_evals::coverage; rerun this test with SEAM_BLESS=1 to rewrite it"
        );
    }
}
