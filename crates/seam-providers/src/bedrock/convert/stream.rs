//! ConverseStream's events → OpenAI chunks.

use std::collections::{HashMap, VecDeque};

use seam_types::chat::{ChatChunk, Delta, FunctionCallDelta, Role, ToolCallDelta, Usage};
use serde::Deserialize;

use super::{WireUsage, finish_reason};
use crate::ProviderError;
use crate::bedrock::eventstream;
use crate::http::{StreamDecoder, json_error};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    content_block_index: u64,
    #[serde(default)]
    start: Option<StartBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    #[serde(default)]
    tool_use: Option<StartToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToolUse {
    tool_use_id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    content_block_index: u64,
    #[serde(default)]
    delta: Option<DeltaBody>,
}

/// `text`, `toolUse.input` (a piece of the arguments' JSON text), or reasoning, which is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUseDelta>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop {
    content_block_index: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ExceptionBody {
    #[serde(default, alias = "Message")]
    message: Option<String>,
}

/// A toolUse block in flight, keyed by its content block index.
struct ToolBlock {
    /// Position among this message's tool calls: OpenAI's `tool_calls[].index`.
    index: u32,
    sent_arguments: bool,
}

/// Turns ConverseStream's events (`messageStart`, `contentBlockStart|Delta|Stop`, `messageStop`,
/// `metadata`) into OpenAI chunks; one per upstream stream.
pub struct Decoder {
    id: String,
    model: String,
    created: u64,
    started: bool,
    tools: HashMap<u64, ToolBlock>,
    next_tool: u32,
    stopped: bool,
    /// From `metadata`; `None` until it arrives.
    usage: Option<Usage>,
}

impl Decoder {
    /// `id`: the completion id (Converse streams carry none).
    pub fn new(id: String, model: &str) -> Self {
        Decoder {
            id,
            model: model.into(),
            created: crate::unix_now(),
            started: false,
            tools: HashMap::new(),
            next_tool: 0,
            stopped: false,
            usage: None,
        }
    }

    fn chunk(&self, delta: Delta) -> ChatChunk {
        ChatChunk::delta(&self.id, self.created, &self.model, delta)
    }

    /// The role chunk, once, before anything else.
    fn start(&mut self, out: &mut VecDeque<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push_back(self.chunk(Delta {
                role: Some(Role::Assistant),
                content: Some(String::new()),
                ..Delta::default()
            }));
        }
    }

    fn tool_delta(&self, delta: ToolCallDelta) -> ChatChunk {
        self.chunk(Delta {
            tool_calls: Some(vec![delta]),
            ..Delta::default()
        })
    }

    fn arguments_delta(&self, index: u32, arguments: String) -> ChatChunk {
        self.tool_delta(ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta {
                name: None,
                arguments: Some(arguments),
            }),
        })
    }

    /// The usage chunk, once, when `metadata` counted (always sent: the edge forwards it only to
    /// clients that asked).
    fn usage_chunk(&mut self) -> Option<ChatChunk> {
        let usage = self.usage.take()?;
        Some(ChatChunk::usage(&self.id, self.created, &self.model, usage))
    }
}

fn payload<T: serde::de::DeserializeOwned>(msg: &eventstream::Message) -> Result<T, ProviderError> {
    serde_json::from_slice(&msg.payload).map_err(|e| ProviderError::InvalidResponse(json_error(&e)))
}

impl StreamDecoder<eventstream::Message> for Decoder {
    fn event(
        &mut self,
        msg: eventstream::Message,
        out: &mut VecDeque<ChatChunk>,
    ) -> Result<bool, ProviderError> {
        match msg.header(":message-type") {
            Some("exception") => {
                let body: ExceptionBody = payload(&msg).unwrap_or(ExceptionBody { message: None });
                return Err(ProviderError::StreamCut(format!(
                    "upstream exception ({}): {}",
                    msg.header(":exception-type").unwrap_or("unknown"),
                    body.message.as_deref().unwrap_or("no message"),
                )));
            }
            Some("error") => {
                return Err(ProviderError::StreamCut(format!(
                    "upstream error ({}): {}",
                    msg.header(":error-code").unwrap_or("unknown"),
                    msg.header(":error-message").unwrap_or("no message"),
                )));
            }
            _ => {}
        }
        match msg.header(":event-type").unwrap_or_default() {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                self.start(out);
                let start: BlockStart = payload(&msg)?;
                if let Some(tool) = start.start.and_then(|s| s.tool_use) {
                    let index = self.next_tool;
                    self.next_tool += 1;
                    out.push_back(self.tool_delta(ToolCallDelta {
                        index,
                        id: Some(tool.tool_use_id),
                        kind: Some("function".into()),
                        function: Some(FunctionCallDelta {
                            name: Some(tool.name),
                            arguments: Some(String::new()),
                        }),
                    }));
                    self.tools.insert(
                        start.content_block_index,
                        ToolBlock {
                            index,
                            sent_arguments: false,
                        },
                    );
                }
            }
            "contentBlockDelta" => {
                self.start(out);
                let delta: BlockDelta = payload(&msg)?;
                let Some(body) = delta.delta else {
                    return Ok(false);
                };
                if let Some(text) = body.text.filter(|t| !t.is_empty()) {
                    out.push_back(self.chunk(Delta {
                        content: Some(text),
                        ..Delta::default()
                    }));
                }
                if let Some(input) = body.tool_use.map(|t| t.input).filter(|i| !i.is_empty())
                    && let Some(tool) = self.tools.get_mut(&delta.content_block_index)
                {
                    tool.sent_arguments = true;
                    let index = tool.index;
                    out.push_back(self.arguments_delta(index, input));
                }
            }
            "contentBlockStop" => {
                let stop: BlockStop = payload(&msg)?;
                // A tool without parameters may stream no argument bytes at all; clients then
                // parse "" as JSON and fail, so send what the non-stream answer would have.
                if let Some(tool) = self.tools.remove(&stop.content_block_index)
                    && !tool.sent_arguments
                {
                    out.push_back(self.arguments_delta(tool.index, "{}".into()));
                }
            }
            "messageStop" => {
                self.start(out);
                let stop: MessageStop = payload(&msg)?;
                let reason = finish_reason(stop.stop_reason.as_deref().unwrap_or("end_turn"));
                out.push_back(ChatChunk::finish(
                    &self.id,
                    self.created,
                    &self.model,
                    &reason,
                ));
                self.stopped = true;
            }
            "metadata" => {
                let meta: Metadata = payload(&msg)?;
                if let Some(usage) = meta.usage {
                    self.usage = Some(usage.usage());
                }
                // Metadata follows messageStop: the stream's last event.
                if self.stopped {
                    out.extend(self.usage_chunk());
                    return Ok(true);
                }
            }
            _ => {} // new event types are skipped, as AWS asks of clients
        }
        Ok(false)
    }

    /// A body that ends after `messageStop` but before `metadata` is complete, without counts.
    fn end(&mut self, out: &mut VecDeque<ChatChunk>) -> Result<bool, ProviderError> {
        if self.stopped {
            out.extend(self.usage_chunk());
        }
        Ok(self.stopped)
    }
}
