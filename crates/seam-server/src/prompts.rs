//! `model: "prompt:NAME[@TAG|@VERSION]"` on every model surface: the prompt is resolved, rendered
//! with the body's `seam.vars` and written into the body in the surface's own shape *before* the
//! codec decodes it — so the input policy, the limits, the cache and the record see the rendered
//! request exactly as they see any other, and variables are scanned like any text.
//!
//! Resolution: no ref is the file's current version; a 12-hex-digit ref is that version (the
//! file's if it is current, else the store's: every version Seam serves is kept there); any
//! other ref is a tag, read from the store (shared by replicas, refreshed every few seconds and
//! at once when this server changes one). The store is reached on one thread of its own with one
//! connection; the request path only reads memory, except the first request for an old version,
//! which waits for one lookup.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use seam_prompts::{Prompt, Ref, Registry};
use seam_types::{ApiError, ErrorCode};
use serde_json::{Map, Value, json};

/// What a body's `model` starts with to name a prompt.
pub const PREFIX: &str = "prompt:";
/// `x-seam-prompt`: `name@version` of the prompt a request rendered.
pub const HEADER: &str = "x-seam-prompt";
/// How often tags are read again from the store (another replica may have moved one).
const REFRESH: Duration = Duration::from_secs(5);
/// How long a request naming a tag waits for the first read of the tags.
const READY_WAIT: Duration = Duration::from_secs(10);
/// Old versions kept in memory once read from the store.
const MAX_CACHED: usize = 256;
/// Store jobs waiting; past it a version to keep is dropped (and kept by the next request).
const QUEUE: usize = 1024;

/// A prompt ready to serve: the file's current one or a stored version.
pub enum Resolved<'a> {
    Current(&'a Prompt),
    Stored(Arc<Prompt>),
}

impl std::ops::Deref for Resolved<'_> {
    type Target = Prompt;
    fn deref(&self) -> &Prompt {
        match self {
            Resolved::Current(p) => p,
            Resolved::Stored(p) => p,
        }
    }
}

/// The prompt a request rendered, for its record, header and the output contract.
pub struct Applied {
    /// `name@version`.
    pub id: String,
    /// The prompt's answer contract, when it declares one.
    pub output_schema: Option<Value>,
}

/// A `model` string naming a prompt: its name and ref.
#[derive(Debug, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub reference: Option<Ref>,
}

/// `prompt:NAME`, `prompt:NAME@VERSION` (12 hex digits) or `prompt:NAME@TAG` (the grammar of
/// [`seam_prompts::parse_ref`], which `seam prompts` uses too); `None` for any other model. The
/// error does not repeat the string, which is the client's.
pub fn parse_ref(model: &str) -> Option<Result<Named, ApiError>> {
    let rest = model.strip_prefix(PREFIX)?;
    Some(
        seam_prompts::parse_ref(rest)
            .map(|(name, reference)| Named { name, reference })
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "`model` names no valid prompt: expected prompt:NAME, prompt:NAME@VERSION \
                     (12 hex digits) or prompt:NAME@TAG",
                )
                .with_param("model")
            }),
    )
}

enum Job {
    Keep {
        name: String,
        version: String,
        source: String,
    },
    Get {
        name: String,
        version: String,
        reply: tokio::sync::oneshot::Sender<Option<String>>,
    },
    Refresh,
}

/// The served versions and the tags, shared across reloads.
pub struct Versions {
    jobs: Option<SyncSender<Job>>,
    /// `name@tag` → version.
    tags: Arc<RwLock<HashMap<String, String>>>,
    /// Set once the store thread has read the tags (or found no store): a request naming a tag
    /// right after start waits for it rather than missing.
    ready: tokio::sync::watch::Receiver<bool>,
    /// `name@version` → a stored version, parsed.
    old: Mutex<HashMap<String, Arc<Prompt>>>,
    /// `name@version` already kept (or queued to be).
    kept: Mutex<HashSet<String>>,
}

