//! [`AuditLog::scan_requests`]: the facts of every request in a period, read in one pass for the
//! reports (`seam report cost|whatif|…`). It selects only the columns the reports need, never a
//! payload, and calls back once per row, a page at a time inside one read snapshot, so memory
//! stays bounded by the page whatever the period holds.

use std::collections::HashMap;

use serde::Deserialize;

use crate::db::{RowRead, Val};
use crate::{AuditLog, StoreError, UsageRecord};

/// Rows fetched per statement.
const PAGE: i64 = 10_000;

/// What the reports know of one request (a `request` record, or a rollout's `shadow` copy).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestFacts {
    pub time_ms: i64,
    pub key_id: Option<String>,
    /// The key's team (its scope's `team`, as the key is stored now).
    pub team: Option<String>,
    /// `chat` or `embeddings`.
    pub endpoint: String,
    /// The model as the client asked for it (the alias).
    pub alias: Option<String>,
    /// `provider/model` of the target that answered.
    pub route: Option<String>,
    pub status: u16,
    pub error_code: Option<String>,
    /// Zero tokens when the record has no usage.
    pub usage: UsageRecord,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub cache_hit: bool,
    /// Upstream attempts made (0 for a refusal or a cache hit).
    pub attempts: u32,
    /// More than one attempt was made on the same target.
    pub retried: bool,
    /// The answer came from another target than the first one tried.
    pub fell_back: bool,
    /// The input policy held the request to private targets (a `route_private` finding).
    pub route_private: bool,
    /// A rollout's shadow copy: its cost is real but no client asked for it.
    pub shadow: bool,
    pub placement: Option<String>,
    /// How many requests the record stands for (aggregated refusals), at least 1.
    pub count: u32,
    /// The prompt it rendered, `name@version`.
    pub prompt: Option<String>,
    /// The API features it used (`tools`, `json_schema`, …; migration 15).
    pub features: Vec<String>,
}

#[derive(Deserialize)]
struct Attempt {
    target: String,
}

impl AuditLog {
    /// Calls `each` for every `request` and `shadow` record with `since <= time_ms < until`, in
    /// `seq` order; returns how many. Key teams are read once, up front.
    pub fn scan_requests(
        &mut self,
        since_ms: i64,
        until_ms: i64,
        each: &mut dyn FnMut(&RequestFacts),
    ) -> Result<u64, StoreError> {
        self.conn.in_tx(false, |c| {
            let teams: HashMap<String, String> = c
                .query("SELECT id, scope FROM api_keys", &[], |r| {
                    Ok((r.text(0)?, r.text(1)?))
                })?
                .into_iter()
                .filter_map(|(id, scope)| {
                    let team = serde_json::from_str::<crate::KeyScope>(&scope?)
                        .ok()?
                        .team?;
                    Some((id?, team))
                })
                .collect();
            // `time_ms + 0` keeps SQLite on the rowid order rather than the time index, so
            // each page is a range read, not a sort.
            let sql = "SELECT seq, kind, time_ms, key_id, endpoint, model, route, status, \
                 error_code, attempts, findings, usage, cost_usd, latency_ms, ttft_ms, cache_hit, \
                 placement, count, prompt, features \
                 FROM audit_log WHERE seq > $1 AND kind IN ('request', 'shadow') \
                 AND time_ms + 0 >= $2 AND time_ms + 0 < $3 ORDER BY seq LIMIT $4";
            let mut after = i64::MIN;
            let mut total = 0u64;
            loop {
                let params = [
                    Val::Int(after),
                    Val::Int(since_ms),
                    Val::Int(until_ms),
                    Val::Int(PAGE),
                ];
                let rows = c.query(sql, &params, |r| read(r, &teams))?;
                let got = rows.len();
                for (seq, facts) in rows {
                    after = seq;
                    each(&facts);
                    total += 1;
                }
                if got < PAGE as usize {
                    return Ok(total);
                }
            }
        })
    }
}

fn read(
    r: &dyn RowRead,
    teams: &HashMap<String, String>,
) -> Result<(i64, RequestFacts), StoreError> {
    let seq = r.int(0)?.unwrap_or(0);
    let bad = |what: &str, e: serde_json::Error| {
        StoreError::new(format!("audit record #{seq}: unreadable {what}: {e}"))
    };
    let key_id = r.text(3)?;
    let attempts: Vec<Attempt> = match r.text(9)? {
        Some(s) if s != "[]" => serde_json::from_str(&s).map_err(|e| bad("attempts", e))?,
        _ => Vec::new(),
    };
    let route = r.text(6)?;
    let retried = attempts
        .iter()
        .enumerate()
        .any(|(i, a)| attempts[..i].iter().any(|b| b.target == a.target));
    let fell_back = match (attempts.first(), &route) {
        (Some(first), Some(route)) => &first.target != route,
        _ => false,
    };
    // A finding names entity types and actions only; the substring test skips parsing the
    // common case of none.
    let route_private = r.text(10)?.is_some_and(|s| s.contains("\"route_private\""));
    let usage = match r.text(11)? {
        Some(s) => serde_json::from_str(&s).map_err(|e| bad("usage", e))?,
        None => UsageRecord::default(),
    };
    let facts = RequestFacts {
        time_ms: r.int(2)?.unwrap_or(0),
        team: key_id.as_ref().and_then(|k| teams.get(k)).cloned(),
        key_id,
        endpoint: r.text(4)?.unwrap_or_default(),
        alias: r.text(5)?,
        route,
        status: u16::try_from(r.int(7)?.unwrap_or(0)).unwrap_or(0),
        error_code: r.text(8)?,
        usage,
        cost_usd: r.real(12)?,
        latency_ms: r.real(13)?.unwrap_or(0.0),
        ttft_ms: r.real(14)?,
        cache_hit: r.int(15)?.unwrap_or(0) != 0,
        attempts: u32::try_from(attempts.len()).unwrap_or(u32::MAX),
        retried,
        fell_back,
        route_private,
        shadow: r.text(1)?.as_deref() == Some("shadow"),
        placement: r.text(16)?,
        count: r
            .int(17)?
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1)
            .max(1),
        prompt: r.text(18)?,
        features: match r.text(19)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| bad("features", e))?,
            None => Vec::new(),
        },
    };
    Ok((seq, facts))
}
