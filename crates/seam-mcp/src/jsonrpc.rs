//! JSON-RPC 2.0 as MCP uses it: one message per POST body or stdio line; ids are numbers or
//! strings and are echoed exactly as received.

use serde_json::Value;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: a resource that does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// One incoming message, classified.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Has `method` and `id`: must be answered.
    Request {
        id: Value,
        method: String,
        params: Option<Value>,
    },
    /// Has `method`, no `id`.
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// Has `id` and `result`.
    Response { id: Value, result: Value },
    /// Has `id` (possibly null) and `error`.
    Error { id: Value, error: ErrorObject },
}

/// A JSON-RPC error object. `message` never carries request content.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Why a message could not be read, with the id to answer with when one could be read
/// (`Value::Null` otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    pub id: Value,
    pub error: ErrorObject,
}

/// Reads one message: not JSON → `-32700`; JSON that is not a JSON-RPC 2.0 message (a batch
/// array, a missing or wrong `jsonrpc`, a bad id, a non-string method, params that are neither
/// object nor array) → `-32600`, with the id when it was readable.
pub fn parse(bytes: &[u8]) -> Result<Message, Invalid> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| Invalid {
        id: Value::Null,
        error: ErrorObject::new(PARSE_ERROR, format!("Parse error: {e}")),
    })?;
    classify(v)
}

/// [`parse`] for an already-parsed value.
pub fn classify(v: Value) -> Result<Message, Invalid> {
    let invalid = |id: Value, why: &str| Invalid {
        id,
        error: ErrorObject::new(INVALID_REQUEST, format!("Invalid Request: {why}")),
    };
    let Value::Object(mut m) = v else {
        return Err(invalid(
            Value::Null,
            "a message is one JSON-RPC object (batches are not supported)",
        ));
    };
    let id = m.remove("id");
    let id_ok = |id: &Value| matches!(id, Value::Number(_) | Value::String(_));
    let shown_id = id.clone().filter(id_ok).unwrap_or(Value::Null);
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(shown_id, "`jsonrpc` must be \"2.0\""));
    }
    if let Some(method) = m.remove("method") {
        let Value::String(method) = method else {
            return Err(invalid(shown_id, "`method` must be a string"));
        };
        let params = m.remove("params");
        if let Some(p) = &params
            && !matches!(p, Value::Object(_) | Value::Array(_))
        {
            return Err(invalid(shown_id, "`params` must be an object or an array"));
        }
        return match id {
            None => Ok(Message::Notification { method, params }),
            Some(id) if id_ok(&id) => Ok(Message::Request { id, method, params }),
            Some(_) => Err(invalid(Value::Null, "`id` must be a string or a number")),
        };
    }
    let id = id.unwrap_or(Value::Null);
    if let Some(result) = m.remove("result") {
        if !id_ok(&id) {
            return Err(invalid(Value::Null, "`id` must be a string or a number"));
        }
        return Ok(Message::Response { id, result });
    }
    if let Some(error) = m.remove("error") {
        let error = serde_json::from_value(error)
            .map_err(|_| invalid(shown_id.clone(), "`error` must have a code and a message"))?;
        return Ok(Message::Error { id, error });
    }
    Err(invalid(
        shown_id,
        "a message needs `method`, `result` or `error`",
    ))
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`.
pub fn response(id: &Value, result: Value) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `{"jsonrpc":"2.0","id":…,"error":…}`.
pub fn error(id: &Value, error: ErrorObject) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// `{"jsonrpc":"2.0","method":…,"params":…}`.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    match params {
        Some(p) => serde_json::json!({"jsonrpc": "2.0", "method": method, "params": p}),
        None => serde_json::json!({"jsonrpc": "2.0", "method": method}),
    }
}

/// `{"jsonrpc":"2.0","id":…,"method":…,"params":…}`.
pub fn request(id: &Value, method: &str, params: Option<Value>) -> Value {
    match params {
        Some(p) => serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p}),
        None => serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method}),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use proptest::strategy::Strategy as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_are_classified() {
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap(),
            Message::Request {
                id: json!(7),
                method: "ping".into(),
                params: None
            }
        );
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            Message::Notification { .. }
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap(),
            Message::Response { .. }
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#).unwrap(),
            Message::Error { .. }
        ));
    }

    #[test]
    fn bad_messages_get_their_codes_and_keep_their_ids() {
        assert_eq!(parse(b"{nope").unwrap_err().error.code, PARSE_ERROR);
        let e = parse(br#"{"jsonrpc":"1.0","id":"x1","method":"ping"}"#).unwrap_err();
        assert_eq!((e.error.code, e.id), (INVALID_REQUEST, json!("x1")));
        let e = parse(br#"{"jsonrpc":"2.0","id":3,"method":5}"#).unwrap_err();
        assert_eq!((e.error.code, e.id), (INVALID_REQUEST, json!(3)));
        let e = parse(br#"[{"jsonrpc":"2.0","id":3,"method":"ping"}]"#).unwrap_err();
        assert_eq!((e.error.code, e.id), (INVALID_REQUEST, Value::Null));
        let e = parse(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#).unwrap_err();
        assert_eq!(e.error.code, INVALID_REQUEST);
        let e = parse(br#"{"jsonrpc":"2.0","id":4,"method":"x","params":3}"#).unwrap_err();
        assert_eq!((e.error.code, e.id), (INVALID_REQUEST, json!(4)));
    }

    proptest::proptest! {
        /// Whatever arrives, the parser answers without panicking, and an id it keeps is one
        /// the message carried.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            if let Err(e) = parse(&bytes) {
                proptest::prop_assert!(matches!(e.error.code, PARSE_ERROR | INVALID_REQUEST));
            }
        }

        #[test]
        fn any_json_object_is_classified_and_ids_round_trip(
            id in proptest::prop_oneof![
                proptest::prelude::any::<i64>().prop_map(Value::from),
                "[a-z0-9-]{0,12}".prop_map(Value::from),
            ],
            method in "[a-z/_]{1,20}",
            with_params in proptest::prelude::any::<bool>(),
        ) {
            let mut v = serde_json::json!({"jsonrpc": "2.0", "id": id.clone(), "method": method.clone()});
            if with_params {
                v["params"] = serde_json::json!({"k": [1, "x"]});
            }
            let bytes = serde_json::to_vec(&v).unwrap();
            match parse(&bytes).unwrap() {
                Message::Request { id: got, method: m, params } => {
                    proptest::prop_assert_eq!(got, id);
                    proptest::prop_assert_eq!(m, method);
                    proptest::prop_assert_eq!(params.is_some(), with_params);
                }
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}