impl Versions {
    /// Starts the store thread, which connects and reads the tags (off the caller's thread:
    /// the PostgreSQL client must not run inside the async runtime). Without a store, prompts
    /// still serve their files' current versions; tags and old versions are `model_not_found`,
    /// with the reason logged.
    pub fn open(store: &seam_store::StoreConfig, has_prompts: bool) -> Versions {
        let tags = Arc::new(RwLock::new(HashMap::new()));
        // Without prompt files there is nothing to wait for: the store is opened with the first
        // job (a reload that adds prompts asks for a refresh).
        let (ready_tx, ready) = tokio::sync::watch::channel(!has_prompts);
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (shared, store) = (Arc::clone(&tags), store.clone());
        let spawned = std::thread::Builder::new()
            .name("seam-prompts".into())
            .spawn(move || serve_jobs(&store, has_prompts, &rx, &shared, &ready_tx));
        if let Err(e) = &spawned {
            tracing::warn!(error = %e, "prompt store thread did not start");
        }
        Versions {
            jobs: spawned.is_ok().then_some(tx),
            tags,
            ready,
            old: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashSet::new()),
        }
    }

    /// Reads the tags again now (after this server changed one).
    pub fn refresh_now(&self) {
        if let Some(tx) = &self.jobs {
            let _ = tx.try_send(Job::Refresh);
        }
    }

    /// The prompt a ref names.
    pub async fn resolve<'a>(
        &self,
        reg: &'a Registry,
        r: &Named,
    ) -> Result<Resolved<'a>, ApiError> {
        let current = reg.get(&r.name);
        let version = match &r.reference {
            None => {
                return current.map(Resolved::Current).ok_or_else(|| {
                    not_found(format!(
                        "no prompt `{}` (prompts/{}.prompt)",
                        r.name, r.name
                    ))
                });
            }
            Some(Ref::Version(v)) => v.clone(),
            Some(Ref::Tag(tag)) => {
                let mut ready = self.ready.clone();
                let _ = tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await;
                let key = format!("{}@{tag}", r.name);
                let found = match self.tags.read() {
                    Ok(t) => t.get(&key).cloned(),
                    Err(p) => p.into_inner().get(&key).cloned(),
                };
                found.ok_or_else(|| not_found(format!("prompt `{}` has no tag `{tag}`", r.name)))?
            }
        };
        if let Some(p) = current.filter(|p| p.version == version) {
            return Ok(Resolved::Current(p));
        }
        let key = format!("{}@{version}", r.name);
        if let Some(p) = self.cached(&key) {
            return Ok(Resolved::Stored(p));
        }
        let missing = || not_found(format!("prompt `{}` has no version `{version}`", r.name));
        let Some(tx) = &self.jobs else {
            return Err(missing());
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job::Get {
            name: r.name.clone(),
            version: version.clone(),
            reply,
        };
        if tx.try_send(job).is_err() {
            return Err(ApiError::new(
                ErrorCode::Overloaded,
                "the prompt store is busy; retry",
            ));
        }
        let source = rx.await.ok().flatten().ok_or_else(missing)?;
        let p = Prompt::parse(&r.name, &source).map_err(|e| {
            tracing::error!(prompt = %key, error = %e, "a stored prompt version no longer parses");
            ApiError::new(
                ErrorCode::Internal,
                format!("stored prompt `{key}` does not parse"),
            )
        })?;
        let p = Arc::new(p);
        if let Ok(mut old) = self.old.lock() {
            if old.len() >= MAX_CACHED {
                old.clear();
            }
            old.insert(key, Arc::clone(&p));
        }
        Ok(Resolved::Stored(p))
    }

    fn cached(&self, key: &str) -> Option<Arc<Prompt>> {
        self.old.lock().ok()?.get(key).cloned()
    }

    /// Keeps a served version in the store (once per process; off the request path).
    pub fn served(&self, p: &Prompt) {
        let Some(tx) = &self.jobs else { return };
        let key = format!("{}@{}", p.name, p.version);
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.contains(&key) {
            return;
        }
        let job = Job::Keep {
            name: p.name.clone(),
            version: p.version.clone(),
            source: p.source.clone(),
        };
        match tx.try_send(job) {
            Ok(()) => {
                kept.insert(key);
            }
            Err(TrySendError::Full(_)) => {
                metrics::counter!("seam_prompt_store_dropped_total").increment(1);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn not_found(msg: String) -> ApiError {
    ApiError::new(ErrorCode::ModelNotFound, msg).with_param("model")
}

fn refresh(s: &mut seam_store::PromptStore, tags: &RwLock<HashMap<String, String>>) {
    match s.tags() {
        Ok(all) => {
            let map = all
                .into_iter()
                .map(|t| (format!("{}@{}", t.name, t.tag), t.version))
                .collect();
            match tags.write() {
                Ok(mut g) => *g = map,
                Err(p) => *p.into_inner() = map,
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read prompt tags"),
    }
}

/// The store thread: opens the store when there is work (at once when prompt files exist),
/// again after a failure, and serves jobs; tags are re-read every [`REFRESH`].
fn serve_jobs(
    store: &seam_store::StoreConfig,
    eager: bool,
    rx: &Receiver<Job>,
    tags: &RwLock<HashMap<String, String>>,
    ready: &tokio::sync::watch::Sender<bool>,
) {
    let mut conn: Option<seam_store::PromptStore> = None;
    let open = |conn: &mut Option<seam_store::PromptStore>| {
        if conn.is_none() {
            match seam_store::PromptStore::open(store) {
                Ok(mut s) => {
                    refresh(&mut s, tags);
                    *conn = Some(s);
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "prompt store unavailable: tags and old versions cannot be served now"
                ),
            }
            ready.send_replace(true);
        }
        conn.is_some()
    };
    if eager {
        open(&mut conn);
    }
    loop {
        let job = match rx.recv_timeout(REFRESH) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if job.is_none() && conn.is_none() {
            continue;
        }
        if !open(&mut conn) {
            if let Some(Job::Get { reply, .. }) = job {
                let _ = reply.send(None);
            }
            continue;
        }
        let Some(s) = conn.as_mut() else { continue };
        let failed = match job {
            Some(Job::Keep {
                name,
                version,
                source,
            }) => s.put(&name, &version, &source).err().inspect(|e| {
                tracing::warn!(prompt = %name, %version, error = %e, "could not keep a served prompt version");
            }),
            Some(Job::Get {
                name,
                version,
                reply,
            }) => match s.get(&name, &version) {
                Ok(found) => {
                    let _ = reply.send(found.map(|v| v.source));
                    None
                }
                Err(e) => {
                    let _ = reply.send(None);
                    Some(e)
                }
            },
            Some(Job::Refresh) | None => {
                refresh(s, tags);
                None
            }
        };
        // A failed statement may mean a lost connection: open again with the next job.
        if failed.is_some() {
            conn = None;
        }
    }
}

/// A request body as the pipeline hands it to the codec.
pub enum Body {
    /// As it arrived.
    Raw(Bytes),
    /// Parsed and rewritten with a rendered prompt: the codec reads the value, not bytes.
    Parsed(Value),
}

/// If the body's `model` names a prompt: resolves and renders it with `seam.vars`, rewrites the
/// body for surface `C` (model → the prompt's alias) and says which prompt it was. Other bodies
/// are returned untouched, after one substring search.
/// `pick` sees the prompt's name and the body (for its subject) and may name another prompt
/// ref to render instead — a rollout's candidate; it is not asked when the client pinned a
/// version.
pub async fn apply<C: crate::surface::Codec>(
    versions: &Versions,
    reg: &Registry,
    bytes: Bytes,
    pick: impl FnOnce(&str, &Map<String, Value>) -> Option<String> + Send,
) -> Result<(Body, Option<Applied>), ApiError> {
    if memchr::memmem::find(&bytes, PREFIX.as_bytes()).is_none() {
        return Ok((Body::Raw(bytes), None));
    }
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&bytes) else {
        // Not a JSON object: the codec reports it in its own words.
        return Ok((Body::Raw(bytes), None));
    };
    let Some(r) = body
        .get("model")
        .and_then(Value::as_str)
        .and_then(parse_ref)
    else {
        return Ok((Body::Raw(bytes), None));
    };
    let mut r = r?;
    if !matches!(r.reference, Some(Ref::Version(_)))
        && let Some(alt) = pick(&r.name, &body)
    {
        let (name, reference) = seam_prompts::parse_ref(&alt).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("a rollout's candidate prompt: {e}"),
            )
        })?;
        r = Named { name, reference };
    }
    let prompt = versions.resolve(reg, &r).await?;
    let vars = take_vars(&mut body)?;
    let rendered = prompt.render(&vars).map_err(|e| {
        let param = if e.var.is_empty() {
            "seam.vars".to_owned()
        } else {
            format!("seam.vars.{}", e.var)
        };
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("prompt `{}`: {e}", prompt.name),
        )
        .with_param(param)
    })?;
    let Some(model) = &prompt.model else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "prompt `{}` names no model: add `model:` to its front matter",
                prompt.name
            ),
        )
        .with_param("model"));
    };
    body.insert("model".into(), Value::String(model.clone()));
    C::apply_prompt(&mut body, &rendered, &prompt.params)?;
    versions.served(&prompt);
    let id = format!("{}@{}", prompt.name, prompt.version);
    metrics::counter!("seam_prompt_requests_total", "prompt" => prompt.name.clone(), "version" => prompt.version.clone())
        .increment(1);
    Ok((
        Body::Parsed(Value::Object(body)),
        Some(Applied {
            id,
            output_schema: prompt.output_schema.clone(),
        }),
    ))
}

