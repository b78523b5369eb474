//! The console's aggregate endpoints: overview, spend, policy and routes. They read the store's
//! rollups ([`seam_store::rollup`]) on the audit reader's thread, never the records, so a page
//! costs the same on a store of a thousand records or a million. Key names, teams and budgets
//! come from the keyring; targets and aliases from the live gateway.
//!
//! Windows (`?window=`): `1h`, `24h` (default) and `7d` in hourly steps, `30d` in days, `365d`
//! in weeks (53 of them, the last holding today). Buckets are aligned to the Unix epoch (UTC),
//! oldest first, every one present.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use seam_store::rollup::{DAY_S, HOUR_S, Measures, SCORE_BINS};
use seam_store::{Rollup, Window};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use crate::SharedState;
use crate::error::error_response;
use crate::pipeline::json_response;

pub(crate) fn routes() -> axum::Router<SharedState> {
    axum::Router::new()
        .route("/api/overview", get(overview))
        .route("/api/spend", get(spend))
        .route("/api/policy", get(policy))
        .route("/api/routes", get(routes_view))
}

/// Top lists are this long.
const TOP: usize = 10;

/// `?window=` → (its name, step seconds, steps).
fn window(params: &HashMap<String, String>) -> Result<(&'static str, i64, i64), ApiError> {
    Ok(match params.get("window").map(String::as_str) {
        Some("1h") => ("1h", HOUR_S, 1),
        None | Some("24h") => ("24h", HOUR_S, 24),
        Some("7d") => ("7d", HOUR_S, 168),
        Some("30d") => ("30d", DAY_S, 30),
        Some("365d") => ("365d", 7 * DAY_S, 53),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "`window` must be one of 1h, 24h, 7d, 30d, 365d",
            )
            .with_param("window"));
        }
    })
}

/// The rollups of each window, from the audit reader.
async fn read(st: &SharedState, windows: Vec<Window>) -> Result<Vec<Rollup>, ApiError> {
    let Some(auditor) = st.auditor.clone() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "the audit trail is off ([audit] enabled = false), so there is nothing to aggregate",
        ));
    };
    auditor.rollups(windows).await.map_err(|e| {
        tracing::error!(error = %e, "reading the console's rollups failed");
        ApiError::new(
            ErrorCode::Internal,
            "the aggregates could not be read; the log has details",
        )
    })
}

/// One window's rollup, or the error response.
async fn one(st: &SharedState, w: Window) -> Result<Rollup, Response> {
    read(st, vec![w])
        .await
        .map_err(|e| error_response(&e))?
        .pop()
        .ok_or_else(|| error_response(&ApiError::new(ErrorCode::Internal, "no rollup came back")))
}

/// `?window=`'s name, step and rollup up to now, or the error response.
async fn windowed(
    st: &SharedState,
    params: &HashMap<String, String>,
) -> Result<(&'static str, i64, Rollup), Response> {
    let (name, step_s, steps) = window(params).map_err(|e| error_response(&e))?;
    let r = one(st, Window::ending(crate::audit::now_ms(), step_s, steps)).await?;
    Ok((name, step_s, r))
}

fn ms(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!((x * 10.0).round() / 10.0))
}

