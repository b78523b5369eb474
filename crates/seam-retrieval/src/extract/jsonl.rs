//! JSON Lines: one document per non-empty line,
//! `{"id"?: str, "text" | "content": str, "title"?: str, "labels"?: [str], "metadata"?: {..}}`.
//! A bad line fails the whole file, so nothing is half-ingested; the error names the line.

use std::collections::HashMap;

use serde_json::Value;

use super::{ExtractError, Extracted, text};

pub(super) fn extract(bytes: &[u8]) -> Result<Vec<Extracted>, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut docs = Vec::new();
    // Each id and the line it was first seen on.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let fail = |problem: String| ExtractError::Jsonl { line, problem };
        let raw = std::str::from_utf8(raw).map_err(|e| {
            fail(format!(
                "not valid UTF-8 at byte {} of the line",
                e.valid_up_to()
            ))
        })?;
        if raw.trim().is_empty() {
            continue;
        }
        let doc = document(raw).map_err(fail)?;
        if let Some(id) = &doc.id {
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(fail(format!("\"id\" repeats the one on line {first}")));
            }
        }
        docs.push(doc);
    }
    Ok(docs)
}

fn document(line: &str) -> Result<Extracted, String> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| format!("not valid JSON (column {})", e.column()))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".to_owned());
    };
    let mut doc = Extracted::default();
    let mut body: Option<String> = None;
    for (key, value) in object {
        match key.as_str() {
            "id" => match value {
                Value::String(s) if !s.trim().is_empty() => doc.id = Some(s),
                _ => return Err("\"id\" must be a non-empty string".to_owned()),
            },
            "text" | "content" => {
                let Value::String(s) = value else {
                    return Err(format!("\"{key}\" must be a string"));
                };
                if body.is_some() {
                    return Err("give \"text\" or \"content\", not both".to_owned());
                }
                body = Some(s);
            }
            "title" => match value {
                Value::String(s) => doc.title = Some(s),
                Value::Null => {}
                _ => return Err("\"title\" must be a string".to_owned()),
            },
            "labels" => {
                let Value::Array(items) = value else {
                    return Err("\"labels\" must be an array of strings".to_owned());
                };
                for item in items {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => doc.labels.push(s),
                        _ => {
                            return Err(
                                "\"labels\" must be an array of non-empty strings".to_owned()
                            );
                        }
                    }
                }
            }
            "metadata" => match value {
                Value::Object(map) => doc.metadata = map,
                Value::Null => {}
                _ => return Err("\"metadata\" must be an object".to_owned()),
            },
            other => return Err(unknown_key(other)),
        }
    }
    let Some(body) = body else {
        return Err("\"text\" is required".to_owned());
    };
    if body.trim().is_empty() {
        return Err("\"text\" is empty".to_owned());
    }
    doc.text = text::normalise_newlines(&body);
    Ok(doc)
}

/// Names the key only when it looks like an identifier, so an error never carries content.
fn unknown_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("unknown key \"{key}\" (allowed: id, text or content, title, labels, metadata)")
    } else {
        "an unknown key (allowed: id, text or content, title, labels, metadata)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn each_line_is_a_document() {
        let input = concat!(
            "{\"id\": \"a\", \"text\": \"first\\r\\nline\", \"title\": \"A\", \"labels\": [\"public\", \"team:x\"], \"metadata\": {\"n\": 1}}\r\n",
            "\n",
            "   \n",
            "{\"content\": \"second\"}\n",
        );
        let docs = extract(input.as_bytes()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id.as_deref(), Some("a"));
        assert_eq!(docs[0].text, "first\nline");
        assert_eq!(docs[0].title.as_deref(), Some("A"));
        assert_eq!(docs[0].labels, ["public", "team:x"]);
        assert_eq!(docs[0].metadata.get("n"), Some(&serde_json::json!(1)));
        assert_eq!(docs[1].id, None);
        assert_eq!(docs[1].text, "second");
        assert!(extract(b"").unwrap().is_empty());
    }

    #[test]
    fn a_bad_line_fails_the_file_naming_the_line() {
        let cases: &[(&str, &str)] = &[
            (
                "{\"text\": \"ok\"}\n{\"title\": \"secret title\"}",
                "jsonl: line 2: \"text\" is required",
            ),
            (
                "\n\n{\"text\": \"a\", \"colour\": \"red\"}",
                "jsonl: line 3: unknown key \"colour\" (allowed: id, text or content, title, labels, metadata)",
            ),
            (
                "{\"text\": \"a\", \"my secret key!\": 1}",
                "jsonl: line 1: an unknown key (allowed: id, text or content, title, labels, metadata)",
            ),
            (
                "{\"text\": \"secret\"",
                "jsonl: line 1: not valid JSON (column 17)",
            ),
            ("[\"secret\"]", "jsonl: line 1: not a JSON object"),
            ("{\"text\": 5}", "jsonl: line 1: \"text\" must be a string"),
            (
                "{\"text\": \"a\", \"content\": \"b\"}",
                "jsonl: line 1: give \"text\" or \"content\", not both",
            ),
            ("{\"text\": \"  \"}", "jsonl: line 1: \"text\" is empty"),
            (
                "{\"text\": \"a\", \"labels\": \"public\"}",
                "jsonl: line 1: \"labels\" must be an array of strings",
            ),
            (
                "{\"text\": \"a\", \"labels\": [1]}",
                "jsonl: line 1: \"labels\" must be an array of non-empty strings",
            ),
            (
                "{\"text\": \"a\", \"metadata\": [1]}",
                "jsonl: line 1: \"metadata\" must be an object",
            ),
            (
                "{\"text\": \"a\", \"id\": 7}",
                "jsonl: line 1: \"id\" must be a non-empty string",
            ),
            (
                "{\"id\": \"x\", \"text\": \"a\"}\n{\"id\": \"x\", \"text\": \"b\"}",
                "jsonl: line 2: \"id\" repeats the one on line 1",
            ),
        ];
        for (input, want) in cases {
            let err = extract(input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
        let err = extract(b"{\"text\": \"ok\"}\n{\"text\": \"\xff\"}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "jsonl: line 2: not valid UTF-8 at byte 10 of the line"
        );
    }
}
