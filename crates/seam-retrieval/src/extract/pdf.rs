//! PDF: the text of each page, in content-stream order, read with `lopdf` (pure Rust, no C
//! library, nothing downloaded at build time). `pdf-extract` lays out text better but builds
//! six more crates on `lopdf` and unwraps freely on malformed input; here a damaged file must be
//! an error, never a panic. So this module walks each page's text operators itself: `Tj`, `TJ`,
//! `'` and `"` show text (decoded by the font's encoding or ToUnicode map, through `lopdf`), a
//! move to another line (`Td`, `TD`, `T*`, `Tm`, `ET`) ends a line, and a wide gap in a `TJ`
//! array is a space. Pages are joined by paragraph breaks; the Info `Title` is the title.
//!
//! Untrusted input stays bounded: a page's content streams are inflated with a cap (a
//! decompression bomb is an error, not an allocation), and the text kept is capped in total.
//! A file that needs a password is refused (Seam takes none; one with only an owner password
//! opens), and so is anything that does not parse.

use std::collections::BTreeMap;

use lopdf::content::Content;
use lopdf::{Document, Encoding, Object, ObjectId};

use super::{ExtractError, Extracted, PdfProblem};

/// The most bytes one page's content streams may inflate to.
pub(super) const MAX_PAGE_CONTENT: usize = 32 << 20;
/// The most bytes all of a document's page content may inflate to (pages may share a stream).
pub(super) const MAX_DOC_CONTENT: usize = 256 << 20;
/// The most text, in bytes, one document may yield.
pub(super) const MAX_TEXT: usize = 64 << 20;

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let fail = ExtractError::Pdf;
    let doc = Document::load_mem(bytes).map_err(|e| {
        let encrypted = looks_encrypted(bytes)
            || matches!(
                e,
                lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword
            );
        fail(if encrypted {
            PdfProblem::Encrypted
        } else {
            PdfProblem::Unreadable
        })
    })?;
    if doc.trailer.get(b"Encrypt").is_ok() {
        return Err(fail(PdfProblem::Encrypted));
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(fail(PdfProblem::Unreadable));
    }
    let mut text = String::new();
    let mut budget = MAX_DOC_CONTENT;
    for (&number, &page_id) in &pages {
        let page = page_text(&doc, page_id, &mut budget)
            .map_err(|p| fail(p.unwrap_or(PdfProblem::Page(number))))?;
        let page = tidy(&page);
        if page.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&page);
        if text.len() > MAX_TEXT {
            return Err(fail(PdfProblem::TooLarge(MAX_TEXT)));
        }
    }
    Ok(Extracted {
        title: info_title(&doc),
        text,
        ..Extracted::default()
    })
}

/// A page's content, its streams inflated within [`MAX_PAGE_CONTENT`] in all and within what is
/// left of the document's `budget`. `Err(None)` when
/// a stream cannot be decoded, `Err(Some(TooLarge))` past the cap.
fn page_content(
    doc: &Document,
    page_id: ObjectId,
    budget: &mut usize,
) -> Result<Vec<u8>, Option<PdfProblem>> {
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        if *budget == 0 {
            return Err(Some(PdfProblem::TooLarge(MAX_DOC_CONTENT)));
        }
        let page_left = MAX_PAGE_CONTENT.saturating_sub(content.len());
        let (left, cap) = if page_left <= *budget {
            (page_left, MAX_PAGE_CONTENT)
        } else {
            (*budget, MAX_DOC_CONTENT)
        };
        let filters = stream.filters().unwrap_or_default();
        let params = stream.dict.get(b"DecodeParms").is_ok();
        let data = match (filters.as_slice(), params) {
            ([], _) => stream.content.clone(),
            ([b"FlateDecode"], false) => {
                miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&stream.content, left)
                    .map_err(|e| match e.status {
                        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                            Some(PdfProblem::TooLarge(cap))
                        }
                        _ => None,
                    })?
            }
            // Other filters (LZW, ASCII85, predictors) are rare in page content and cannot
            // inflate as far as Flate; lopdf decodes them, and the cap is checked after.
            _ => stream.decompressed_content().map_err(|_| None)?,
        };
        if data.len() > left {
            return Err(Some(PdfProblem::TooLarge(cap)));
        }
        *budget = budget.saturating_sub(data.len());
        content.extend_from_slice(&data);
        content.push(b'\n');
    }
    Ok(content)
}

