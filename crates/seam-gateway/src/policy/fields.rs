//! Where the texts are in a request and an answer, field by field. Everything Seam forwards is
//! either text (given to the policy like message content), structure (left alone: `model`,
//! `role`, ids, `type`, function names in requests, `tool_choice`, JSON Schema keywords and
//! property names), or `user`, which has its own rule ([`UserField`]).
//!
//! Requests are walked copy-on-write (a copy only when something changed); answers in place.

use seam_config::UserField;
use seam_types::chat::{
    ChatChunk, ChatCompletion, ChatRequest, Content, ContentPart, Extra, Message, Tool, Usage,
};
use seam_types::embeddings::{EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse};
use serde_json::Value;

use super::walk::{self, At, Text};

/// The fields that carry an end user's identifier.
const USER_FIELDS: &[&str] = &["safety_identifier"];

/// What `user` (or `safety_identifier`) becomes: `None` to keep it, `Some(None)` to drop it.
pub(crate) type UserRule<'a> = &'a dyn Fn(&str, &At, &mut Text<'_>) -> Option<Option<String>>;

/// Applies `rule` for `mode` to one identifier.
pub(crate) fn user_value(
    mode: UserField,
    hash: impl Fn(&str) -> String,
    value: &str,
    at: &At,
    f: &mut Text<'_>,
) -> Option<Option<String>> {
    match mode {
        UserField::Keep => None,
        UserField::Scan => walk::text(value, at, f).map(Some),
        UserField::Hash => Some(Some(hash(value))),
        UserField::Drop => Some(None),
    }
}

/// A chat request with every text through `f` and `user` through `user`; `None` when nothing
/// changed.
pub(crate) fn chat_request(
    req: &ChatRequest,
    at: &mut At,
    f: &mut Text<'_>,
    user: UserRule<'_>,
) -> Option<ChatRequest> {
    let mut out: Option<ChatRequest> = None;
    for (i, m) in req.messages.iter().enumerate() {
        let n = at.key("messages");
        at.index(i);
        let new = message(m, at, f);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| req.clone()).messages[i] = new;
        }
    }
    for (i, t) in req.tools.iter().flatten().enumerate() {
        let n = at.key("tools");
        at.index(i);
        let new = tool(t, at, f);
        at.pop(n);
        if let Some(new) = new
            && let Some(tools) = &mut out.get_or_insert_with(|| req.clone()).tools
        {
            tools[i] = new;
        }
    }
    if let Some(stop) = &req.stop {
        use seam_types::chat::Stop;
        let n = at.key("stop");
        match stop {
            Stop::One(s) => {
                if let Some(new) = walk::text(s, at, f) {
                    out.get_or_insert_with(|| req.clone()).stop = Some(Stop::One(new));
                }
            }
            Stop::Many(v) => {
                for (i, s) in v.iter().enumerate() {
                    let m = at.index(i);
                    let new = walk::text(s, at, f);
                    at.pop(m);
                    if let Some(new) = new
                        && let Some(Stop::Many(v)) =
                            &mut out.get_or_insert_with(|| req.clone()).stop
                    {
                        v[i] = new;
                    }
                }
            }
        }
        at.pop(n);
    }
    if let Some(rf) = &req.response_format {
        let n = at.key("response_format");
        let new = walk::response_format(rf, at, f);
        at.pop(n);
        if new.is_some() {
            out.get_or_insert_with(|| req.clone()).response_format = new;
        }
    }
    if let Some(so) = &req.stream_options
        && !so.extra.is_empty()
    {
        let n = at.key("stream_options");
        let new = walk::map(&so.extra, at, f, &[]);
        at.pop(n);
        if let Some(new) = new
            && let Some(so) = &mut out.get_or_insert_with(|| req.clone()).stream_options
        {
            so.extra = new;
        }
    }
    if let Some(u) = &req.user {
        let n = at.key("user");
        let new = user(u, at, f);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| req.clone()).user = new;
        }
    }
    if !req.extra.is_empty() {
        if let Some(new) = walk::map(&req.extra, at, f, USER_FIELDS) {
            out.get_or_insert_with(|| req.clone()).extra = new;
        }
        identifiers(&req.extra, &mut out, |r| &mut r.extra, req, at, f, user);
    }
    out
}

/// `safety_identifier` and the like in a request's `extra`, by the user rule.
fn identifiers<R: Clone>(
    extra: &serde_json::Map<String, Value>,
    out: &mut Option<R>,
    field: fn(&mut R) -> &mut serde_json::Map<String, Value>,
    req: &R,
    at: &mut At,
    f: &mut Text<'_>,
    user: UserRule<'_>,
) {
    for key in USER_FIELDS {
        let Some(Value::String(v)) = extra.get(*key) else {
            continue;
        };
        let n = at.key(key);
        let new = user(v, at, f);
        at.pop(n);
        if let Some(new) = new {
            let m = field(out.get_or_insert_with(|| req.clone()));
            match new {
                Some(v) => m.insert((*key).to_owned(), Value::String(v)),
                None => m.remove(*key),
            };
        }
    }
}

