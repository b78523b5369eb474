//! JSON Schema → the subset Gemini's `Schema` accepts. Gemini answers 400 to keywords it lacks
//! rather than ignoring them, so anything outside its list is dropped.

use serde_json::{Map, Value};

/// A JSON Schema as Gemini's `Schema` takes it, or `None` when nothing is left to send: an object
/// without properties, which Gemini rejects ("properties: should be non-empty for OBJECT type")
/// and which means "no parameters" anyway.
pub fn gemini_schema(schema: &Value) -> Option<Value> {
    let cleaned = clean_schema(schema);
    let is_object = cleaned.get("type").and_then(Value::as_str) == Some("object");
    let has_properties = cleaned.get("properties").is_some();
    let has_alternatives = cleaned.get("anyOf").is_some();
    if cleaned.as_object().is_none_or(Map::is_empty)
        || (is_object && !has_properties && !has_alternatives)
    {
        return None;
    }
    Some(cleaned)
}

/// Keywords Gemini's `Schema` accepts; everything else is dropped.
const SCHEMA_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "nullable",
    "enum",
    "required",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "example",
    "default",
    "propertyOrdering",
];

/// The only `format` values Gemini accepts; others are rejected with a 400.
const SCHEMA_FORMATS: &[&str] = &["enum", "date-time", "int32", "int64", "float", "double"];

fn clean_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "type" => match value {
                // Gemini takes one type; `["string", "null"]` is a nullable string.
                Value::Array(types) => {
                    if let Some(first) = types.iter().find(|t| t.as_str() != Some("null")) {
                        out.insert("type".into(), first.clone());
                    }
                    if types.iter().any(|t| t.as_str() == Some("null")) {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "properties" => {
                if let Value::Object(props) = value {
                    let props: Map<String, Value> = props
                        .iter()
                        .map(|(name, s)| (name.clone(), clean_schema(s)))
                        .collect();
                    if !props.is_empty() {
                        out.insert("properties".into(), Value::Object(props));
                    }
                }
            }
            "items" => {
                out.insert("items".into(), clean_schema(value));
            }
            "anyOf" | "oneOf" => {
                if let Value::Array(alternatives) = value
                    && !out.contains_key("anyOf")
                {
                    let alternatives = alternatives.iter().map(clean_schema).collect();
                    out.insert("anyOf".into(), Value::Array(alternatives));
                }
            }
            "const" => {
                out.entry("enum")
                    .or_insert_with(|| Value::Array(vec![value.clone()]));
            }
            "format" if value.as_str().is_some_and(|f| SCHEMA_FORMATS.contains(&f)) => {
                out.insert("format".into(), value.clone());
            }
            k if SCHEMA_KEYWORDS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {} // additionalProperties, $schema, $ref, $defs, allOf, not, …
        }
    }
    Value::Object(out)
}
