//! `POST /v1/responses`: OpenAI's Responses API as a codec over the pipeline.
//!
//! A request (with the conversation its `previous_response_id` names, loaded from
//! [`crate::conversations`]) becomes one `ChatRequest`, so every target — OpenAI-format or not —
//! answers it; the answer becomes a Response object, or the Responses event stream. With `store`
//! (the default) the turn is kept for the next `previous_response_id`. Pure translation lives in
//! [`convert`], the stream in [`stream`].
//!
//! The request also travels as itself ([`native_body`]): an OpenAI target with the Responses
//! API gets it without a round trip through chat (built-in tools, `reasoning`, `include`,
//! `truncation` intact), with Seam's conversation state expanded into `input` and `store:
//! false`, since Seam keeps the state and the vendor keeps nothing.

pub mod convert;
pub mod stream;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use seam_types::chat::{ChatCompletion, Native, Wire};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Map, Value};

use crate::conversations::{Conversations, StoredResponse};
use crate::pipeline::{Cx, serve};
use crate::surface::{Codec, DecodeCx, Decoded};
use crate::{SharedState, metrics};
use convert::{CreateRequest, Meta, Status};

/// `POST /v1/responses`.
pub async fn handle(State(st): State<SharedState>, cx: Cx, raw: axum::body::Body) -> Response {
    let conversations = st.conversations.clone();
    serve(st, cx, raw, Responses::new(conversations)).await
}

/// The Responses codec for one request: its response id is drawn when it is made.
pub struct Responses {
    conversations: Option<Arc<Conversations>>,
    meta: Arc<Meta>,
    turn: Option<Turn>,
}

/// What decoding learnt that storing needs.
struct Turn {
    /// The conversation as the model sees it this turn: earlier turns, then this turn's input,
    /// each item with an id.
    items: Vec<Value>,
    key_id: Option<String>,
    subject: Option<String>,
}

impl Responses {
    /// A codec that reads and keeps conversation state in `conversations` (`None`: state off).
    pub fn new(conversations: Option<Arc<Conversations>>) -> Self {
        let base = uuid::Uuid::now_v7().simple().to_string();
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().try_into().unwrap_or(i64::MAX));
        Responses {
            conversations,
            meta: Arc::new(Meta::new(&base, created_at, &CreateRequest::default())),
            turn: None,
        }
    }

    /// The Response object for a whole answer: what a unary request returns and what is stored.
    fn response(&self, answer: &ChatCompletion) -> Value {
        let finish = answer
            .choices
            .first()
            .and_then(|c| c.finish_reason.as_deref());
        convert::response(
            &self.meta,
            &answer.model,
            &convert::output_items(answer),
            Status::Done(finish),
            answer.usage.as_ref(),
        )
    }

    /// The earlier turns `previous_response_id` names: their input, then their output.
    async fn prior(&self, id: &str, key_id: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let Some(conversations) = &self.conversations else {
            return Err(ApiError::new(
                ErrorCode::UnsupportedParameter,
                "`previous_response_id` needs conversation state, which this gateway keeps off \
                 ([responses] store = false)",
            )
            .with_param("previous_response_id"));
        };
        let Some(stored) = conversations.get(id, key_id).await? else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "No stored response has the id given in `previous_response_id`",
            )
            .with_param("previous_response_id"));
        };
        let mut items = stored.input_items;
        if let Some(Value::Array(output)) = stored.response.get("output") {
            items.extend(output.iter().cloned());
        }
        Ok(items)
    }
}

impl Codec for Responses {
    type Record = CreateRequest;
    type Encoder = stream::Encoder;
    const ENDPOINT: &'static str = "responses";
    const METRIC: &'static str = metrics::RESPONSES;

    async fn decode(
        &mut self,
        body: Bytes,
        cx: DecodeCx<'_>,
    ) -> Result<Decoded<Self::Record>, ApiError> {
        let req: CreateRequest = crate::body::json(&body)?;
        req.check()?;
        let prior = match req.previous_response_id.as_deref() {
            Some(id) => self.prior(id, cx.key_id).await?,
            None => Vec::new(),
        };
        let input = req.input_items()?;
        let mut chat = convert::to_chat(&req, &prior, &input)?;
        let requires = convert::requires(&req, prior.iter().chain(&input));
        if requires.is_some() || (cx.takes_native)(&req.model, Wire::OpenAiResponses) {
            chat.native = Some(Native {
                wire: Wire::OpenAiResponses,
                body: Arc::new(native_body(&req, &prior, &input)?),
                headers: Vec::new(),
                requires,
            });
        }
        self.meta = Arc::new(self.meta.for_request(&req));
        // The conversation so far, kept only when this turn is stored.
        if self.meta.store && self.conversations.is_some() {
            let mut items = prior;
            items.extend(self.meta.with_ids(input));
            self.turn = Some(Turn {
                items,
                key_id: cx.key_id.map(str::to_owned),
                subject: cx.subject.map(str::to_owned).or_else(|| req.user.clone()),
            });
        }
        Ok(Decoded {
            chat,
            user: req.user.clone(),
            record: req,
        })
    }

