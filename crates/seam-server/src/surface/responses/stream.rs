//! The pipeline's chat chunks as Responses stream events: `response.created`,
//! `response.in_progress`, per output item `response.output_item.added` … `.done` with its text
//! or argument deltas, then `response.completed` (or `response.incomplete`); a failure after the
//! first byte is an `error` event and `response.failed`. Every event has a `sequence_number`
//! counting from 0.

use std::sync::Arc;

use seam_types::ApiError;
use seam_types::chat::{ChatChunk, ToolCallDelta, Usage};
use serde_json::{Value, json};

use super::convert::{self, Meta, OutItem, Status};
use crate::surface::StreamEncoder;

/// Encodes one stream. Items open as their first delta arrives; a message or reasoning item
/// closes when another item opens, function calls (whose arguments may interleave) at the end.
pub struct Encoder {
    meta: Arc<Meta>,
    seq: u64,
    started: bool,
    ended: bool,
    model: String,
    items: Vec<OutItem>,
    /// Whether each item is still open.
    open: Vec<bool>,
    /// The open message or reasoning item.
    current: Option<usize>,
    /// Chat tool-call index → item index.
    calls: Vec<(u32, usize)>,
    usage: Option<Usage>,
    finish: Option<String>,
}

impl Encoder {
    /// An encoder for the response `meta` describes.
    pub fn new(meta: Arc<Meta>) -> Self {
        Encoder {
            meta,
            seq: 0,
            started: false,
            ended: false,
            model: String::new(),
            items: Vec::new(),
            open: Vec::new(),
            current: None,
            calls: Vec::new(),
            usage: None,
            finish: None,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut event: Value) {
        if let Some(obj) = event.as_object_mut() {
            obj.insert("type".into(), Value::String(kind.to_owned()));
            obj.insert("sequence_number".into(), json!(self.seq));
        }
        self.seq += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // A `Value` always serializes.
        let _ = serde_json::to_writer(&mut *out, &event);
        out.extend_from_slice(b"\n\n");
    }

    fn response(&self, status: Status<'_>) -> Value {
        convert::response(
            &self.meta,
            &self.model,
            &self.items,
            status,
            self.usage.as_ref(),
        )
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.response(Status::InProgress);
        self.emit(out, "response.created", json!({ "response": r }));
        self.emit(out, "response.in_progress", json!({ "response": r }));
    }

    fn item_id(&self, index: usize) -> String {
        self.meta.item_id(&self.items[index], index)
    }

    /// Opens `item` as the next output item; returns its index.
    fn open_item(&mut self, out: &mut Vec<u8>, item: OutItem) -> usize {
        let index = self.items.len();
        let mut shown = convert::item_json(&self.meta, &item, index, "in_progress");
        if let (OutItem::Message { .. } | OutItem::Reasoning { .. }, Some(obj)) =
            (&item, shown.as_object_mut())
        {
            obj.insert("content".into(), json!([]));
        }
        let is_message = matches!(item, OutItem::Message { .. });
        self.items.push(item);
        self.open.push(true);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": shown}),
        );
        if is_message {
            let item_id = self.item_id(index);
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": index, "content_index": 0,
                       "part": convert::output_text("")}),
            );
        }
        index
    }

    fn close(&mut self, out: &mut Vec<u8>, index: usize, status: &str) {
        if !self.open.get(index).copied().unwrap_or(false) {
            return;
        }
        self.open[index] = false;
        let item_id = self.item_id(index);
        match &self.items[index] {
            OutItem::Message {
                text, annotations, ..
            } => {
                let (text, annotations) = (text.clone(), annotations.clone());
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0,
                           "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0,
                           "part": convert::annotated_text(&text, &annotations)}),
                );
            }
            OutItem::Raw(_) => {}
            OutItem::Reasoning { text } => {
                let text = text.clone();
                self.emit(
                    out,
                    "response.reasoning_text.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0,
                           "text": text}),
                );
            }
            OutItem::Call {
                name, arguments, ..
            } => {
                let (name, arguments) = (name.clone(), arguments.clone());
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": index, "name": name,
                           "arguments": arguments}),
                );
            }
        }
        let item = convert::item_json(&self.meta, &self.items[index], index, status);
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }

    fn close_current(&mut self, out: &mut Vec<u8>) {
        if let Some(i) = self.current.take() {
            self.close(out, i, "completed");
        }
    }

    fn reasoning(&mut self, out: &mut Vec<u8>, delta: &str) {
        let index = match self.current {
            Some(i) if matches!(self.items[i], OutItem::Reasoning { .. }) => i,
            _ => {
                self.close_current(out);
                let i = self.open_item(
                    out,
                    OutItem::Reasoning {
                        text: String::new(),
                    },
                );
                self.current = Some(i);
                i
            }
        };
        if let OutItem::Reasoning { text } = &mut self.items[index] {
            text.push_str(delta);
        }
        let item_id = self.item_id(index);
        self.emit(
            out,
            "response.reasoning_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": delta}),
        );
    }

    fn text(&mut self, out: &mut Vec<u8>, delta: &str) {
        let index = match self.current {
            Some(i) if matches!(self.items[i], OutItem::Message { .. }) => i,
            _ => {
                self.close_current(out);
                let i = self.open_item(
                    out,
                    OutItem::Message {
                        text: String::new(),
                        refusal: None,
                        annotations: Vec::new(),
                    },
                );
                self.current = Some(i);
                i
            }
        };
        if let OutItem::Message { text, .. } = &mut self.items[index] {
            text.push_str(delta);
        }
        let item_id = self.item_id(index);
        self.emit(
            out,
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0,
                   "delta": delta, "logprobs": []}),
        );
    }

    fn call(&mut self, out: &mut Vec<u8>, tc: &ToolCallDelta) {
        let f = tc.function.as_ref();
        let index = match self.calls.iter().find(|(c, _)| *c == tc.index) {
            Some(&(_, i)) => i,
            None => {
                self.close_current(out);
                let call_id = tc
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}{:04x}", self.meta.id, tc.index));
                let name = f.and_then(|f| f.name.clone()).unwrap_or_default();
                let i = self.open_item(
                    out,
                    OutItem::Call {
                        call_id,
                        name,
                        arguments: String::new(),
                    },
                );
                self.calls.push((tc.index, i));
                // The name came with the item.
                if let Some(args) = f.and_then(|f| f.arguments.as_deref()) {
                    self.arguments(out, i, args);
                }
                return;
            }
        };
        if let (Some(more), OutItem::Call { name, .. }) =
            (f.and_then(|f| f.name.as_deref()), &mut self.items[index])
        {
            name.push_str(more);
        }
        if let Some(args) = f.and_then(|f| f.arguments.as_deref()) {
            self.arguments(out, index, args);
        }
    }

    /// What a Responses target sent that chat cannot express ([`convert::RESPONSES_OUTPUT`]): a
    /// built-in item, added and done at once where it came; a message's annotations, kept for
    /// the message's part.
    fn beyond_chat(&mut self, out: &mut Vec<u8>, kept: &Value) {
        match kept.get("type").and_then(Value::as_str) {
            Some("message") => {
                let message = self
                    .items
                    .iter_mut()
                    .rev()
                    .find(|i| matches!(i, OutItem::Message { .. }));
                if let (Some(OutItem::Message { annotations, .. }), Some(Value::Array(a))) =
                    (message, kept.get("annotations"))
                {
                    annotations.extend(a.iter().cloned());
                }
            }
            Some("function_call" | "reasoning") => {}
            _ => {
                self.close_current(out);
                let i = self.open_item(out, OutItem::Raw(kept.clone()));
                self.close(out, i, "completed");
            }
        }
    }

    fn arguments(&mut self, out: &mut Vec<u8>, index: usize, delta: &str) {
        if delta.is_empty() || !self.open[index] {
            return;
        }
        if let OutItem::Call { arguments, .. } = &mut self.items[index] {
            arguments.push_str(delta);
        }
        let item_id = self.item_id(index);
        self.emit(
            out,
            "response.function_call_arguments.delta",
            json!({"item_id": item_id, "output_index": index, "delta": delta}),
        );
    }
}

