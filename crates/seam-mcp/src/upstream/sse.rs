//! An incremental `text/event-stream` reader that yields each event's `data` and never holds more
//! than a limit: an MCP server's event is one JSON-RPC message, bounded like a JSON body.

/// An event (or a line) longer than the limit.
#[derive(Debug, PartialEq)]
pub(crate) struct TooLarge;

#[derive(Debug)]
pub(crate) struct Reader {
    buf: Vec<u8>,
    /// How far `buf` has been searched for a newline.
    scanned: usize,
    data: Vec<u8>,
    has_data: bool,
    limit: usize,
}

impl Reader {
    pub fn new(limit: usize) -> Self {
        Reader {
            buf: Vec::new(),
            scanned: 0,
            data: Vec::new(),
            has_data: false,
            limit,
        }
    }

    /// Feeds bytes; every event they complete is pushed onto `events`.
    pub fn feed(&mut self, chunk: &[u8], events: &mut Vec<Vec<u8>>) -> Result<(), TooLarge> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(i) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + i;
            let mut line = &self.buf[start..end];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if line.is_empty() {
                if self.has_data {
                    events.push(std::mem::take(&mut self.data));
                    self.has_data = false;
                }
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
                if self.data.len() > self.limit {
                    return Err(TooLarge);
                }
            }
            // `event:`, `id:`, `retry:` and `:` comments carry nothing an MCP client needs.
            start = end + 1;
            self.scanned = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        if self.buf.len() > self.limit {
            return Err(TooLarge);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]], limit: usize) -> Result<Vec<String>, TooLarge> {
        let mut r = Reader::new(limit);
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, &mut out)?;
        }
        Ok(out
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e).into_owned())
            .collect())
    }

    #[test]
    fn events_are_read_across_chunk_boundaries() {
        let got = events(
            &[
                b"event: message\nda",
                b"ta: {\"a\":1}\r\n\r",
                b"\n: ping\n\ndata: x\ndata: y\n\n",
            ],
            1024,
        );
        assert_eq!(got, Ok(vec!["{\"a\":1}".to_owned(), "x\ny".to_owned()]));
    }

    proptest::proptest! {
        /// However the bytes are split into chunks, the same events come out; arbitrary bytes
        /// never panic.
        #[test]
        fn any_split_gives_the_same_events(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    "data: [a-z{}\":0-9 ]{0,20}",
                    ": ping",
                    "event: message",
                    "",
                    "id: [0-9]{1,3}",
                ],
                0..24,
            ),
            crlf in proptest::prelude::any::<bool>(),
            cuts in proptest::collection::vec(0usize..400, 0..8),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let text: String = lines.iter().map(|l| format!("{l}{nl}")).collect();
            let bytes = text.as_bytes();
            let whole = events(&[bytes], 1 << 20);
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= bytes.len()).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for c in cuts {
                chunks.push(&bytes[last..c]);
                last = c;
            }
            chunks.push(&bytes[last..]);
            proptest::prop_assert_eq!(events(&chunks, 1 << 20), whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = events(&[&bytes], 64);
        }
    }

    #[test]
    fn an_event_past_the_limit_is_refused() {
        assert_eq!(events(&[b"data: 0123456789\n\n"], 5), Err(TooLarge));
        assert_eq!(events(&[b"data: 0123456789"], 5), Err(TooLarge));
        assert!(events(&[b"data: 01234\n\n"], 5).is_ok());
    }
}
