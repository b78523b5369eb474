//! Heading-aware chunking by tokens with overlap.
//!
//! A document's text is cut first at its Markdown ATX headings (`#` to `######`, never inside a
//! fenced code block), so a chunk never straddles two sections and carries its section's heading
//! path ("Guide > Install > Linux"). A section that fits `max_tokens` is one chunk, verbatim. A
//! longer one is cut into pieces — paragraphs, then lines and sentences, then words — which are
//! packed greedily up to `max_tokens`; each chunk after the first in a section begins with up to
//! `overlap` tokens carried from the end of the one before (whole pieces where they fit, else
//! whole words: a word is never cut). Overlap never crosses a section boundary.
//!
//! A section that is only a heading (a `# Guide` directly followed by `## Install`) is merged into
//! the next section, so its words are not lost and no chunk is a bare heading; the chunk's path is
//! the next section's (`Guide > Install`). Only a heading at the very end stands alone. Setext
//! headings (underlined) are read as text.
//!
//! `count` is called once per section, then only on the pieces of sections too long to fit and
//! once per emitted chunk, so the work is linear in the text's size. Piece counts are summed when
//! packing, which is exact for counters that pre-split on whitespace (WordPiece, a word counter).
//! `count` should count the text's own tokens without a per-call overhead such as `[CLS]` and
//! `[SEP]` (add those when sizing the model's window): an overhead counted for every piece and
//! word makes chunks and overlaps smaller than asked.

/// How to cut: at most `max_tokens` per chunk, `overlap` tokens repeated between neighbours.
/// `overlap` is capped at half of `max_tokens`, so every chunk moves forward by at least half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpec {
    /// The most tokens a chunk may hold (a single word longer than this is its own chunk); 0 is
    /// read as 1.
    pub max_tokens: usize,
    /// Tokens carried from the end of one chunk to the start of the next in the same section.
    pub overlap: usize,
}

/// One chunk: its section's heading path, its text and its token count (by the caller's counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The heading path, outermost first, joined by " > "; `None` before the first heading.
    pub heading: Option<String>,
    /// The chunk's text: a section verbatim, or its pieces joined by their original separators.
    pub text: String,
    /// `count(&text)`.
    pub tokens: u32,
}

/// Cuts `text` into chunks (see the module doc). Empty or whitespace-only input gives none.
pub fn chunk(text: &str, spec: ChunkSpec, count: &dyn Fn(&str) -> usize) -> Vec<Chunk> {
    let max = spec.max_tokens.max(1);
    let overlap = spec.overlap.min(max / 2);
    let mut out = Vec::new();
    for section in sections(text) {
        let (Some(first), Some(last)) = (section.blocks.first(), section.blocks.last()) else {
            continue;
        };
        let body = &text[first.0..last.1];
        let tokens = count(body);
        if tokens <= max {
            out.push(Chunk {
                heading: section.path.clone(),
                text: body.to_owned(),
                tokens: to_u32(tokens),
            });
            continue;
        }
        let mut pieces = Vec::new();
        for &(start, end) in &section.blocks {
            split_block(&text[start..end], Sep::Paragraph, max, count, &mut pieces);
        }
        pack(
            &pieces,
            max,
            overlap,
            section.path.as_ref(),
            count,
            &mut out,
        );
    }
    out
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A section: its heading path and its blocks (byte ranges of `text`: the heading line,
/// paragraphs, fenced code blocks), in order.
struct Section {
    path: Option<String>,
    blocks: Vec<(usize, usize)>,
}

/// Splits text into sections at ATX headings outside fenced code, and each section into blocks
/// separated by blank lines (a fenced block is one block, blank lines and all).
fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut current = Section {
        path: None,
        blocks: Vec::new(),
    };
    // Whether the current section holds anything besides heading lines.
    let mut has_body = false;
    let mut block: Option<(usize, usize)> = None;
    let mut fence: Option<(u8, usize)> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let end = start + line.len();
        if let Some((ch, len)) = fence {
            if closes_fence(line, ch, len) {
                fence = None;
            }
            extend(&mut block, start, end);
            continue;
        }
        if let Some(open) = opens_fence(line) {
            fence = Some(open);
            extend(&mut block, start, end);
            has_body = true;
            continue;
        }
        if line.trim().is_empty() {
            if let Some(b) = block.take() {
                current.blocks.push(b);
            }
            continue;
        }
        if let Some((level, title)) = atx_heading(line) {
            if let Some(b) = block.take() {
                current.blocks.push(b);
            }
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, title.to_owned()));
            let path = heading_path(&stack);
            if has_body || current.blocks.is_empty() {
                // The section before is done (or empty); a heading-only one is kept and merged.
                let done = std::mem::replace(
                    &mut current,
                    Section {
                        path,
                        blocks: Vec::new(),
                    },
                );
                if !done.blocks.is_empty() {
                    out.push(done);
                }
            } else {
                current.path = path;
            }
            has_body = false;
            current
                .blocks
                .push((start + (line.len() - line.trim_start().len()), end));
            continue;
        }
        has_body = true;
        extend(&mut block, start, end);
    }
    if let Some(b) = block.take() {
        current.blocks.push(b);
    }
    if !current.blocks.is_empty() {
        out.push(current);
    }
    out
}

