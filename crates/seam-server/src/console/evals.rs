//! Eval and red-team runs in the console: an admin uploads the JSON report `seam eval -o r.json`
//! or `seam redteam -o r.json` wrote (checked against its own counts, at most
//! [`MAX_REPORT_BYTES`]); the store keeps it; both roles list runs with their pass rate and its
//! Wilson interval, and read one back whole.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use seam_store::{EvalRun, EvalStore};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use super::session::AdminSession;
use crate::SharedState;
use crate::admin::with_store;
use crate::error::error_response;
use crate::pipeline::json_response;

/// The largest report accepted.
pub(crate) const MAX_REPORT_BYTES: usize = 5 * 1024 * 1024;
/// The longest run name.
const MAX_NAME: usize = 200;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// What a report is and how it went.
struct Outcome {
    kind: &'static str,
    passed: u64,
    total: u64,
    /// The name a run gets when the upload gives none.
    name: String,
}

fn classify(report: &Value) -> Result<Outcome, ApiError> {
    let not_a_report = || {
        bad(
            "The body is not a report written by `seam eval -o FILE.json` or `seam redteam -o FILE.json`",
        )
    };
    if report.get("summary").is_some() && report.get("target").is_some() {
        redteam(report).ok_or_else(not_a_report)?
    } else if report.get("totals").is_some() {
        eval(report)
    } else {
        Err(not_a_report())
    }
}

/// `seam eval`'s report: its totals must be its results' counts.
fn eval(report: &Value) -> Result<Outcome, ApiError> {
    let r: seam_evals::report::Report = serde_json::from_value(report.clone())
        .map_err(|e| bad(format!("The eval report does not read as one: {e}")))?;
    let passed = r.results.iter().filter(|c| c.pass).count();
    if r.totals.cases != r.results.len() || r.totals.passed != passed {
        return Err(bad(
            "The eval report's totals do not match its results (edited by hand?)",
        ));
    }
    let name = r.description.unwrap_or_else(|| "eval".to_owned());
    Ok(Outcome {
        kind: "eval",
        passed: passed as u64,
        total: r.results.len() as u64,
        name,
    })
}

/// `seam redteam`'s report: its summary must be its results' counts.
fn redteam(report: &Value) -> Option<Result<Outcome, ApiError>> {
    #[derive(serde::Deserialize)]
    struct Summary {
        probes: u64,
        passed: u64,
        failed: u64,
        errors: u64,
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        id: String,
        status: String,
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        target: String,
        summary: Summary,
        results: Vec<Probe>,
    }
    let r: Shape = serde_json::from_value(report.clone()).ok()?;
    let count = |s: &str| r.results.iter().filter(|p| p.status == s).count() as u64;
    let s = &r.summary;
    let consistent = s.probes == r.results.len() as u64
        && s.passed == count("passed")
        && s.failed == count("failed")
        && s.errors == count("error")
        && r.results.iter().all(|p| !p.id.is_empty());
    if !consistent {
        return Some(Err(bad(
            "The red-team report's summary does not match its results (edited by hand?)",
        )));
    }
    Some(Ok(Outcome {
        kind: "redteam",
        passed: s.passed,
        total: s.probes,
        name: format!("redteam {}", r.target),
    }))
}

/// A run as lists show it: counts, pass rate and its 95 % Wilson interval.
fn summary(run: &EvalRun) -> Value {
    let ci = seam_evals::stats::wilson(run.passed, run.total, seam_evals::report::CONFIDENCE);
    json!({
        "id": run.id,
        "name": run.name,
        "kind": run.kind,
        "uploaded": run.uploaded_ms,
        "uploaded_by": run.uploaded_by,
        "passed": run.passed,
        "total": run.total,
        "pass_rate": (run.total > 0).then(|| run.passed as f64 / run.total as f64),
        "lo": ci.low,
        "hi": ci.high,
    })
}

/// `POST /console/api/evals` (admin): the report, plus an optional `"name"`; 201 `{"id", ...}`.
pub(crate) async fn upload(
    State(st): State<SharedState>,
    AdminSession(session): AdminSession,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let bytes = match crate::body::read(raw, &headers, MAX_REPORT_BYTES).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let mut report: Value = match crate::body::json(&bytes) {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    let Some(obj) = report.as_object_mut() else {
        return error_response(&bad("A report is a JSON object"));
    };
    let name = match obj.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n))
            if !n.trim().is_empty()
                && n.chars().count() <= MAX_NAME
                && !n.chars().any(char::is_control) =>
        {
            Some(n)
        }
        Some(_) => {
            return error_response(
                &bad(format!(
                    "`name` must be text of 1 to {MAX_NAME} printable characters"
                ))
                .with_param("name"),
            );
        }
    };
    let Outcome {
        kind,
        passed,
        total,
        name: default_name,
    } = match classify(&report) {
        Ok(c) => c,
        Err(e) => return error_response(&e),
    };
    let run = EvalRun {
        id: format!("run_{}", uuid::Uuid::now_v7().simple()),
        name: name
            .unwrap_or(default_name)
            .chars()
            .take(MAX_NAME)
            .collect(),
        kind: kind.to_owned(),
        uploaded_ms: crate::audit::now_ms(),
        passed,
        total,
        uploaded_by: Some(session.name.clone()),
    };
    let text = report.to_string();
    let stored = run.clone();
    match with_store(&st, "eval store", EvalStore::open, move |s| {
        s.put(&stored, &text)
    })
    .await
    {
        Ok(()) => {
            tracing::info!(run = %run.id, kind, by = %session.name, "console: eval run uploaded");
            let mut resp = json_response(&summary(&run));
            *resp.status_mut() = StatusCode::CREATED;
            resp
        }
        Err(e) => error_response(&e),
    }
}

/// `GET /console/api/evals[?limit=100]`: runs, newest first.
pub(crate) async fn list(
    State(st): State<SharedState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let limit = match params.get("limit").map(|l| l.parse::<u64>()) {
        None => 100,
        Some(Ok(l)) => l.clamp(1, 1000),
        Some(Err(_)) => {
            return error_response(&bad("`limit` must be a whole number").with_param("limit"));
        }
    };
    match with_store(&st, "eval store", EvalStore::open, move |s| s.list(limit)).await {
        Ok(runs) => {
            let runs: Vec<Value> = runs.iter().map(summary).collect();
            json_response(&json!({ "runs": runs }))
        }
        Err(e) => error_response(&e),
    }
}

/// `GET /console/api/evals/{id}`: the run's summary and `"report"`, the JSON as uploaded.
pub(crate) async fn get(State(st): State<SharedState>, Path(id): Path<String>) -> Response {
    let wanted = id.clone();
    match with_store(&st, "eval store", EvalStore::open, move |s| s.get(&wanted)).await {
        Ok(Some((run, text))) => {
            let mut v = summary(&run);
            v["report"] = serde_json::from_str(&text).unwrap_or(Value::Null);
            json_response(&v)
        }
        Ok(None) => error_response(&ApiError::new(
            ErrorCode::NotFound,
            "No eval run with that id",
        )),
        Err(e) => error_response(&e),
    }
}