/// The text of one page, by its text operators.
fn page_text(
    doc: &Document,
    page_id: ObjectId,
    budget: &mut usize,
) -> Result<String, Option<PdfProblem>> {
    let data = page_content(doc, page_id, budget)?;
    let content = Content::decode(&data).map_err(|_| None)?;
    let fonts = doc.get_page_fonts(page_id).unwrap_or_default();
    let encodings: BTreeMap<Vec<u8>, Encoding<'_>> = fonts
        .into_iter()
        .filter_map(|(name, font)| font.get_font_encoding(doc).ok().map(|e| (name, e)))
        .collect();
    let mut out = String::new();
    let mut encoding: Option<&Encoding<'_>> = None;
    // The y of the last text matrix (`Tm`), to tell a new line from a move along it.
    let mut line_y: Option<f32> = None;
    for op in &content.operations {
        let operands = &op.operands;
        match op.operator.as_str() {
            "Tf" => {
                encoding = operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|n| encodings.get(n));
            }
            "Tj" => show(&mut out, encoding, operands.first()),
            "TJ" => {
                if let Some(Object::Array(items)) = operands.first() {
                    for item in items {
                        match item {
                            Object::Integer(_) | Object::Real(_) => {
                                // A gap of a fifth of an em or more reads as a word space.
                                if item.as_float().is_ok_and(|n| n < -200.0) {
                                    space(&mut out);
                                }
                            }
                            other => show(&mut out, encoding, Some(other)),
                        }
                    }
                }
            }
            "'" => {
                newline(&mut out);
                show(&mut out, encoding, operands.first());
            }
            "\"" => {
                newline(&mut out);
                show(&mut out, encoding, operands.get(2));
            }
            "T*" | "ET" => newline(&mut out),
            "Td" | "TD" => {
                let dy = operands
                    .get(1)
                    .and_then(|o| o.as_float().ok())
                    .unwrap_or(0.0);
                if dy != 0.0 {
                    newline(&mut out);
                } else {
                    space(&mut out);
                }
            }
            "Tm" => {
                let y = operands.get(5).and_then(|o| o.as_float().ok());
                if y != line_y {
                    newline(&mut out);
                }
                line_y = y;
            }
            _ => {}
        }
        if out.len() > MAX_TEXT {
            return Err(Some(PdfProblem::TooLarge(MAX_TEXT)));
        }
    }
    Ok(out)
}

fn show(out: &mut String, encoding: Option<&Encoding<'_>>, operand: Option<&Object>) {
    let (Some(encoding), Some(Object::String(bytes, _))) = (encoding, operand) else {
        return;
    };
    if let Ok(text) = Document::decode_text(encoding, bytes.as_slice()) {
        out.push_str(&text);
    }
}

fn space(out: &mut String) {
    if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
}

