//! AWS event-stream framing (`application/vnd.amazon.eventstream`), decoded incrementally.
//!
//! A message is `total length (u32 BE) · headers length (u32 BE) · prelude CRC32 · headers ·
//! payload · message CRC32`, every integer big-endian and both CRCs IEEE CRC-32. A header is
//! `name length (u8) · name · type (u8) · value`; only string values (type 7) are kept, the others
//! are skipped by their size. Bytes arrive in arbitrary pieces; the decoder keeps only the
//! unfinished message, and refuses one longer than its limit before buffering it, so memory is
//! bounded by that limit.

use std::fmt;

use crate::ProviderError;
use crate::http::FrameParser;

/// AWS's own limits: 16 MiB a message, 128 KiB of headers.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
const MAX_HEADERS: usize = 128 * 1024;
/// Total length, headers length, prelude CRC.
const PRELUDE: usize = 12;
/// Prelude plus the message CRC: an empty message.
const MIN_MESSAGE: usize = PRELUDE + 4;

/// One decoded message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// String-valued headers, in order.
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The first string header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A message claims more bytes than the limit (or than its own length allows).
    Length(usize),
    PreludeCrc,
    MessageCrc,
    /// A header runs past its section, or has an unknown type.
    Header,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Length(n) => {
                write!(f, "an event-stream message claims an invalid length {n}")
            }
            FrameError::PreludeCrc => f.write_str("an event-stream prelude failed its CRC"),
            FrameError::MessageCrc => f.write_str("an event-stream message failed its CRC"),
            FrameError::Header => f.write_str("an event-stream message has a malformed header"),
        }
    }
}

pub struct Decoder {
    buf: Vec<u8>,
    max_message: usize,
}

impl Decoder {
    pub fn new(max_message: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            max_message,
        }
    }

    /// Feeds bytes; complete messages are appended to `out`. After an error the stream is
    /// unusable: framing cannot be recovered once a length is wrong.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Message>) -> Result<(), FrameError> {
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        let result = loop {
            let rest = &self.buf[at..];
            if rest.len() < PRELUDE {
                break Ok(());
            }
            let total = be32(&rest[0..4]) as usize;
            let headers_len = be32(&rest[4..8]) as usize;
            if crc32(&rest[..8]) != be32(&rest[8..12]) {
                break Err(FrameError::PreludeCrc);
            }
            if total < MIN_MESSAGE || total > self.max_message {
                break Err(FrameError::Length(total));
            }
            if headers_len > MAX_HEADERS || headers_len > total - MIN_MESSAGE {
                break Err(FrameError::Length(headers_len));
            }
            if rest.len() < total {
                break Ok(());
            }
            let msg = &rest[..total];
            if crc32(&msg[..total - 4]) != be32(&msg[total - 4..]) {
                break Err(FrameError::MessageCrc);
            }
            let headers = match parse_headers(&msg[PRELUDE..PRELUDE + headers_len]) {
                Ok(h) => h,
                Err(e) => break Err(e),
            };
            out.push(Message {
                headers,
                payload: msg[PRELUDE + headers_len..total - 4].to_vec(),
            });
            at += total;
        };
        self.buf.drain(..at);
        result
    }
}

impl FrameParser for Decoder {
    type Frame = Message;

    fn push(&mut self, bytes: &[u8], out: &mut Vec<Message>) -> Result<(), ProviderError> {
        Decoder::push(self, bytes, out).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
    }

    /// A partial message at the end is dropped; the decoder above notices what is missing.
    fn finish(&mut self, _out: &mut Vec<Message>) {
        self.buf.clear();
    }
}

fn be32(b: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&b[..4]);
    u32::from_be_bytes(word)
}

