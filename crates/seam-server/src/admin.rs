//! `/admin/*`: the router's view of its targets, config reload, the audit trail and virtual
//! keys.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use seam_store::keys::{KeyStore, NewKey};
use seam_store::{PromptStore, RolloutStore};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Value, json};

use crate::SharedState;
use crate::error::error_response;
use crate::pipeline::json_response;

/// A target's state as `GET /admin/targets` and the console's routes page show it; `label` and
/// `latency` name its label and latency fields.
pub(crate) fn target_json(t: &seam_gateway::TargetReport, label: &str, latency: &str) -> Value {
    let mut v = json!({
        "provider": t.provider,
        "model": t.model,
        "breaker": t.state,
        "in_flight": t.in_flight,
        "capacity": t.capacity,
        "queued": t.queued,
        "ttft_ms": t.ttft_ms,
        "succeeded": t.succeeded,
        "failed": t.failed,
    });
    v[label] = json!(t.label);
    v[latency] = json!(t.latency_ms);
    v
}

/// `GET /admin/targets`: every target the router knows — breaker state, load, moving averages.
pub async fn targets(State(st): State<SharedState>) -> Response {
    let targets: Vec<_> = st
        .live()
        .gateway
        .targets()
        .into_iter()
        .map(|t| target_json(&t, "target", "latency_ms"))
        .collect();
    json_response(&json!({ "targets": targets }))
}

/// `GET /admin/mcp`: every MCP server — transport, state, breaker, restarts, last error, its
/// tools — and the client sessions held.
pub async fn mcp(State(st): State<SharedState>) -> Response {
    let hub = std::sync::Arc::clone(&st.live().mcp);
    let mut report = hub.report().await;
    report["sessions"] = json!(st.mcp_sessions.len());
    json_response(&report)
}

/// `POST /admin/reload`: the same as `SIGHUP`. A bad config is refused and the old one serves on.
pub async fn reload(State(st): State<SharedState>) -> Response {
    // Reading and validating the file is blocking work.
    let result = tokio::task::spawn_blocking(move || st.reload()).await;
    match result {
        Ok(Ok(models)) => {
            tracing::info!(models = %models.join(", "), "config reloaded");
            json_response(&json!({ "status": "reloaded", "models": models }))
        }
        Ok(Err(errors)) => {
            tracing::warn!(
                errors = errors.len(),
                "config reload refused; the previous config keeps serving"
            );
            error_response(&ApiError::new(
                ErrorCode::InvalidConfig,
                format!(
                    "Reload refused, the previous config keeps serving: {}",
                    errors.join("; ")
                ),
            ))
        }
        Err(_) => error_response(&ApiError::new(
            ErrorCode::Internal,
            "The reload task failed",
        )),
    }
}

/// `GET /admin/audit?subject=&key=&since=&until=&model=&status=&finding=&kind=&limit=`: audit
/// records, newest last, as `seam audit export` writes them. Times are Unix milliseconds; `kind`
/// is `request`, `opening`, `tool_call` or `erasure`.
pub async fn audit(
    State(st): State<SharedState>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(auditor) = st.auditor.clone() else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            "the audit trail is off ([audit] enabled = false)",
        ));
    };
    let query = match audit_query(&params, "key", 100) {
        Ok(q) => q,
        Err(e) => return error_response(&e),
    };
    match auditor.search(query).await {
        Ok(records) => {
            let records: Vec<_> = records
                .iter()
                .map(seam_store::StoredRecord::to_json)
                .collect();
            json_response(&json!({ "records": records }))
        }
        Err(e) => {
            tracing::error!(error = %e, "audit search failed");
            error_response(&ApiError::new(
                ErrorCode::Internal,
                "the audit search failed; the log has details",
            ))
        }
    }
}

/// An audit search's filters from query parameters: `subject`, `since`, `until` (Unix ms),
/// `model`, `prompt`, `status`, `finding`, `kind`, `id`, `limit` (1–1,000, default
/// `default_limit`) and the key's id under `key_param`. Shared by `/admin/audit` and the console.
pub(crate) fn audit_query(
    params: &std::collections::HashMap<String, String>,
    key_param: &str,
    default_limit: i64,
) -> Result<seam_store::Query, ApiError> {
    let num = |k: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(k)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!("`{k}` must be an integer"),
                    )
                    .with_param(k)
                })
            })
            .transpose()
    };
    let kind = params
        .get("kind")
        .map(|k| {
            seam_store::RecordKind::parse(k).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("`kind` must be one of {}", seam_store::RecordKind::NAMES),
                )
                .with_param("kind")
            })
        })
        .transpose()?;
    Ok(seam_store::Query {
        id: params.get("id").cloned(),
        subject: params.get("subject").cloned(),
        key_id: params.get(key_param).cloned(),
        since_ms: num("since")?,
        until_ms: num("until")?,
        model: params.get("model").cloned(),
        prompt: params.get("prompt").cloned(),
        status: num("status")?.and_then(|s| u16::try_from(s).ok()),
        finding: params.get("finding").cloned(),
        kind,
        limit: Some(num("limit")?.map_or(default_limit, |l| l.clamp(1, 1000)) as u64),
    })
}