/// `seam.vars` out of the body (the `seam` object goes no further); `{}` when absent.
fn take_vars(body: &mut Map<String, Value>) -> Result<Value, ApiError> {
    let bad = |param: &str, msg: &str| {
        ApiError::new(ErrorCode::InvalidRequest, msg.to_owned()).with_param(param)
    };
    let Some(seam) = body.remove("seam") else {
        return Ok(json!({}));
    };
    let Value::Object(mut seam) = seam else {
        return Err(bad("seam", "`seam` must be an object"));
    };
    let vars = seam.remove("vars").unwrap_or_else(|| json!({}));
    if let Some(k) = seam.keys().next() {
        return Err(bad(
            &format!("seam.{k}"),
            "unknown field; `seam` takes `vars`",
        ));
    }
    if !vars.is_object() {
        return Err(bad("seam.vars", "`seam.vars` must be an object"));
    }
    Ok(vars)
}

/// The prompt's output schema as a `response_format`, when the request sets none: the gateway's
/// contract then checks the answer (one re-ask), as for an alias's `output_schema`.
pub fn contract(req: &mut seam_types::chat::ChatRequest, applied: &Applied) {
    if let Some(schema) = &applied.output_schema
        && req.response_format.is_none()
    {
        req.response_format = Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }));
    }
}

