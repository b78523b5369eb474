//! `/console/api/reports/{kind}`: the build/buy/hybrid reports of `seam report …`, built by the
//! same code ([`seam_reports::build`]) from this server's store and live config.
//!
//! `GET` builds `cost`, `quality`, `exit` and `matrix` (even weights); `POST` with a JSON body
//! gives a report its file as text: `{"scenarios": TOML}` (`whatif`, required), `{"weights":
//! TOML}` (`matrix`), `{"capabilities": TOML}` (`exit`). `?since=&until=` set the period (the
//! CLI's defaults: 30 days for cost and what-if, a quarter for the others). `?format=` is `doc`
//! (default: the document as JSON, which the page renders) or `md`, `html`, `json`: the CLI's
//! bytes, as a download.
//!
//! A report scans the period's records (about 2 s per million on one core): it runs on a thread
//! of its own, one at a time per server; a second asked meanwhile is refused with 429 and
//! `retry-after`, so a flood of report requests cannot starve the gateway.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_reports::build::{self, BuildError, Inputs};
use seam_reports::capabilities::Overrides;
use seam_reports::traffic::Period;
use seam_reports::weights::Weights;
use seam_reports::{Format, Report};
use seam_types::{ApiError, ErrorCode};
use serde_json::Value;

use super::ConsoleExt;
use crate::SharedState;
use crate::error::error_response;
use crate::pipeline::json_response;

const DAY_MS: i64 = 86_400_000;

/// The reports this API builds, and their default period in days (the CLI's).
const KINDS: &[(&str, i64)] = &[
    ("cost", 30),
    ("whatif", 30),
    ("quality", 90),
    ("matrix", 90),
    ("exit", 90),
];

/// One report at a time per server.
#[derive(Default)]
pub(crate) struct Gate(std::sync::atomic::AtomicBool);

/// Holds the [`Gate`] while a report is built; opens it when dropped.
struct Held(Arc<super::Console>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0
            .reports
            .0
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

fn bad(message: impl Into<String>, param: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message).with_param(param)
}

/// The period from `?since=&until=`, as `seam report` reads `--since`/`--until`.
fn period(params: &HashMap<String, String>, default_days: i64) -> Result<Period, ApiError> {
    let now = crate::audit::now_ms();
    let until = match params.get("until") {
        Some(u) => seam_store::parse_time(u).map_err(|e| bad(format!("until: {e}"), "until"))?,
        None => now,
    };
    let since = match params.get("since") {
        Some(s) => seam_store::parse_time(s).map_err(|e| bad(format!("since: {e}"), "since"))?,
        None => until - default_days * DAY_MS,
    };
    if since >= until {
        return Err(bad("`since` must be before `until`", "since"));
    }
    Ok(Period {
        since_ms: since,
        until_ms: until,
    })
}

/// `?format=`: `None` for the document the page renders.
fn format(params: &HashMap<String, String>) -> Result<Option<Format>, ApiError> {
    match params.get("format").map(String::as_str) {
        None | Some("doc") => Ok(None),
        Some(f) => Format::parse(f)
            .map(Some)
            .ok_or_else(|| bad("`format` must be doc, md, html or json", "format")),
    }
}

/// A report's file from the body: `{"NAME": "TOML text"}`.
fn file<'a>(body: Option<&'a Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.and_then(|b| b.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(
            format!("`{name}` must be the file's text (TOML)"),
            name,
        )),
    }
}

/// What to build, checked before any record is read.
enum Job {
    Cost,
    Whatif(String),
    Quality,
    Matrix(Weights, String),
    Exit(Overrides),
}

fn job(kind: &str, body: Option<&Value>) -> Result<Job, ApiError> {
    if let Some(b) = body {
        let Some(o) = b.as_object() else {
            return Err(bad("the body must be a JSON object", "body"));
        };
        let allowed: &[&str] = match kind {
            "whatif" => &["scenarios"],
            "matrix" => &["weights"],
            "exit" => &["capabilities"],
            _ => &[],
        };
        if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(
                format!("the {kind} report takes no `{k}` (it takes: {allowed:?})"),
                k,
            ));
        }
    }
    Ok(match kind {
        "cost" => Job::Cost,
        "quality" => Job::Quality,
        "whatif" => {
            let text = file(body, "scenarios")?.ok_or_else(|| {
                bad(
                    "the what-if report needs a scenario file: POST {\"scenarios\": \"TOML\"} (docs/reports.md)",
                    "scenarios",
                )
            })?;
            Job::Whatif(text.to_owned())
        }
        "matrix" => match file(body, "weights")? {
            Some(text) => Job::Matrix(
                Weights::parse(text).map_err(|e| bad(format!("weights: {e}"), "weights"))?,
                "weights from the console".to_owned(),
            ),
            None => Job::Matrix(Weights::even(), "even weights".to_owned()),
        },
        "exit" => Job::Exit(match file(body, "capabilities")? {
            Some(text) => Overrides::parse(text)
                .map_err(|e| bad(format!("capabilities: {e}"), "capabilities"))?,
            None => Overrides::default(),
        }),
        other => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("No report `{other}`: cost, whatif, quality, matrix or exit"),
            ));
        }
    })
}