/// How long a key change waits for this server's key table to be read again; past it the change
/// still lands with the next periodic refresh.
const KEYRING_WAIT: Duration = Duration::from_secs(5);

/// `POST /admin/keys`: the same fields as `seam keys create`, checked by the same code; 201 with
/// the record and `key`, the secret, which is never shown again.
pub async fn create_key(State(st): State<SharedState>, headers: HeaderMap, raw: Body) -> Response {
    let cap = st.live().max_body_bytes;
    let new: NewKey = match crate::body::request(raw, &headers, cap, |_: &NewKey| Ok(())).await {
        Ok(k) => k,
        Err(e) => return error_response(&e),
    };
    match new_key(&st, new, "the admin API").await {
        Ok((record, secret)) => {
            let mut v = record.to_json(crate::audit::now_ms());
            v["key"] = json!(secret);
            let mut resp = json_response(&v);
            *resp.status_mut() = StatusCode::CREATED;
            resp
        }
        Err(e) => error_response(&e),
    }
}

/// Checks `new` exactly as `seam keys create` does, stores it, and makes it work on this server
/// at once: the one way a key is created over HTTP (`/admin/keys`, the console). Returns the
/// record and the secret, which is never shown again.
pub(crate) async fn new_key(
    st: &SharedState,
    new: NewKey,
    through: &'static str,
) -> Result<(seam_store::keys::KeyRecord, String), ApiError> {
    let live = st.live();
    let now = crate::audit::now_ms();
    let scope = new
        .scope(|p| live.policies.contains(p), st.sealed_payloads, now)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.message).with_param(e.param))?;
    let name = new.name;
    let (record, secret) = with_keys(st, move |ks| ks.create(&name, &scope, now)).await?;
    tracing::info!(key = %record.id, through, "key created");
    refresh_keyring(st).await;
    Ok((record, secret))
}

/// `GET /admin/keys[?include_revoked=true]`: records, oldest first; never secrets or hashes.
pub async fn list_keys(
    State(st): State<SharedState>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let include_revoked = match params.get("include_revoked").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return error_response(
                &ApiError::new(
                    ErrorCode::InvalidRequest,
                    "`include_revoked` must be true or false",
                )
                .with_param("include_revoked"),
            );
        }
    };
    let now = crate::audit::now_ms();
    match with_keys(&st, KeyStore::list).await {
        Ok(all) => {
            let keys: Vec<_> = all
                .iter()
                .filter(|r| include_revoked || r.revoked_ms.is_none())
                .map(|r| r.to_json(now))
                .collect();
            json_response(&json!({ "keys": keys }))
        }
        Err(e) => error_response(&e),
    }
}

/// `GET /admin/keys/{id}`.
pub async fn show_key(State(st): State<SharedState>, Path(id): Path<String>) -> Response {
    let now = crate::audit::now_ms();
    let wanted = id.clone();
    match with_keys(&st, move |ks| ks.get(&wanted)).await {
        Ok(Some(r)) => json_response(&r.to_json(now)),
        Ok(None) => error_response(&no_such_key(&id)),
        Err(e) => error_response(&e),
    }
}

/// `DELETE /admin/keys/{id}`: revokes the key (again is fine: the first revocation's time
/// stays) and answers with its record.
pub async fn revoke_key(State(st): State<SharedState>, Path(id): Path<String>) -> Response {
    match end_key(&st, id, "the admin API").await {
        Ok(r) => json_response(&r.to_json(crate::audit::now_ms())),
        Err(e) => error_response(&e),
    }
}

/// Revokes a stored key (again is fine: the first revocation's time stays) and makes that take
/// effect on this server at once; the one way a key is revoked over HTTP.
pub(crate) async fn end_key(
    st: &SharedState,
    id: String,
    through: &'static str,
) -> Result<seam_store::keys::KeyRecord, ApiError> {
    let now = crate::audit::now_ms();
    let wanted = id.clone();
    let revoked = with_keys(st, move |ks| {
        let changed = ks.revoke(&wanted, now)?;
        Ok((changed, ks.get(&wanted)?))
    })
    .await?;
    match revoked {
        (_, None) => Err(no_such_key(&id)),
        (changed, Some(r)) => {
            if changed {
                tracing::info!(key = %r.id, through, "key revoked");
                refresh_keyring(st).await;
            }
            Ok(r)
        }
    }
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "No key with id `{}` in the store (keys declared in the config are managed there)",
            id.chars().take(100).collect::<String>()
        ),
    )
}

