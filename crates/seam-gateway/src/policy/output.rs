//! The output stage: tokens restored and answers scanned, whole (a completion, an embeddings
//! response's string fields) or streamed (one filter per choice's channel).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::Stream;
use seam_policy::{Escape, OutputFilter, Policy, Record, StreamFilter, Vault};
use seam_types::ApiError;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChunkChoice, Content, Delta, Extra, FunctionCallDelta, Message,
    ToolCallDelta,
};
use seam_types::embeddings::EmbeddingsResponse;
use serde_json::Value;

use super::walk::At;
use super::{Prepared, PreparedEmbeddings, fields};
use crate::{ClientStream, telemetry};

/// Puts a request's tokens back into text that had them restored, so the audit trail can keep an
/// answer in the form the vendor saw (`redacted` records) while the client got the values.
#[derive(Clone, Debug)]
pub struct Remask(Arc<Vault>);

impl Remask {
    /// The tokens of `vault`; `None` when it holds none (there is nothing to put back).
    pub(crate) fn of(vault: &Arc<Vault>) -> Option<Self> {
        (!vault.is_empty()).then(|| Remask(Arc::clone(vault)))
    }

    pub fn text(&self, s: &str) -> String {
        self.0.remask(s)
    }

    /// Every string in a JSON value, remasked.
    pub fn json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.0.remask(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }
}

/// Set once the output stage records anything in an answer. Shared with a filtered stream, which
/// sets it when it ends, so the edge can tell after the last chunk whether the answer was touched.
#[derive(Clone, Debug, Default)]
pub struct OutputSeen(Arc<AtomicBool>);

impl OutputSeen {
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn note(&self, records: &[Record]) {
        if !records.is_empty() {
            self.0.store(true, Ordering::Release);
        }
    }
}

impl Prepared<'_> {
    /// The request's tokens, to put back into a restored answer for `redacted` audit records.
    pub(crate) fn remask(&self) -> Option<Remask> {
        Remask::of(&self.vault)
    }

    fn output(&self) -> Option<OutputFilter> {
        OutputFilter::new(Arc::clone(&self.policy), Arc::clone(&self.vault))
    }

    /// Restores tokens and scans every choice of a whole answer; returns the output decisions.
    pub(crate) fn finish_completion(&self, c: &mut ChatCompletion) -> Vec<Record> {
        let mut records = Vec::new();
        let Some(filter) = self.output() else {
            return records;
        };
        for choice in &mut c.choices {
            let i = choice.index;
            finish_message(&filter, &mut choice.message, i, &mut records);
        }
        let empty = self.vault.is_empty();
        let mut f = |s: &str, loc: &str| whole(&self.policy, &filter, !empty, s, loc, &mut records);
        fields::completion(c, &mut At::default(), &mut f);
        telemetry::policy_findings(self.policy.name(), &records);
        records
    }

    /// Wraps a stream so that tokens are restored and answers scanned as chunks pass.
    pub(crate) fn filter_stream(&self, inner: ClientStream) -> ClientStream {
        match self.output() {
            None => inner,
            Some(filter) => Box::pin(Filtered {
                inner,
                filter,
                rules: Arc::clone(&self.policy),
                restores: !self.vault.is_empty(),
                at: At::default(),
                channels: HashMap::new(),
                last: None,
                queue: std::collections::VecDeque::new(),
                records: Vec::new(),
                policy: self.policy.name().to_owned(),
                seen: self.output_seen.clone(),
                done: false,
            }),
        }
    }
}

impl PreparedEmbeddings<'_> {
    /// Restores tokens in, and scans, the answer's string fields (vectors are numbers); the
    /// decisions go to the report.
    pub(crate) fn finish(&mut self, r: &mut EmbeddingsResponse) {
        if r.extra.is_empty() {
            return;
        }
        let Some(filter) = OutputFilter::new(Arc::clone(&self.policy), Arc::clone(&self.vault))
        else {
            return;
        };
        let mut records = Vec::new();
        let empty = self.vault.is_empty();
        let mut f = |s: &str, loc: &str| whole(&self.policy, &filter, !empty, s, loc, &mut records);
        fields::embeddings_response(r, &mut At::default(), &mut f);
        telemetry::policy_findings(self.policy.name(), &records);
        self.report.records.extend(records);
    }
}