fn extend(block: &mut Option<(usize, usize)>, start: usize, end: usize) {
    match block {
        Some(b) => b.1 = end,
        None => *block = Some((start, end)),
    }
}

fn heading_path(stack: &[(usize, String)]) -> Option<String> {
    let parts: Vec<&str> = stack
        .iter()
        .map(|(_, t)| t.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" > "))
    }
}

/// Up to three spaces of indent, then the line's first non-space bytes.
fn unindent(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    (line.len() - trimmed.len() <= 3).then_some(trimmed)
}

/// An ATX heading: its level and its text without the closing `#`s.
fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let rest = unindent(line)?;
    let level = rest.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let mut title = after.trim();
    // A closing sequence of `#`s counts only after a space (or alone).
    let without = title.trim_end_matches('#');
    if without.is_empty() || without.ends_with([' ', '\t']) {
        title = without.trim_end();
    }
    Some((level, title))
}

fn opens_fence(line: &str) -> Option<(u8, usize)> {
    let rest = unindent(line)?;
    let ch = *rest.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = rest.bytes().take_while(|&b| b == ch).count();
    if len < 3 || (ch == b'`' && rest[len..].contains('`')) {
        return None;
    }
    Some((ch, len))
}

fn closes_fence(line: &str, ch: u8, len: usize) -> bool {
    let Some(rest) = unindent(line) else {
        return false;
    };
    let run = rest.bytes().take_while(|&b| b == ch).count();
    run >= len && rest[run..].trim().is_empty()
}

/// What stood between a piece and the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Paragraph,
    Line,
    Space,
}

impl Sep {
    fn as_str(self) -> &'static str {
        match self {
            Sep::Paragraph => "\n\n",
            Sep::Line => "\n",
            Sep::Space => " ",
        }
    }
}

struct Piece<'a> {
    text: &'a str,
    sep: Sep,
    tokens: usize,
}

/// Pushes `block` as one piece if it fits, else its lines and sentences, else their words.
fn split_block<'a>(
    block: &'a str,
    sep: Sep,
    max: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Piece<'a>>,
) {
    let tokens = count(block);
    if tokens <= max {
        out.push(Piece {
            text: block,
            sep,
            tokens,
        });
        return;
    }
    let sentences = sentences(block);
    if sentences.len() > 1 {
        for (i, (s, inner)) in sentences.into_iter().enumerate() {
            split_block(s, if i == 0 { sep } else { inner }, max, count, out);
        }
        return;
    }
    for (i, word) in block.split_whitespace().enumerate() {
        let sep = if i == 0 { sep } else { Sep::Space };
        out.push(Piece {
            text: word,
            sep,
            tokens: count(word),
        });
    }
}

/// Cuts a block after each line break and after `.`, `!` or `?` (with closing quotes or
/// brackets) followed by whitespace; each sentence comes with what separated it from the last.
fn sentences(block: &str) -> Vec<(&str, Sep)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut sep = Sep::Space;
    let bytes = block.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let cut = if b == b'\n' {
            Some((i, Sep::Line))
        } else if matches!(b, b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b')' | b']') {
                j += 1;
            }
            (j < bytes.len() && bytes[j].is_ascii_whitespace()).then_some((j, Sep::Space))
        } else {
            None
        };
        if let Some((end, next_sep)) = cut {
            let s = block[start..end].trim();
            if !s.is_empty() {
                out.push((s, sep));
                sep = next_sep;
            } else if next_sep == Sep::Line {
                sep = Sep::Line;
            }
            start = end;
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    let s = block[start..].trim();
    if !s.is_empty() {
        out.push((s, sep));
    }
    out
}

/// A piece inside a chunk being built; carried pieces may be word runs of a longer piece.
#[derive(Clone)]
struct Held {
    text: String,
    sep: Sep,
    tokens: usize,
}

