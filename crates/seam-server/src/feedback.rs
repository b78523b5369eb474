//! `POST /v1/feedback`: a task metric on an earlier request — `{request_id, name, value,
//! comment?}`, the value a boolean or a number in 0..=1 — stored in the audit trail (a record of
//! kind `feedback` beside the rated request's, with its model, prompt and variant) and, when a
//! rollout served the request, counted as `feedback:NAME` in its variant's tally.
//!
//! A key may rate only its own requests, or its team's; a request it may not rate is `404` like
//! one that does not exist, so ids of other teams' requests cannot be probed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use seam_store::{AuditRecord, Payload, Query, RecordKind};
use seam_types::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::{Value, json};

use seam_rollouts::check::valid_name;

use crate::SharedState;
use crate::auth::Caller;
use crate::error::error_response;
use crate::pipeline::json_response;

/// The longest comment kept (characters).
const MAX_COMMENT: usize = 4_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rating {
    request_id: String,
    name: String,
    value: Value,
    #[serde(default)]
    comment: Option<String>,
}

fn invalid(param: &str, msg: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg.to_owned()).with_param(param)
}

/// The rating's value as a score: `true` 1, `false` 0, a number in 0..=1 as it is.
fn score(v: &Value) -> Result<f64, ApiError> {
    match v {
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n
            .as_f64()
            .filter(|x| (0.0..=1.0).contains(x))
            .ok_or_else(|| {
                invalid(
                    "value",
                    "must be a boolean or a number from 0 to 1 (map a 1-5 rating r to (r - 1) / 4)",
                )
            }),
        _ => Err(invalid(
            "value",
            "must be a boolean or a number from 0 to 1",
        )),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "No request with that id that this key may rate (its own, or its team's)",
    )
    .with_param("request_id")
}

/// Whether `caller` may rate a request made with `key_id`.
fn may_rate(st: &SharedState, caller: Option<&Caller>, key_id: Option<&str>) -> bool {
    let Some(c) = caller else {
        // No keys at all: whoever reaches Seam may rate.
        return true;
    };
    match key_id {
        Some(k) if k == c.key_id => true,
        Some(k) => c
            .team
            .as_deref()
            .is_some_and(|team| st.keyring.keys().team_of(k) == Some(Some(team))),
        None => false,
    }
}

pub async fn handle(
    State(st): State<SharedState>,
    caller: Option<axum::Extension<std::sync::Arc<Caller>>>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    match rate(&st, caller.as_deref().map(|c| &**c), &headers, raw).await {
        Ok(v) => {
            let mut resp = json_response(&v);
            *resp.status_mut() = StatusCode::CREATED;
            resp
        }
        Err(e) => error_response(&e),
    }
}

async fn rate(
    st: &SharedState,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    raw: Body,
) -> Result<Value, ApiError> {
    let live = st.live();
    let r: Rating =
        crate::body::request(raw, headers, live.max_body_bytes, |_: &Rating| Ok(())).await?;
    if !valid_name(&r.name) {
        return Err(invalid(
            "name",
            "must be 1-64 letters, digits, '-', '_' or '.'",
        ));
    }
    let value = score(&r.value)?;
    if r.comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT)
    {
        return Err(invalid("comment", "must be at most 4000 characters"));
    }
    let Some(auditor) = st.auditor.clone() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "feedback is kept in the audit trail, which is off ([audit] enabled = false)",
        ));
    };
    if r.request_id.is_empty() || r.request_id.len() > 128 {
        return Err(not_found());
    }
    let found = auditor
        .search(Query {
            id: Some(r.request_id.clone()),
            kind: Some(RecordKind::Request),
            limit: Some(1),
            ..Query::default()
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "feedback: the audit search failed");
            ApiError::new(
                ErrorCode::Internal,
                "the audit trail could not be read; the log has details",
            )
        })?;
    let Some(rated) = found.into_iter().next() else {
        return Err(not_found());
    };
    if !may_rate(st, caller, rated.key_id.as_deref()) {
        return Err(not_found());
    }
    let metric = format!("feedback:{}", r.name);
    let counted = count_in_rollout(&st.rollouts, rated.variant.as_deref(), &metric, value);
    let id = format!("fb_{}", uuid::Uuid::now_v7().simple());
    let rec = rating_record(
        Rated {
            request_id: &r.request_id,
            subject: rated.subject.clone(),
            model: rated.model.clone(),
            route: rated.route.clone(),
            prompt: rated.prompt.clone(),
            variant: rated.variant.clone(),
            class: rated.class,
        },
        id.clone(),
        caller.map(|c| c.key_id.clone()),
        &metric,
        json!({
            "request_id": r.request_id,
            "name": r.name,
            "value": r.value,
            "comment": r.comment,
        }),
    );
    auditor.submit(rec).await?;
    metrics::counter!("seam_feedback_total", "counted" => if counted { "rollout" } else { "stored" })
        .increment(1);
    Ok(json!({
        "id": id,
        "object": "feedback",
        "request_id": r.request_id,
        "name": r.name,
        "value": value,
        "prompt": rated.prompt,
        "variant": rated.variant,
    }))
}

