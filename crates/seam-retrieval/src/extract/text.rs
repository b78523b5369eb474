//! Plain text, and the decoding every text format shares: strict UTF-8, no BOM, LF line ends.

use super::{ExtractError, Format};

/// `bytes` as UTF-8 without a leading BOM, CRLF and lone CR turned into LF. A bad byte is an
/// error naming its offset in `bytes`.
pub(super) fn decode(format: Format, bytes: &[u8]) -> Result<String, ExtractError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let skip = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let text = std::str::from_utf8(&bytes[skip..]).map_err(|e| ExtractError::Utf8 {
        format,
        offset: skip + e.valid_up_to(),
    })?;
    Ok(normalise_newlines(text))
}

/// CRLF and lone CR → LF.
pub(super) fn normalise_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_owned();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
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
    fn text_is_strict_utf8_without_bom_with_lf_line_ends() {
        let got = decode(Format::Text, "\u{FEFF}Zürich\r\nline\rend\n".as_bytes()).unwrap();
        assert_eq!(got, "Zürich\nline\nend\n");
        let err = decode(Format::Text, b"\xEF\xBB\xBFab\xC3(").unwrap_err();
        assert_eq!(
            err,
            ExtractError::Utf8 {
                format: Format::Text,
                offset: 5
            }
        );
    }
}
