//! HTML → text with Markdown headings, by a small tolerant scanner rather than a full HTML5
//! parser: documents to be searched need their words, headings and paragraph breaks, not a DOM.
//!
//! Dropped with their content: `script`, `style`, `noscript`, `template`, comments and all of
//! `head` except `title`. `h1`–`h6` become `#` lines; block elements break paragraphs; `br` and
//! table rows break lines; `li` becomes `- `; `pre` keeps its whitespace; everything else has its
//! whitespace collapsed. Entities are decoded (the common named ones and all numeric ones).
//! Malformed markup never fails: a stray `<` is text, an unclosed tag or comment ends the input.

use super::{ExtractError, Extracted, Format, text};

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let html = text::decode(Format::Html, bytes)?;
    let (text, title) = convert(&html);
    Ok(Extracted {
        title,
        text,
        ..Extracted::default()
    })
}

/// Elements whose content is never text.
const SKIPPED: [&str; 4] = ["script", "style", "noscript", "template"];

/// Elements that may stand in `head` (and nameless ones: doctype, processing instructions).
const HEAD_ONLY: [&str; 10] = [
    "", "head", "meta", "link", "base", "title", "style", "script", "noscript", "template",
];

/// Elements that start and end a paragraph.
const BLOCKS: [&str; 30] = [
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "hr",
    "details",
    "summary",
    "caption",
    "body",
    "html",
];

/// Converts an HTML document: (its text, its title).
fn convert(html: &str) -> (String, Option<String>) {
    let mut out = Out::default();
    let mut title: Option<String> = None;
    let mut first_h1: Option<String> = None;
    let mut in_head = false;
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &html[i..];
        if let Some(after) = rest.strip_prefix("<!--") {
            if !in_head {
                out.text(&html[text_start..i]);
            }
            i = skip_to(html, i + 4 + find_or_end(after, "-->"), "-->".len());
            text_start = i;
            continue;
        }
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = find_or_end(after, "]]>");
            if !in_head {
                out.text(&html[text_start..i]);
                out.raw(&after[..end]);
            }
            i = skip_to(html, i + 9 + end, 3);
            text_start = i;
            continue;
        }
        let Some(tag) = Tag::parse(rest) else {
            // A `<` that opens no tag is text.
            i += 1;
            continue;
        };
        if !in_head {
            out.text(&html[text_start..i]);
        }
        i += tag.len;
        text_start = i;
        let name = tag.name.as_str();
        if tag.close {
            if name == "head" {
                in_head = false;
            } else if let Some(h1) = out.close(name) {
                first_h1.get_or_insert(h1);
            }
            continue;
        }
        // Any element that cannot be in `head` ends it, as in browsers, so a page whose `head`
        // is never closed still has a body.
        if in_head && !HEAD_ONLY.contains(&name) {
            in_head = false;
        }
        match name {
            "head" => in_head = true,
            "body" => in_head = false,
            "title" => {
                let (content, next) = raw_text(html, i, "title");
                let t = collapse(&decode_entities(content));
                if title.is_none() && !t.is_empty() {
                    title = Some(t);
                }
                i = next;
                text_start = i;
            }
            _ if SKIPPED.contains(&name) && !tag.self_closing => {
                i = raw_text(html, i, name).1;
                text_start = i;
            }
            _ if in_head => {}
            _ => out.open(name),
        }
    }
    if !in_head {
        out.text(&html[text_start.min(html.len())..]);
    }
    let text = out.finish();
    (text, title.or(first_h1))
}

/// The offset of `needle` in `hay`, or `hay`'s length.
fn find_or_end(hay: &str, needle: &str) -> usize {
    hay.find(needle).unwrap_or(hay.len())
}

/// `at + skip`, clamped to the input's end.
fn skip_to(html: &str, at: usize, skip: usize) -> usize {
    (at + skip).min(html.len())
}

/// The raw content of an element whose content is not markup, from `start` to its `</name`,
/// and the offset after the closing tag (the input's end when it is unclosed).
fn raw_text<'a>(html: &'a str, start: usize, name: &str) -> (&'a str, usize) {
    let rest = &html[start..];
    let lower = rest.to_ascii_lowercase();
    let close = format!("</{name}");
    match lower.find(&close) {
        Some(at) => {
            let after = &rest[at..];
            let end = after.find('>').map_or(rest.len(), |gt| at + gt + 1);
            (&rest[..at], start + end)
        }
        None => (rest, html.len()),
    }
}