/// Counts a task metric in the rollout side that served a request (`ROLLOUT:VARIANT` as its
/// record has it); whether it did.
fn count_in_rollout(
    rollouts: &crate::rollouts::Rollouts,
    variant: Option<&str>,
    metric: &str,
    value: f64,
) -> bool {
    let Some((rollout, side)) = variant.and_then(|v| v.rsplit_once(':')) else {
        return false;
    };
    let side = match side {
        "control" => seam_rollouts::Variant::Control,
        "candidate" => seam_rollouts::Variant::Candidate,
        _ => return false,
    };
    rollouts
        .get(rollout)
        .is_some_and(|rt| rt.score(side, metric, value).is_ok())
}

/// What a rating copies from the request it rates.
struct Rated<'a> {
    request_id: &'a str,
    subject: Option<String>,
    model: Option<String>,
    route: Option<String>,
    prompt: Option<String>,
    variant: Option<String>,
    class: seam_store::RetentionClass,
}

/// A `feedback` record: a rating (`feedback:NAME` from a person, `eval:NAME` from an online
/// evaluator) beside the request it rates, with that request's model, prompt, variant, subject (so
/// erasing the subject erases it) and class (a comment is kept, sealed, only where the request's
/// texts are).
fn rating_record(
    rated: Rated<'_>,
    id: String,
    key_id: Option<String>,
    metric: &str,
    payload: Value,
) -> AuditRecord {
    AuditRecord {
        key_id,
        subject: rated.subject,
        tags: vec![format!("request:{}", rated.request_id), metric.to_owned()],
        model: rated.model,
        route: rated.route,
        prompt: rated.prompt,
        variant: rated.variant,
        trace_id: crate::audit::current_trace_id(),
        class: rated.class,
        payload: Payload {
            client_request: Some(payload),
            upstream_request: None,
            response: None,
        },
        ..AuditRecord::event(id, RecordKind::Feedback, "feedback", crate::audit::now_ms())
    }
}

/// Where online evaluators' scores go in `seam serve`: counted as `eval:NAME` in the rollout side
/// that served the request, and kept as a `feedback` record beside it — metadata only, the score
/// in its tags (`value=…`, `pass=…`): an evaluator's reasons may quote the answer, so they are not
/// kept.
pub struct StoreSink {
    pub auditor: Option<std::sync::Arc<crate::audit::Auditor>>,
    pub rollouts: std::sync::Arc<crate::rollouts::Rollouts>,
}

impl crate::evaluate::ScoreSink for StoreSink {
    fn score(&self, s: crate::evaluate::Score) {
        count_in_rollout(&self.rollouts, s.variant.as_deref(), &s.name, s.value);
        let Some(auditor) = &self.auditor else { return };
        let mut rec = rating_record(
            Rated {
                request_id: &s.request_id,
                subject: s.subject.clone(),
                model: s.alias.clone(),
                route: None,
                prompt: s.prompt.clone(),
                variant: s.variant.clone(),
                class: seam_store::RetentionClass::Metadata,
            },
            format!("ev_{}", uuid::Uuid::now_v7().simple()),
            None,
            &s.name,
            Value::Null,
        );
        rec.payload = Payload::default();
        rec.tags.push(format!("value={:.4}", s.value));
        rec.tags.push(format!("pass={}", s.pass));
        auditor.submit_detached(rec);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn values_are_scores_from_zero_to_one() {
        assert_eq!(score(&json!(true)).unwrap(), 1.0);
        assert_eq!(score(&json!(false)).unwrap(), 0.0);
        assert_eq!(score(&json!(0.25)).unwrap(), 0.25);
        for bad in [json!(5), json!(-0.1), json!("yes"), json!(null)] {
            assert_eq!(score(&bad).unwrap_err().param.as_deref(), Some("value"));
        }
        assert!(valid_name("resolved") && valid_name("csat.v2"));
        assert!(!valid_name("") && !valid_name("a b") && !valid_name(&"x".repeat(65)));
    }
}
