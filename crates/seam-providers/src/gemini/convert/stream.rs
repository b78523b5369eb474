//! `streamGenerateContent?alt=sse` → OpenAI chunks.

use std::collections::{HashMap, HashSet, VecDeque};

use seam_types::chat::{ChatChunk, Delta, FunctionCallDelta, Role, ToolCallDelta, Usage};

use super::{Candidate, GenerateResponse, arguments, call_id, completion_id, finish_reason};
use crate::ProviderError;
use crate::http::{StreamDecoder, json_error, parse_error_body};
use crate::sse::SseEvent;

/// Turns Gemini's stream (each event a whole `GenerateContentResponse` holding the next piece of
/// each candidate) into OpenAI chunks; one per upstream stream.
pub struct Decoder {
    model: String,
    /// `(id, model, created)` from the first event.
    message: Option<(String, String, u64)>,
    /// Candidates that have had their role chunk.
    started: HashSet<u32>,
    finished: HashSet<u32>,
    /// Function calls so far, per candidate: the next `tool_calls[].index`.
    calls: HashMap<u32, u32>,
    /// From the last `usageMetadata`; `None` if Gemini sent none.
    usage: Option<Usage>,
}

impl Decoder {
    /// `model`: what Seam asked for, in case Gemini does not say.
    pub fn new(model: &str) -> Self {
        Decoder {
            model: model.into(),
            message: None,
            started: HashSet::new(),
            finished: HashSet::new(),
            calls: HashMap::new(),
            usage: None,
        }
    }

    fn chunk(&self, index: u32, delta: Delta) -> ChatChunk {
        let (id, model, created) = match &self.message {
            Some((id, model, created)) => (id.as_str(), model.as_str(), *created),
            None => ("", self.model.as_str(), 0), // unreachable: set before any chunk
        };
        let mut c = ChatChunk::delta(id, created, model, delta);
        if let Some(choice) = c.choices.first_mut() {
            choice.index = index;
        }
        c
    }

    /// The role chunk OpenAI opens every choice with, once per candidate.
    fn start(&mut self, index: u32, out: &mut VecDeque<ChatChunk>) {
        if self.started.insert(index) {
            out.push_back(self.chunk(
                index,
                Delta {
                    role: Some(Role::Assistant),
                    content: Some(String::new()),
                    ..Delta::default()
                },
            ));
        }
    }

    fn finish(&mut self, index: u32, reason: String, out: &mut VecDeque<ChatChunk>) {
        let mut c = self.chunk(index, Delta::default());
        if let Some(choice) = c.choices.first_mut() {
            choice.finish_reason = Some(reason);
        }
        out.push_back(c);
        self.finished.insert(index);
    }

    fn candidate(&mut self, pos: usize, c: Candidate, out: &mut VecDeque<ChatChunk>) {
        let index = c.index.unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
        self.start(index, out);
        for part in c.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                let n = self.calls.entry(index).or_insert(0);
                let delta = ToolCallDelta {
                    index: *n,
                    id: Some(call_id(*n as usize)),
                    kind: Some("function".into()),
                    function: Some(FunctionCallDelta {
                        name: Some(call.name),
                        arguments: Some(arguments(&call.args)),
                    }),
                };
                *n += 1;
                out.push_back(self.chunk(
                    index,
                    Delta {
                        tool_calls: Some(vec![delta]),
                        ..Delta::default()
                    },
                ));
            } else if let Some(text) = part.text.filter(|t| !t.is_empty() && !part.thought) {
                out.push_back(self.chunk(
                    index,
                    Delta {
                        content: Some(text),
                        ..Delta::default()
                    },
                ));
            }
        }
        if let Some(reason) = c.finish_reason {
            let called = self.calls.get(&index).is_some_and(|n| *n > 0);
            self.finish(index, finish_reason(&reason, called), out);
        }
    }
}

impl StreamDecoder for Decoder {
    fn event(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<ChatChunk>,
    ) -> Result<bool, ProviderError> {
        let data = ev.data.trim();
        if data.starts_with("{\"error\"") {
            // Gemini reports a failure after the first byte as an error object in the stream.
            return Err(match parse_error_body(502, None, data.as_bytes()) {
                ProviderError::Status { message, code, .. } => ProviderError::StreamCut(format!(
                    "upstream error event ({}): {message}",
                    code.as_deref().unwrap_or("unknown")
                )),
                other => other,
            });
        }
        let resp: GenerateResponse = serde_json::from_str(data)
            .map_err(|e| ProviderError::InvalidResponse(json_error(&e)))?;
        if self.message.is_none() {
            self.message = Some((
                completion_id(&resp),
                resp.model_version
                    .clone()
                    .unwrap_or_else(|| self.model.clone()),
                crate::unix_now(),
            ));
        }
        if let Some(usage) = &resp.usage_metadata {
            self.usage = Some(usage.usage());
        }
        if resp.blocked() {
            self.start(0, out);
            self.finish(0, "content_filter".into(), out);
        }
        for (pos, c) in resp.candidates.into_iter().enumerate() {
            self.candidate(pos, c, out);
        }
        Ok(false)
    }

    /// Complete when every candidate that started has finished.
    fn end(&mut self, out: &mut VecDeque<ChatChunk>) -> Result<bool, ProviderError> {
        if self.finished.is_empty() || !self.started.is_subset(&self.finished) {
            return Ok(false);
        }
        // Whenever Gemini counted: the edge forwards it only to clients that asked.
        if let Some(usage) = self.usage.clone() {
            let mut c = self.chunk(0, Delta::default());
            c.choices.clear();
            c.usage = Some(usage);
            out.push_back(c);
        }
        Ok(true)
    }
}
