//! Output contracts: an answer must be JSON matching a schema — the request's
//! `response_format: {type: "json_schema", json_schema: {schema}}`, or the alias's
//! `output_schema`. A failing answer is re-asked once with the validation errors; a second
//! failure is 422 `contract_violation`.
//!
//! Error texts describe where and what (`/age: expected integer`), never the answer's values
//! ([`jsonschema::ValidationError::masked`]): they go back to the model in the re-ask and to the
//! client in the 422, and may be logged.

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::Validator;
use seam_config::Config;
use seam_types::chat::{ChatCompletion, ChatRequest, Content, Message, Role};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

/// Validation errors reported at most, in a re-ask or an error message.
const MAX_ERRORS: usize = 3;

pub(crate) struct Contract {
    validator: Validator,
    /// The schema, when the alias declares it: sent upstream as `response_format` so the model
    /// knows it (a request's own `response_format` is sent as is).
    alias_schema: Option<Value>,
}

pub(crate) struct Contracts {
    by_alias: HashMap<String, Arc<Contract>>,
}

impl Contracts {
    pub(crate) fn new(cfg: &Config) -> Result<Self, String> {
        let mut by_alias = HashMap::new();
        let mut errors = Vec::new();
        for (alias, m) in &cfg.models {
            let Some(schema) = &m.output_schema else {
                continue;
            };
            match jsonschema::validator_for(schema) {
                Ok(validator) => {
                    by_alias.insert(
                        alias.clone(),
                        Arc::new(Contract {
                            validator,
                            alias_schema: Some(schema.clone()),
                        }),
                    );
                }
                Err(e) => errors.push(format!(
                    "models.{alias}.output_schema: not a valid JSON Schema: {}",
                    e.masked()
                )),
            }
        }
        if errors.is_empty() {
            Ok(Contracts { by_alias })
        } else {
            Err(errors.join("\n"))
        }
    }

    /// The contract a request must meet: its own JSON Schema `response_format`, else its alias's.
    pub(crate) fn for_request(
        &self,
        route: &str,
        req: &ChatRequest,
    ) -> Result<Option<Arc<Contract>>, ApiError> {
        if let Some(schema) = request_schema(req) {
            return match jsonschema::validator_for(schema) {
                Ok(validator) => Ok(Some(Arc::new(Contract {
                    validator,
                    alias_schema: None,
                }))),
                Err(e) => Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "response_format.json_schema.schema is not a valid JSON Schema: {}",
                        e.masked()
                    ),
                )
                .with_param("response_format")),
            };
        }
        Ok(self.by_alias.get(route).cloned())
    }
}

fn request_schema(req: &ChatRequest) -> Option<&Value> {
    let rf = req.response_format.as_ref()?;
    if rf.get("type")?.as_str()? != "json_schema" {
        return None;
    }
    rf.get("json_schema")?.get("schema")
}

impl Contract {
    /// The request as sent upstream: with the alias's schema as `response_format` when the
    /// request has none.
    pub(crate) fn apply(&self, req: &mut ChatRequest) {
        if let Some(schema) = &self.alias_schema
            && req.response_format.is_none()
        {
            req.response_format = Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            }));
        }
    }

    /// Why the answer breaks the contract, or `None` when every choice meets it.
    pub(crate) fn check(&self, c: &ChatCompletion) -> Option<String> {
        for choice in &c.choices {
            let text = answer_text(&choice.message);
            if let Some(why) = self.check_text(&text) {
                return Some(if c.choices.len() > 1 {
                    format!("choice {}: {why}", choice.index)
                } else {
                    why
                });
            }
        }
        None
    }

    pub(crate) fn check_text(&self, text: &str) -> Option<String> {
        let value: Value = match serde_json::from_str(text.trim()) {
            Ok(v) => v,
            Err(e) => {
                return Some(format!(
                    "the answer is not JSON ({} at line {} column {})",
                    classify(&e),
                    e.line(),
                    e.column()
                ));
            }
        };
        let errors: Vec<String> = self
            .validator
            .iter_errors(&value)
            .take(MAX_ERRORS)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("at {path}: {}", e.masked())
            })
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "it ends early",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "unreadable",
    }
}

/// The text a contract applies to: the content; for an answer that only calls a tool, the first
/// call's arguments.
fn answer_text(m: &Message) -> String {
    match &m.content {
        Some(Content::Text(t)) if !t.is_empty() => t.clone(),
        Some(c @ Content::Parts(_)) => c.text(),
        _ => m
            .tool_calls
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.function.arguments.clone())
            .unwrap_or_default(),
    }
}

/// The follow-up request: the conversation, the failed answer (as the model wrote it, tokens
/// and all) and the validation errors.
pub(crate) fn reask(req: &ChatRequest, failed: &ChatCompletion, why: &str) -> ChatRequest {
    let mut r = req.clone();
    if let Some(choice) = failed.choices.first() {
        let mut m = choice.message.clone();
        m.role = Role::Assistant;
        r.messages.push(m);
    }
    r.messages.push(Message::new(
        Role::User,
        format!(
            "Your previous answer does not match the required JSON Schema: {why}. Answer again with only JSON that matches the schema."
        ),
    ));
    r.n = None;
    r
}

/// The 422 after a second failure.
pub(crate) fn violation(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ContractViolation,
        format!("The answer does not match the output contract, also after one re-ask: {why}"),
    )
}