/// A start or end tag: its lowercase name, whether it closes, its byte length.
struct Tag {
    name: String,
    close: bool,
    self_closing: bool,
    len: usize,
}

impl Tag {
    /// Reads a tag at the start of `s` (which begins with `<`). `<!DOCTYPE>` and `<?…>` read as
    /// nameless tags; a `<` not followed by a name is not a tag.
    fn parse(s: &str) -> Option<Tag> {
        let bytes = s.as_bytes();
        let mut i = 1;
        let close = bytes.get(i) == Some(&b'/');
        if close {
            i += 1;
        }
        let special = matches!(bytes.get(i), Some(b'!' | b'?'));
        if !special && !bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let name_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'!' || *b == b'?')
        {
            i += 1;
        }
        let name = if special {
            String::new()
        } else {
            s[name_start..i].to_ascii_lowercase()
        };
        // Attributes: up to the first `>` outside quotes; an unclosed tag runs to the end.
        let mut quote: Option<u8> = None;
        while let Some(&b) = bytes.get(i) {
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'>' => {
                    let self_closing = i > 0 && bytes[i - 1] == b'/';
                    return Some(Tag {
                        name,
                        close,
                        self_closing,
                        len: i + 1,
                    });
                }
                None => {}
            }
            i += 1;
        }
        Some(Tag {
            name,
            close,
            self_closing: false,
            len: bytes.len(),
        })
    }
}

/// The text being built, with the state of the block it is in.
#[derive(Default)]
struct Out {
    text: String,
    /// A space is owed before the next word.
    space: bool,
    /// How many `pre` elements are open.
    pre: usize,
    /// How many lists are open (for nesting items).
    lists: usize,
    /// The text of the heading being written, if one is open.
    heading: Option<String>,
}

impl Out {
    /// A start tag in the body.
    fn open(&mut self, name: &str) {
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.paragraph();
                let level = name
                    .as_bytes()
                    .get(1)
                    .map_or(1, |b| usize::from(b.saturating_sub(b'0')));
                self.start_heading(level);
            }
            "br" => self.line(),
            "pre" => {
                self.paragraph();
                self.pre += 1;
            }
            "li" => self.item(),
            "ul" | "ol" => {
                // A nested list continues its item's lines; a top-level one is a block.
                if self.lists > 0 {
                    self.line()
                } else {
                    self.paragraph()
                }
                self.lists += 1;
            }
            "tr" => self.line(),
            "td" | "th" => self.space(),
            _ if BLOCKS.contains(&name) => self.paragraph(),
            _ => {}
        }
    }

    /// An end tag; the heading's text when it closes a non-empty `h1`.
    fn close(&mut self, name: &str) -> Option<String> {
        let mut h1 = None;
        match name {
            "pre" => {
                self.pre = self.pre.saturating_sub(1);
                self.paragraph();
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                h1 = self
                    .heading
                    .take()
                    .filter(|h| name == "h1" && !h.is_empty());
                self.paragraph();
            }
            "ul" | "ol" => {
                self.lists = self.lists.saturating_sub(1);
                if self.lists > 0 {
                    self.line()
                } else {
                    self.paragraph()
                }
            }
            "li" | "tr" => self.line(),
            "td" | "th" => self.space(),
            _ if BLOCKS.contains(&name) => self.paragraph(),
            _ => {}
        }
        h1
    }

    fn text(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let decoded = decode_entities(raw);
        self.raw(&decoded);
    }

    fn raw(&mut self, decoded: &str) {
        if self.pre > 0 && self.heading.is_none() {
            self.text.push_str(decoded);
            self.space = false;
            return;
        }
        for (i, word) in decoded.split(char::is_whitespace).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            self.word(word);
        }
    }

    fn word(&mut self, word: &str) {
        let at_line_start = self.text.is_empty() || self.text.ends_with('\n');
        let mut spaced = self.text.ends_with(' ');
        if at_line_start {
            // A paragraph that begins with `#` would read as a heading.
            if word.starts_with('#') && self.heading.is_none() {
                self.text.push('\\');
            }
        } else if self.space && !spaced {
            self.text.push(' ');
            spaced = true;
        }
        self.space = false;
        self.text.push_str(word);
        if let Some(h) = &mut self.heading {
            if spaced && !h.is_empty() {
                h.push(' ');
            }
            h.push_str(word);
        }
    }

    fn start_heading(&mut self, level: usize) {
        self.text.push_str(&"#".repeat(level));
        self.text.push(' ');
        self.space = false;
        self.heading = Some(String::new());
    }

    fn space(&mut self) {
        self.space = true;
    }

    /// Ends the line (in a heading: a space, as a heading is one line).
    fn line(&mut self) {
        if self.heading.is_some() {
            self.space = true;
            return;
        }
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.space = false;
    }

    /// Ends the paragraph: a blank line follows, once.
    fn paragraph(&mut self) {
        if self.heading.is_some() {
            self.heading = None;
        }
        // A list item's marker just written keeps its first paragraph on its line.
        let marker_only = self
            .text
            .strip_suffix("- ")
            .map(|t| t.trim_end_matches(' '))
            .is_some_and(|before| before.is_empty() || before.ends_with('\n'));
        if marker_only {
            return;
        }
        let trimmed = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(trimmed);
        if self.text.is_empty() || self.text.ends_with("\n\n") {
            self.space = false;
            return;
        }
        if self.text.ends_with('\n') {
            self.text.push('\n');
        } else {
            self.text.push_str("\n\n");
        }
        self.space = false;
    }

    fn item(&mut self) {
        self.line();
        if self.heading.is_none() {
            self.text
                .push_str(&"  ".repeat(self.lists.saturating_sub(1)));
            self.text.push_str("- ");
        }
    }

    fn finish(mut self) -> String {
        self.paragraph();
        // Lines emptied of all but list markers or spaces, and runs of blank lines, are dropped.
        let mut out = String::with_capacity(self.text.len());
        let mut blank = 0;
        for line in self.text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line == "-" || line.trim_start() == "-" {
                blank += 1;
                continue;
            }
            if !out.is_empty() && blank > 0 {
                out.push('\n');
            }
            blank = 0;
            out.push_str(line);
            out.push('\n');
        }
        let len = out.trim_end().len();
        out.truncate(len);
        out
    }
}