fn finish_message(filter: &OutputFilter, m: &mut Message, choice: u32, records: &mut Vec<Record>) {
    match &mut m.content {
        Some(Content::Text(t)) => {
            let loc = format!("choices[{choice}].message.content");
            if let Some(new) = filter.text(t, &loc, Escape::None, records) {
                *t = new;
            }
        }
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter_mut().enumerate() {
                if let Some(t) = &mut p.text {
                    let loc = format!("choices[{choice}].message.content[{j}].text");
                    if let Some(new) = filter.text(t, &loc, Escape::None, records) {
                        *t = new;
                    }
                }
            }
        }
        None => {}
    }
    for (k, call) in m.tool_calls.iter_mut().flatten().enumerate() {
        let loc = format!("choices[{choice}].message.tool_calls[{k}].function.arguments");
        if let Some(new) = filter.text(&call.function.arguments, &loc, Escape::Json, records) {
            call.function.arguments = new;
        }
    }
}

/// One whole text of an answer, restored and scanned. Without tokens to restore, straight to the
/// output scan (no copy when nothing is found).
fn whole(
    policy: &Policy,
    filter: &OutputFilter,
    restores: bool,
    s: &str,
    loc: &str,
    records: &mut Vec<Record>,
) -> Option<String> {
    if restores {
        filter.text(s, loc, Escape::None, records)
    } else {
        policy.output_text(s, &[], loc, records)
    }
}

/// Text fields a server streams in pieces beside `content` (reasoning, refusals, spoken
/// transcripts), as paths into a delta's extras. Each gets its own filter per choice, like
/// content, so a value split across chunks is still found.
const STREAMED: &[&[&str]] = &[
    &["reasoning_content"],
    &["reasoning"],
    &["refusal"],
    &["audio", "transcript"],
];

/// The string at `path` in a delta's extras, if there is one.
fn streamed_mut<'a>(extra: &'a mut Extra, path: &[&str]) -> Option<&'a mut String> {
    let (first, rest) = path.split_first()?;
    let mut v = extra.get_mut(*first)?;
    for key in rest {
        v = v.as_object_mut()?.get_mut(*key)?;
    }
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Appends `text` to the string at `path` in a delta's extras, creating it (and the objects on
/// the way) when absent.
fn append_streamed(extra: &mut Extra, path: &[&str], text: &str) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut m = extra;
    for key in parents {
        let v = m
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Extra::new()));
        if !v.is_object() {
            *v = Value::Object(Extra::new());
        }
        let Value::Object(o) = v else { return };
        m = o;
    }
    match m.get_mut(*last) {
        Some(Value::String(s)) => s.push_str(text),
        _ => {
            m.insert((*last).to_owned(), Value::String(text.to_owned()));
        }
    }
}

/// Whether a delta starts what follows a run of reasoning: the thinking block's signature, a
/// redacted block, the answer's text or a tool call (the extras `seam_types::chat` documents).
fn ends_reasoning(d: &Delta) -> bool {
    d.content.as_deref().is_some_and(|t| !t.is_empty())
        || d.tool_calls.is_some()
        || d.extra.contains_key("reasoning_signature")
        || d.extra.contains_key("reasoning_redacted")
}

/// The [`STREAMED`] fields of each choice's delta, taken out: (choice position, field, text).
fn take_streamed(chunk: &mut ChatChunk) -> Vec<(usize, usize, String)> {
    let mut pieces = Vec::new();
    for (c, choice) in chunk.choices.iter_mut().enumerate() {
        if choice.delta.extra.is_empty() {
            continue;
        }
        for (k, path) in STREAMED.iter().enumerate() {
            if let Some(s) = streamed_mut(&mut choice.delta.extra, path) {
                pieces.push((c, k, std::mem::take(s)));
            }
        }
    }
    pieces
}

