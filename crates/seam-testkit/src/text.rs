//! What the mock says, independent of wire format: the answer, its stream pieces, token counts.

use serde_json::json;

/// The mock's decision for one turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Plain assistant text.
    Text(String),
    /// A call of tool `name` with JSON-encoded `arguments`.
    ToolCall { name: String, arguments: String },
}

impl Answer {
    /// `mock: <text>`.
    pub(crate) fn echo(text: &str) -> Answer {
        Answer::Text(format!("mock: {text}"))
    }

    /// A call of `name` with `{"q": "<user text>"}`.
    pub(crate) fn call(name: &str, user_text: &str) -> Answer {
        Answer::ToolCall {
            name: name.to_owned(),
            arguments: json!({ "q": user_text }).to_string(),
        }
    }

    /// Output tokens: the words of the text, or of the encoded arguments.
    pub(crate) fn tokens(&self) -> usize {
        match self {
            Answer::Text(t) => words(t),
            Answer::ToolCall { arguments, .. } => words(arguments),
        }
    }
}

/// Whitespace word count: the mock's token count.
pub(crate) fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` split before each word that follows whitespace, so `"mock: a  b"` becomes
/// `["mock:", " a", "  b"]`; the pieces concatenate to `text`.
pub(crate) fn word_pieces(text: &str) -> Vec<&str> {
    // Cut at the start of each whitespace run that follows a word, unless only whitespace is left.
    let last_word_end = text.trim_end().len();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_word = false;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && prev_word && i < last_word_end {
            pieces.push(&text[start..i]);
            start = i;
        }
        prev_word = !space;
    }
    pieces.push(&text[start..]);
    pieces
}

/// `text` in three pieces of about equal length (fewer when it is shorter than three chars), cut
/// at char boundaries: how tool-call arguments are streamed.
pub(crate) fn thirds(text: &str) -> Vec<&str> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let n = bounds.len();
    let cut = |k: usize| bounds.get(n * k / 3).copied().unwrap_or(text.len());
    let (a, b) = (cut(1), cut(2));
    [&text[..a], &text[a..b], &text[b..]]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_concatenate_to_the_text() {
        let cases: [(&str, &[&str]); 5] = [
            ("mock: hello world", &["mock:", " hello", " world"]),
            ("mock: ", &["mock: "]),
            ("mock: a  b\nc ", &["mock:", " a", "  b", "\nc "]),
            ("", &[""]),
            ("  lead", &["  lead"]),
        ];
        for (text, expect) in cases {
            assert_eq!(word_pieces(text), expect, "{text:?}");
            assert_eq!(word_pieces(text).concat(), text);
        }
    }

    #[test]
    fn thirds_concatenate_to_the_text() {
        for text in [r#"{"q":"hello"}"#, r#"{"q":"é"}"#, "ab", ""] {
            let parts = thirds(text);
            assert_eq!(parts.concat(), text);
            assert!(parts.len() <= 3);
        }
        assert_eq!(thirds(r#"{"q":"hi"}"#).len(), 3);
    }

    #[test]
    fn tool_arguments_are_json() {
        let Answer::ToolCall { arguments, .. } = Answer::call("f", "say \"hi\"") else {
            unreachable!()
        };
        assert_eq!(arguments, r#"{"q":"say \"hi\""}"#);
    }
}
