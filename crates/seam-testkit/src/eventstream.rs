//! AWS event-stream framing, as Bedrock's `ConverseStream` writes it: `total length · headers
//! length · prelude CRC32 · headers · payload · message CRC32`, integers big-endian, CRCs IEEE.
//! Written here from the format's description, independently of Seam's decoder.

use bytes::Bytes;
use serde_json::Value;

/// A message with string headers (type 7) and `payload`.
pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut h = Vec::new();
    for (name, value) in headers {
        // Header names and values here are short literals and mock ids: far under the limits.
        h.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    raw_frame(&h, payload)
}

fn raw_frame(headers: &[u8], payload: &[u8]) -> Bytes {
    let total = 16 + headers.len() + payload.len();
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(
        &u32::try_from(headers.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    let prelude_crc = crc32(&m);
    m.extend_from_slice(&prelude_crc.to_be_bytes());
    m.extend_from_slice(headers);
    m.extend_from_slice(payload);
    let crc = crc32(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(m)
}

/// An `event` message of type `event_type` with a JSON payload.
pub(crate) fn event(event_type: &str, payload: &Value) -> Bytes {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An `exception` message, which ends a stream in error.
pub(crate) fn exception(exception_type: &str, message: &str) -> Bytes {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        serde_json::json!({ "message": message })
            .to_string()
            .as_bytes(),
    )
}

/// The same message with its payload cut in half, re-framed with valid CRCs: the event-stream
/// form of `fault-truncated-json`, so the framing is sound and only the JSON is broken.
pub(crate) fn truncate(message: &Bytes) -> Bytes {
    let word = |at: usize| {
        message
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_be_bytes(b) as usize)
    };
    let (total, headers_len) = (word(0), word(4));
    let (Some(headers), Some(payload)) = (
        message.get(12..12 + headers_len),
        message.get(12 + headers_len..total.saturating_sub(4)),
    ) else {
        return message.clone();
    };
    raw_frame(headers, &payload[..payload.len() / 2])
}

/// IEEE CRC-32, bit by bit: slow, obviously right, and plenty for a mock.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crc_and_the_empty_message_vector() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // aws-c-event-stream's `encoded/positive/empty_message`.
        let empty = [
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
            0xc8, 0xff,
        ];
        assert_eq!(frame(&[], b"").as_ref(), empty);
    }

    #[test]
    fn truncation_keeps_the_frame_valid() {
        let whole = event(
            "contentBlockDelta",
            &json!({"delta": {"text": "hello world"}}),
        );
        let cut = truncate(&whole);
        assert!(cut.len() < whole.len());
        let total = u32::from_be_bytes(cut[..4].try_into().unwrap()) as usize;
        assert_eq!(total, cut.len());
        let crc = u32::from_be_bytes(cut[total - 4..].try_into().unwrap());
        assert_eq!(crc, crc32(&cut[..total - 4]));
    }
}