fn opt(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// A model's line in the overview's top list and the spend page.
fn model_row(model: &str, m: &Measures) -> Value {
    json!({"model": opt(model), "requests": m.requests, "cost_usd": m.cost_usd,
           "tokens": m.input_tokens + m.output_tokens})
}

/// The active keys by id: (name, team, limits).
fn keys(st: &SharedState) -> BTreeMap<String, (String, Option<String>, seam_limits::Rule)> {
    st.keyring
        .keys()
        .callers()
        .map(|c| (c.key_id.clone(), (c.name.clone(), c.team.clone(), c.limits)))
        .collect()
}

/// `GET /console/api/overview?window=`.
async fn overview(
    State(st): State<SharedState>,
    axum::Extension(console): super::ConsoleExt,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (name, step_s, r) = match windowed(&st, &params).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    let names = keys(&st);
    let t = &r.totals;
    let series: Vec<Value> = r
        .series
        .iter()
        .map(|p| {
            let m = &p.measures;
            json!({
                "t": p.t_ms,
                "requests": m.requests,
                "errors": m.errors,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
                "cost_usd": m.cost_usd,
                "p50_ms": ms(p.latency.quantile(0.5)),
                "p95_ms": ms(p.latency.quantile(0.95)),
                "p99_ms": ms(p.latency.quantile(0.99)),
                "ttft_p50_ms": ms(p.ttft.quantile(0.5)),
            })
        })
        .collect();
    let errors: Vec<Value> = r
        .errors
        .iter()
        .map(|(status, code, count)| json!({"status": status, "code": opt(code), "count": count}))
        .collect();
    let top_models: Vec<Value> = r
        .by_model
        .iter()
        .take(TOP)
        .map(|(model, m)| model_row(model, m))
        .collect();
    let top_keys: Vec<Value> = r
        .by_key
        .iter()
        .take(TOP)
        .map(|(id, m)| {
            json!({"key_id": opt(id), "name": names.get(id).map(|k| k.0.clone()),
                   "requests": m.requests, "cost_usd": m.cost_usd})
        })
        .collect();
    json_response(&json!({
        "window": name,
        "step_s": step_s,
        "totals": {
            "requests": t.requests,
            "errors": t.errors,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "cost_usd": t.cost_usd,
            "p50_ms": ms(r.latency.quantile(0.5)),
            "p95_ms": ms(r.latency.quantile(0.95)),
            "p99_ms": ms(r.latency.quantile(0.99)),
            "ttft_p50_ms": ms(r.ttft.quantile(0.5)),
            "ttft_p95_ms": ms(r.ttft.quantile(0.95)),
            "cache_hits": t.cache_hits,
        },
        "series": series,
        "errors_by_code": errors,
        "top_models": top_models,
        "top_keys": top_keys,
        // What the last verification (`POST /console/api/chain/verify`) found; the overview
        // does not run one.
        "chain": console.chain.json(),
    }))
}

/// The days of the budget period holding `now_ms` so far: 1 for a day, the day of the month
/// for a month.
fn period_days(period: seam_limits::Period, now_ms: i64) -> i64 {
    match period {
        seam_limits::Period::Day => 1,
        seam_limits::Period::Month => seam_store::rfc3339(now_ms)
            .get(8..10)
            .and_then(|d| d.parse().ok())
            .unwrap_or(1),
    }
}

/// `GET /console/api/spend?window=`: per key (with its budget and what the budget's current
/// period has used, from the rollups), per team, per model, cost over time, and refusals.
async fn spend(
    State(st): State<SharedState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (_, step_s, steps) = match window(&params) {
        Ok(w) => w,
        Err(e) => return error_response(&e),
    };
    let now = crate::audit::now_ms();
    let keys = keys(&st);
    // One read for the view, one per budget period in use (a day; this month so far).
    let mut windows = vec![Window::ending(now, step_s, steps)];
    let periods = [seam_limits::Period::Day, seam_limits::Period::Month];
    for p in periods {
        windows.push(Window::ending(now, DAY_S, period_days(p, now)));
    }
    let mut read = match read(&st, windows).await {
        Ok(r) => r.into_iter(),
        Err(e) => return error_response(&e),
    };
    let (Some(r), Some(day), Some(month)) = (read.next(), read.next(), read.next()) else {
        return error_response(&ApiError::new(ErrorCode::Internal, "no rollup came back"));
    };
    let used = |period: seam_limits::Period, id: &str| -> f64 {
        let rows = match period {
            seam_limits::Period::Day => &day.by_key,
            seam_limits::Period::Month => &month.by_key,
        };
        rows.iter()
            .find(|(k, _)| k == id)
            .map_or(0.0, |(_, m)| m.cost_usd)
    };
    // Keys with traffic in the window, then active keys without any.
    let mut rows: Vec<(String, Measures)> = r.by_key.clone();
    for id in keys.keys() {
        if !rows.iter().any(|(k, _)| k == id) {
            rows.push((id.clone(), Measures::default()));
        }
    }
    let mut teams: BTreeMap<Option<String>, (u64, f64)> = BTreeMap::new();
    let by_key: Vec<Value> = rows
        .iter()
        .map(|(id, m)| {
            let key = keys.get(id);
            let team = key.and_then(|k| k.1.clone());
            let t = teams.entry(team.clone()).or_default();
            t.0 += m.requests;
            t.1 += m.cost_usd;
            let rule = key.map(|k| &k.2);
            let budget = rule.and_then(|r| r.budget);
            json!({
                "key_id": opt(id),
                "name": key.map(|k| k.0.clone()),
                "team": team,
                "requests": m.requests,
                "cost_usd": m.cost_usd,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
                "budget_usd": budget.map(|b| b.microusd as f64 / 1e6),
                "budget_period": budget.map(|b| match b.period {
                    seam_limits::Period::Day => "day",
                    seam_limits::Period::Month => "month",
                }),
                "budget_used_usd": budget.map(|b| used(b.period, id)),
                "rpm": rule.and_then(|r| r.rpm),
                "tpm": rule.and_then(|r| r.tpm),
            })
        })
        .collect();
    let mut by_team: Vec<(Option<String>, (u64, f64))> = teams.into_iter().collect();
    by_team.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then(b.1.0.cmp(&a.1.0)));
    let by_team: Vec<Value> = by_team
        .into_iter()
        .map(|(team, (requests, cost))| json!({"team": team, "requests": requests, "cost_usd": cost}))
        .collect();
    let by_model: Vec<Value> = r
        .by_model
        .iter()
        .map(|(model, m)| model_row(model, m))
        .collect();
    let series: Vec<Value> = r
        .series
        .iter()
        .map(|p| json!({"t": p.t_ms, "cost_usd": p.measures.cost_usd}))
        .collect();
    let mut refusals: BTreeMap<&str, u64> = BTreeMap::new();
    for (status, code, n) in &r.errors {
        if *status == 429 {
            *refusals.entry(code.as_str()).or_default() += n;
        }
    }
    let refusals: Vec<Value> = refusals
        .into_iter()
        .map(|(code, count)| json!({"code": opt(code), "count": count}))
        .collect();
    json_response(&json!({
        "by_key": by_key,
        "by_team": by_team,
        "by_model": by_model,
        "series": series,
        "refusals": refusals,
    }))
}