/// One message: content (string or text parts, image URLs that are not `data:` URLs, part
/// extras), `name`, earlier tool-call arguments, extras. Role, tool-call ids and function names
/// are structure.
fn message(m: &Message, at: &mut At, f: &mut Text<'_>) -> Option<Message> {
    let mut out: Option<Message> = None;
    match &m.content {
        Some(Content::Text(t)) => {
            let n = at.key("content");
            let new = walk::text(t, at, f);
            at.pop(n);
            if let Some(new) = new {
                out.get_or_insert_with(|| m.clone()).content = Some(Content::Text(new));
            }
        }
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                let n = at.key("content");
                at.index(j);
                let new = part(p, at, f);
                at.pop(n);
                if let Some(new) = new
                    && let Some(Content::Parts(ps)) =
                        &mut out.get_or_insert_with(|| m.clone()).content
                {
                    ps[j] = new;
                }
            }
        }
        None => {}
    }
    if let Some(name) = &m.name {
        let n = at.key("name");
        let new = walk::text(name, at, f);
        at.pop(n);
        if new.is_some() {
            out.get_or_insert_with(|| m.clone()).name = new;
        }
    }
    for (k, call) in m.tool_calls.iter().flatten().enumerate() {
        let n = at.key("tool_calls");
        at.index(k);
        at.key("function.arguments");
        let new = walk::text(&call.function.arguments, at, f);
        at.pop(n);
        if let Some(new) = new
            && let Some(calls) = &mut out.get_or_insert_with(|| m.clone()).tool_calls
        {
            calls[k].function.arguments = new;
        }
    }
    if !m.extra.is_empty()
        && let Some(new) = walk::map(&m.extra, at, f, &[])
    {
        out.get_or_insert_with(|| m.clone()).extra = new;
    }
    out
}

fn part(p: &ContentPart, at: &mut At, f: &mut Text<'_>) -> Option<ContentPart> {
    let mut out: Option<ContentPart> = None;
    if let Some(t) = &p.text {
        let n = at.key("text");
        let new = walk::text(t, at, f);
        at.pop(n);
        if new.is_some() {
            out.get_or_insert_with(|| p.clone()).text = new;
        }
    }
    if let Some(img) = &p.image_url {
        let n = at.key("image_url.url");
        let new = walk::free_text(&img.url, at, f);
        at.pop(n);
        if let Some(new) = new
            && let Some(img) = &mut out.get_or_insert_with(|| p.clone()).image_url
        {
            img.url = new;
        }
    }
    if !p.extra.is_empty()
        && let Some(new) = walk::map(&p.extra, at, f, &[])
    {
        out.get_or_insert_with(|| p.clone()).extra = new;
    }
    out
}

/// A tool: its description, its parameters' schema, extras. `type` and the function's name are
/// structure.
fn tool(t: &Tool, at: &mut At, f: &mut Text<'_>) -> Option<Tool> {
    let mut out: Option<Tool> = None;
    let func = &t.function;
    if let Some(d) = &func.description {
        let n = at.key("function.description");
        let new = walk::text(d, at, f);
        at.pop(n);
        if new.is_some() {
            out.get_or_insert_with(|| t.clone()).function.description = new;
        }
    }
    if let Some(p) = &func.parameters {
        let n = at.key("function.parameters");
        let new = walk::schema(p, at, f);
        at.pop(n);
        if new.is_some() {
            out.get_or_insert_with(|| t.clone()).function.parameters = new;
        }
    }
    if !func.extra.is_empty() {
        let n = at.key("function");
        let new = walk::map(&func.extra, at, f, &[]);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| t.clone()).function.extra = new;
        }
    }
    if !t.extra.is_empty()
        && let Some(new) = walk::map(&t.extra, at, f, &[])
    {
        out.get_or_insert_with(|| t.clone()).extra = new;
    }
    out
}

/// An embeddings request: the string inputs, `user`, extras. Token-id inputs are numbers.
pub(crate) fn embeddings_request(
    req: &EmbeddingsRequest,
    at: &mut At,
    f: &mut Text<'_>,
    user: UserRule<'_>,
) -> Option<EmbeddingsRequest> {
    let mut out: Option<EmbeddingsRequest> = None;
    match &req.input {
        EmbeddingInput::One(s) => {
            let n = at.key("input");
            at.index(0);
            let new = walk::text(s, at, f);
            at.pop(n);
            if let Some(new) = new {
                out.get_or_insert_with(|| req.clone()).input = EmbeddingInput::One(new);
            }
        }
        EmbeddingInput::Many(v) => {
            for (i, s) in v.iter().enumerate() {
                let n = at.key("input");
                at.index(i);
                let new = walk::text(s, at, f);
                at.pop(n);
                if let Some(new) = new
                    && let EmbeddingInput::Many(v) =
                        &mut out.get_or_insert_with(|| req.clone()).input
                {
                    v[i] = new;
                }
            }
        }
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {}
    }
    if let Some(u) = &req.user {
        let n = at.key("user");
        let new = user(u, at, f);
        at.pop(n);
        if let Some(new) = new {
            out.get_or_insert_with(|| req.clone()).user = new;
        }
    }
    if !req.extra.is_empty() {
        if let Some(new) = walk::map(&req.extra, at, f, USER_FIELDS) {
            out.get_or_insert_with(|| req.clone()).extra = new;
        }
        identifiers(&req.extra, &mut out, |r| &mut r.extra, req, at, f, user);
    }
    out
}

