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
use seam_prompts::{Prompt, Registry};
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
pub struct Ref<'a> {
    pub name: &'a str,
    pub version: Option<&'a str>,
    pub tag: Option<&'a str>,
}

/// `prompt:NAME`, `prompt:NAME@VERSION` (12 hex digits) or `prompt:NAME@TAG`; `None` for any
/// other model.
pub fn parse_ref(model: &str) -> Option<Result<Ref<'_>, ApiError>> {
    let rest = model.strip_prefix(PREFIX)?;
    let (name, at) = match rest.split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (rest, None),
    };
    let bad = |what: &str| {
        Some(Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`model` {what}: expected prompt:NAME, prompt:NAME@VERSION or prompt:NAME@TAG"),
        )
        .with_param("model")))
    };
    if !seam_prompts::valid_name(name) {
        return bad("names no valid prompt");
    }
    let is_version =
        |r: &str| r.len() == 12 && r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let is_tag = |r: &str| {
        !r.is_empty()
            && r.len() <= 64
            && r.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && r.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
    };
    Some(Ok(match at {
        None => Ref {
            name,
            version: None,
            tag: None,
        },
        Some(r) if is_version(r) => Ref {
            name,
            version: Some(r),
            tag: None,
        },
        Some(r) if is_tag(r) => Ref {
            name,
            version: None,
            tag: Some(r),
        },
        Some(_) => return bad("has an invalid ref after `@`"),
    }))
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
    pub fn open(store: &seam_store::StoreConfig) -> Versions {
        let tags = Arc::new(RwLock::new(HashMap::new()));
        let (ready_tx, ready) = tokio::sync::watch::channel(false);
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (shared, store) = (Arc::clone(&tags), store.clone());
        let spawned = std::thread::Builder::new()
            .name("seam-prompts".into())
            .spawn(move || {
                let opened = seam_store::PromptStore::open(&store);
                match opened {
                    Ok(mut s) => {
                        refresh(&mut s, &shared);
                        ready_tx.send_replace(true);
                        serve_jobs(s, &rx, &shared);
                    }
                    Err(e) => {
                        ready_tx.send_replace(true);
                        tracing::warn!(error = %e, "prompt store unavailable: tags and old versions cannot be served");
                    }
                }
            });
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
        r: &Ref<'_>,
    ) -> Result<Resolved<'a>, ApiError> {
        let current = reg.get(r.name);
        let version = match (r.version, r.tag) {
            (None, None) => {
                return current.map(Resolved::Current).ok_or_else(|| {
                    not_found(format!(
                        "no prompt `{}` (prompts/{}.prompt)",
                        r.name, r.name
                    ))
                });
            }
            (Some(v), _) => v.to_owned(),
            (None, Some(tag)) => {
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
            name: r.name.to_owned(),
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
        let p = Prompt::parse(r.name, &source).map_err(|e| {
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

fn serve_jobs(
    mut s: seam_store::PromptStore,
    rx: &Receiver<Job>,
    tags: &RwLock<HashMap<String, String>>,
) {
    loop {
        match rx.recv_timeout(REFRESH) {
            Ok(Job::Keep {
                name,
                version,
                source,
            }) => {
                if let Err(e) = s.put(&name, &version, &source) {
                    tracing::warn!(prompt = %name, %version, error = %e, "could not keep a served prompt version");
                }
            }
            Ok(Job::Get {
                name,
                version,
                reply,
            }) => {
                let found = s.get(&name, &version).unwrap_or_else(|e| {
                    tracing::warn!(prompt = %name, %version, error = %e, "could not read a prompt version");
                    None
                });
                let _ = reply.send(found.map(|v| v.source));
            }
            Ok(Job::Refresh) | Err(RecvTimeoutError::Timeout) => refresh(&mut s, tags),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// If the body's `model` names a prompt: resolves and renders it with `seam.vars`, rewrites the
/// body for surface `C` (model → the prompt's alias) and says which prompt it was. Other bodies
/// are returned untouched, after one substring search.
pub async fn apply<C: crate::surface::Codec>(
    versions: &Versions,
    reg: &Registry,
    bytes: Bytes,
) -> Result<(Bytes, Option<Applied>), ApiError> {
    if memchr::memmem::find(&bytes, PREFIX.as_bytes()).is_none() {
        return Ok((bytes, None));
    }
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&bytes) else {
        // Not a JSON object: the codec reports it in its own words.
        return Ok((bytes, None));
    };
    let Some(r) = body
        .get("model")
        .and_then(Value::as_str)
        .and_then(parse_ref)
    else {
        return Ok((bytes, None));
    };
    let r = r?;
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
    let bytes = serde_json::to_vec(&body).map_err(|_| {
        ApiError::new(
            ErrorCode::Internal,
            "Seam could not write the rendered request",
        )
    })?;
    Ok((
        bytes.into(),
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

/// `a` then a blank line then `b`, or whichever exists.
pub fn join_text(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    }
}
