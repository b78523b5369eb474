//! Free text inside JSON that Seam does not model: unknown fields (`extra` maps at every level),
//! `metadata`, JSON Schemas of tools and `response_format`, `logprobs`.
//!
//! The walkers are copy-on-write: they read a value and return its replacement only when a string
//! in it changed, so a request with nothing to act on allocates nothing. Which strings are text
//! and which are structure:
//! - every string value is text, except under the keys in [`STRUCTURE`] (ids, `type`, `role`…)
//!   and binary payloads (`data:…;base64,` URLs, long runs of the base64 alphabet);
//! - an object key is structure when it reads as a name ([`is_name`]: letters, `_`, `-`, `$`,
//!   at most three digits); any other key (`ada@example.com`, `4111…`) is text;
//! - in a JSON Schema, property names, `type`, `format`, `pattern`, `$ref`, `required` are
//!   structure; `description`, `title`, `enum`, `const`, `default`, `examples` and unknown
//!   keywords are text.
//!
//! Locations name keys only when they are names, so a record's location never carries a value.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Called with a text and its location; returns the replacement when the policy changed it.
pub(crate) type Text<'a> = dyn FnMut(&str, &str) -> Option<String> + 'a;

/// Keys whose values are structure wherever they appear in free JSON.
pub(crate) const STRUCTURE: &[&str] = &[
    "type",
    "id",
    "object",
    "role",
    "index",
    "model",
    "tool_call_id",
    "tool_use_id",
    "call_id",
    "signature",
    "file_id",
    "format",
    "detail",
    "finish_reason",
];

/// JSON Schema keywords holding a map of property (or definition) names to schemas.
const SCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// JSON Schema keywords holding a schema or a list of schemas.
const SCHEMA_SUBS: &[&str] = &[
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "anyOf",
    "allOf",
    "oneOf",
    "prefixItems",
];

/// JSON Schema keywords that are structure.
const SCHEMA_STRUCTURE: &[&str] = &[
    "type",
    "format",
    "pattern",
    "required",
    "dependentRequired",
    "$ref",
    "$dynamicRef",
    "$schema",
    "$id",
    "$anchor",
    "contentEncoding",
    "contentMediaType",
];

/// The location of the value being walked, built in one buffer (`messages[2].content`).
#[derive(Default)]
pub(crate) struct At(String);

impl At {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends `.key` (or `key` at the root); returns the length to [`At::pop`] back to.
    pub(crate) fn key(&mut self, key: &str) -> usize {
        let n = self.0.len();
        if n > 0 {
            self.0.push('.');
        }
        self.0.push_str(key);
        n
    }

    /// Appends `[i]`.
    pub(crate) fn index(&mut self, i: usize) -> usize {
        let n = self.0.len();
        let _ = write!(self.0, "[{i}]");
        n
    }

    /// Appends the key of entry `i` of an object: `.key` when it is a name, else `[#i]`.
    fn entry(&mut self, key: &str, i: usize) -> usize {
        if is_name(key) {
            self.key(key)
        } else {
            let n = self.0.len();
            let _ = write!(self.0, "[#{i}]");
            n
        }
    }

    pub(crate) fn pop(&mut self, n: usize) {
        self.0.truncate(n);
    }
}

/// Whether an object key reads as a field name (structure) rather than a value.
pub(crate) fn is_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$'))
        && key.bytes().filter(u8::is_ascii_digit).count() <= 3
}

/// Whether a string in free JSON is a binary payload rather than text: a base64 `data:` URL, or a
/// long run of the base64 alphabet with letters and digits (audio, files). Scanning those costs
/// time and finds nothing to act on. Typed text fields (message content…) are always scanned.
pub(crate) fn is_binary(s: &str) -> bool {
    let b = s.as_bytes();
    if b.starts_with(b"data:") {
        return b[..b.len().min(256)].windows(8).any(|w| w == b";base64,");
    }
    b.len() >= 256
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// One text field.
pub(crate) fn text(s: &str, at: &At, f: &mut Text<'_>) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    f(s, at.as_str())
}

/// One string of free JSON (or a URL), unless it is binary.
pub(crate) fn free_text(s: &str, at: &At, f: &mut Text<'_>) -> Option<String> {
    if is_binary(s) {
        return None;
    }
    text(s, at, f)
}

/// Free JSON: every string that is text (see the module doc).
pub(crate) fn free(v: &Value, at: &mut At, f: &mut Text<'_>) -> Option<Value> {
    match v {
        Value::String(s) => free_text(s, at, f).map(Value::String),
        Value::Array(a) => array(a, at, f, free).map(Value::Array),
        Value::Object(o) => map(o, at, f, &[]).map(Value::Object),
        _ => None,
    }
}

/// Each element of a list through `each`.
fn array(
    a: &[Value],
    at: &mut At,
    f: &mut Text<'_>,
    each: fn(&Value, &mut At, &mut Text<'_>) -> Option<Value>,
) -> Option<Vec<Value>> {
    let mut out: Option<Vec<Value>> = None;
    for (i, x) in a.iter().enumerate() {
        let n = at.index(i);
        let new = each(x, at, f);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| a.to_vec())[i] = new;
        }
    }
    out
}

