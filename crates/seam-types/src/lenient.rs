//! Reading answers from servers that call themselves OpenAI-compatible but leave fields out.
//!
//! Self-hosted servers and proxies often omit `id`, `created`, `model`, `index`, `role` or
//! `finish_reason`, or send `null` for them; the `openai` SDK accepts all of that, so Seam must
//! too. These helpers are used only on answer types (never on requests, which stay strict): a
//! missing index becomes the item's position as the list is read, and the rest are defaulted
//! here and filled by the provider adapter, which knows the upstream model and the clock.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::chat::{Content, Extra, FunctionCall, Message, Role, ToolCall};

/// The index of an item that came without one, until its list replaces it by its position.
const UNSET: u32 = u32::MAX;

pub(crate) fn unset() -> u32 {
    UNSET
}

/// A field's value, or its type's default when it is absent or `null`.
pub(crate) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An index, or [`UNSET`] when it is `null` (absent is the field's `default = "unset"`).
pub(crate) fn index<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(UNSET))
}

/// Items with an `index` that an upstream may leave out.
pub(crate) trait Indexed {
    fn index_mut(&mut self) -> &mut u32;
}

/// A list whose items without an index get their position in it.
pub(crate) fn by_position<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Indexed,
{
    let mut items = Vec::<T>::deserialize(d)?;
    number(&mut items);
    Ok(items)
}

/// [`by_position`] for an optional list (`null` and absent are `None`).
pub(crate) fn by_position_opt<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Indexed,
{
    let mut items = Option::<Vec<T>>::deserialize(d)?;
    if let Some(items) = &mut items {
        number(items);
    }
    Ok(items)
}

fn number<T: Indexed>(items: &mut [T]) {
    for (pos, item) in items.iter_mut().enumerate() {
        let index = item.index_mut();
        if *index == UNSET {
            *index = u32::try_from(pos).unwrap_or(UNSET);
        }
    }
}

/// An answer's message: the role defaults to `assistant`, tool calls may lack `id` and `type`,
/// and arguments sent as a JSON object (as some servers do) become the JSON text OpenAI sends.
pub(crate) fn answer_message<'de, D: Deserializer<'de>>(d: D) -> Result<Message, D::Error> {
    let m = AnswerMessage::deserialize(d)?;
    Ok(Message {
        role: m.role.unwrap_or(Role::Assistant),
        content: m.content,
        name: m.name,
        tool_calls: m.tool_calls.map(|calls| {
            calls
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    kind: c.kind.unwrap_or_else(|| "function".into()),
                    function: FunctionCall {
                        name: c.function.name,
                        arguments: arguments_text(c.function.arguments),
                    },
                })
                .collect()
        }),
        tool_call_id: m.tool_call_id,
        extra: m.extra,
    })
}

/// Arguments as JSON text: a string as sent, missing ones as `{}`, anything else serialized.
pub(crate) fn arguments_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "{}".into(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<AnswerToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Deserialize)]
struct AnswerToolCall {
    #[serde(default, deserialize_with = "or_default")]
    id: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    function: AnswerFunction,
}

#[derive(Deserialize)]
struct AnswerFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}