/// Every string of a whole answer other than message content and tool-call arguments (which the
/// caller filters with their escapes): the message's `name` and extras (`refusal`,
/// `annotations`, `reasoning_content`, `audio`…), tool-call function names, each choice's extras
/// and `logprobs`, the answer's and its usage's extras. `id`, `object`, `model`,
/// `system_fingerprint`, `finish_reason`, roles and tool-call ids and types are structure.
pub(crate) fn completion(c: &mut ChatCompletion, at: &mut At, f: &mut Text<'_>) {
    answer_extras(&mut c.extra, c.usage.as_mut(), at, f);
    for (i, choice) in c.choices.iter_mut().enumerate() {
        let n = choice_extras(i, &mut choice.extra, choice.logprobs.as_mut(), at, f);
        at.key("message");
        let m = &mut choice.message;
        if let Some(name) = &mut m.name {
            let k = at.key("name");
            if let Some(new) = walk::text(name, at, f) {
                *name = new;
            }
            at.pop(k);
        }
        if let Some(Content::Parts(parts)) = &mut m.content {
            for (j, p) in parts.iter_mut().enumerate() {
                let k = at.key("content");
                at.index(j);
                walk::map_in_place(&mut p.extra, at, f, &[]);
                at.pop(k);
            }
        }
        for (k, call) in m.tool_calls.iter_mut().flatten().enumerate() {
            let j = at.key("tool_calls");
            at.index(k);
            at.key("function.name");
            if let Some(new) = walk::text(&call.function.name, at, f) {
                call.function.name = new;
            }
            at.pop(j);
        }
        walk::map_in_place(&mut m.extra, at, f, &[]);
        at.pop(n);
    }
}

/// What a stream chunk carries besides content, tool-call arguments and the streamed text fields
/// (which the caller has taken out and filters with hold-back): the same fields as
/// [`completion`], each chunk's whole.
pub(crate) fn chunk(c: &mut ChatChunk, at: &mut At, f: &mut Text<'_>) {
    answer_extras(&mut c.extra, c.usage.as_mut(), at, f);
    for (i, choice) in c.choices.iter_mut().enumerate() {
        let n = choice_extras(i, &mut choice.extra, choice.logprobs.as_mut(), at, f);
        at.key("delta");
        for call in choice.delta.tool_calls.iter_mut().flatten() {
            if let Some(func) = &mut call.function
                && let Some(name) = &mut func.name
            {
                let k = at.key("tool_calls");
                at.index(call.index as usize);
                at.key("function.name");
                if let Some(new) = walk::text(name, at, f) {
                    *name = new;
                }
                at.pop(k);
            }
        }
        walk::map_in_place(&mut choice.delta.extra, at, f, &[]);
        at.pop(n);
    }
}

/// What a whole answer and a chunk share at the top: their extras and their usage's.
fn answer_extras(extra: &mut Extra, usage: Option<&mut Usage>, at: &mut At, f: &mut Text<'_>) {
    walk::map_in_place(extra, at, f, &[]);
    if let Some(u) = usage {
        let n = at.key("usage");
        walk::map_in_place(&mut u.extra, at, f, &[]);
        at.pop(n);
    }
}

/// What a choice of a whole answer and of a chunk share: its extras and `logprobs`. Leaves `at`
/// at `choices[i]`; returns the mark to pop back to once the choice is done.
fn choice_extras(
    i: usize,
    extra: &mut Extra,
    logprobs: Option<&mut Value>,
    at: &mut At,
    f: &mut Text<'_>,
) -> usize {
    let n = at.key("choices");
    at.index(i);
    walk::map_in_place(extra, at, f, &[]);
    if let Some(lp) = logprobs {
        let m = at.key("logprobs");
        walk::free_in_place(lp, at, f);
        at.pop(m);
    }
    n
}

/// An embeddings answer's extras (vectors, `object`, `model` and indexes are structure).
pub(crate) fn embeddings_response(r: &mut EmbeddingsResponse, at: &mut At, f: &mut Text<'_>) {
    walk::map_in_place(&mut r.extra, at, f, &[]);
}
