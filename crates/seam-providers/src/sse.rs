//! An incremental parser for `text/event-stream`, per the WHATWG definition.
//!
//! Bytes arrive in arbitrary pieces; the parser keeps only the unfinished line, so memory is bounded
//! by the longest line (capped by `max_line`). Lines may end in `\n`, `\r\n` or `\r`; a `\r` at the
//! end of a piece waits for the next piece to know whether `\n` follows.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineTooLong(pub usize);

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an event-stream line is longer than {} bytes", self.0)
    }
}

pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    max_line: usize,
}

impl SseParser {
    pub fn new(max_line: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            event: None,
            data: String::new(),
            has_data: false,
            max_line,
        }
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        let mut i = 0;
        while i < self.buf.len() {
            match self.buf[i] {
                b'\n' => {
                    self.line(start, i, out);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    if i + 1 == self.buf.len() {
                        break; // wait: `\n` may follow in the next piece
                    }
                    self.line(start, i, out);
                    i += if self.buf[i + 1] == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > self.max_line {
            return Err(LineTooLong(self.max_line));
        }
        Ok(())
    }

    /// At end of input: a pending `\r` ends its line. An event without its blank line is dropped,
    /// as the standard says; callers detect the truncation by the missing terminal event.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.buf.last() == Some(&b'\r') {
            let end = self.buf.len() - 1;
            self.line(0, end, out);
        }
        self.buf.clear();
        self.reset();
    }

    fn line(&mut self, start: usize, end: usize, out: &mut Vec<SseEvent>) {
        let line = &self.buf[start..end];
        if line.is_empty() {
            if self.has_data {
                if self.data.ends_with('\n') {
                    self.data.pop();
                }
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.reset();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {} // id, retry and unknown fields do not concern a proxy
        }
    }

    fn reset(&mut self) {
        self.event = None;
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        for piece in pieces {
            p.push(piece, &mut out).unwrap();
        }
        p.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(String::from),
            data: data.into(),
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Vec<SseEvent>)] = &[
            ("data: a\n\n", vec![ev(None, "a")]),
            ("data:a\r\n\r\n", vec![ev(None, "a")]),
            ("data: a\r\rdata: b\n\n", vec![ev(None, "a"), ev(None, "b")]),
            (
                "event: x\ndata: 1\ndata: 2\n\n",
                vec![ev(Some("x"), "1\n2")],
            ),
            (": comment\ndata: y\n\n", vec![ev(None, "y")]),
            ("event: only\n\n", vec![]),
            ("data\n\n", vec![ev(None, "")]),
            ("id: 3\nretry: 10\ndata: z\n\n", vec![ev(None, "z")]),
            ("data: cut", vec![]),
            ("data:  two spaces\n\n", vec![ev(None, " two spaces")]),
        ];
        for (input, expect) in cases {
            assert_eq!(&parse_all(&[input.as_bytes()]), expect, "input {input:?}");
        }
    }

    #[test]
    fn long_line_is_an_error() {
        let mut p = SseParser::new(8);
        let mut out = Vec::new();
        assert_eq!(p.push(b"data: 0123456789", &mut out), Err(LineTooLong(8)));
    }

    proptest! {
        // However the bytes are split, the events are the same.
        #[test]
        fn split_invariant(
            lines in proptest::collection::vec("(data|event|id|:c)?(: ?[a-z{}\" ]{0,6})?(\n|\r\n|\r)", 0..20),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let text: String = lines.concat();
            let bytes = text.as_bytes();
            let whole = parse_all(&[bytes]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts { pieces.push(&bytes[last..c]); last = c; }
            pieces.push(&bytes[last..]);
            prop_assert_eq!(parse_all(&pieces), whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut p = SseParser::new(64);
            let mut out = Vec::new();
            let _ = p.push(&bytes, &mut out);
            p.finish(&mut out);
        }
    }
}
