//! Retrieval on an alias (`[models.NAME.retrieval]`): the passages the caller may see are
//! rendered through the alias's template into one context message, put into the request before
//! the input policy sees it, and named in `x-seam-citations` and the audit record.

use axum::http::HeaderValue;
use seam_store::CitationRecord;
use seam_types::chat::{ChatRequest, Content, Message, Role, Wire};
use serde_json::{Value, json};

/// `x-seam-citations`: a JSON array of `{collection, document, chunk, score}`, one per passage
/// the request was given, in the order of the context.
pub const HEADER: &str = "x-seam-citations";

/// One passage as the template sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Passage {
    /// 1-based: what `[n]` in an answer refers to.
    pub n: usize,
    pub document: String,
    pub chunk: u32,
    pub title: Option<String>,
    pub heading: Option<String>,
    pub text: String,
    pub score: f64,
}

/// The context message: `template` rendered with `chunks` (the passages) and `query` (the
/// question they were found for), plus `context`, the passages as numbered plain text.
pub fn render(template: &str, passages: &[Passage], query: &str) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    let tmpl = env
        .template_from_str(template)
        .map_err(|e| format!("the alias's retrieval template does not compile: {e}"))?;
    let context: String = passages
        .iter()
        .map(|p| format!("[{}] {}\n\n", p.n, p.text))
        .collect();
    let chunks: Vec<minijinja::Value> = passages
        .iter()
        .map(|p| {
            minijinja::context! {
                n => p.n,
                document => &p.document,
                chunk => p.chunk,
                title => &p.title,
                heading => &p.heading,
                text => &p.text,
                score => p.score,
            }
        })
        .collect();
    tmpl.render(minijinja::context! { chunks => chunks, query => query, context => context })
        .map_err(|e| format!("the alias's retrieval template failed: {e}"))
}

/// Puts `context` into `req` as a system message after its leading system and developer
/// messages (the application's own instructions stay first), and into a native body the same
/// way: Messages' `system` gets it as a further text, Responses' `instructions` after a blank
/// line.
pub fn inject(req: &mut ChatRequest, context: &str) {
    let at = req
        .messages
        .iter()
        .take_while(|m| matches!(m.role, Role::System | Role::Developer))
        .count();
    req.messages.insert(
        at,
        Message {
            role: Role::System,
            content: Some(Content::Text(context.to_owned())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Default::default(),
        },
    );
    if let Some(native) = req.native.as_mut() {
        let body = std::sync::Arc::make_mut(&mut native.body);
        match native.wire {
            Wire::AnthropicMessages => {
                let block = json!({"type": "text", "text": context});
                match body.get_mut("system") {
                    Some(Value::String(s)) => {
                        let first = json!({"type": "text", "text": std::mem::take(s)});
                        body.insert("system".into(), Value::Array(vec![first, block]));
                    }
                    Some(Value::Array(blocks)) => blocks.push(block),
                    _ => {
                        body.insert("system".into(), Value::String(context.to_owned()));
                    }
                }
            }
            Wire::OpenAiResponses => {
                let text = match body.get("instructions").and_then(Value::as_str) {
                    Some(s) if !s.is_empty() => format!("{s}\n\n{context}"),
                    _ => context.to_owned(),
                };
                body.insert("instructions".into(), Value::String(text));
            }
        }
    }
}

/// The citations of `passages` from `collection`, for the record.
pub fn citations(collection: &str, passages: &[Passage]) -> Vec<CitationRecord> {
    passages
        .iter()
        .map(|p| CitationRecord {
            collection: collection.to_owned(),
            document: p.document.clone(),
            chunk: p.chunk,
            score: (p.score * 1e6).round() / 1e6,
        })
        .collect()
}

/// `x-seam-citations`' value. Document ids are limited to header-safe characters, so the JSON
/// always fits a header.
pub fn header(citations: &[CitationRecord]) -> Option<HeaderValue> {
    let text = serde_json::to_string(citations).ok()?;
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn passage(n: usize, text: &str) -> Passage {
        Passage {
            n,
            document: format!("doc-{n}"),
            chunk: 0,
            title: Some("Handbook".into()),
            heading: Some("Leave".into()),
            text: text.into(),
            score: 0.5,
        }
    }

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn the_default_template_numbers_passages() {
        let out = render(
            seam_config::retrieval::DEFAULT_TEMPLATE,
            &[
                passage(1, "Staff get 25 days."),
                passage(2, "Carry over 5."),
            ],
            "how many days?",
        )
        .unwrap();
        assert!(
            out.contains("[1] Handbook — Leave\nStaff get 25 days."),
            "{out}"
        );
        assert!(out.contains("[2] "), "{out}");
    }

    #[test]
    fn context_goes_after_the_applications_instructions() {
        let mut req = request(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"}
            ]
        }));
        inject(&mut req, "CONTEXT");
        assert_eq!(req.messages.len(), 3);
        assert_eq!(req.messages[0].text(), "Be brief.");
        assert_eq!(req.messages[1].text(), "CONTEXT");
        assert_eq!(req.messages[2].text(), "hi");
    }

    #[test]
    fn a_template_error_is_reported_not_panicked() {
        assert!(render("{% for %}", &[], "q").is_err());
    }

    #[test]
    fn the_header_is_json() {
        let c = citations("handbook", &[passage(1, "x")]);
        let h = header(&c).unwrap();
        let back: Vec<CitationRecord> = serde_json::from_slice(h.as_bytes()).unwrap();
        assert_eq!(back[0].document, "doc-1");
    }
}