/// Makes a key change take effect on this server now; other replicas see it with their next
/// periodic refresh.
async fn refresh_keyring(st: &SharedState) {
    if tokio::time::timeout(KEYRING_WAIT, st.keyring.refresh_now())
        .await
        .is_err()
    {
        tracing::warn!(
            "the key table was not read again in time; the change lands with the next refresh"
        );
    }
}

/// Runs `f` on the key store, on a thread of its own: the PostgreSQL client runs its own
/// runtime and must stay off the async runtime's threads. Admin calls are rare, so each opens
/// its own connection.
async fn with_keys<T, F>(st: &SharedState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut KeyStore) -> Result<T, seam_store::StoreError> + Send + 'static,
{
    with_store(st, "key store", KeyStore::open, f).await
}

/// Runs `f` on a store `open` connects to, on a thread of its own (see [`with_keys`]).
pub(crate) async fn with_store<S, T, F>(
    st: &SharedState,
    what: &'static str,
    open: fn(&seam_store::StoreConfig) -> Result<S, seam_store::StoreError>,
    f: F,
) -> Result<T, ApiError>
where
    S: 'static,
    T: Send + 'static,
    F: FnOnce(&mut S) -> Result<T, seam_store::StoreError> + Send + 'static,
{
    let store = st.key_store.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("seam-keys-admin".into())
        .spawn(move || {
            let result = (|| {
                if let seam_store::BackendConfig::Sqlite { path } = &store.backend
                    && let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        seam_store::StoreError::new(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let mut ks = open(&store)?;
                f(&mut ks)
            })();
            let _ = tx.send(result);
        });
    let failed = |why: String| {
        tracing::error!(error = %why, store = what, "store operation failed");
        ApiError::new(
            ErrorCode::Internal,
            format!("the {what} could not be used; the log has details"),
        )
    };
    if let Err(e) = spawned {
        return Err(failed(e.to_string()));
    }
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!("the {what} thread ended early"))),
    }
}

/// `GET /admin/prompts`: every prompt file with its current version, and what the store holds of
/// it: the versions served (oldest first) and the tags.
pub async fn list_prompts(State(st): State<SharedState>) -> Response {
    let live = st.live();
    let names: Vec<String> = live.prompts.iter().map(|p| p.name.clone()).collect();
    let stored = with_store(&st, "prompt store", PromptStore::open, move |ps| {
        let tags = ps.tags()?;
        let mut versions = std::collections::BTreeMap::new();
        for n in names {
            let v = ps.versions(&n)?;
            versions.insert(n, v);
        }
        Ok((tags, versions))
    })
    .await;
    let (tags, versions) = match stored {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let prompts: Vec<_> = live
        .prompts
        .iter()
        .map(|p| {
            let tags: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .filter(|t| t.name == p.name)
                .map(|t| (t.tag.clone(), json!(t.version)))
                .collect();
            let served: Vec<_> = versions
                .get(&p.name)
                .into_iter()
                .flatten()
                .map(|(v, ms)| json!({"version": v, "first_served": seam_store::rfc3339(*ms)}))
                .collect();
            json!({
                "name": p.name,
                "version": p.version,
                "model": p.model,
                "description": p.description,
                "variables": p.variables(),
                "tags": tags,
                "versions": served,
            })
        })
        .collect();
    json_response(&json!({ "prompts": prompts }))
}

/// `PUT /admin/prompts/{name}/tags/{tag}` with `{"version": …}` (default: the file's current
/// version, kept in the store first): points the tag at it; every replica follows within its
/// refresh, this one at once.
pub async fn set_prompt_tag(
    State(st): State<SharedState>,
    Path((name, tag)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SetTag {
        version: Option<String>,
    }
    let live = st.live();
    let ask: SetTag =
        match crate::body::request(raw, &headers, live.max_body_bytes, |_: &SetTag| Ok(())).await {
            Ok(k) => k,
            Err(e) => return error_response(&e),
        };
    let model = format!("{}{name}@{tag}", crate::prompts::PREFIX);
    match crate::prompts::parse_ref(&model) {
        Some(Ok(r)) if matches!(r.reference, Some(seam_prompts::Ref::Tag(_))) => {}
        _ => {
            return error_response(&ApiError::new(
                ErrorCode::InvalidRequest,
                "a prompt name is lower-case letters, digits, `-` and `_`; a tag the same with `.`, and never 12 hex digits",
            ));
        }
    }
    let current = live
        .prompts
        .get(&name)
        .map(|p| (p.version.clone(), p.source.clone()));
    let Some(version) = ask
        .version
        .or_else(|| current.as_ref().map(|c| c.0.clone()))
    else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!("no prompt file `{name}`: name a stored `version`"),
        ));
    };
    let (n, t, v) = (name.clone(), tag.clone(), version.clone());
    let set = with_store(&st, "prompt store", PromptStore::open, move |ps| {
        if let Some((cv, source)) = current.filter(|c| c.0 == v) {
            ps.put(&n, &cv, &source)?;
        }
        if ps.get(&n, &v)?.is_none() {
            return Ok(Err(()));
        }
        ps.set_tag(&n, &t, &v).map(Ok)
    })
    .await;
    match set {
        Ok(Ok(previous)) => {
            tracing::info!(prompt = %name, %tag, %version, "prompt tag set through the admin API");
            st.prompt_versions.refresh_now();
            json_response(
                &json!({"name": name, "tag": tag, "version": version, "previous": previous}),
            )
        }
        Ok(Err(())) => error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!("prompt `{name}` has no stored version `{version}`"),
        )),
        Err(e) => error_response(&e),
    }
}