/// Sets `key` to `value` unless the body has it.
pub fn default_param(body: &mut Map<String, Value>, key: &str, value: &Value) {
    body.entry(key.to_owned()).or_insert_with(|| value.clone());
}

/// A prompt parameter the surface cannot carry.
pub fn unsupported_param(surface: &str, key: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("the prompt's params.{key} has no equivalent on {surface}"),
    )
    .with_param("model")
}

/// Puts `first` before the body's own `messages` (an array, or none).
pub fn prepend_messages(
    body: &mut Map<String, Value>,
    mut first: Vec<Value>,
) -> Result<(), ApiError> {
    match body.remove("messages") {
        Some(Value::Array(own)) => first.extend(own),
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(
                ApiError::new(ErrorCode::InvalidRequest, "`messages` must be an array")
                    .with_param("messages"),
            );
        }
    }
    body.insert("messages".into(), Value::Array(first));
    Ok(())
}

/// `a` then a blank line then `b`, or whichever exists.
pub fn join_text(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::surface::Codec;
    use crate::surface::chat::Chat;
    use crate::surface::messages::Messages;
    use crate::surface::responses::Responses;

    fn rendered() -> seam_prompts::Rendered {
        seam_prompts::Rendered {
            system: Some("Be brief.".into()),
            user: "Ticket: late".into(),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn refs_parse_without_repeating_the_clients_string() {
        assert!(parse_ref("gpt-4o").is_none());
        let r = parse_ref("prompt:support@prod").unwrap().unwrap();
        assert_eq!(r.name, "support");
        assert_eq!(r.reference, Some(Ref::Tag("prod".into())));
        let r = parse_ref("prompt:support@0123456789ab").unwrap().unwrap();
        assert_eq!(r.reference, Some(Ref::Version("0123456789ab".into())));
        let e = parse_ref("prompt:Jane.Doe@example.com")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(!e.message.contains("Jane"), "{}", e.message);
    }

    #[test]
    fn chat_puts_the_prompt_first_and_keeps_the_clients_params() {
        let mut body = obj(json!({
            "messages": [{"role": "user", "content": "more"}],
            "temperature": 1.0,
        }));
        let params = obj(json!({"temperature": 0.2, "seed": 7}));
        Chat::apply_prompt(&mut body, &rendered(), &params).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Ticket: late"},
                    {"role": "user", "content": "more"},
                ],
                "temperature": 1.0,
                "seed": 7,
            })
        );
    }

    #[test]
    fn messages_joins_system_and_maps_params_or_refuses_them() {
        let mut body = obj(json!({"system": "Mine.", "max_tokens": 10}));
        let params = obj(json!({"max_completion_tokens": 99, "stop": "END", "temperature": 0.1}));
        Messages::apply_prompt(&mut body, &rendered(), &params).unwrap();
        assert_eq!(body["system"], "Be brief.\n\nMine.");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "Ticket: late"}])
        );
        assert_eq!(body["max_tokens"], 10);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        let mut blocks = obj(json!({"system": [{"type": "text", "text": "Mine."}]}));
        Messages::apply_prompt(&mut blocks, &rendered(), &Map::new()).unwrap();
        assert_eq!(blocks["system"][0]["text"], "Be brief.");
        let e = Messages::apply_prompt(&mut obj(json!({})), &rendered(), &obj(json!({"seed": 1})))
            .unwrap_err();
        assert!(e.message.contains("params.seed"), "{}", e.message);
    }

    #[test]
    fn responses_joins_instructions_and_prepends_input() {
        let mut body = obj(json!({"input": "more", "instructions": "Mine."}));
        let params = obj(json!({"max_tokens": 50}));
        Responses::apply_prompt(&mut body, &rendered(), &params).unwrap();
        assert_eq!(body["instructions"], "Be brief.\n\nMine.");
        assert_eq!(body["input"][0]["content"], "Ticket: late");
        assert_eq!(body["input"][1]["content"], "more");
        assert_eq!(body["max_output_tokens"], 50);
        let e = Responses::apply_prompt(&mut obj(json!({})), &rendered(), &obj(json!({"n": 2})))
            .unwrap_err();
        assert!(e.message.contains("params.n"), "{}", e.message);
    }

    #[test]
    fn vars_come_out_of_the_body_and_nothing_else_of_seam() {
        let mut body = obj(json!({"seam": {"vars": {"a": 1}}, "model": "x"}));
        assert_eq!(take_vars(&mut body).unwrap(), json!({"a": 1}));
        assert!(!body.contains_key("seam"));
        let mut body = obj(json!({}));
        assert_eq!(take_vars(&mut body).unwrap(), json!({}));
        let e = take_vars(&mut obj(json!({"seam": {"vars": []}}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("seam.vars"));
        let e = take_vars(&mut obj(json!({"seam": {"extra": 1}}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("seam.extra"));
    }
}