/// Collapses whitespace runs to one space and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes `&name;`, `&#123;` and `&#x1F;`; anything else stays as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.bytes().take(32).position(|b| b == b';');
        let decoded = semi.and_then(|semi| entity(&after[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push_str(c.as_str());
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What an entity's name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<String> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        let c = match code {
            0 => '\u{FFFD}',
            _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
        };
        return Some(c.to_string());
    }
    let s = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "shy" | "zwj" | "zwnj" => "",
        "ndash" => "–",
        "mdash" => "—",
        "hellip" => "…",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "bull" => "•",
        "middot" => "·",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "euro" => "€",
        "pound" => "£",
        "yen" => "¥",
        "cent" => "¢",
        "sect" => "§",
        "para" => "¶",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        "larr" => "←",
        "rarr" => "→",
        "uarr" => "↑",
        "darr" => "↓",
        "iexcl" => "¡",
        "iquest" => "¿",
        "szlig" => "ß",
        "aelig" => "æ",
        "AElig" => "Æ",
        "oelig" => "œ",
        "OElig" => "Œ",
        _ => return accented(name),
    };
    Some(s.to_owned())
}

/// Latin letters with a diacritic: `&eacute;`, `&Uuml;`, `&ccedil;`, `&ntilde;`, `&aring;`…
fn accented(name: &str) -> Option<String> {
    let (letter, mark) = name.split_at_checked(1)?;
    let base = letter.chars().next()?;
    let table: &[(char, &str)] = match mark {
        "acute" => &[
            ('a', "á"),
            ('e', "é"),
            ('i', "í"),
            ('o', "ó"),
            ('u', "ú"),
            ('y', "ý"),
            ('A', "Á"),
            ('E', "É"),
            ('I', "Í"),
            ('O', "Ó"),
            ('U', "Ú"),
            ('Y', "Ý"),
        ],
        "grave" => &[
            ('a', "à"),
            ('e', "è"),
            ('i', "ì"),
            ('o', "ò"),
            ('u', "ù"),
            ('A', "À"),
            ('E', "È"),
            ('I', "Ì"),
            ('O', "Ò"),
            ('U', "Ù"),
        ],
        "circ" => &[
            ('a', "â"),
            ('e', "ê"),
            ('i', "î"),
            ('o', "ô"),
            ('u', "û"),
            ('A', "Â"),
            ('E', "Ê"),
            ('I', "Î"),
            ('O', "Ô"),
            ('U', "Û"),
        ],
        "uml" => &[
            ('a', "ä"),
            ('e', "ë"),
            ('i', "ï"),
            ('o', "ö"),
            ('u', "ü"),
            ('y', "ÿ"),
            ('A', "Ä"),
            ('E', "Ë"),
            ('I', "Ï"),
            ('O', "Ö"),
            ('U', "Ü"),
        ],
        "tilde" => &[
            ('a', "ã"),
            ('n', "ñ"),
            ('o', "õ"),
            ('A', "Ã"),
            ('N', "Ñ"),
            ('O', "Õ"),
        ],
        "cedil" => &[('c', "ç"), ('C', "Ç")],
        "ring" => &[('a', "å"), ('A', "Å")],
        "slash" => &[('o', "ø"), ('O', "Ø")],
        _ => return None,
    };
    table
        .iter()
        .find(|(c, _)| *c == base)
        .map(|(_, s)| (*s).to_owned())
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
    use proptest::prelude::*;

    fn check(html: &str, want_text: &str, want_title: Option<&str>) {
        let (text, title) = convert(html);
        assert_eq!(text, want_text, "{html}");
        assert_eq!(title.as_deref(), want_title, "{html}");
    }

    #[test]
    fn a_page_becomes_markdown_like_text() {
        let html = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title> Leave &amp; Holidays </title>
<style>p { color: red }</style><script>var secret = "<p>no</p>";</script></head>
<body><nav>Home</nav>
<h1>Leave <em>policy</em></h1>
<p>Staff   get
 25 days&nbsp;a year.<br>Ask your manager&hellip;</p>
<!-- a comment <p>hidden</p> -->
<h2 id="x">Sick  leave</h2><ul><li>Call in<li>Send a note<ul><li>within 3 days</li></ul></li></ul>
<table><tr><th>Days</th><th>Pay</th></tr><tr><td>1&ndash;3</td><td>100&#37;</td></tr></table>
<pre>  keep
    this</pre><noscript>enable js</noscript><template><p>t</p></template>
<p>Caf&eacute; M&uuml;ller &#x1F600; &#233; &bogus; AT&T</p></body></html>"#;
        let want = "Home\n\n# Leave policy\n\nStaff get 25 days a year.\nAsk your manager…\n\n## Sick leave\n\n- Call in\n- Send a note\n  - within 3 days\n\nDays Pay\n1–3 100%\n\n  keep\n    this\n\nCafé Müller 😀 é &bogus; AT&T";
        check(html, want, Some("Leave & Holidays"));
    }

    #[test]
    fn the_first_h1_is_the_title_when_there_is_no_title() {
        check(
            "<h2>Sub</h2><h1>Main <b>Title</b></h1><h1>Other</h1>",
            "## Sub\n\n# Main Title\n\n# Other",
            Some("Main Title"),
        );
        check("<p>no headings</p>", "no headings", None);
    }

    #[test]
    fn malformed_markup_is_tolerated() {
        check("a < b and c <= d", "a < b and c <= d", None);
        // As in browsers, a tag left open at the end of the input is dropped.
        check("x<d", "x", None);
        check("<p>open <b>bold", "open bold", None);
        check("text <!-- unclosed comment", "text", None);
        check("<p>x</p><script>never closed <p>y</p>", "x", None);
        check("<a href='>'>link</a> after", "link after", None);
        check("<p># not a heading</p>", "\\# not a heading", None);
        check("<div><p></p><li></li></div>", "", None);
        check(
            "<ul><li><p>One</p></li><li><p>Two</p><p>more</p></li></ul>",
            "- One\n\n- Two\n\nmore",
            None,
        );
        check(
            "<html><head><title>T</title><p>body text",
            "body text",
            Some("T"),
        );
        check("<![CDATA[raw <b>]]> text", "raw <b> text", None);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(s in "\\PC{0,300}") {
            let _ = convert(&s);
        }

        #[test]
        fn never_panics_on_tag_soup(parts in proptest::collection::vec(prop_oneof![
            Just("<".to_owned()), Just(">".to_owned()), Just("</".to_owned()), Just("<!--".to_owned()),
            Just("-->".to_owned()), Just("<h1>".to_owned()), Just("</h1>".to_owned()), Just("<pre>".to_owned()),
            Just("<li>".to_owned()), Just("<script>".to_owned()), Just("</script".to_owned()), Just("&".to_owned()),
            Just("&#x".to_owned()), Just(";".to_owned()), Just("<title>".to_owned()), Just("<head>".to_owned()),
            Just("\"".to_owned()), Just("<![CDATA[".to_owned()), "[a-zé ]{0,5}".prop_map(|s| s),
        ], 0..60)) {
            let _ = convert(&parts.concat());
        }
    }
}