/// `DELETE /admin/prompts/{name}/tags/{tag}`.
pub async fn delete_prompt_tag(
    State(st): State<SharedState>,
    Path((name, tag)): Path<(String, String)>,
) -> Response {
    let (n, t) = (name.clone(), tag.clone());
    match with_store(&st, "prompt store", PromptStore::open, move |ps| {
        ps.delete_tag(&n, &t)
    })
    .await
    {
        Ok(true) => {
            st.prompt_versions.refresh_now();
            json_response(&json!({"name": name, "tag": tag, "deleted": true}))
        }
        Ok(false) => error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!("prompt `{name}` has no tag `{tag}`"),
        )),
        Err(e) => error_response(&e),
    }
}

/// `GET /admin/rollouts`: every configured rollout's state, counts and the decision its evidence
/// supports now.
pub async fn list_rollouts(State(st): State<SharedState>) -> Response {
    let cfgs: Vec<_> = st.rollouts.all().iter().map(|rt| rt.cfg.clone()).collect();
    let listed = with_store(&st, "rollout store", RolloutStore::open, move |c| {
        cfgs.iter()
            .map(|cfg| crate::rollouts::status(c, cfg).map_err(seam_store::StoreError::new))
            .collect::<Result<Vec<_>, _>>()
    })
    .await;
    match listed {
        Ok(all) => json_response(&json!({ "rollouts": all })),
        Err(e) => error_response(&e),
    }
}

/// `GET /admin/rollouts/{name}`.
pub async fn show_rollout(State(st): State<SharedState>, Path(name): Path<String>) -> Response {
    let Some(rt) = st.rollouts.get(&name) else {
        return error_response(&no_such_rollout(&name));
    };
    let cfg = rt.cfg.clone();
    match with_store(&st, "rollout store", RolloutStore::open, move |c| {
        crate::rollouts::status(c, &cfg).map_err(seam_store::StoreError::new)
    })
    .await
    {
        Ok(v) => json_response(&v),
        Err(e) => error_response(&e),
    }
}

/// `POST /admin/rollouts/{name}/{command}` (`start`, `pause`, `promote`, `abort`): applied to
/// the shared state, recorded (`rollout_decision`), and taken up by this server at once and by
/// the others within a second.
pub async fn command_rollout(
    State(st): State<SharedState>,
    Path((name, command)): Path<(String, String)>,
) -> Response {
    let Some(rt) = st.rollouts.get(&name) else {
        return error_response(&no_such_rollout(&name));
    };
    let Some(cmd) = crate::rollouts::Command::parse(&command) else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no rollout command `{command}`: one of {}",
                crate::rollouts::Command::NAMES
            ),
        ));
    };
    let n = name.clone();
    let applied = with_store(&st, "rollout store", RolloutStore::open, move |c| {
        Ok(crate::rollouts::apply_command(c, &n, cmd, "the admin API"))
    })
    .await;
    match applied {
        Ok(Ok(row)) => {
            tracing::info!(rollout = %name, command = cmd.as_str(), "rollout command through the admin API");
            crate::rollouts::record(st.auditor.as_deref(), &rt, &row, cmd.as_str(), vec![]);
            st.rollouts.wake();
            json_response(&json!({
                "name": row.name, "run": row.run, "stage": row.stage,
                "status": row.status, "reason": row.reason,
            }))
        }
        Ok(Err(why)) => {
            let mut resp = error_response(&ApiError::new(ErrorCode::InvalidRequest, why));
            *resp.status_mut() = StatusCode::CONFLICT;
            resp
        }
        Err(e) => error_response(&e),
    }
}

fn no_such_rollout(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no rollout `{}` in the config",
            name.chars().take(100).collect::<String>()
        ),
    )
}
