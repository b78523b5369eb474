//! Markdown: the text as it is (headings already `#` lines), less its YAML front matter, whose
//! scalar keys become metadata (`title` the title).

use super::{ExtractError, Extracted, Format, text};

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let whole = text::decode(Format::Markdown, bytes)?;
    let mut doc = Extracted::default();
    let body = match split_front_matter(&whole) {
        Some((yaml, body)) => {
            read_front_matter(yaml, &mut doc)?;
            body
        }
        None => whole.as_str(),
    };
    if doc.title.is_none() {
        doc.title = first_h1(body);
    }
    doc.text = body.trim_start_matches('\n').to_owned();
    Ok(doc)
}

/// `---` on the first line, up to a closing `---` or `...` line: (the YAML, the rest).
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("---\n")?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare == "..." {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

fn read_front_matter(yaml: &str, doc: &mut Extracted) -> Result<(), ExtractError> {
    if yaml.trim().is_empty() {
        return Ok(());
    }
    let value: serde_norway::Value = serde_norway::from_str(yaml).map_err(|e| {
        // Line 1 is the opening `---`; the YAML starts on line 2.
        ExtractError::FrontMatter {
            line: e.location().map_or(1, |l| l.line() + 1),
        }
    })?;
    let serde_norway::Value::Mapping(map) = value else {
        return Err(ExtractError::FrontMatter { line: 1 });
    };
    for (key, value) in map {
        let Some(key) = key.as_str() else { continue };
        if key == "labels" {
            doc.labels = labels(value)?;
            continue;
        }
        let json = match value {
            serde_norway::Value::String(s) => serde_json::Value::String(s),
            serde_norway::Value::Bool(b) => serde_json::Value::Bool(b),
            serde_norway::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    serde_json::Value::from(i)
                } else if let Some(u) = n.as_u64() {
                    serde_json::Value::from(u)
                } else {
                    match n.as_f64().and_then(serde_json::Number::from_f64) {
                        Some(f) => serde_json::Value::Number(f),
                        None => continue,
                    }
                }
            }
            // Lists, mappings and nulls are not scalar metadata.
            _ => continue,
        };
        if key == "title" {
            if let serde_json::Value::String(t) = &json {
                doc.title = Some(t.trim().to_owned());
                continue;
            }
        }
        doc.metadata.insert(key.to_owned(), json);
    }
    Ok(())
}

/// Front matter's `labels`: a list of non-empty strings (or one string). Anything else is an
/// error rather than a label silently dropped, as labels decide who may read the document.
fn labels(value: serde_norway::Value) -> Result<Vec<String>, ExtractError> {
    let items = match value {
        serde_norway::Value::Sequence(items) => items,
        serde_norway::Value::String(s) => vec![serde_norway::Value::String(s)],
        serde_norway::Value::Null => Vec::new(),
        _ => return Err(ExtractError::FrontMatterLabels),
    };
    items
        .into_iter()
        .map(|item| match item {
            serde_norway::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(ExtractError::FrontMatterLabels),
        })
        .collect()
}

/// The text of the first `# ` heading outside fenced code.
fn first_h1(text: &str) -> Option<String> {
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
        } else if trimmed.starts_with("~~~") {
            fence = Some("~~~");
        } else if let Some(title) = line.strip_prefix("# ") {
            let title = title.trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.to_owned());
            }
        }
    }
    None
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
    fn front_matter_becomes_title_and_scalar_metadata() {
        let md = "---\r\ntitle: Leave policy\r\nlabels: [public, \"team:hr\"]\r\nowner: hr\r\nversion: 3\r\ndraft: false\r\ntags: [a, b]\r\n---\r\n\r\n# Heading\r\n\r\nBody.\r\n";
        let doc = extract(md.as_bytes()).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Leave policy"));
        assert_eq!(doc.labels, ["public", "team:hr"]);
        assert_eq!(doc.text, "# Heading\n\nBody.\n");
        assert_eq!(
            serde_json::Value::Object(doc.metadata),
            serde_json::json!({"owner": "hr", "version": 3, "draft": false})
        );
    }

    #[test]
    fn without_front_matter_the_first_h1_is_the_title() {
        let doc =
            extract(b"intro\n\n```\n# not this\n```\n\n# Install Guide #\n\n## Linux\n").unwrap();
        assert_eq!(doc.title.as_deref(), Some("Install Guide"));
        assert!(doc.metadata.is_empty());
        // An unclosed `---` block is text, not front matter.
        let doc = extract(b"---\nnot: front matter\n").unwrap();
        assert_eq!(doc.text, "---\nnot: front matter\n");
    }

    #[test]
    fn bad_front_matter_is_an_error_with_a_line() {
        let err = extract(b"---\ntitle: ok\nbad: [unclosed\n---\ntext\n").unwrap_err();
        assert!(matches!(err, ExtractError::FrontMatter { .. }), "{err}");
        let err = extract(b"---\nlabels: [public, [nested]]\n---\ntext\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "markdown: the front matter's labels must be a list of strings"
        );
        let err = extract(b"---\n- a list\n---\ntext\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "markdown: the front matter (line 1) is not a valid YAML mapping"
        );
    }
}