fn parse_headers(mut h: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    let mut out = Vec::new();
    // Splits `n` bytes off the front of `h`.
    fn take<'a>(h: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
        if h.len() < n {
            return Err(FrameError::Header);
        }
        let (head, tail) = h.split_at(n);
        *h = tail;
        Ok(head)
    }
    while !h.is_empty() {
        let name_len = usize::from(take(&mut h, 1)?[0]);
        let name = take(&mut h, name_len)?;
        let kind = take(&mut h, 1)?[0];
        let fixed = match kind {
            0 | 1 => 0, // boolean true / false: the type is the value
            2 => 1,     // byte
            3 => 2,     // short
            4 => 4,     // integer
            5 | 8 => 8, // long, timestamp
            9 => 16,    // uuid
            6 | 7 => {
                // byte array, string: u16 length, then the bytes
                let len = take(&mut h, 2)?;
                usize::from(u16::from_be_bytes([len[0], len[1]]))
            }
            _ => return Err(FrameError::Header),
        };
        let value = take(&mut h, fixed)?;
        if kind == 7 {
            out.push((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        }
    }
    Ok(out)
}

/// IEEE CRC-32 (the zlib polynomial), one table lookup per byte.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes a message with string headers: what a Bedrock stream sends.
    pub(crate) fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, value) in headers {
            h.push(u8::try_from(name.len()).unwrap());
            h.extend_from_slice(name.as_bytes());
            h.push(7);
            h.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
            h.extend_from_slice(value.as_bytes());
        }
        encode_raw(&h, payload)
    }

    fn encode_raw(headers: &[u8], payload: &[u8]) -> Vec<u8> {
        let total = MIN_MESSAGE + headers.len() + payload.len();
        let mut m = Vec::with_capacity(total);
        m.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
        m.extend_from_slice(&u32::try_from(headers.len()).unwrap().to_be_bytes());
        let prelude_crc = crc32(&m);
        m.extend_from_slice(&prelude_crc.to_be_bytes());
        m.extend_from_slice(headers);
        m.extend_from_slice(payload);
        let crc = crc32(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m
    }

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Message>, FrameError> {
        let mut d = Decoder::new(MAX_MESSAGE);
        let mut out = Vec::new();
        for p in pieces {
            d.push(p, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// aws-c-event-stream's `encoded/positive/empty_message` vector.
    #[test]
    fn empty_message_vector() {
        let bytes = [
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
            0xc8, 0xff,
        ];
        assert_eq!(encode(&[], b""), bytes);
        assert_eq!(decode_all(&[&bytes]), Ok(vec![Message::default()]));
    }

    #[test]
    fn string_headers_are_kept_and_other_types_skipped() {
        let mut h = Vec::new();
        let mut header = |name: &str, kind: u8, value: &[u8]| {
            h.push(u8::try_from(name.len()).unwrap());
            h.extend_from_slice(name.as_bytes());
            h.push(kind);
            h.extend_from_slice(value);
        };
        header("t", 0, b"");
        header("f", 1, b"");
        header("b", 2, &[7]);
        header("s", 3, &[0, 1]);
        header("i", 4, &[0, 0, 0, 1]);
        header(":event-type", 7, b"\x00\x0bchunk-event");
        header("l", 5, &[0; 8]);
        header("bytes", 6, b"\x00\x03abc");
        header("ts", 8, &[0; 8]);
        header("id", 9, &[0; 16]);
        header(":content-type", 7, b"\x00\x10application/json");
        let bytes = encode_raw(&h, b"{}");
        let got = decode_all(&[&bytes]).unwrap();
        assert_eq!(
            got,
            [Message {
                headers: vec![
                    (":event-type".into(), "chunk-event".into()),
                    (":content-type".into(), "application/json".into())
                ],
                payload: b"{}".to_vec(),
            }]
        );
        assert_eq!(got[0].header(":event-type"), Some("chunk-event"));
        assert_eq!(got[0].header("missing"), None);
    }

    #[test]
    fn corruption_is_an_error() {
        let good = encode(&[(":event-type", "x")], b"payload");
        let flip = |i: usize| {
            let mut b = good.clone();
            b[i] ^= 1;
            decode_all(&[&b])
        };
        assert_eq!(flip(3), Err(FrameError::PreludeCrc));
        assert_eq!(flip(9), Err(FrameError::PreludeCrc));
        assert_eq!(flip(good.len() - 3), Err(FrameError::MessageCrc));
        assert_eq!(flip(20), Err(FrameError::MessageCrc));
        // A bad header type, with CRCs that match.
        let bad = encode_raw(b"\x01x\x0b", b"");
        assert_eq!(decode_all(&[&bad]), Err(FrameError::Header));
        let short = encode_raw(b"\x05ab", b"");
        assert_eq!(decode_all(&[&short]), Err(FrameError::Header));
        // Lengths past the limit are refused before anything is buffered.
        let mut d = Decoder::new(64);
        let big = encode(&[], &[0; 100]);
        assert_eq!(
            d.push(&big[..12], &mut Vec::new()),
            Err(FrameError::Length(116))
        );
    }

    #[test]
    fn a_partial_message_waits() {
        let m = encode(
            &[(":event-type", "messageStop")],
            b"{\"stopReason\":\"end_turn\"}",
        );
        let mut d = Decoder::new(MAX_MESSAGE);
        let mut out = Vec::new();
        d.push(&m[..m.len() - 1], &mut out).unwrap();
        assert!(out.is_empty());
        d.push(&m[m.len() - 1..], &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].header(":event-type"), Some("messageStop"));
    }

    proptest! {
        // However the bytes are split, the messages are the same.
        #[test]
        fn split_invariant(
            messages in proptest::collection::vec(("[a-z:-]{1,12}", "[a-zA-Z]{0,10}", proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
            cuts in proptest::collection::vec(0usize..400, 0..8),
        ) {
            let mut bytes = Vec::new();
            for (name, value, payload) in &messages {
                bytes.extend(encode(&[(name, value)], payload));
            }
            let whole = decode_all(&[&bytes]).unwrap();
            prop_assert_eq!(whole.len(), messages.len());
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts { pieces.push(&bytes[last..c]); last = c; }
            pieces.push(&bytes[last..]);
            prop_assert_eq!(decode_all(&pieces).unwrap(), whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
            let mut d = Decoder::new(256);
            let mut out = Vec::new();
            let cut = cut.min(bytes.len());
            if d.push(&bytes[..cut], &mut out).is_ok() {
                let _ = d.push(&bytes[cut..], &mut out);
            }
        }

        // A valid prelude followed by garbage: still no panic.
        #[test]
        fn valid_prelude_garbage_body_never_panics(
            headers_len in 0u32..64, total in 0u32..128, body in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut m = Vec::new();
            m.extend_from_slice(&total.to_be_bytes());
            m.extend_from_slice(&headers_len.to_be_bytes());
            let crc = crc32(&m);
            m.extend_from_slice(&crc.to_be_bytes());
            m.extend_from_slice(&body);
            let _ = decode_all(&[&m]);
        }
    }
}