/// `GET /console/api/reports/{kind}`.
pub(crate) async fn get(
    state: State<SharedState>,
    console: ConsoleExt,
    kind: Path<String>,
    params: Query<HashMap<String, String>>,
) -> Response {
    serve(state, console, kind, params, None).await
}

/// `POST /console/api/reports/{kind}` with the report's file in a JSON body.
pub(crate) async fn post(
    state: State<SharedState>,
    console: ConsoleExt,
    kind: Path<String>,
    params: Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let body: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => return error_response(&bad(format!("the body is not JSON: {e}"), "body")),
        }
    };
    serve(state, console, kind, params, body).await
}

async fn serve(
    State(st): State<SharedState>,
    axum::Extension(console): ConsoleExt,
    Path(kind): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Option<Value>,
) -> Response {
    let prepared = (|| {
        let default_days = KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(30, |(_, d)| *d);
        let job = job(&kind, body.as_ref())?;
        Ok::<_, ApiError>((job, period(&params, default_days)?, format(&params)?))
    })();
    let (job, period, format) = match prepared {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    if console
        .reports
        .0
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        let mut e = ApiError::new(
            ErrorCode::RateLimited,
            "Another report is being built; try again in a few seconds",
        );
        e.retry_after = Some(2);
        return error_response(&e);
    }
    let held = Held(Arc::clone(&console));
    let store = st.key_store.clone();
    let setup = Arc::clone(&st.live().reports);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("seam-console-report".into())
        .spawn(move || {
            let inputs = Inputs {
                store: Some(&store),
                setup: &setup.setup,
                pricing: &setup.pricing,
                period,
                generated: seam_store::rfc3339(crate::audit::now_ms()),
                results: Vec::new(),
            };
            let report = match job {
                Job::Cost => build::cost(&inputs),
                Job::Whatif(text) => build::whatif(&inputs, &text, "the console"),
                Job::Quality => build::quality(&inputs),
                Job::Matrix(w, from) => build::matrix(&inputs, &w, &from),
                Job::Exit(o) => build::exit(&inputs, &o),
            };
            // Open the gate before answering: the next report may start once this one is seen.
            drop(held);
            let _ = tx.send(report);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "console: cannot start a report");
        return error_response(&failed());
    }
    match rx.await {
        Ok(Ok(report)) => respond(&report, format),
        Ok(Err(BuildError::Input(m))) => error_response(&bad(m, "body")),
        Ok(Err(BuildError::Store(m))) => {
            tracing::error!(error = %m, report = %kind, "console: a report could not be built");
            error_response(&failed())
        }
        Err(_) => error_response(&failed()),
    }
}

fn failed() -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        "The report could not be built; the server's log has details",
    )
}

fn respond(report: &Report, format: Option<Format>) -> Response {
    let Some(format) = format else {
        return json_response(report);
    };
    let (mime, ext) = match format {
        Format::Markdown => ("text/markdown; charset=utf-8", "md"),
        Format::Html => ("text/html; charset=utf-8", "html"),
        Format::Json => ("application/json", "json"),
    };
    let text = seam_reports::render(report, format);
    let mut resp = text.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // A download, never a page under the console's origin.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"seam-{}-report.{ext}\"",
        report.kind
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn periods_default_per_report_and_refuse_nonsense() {
        let p = period(&params(&[("until", "2026-12-01")]), 30).unwrap();
        assert_eq!(p.until_ms - p.since_ms, 30 * DAY_MS);
        let e = period(
            &params(&[("since", "2026-12-02"), ("until", "2026-12-01")]),
            30,
        );
        assert!(e.is_err());
        assert!(period(&params(&[("since", "yesterday")]), 30).is_err());
    }

    #[test]
    fn jobs_check_their_files_before_reading_anything() {
        assert!(matches!(job("whatif", None), Err(e) if e.message.contains("scenario")));
        let wrong = serde_json::json!({"weights": "x"});
        assert!(job("cost", Some(&wrong)).is_err());
        assert!(job("nope", None).is_err());
        let bad_weights = serde_json::json!({"weights": "[weights]\nnot_a_criterion = 2\n"});
        assert!(job("matrix", Some(&bad_weights)).is_err());
        assert!(matches!(job("matrix", None), Ok(Job::Matrix(_, _))));
    }
}
