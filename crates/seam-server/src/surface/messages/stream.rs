//! The pipeline's chunks as Anthropic's stream events.
//!
//! `message_start` and a `ping` open the stream on its first chunk. Each run of text, reasoning
//! or one tool call's arguments is a content block (`content_block_start`, deltas,
//! `content_block_stop`), opened when its first delta arrives and closed when another kind
//! begins. `message_delta` waits for [`StreamEncoder::end`], because the usage-only chunk comes
//! after the finish reason and Anthropic sends both in it.
//!
//! Reasoning follows the extras `seam_types::chat` documents: a new `reasoning_index` starts a
//! new `thinking` block; its `reasoning_signature` is sent as a `signature_delta` just before the
//! block's `content_block_stop`, as Anthropic does; each `reasoning_redacted` entry is a
//! `redacted_thinking` block, whole in its `content_block_start`.

use std::collections::HashMap;

use seam_types::ApiError;
use seam_types::chat::{ChatChunk, Extra, Usage};
use serde_json::{Value, json};

use super::convert::{
    error_body, message_id, reasoning, redacted, signature, stop_reason, usage_json,
};
use crate::surface::StreamEncoder;

/// The block that deltas currently go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Text(usize),
    /// A thinking block and the `reasoning_index` its deltas carry (none from upstreams that
    /// send one unnumbered reasoning text).
    Thinking(usize, Option<u32>),
    Tool(usize),
}

impl Open {
    fn index(self) -> usize {
        match self {
            Open::Text(i) | Open::Thinking(i, _) | Open::Tool(i) => i,
        }
    }
}

/// One stream's encoder; `model` is the client's.
pub struct Encoder {
    model: String,
    started: bool,
    open: Option<Open>,
    next_block: usize,
    /// Tool calls seen, by the chat stream's index → their block: a late argument fragment goes
    /// to its own block even after another opened.
    tools: HashMap<u32, (usize, String)>,
    /// The open thinking block's signature, sent when the block closes.
    signature: Option<String>,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl Encoder {
    /// An encoder for a stream answering the client's `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Encoder {
            model: model.into(),
            started: false,
            open: None,
            next_block: 0,
            tools: HashMap::new(),
            signature: None,
            finish: None,
            usage: None,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message_id(id),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_json(None),
            }}),
        );
        event(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            if let Some(signature) = self.signature.take() {
                Self::delta(
                    out,
                    open.index(),
                    json!({"type": "signature_delta", "signature": signature}),
                );
            }
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": open.index()}),
            );
        }
    }

    /// Opens a new block (closing the one open) unless `want` says the open one fits.
    fn open(&mut self, fits: impl Fn(Open) -> bool, block: Value, out: &mut Vec<u8>) -> usize {
        if let Some(open) = self.open
            && fits(open)
        {
            return open.index();
        }
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    /// A delta's reasoning extras: thinking text, the block's signature (held until it closes),
    /// redacted blocks.
    fn reasoning_extras(&mut self, extra: &Extra, out: &mut Vec<u8>) {
        let number = extra
            .get("reasoning_index")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        // An unnumbered piece (a policy's held-back tail) belongs to the open thinking block, and
        // an unnumbered block takes the first number it is given.
        let same_block = |o: Open| match o {
            Open::Thinking(_, n) => number.is_none() || n.is_none() || n == number,
            Open::Text(_) | Open::Tool(_) => false,
        };
        let numbered = |open: Option<Open>, index: usize| match open {
            Some(Open::Thinking(i, n)) if i == index => Open::Thinking(index, number.or(n)),
            _ => Open::Thinking(index, number),
        };
        let thinking = json!({"type": "thinking", "thinking": "", "signature": ""});
        if let Some(r) = reasoning(extra) {
            let index = self.open(same_block, thinking.clone(), out);
            self.open = Some(numbered(self.open, index));
            Self::delta(out, index, json!({"type": "thinking_delta", "thinking": r}));
        }
        if let Some(sig) = signature(extra) {
            // A signature without text still has its block (thinking the upstream left out).
            let index = self.open(same_block, thinking, out);
            self.open = Some(numbered(self.open, index));
            self.signature = Some(sig.to_owned());
        }
        for data in redacted(extra) {
            // Whole at its start: opened and closed at once.
            let index = self.open(
                |_| false,
                json!({"type": "redacted_thinking", "data": data}),
                out,
            );
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn delta(out: &mut Vec<u8>, index: usize, delta: Value) {
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }
}

/// Appends one SSE event: `event: NAME\ndata: JSON\n\n`.
fn event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

impl StreamEncoder for Encoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        self.start(&chunk.id, out);
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        // Anthropic has one choice; a Messages request never asks for more.
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return;
        };
        let d = &choice.delta;
        self.reasoning_extras(&d.extra, out);
        if let Some(text) = d.content.as_deref().filter(|t| !t.is_empty()) {
            let index = self.open(
                |o| matches!(o, Open::Text(_)),
                json!({"type": "text", "text": ""}),
                out,
            );
            self.open = Some(Open::Text(index));
            Self::delta(out, index, json!({"type": "text_delta", "text": text}));
        }
        for call in d.tool_calls.iter().flatten() {
            let args = call
                .function
                .as_ref()
                .and_then(|f| f.arguments.as_deref())
                .unwrap_or_default();
            let known = self.tools.get(&call.index).filter(|(_, id)| {
                call.id
                    .as_deref()
                    .is_none_or(|new| new.is_empty() || new == id)
            });
            let index = match known {
                // A fragment of a call already under way (the open block, or an earlier one);
                // some servers repeat the id on every fragment.
                Some(&(index, _)) => index,
                None => {
                    let name = call
                        .function
                        .as_ref()
                        .and_then(|f| f.name.as_deref())
                        .unwrap_or_default();
                    let id = call.id.clone().unwrap_or_default();
                    let index = self.open(
                        |_| false,
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                        out,
                    );
                    self.open = Some(Open::Tool(index));
                    self.tools.insert(call.index, (index, id));
                    index
                }
            };
            if !args.is_empty() {
                Self::delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": args}),
                );
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.start("", out);
        self.close(out);
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
                "usage": usage_json(self.usage.as_ref())}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn error(&mut self, e: &ApiError, out: &mut Vec<u8>) {
        let (_, body) = error_body(e);
        event(out, "error", &body);
    }
}