    fn apply_prompt(
        body: &mut Map<String, Value>,
        r: &seam_prompts::Rendered,
        params: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let invalid = |param: &str, msg: &str| {
            ApiError::new(ErrorCode::InvalidRequest, msg.to_owned()).with_param(param)
        };
        if let Some(system) = &r.system {
            let own = match body.remove("instructions") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(_) => return Err(invalid("instructions", "`instructions` must be a string")),
            };
            let merged = crate::prompts::join_text(Some(system), own.as_deref());
            body.insert(
                "instructions".into(),
                merged.map_or(Value::Null, Value::String),
            );
        }
        let user = serde_json::json!({"type": "message", "role": "user", "content": r.user});
        let input = match body.remove("input") {
            None | Some(Value::Null) => vec![user],
            Some(Value::String(s)) => vec![
                user,
                serde_json::json!({"type": "message", "role": "user", "content": s}),
            ],
            Some(Value::Array(items)) => std::iter::once(user).chain(items).collect(),
            Some(_) => return Err(invalid("input", "`input` must be a string or an array")),
        };
        body.insert("input".into(), Value::Array(input));
        for (k, v) in params {
            match k.as_str() {
                "max_tokens" | "max_completion_tokens" | "max_output_tokens" => {
                    crate::prompts::default_param(body, "max_output_tokens", v);
                }
                "temperature" | "top_p" | "metadata" | "parallel_tool_calls" => {
                    crate::prompts::default_param(body, k, v);
                }
                _ => return Err(crate::prompts::unsupported_param("/v1/responses", k)),
            }
        }
        Ok(())
    }

    fn error(&self, e: &ApiError) -> Response {
        crate::error::error_response(e)
    }

    fn unary(&self, answer: &ChatCompletion) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(&self.response(answer))
            .map_err(|_| ApiError::new(ErrorCode::Internal, "The response could not be encoded"))
    }

    fn encoder(&self) -> Self::Encoder {
        stream::Encoder::new(Arc::clone(&self.meta))
    }

    async fn complete(&self, answer: &ChatCompletion) -> Result<(), ApiError> {
        let (Some(conversations), Some(turn), true) =
            (&self.conversations, &self.turn, self.meta.store)
        else {
            return Ok(());
        };
        conversations
            .put(StoredResponse {
                id: self.meta.id.clone(),
                key_id: turn.key_id.clone(),
                subject: turn.subject.clone(),
                created_at: self.meta.created_at,
                input_items: turn.items.clone(),
                response: self.response(answer),
            })
            .await
    }
}

/// The request as an OpenAI target with the Responses API gets it: the client's fields, with
/// `input` the earlier turns then this turn's items (see [`vendor_items`]), no
/// `previous_response_id` (the vendor never saw it), `store: false` and no `stream` (the adapter
/// sets it).
pub fn native_body(
    req: &convert::CreateRequest,
    prior: &[Value],
    input: &[Value],
) -> Result<Map<String, Value>, ApiError> {
    let Ok(Value::Object(mut body)) = serde_json::to_value(req) else {
        return Err(ApiError::new(
            ErrorCode::Internal,
            "The request could not be re-encoded",
        ));
    };
    body.remove("previous_response_id");
    body.remove("stream");
    body.insert("store".into(), Value::Bool(false));
    let items = prior.iter().chain(input).filter_map(vendor_item).collect();
    body.insert("input".into(), Value::Array(items));
    Ok(body)
}

/// An item as the vendor takes it without state of its own: Seam's ids (and any id the vendor
/// never stored) come off messages and function calls and their outputs, and a reasoning item
/// without `encrypted_content` is dropped, as the vendor could not look it up.
fn vendor_item(item: &Value) -> Option<Value> {
    let Some(obj) = item.as_object() else {
        return Some(item.clone());
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("message");
    match kind {
        "reasoning" if obj.get("encrypted_content").is_none_or(Value::is_null) => None,
        "message" | "function_call" | "function_call_output" => {
            let mut obj = obj.clone();
            obj.remove("id");
            Some(Value::Object(obj))
        }
        _ => Some(item.clone()),
    }
}