/// One streamed channel of a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Channel {
    Content,
    /// A tool call's arguments, by the call's index.
    Arguments(u32),
    /// A [`STREAMED`] field, by its position there.
    Field(usize),
}

/// A stream with its answers restored and scanned: one filter per choice's content, per tool
/// call's arguments and per streamed text field; every other string of a chunk is restored and
/// scanned whole. Text a filter holds back is released by the chunk that finishes its choice, or,
/// if the stream ends or fails first, by one extra chunk before the end or the error.
struct Filtered {
    inner: ClientStream,
    filter: OutputFilter,
    /// The policy, for whole strings when there is nothing to restore.
    rules: Arc<Policy>,
    /// Whether the request has tokens to restore.
    restores: bool,
    /// A location buffer reused across chunks.
    at: At,
    /// (choice, channel) → its filter.
    channels: HashMap<(u32, Channel), StreamFilter>,
    /// The id, created and model of the last chunk, for a closing chunk of our own.
    last: Option<(String, u64, String)>,
    queue: std::collections::VecDeque<Result<ChatChunk, ApiError>>,
    records: Vec<Record>,
    policy: String,
    seen: OutputSeen,
    done: bool,
}

impl Filtered {
    fn channel(&mut self, key: (u32, Channel)) -> &mut StreamFilter {
        let filter = &self.filter;
        self.channels.entry(key).or_insert_with(|| match key.1 {
            Channel::Content => {
                filter.stream(format!("choices[{}].delta.content", key.0), Escape::None)
            }
            Channel::Arguments(k) => filter.stream(
                format!(
                    "choices[{}].delta.tool_calls[{k}].function.arguments",
                    key.0
                ),
                Escape::Json,
            ),
            Channel::Field(f) => filter.stream(
                format!("choices[{}].delta.{}", key.0, STREAMED[f].join(".")),
                Escape::None,
            ),
        })
    }

    /// One chunk through the filters: its streamed fields taken out, every other string
    /// restored and scanned whole, then each choice's channels fed.
    fn process(&mut self, mut chunk: ChatChunk) -> ChatChunk {
        self.last = Some((chunk.id.clone(), chunk.created, chunk.model.clone()));
        let mut records = std::mem::take(&mut self.records);
        // The streamed fields are taken out first, so the whole-string pass below leaves them
        // to their channels.
        let pieces = take_streamed(&mut chunk);
        {
            let (rules, filter, restores) = (&self.rules, &self.filter, self.restores);
            let mut f = |s: &str, loc: &str| whole(rules, filter, restores, s, loc, &mut records);
            fields::chunk(&mut chunk, &mut self.at, &mut f);
        }
        for (c, k, text) in pieces {
            let Some(choice) = chunk.choices.get_mut(c) else {
                continue;
            };
            let out = self
                .channel((choice.index, Channel::Field(k)))
                .push(&text, &mut records);
            if let Some(s) = streamed_mut(&mut choice.delta.extra, STREAMED[k]) {
                *s = out;
            }
        }
        for choice in &mut chunk.choices {
            self.choice(choice, &mut records);
        }
        self.records = records;
        chunk
    }