fn newline(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// An `/Encrypt` entry in the trailer, found by bytes when the file did not load.
fn looks_encrypted(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

/// Lines trimmed, space runs collapsed, blank runs collapsed to one blank line.
fn tidy(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank = false;
    for line in page.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(&line);
    }
    out
}

/// The Info dictionary's `Title` (a PDF text string: UTF-16 with a byte-order mark, or
/// PDFDocEncoding).
fn info_title(doc: &Document) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_object(*id).ok()?,
        other => other,
    };
    let title = lopdf::decode_text_string(info.as_dict().ok()?.get(b"Title").ok()?).ok()?;
    let title = title.trim().to_owned();
    (!title.is_empty()).then_some(title)
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

    const HANDBOOK: &[u8] = include_bytes!("../../tests/data/handbook.pdf");
    const HANDBOOK_TTF: &[u8] = include_bytes!("../../tests/data/handbook-ttf.pdf");
    const ENCRYPTED: &[u8] = include_bytes!("../../tests/data/encrypted.pdf");

    #[test]
    fn pages_and_title_come_out_of_a_real_pdf() {
        for bytes in [HANDBOOK, HANDBOOK_TTF] {
            let doc = extract(bytes).unwrap();
            assert_eq!(doc.title.as_deref(), Some("Travel Handbook"));
            // Line wraps differ between the two fonts; the words, lines and page break do not.
            let want = "Travel Handbook Business trips to Zürich are booked through the travel desk. Meal allowances are capped at 45 euros per day. Expenses Claims are reimbursed within 14 days after approval. Second page Mileage is paid at 0.30 euros per kilometre.";
            assert_eq!(
                doc.text.split_whitespace().collect::<Vec<_>>().join(" "),
                want
            );
            assert!(
                doc.text.starts_with("Travel Handbook\nBusiness trips"),
                "{}",
                doc.text
            );
            assert!(
                doc.text.contains("approval.\n\nSecond page\nMileage"),
                "{}",
                doc.text
            );
        }
    }

    #[test]
    fn encrypted_and_damaged_pdfs_are_clear_errors() {
        assert_eq!(
            extract(ENCRYPTED).unwrap_err(),
            ExtractError::Pdf(PdfProblem::Encrypted)
        );
        assert_eq!(
            extract(b"%PDF-1.7\nnot really").unwrap_err(),
            ExtractError::Pdf(PdfProblem::Unreadable)
        );
        assert_eq!(
            extract(b"").unwrap_err(),
            ExtractError::Pdf(PdfProblem::Unreadable)
        );
        let truncated = &HANDBOOK[..HANDBOOK.len() / 2];
        assert!(extract(truncated).is_err());
        assert_eq!(
            ExtractError::Pdf(PdfProblem::Encrypted).to_string(),
            "pdf: the document is encrypted; decrypt it before ingesting"
        );
    }

    /// A one-page PDF whose content stream is `content`, Flate-compressed.
    fn one_page(content: &[u8]) -> Vec<u8> {
        use lopdf::{Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        });
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(content, 6);
        let content_id = doc.add_object(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            compressed,
        ));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
            ),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn text_operators_make_words_and_lines() {
        let content = b"BT /F1 12 Tf 72 720 Td (Hello) Tj 30 0 Td [(wor) -20 (ld) -400 (again)] TJ 0 -14 Td (next line) Tj T* (third) Tj ET";
        let doc = extract(&one_page(content)).unwrap();
        assert_eq!(doc.text, "Hello world again\nnext line\nthird");
        assert_eq!(doc.title, None);
    }

    #[test]
    fn a_decompression_bomb_is_refused_not_inflated() {
        // 40 MiB of spaces compress to about 40 KiB.
        let bomb = one_page(&vec![b' '; 40 << 20]);
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert_eq!(
            extract(&bomb).unwrap_err(),
            ExtractError::Pdf(PdfProblem::TooLarge(MAX_PAGE_CONTENT))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn damaged_pdfs_never_panic(cut in 0usize..2000, flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8)) {
            let mut bytes = HANDBOOK.to_vec();
            for (at, b) in flips {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            bytes.truncate(cut.min(bytes.len()));
            let _ = extract(&bytes);
        }

        #[test]
        fn damaged_font_tables_never_panic(flips in proptest::collection::vec((0usize..20_000, any::<u8>()), 1..16)) {
            // The embedded-font file: damage lands in fonts, ToUnicode maps and content alike.
            let mut bytes = HANDBOOK_TTF.to_vec();
            for (at, b) in flips {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            let _ = extract(&bytes);
        }
    }
}