/// A free object (an `extra` map): values as free JSON, keys that are not names as text; the
/// keys in `skip` are left alone (their caller handles them).
pub(crate) fn map(
    o: &Map<String, Value>,
    at: &mut At,
    f: &mut Text<'_>,
    skip: &[&str],
) -> Option<Map<String, Value>> {
    let mut edits: Vec<(usize, Option<String>, Option<Value>)> = Vec::new();
    for (i, (k, v)) in o.iter().enumerate() {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let n = at.entry(k, i);
        let key = if is_name(k) { None } else { text(k, at, f) };
        let value = if STRUCTURE.contains(&k.as_str()) {
            None
        } else {
            free(v, at, f)
        };
        at.pop(n);
        if key.is_some() || value.is_some() {
            edits.push((i, key, value));
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut edits = edits.into_iter().peekable();
    let mut out = Map::new();
    for (i, (k, v)) in o.iter().enumerate() {
        match edits.next_if(|e| e.0 == i) {
            Some((_, key, value)) => {
                out.insert(
                    key.unwrap_or_else(|| k.clone()),
                    value.unwrap_or_else(|| v.clone()),
                );
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Some(out)
}

/// Replaces `m` with its walked form when anything in it changed.
pub(crate) fn map_in_place(
    m: &mut Map<String, Value>,
    at: &mut At,
    f: &mut Text<'_>,
    skip: &[&str],
) {
    if m.is_empty() {
        return;
    }
    if let Some(new) = map(m, at, f, skip) {
        *m = new;
    }
}

/// Replaces `v` with its walked form (free JSON) when anything in it changed.
pub(crate) fn free_in_place(v: &mut Value, at: &mut At, f: &mut Text<'_>) {
    if let Some(new) = free(v, at, f) {
        *v = new;
    }
}

/// A JSON Schema: descriptions, titles, enums, defaults and examples are text; property names and
/// the structural keywords are not.
pub(crate) fn schema(v: &Value, at: &mut At, f: &mut Text<'_>) -> Option<Value> {
    match v {
        Value::Object(o) => values(o, at, f, |k, v, at, f| {
            if SCHEMA_MAPS.contains(&k) {
                match v {
                    Value::Object(props) => {
                        values(props, at, f, |_, v, at, f| schema(v, at, f)).map(Value::Object)
                    }
                    _ => None,
                }
            } else if SCHEMA_SUBS.contains(&k) {
                schema(v, at, f)
            } else if SCHEMA_STRUCTURE.contains(&k) {
                None
            } else {
                free(v, at, f)
            }
        })
        .map(Value::Object),
        Value::Array(a) => array(a, at, f, schema).map(Value::Array),
        _ => None,
    }
}

/// `response_format`: `json_schema.schema` is a schema, `json_schema.name` structure, the rest
/// free JSON.
pub(crate) fn response_format(v: &Value, at: &mut At, f: &mut Text<'_>) -> Option<Value> {
    let Value::Object(o) = v else {
        return None;
    };
    values(o, at, f, |k, v, at, f| match (k, v) {
        ("json_schema", Value::Object(js)) => values(js, at, f, |k, v, at, f| match k {
            "schema" => schema(v, at, f),
            "name" | "strict" => None,
            _ => free(v, at, f),
        })
        .map(Value::Object),
        _ if STRUCTURE.contains(&k) => None,
        _ => free(v, at, f),
    })
    .map(Value::Object)
}

/// An object whose keys are structure, each value through `each(key, value)`.
fn values(
    o: &Map<String, Value>,
    at: &mut At,
    f: &mut Text<'_>,
    each: impl Fn(&str, &Value, &mut At, &mut Text<'_>) -> Option<Value>,
) -> Option<Map<String, Value>> {
    let mut out: Option<Map<String, Value>> = None;
    for (i, (k, v)) in o.iter().enumerate() {
        let n = at.entry(k, i);
        let new = each(k, v, at, f);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| o.clone()).insert(k.clone(), new);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Upper-cases every text it is given and records where.
    fn walk(
        v: &Value,
        how: fn(&Value, &mut At, &mut Text<'_>) -> Option<Value>,
    ) -> (Option<Value>, Vec<String>) {
        let mut seen = Vec::new();
        let mut f = |s: &str, at: &str| {
            seen.push(at.to_owned());
            Some(s.to_uppercase())
        };
        let mut at = At::default();
        let out = how(v, &mut at, &mut f);
        assert_eq!(at.as_str(), "", "the location is popped back");
        (out, seen)
    }

    #[test]
    fn free_json_text_and_structure() {
        let v = json!({
            "note": "ada",
            "type": "keep",
            "nested": [{"id": "keep", "x": "bob"}, 3, true, null],
            "ada@example.com": 1,
            "gpt4o_mini": "eve",
            "blob": "QUJD".repeat(100),
            "url": "data:image/png;base64,QUJD",
        });
        let (out, seen) = walk(&v, free);
        let expect = json!({
            "note": "ADA",
            "type": "keep",
            "nested": [{"id": "keep", "x": "BOB"}, 3, true, null],
            "ADA@EXAMPLE.COM": 1,
            "gpt4o_mini": "EVE",
            "blob": "QUJD".repeat(100),
            "url": "data:image/png;base64,QUJD",
        });
        assert_eq!(out, Some(expect));
        // Keys that are values never appear in a location.
        assert!(seen.iter().all(|l| !l.contains('@')), "{seen:?}");
        assert!(seen.contains(&"nested[0].x".to_owned()), "{seen:?}");
    }

    #[test]
    fn nothing_to_change_returns_none() {
        let v = json!({"a": ["x", {"b": "y"}], "n": 1});
        let mut f = |_: &str, _: &str| None;
        assert_eq!(free(&v, &mut At::default(), &mut f), None);
        assert_eq!(schema(&v, &mut At::default(), &mut f), None);
    }

    #[test]
    fn schemas_keep_structure_and_scan_text() {
        let v = json!({
            "type": "object",
            "description": "who",
            "properties": {
                "email": {"type": "string", "format": "email", "pattern": "^a$",
                          "description": "mail", "enum": ["a", "b"], "default": "c",
                          "examples": ["d"], "const": "e", "title": "t"},
                "list": {"type": "array", "items": {"description": "item"}},
                "either": {"anyOf": [{"description": "one"}, {"type": "null"}]}
            },
            "required": ["email"],
            "$defs": {"x": {"description": "def"}}
        });
        let (out, seen) = walk(&v, schema);
        let expect = json!({
            "type": "object",
            "description": "WHO",
            "properties": {
                "email": {"type": "string", "format": "email", "pattern": "^a$",
                          "description": "MAIL", "enum": ["A", "B"], "default": "C",
                          "examples": ["D"], "const": "E", "title": "T"},
                "list": {"type": "array", "items": {"description": "ITEM"}},
                "either": {"anyOf": [{"description": "ONE"}, {"type": "null"}]}
            },
            "required": ["email"],
            "$defs": {"x": {"description": "DEF"}}
        });
        assert_eq!(out, Some(expect));
        assert!(
            seen.contains(&"properties.email.enum[1]".to_owned()),
            "{seen:?}"
        );
    }

    #[test]
    fn response_format_schema_name_is_structure() {
        let v = json!({"type": "json_schema", "json_schema": {"name": "person", "strict": true,
            "description": "d", "schema": {"type": "object", "properties": {"n": {"description": "x"}}}}});
        let (out, _) = walk(&v, response_format);
        assert_eq!(
            out,
            Some(
                json!({"type": "json_schema", "json_schema": {"name": "person", "strict": true,
            "description": "D", "schema": {"type": "object", "properties": {"n": {"description": "X"}}}}})
            )
        );
    }

    #[test]
    fn names_and_binaries() {
        for (k, name) in [
            ("reasoning_content", true),
            ("$ref", true),
            ("x-trace", true),
            ("gpt4", true),
            ("4111111111111111", false),
            ("ada@example.com", false),
            ("a b", false),
            ("", false),
        ] {
            assert_eq!(is_name(k), name, "{k}");
        }
        assert!(is_binary("data:audio/wav;base64,AAAA"));
        assert!(!is_binary("data: ada@example.com"));
        assert!(is_binary(&"AbC+/9".repeat(60)));
        assert!(
            !is_binary(&"4111111111111111".repeat(20)),
            "digits alone are not base64"
        );
        assert!(!is_binary(&"AbC ".repeat(80)));
        assert!(!is_binary("4111111111111111"));
    }
}