    /// A choice's answer text and tool-call arguments through their channels, and what its
    /// channels hold released where its reasoning or the choice ends.
    fn choice(&mut self, choice: &mut ChunkChoice, records: &mut Vec<Record>) {
        let i = choice.index;
        // Reasoning ends where its signature, a redacted block, the answer's text or a tool
        // call begins: what its channels hold goes out in this delta, ahead of them, so a
        // client that keeps reasoning in blocks (Anthropic's thinking) gets it whole.
        if ends_reasoning(&choice.delta) {
            self.flush(
                i,
                |c| matches!(c, Channel::Field(_)),
                &mut choice.delta,
                records,
            );
        }
        if let Some(t) = choice.delta.content.take() {
            choice.delta.content = Some(self.channel((i, Channel::Content)).push(&t, records));
        }
        for call in choice.delta.tool_calls.iter_mut().flatten() {
            if let Some(f) = &mut call.function
                && let Some(a) = f.arguments.take()
            {
                f.arguments = Some(
                    self.channel((i, Channel::Arguments(call.index)))
                        .push(&a, records),
                );
            }
        }
        if choice.finish_reason.is_some() {
            self.flush(i, |_| true, &mut choice.delta, records);
        }
    }

    /// Releases everything choice `i` holds in the channels `which` picks into `delta`.
    fn flush(
        &mut self,
        i: u32,
        which: impl Fn(Channel) -> bool,
        delta: &mut Delta,
        records: &mut Vec<Record>,
    ) {
        let mut keys: Vec<_> = self
            .channels
            .keys()
            .filter(|k| k.0 == i && which(k.1))
            .copied()
            .collect();
        keys.sort();
        for key in keys {
            let Some(mut f) = self.channels.remove(&key) else {
                continue;
            };
            let rest = f.finish(records);
            if rest.is_empty() {
                continue;
            }
            match key.1 {
                Channel::Content => delta
                    .content
                    .get_or_insert_with(String::new)
                    .push_str(&rest),
                Channel::Field(f) => append_streamed(&mut delta.extra, STREAMED[f], &rest),
                Channel::Arguments(k) => {
                    let calls = delta.tool_calls.get_or_insert_with(Vec::new);
                    match calls.iter_mut().find(|c| c.index == k) {
                        Some(c) => {
                            let f = c.function.get_or_insert_with(FunctionCallDelta::default);
                            f.arguments.get_or_insert_with(String::new).push_str(&rest);
                        }
                        None => calls.push(ToolCallDelta {
                            index: k,
                            id: None,
                            kind: None,
                            function: Some(FunctionCallDelta {
                                name: None,
                                arguments: Some(rest),
                            }),
                        }),
                    }
                }
            }
        }
    }

    /// One chunk releasing what every unfinished choice still holds, if anything.
    fn flush_all(&mut self) -> Option<ChatChunk> {
        let (id, created, model) = self.last.clone()?;
        let mut choices: Vec<u32> = self.channels.keys().map(|k| k.0).collect();
        choices.sort_unstable();
        choices.dedup();
        let mut records = std::mem::take(&mut self.records);
        let mut chunk = ChatChunk::delta(&id, created, &model, Delta::default());
        chunk.choices.clear();
        for i in choices {
            let mut delta = Delta::default();
            self.flush(i, |_| true, &mut delta, &mut records);
            if delta.content.is_some() || delta.tool_calls.is_some() || !delta.extra.is_empty() {
                let mut c = ChatChunk::delta(&id, created, &model, delta);
                if let Some(mut choice) = c.choices.pop() {
                    choice.index = i;
                    chunk.choices.push(choice);
                }
            }
        }
        self.records = records;
        (!chunk.choices.is_empty()).then_some(chunk)
    }

    fn end(&mut self) {
        if !self.done {
            self.done = true;
            self.seen.note(&self.records);
            telemetry::policy_findings(&self.policy, &self.records);
        }
    }
}

impl Stream for Filtered {
    type Item = Result<ChatChunk, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(item) = this.queue.pop_front() {
            return Poll::Ready(Some(item));
        }
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(this.process(chunk)))),
            Poll::Ready(Some(Err(e))) => {
                let flushed = this.flush_all();
                this.end();
                match flushed {
                    Some(c) => {
                        this.queue.push_back(Err(e));
                        Poll::Ready(Some(Ok(c)))
                    }
                    None => Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(None) => {
                let flushed = this.flush_all();
                this.end();
                Poll::Ready(flushed.map(Ok))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