impl StreamEncoder for Encoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if self.model.is_empty() && !chunk.model.is_empty() {
            self.model = chunk.model.clone();
        }
        self.start(out);
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        // Responses has one answer: the first choice's.
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(r) = d
                .extra
                .get("reasoning_content")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                self.reasoning(out, r);
            }
            if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
                self.text(out, t);
            }
            for tc in d.tool_calls.as_deref().unwrap_or_default() {
                self.call(out, tc);
            }
            if let Some(Value::Array(kept)) = d.extra.get(convert::RESPONSES_OUTPUT) {
                for k in kept {
                    self.beyond_chat(out, k);
                }
            }
            if let Some(f) = &choice.finish_reason {
                self.finish = Some(f.clone());
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.ended = true;
        let incomplete = convert::incomplete_reason(self.finish.as_deref()).is_some();
        let status = if incomplete {
            "incomplete"
        } else {
            "completed"
        };
        // An answer with no text and no call still has its (empty) message, as unary answers do.
        if self
            .items
            .iter()
            .all(|i| matches!(i, OutItem::Reasoning { .. }))
        {
            self.close_current(out);
            self.current = Some(self.open_item(
                out,
                OutItem::Message {
                    text: String::new(),
                    refusal: None,
                    annotations: Vec::new(),
                },
            ));
        }
        self.current = None;
        for i in 0..self.items.len() {
            self.close(out, i, status);
        }
        let r = self.response(Status::Done(self.finish.as_deref()));
        let kind = if incomplete {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(out, kind, json!({ "response": r }));
    }

    fn error(&mut self, e: &ApiError, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.ended = true;
        self.emit(
            out,
            "error",
            json!({"code": e.code, "message": e.message, "param": e.param}),
        );
        let r = self.response(Status::Failed(e));
        self.emit(out, "response.failed", json!({ "response": r }));
    }
}