fn pack(
    pieces: &[Piece<'_>],
    max: usize,
    overlap: usize,
    path: Option<&String>,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Chunk>,
) {
    let mut held: Vec<Held> = Vec::new();
    let mut sum = 0usize;
    // Whether `held` has anything new since the last chunk (not only carried overlap).
    let mut fresh = false;
    for piece in pieces {
        if fresh && sum + piece.tokens > max {
            emit(&held, path, count, out);
            let budget = overlap.min(max.saturating_sub(piece.tokens));
            held = carry(&held, budget, count);
            sum = held.iter().map(|h| h.tokens).sum();
        }
        held.push(Held {
            text: piece.text.to_owned(),
            sep: piece.sep,
            tokens: piece.tokens,
        });
        sum += piece.tokens;
        fresh = true;
    }
    if fresh {
        emit(&held, path, count, out);
    }
}

fn emit(held: &[Held], path: Option<&String>, count: &dyn Fn(&str) -> usize, out: &mut Vec<Chunk>) {
    let mut text = String::new();
    for (i, h) in held.iter().enumerate() {
        if i > 0 {
            text.push_str(h.sep.as_str());
        }
        text.push_str(&h.text);
    }
    let tokens = to_u32(count(&text));
    out.push(Chunk {
        heading: path.cloned(),
        text,
        tokens,
    });
}

/// The tail of `held` worth at most `budget` tokens: whole pieces from the end while they fit,
/// then the whole words at the end of the next piece that fit.
fn carry(held: &[Held], budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<Held> {
    let mut out: Vec<Held> = Vec::new();
    let mut left = budget;
    for h in held.iter().rev() {
        if h.tokens <= left {
            left -= h.tokens;
            out.push(h.clone());
            continue;
        }
        let mut words: Vec<&str> = Vec::new();
        let mut tokens = 0;
        for word in h.text.split_whitespace().rev() {
            let n = count(word);
            if n > left {
                break;
            }
            left -= n;
            tokens += n;
            words.push(word);
        }
        if !words.is_empty() {
            words.reverse();
            out.push(Held {
                text: words.join(" "),
                sep: Sep::Space,
                tokens,
            });
        }
        break;
    }
    out.reverse();
    out
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

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn run(text: &str, max_tokens: usize, overlap: usize) -> Vec<Chunk> {
        chunk(
            text,
            ChunkSpec {
                max_tokens,
                overlap,
            },
            &words,
        )
    }

    fn headings(chunks: &[Chunk]) -> Vec<Option<&str>> {
        chunks.iter().map(|c| c.heading.as_deref()).collect()
    }

    #[test]
    fn empty_and_blank_input_give_no_chunks() {
        assert!(run("", 10, 2).is_empty());
        assert!(run(" \n\n\t \n", 10, 2).is_empty());
    }

    #[test]
    fn a_section_that_fits_is_one_verbatim_chunk_with_its_heading_path() {
        let text = "Intro line.\n\n# Guide\n\nRead me.\n\n## Install\n\n### Linux\n\nRun apt.\n\n## Use\nIt works.\n";
        let chunks = run(text, 50, 5);
        assert_eq!(
            headings(&chunks),
            [
                None,
                Some("Guide"),
                Some("Guide > Install > Linux"),
                Some("Guide > Use")
            ]
        );
        assert_eq!(chunks[0].text, "Intro line.");
        assert_eq!(chunks[1].text, "# Guide\n\nRead me.");
        // `## Install` has no body of its own: it is merged into `### Linux`.
        assert_eq!(chunks[2].text, "## Install\n\n### Linux\n\nRun apt.");
        assert_eq!(chunks[3].text, "## Use\nIt works.");
        assert_eq!(chunks[3].tokens, 4);
    }

    #[test]
    fn headings_inside_fences_and_lookalikes_are_not_headings() {
        let text = "# Top\n\n```sh\n# not a heading\n\nstill code\n```\n\n#hashtag\n    # indented code\n## Closed ##\nbody\n";
        let chunks = run(text, 100, 0);
        assert_eq!(headings(&chunks), [Some("Top"), Some("Top > Closed")]);
        assert!(chunks[0].text.contains("# not a heading\n\nstill code"));
        assert!(chunks[0].text.contains("#hashtag"));
    }

    #[test]
    fn a_trailing_heading_only_section_is_still_a_chunk() {
        let chunks = run("text\n\n# End\n", 10, 0);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].text, "# End");
        assert_eq!(chunks[1].heading.as_deref(), Some("End"));
    }

    #[test]
    fn long_sections_split_at_paragraphs_then_sentences_then_words() {
        let text = "# H\n\none two three.\n\nfour five six seven. eight nine.\n\nten eleven twelve thirteen fourteen fifteen";
        let chunks = run(text, 4, 0);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "# H",
                "one two three.",
                "four five six seven.",
                "eight nine.\n\nten eleven",
                "twelve thirteen fourteen fifteen"
            ]
        );
        assert!(chunks.iter().all(|c| c.heading.as_deref() == Some("H")));
    }

    #[test]
    fn overlap_carries_whole_words_from_the_previous_chunk() {
        let text = "a b c d e f g h i j";
        let chunks = run(text, 4, 2);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["a b c d", "c d e f", "e f g h", "g h i j"]);
        // Overlap is capped at half of max_tokens.
        let capped = run(text, 4, 9);
        assert_eq!(capped[1].text, "c d e f");
    }

    #[test]
    fn overlap_prefers_whole_pieces_and_keeps_their_separators() {
        let text = "one two.\nthree four.\nfive six. seven eight.";
        let chunks = run(text, 4, 2);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "one two.\nthree four.",
                "three four.\nfive six.",
                "five six. seven eight."
            ]
        );
    }

    #[test]
    fn a_word_longer_than_the_limit_is_its_own_chunk() {
        let count = |s: &str| s.split_whitespace().map(|w| w.len()).sum::<usize>();
        let chunks = chunk(
            "ab cd abcdefghij ef",
            ChunkSpec {
                max_tokens: 4,
                overlap: 2,
            },
            &count,
        );
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["ab cd", "abcdefghij", "ef"]);
    }

    #[test]
    fn counting_is_linear_in_the_input() {
        // A 1 MB document of long sections: the counter must see each byte a bounded number of
        // times, not the remaining text again for every chunk.
        let para = "The travel desk books flights and hotels for business trips. ".repeat(8);
        let section = format!("## Travel\n\n{}\n\n", [para.as_str(); 40].join("\n\n"));
        let text = format!("# Handbook\n\n{}", section.repeat(50));
        let seen = std::cell::Cell::new(0usize);
        let count = |s: &str| {
            seen.set(seen.get() + s.len());
            s.split_whitespace().count()
        };
        let chunks = chunk(
            &text,
            ChunkSpec {
                max_tokens: 300,
                overlap: 40,
            },
            &count,
        );
        assert!(chunks.len() > 100);
        assert!(
            seen.get() < 6 * text.len(),
            "{} bytes counted for {}",
            seen.get(),
            text.len()
        );
    }

    fn words_in_order(input: &str, chunks: &[Chunk], overlap: usize) {
        // Walk the input's words: each chunk must continue where the last one stopped, after
        // re-reading at most `overlap` words (a whitespace counter makes tokens words). Repeated
        // words can make that ambiguous, so every consistent position is followed.
        let all: Vec<&str> = input.split_whitespace().collect();
        let mut positions = std::collections::BTreeSet::from([0usize]);
        for c in chunks {
            let cw: Vec<&str> = c.text.split_whitespace().collect();
            positions = positions
                .iter()
                .flat_map(|&pos| (0..=overlap.min(pos)).map(move |b| (pos, b)))
                .filter(|&(pos, b)| all[pos - b..].starts_with(&cw))
                .map(|(pos, b)| pos - b + cw.len())
                .collect();
            assert!(
                !positions.is_empty(),
                "chunk {:?} does not continue the input",
                c.text
            );
        }
        assert!(
            positions.contains(&all.len()),
            "every word is in some chunk"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn chunks_cover_the_input_in_order_within_limits(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-z]{1,8}[.!?]?",
                    Just(". ".to_owned()),
                    Just("\n".to_owned()),
                    Just("\n\n".to_owned()),
                    Just("\n# Title\n".to_owned()),
                    Just("\n## Sub\n".to_owned()),
                    Just("\n```\n".to_owned()),
                    Just(" ".to_owned()),
                ],
                0..200,
            ),
            max in 1usize..30,
            overlap in 0usize..15,
        ) {
            // Words made unique, so a chunk's place in the input is unambiguous.
            let input = parts
                .iter()
                .enumerate()
                .map(|(i, p)| if p.starts_with(|c: char| c.is_ascii_lowercase()) { format!("w{i}{p}") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(" ");
            let chunks = run(&input, max, overlap);
            for c in &chunks {
                prop_assert!(words(&c.text) <= max || words(&c.text) == 1, "chunk over the limit");
                prop_assert_eq!(c.tokens as usize, words(&c.text));
                prop_assert!(!c.text.trim().is_empty());
            }
            words_in_order(&input, &chunks, overlap.min(max / 2));
        }

        #[test]
        fn never_panics_on_arbitrary_text(input in "\\PC{0,400}", max in 0usize..20, overlap in 0usize..20) {
            let chunks = run(&input, max, overlap);
            if input.trim().is_empty() {
                prop_assert!(chunks.is_empty());
            }
        }
    }
}
