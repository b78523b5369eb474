//! Documents in their formats → plain text with metadata, ready to be chunked.
//!
//! Each format has its own file: `text` (plain text and the shared normalisation), `markdown`
//! (front matter), `html` (a tolerant tag stripper that keeps headings as Markdown `#` lines, so
//! [`crate::chunk`] can follow them), `pdf` (text of each page, by `lopdf`) and `jsonl` (one
//! document per line, strictly validated). Every format decodes UTF-8 strictly: a bad byte is an
//! error naming its offset rather than a silently altered document.
//!
//! Extraction holds the whole input in memory: the caller caps the input's size (the HTTP body
//! cap, or a file-size check in the CLI) before calling [`extract`].

mod html;
mod jsonl;
mod markdown;
mod pdf;
mod text;

use std::fmt;
use std::path::Path;

/// A document format Seam can ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Plain UTF-8 text.
    Text,
    /// Markdown, with optional YAML front matter.
    Markdown,
    /// HTML (any version; malformed markup is tolerated).
    Html,
    /// PDF (unencrypted; text-based pages).
    Pdf,
    /// JSON Lines: one document object per line.
    Jsonl,
}

impl Format {
    /// Every format, in a stable order (for help texts and tests).
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Markdown,
        Format::Html,
        Format::Pdf,
        Format::Jsonl,
    ];

    /// The format a file name's extension names (case-insensitive), if any.
    pub fn from_path(p: &Path) -> Option<Format> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format a `Content-Type` names (parameters such as `charset` ignored), if any.
    pub fn from_media_type(ct: &str) -> Option<Format> {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/plain" => Some(Format::Text),
            "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            "application/pdf" => Some(Format::Pdf),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format a user names (`--format`, an API field): `txt`/`text`, `md`/`markdown`,
    /// `html`, `pdf`, `jsonl`; case-insensitive.
    pub fn parse(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The canonical name (`parse` reads it back).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Jsonl => "jsonl",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document extracted from an input (a JSONL input holds several; every other format one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extracted {
    /// The document's id when the input names one (JSONL's `id`); else the caller derives one.
    pub id: Option<String>,
    /// The title: Markdown's front-matter `title` or first `# ` heading, HTML's `<title>` or first
    /// `<h1>`, the PDF's Info `Title`, JSONL's `title`.
    pub title: Option<String>,
    /// The normalised text (LF line ends, no BOM); Markdown and HTML keep headings as `#` lines.
    pub text: String,
    /// Access labels given by the input (JSONL's `labels`, Markdown front matter's `labels`).
    pub labels: Vec<String>,
    /// Metadata given by the input (JSONL's `metadata`, Markdown front matter's scalar keys).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Why an input could not be extracted: one line naming the format and the position, never
/// quoting the document's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The bytes are not UTF-8.
    #[error("{format}: not valid UTF-8 at byte {offset}")]
    Utf8 {
        /// The format being read.
        format: Format,
        /// The offset of the first bad byte in the input.
        offset: usize,
    },
    /// Markdown front matter that is not a YAML mapping.
    #[error("markdown: the front matter (line {line}) is not a valid YAML mapping")]
    FrontMatter {
        /// The 1-based line of the problem, or of the front matter's start.
        line: usize,
    },
    /// Markdown front matter whose `labels` is not a list of strings.
    #[error("markdown: the front matter's labels must be a list of strings")]
    FrontMatterLabels,
    /// A PDF that cannot be read.
    #[error("pdf: {0}")]
    Pdf(PdfProblem),
    /// A JSONL line that is not a valid document; nothing of the file is extracted.
    #[error("jsonl: line {line}: {problem}")]
    Jsonl {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// What is wrong with a PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfProblem {
    /// The file does not parse as a PDF (truncated, damaged or not a PDF at all).
    #[error("not a readable PDF (damaged, truncated or another format)")]
    Unreadable,
    /// The file is encrypted; Seam does not take passwords.
    #[error("the document is encrypted; decrypt it before ingesting")]
    Encrypted,
    /// A page's content could not be decoded.
    #[error("page {0}: its content cannot be decoded")]
    Page(u32),
    /// A stream would inflate past the bound Seam allows.
    #[error("a content stream inflates past {0} bytes")]
    TooLarge(usize),
}

/// Extracts the documents `bytes` holds in `format`. The caller caps `bytes`' length.
pub fn extract(format: Format, bytes: &[u8]) -> Result<Vec<Extracted>, ExtractError> {
    match format {
        Format::Text => Ok(vec![Extracted {
            text: text::decode(Format::Text, bytes)?,
            ..Extracted::default()
        }]),
        Format::Markdown => Ok(vec![markdown::extract(bytes)?]),
        Format::Html => Ok(vec![html::extract(bytes)?]),
        Format::Pdf => Ok(vec![pdf::extract(bytes)?]),
        Format::Jsonl => jsonl::extract(bytes),
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
    fn formats_are_named_by_extension_media_type_and_name() {
        let path = |p: &str| Format::from_path(Path::new(p));
        assert_eq!(path("a/b.TXT"), Some(Format::Text));
        assert_eq!(path("notes.markdown"), Some(Format::Markdown));
        assert_eq!(path("x.htm"), Some(Format::Html));
        assert_eq!(path("x.pdf"), Some(Format::Pdf));
        assert_eq!(path("x.ndjson"), Some(Format::Jsonl));
        assert_eq!(path("x.docx"), None);
        assert_eq!(path("README"), None);
        assert_eq!(
            Format::from_media_type("text/html; charset=utf-8"),
            Some(Format::Html)
        );
        assert_eq!(
            Format::from_media_type("Application/PDF"),
            Some(Format::Pdf)
        );
        assert_eq!(
            Format::from_media_type("application/jsonl"),
            Some(Format::Jsonl)
        );
        assert_eq!(
            Format::from_media_type("application/x-ndjson"),
            Some(Format::Jsonl)
        );
        assert_eq!(
            Format::from_media_type("text/markdown"),
            Some(Format::Markdown)
        );
        assert_eq!(Format::from_media_type("text/plain"), Some(Format::Text));
        assert_eq!(Format::from_media_type("application/json"), None);
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(Format::parse("txt"), Some(Format::Text));
        assert_eq!(Format::parse("MD"), Some(Format::Markdown));
        assert_eq!(Format::parse("doc"), None);
    }

    #[test]
    fn html_and_markdown_headings_become_chunk_heading_paths() {
        use crate::chunk::{ChunkSpec, chunk};
        let words = |s: &str| s.split_whitespace().count();
        let spec = ChunkSpec {
            max_tokens: 50,
            overlap: 5,
        };
        let html = b"<title>Guide</title><h1>Guide</h1><p>Intro.</p><h2>Install</h2><h3>Linux</h3><p>Run apt.</p>";
        let md =
            b"---\ntitle: Guide\n---\n# Guide\n\nIntro.\n\n## Install\n\n### Linux\n\nRun apt.\n";
        for (format, bytes) in [(Format::Html, &html[..]), (Format::Markdown, &md[..])] {
            let doc = extract(format, bytes).unwrap().remove(0);
            assert_eq!(doc.title.as_deref(), Some("Guide"));
            let chunks = chunk(&doc.text, spec, &words);
            let paths: Vec<Option<&str>> = chunks.iter().map(|c| c.heading.as_deref()).collect();
            assert_eq!(
                paths,
                [Some("Guide"), Some("Guide > Install > Linux")],
                "{format}"
            );
            assert!(chunks[1].text.ends_with("Run apt."));
        }
    }

    #[test]
    fn errors_are_one_line_naming_the_format_and_position() {
        let e = extract(Format::Text, b"ok\n\xffsecret").unwrap_err();
        assert_eq!(e.to_string(), "text: not valid UTF-8 at byte 3");
        let e = extract(Format::Html, b"<p>\xc3</p>").unwrap_err();
        assert_eq!(e.to_string(), "html: not valid UTF-8 at byte 3");
    }
}
