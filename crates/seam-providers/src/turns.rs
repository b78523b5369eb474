//! Conversations for providers that want strictly alternating turns of typed blocks (Anthropic,
//! Gemini, Bedrock): consecutive messages of one role merge into one turn, tool results lead their
//! turn, and text the provider would reject (empty) is left out. Each provider implements the two
//! traits for its own wire structs; the rules live here once.

use seam_types::chat::{Content, ContentPart};

use crate::ProviderError;

pub(crate) trait Block: Sized {
    /// Tool results must come before any other block of a turn.
    fn is_tool_result(&self) -> bool;
    /// A text block, or `None` for text this provider rejects.
    fn text(text: &str) -> Option<Self>;
}

pub(crate) trait Turn {
    type Block: Block;
    fn start(role: &'static str) -> Self;
    fn role(&self) -> &'static str;
    fn blocks(&mut self) -> &mut Vec<Self::Block>;
}

/// Appends `blocks` to the last turn when it has `role`, else opens a new turn.
pub(crate) fn push<T: Turn>(turns: &mut Vec<T>, role: &'static str, blocks: Vec<T::Block>) {
    if blocks.is_empty() {
        return;
    }
    let turn = match turns.last_mut() {
        Some(last) if last.role() == role => last,
        _ => {
            turns.push(T::start(role));
            let Some(last) = turns.last_mut() else {
                return; // unreachable: just pushed
            };
            last
        }
    };
    let existing = turn.blocks();
    for b in blocks {
        if b.is_tool_result() {
            let at = existing.iter().take_while(|b| b.is_tool_result()).count();
            existing.insert(at, b);
        } else {
            existing.push(b);
        }
    }
}

/// A message's content as blocks: a string becomes one text block; parts go through `part`
/// (given the part's index), which may refuse what its provider cannot take.
pub(crate) fn content<B: Block>(
    content: Option<&Content>,
    mut part: impl FnMut(usize, &ContentPart, &mut Vec<B>) -> Result<(), ProviderError>,
) -> Result<Vec<B>, ProviderError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(Content::Text(text)) => out.extend(B::text(text)),
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                part(j, p, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Implements [`Turn`] for a wire struct with a `role: &'static str` and a `Vec` of blocks.
macro_rules! impl_turn {
    ($wire:ident, $field:ident, $block:ty) => {
        impl $crate::turns::Turn for $wire {
            type Block = $block;

            fn start(role: &'static str) -> Self {
                $wire {
                    role,
                    $field: Vec::new(),
                }
            }

            fn role(&self) -> &'static str {
                self.role
            }

            fn blocks(&mut self) -> &mut Vec<$block> {
                &mut self.$field
            }
        }
    };
}
pub(crate) use impl_turn;
