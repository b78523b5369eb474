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

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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
    // Counted where the rated request was served, if a rollout served it.
    let mut counted = false;
    if let Some((rollout, variant)) = rated.variant.as_deref().and_then(|v| v.rsplit_once(':')) {
        let side = match variant {
            "control" => Some(seam_rollouts::Variant::Control),
            "candidate" => Some(seam_rollouts::Variant::Candidate),
            _ => None,
        };
        if let (Some(rt), Some(side)) = (st.rollouts.get(rollout), side) {
            counted = rt.score(side, &metric, value).is_ok();
        }
    }
    let id = format!("fb_{}", uuid::Uuid::now_v7().simple());
    let rec = AuditRecord {
        id: id.clone(),
        time_ms: crate::audit::now_ms(),
        key_id: caller.map(|c| c.key_id.clone()),
        // The rated request's subject: erasing the subject erases its ratings too.
        subject: rated.subject.clone(),
        tags: vec![format!("request:{}", r.request_id), metric.clone()],
        endpoint: "feedback".to_owned(),
        model: rated.model.clone(),
        route: rated.route.clone(),
        status: 200,
        error_code: None,
        attempts: Vec::new(),
        findings: Vec::new(),
        usage: None,
        cost_usd: None,
        latency_ms: 0.0,
        ttft_ms: None,
        cache_hit: false,
        placement: None,
        kind: RecordKind::Feedback,
        count: None,
        prompt: rated.prompt.clone(),
        variant: rated.variant.clone(),
        // The rated request's class: a comment is kept (sealed) only where its request's texts are.
        class: rated.class,
        payload: Payload {
            client_request: Some(json!({
                "request_id": r.request_id,
                "name": r.name,
                "value": r.value,
                "comment": r.comment,
            })),
            upstream_request: None,
            response: None,
        },
    };
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