/// `GET /console/api/policy?window=`: findings over time and by entity, and injection scores.
/// Counts only: a rollup never holds a value.
async fn policy(
    State(st): State<SharedState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let r = match windowed(&st, &params).await {
        Ok((_, _, r)) => r,
        Err(resp) => return resp,
    };
    let series: Vec<Value> = r
        .series
        .iter()
        .map(|p| json!({"t": p.t_ms, "findings": p.findings, "blocks": p.blocks}))
        .collect();
    let by_entity: Vec<Value> = r
        .findings
        .iter()
        .map(
            |f| json!({"entity": f.entity, "action": f.action, "stage": f.stage, "count": f.count}),
        )
        .collect();
    let injected = |action: &str| -> u64 {
        r.findings
            .iter()
            .filter(|f| f.entity == seam_gateway::INJECTION_ENTITY && f.action == action)
            .map(|f| f.records)
            .sum()
    };
    let scores: Vec<Value> = r
        .scores
        .iter()
        .map(|(bin, count)| json!({"le": (bin + 1) as f64 / SCORE_BINS as f64, "count": count}))
        .collect();
    json_response(&json!({
        "series": series,
        "by_entity": by_entity,
        "blocks": r.series.iter().map(|p| p.blocks).sum::<u64>(),
        "injection": {"flagged": injected("flag"), "blocked": injected("block"), "scores": scores},
    }))
}

/// `GET /console/api/routes`: the aliases of the live config, every target's state (as
/// `GET /admin/targets`), and how requests were routed in the last 24 hours.
async fn routes_view(State(st): State<SharedState>) -> Response {
    let live = st.live();
    let aliases: Vec<Value> = live
        .gateway
        .aliases()
        .into_iter()
        .map(|name| match live.gateway.resolve(name) {
            Ok(route) => json!({
                "name": name,
                "strategy": route.strategy.as_str(),
                "targets": route.targets.iter().map(|t| t.label.clone()).collect::<Vec<_>>(),
            }),
            // A glob alias resolves per requested name: its pattern has no targets of its own.
            Err(_) => json!({"name": name, "strategy": null, "targets": []}),
        })
        .collect();
    let targets: Vec<Value> = live
        .gateway
        .targets()
        .into_iter()
        .map(|t| crate::admin::target_json(&t, "name", "ewma_ms"))
        .collect();
    // Reasons need the audit trail; without it the page still shows the router's state.
    let reasons: Vec<Value> = match st.auditor {
        Some(_) => match one(&st, Window::ending(crate::audit::now_ms(), HOUR_S, 24)).await {
            Ok(r) => r
                .reasons
                .iter()
                .map(|(reason, count)| json!({"reason": reason, "count": count}))
                .collect(),
            Err(resp) => return resp,
        },
        None => Vec::new(),
    };
    json_response(&json!({"aliases": aliases, "targets": targets, "reasons": reasons}))
}
